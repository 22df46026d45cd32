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
//! Keys: import `ORG#<org>` / `IMPORT#<id>`; failed rows
//! `ORG#<org>#IMPORT#<id>#ERRORS` / `<row:09>`; file parts in the object store
//! at `imports/<org>/<id>/part-<n:05>.csv`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::audit::{self, Actor};
use super::contact_links::{self, apply_custom_fields, email_claim, import_key_claim, phone_claim};
use super::contacts::fields::{FieldDef, FieldType};
use super::contacts::{self, Address, ContactEmail, ContactPhone, ContactRecord};
use super::jobs::{self, Delivery, Job};
use super::records::{OrgRecord, from_item, new_id, org_key, plausible_id, to_item};
use crate::domain::email::Email;
use crate::domain::phone::Phone;
use crate::domain::spreadsheet::unescape_formula;
use crate::ports::{Condition, Key, PartialCommit, Query, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasJobs, HasObjects, HasTable};

/// Most data rows one import may hold.
pub const MAX_ROWS: u64 = 100_000;
/// Most parts (1 MiB each) one import may be uploaded in.
pub const MAX_PARTS: u32 = 64;
/// How long one job delivery works before handing over to a fresh message:
/// well inside the functions' 15 s timeout (`infra`, FUNCTION_TIMEOUT_SECONDS)
/// with room for the rest of the batch, so an import never times a Lambda
/// out, never burns receive counts and never races its own redelivery.
const SLICE: Duration = Duration::from_secs(8);

pub type FieldProblem = (String, &'static str, String);

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("invalid input")]
    Invalid(Vec<FieldProblem>),
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
    ImportError::Invalid(vec![(field.into(), code, message.into())])
}

// ---------------------------------------------------------------- records

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DedupeMode {
    /// A row matching a contact by email or phone updates it (row values win, tags add).
    Update,
    /// A matching row is left alone.
    #[default]
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    Uploading,
    Queued,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub created_by: Option<String>,
}

pub fn import_key(org_id: &str, import_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("IMPORT#{import_id}"))
}
pub fn errors_partition(org_id: &str, import_id: &str) -> String {
    format!("ORG#{org_id}#IMPORT#{import_id}#ERRORS")
}
pub fn part_object_key(org_id: &str, import_id: &str, part: u32) -> String {
    format!("imports/{org_id}/{import_id}/part-{part:05}.csv")
}

// ---------------------------------------------------------------- mapping

const ADDRESS_PARTS: [&str; 6] = ["line1", "line2", "city", "region", "postal_code", "country"];

/// Lower-case letters and digits only: `"E-mail Address"` → `"emailaddress"`.
fn squash(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// The target a header maps to by itself (`ignore` when nothing fits).
pub fn detect_target(header: &str, custom_keys: &[String]) -> String {
    let trimmed = header.trim();
    if let Some(key) = trimmed.strip_prefix("custom.")
        && custom_keys.iter().any(|k| k == key)
    {
        return format!("custom.{key}");
    }
    for key in custom_keys {
        if key.eq_ignore_ascii_case(trimmed) || squash(key) == squash(trimmed) {
            return format!("custom.{key}");
        }
    }
    let squashed = squash(trimmed);
    let target = match squashed.as_str() {
        "firstname" | "first" | "givenname" | "forename" | "fname" => "first_name",
        "lastname" | "last" | "surname" | "familyname" | "lname" => "last_name",
        "name" | "fullname" | "contactname" | "contact" | "displayname" => "name",
        "email" | "emailaddress" | "mail" | "emails" | "primaryemail" | "workemail" | "personalemail" | "email1"
        | "email2" | "otheremail" | "otheremails" => "email",
        "phone" | "phonenumber" | "phones" | "mobile" | "mobilephone" | "mobilenumber" | "cell" | "cellphone"
        | "telephone" | "tel" | "workphone" | "homephone" | "phone1" | "phone2" => "phone",
        "company" | "companyname" | "organization" | "organisation" | "business" | "account" | "employer" => "company",
        "tags" | "tag" | "labels" | "label" => "tags",
        "id" | "contactid" | "recordid" | "externalid" | "importkey" => "id",
        "source" | "leadsource" => "source",
        "address" | "address1" | "addressline1" | "street" | "streetaddress" | "addressline1street" => "address.line1",
        "address2" | "addressline2" => "address.line2",
        "city" | "town" | "addresscity" => "address.city",
        "state" | "region" | "province" | "county" | "addressregion" | "addressstate" => "address.region",
        "zip" | "zipcode" | "postalcode" | "postcode" | "addresspostalcode" => "address.postal_code",
        "country" | "addresscountry" => "address.country",
        _ => "ignore",
    };
    target.to_string()
}

fn valid_target(target: &str, custom_keys: &[String]) -> bool {
    match target {
        "id" | "first_name" | "last_name" | "name" | "email" | "phone" | "company" | "tags" | "source" | "ignore" => {
            true
        }
        other => {
            if let Some(part) = other.strip_prefix("address.") {
                ADDRESS_PARTS.contains(&part)
            } else if let Some(key) = other.strip_prefix("custom.") {
                custom_keys.iter().any(|k| k == key)
            } else {
                false
            }
        }
    }
}

/// Auto-detected mapping of every column, with the caller's overrides
/// (header → target, header matched case-insensitively) applied.
pub fn build_mapping(
    headers: &[String],
    custom_keys: &[String],
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<ColumnMap>, ImportError> {
    let mut errors = Vec::new();
    let mut mapping: Vec<ColumnMap> = headers
        .iter()
        .enumerate()
        .map(|(column, header)| ColumnMap {
            column,
            header: header.clone(),
            target: detect_target(header, custom_keys),
        })
        .collect();
    for (header, target) in overrides {
        let target = target.trim();
        if !valid_target(target, custom_keys) {
            errors.push((
                format!("mapping.{header}"),
                "unknown_target",
                "Map to id, first_name, last_name, name, email, phone, company, tags, source, address.<part>, custom.<key> or ignore.".into(),
            ));
            continue;
        }
        let mut found = false;
        for column in mapping
            .iter_mut()
            .filter(|c| c.header.trim().eq_ignore_ascii_case(header.trim()))
        {
            column.target = target.to_string();
            found = true;
        }
        if !found {
            errors.push((
                format!("mapping.{header}"),
                "unknown_column",
                "The file has no column with this header.".into(),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    if !mapping
        .iter()
        .any(|c| ["email", "phone", "id"].contains(&c.target.as_str()))
    {
        return Err(invalid(
            "mapping",
            "no_identity_column",
            "Map at least one column to email, phone or id: rows are matched to contacts by them.",
        ));
    }
    Ok(mapping)
}

// ---------------------------------------------------------------- CSV parts

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes)
}

/// Every record of a part (the header too, for part 0); unreadable CSV is a 422.
fn parse_records(bytes: &[u8]) -> Result<Vec<csv::StringRecord>, ImportError> {
    let mut out = Vec::new();
    for (i, record) in reader(bytes).records().enumerate() {
        match record {
            Ok(record) => {
                if record.iter().all(str::is_empty) {
                    continue; // blank line
                }
                out.push(record);
            }
            Err(err) => {
                return Err(invalid(
                    "file",
                    "unreadable_csv",
                    format!("Record {} is not valid UTF-8 CSV: {err}", i + 1),
                ));
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- upload

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub mode: DedupeMode,
    pub tags: Vec<String>,
    /// header → target
    pub mapping: BTreeMap<String, String>,
    /// More parts follow (`POST /imports/{id}/parts`).
    pub more_parts: bool,
}

async fn put_part(
    state: &impl HasObjects,
    org_id: &str,
    import_id: &str,
    part: u32,
    bytes: Vec<u8>,
) -> Result<(), ImportError> {
    state
        .objects()
        .put(&part_object_key(org_id, import_id, part), bytes, "text/csv")
        .await
        .map_err(|err| ImportError::Objects(err.to_string()))
}

async fn queue_job(state: &impl HasJobs, org_id: &str, import_id: &str) -> Result<(), ImportError> {
    jobs::enqueue(
        state.jobs().as_ref(),
        &[Job::ImportContacts {
            org_id: org_id.to_string(),
            import_id: import_id.to_string(),
        }],
    )
    .await
    .map_err(|err| ImportError::Queue(err.to_string()))
}

/// Starts an import from the first (or only) part of the file.
pub async fn create(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    csv: Vec<u8>,
    options: ImportOptions,
) -> Result<ImportRecord, ImportError> {
    let org_id = &actor.org_id;
    let mut records = parse_records(&csv)?;
    if records.is_empty() {
        return Err(invalid("file", "empty", "The file has no header row."));
    }
    let headers: Vec<String> = records.remove(0).iter().map(str::to_string).collect();
    let rows = records.len() as u64;
    if rows > MAX_ROWS {
        return Err(invalid(
            "file",
            "too_many_rows",
            format!("Import at most {MAX_ROWS} rows at once."),
        ));
    }
    let defs = contact_links::field_defs(state.table().as_ref(), org_id).await?;
    let keys: Vec<String> = defs.iter().map(|d| d.key.clone()).collect();
    let mapping = build_mapping(&headers, &keys, &options.mapping)?;
    let mut tags = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in options.tags.iter().enumerate() {
        match contact_links::normalize_tag(raw) {
            Ok(tag) if !tags.contains(&tag) => tags.push(tag),
            Ok(_) => {}
            Err(code) => errors.push((
                format!("tags[{i}]"),
                code,
                "A tag has 1 to 50 characters and no '#'.".to_string(),
            )),
        }
    }
    if tags.len() > 5 {
        errors.push(("tags".into(), "too_many", "Apply at most 5 tags to an import.".into()));
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    let now = state.clock().now();
    let id = new_id();
    let state_now = if options.more_parts {
        ImportState::Uploading
    } else if rows == 0 {
        ImportState::Done
    } else {
        ImportState::Queued
    };
    let record = ImportRecord {
        id: id.clone(),
        state: state_now,
        mode: options.mode,
        tags,
        mapping,
        parts: 1,
        rows_total: rows,
        rows_done: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        finished_at: (state_now == ImportState::Done).then(|| now.to_string()),
        error: None,
        created_by: actor.user_id.clone(),
    };
    if record.state != ImportState::Done {
        put_part(state, org_id, &id, 0, csv).await?;
    }
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&import_key(org_id, &id), &record, &[])?,
                condition: Some(Condition::NotExists),
            },
            audit::entry(
                actor,
                now,
                "contacts.import",
                &format!("import:{id}"),
                json!({ "rows": rows, "mode": record.mode, "tags": record.tags, "more_parts": options.more_parts }),
            ),
        ])
        .await?;
    if record.state == ImportState::Queued {
        queue_job(state, org_id, &id).await?;
    }
    Ok(record)
}

/// Appends the next part (rows only, no header); `last` queues the job.
pub async fn append_part(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    import_id: &str,
    csv: Vec<u8>,
    last: bool,
) -> Result<ImportRecord, ImportError> {
    let org_id = &actor.org_id;
    let current = get(state, org_id, import_id).await?;
    if current.state != ImportState::Uploading {
        return Err(ImportError::Conflict("import_not_uploading"));
    }
    if current.parts >= MAX_PARTS {
        return Err(invalid(
            "file",
            "too_many_parts",
            format!("Upload at most {MAX_PARTS} parts."),
        ));
    }
    let rows = parse_records(&csv)?.len() as u64;
    let total = current.rows_total + rows;
    if total > MAX_ROWS {
        return Err(invalid(
            "file",
            "too_many_rows",
            format!("Import at most {MAX_ROWS} rows at once."),
        ));
    }
    put_part(state, org_id, import_id, current.parts, csv).await?;
    let now = state.clock().now();
    let next_state = match (last, total) {
        (false, _) => ImportState::Uploading,
        (true, 0) => ImportState::Done,
        (true, _) => ImportState::Queued,
    };
    let mut update = Update::default()
        .set("parts", current.parts + 1)
        .set("rows_total", total)
        .set("state", serde_json::to_value(next_state).unwrap_or(Value::Null))
        .set("updated_at", now.to_string());
    if next_state == ImportState::Done {
        update = update.set("finished_at", now.to_string());
    }
    let item = state
        .table()
        .update(
            &import_key(org_id, import_id),
            update,
            // Parts arrive in order, each once.
            Some(Condition::AttributeEquals {
                name: "parts".into(),
                value: current.parts.into(),
            }),
        )
        .await
        .map_err(|err| {
            if err.is_condition_failure() {
                ImportError::Conflict("part_out_of_order")
            } else {
                ImportError::Store(err)
            }
        })?;
    let record: ImportRecord = from_item(item)?;
    match next_state {
        ImportState::Queued => queue_job(state, org_id, import_id).await?,
        ImportState::Done => discard_file(state, org_id, &record).await?,
        _ => {}
    }
    Ok(record)
}

pub async fn get(state: &impl HasTable, org_id: &str, import_id: &str) -> Result<ImportRecord, ImportError> {
    if !plausible_id(import_id) {
        return Err(ImportError::NotFound);
    }
    match state.table().get(&import_key(org_id, import_id)).await? {
        Some(item) => Ok(from_item(item)?),
        None => Err(ImportError::NotFound),
    }
}

/// One page of an import's failed rows, by row number: (row, field, reason, message).
pub async fn error_rows(
    state: &impl HasTable,
    org_id: &str,
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

// ---------------------------------------------------------------- rows

/// A row, parsed and validated, not yet matched.
#[derive(Debug, Clone, Default)]
struct Candidate {
    /// The row's `id` column: see the module's Identity section.
    key: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    emails: Vec<String>,
    phones: Vec<Phone>,
    company: Option<String>,
    source: Option<String>,
    address: Address,
    custom: Map<String, Value>,
    tags: Vec<String>,
}

fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '\n']).map(str::trim).filter(|s| !s.is_empty())
}

fn text_value(field: &str, cell: &str, max: usize, errors: &mut Vec<FieldProblem>) -> Option<String> {
    if cell.is_empty() {
        return None;
    }
    if cell.chars().count() > max {
        errors.push((field.to_string(), "too_long", format!("Use at most {max} characters.")));
    }
    Some(cell.to_string())
}

/// A CSV cell as the JSON value a custom field of this type takes.
fn custom_value(def: &FieldDef, cell: &str) -> Value {
    match def.kind {
        FieldType::Number => cell
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| cell.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::from(cell)),
        FieldType::Checkbox => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "x" | "on" => Value::Bool(true),
            "false" | "no" | "n" | "0" | "off" => Value::Bool(false),
            _ => Value::from(cell),
        },
        FieldType::MultiSelect => Value::from(split_list(cell).map(str::to_string).collect::<Vec<_>>()),
        _ => Value::from(cell),
    }
}

type Parsed = Result<Candidate, Vec<FieldProblem>>;

struct RowContext<'a> {
    mapping: &'a [ColumnMap],
    defs: &'a [FieldDef],
    region: &'a str,
    import_tags: &'a [String],
}

fn parse_row(ctx: &RowContext<'_>, record: &csv::StringRecord) -> Result<Candidate, Vec<FieldProblem>> {
    let mut errors = Vec::new();
    let mut c = Candidate::default();
    let mut custom_raw = Map::new();
    for column in ctx.mapping {
        let cell = unescape_formula(record.get(column.column).unwrap_or_default());
        if cell.is_empty() {
            continue;
        }
        match column.target.as_str() {
            "id" => c.key = text_value("id", cell, 100, &mut errors),
            "first_name" => c.first_name = text_value("first_name", cell, 100, &mut errors),
            "last_name" => c.last_name = text_value("last_name", cell, 100, &mut errors),
            "name" => {
                let mut words = cell.split_whitespace();
                let first = words.next().map(str::to_string);
                let rest = words.collect::<Vec<_>>().join(" ");
                if c.first_name.is_none() {
                    c.first_name = first.and_then(|f| text_value("name", &f, 100, &mut errors));
                }
                if c.last_name.is_none() && !rest.is_empty() {
                    c.last_name = text_value("name", &rest, 100, &mut errors);
                }
            }
            "email" => {
                for raw in split_list(cell) {
                    match Email::parse(raw) {
                        Ok(email) => {
                            let email = email.as_str().to_string();
                            if !c.emails.contains(&email) {
                                c.emails.push(email);
                            }
                        }
                        Err(err) => errors.push(("email".into(), err.code(), err.message().into())),
                    }
                }
            }
            "phone" => {
                for raw in split_list(cell) {
                    match Phone::parse(raw, ctx.region) {
                        Ok(phone) => {
                            if !c.phones.iter().any(|p| p.e164 == phone.e164) {
                                c.phones.push(phone);
                            }
                        }
                        Err(err) => errors.push(("phone".into(), err.code(), err.message().into())),
                    }
                }
            }
            "company" => c.company = text_value("company", cell, 200, &mut errors),
            "source" => c.source = text_value("source", cell, 100, &mut errors),
            "tags" => {
                for raw in cell.split([';', ',']).map(str::trim).filter(|t| !t.is_empty()) {
                    match contact_links::normalize_tag(raw) {
                        Ok(tag) if !c.tags.contains(&tag) => c.tags.push(tag),
                        Ok(_) => {}
                        Err(code) => errors.push(("tags".into(), code, format!("\"{raw}\" is not a valid tag."))),
                    }
                }
            }
            target => {
                if let Some(part) = target.strip_prefix("address.") {
                    let value = text_value(target, cell, 200, &mut errors);
                    match part {
                        "line1" => c.address.line1 = value,
                        "line2" => c.address.line2 = value,
                        "city" => c.address.city = value,
                        "region" => c.address.region = value,
                        "postal_code" => c.address.postal_code = value,
                        _ => c.address.country = value,
                    }
                } else if let Some(key) = target.strip_prefix("custom.")
                    && let Some(def) = ctx.defs.iter().find(|d| d.key == key)
                {
                    custom_raw.insert(key.to_string(), custom_value(def, cell));
                }
            }
        }
    }
    if !custom_raw.is_empty() {
        let mut field_errors = Vec::new();
        c.custom = apply_custom_fields(ctx.defs, &Map::new(), &custom_raw, &mut field_errors);
        // Report custom fields by their column name in the file.
        for (field, code, message) in field_errors {
            let key = field.strip_prefix("custom_fields.").unwrap_or(&field);
            errors.push((format!("custom.{key}"), code, message));
        }
    }
    for tag in ctx.import_tags {
        if !c.tags.contains(tag) {
            c.tags.push(tag.clone());
        }
    }
    if c.emails.is_empty() && c.phones.is_empty() && c.key.is_none() && errors.is_empty() {
        errors.push((
            "email".into(),
            "missing_identity",
            "Each row needs an email, a phone or an id, so a re-import finds the contact instead of duplicating it."
                .into(),
        ));
    }
    // What the API asks of any contact.
    let named = c.first_name.is_some() || c.last_name.is_some() || c.company.is_some();
    if !named && c.emails.is_empty() && c.phones.is_empty() && errors.is_empty() {
        errors.push((
            "first_name".into(),
            "required",
            "Give at least a name, company, email or phone.".into(),
        ));
    }
    if c.emails.len() > contacts::MAX_EMAILS {
        errors.push((
            "email".into(),
            "too_many",
            format!("At most {} emails.", contacts::MAX_EMAILS),
        ));
    }
    if c.phones.len() > contacts::MAX_PHONES {
        errors.push((
            "phone".into(),
            "too_many",
            format!("At most {} phones.", contacts::MAX_PHONES),
        ));
    }
    if c.tags.len() > contacts::MAX_TAGS {
        errors.push((
            "tags".into(),
            "too_many",
            format!("At most {} tags.", contacts::MAX_TAGS),
        ));
    }
    if errors.is_empty() { Ok(c) } else { Err(errors) }
}

fn address_or_none(address: Address) -> Option<Address> {
    (address != Address::default()).then_some(address)
}

fn new_contact(org_id: &str, c: &Candidate, now: jiff::Timestamp) -> ContactRecord {
    ContactRecord {
        id: new_id(),
        org_id: org_id.to_string(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        emails: c
            .emails
            .iter()
            .enumerate()
            .map(|(i, address)| ContactEmail {
                address: address.clone(),
                primary: i == 0,
            })
            .collect(),
        phones: c
            .phones
            .iter()
            .enumerate()
            .map(|(i, p)| ContactPhone {
                e164: p.e164.clone(),
                raw: p.raw.clone(),
                national_digits: p.national_digits.clone(),
                primary: i == 0,
            })
            .collect(),
        company: c.company.clone(),
        address: address_or_none(c.address.clone()),
        source: c.source.clone(),
        owner_id: None,
        custom_fields: c.custom.clone(),
        tags: c.tags.clone(),
        sms_consent: None,
        email_consent: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        created_ms: now.as_millisecond(),
        version: 1,
        import_keys: c.key.iter().cloned().collect(),
    }
}

/// `before` with the row's values: given values win, emails/phones/tags are
/// added, custom fields merged key by key. Too many values → row errors.
fn merged(before: &ContactRecord, c: &Candidate) -> Result<ContactRecord, Vec<FieldProblem>> {
    let mut after = before.clone();
    if c.first_name.is_some() {
        after.first_name = c.first_name.clone();
    }
    if c.last_name.is_some() {
        after.last_name = c.last_name.clone();
    }
    if c.company.is_some() {
        after.company = c.company.clone();
    }
    if c.source.is_some() {
        after.source = c.source.clone();
    }
    if c.address != Address::default() {
        let mut address = after.address.clone().unwrap_or_default();
        let a = &c.address;
        for (slot, value) in [
            (&mut address.line1, &a.line1),
            (&mut address.line2, &a.line2),
            (&mut address.city, &a.city),
            (&mut address.region, &a.region),
            (&mut address.postal_code, &a.postal_code),
            (&mut address.country, &a.country),
        ] {
            if value.is_some() {
                *slot = value.clone();
            }
        }
        after.address = address_or_none(address);
    }
    for email in &c.emails {
        if !after.emails.iter().any(|e| &e.address == email) {
            let primary = after.emails.is_empty();
            after.emails.push(ContactEmail {
                address: email.clone(),
                primary,
            });
        }
    }
    for phone in &c.phones {
        if !after.phones.iter().any(|p| p.e164 == phone.e164) {
            let primary = after.phones.is_empty();
            after.phones.push(ContactPhone {
                e164: phone.e164.clone(),
                raw: phone.raw.clone(),
                national_digits: phone.national_digits.clone(),
                primary,
            });
        }
    }
    for (key, value) in &c.custom {
        after.custom_fields.insert(key.clone(), value.clone());
    }
    for tag in &c.tags {
        if !after.tags.contains(tag) {
            after.tags.push(tag.clone());
        }
    }
    // Matched by email or phone (or an import key it has): linked to the
    // row's id from now on. Its own id needs no key.
    if let Some(key) = &c.key
        && key != &after.id
        && !after.import_keys.contains(key)
    {
        after.import_keys.push(key.clone());
    }
    let mut errors = Vec::new();
    if after.emails.len() > contacts::MAX_EMAILS {
        errors.push((
            "email".into(),
            "too_many",
            "The matching contact would have too many emails.".to_string(),
        ));
    }
    if after.phones.len() > contacts::MAX_PHONES {
        errors.push((
            "phone".into(),
            "too_many",
            "The matching contact would have too many phones.".to_string(),
        ));
    }
    if after.tags.len() > contacts::MAX_TAGS {
        errors.push((
            "tags".into(),
            "too_many",
            "The matching contact would have too many tags.".to_string(),
        ));
    }
    if errors.is_empty() { Ok(after) } else { Err(errors) }
}

// ---------------------------------------------------------------- processing

/// Rows planned together and handed to the store as one ordered sequence of
/// chunk transactions (`Table::transact_in_order`: one durable commit on
/// SQLite, which is what makes the embedded import fast on disk). It bounds
/// how long the embedded store's write lock is held (≈ 0.1 s) and the reads
/// of one plan (the claims of 1,000 rows: ≈ 20 `BatchGetItem` on DynamoDB).
const GROUP_ROWS: usize = 1_000;
/// The first group of a delivery with a deadline, before its commit speed is
/// known (on DynamoDB a group is ≈ 1 `TransactWriteItems` per 9 rows, sent in turn).
const FIRST_GROUP_ROWS: usize = 100;
const MIN_GROUP_ROWS: usize = 20;

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

/// Contacts are shared between a plan and its overlay (`Arc`): a group holds
/// up to 1,000 of them and each is looked at by several steps.
enum Outcome {
    Create(Arc<ContactRecord>),
    Update(Arc<ContactRecord>, Arc<ContactRecord>),
    Skip,
    Fail(Vec<FieldProblem>),
}

/// Runs one delivery of the import job: as many rows as the slice allows,
/// then hands over to a new message if rows remain.
pub async fn run_job(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    org_id: &str,
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
async fn give_up(
    state: &(impl HasTable + HasClock),
    org_id: &str,
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
    state: &(impl HasTable + HasClock + HasObjects),
    org_id: &str,
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
    let defs = contact_links::field_defs(table, org_id).await?;
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
                match plan_group(org_id, &record, &parsed[range], known, state.clock().now()) {
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
        let (committed, next_group) = futures::join!(table.transact_in_order(group.transactions), async {
            let range = next?;
            // Read beside the commit: each key as it was before the commit or
            // after it, and the committing group's overlay decides for every
            // key that group writes, so either answer plans the same.
            let known = read_known(table, org_id, &parsed[range.clone()], &group.overlay)
                .await
                .ok()?;
            let planned = plan_group(org_id, &group.after, &parsed[range.clone()], known, now);
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
async fn retry_or_fail(
    state: &impl HasTable,
    org_id: &str,
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
fn next_range(
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

fn parse_rows(
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

/// The uploaded file holds personal data: it goes once every row is in.
async fn discard_file(state: &impl HasObjects, org_id: &str, record: &ImportRecord) -> Result<(), ImportError> {
    for part in 0..record.parts {
        state
            .objects()
            .delete(&part_object_key(org_id, &record.id, part))
            .await
            .map_err(|err| ImportError::Objects(err.to_string()))?;
    }
    Ok(())
}

async fn fail(
    state: &(impl HasTable + HasClock),
    org_id: &str,
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

/// A planned group: its chunk transactions in order, the import as it is
/// once they have all committed, and what they write (for the next plan).
struct Group {
    transactions: Vec<Vec<WriteOp>>,
    after: ImportRecord,
    overlay: Known,
}

/// What a plan knows of the store: which contact holds each email/phone
/// claim and those contacts. Read once for a group, then carried through
/// the plan, so a chunk sees what the chunks before it will write.
#[derive(Default)]
struct Known {
    owner_of: HashMap<Key, String>,
    contacts: HashMap<String, Arc<ContactRecord>>,
}

impl Known {
    /// Records a contact the plan will write, for the chunks after it.
    /// (No entry for the contact's own id: no row can name a contact this
    /// import creates, and an existing one is read from the store, then
    /// replaced by its planned version like any contact a claim names.)
    fn planned(&mut self, org_id: &str, contact: &Arc<ContactRecord>) {
        for import_key in &contact.import_keys {
            self.owner_of
                .insert(import_key_claim(org_id, import_key), contact.id.clone());
        }
        for email in &contact.emails {
            self.owner_of
                .insert(email_claim(org_id, &email.address), contact.id.clone());
        }
        for phone in &contact.phones {
            self.owner_of
                .insert(phone_claim(org_id, &phone.e164), contact.id.clone());
        }
        self.contacts.insert(contact.id.clone(), Arc::clone(contact));
    }
}

/// The keys that say which contact a row is: its email and phone claims,
/// and for its id the import-key claim and the contact with that id (an
/// item whose `id` names it, where claims name it in `contact_id`).
fn claims_of(org_id: &str, c: &Candidate) -> Vec<Key> {
    let mut keys: Vec<Key> = c
        .emails
        .iter()
        .map(|e| email_claim(org_id, e))
        .chain(c.phones.iter().map(|p| phone_claim(org_id, &p.e164)))
        .collect();
    if let Some(key) = &c.key {
        keys.push(import_key_claim(org_id, key));
        if plausible_id(key) {
            keys.push(contact_links::contact_key(org_id, key));
        }
    }
    keys
}

/// The store's view of the rows' claims (100 keys a round trip) and of the
/// contacts holding them, with `pending` (a group planned but not yet
/// committed) laid over it.
async fn read_known(
    table: &dyn crate::ports::Table,
    org_id: &str,
    rows: &[Option<Parsed>],
    pending: &Known,
) -> Result<Known, StoreError> {
    let mut claim_keys: Vec<Key> = rows
        .iter()
        .flatten()
        .filter_map(|p| p.as_ref().ok())
        .flat_map(|c| claims_of(org_id, c))
        .filter(|key| !pending.owner_of.contains_key(key))
        .collect();
    claim_keys.sort();
    claim_keys.dedup();
    let mut known = Known::default();
    for keys in claim_keys.chunks(100) {
        for item in table.batch_get(keys).await? {
            let owner = item
                .get("contact_id")
                .or_else(|| item.get("id"))
                .and_then(Value::as_str);
            if let (Some(key), Some(id)) = (Key::of(&item), owner) {
                known.owner_of.insert(key, id.to_string());
            }
        }
    }
    let mut ids: Vec<String> = known
        .owner_of
        .values()
        .filter(|id| !pending.contacts.contains_key(*id))
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
    for contact in contact_links::get_many(table, org_id, &ids).await? {
        known.contacts.insert(contact.id.clone(), Arc::new(contact));
    }
    // Claims of the rows that the pending group writes, and the pending
    // version of every contact these rows name.
    for c in rows.iter().flatten().filter_map(|p| p.as_ref().ok()) {
        for key in claims_of(org_id, c) {
            if let Some(id) = pending.owner_of.get(&key) {
                known.owner_of.insert(key, id.clone());
            }
        }
    }
    let named: Vec<String> = known.owner_of.values().cloned().collect();
    for id in named {
        if let Some(contact) = pending.contacts.get(&id) {
            known.contacts.insert(id, Arc::clone(contact));
        }
    }
    Ok(known)
}

/// Plans `rows` (the next rows after `record`'s checkpoint) as a sequence of
/// chunk transactions, each holding its contacts' full write plan, its error
/// rows and the checkpoint conditioned on the value the chunk before leaves.
/// Pure: everything it needs from the store is in `known`.
fn plan_group(
    org_id: &str,
    record: &ImportRecord,
    rows: &[Option<Parsed>],
    mut known: Known,
    now: jiff::Timestamp,
) -> Result<Group, ImportError> {
    let parsed: Vec<&Parsed> = rows.iter().flatten().collect();
    let start = record.rows_done as usize;
    let mut overlay = Known::default();
    let mut transactions = Vec::new();
    let mut at = record.clone();
    let mut next = 0;
    while next < parsed.len() {
        let outcomes = plan_chunk(org_id, record.mode, &parsed[next..], start + next, &mut known, now)?;
        for planned in &outcomes {
            if let Outcome::Create(after) | Outcome::Update(_, after) = &planned.outcome {
                overlay.planned(org_id, after);
            }
        }
        next += outcomes.len();
        let (ops, after) = chunk_transaction(org_id, &at, outcomes, now);
        transactions.push(ops);
        at = after;
    }
    Ok(Group {
        transactions,
        after: at,
        overlay,
    })
}

/// A row's decision and, for a contact it writes, that contact's operations.
struct PlannedRow {
    row_number: u64,
    outcome: Outcome,
    ops: Vec<WriteOp>,
}

/// One chunk's rows: as many of `rows` as fit in one transaction with the
/// checkpoint, stopping before a row that touches a claim or contact an
/// earlier row of the chunk touches (the next chunk sees that row's result).
fn plan_chunk(
    org_id: &str,
    mode: DedupeMode,
    rows: &[&Parsed],
    first_index: usize,
    known: &mut Known,
    now: jiff::Timestamp,
) -> Result<Vec<PlannedRow>, ImportError> {
    let mut outcomes: Vec<PlannedRow> = Vec::new();
    let mut touched_claims: HashSet<Key> = HashSet::new();
    let mut touched_contacts: HashSet<String> = HashSet::new();
    let mut counter_tags: HashSet<String> = HashSet::new();
    let mut ops_so_far = 0usize;
    for (offset, parsed_row) in rows.iter().enumerate() {
        // The spreadsheet row number (the header is row 1).
        let row_number = (first_index + offset) as u64 + 2;
        let outcome = match parsed_row {
            Err(errors) => Outcome::Fail(errors.clone()),
            Ok(c) => {
                let claims = claims_of(org_id, c);
                let mut owners: Vec<&String> = claims.iter().filter_map(|k| known.owner_of.get(k)).collect();
                owners.sort();
                owners.dedup();
                if claims.iter().any(|k| touched_claims.contains(k))
                    || owners.iter().any(|id| touched_contacts.contains(*id))
                {
                    break;
                }
                let outcome = match owners.as_slice() {
                    [] => Outcome::Create(Arc::new(new_contact(org_id, c, now))),
                    [id] => match (mode, known.contacts.get(*id)) {
                        (DedupeMode::Skip, _) => Outcome::Skip,
                        (DedupeMode::Update, Some(before)) => match merged(before, c) {
                            Ok(after) if after == **before => Outcome::Skip,
                            Ok(mut after) => {
                                after.updated_at = now.to_string();
                                after.version = before.version + 1;
                                Outcome::Update(Arc::clone(before), Arc::new(after))
                            }
                            Err(errors) => Outcome::Fail(errors),
                        },
                        // The claim's contact vanished between the two reads: plan again.
                        (DedupeMode::Update, None) => return Err(ImportError::Store(StoreError::ConditionFailed)),
                    },
                    _ => Outcome::Fail(vec![(
                        "phone".into(),
                        "matches_two_contacts",
                        "The email, phone or id of this row belong to different contacts.".into(),
                    )]),
                };
                touched_claims.extend(claims);
                if let Outcome::Update(before, _) = &outcome {
                    touched_contacts.insert(before.id.clone());
                }
                outcome
            }
        };
        // Does it still fit in one transaction with the tag counters and the checkpoint?
        let (ops, tags) = match &outcome {
            Outcome::Create(after) => (contact_ops(None, after)?, changed_tags(None, after)),
            Outcome::Update(before, after) => (contact_ops(Some(before), after)?, changed_tags(Some(before), after)),
            Outcome::Skip | Outcome::Fail(_) => (Vec::new(), Vec::new()),
        };
        // A failed row writes its error item.
        let own_ops = if matches!(outcome, Outcome::Fail(_)) {
            1
        } else {
            ops.len()
        };
        let new_counters = tags.iter().filter(|t| !counter_tags.contains(*t)).count();
        if ops_so_far + own_ops + new_counters + 1 > crate::ports::table::MAX_TRANSACTION_OPS {
            if outcomes.is_empty() {
                // Alone too big for a transaction: report it rather than stall.
                outcomes.push(PlannedRow {
                    row_number,
                    outcome: Outcome::Fail(vec![(
                        "email".into(),
                        "too_many_values",
                        "This row changes too many emails, phones and tags at once.".into(),
                    )]),
                    ops: Vec::new(),
                });
            }
            break;
        }
        ops_so_far += own_ops + new_counters;
        counter_tags.extend(tags);
        match &outcome {
            Outcome::Create(after) | Outcome::Update(_, after) => known.planned(org_id, after),
            Outcome::Skip | Outcome::Fail(_) => {}
        }
        outcomes.push(PlannedRow {
            row_number,
            outcome,
            ops,
        });
    }
    Ok(outcomes)
}

/// One contact's change as the contacts core plans it, minus the tag
/// counters, which the chunk sums over its rows (one update per tag).
fn contact_ops(before: Option<&ContactRecord>, after: &ContactRecord) -> Result<Vec<WriteOp>, StoreError> {
    let mut ops = contacts::plan(&[(before, Some(after))], contacts::ALL_PARTS)?;
    let counter = |key: &Key| key.pk == contacts::tags_partition(&after.org_id);
    ops.retain(|op| !matches!(op, WriteOp::Update { key, .. } if counter(key)));
    Ok(ops)
}

/// The tags whose count a change moves, with the direction.
fn changed_tags(before: Option<&ContactRecord>, after: &ContactRecord) -> Vec<String> {
    let old: &[String] = before.map_or(&[], |b| &b.tags);
    let added = after.tags.iter().filter(|t| !old.contains(t));
    let removed = old.iter().filter(|t| !after.tags.contains(t));
    added.chain(removed).cloned().collect()
}

/// The chunk's transaction (contacts, tag counters, error rows, checkpoint)
/// and the import as it is once that commits.
fn chunk_transaction(
    org_id: &str,
    record: &ImportRecord,
    outcomes: Vec<PlannedRow>,
    now: jiff::Timestamp,
) -> (Vec<WriteOp>, ImportRecord) {
    let mut ops = Vec::new();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let (mut created, mut updated, mut skipped, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let rows = outcomes.len() as u64;
    for PlannedRow {
        row_number,
        outcome,
        ops: contact_ops,
    } in outcomes
    {
        ops.extend(contact_ops);
        match outcome {
            Outcome::Create(after) => {
                created += 1;
                for tag in &after.tags {
                    *counts.entry(tag.clone()).or_default() += 1;
                }
            }
            Outcome::Update(before, after) => {
                updated += 1;
                for tag in &before.tags {
                    *counts.entry(tag.clone()).or_default() -= 1;
                }
                for tag in &after.tags {
                    *counts.entry(tag.clone()).or_default() += 1;
                }
            }
            Outcome::Skip => skipped += 1,
            Outcome::Fail(errors) => {
                failed += 1;
                let errors: Vec<Value> = errors
                    .iter()
                    .map(|(field, reason, message)| json!({ "field": field, "reason": reason, "message": message }))
                    .collect();
                ops.push(WriteOp::Put {
                    item: super::object(json!({
                        "pk": errors_partition(org_id, &record.id),
                        "sk": format!("{row_number:09}"),
                        "row": row_number,
                        "errors": errors,
                    })),
                    condition: None,
                });
            }
        }
    }
    ops.extend(
        counts
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|(tag, delta)| contacts::tag_count_op(org_id, tag, *delta)),
    );

    let mut next = record.clone();
    next.rows_done = record.rows_done + rows;
    next.state = if next.rows_done >= record.rows_total {
        ImportState::Done
    } else {
        ImportState::Running
    };
    next.updated_at = now.to_string();
    next.created += created;
    next.updated += updated;
    next.skipped += skipped;
    next.failed += failed;
    let mut update = Update::default()
        .set("rows_done", next.rows_done)
        .set("state", serde_json::to_value(next.state).unwrap_or(Value::Null))
        .set("updated_at", now.to_string())
        .add("created", created as i64)
        .add("updated", updated as i64)
        .add("skipped", skipped as i64)
        .add("failed", failed as i64);
    if next.state == ImportState::Done {
        next.finished_at = Some(now.to_string());
        update = update.set("finished_at", now.to_string());
    }
    // The checkpoint: only from the value this chunk started at.
    ops.push(WriteOp::Update {
        key: import_key(org_id, &record.id),
        update,
        condition: Some(Condition::AttributeEquals {
            name: "rows_done".into(),
            value: record.rows_done.into(),
        }),
    });
    (ops, next)
}
