//! The rate-limit layer of the routes anyone may call: each route's
//! catalogue entry declares its budgets (`services::rate_limit::Throttle`);
//! this layer reads the caller's IP and the request's target, takes a token
//! from each bucket before the handler runs and answers 429 with
//! `Retry-After` once one is spent. On the routes that take a secret it
//! also refuses callers whose failed attempts this hour are spent, and
//! counts each new failure.
//!
//! A refusal is remembered in the process until its window ends
//! ([`Refusals`]): a client that goes on sending is answered 429 without
//! touching the store, so a flood on one IP or target cannot turn its
//! bucket into a hot key (each process writes a spent bucket at most once
//! past its budget).
//!
//! A limit never turns a request into a server error: when the store cannot
//! count (unreachable, or throttling a bucket under a flood), the request
//! goes on to its handler, which answers as it would without the limit; the
//! lapse is logged.

use axum::RequestPartsExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;

use super::middleware::ClientInfo;
use super::problem::ApiError;
use crate::config::MAX_BODY_BYTES;
use crate::inbound::AppState;
use crate::ports::Key;
use crate::services::rate_limit::{self, Caller, Target, Throttle, Verdict};

/// What a route that anyone may call declares about its budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    /// Budgets this layer applies.
    Layer(Throttle),
    /// Budgets the route's own use case applies (it needs what the handler
    /// reads first, e.g. the form behind a public id), with the reason.
    InService(&'static str),
    /// Not limited, with the reason (e.g. it exists only in developer mode).
    Exempt(&'static str),
}

/// Buckets known to be spent, with the second each opens again: one map
/// per router (per Lambda container, per local server).
#[derive(Debug, Default)]
pub struct Refusals {
    spent: Mutex<HashMap<Key, i64>>,
}

/// Enough for a flood from many addresses; past it, expired entries go,
/// and if none has, the map starts over (the store still counts).
const MAX_REMEMBERED: usize = 50_000;

impl Refusals {
    /// Seconds until the first spent bucket of `keys` opens, if one is spent.
    fn spent(&self, keys: &[Key], now: i64) -> Option<u64> {
        let spent = self.spent.lock().ok()?;
        keys.iter()
            .filter_map(|key| spent.get(key))
            .filter(|until| **until > now)
            .map(|until| u64::try_from(until - now).unwrap_or(1).max(1))
            .max()
    }

    fn remember(&self, bucket: Key, until: i64, now: i64) {
        let Ok(mut spent) = self.spent.lock() else { return };
        if spent.len() >= MAX_REMEMBERED {
            spent.retain(|_, open| *open > now);
            if spent.len() >= MAX_REMEMBERED {
                spent.clear();
            }
        }
        spent.insert(bucket, until);
    }
}

/// The middleware: `throttle` is the route's declaration.
pub async fn limit(
    State(state): State<AppState>,
    refusals: Arc<Refusals>,
    throttle: Throttle,
    request: Request,
    next: Next,
) -> Response {
    let ip = request
        .extensions()
        .get::<ClientInfo>()
        .and_then(|client| client.ip.clone());
    let (request, target) = match target_of(throttle.target, request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let caller = Caller::new(ip.as_deref(), target.as_deref());
    let table = state.table.as_ref();
    let now = state.clock.now().as_second();
    if let Some(wait) = refusals.spent(&rate_limit::buckets(&throttle, &caller, now), now) {
        return refused(wait);
    }

    if let Some(failures) = &throttle.failures {
        match rate_limit::failures_spent(table, &throttle, failures, &caller, now).await {
            Ok(Verdict::Refused {
                retry_after_seconds,
                bucket,
            }) => return refuse(&refusals, bucket, retry_after_seconds, now),
            Ok(Verdict::Allowed) => {}
            Err(error) => {
                tracing::warn!(family = throttle.family, %error, "failure budget not read; request let through")
            }
        }
    }
    match rate_limit::take(table, &throttle, &caller, now).await {
        Ok(Verdict::Refused {
            retry_after_seconds,
            bucket,
        }) => return refuse(&refusals, bucket, retry_after_seconds, now),
        Ok(Verdict::Allowed) => {}
        Err(error) => {
            tracing::warn!(family = throttle.family, %error, "request budget not counted; request let through")
        }
    }

    let response = next.run(request).await;
    if throttle.failures.is_some()
        && is_failure(response.status())
        && let Err(error) = rate_limit::record_failure(table, &throttle, &caller, now).await
    {
        tracing::warn!(family = throttle.family, %error, "failure not counted");
    }
    response
}

/// A refused secret: malformed, wrong, unknown, forbidden or expired. A
/// taken slot (409) or a refused choice (422) is the visitor's own booking or
/// reset going wrong, not a guess, so it must not lock them out of the link
/// for the hour; a refusal by the limit itself is not counted again.
fn is_failure(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::BAD_REQUEST
            | StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::GONE
    )
}

fn refuse(refusals: &Refusals, bucket: Key, retry_after_seconds: u64, now: i64) -> Response {
    let until = now.saturating_add(i64::try_from(retry_after_seconds).unwrap_or(i64::MAX));
    refusals.remember(bucket, until, now);
    refused(retry_after_seconds)
}

fn refused(retry_after_seconds: u64) -> Response {
    ApiError::RateLimited { retry_after_seconds }.into_response()
}

/// The request's target as its route declares it, and the request to hand
/// on (its body read and put back when the target is in the body).
async fn target_of(target: Target, request: Request) -> Result<(Request, Option<String>), Response> {
    match target {
        Target::None => Ok((request, None)),
        Target::Path(names) => {
            let (mut parts, body) = request.into_parts();
            let value = match parts.extract::<RawPathParams>().await {
                Ok(params) => {
                    let values: Vec<&str> = names
                        .iter()
                        .filter_map(|name| params.iter().find(|(key, _)| key == name).map(|(_, value)| value))
                        .collect();
                    (values.len() == names.len()).then(|| values.join("/"))
                }
                Err(_) => None,
            };
            Ok((Request::from_parts(parts, body), value))
        }
        Target::Query(name) => {
            let value = request.uri().query().and_then(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.into_owned())
            });
            Ok((request, value))
        }
        Target::Body(name) => {
            let content_type = request
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let (parts, body) = request.into_parts();
            // The body limit layer outside has bounded it already; an
            // unreadable body is the client's to fix, as the handler would say.
            let bytes = to_bytes(body, MAX_BODY_BYTES)
                .await
                .map_err(|_| ApiError::PayloadTooLarge.into_response())?;
            let value = body_field(&content_type, &bytes, name).map(|v| v.trim().to_lowercase());
            Ok((Request::from_parts(parts, Body::from(bytes)), value))
        }
    }
}

/// A string field of a JSON object or a form-encoded body.
fn body_field(content_type: &str, bytes: &[u8], name: &str) -> Option<String> {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return form_urlencoded::parse(bytes)
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned());
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    value.get(name)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_read_from_json_and_from_a_form() {
        assert_eq!(
            body_field("application/json", br#"{"email":"A@x.io"}"#, "email").as_deref(),
            Some("A@x.io")
        );
        assert_eq!(
            body_field("application/x-www-form-urlencoded", b"token=t%2B1&x=2", "token").as_deref(),
            Some("t+1")
        );
        assert_eq!(body_field("application/json", b"not json", "email"), None);
        assert_eq!(body_field("application/json", br#"{"email":5}"#, "email"), None);
    }

    #[test]
    fn only_a_refused_secret_counts_as_a_failed_attempt() {
        assert!(is_failure(StatusCode::NOT_FOUND));
        assert!(is_failure(StatusCode::BAD_REQUEST));
        assert!(is_failure(StatusCode::UNAUTHORIZED));
        // A taken slot or a refused choice is not a guess.
        assert!(!is_failure(StatusCode::CONFLICT));
        assert!(!is_failure(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(!is_failure(StatusCode::TOO_MANY_REQUESTS));
        assert!(!is_failure(StatusCode::OK));
        assert!(!is_failure(StatusCode::INTERNAL_SERVER_ERROR));
    }
}
