//! The pages an email link opens, and the forgotten-password form: confirm
//! an email address, ask for and choose a new password, accept an
//! invitation. Plain forms posted and redirected, calling the same account
//! services as `/auth/*` and `/invitations/accept`. The link's token moves
//! from the URL into a hidden field and is posted once; confirming an
//! address takes a click, so a mail scanner opening the link confirms
//! nothing.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;

use super::{Chrome, FieldErrors, PublicForm, SIGN_IN, notice_text, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::session::{session_cookies, with_cookies};
use crate::services::accounts;
use crate::services::orgs::{self, Acceptance};

#[derive(Template)]
#[template(path = "staff/account_form.html")]
struct AccountForm {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    heading: &'static str,
    intro: &'static str,
    action: &'static str,
    button: &'static str,
    token: String,
    errors: FieldErrors,
    ask_email: bool,
    email: String,
    ask_name: bool,
    name: String,
    ask_password: bool,
    password_label: &'static str,
    password_autocomplete: &'static str,
    /// Nothing left to do (the form was used): only the text.
    hide_form: bool,
}

impl AccountForm {
    fn new(heading: &'static str, intro: &'static str, action: &'static str, button: &'static str) -> Self {
        AccountForm {
            title: heading,
            chrome: None,
            notice: None,
            heading,
            intro,
            action,
            button,
            token: String::new(),
            errors: FieldErrors::default(),
            ask_email: false,
            email: String::new(),
            ask_name: false,
            name: String::new(),
            ask_password: false,
            password_label: "Password",
            password_autocomplete: "current-password",
            hide_form: false,
        }
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct LinkQuery {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

/// The status a refused form comes back with, from the API's mapping.
fn status_of(err: &ApiError) -> StatusCode {
    StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::BAD_REQUEST)
}

// ---------------------------------------------------------------- verify email

fn verify_form(token: String) -> AccountForm {
    AccountForm {
        token,
        ..AccountForm::new(
            "Confirm your email",
            "Confirm that this email address is yours.",
            "/verify-email",
            "Confirm my email",
        )
    }
}

/// `GET /verify-email?token=`.
pub async fn verify_email_page(Query(query): Query<LinkQuery>) -> Response {
    let mut page = verify_form(query.token.unwrap_or_default());
    if query.notice.as_deref() == Some("email-verified") {
        page.notice = notice_text(Some("email-verified"));
        page.intro = "Your email address is confirmed. You can close this page or sign in.";
        page.hide_form = true;
    }
    render(StatusCode::OK, &page)
}

/// `POST /verify-email`.
pub async fn verify_email(State(state): State<AppState>, PublicForm { meta, form }: PublicForm) -> Response {
    let token = form.text("token");
    match accounts::verify_email(&state, &token, &meta)
        .await
        .map_err(ApiError::from)
    {
        Ok(()) => see_other("/verify-email?notice=email-verified"),
        Err(err) => {
            let mut page = verify_form(token);
            page.errors = FieldErrors::from_api(&err, |_| "");
            page.hide_form = true;
            render(status_of(&err), &page)
        }
    }
}

// ---------------------------------------------------------------- forgotten password

fn forgot_form() -> AccountForm {
    AccountForm {
        ask_email: true,
        ..AccountForm::new(
            "Forgot your password?",
            "Enter your account's email address and we will send you a link to choose a new password.",
            "/forgot-password",
            "Send the link",
        )
    }
}

/// `GET /forgot-password`.
pub async fn forgot_password_page(Query(query): Query<LinkQuery>) -> Response {
    let mut page = forgot_form();
    page.notice = notice_text(query.notice.as_deref());
    render(StatusCode::OK, &page)
}

/// `POST /forgot-password`: the same answer whether or not the address has
/// an account, as `/auth/password/forgot` gives.
pub async fn forgot_password(State(state): State<AppState>, PublicForm { meta, form }: PublicForm) -> Response {
    let email = form.text("email");
    match accounts::forgot_password(&state, &email, &meta)
        .await
        .map_err(ApiError::from)
    {
        Ok(()) => see_other("/forgot-password?notice=reset-sent"),
        Err(err) => {
            let mut page = forgot_form();
            page.email = email;
            page.errors = FieldErrors::from_api(&err, |field| field);
            render(status_of(&err), &page)
        }
    }
}

// ---------------------------------------------------------------- reset password

fn reset_form(token: String) -> AccountForm {
    AccountForm {
        token,
        ask_password: true,
        password_label: "New password (at least 10 characters)",
        password_autocomplete: "new-password",
        ..AccountForm::new(
            "Choose a new password",
            "Every device signed in to your account will be signed out.",
            "/reset-password",
            "Set password",
        )
    }
}

/// `GET /reset-password?token=`.
pub async fn reset_password_page(Query(query): Query<LinkQuery>) -> Response {
    render(StatusCode::OK, &reset_form(query.token.unwrap_or_default()))
}

/// `POST /reset-password`.
pub async fn reset_password(State(state): State<AppState>, PublicForm { meta, form }: PublicForm) -> Response {
    let token = form.text("token");
    match accounts::reset_password(&state, &token, form.text("password"), &meta)
        .await
        .map_err(ApiError::from)
    {
        Ok(()) => see_other(&format!("{SIGN_IN}?notice=password-changed")),
        Err(err) => {
            let mut page = reset_form(token);
            // A bad link is no field of the form: it is said above it.
            page.errors = FieldErrors::from_api(&err, |field| if field == "token" { "" } else { field });
            render(status_of(&err), &page)
        }
    }
}

// ---------------------------------------------------------------- invitations

fn invitation_form(token: String) -> AccountForm {
    AccountForm {
        token,
        ask_name: true,
        ask_password: true,
        password_label: "Password (new to Konnecs? choose one; otherwise your account's)",
        ..AccountForm::new(
            "Join your team on Konnecs",
            "New to Konnecs? Enter your name and choose a password. Already have an account with this email? Enter its password.",
            "/accept-invitation",
            "Join",
        )
    }
}

/// `GET /accept-invitation?token=`.
pub async fn accept_invitation_page(Query(query): Query<LinkQuery>) -> Response {
    render(StatusCode::OK, &invitation_form(query.token.unwrap_or_default()))
}

/// `POST /accept-invitation`: joins, signed in, and opens the app.
pub async fn accept_invitation(State(state): State<AppState>, PublicForm { meta, form }: PublicForm) -> Response {
    let token = form.text("token");
    let input = Acceptance {
        token: token.clone(),
        name: form.optional("name"),
        password: form.optional("password"),
        session: None,
    };
    match orgs::accept_invitation(&state, input, &meta)
        .await
        .map_err(ApiError::from)
    {
        Ok(signed) => {
            let cookies = session_cookies(&state.config, &signed.session.token, &signed.session.csrf_token);
            with_cookies(see_other("/app?notice=welcome"), cookies)
        }
        Err(err) => {
            let mut page = invitation_form(token);
            page.name = form.text("name");
            page.errors = FieldErrors::from_api(&err, |field| if field == "token" { "" } else { field });
            let mut response = render(status_of(&err), &page);
            // An account locked by failed sign-ins: the page says when to
            // come back, as the API's answer does.
            if let Some(retry) = err.into_response().headers().get(http::header::RETRY_AFTER).cloned() {
                response.headers_mut().insert(http::header::RETRY_AFTER, retry);
            }
            response
        }
    }
}
