//! Public booking routes (no session, no CSRF: nothing here acts with a
//! cookie's authority). The event info, its slots, booking, and the
//! invitee's manage link (`/booking/{uid}?token=`): view, cancel, reschedule.

use crate::domain::ids::BookingId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Deserialize;

use super::auth::RequestMeta;
use super::extract::{ApiJson, query};
use super::scheduling::optional_body;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::scheduling::bookings::{self, BookingRequest, Manager, SlotsQuery};

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|err| ApiError::Internal(err.to_string()))
}

pub async fn event(
    State(state): State<AppState>,
    Path((org_slug, event_slug)): Path<(String, String)>,
) -> impl IntoResponse {
    let info = bookings::public_event(&state, &org_slug, &event_slug).await?;
    Ok::<_, ApiError>(Json(to_json(&info)?))
}

pub async fn slots(
    State(state): State<AppState>,
    Path((org_slug, event_slug)): Path<(String, String)>,
    q: Result<Query<SlotsQuery>, QueryRejection>,
) -> impl IntoResponse {
    let q = query(q)?;
    let slots = bookings::slots(&state, &org_slug, &event_slug, q).await?;
    Ok::<_, ApiError>(Json(to_json(&slots)?))
}

pub async fn book(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    Path((org_slug, event_slug)): Path<(String, String)>,
    ApiJson(body): ApiJson<BookingRequest>,
) -> impl IntoResponse {
    let booked = bookings::book(&state, &org_slug, &event_slug, body, &meta).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(to_json(&booked)?)).into_response())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ManageTokenQuery")]
pub struct TokenQuery {
    /// The manage-link token (the body's `token` wins when both are sent).
    #[serde(default)]
    token: Option<String>,
}

/// An optional body (absent or empty: the token comes from the query).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "InviteeCancelBody")]
pub struct CancelBody {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "InviteeRescheduleBody")]
pub struct RescheduleBody {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    start: String,
}

/// The token from the body, else the query; missing is a 404 like a wrong one.
fn token(body: Option<String>, query: TokenQuery) -> String {
    body.or(query.token).unwrap_or_default()
}

pub async fn show(
    State(state): State<AppState>,
    Path(uid): Path<BookingId>,
    q: Result<Query<TokenQuery>, QueryRejection>,
) -> impl IntoResponse {
    let q = query(q)?;
    let view = bookings::get_by_token(&state, &uid, &token(None, q)).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}

pub async fn cancel(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    Path(uid): Path<BookingId>,
    q: Result<Query<TokenQuery>, QueryRejection>,
    body: Bytes,
) -> impl IntoResponse {
    let q = query(q)?;
    let body: CancelBody = optional_body(&body)?;
    let token = token(body.token, q);
    let org_id = bookings::org_of_token(state.table.as_ref(), &uid, &token).await?;
    let view = bookings::cancel(&state, &org_id, &uid, body.reason, Manager::Invitee { meta: &meta }).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}

pub async fn reschedule(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    Path(uid): Path<BookingId>,
    q: Result<Query<TokenQuery>, QueryRejection>,
    body: Bytes,
) -> impl IntoResponse {
    let q = query(q)?;
    let body: RescheduleBody = optional_body(&body)?;
    let token = token(body.token, q);
    let org_id = bookings::org_of_token(state.table.as_ref(), &uid, &token).await?;
    let view = bookings::reschedule(&state, &org_id, &uid, &body.start, Manager::Invitee { meta: &meta }).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}
