//! The member's Google connection: `GET /integrations/google`,
//! `POST /integrations/google/connect` and `DELETE /integrations/google`.
//! Thin: parse, call `services::google`, map. The browser's return from
//! Google's consent page is a page (`web::integrations::callback`).

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiJson;
use super::session::Authenticated;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::google;

/// The member's own connection: only ever their own, so another member's
/// (or organization's) cannot be named.
pub async fn status(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let view = google::status(&state, &auth.org_id, &auth.user_id).await?;
    Ok::<_, ApiError>(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    features: Vec<String>,
}

pub async fn connect(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<ConnectBody>,
) -> impl IntoResponse {
    let features = google::parse_features(&body.features)?;
    let url = google::start_connect(&state, &auth.org_id, &auth.user_id, &features).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(json!({ "url": url }))))
}

pub async fn disconnect(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let outcome = google::disconnect(&state, &auth.actor, &auth.user_id).await?;
    Ok::<_, ApiError>(Json(json!({ "disconnected": true, "revoked": outcome.revoked })))
}
