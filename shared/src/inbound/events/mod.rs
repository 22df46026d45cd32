//! Event inbound: queue consumers and scheduled ticks. The same functions run
//! under Lambda (SQS event source, EventBridge) and in the local runtime
//! (in-process worker loops, tokio intervals).

pub mod calendar_sync;
pub mod gmail;
pub mod jobs;
pub mod purge;
pub mod reminders;
pub mod sweep;

use futures::future::BoxFuture;
use serde::Serialize;

use crate::inbound::AppState;

/// One queue message handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Stable across redeliveries: the consumer's idempotency key.
    pub message_id: String,
    pub body: String,
    pub receive_count: u32,
}

/// What a consumer did with a batch: the ids of the messages to deliver again.
/// Everything not listed is acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub failed: Vec<String>,
}

/// A queue consumer. It must be idempotent: every queue delivers at least once.
pub type Consumer = fn(AppState, Vec<Message>) -> BoxFuture<'static, BatchOutcome>;

/// What a tick did, for its log line.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TickReport {
    pub processed: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("tick failed: {0}")]
pub struct TickError(pub String);

/// A scheduled tick. Runs may overlap or repeat; it must be idempotent.
pub type Tick = fn(AppState) -> BoxFuture<'static, Result<TickReport, TickError>>;
