//! Contact export as CSV or JSON Lines, produced page by page (100 contacts
//! per store query): the whole set is never in memory. The local server
//! streams it as the response (`GET /contacts/export`); an export job
//! ([`job`]) writes it to the object store in parts and hands out a link,
//! which is how a large export leaves a Lambda (responses there are buffered
//! and capped at 6 MB).
//!
//! The CSV columns are the importer's own targets (`id`, `first_name`,
//! `last_name`, `email`, `phone`, `company`, `address.<part>`, `source`,
//! `tags`, `custom.<key>`), lists joined with `"; "` (primary email/phone
//! first), so an exported file imports back unchanged, into this or a new
//! organization, and again without duplicates: the `id` column is the row's
//! identity (`services::imports`, Identity; `tests/api/imports.rs`). JSON Lines
//! carry each contact record as the API returns it.

use crate::domain::ids::OrgId;
use crate::domain::ids::PipelineId;
use bytes::Bytes;
use futures::Stream;
use serde_json::Value;

use serde::{Deserialize, Serialize};

use super::audit::{self, Actor};
use super::contacts::{self, ContactFilter, ContactRecord};
use super::{imports, pipelines};
use std::sync::Arc;

use crate::domain::spreadsheet::escape_formula;
use crate::ports::{HasClock, HasTable};
use crate::ports::{StoreError, Table};

const PAGE: u32 = 100;

pub mod job;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// The list's filters, plus contacts by pipeline stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFilter {
    pub contacts: ContactFilter,
    /// (pipeline id, stage id)
    pub stage: Option<(String, String)>,
}

/// The fixed columns, then one per custom field.
pub fn header(custom_keys: &[String]) -> Vec<String> {
    let mut columns: Vec<String> = [
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "company",
        "address.line1",
        "address.line2",
        "address.city",
        "address.region",
        "address.postal_code",
        "address.country",
        "source",
        "tags",
    ]
    .iter()
    .map(|c| c.to_string())
    .collect();
    columns.extend(custom_keys.iter().map(|key| format!("custom.{key}")));
    columns
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// One CSV row of a contact, in [`header`]'s column order.
pub fn row(contact: &ContactRecord, custom_keys: &[String]) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut emails: Vec<&contacts::ContactEmail> = contact.emails.iter().collect();
    emails.sort_by_key(|e| !e.primary);
    let mut phones: Vec<&contacts::ContactPhone> = contact.phones.iter().collect();
    phones.sort_by_key(|p| !p.primary);
    let address = contact.address.clone().unwrap_or_default();
    let mut out = vec![
        contact.id.to_string(),
        text(&contact.first_name),
        text(&contact.last_name),
        emails.iter().map(|e| e.address.as_str()).collect::<Vec<_>>().join("; "),
        phones.iter().map(|p| p.e164.as_str()).collect::<Vec<_>>().join("; "),
        text(&contact.company),
        text(&address.line1),
        text(&address.line2),
        text(&address.city),
        text(&address.region),
        text(&address.postal_code),
        text(&address.country),
        text(&contact.source),
        contact.tags.join("; "),
    ];
    out.extend(
        custom_keys
            .iter()
            .map(|key| contact.custom_fields.get(key).map(cell).unwrap_or_default()),
    );
    out
}

fn csv_line(fields: &[String]) -> Result<Vec<u8>, StoreError> {
    let cells: Vec<_> = fields.iter().map(|f| escape_formula(f)).collect();
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    writer
        .write_record(cells.iter().map(|c| c.as_ref()))
        .map_err(|err| StoreError::Invalid(err.to_string()))?;
    writer.into_inner().map_err(|err| StoreError::Invalid(err.to_string()))
}

/// One page of contacts and the next cursor.
async fn page(
    state: &impl HasTable,
    org_id: &OrgId,
    filter: &ExportFilter,
    cursor: Option<String>,
) -> Result<(Vec<ContactRecord>, Option<String>), StoreError> {
    let table = state.table().as_ref();
    match &filter.stage {
        Some((pipeline_id, stage_id)) => {
            pipelines::contacts_in_stage_page(
                table,
                org_id,
                (&PipelineId::from(pipeline_id), stage_id),
                &filter.contacts,
                PAGE,
                cursor,
            )
            .await
        }
        None => contacts::list(table, org_id, &filter.contacts, PAGE, cursor)
            .await
            .map_err(|err| match err {
                contacts::ContactError::Store(err) => err,
                other => StoreError::Invalid(other.to_string()),
            }),
    }
}

/// What an export writes: its format and the custom-field columns, fixed
/// when it starts so every part of a long export has the same columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub format: Format,
    pub custom_keys: Vec<String>,
}

impl Layout {
    pub async fn current(state: &impl HasTable, org_id: &OrgId, format: Format) -> Result<Self, StoreError> {
        let defs = contacts::fields::list(state.table().as_ref(), org_id).await?;
        Ok(Layout {
            format,
            custom_keys: defs.into_iter().map(|d| d.key).collect(),
        })
    }

    /// What precedes the first contact: the CSV header line.
    pub fn preamble(&self) -> Result<Vec<u8>, StoreError> {
        match self.format {
            Format::Csv => csv_line(&header(&self.custom_keys)),
            Format::Jsonl => Ok(Vec::new()),
        }
    }

    pub fn encode(&self, contacts: &[ContactRecord], out: &mut Vec<u8>) -> Result<(), StoreError> {
        for contact in contacts {
            match self.format {
                Format::Csv => out.extend(csv_line(&row(contact, &self.custom_keys))?),
                Format::Jsonl => {
                    serde_json::to_writer(&mut *out, contact).map_err(|err| StoreError::Invalid(err.to_string()))?;
                    out.push(b'\n');
                }
            }
        }
        Ok(())
    }
}

/// The header of an import's error report.
pub const ERROR_REPORT_HEADER: [&str; 4] = ["row", "field", "reason", "message"];

/// What an export holds: the contacts a filter selects, or the rows an
/// import rejected (its error report, `row,field,reason,message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    Contacts { filter: ExportFilter, layout: Layout },
    ImportErrors { import_id: String },
}

impl Source {
    /// The contacts `filter` selects, with the organization's custom fields as they are now.
    pub async fn contacts(
        state: &impl HasTable,
        org_id: &OrgId,
        filter: ExportFilter,
        format: Format,
    ) -> Result<Self, StoreError> {
        Ok(Source::Contacts {
            filter,
            layout: Layout::current(state, org_id, format).await?,
        })
    }

    pub fn format(&self) -> Format {
        match self {
            Source::Contacts { layout, .. } => layout.format,
            Source::ImportErrors { .. } => Format::Csv,
        }
    }

    /// The name the file is downloaded under; an export job's contacts file
    /// carries the job's id.
    pub fn file_name(&self, export_id: Option<&str>) -> String {
        match (self, export_id) {
            (Source::Contacts { layout, .. }, Some(id)) => format!("contacts-{id}.{}", layout.format.extension()),
            (Source::Contacts { layout, .. }, None) => format!("contacts.{}", layout.format.extension()),
            (Source::ImportErrors { import_id }, _) => format!("import-{import_id}-errors.csv"),
        }
    }

    /// What precedes the first row: a CSV header line.
    pub fn preamble(&self) -> Result<Vec<u8>, StoreError> {
        match self {
            Source::Contacts { layout, .. } => layout.preamble(),
            Source::ImportErrors { .. } => csv_line(&ERROR_REPORT_HEADER.map(String::from)),
        }
    }
}

/// The rows of an export, a page at a time from a cursor, encoded.
pub struct Pages {
    pub source: Source,
    /// The cursor of the next page; `None` before the first.
    pub cursor: Option<String>,
    pub finished: bool,
}

impl Pages {
    /// Appends the next page to `out`; returns how many rows it held.
    pub async fn next_into(
        &mut self,
        state: &impl HasTable,
        org_id: &OrgId,
        out: &mut Vec<u8>,
    ) -> Result<u64, StoreError> {
        if self.finished {
            return Ok(0);
        }
        let cursor = self.cursor.take();
        let (rows, next) = match &self.source {
            Source::Contacts { filter, layout } => {
                let (found, next) = page(state, org_id, filter, cursor).await?;
                layout.encode(&found, out)?;
                (found.len() as u64, next)
            }
            Source::ImportErrors { import_id } => {
                let (problems, next) = imports::error_rows(state, org_id, import_id, cursor).await?;
                for (row, field, reason, message) in &problems {
                    // Messages quote the cells they reject: guarded like any exported cell.
                    out.extend(csv_line(&[
                        row.to_string(),
                        field.clone(),
                        reason.clone(),
                        message.clone(),
                    ])?);
                }
                (problems.len() as u64, next)
            }
        };
        self.finished = next.is_none();
        self.cursor = next;
        Ok(rows)
    }
}

/// Records a direct export (`GET /contacts/export`) in the audit log before
/// its first byte is sent: the file leaves at once, so it starts and is
/// downloaded in one step (an export job records both apart).
pub async fn record_direct(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    source: &Source,
) -> Result<(), StoreError> {
    let mut detail = job::audit_detail(source);
    detail["direct"] = Value::Bool(true);
    let entry = audit::entry(actor, state.clock().now(), "contacts.export", "contacts", detail);
    state.table().transact(vec![entry]).await
}

/// The export as a stream of chunks: the preamble, then one per page. A
/// store failure mid-way ends the stream with an error, which aborts the
/// response.
pub fn stream(
    table: Arc<dyn Table>,
    org_id: OrgId,
    source: Source,
) -> impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static {
    let pages = Pages {
        source,
        cursor: None,
        finished: false,
    };
    futures::stream::try_unfold((pages, true), move |(mut pages, first)| {
        let (table, org_id) = (table.clone(), org_id.clone());
        async move {
            if pages.finished {
                return Ok(None);
            }
            let mut out = if first { pages.source.preamble()? } else { Vec::new() };
            pages.next_into(&table, &OrgId::from(&org_id), &mut out).await?;
            Ok(Some((Bytes::from(out), (pages, false))))
        }
    })
}
