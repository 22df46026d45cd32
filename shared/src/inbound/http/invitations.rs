//! Invitations: create, list and revoke (`/org/invitations`), and accept
//! (`POST /invitations/accept`, public: the token is the proof).

use crate::domain::ids::UserId;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::RequestMeta;
use super::extract::{ApiJson, ApiQuery};
use super::org::PageQuery;
use super::session::{Authenticated, CSRF_HEADER, session_cookies, session_token, with_cookies};
use crate::domain::ids::OrgId;
use crate::domain::role::Role;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::orgs::{self, Acceptance, InvitationView};
use crate::services::secrets::csrf_matches;
use crate::services::sessions;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    #[serde(default)]
    email: String,
    role: Role,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<InviteBody>,
) -> impl IntoResponse {
    let invitation = orgs::invite(&state, &auth.actor, auth.role, &body.email, body.role).await?;
    Ok::<_, ApiError>((StatusCode::CREATED, Json(invitation)))
}

/// One page of pending invitations; `cursor` asks for the next.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct InvitationsPage {
    pub invitations: Vec<InvitationView>,
    pub cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> impl IntoResponse {
    let (limit, cursor) = page.parse(100, 100)?;
    let (invitations, cursor) = orgs::list_invitations(&state, auth.role, &auth.org_id, limit, cursor).await?;
    Ok::<_, ApiError>(Json(InvitationsPage { invitations, cursor }))
}

pub async fn revoke(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(invitation_id): Path<String>,
) -> impl IntoResponse {
    orgs::revoke_invitation(&state, &auth.actor, auth.role, &invitation_id).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
}

/// The caller's session, if the request carries a live one together with its
/// CSRF token; otherwise the request counts as anonymous (a cookie alone
/// proves nothing on a state-changing request).
pub struct OptionalSession(pub Option<(UserId, String)>);

impl axum::extract::FromRequestParts<AppState> for OptionalSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = session_token(parts, &state.config) else {
            return Ok(Self(None));
        };
        let presented = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !csrf_matches(&token, presented) {
            return Ok(Self(None));
        }
        let session = sessions::resolve(state.table.as_ref(), &state.config, &token, state.clock.unix_seconds())
            .await
            .map_err(|err| ApiError::from(err).into_response())?;
        Ok(Self(session.map(|s| (s.user_id, token))))
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    #[serde(default)]
    token: String,
    name: Option<String>,
    password: Option<String>,
}

/// The member the invitation made, signed in: the session cookie comes
/// with it, and `csrf_token` is the token calls that change things carry.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AcceptedInvitation {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub csrf_token: String,
}

pub async fn accept(
    State(state): State<AppState>,
    RequestMeta(meta): RequestMeta,
    OptionalSession(session): OptionalSession,
    ApiJson(body): ApiJson<AcceptBody>,
) -> impl IntoResponse {
    let input = Acceptance {
        token: body.token,
        name: body.name,
        password: body.password,
        session,
    };
    let signed = orgs::accept_invitation(&state, input, &meta).await?;
    let body = AcceptedInvitation {
        user_id: signed.user_id,
        org_id: signed.org_id,
        csrf_token: signed.session.csrf_token.clone(),
    };
    let cookies = session_cookies(&state.config, &signed.session.token, &signed.session.csrf_token);
    Ok::<_, ApiError>(with_cookies((StatusCode::OK, Json(body)).into_response(), cookies))
}
