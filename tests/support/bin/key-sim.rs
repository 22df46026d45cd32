//! The key-distribution simulation at full size (BENCHMARKS.md, "Key
//! distribution"): one day of 10,000 organizations and 1 million bookings
//! through the real key builders; prints the hottest partition keys and
//! fails (exit 1) when any key goes over half of DynamoDB's per-partition
//! limits.
//!
//! ```sh
//! cargo run --release -p konnecs-tests --bin key-sim                # this release
//! cargo run --release -p konnecs-tests --bin key-sim -- --unsharded # reminders as before the shards
//! cargo run --release -p konnecs-tests --bin key-sim -- --reduced   # the test suite's population
//! ```
//!
//! Other flags: `--shards N` (reminders in N shards instead of
//! `reminders::SHARDS`: how the number was chosen), `--tiny` (the smallest
//! day the tests run), `--seed N`, `--top N` (keys listed, default 10).

use std::time::Instant;

use konnecs_tests::keysim::{self, Config, ReminderLayout};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let mut config = if args.iter().any(|a| a == "--reduced") {
        Config::reduced()
    } else if args.iter().any(|a| a == "--tiny") {
        Config::tiny()
    } else {
        Config::full()
    };
    if args.iter().any(|a| a == "--unsharded") {
        config.layout = ReminderLayout::Unsharded;
    }
    if let Some(shards) = value("--shards") {
        config.layout = ReminderLayout::Shards(shards as u32);
    }
    if let Some(seed) = value("--seed") {
        config.seed = seed;
    }
    let top = value("--top").unwrap_or(10) as usize;
    let started = Instant::now();
    let report = keysim::run(&config);
    let elapsed = started.elapsed();
    print!("{}", report.render(top));
    println!(
        "run: {:.1} s, peak memory {}",
        elapsed.as_secs_f64(),
        peak_memory().unwrap_or_else(|| "unknown".into())
    );
    for (phase, took) in &report.phases {
        println!("  {phase}: {:.1} s", took.as_secs_f64());
    }
    if !report.over_budget().is_empty() {
        std::process::exit(1);
    }
}

/// The process's peak resident memory (Linux `VmHWM`).
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.trim_start_matches("VmHWM:").trim().to_string())
}
