//! Billing: `GET /billing`, `POST /billing/checkout`, `POST /billing/portal`
//! for owners, and Stripe's webhook `POST /webhooks/stripe`. Thin: parse,
//! call `services::billing`, map.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::extract::ApiJson;
use super::session::Authenticated;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::billing::{account, webhook};

/// Where to send the owner's browser next (Stripe Checkout or the portal).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StripeUrl {
    pub url: String,
}

/// What became of a Stripe event: `applied`, `duplicate` (seen before) or
/// `ignored` (a type billing does not follow).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StripeReceipt {
    pub received: bool,
    pub outcome: StripeOutcome,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StripeOutcome {
    Applied,
    Duplicate,
    Ignored,
}

pub async fn overview(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let overview = account::overview(&state, &auth.org_id, auth.role).await?;
    Ok::<_, ApiError>(Json(overview))
}

#[derive(Deserialize, schemars::JsonSchema)]
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
    Ok::<_, ApiError>((StatusCode::CREATED, Json(StripeUrl { url })))
}

pub async fn portal(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let url = account::portal(&state, &auth.org_id, auth.role).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(StripeUrl { url })))
}

/// Stripe's deliveries. The body is taken as raw bytes: the signature is
/// over them exactly as sent, so nothing may parse and re-serialise first.
pub async fn stripe_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let signature = headers.get("stripe-signature").and_then(|value| value.to_str().ok());
    let outcome = webhook::receive(&state, signature, &body).await?;
    let outcome = match outcome {
        webhook::Outcome::Applied => StripeOutcome::Applied,
        webhook::Outcome::Duplicate => StripeOutcome::Duplicate,
        webhook::Outcome::Ignored => StripeOutcome::Ignored,
    };
    Ok::<_, ApiError>(Json(StripeReceipt {
        received: true,
        outcome,
    }))
}
