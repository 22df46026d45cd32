//! `store-sweep`: physically deletes what the embedded store keeps invisible
//! (expired items, long-finished queue messages). AWS needs no such function:
//! DynamoDB TTL and SQS retention do it, which is why the entry is local-only.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{TickError, TickReport};
use crate::app::AppState;

pub fn tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        let Some(sweeper) = state.sweeper.clone() else {
            return Ok(TickReport::default());
        };
        let removed = sweeper
            .sweep(state.clock.unix_seconds())
            .await
            .map_err(|err| TickError(err.to_string()))?;
        Ok(TickReport { processed: removed })
    }
    .boxed()
}
