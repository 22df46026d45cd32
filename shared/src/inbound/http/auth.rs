//! Authentication routes: sign-up, login, logout, email verification and
//! password reset. Thin: parse, call `services::accounts`, map the result.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::extract::ApiJson;
use super::problem::ApiError;
use super::session::{Authenticated, actor_meta, cleared_cookies, session_cookies, with_cookies};
use crate::domain::ids::{OrgId, UserId};
use crate::inbound::AppState;
use crate::services::accounts::{self, SignedIn, SignupInput};
use crate::services::secrets::csrf_token;
use crate::services::sessions;

/// The request's id, IP and user agent (for audit entries of anonymous calls).
pub struct RequestMeta(pub crate::services::audit::Actor);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta(actor_meta(parts)))
    }
}

/// What sign-up and login answer, beside the session cookies.
#[derive(Serialize, schemars::JsonSchema)]
pub struct SessionStarted {
    pub user_id: UserId,
    pub org_id: OrgId,
    /// The new session's CSRF token, for the `X-CSRF-Token` header.
    pub csrf_token: String,
}

/// The current session's CSRF token.
#[derive(Serialize, schemars::JsonSchema)]
pub struct CsrfToken {
    pub csrf_token: String,
}

fn signed_in(state: &AppState, status: StatusCode, signed: SignedIn) -> Response {
    let body = SessionStarted {
        user_id: signed.user_id,
        org_id: signed.org_id,
        csrf_token: signed.session.csrf_token.clone(),
    };
    let cookies = session_cookies(&state.config, &signed.session.token, &signed.session.csrf_token);
    with_cookies((status, Json(body)).into_response(), cookies)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SignupBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    business_name: String,
    website: Option<String>,
    industry: Option<String>,
}

pub async fn signup(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    ApiJson(body): ApiJson<SignupBody>,
) -> impl IntoResponse {
    let input = SignupInput {
        name: body.name,
        email: body.email,
        password: body.password,
        business_name: body.business_name,
        website: body.website,
        industry: body.industry,
    };
    let signed = accounts::signup(&state, input, &meta).await.map_err(ApiError::from)?;
    Ok::<_, ApiError>(signed_in(&state, StatusCode::CREATED, signed))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct LoginBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    ApiJson(body): ApiJson<LoginBody>,
) -> impl IntoResponse {
    let signed = accounts::login(&state, &body.email, body.password, &meta)
        .await
        .map_err(ApiError::from)?;
    Ok::<_, ApiError>(signed_in(&state, StatusCode::OK, signed))
}

pub async fn logout(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    sessions::logout(
        state.table.as_ref(),
        &auth.session_token,
        &auth.actor,
        state.clock.now(),
    )
    .await?;
    Ok::<_, ApiError>(with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        cleared_cookies(&state.config),
    ))
}

pub async fn logout_all(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    sessions::revoke_all_recorded(
        state.table.as_ref(),
        &auth.user_id,
        None,
        sessions::Revocation::LogoutAll,
        &auth.actor,
        state.clock.now(),
    )
    .await?;
    Ok::<_, ApiError>(with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        cleared_cookies(&state.config),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TokenBody {
    #[serde(default)]
    token: String,
}

pub async fn verify_email(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    ApiJson(body): ApiJson<TokenBody>,
) -> impl IntoResponse {
    accounts::verify_email(&state, &body.token, &meta)
        .await
        .map_err(ApiError::from)?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

pub async fn resend_verification(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    accounts::resend_verification(&state, &auth.user_id)
        .await
        .map_err(ApiError::from)?;
    Ok::<_, ApiError>(StatusCode::ACCEPTED)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ForgotBody {
    #[serde(default)]
    email: String,
}

pub async fn forgot_password(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    ApiJson(body): ApiJson<ForgotBody>,
) -> impl IntoResponse {
    accounts::forgot_password(&state, &body.email, &meta)
        .await
        .map_err(ApiError::from)?;
    Ok::<_, ApiError>(StatusCode::ACCEPTED)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ResetBody {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

pub async fn reset_password(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    ApiJson(body): ApiJson<ResetBody>,
) -> impl IntoResponse {
    accounts::reset_password(&state, &body.token, body.password, &meta)
        .await
        .map_err(ApiError::from)?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

/// The CSRF token of the current session, for clients that lost it.
pub async fn csrf(auth: Authenticated) -> impl IntoResponse {
    Json(CsrfToken {
        csrf_token: csrf_token(&auth.session_token),
    })
}
