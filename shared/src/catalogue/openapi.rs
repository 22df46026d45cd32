//! `GET /openapi.json`: an OpenAPI 3.1 document generated from the route
//! catalogue, so it describes every HTTP route by construction.

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::Auth;

pub async fn document_json() -> impl IntoResponse {
    Json(document())
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::Session => json!([{"session": [], "csrf": []}]),
        Auth::WebhookSigned => json!([{"webhookSignature": []}]),
        Auth::Public | Auth::Internal => json!([]),
    }
}

pub fn document() -> Value {
    let mut paths = Map::new();
    for entry in super::entries() {
        let Some((method, path)) = entry.http() else { continue };
        let operation = json!({
            "operationId": entry.name,
            "summary": entry.summary,
            "security": security(entry.auth),
            "parameters": path_parameters(path),
            "responses": {
                "200": {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
                "default": {"$ref": "#/components/responses/Problem"}
            }
        });
        if let Some(item) = paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            item.insert(method.as_str().to_ascii_lowercase(), operation);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Konnecs API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "CRM for small businesses: contacts, forms, bookings, messaging."
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-konnecs_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                "webhookSignature": {"type": "apiKey", "in": "header", "name": "X-Signature", "description": "Provider-specific signature header (Stripe-Signature, X-Twilio-Signature), verified in constant time."}
            },
            "responses": {
                "Problem": {
                    "description": "An error, as RFC 9457 problem details.",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code"],
                    "properties": {
                        "type": {"type": "string", "format": "uri"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "code": {"type": "string", "description": "Stable machine-readable code."},
                        "detail": {"type": "string"},
                        "request_id": {"type": "string"},
                        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}
                    }
                },
                "FieldError": {
                    "type": "object",
                    "required": ["field", "code", "message"],
                    "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}
                }
            }
        }
    })
}
