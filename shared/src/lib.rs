//! Konnecs: the common crate shared by every Lambda and by the local server.
//!
//! Layers, imports pointing inward (see `../DESIGN` in the README):
//! - [`domain`]: pure types and rules, no I/O;
//! - [`services`]: use cases orchestrating the ports;
//! - [`ports`]: narrow traits (`Table`, `Queue`, `KeyVault`, `Clock`);
//! - [`adapters`]: SQLite, DynamoDB, SQS, KMS, local key file;
//! - [`inbound`]: HTTP handlers and event handlers (SQS, schedules).
//!
//! [`catalogue`] lists every function; [`lambda`] runs one entry as a Lambda,
//! [`local`] runs them all in one process.

pub mod adapters;
pub mod app;
pub mod catalogue;
pub mod config;
pub mod domain;
pub mod inbound;
pub mod integrations;
pub mod lambda;
pub mod local;
pub mod ports;
pub mod services;
pub mod telemetry;
