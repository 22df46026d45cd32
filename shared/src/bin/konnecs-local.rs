//! `cargo run --bin konnecs-local`: the whole of Konnecs in one process on the
//! embedded store. Configuration: see the README's table.
//!
//! `konnecs-local backup <file>` writes a backup of the data directory (safe
//! while the server runs); `konnecs-local restore <file>` restores one into
//! an empty data directory.

use std::process::ExitCode;
use std::sync::Arc;

use konnecs::adapters::sqlite::backup;
use konnecs::config::{LocalConfig, LogFormat};
use konnecs::ports::{Clock, SystemClock};

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => {}
        ["backup", file] => return backup_to(&config, std::path::Path::new(file)),
        ["restore", file] => return restore_from(&config, std::path::Path::new(file)),
        _ => {
            eprintln!("usage: konnecs-local [backup <file> | restore <file>]");
            return ExitCode::FAILURE;
        }
    }
    match konnecs::local::serve(config, Arc::new(SystemClock), konnecs::local::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("konnecs: {err}");
            ExitCode::FAILURE
        }
    }
}

fn backup_to(config: &LocalConfig, file: &std::path::Path) -> ExitCode {
    match backup::create(&config.data_files(), file, SystemClock.now()) {
        Ok(manifest) => {
            println!(
                "Backed up {} to {}: {} items, {} files (token key included); keep it private",
                config.data_dir.display(),
                file.display(),
                manifest.items,
                manifest.files.len()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("konnecs: backup failed: {err}");
            ExitCode::FAILURE
        }
    }
}

fn restore_from(config: &LocalConfig, file: &std::path::Path) -> ExitCode {
    match backup::restore(file, &config.data_dir, &config.data_files()) {
        Ok(manifest) => {
            println!(
                "Restored the backup of {} into {}: {} items, {} files",
                manifest.created_at,
                config.data_dir.display(),
                manifest.items,
                manifest.files.len()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("konnecs: restore failed: {err}");
            ExitCode::FAILURE
        }
    }
}
