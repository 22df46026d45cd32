//! Inbound adapters: HTTP (axum) and events (SQS batches, schedules).

pub mod events;
pub mod http;
