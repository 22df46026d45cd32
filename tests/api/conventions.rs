//! HTTP conventions (DESIGN.md §6) through the real router and pipeline on
//! the embedded store: problems with stable codes, field errors and request
//! ids; opaque 5xx bodies; the 1 MiB body limit; request logs; OpenAPI.

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http::{Request, StatusCode};
use konnecs::catalogue;
use konnecs::inbound::http::extract::ApiJson;
use konnecs::inbound::http::problem::ApiError;
use konnecs::inbound::http::{routes, with_pipeline};
use konnecs_tests::app::TestApp;
use serde_json::Value;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Signup {
    email: String,
    seats: u32,
}

/// The catalogue's routes plus test routes that fail in each way a handler can.
fn app() -> (Router, TestApp) {
    let mut base = TestApp::new();
    let test_routes = Router::new()
        .route("/test/json", post(|ApiJson(_body): ApiJson<Signup>| async { "ok" }))
        .route(
            "/test/internal",
            get(|| async { Err::<(), _>(ApiError::Internal("db password=hunter2 at 10.0.0.7".into())) }),
        )
        .route(
            "/test/panic",
            get(|| async {
                #[allow(clippy::panic)]
                if true {
                    panic!("secret panic detail");
                }
            }),
        );
    base.router = with_pipeline(routes(catalogue::entries()).merge(test_routes)).with_state(base.state.clone());
    (base.router.clone(), base)
}

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let reply = konnecs_tests::http::send(app, request).await;
    (reply.status, reply.headers, reply.body)
}

fn assert_problem(status: StatusCode, headers: &http::HeaderMap, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "body: {body}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["status"], expected.as_u16());
    assert_eq!(body["code"], code);
    let request_id = body["request_id"].as_str().expect("problem carries the request id");
    assert_eq!(
        headers["x-request-id"], request_id,
        "header and body name the same request"
    );
}

#[tokio::test]
async fn unknown_route_is_a_not_found_problem_with_request_id() {
    let (app, _dir) = app();
    let (status, headers, body) = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_problem(status, &headers, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn wrong_method_is_a_method_not_allowed_problem() {
    let (app, _dir) = app();
    let (status, headers, body) = send(&app, Request::post("/health").body(Body::empty()).unwrap()).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert!(
        headers.get("allow").is_some(),
        "Allow header survives the problem rewrite"
    );
}

#[tokio::test]
async fn body_over_one_mebibyte_is_a_payload_too_large_problem() {
    let (app, _dir) = app();
    let big = format!("{{\"email\":\"{}\",\"seats\":1}}", "a".repeat(1024 * 1024));
    let request = Request::post("/test/json")
        .header("content-type", "application/json")
        .body(Body::from(big))
        .unwrap();
    let (status, headers, body) = send(&app, request).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn body_just_under_the_limit_is_accepted() {
    let (app, _dir) = app();
    let padding = 1024 * 1024 - 64;
    let body = format!("{{\"email\":\"{}\",\"seats\":1}}", "a".repeat(padding));
    let request = Request::post("/test/json")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, _, _) = send(&app, request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn malformed_json_is_a_bad_request_naming_the_body() {
    let (app, _dir) = app();
    let request = Request::post("/test/json")
        .header("content-type", "application/json")
        .body(Body::from("{\"email\":"))
        .unwrap();
    let (status, headers, body) = send(&app, request).await;
    assert_problem(status, &headers, &body, StatusCode::BAD_REQUEST, "malformed_json");
    assert_eq!(body["errors"][0]["field"], "body");
}

#[tokio::test]
async fn wrongly_typed_field_is_a_validation_problem_naming_the_field() {
    let (app, _dir) = app();
    let request = Request::post("/test/json")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"email":"a@b.co","seats":"many"}"#))
        .unwrap();
    let (status, headers, body) = send(&app, request).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    );
    assert_eq!(body["errors"][0]["field"], "seats", "body: {body}");
}

#[tokio::test]
async fn json_that_is_not_an_object_is_a_validation_problem_naming_the_body() {
    let (app, _dir) = app();
    // serde reads an array into a struct field by field: `["a@b.co", 1]` would
    // pass as a Signup, and `[{...}]` would blame element `[0]`.
    for raw in [
        r#"[{"email":"a@b.co","seats":1}]"#,
        r#"["a@b.co", 1]"#,
        " [] ",
        r#""a@b.co""#,
        "7",
        "null",
        "true",
    ] {
        for path in ["/test/json", "/auth/login"] {
            let request = Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(raw))
                .unwrap();
            let (status, headers, body) = send(&app, request).await;
            assert_problem(
                status,
                &headers,
                &body,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            );
            assert_eq!(body["errors"][0]["field"], "body", "{path} {raw}: {body}");
            assert_eq!(body["errors"][0]["code"], "not_an_object", "{path} {raw}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.starts_with("The body must be a JSON object"), "{message}");
        }
    }
    // Objects still pass under any JSON media type, parameters aside.
    for content_type in ["application/json; charset=utf-8", "application/merge-patch+json"] {
        let request = Request::post("/test/json")
            .header("content-type", content_type)
            .body(Body::from(r#" {"email":"a@b.co","seats":1}"#))
            .unwrap();
        let (status, _, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::OK, "{content_type}: {body}");
    }
}

#[tokio::test]
async fn missing_json_content_type_is_unsupported_media_type() {
    let (app, _dir) = app();
    let request = Request::post("/test/json")
        .body(Body::from(r#"{"email":"a@b.co","seats":1}"#))
        .unwrap();
    let (status, headers, body) = send(&app, request).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn internal_error_body_reveals_nothing_internal() {
    let (app, _dir) = app();
    let (status, headers, body) = send(&app, Request::get("/test/internal").body(Body::empty()).unwrap()).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    );
    let text = body.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("10.0.0.7"),
        "5xx body leaked: {text}"
    );
}

#[tokio::test]
async fn panicking_handler_becomes_an_opaque_internal_error() {
    let (app, _dir) = app();
    let (status, headers, body) = send(&app, Request::get("/test/panic").body(Body::empty()).unwrap()).await;
    assert_problem(
        status,
        &headers,
        &body,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
    );
    assert!(!body.to_string().contains("secret panic detail"));
}

#[tokio::test]
async fn plain_caller_request_id_is_kept_and_unsafe_one_replaced() {
    let (app, _dir) = app();
    let request = Request::get("/nope")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let (_, headers, body) = send(&app, request).await;
    assert_eq!(headers["x-request-id"], "abc-123");
    assert_eq!(body["request_id"], "abc-123");

    let request = Request::get("/nope")
        .header("x-request-id", "evil\" injected=1")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&app, request).await;
    assert_ne!(headers["x-request-id"], "evil\" injected=1");
}

#[tokio::test]
async fn health_reports_every_component_ok() {
    let (app, _dir) = app();
    let (status, headers, body) = send(&app, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "body: {body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["store"], "ok");
    assert_eq!(body["queue"], "ok");
    assert_eq!(body["key_vault"], "ok");
}

#[tokio::test]
async fn openapi_describes_every_catalogue_route() {
    let (app, _dir) = app();
    let (status, _, body) = send(&app, Request::get("/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["openapi"], "3.1.0");
    let mut described = 0;
    for entry in catalogue::entries() {
        if let Some((method, path)) = entry.http() {
            let operation = &body["paths"][path][method.as_str().to_ascii_lowercase()];
            assert_eq!(operation["operationId"], entry.name, "{path} is described");
            described += 1;
        }
    }
    assert!(described >= 2);
    assert!(body["components"]["schemas"]["Problem"]["properties"]["code"].is_object());
}

/// `/docs` is the API reference drawn from this server's own document by the
/// vendored viewer: no other origin is named by the page or allowed by its
/// policy, and the script it loads is served here.
#[tokio::test]
async fn api_docs_draws_the_document_with_the_vendored_viewer_and_no_cdn() {
    let app = TestApp::new();
    let reply = app.request(Request::get("/docs").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(header("content-type").starts_with("text/html"));
    let page = String::from_utf8(reply.bytes.clone()).expect("the page is text");
    assert!(page.contains("spec-url=\"/openapi.json\""), "{page}");
    let script = konnecs::inbound::http::web::assets::redoc_script_url();
    assert!(script.starts_with("/assets/redoc-2.5.2-"), "{script}");
    assert!(page.contains(&format!("<script src=\"{script}\"></script>")), "{page}");
    // Nothing but this origin: no absolute URL in the page, none in the
    // policy, and no wildcard or scheme a CDN could hide behind.
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"),
        "{page}"
    );
    let csp = header("content-security-policy");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    for other_origin in ["http:", "https:", "*", "//"] {
        assert!(!csp.contains(other_origin), "{csp} allows {other_origin}");
    }
    assert!(!csp.contains("'unsafe-eval'"), "{csp}");
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");

    let viewer = app
        .request(Request::get(script.as_str()).body(Body::empty()).unwrap())
        .await;
    assert_eq!(viewer.status, StatusCode::OK);
    assert!(
        viewer.headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/javascript"),
        "{:?}",
        viewer.headers
    );
    let source = String::from_utf8_lossy(&viewer.bytes);
    assert!(
        source.contains("spec-url") && source.len() > 500_000,
        "the whole Redoc bundle is served"
    );

    let document = app
        .request(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(document.status, StatusCode::OK);
    assert_eq!(document.body["paths"]["/docs"]["get"]["operationId"], "api-docs");
}

#[tokio::test]
async fn an_unreadable_query_on_any_json_list_is_invalid_query_naming_the_query() {
    let app = TestApp::new();
    let owner = app.sign_up(&app.fresh_email("lists"), "Query Bakery").await;
    let contact = app
        .send(
            &owner.browser,
            "POST",
            "/contacts",
            Some(&serde_json::json!({"first_name": "Quinn", "emails": ["q@example.com"]})),
        )
        .await;
    assert_eq!(contact.status, StatusCode::CREATED, "{}", contact.body);
    let id = contact.body["id"].as_str().expect("contact id");
    let pipelines = app.send(&owner.browser, "GET", "/pipelines", None).await;
    let pipeline = pipelines.body["items"][0]["id"].as_str().unwrap_or("none").to_string();
    for path in [
        "/contacts?limit=1&limit=2".to_string(),
        format!("/contacts/{id}/notes?limit=1&limit=2"),
        format!("/contacts/{id}/timeline?limit=1&limit=2"),
        "/deals?limit=1&limit=2".to_string(),
        format!("/pipelines/{pipeline}/board?limit=1&limit=2"),
        "/org/members?limit=1&limit=2".to_string(),
        "/org/audit?limit=1&limit=2".to_string(),
        "/org/invitations?limit=1&limit=2".to_string(),
    ] {
        let reply = app.send(&owner.browser, "GET", &path, None).await;
        assert_problem(
            reply.status,
            &reply.headers,
            &reply.body,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        );
        assert_eq!(reply.body["errors"][0]["field"], "query", "{path}: {}", reply.body);
    }
}
