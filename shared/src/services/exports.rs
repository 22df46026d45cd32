//! Contact export as CSV or JSON Lines, produced page by page (100 contacts
//! per store query) as a byte stream: the whole set is never in memory.
//!
//! The CSV columns are the importer's own targets (`first_name`, `last_name`,
//! `email`, `phone`, `company`, `address.<part>`, `source`, `tags`,
//! `custom.<key>`), lists joined with `"; "` (primary email/phone first), so
//! an exported file imports back unchanged (`tests/imports.rs`). JSON Lines
//! carry each contact record as the API returns it.

use bytes::Bytes;
use futures::Stream;
use serde_json::Value;

use super::contact_links;
use super::contacts::fields::FieldDef;
use super::contacts::{self, ContactFilter, ContactRecord};
use super::pipelines;
use crate::app::AppState;
use crate::domain::spreadsheet::escape_formula;
use crate::ports::StoreError;

const PAGE: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub contacts: ContactFilter,
    /// (pipeline id, stage id)
    pub stage: Option<(String, String)>,
}

/// The fixed columns, then one per custom field definition.
pub fn header(defs: &[FieldDef]) -> Vec<String> {
    let mut columns: Vec<String> = [
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
    columns.extend(defs.iter().map(|d| format!("custom.{}", d.key)));
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
pub fn row(contact: &ContactRecord, defs: &[FieldDef]) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut emails: Vec<&contacts::ContactEmail> = contact.emails.iter().collect();
    emails.sort_by_key(|e| !e.primary);
    let mut phones: Vec<&contacts::ContactPhone> = contact.phones.iter().collect();
    phones.sort_by_key(|p| !p.primary);
    let address = contact.address.clone().unwrap_or_default();
    let mut out = vec![
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
        defs.iter()
            .map(|d| contact.custom_fields.get(&d.key).map(cell).unwrap_or_default()),
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

enum Step {
    Start,
    Next(Option<String>),
    Done,
}

struct Cursor {
    state: AppState,
    org_id: String,
    filter: ExportFilter,
    format: Format,
    defs: Vec<FieldDef>,
    step: Step,
}

/// One page of contacts and the next cursor.
async fn page(c: &Cursor, cursor: Option<String>) -> Result<(Vec<ContactRecord>, Option<String>), StoreError> {
    let table = c.state.table.as_ref();
    match &c.filter.stage {
        Some((pipeline_id, stage_id)) => {
            pipelines::contacts_in_stage_page(
                table,
                &c.org_id,
                (pipeline_id, stage_id),
                &c.filter.contacts,
                PAGE,
                cursor,
            )
            .await
        }
        None => contacts::list(table, &c.org_id, &c.filter.contacts, PAGE, cursor)
            .await
            .map_err(|err| match err {
                contacts::ContactError::Store(err) => err,
                other => StoreError::Invalid(other.to_string()),
            }),
    }
}

fn encode(c: &Cursor, contacts: &[ContactRecord]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for contact in contacts {
        match c.format {
            Format::Csv => out.extend(csv_line(&row(contact, &c.defs))?),
            Format::Jsonl => {
                serde_json::to_writer(&mut out, contact).map_err(|err| StoreError::Invalid(err.to_string()))?;
                out.push(b'\n');
            }
        }
    }
    Ok(out)
}

/// The export as a stream of chunks (one per page). A store failure mid-way
/// ends the stream with an error, which aborts the response.
pub fn stream(
    state: AppState,
    org_id: String,
    filter: ExportFilter,
    format: Format,
) -> impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static {
    let cursor = Cursor {
        state,
        org_id,
        filter,
        format,
        defs: Vec::new(),
        step: Step::Start,
    };
    futures::stream::unfold(cursor, |mut c| async move {
        let result = match std::mem::replace(&mut c.step, Step::Done) {
            Step::Done => return None,
            Step::Start => match contact_links::field_defs(c.state.table.as_ref(), &c.org_id).await {
                Ok(defs) => {
                    c.defs = defs;
                    c.step = Step::Next(None);
                    match c.format {
                        Format::Csv => csv_line(&header(&c.defs)),
                        Format::Jsonl => Ok(Vec::new()),
                    }
                }
                Err(err) => Err(err),
            },
            Step::Next(cursor) => match page(&c, cursor).await {
                Ok((contacts, next)) => {
                    if next.is_some() {
                        c.step = Step::Next(next);
                    }
                    encode(&c, &contacts)
                }
                Err(err) => Err(err),
            },
        };
        Some((result.map(Bytes::from), c))
    })
}

/// Everything the stream would produce, in memory (tests, small exports).
pub async fn collect(
    state: AppState,
    org_id: String,
    filter: ExportFilter,
    format: Format,
) -> Result<Vec<u8>, StoreError> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut s = Box::pin(stream(state, org_id, filter, format));
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}
