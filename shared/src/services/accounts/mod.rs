//! Accounts: sign-up, login, email verification, password reset and the
//! signed-in user's profile.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde::Serialize;
use serde_json::json;

use super::jobs::{self, Job};
use super::secrets::new_token;
use super::sessions::NewSession;
use crate::domain::email::Email;
use crate::domain::input::FieldError;
use crate::domain::password::PasswordError;
use crate::domain::role::Role;
use crate::domain::token::token_hash;
use crate::ports::mailer;
use crate::ports::{Condition, StoreError, WriteOp};
use crate::ports::{HasConfig, HasJobs};
use crate::services::records::{TokenPurpose, token_key};

pub mod google_sign_in;
mod password;
mod profile;
mod sign_in;
mod signup;
mod verification;

pub use password::{PasswordResetError, forgot_password, reset_password, send_password_reset};
pub use profile::{ProfileChange, me, update_profile};
pub use sign_in::{login, record_failed_sign_in, user};
pub use signup::signup;
pub use verification::{resend_verification, verify_email};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("locked for {retry_after_seconds}s")]
    Locked { retry_after_seconds: i64 },
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("current password is wrong")]
    WrongCurrentPassword,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl AccountError {
    fn field(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        AccountError::Invalid(vec![FieldError::new(field, code, message)])
    }
}

impl From<PasswordError> for AccountError {
    fn from(err: PasswordError) -> Self {
        AccountError::field("password", err.code(), err.message())
    }
}

pub struct SignupInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub business_name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Me {
    pub id: UserId,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub pending_email: Option<String>,
    pub has_photo: bool,
    pub org_id: OrgId,
    pub role: Role,
    /// The member's own time zone, if they chose one.
    pub time_zone: Option<String>,
}

/// What a successful sign-up or login hands to the HTTP layer.
pub struct SignedIn {
    pub session: NewSession,
    pub user_id: UserId,
    pub org_id: OrgId,
}

fn email_field(raw: &str, errors: &mut Vec<FieldError>) -> Option<Email> {
    match Email::parse(raw) {
        Ok(email) => Some(email),
        Err(err) => {
            errors.push(FieldError::new("email", err.code(), err.message()));
            None
        }
    }
}

/// The token item of a one-time link, as an operation of the caller's transaction.
fn one_time_token(purpose: TokenPurpose, user_id: &UserId, email: &str, now: i64) -> (String, WriteOp) {
    let token = new_token();
    let key = token_key(&token_hash(&token), purpose);
    let item = crate::services::object(json!({
        "pk": key.pk, "sk": key.sk, "user_id": user_id, "email": email,
        "expires_at": now + purpose.lifetime_seconds(),
    }));
    (
        token,
        WriteOp::Put {
            item,
            condition: Some(Condition::NotExists),
        },
    )
}

fn verification_email(state: &impl HasConfig, to: &str, name: &str, token: &str) -> Job {
    let link = format!("{}/verify-email?token={token}", state.config().public_url);
    Job::SendEmail {
        idempotency_key: format!("verify-email/{}", token_hash(token)),
        email: mailer::Email {
            to: to.into(),
            subject: "Confirm your email address for Konnecs".into(),
            text: format!(
                "Hi {name},\n\nConfirm your email address by opening this link:\n\n{link}\n\nThe link works once and expires in 48 hours. If you did not sign up for Konnecs, ignore this email.\n"
            ),
            html: None,
            attachments: Vec::new(),
            kind: "verify_email".into(),
        },
    }
}

/// Queues emails after a commit. A queue failure does not undo the change:
/// the user can ask for the email again; the failure is logged.
async fn send_after_commit(state: &impl HasJobs, jobs: &[Job]) {
    if let Err(err) = jobs::enqueue(state, jobs).await {
        tracing::error!(error = %err, "could not queue email; the user can request it again");
    }
}
