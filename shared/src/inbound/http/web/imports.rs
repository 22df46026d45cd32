//! The import wizard: upload a CSV (a plain multipart form), see its first
//! rows and choose each column's field (offered as the member chose last
//! time, else as the header says), start it, and watch its progress (htmx
//! refreshes the bar; without JavaScript a refresh link) until the result
//! and its error report. The same services as `/imports/contacts`: the file
//! is uploaded as an import still `uploading`, and starting it queues the
//! job as the API's last part does.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};

use super::upload::StaffUpload;
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, is_htmx, render, see_other};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::fields;
use crate::services::imports::{self, DedupeMode, ImportError, ImportRecord, ImportState};

/// Rows of the file shown before mapping.
const PREVIEW_ROWS: usize = 5;
/// Imports listed under the upload form.
const RECENT: u32 = 10;
/// The address parts a column can fill.
const ADDRESS_PARTS: [&str; 6] = ["line1", "line2", "city", "region", "postal_code", "country"];

/// One import in a list, in words.
pub struct ImportLine {
    pub id: String,
    pub when: String,
    pub state: &'static str,
    pub rows: u64,
}

fn state_word(state: ImportState) -> &'static str {
    match state {
        ImportState::Uploading => "not started",
        ImportState::Queued => "waiting",
        ImportState::Running => "running",
        ImportState::Done => "done",
        ImportState::Failed => "failed",
    }
}

#[derive(Template)]
#[template(path = "staff/import_new.html")]
struct UploadPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    recent: Vec<ImportLine>,
}

async fn upload_page(state: &AppState, staff: Staff, errors: FieldErrors) -> Result<UploadPage, PageError> {
    let recent = imports::recent(state, &staff.auth.org_id, RECENT)
        .await?
        .into_iter()
        .map(|record| ImportLine {
            when: super::local_time(&record.created_at, &staff.time_zone),
            state: state_word(record.state),
            rows: record.rows_total,
            id: record.id,
        })
        .collect();
    let staff = staff.in_section("contacts");
    Ok(UploadPage {
        title: "Import contacts",
        chrome: Some(staff.chrome),
        notice: None,
        errors,
        recent,
    })
}

/// `GET /app/imports/new`: the upload form and the recent imports.
pub async fn new_import(State(state): State<AppState>, staff: Staff) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let page = upload_page(&state, staff, FieldErrors::default()).await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/imports`: stores the file (nothing runs yet), on to the mapping.
pub async fn upload(State(state): State<AppState>, upload: StaffUpload) -> PageResult {
    upload.staff.auth.require(Permission::UseCrm)?;
    let stored = match upload.file("file") {
        None => Err(ApiError::field("file", "required", "Choose a CSV file.")),
        Some(file) => imports::upload(&state, &upload.staff.auth.actor, file.bytes.clone())
            .await
            .map_err(ApiError::from),
    };
    match stored {
        Ok(record) => Ok(see_other(&format!("/app/imports/{}/map", record.id))),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api(&err, |_| "file");
            let page = upload_page(&state, upload.staff, errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// One column of the mapping form.
pub struct ColumnChoice {
    /// The select's name and id: `col-<index>`.
    pub id: String,
    pub header: String,
    /// (target, label, selected)
    pub options: Vec<(String, String, bool)>,
}

#[derive(Template)]
#[template(path = "staff/import_map.html")]
struct MapPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    id: String,
    rows_total: u64,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    columns: Vec<ColumnChoice>,
    errors: FieldErrors,
    update: bool,
    tags: String,
}

/// Every target a column may take, with the words shown for it.
fn targets(custom: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = imports::TARGETS
        .iter()
        .map(|target| {
            let label = match *target {
                "ignore" => "Do not import".to_string(),
                "id" => "Record id (from another system)".to_string(),
                other => other.replace('_', " "),
            };
            (target.to_string(), label)
        })
        .collect();
    out.extend(ADDRESS_PARTS.iter().map(|part| {
        (
            format!("address.{part}"),
            format!("address: {}", part.replace('_', " ")),
        )
    }));
    out.extend(
        custom
            .iter()
            .map(|(key, label)| (format!("custom.{key}"), format!("custom field: {label}"))),
    );
    out
}

/// The mapping page of an import not started yet; `chosen` (column index →
/// target) overrides the offered mapping after a refusal.
async fn map_page(
    state: &AppState,
    staff: Staff,
    id: &str,
    chosen: Option<&FormData>,
    errors: FieldErrors,
) -> Result<Result<MapPage, ImportRecord>, PageError> {
    let org_id = staff.auth.org_id.clone();
    let preview = match imports::preview(state, &org_id, id, PREVIEW_ROWS).await {
        Ok(preview) => preview,
        Err(ImportError::Conflict(_)) => return Ok(Err(imports::get(state, &org_id, id).await?)),
        Err(other) => return Err(other.into()),
    };
    let offered = imports::remembered_mapping(state, &org_id, &staff.auth.user_id, &preview.headers).await?;
    let custom: Vec<(String, String)> = fields::list(state.table.as_ref(), &org_id)
        .await?
        .into_iter()
        .map(|def| (def.key, def.label))
        .collect();
    let all = targets(&custom);
    let columns = offered
        .iter()
        .map(|column| {
            let id = format!("col-{}", column.column);
            let current = chosen
                .and_then(|form| form.optional(&id))
                .unwrap_or_else(|| column.target.clone());
            ColumnChoice {
                options: all
                    .iter()
                    .map(|(target, label)| (target.clone(), label.clone(), *target == current))
                    .collect(),
                header: column.header.clone(),
                id,
            }
        })
        .collect();
    let staff = staff.in_section("contacts");
    Ok(Ok(MapPage {
        title: "Map the columns",
        chrome: Some(staff.chrome),
        notice: None,
        id: id.to_string(),
        rows_total: preview.record.rows_total,
        headers: preview.headers,
        rows: preview.rows,
        columns,
        errors,
        update: chosen.is_some_and(|form| form.text("mode") == "update"),
        tags: chosen.map(|form| form.text("tags")).unwrap_or_default(),
    }))
}

/// `GET /app/imports/{id}/map`: the first rows and a field for each column.
pub async fn map(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    match map_page(&state, staff, &id, None, FieldErrors::default()).await? {
        Ok(page) => Ok(render(StatusCode::OK, &page)),
        // Started already: its progress.
        Err(record) => Ok(see_other(&format!("/app/imports/{}", record.id))),
    }
}

/// `POST /app/imports/{id}/start`: the chosen mapping, mode and tags; the job starts.
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let org_id = staff.auth.org_id.clone();
    let headers = match imports::preview(&state, &org_id, &id, 0).await {
        Ok(preview) => preview.headers,
        Err(ImportError::Conflict(_)) => return Ok(see_other(&format!("/app/imports/{id}"))),
        Err(other) => return Err(other.into()),
    };
    let overrides: BTreeMap<String, String> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, header)| {
            form.optional(&format!("col-{i}"))
                .map(|target| (header.clone(), target))
        })
        .collect();
    let mode = if form.text("mode") == "update" {
        DedupeMode::Update
    } else {
        DedupeMode::Skip
    };
    let tags: Vec<String> = form
        .text("tags")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    match imports::start(&state, &staff.auth.actor, &id, mode, &tags, &overrides)
        .await
        .map_err(ApiError::from)
    {
        Ok(record) => Ok(see_other(&format!("/app/imports/{}", record.id))),
        Err(err @ ApiError::Validation(_)) => {
            // `mapping.<header>` is the select of that header's column.
            let errors = FieldErrors::from_api_owned(&err, |field| match field.strip_prefix("mapping.") {
                Some(header) => headers
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(header.trim()))
                    .map(|i| format!("col-{i}"))
                    .unwrap_or_default(),
                None if field.starts_with("tags") => "tags".into(),
                None => String::new(),
            });
            match map_page(&state, staff, &id, Some(&form), errors).await? {
                Ok(page) => Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page)),
                Err(record) => Ok(see_other(&format!("/app/imports/{}", record.id))),
            }
        }
        Err(ApiError::Conflict { .. }) => Ok(see_other(&format!("/app/imports/{id}"))),
        Err(other) => Err(PageError(other)),
    }
}

/// The part htmx refreshes while the import runs.
#[derive(Template)]
#[template(path = "staff/import_progress.html")]
struct Progress {
    id: String,
    state: &'static str,
    rows_done: u64,
    rows_total: u64,
    created: u64,
    updated: u64,
    skipped: u64,
    failed: u64,
    /// Still queued or running: the part asks to be refreshed.
    working: bool,
    done: bool,
    broken: bool,
    not_started: bool,
    /// Rows read from the member's Google contacts rather than a file.
    from_google: bool,
    /// Still reading pages of the member's Google contacts.
    reading_google: bool,
    /// Why the import stopped, when it says.
    error: Option<String>,
}

impl Progress {
    fn of(record: &ImportRecord) -> Self {
        let reading_google = record.google.is_some() && record.state == ImportState::Uploading;
        Progress {
            id: record.id.clone(),
            state: state_word(record.state),
            rows_done: record.rows_done,
            rows_total: record.rows_total,
            created: record.created,
            updated: record.updated,
            skipped: record.skipped,
            failed: record.failed,
            working: matches!(record.state, ImportState::Queued | ImportState::Running) || reading_google,
            done: record.state == ImportState::Done,
            broken: record.state == ImportState::Failed,
            not_started: record.state == ImportState::Uploading && !reading_google,
            from_google: record.google.is_some(),
            reading_google,
            error: record.error.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "staff/import.html")]
struct ImportPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    progress: Progress,
}

/// `GET /app/imports/{id}`: the progress, then the result; to htmx, only the progress.
pub async fn import_page(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let record = imports::get(&state, &staff.auth.org_id, &id).await?;
    let progress = Progress::of(&record);
    if is_htmx(&headers) {
        return Ok(render(StatusCode::OK, &progress));
    }
    let staff = staff.in_section("contacts");
    Ok(render(
        StatusCode::OK,
        &ImportPage {
            title: "Import",
            chrome: Some(staff.chrome),
            notice: None,
            progress,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_target_is_one_the_service_takes() {
        let custom = vec![("shoe_size".to_string(), "Shoe size".to_string())];
        let all = targets(&custom);
        assert!(all.iter().any(|(t, _)| t == "address.postal_code"));
        assert!(
            all.iter()
                .any(|(t, l)| t == "custom.shoe_size" && l == "custom field: Shoe size")
        );
        assert_eq!(all.len(), imports::TARGETS.len() + ADDRESS_PARTS.len() + 1);
    }
}
