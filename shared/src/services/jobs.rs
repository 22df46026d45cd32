//! Background jobs on the job queues: short ones (messages, deliveries,
//! calendar work) on `jobs`, long data work in slices on `bulk`
//! ([`Job::queue`]). Each job is idempotent: queues deliver at least once,
//! so running a job twice must have the effect of once.

use crate::domain::ids::{BookingId, FormId, OrgId, SubmissionId, UserId, WebhookDeliveryId, WebhookEndpointId};
use crate::domain::webhook::WebhookEvent;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::ports::mailer::Email;
use crate::ports::{HasJobs, QueueError, QueueName};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// `idempotency_key` makes the provider (or the outbox) drop a second copy.
    SendEmail { idempotency_key: String, email: Email },
    /// A password-reset request for `email`, queued alike whether or not the
    /// address has an account; the job looks it up
    /// (`services::accounts::send_password_reset`).
    PasswordReset {
        email: String,
        token: String,
        /// Unix seconds of the request: the link expires an hour after it.
        requested_at: i64,
        /// Where the request came from, for the account's audit log.
        #[serde(default)]
        request: RequestOrigin,
    },
    /// An SMS, sent at most once per `idempotency_key`, never to an opted-out
    /// recipient, and within the booking's SMS allowance
    /// (`services::notifications::send_sms`).
    SendSms {
        idempotency_key: String,
        org_id: OrgId,
        #[serde(default)]
        booking_id: Option<BookingId>,
        to: String,
        body: String,
    },
    /// A contacts CSV import: processes chunks from the import's checkpoint
    /// (`services::imports`); a redelivery resumes, never repeats.
    ImportContacts { org_id: OrgId, import_id: String },
    /// The organization's contacts get the sort keys of the by-name and
    /// by-last-update orders, from the cursor kept on its marker
    /// (`services::contacts::order_backfill`); a redelivery resumes.
    BackfillContactOrder { org_id: OrgId },
    /// A member's Google contacts import: reads the next pages of their
    /// contacts into the import's parts (resuming at the stored page token),
    /// then processes rows like `ImportContacts` (`services::google::contacts`).
    ImportGoogleContacts { org_id: OrgId, import_id: String },
    /// An export (contacts or an import's error report) to the object store:
    /// one slice from the export's checkpoint (`services::exports::job`); a
    /// redelivery resumes, never repeats.
    Export { org_id: OrgId, export_id: String },
    /// One attempt of an outgoing webhook delivery (`services::webhooks`):
    /// made at most once, claimed on the delivery before the HTTP call.
    DeliverWebhook(WebhookAttempt),
    /// A form submission committed: its recipients' alert, sent once
    /// however often the queue delivers it (`services::forms::send_alert`).
    FormSubmitted {
        org_id: OrgId,
        form_id: FormId,
        submission_id: SubmissionId,
    },
    /// Slices of a deleted organization's purge, after its grace window
    /// (`services::orgs::purge`): each reads afresh where the data is, so a
    /// redelivery or a second copy deletes nothing twice and misses nothing.
    PurgeOrganization { org_id: OrgId },
    /// A booking changed: its event in the host's Google calendar is
    /// brought in step with it as it is when the job runs
    /// (`services::scheduling::bookings::sync_booking_event`).
    BookingCalendarEvent { org_id: OrgId, booking_id: BookingId },
    /// One run of the two-way sync of a member's Google calendar
    /// (`services::scheduling::bookings::sync_host_calendar`).
    CalendarSync { org_id: OrgId, user_id: UserId },
    /// A removed member's Google grant revoked at Google
    /// (`services::google::revoke_sealed`); the tokens stay sealed in the
    /// message, their item already deleted with the membership.
    RevokeGoogleGrant {
        org_id: OrgId,
        user_id: UserId,
        sealed_tokens: String,
    },
}

impl Job {
    /// The queue the job runs from. Slices of long data work (imports,
    /// exports, the contact-order back-fill, purges) have their own, so a
    /// long import never holds up a password reset, each consumer gets the
    /// timeout its work needs, and the consumer of short jobs links none of
    /// the data work's code (S3, CSV).
    pub fn queue(&self) -> QueueName {
        match self {
            Job::ImportContacts { .. }
            | Job::ImportGoogleContacts { .. }
            | Job::Export { .. }
            | Job::BackfillContactOrder { .. }
            | Job::PurgeOrganization { .. } => QueueName::Bulk,
            Job::SendEmail { .. }
            | Job::PasswordReset { .. }
            | Job::SendSms { .. }
            | Job::DeliverWebhook(_)
            | Job::FormSubmitted { .. }
            | Job::BookingCalendarEvent { .. }
            | Job::CalendarSync { .. }
            | Job::RevokeGoogleGrant { .. } => QueueName::Jobs,
        }
    }

    /// The organization whose data or customers the job concerns: none of
    /// its work runs once that organization is closing (its purge aside).
    pub fn organization(&self) -> Option<&OrgId> {
        match self {
            Job::SendSms { org_id, .. }
            | Job::ImportContacts { org_id, .. }
            | Job::ImportGoogleContacts { org_id, .. }
            | Job::Export { org_id, .. }
            | Job::BackfillContactOrder { org_id }
            | Job::FormSubmitted { org_id, .. }
            | Job::BookingCalendarEvent { org_id, .. }
            | Job::CalendarSync { org_id, .. } => Some(org_id),
            Job::DeliverWebhook(attempt) => Some(&attempt.org_id),
            // Revoking a grant is part of letting go of the data, so it
            // runs for a closing organization too.
            Job::SendEmail { .. }
            | Job::PasswordReset { .. }
            | Job::PurgeOrganization { .. }
            | Job::RevokeGoogleGrant { .. } => None,
        }
    }
}

/// Which attempt of which delivery, and from when it is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttempt {
    pub org_id: OrgId,
    pub endpoint_id: WebhookEndpointId,
    pub delivery_id: WebhookDeliveryId,
    /// 1 for the first; each retry or redelivery takes the next number.
    pub attempt: u32,
    /// Unix ms before which the attempt is not made: until then the job is
    /// sent again, delayed by what is left of the wait (queues cap delays).
    pub due_at: i64,
    /// A member's "redeliver", made even while the endpoint is off.
    #[serde(default)]
    pub manual: bool,
    /// The event, on the first attempt only; later attempts send the body
    /// stored with the delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<WebhookEvent>,
}

/// The request a job was queued by, as the audit log records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOrigin {
    pub request_id: String,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another delivery (provider down, store busy).
    #[error("retry: {0}")]
    Retry(String),
    /// Will never succeed; recorded and dropped.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// Sends each job to its queue ([`Job::queue`]), in one batch per queue.
/// A failure may leave an earlier queue's batch sent: the caller retries the
/// whole list, and a job sent twice runs as once.
pub async fn enqueue(state: &impl HasJobs, jobs: &[Job]) -> Result<(), QueueError> {
    for (queue, name) in [(state.jobs(), QueueName::Jobs), (state.bulk(), QueueName::Bulk)] {
        let bodies = jobs
            .iter()
            .filter(|job| job.queue() == name)
            .map(|job| serde_json::to_string(job).map_err(|err| QueueError::Invalid(err.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if !bodies.is_empty() {
            queue.send_batch(bodies).await?;
        }
    }
    Ok(())
}

/// How a message is being delivered: the time left to its batch, and
/// whether the queue will try it again.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// When the consumer must be done with its whole batch.
    pub deadline: Instant,
    /// The queue's last try: a failure now goes to the dead-letter queue.
    pub last_attempt: bool,
}

impl Delivery {
    /// A delivery with the whole batch time ahead of it.
    pub fn starting_now(last_attempt: bool) -> Self {
        Delivery {
            deadline: Instant::now() + BATCH_TIME,
            last_attempt,
        }
    }
}

/// What a batch of jobs may take: the functions' 15 s timeout less headroom
/// for a slice's last write and the batch's answer. Slices of imports and
/// exports share it, so a batch of several never times the function out.
pub const BATCH_TIME: Duration = Duration::from_secs(11);
