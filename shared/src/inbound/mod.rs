//! Inbound adapters: HTTP (axum) and events (SQS batches, schedules).

pub mod events;
pub mod http;
pub mod state;

pub use state::AppState;
