//! Exports: `GET /contacts/export` (the file as the response) and export
//! jobs, `POST /contacts/exports`, `POST /imports/{id}/errors/exports`,
//! `GET /exports/{id}`, `GET /exports/{id}/download`. Rules live in
//! `services::exports`.
//!
//! Where responses stream (the local server) `GET /contacts/export` sends
//! any size. Where they are buffered (Lambda: 6 MB at most, the body
//! JSON-escaped or base64-encoded) it answers what fits in
//! [`crate::config::LAMBDA_INLINE_DOWNLOAD_LIMIT`] once encoded, and refuses
//! more with a 422 that points to export jobs, which work everywhere.

use crate::domain::ids::UserId;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, TryStreamExt};
use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contacts::time_param;
use super::extract::{ApiJson, query};
use super::session::Authenticated;
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::ports::object_store::attachment_disposition;
use crate::services::contacts::{self, ContactFilter};
use crate::services::exports::job::{self, Download, ExportRecord};
use crate::services::exports::{self, ExportFilter, Format, Source};
use crate::services::imports;

/// The filters and format of an export: the query of `GET /contacts/export`,
/// the JSON body of `POST /contacts/exports` (`{}` for everything as CSV).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// `csv` (the default) or `jsonl`.
    format: Option<String>,
    tag: Option<String>,
    owner_id: Option<String>,
    created_from: Option<String>,
    created_to: Option<String>,
    /// Free text, as the contacts list searches it.
    q: Option<String>,
    /// With `stage_id`: only contacts with a deal in that stage.
    pipeline_id: Option<String>,
    stage_id: Option<String>,
}

impl ExportParams {
    fn parse(self) -> Result<(ExportFilter, Format), ApiError> {
        let format = match self.format.as_deref() {
            None => Format::Csv,
            Some(raw) => Format::parse(raw).ok_or_else(|| ApiError::field("format", "invalid", "Use csv or jsonl."))?,
        };
        let stage = super::contacts::stage_filter(self.pipeline_id, self.stage_id, self.q.as_deref())?;
        // Checked here, before any answer starts streaming.
        let tag = self
            .tag
            .map(|raw| contacts::normalize_tag(&raw).map_err(|code| ApiError::field("tag", code, "Not a valid tag.")))
            .transpose()?;
        let filter = ExportFilter {
            contacts: ContactFilter {
                tag,
                owner_id: self.owner_id.map(UserId::from),
                created_from: time_param("created_from", self.created_from.as_deref())?,
                created_to: time_param("created_to", self.created_to.as_deref())?,
                q: self.q,
                ..ContactFilter::default()
            },
            stage,
        };
        Ok((filter, format))
    }
}

/// A file download's headers: its type, its name, and never cached.
pub(super) fn attachment(mut response: Response, content_type: &str, filename: &str) -> Response {
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&attachment_disposition(filename)) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

/// A generated file as the response: streamed where responses stream;
/// where they are buffered, collected while its encoded size is within the
/// limit and refused past it (`too_large`, pointing to `instead`), never cut
/// off mid-way.
pub(super) async fn generated_download<S>(
    state: &AppState,
    chunks: S,
    content_type: &str,
    filename: &str,
    (too_large, instead): (&'static str, &'static str),
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let Some(limit) = state.config.inline_download_limit else {
        return Ok(attachment(
            Body::from_stream(chunks).into_response(),
            content_type,
            filename,
        ));
    };
    let mut chunks = std::pin::pin!(chunks);
    let mut body = Vec::new();
    let mut size = LambdaBodySize::new(content_type);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| ApiError::Unavailable(err.to_string()))?;
        size.add(&chunk);
        if size.encoded() > limit {
            return Err(ApiError::TooLargeInline {
                code: too_large,
                detail: format!(
                    "This file is larger than a direct download here can carry ({} MiB once encoded); use {instead}.",
                    limit / (1024 * 1024)
                ),
                instead,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(attachment(Body::from(body).into_response(), content_type, filename))
}

/// How large a body is inside a Lambda response, by `lambda_http`'s rule:
/// text types travel as a JSON string (quotes, backslashes and control
/// characters escaped), anything else base64-encoded.
struct LambdaBodySize {
    text: bool,
    raw: usize,
    escaped: usize,
}

impl LambdaBodySize {
    fn new(content_type: &str) -> Self {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        let text = [
            "text",
            "application/json",
            "application/javascript",
            "application/xml",
            "application/yaml",
        ]
        .iter()
        .any(|prefix| content_type.starts_with(prefix))
            || ["+xml", "+yaml", "+json"]
                .iter()
                .any(|suffix| essence.ends_with(suffix));
        LambdaBodySize {
            text,
            raw: 0,
            escaped: 0,
        }
    }

    fn add(&mut self, chunk: &[u8]) {
        self.raw += chunk.len();
        if self.text {
            self.escaped += chunk
                .iter()
                .map(|byte| match byte {
                    b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
                    0..=0x1f => 6,
                    _ => 1,
                })
                .sum::<usize>();
        }
    }

    fn encoded(&self) -> usize {
        if self.text {
            self.escaped
        } else {
            self.raw.div_ceil(3) * 4
        }
    }
}

pub async fn export_contacts(
    State(state): State<AppState>,
    auth: Authenticated,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let params = query(params)?;
    let (filter, format) = params.parse()?;
    let source = Source::contacts(&state, &auth.org_id, filter, format).await?;
    let file_name = source.file_name(None);
    let chunks = exports::stream(state.table.clone(), auth.org_id.clone(), source.clone())
        .map_err(|err| std::io::Error::other(err.to_string()));
    let response = generated_download(
        &state,
        chunks,
        format.content_type(),
        &file_name,
        ("export_too_large", "POST /contacts/exports"),
    )
    .await?;
    // Before the first byte leaves (a stream starts only once answered);
    // an export refused as too large is not recorded.
    exports::record_direct(&state, &auth.actor, &source).await?;
    Ok::<_, ApiError>(response)
}

/// What an export holds.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    Contacts,
    ImportErrors,
}

/// An export job as the API shows it.
#[derive(Serialize, JsonSchema)]
pub struct ExportView {
    id: String,
    kind: ExportKind,
    state: job::ExportState,
    format: Format,
    /// The contacts' filter (`null` for an import's error report).
    filter: Option<ExportFilterView>,
    /// The import whose errors this is (`null` for contacts).
    import_id: Option<String>,
    file_name: String,
    rows_done: u64,
    bytes: u64,
    created_at: String,
    updated_at: String,
    finished_at: Option<String>,
    /// When the file and this record are deleted (RFC 3339).
    expires_at: Option<String>,
    error: Option<String>,
    /// Where the file is, once the export is done.
    download_url: Option<String>,
}

/// An export's filter in the shape it was asked for.
#[derive(Serialize, JsonSchema)]
pub struct ExportFilterView {
    tag: Option<String>,
    owner_id: Option<UserId>,
    created_from: Option<String>,
    created_to: Option<String>,
    q: Option<String>,
    pipeline_id: Option<String>,
    stage_id: Option<String>,
}

fn view(record: &ExportRecord) -> ExportView {
    let done = record.state == job::ExportState::Done;
    let (kind, filter, import_id) = match &record.source {
        Source::Contacts { filter, .. } => (ExportKind::Contacts, Some(filter_view(filter)), None),
        Source::ImportErrors { import_id } => (ExportKind::ImportErrors, None, Some(import_id.clone())),
    };
    ExportView {
        id: record.id.clone(),
        kind,
        state: record.state,
        format: record.source.format(),
        filter,
        import_id,
        file_name: record.file_name(),
        rows_done: record.rows_done,
        bytes: record.bytes,
        created_at: record.created_at.clone(),
        updated_at: record.updated_at.clone(),
        finished_at: record.finished_at.clone(),
        expires_at: jiff::Timestamp::from_second(record.expires_at)
            .ok()
            .map(|t| t.to_string()),
        error: record.error.clone(),
        download_url: done.then(|| format!("/exports/{}/download", record.id)),
    }
}

fn filter_view(filter: &ExportFilter) -> ExportFilterView {
    let c = &filter.contacts;
    let (pipeline_id, stage_id) = filter.stage.clone().unzip();
    ExportFilterView {
        tag: c.tag.clone(),
        owner_id: c.owner_id.clone(),
        created_from: c.created_from.map(|t| t.to_string()),
        created_to: c.created_to.map(|t| t.to_string()),
        q: c.q.clone(),
        pipeline_id,
        stage_id,
    }
}

/// 202 with the job, and where to follow it.
fn accepted(record: &ExportRecord) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(view(record))).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("/exports/{}", record.id)) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub async fn create_export(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(params): ApiJson<ExportParams>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let (filter, format) = params.parse()?;
    let source = Source::contacts(&state, &auth.org_id, filter, format).await?;
    let record = job::create(&state, &auth.actor, source).await?;
    Ok::<_, ApiError>(accepted(&record))
}

/// An import's error report as an export job: how a report larger than a
/// buffered response leaves AWS.
pub async fn export_import_errors(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let import = imports::get(&state, &auth.org_id, &id).await?;
    let source = Source::ImportErrors { import_id: import.id };
    let record = job::create(&state, &auth.actor, source).await?;
    Ok::<_, ApiError>(accepted(&record))
}

pub async fn get_export(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let record = job::get(&state, &auth.org_id, &id).await?;
    Ok::<_, ApiError>(Json(view(&record)))
}

/// A finished export: 303 to a short-lived link where the store has them
/// (S3), else the file itself.
pub async fn download_export(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let (record, download) = job::download(&state, &auth.org_id, &id).await?;
    job::record_download(&state, &auth.actor, &record).await?;
    let response = match download {
        Download::Link(url) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let location = HeaderValue::from_str(&url).map_err(|err| ApiError::Internal(err.to_string()))?;
            response.headers_mut().insert(LOCATION, location);
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            response
        }
        Download::File(reader) => {
            let length = reader.length;
            let chunks = reader.chunks.map_err(|err| std::io::Error::other(err.to_string()));
            let mut response = attachment(
                Body::from_stream(chunks).into_response(),
                &reader.content_type,
                &record.file_name(),
            );
            response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(length));
            response
        }
    };
    Ok::<_, ApiError>(response)
}

#[cfg(test)]
mod tests {
    use super::LambdaBodySize;

    #[test]
    fn text_is_counted_as_a_json_string_and_anything_else_as_base64() {
        let mut csv = LambdaBodySize::new("text/csv; charset=utf-8");
        csv.add(b"a,\"b\"\n");
        csv.add(b"\\\x01");
        // a , \" b \" \n → 9; \\ → 2; \u0001 → 6.
        assert_eq!(csv.encoded(), 17);
        let mut jsonl = LambdaBodySize::new("application/x-ndjson");
        jsonl.add(b"{\"a\":1}\n");
        jsonl.add(b"{}");
        assert_eq!(jsonl.encoded(), 16, "10 bytes are 16 in base64");
        let mut json = LambdaBodySize::new("application/problem+json");
        json.add(b"\"x\"");
        assert_eq!(json.encoded(), 5);
    }
}
