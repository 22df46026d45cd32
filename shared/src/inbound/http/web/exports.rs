//! "Export these": the contacts table's filters become an export job (the
//! same service as `POST /contacts/exports`), and its page shows the
//! progress, refreshed by htmx every second until the file is ready, then
//! the download link (the API's `GET /exports/{id}/download`).

use askama::Template;
use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};

use super::contacts::{TableQuery, filter_of, query_of_form, refused_table};
use super::{Chrome, PageError, PageResult, Staff, StaffForm, is_htmx, render, see_other};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts;
use crate::services::exports::job::{self, ExportState};
use crate::services::exports::{ExportFilter, Format, Source};

/// `POST /app/contacts/export`: starts the export of the table's filters.
pub async fn export_contacts(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let query = query_of_form(&form);
    match start_export(&state, &staff, &query).await {
        Ok(id) => Ok(see_other(&format!("/app/exports/{id}"))),
        Err(err @ ApiError::Validation(_)) => refused_table(&state, staff, query, &err).await,
        Err(other) => Err(PageError(other)),
    }
}

/// Starts the export of the table's filters; the job's id.
async fn start_export(state: &AppState, staff: &Staff, query: &TableQuery) -> Result<String, ApiError> {
    let (mut filter, stage) = filter_of(query)?;
    filter.tag = filter
        .tag
        .map(|raw| contacts::normalize_tag(&raw).map_err(|code| ApiError::field("tag", code, "Not a valid tag.")))
        .transpose()?;
    let source = Source::contacts(
        state,
        &staff.auth.org_id,
        ExportFilter {
            contacts: filter,
            stage,
        },
        Format::Csv,
    )
    .await?;
    let record = job::create(state, &staff.auth.actor, source).await?;
    Ok(record.id)
}

#[derive(Template)]
#[template(path = "staff/export.html")]
struct ExportPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    progress: Progress,
}

/// The part htmx refreshes.
#[derive(Template)]
#[template(path = "staff/export_progress.html")]
struct Progress {
    id: String,
    rows: u64,
    /// Still queued or running: the part asks to be refreshed.
    working: bool,
    done: bool,
    failed: bool,
}

/// `GET /app/exports/{id}`: the export's progress; to htmx, only the progress.
pub async fn export_page(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let record = job::get(&state, &staff.auth.org_id, &id).await?;
    let progress = Progress {
        id: record.id.clone(),
        rows: record.rows_done,
        working: matches!(record.state, ExportState::Queued | ExportState::Running),
        done: record.state == ExportState::Done,
        failed: record.state == ExportState::Failed,
    };
    if is_htmx(&headers) {
        return Ok(render(StatusCode::OK, &progress));
    }
    let staff = staff.in_section("contacts");
    Ok(render(
        StatusCode::OK,
        &ExportPage {
            title: "Export",
            chrome: Some(staff.chrome),
            notice: None,
            progress,
        },
    ))
}
