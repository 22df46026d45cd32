//! `/app/settings`: the organization's profile (name, website, industry,
//! time zone, country, booking-link slug) and its members. Only a role that
//! may change settings sees the page or the way to it; the server refuses
//! anyone else with 403, exactly as `PATCH /org` does.

use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;

use super::contacts::NoticeQuery;
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::orgs::{self, OrgChange};
use crate::services::records::OrgRecord;

pub struct MemberRow {
    pub name: String,
    pub email: String,
    pub role: &'static str,
}

#[derive(Template)]
#[template(path = "staff/settings.html")]
struct SettingsPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
    version: u64,
    members: Vec<MemberRow>,
}

/// The form as the stored profile fills it.
fn form_of(org: &OrgRecord) -> FormData {
    let pairs = [
        ("name", org.name.clone()),
        ("website", org.website.clone().unwrap_or_default()),
        ("industry", org.industry.clone().unwrap_or_default()),
        ("time_zone", org.time_zone.clone()),
        ("country", org.country.clone()),
        ("slug", org.slug.clone()),
    ];
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    FormData::parse(encoded.as_bytes())
}

async fn page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: Option<FormData>,
) -> Result<SettingsPage, PageError> {
    let org = orgs::org(state, &staff.auth.org_id).await?;
    let (members, _) = orgs::list_members(state, &staff.auth.org_id, 100, None).await?;
    let staff = staff.in_section("settings");
    Ok(SettingsPage {
        title: "Settings",
        chrome: Some(staff.chrome),
        notice,
        errors,
        form: form.unwrap_or_else(|| form_of(&org)),
        version: org.version,
        members: members
            .into_iter()
            .map(|m| MemberRow {
                name: m.name,
                email: m.email,
                role: m.role.as_str(),
            })
            .collect(),
    })
}

/// `GET /app/settings`.
pub async fn settings(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    staff.auth.require(Permission::ManageSettings)?;
    let page = page(
        &state,
        staff,
        notice_text(query.notice.as_deref()),
        FieldErrors::default(),
        None,
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// A blank optional field clears it, as `null` does in `PATCH /org`.
fn clearable(form: &FormData, name: &str) -> Option<Option<String>> {
    Some(form.optional(name))
}

/// `POST /app/settings`: saves the profile, or shows it again with the errors.
pub async fn save_settings(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    staff.auth.require(Permission::ManageSettings)?;
    let change = OrgChange {
        name: Some(form.text("name")),
        website: clearable(&form, "website"),
        industry: clearable(&form, "industry"),
        time_zone: Some(form.text("time_zone")),
        country: Some(form.text("country")),
        slug: Some(form.text("slug")),
        version: form.text("version").parse().ok(),
    };
    match orgs::update_org(&state, &staff.auth.actor, change)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(see_other("/app/settings?notice=settings-saved")),
        Err(err @ (ApiError::Validation(_) | ApiError::Conflict { .. } | ApiError::PreconditionFailed)) => {
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let errors = FieldErrors::from_api(&err, |field| field);
            let page = page(&state, staff, None, errors, Some(form)).await?;
            Ok(render(status, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}
