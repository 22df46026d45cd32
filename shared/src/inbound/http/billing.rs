//! Billing: `GET /billing`, `POST /billing/checkout`, `POST /billing/portal`
//! for owners, and Stripe's webhook `POST /webhooks/stripe`. Thin: parse,
//! call `services::billing`, map.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiJson;
use super::session::Authenticated;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::billing::{account, webhook};

pub async fn overview(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let overview = account::overview(&state, &auth.org_id, auth.role).await?;
    Ok::<_, ApiError>(Json(overview))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutBody {
    plan: String,
}

pub async fn checkout(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<CheckoutBody>,
) -> impl IntoResponse {
    let url = account::checkout(&state, &auth.org_id, auth.role, &auth.user_id, &body.plan).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(json!({ "url": url }))))
}

pub async fn portal(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let url = account::portal(&state, &auth.org_id, auth.role).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(json!({ "url": url }))))
}

/// Stripe's deliveries. The body is taken as raw bytes: the signature is
/// over them exactly as sent, so nothing may parse and re-serialise first.
pub async fn stripe_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let signature = headers.get("stripe-signature").and_then(|value| value.to_str().ok());
    let outcome = webhook::receive(&state, signature, &body).await?;
    let outcome = match outcome {
        webhook::Outcome::Applied => "applied",
        webhook::Outcome::Duplicate => "duplicate",
        webhook::Outcome::Ignored => "ignored",
    };
    Ok::<_, ApiError>(Json(json!({ "received": true, "outcome": outcome })))
}
