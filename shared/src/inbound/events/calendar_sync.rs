//! `google-calendar-sync`: every few minutes, queues one calendar-sync job
//! per member with a Google connection (`Job::CalendarSync`), so each
//! member's run is its own retried job and one slow calendar does not hold
//! up the others. A member without a working Calendar connection is
//! skipped by their job, without a call to Google. Where Google is not
//! configured no connection exists, so nothing is queued.

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{TickError, TickReport};
use crate::inbound::AppState;
use crate::services::google::calendar_sync::connected_members;
use crate::services::jobs::{Job, enqueue};

/// Jobs sent per queue batch (SQS takes ten at a time).
const BATCH: usize = 10;

pub fn tick(state: AppState) -> BoxFuture<'static, Result<TickReport, TickError>> {
    async move {
        let members = connected_members(&state)
            .await
            .map_err(|err| TickError(err.to_string()))?;
        let jobs: Vec<Job> = members
            .into_iter()
            .map(|(org_id, user_id)| Job::CalendarSync { org_id, user_id })
            .collect();
        for batch in jobs.chunks(BATCH) {
            enqueue(&state, batch).await.map_err(|err| TickError(err.to_string()))?;
        }
        Ok(TickReport {
            processed: jobs.len() as u64,
        })
    }
    .boxed()
}
