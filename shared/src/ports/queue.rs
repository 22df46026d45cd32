//! The `Queue` port: at-least-once delivery with visibility timeout,
//! redelivery and a dead-letter queue after too many receives.
//! SQS in AWS; a durable queue inside the embedded store locally.

use std::time::Duration;

use async_trait::async_trait;

/// Logical queues. Each is an SQS queue with a DLQ in AWS and a table-backed
/// queue in the embedded store locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// Short background jobs: email, SMS, webhook deliveries, form alerts,
    /// Google Calendar work.
    Jobs,
    /// Long data work in slices: imports, exports, back-fills and purges.
    /// Its own queue so a long import never holds up a password reset, and
    /// so the messaging consumer links none of its code (S3, CSV).
    Bulk,
    /// Due appointment reminders, fanned out by `reminders-tick`.
    Reminders,
}

impl QueueName {
    pub const ALL: [QueueName; 3] = [QueueName::Jobs, QueueName::Bulk, QueueName::Reminders];

    /// Name in the embedded store and stem of the CloudFormation names.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Jobs => "jobs",
            QueueName::Bulk => "bulk",
            QueueName::Reminders => "reminders",
        }
    }

    /// Environment variable that holds the SQS queue URL in AWS.
    pub fn url_env(self) -> &'static str {
        match self {
            QueueName::Jobs => "JOBS_QUEUE_URL",
            QueueName::Bulk => "BULK_QUEUE_URL",
            QueueName::Reminders => "REMINDERS_QUEUE_URL",
        }
    }

    /// Receives after which a message goes to the dead-letter queue.
    pub fn max_receives(self) -> u32 {
        5
    }

    /// How long a received message stays hidden before redelivery.
    pub fn visibility_seconds(self) -> u64 {
        60
    }
}

/// Most messages one send or receive call handles (SQS's limit).
pub const MAX_BATCH: usize = 10;

/// Longest delay a message can be sent with (SQS's limit, 15 minutes). Work
/// due later is sent again each time its delay runs out (see
/// `services::webhooks`).
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Stable across redeliveries: consumers use it for idempotency.
    pub message_id: String,
    /// Handle for this delivery only; needed to acknowledge it.
    pub receipt: String,
    pub body: String,
    /// How many times this message has been received, this delivery included.
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("invalid queue request: {0}")]
    Invalid(String),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends every body, in calls of at most [`MAX_BATCH`]. Fails if any message
    /// could not be sent (after retrying those the backend reported as failed).
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError>;

    /// Sends one body that no receive returns before `delay` has passed.
    /// A delay over [`MAX_DELAY`] is invalid.
    async fn send_delayed(&self, body: String, delay: Duration) -> Result<(), QueueError>;

    /// Receives up to `max` (≤ [`MAX_BATCH`]) visible messages and hides them for
    /// `visibility`. Returns at once when none are visible.
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError>;

    /// Deletes a delivered message. Acknowledging twice is not an error.
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;

    /// Approximate count of messages waiting or in flight (for `/health` and tests).
    async fn depth(&self) -> Result<u64, QueueError>;
}
