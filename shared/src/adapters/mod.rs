//! Implementations of the ports: one module per backend.

pub mod aws;
pub mod envelope;
pub mod local_keys;
pub mod mime;
pub mod object_dir;
pub mod outbox;
pub mod resend;
pub mod smtp;
pub mod sqlite;
pub mod twilio;
