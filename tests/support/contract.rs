//! Every answer the API tests get is held against `/openapi.json`: its
//! status must be one the operation documents, its media type one the
//! status documents, and a JSON body must match the documented schema
//! (problem documents included, with their stable codes). So the document
//! cannot drift from the handlers while the tests pass: each of the
//! hundreds of requests the suites make checks it.
//!
//! Answers to requests no operation describes (unknown paths, a method a
//! path does not take) and server errors (tests that break the store on
//! purpose) are not checked here.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

struct Route {
    method: String,
    segments: Vec<String>,
    operation: Value,
}

struct Contract {
    routes: Vec<Route>,
    components: Value,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let document = konnecs::catalogue::openapi::document();
        let mut routes = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                routes.push(Route {
                    method: method.to_ascii_uppercase(),
                    segments: path.split('/').map(str::to_string).collect(),
                    operation: operation.clone(),
                });
            }
        }
        Contract {
            routes,
            components: document["components"].clone(),
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// The operation answering `method path`: the route template matching it
/// with the most literal segments (`/contacts/views` over `/contacts/{id}`).
fn find<'a>(contract: &'a Contract, method: &Method, path: &str) -> Option<&'a Route> {
    let segments: Vec<&str> = path.split('/').collect();
    contract
        .routes
        .iter()
        .filter(|route| route.method == method.as_str() && route.segments.len() == segments.len())
        .filter(|route| {
            route.segments.iter().zip(&segments).all(|(template, actual)| {
                template == actual || (template.starts_with('{') && template.ends_with('}') && !actual.is_empty())
            })
        })
        .max_by_key(|route| {
            route
                .segments
                .iter()
                .filter(|segment| !segment.starts_with('{'))
                .count()
        })
}

fn validator(contract: &Contract, key: &str, schema: &Value) -> Result<std::sync::Arc<jsonschema::Validator>, String> {
    let mut validators = contract.validators.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(validator) = validators.get(key) {
        return Ok(validator.clone());
    }
    // The schema's `$ref`s point into the document's components, so the
    // schema is checked as part of a document that has them.
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": contract.components,
        "allOf": [schema],
    });
    let validator = jsonschema::draft202012::new(&root).map_err(|err| format!("schema does not compile: {err}"))?;
    let validator = std::sync::Arc::new(validator);
    validators.insert(key.to_string(), validator.clone());
    Ok(validator)
}

/// Panics, naming the operation and what differs, when the answer to
/// `method path` is not what the document says it can be.
pub fn check(method: &Method, path: &str, status: StatusCode, headers: &HeaderMap, bytes: &[u8]) {
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        return;
    }
    let contract = contract();
    let Some(route) = find(contract, method, path) else {
        return;
    };
    let operation_id = route.operation["operationId"].as_str().unwrap_or_default();
    let Some(response) = route.operation["responses"].get(status.as_str()) else {
        panic!(
            "{method} {path} ({operation_id}) answered {status}, which its operation does not document \
             (catalogue/openapi/contracts); body: {}",
            String::from_utf8_lossy(bytes)
        );
    };
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return;
    };
    let media_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let Some(media) = content.get(&media_type) else {
        if bytes.is_empty() {
            return;
        }
        panic!(
            "{method} {path} ({operation_id}) answered {status} as {media_type:?}; the operation documents {:?}",
            content.keys().collect::<Vec<_>>()
        );
    };
    // A compressed body (the client asked for it) is not read here: its
    // status and media type were held against the document above. Only
    // JSON documents are: JSON Lines (`application/x-ndjson`) is a file of
    // them, one per line, not one.
    let encoded = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|coding| !coding.trim().eq_ignore_ascii_case("identity"));
    let json_document = media_type == "application/json" || media_type.ends_with("+json");
    if !json_document || encoded {
        return;
    }
    let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
        panic!("{method} {path} ({operation_id}) answered {status} with a body that is not JSON");
    };
    let key = format!("{operation_id} {status} {media_type}");
    let validator = validator(contract, &key, &media["schema"]).unwrap_or_else(|err| panic!("{key}: {err}"));
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .take(5)
        .map(|error| format!("at {}: {error}", error.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} ({operation_id}) answered {status} with a body its documented schema refuses:\n{}\nbody: {body}",
        errors.join("\n")
    );
}
