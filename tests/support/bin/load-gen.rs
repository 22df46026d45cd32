//! Load with crashes (BENCHMARKS.md "Load with crashes").
//!
//! ```sh
//! cargo build --release -p konnecs-tests --bin load-gen -p konnecs --bin konnecs-local
//! /var/tmp/konnecs-target/release/load-gen [all | raw SECS | fixed RATE SECS | saturate SECS | search | crash RATE SECS KILLS]
//! ```
//!
//! Starts `konnecs-local` (built beside this binary, or `KONNECS_LOCAL_BIN`)
//! on 127.0.0.1 over a fresh data directory in `KONNECS_LOAD_DIR` (default
//! /var/tmp, a disk: fsync must cost what it costs), signs up 8
//! organizations with 6 booking pages each (open around the clock, 15-minute
//! slots, 3,000 days ahead), and drives 200 signed-in clients over TCP with
//! the mix of `load::MIX`: public slot reads (a week) and bookings, contact
//! creates, contact searches (`GET /contacts?q=`) and timeline reads. Public
//! requests come from 2,000 loopback addresses (127.1.x.y), as visitors
//! from many addresses would, so the per-IP budgets do not turn the test
//! into a rate-limit test; a 429 is still counted. Rates are open loop:
//! latency is measured from when a request was due, so a server that falls
//! behind shows it.
//!
//! `all` runs, in one process on one data directory: the raw SQLite insert
//! rate (the physical limit), 1,000 requests/s for 60 s, the write path at
//! saturation (contact creates only, closed loop) and its ratio to the raw
//! rate, the step search for the highest rate with p99 < 50 ms, and the
//! crash run (1,000 requests/s for 70 s, SIGKILL and restart every 10 s)
//! with its verification: every 2xx write read back, no overlapping
//! bookings in the store file, `PRAGMA integrity_check`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use konnecs_tests::load::{self, Clients, LoadPlan, MIX, Op, Progress, RunReport, ServerProcess, Tenant};
use konnecs_tests::load_check::{self, KillPlan};

const ORGS: usize = 8;
const EVENT_TYPES: usize = 6;
const P99_LIMIT_MS: f64 = 50.0;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct Bench {
    dir: PathBuf,
    server: Arc<Mutex<ServerProcess>>,
    base: String,
    tenants: Vec<Arc<Tenant>>,
    clients: Clients,
}

impl Bench {
    async fn open(root: &std::path::Path) -> Self {
        let run = format!("{:x}", jiff::Timestamp::now().as_millisecond());
        let dir = root.join(format!("konnecs-load-{run}"));
        std::fs::create_dir_all(&dir).expect("data dir");
        let mut server = ServerProcess::new(load::local_binary(), &dir, load::free_port());
        server.start();
        let base = server.base_url();
        let tenants = load::set_up(&base, &run, ORGS, EVENT_TYPES, 20).await;
        let clients = Clients::new(&tenants, load::DEFAULT_CLIENTS, &run, 42);
        println!(
            "server {base} on {}; {ORGS} organizations x {EVENT_TYPES} booking pages; {} clients; load average {}",
            dir.display(),
            clients.len(),
            load_average()
        );
        Self {
            dir,
            server: Arc::new(Mutex::new(server)),
            base,
            tenants,
            clients,
        }
    }

    async fn run(&self, label: &str, rate: Option<f64>, secs: u64, mix: Vec<(Op, u64)>) -> RunReport {
        let plan = LoadPlan {
            rate,
            duration: Duration::from_secs(secs),
            mix,
            booking_slots: load::WINDOW_DAYS * load::SLOTS_PER_DAY,
            seed: secs ^ rate.map(|r| r as u64).unwrap_or(0),
        };
        let report = load::run(label, &self.base, &self.clients, &plan, Arc::new(Progress::default())).await;
        report.print();
        println!("  load average after: {}", load_average());
        report
    }

    async fn fixed(&self, rate: f64, secs: u64) -> RunReport {
        self.run(
            &format!("fixed {rate:.0} requests/s for {secs} s"),
            Some(rate),
            secs,
            MIX.to_vec(),
        )
        .await
    }

    /// Contact creates only, each client sending its next as soon as the last is answered.
    async fn saturate(&self, secs: u64) -> f64 {
        let report = self
            .run(
                &format!("write path at saturation (contact creates, closed loop, {secs} s)"),
                None,
                secs,
                vec![(Op::CreateContact, 1)],
            )
            .await;
        report.acked_writes_per_second()
    }

    /// Raises the rate by a quarter per 15 s step while p99 stays under the
    /// limit, the server keeps up (95% of the target answered within the
    /// step) and nothing fails; when the first step already fails, halves
    /// it instead until one passes. Bounded to 12 steps.
    async fn search(&self) -> Option<(f64, RunReport)> {
        let mut best = None;
        let mut rate: f64 = 250.0;
        for _ in 0..12 {
            let report = self.fixed(rate, 15).await;
            let kept_up = report.throughput() >= 0.95 * rate;
            let clean = report.server_errors() == 0 && report.transport_errors() == 0;
            let p99 = report.quantile_ms(0.99);
            let passed = p99 < P99_LIMIT_MS && kept_up && clean;
            println!("  step {rate:.0}/s: p99 {p99:.2} ms, kept up {kept_up}, no 5xx or lost answers {clean}");
            tokio::time::sleep(Duration::from_secs(2)).await;
            match (passed, best.is_some()) {
                (true, _) => {
                    best = Some((rate, report));
                    rate = (rate * 1.25).round();
                }
                (false, true) => break,
                (false, false) if rate > 20.0 => rate = (rate / 2.0).round(),
                (false, false) => break,
            }
        }
        match &best {
            Some((rate, report)) => println!(
                "highest rate with p99 < {P99_LIMIT_MS} ms: {rate:.0} requests/s (p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms)",
                report.quantile_ms(0.5),
                report.quantile_ms(0.99),
                report.quantile_ms(0.999)
            ),
            None => println!("no step kept p99 under {P99_LIMIT_MS} ms"),
        }
        best
    }

    /// Load at `rate` for `secs` while the server is SIGKILLed every 10 s and
    /// restarted; then the verification. True when everything held.
    async fn crash(&self, rate: f64, secs: u64, kills: usize) -> bool {
        let progress = Arc::new(Progress::default());
        let plan = KillPlan {
            every: Duration::from_secs(10),
            min_acks: 0,
            kills,
            stop_after: false,
        };
        let controller = tokio::spawn(load_check::kill_on_schedule(
            self.server.clone(),
            plan,
            progress.clone(),
        ));
        let load_plan = LoadPlan {
            rate: Some(rate),
            duration: Duration::from_secs(secs),
            mix: MIX.to_vec(),
            // A month of the eight hosts' slots (23,040): thousands of
            // bookings in a minute race for them, so some lose (409) while
            // the server is being killed, and most of the month stays free.
            booking_slots: 30 * load::SLOTS_PER_DAY,
            seed: 99,
        };
        let label = format!("crash run: {rate:.0} requests/s for {secs} s, SIGKILL every 10 s");
        let report = load::run(&label, &self.base, &self.clients, &load_plan, progress.clone()).await;
        progress.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (killed, down) = controller.await.expect("controller");
        report.print();
        println!(
            "  {killed} SIGKILLs, server down {down:.1} s in all ({:.2} s per restart); load average after: {}",
            down / killed.max(1) as f64,
            load_average()
        );
        let verification = load_check::verify(self.server.clone(), &self.tenants, &report.acks).await;
        verification.print();
        let held = verification.holds() && killed == kills;
        println!("crash run {}", if held { "HELD" } else { "FAILED" });
        // `verify` leaves the server killed; later steps need it back.
        self.server
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .start();
        held
    }
}

fn raw(dir: &std::path::Path, secs: u64) -> f64 {
    let (rows, rate) = load_check::raw_insert_rate(dir, Duration::from_secs(secs));
    println!(
        "raw SQLite insert: {rows} single-row transactions in {secs} s = {rate:.0}/s (WAL, synchronous FULL, the store's schema and pragmas)"
    );
    rate
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("all");
    let root = std::env::var_os("KONNECS_LOAD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    println!("load average at start: {}", load_average());
    if mode == "raw" {
        raw(&root, arg(&args, 1, 10));
        return;
    }
    let bench = Bench::open(&root).await;
    let ok = match mode {
        "fixed" => {
            bench.fixed(arg(&args, 1, 1000.0), arg(&args, 2, 60)).await;
            true
        }
        "saturate" => {
            let write_rate = bench.saturate(arg(&args, 1, 15)).await;
            let raw_rate = raw(&bench.dir, 10);
            println!(
                "write path / raw insert: {write_rate:.0} / {raw_rate:.0} = {:.3}",
                write_rate / raw_rate
            );
            true
        }
        "search" => {
            bench.search().await;
            true
        }
        "crash" => {
            bench
                .crash(arg(&args, 1, 1000.0), arg(&args, 2, 70), arg(&args, 3, 6))
                .await
        }
        "all" => {
            let raw_before = raw(&bench.dir, 10);
            bench.fixed(200.0, 5).await; // warm-up
            bench.fixed(1000.0, 60).await;
            let write_rate = bench.saturate(15).await;
            let raw_after = raw(&bench.dir, 10);
            let raw_rate = (raw_before + raw_after) / 2.0;
            println!(
                "write path / raw insert: {write_rate:.0} acknowledged writes/s / {raw_rate:.0} inserts/s (mean of {raw_before:.0} and {raw_after:.0}) = {:.3}",
                write_rate / raw_rate
            );
            bench.search().await;
            bench.crash(1000.0, 70, 6).await
        }
        other => {
            eprintln!(
                "unknown mode {other}: all | raw SECS | fixed RATE SECS | saturate SECS | search | crash RATE SECS KILLS"
            );
            false
        }
    };
    bench
        .server
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .kill();
    let _ = std::fs::remove_dir_all(&bench.dir);
    if !ok {
        std::process::exit(1);
    }
}
