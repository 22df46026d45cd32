//! Contacts import benchmark (BENCHMARKS.md "Contacts import").
//!
//! ```sh
//! CARGO_TARGET_DIR=/var/tmp/konnecs-target cargo run --release -p konnecs-tests --bin import-bench -- [ROWS]
//! # and the DynamoDB call count against the emulator:
//! KONNECS_TEST_AWS_ENDPOINT=http://127.0.0.1:PORT cargo run --release -p konnecs-tests --bin import-bench -- --dynamodb 2000
//! ```
//!
//! Embedded store (SQLite, WAL, in a temp dir): generates
//! ROWS (default 100,000) rows with name, email, phone, company and an import
//! tag, stores the file, runs the import job to the end, and reports rows/s,
//! the store calls per 1,000 rows (`CountingTable` around the port: each call
//! is one DynamoDB request on AWS), then search latency over the imported set
//! and an export job of all of it (`--no-search` leaves both out, e.g. under
//! `perf record`). The CPU time
//! of the process while the job runs (user + system, every thread) is
//! printed per 1,000 rows: wall-clock rows/s moves with whatever else the
//! machine runs, CPU per row much less.

use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use konnecs::app::AppState;
use konnecs::ports::counting::CountingTable;
use konnecs::ports::{SystemClock, Table};
use konnecs::services::audit::Actor;
use konnecs::services::contacts;
use konnecs::services::imports::{self, Budget, DedupeMode, ImportOptions};

fn generated(rows: usize) -> String {
    let mut csv = String::from("First Name,Last Name,Email,Phone,Company\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "Given{i},Family{i},person{i}@example.com,+1 212 {:03} {:04},Company {}\n",
            200 + i / 10_000,
            i % 10_000,
            i % 7
        ));
    }
    csv
}

async fn signed_up(state: &AppState) -> Actor {
    let input = konnecs::services::accounts::SignupInput {
        name: "Dana Whitfield".into(),
        email: "dana@whitfield-dental.example".into(),
        password: "molar-crown-42-bridge".into(),
        business_name: "Whitfield Dental".into(),
        website: None,
        industry: None,
    };
    let signed = konnecs::services::accounts::signup(state, input, &Default::default())
        .await
        .expect("signup");
    Actor {
        org_id: signed.org_id,
        user_id: Some(signed.user_id),
        ..Default::default()
    }
}

/// Imports `rows` generated rows through a counting table; prints and returns
/// (seconds, store calls).
async fn run(label: &str, state: AppState, rows: usize) -> (AppState, Actor) {
    let actor = signed_up(&state).await;
    let counting = Arc::new(CountingTable::new(state.table.clone()));
    let counts = counting.counts();
    let counted = AppState {
        table: counting as Arc<dyn Table>,
        ..state.clone()
    };
    let csv = generated(rows);
    let options = ImportOptions {
        mode: DedupeMode::Update,
        tags: vec!["bench".into()],
        ..Default::default()
    };
    let started = Instant::now();
    let record = imports::create(&counted, &actor, csv.into_bytes(), options)
        .await
        .expect("create import");
    let before = counts.snapshot();
    let processing = Instant::now();
    let cpu_before = cpu_seconds();
    let done = imports::process(&counted, &actor.org_id, &record.id, Budget::UNLIMITED)
        .await
        .expect("process");
    let seconds = processing.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let total = started.elapsed().as_secs_f64();
    let after = counts.snapshot();
    assert_eq!(done.rows_done as usize, rows, "every row processed");
    assert_eq!(done.created as usize, rows, "every row created");
    let per_1000 = |n: u64| n as f64 * 1000.0 / rows as f64;
    println!("[{label}] rows: {rows}");
    println!(
        "[{label}] processing: {seconds:.2} s = {:.0} rows/s (upload+processing {total:.2} s = {:.0} rows/s)",
        rows as f64 / seconds,
        rows as f64 / total
    );
    println!(
        "[{label}] processing CPU (user + system, all threads): {cpu:.2} s = {:.1} ms per 1,000 rows, {:.2} cores busy",
        cpu * 1e6 / rows as f64,
        cpu / seconds
    );
    println!(
        "[{label}] store calls per 1,000 rows: total {:.1} (transact {:.1}, batch_get {:.1}, get {:.2}, query {:.2}, update {:.2}, put {:.2})",
        per_1000(after.total() - before.total()),
        per_1000(after.transact - before.transact),
        per_1000(after.batch_get - before.batch_get),
        per_1000(after.get - before.get),
        per_1000(after.query - before.query),
        per_1000(after.update - before.update),
        per_1000(after.put - before.put),
    );
    (state, actor)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--dynamodb") {
        let rows = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(2000);
        let state = aws_state().await;
        run("dynamodb emulator", state, rows).await;
        return;
    }
    let rows = args.first().and_then(|r| r.parse().ok()).unwrap_or(100_000);
    let search = !args.iter().any(|a| a == "--no-search");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = konnecs::config::LocalConfig::for_tests(dir.path().to_path_buf());
    let state = konnecs::app::local_state(&config, Arc::new(SystemClock)).expect("local state");
    let (state, actor) = run("embedded", state, rows).await;
    if !search {
        return;
    }
    export(&state, &actor, rows).await;

    // Search latency over the imported contacts (the contacts core's search).
    let table = state.table.as_ref();
    let queries = [
        format!("given{}", rows / 3),
        "family9".to_string(),
        "person77".to_string(),
        format!("person{}@", rows / 2),
        "2122000".to_string(),
        "given".to_string(),
    ];
    let rounds = 200;
    let mut samples = Vec::with_capacity(rounds * queries.len());
    for round in 0..rounds {
        for q in &queries {
            let started = Instant::now();
            let (found, _) = contacts::search(table, &actor.org_id, q, 20, None)
                .await
                .expect("search");
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            if round == 0 {
                assert!(!found.is_empty(), "{q} finds something");
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "[embedded] search at {rows} contacts, limit 20, {} runs: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        samples.len(),
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
}

/// An export job of every imported contact as CSV (the jobs worker's code,
/// without its slices; parts of S3's 5 MiB): time, size and store calls.
async fn export(state: &AppState, actor: &Actor, rows: usize) {
    use konnecs::services::exports::job::{self, Budget as ExportBudget};
    use konnecs::services::exports::{ExportFilter, Format, Source};
    let counting = Arc::new(CountingTable::new(state.table.clone()));
    let counts = counting.counts();
    let counted = AppState {
        table: counting as Arc<dyn Table>,
        ..state.clone()
    };
    let source = Source::contacts(&counted, &actor.org_id, ExportFilter::default(), Format::Csv)
        .await
        .expect("export source");
    let record = job::create(&counted, actor, source).await.expect("create export");
    let before = counts.snapshot();
    let started = Instant::now();
    let (done, _) = job::process(&counted, &actor.org_id, &record.id, ExportBudget::UNLIMITED)
        .await
        .expect("export");
    let seconds = started.elapsed().as_secs_f64();
    let after = counts.snapshot();
    assert_eq!(done.rows_done as usize, rows, "every contact exported");
    let per_1000 = |n: u64| n as f64 * 1000.0 / rows as f64;
    println!(
        "[embedded] export of {rows} contacts as CSV: {seconds:.2} s = {:.0} contacts/s, {:.1} MB in {} parts; store calls per 1,000 contacts: total {:.1} (query {:.1}, batch_get {:.1}, put {:.2})",
        rows as f64 / seconds,
        done.bytes as f64 / 1e6,
        done.parts.len(),
        per_1000(after.total() - before.total()),
        per_1000(after.query - before.query),
        per_1000(after.batch_get - before.batch_get),
        per_1000(after.put - before.put),
    );
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`,
/// in clock ticks of 1/100 s); 0 where that file does not exist.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(14) + ticks(15)) / 100.0
}

async fn aws_state() -> AppState {
    konnecs_tests::aws::app_state().await
}
