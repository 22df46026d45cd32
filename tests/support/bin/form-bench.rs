//! Public form submit benchmark (BENCHMARKS.md "Forms: public submit").
//!
//! ```sh
//! CARGO_TARGET_DIR=/var/tmp/konnecs-target cargo run --release -p konnecs-tests --bin form-bench -- [SUBMISSIONS] [CONCURRENCY]
//! ```
//!
//! Embedded store (SQLite, WAL, in a temp dir), through the whole router and
//! pipeline, as the local server runs it: a signed-up organization with one
//! form (name, email, phone, a choice, an SMS consent; a tag and a
//! recipient), then SUBMISSIONS (default 5,000) JSON submits, CONCURRENCY
//! (default 8) at a time, each from a new visitor (a new contact), then the
//! same visitors again (their contacts merged). The test clock moves a
//! minute after every 100 submits so the per-form limit (120 a minute) is
//! not what is measured; every 10 submits come from one IP. Reports
//! submits/s, latency p50/p95, and store round trips per submit by kind
//! (`CountingTable` around the port: each call is one DynamoDB request on
//! AWS). The alert jobs the submits queue are not run here (each is three
//! or four store reads, one mailer call per recipient and one conditional
//! update).

use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use futures::StreamExt;
use http::{Request, StatusCode};
use jiff::SignedDuration;
use konnecs::domain::ids::{FormId, OrgId};
use konnecs::ports::counting::{CallSnapshot, CountingTable};
use konnecs::services::forms::definitions::get_record;
use konnecs::services::forms::render_token;
use konnecs_tests::app::TestApp;
use serde_json::json;

fn per(total: u64, n: usize) -> f64 {
    total as f64 / n as f64
}

fn report(
    label: &str,
    n: usize,
    elapsed: Duration,
    mut latencies: Vec<Duration>,
    before: &CallSnapshot,
    after: &CallSnapshot,
) {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{label}: {n} submits in {:.2} s = {:.0} submits/s; latency p50 {:.2} ms, p95 {:.2} ms",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1000.0,
        at(0.95).as_secs_f64() * 1000.0,
    );
    println!(
        "  round trips per submit: get {:.2}, batch_get {:.2}, query {:.2}, update {:.2}, transact {:.2}, put {:.2}; total {:.2}",
        per(after.get - before.get, n),
        per(after.batch_get - before.batch_get, n),
        per(after.query - before.query, n),
        per(after.update - before.update, n),
        per(after.transact - before.transact, n),
        per(after.put - before.put, n),
        per(after.total() - before.total(), n),
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);

    let mut app = TestApp::at("2026-03-02T08:00:00Z");
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let form = json!({
        "title": "Request a quote",
        "fields": [
            {"key": "name", "kind": "short_text", "label": "Your name", "required": true},
            {"key": "email", "kind": "email", "label": "Email", "required": true},
            {"key": "phone", "kind": "phone", "label": "Mobile"},
            {"key": "service", "kind": "single_select", "label": "Service", "options": ["Cleaning", "Whitening"]},
            {"key": "texts", "kind": "consent", "label": "Texts", "consent_channel": "sms", "consent_text": "I agree to texts."}
        ],
        "tags": ["web lead"],
        "recipients": ["frontdesk@whitfield-dental.example"]
    });
    let created = app.send(&dana.browser, "POST", "/forms", Some(&form)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let form_id = FormId::from(created.body["id"].as_str().expect("id"));
    let record = get_record(app.state.table.as_ref(), &OrgId::from(dana.org_id.as_str()), &form_id)
        .await
        .expect("form");
    let counting = Arc::new(CountingTable::new(app.state.table.clone()));
    let counts = counting.counts();
    let mut state = app.state.clone();
    state.table = counting;
    app.replace_state(state);
    let app = Arc::new(app);

    for pass in ["new visitors (contact created)", "returning visitors (contact merged)"] {
        let before = counts.snapshot();
        let started = Instant::now();
        let mut latencies = Vec::with_capacity(n);
        for batch in 0..n.div_ceil(100) {
            let now_ms = app.now().as_millisecond();
            let stamp = render_token::stamp(&record.render_secret, &record.public_id, now_ms - 10_000);
            let results: Vec<Duration> = futures::stream::iter((batch * 100..((batch + 1) * 100).min(n)).map(|i| {
                let app = app.clone();
                let stamp = stamp.clone();
                let path = format!("/public/forms/{}/submissions", record.public_id);
                async move {
                    let body = json!({
                        "answers": {"name": format!("Visitor {i}"), "email": format!("visitor{i}@example.com"),
                                    "phone": format!("+1 212 {:03} {:04}", 200 + i / 10_000, i % 10_000),
                                    "service": "Whitening", "texts": true},
                        "rendered": stamp, "utm_source": "bench"
                    });
                    let mut request = Request::post(path)
                        .header("content-type", "application/json")
                        .body(Body::from(body.to_string()))
                        .expect("request");
                    let ip: std::net::SocketAddr =
                        format!("10.{}.{}.{}:40000", (i / 2550) % 250, (i / 10) % 255, 1 + i % 200)
                            .parse()
                            .expect("addr");
                    request.extensions_mut().insert(ConnectInfo(ip));
                    let t = Instant::now();
                    let reply = app.request(request).await;
                    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
                    t.elapsed()
                }
            }))
            .buffer_unordered(concurrency)
            .collect()
            .await;
            latencies.extend(results);
            app.advance(SignedDuration::from_mins(1));
        }
        let elapsed = started.elapsed();
        report(pass, n, elapsed, latencies, &before, &counts.snapshot());
    }
}
