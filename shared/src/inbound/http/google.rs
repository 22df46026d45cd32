//! The member's Google connection: `GET /integrations/google`,
//! `POST /integrations/google/connect` and `DELETE /integrations/google`.
//! Thin: parse, call `services::google`, map. The browser's return from
//! Google's consent page is a page (`web::integrations::callback`).

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::ApiJson;
use super::session::Authenticated;
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::google::{self, contacts};
use crate::services::imports::DedupeMode;

/// The member's own connection: only ever their own, so another member's
/// (or organization's) cannot be named.
pub async fn status(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let view = google::status(&state, &auth.org_id, &auth.user_id).await?;
    Ok::<_, ApiError>(Json(view))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    features: Vec<String>,
}

/// Google's consent page, where the member's browser goes next.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConsentUrl {
    pub url: String,
}

pub async fn connect(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<ConnectBody>,
) -> impl IntoResponse {
    let features = google::parse_features(&body.features)?;
    let url = google::start_connect(&state, &auth.org_id, &auth.user_id, &features).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(ConsentUrl { url })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsImportBody {
    #[serde(default)]
    mode: Option<DedupeMode>,
}

/// `POST /integrations/google/contacts/import`: starts the one-time import
/// of the member's own Google contacts (JSON; `mode`: `skip`, the default, or
/// `update` for contacts that exist). Answers the import, whose progress is
/// at `GET /imports/{id}`.
pub async fn import_contacts(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<ContactsImportBody>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let record = contacts::start_import(&state, &auth.actor, &auth.user_id, body.mode.unwrap_or_default()).await?;
    Ok::<_, ApiError>((StatusCode::ACCEPTED, Json(super::imports::view(&record))))
}

/// The connection is gone; `revoked` says whether Google also confirmed
/// revoking the grant (it may have been revoked already).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Disconnection {
    pub disconnected: bool,
    pub revoked: bool,
}

pub async fn disconnect(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let outcome = google::disconnect(&state, &auth.actor, &auth.user_id).await?;
    Ok::<_, ApiError>(Json(Disconnection {
        disconnected: true,
        revoked: outcome.revoked,
    }))
}
