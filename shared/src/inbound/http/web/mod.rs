//! The staff web app: server-rendered pages over the same services the JSON
//! routes call. Every page is a catalogue route; this module holds what the
//! pages share: the layout's data, the page headers (a CSP allowing only our
//! own scripts and styles, no framing, no caching), the signed-in member
//! extractors for reads and for form posts (CSRF from the hidden field or
//! htmx's header), form parsing, and errors rendered as pages.

pub mod account;
pub mod appointment_actions;
pub mod appointments;
pub mod assets;
pub mod auth;
pub mod billing;
pub mod calendar;
pub mod contact_booking;
pub mod contact_edit;
pub mod contact_email;
pub mod contact_field;
pub mod contact_merge;
pub mod contact_record;
pub mod contacts;
pub mod exports;
pub mod forms;
pub mod google_sign_in;
pub mod home;
pub mod imports;
pub mod integrations;
pub mod org_deletion;
pub mod pipeline_edit;
pub mod pipelines;
pub mod profile;
pub mod scheduling;
pub mod scheduling_edit;
pub mod settings;
pub mod sms;
pub mod team;
pub mod upload;
pub mod webhooks;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{Html, IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::problem::ApiError;
use super::session::{Authenticated, CSRF_HEADER};
use crate::config::MAX_BODY_BYTES;
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::services::secrets::csrf_token;
use crate::services::{accounts, orgs};

/// Only our own files: htmx is configured through a meta tag, so no page
/// carries an inline script or style.
pub const STAFF_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Where the sign-in page is.
pub const SIGN_IN: &str = "/sign-in";

/// The signed-in member's frame around every app page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub org_name: String,
    pub user_name: String,
    /// The session's CSRF token: the hidden field of every form and the
    /// header of every htmx request.
    pub csrf: String,
    /// The navigation entry marked current: "home", "contacts".
    pub section: &'static str,
    /// Whether the member's role may change the organization's settings:
    /// no one else is shown the way there.
    pub is_admin: bool,
    /// A payment of the organization failed and is unpaid: every member
    /// sees the banner, so someone tells an owner.
    pub payment_failed: bool,
}

/// A signed-in member on a page: who they are (as the API's extractor says)
/// and the frame to draw around the page.
pub struct Staff {
    pub auth: Authenticated,
    pub chrome: Chrome,
    /// The IANA zone every time on the member's pages is shown in: their
    /// own when they chose one, else the organization's.
    pub time_zone: String,
}

impl Staff {
    pub fn in_section(mut self, section: &'static str) -> Self {
        self.chrome.section = section;
        self
    }
}

/// The layout's pieces of a page without a signed-in member.
pub fn no_chrome() -> Option<Chrome> {
    None
}

/// Headers every staff page carries.
fn page_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(STAFF_CSP),
    );
    headers.insert(http::header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(http::header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Fragments differ from the full page at the same URL.
    headers.insert(http::header::VARY, HeaderValue::from_static("HX-Request"));
}

/// A template rendered with the page headers.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    let mut response = match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a staff page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>Something went wrong.</p>".to_string()),
            )
                .into_response()
        }
    };
    page_headers(&mut response);
    response
}

/// Post → redirect → get: a 303 to `location`.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    page_headers(&mut response);
    response
}

/// A page that says what went wrong, at the status the API would answer.
#[derive(Template)]
#[template(path = "staff/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    heading: &'a str,
    message: &'a str,
}

pub fn error_page(status: StatusCode, heading: &str, message: &str) -> Response {
    render(
        status,
        &ErrorPage {
            title: heading,
            chrome: None,
            notice: None,
            heading,
            message,
        },
    )
}

/// Any failure of a page, shown as a page (never the problem JSON): the
/// status and words come from the API's one error mapping.
pub struct PageError(pub ApiError);

impl<E> From<E> for PageError
where
    ApiError: From<E>,
{
    fn from(err: E) -> Self {
        PageError(ApiError::from(err))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let problem = self.0.problem();
        if problem.status >= 500 {
            tracing::error!(error = %self.0, "a staff page failed");
        }
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (heading, message) = match status {
            StatusCode::NOT_FOUND => ("Not found", "It may have been deleted, or the link is wrong."),
            StatusCode::FORBIDDEN if problem.code == "csrf_token_invalid" => {
                ("This form has expired", "Go back, reload the page and try again.")
            }
            StatusCode::FORBIDDEN => (
                "Not allowed",
                "Your role does not allow this. Ask an admin of your organization.",
            ),
            StatusCode::CONFLICT => ("Conflict", problem.detail.as_deref().unwrap_or("It changed meanwhile.")),
            s if s.is_server_error() => ("Something went wrong", "Please try again in a moment."),
            _ => (
                "That did not work",
                problem.detail.as_deref().unwrap_or("The request could not be handled."),
            ),
        };
        error_page(status, heading, message)
    }
}

pub type PageResult = Result<Response, PageError>;

/// The API extractor's refusal as a page: no session goes to the sign-in
/// page (coming back here after), anything else is an error page.
fn refusal(parts: &Parts, rejection: Response) -> Response {
    let status = rejection.status();
    if status == StatusCode::UNAUTHORIZED {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| safe_next(p))
            .filter(|_| parts.method == http::Method::GET);
        return match next {
            Some(next) => see_other(&format!(
                "{SIGN_IN}?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            )),
            None => see_other(SIGN_IN),
        };
    }
    let code = rejection
        .extensions()
        .get::<super::problem::Problem>()
        .map(|p| p.code.clone())
        .unwrap_or_default();
    if code == "csrf_token_invalid" {
        return PageError(ApiError::Forbidden {
            code: "csrf_token_invalid",
        })
        .into_response();
    }
    let message = if status.is_server_error() {
        "Please try again in a moment."
    } else {
        "The request could not be handled."
    };
    error_page(status, "That did not work", message)
}

/// A place to go back to after signing in: one of our app pages, never
/// another site (`//evil.example`) or a non-page.
pub fn safe_next(next: &str) -> bool {
    (next == "/app" || next.starts_with("/app/") || next.starts_with("/app?"))
        && !next.contains("//")
        && !next.contains('\\')
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = match Authenticated::from_request_parts(parts, state).await {
            Ok(auth) => auth,
            Err(rejection) => return Err(refusal(parts, rejection)),
        };
        let user = accounts::user(state, &auth.user_id)
            .await
            .map_err(|err| PageError::from(err).into_response())?;
        let org = orgs::org(state, &auth.org_id)
            .await
            .map_err(|err| PageError::from(err).into_response())?;
        let time_zone = user
            .time_zone
            .clone()
            .filter(|zone| !zone.is_empty())
            .unwrap_or_else(|| org.time_zone.clone());
        let chrome = Chrome {
            org_name: org.name,
            user_name: user.name,
            csrf: csrf_token(&auth.session_token),
            section: "",
            is_admin: auth.role.allows(Permission::ManageSettings),
            payment_failed: crate::services::billing::account::payment_failed(state, &auth.org_id)
                .await
                .map_err(|err| PageError::from(err).into_response())?,
        };
        Ok(Staff {
            auth,
            chrome,
            time_zone,
        })
    }
}

/// A posted form: `application/x-www-form-urlencoded` pairs in order.
#[derive(Debug, Default, Clone)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// A form of the given pairs (a query's filters read like a form's).
    pub fn from_pairs<const N: usize>(pairs: [(&str, String); N]) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_string())
            .unwrap_or_default()
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|value| !value.is_empty())
    }

    /// Every (name, value) pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every non-blank value of `name` (repeated fields, checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_string())
            .collect()
    }
}

async fn form_body(request: Request) -> Result<(Parts, FormData), Response> {
    let (parts, body) = request.into_parts();
    let is_form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "That did not work",
            "Send the form from its page.",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "That did not work",
            "The form is too large.",
        )
    })?;
    Ok((parts, FormData::parse(&bytes)))
}

/// A form posted by a signed-in member. The CSRF token comes from the
/// form's hidden `_csrf` field (plain posts) or htmx's `X-CSRF-Token`
/// header, and is checked by the same extractor as the JSON API's.
pub struct StaffForm {
    pub staff: Staff,
    pub form: FormData,
}

impl FromRequest<AppState> for StaffForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // No session at all: to the sign-in page, whatever was posted.
        let (head, body) = request.into_parts();
        if super::session::session_token(&head, &state.config).is_none() {
            return Err(see_other(SIGN_IN));
        }
        let (mut parts, form) = form_body(Request::from_parts(head, body)).await?;
        if !parts.headers.contains_key(CSRF_HEADER) {
            let field = form.text("_csrf");
            if let Ok(value) = HeaderValue::from_str(&field) {
                parts.headers.insert(CSRF_HEADER, value);
            }
        }
        let staff = Staff::from_request_parts(&mut parts, state).await?;
        Ok(StaffForm { staff, form })
    }
}

/// A form posted before there is a session (sign-in, sign-up, password
/// reset). Refused when the browser says it came from another site, so no
/// other page can sign a visitor in to an account of its choosing.
pub struct PublicForm {
    pub meta: crate::services::audit::Actor,
    pub form: FormData,
}

/// Whether the browser says the post came from another site. Fetch
/// metadata first (every current browser sends it); otherwise the `Origin`
/// against the `Host`. (With `Referrer-Policy: no-referrer` a browser sends
/// `Origin: null` on form posts, which proves nothing either way.)
fn cross_site(parts: &Parts) -> bool {
    let header = |name: http::header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = parts.headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    match (header(http::header::ORIGIN), header(http::header::HOST)) {
        (Some(origin), Some(host)) if origin != "null" => {
            let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
            origin_host != host
        }
        _ => false,
    }
}

impl FromRequest<AppState> for PublicForm {
    type Rejection = Response;

    async fn from_request(request: Request, _: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, form) = form_body(request).await?;
        if cross_site(&parts) {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                "This form has expired",
                "Open the page on this site and try again.",
            ));
        }
        Ok(PublicForm {
            meta: super::session::actor_meta(&parts),
            form,
        })
    }
}

/// Field errors of a form, shown next to their fields and in a summary.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    /// The API's field errors, renamed to the form's fields by `rename`
    /// (e.g. `emails[0].address` → `email`); a form-wide message when the
    /// error names no field.
    pub fn from_api(err: &ApiError, rename: impl Fn(&str) -> &str) -> Self {
        let problem = err.problem();
        if problem.errors.is_empty() {
            let message = problem.detail.unwrap_or_else(|| "That did not work.".into());
            return Self(vec![(String::new(), message)]);
        }
        Self(
            problem
                .errors
                .iter()
                .map(|e| (rename(&e.field).to_string(), e.message.clone()))
                .collect(),
        )
    }

    /// As [`FieldErrors::from_api`], for a renaming that builds the name.
    pub fn from_api_owned(err: &ApiError, rename: impl Fn(&str) -> String) -> Self {
        let mut errors = Self::from_api(err, |field| field);
        for (field, _) in &mut errors.0 {
            if !field.is_empty() {
                *field = rename(field);
            }
        }
        errors
    }

    /// The message for `field`, if it has one.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, message)| message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// (field id, message) pairs for the summary; the field is empty for a
    /// form-wide message.
    pub fn all(&self) -> &[(String, String)] {
        &self.0
    }
}

/// The short status message a redirect asks for (`?notice=`): only these
/// fixed texts, never words from the URL.
pub fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "contact-created" => Some("Contact created."),
        "contact-deleted" => Some("Contact deleted."),
        "contact-saved" => Some("Contact saved."),
        "note-added" => Some("Note added."),
        "email-sent" => Some("Email sent from your Gmail."),
        "email-sending" => Some("Your email is on its way; it shows on the timeline once Gmail has it."),
        "note-saved" => Some("Note saved."),
        "note-deleted" => Some("Note deleted."),
        "tagged" => Some("Tags applied."),
        "signed-out" => Some("You are signed out."),
        "welcome" => Some("Welcome to Konnecs."),
        "settings-saved" => Some("Settings saved."),
        "org-deletion-requested" => {
            Some("The organization is being deleted. Members are signed out; you can cancel until the purge starts.")
        }
        "org-deletion-cancelled" => Some("The deletion is cancelled: the organization and its members are back."),
        "sms-settings-saved" => Some("Text message settings saved."),
        "google-declined-sign-in" => Some("Google did not sign you in."),
        "google-calendars-saved" => Some("Calendars saved: slots stay free of the busy times in them."),
        "google-connected" => Some("Google is connected."),
        "google-declined" => Some("Google did not grant access, so nothing changed."),
        "google-disconnected" => {
            Some("Google is disconnected: its access is withdrawn and the stored tokens are deleted.")
        }
        "pipeline-created" => Some("Pipeline created."),
        "pipeline-saved" => Some("Pipeline saved."),
        "deal-moved" => Some("Deal moved."),
        "deal-created" => Some("Deal created."),
        "view-saved" => Some("View saved."),
        "view-deleted" => Some("View deleted."),
        "time-zone-saved" => Some("Your time zone is saved: times are shown in it."),
        "columns-saved" => Some("Columns saved."),
        "contacts-merged" => Some("Contacts merged."),
        "profile-saved" => Some("Your details are saved. A new email takes effect once you confirm it."),
        "photo-saved" => Some("Your photo is saved."),
        "photo-removed" => Some("Your photo is removed."),
        "password-saved" => Some("Your password is changed. Your other devices are signed out."),
        "signed-out-everywhere" => Some("You are signed out on every device."),
        "invited" => Some("Invitation sent."),
        "invitation-revoked" => Some("Invitation revoked."),
        "role-changed" => Some("Role changed."),
        "member-removed" => Some("Member removed."),
        "schedule-created" => Some("Schedule created."),
        "schedule-saved" => Some("Schedule saved."),
        "schedule-deleted" => Some("Schedule deleted."),
        "event-type-deleted" => Some("Event type deleted: its link no longer takes bookings."),
        "appointment-booked" => Some("Appointment booked: the confirmation is on its way."),
        "event-type-saved" => Some("Event type saved."),
        "event-type-created" => Some("Event type created: share its link."),
        "appointment-confirmed" => Some("Appointment confirmed."),
        "appointment-declined" => Some("Appointment declined."),
        "appointment-cancelled" => Some("Appointment cancelled."),
        "appointment-no-show" => Some("Marked as a no-show."),
        "appointment-rescheduled" => Some("Appointment rescheduled."),
        "email-verified" => Some("Your email address is confirmed."),
        "reset-sent" => Some("If an account uses that address, a link to choose a new password is on its way."),
        "password-changed" => Some("Your password is changed. Sign in with the new one."),
        _ => None,
    }
}

/// An RFC 3339 time as the member reads it: "2026-03-04 10:00" in `zone`
/// (an IANA name). Anything unreadable is shown as it is stored.
pub fn local_time(at: &str, zone: &str) -> String {
    let zone = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match at.parse::<jiff::Timestamp>() {
        Ok(at) => at.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string(),
        Err(_) => at.chars().take(16).collect::<String>().replace('T', " "),
    }
}

/// Whether htmx asked (it then gets the changed part only).
pub fn is_htmx(parts_headers: &http::HeaderMap) -> bool {
    parts_headers.contains_key("hx-request")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_app_pages_are_places_to_return_to() {
        assert!(safe_next("/app"));
        assert!(safe_next("/app/contacts?q=a"));
        assert!(!safe_next("//evil.example/app"));
        assert!(!safe_next("/app//evil.example"));
        assert!(!safe_next("https://evil.example/app"));
        assert!(!safe_next("/auth/logout"));
        assert!(!safe_next("/application"));
    }

    #[test]
    fn times_are_shown_in_the_members_zone() {
        assert_eq!(local_time("2026-07-01T08:30:00Z", "Europe/London"), "2026-07-01 09:30");
        assert_eq!(local_time("2026-07-01T08:30:00Z", "Asia/Tokyo"), "2026-07-01 17:30");
        assert_eq!(local_time("2026-07-01T08:30:00Z", "Nowhere/Else"), "2026-07-01 08:30");
    }

    #[test]
    fn notices_are_fixed_texts() {
        assert_eq!(notice_text(Some("note-added")), Some("Note added."));
        assert_eq!(notice_text(Some("<script>")), None);
    }
}
