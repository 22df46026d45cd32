//! `/app/settings/deletion`: an owner deletes the organization (typing its
//! name, with their password or a recent sign-in), sees what happens when,
//! and may cancel within the grace window. The page calls the same service
//! as `/org/deletion`.

use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;

use super::contacts::NoticeQuery;
use super::{Chrome, FieldErrors, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::orgs::deletion::{self, DeletionView, GRACE_DAYS, Reauthentication};

#[derive(Template)]
#[template(path = "staff/org_deletion.html")]
struct DeletionPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    org_name: String,
    confirm_name: String,
    deletion: Option<DeletionView>,
    grace_days: i64,
}

async fn page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    confirm_name: String,
) -> Result<DeletionPage, PageError> {
    let deletion = deletion::status(state, &staff.auth.org_id).await?;
    let staff = staff.in_section("settings");
    Ok(DeletionPage {
        title: "Delete organization",
        org_name: staff.chrome.org_name.clone(),
        chrome: Some(staff.chrome),
        notice,
        errors,
        confirm_name,
        deletion,
        grace_days: GRACE_DAYS,
    })
}

/// `GET /app/settings/deletion`.
pub async fn show(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    staff.auth.require(Permission::DeleteOrganization)?;
    let notice = notice_text(query.notice.as_deref());
    let page = page(&state, staff, notice, FieldErrors::default(), String::new()).await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/settings/deletion`: `action=delete` (with `confirm_name` and
/// `password`) or `action=cancel`.
pub async fn submit(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    staff.auth.require(Permission::DeleteOrganization)?;
    if form.text("action") == "cancel" {
        deletion::cancel(&state, &staff.auth.actor, staff.auth.role)
            .await
            .map_err(ApiError::from)?;
        return Ok(see_other("/app/settings?notice=org-deletion-cancelled"));
    }
    let confirm_name = form.text("confirm_name");
    let reauth = Reauthentication {
        password: form.optional("password"),
        session_token: staff.auth.session_token.clone(),
    };
    match deletion::request(&state, &staff.auth.actor, staff.auth.role, &confirm_name, reauth)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(see_other("/app/settings/deletion?notice=org-deletion-requested")),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api(&err, |field| field);
            let page = page(&state, staff, None, errors, confirm_name).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}
