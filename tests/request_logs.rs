//! Request logs: one structured JSON line per request with method, route,
//! status, latency, request id, client IP and user agent, and never a body,
//! cookie or secret. Its own test binary: it installs the process-wide
//! subscriber, which no other test may race with.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{Request, StatusCode};
use konnecs::catalogue;
use konnecs::inbound::http::extract::ApiJson;
use konnecs::inbound::http::{routes, with_pipeline};
use konnecs_tests::local::temp_state;
use serde_json::Value;
use tower::ServiceExt;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Signup {
    email: String,
    seats: u32,
}

/// A `tracing` writer that keeps every line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_log_line_is_structured_and_never_holds_bodies_or_cookies() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_writer(move || sink.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("only test in this binary");

    let (state, _dir) = temp_state();
    let test_routes = Router::new().route("/test/json", post(|ApiJson(_body): ApiJson<Signup>| async { "ok" }));
    let app = with_pipeline(routes(catalogue::entries()).merge(test_routes)).with_state(state);
    let request = Request::post("/test/json")
        .header("content-type", "application/json")
        .header("cookie", "__Host-konnecs_session=cookie-secret-value")
        .header("user-agent", "konnecs-test/1.0")
        .header("x-request-id", "log-test-1")
        .body(Body::from(r#"{"email":"body-secret@example.com","seats":2}"#))
        .unwrap();
    let response = app.clone().oneshot(request).await.expect("router is infallible");
    let status = response.status();
    assert_eq!(status, StatusCode::OK);
    // A catalogue route: its lines name the function that served it.
    let health = Request::get("/health").body(Body::empty()).unwrap();
    app.oneshot(health).await.expect("router is infallible");

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "request")
        .unwrap_or_else(|| panic!("no request log line in {text}"));
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/test/json");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().is_some());
    assert_eq!(line["span"]["request_id"], "log-test-1");
    let health_line = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "request" && l["route"] == "/health")
        .unwrap_or_else(|| panic!("no request log line for /health in {text}"));
    assert_eq!(health_line["span"]["function"], "health");
    assert_eq!(line["user_agent"], "konnecs-test/1.0");
    assert!(line.get("client_ip").is_some());
    assert!(!text.contains("cookie-secret-value"), "cookie value logged");
    assert!(!text.contains("body-secret@example.com"), "body logged");
}
