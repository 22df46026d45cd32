//! Embedded forms: their definitions (versioned), the public submit that
//! captures a contact, the alert to the form's recipients, and the
//! submissions. Keys (all under the owning org, except the public pointer):
//!
//! | item | pk | sk | index |
//! |---|---|---|---|
//! | form (the current version) | `ORG#<org>` | `FORM#<id>` | |
//! | form version (fields and settings as they were) | `ORG#<org>#FORM#<id>` | `VERSION#<n, 6 digits>` | |
//! | submission count of a form | `ORG#<org>#FORM#<id>` | `COUNT` | |
//! | public id → form | `FORMPUB#<public id>` | `FORM` | |
//! | submission | `ORG#<org>#FORM#<id>` | `SUB#<submission>` | gsi1: `ORG#<org>#FORM#<id>#SUBS` / `<ms, 13 digits>#<submission>`; gsi2: `ORG#<org>#CONTACT#<contact>#FORMSUBS` / same |
//! | submit rate window (TTL) | `FORMRATE#IP#<ip>` / `ORG#<org>#FORM#<id>#RATE` | `MIN#<unix minute>` | |
//!
//! A submission names the version it was made against; editing a form
//! writes a new version and leaves the old ones, so every submission keeps
//! rendering against the fields its visitor saw.

pub mod definitions;
pub mod notify;
pub mod rate;
pub mod render_token;
pub mod submissions;
pub mod submit;

use crate::domain::form::FormSpec;
use crate::domain::ids::{ContactId, FormId, OrgId, SubmissionId, UserId};
use crate::domain::input::FieldError;
use crate::domain::role::Role;
use crate::ports::{Key, StoreError};
use crate::services::audit::Actor;
use serde::{Deserialize, Serialize};

pub use definitions::{create, delete, get, get_version, list, update};
pub use notify::{form_submitted_payload, send_alert};
pub use submit::{SubmitInput, SubmitOutcome, submit};

/// Who calls a session use case.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    pub actor: Actor,
}

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// The form changed since it was read (`version` given and stale).
    #[error("conflict")]
    Conflict,
    /// Too many submissions from this address or to this form just now.
    #[error("rate limited for {retry_after_seconds}s")]
    RateLimited { retry_after_seconds: u64 },
    /// Filled faster than a person can (or the render stamp is missing or forged).
    #[error("too fast")]
    TooFast,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<Vec<FieldError>> for FormError {
    fn from(errors: Vec<FieldError>) -> Self {
        FormError::Invalid(errors)
    }
}

/// A form as stored: the current version's settings plus its identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormRecord {
    pub id: FormId,
    pub org_id: OrgId,
    /// The unguessable id in the form's public addresses.
    pub public_id: String,
    pub version: u64,
    pub spec: FormSpec,
    pub created_by: UserId,
    pub created_at: String,
    pub updated_at: String,
    /// Keys the render stamps of the form's pages; never shown.
    pub render_secret: String,
}

/// One stored version of a form's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormVersion {
    pub form_id: FormId,
    pub version: u64,
    pub spec: FormSpec,
    pub created_at: String,
}

/// A stored submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SubmissionRecord {
    pub id: SubmissionId,
    pub org_id: OrgId,
    pub form_id: FormId,
    pub form_version: u64,
    pub answers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// The submission made its contact (rather than merging into one): its
    /// job announces `contact.created` as well as `form.submitted`.
    #[serde(default)]
    pub contact_created: bool,
    /// UTM parameters, referrer and page URL, as the visitor's page sent them.
    #[serde(default)]
    pub attribution: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Consents given, each with the exact text, time, IP, user agent and page.
    #[serde(default)]
    pub consents: Vec<serde_json::Value>,
    pub submitted_at: String,
    /// `pending` until the recipients' alert went out, then `sent`.
    pub notification: String,
}

pub fn org_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}")
}
pub fn form_key(org_id: &OrgId, form_id: &FormId) -> Key {
    Key::new(org_partition(org_id), format!("FORM#{form_id}"))
}
pub fn form_partition(org_id: &OrgId, form_id: &FormId) -> String {
    format!("ORG#{org_id}#FORM#{form_id}")
}
pub fn version_key(org_id: &OrgId, form_id: &FormId, version: u64) -> Key {
    Key::new(form_partition(org_id, form_id), format!("VERSION#{version:06}"))
}
pub fn count_key(org_id: &OrgId, form_id: &FormId) -> Key {
    Key::new(form_partition(org_id, form_id), "COUNT")
}
pub fn public_key(public_id: &str) -> Key {
    Key::new(format!("FORMPUB#{public_id}"), "FORM")
}
pub fn submission_key(org_id: &OrgId, form_id: &FormId, id: &SubmissionId) -> Key {
    Key::new(form_partition(org_id, form_id), format!("SUB#{id}"))
}
pub fn submissions_partition(org_id: &OrgId, form_id: &FormId) -> String {
    format!("ORG#{org_id}#FORM#{form_id}#SUBS")
}
pub fn contact_submissions_partition(org_id: &OrgId, contact_id: &ContactId) -> String {
    format!("ORG#{org_id}#CONTACT#{contact_id}#FORMSUBS")
}
