//! Authentication routes: sign-up, login, logout, email verification and
//! password reset. Thin: parse, call `services::accounts`, map the result.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiJson;
use super::problem::ApiError;
use super::session::{Authenticated, actor_meta, cleared_cookies, session_cookies, with_cookies};
use crate::app::AppState;
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

fn signed_in(state: &AppState, status: StatusCode, signed: SignedIn) -> Response {
    let body = json!({"user_id": signed.user_id, "org_id": signed.org_id, "csrf_token": signed.session.csrf_token});
    let cookies = session_cookies(&state.config, &signed.session.token, &signed.session.csrf_token);
    with_cookies((status, Json(body)).into_response(), cookies)
}

#[derive(Deserialize)]
struct SignupBody {
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

pub fn signup() -> MethodRouter<AppState> {
    post(
        |State(state): State<AppState>, RequestMeta(meta): RequestMeta, ApiJson(body): ApiJson<SignupBody>| async move {
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
        },
    )
}

#[derive(Deserialize)]
struct LoginBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub fn login() -> MethodRouter<AppState> {
    post(
        |State(state): State<AppState>, RequestMeta(meta): RequestMeta, ApiJson(body): ApiJson<LoginBody>| async move {
            let signed = accounts::login(&state, &body.email, body.password, &meta)
                .await
                .map_err(ApiError::from)?;
            Ok::<_, ApiError>(signed_in(&state, StatusCode::OK, signed))
        },
    )
}

pub fn logout() -> MethodRouter<AppState> {
    post(|State(state): State<AppState>, auth: Authenticated| async move {
        sessions::delete(state.table.as_ref(), &auth.session_token).await?;
        Ok::<_, ApiError>(with_cookies(
            StatusCode::NO_CONTENT.into_response(),
            cleared_cookies(&state.config),
        ))
    })
}

pub fn logout_all() -> MethodRouter<AppState> {
    post(|State(state): State<AppState>, auth: Authenticated| async move {
        sessions::revoke_all(state.table.as_ref(), &auth.user_id, None).await?;
        Ok::<_, ApiError>(with_cookies(
            StatusCode::NO_CONTENT.into_response(),
            cleared_cookies(&state.config),
        ))
    })
}

#[derive(Deserialize)]
struct TokenBody {
    #[serde(default)]
    token: String,
}

pub fn verify_email() -> MethodRouter<AppState> {
    post(
        |State(state): State<AppState>, RequestMeta(meta): RequestMeta, ApiJson(body): ApiJson<TokenBody>| async move {
            accounts::verify_email(&state, &body.token, &meta)
                .await
                .map_err(ApiError::from)?;
            Ok::<_, ApiError>(StatusCode::NO_CONTENT)
        },
    )
}

pub fn resend_verification() -> MethodRouter<AppState> {
    post(|State(state): State<AppState>, auth: Authenticated| async move {
        accounts::resend_verification(&state, &auth.user_id)
            .await
            .map_err(ApiError::from)?;
        Ok::<_, ApiError>(StatusCode::ACCEPTED)
    })
}

#[derive(Deserialize)]
struct ForgotBody {
    #[serde(default)]
    email: String,
}

pub fn forgot_password() -> MethodRouter<AppState> {
    post(
        |State(state): State<AppState>, RequestMeta(meta): RequestMeta, ApiJson(body): ApiJson<ForgotBody>| async move {
            accounts::forgot_password(&state, &body.email, &meta)
                .await
                .map_err(ApiError::from)?;
            Ok::<_, ApiError>(StatusCode::ACCEPTED)
        },
    )
}

#[derive(Deserialize)]
struct ResetBody {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
}

pub fn reset_password() -> MethodRouter<AppState> {
    post(
        |State(state): State<AppState>, RequestMeta(meta): RequestMeta, ApiJson(body): ApiJson<ResetBody>| async move {
            accounts::reset_password(&state, &body.token, body.password, &meta)
                .await
                .map_err(ApiError::from)?;
            Ok::<_, ApiError>(StatusCode::NO_CONTENT)
        },
    )
}

/// The CSRF token of the current session, for clients that lost it.
pub fn csrf() -> MethodRouter<AppState> {
    get(|auth: Authenticated| async move { Json(json!({"csrf_token": csrf_token(&auth.session_token)})) })
}
