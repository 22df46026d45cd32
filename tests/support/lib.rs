//! Helpers shared by the integration tests: the `TestApp` harness, emulator endpoints, temp stores,
//! local-server processes, and the key-distribution simulation.

pub mod app;
pub mod aws;
pub mod chrome;
pub mod contract;
pub mod crash;
pub mod gmail;
pub mod google;
pub mod google_events;
pub mod google_keys;
pub mod http;
pub mod keysim;
pub mod load;
pub mod load_check;
pub mod local;
pub mod page;
pub mod practice;
pub mod smtp;
pub mod webhook_receiver;
