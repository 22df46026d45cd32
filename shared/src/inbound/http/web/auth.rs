//! Signing up, in and out in the browser: plain forms posted and
//! redirected (no script needed), calling the same account services as
//! `/auth/*`. A rejected form comes back with its field errors beside the
//! fields, at the API's status.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;

use super::{
    Chrome, FieldErrors, FormData, PageResult, PublicForm, SIGN_IN, StaffForm, notice_text, render, safe_next,
    see_other,
};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::session::{Authenticated, cleared_cookies, session_cookies, with_cookies};
use crate::services::accounts::{self, SignedIn, SignupInput};
use crate::services::sessions;

/// `GET /`: the app for a signed-in member, the sign-in page for anyone else.
pub async fn root(session: Result<Authenticated, Response>) -> Response {
    match session {
        Ok(_) => see_other("/app"),
        Err(_) => see_other(SIGN_IN),
    }
}

#[derive(Template)]
#[template(path = "staff/sign_in.html")]
struct SignInPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    email: String,
    next: String,
    /// Whether "Sign in with Google" is offered (a Google client is configured).
    google: bool,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct SignInQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

fn sign_in_page(
    state: &AppState,
    status: StatusCode,
    errors: FieldErrors,
    email: String,
    next: String,
    notice: Option<&'static str>,
) -> Response {
    render(
        status,
        &SignInPage {
            title: "Sign in",
            chrome: None,
            notice,
            errors,
            email,
            next,
            google: state.google.is_some(),
        },
    )
}

pub async fn sign_in_form(State(state): State<AppState>, Query(query): Query<SignInQuery>) -> Response {
    let next = query.next.filter(|n| safe_next(n)).unwrap_or_default();
    sign_in_page(
        &state,
        StatusCode::OK,
        FieldErrors::default(),
        String::new(),
        next,
        notice_text(query.notice.as_deref()),
    )
}

/// The session cookies of a new session, and a redirect into the app.
fn signed_in(state: &AppState, signed: &SignedIn, to: &str) -> Response {
    let cookies = session_cookies(&state.config, &signed.session.token, &signed.session.csrf_token);
    with_cookies(see_other(to), cookies)
}

pub async fn sign_in(State(state): State<AppState>, PublicForm { meta, form }: PublicForm) -> Response {
    let email = form.text("email");
    let next = form
        .optional("next")
        .filter(|n| safe_next(n))
        .unwrap_or_else(|| "/app".into());
    match accounts::login(&state, &email, form.text("password"), &meta).await {
        Ok(signed) => signed_in(&state, &signed, &next),
        Err(err) => {
            let err = ApiError::from(err);
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = sign_in_page(
                &state,
                status,
                FieldErrors::from_api(&err, |field| field),
                email,
                next,
                None,
            );
            if let Some(retry) = err.into_response().headers().get(http::header::RETRY_AFTER).cloned() {
                response.headers_mut().insert(http::header::RETRY_AFTER, retry);
            }
            response
        }
    }
}

#[derive(Template)]
#[template(path = "staff/sign_up.html")]
struct SignUpPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
}

pub async fn sign_up_form() -> Response {
    render(
        StatusCode::OK,
        &SignUpPage {
            title: "Create your account",
            chrome: None,
            notice: None,
            errors: FieldErrors::default(),
            form: FormData::default(),
        },
    )
}

pub async fn sign_up(State(state): State<AppState>, PublicForm { meta, form }: PublicForm) -> Response {
    let input = SignupInput {
        name: form.text("name"),
        email: form.text("email"),
        password: form.text("password"),
        business_name: form.text("business_name"),
        website: None,
        industry: None,
    };
    match accounts::signup(&state, input, &meta).await {
        Ok(signed) => signed_in(&state, &signed, "/app?notice=welcome"),
        Err(err) => {
            let err = ApiError::from(err);
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::BAD_REQUEST);
            render(
                status,
                &SignUpPage {
                    title: "Create your account",
                    chrome: None,
                    notice: None,
                    errors: FieldErrors::from_api(&err, |field| field),
                    form,
                },
            )
        }
    }
}

/// `POST /sign-out`: ends this session (CSRF-checked like every form).
pub async fn sign_out(State(state): State<AppState>, StaffForm { staff, .. }: StaffForm) -> PageResult {
    sessions::logout(
        state.table.as_ref(),
        &staff.auth.session_token,
        &staff.auth.actor,
        state.clock.now(),
    )
    .await?;
    Ok(with_cookies(
        see_other(&format!("{SIGN_IN}?notice=signed-out")),
        cleared_cookies(&state.config),
    ))
}
