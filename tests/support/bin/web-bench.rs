//! Staff web app benchmark (BENCHMARKS.md "Staff app: render time and bytes").
//!
//! ```sh
//! CARGO_TARGET_DIR=/var/tmp/konnecs-target cargo run --release -p konnecs-tests --bin web-bench -- [CONTACTS] [ROUNDS]
//! ```
//!
//! Embedded store (SQLite, WAL, in a temp dir), as `konnecs-local` runs it:
//! signs a business up, imports CONTACTS (default 100,000) generated
//! contacts through the import job, opens 400 deals on a four-stage
//! pipeline, then times ROUNDS (default 200) renders of each page through
//! the shared router in process (session lookup, the services' store reads,
//! the template; no socket): the contacts table's first page, a contact
//! record (a different contact each time, with a note and a deal) and the
//! pipeline board. It prints p50/p95/max per page, then the bytes of a
//! first visit to `/app/contacts` (the page and every stylesheet and script
//! it links, each as the server sends it to a browser accepting `br, gzip`)
//! and of a repeat visit (the page only: the assets are immutable under
//! content-hashed names, so the browser keeps them).

use konnecs::domain::ids::{OrgId, UserId};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use axum::body::Body;
use http::Request;
use konnecs::app::AppState;
use konnecs::catalogue;
use konnecs::ports::SystemClock;
use konnecs::services::audit::Actor;
use konnecs::services::imports::{self, Budget, DedupeMode, ImportOptions};
use konnecs_tests::http::{Browser, send};
use serde_json::json;

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

/// p50, p95 and max of milliseconds.
fn percentiles(mut samples: Vec<f64>) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    (pct(0.5), pct(0.95), pct(1.0))
}

fn page_request(host: &Browser, path: &str, accept_encoding: Option<&str>) -> Request<Body> {
    let mut request = host.request("GET", path, None);
    if let Some(accepted) = accept_encoding {
        request
            .headers_mut()
            .insert("accept-encoding", accepted.parse().expect("header"));
    }
    request
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args.first().and_then(|r| r.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = konnecs::config::LocalConfig::for_tests(dir.path().to_path_buf());
    let state: AppState = konnecs::app::local_state(&config, Arc::new(SystemClock)).expect("local state");
    let app = konnecs::inbound::http::router(state.clone(), catalogue::entries());

    // The business and its owner, signed in through the API.
    let signup = Browser::anonymous()
        .send(
            &app,
            "POST",
            "/auth/signup",
            Some(&json!({
                "name": "Dana Whitfield",
                "email": "dana@whitfield-dental.example",
                "password": "molar-crown-42-bridge",
                "business_name": "Whitfield Dental",
            })),
        )
        .await;
    assert!(signup.status.is_success(), "signup: {}", signup.body);
    let host = Browser::from_reply(&signup);
    let me = host.send(&app, "GET", "/me", None).await.body;
    let actor = Actor {
        org_id: OrgId::from(me["org_id"].as_str().expect("org")),
        user_id: me["id"].as_str().map(UserId::from),
        ..Default::default()
    };

    let seeding = Instant::now();
    let options = ImportOptions {
        mode: DedupeMode::Update,
        tags: vec!["bench".into()],
        ..Default::default()
    };
    let record = imports::create(&state, &actor, generated(rows).into_bytes(), options)
        .await
        .expect("create import");
    let done = imports::process(&state, &actor.org_id, &record.id, Budget::UNLIMITED)
        .await
        .expect("import");
    assert_eq!(done.created as usize, rows, "every contact created");

    // A pipeline with 400 deals over its four stages, on the first contacts.
    let pipeline = host
        .send(
            &app,
            "POST",
            "/pipelines",
            Some(&json!({"name": "New patients", "stages": [
                {"name": "Enquiry"}, {"name": "Consultation"}, {"name": "Plan accepted"}, {"name": "Completed"}
            ]})),
        )
        .await
        .body;
    let pipeline_id = pipeline["id"].as_str().expect("pipeline").to_string();
    let listed = host.send(&app, "GET", "/contacts?limit=100", None).await.body;
    let contact_ids: Vec<String> = listed["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    assert!(!contact_ids.is_empty(), "{listed}");
    for i in 0..400 {
        let contact = &contact_ids[i % contact_ids.len()];
        let stage = &pipeline["stages"][i % 4]["id"];
        let deal = host
            .send(
                &app,
                "POST",
                "/deals",
                Some(&json!({"title": format!("Treatment {i}"), "contact_id": contact,
                    "pipeline_id": pipeline_id, "stage_id": stage, "value": 120_000 + i, "currency": "GBP"})),
            )
            .await;
        assert!(deal.status.is_success(), "deal: {}", deal.body);
    }
    for contact in &contact_ids {
        host.send(
            &app,
            "POST",
            &format!("/contacts/{contact}/notes"),
            Some(&json!({"body": "Prefers morning appointments; allergic to latex."})),
        )
        .await;
    }
    println!(
        "[seed] {rows} contacts, 400 deals, {} notes in {:.1} s",
        contact_ids.len(),
        seeding.elapsed().as_secs_f64()
    );

    let board = format!("/app/pipelines/{pipeline_id}");
    // (what, the path of the i-th render)
    type Page<'a> = (&'static str, Box<dyn Fn(usize) -> String + 'a>);
    let pages: [Page; 3] = [
        (
            "contacts table (/app/contacts, first 25 rows)",
            Box::new(|_| "/app/contacts".to_string()),
        ),
        (
            "contact record (/app/contacts/{id})",
            Box::new(|i| format!("/app/contacts/{}", contact_ids[i % contact_ids.len()])),
        ),
        ("pipeline board (/app/pipelines/{id})", Box::new(|_| board.clone())),
    ];
    for (name, path) in &pages {
        // Warm the store's page cache and the allocator once.
        let warm = send(&app, page_request(&host, &path(0), None)).await;
        assert_eq!(warm.status, http::StatusCode::OK, "{name}");
        let mut samples = Vec::with_capacity(rounds);
        for i in 0..rounds {
            let request = page_request(&host, &path(i), None);
            let started = Instant::now();
            let reply = send(&app, request).await;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(reply.status, http::StatusCode::OK, "{name}");
        }
        let (p50, p95, max) = percentiles(samples);
        println!("[render] {name}: {rounds} runs, p50 {p50:.2} ms, p95 {p95:.2} ms, max {max:.2} ms");
    }

    // Bytes of a first and a repeat visit to the contacts table.
    let accept = Some("br, gzip");
    let page = send(&app, page_request(&host, "/app/contacts", accept)).await;
    let identity = send(&app, page_request(&host, "/app/contacts", None)).await;
    let html = String::from_utf8_lossy(&identity.bytes).into_owned();
    let encoding = |reply: &konnecs_tests::http::Reply| {
        reply
            .headers
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("identity")
            .to_string()
    };
    println!(
        "[bytes] /app/contacts: {} sent ({}), {} uncompressed",
        page.bytes.len(),
        encoding(&page),
        identity.bytes.len()
    );
    let mut first_visit = page.bytes.len();
    let assets: Vec<String> = html
        .split("/assets/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|name| format!("/assets/{name}"))
        .collect();
    for asset in &assets {
        let sent = send(&app, page_request(&host, asset, accept)).await;
        let raw = send(&app, page_request(&host, asset, None)).await;
        let cache = sent
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        println!(
            "[bytes] {asset}: {} sent ({}), {} uncompressed, cache-control: {cache}",
            sent.bytes.len(),
            encoding(&sent),
            raw.bytes.len()
        );
        first_visit += sent.bytes.len();
    }
    println!("[bytes] first visit (page + {} assets): {first_visit}", assets.len());
    println!("[bytes] repeat visit (page only, assets cached): {}", page.bytes.len());
}
