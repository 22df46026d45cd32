//! The operations of the platform area's HTTP entries: health, the
//! document itself and its reference page, Twilio's webhooks, the static
//! files, the app's home and the developer's outbox.

use std::sync::LazyLock;

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use crate::dev_outbox::{OutboxPage, Paging};
use crate::inbound::http::web::assets::stylesheet_url;
use crate::inbound::http::web::contacts::NoticeQuery;
use crate::services::health::HealthReport;

/// The stylesheet's current hashed name: an example that answers 200.
static STYLESHEET: LazyLock<String> = LazyLock::new(|| stylesheet_url().trim_start_matches("/assets/").to_string());

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "health" => health(schemas),
        "openapi" => Operation::new().answer(
            200,
            "This document: OpenAPI 3.1.",
            "application/json",
            json!({"type": "object"}),
            Some(json!({"openapi": "3.1.0", "info": {"title": "Konnecs API", "version": "0.1.0"}, "paths": {}})),
        ),
        "api-docs" => Operation::new().html(
            200,
            "The API reference: this document, drawn in the browser by the vendored Redoc.",
            "<redoc spec-url=\"/openapi.json\"></redoc>",
        ),
        "twilio-sms" => twilio_sms(),
        "twilio-status" => twilio_status(),
        "web-assets" => assets(),
        "page-root" => Operation::new().redirect_to(
            303,
            "To the app when signed in, else to the sign-in page.",
            "/sign-in",
        ),
        // Its query is read by axum's own extractor, whose refusal is a bare 400.
        "page-home" => Operation::new()
            .query::<NoticeQuery>(schemas)
            .problem(400, &["bad_request"])
            .html(200, "The home page: today's appointments, pipelines, recent contacts.", "<h1>Home</h1>")
            .problem(503, &["unavailable"]),
        // Not found for a request naming another host than this machine.
        "dev-outbox" => Operation::new()
            .html(
                200,
                "The last 100 messages the local server would have sent, newest first.",
                "<h1>Outbox</h1>",
            )
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        "dev-outbox-json" => Operation::new()
            .query::<Paging>(schemas)
            .json::<OutboxPage>(
                schemas,
                200,
                "A page of the outbox, newest first.",
                json!({"messages": [{"id": "01JBQ7X3M5", "kind": "email", "to": "ada@example.com", "subject": "Confirm your email", "created_at": "2026-03-02T09:30:00Z"}], "cursor": null}),
            )
            // Its query is read by axum's own extractor, whose refusal is a bare 400.
            .problem(400, &["bad_request", "invalid_cursor"])
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        "dev-outbox-message" => Operation::new()
            .path("id", "A message id from the outbox list.", "01JBQ7X3M5")
            .html(200, "One message: its text, attachments and MIME source.", "<h1>Confirm your email</h1>")
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        _ => return None,
    };
    Some(operation)
}

fn health(schemas: &mut Schemas) -> Operation {
    let ok = json!({"status": "ok", "store": "ok", "queue": "ok", "key_vault": "ok"});
    let down = json!({"status": "unavailable", "store": "unavailable", "queue": "ok", "key_vault": "ok"});
    Operation::new()
        .json::<HealthReport>(schemas, 200, "The store, queue and key vault all answer.", ok)
        .json::<HealthReport>(schemas, 503, "One of them does not: the report says which.", down)
}

/// A Twilio webhook: its signature header, the form fields it posts (it
/// sends more; `properties` are the ones read) and the refusals every
/// Twilio route gives.
fn twilio_webhook(properties: Value, required: &[&str], example: Value) -> Operation {
    let form = json!({"type": "object", "properties": properties, "required": required, "additionalProperties": {"type": "string"}});
    Operation::new()
        .header(
            "X-Twilio-Signature",
            true,
            "Twilio's signature over the URL and the form parameters.",
        )
        .body("application/x-www-form-urlencoded", form, example)
        .problem(400, &["missing_parameter"])
        .problem(403, &["invalid_signature"])
}

fn twilio_sms() -> Operation {
    twilio_webhook(
        json!({
            "MessageSid": {"type": "string", "minLength": 1},
            "From": {"type": "string", "minLength": 1, "description": "The sender's number, E.164."},
            "Body": {"type": "string"},
        }),
        &["MessageSid", "From"],
        json!({"MessageSid": "SM0123456789abcdef0123456789abcdef", "From": "+14155550123", "Body": "STOP"}),
    )
    .answer(
            200,
            "The reply as TwiML (empty when nothing is to be said).",
            "text/xml",
            json!({"type": "string"}),
            Some(json!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>You will get no more texts.</Message></Response>"
            )),
        )
}

fn twilio_status() -> Operation {
    let mut operation = twilio_webhook(
        json!({
            "MessageSid": {"type": "string", "minLength": 1},
            "MessageStatus": {"type": "string", "minLength": 1, "description": "queued, sent, delivered, undelivered, failed…"},
            "ErrorCode": {"type": "string"},
        }),
        &["MessageSid", "MessageStatus"],
        json!({"MessageSid": "SM0123456789abcdef0123456789abcdef", "MessageStatus": "delivered"}),
    )
    .empty(204, "The status is recorded (or was already).");
    // Read from the URL Konnecs gave Twilio with the message, not through a
    // typed query, so it is described here.
    operation.parameters.push(json!({
        "name": "m",
        "in": "query",
        "required": true,
        "description": "The id of the message the status is about, as Konnecs put it in the callback URL.",
        "schema": {"type": "string", "minLength": 1},
        "example": "01JBQ7X3M5",
    }));
    operation
}

fn assets() -> Operation {
    let mut operation = Operation::new()
        .path(
            "name",
            "A file's content-hashed name, as the pages link it; any other name is not found.",
            STYLESHEET.as_str(),
        )
        .answer(
            200,
            "The file, cacheable for a year (its name changes with its content).",
            "text/css",
            json!({"type": "string"}),
            Some(json!("body{margin:0}")),
        );
    if let Some(content) = operation
        .responses
        .get_mut(&200)
        .and_then(|response| response.get_mut("content"))
        .and_then(Value::as_object_mut)
    {
        content.insert("text/javascript".into(), json!({"schema": {"type": "string"}}));
    }
    operation.problem(404, &["not_found"])
}
