//! `GET /me` and `PATCH /me`: the signed-in user's profile.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::extract::ApiJson;
use super::session::Authenticated;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::accounts::{self, Me, ProfileChange};
use crate::services::secrets::csrf_token;

/// The signed-in user's profile, with the session's CSRF token.
#[derive(Serialize, schemars::JsonSchema)]
pub struct MeBody {
    #[serde(flatten)]
    pub me: Me,
    pub csrf_token: String,
}

async fn show(state: &AppState, auth: &Authenticated) -> Result<Json<MeBody>, ApiError> {
    let me = accounts::me(state, &auth.user_id, &auth.org_id, auth.role).await?;
    Ok(Json(MeBody {
        me,
        csrf_token: csrf_token(&auth.session_token),
    }))
}

#[derive(Deserialize, schemars::JsonSchema)]
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
