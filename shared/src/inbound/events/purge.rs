//! `org-purge-tick` (hourly): queues the purge of every organization whose
//! deletion grace window has ended (`services::orgs::purge`).

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{TickError, TickReport};
use crate::inbound::AppState;

pub fn tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        let queued = crate::services::orgs::purge::tick(&state)
            .await
            .map_err(|err| TickError(err.to_string()))?;
        tracing::info!(queued, "organization purges queued");
        Ok(TickReport { processed: queued })
    }
    .boxed()
}
