//! The pages email links open: verify an email address, choose a new
//! password, accept an invitation. Small server-rendered forms with one
//! vanilla script each, calling the JSON API; the token stays in the page's
//! URL and is posted once. Served with a strict CSP and no caching.

use axum::response::{Html, IntoResponse, Response};

const STYLE: &str = "body{font-family:system-ui,-apple-system,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1c1c1c}\
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.6rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1rem;padding:.7rem 1.2rem;font-size:1rem;border:0;border-radius:.4rem;background:#2456d3;color:#fff}\
#status{margin-top:1rem}.error{color:#b00020}.ok{color:#1b7f3a}";

/// Reads `token` from the URL, posts `fields` + token as JSON to `endpoint`,
/// and shows the API's problem detail or `success`.
fn page(
    title: &str,
    intro: &str,
    fields: &str,
    endpoint: &str,
    button: &str,
    success: &str,
    auto_submit: bool,
) -> Response {
    let script = format!(
        r#"const token = new URLSearchParams(location.search).get('token') || '';
const form = document.getElementById('form');
const status = document.getElementById('status');
async function submit(event) {{
  if (event) event.preventDefault();
  const body = Object.fromEntries(new FormData(form).entries());
  body.token = token;
  status.className = ''; status.textContent = 'Working…';
  const response = await fetch('{endpoint}', {{method: 'POST', headers: {{'content-type': 'application/json'}}, body: JSON.stringify(body)}});
  if (response.ok) {{ status.className = 'ok'; status.textContent = '{success}'; form.hidden = true; return; }}
  let problem = {{}}; try {{ problem = await response.json(); }} catch (_) {{}}
  const details = (problem.errors || []).map(e => e.message).join(' ');
  status.className = 'error'; status.textContent = details || problem.detail || 'Something went wrong.';
}}
form.addEventListener('submit', submit);
{auto}"#,
        auto = if auto_submit { "submit();" } else { "" }
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Konnecs</title><style>{STYLE}</style></head><body><h1>{title}</h1><p>{intro}</p>\
         <form id=\"form\">{fields}<button type=\"submit\">{button}</button></form><p id=\"status\" role=\"status\"></p>\
         <script>{script}</script></body></html>"
    );
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    headers.insert(
        http::header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'"),
    );
    response
}

pub async fn verify_email() -> impl IntoResponse {
    page(
        "Confirm your email",
        "Confirming your email address…",
        "",
        "/auth/verify-email",
        "Confirm again",
        "Your email address is confirmed. You can close this page.",
        true,
    )
}

pub async fn reset_password() -> impl IntoResponse {
    page(
        "Choose a new password",
        "Use at least 10 characters. Every device signed in to your account will be signed out.",
        "<label for=\"password\">New password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"10\" maxlength=\"128\" required>",
        "/auth/password/reset",
        "Set password",
        "Your password is changed. Sign in with the new one.",
        false,
    )
}

pub async fn accept_invitation() -> impl IntoResponse {
    page(
        "Join your team on Konnecs",
        "New to Konnecs? Enter your name and choose a password. Already have an account with this email? Enter its password.",
        "<label for=\"name\">Your name</label><input id=\"name\" name=\"name\" autocomplete=\"name\" maxlength=\"100\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" maxlength=\"128\" required>",
        "/invitations/accept",
        "Join",
        "You have joined. You are signed in.",
        false,
    )
}
