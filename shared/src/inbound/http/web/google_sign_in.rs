//! Sign in with Google in the browser: `GET /sign-in/google` starts it (a
//! redirect to Google), `GET /sign-in/google/callback` finishes it (into
//! the app, or to the one question a new account needs: the business's
//! name), and `POST /sign-in/google/finish` creates that account.
//!
//! The state is bound to the browser that started the sign-in by the CSRF
//! cookie (set here when the browser has none yet), so a sign-in link made
//! in another browser cannot sign this one in to someone else's account.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::{Chrome, FieldErrors, PageError, PageResult, PublicForm, SIGN_IN, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::session::{actor_meta, csrf_cookie, pre_session_csrf_cookie, session_cookies, with_cookies};
use crate::services::accounts::SignedIn;
use crate::services::accounts::google_sign_in::{self, GoogleSignIn, GoogleSignInError, SignInCallback};
use crate::services::secrets::new_token;

#[derive(Template)]
#[template(path = "staff/google_sign_up.html")]
struct SignUpPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    token: String,
    person_name: String,
    business_name: String,
    email: String,
}

fn signed_in(state: &AppState, signed: &SignedIn, to: &str) -> Response {
    let cookies = session_cookies(&state.config, &signed.session.token, &signed.session.csrf_token);
    with_cookies(see_other(to), cookies)
}

/// `GET /sign-in/google`: on to Google's sign-in page.
pub async fn start(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    let (binding, fresh) = match csrf_cookie(&headers, &state.config) {
        Some(binding) => (binding, false),
        None => (new_token(), true),
    };
    let url = google_sign_in::start_google_sign_in(&state, &binding)
        .await
        .map_err(ApiError::from)?;
    let response = see_other(&url);
    Ok(
        match fresh
            .then(|| pre_session_csrf_cookie(&state.config, &binding))
            .flatten()
        {
            Some(cookie) => with_cookies(response, vec![cookie]),
            None => response,
        },
    )
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct CallbackQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /sign-in/google/callback`: Google sends the browser back here.
pub async fn callback(
    State(state): State<AppState>,
    request: http::request::Parts,
    Query(query): Query<CallbackQuery>,
) -> PageResult {
    let binding = csrf_cookie(&request.headers, &state.config).unwrap_or_default();
    let callback = SignInCallback {
        state: query.state,
        code: query.code,
        error: query.error,
    };
    let meta = actor_meta(&request);
    match google_sign_in::finish_google_sign_in(&state, &binding, callback, &meta).await {
        Ok(GoogleSignIn::SignedIn(signed)) => Ok(signed_in(&state, &signed, "/app")),
        Ok(GoogleSignIn::NewAccount { token, name, email }) => Ok(render(
            StatusCode::OK,
            &SignUpPage {
                title: "Create your account",
                chrome: None,
                notice: None,
                errors: FieldErrors::default(),
                token,
                person_name: name,
                business_name: String::new(),
                email,
            },
        )),
        Err(GoogleSignInError::Declined) => Ok(see_other(&format!("{SIGN_IN}?notice=google-declined-sign-in"))),
        Err(err) => Err(PageError(err.into())),
    }
}

/// `POST /sign-in/google/finish`: the business's name for a new account
/// made from a verified Google identity.
pub async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    PublicForm { meta, form }: PublicForm,
) -> PageResult {
    let binding = csrf_cookie(&headers, &state.config).unwrap_or_default();
    let token = form.text("token");
    let name = form.text("name");
    let business_name = form.text("business_name");
    match google_sign_in::finish_google_sign_up(&state, &binding, &token, &name, &business_name, &meta).await {
        Ok(signed) => Ok(signed_in(&state, &signed, "/app?notice=welcome")),
        Err(GoogleSignInError::Account(err)) => {
            let err = ApiError::from(err);
            if !matches!(err, ApiError::Validation(_)) {
                return Err(PageError(err));
            }
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            Ok(render(
                status,
                &SignUpPage {
                    title: "Create your account",
                    chrome: None,
                    notice: None,
                    errors: FieldErrors::from_api(&err, |field| field),
                    token,
                    person_name: name,
                    business_name,
                    email: String::new(),
                },
            ))
        }
        Err(err) => Err(PageError(err.into())),
    }
}
