//! `cargo run --bin konnecs-local`: the whole of Konnecs in one process on the
//! embedded store. Configuration: see the README's table.

use std::process::ExitCode;
use std::sync::Arc;

use konnecs::config::{LocalConfig, LogFormat};
use konnecs::ports::SystemClock;

// The embedded store and the JSON item paths allocate many small objects;
// mimalloc made the bulk import about a third faster than glibc's malloc
// (BENCHMARKS.md, "Contacts import").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let format = match LogFormat::from_env() {
        Ok(format) => format,
        Err(err) => {
            eprintln!("konnecs: {err}");
            return ExitCode::FAILURE;
        }
    };
    konnecs::telemetry::init(format, "konnecs-local");
    let config = match LocalConfig::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("konnecs: {err}");
            return ExitCode::FAILURE;
        }
    };
    match konnecs::local::serve(config, Arc::new(SystemClock), konnecs::local::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("konnecs: {err}");
            ExitCode::FAILURE
        }
    }
}
