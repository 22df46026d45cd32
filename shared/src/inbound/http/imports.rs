//! Contacts import: `POST /imports/contacts`, `POST /imports/{id}/parts`,
//! `GET /imports/{id}`, `GET /imports/{id}/errors.csv`. Rules live in
//! `services::imports`; exports are in `super::exports`.
//!
//! `POST /imports/contacts` takes either
//! - the raw CSV (`Content-Type: text/csv`), options in the query:
//!   `mode=update|skip`, `tags=a,b`, `map.<Header>=<target>` (repeatable),
//!   `more_parts=true`; or
//! - JSON `{"csv": "...", "mode": ..., "tags": [...], "mapping": {"Header": "target"}, "more_parts": bool}`.

use std::collections::BTreeMap;

use super::extract::ApiQuery;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use futures::TryStreamExt;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::exports::generated_download;
use super::session::Authenticated;
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::exports::{self, Source};
use crate::services::imports::{self, ColumnMap, DedupeMode, ImportOptions, ImportRecord, ImportState};

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest {
            code: "unreadable_body",
            field: Some("body".into()),
            detail: "The body could not be read.".into(),
        }
    }
}

fn bad_query(detail: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        field: None,
        detail: detail.into(),
    }
}

/// Where an import's rows come from.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ImportSource {
    /// An uploaded CSV file.
    Csv,
    /// A member's Google contacts, read page by page.
    GoogleContacts,
}

/// An import as the API shows it: its progress, options and counts.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ImportView {
    id: String,
    source: ImportSource,
    /// Pages of Google contacts read so far (`null` for a CSV import).
    google_pages_read: Option<u32>,
    state: ImportState,
    rows_done: u64,
    rows_total: u64,
    created: u64,
    updated: u64,
    skipped: u64,
    failed: u64,
    mode: DedupeMode,
    tags: Vec<String>,
    mapping: Vec<ColumnMap>,
    parts: u32,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
    error: Option<String>,
    /// Where the rows that failed are told, as CSV.
    errors_url: String,
}

pub(crate) fn view(record: &ImportRecord) -> ImportView {
    ImportView {
        id: record.id.clone(),
        source: if record.google.is_some() {
            ImportSource::GoogleContacts
        } else {
            ImportSource::Csv
        },
        google_pages_read: record.google.as_ref().map(|g| g.pages_read),
        state: record.state,
        rows_done: record.rows_done,
        rows_total: record.rows_total,
        created: record.created,
        updated: record.updated,
        skipped: record.skipped,
        failed: record.failed,
        mode: record.mode,
        tags: record.tags.clone(),
        mapping: record.mapping.clone(),
        parts: record.parts,
        created_at: record.created_at.clone(),
        updated_at: record.updated_at.clone(),
        finished_at: record.finished_at.clone(),
        error: record.error.clone(),
        errors_url: format!("/imports/{}/errors.csv", record.id),
    }
}

fn parse_mode(raw: &str) -> Result<DedupeMode, ApiError> {
    match raw.trim() {
        "update" => Ok(DedupeMode::Update),
        "skip" => Ok(DedupeMode::Skip),
        _ => Err(ApiError::field("mode", "invalid", "Use update or skip.")),
    }
}

fn parse_bool(name: &str, raw: &str) -> Result<bool, ApiError> {
    match raw.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(bad_query(format!("{name} takes true or false."))),
    }
}

/// The JSON form of an import: the file as a string, the options beside it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonImport {
    /// The whole CSV file (or its first part when `more_parts`).
    csv: String,
    #[serde(default)]
    mode: Option<DedupeMode>,
    #[serde(default)]
    tags: Vec<String>,
    /// Header → target field (`email`, `custom.<key>`, `ignore`, ...);
    /// headers left out are matched by name.
    #[serde(default)]
    mapping: BTreeMap<String, String>,
    /// More parts follow through `POST /imports/{id}/parts`.
    #[serde(default)]
    more_parts: bool,
}

fn is_csv_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/csv" | "text/plain" | "application/csv" | "application/vnd.ms-excel"
    )
}

/// The file and options of an import request.
fn read_import(
    headers: &HeaderMap,
    query: Vec<(String, String)>,
    body: Bytes,
) -> Result<(Vec<u8>, ImportOptions), ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.to_ascii_lowercase().starts_with("application/json") {
        if !query.is_empty() {
            return Err(bad_query("With a JSON body, give the options in the body."));
        }
        let parsed: JsonImport = serde_json::from_slice(&body).map_err(|err| {
            if err.is_syntax() || err.is_eof() {
                ApiError::BadRequest {
                    code: "malformed_json",
                    field: Some("body".into()),
                    detail: "The body is not valid JSON.".into(),
                }
            } else {
                ApiError::field("body", "invalid", &err.to_string())
            }
        })?;
        let options = ImportOptions {
            mode: parsed.mode.unwrap_or_default(),
            tags: parsed.tags,
            mapping: parsed.mapping,
            more_parts: parsed.more_parts,
        };
        return Ok((parsed.csv.into_bytes(), options));
    }
    if !is_csv_type(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut options = ImportOptions::default();
    for (name, value) in query {
        match name.as_str() {
            "mode" => options.mode = parse_mode(&value)?,
            "tags" => options.tags.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            ),
            "more_parts" => options.more_parts = parse_bool("more_parts", &value)?,
            other => match other.strip_prefix("map.") {
                Some(header) => {
                    options.mapping.insert(header.to_string(), value);
                }
                None => return Err(bad_query(format!("Unknown option {other}."))),
            },
        }
    }
    Ok((body.to_vec(), options))
}

pub async fn create_import(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<Vec<(String, String)>>,
    body: Result<Bytes, BytesRejection>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let body = body.map_err(body_rejection)?;
    let (csv, options) = read_import(&headers, query, body)?;
    let record = imports::create(&state, &auth.actor, csv, options).await?;
    Ok::<_, ApiError>((StatusCode::ACCEPTED, Json(view(&record))))
}

pub async fn append_part(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<Vec<(String, String)>>,
    body: Result<Bytes, BytesRejection>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let body = body.map_err(body_rejection)?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_csv_type(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut last = false;
    for (name, value) in query {
        match name.as_str() {
            "last" => last = parse_bool("last", &value)?,
            other => return Err(bad_query(format!("Unknown option {other}."))),
        }
    }
    let record = imports::append_part(&state, &auth.actor, &id, body.to_vec(), last).await?;
    Ok::<_, ApiError>((StatusCode::ACCEPTED, Json(view(&record))))
}

pub async fn get_import(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let record = imports::get(&state, &auth.org_id, &id).await?;
    Ok::<_, ApiError>(Json(view(&record)))
}

/// `row,field,reason,message`, one line per problem, by row number; streamed
/// page by page (buffered runtimes: see `super::exports::generated_download`).
pub async fn import_errors(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let record = imports::get(&state, &auth.org_id, &id).await?;
    let source = Source::ImportErrors {
        import_id: record.id.clone(),
    };
    let (file_name, content_type) = (source.file_name(None), source.format().content_type());
    let chunks = exports::stream(state.table.clone(), auth.org_id.clone(), source)
        .map_err(|err| std::io::Error::other(err.to_string()));
    generated_download(
        &state,
        chunks,
        content_type,
        &file_name,
        ("error_report_too_large", "POST /imports/{id}/errors/exports"),
    )
    .await
}
