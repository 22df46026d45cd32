//! Background jobs on the jobs queue. Each job is idempotent: queues deliver
//! at least once, so running a job twice must have the effect of once.

use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::ports::mailer::{Email, MailError};
use crate::ports::{Queue, QueueError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// `idempotency_key` makes the provider (or the outbox) drop a second copy.
    SendEmail { idempotency_key: String, email: Email },
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

pub async fn enqueue(queue: &dyn Queue, jobs: &[Job]) -> Result<(), QueueError> {
    let bodies = jobs
        .iter()
        .map(|job| serde_json::to_string(job).map_err(|err| QueueError::Invalid(err.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    queue.send_batch(bodies).await
}

pub async fn run(state: &AppState, job: Job) -> Result<(), JobError> {
    match job {
        Job::SendEmail { idempotency_key, email } => match state.mailer.send(&email, &idempotency_key).await {
            Ok(()) => Ok(()),
            Err(MailError::Unavailable(reason)) => Err(JobError::Retry(reason)),
            Err(MailError::Rejected(reason)) => Err(JobError::Permanent(reason)),
        },
    }
}
