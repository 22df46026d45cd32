//! CSV import of contacts: upload, column mapping, per-row validation with an
//! error report, dedupe by email/phone (update or skip), tags for every
//! imported contact; run as a background job in checkpointed chunks.
//!
//! ## Upload (bodies are limited to 1 MiB by the HTTP pipeline)
//!
//! `POST /imports/contacts` takes the CSV (header row first) as the raw body
//! or inside a JSON body, stores it through the `ObjectStore` as part 0 and
//! queues the job. A file larger than 1 MiB (100,000 rows are ~6-10 MB) is
//! sent in parts: the first request says `more_parts=true` (the import stays
//! `uploading`), each `POST /imports/{id}/parts` appends the next ≤ 1 MiB
//! slice of rows (cut at a line end, no header), and the one with `last=true`
//! queues the job. The limit is not raised for this route on purpose: API
//! Gateway and Lambda cap payloads at 10 MB / 6 MB anyway, and a part is
//! checked, counted and stored before the next arrives.
//!
//! ## Processing (crash-safe, idempotent)
//!
//! The job reads the parts, skips the first `rows_done` rows and handles the
//! rest in chunks. Each chunk's contacts (the contacts core's full write
//! plan), its error rows and the checkpoint (`rows_done` += n, counters +=
//! ...) are ONE transaction, conditioned on `rows_done` still being the value
//! the chunk started from. A worker that dies mid-way leaves either the whole
//! chunk or none of it; the redelivered message resumes from the checkpoint.
//! Chunks are planned a group of rows at a time (one read of their claims)
//! and committed in order with `Table::transact_in_order`, which on SQLite
//! makes the group one durable commit. A second
//! copy of the message running at once loses the condition and re-reads.
//! Re-running the same file changes nothing: every row then matches its
//! contact (see Identity), and an update that changes no value writes nothing
//! (counted as skipped). Rows need an email, a phone or an id for this reason.
//!
//! ## Identity: which contact a row is
//!
//! A row is matched by every identity it carries, and all must agree on one
//! contact (else the row fails `matches_two_contacts`):
//! - its emails and phones, claimed per organization;
//! - its `id` column (a Konnecs export has one; another system's record id
//!   maps to it too). Contact ids are per organization, so an id names a
//!   contact here in two ways: the organization's own contact with that id
//!   (the file was exported from here), or the contact an earlier import
//!   created from, or linked to, that id, which it keeps as an import key
//!   ([`ContactRecord::import_keys`], claimed like an email).
//!
//! A row that matches nothing creates a contact, which keeps the row's id as
//! its import key; in update mode a contact matched by email or phone gains
//! it. So an organization's export imports into a new organization whole,
//! contacts with neither email nor phone included, and importing the same
//! file again finds every contact instead of duplicating it. The new
//! organization gives the contacts new ids (its export shows those) and its
//! own creation times; custom fields come across where it defines the same
//! keys.
//!
//! On a backend that limits each partition key (DynamoDB), the chunk
//! transactions go one at a time, spaced by [`paced_seconds`] so that no key
//! (the organization's search partition above all) gets more than
//! [`PARTITION_SHARE`] of what DynamoDB serves it: a few dozen rows a second
//! for typical rows, so the organization's other writes keep working. The
//! spacing is reserved on the organization's pace item ([`pace_key`]), so
//! two imports of one organization share that share.
//!
//! Keys: import `ORG#<org>` / `IMPORT#<id>`; failed rows
//! `ORG#<org>#IMPORT#<id>#ERRORS` / `<row:09>`; the organization's import
//! pace `ORG#<org>#IMPORTPACE` / `PACE`; file parts in the object store
//! at `imports/<org>/<id>/part-<n:05>.csv`.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::records::{from_item, plausible_id};
use crate::domain::input::FieldError;
use crate::ports::{HasJobs, HasObjects, HasTable};
use crate::ports::{Key, Query, StoreError};
use crate::services::jobs::{self, Job};

mod job;
mod mapping;
mod pace;
mod plan;
mod rows;
mod upload;
mod wizard;

pub use job::{Budget, fail, give_up, process, run_job};
pub use mapping::{build_mapping, detect_target};
pub(crate) use pace::reserve as reserve_pace;
pub use pace::{PARTITION_SHARE, pace_key, paced_seconds};
pub use rows::read_file;
pub use upload::{ImportOptions, append_part, create};
pub use wizard::{Preview, TARGETS, preview, remembered_mapping, start, upload};

/// Most data rows one import may hold.
pub const MAX_ROWS: u64 = 100_000;
/// Most parts (1 MiB each) one import may be uploaded in.
pub const MAX_PARTS: u32 = 64;
/// How long one job delivery works before handing over to a fresh message:
/// well inside the functions' 15 s timeout (`infra`, FUNCTION_TIMEOUT_SECONDS)
/// with room for the rest of the batch, so an import never times a Lambda
/// out, never burns receive counts and never races its own redelivery.
const SLICE: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("object store: {0}")]
    Objects(String),
    #[error("queue: {0}")]
    Queue(String),
}

fn invalid(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> ImportError {
    ImportError::Invalid(vec![FieldError::new(field, code, message)])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DedupeMode {
    /// A row matching a contact by email or phone updates it (row values win, tags add).
    Update,
    /// A matching row is left alone.
    #[default]
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    Uploading,
    Queued,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColumnMap {
    pub column: usize,
    pub header: String,
    /// `id`, `first_name`, `last_name`, `name`, `email`, `phone`, `company`,
    /// `tags`, `source`, `address.<part>`, `custom.<key>` or `ignore`.
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub id: String,
    pub state: ImportState,
    pub mode: DedupeMode,
    /// Applied to every imported (created or updated) contact.
    pub tags: Vec<String>,
    pub mapping: Vec<ColumnMap>,
    pub parts: u32,
    pub rows_total: u64,
    pub rows_done: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub created_by: Option<UserId>,
    /// Set when the rows are a member's Google contacts, read page by page
    /// into the parts instead of uploaded (`services::google::contacts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google: Option<GoogleSource>,
    /// Whether the end of the import has its audit entry (written once,
    /// by the delivery that moves this from false).
    #[serde(default)]
    pub finish_audited: bool,
}

/// Where a Google contacts import is in reading the member's contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleSource {
    /// Whose Google contacts: the member who started the import.
    pub user_id: UserId,
    /// The People API's token of the next page to read (none before the
    /// first page and after the last).
    #[serde(default)]
    pub next_page_token: Option<String>,
    pub pages_read: u32,
}

pub fn import_key(org_id: &OrgId, import_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("IMPORT#{import_id}"))
}
pub fn errors_partition(org_id: &OrgId, import_id: &str) -> String {
    format!("ORG#{org_id}#IMPORT#{import_id}#ERRORS")
}
pub fn part_object_key(org_id: &OrgId, import_id: &str, part: u32) -> String {
    format!("imports/{org_id}/{import_id}/part-{part:05}.csv")
}

pub async fn get(state: &impl HasTable, org_id: &OrgId, import_id: &str) -> Result<ImportRecord, ImportError> {
    if !plausible_id(import_id) {
        return Err(ImportError::NotFound);
    }
    match state.table().get(&import_key(org_id, import_id)).await? {
        Some(item) => Ok(from_item(item)?),
        None => Err(ImportError::NotFound),
    }
}

/// The organization's newest imports, newest first (ids are time-ordered):
/// one query.
pub async fn recent(state: &impl HasTable, org_id: &OrgId, limit: u32) -> Result<Vec<ImportRecord>, ImportError> {
    let page = state
        .table()
        .query(
            &Query::partition(format!("ORG#{org_id}"))
                .sort(crate::ports::SortKey::BeginsWith("IMPORT#".into()))
                .reverse()
                .limit(limit),
        )
        .await?;
    Ok(page.items.into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?)
}

/// One page of an import's failed rows, by row number: (row, field, reason, message).
pub async fn error_rows(
    state: &impl HasTable,
    org_id: &OrgId,
    import_id: &str,
    cursor: Option<String>,
) -> Result<(Vec<(u64, String, String, String)>, Option<String>), StoreError> {
    let page = state
        .table()
        .query(
            &Query::partition(errors_partition(org_id, import_id))
                .limit(500)
                .after(cursor),
        )
        .await?;
    let mut out = Vec::new();
    for item in &page.items {
        let row = item.get("row").and_then(Value::as_u64).unwrap_or_default();
        for problem in item.get("errors").and_then(Value::as_array).into_iter().flatten() {
            let text = |name: &str| {
                problem
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            out.push((row, text("field"), text("reason"), text("message")));
        }
    }
    Ok((out, page.cursor))
}

pub(crate) async fn queue_job(state: &impl HasJobs, org_id: &OrgId, import_id: &str) -> Result<(), ImportError> {
    jobs::enqueue(
        state,
        &[Job::ImportContacts {
            org_id: org_id.clone(),
            import_id: import_id.to_string(),
        }],
    )
    .await
    .map_err(|err| ImportError::Queue(err.to_string()))
}

/// The uploaded file holds personal data: it goes once every row is in.
pub(crate) async fn discard_file(
    state: &impl HasObjects,
    org_id: &OrgId,
    record: &ImportRecord,
) -> Result<(), ImportError> {
    for part in 0..record.parts {
        state
            .objects()
            .delete(&part_object_key(org_id, &record.id, part))
            .await
            .map_err(|err| ImportError::Objects(err.to_string()))?;
    }
    Ok(())
}
