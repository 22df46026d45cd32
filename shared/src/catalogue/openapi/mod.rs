//! `GET /openapi.json`: the OpenAPI 3.1 document of every HTTP entry of the
//! catalogue. What each route reads and answers is told in `contracts/`
//! (one file per [`Area`], one [`Operation`] per entry) with the Rust types
//! its handler uses; the answers shared by every route of a kind (sign-in,
//! CSRF, JSON bodies, idempotency keys, rate limits) are added here, so an
//! area file cannot forget them. A test fails on an HTTP entry without an
//! operation.

mod contracts;
mod operation;

use std::collections::BTreeSet;

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

pub use operation::{Operation, Schemas};

use super::{Area, Auth, Entry, Method, throttles};

pub async fn document_json() -> impl IntoResponse {
    Json(document())
}

/// The operation of `entry`, as its area file tells it (`None` for an
/// entry that is not HTTP, or one the area file does not describe yet).
pub fn operation(entry: &Entry, schemas: &mut Schemas) -> Option<Operation> {
    entry.http()?;
    let name = entry.name;
    match entry.area {
        Area::Platform => contracts::platform::operation(name, schemas),
        Area::Accounts => contracts::accounts::operation(name, schemas),
        Area::Organization => contracts::organization::operation(name, schemas),
        Area::Contacts => contracts::contacts::operation(name, schemas),
        Area::Deals => contracts::deals::operation(name, schemas),
        Area::Transfers => contracts::transfers::operation(name, schemas),
        Area::Scheduling => contracts::scheduling::operation(name, schemas),
        Area::Booking => contracts::booking::operation(name, schemas),
        Area::Forms => contracts::forms::operation(name, schemas),
    }
}

/// The HTTP entries no area file describes (empty when the document is complete).
pub fn undescribed() -> Vec<&'static str> {
    let mut schemas = Schemas::new();
    super::entries()
        .iter()
        .filter(|entry| entry.http().is_some() && operation(entry, &mut schemas).is_none())
        .map(|entry| entry.name)
        .collect()
}

/// The HTTP entries whose operation shows no example.
pub fn without_example() -> Vec<&'static str> {
    let mut schemas = Schemas::new();
    super::entries()
        .iter()
        .filter(|entry| operation(entry, &mut schemas).is_some_and(|operation| !operation.has_example()))
        .map(|entry| entry.name)
        .collect()
}

/// Whether the entry's answers are pages for a browser (HTML, redirects),
/// whose refusals are HTML error pages rather than problem documents.
fn is_page(entry: &Entry) -> bool {
    entry
        .http()
        .is_some_and(|(_, path)| !path.starts_with("/public/") && answers_html(path))
}

/// Paths of the staff app and the pages around it (sign-in, booking and
/// form pages); the JSON API lives everywhere else.
fn answers_html(path: &str) -> bool {
    const PAGE_PREFIXES: [&str; 14] = [
        "/app",
        "/sign-in",
        "/sign-up",
        "/sign-out",
        "/forgot-password",
        "/reset-password",
        "/verify-email",
        "/accept-invitation",
        "/book/",
        "/booking/",
        "/f/",
        "/dev/outbox",
        "/assets/",
        "/docs",
    ];
    path == "/"
        || PAGE_PREFIXES.iter().any(|prefix| {
            // A whole segment: `/app` is the staff app, `/appointments` the JSON API.
            path.strip_prefix(prefix)
                .is_some_and(|rest| prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?']))
        })
}

/// The answers every route of a kind shares, from the layers and extractors
/// in front of its handler.
fn add_shared_answers(entry: &Entry, method: Method, operation: &mut Operation) {
    let page = is_page(entry);
    match entry.auth {
        Auth::Session if page => {
            if method == Method::Get {
                operation
                    .responses
                    .entry(303)
                    .or_insert_with(|| json!({"description": "Not signed in: to the sign-in page."}));
            }
            add(operation, 401, &["unauthenticated"]);
            add(
                operation,
                403,
                &["csrf_token_invalid", "insufficient_role", "org_closing"],
            );
        }
        Auth::Session => {
            add(operation, 401, &["unauthenticated"]);
            add(operation, 403, &["org_closing"]);
            if method != Method::Get {
                add(operation, 403, &["csrf_token_invalid"]);
            }
        }
        // Each provider's webhook refuses a bad signature the way that
        // provider expects (Stripe a 400, Twilio a 403): its area says which.
        Auth::WebhookSigned | Auth::Public | Auth::Internal => {}
    }
    if method == Method::Post {
        // The `Idempotency-Key` layer, in front of every POST; a key sent
        // again with another body is a field error on `Idempotency-Key`.
        add(operation, 400, &["invalid_idempotency_key"]);
        add(operation, 409, &["idempotency_key_in_use"]);
        add(operation, 422, &["validation_failed"]);
    }
    let takes_json = operation
        .request_body
        .as_ref()
        .and_then(|body| body.get("content")?.get("application/json"))
        .is_some();
    if takes_json && !operation.raw_body {
        add(operation, 400, &["malformed_json", "unreadable_body"]);
        add(operation, 413, &["payload_too_large"]);
        add(operation, 415, &["unsupported_media_type"]);
        add(operation, 422, &["validation_failed"]);
    }
    if operation.raw_body {
        // The body limit in front of every route still applies.
        add(operation, 413, &["payload_too_large"]);
    }
    if operation.parameters.iter().any(|parameter| parameter["in"] == "query") {
        add(operation, 400, &["invalid_query"]);
    }
    if matches!(throttles::limits(entry.name), Some(throttles::Limits::Layer(_))) {
        add(operation, 429, &["rate_limited"]);
    }
    if !page {
        // Any route that reaches the store answers this while it cannot.
        add(operation, 503, &["unavailable"]);
    }
}

fn add(operation: &mut Operation, status: u16, codes: &[&'static str]) {
    operation
        .problems
        .entry(status)
        .or_default()
        .extend(codes.iter().copied());
}

fn path_parameters(path: &str, operation: &Operation) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let (description, example) = operation
                .path_descriptions
                .get(name)
                .copied()
                .unwrap_or(("An id, as the API returned it.", ""));
            let mut parameter = json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": description,
                "schema": {"type": "string", "minLength": 1},
            });
            if !example.is_empty() {
                parameter["example"] = json!(example);
            }
            parameter
        })
        .collect()
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::Session => json!([{"session": [], "csrf": []}]),
        Auth::WebhookSigned => json!([{"webhookSignature": []}]),
        Auth::Public | Auth::Internal => json!([]),
    }
}

/// A problem answer with `status`, whose `code` is one of `codes`.
fn problem_answer(status: u16, codes: &BTreeSet<&'static str>, page: bool) -> Value {
    let listed = codes.iter().copied().collect::<Vec<_>>().join(", ");
    let document = json!({"schema": {"allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {"properties": {"status": {"const": status}, "code": {"enum": codes}}},
    ]}});
    if page {
        // The layers in front of a page's handler (rate limits, idempotency
        // keys, body limits) refuse with the problem document itself.
        return json!({
            "description": format!(
                "An error page, or the problem document when a layer in front of the page refuses \
                 (the problem's code is one of: {listed})."
            ),
            "content": {"text/html": {"schema": {"type": "string"}}, "application/problem+json": document},
        });
    }
    json!({
        "description": format!("A problem; its code is one of: {listed}."),
        "content": {"application/problem+json": document},
    })
}

fn operation_object(entry: &Entry, method: Method, path: &str, mut operation: Operation) -> Value {
    add_shared_answers(entry, method, &mut operation);
    let page = is_page(entry);
    let mut responses = Map::new();
    for (status, response) in &operation.responses {
        responses.insert(status.to_string(), response.clone());
    }
    for (status, codes) in &operation.problems {
        let problem = problem_answer(*status, codes, page);
        // A status the area answers itself (a health report at 503, a
        // handler's problem documents under a page path) keeps that answer
        // beside the shared problem's media type: both can arrive.
        match responses.get_mut(&status.to_string()) {
            Some(answer) => {
                if let (Some(content), Some(shared)) = (
                    answer.get_mut("content").and_then(Value::as_object_mut),
                    problem.get("content").and_then(Value::as_object),
                ) {
                    for (media_type, media) in shared {
                        content.entry(media_type.clone()).or_insert_with(|| media.clone());
                    }
                }
            }
            None => {
                responses.insert(status.to_string(), problem);
            }
        }
    }
    if let Some(throttled) = responses.get_mut("429") {
        // Every 429 is `ApiError::RateLimited`, which always says when to
        // come back: a client that reads the header need not guess a backoff.
        throttled["headers"]["Retry-After"] = json!({
            "description": "Seconds to wait before trying again.",
            "required": true,
            "schema": {"type": "integer", "minimum": 0},
            "example": 60,
        });
    }
    let mut parameters = path_parameters(path, &operation);
    parameters.extend(operation.parameters.iter().cloned());
    let mut object = json!({
        "operationId": entry.name,
        "summary": entry.summary,
        "tags": [entry.area.as_str()],
        "security": security(entry.auth),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = operation.request_body {
        object["requestBody"] = body;
    }
    object
}

pub fn document() -> Value {
    let mut schemas = Schemas::new();
    let mut paths = Map::new();
    for entry in super::entries() {
        let Some((method, path)) = entry.http() else { continue };
        let Some(operation) = operation(entry, &mut schemas) else {
            continue;
        };
        let object = operation_object(entry, method, path, operation);
        if let Some(item) = paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            item.insert(method.as_str().to_ascii_lowercase(), object);
        }
    }
    let (mut components, renames) = schemas.finish();
    // Request bodies and query parameters name request-side schemas.
    for item in paths.values_mut() {
        for object in item.as_object_mut().into_iter().flat_map(|item| item.values_mut()) {
            for part in ["requestBody", "parameters"] {
                if let Some(value) = object.get_mut(part) {
                    operation::rename_refs(value, &renames);
                }
            }
        }
    }
    components.insert("Problem".into(), problem_schema());
    components.insert("FieldError".into(), field_error_schema());
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Konnecs API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "CRM for small businesses: contacts, forms, bookings, messaging. \
                Staff calls carry the session cookie and, on every call that changes something, \
                the CSRF token in `X-CSRF-Token` (`GET /auth/csrf` tells it). Public routes take \
                no session and are rate limited per IP and per target. Errors are RFC 9457 \
                problem documents with a stable `code`. A request that is not HTTP never \
                reaches a route: a header value with a control byte (RFC 9110 §5.5) or an \
                unreadable request line is refused by the HTTP server with an empty 400, \
                before any route, and changes nothing."
        },
        "tags": Area::ALL.iter().map(|area| json!({"name": area.as_str()})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-konnecs_session", "description": "The session cookie set by sign-in (`konnecs_session` over plain http in local development)."},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token", "description": "The session's CSRF token, required on every call that is not a GET."},
                "webhookSignature": {"type": "apiKey", "in": "header", "name": "X-Signature", "description": "The provider's own signature header (Stripe-Signature, X-Twilio-Signature), verified in constant time."}
            },
            "schemas": components,
        }
    })
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "description": "Stable machine-readable code."},
            "detail": {"type": "string"},
            "request_id": {"type": "string"},
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
        }
    })
}

fn field_error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["field", "code", "message"],
        "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_http_entry_has_an_operation() {
        let missing = undescribed();
        assert!(
            missing.is_empty(),
            "HTTP entries without an operation in catalogue/openapi/contracts: {missing:?}"
        );
    }

    #[test]
    fn every_operation_shows_an_example() {
        let missing = without_example();
        assert!(missing.is_empty(), "operations without an example: {missing:?}");
    }

    #[test]
    fn every_throttled_answer_says_when_to_come_back() {
        let document = document();
        let mut throttled = 0;
        let mut without = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let Some(answer) = operation["responses"].get("429") else {
                    continue;
                };
                throttled += 1;
                let header = &answer["headers"]["Retry-After"];
                if header["required"] != true || header["schema"]["type"] != "integer" {
                    without.push(format!("{method} {path}"));
                }
            }
        }
        assert!(throttled > 0, "no operation documents a 429");
        assert!(
            without.is_empty(),
            "429 answers without an integer Retry-After: {without:?}"
        );
    }

    /// Stripe's webhook reads its body as the bytes Stripe signed: a body
    /// that is not JSON is the handler's `invalid_event`, whatever its media
    /// type, never the JSON reader's refusals.
    #[test]
    fn the_stripe_webhook_documents_only_the_answers_it_gives() {
        let document = document();
        let responses = document["paths"]["/webhooks/stripe"]["post"]["responses"]
            .as_object()
            .cloned()
            .expect("the Stripe webhook operation");
        let codes = |status: &str| -> Vec<String> {
            let schema = &responses[status]["content"]["application/problem+json"]["schema"];
            let mut codes: Vec<String> = schema["allOf"][1]["properties"]["code"]["enum"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|code| code.as_str().map(str::to_owned))
                .collect();
            codes.sort();
            codes
        };
        let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
        assert_eq!(statuses, ["200", "400", "404", "409", "413", "422", "429", "503"]);
        assert_eq!(
            codes("400"),
            ["invalid_event", "invalid_idempotency_key", "invalid_signature"]
        );
        assert_eq!(codes("413"), ["payload_too_large"]);
        assert_eq!(codes("422"), ["validation_failed"]);
        assert_eq!(codes("429"), ["rate_limited"]);
    }

    #[test]
    fn every_reference_names_a_schema() {
        let document = document();
        let schemas = document["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut dangling = Vec::new();
        collect_dangling(&document, &schemas, &mut dangling);
        assert!(dangling.is_empty(), "references to no schema: {dangling:?}");
    }

    fn collect_dangling(value: &Value, schemas: &Map<String, Value>, dangling: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let name = reference.trim_start_matches("#/components/schemas/");
                    if !schemas.contains_key(name) {
                        dangling.push(reference.clone());
                    }
                }
                map.values()
                    .for_each(|child| collect_dangling(child, schemas, dangling));
            }
            Value::Array(items) => items.iter().for_each(|item| collect_dangling(item, schemas, dangling)),
            _ => {}
        }
    }
}
