//! Helpers shared by the integration tests: emulator endpoints, temp stores,
//! local-server processes.

pub mod aws;
pub mod crash;
pub mod http;
pub mod local;
pub mod practice;
pub mod smtp;
