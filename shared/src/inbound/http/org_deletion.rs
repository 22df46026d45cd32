//! Deleting the organization: `GET/POST/DELETE /org/deletion` (owners).
//! Thin: parse, call `services::orgs::deletion`, map.

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
use crate::services::orgs::deletion::{self, DeletionView, Reauthentication};

/// The pending deletion (`null` when none is pending).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DeletionAnswer {
    pub deletion: Option<DeletionView>,
}

/// The pending deletion, or `{"deletion": null}`.
pub async fn status(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    auth.require(Permission::DeleteOrganization)?;
    let view = deletion::status(&state, &auth.org_id).await?;
    Ok::<_, ApiError>(Json(DeletionAnswer { deletion: view }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionRequest {
    /// The organization's name, typed to confirm.
    confirm_name: String,
    /// Required unless the session signed in within the last few minutes.
    #[serde(default)]
    password: Option<String>,
}

/// Asks for the deletion: 202 with its timeline.
pub async fn request(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<DeletionRequest>,
) -> impl IntoResponse {
    auth.require(Permission::DeleteOrganization)?;
    let view = deletion::request(
        &state,
        &auth.actor,
        auth.role,
        &body.confirm_name,
        Reauthentication {
            password: body.password,
            session_token: auth.session_token.clone(),
        },
    )
    .await?;
    Ok::<_, ApiError>((StatusCode::ACCEPTED, Json(DeletionAnswer { deletion: Some(view) })))
}

/// Cancels the deletion within its grace window: 204.
pub async fn cancel(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    auth.require(Permission::DeleteOrganization)?;
    deletion::cancel(&state, &auth.actor, auth.role).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}
