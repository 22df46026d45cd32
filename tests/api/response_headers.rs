//! Caching and content-type headers on every route: walks the catalogue,
//! signed in and with real ids where a route takes one, through the local
//! server's router (every entry) and through each Lambda's router (one entry
//! each), and checks `Cache-Control: no-store` and
//! `X-Content-Type-Options: nosniff` on every answer; then the routes that
//! hand out a session or a token, on their success path.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use http::StatusCode;
use konnecs::catalogue::{self, Auth, Entry, Method, Runtime};
use konnecs::inbound::http::router;
use konnecs_tests::app::TestApp;
use konnecs_tests::http::{Browser, Reply, send};
use konnecs_tests::local::{drain_jobs, outbox, token_from_outbox};
use serde_json::{Value, json};

/// Monday 2 March 2026, 08:00 UTC; the booking below is two days later.
const NOW: &str = "2026-03-02T08:00:00Z";
const PASSWORD: &str = "harbour-physio-42-knee";
const HOST_EMAIL: &str = "morgan@harbour-physio.example";

/// Every answer, static files included: no type sniffing, no full URL (a
/// manage link's token) sent to other sites, and a content policy that
/// forbids other origins' scripts and decides who may frame it on every
/// page. HSTS is checked where the request came over HTTPS (below).
fn assert_security_headers(reply: &Reply, what: &str) {
    let header = |key: &str| {
        reply
            .headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    let referrer = header("referrer-policy");
    assert!(
        [
            "no-referrer",
            "same-origin",
            "strict-origin",
            "strict-origin-when-cross-origin"
        ]
        .contains(&referrer.as_str()),
        "{what} answered {} with Referrer-Policy {referrer:?}",
        reply.status
    );
    if header("content-type").starts_with("text/html") {
        let csp = header("content-security-policy");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors") && csp.contains("base-uri 'none'"),
            "{what}: page answered {} with CSP {csp:?}",
            reply.status
        );
    }
    assert!(
        reply.headers.get("strict-transport-security").is_none(),
        "{what}: HSTS over plain HTTP"
    );
}

fn assert_headers(reply: &Reply, what: &str) {
    assert_security_headers(reply, what);
    let cache = reply
        .headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cache.split(',').any(|d| d.trim() == "no-store"),
        "{what} answered {} with Cache-Control {cache:?}",
        reply.status
    );
    assert_eq!(
        reply
            .headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff"),
        "{what} answered {} without nosniff",
        reply.status
    );
}

/// An organization with one of everything a route can name by id.
struct World {
    base: TestApp,
    host: Browser,
    ids: BTreeMap<&'static str, String>,
    manage_token: String,
}

/// The harness underneath: `w.state`, `w.router`.
impl std::ops::Deref for World {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.base
    }
}

async fn created(host: &Browser, app: &Router, path: &str, body: Value) -> Value {
    let reply = host.send(app, "POST", path, Some(&body)).await;
    assert!(reply.status.is_success(), "{path}: {} {}", reply.status, reply.body);
    reply.body
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("id").to_string()
}

async fn world() -> World {
    let mut base = TestApp::at(NOW);
    // Billing on (its API unreachable: no walked route reaches it), so the
    // billing reads answer as they do where Stripe is configured.
    let mut config = (*base.state.config).clone();
    config.stripe = Some(konnecs::config::StripeConfig {
        secret_key: "sk_test_headers".to_string().into(),
        webhook_signing_secret: "whsec_headers".to_string().into(),
    });
    config.stripe_base_url = "http://127.0.0.1:9".into();
    let state = konnecs::app::AppState {
        payments: konnecs::app::payments(&config),
        config: std::sync::Arc::new(config),
        ..base.state.clone()
    };
    // Google on too, also unreachable: starting a sign-in only builds its URL.
    let state = konnecs_tests::google::with_google(&state, "http://127.0.0.1:9");
    base.replace_state(state);
    let (app, state) = (base.router.clone(), base.state.clone());
    let signup =
        json!({"name": "Morgan Hale", "email": HOST_EMAIL, "password": PASSWORD, "business_name": "Harbour Physio"});
    let reply = Browser::anonymous()
        .send(&app, "POST", "/auth/signup", Some(&signup))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_headers(&reply, "POST /auth/signup");
    let host = Browser::from_reply(&reply);
    let user_id = reply.body["user_id"].as_str().expect("user id").to_string();

    let day = json!([{"start": "09:00", "end": "17:00"}]);
    let weekly = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day});
    let schedule = created(
        &host,
        &app,
        "/schedules",
        json!({"name": "Clinic hours", "time_zone": "Europe/London", "weekly": weekly}),
    )
    .await;
    let event = created(
        &host,
        &app,
        "/event-types",
        json!({"title": "Assessment", "slug": "assessment", "durations": [30], "schedule_id": schedule["id"]}),
    )
    .await;
    let booking = Browser::anonymous()
        .send(
            &app,
            "POST",
            "/public/booking/harbour-physio/assessment/bookings",
            Some(&json!({"start": "2026-03-04T10:00:00Z", "name": "Sam Lee", "email": "sam@example.com", "time_zone": "Europe/London"})),
        )
        .await;
    assert_eq!(booking.status, StatusCode::CREATED, "{}", booking.body);
    assert_headers(&booking, "POST /public/booking/{org_slug}/{event_slug}/bookings");
    let manage_token = booking.body["manage_token"].as_str().expect("manage token").to_string();
    let uid = booking.body["booking"]["uid"].as_str().expect("uid").to_string();

    let contact = created(
        &host,
        &app,
        "/contacts",
        json!({"first_name": "Ann", "emails": ["ann@example.com"], "tags": ["vip"]}),
    )
    .await;
    let contact_id = id_of(&contact);
    let note = created(
        &host,
        &app,
        &format!("/contacts/{contact_id}/notes"),
        json!({"body": "Knee, left"}),
    )
    .await;
    let field = created(&host, &app, "/fields", json!({"label": "Insurer", "type": "text"})).await;
    let pipeline = created(
        &host,
        &app,
        "/pipelines",
        json!({"name": "New patients", "stages": [{"name": "Lead", "probability": 10}, {"name": "Won", "probability": 100}]}),
    )
    .await;
    let deal = created(
        &host,
        &app,
        "/deals",
        json!({"title": "Course of six", "contact_id": contact_id, "pipeline_id": pipeline["id"],
               "stage_id": pipeline["stages"][0]["id"], "value": 42000, "currency": "GBP"}),
    )
    .await;
    let invitation = created(
        &host,
        &app,
        "/org/invitations",
        json!({"email": "sam@harbour-physio.example", "role": "member"}),
    )
    .await;
    let mut upload = host.request("POST", "/imports/contacts", None);
    *upload.body_mut() = Body::from("first_name,email\nBea,bea@example.com\n");
    upload
        .headers_mut()
        .insert("content-type", "text/csv".parse().expect("header"));
    let import = send(&app, upload).await;
    assert_eq!(import.status, StatusCode::ACCEPTED, "{}", import.body);
    // One not started yet, as the wizard leaves it while the columns are mapped.
    let mut upload = host.request("POST", "/imports/contacts?more_parts=true", None);
    *upload.body_mut() = Body::from("first_name,email\nCy,cy@example.com\n");
    upload
        .headers_mut()
        .insert("content-type", "text/csv".parse().expect("header"));
    let uploading = send(&app, upload).await;
    assert!(uploading.status.is_success(), "{}", uploading.body);
    let export = created(&host, &app, "/contacts/exports", json!({"format": "csv"})).await;
    let mut photo = host.request("PUT", "/me/photo", None);
    *photo.body_mut() = Body::from(PNG.to_vec());
    photo
        .headers_mut()
        .insert("content-type", "image/png".parse().expect("header"));
    assert_eq!(send(&app, photo).await.status, StatusCode::OK);
    // A webhook endpoint (at a closed port) and the delivery a new contact makes.
    let webhook = created(
        &host,
        &app,
        "/org/webhooks",
        json!({"url": "http://127.0.0.1:9/headers", "events": ["contact.created"]}),
    )
    .await;
    created(
        &host,
        &app,
        "/contacts",
        json!({"first_name": "Hook", "emails": ["hook@example.com"]}),
    )
    .await;
    let view = created(
        &host,
        &app,
        "/contacts/views",
        json!({"name": "VIP", "filters": {"tag": "vip"}}),
    )
    .await;
    let form = created(
        &host,
        &app,
        "/forms",
        json!({"title": "Call back", "fields": [{"key": "email", "kind": "email", "label": "Email", "required": true}]}),
    )
    .await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let record = konnecs::services::forms::definitions::get_record(
        state.table.as_ref(),
        &konnecs::domain::ids::OrgId::from(reply.body["org_id"].as_str().expect("org id")),
        &konnecs::domain::ids::FormId::from(id_of(&form)),
    )
    .await
    .expect("form");
    let rendered = konnecs::services::forms::render_token::stamp(
        &record.render_secret,
        &public_id,
        base.now().as_millisecond() - 10_000,
    );
    let submitted = Browser::anonymous()
        .send(
            &app,
            "POST",
            &format!("/public/forms/{public_id}/submissions"),
            Some(&json!({"answers": {"email": "walk@example.com"}, "rendered": rendered})),
        )
        .await;
    assert_eq!(submitted.status, StatusCode::CREATED, "{}", submitted.body);
    drain_jobs(&state).await;
    let message = outbox(&state).await.first().expect("an outbox message")["id"]
        .as_str()
        .expect("message id")
        .to_string();
    let deliveries = host
        .send(
            &app,
            "GET",
            &format!("/org/webhooks/{}/deliveries", id_of(&webhook)),
            None,
        )
        .await;
    let delivery = deliveries.body["items"][0]["id"]
        .as_str()
        .expect("a delivery")
        .to_string();

    let ids = BTreeMap::from([
        ("user", user_id),
        ("contact", contact_id),
        ("note", id_of(&note)),
        ("field", id_of(&field)),
        ("pipeline", id_of(&pipeline)),
        ("deal", id_of(&deal)),
        ("invitation", id_of(&invitation)),
        ("import", id_of(&import.body)),
        ("uploading import", id_of(&uploading.body)),
        ("export", id_of(&export)),
        ("schedule", id_of(&schedule)),
        ("event", id_of(&event)),
        ("appointment", uid.clone()),
        ("uid", uid),
        ("message", message),
        ("view", id_of(&view)),
        ("webhook", id_of(&webhook)),
        ("delivery", delivery),
        ("form", id_of(&form)),
        ("public", public_id),
        (
            "submission",
            submitted.body["submission_id"]
                .as_str()
                .expect("submission id")
                .to_string(),
        ),
    ]);
    World {
        base,
        host,
        ids,
        manage_token,
    }
}

impl World {
    /// The path of an entry with every parameter replaced by a real id.
    fn path_of(&self, template: &str) -> String {
        let id = |name: &str| self.ids.get(name).cloned().unwrap_or_else(|| panic!("no {name} id"));
        let mut path = String::new();
        for segment in template.split('/').filter(|s| !s.is_empty()) {
            let value = match segment {
                "{userId}" => id("user"),
                "{contactId}" => id("contact"),
                "{noteId}" => id("note"),
                "{fieldId}" => id("field"),
                "{invitationId}" => id("invitation"),
                "{tag}" => "vip".into(),
                "{org_slug}" => "harbour-physio".into(),
                "{event_slug}" => "assessment".into(),
                "{uid}" => id("uid"),
                "{user_id}" => id("user"),
                "{note_id}" => id("note"),
                "{field}" => "company".into(),
                "{formId}" => id("form"),
                "{submissionId}" => id("submission"),
                "{publicId}" => id("public"),
                "{name}" => konnecs::inbound::http::web::assets::stylesheet_url()
                    .trim_start_matches("/assets/")
                    .to_string(),
                "{endpointId}" => id("webhook"),
                "{deliveryId}" => id("delivery"),
                "{id}" if template.starts_with("/app/settings/webhooks/") => id("webhook"),
                "{id}" if template.starts_with("/contacts/views/") || template.starts_with("/app/contacts/views/") => {
                    id("view")
                }
                "{id}" if template.starts_with("/app/") => {
                    let kind = match template.split('/').nth(2) {
                        Some("contacts") => "contact",
                        Some("pipelines") => "pipeline",
                        Some("deals") => "deal",
                        Some("exports") => "export",
                        Some("imports") => "uploading import",
                        Some("appointments") => "appointment",
                        Some("settings") => "invitation",
                        Some("schedules") => "schedule",
                        Some("event-types") => "event",
                        other => panic!("no id for {other:?} in {template}"),
                    };
                    id(kind)
                }
                "{id}" => {
                    let kind = match template.split('/').nth(1) {
                        Some("pipelines") => "pipeline",
                        Some("deals") => "deal",
                        Some("imports") => "import",
                        Some("exports") => "export",
                        Some("schedules") => "schedule",
                        Some("event-types") => "event",
                        Some("appointments") => "appointment",
                        Some("dev") => "message",
                        other => panic!("no id for {other:?} in {template}"),
                    };
                    id(kind)
                }
                other if other.starts_with('{') => panic!("unknown parameter {other} in {template}"),
                other => other.into(),
            };
            path.push('/');
            path.push_str(&value);
        }
        if path.is_empty() {
            path.push('/');
        }
        // Public booking routes take the manage token in the query; the
        // calendar and the slots a range.
        if template.starts_with("/public/bookings/") || template.starts_with("/booking/") {
            path.push_str(&format!("?token={}", self.manage_token));
        } else if template == "/appointments" || template.ends_with("/slots") {
            path.push_str("?from=2026-03-02&to=2026-03-06&tz=Europe/London");
        }
        path
    }
}

/// Reads before writes, deletions and sign-outs last, so each route still
/// finds the ids and the session it needs.
fn walk_order(entry: &Entry) -> u8 {
    match entry.http() {
        Some((_, "/auth/logout" | "/auth/logout-all" | "/sign-out" | "/app/profile/sign-out-everywhere")) => 4,
        Some((Method::Get, _)) => 0,
        Some((Method::Delete, _)) => 3,
        Some(_) => 1,
        None => 5,
    }
}

fn http_entries() -> Vec<&'static Entry> {
    let mut entries: Vec<_> = catalogue::entries().iter().filter(|e| e.http().is_some()).collect();
    entries.sort_by_key(|e| walk_order(e));
    entries
}

/// Walks the routes; how many answered, and how many of those were pages.
async fn walk(w: &World, lambda_shaped: bool) -> (usize, usize) {
    let mut checked = 0;
    let mut pages = 0;
    for entry in http_entries() {
        if lambda_shaped && entry.runtime != Runtime::Both {
            continue;
        }
        let (method, template) = entry.http().expect("http entry");
        let path = w.path_of(template);
        let body = match method {
            Method::Get | Method::Delete => None,
            _ => Some(json!({})),
        };
        let who = match entry.auth {
            Auth::Session => w.host.clone(),
            _ => Browser::anonymous(),
        };
        let reply = if lambda_shaped {
            who.send(&router(w.state.clone(), [entry]), method.as_str(), &path, body.as_ref())
                .await
        } else {
            who.send(&w.router, method.as_str(), &path, body.as_ref()).await
        };
        let what = format!("{} {template} ({})", method.as_str(), entry.name);
        assert!(
            !reply.status.is_server_error(),
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        // The reads reach their success path: that is where personal data flows.
        // (The front door only ever redirects: into the app or to sign in.)
        // (A field of a record is a fragment for htmx; without it, the edit page.)
        // (Starting a Google sign-in redirects to Google; Google's returns need
        // the state Google hands back, so without it they are refused.)
        if method == Method::Get
            && !template.ends_with("/download")
            && template != "/"
            && entry.name != "page-contact-field"
            && entry.name != "page-sign-in-google"
            && entry.name != "page-sign-in-google-callback"
            && entry.name != "google-callback"
        {
            assert!(reply.status.is_success(), "{what}: {} {}", reply.status, reply.body);
        }
        if entry.name == "web-assets" {
            // The one exception, on purpose: a hashed static file is the same
            // for everyone forever, so it is cached for a year.
            assert_eq!(
                reply.headers.get("cache-control").and_then(|v| v.to_str().ok()),
                Some("public, max-age=31536000, immutable"),
                "{what}"
            );
            assert_security_headers(&reply, &what);
        } else {
            assert_headers(&reply, &what);
        }
        if reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/html"))
        {
            pages += 1;
        }
        checked += 1;
    }
    (checked, pages)
}

#[tokio::test]
async fn every_route_of_the_local_router_answers_no_store_and_nosniff() {
    let w = world().await;
    let (checked, pages) = walk(&w, false).await;
    let routes = catalogue::entries().iter().filter(|e| e.http().is_some()).count();
    assert_eq!(checked, routes);
    // The staff, account, booking and form pages all answered as pages.
    assert!(pages > 20, "only {pages} pages walked");
    // Unknown routes and framework answers go through the same pipeline.
    let missing = Browser::anonymous().send(&w.router, "GET", "/nowhere", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_headers(&missing, "GET /nowhere");
}

/// Behind a TLS-terminating proxy (`X-Forwarded-Proto: https`) every
/// answer, JSON, problem or page, asks browsers to keep to HTTPS; over
/// plain HTTP none does (browsers would ignore it). Through API Gateway
/// it always does (tests/lambda_events.rs).
#[tokio::test]
async fn answers_over_https_carry_hsts() {
    let w = world().await;
    for (path, proto, hsts) in [
        ("/health", "https", true),
        ("/nowhere", "https", true),
        ("/sign-in", "HTTPS", true),
        ("/health", "http", false),
        ("/sign-in", "http", false),
    ] {
        let mut request = Browser::anonymous().request("GET", path, None);
        request
            .headers_mut()
            .insert("x-forwarded-proto", http::HeaderValue::from_static(proto));
        let reply = send(&w.router, request).await;
        let got = reply
            .headers
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        assert_eq!(
            got.as_deref() == Some("max-age=31536000; includeSubDomains"),
            hsts,
            "{path} over {proto}: {got:?}"
        );
    }
}

#[tokio::test]
async fn every_lambda_router_answers_no_store_and_nosniff() {
    let w = world().await;
    let (checked, pages) = walk(&w, true).await;
    assert!(pages > 20, "only {pages} pages walked");
    let deployed = catalogue::entries()
        .iter()
        .filter(|e| e.http().is_some() && e.runtime == Runtime::Both)
        .count();
    assert_eq!(checked, deployed);
}

#[tokio::test]
async fn routes_that_hand_out_sessions_and_tokens_answer_no_store_on_success() {
    let w = world().await;
    let app = &w.router;
    let anonymous = Browser::anonymous();
    let login = anonymous
        .send(
            app,
            "POST",
            "/auth/login",
            Some(&json!({"email": HOST_EMAIL, "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(login.body["csrf_token"].is_string());
    assert_headers(&login, "POST /auth/login");
    let host = Browser::from_reply(&login);
    for path in ["/me", "/me/photo", "/auth/csrf", "/org", "/org/members", "/contacts"] {
        let reply = host.send(app, "GET", path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_headers(&reply, path);
    }

    let uid = &w.ids["uid"];
    let token = &w.manage_token;
    let shown = anonymous
        .send(app, "GET", &format!("/public/bookings/{uid}?token={token}"), None)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_headers(&shown, "GET /public/bookings/{uid}");
    let page = anonymous
        .send(app, "GET", &format!("/booking/{uid}?token={token}"), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_headers(&page, "GET /booking/{uid}");
    let moved = anonymous
        .send(
            app,
            "POST",
            &format!("/public/bookings/{uid}/reschedule"),
            Some(&json!({"token": token, "start": "2026-03-04T11:00:00Z"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_headers(&moved, "POST /public/bookings/{uid}/reschedule");
    let cancelled = anonymous
        .send(
            app,
            "POST",
            &format!("/public/bookings/{uid}/cancel"),
            Some(&json!({"token": token})),
        )
        .await;
    assert!(cancelled.status.is_success(), "{}", cancelled.body);
    assert_headers(&cancelled, "POST /public/bookings/{uid}/cancel");

    let invite = token_from_outbox(&w.state, "sam@harbour-physio.example", "/accept-invitation").await;
    let accepted = anonymous
        .send(
            app,
            "POST",
            "/invitations/accept",
            Some(&json!({"token": invite, "name": "Sam Ortiz", "password": "hygienist-rota-2026"})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_headers(&accepted, "POST /invitations/accept");
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x50, 0x5a, 0x55, 0x0e, 0x00, 0x02, 0x35, 0x01, 0x44, 0xa2, 0x8a, 0x4c, 0x69,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
