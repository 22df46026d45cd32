//! Session cookies, the CSRF check and the `Authenticated` extractor every
//! session route takes. A route that takes `Authenticated` cannot run for a
//! caller without a live session and membership, nor for a cookie-carrying
//! write without the session's CSRF token.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use http::request::Parts;
use http::{HeaderValue, Method};

use super::middleware::{ClientInfo, RequestId};
use crate::config::AppConfig;
use crate::domain::role::{Permission, Role};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::audit::Actor;
use crate::services::records::{MemberRecord, from_item, member_key};
use crate::services::secrets::csrf_matches;
use crate::services::sessions;

pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn session_cookie_name(config: &AppConfig) -> &'static str {
    if config.insecure_cookies {
        "konnecs_session"
    } else {
        "__Host-konnecs_session"
    }
}

pub fn csrf_cookie_name(config: &AppConfig) -> &'static str {
    if config.insecure_cookies {
        "konnecs_csrf"
    } else {
        "__Host-konnecs_csrf"
    }
}

/// `Set-Cookie` values for a new session: the HttpOnly session cookie and a
/// script-readable CSRF cookie (the token is also in the response body).
pub fn session_cookies(config: &AppConfig, token: &str, csrf: &str) -> Vec<HeaderValue> {
    let secure = !config.insecure_cookies;
    let session = Cookie::build((session_cookie_name(config), token.to_string()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(config.session_absolute_seconds))
        .build();
    let csrf = Cookie::build((csrf_cookie_name(config), csrf.to_string()))
        .path("/")
        .http_only(false)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(config.session_absolute_seconds))
        .build();
    [session, csrf]
        .iter()
        .filter_map(|c| HeaderValue::from_str(&c.to_string()).ok())
        .collect()
}

/// `Set-Cookie` values that remove both cookies.
pub fn cleared_cookies(config: &AppConfig) -> Vec<HeaderValue> {
    let secure = !config.insecure_cookies;
    [session_cookie_name(config), csrf_cookie_name(config)]
        .into_iter()
        .map(|name| {
            Cookie::build((name, ""))
                .path("/")
                .secure(secure)
                .http_only(true)
                .same_site(SameSite::Lax)
                .max_age(cookie::time::Duration::ZERO)
                .build()
        })
        .filter_map(|c| HeaderValue::from_str(&c.to_string()).ok())
        .collect()
}

/// Adds `Set-Cookie` headers to a response.
pub fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for value in cookies {
        response.headers_mut().append(http::header::SET_COOKIE, value);
    }
    response
}

/// The session token from the request's cookies, if any.
pub fn session_token(parts: &Parts, config: &AppConfig) -> Option<String> {
    let name = session_cookie_name(config);
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| Cookie::split_parse(header.to_string()))
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
}

/// The CSRF cookie's value, if the browser has one. Before a session it
/// binds a Google sign-in to the browser that started it (login CSRF), so
/// no cookie beyond the session's two is needed.
pub fn csrf_cookie(headers: &http::HeaderMap, config: &AppConfig) -> Option<String> {
    let name = csrf_cookie_name(config);
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| Cookie::split_parse(header.to_string()))
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` of a CSRF cookie before any session: the browser's
/// binding for a Google sign-in, kept half an hour (replaced by the
/// session's own when one starts).
pub fn pre_session_csrf_cookie(config: &AppConfig, value: &str) -> Option<HeaderValue> {
    let cookie = Cookie::build((csrf_cookie_name(config), value.to_string()))
        .path("/")
        .http_only(false)
        .secure(!config.insecure_cookies)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::minutes(30))
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// Request id, IP and user agent, as the audit log records them.
pub fn actor_meta(parts: &Parts) -> Actor {
    let client = parts.extensions.get::<ClientInfo>().cloned().unwrap_or(ClientInfo {
        ip: None,
        user_agent: None,
    });
    Actor {
        org_id: OrgId::from(String::new()),
        user_id: None,
        request_id: parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        ip: client.ip,
        user_agent: client.user_agent,
    }
}

/// A signed-in member acting in their current organization.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    /// The cookie token (never logged): needed to keep this session when
    /// revoking the others.
    pub session_token: String,
    /// Who acts, for audit entries.
    pub actor: Actor,
}

impl Authenticated {
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "insufficient_role",
            })
        }
    }
}

/// What an owner of an organization being deleted may still reach: the
/// deletion itself (to cancel it) and signing out.
pub const CLOSING_OWNER_PATHS: [&str; 3] = ["/org/deletion", "/app/settings/deletion", "/auth/logout"];

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = session_token(parts, &state.config).ok_or_else(|| ApiError::Unauthenticated.into_response())?;
        let now = state.clock.unix_seconds();
        let session = sessions::resolve(state.table.as_ref(), &state.config, &token, now)
            .await
            .map_err(|err| ApiError::from(err).into_response())?
            .ok_or_else(|| ApiError::Unauthenticated.into_response())?;
        if is_state_changing(&parts.method) {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !csrf_matches(&token, presented) {
                return Err(ApiError::Forbidden {
                    code: "csrf_token_invalid",
                }
                .into_response());
            }
        }
        // Membership is read every time so role changes and removals apply at once.
        let member: MemberRecord = match state.table.get(&member_key(&session.org_id, &session.user_id)).await {
            Ok(Some(item)) => from_item(item).map_err(|err| ApiError::from(err).into_response())?,
            Ok(None) => return Err(ApiError::Unauthenticated.into_response()),
            Err(err) => return Err(ApiError::from(err).into_response()),
        };
        if member.closing && !(member.role == Role::Owner && CLOSING_OWNER_PATHS.contains(&parts.uri.path())) {
            // The organization is being deleted: only its owners may still
            // come in, and only to see the deletion or cancel it.
            return Err(if member.role == Role::Owner {
                ApiError::Forbidden { code: "org_closing" }.into_response()
            } else {
                ApiError::Unauthenticated.into_response()
            });
        }
        let actor = Actor {
            org_id: session.org_id.clone(),
            user_id: Some(session.user_id.clone()),
            ..actor_meta(parts)
        };
        tracing::Span::current().record("org_id", session.org_id.as_str());
        Ok(Self {
            user_id: session.user_id,
            org_id: session.org_id,
            role: member.role,
            session_token: token,
            actor,
        })
    }
}
