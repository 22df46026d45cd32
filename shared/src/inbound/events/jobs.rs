//! `jobs-worker`: runs background jobs (`services::jobs::Job`) from the jobs
//! queue and reports failures per message, so only those are delivered again.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{BatchOutcome, Message};
use crate::app::AppState;
use crate::catalogue::QueueName;
use crate::services::jobs::{self, Delivery, Job, JobError};

pub fn consume(state: AppState, messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
    async move {
        let mut outcome = BatchOutcome::default();
        let batch = Delivery::starting_now(false);
        for message in messages {
            let job: Job = match serde_json::from_str(&message.body) {
                Ok(job) => job,
                Err(err) => {
                    // Unreadable: let it reach the dead-letter queue (and its alarm) rather than vanish.
                    tracing::error!(message_id = %message.message_id, error = %err, "unreadable job");
                    outcome.failed.push(message.message_id);
                    continue;
                }
            };
            let delivery = Delivery {
                last_attempt: message.receive_count >= QueueName::Jobs.max_receives(),
                ..batch
            };
            match jobs::run(&state, job, &delivery).await {
                Ok(()) => {}
                Err(JobError::Permanent(reason)) => {
                    tracing::error!(message_id = %message.message_id, %reason, "job failed permanently; dropped");
                }
                Err(JobError::Retry(reason)) => {
                    tracing::warn!(message_id = %message.message_id, receive_count = message.receive_count, %reason, "job failed; will retry");
                    outcome.failed.push(message.message_id);
                }
            }
        }
        outcome
    }
    .boxed()
}
