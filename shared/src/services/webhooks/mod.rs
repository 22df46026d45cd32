//! Outgoing webhooks: an organization's endpoints, the events they
//! subscribe to, and the signed, retried, logged delivery of each event.
//!
//! # Producing events: [`publish`]
//!
//! ```text
//! // Fails with the reason (the caller decides, e.g. a consumer retries):
//! webhooks::publish(state, &org_id, "form.submitted", &event_id, occurred_at, payload).await?;
//! // Or, right after a committed write that must stand: logs a failure.
//! webhooks::announce(state, &org_id, vec![webhooks::event("form.submitted", &event_id, occurred_at, payload)]).await;
//! ```
//!
//! (`publish_all`/`announce` take several events of one organization and
//! read its endpoints once: a booking that also made a contact.)
//!
//! Call it AFTER the write the event reports has committed (never inside
//! its transaction: a loser of a race must not announce anything), or from
//! the queue consumer that handles the committed write. It reads the
//! organization's endpoints (one query) and queues one delivery job per
//! enabled endpoint subscribed to the event type; it writes nothing.
//!
//! `event_id` must be stable for the event (`form.submitted:<submission id>`):
//! publishing the same id twice (a redelivered queue message, a retried
//! request) delivers once per endpoint, because the first attempt claims
//! `(endpoint, event id)` before sending. Receivers see it as `webhook-id`.
//! `occurred_at` is when the event happened (the record's own time, so a
//! republish carries the same body). A failure to publish is the caller's
//! to log; it must not undo the committed write.
//!
//! # Delivering
//!
//! Each job is one attempt (`deliver::run_attempt`): it claims its attempt
//! number on the delivery record with a conditional write before the HTTP
//! call, so a redelivered queue message never calls the endpoint twice. The
//! claim holds a lease (`ATTEMPT_LEASE`, longer than an attempt can take):
//! a process that stopped during the call leaves a claimed attempt with no
//! result, which a redelivery of its job makes again once the lease ran out
//! (same `webhook-id`: receivers drop what they already took by that id). A
//! failed attempt records itself and queues the next after an exponential
//! wait (`domain::webhook::retry_after`: 30 s doubling to 4 h, for 24 h).
//! Waits longer than the queue's delay limit (SQS: 15 min) are covered by
//! re-sending the job with the rest of the wait until it is due. When an
//! endpoint has failed every attempt for 24 h it is disabled and its
//! organization's owners are emailed once. "Sustained failure" is that
//! time, not a count of attempts: the retry schedule spaces attempts out
//! (30 s doubling to 4 h), so a count would mean a different span for an
//! endpoint with many events than for one with few, while 24 h is the
//! retry window itself: an endpoint off that long has lost deliveries
//! anyway, and a short outage (a deploy, a restart) never turns one off.
//!
//! # Keys (see `records.rs`)
//!
//! - endpoint `ORG#<org>` / `WEBHOOK#<endpoint>`;
//! - delivery `ORG#<org>#WEBHOOK#<endpoint>` / `DELIVERY#<delivery>` (UUIDv7:
//!   the partition reads newest first), TTL 30 days: the bounded log;
//! - event claim `ORG#<org>#WEBHOOK#<endpoint>` / `EVENT#<event id>` naming
//!   the delivery that carries the event (same TTL).

use serde::{Deserialize, Serialize};

use crate::domain::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use crate::domain::input::FieldError;
use crate::ports::{Key, KeyError, QueueError, StoreError};

mod deliver;
mod endpoints;
mod publish;

pub use deliver::{ATTEMPT_LEASE, ATTEMPT_TIME, REQUEST_TIMEOUT, RunError, redeliver, run_attempt};
pub use endpoints::{
    CreatedEndpoint, DeliveryView, EndpointInput, EndpointView, create_endpoint, delete_endpoint, get_endpoint,
    list_deliveries, list_endpoints, rotate_secret, update_endpoint,
};
pub use publish::{announce, event, publish, publish_all};

/// Deliveries kept in an endpoint's log.
pub const LOG_DAYS: i64 = 30;
/// Attempts kept on one delivery (the newest).
pub const MAX_ATTEMPTS_KEPT: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("too many endpoints")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// An endpoint as stored. The signing secret is an envelope (`KeyVault`),
/// never plain text, and never leaves this module except as a new secret
/// shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub id: WebhookEndpointId,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub enabled: bool,
    /// Base64 of the sealed `whsec_…` secret.
    pub secret_envelope: String,
    /// Unix ms of the first failed attempt since the last success.
    #[serde(default)]
    pub failing_since: Option<i64>,
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Why the endpoint was turned off by Konnecs (`failing`); `None` when
    /// a member turned it off or it is on.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Disabled for failing, and its owners not yet told.
    #[serde(default)]
    pub notice_pending: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for an attempt (the first, or a retry).
    Pending,
    Succeeded,
    /// Gave up: the retry window ended, or the endpoint is gone or off.
    Failed,
}

/// One HTTP attempt of a delivery, as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AttemptRecord {
    pub attempt: u32,
    /// RFC 3339.
    pub at: String,
    /// The receiver's HTTP status; `None` when there was no answer.
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    /// Why it failed without an answer (timeout, refused address, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// Made by a member's "redeliver", not the retry schedule.
    #[serde(default)]
    pub manual: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: String,
    pub event_type: String,
    /// The exact body every attempt sends (so each signs the same bytes).
    pub body: String,
    pub status: DeliveryStatus,
    /// The highest attempt number claimed (an attempt is made once, unless
    /// its claim's lease ran out with no result: see `deliver::ATTEMPT_LEASE`).
    pub claimed_attempt: u32,
    /// Unix ms until which the claimed attempt is being made; `None` on
    /// deliveries claimed before leases were kept.
    #[serde(default)]
    pub lease_until: Option<i64>,
    /// Unix ms of the first attempt: the retry window starts there.
    pub first_attempt_at: i64,
    /// Unix ms the next scheduled attempt is due, while pending.
    #[serde(default)]
    pub next_attempt_at: Option<i64>,
    #[serde(default)]
    pub attempts: Vec<AttemptRecord>,
    pub created_at: String,
}

pub fn endpoint_key(org_id: &OrgId, endpoint_id: &WebhookEndpointId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("WEBHOOK#{endpoint_id}"))
}

/// The partition of an endpoint's delivery log and event claims.
pub fn log_partition(org_id: &OrgId, endpoint_id: &WebhookEndpointId) -> String {
    format!("ORG#{org_id}#WEBHOOK#{endpoint_id}")
}

pub fn delivery_key(org_id: &OrgId, endpoint_id: &WebhookEndpointId, delivery_id: &WebhookDeliveryId) -> Key {
    Key::new(log_partition(org_id, endpoint_id), format!("DELIVERY#{delivery_id}"))
}

pub fn event_claim_key(org_id: &OrgId, endpoint_id: &WebhookEndpointId, event_id: &str) -> Key {
    Key::new(log_partition(org_id, endpoint_id), format!("EVENT#{event_id}"))
}

/// Ids are ours (UUIDv7 hex); anything else cannot name an item.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}
