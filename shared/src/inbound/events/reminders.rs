//! `reminders-tick` (every minute) and `reminders-send` (consumer of the
//! reminders queue): see `services::reminder_dispatch`.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{BatchOutcome, Message, TickError, TickReport};
use crate::inbound::AppState;
use crate::services::reminder_dispatch::{self, ReminderMessage};

pub fn tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        let summary = reminder_dispatch::tick(&state)
            .await
            .map_err(|err| TickError(err.to_string()))?;
        tracing::info!(
            minutes = summary.minutes,
            fanned_out = summary.fanned_out,
            "reminders fanned out"
        );
        Ok(TickReport {
            processed: summary.fanned_out,
        })
    }
    .boxed()
}

/// Each message on its own: a failure is reported for that message only
/// (partial batch response), so only it is delivered again.
pub fn consume(state: AppState, messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
    async move {
        let mut outcome = BatchOutcome::default();
        for message in messages {
            let reminder: ReminderMessage = match serde_json::from_str(&message.body) {
                Ok(reminder) => reminder,
                Err(err) => {
                    // Unreadable: let it reach the dead-letter queue (and its alarm).
                    tracing::error!(message_id = %message.message_id, error = %err, "unreadable reminder message");
                    outcome.failed.push(message.message_id);
                    continue;
                }
            };
            match reminder_dispatch::deliver(&state, &reminder).await {
                Ok(delivery) => {
                    tracing::debug!(message_id = %message.message_id, ?delivery, "reminder handled");
                }
                Err(err) => {
                    tracing::warn!(message_id = %message.message_id, receive_count = message.receive_count, error = %err, "reminder failed; will retry");
                    outcome.failed.push(message.message_id);
                }
            }
        }
        outcome
    }
    .boxed()
}
