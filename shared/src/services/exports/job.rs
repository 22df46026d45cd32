//! Export jobs: how an export of any size leaves AWS, where a Lambda answers
//! with at most 6 MB. `POST /contacts/exports` (contacts) and
//! `POST /imports/{id}/errors/exports` (an import's error report) record the
//! job and queue `Job::Export`; the jobs worker writes the file to
//! the object store; `GET /exports/{id}/download` hands it out (a presigned
//! S3 link, or the file itself from the local server).
//!
//! The worker runs in slices (one delivery each, [`SLICE`] or what is left
//! of the delivery's batch). A slice first takes the export's lease
//! ([`LEASE`]), then checkpoints in the job record after every write, each
//! checkpoint conditioned on the record's version:
//! - An export smaller than a part is one `put` of the whole file.
//! - A larger one is a multipart upload with parts of at least
//!   [`MIN_PART_BYTES`] (S3's rule; the last part may be smaller).
//! - Rows that do not fill a part before a slice ends are kept in a staging
//!   object under a new name each time; the checkpoint names the current one.
//!
//! A write always happens before the checkpoint that names it, and a part
//! uploaded again under its number replaces it. So a crashed or redelivered
//! slice resumes from the last checkpoint and writes the same bytes again:
//! no row is lost or repeated. A duplicate delivery finds the lease taken
//! and yields without writing or queuing anything, so one chain of slices
//! runs at a time; the redelivery of a crashed slice finds the lease run out
//! and carries on. Errors no retry mends fail the export, and so does the
//! queue's last try. Columns are fixed when the export starts
//! ([`super::Layout`]), so all parts agree.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Pages, Source};
use crate::ports::object_store::{EXPORTS_EXPIRY, MIN_PART_BYTES};
use crate::ports::{Condition, Key, ObjectError, Query, SortKey, StoreError, UploadedPart, WriteOp};
use crate::ports::{HasClock, HasJobs, HasObjects, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::jobs::{self, Delivery, Job};
use crate::services::records::{from_item, new_id, plausible_id, to_item};

/// One delivery's working time: inside the functions' 15 s timeout with room
/// for the final write, as for imports.
const SLICE: Duration = Duration::from_secs(8);
/// How long an export (record and file) is kept: the object store's expiry
/// rule for `exports/`, which the record's TTL follows.
pub const RETENTION_DAYS: i64 = EXPORTS_EXPIRY.days;
/// How long a download link works.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("not found")]
    NotFound,
    #[error("the export is not finished")]
    NotReady,
    #[error("too many exports running")]
    TooManyRunning,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Objects(#[from] ObjectError),
    #[error("queue: {0}")]
    Queue(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Queued,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub id: String,
    pub state: ExportState,
    pub source: Source,
    pub rows_done: u64,
    /// Bytes written so far (parts and staged rows).
    pub bytes: u64,
    /// Where the next page starts; `None` before the first.
    pub cursor: Option<String>,
    /// Every page has been read; what is left is to finish the file.
    pub pages_done: bool,
    /// The multipart upload, once the file outgrew one part.
    pub upload_id: Option<String>,
    pub parts: Vec<UploadedPart>,
    /// The staging object holding rows not yet in a part, and its size.
    pub staged: Option<String>,
    pub staged_bytes: u64,
    pub created_by: Option<UserId>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// Unix seconds; the store's TTL attribute, so the record goes with the file.
    pub expires_at: i64,
    /// Unix milliseconds until which a delivery holds the export ([`LEASE`]).
    pub lease_until: Option<i64>,
    pub version: u64,
}

impl ExportRecord {
    pub fn file_name(&self) -> String {
        self.source.file_name(Some(&self.id))
    }
    fn object_key(&self, org_id: &OrgId) -> String {
        format!("exports/{org_id}/{}/{}", self.id, self.file_name())
    }
}

/// The objects an export may have left (its file, its staging rows), from
/// its stored item, for the purge of its organization. An unfinished
/// multipart upload is dropped by the bucket's lifecycle rule on `exports/`.
pub fn object_keys(org_id: &OrgId, item: &crate::ports::Item) -> Vec<String> {
    let Ok(record) = crate::services::records::from_item::<ExportRecord>(item.clone()) else {
        return Vec::new();
    };
    let mut keys = vec![record.object_key(org_id)];
    keys.extend(record.staged.clone());
    keys
}

pub fn export_key(org_id: &OrgId, export_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("EXPORT#{export_id}"))
}

fn staging_key(org_id: &OrgId, export_id: &str) -> String {
    format!("exports/{org_id}/{export_id}/staging-{}", new_id())
}

/// Records an export of `source` and queues its job.
pub async fn create(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    source: Source,
) -> Result<ExportRecord, ExportError> {
    let org_id = &actor.org_id;
    if running(state, org_id).await? >= MAX_RUNNING_PER_ORG {
        return Err(ExportError::TooManyRunning);
    }
    let now = state.clock().now();
    let id = new_id();
    let record = ExportRecord {
        id: id.clone(),
        state: ExportState::Queued,
        source,
        rows_done: 0,
        bytes: 0,
        cursor: None,
        pages_done: false,
        upload_id: None,
        parts: Vec::new(),
        staged: None,
        staged_bytes: 0,
        created_by: actor.user_id.clone(),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        finished_at: None,
        error: None,
        expires_at: now.as_second() + RETENTION_DAYS * 86_400,
        lease_until: None,
        version: 1,
    };
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&export_key(org_id, &id), &record, &[])?,
                condition: Some(Condition::NotExists),
            },
            audit::entry(
                actor,
                now,
                match record.source {
                    Source::Contacts { .. } => "contacts.export",
                    Source::ImportErrors { .. } => "import.errors_export",
                },
                &format!("export:{id}"),
                audit_detail(&record.source),
            ),
        ])
        .await?;
    if let Err(err) = queue_job(state, org_id, &id).await {
        // Never leave a job that nobody will run looking queued.
        let _ = fail(
            state,
            org_id,
            record.clone(),
            "The export could not be queued; start it again.",
        )
        .await;
        return Err(err);
    }
    Ok(record)
}

/// How many exports an organization may have queued or running at once:
/// each reads every contact it selects. It bounds load, not correctness, so
/// requests racing each other may overshoot it by a few.
pub const MAX_RUNNING_PER_ORG: usize = 3;

/// The organization's exports still queued or running (one query: the
/// exports of the last [`RETENTION_DAYS`]).
async fn running(state: &impl HasTable, org_id: &OrgId) -> Result<usize, ExportError> {
    let mut count = 0;
    let mut cursor = None;
    loop {
        let page = state
            .table()
            .query(
                &Query::partition(format!("ORG#{org_id}"))
                    .sort(SortKey::BeginsWith("EXPORT#".into()))
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            let record: ExportRecord = from_item(item)?;
            count += usize::from(record.state.is_active());
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(count),
        }
    }
}

/// What the audit log keeps of an export: its kind and selection, no rows.
pub(super) fn audit_detail(source: &Source) -> serde_json::Value {
    match source {
        Source::Contacts { filter, layout } => json!({ "format": layout.format, "filter": filter }),
        Source::ImportErrors { import_id } => json!({ "import_id": import_id }),
    }
}

async fn queue_job(state: &impl HasJobs, org_id: &OrgId, export_id: &str) -> Result<(), ExportError> {
    jobs::enqueue(
        state,
        &[Job::Export {
            org_id: org_id.clone(),
            export_id: export_id.to_string(),
        }],
    )
    .await
    .map_err(|err| ExportError::Queue(err.to_string()))
}

/// The export, if it is this organization's and has not expired.
pub async fn get(state: &impl HasTable, org_id: &OrgId, export_id: &str) -> Result<ExportRecord, ExportError> {
    if !plausible_id(export_id) {
        return Err(ExportError::NotFound);
    }
    match state.table().get(&export_key(org_id, export_id)).await? {
        Some(item) => Ok(from_item(item)?),
        None => Err(ExportError::NotFound),
    }
}

/// The organization's newest exports, newest first (ids are time-ordered):
/// one query.
pub async fn recent(state: &impl HasTable, org_id: &OrgId, limit: u32) -> Result<Vec<ExportRecord>, ExportError> {
    let page = state
        .table()
        .query(
            &Query::partition(format!("ORG#{org_id}"))
                .sort(SortKey::BeginsWith("EXPORT#".into()))
                .reverse()
                .limit(limit),
        )
        .await?;
    Ok(page.items.into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?)
}

/// How a finished export reaches the client.
pub enum Download {
    /// A link straight to the file (S3), valid for [`LINK_TTL`].
    Link(String),
    /// The file itself, for the app to send (local store).
    File(crate::ports::ObjectReader),
}

pub async fn download(
    state: &(impl HasTable + HasObjects),
    org_id: &OrgId,
    export_id: &str,
) -> Result<(ExportRecord, Download), ExportError> {
    let record = get(state, org_id, export_id).await?;
    if record.state != ExportState::Done {
        return Err(ExportError::NotReady);
    }
    let key = record.object_key(org_id);
    if let Some(url) = state
        .objects()
        .download_url(&key, &record.file_name(), LINK_TTL)
        .await?
    {
        return Ok((record, Download::Link(url)));
    }
    match state.objects().open(&key).await? {
        Some(reader) => Ok((record, Download::File(reader))),
        // The file outlived by its record only until the retention sweep.
        None => Err(ExportError::NotFound),
    }
}

/// Records in the audit log that `actor` is being handed a finished
/// export (the file, or a link to it), before the response goes out.
pub async fn record_download(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    record: &ExportRecord,
) -> Result<(), ExportError> {
    let entry = audit::entry(
        actor,
        state.clock().now(),
        "export.downloaded",
        &format!("export:{}", record.id),
        json!({"file_name": record.file_name(), "rows": record.rows_done, "bytes": record.bytes}),
    );
    Ok(state.table().transact(vec![entry]).await?)
}

/// How long a delivery holds an export: longer than a slice can run (the
/// functions' timeout), shorter than the bulk queue's visibility timeout, so
/// the redelivery of a crashed slice finds the export free again.
pub const LEASE: Duration = Duration::from_secs(30);

/// What one call of [`process`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// This call held the export and worked on it (or found it finished).
    Worked,
    /// Another delivery holds the export or took it over meanwhile; that
    /// one carries on and queues what comes next.
    Yielded,
}

/// One delivery of the job: a slice of work within the delivery's time,
/// then the next slice queued if this delivery held the export and it is
/// not finished. A duplicate delivery yields and queues nothing, so
/// redeliveries never start a second chain of slices.
pub async fn run_job(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    org_id: &OrgId,
    export_id: &str,
    delivery: &Delivery,
) -> Result<(), ExportError> {
    let budget = Budget {
        part_bytes: MIN_PART_BYTES,
        deadline: Some(delivery.deadline.min(Instant::now() + SLICE)),
        max_pages: None,
    };
    let result = match process(state, org_id, export_id, budget).await {
        Ok((record, Turn::Worked)) if record.state.is_active() => queue_job(state, org_id, export_id).await,
        Ok(_) => Ok(()),
        Err(err) => Err(err),
    };
    match result {
        Err(err) if delivery.last_attempt && !matches!(err, ExportError::NotFound) => {
            // The queue gives up on this message: an export still running
            // says so rather than run for ever (a finished one stays done).
            let record = get(state, org_id, export_id).await?;
            if record.state.is_active() {
                fail(
                    state,
                    org_id,
                    record,
                    "The export could not be finished; start it again.",
                )
                .await?;
            }
            Err(err)
        }
        other => other,
    }
}

/// How much one call of [`process`] may do.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Size at which rows become a part (at least [`MIN_PART_BYTES`] on S3).
    pub part_bytes: usize,
    pub deadline: Option<Instant>,
    /// Pages to read before stopping (tests stop mid-way with it).
    pub max_pages: Option<u32>,
}

impl Budget {
    pub const UNLIMITED: Budget = Budget {
        part_bytes: MIN_PART_BYTES,
        deadline: None,
        max_pages: None,
    };

    fn spent(&self, pages: u32) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d) || self.max_pages.is_some_and(|max| pages >= max)
    }
}

impl ExportState {
    pub fn is_active(self) -> bool {
        matches!(self, ExportState::Queued | ExportState::Running)
    }
}

impl ExportError {
    /// Errors that no retry mends: the export fails instead.
    fn is_permanent(&self) -> bool {
        matches!(
            self,
            ExportError::Store(StoreError::Invalid(_) | StoreError::InvalidCursor)
                | ExportError::Objects(ObjectError::InvalidKey | ObjectError::InvalidPart(_))
        )
    }
}

/// Works on the export from its checkpoint until it is finished or the
/// budget is spent, holding it under a lease; returns the export as it then
/// is and whether this call did the work.
pub async fn process(
    state: &(impl HasTable + HasClock + HasObjects),
    org_id: &OrgId,
    export_id: &str,
    budget: Budget,
) -> Result<(ExportRecord, Turn), ExportError> {
    let record = get(state, org_id, export_id).await?;
    if !record.state.is_active() {
        return Ok((record, Turn::Worked));
    }
    let Some(mut record) = claim(state, org_id, record).await? else {
        return Ok((get(state, org_id, export_id).await?, Turn::Yielded));
    };
    match work(state, org_id, &mut record, budget).await {
        Ok(turn) => Ok((record, turn)),
        Err(err) if err.is_permanent() => {
            tracing::error!(export_id, error = %err, "export failed");
            let failed = fail(
                state,
                org_id,
                record,
                "The export could not be written; start it again.",
            )
            .await?;
            Ok((failed, Turn::Worked))
        }
        // Worth another delivery: the lease lapses and the redelivery resumes.
        Err(err) => Err(err),
    }
}

/// Takes the lease of an export nobody holds (or whose holder's lease ran
/// out): `None` when another delivery holds it.
async fn claim(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    mut record: ExportRecord,
) -> Result<Option<ExportRecord>, ExportError> {
    let now = state.clock().now();
    if record.lease_until.is_some_and(|until| until > now.as_millisecond()) {
        return Ok(None);
    }
    let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
    record.lease_until = Some(now.as_millisecond().saturating_add(lease));
    record.state = ExportState::Running;
    Ok(match checkpoint(state, org_id, &mut record).await? {
        Saved::Yes => Some(record),
        Saved::Overtaken => None,
    })
}

/// The work of one slice on a claimed export.
async fn work(
    state: &(impl HasTable + HasClock + HasObjects),
    org_id: &OrgId,
    record: &mut ExportRecord,
    budget: Budget,
) -> Result<Turn, ExportError> {
    let file_key = record.object_key(org_id);
    let content_type = record.source.format().content_type();
    // The rows carried over from the last slice, or the file's first bytes.
    let mut buffer = match &record.staged {
        Some(staged) => match state.objects().get(staged).await? {
            Some(object) if object.bytes.len() as u64 == record.staged_bytes => object.bytes,
            // Under the lease nobody else discards it: it is truly gone.
            _ => {
                return Err(ExportError::Objects(ObjectError::InvalidPart(
                    "staged rows are missing".into(),
                )));
            }
        },
        None if record.cursor.is_none() && record.parts.is_empty() && !record.pages_done => record.source.preamble()?,
        None => Vec::new(),
    };
    let mut pages = Pages {
        source: record.source.clone(),
        cursor: record.cursor.clone(),
        finished: record.pages_done,
    };
    let mut pages_read = 0;
    loop {
        let mut rows = 0;
        while buffer.len() < budget.part_bytes && !pages.finished && !budget.spent(pages_read) {
            rows += pages.next_into(state, org_id, &mut buffer).await?;
            pages_read += 1;
        }
        let read_more = rows > 0 || pages.cursor != record.cursor || pages.finished != record.pages_done;
        record.cursor = pages.cursor.clone();
        record.pages_done = pages.finished;
        record.rows_done += rows;
        // The staging object these rows came from; unused once they are written elsewhere.
        let consumed = record.staged.take();

        if pages.finished && record.parts.is_empty() && record.upload_id.is_none() {
            // The whole export fits one part: one plain write.
            record.bytes = buffer.len() as u64;
            state
                .objects()
                .put(&file_key, std::mem::take(&mut buffer), content_type)
                .await?;
            return finish(state, org_id, record, consumed).await;
        }

        if buffer.len() >= budget.part_bytes || pages.finished {
            // A new upload is recorded by the checkpoint after its first part;
            // one left behind by a crash is dropped by the lifecycle rule.
            let upload_id = match record.upload_id.clone() {
                Some(id) => id,
                None => state.objects().start_upload(&file_key, content_type).await?,
            };
            record.upload_id = Some(upload_id.clone());
            if !buffer.is_empty() || record.parts.is_empty() {
                let number = record.parts.len() as u32 + 1;
                let size = buffer.len() as u64;
                match state
                    .objects()
                    .upload_part(&file_key, &upload_id, number, std::mem::take(&mut buffer))
                    .await
                {
                    Ok(part) => record.parts.push(part),
                    Err(ObjectError::NoSuchUpload) => {
                        return completed_before(state, org_id, record, &file_key, consumed).await;
                    }
                    Err(err) => return Err(err.into()),
                }
                record.bytes = record.bytes.saturating_sub(record.staged_bytes) + size;
                record.staged_bytes = 0;
            }
            if pages.finished {
                match state
                    .objects()
                    .complete_upload(&file_key, &upload_id, &record.parts)
                    .await
                {
                    Ok(()) => return finish(state, org_id, record, consumed).await,
                    Err(ObjectError::NoSuchUpload) => {
                        return completed_before(state, org_id, record, &file_key, consumed).await;
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            if checkpoint(state, org_id, record).await? == Saved::Overtaken {
                return Ok(Turn::Yielded);
            }
            discard(state, consumed).await?;
            continue;
        }

        // Out of budget with less than a part: keep the rows for the next
        // slice, under a new name so the last checkpoint's stay intact.
        if read_more {
            let staged = staging_key(org_id, &record.id);
            let size = buffer.len() as u64;
            state
                .objects()
                .put(&staged, std::mem::take(&mut buffer), "application/octet-stream")
                .await?;
            record.bytes = record.bytes.saturating_sub(record.staged_bytes) + size;
            record.staged_bytes = size;
            record.staged = Some(staged);
        } else {
            record.staged = consumed.clone();
        }
        // The slice ends: the lease goes, so the next slice's delivery starts at once.
        record.lease_until = None;
        if checkpoint(state, org_id, record).await? == Saved::Overtaken {
            return Ok(Turn::Yielded);
        }
        if read_more {
            discard(state, consumed).await?;
        }
        return Ok(Turn::Worked);
    }
}

/// Removes a staging object nothing refers to any more.
async fn discard(state: &impl HasObjects, staged: Option<String>) -> Result<(), ExportError> {
    if let Some(key) = staged {
        state.objects().delete(&key).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Saved {
    Yes,
    /// The record changed since it was read: another delivery took the
    /// export over (its lease having run out), and this one must stop.
    Overtaken,
}

/// Saves the record if nobody else has since it was read.
async fn checkpoint(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    record: &mut ExportRecord,
) -> Result<Saved, ExportError> {
    let read_version = record.version;
    record.version += 1;
    record.updated_at = state.clock().now().to_string();
    let item = to_item(&export_key(org_id, &record.id), &*record, &[])?;
    match state
        .table()
        .put(item, Some(Condition::VersionEquals(read_version)))
        .await
    {
        Ok(()) => Ok(Saved::Yes),
        Err(StoreError::ConditionFailed) => Ok(Saved::Overtaken),
        Err(err) => Err(err.into()),
    }
}

/// Marks the export done; `consumed` is the staging object its last write used.
async fn finish(
    state: &(impl HasTable + HasClock + HasObjects),
    org_id: &OrgId,
    record: &mut ExportRecord,
    consumed: Option<String>,
) -> Result<Turn, ExportError> {
    record.state = ExportState::Done;
    record.finished_at = Some(state.clock().now().to_string());
    record.staged = None;
    record.staged_bytes = 0;
    record.upload_id = None;
    record.lease_until = None;
    if checkpoint(state, org_id, record).await? == Saved::Overtaken {
        return Ok(Turn::Yielded);
    }
    discard(state, consumed).await?;
    Ok(Turn::Worked)
}

/// The upload is gone although the record names it: completed by an
/// earlier delivery whose last checkpoint was lost (the file is there), or
/// dropped as abandoned (it is not, and the export starts over).
async fn completed_before(
    state: &(impl HasTable + HasClock + HasObjects),
    org_id: &OrgId,
    record: &mut ExportRecord,
    file_key: &str,
    consumed: Option<String>,
) -> Result<Turn, ExportError> {
    match state.objects().open(file_key).await? {
        Some(file) => {
            record.bytes = file.length;
            record.pages_done = true;
            record.cursor = None;
            finish(state, org_id, record, consumed).await
        }
        None => {
            tracing::warn!(export_id = %record.id, "export upload vanished; starting over");
            restart(state, org_id, record, consumed).await
        }
    }
}

/// Back to the first page with a fresh file; the job carries on.
async fn restart(
    state: &(impl HasTable + HasClock + HasObjects),
    org_id: &OrgId,
    record: &mut ExportRecord,
    consumed: Option<String>,
) -> Result<Turn, ExportError> {
    record.rows_done = 0;
    record.bytes = 0;
    record.cursor = None;
    record.pages_done = false;
    record.upload_id = None;
    record.parts.clear();
    record.staged = None;
    record.staged_bytes = 0;
    record.lease_until = None;
    if checkpoint(state, org_id, record).await? == Saved::Overtaken {
        return Ok(Turn::Yielded);
    }
    discard(state, consumed).await?;
    Ok(Turn::Worked)
}

/// Ends the export as failed with `reason` for its owner; its unfinished
/// upload is dropped once the failure is recorded.
async fn fail(
    state: &(impl HasTable + HasClock + HasObjects),
    org_id: &OrgId,
    mut record: ExportRecord,
    reason: &str,
) -> Result<ExportRecord, ExportError> {
    let upload_id = record.upload_id.take();
    record.state = ExportState::Failed;
    record.error = Some(reason.to_string());
    record.finished_at = Some(state.clock().now().to_string());
    record.lease_until = None;
    if checkpoint(state, org_id, &mut record).await? == Saved::Overtaken {
        return get(state, org_id, &record.id).await;
    }
    if let Some(upload_id) = upload_id
        && let Err(err) = state
            .objects()
            .abort_upload(&record.object_key(org_id), &upload_id)
            .await
    {
        // The lifecycle rule drops it within a day.
        tracing::warn!(export_id = %record.id, error = %err, "could not abort a failed export's upload");
    }
    Ok(record)
}
