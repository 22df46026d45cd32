//! Konnecs: the common crate shared by every Lambda and by the local server.
//!
//! Layers, imports pointing inward (`ARCHITECTURE.md` at the repository's
//! top draws them; `tests/layers.rs` enforces them):
//! - [`domain`]: pure types and rules, no I/O;
//! - [`ports`] and [`config`]: narrow traits (`Table`, `Queue`, `KeyVault`,
//!   `Clock`, …) and the settings read at start-up;
//! - [`adapters`]: SQLite, DynamoDB, SQS, KMS, S3, local key file, providers;
//! - [`services`]: use cases, each taking only the ports it reaches;
//! - [`inbound`]: HTTP handlers and event handlers (SQS, schedules).
//!
//! [`catalogue`] lists every function; [`lambda`] runs one entry as a Lambda,
//! [`local`] runs them all in one process, in the mode [`run_mode`] decides.

pub mod adapters;
pub mod app;
pub mod catalogue;
pub mod config;
pub mod dev_outbox;
pub mod domain;
pub mod inbound;
pub mod integrations;
pub mod lambda;
#[cfg(feature = "local")]
pub mod local;
pub mod ports;
pub mod run_mode;
pub mod services;
pub mod telemetry;
