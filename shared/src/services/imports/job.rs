//! The import job: reads the file's parts from the checkpoint on, plans and
//! commits a group of rows at a time, and finishes, retries or fails the import.

use crate::domain::ids::OrgId;
use std::time::Instant;

use super::mapping::parse_records;
use super::pace::commit_group;
use super::plan::{Group, Known, plan_group, read_known};
use super::rows::{Parsed, RowContext, parse_row};
use super::{ImportError, ImportRecord, ImportState, SLICE, discard_file, get, import_key, part_object_key, queue_job};
use crate::domain::billing::Limit;
use crate::ports::{Condition, PartialCommit, Update};
use crate::ports::{HasClock, HasConfig, HasJobs, HasObjects, HasTable};
use crate::services::billing::limits::room;
use crate::services::contacts;
use crate::services::jobs::Delivery;
use crate::services::records::{OrgRecord, from_item, org_key};

/// Rows planned together and handed to the store as one ordered sequence of
/// chunk transactions (`Table::transact_in_order`: one durable commit on
/// SQLite, which is what makes the embedded import fast on disk). It bounds
/// how long the embedded store's write lock is held (≈ 0.1 s) and the reads
/// of one plan (the claims of 1,000 rows: ≈ 20 `BatchGetItem` on DynamoDB).
pub(super) const GROUP_ROWS: usize = 1_000;
/// The first group of a delivery with a deadline, before its commit speed is
/// known (on DynamoDB a group is ≈ 1 `TransactWriteItems` per 9 rows, sent in turn).
pub(super) const FIRST_GROUP_ROWS: usize = 100;
pub(super) const MIN_GROUP_ROWS: usize = 20;

/// How much one call of [`process`] may do.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop after this many rows (whole chunks; at least one chunk).
    pub max_rows: Option<u64>,
    pub deadline: Option<Instant>,
}

impl Budget {
    pub const UNLIMITED: Budget = Budget {
        max_rows: None,
        deadline: None,
    };
    fn exhausted(&self, rows_done_here: u64) -> bool {
        self.max_rows.is_some_and(|m| rows_done_here >= m) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Runs one delivery of the import job: as many rows as the slice allows,
/// then hands over to a new message if rows remain.
pub async fn run_job(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects + HasConfig),
    org_id: &OrgId,
    import_id: &str,
    delivery: &Delivery,
) -> Result<(), ImportError> {
    let budget = Budget {
        max_rows: None,
        deadline: Some(delivery.deadline.min(Instant::now() + SLICE)),
    };
    let result = match process(state, org_id, import_id, budget).await {
        Ok(record) if matches!(record.state, ImportState::Running | ImportState::Queued) => {
            queue_job(state, org_id, import_id).await
        }
        Ok(_) => Ok(()),
        Err(err) => Err(err),
    };
    match result {
        Err(err) if delivery.last_attempt && !matches!(err, ImportError::NotFound) => {
            give_up(state, org_id, import_id, &err).await?;
            Err(err)
        }
        other => other,
    }
}

/// The queue's last try failed: an import still running is marked failed,
/// unless it moved on meanwhile (another delivery is working on it, or
/// it finished and only its clean-up failed).
pub async fn give_up(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    import_id: &str,
    err: &ImportError,
) -> Result<(), ImportError> {
    if matches!(err, ImportError::Store(store) if store.is_condition_failure()) {
        return Ok(());
    }
    let record = get(state, org_id, import_id).await?;
    if !matches!(record.state, ImportState::Running | ImportState::Queued) {
        return Ok(());
    }
    let now = state.clock().now().to_string();
    let stopped = state
        .table()
        .update(
            &import_key(org_id, import_id),
            Update::default()
                .set("state", "failed")
                .set(
                    "error",
                    "The import stopped on a failure; the rows done so far are kept.",
                )
                .set("finished_at", now.clone())
                .set("updated_at", now),
            Some(Condition::AttributeEquals {
                name: "rows_done".into(),
                value: record.rows_done.into(),
            }),
        )
        .await;
    match stopped {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Processes rows from the checkpoint until the import is done or the
/// budget is spent; returns the import as it then is.
pub async fn process(
    state: &(impl HasTable + HasClock + HasObjects + HasConfig),
    org_id: &OrgId,
    import_id: &str,
    budget: Budget,
) -> Result<ImportRecord, ImportError> {
    let table = state.table().as_ref();
    let mut record = get(state, org_id, import_id).await?;
    if record.state == ImportState::Done {
        discard_file(state, org_id, &record).await?;
    }
    if !matches!(record.state, ImportState::Queued | ImportState::Running) {
        return Ok(record);
    }
    // The whole file: parts in order, header dropped.
    let mut rows: Vec<csv::StringRecord> = Vec::new();
    for part in 0..record.parts {
        let object = state
            .objects()
            .get(&part_object_key(org_id, import_id, part))
            .await
            .map_err(|err| ImportError::Objects(err.to_string()))?;
        let Some(object) = object else {
            return fail(state, org_id, &record, "A part of the uploaded file is missing.").await;
        };
        let mut records = match parse_records(&object.bytes) {
            Ok(r) => r,
            Err(_) => return fail(state, org_id, &record, "The uploaded file is no longer readable.").await,
        };
        if part == 0 && !records.is_empty() {
            records.remove(0);
        }
        rows.extend(records);
    }
    if rows.len() as u64 != record.rows_total {
        return fail(state, org_id, &record, "The stored file does not match the upload.").await;
    }
    let org: OrgRecord = from_item(table.get(&org_key(org_id)).await?.ok_or(ImportError::NotFound)?)?;
    let defs = contacts::fields::list(table, org_id).await?;
    let (mapping, import_tags) = (record.mapping.clone(), record.tags.clone());
    let ctx = RowContext {
        mapping: &mapping,
        defs: &defs,
        region: &org.country,
        import_tags: &import_tags,
    };
    // Rows are parsed once per delivery, on first use (a plan that is retried
    // looks at the same rows again).
    let mut parsed: Vec<Option<Parsed>> = vec![None; rows.len()];
    let started_at = record.rows_done;
    let mut attempts = 0;
    let mut rows_per_second: Option<f64> = None;
    // Pipelined: while one group commits (on the store's writing
    // connection), the next is read and planned. Its reads may see the store
    // with or without the committing group, so the plan sees that group
    // through its overlay. If the commit fails, the next plan is dropped (its
    // first checkpoint condition could not hold anyway) and planning restarts
    // from the stored checkpoint.
    let mut planned: Option<Group> = None;
    loop {
        let group = match planned.take() {
            Some(group) => group,
            None => {
                let done_here = record.rows_done.saturating_sub(started_at);
                if !matches!(record.state, ImportState::Queued | ImportState::Running)
                    || record.rows_done >= record.rows_total
                    || budget.exhausted(done_here)
                {
                    break;
                }
                let range = next_range(&record, &budget, started_at, rows_per_second);
                parse_rows(&ctx, &rows, &mut parsed, range.clone());
                let known = match read_known(table, org_id, &parsed[range.clone()], &Known::default()).await {
                    Ok(known) => known,
                    Err(err) => {
                        retry_or_fail(state, org_id, &mut record, &mut attempts, err.into()).await?;
                        continue;
                    }
                };
                let room = match room(state, org_id, Limit::Contacts).await {
                    Ok(room) => room,
                    Err(err) => {
                        retry_or_fail(state, org_id, &mut record, &mut attempts, err.into()).await?;
                        continue;
                    }
                };
                match plan_group(org_id, &record, &parsed[range], known, room, state.clock().now()) {
                    Ok(group) => group,
                    Err(err) => {
                        retry_or_fail(state, org_id, &mut record, &mut attempts, err).await?;
                        continue;
                    }
                }
            }
        };
        // The group after this one: its rows parsed now (mostly done while
        // the last group committed), its reads and plan while this one commits.
        let after = &group.after;
        let done_after = after.rows_done.saturating_sub(started_at);
        let next = if after.rows_done < after.rows_total && !budget.exhausted(done_after) {
            let range = next_range(after, &budget, started_at, rows_per_second);
            parse_rows(&ctx, &rows, &mut parsed, range.clone());
            Some(range)
        } else {
            None
        };
        let rows_in_group = (after.rows_done - record.rows_done) as f64;
        let commit_started = Instant::now();
        let now = state.clock().now();
        let (committed, next_group) = futures::join!(commit_group(table, org_id, group.transactions), async {
            let range = next?;
            // Read beside the commit: each key as it was before the commit or
            // after it, and the committing group's overlay decides for every
            // key that group writes, so either answer plans the same.
            let known = read_known(table, org_id, &parsed[range.clone()], &group.overlay)
                .await
                .ok()?;
            // The limit's room as this group leaves it: the store may not show
            // the committing group's contacts yet.
            let planned = plan_group(
                org_id,
                &group.after,
                &parsed[range.clone()],
                known,
                group.room_after,
                now,
            );
            // The rows of the group after it are parsed now too, not while the
            // store waits for them (a deadline may make that group smaller).
            parse_rows(
                &ctx,
                &rows,
                &mut parsed,
                range.end..(range.end + GROUP_ROWS).min(rows.len()),
            );
            Some(planned)
        });
        match committed {
            Ok(()) => {
                record = group.after;
                attempts = 0;
                rows_per_second = Some(rows_in_group / commit_started.elapsed().as_secs_f64().max(1e-3));
                planned = next_group.and_then(Result::ok);
            }
            Err(PartialCommit { committed, error }) => {
                if committed > 0 {
                    attempts = 0;
                }
                retry_or_fail(state, org_id, &mut record, &mut attempts, error.into()).await?;
            }
        }
    }
    if record.state == ImportState::Done {
        discard_file(state, org_id, &record).await?;
    }
    Ok(record)
}

/// After a failed read or commit: a lost race (another delivery progressed,
/// a contact changed) re-reads the checkpoint for a new plan, up to 5 times
/// in a row; anything else ends the delivery (the message is redelivered).
pub(super) async fn retry_or_fail(
    state: &impl HasTable,
    org_id: &OrgId,
    record: &mut ImportRecord,
    attempts: &mut u32,
    failure: ImportError,
) -> Result<(), ImportError> {
    match failure {
        ImportError::Store(err) if err.is_condition_failure() && *attempts < 5 => {
            *attempts += 1;
            *record = get(state, org_id, &record.id).await?;
            Ok(())
        }
        err => Err(err),
    }
}

/// The rows of the next group: up to [`GROUP_ROWS`], fewer when a deadline
/// must be kept (half the time left at the measured commit speed) or the
/// budget's row limit is near.
pub(super) fn next_range(
    record: &ImportRecord,
    budget: &Budget,
    started_at: u64,
    rows_per_second: Option<f64>,
) -> std::ops::Range<usize> {
    let mut size = match (budget.deadline, rows_per_second) {
        (None, _) => GROUP_ROWS,
        (Some(_), None) => FIRST_GROUP_ROWS,
        (Some(deadline), Some(rate)) => {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
            ((rate * left / 2.0) as usize).clamp(MIN_GROUP_ROWS, GROUP_ROWS)
        }
    };
    if let Some(max) = budget.max_rows {
        let left = max.saturating_sub(record.rows_done.saturating_sub(started_at));
        size = size.min(left.max(1) as usize);
    }
    let start = record.rows_done as usize;
    start..(start + size).min(record.rows_total as usize)
}

pub(super) fn parse_rows(
    ctx: &RowContext<'_>,
    rows: &[csv::StringRecord],
    parsed: &mut [Option<Parsed>],
    range: std::ops::Range<usize>,
) {
    for i in range {
        if parsed[i].is_none() {
            parsed[i] = Some(parse_row(ctx, &rows[i]));
        }
    }
}

pub async fn fail(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    record: &ImportRecord,
    reason: &str,
) -> Result<ImportRecord, ImportError> {
    let now = state.clock().now().to_string();
    let item = state
        .table()
        .update(
            &import_key(org_id, &record.id),
            Update::default()
                .set("state", "failed")
                .set("error", reason)
                .set("finished_at", now.clone())
                .set("updated_at", now),
            Some(Condition::Exists),
        )
        .await?;
    Ok(from_item(item)?)
}
