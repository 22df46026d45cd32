//! `Idempotency-Key` on POST requests (DESIGN.md §6): a client that retries
//! a create after a timeout gets the first answer again instead of a second
//! contact, booking or invitation.
//!
//! The first request with a key claims it (a conditional put), runs, and a
//! successful (2xx) answer is stored for 24 hours, encrypted with the key
//! vault because it may carry secrets (a booking's manage token). A repeat
//! with the same key, route, caller and body gets that answer back with
//! `Idempotent-Replayed: true`; the same key with another body is refused
//! (422 `idempotency_key_reused`); a repeat while the first still runs gets
//! 409 `idempotency_key_in_use`. Failures (4xx, 5xx) are not stored: the
//! claim is released so the client can correct and retry with the same key.
//! Answers that set cookies (sign-in) are never stored.
//!
//! Keys are scoped to the caller (a hash of the session cookie, or "public")
//! and to the method and path, so one client's key cannot replay another's
//! answer. Key: `IDEMPOTENCY#<sha256>` / `RESPONSE`.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};

use super::session::session_token;
use crate::config::MAX_BODY_BYTES;
use crate::domain::token::token_hash;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::ports::{Condition, EncryptionContext, Item, Key, StoreError};
use crate::services::object;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How long an answer is kept for replay.
const KEEP_SECONDS: i64 = 24 * 3600;
/// A claim whose request never finished (a crashed process) frees itself.
const CLAIM_SECONDS: i64 = 60;
/// Larger answers are sent but not kept (creates answer with one resource).
const MAX_STORED_BYTES: usize = 256 * 1024;
const MAX_KEY_CHARS: usize = 255;

fn record_key(scope: &str, method: &Method, path: &str, idempotency_key: &str) -> Key {
    let digest = token_hash(&format!("{scope}\n{method} {path}\n{idempotency_key}"));
    Key::new(format!("IDEMPOTENCY#{digest}"), "RESPONSE")
}

fn context(key: &Key) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "idempotent-response")
        .with("record", key.pk.clone())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Value::as_str)
}

pub async fn replay(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(raw_key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let idempotency_key = match raw_key.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= MAX_KEY_CHARS => k.trim().to_string(),
        _ => {
            return ApiError::BadRequest {
                code: "invalid_idempotency_key",
                field: Some("Idempotency-Key".into()),
                detail: format!("Use 1 to {MAX_KEY_CHARS} visible ASCII characters, e.g. a UUID."),
            }
            .into_response();
        }
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let scope = session_token(&parts, &state.config)
        .map(|token| token_hash(&token))
        .unwrap_or_else(|| "public".to_string());
    let key = record_key(&scope, &parts.method, parts.uri.path(), &idempotency_key);
    let body_hash = token_hash(&STANDARD.encode(&bytes));
    let now = state.clock.unix_seconds();

    let claim = object(json!({
        "pk": key.pk, "sk": key.sk, "state": "running", "body_hash": body_hash,
        "expires_at": now + CLAIM_SECONDS,
    }));
    match state.table.put(claim, Some(Condition::NotExists)).await {
        Ok(()) => {}
        Err(err) if err.is_condition_failure() => return answer_repeat(&state, &key, &body_hash).await,
        Err(err) => return ApiError::from(err).into_response(),
    }

    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let storable = response.status().is_success() && !response.headers().contains_key(header::SET_COOKIE);
    if !storable {
        release(&state, &key).await;
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(err) => {
            release(&state, &key).await;
            return ApiError::Internal(format!("unreadable answer: {err}")).into_response();
        }
    };
    if body.len() > MAX_STORED_BYTES {
        // Sent but not kept: a repeat runs again (no create answers this much).
        release(&state, &key).await;
        return Response::from_parts(parts, Body::from(body));
    }
    if let Err(err) = keep(&state, &key, &body_hash, parts.status, &parts.headers, &body).await {
        // The change is made; only its replay is lost. A repeat then runs again,
        // and the services' own uniqueness rules answer it.
        tracing::warn!(error = %err, "could not keep the answer for its Idempotency-Key");
        release(&state, &key).await;
    }
    Response::from_parts(parts, Body::from(body))
}

async fn keep(
    state: &AppState,
    key: &Key,
    body_hash: &str,
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &Bytes,
) -> Result<(), String> {
    let sealed = state
        .keys
        .encrypt(body, &context(key))
        .await
        .map_err(|err| err.to_string())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let etag = headers.get(header::ETAG).and_then(|v| v.to_str().ok());
    let item = object(json!({
        "pk": key.pk, "sk": key.sk, "state": "done", "body_hash": body_hash,
        "status": status.as_u16(), "content_type": content_type, "etag": etag,
        "body": STANDARD.encode(sealed),
        "expires_at": state.clock.unix_seconds() + KEEP_SECONDS,
    }));
    state.table.put(item, None).await.map_err(|err| err.to_string())
}

async fn release(state: &AppState, key: &Key) {
    if let Err(err) = state.table.delete(key, None).await {
        tracing::warn!(error = %err, "could not release an Idempotency-Key claim; it expires by itself");
    }
}

/// The answer to a key seen before.
async fn answer_repeat(state: &AppState, key: &Key, body_hash: &str) -> Response {
    let item = match state.table.get(key).await {
        Ok(Some(item)) => item,
        // Released or expired just now: the client may simply retry.
        Ok(None) => return in_use(),
        Err(err) => return ApiError::from(err).into_response(),
    };
    if text(&item, "body_hash") != Some(body_hash) {
        return ApiError::field(
            "Idempotency-Key",
            "idempotency_key_reused",
            "This key was used with another request body; use a new key for a new request.",
        )
        .into_response();
    }
    if text(&item, "state") != Some("done") {
        return in_use();
    }
    match stored_answer(state, key, &item).await {
        Ok(response) => response,
        Err(err) => ApiError::from(err).into_response(),
    }
}

async fn stored_answer(state: &AppState, key: &Key, item: &Item) -> Result<Response, StoreError> {
    let corrupt = |what: &str| StoreError::Unavailable(format!("stored idempotent answer: {what}"));
    let sealed = STANDARD
        .decode(text(item, "body").unwrap_or_default())
        .map_err(|_| corrupt("body"))?;
    let body = state
        .keys
        .decrypt(&sealed, &context(key))
        .await
        .map_err(|err| corrupt(&err.to_string()))?;
    let status = item
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| StatusCode::from_u16(u16::try_from(s).ok()?).ok())
        .ok_or_else(|| corrupt("status"))?;
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some(value) = text(item, "content_type").and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = text(item, "etag").and_then(|v| HeaderValue::from_str(v).ok()) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    Ok(response)
}

fn in_use() -> Response {
    ApiError::Conflict {
        code: "idempotency_key_in_use",
        detail: "A request with this Idempotency-Key is still running; retry in a moment.".into(),
    }
    .into_response()
}
