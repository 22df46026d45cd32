//! Organizations: the profile (name, website, industry, time zone, country,
//! public slug), members and their roles, and invitations. The rules of who
//! may do what live in `domain::membership`; this module owns the
//! transactions that enforce them, each with its audit entry inside.
//!
//! Every lookup is under the caller's `ORG#<id>` partition, so an id from
//! another organization is simply not found.

use crate::domain::input::FieldError;
use crate::domain::membership::RuleViolation;
use crate::ports::StoreError;

pub mod deletion;
mod invitations;
mod members;
mod profile;
pub mod purge;

pub use invitations::{
    Acceptance, InvitationRecord, InvitationView, accept_invitation, invitation_key, invite, list_invitations,
    revoke_invitation,
};
pub use members::{change_role, list_members, remove_member};
pub use profile::{OrgChange, OrgView, org, parse_time_zone, update_org};

/// How often a membership change re-reads and retries after losing a race.
const ATTEMPTS: usize = 3;

type FieldErrors = Vec<FieldError>;

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Missing, or another organization's: never says which.
    #[error("not found")]
    NotFound,
    #[error("insufficient role")]
    InsufficientRole,
    #[error("the organization must keep at least one owner")]
    LastOwner,
    #[error("slug taken")]
    SlugTaken,
    #[error("stale version")]
    StaleVersion,
    #[error("already a member")]
    AlreadyMember,
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("locked for {retry_after_seconds}s")]
    Locked { retry_after_seconds: i64 },
    /// Lost a race too often; the caller may retry.
    /// The plan in force allows no more members.
    #[error(transparent)]
    PlanLimit(crate::services::billing::PlanLimitReached),
    #[error("concurrent change")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The organization's deletion passed its grace window: too late to cancel.
    #[error("purge started")]
    PurgeStarted,
    /// A provider (Stripe) did not answer; nothing changed, retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<RuleViolation> for OrgError {
    fn from(violation: RuleViolation) -> Self {
        match violation {
            RuleViolation::InsufficientRole => OrgError::InsufficientRole,
            RuleViolation::LastOwner => OrgError::LastOwner,
        }
    }
}

fn field(field: &'static str, code: &'static str, message: impl Into<String>) -> OrgError {
    OrgError::Invalid(vec![FieldError::new(field, code, message)])
}

impl From<crate::services::billing::limits::LimitError> for OrgError {
    fn from(err: crate::services::billing::limits::LimitError) -> Self {
        use crate::services::billing::limits::LimitError as E;
        match err {
            E::Reached(reached) => OrgError::PlanLimit(reached),
            E::Store(err) => OrgError::Store(err),
        }
    }
}
