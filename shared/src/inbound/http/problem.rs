//! The one mapping from errors to HTTP responses: RFC 9457
//! `application/problem+json` with a stable machine `code`, field errors for
//! validation, and the request id. A 5xx body never says what went wrong inside.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::{Deserialize, Serialize};

pub use crate::domain::input::FieldError;
use crate::ports::{KeyError, QueueError, StoreError};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extension members (RFC 9457 §3.2), e.g. the `existing_id` of a duplicate.
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: Option<String>) -> Self {
        Self {
            kind: format!("https://konnecs.com/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            code: code.to_string(),
            detail,
            errors: Vec::new(),
            request_id: None,
            extra: serde_json::Map::new(),
        }
    }

    /// The problem for a bare status produced outside our handlers (router
    /// fallbacks, body limits, panics).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::BAD_REQUEST => ("bad_request", "The request could not be read."),
            StatusCode::NOT_FOUND => ("not_found", "No such resource."),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "This resource does not accept that method."),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is larger than 1 MiB."),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Send the body as application/json."),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "The request took too long."),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "Too many requests; try again later."),
            s if s.is_server_error() => (
                "internal_error",
                "An unexpected error occurred. Quote the request id when reporting it.",
            ),
            _ => ("error", "The request failed."),
        };
        Self::new(status, code, Some(detail.to_string()))
    }
}

/// Every failure a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Well-formed request whose fields are not acceptable (422).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// Unreadable input (400), with the field when one is to blame.
    #[error("bad request: {code}")]
    BadRequest {
        code: &'static str,
        field: Option<String>,
        detail: String,
    },
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong email or password; never says which.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden: {code}")]
    Forbidden { code: &'static str },
    /// Missing, or belonging to another organization: never say which.
    #[error("not found")]
    NotFound,
    #[error("conflict: {code}")]
    Conflict { code: &'static str, detail: String },
    /// Creating something that exists already (409): names it in the body
    /// (`existing_id`, `field`) and in `Location`.
    #[error("duplicate of {existing_id}")]
    Duplicate {
        code: &'static str,
        detail: String,
        existing_id: String,
        field: String,
        location: String,
    },
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A download this runtime cannot answer inline (buffered responses);
    /// `instead` names the route that delivers it (422).
    #[error("too large to send inline: {code}")]
    TooLargeInline {
        code: &'static str,
        detail: String,
        instead: &'static str,
    },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited")]
    RateLimited { retry_after_seconds: u64 },
    /// The plan in force allows no more of something (402): names the limit
    /// and where to upgrade.
    #[error("plan limit: {0}")]
    PlanLimit(crate::services::billing::PlanLimitReached),
    /// A dependency is down; safe to retry (503).
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The host's external calendar could not be read, and no busy times
    /// recent enough stand in: no slot is offered on a guess (503, with
    /// `Retry-After`).
    #[error("calendar unavailable: {0}")]
    CalendarUnavailable(String),
    /// Our bug. The reason is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client waits before asking again after `calendar_unavailable`:
/// about when Google's outage may be over and the busy times fresh again.
const CALENDAR_RETRY_AFTER: &str = "60";

impl ApiError {
    pub fn field(field: &str, code: &str, message: &str) -> Self {
        ApiError::Validation(vec![FieldError::new(field, code, message)])
    }

    /// A validation problem from a service's field errors.
    pub fn fields(fields: impl IntoIterator<Item = FieldError>) -> Self {
        ApiError::Validation(fields.into_iter().collect())
    }

    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Validation(errors) => Problem {
                errors: errors.clone(),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation_failed",
                    Some("Some fields are not valid.".into()),
                )
            },
            ApiError::BadRequest { code, field, detail } => Problem {
                errors: field
                    .iter()
                    .map(|f| FieldError::new(f.clone(), *code, detail.clone()))
                    .collect(),
                ..Problem::new(StatusCode::BAD_REQUEST, code, Some(detail.clone()))
            },
            ApiError::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                Some("Sign in first.".into()),
            ),
            ApiError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                Some("The email or password is wrong.".into()),
            ),
            ApiError::Forbidden { code } => Problem::new(StatusCode::FORBIDDEN, code, None),
            ApiError::NotFound => Problem::for_status(StatusCode::NOT_FOUND),
            ApiError::Conflict { code, detail } => Problem::new(StatusCode::CONFLICT, code, Some(detail.clone())),
            ApiError::Duplicate {
                code,
                detail,
                existing_id,
                field,
                ..
            } => {
                let mut problem = Problem::new(StatusCode::CONFLICT, code, Some(detail.clone()));
                problem.extra.insert("existing_id".into(), existing_id.clone().into());
                problem.extra.insert("field".into(), field.clone().into());
                problem
            }
            ApiError::PreconditionFailed => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "stale_version",
                Some("The resource changed since you read it.".into()),
            ),
            ApiError::PayloadTooLarge => Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            ApiError::TooLargeInline { code, detail, instead } => {
                let mut problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, Some(detail.clone()));
                problem.extra.insert("instead".into(), (*instead).into());
                problem
            }
            ApiError::UnsupportedMediaType => Problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ApiError::RateLimited { .. } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                Some("Too many attempts; wait before trying again.".into()),
            ),
            ApiError::PlanLimit(reached) => {
                let mut problem = Problem::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "plan_limit",
                    Some(format!(
                        "The {} plan allows {} {}. An owner can upgrade in Settings → Billing.",
                        reached.plan.as_str(),
                        reached.allowed,
                        reached.limit.label()
                    )),
                );
                problem.extra.insert("limit".into(), reached.limit.as_str().into());
                problem.extra.insert("allowed".into(), reached.allowed.into());
                problem.extra.insert("plan".into(), reached.plan.as_str().into());
                problem.extra.insert("upgrade".into(), "/billing/checkout".into());
                problem
                    .extra
                    .insert("upgrade_page".into(), "/app/settings/billing".into());
                problem
            }
            ApiError::Unavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                Some("A dependency is unavailable; try again shortly.".into()),
            ),
            ApiError::CalendarUnavailable(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "calendar_unavailable",
                Some("The host's calendar cannot be read right now, so no times can be offered safely; try again in a minute.".into()),
            ),
            ApiError::Internal(_) => Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status >= 500 {
            // The only place a server-side reason is recorded: the log, with the request id span.
            tracing::error!(error = %self, "request failed");
        }
        let mut response = problem_response(problem);
        match &self {
            ApiError::RateLimited { retry_after_seconds } => {
                if let Ok(value) = http::HeaderValue::from_str(&retry_after_seconds.to_string()) {
                    response.headers_mut().insert(http::header::RETRY_AFTER, value);
                }
            }
            ApiError::CalendarUnavailable(_) => {
                response.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static(CALENDAR_RETRY_AFTER),
                );
            }
            ApiError::Duplicate { location, .. } => {
                if let Ok(value) = http::HeaderValue::from_str(location) {
                    response.headers_mut().insert(http::header::LOCATION, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// A response carrying the problem as an extension; the request middleware
/// adds the request id and writes the body, so every problem looks alike.
pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = status.into_response();
    response.extensions_mut().insert(problem);
    response
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidCursor => ApiError::BadRequest {
                code: "invalid_cursor",
                field: Some("cursor".into()),
                detail: "The cursor is not one this API issued.".into(),
            },
            StoreError::ConditionFailed | StoreError::TransactionConditionFailed { .. } => ApiError::Conflict {
                code: "conflict",
                detail: "The resource changed concurrently; retry.".into(),
            },
            StoreError::Contention | StoreError::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            StoreError::Invalid(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl From<crate::services::sms::SmsServiceError> for ApiError {
    fn from(err: crate::services::sms::SmsServiceError) -> Self {
        match err {
            crate::services::sms::SmsServiceError::Store(err) => err.into(),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            QueueError::Invalid(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            KeyError::Undecryptable | KeyError::Malformed => ApiError::Internal(err.to_string()),
        }
    }
}

impl From<crate::services::accounts::AccountError> for ApiError {
    fn from(err: crate::services::accounts::AccountError) -> Self {
        use crate::services::accounts::AccountError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                detail: "An account with this email already exists.".into(),
            },
            E::InvalidCredentials => ApiError::InvalidCredentials,
            E::Locked { retry_after_seconds } => ApiError::RateLimited {
                retry_after_seconds: u64::try_from(retry_after_seconds).unwrap_or(1).max(1),
            },
            E::InvalidToken => ApiError::BadRequest {
                code: "invalid_token",
                field: Some("token".into()),
                detail: "The link is invalid, already used or expired.".into(),
            },
            E::WrongCurrentPassword => {
                ApiError::field("current_password", "wrong_password", "The current password is wrong.")
            }
            E::NotFound => ApiError::NotFound,
            E::Store(err) => err.into(),
            E::Internal(reason) => ApiError::Internal(reason),
        }
    }
}

impl From<crate::ports::ObjectError> for ApiError {
    fn from(err: crate::ports::ObjectError) -> Self {
        use crate::ports::ObjectError as E;
        match err {
            E::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            // Keys and uploads are the services' own, never taken from a request.
            E::InvalidKey | E::NoSuchUpload | E::InvalidPart(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl From<crate::services::photos::PhotoError> for ApiError {
    fn from(err: crate::services::photos::PhotoError) -> Self {
        use crate::services::photos::PhotoError as E;
        match err {
            E::Empty => ApiError::field("photo", "required", "Send the image as the request body."),
            E::TooLarge => ApiError::PayloadTooLarge,
            E::UnsupportedDeclaredType => ApiError::field(
                "photo",
                "photo_content_type_unsupported",
                "Send the photo with Content-Type image/png, image/jpeg or image/webp.",
            ),
            E::NotAnAcceptedImage => ApiError::field(
                "photo",
                "photo_type_unsupported",
                "The file is not a PNG, JPEG or WebP image.",
            ),
            E::TypeMismatch { declared, actual } => ApiError::Validation(vec![FieldError::new(
                "photo",
                "photo_type_mismatch",
                format!("The file is {} but was sent as {}.", actual.mime(), declared.mime()),
            )]),
            E::NotFound => ApiError::NotFound,
            E::Store(err) => err.into(),
            E::Objects(err) => err.into(),
        }
    }
}

impl From<crate::services::orgs::OrgError> for ApiError {
    fn from(err: crate::services::orgs::OrgError) -> Self {
        use crate::services::orgs::OrgError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::NotFound => ApiError::NotFound,
            E::InsufficientRole => ApiError::Forbidden {
                code: "insufficient_role",
            },
            E::PlanLimit(reached) => ApiError::PlanLimit(reached),
            E::LastOwner => ApiError::Conflict {
                code: "last_owner",
                detail: "The organization must keep at least one owner; make someone else an owner first.".into(),
            },
            E::SlugTaken => ApiError::Conflict {
                code: "slug_taken",
                detail: "Another organization already uses this public address.".into(),
            },
            E::StaleVersion => ApiError::PreconditionFailed,
            E::AlreadyMember => ApiError::Conflict {
                code: "already_member",
                detail: "This person is already a member of the organization.".into(),
            },
            E::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                detail: "An account with this email already exists.".into(),
            },
            E::InvalidToken => ApiError::BadRequest {
                code: "invalid_token",
                field: Some("token".into()),
                detail: "The invitation is invalid, already used, revoked or expired.".into(),
            },
            E::InvalidCredentials => ApiError::InvalidCredentials,
            E::Locked { retry_after_seconds } => ApiError::RateLimited {
                retry_after_seconds: u64::try_from(retry_after_seconds).unwrap_or(1).max(1),
            },
            E::Conflict => ApiError::Conflict {
                code: "conflict",
                detail: "The resource changed concurrently; retry.".into(),
            },
            E::PurgeStarted => ApiError::Conflict {
                code: "purge_started",
                detail:
                    "The grace window has ended and the organization is being deleted; it can no longer be restored."
                        .into(),
            },
            E::Unavailable(reason) => ApiError::Unavailable(reason),
            E::Store(err) => err.into(),
            E::Internal(reason) => ApiError::Internal(reason),
        }
    }
}

impl From<crate::services::forms::FormError> for ApiError {
    fn from(err: crate::services::forms::FormError) -> Self {
        use crate::services::forms::FormError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::NotFound => ApiError::NotFound,
            E::Conflict => ApiError::Conflict {
                code: "form_changed",
                detail: "The form changed since it was read; read it again.".into(),
            },
            E::RateLimited { retry_after_seconds } => ApiError::RateLimited { retry_after_seconds },
            E::TooFast => ApiError::BadRequest {
                code: "too_fast",
                field: Some("rendered".into()),
                detail: "The form was sent too soon after it was shown (or without its page's stamp); wait a moment and send it again.".into(),
            },
            E::Store(err) => err.into(),
            E::Internal(reason) => ApiError::Internal(reason),
        }
    }
}

impl From<crate::services::contacts::ContactError> for ApiError {
    fn from(err: crate::services::contacts::ContactError) -> Self {
        use crate::services::contacts::ContactError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::Duplicate { existing_id, field } => ApiError::Duplicate {
                code: "duplicate_contact",
                detail: format!(
                    "A contact with this {} already exists: {existing_id}. Use ?upsert=true to merge into it.",
                    if field == "phones" { "phone" } else { "email" }
                ),
                location: format!("/contacts/{existing_id}"),
                existing_id,
                field,
            },
            E::NotFound => ApiError::NotFound,
            E::StaleVersion => ApiError::PreconditionFailed,
            E::Forbidden => ApiError::Forbidden { code: "not_author" },
            E::PlanLimit(reached) => ApiError::PlanLimit(reached),
            E::Conflict(code) => ApiError::Conflict {
                code,
                detail: "The contact changed concurrently; retry.".into(),
            },
            E::Store(err) => err.into(),
        }
    }
}

impl From<crate::services::scheduling::SchedulingError> for ApiError {
    fn from(err: crate::services::scheduling::SchedulingError) -> Self {
        use crate::services::scheduling::SchedulingError;
        match err {
            SchedulingError::Invalid(fields) => ApiError::Validation(fields),
            SchedulingError::NotFound => ApiError::NotFound,
            SchedulingError::PlanLimit(reached) => ApiError::PlanLimit(reached),
            SchedulingError::Forbidden => ApiError::Forbidden {
                code: "insufficient_role",
            },
            SchedulingError::Conflict { code, detail } => ApiError::Conflict { code, detail },
            SchedulingError::SlotTaken => ApiError::Conflict {
                code: "slot_taken",
                detail: "This time is no longer available; pick another one.".into(),
            },
            SchedulingError::NotOffered(reason) => {
                ApiError::Validation(vec![FieldError::new("start", reason.code(), reason.to_string())])
            }
            SchedulingError::Busy(err) => ApiError::CalendarUnavailable(err.to_string()),
            SchedulingError::Store(err) => err.into(),
            SchedulingError::Internal(reason) => ApiError::Internal(reason),
        }
    }
}

impl From<crate::services::pipelines::PipelineError> for ApiError {
    fn from(err: crate::services::pipelines::PipelineError) -> Self {
        use crate::services::pipelines::PipelineError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::NotFound => ApiError::NotFound,
            E::HasDeals { code, detail } => ApiError::Conflict { code, detail },
            E::Stale => ApiError::PreconditionFailed,
            E::Store(err) => err.into(),
        }
    }
}

impl From<crate::services::webhooks::WebhookError> for ApiError {
    fn from(err: crate::services::webhooks::WebhookError) -> Self {
        use crate::services::webhooks::WebhookError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::NotFound => ApiError::NotFound,
            E::TooMany => ApiError::Conflict {
                code: "too_many_webhook_endpoints",
                detail: "An organization has at most 20 webhook endpoints; delete one first.".into(),
            },
            E::Store(err) => err.into(),
            E::Keys(err) => err.into(),
            E::Queue(err) => err.into(),
        }
    }
}

impl From<crate::services::imports::ImportError> for ApiError {
    fn from(err: crate::services::imports::ImportError) -> Self {
        use crate::services::imports::ImportError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::NotFound => ApiError::NotFound,
            E::Conflict(code) => ApiError::Conflict {
                code,
                detail: match code {
                    "import_not_uploading" => "This import takes no more parts.".into(),
                    _ => "Parts must be sent one at a time, in order.".into(),
                },
            },
            E::Store(err) => err.into(),
            E::Objects(reason) | E::Queue(reason) => ApiError::Unavailable(reason),
        }
    }
}

impl From<crate::services::exports::job::ExportError> for ApiError {
    fn from(err: crate::services::exports::job::ExportError) -> Self {
        use crate::services::exports::job::ExportError as E;
        match err {
            E::NotFound => ApiError::NotFound,
            E::NotReady => ApiError::Conflict {
                code: "export_not_ready",
                detail: "The export is not finished; its state tells when it is.".into(),
            },
            E::TooManyRunning => ApiError::Conflict {
                code: "too_many_exports_running",
                detail: format!(
                    "{} exports are already running for this organization; start another when one has finished.",
                    crate::services::exports::job::MAX_RUNNING_PER_ORG
                ),
            },
            E::Store(err) => err.into(),
            E::Objects(err) => err.into(),
            E::Queue(reason) => ApiError::Unavailable(reason),
        }
    }
}

impl From<crate::services::billing::limits::LimitError> for ApiError {
    fn from(err: crate::services::billing::limits::LimitError) -> Self {
        use crate::services::billing::limits::LimitError as E;
        match err {
            E::Reached(reached) => ApiError::PlanLimit(reached),
            E::Store(err) => err.into(),
        }
    }
}

impl From<crate::services::billing::BillingError> for ApiError {
    fn from(err: crate::services::billing::BillingError) -> Self {
        use crate::services::billing::BillingError as E;
        match err {
            // Billing does not exist here: the routes are as absent as any other.
            E::Off => ApiError::NotFound,
            E::Invalid(fields) => ApiError::fields(fields),
            E::InsufficientRole => ApiError::Forbidden {
                code: "insufficient_role",
            },
            E::NoCustomer => ApiError::Conflict {
                code: "no_subscription",
                detail:
                    "Subscribe to a plan first (POST /billing/checkout); the portal manages an existing subscription."
                        .into(),
            },
            E::AlreadySubscribed => ApiError::Conflict {
                code: "already_subscribed",
                detail: "The organization has a subscription: change its plan in the customer portal (POST /billing/portal)."
                    .into(),
            },
            E::Signature(reason) => ApiError::BadRequest {
                code: "invalid_signature",
                field: Some("Stripe-Signature".into()),
                detail: reason.to_string(),
            },
            E::MalformedEvent(where_) => ApiError::BadRequest {
                code: "invalid_event",
                field: Some("body".into()),
                detail: format!("The event is not readable JSON ({where_})."),
            },
            E::Payments(crate::ports::PaymentsError::Unavailable(reason)) => ApiError::Unavailable(reason),
            E::Payments(crate::ports::PaymentsError::Rejected(reason)) => {
                ApiError::Internal(format!("stripe refused: {reason}"))
            }
            E::Contention => ApiError::Unavailable("billing record busy".into()),
            E::Store(err) => err.into(),
        }
    }
}

impl From<crate::services::google::GoogleConnectionError> for ApiError {
    fn from(err: crate::services::google::GoogleConnectionError) -> Self {
        use crate::services::google::GoogleConnectionError as E;
        match err {
            // Google is not configured here: its routes are as absent as any other.
            E::Off | E::NotConnected => ApiError::NotFound,
            E::Invalid(fields) => ApiError::fields(fields),
            E::UnknownState => ApiError::BadRequest {
                code: "invalid_state",
                field: Some("state".into()),
                detail: "This Google sign-in link is unknown, used or expired: start connecting again.".into(),
            },
            E::Declined => ApiError::BadRequest {
                code: "access_declined",
                field: Some("code".into()),
                detail: "Google did not grant access, so nothing was connected.".into(),
            },
            E::Broken(reason) => ApiError::Conflict {
                code: "google_connection_broken",
                detail: reason,
            },
            E::Google(err) => ApiError::Unavailable(err.to_string()),
            E::Keys(err) => err.into(),
            E::Store(err) => err.into(),
            E::Queue(err) => err.into(),
        }
    }
}

impl From<crate::ports::member_mailer::MemberMailError> for ApiError {
    fn from(err: crate::ports::member_mailer::MemberMailError) -> Self {
        use crate::ports::member_mailer::MemberMailError as E;
        match err {
            E::NotConnected => ApiError::Conflict {
                code: "google_not_connected",
                detail: "Connect your Google account with Gmail in Settings → Integrations to send email from it."
                    .into(),
            },
            E::ScopeMissing => ApiError::Conflict {
                code: "google_scope_missing",
                detail: "Your Google connection may not send email: switch Gmail on in Settings → Integrations.".into(),
            },
            E::Broken(reason) => ApiError::Conflict {
                code: "google_connection_broken",
                detail: reason,
            },
            E::Rejected(detail) => ApiError::Validation(vec![FieldError::new(
                "to",
                "email_rejected",
                format!("Gmail refused this email: {detail}"),
            )]),
            E::Unavailable(detail) => ApiError::Unavailable(detail),
        }
    }
}

impl From<crate::services::google::gmail::GmailSendError> for ApiError {
    fn from(err: crate::services::google::gmail::GmailSendError) -> Self {
        use crate::services::google::gmail::GmailSendError as E;
        match err {
            E::Invalid(fields) => ApiError::fields(fields),
            E::NotFound => ApiError::NotFound,
            E::InProgress => ApiError::Conflict {
                code: "email_sending",
                detail: "This email is being sent right now; it goes out once.".into(),
            },
            E::Mail(err) => err.into(),
            E::Store(err) => err.into(),
        }
    }
}

impl From<crate::services::google::contacts::GoogleImportError> for ApiError {
    fn from(err: crate::services::google::contacts::GoogleImportError) -> Self {
        use crate::services::google::contacts::GoogleImportError as E;
        match err {
            E::ContactsNotEnabled(detail) => ApiError::Conflict {
                code: "google_contacts_not_enabled",
                detail,
            },
            E::AlreadyRunning(id) => ApiError::Conflict {
                code: "google_import_running",
                detail: format!(
                    "Your Google contacts import {id} is still running: see its progress at /imports/{id}."
                ),
            },
            E::Connection(err) => err.into(),
            E::Import(err) => err.into(),
        }
    }
}

impl From<crate::services::accounts::google_sign_in::GoogleSignInError> for ApiError {
    fn from(err: crate::services::accounts::google_sign_in::GoogleSignInError) -> Self {
        use crate::services::accounts::google_sign_in::GoogleSignInError as E;
        match err {
            E::Off => ApiError::NotFound,
            E::UnknownState => ApiError::BadRequest {
                code: "invalid_state",
                field: Some("state".into()),
                detail:
                    "This Google sign-in is unknown, used, expired or was started in another browser: sign in again."
                        .into(),
            },
            E::Declined => ApiError::BadRequest {
                code: "access_declined",
                field: Some("code".into()),
                detail: "Google did not sign you in.".into(),
            },
            E::InvalidIdToken(why) => ApiError::BadRequest {
                code: "invalid_id_token",
                field: Some("id_token".into()),
                detail: format!("Google's answer could not be trusted ({why}): sign in again."),
            },
            E::UnverifiedEmail => ApiError::BadRequest {
                code: "email_not_verified",
                field: Some("email".into()),
                detail: "Google has not verified this account's email address, so it cannot sign you in.".into(),
            },
            E::NoOrganization => ApiError::InvalidCredentials,
            E::Google(err) => ApiError::Unavailable(err.to_string()),
            E::Account(err) => err.into(),
            E::Store(err) => err.into(),
        }
    }
}
