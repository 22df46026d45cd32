//! Implementations of the ports: one module per backend.

pub mod aws;
pub mod envelope;
pub mod gmail;
pub mod google;
pub mod local_keys;
pub mod mime;
pub mod object_dir;
pub mod outbox;
pub mod resend;
// The local server's runtime only: Lambda builds leave them out.
#[cfg(feature = "local")]
pub mod smtp;
#[cfg(feature = "local")]
pub mod sqlite;
pub mod stripe;
pub mod twilio;
pub mod undeclared;
pub mod webhook_http;
