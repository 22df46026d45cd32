//! `gmail-replies-tick` (every five minutes): reads the registered
//! mailboxes' Gmail history for replies in threads Konnecs sent in; see
//! `services::google::gmail_replies`.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{TickError, TickReport};
use crate::inbound::AppState;
use crate::services::google::gmail_replies::{self, TimelineOnly};

pub fn tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        let summary = gmail_replies::poll(&state, &TimelineOnly)
            .await
            .map_err(|err| TickError(err.to_string()))?;
        tracing::info!(
            mailboxes = summary.mailboxes,
            skipped = summary.skipped,
            replies = summary.replies,
            resyncs = summary.resyncs,
            failed = summary.failed,
            "gmail replies polled"
        );
        Ok(TickReport {
            processed: summary.replies as u64,
        })
    }
    .boxed()
}
