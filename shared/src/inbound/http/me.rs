//! `GET /me` and `PATCH /me`: the signed-in user's profile.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiJson;
use super::session::Authenticated;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::accounts::{self, ProfileChange};
use crate::services::secrets::csrf_token;

async fn show(state: &AppState, auth: &Authenticated) -> Result<Json<serde_json::Value>, ApiError> {
    let me = accounts::me(state, &auth.user_id, &auth.org_id, auth.role).await?;
    let mut body = serde_json::to_value(me).map_err(|err| ApiError::Internal(err.to_string()))?;
    body["csrf_token"] = json!(csrf_token(&auth.session_token));
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchMe {
    name: Option<String>,
    email: Option<String>,
    current_password: Option<String>,
    new_password: Option<String>,
    time_zone: Option<String>,
}

pub async fn get_me(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    show(&state, &auth).await
}

pub async fn patch_me(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<PatchMe>,
) -> impl IntoResponse {
    let change = ProfileChange {
        name: body.name,
        email: body.email,
        current_password: body.current_password,
        new_password: body.new_password,
        time_zone: body.time_zone,
    };
    accounts::update_profile(&state, &auth.user_id, &auth.session_token, change, &auth.actor).await?;
    show(&state, &auth).await
}
