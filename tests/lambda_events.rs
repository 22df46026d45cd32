//! Every Lambda's sample event (`events/<name>.json`) through the same handler
//! code `konnecs::lambda::run` serves, with the AWS adapters against the moto
//! emulator (`KONNECS_TEST_AWS_ENDPOINT`), as in a deployed function.
//! The generic samples exercise the SQS and schedule machinery itself.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use futures::FutureExt;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use konnecs::app::AppState;
use konnecs::catalogue::{self, Entry, Runtime, Trigger};
use konnecs::inbound::events::{BatchOutcome, Message, TickError, TickReport};
use konnecs::lambda::{handle_schedule, handle_sqs};
use serde_json::{Value, json};
use tower::ServiceExt;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn sample(file: &str) -> String {
    let path = events_dir().join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read sample event {}: {e}", path.display()))
}

fn lambda_entries() -> impl Iterator<Item = &'static Entry> {
    catalogue::entries()
        .iter()
        .filter(|entry| entry.runtime == Runtime::Both)
}

/// The state a cold start builds, on a fresh table, queue and token key.
async fn aws_state() -> AppState {
    konnecs_tests::aws::app_state().await
}

struct HttpReply {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

/// An API Gateway HTTP API (v2.0) event through the entry's router, as
/// `lambda_http::run` does it.
async fn invoke_http(state: AppState, entry: &'static Entry, event: &str) -> HttpReply {
    let request = lambda_http::request::from_str(event)
        .unwrap_or_else(|e| panic!("{}: not an API Gateway event: {e}", entry.name));
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    let response = konnecs::inbound::http::router(state, [entry])
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{}: unreadable body: {e}", entry.name))
        .to_bytes();
    let html = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let body = if bytes.is_empty() {
        Value::Null
    } else if html {
        // Public pages answer HTML; assert_http_reply looks into the text.
        Value::String(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{}: body is not JSON ({e}): {}",
                entry.name,
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    HttpReply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

/// The status each HTTP Lambda answers its sample event with, given the
/// account `seed_account` creates. Token samples carry a token no store
/// issued, so those handlers answer with the documented rejection.
fn expected_status(entry: &Entry) -> u16 {
    match entry.name {
        "auth-signup" => 201,
        "auth-logout" | "auth-logout-all" => 204,
        "auth-verify-email" | "auth-password-reset" => 400,
        "auth-verify-email-resend" | "auth-password-forgot" => 202,
        // Sample path ids name no member or invitation of the seeded org.
        "members-update" | "members-remove" | "invitations-revoke" => 404,
        "invitations-create" => 201,
        "invitations-accept" => 400,
        // The seeded account has no photo yet; removing none is not an error.
        "me-photo-get" => 404,
        "me-photo-delete" => 204,
        // Contacts: the samples' ids, tag and field name nothing of the seeded org.
        "contacts-create" | "fields-create" => 201,
        "contacts-get" | "contacts-update" | "contacts-delete" | "contacts-merge" | "contacts-timeline" => 404,
        "notes-list" | "notes-create" | "notes-update" | "notes-delete" => 404,
        "tags-rename" | "tags-delete" | "fields-update" | "fields-delete" => 404,
        // Scheduling: the sample ids name no schedule, event type or booking of
        // the seeded org, and the seeded org has no event type yet.
        "schedules-create" => 201,
        "event-types-create" => 422,
        "schedules-get" | "schedules-update" | "schedules-delete" => 404,
        "event-types-get" | "event-types-update" | "event-types-delete" => 404,
        "appointments-get" | "appointments-cancel" | "appointments-reschedule" => 404,
        "appointments-confirm" | "appointments-decline" | "appointments-no-show" => 404,
        "public-booking-event" | "public-booking-slots" | "public-booking-create" => 404,
        "public-booking-show" | "public-booking-cancel" | "public-booking-reschedule" => 404,
        // The pages render the event or booking on the server: none exists, so a 404 page.
        "page-book" | "page-booking" => 404,
        // Pipelines and deals: the sample ids name no pipeline, deal or contact of the seeded org.
        "pipelines-create" => 201,
        "pipelines-get" | "pipelines-update" | "pipelines-delete" | "pipelines-board" => 404,
        "deals-create" => 422,
        "deals-get" | "deals-update" | "deals-delete" => 404,
        // Imports: the upload is accepted and queued; the sample ids name no import.
        "imports-create" => 202,
        "imports-append-part" | "imports-get" | "imports-errors" => 404,
        // Export jobs: the job is recorded and queued; the sample id names no export.
        "contacts-exports-create" => 202,
        "exports-get" | "exports-download" | "imports-errors-export" => 404,
        _ => 200,
    }
}

/// The account the samples refer to (Dana of Whitfield Dental), signed in:
/// returns the session and CSRF tokens to put in place of the samples' placeholders.
async fn seed_account(state: &AppState) -> (String, String) {
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
        .expect("seed account");
    (signed.session.token, signed.session.csrf_token)
}

fn assert_http_reply(entry: &Entry, event: &Value, reply: &HttpReply) {
    assert_eq!(reply.status, expected_status(entry), "{}: {}", entry.name, reply.body);
    // API Gateway's request id becomes ours, so logs and problems match its access log.
    assert_eq!(
        reply.headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        event["requestContext"]["requestId"].as_str(),
        "{}: request id",
        entry.name
    );
    match entry.name {
        "health" => {
            assert_eq!(reply.body["status"], "ok", "{}", reply.body);
            for component in ["store", "queue", "key_vault"] {
                assert_eq!(reply.body[component], "ok", "{component}: {}", reply.body);
            }
        }
        "openapi" => {
            assert_eq!(reply.body["openapi"], "3.1.0");
            for other in catalogue::entries() {
                if let Some((method, path)) = other.http() {
                    let operation = &reply.body["paths"][path][method.as_str().to_ascii_lowercase()];
                    assert_eq!(
                        operation["operationId"],
                        other.name,
                        "{} {path} missing from the document",
                        method.as_str()
                    );
                }
            }
        }
        "page-book" | "page-booking" => {
            let html = reply.body.as_str().unwrap_or_default();
            assert!(html.starts_with("<!doctype html>"), "{}: {html}", entry.name);
            assert!(reply.headers.contains_key("content-security-policy"), "{}", entry.name);
        }
        // A new HTTP Lambda gets its own assertions here; 200 is the floor.
        _ => {}
    }
}

#[tokio::test]
async fn every_lambda_handles_its_sample_event() {
    for entry in lambda_entries() {
        let text = sample(&format!("{}.json", entry.name));
        let event: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: sample is not JSON: {e}", entry.name));
        let state = aws_state().await;
        match entry.trigger {
            Trigger::Http { method, path, .. } => {
                // The sample must be the request API Gateway sends for this route.
                let route_key = format!("{} {path}", method.as_str());
                assert_eq!(event["routeKey"], route_key, "{}: sample routeKey", entry.name);
                assert_eq!(event["version"], "2.0", "{}: HTTP API payload v2.0", entry.name);
                let mut text = text.clone();
                if entry.name != "auth-signup" {
                    let (session, csrf) = seed_account(&state).await;
                    text = text.replace("SESSION_TOKEN", &session).replace("CSRF_TOKEN", &csrf);
                }
                let reply = invoke_http(state, entry, &text).await;
                assert_http_reply(entry, &event, &reply);
            }
            Trigger::Queue { consumer, .. } => {
                let batch: SqsEvent =
                    serde_json::from_value(event).unwrap_or_else(|e| panic!("{}: not an SQS batch: {e}", entry.name));
                let response = handle_sqs(state, consumer, batch).await;
                assert!(
                    response.batch_item_failures.is_empty(),
                    "{}: sample messages failed",
                    entry.name
                );
            }
            Trigger::Schedule { tick, .. } => {
                assert_eq!(event["detail-type"], "Scheduled Event", "{}", entry.name);
                let event: EventBridgeEvent<Value> = serde_json::from_value(event)
                    .unwrap_or_else(|e| panic!("{}: not an EventBridge event: {e}", entry.name));
                if let Err(e) = handle_schedule(state, entry.name, tick, event).await {
                    panic!("{}: tick failed: {e}", entry.name);
                }
            }
        }
    }
}

#[test]
fn every_sample_event_belongs_to_a_lambda() {
    let generic = ["sqs-batch.json", "scheduled-event.json"];
    let dir = events_dir();
    for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let name = file
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_entry = name
            .strip_suffix(".json")
            .is_some_and(|stem| lambda_entries().any(|e| e.name == stem));
        assert!(
            is_entry || generic.contains(&name.as_str()),
            "events/{name} is no Lambda's sample"
        );
    }
}

/// Messages the test consumer saw: (id, receive count).
static SEEN: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());

/// Fails the reminder message, acknowledges the rest.
fn failing_consumer(_state: AppState, messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
    async move {
        if let Ok(mut seen) = SEEN.lock() {
            seen.extend(messages.iter().map(|m| (m.message_id.clone(), m.receive_count)));
        }
        let failed = messages
            .into_iter()
            .filter(|m| m.body.contains("reminder.send"))
            .map(|m| m.message_id)
            .collect();
        BatchOutcome { failed }
    }
    .boxed()
}

#[tokio::test]
async fn a_failed_message_is_reported_alone_for_redelivery() {
    let batch: SqsEvent = serde_json::from_str(&sample("sqs-batch.json")).expect("sqs-batch.json is an SQS batch");
    let response = handle_sqs(aws_state().await, failing_consumer, batch).await;

    // The field names Lambda reads for ReportBatchItemFailures.
    let json = serde_json::to_value(&response).expect("serializes");
    assert_eq!(
        json,
        json!({ "batchItemFailures": [{ "itemIdentifier": "c3a8f5d2-91b4-4e07-8f6a-7d0b2e9c4a15" }] })
    );

    let seen = SEEN.lock().expect("not poisoned").clone();
    assert_eq!(
        seen,
        [
            ("0f9d6a3e-3c55-4b9e-9a53-1f0e7d2b8c41".to_owned(), 1),
            ("6b2e41c7-8a0d-4f6e-b3d9-52c8e1a7f093".to_owned(), 1),
            ("c3a8f5d2-91b4-4e07-8f6a-7d0b2e9c4a15".to_owned(), 3),
        ]
    );
}

#[tokio::test]
async fn a_batch_without_failures_reports_none() {
    fn accept_all(_state: AppState, _messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
        async { BatchOutcome::default() }.boxed()
    }
    let batch: SqsEvent = serde_json::from_str(&sample("sqs-batch.json")).expect("sqs-batch.json is an SQS batch");
    let response = handle_sqs(aws_state().await, accept_all, batch).await;
    assert_eq!(
        serde_json::to_value(&response).expect("serializes"),
        json!({ "batchItemFailures": [] })
    );
}

/// Touches the store, so the tick really ran against the state it was given.
fn store_tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        state.table.ping().await.map_err(|e| TickError(e.to_string()))?;
        Ok(TickReport { processed: 1 })
    }
    .boxed()
}

#[tokio::test]
async fn a_scheduled_event_runs_the_tick() {
    let event: EventBridgeEvent<Value> =
        serde_json::from_str(&sample("scheduled-event.json")).expect("scheduled-event.json is an EventBridge event");
    assert_eq!(event.detail_type, "Scheduled Event");
    let report = handle_schedule(aws_state().await, "test-tick", store_tick, event)
        .await
        .expect("tick runs");
    assert_eq!(report, TickReport { processed: 1 });
}

#[tokio::test]
async fn a_failing_tick_fails_the_invocation() {
    fn broken(_state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
        async { Err(TickError("store unavailable".into())) }.boxed()
    }
    let event: EventBridgeEvent<Value> =
        serde_json::from_str(&sample("scheduled-event.json")).expect("scheduled-event.json is an EventBridge event");
    // An error makes Lambda record a failed invocation (and retry), not a silent success.
    assert!(
        handle_schedule(aws_state().await, "test-tick", broken, event)
            .await
            .is_err()
    );
}
