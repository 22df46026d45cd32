//! `store-sweep`: physically deletes what the embedded store keeps invisible
//! (expired items, long-finished queue messages) and expired objects. AWS
//! needs no such function: DynamoDB TTL, SQS retention and the S3 lifecycle
//! do it, which is why the entry is local-only.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{TickError, TickReport};
use crate::inbound::AppState;

pub fn tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        let now = state.clock.unix_seconds();
        let mut removed = 0;
        for sweeper in &state.sweepers {
            removed += sweeper.sweep(now).await.map_err(|err| TickError(err.to_string()))?;
        }
        Ok(TickReport { processed: removed })
    }
    .boxed()
}
