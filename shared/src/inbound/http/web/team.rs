//! Settings for admins: members and roles (change a role, remove a member),
//! invitations (invite, see the pending ones, revoke), and the audit log
//! with filters by actor, action and date. The same services, and the same
//! role rules, as `/org/members`, `/org/invitations` and `/org/audit`: a
//! member is not shown these pages and is refused them with 403.

use crate::domain::ids::UserId;
use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde::Deserialize;

use super::contacts::NoticeQuery;
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::domain::role::{Permission, Role};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::{audit, orgs};

pub struct MemberRow {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: &'static str,
    pub is_me: bool,
}

pub struct InvitationRow {
    pub id: String,
    pub email: String,
    pub role: &'static str,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "staff/team.html")]
struct TeamPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    errors: FieldErrors,
    form: FormData,
    roles: [&'static str; 3],
}

async fn team_page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
) -> Result<TeamPage, PageError> {
    staff.auth.require(Permission::ManageMembers)?;
    let org_id = staff.auth.org_id.clone();
    let (members, _) = orgs::list_members(state, &org_id, 100, None).await?;
    let (invitations, _) = orgs::list_invitations(state, staff.auth.role, &org_id, 100, None).await?;
    let me = staff.auth.user_id.clone();
    let staff = staff.in_section("settings");
    Ok(TeamPage {
        title: "Members and invitations",
        chrome: Some(staff.chrome),
        notice,
        members: members
            .into_iter()
            .map(|m| MemberRow {
                is_me: m.user_id == me,
                user_id: m.user_id,
                name: m.name,
                email: m.email,
                role: m.role.as_str(),
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id,
                email: i.email,
                role: i.role.as_str(),
                expires: i.expires_at.chars().take(10).collect(),
            })
            .collect(),
        errors,
        form,
        roles: ["member", "admin", "owner"],
    })
}

/// `GET /app/settings/team`.
pub async fn team(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    let page = team_page(
        &state,
        staff,
        notice_text(query.notice.as_deref()),
        FieldErrors::default(),
        FormData::default(),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

fn role_of(raw: &str) -> Result<Role, ApiError> {
    serde_json::from_value(serde_json::Value::String(raw.to_string()))
        .map_err(|_| ApiError::field("role", "invalid_role", "Choose member, admin or owner."))
}

/// `POST /app/settings/invitations`: invites by email with a role.
pub async fn invite(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    staff.auth.require(Permission::ManageMembers)?;
    let invited = match role_of(&form.text("role")) {
        Ok(role) => orgs::invite(&state, &staff.auth.actor, staff.auth.role, &form.text("email"), role)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match invited {
        Ok(_) => Ok(see_other("/app/settings/team?notice=invited")),
        Err(err @ (ApiError::Validation(_) | ApiError::Conflict { .. })) => {
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let errors = match &err {
                ApiError::Conflict { detail, .. } => {
                    FieldErrors::from_api(&ApiError::field("email", "taken", detail), |f| f)
                }
                other => FieldErrors::from_api(other, |f| f),
            };
            let page = team_page(&state, staff, None, errors, form).await?;
            Ok(render(status, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `POST /app/settings/invitations/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm { staff, .. }: StaffForm,
) -> PageResult {
    staff.auth.require(Permission::ManageMembers)?;
    orgs::revoke_invitation(&state, &staff.auth.actor, staff.auth.role, &id).await?;
    Ok(see_other("/app/settings/team?notice=invitation-revoked"))
}

/// `POST /app/settings/members/{user_id}`: `action` = role (with `role`) or remove.
pub async fn member(
    State(state): State<AppState>,
    Path(user_id): Path<UserId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    staff.auth.require(Permission::ManageMembers)?;
    match form.text("action").as_str() {
        "role" => {
            let role = role_of(&form.text("role"))?;
            orgs::change_role(&state, &staff.auth.actor, &user_id, role).await?;
            Ok(see_other("/app/settings/team?notice=role-changed"))
        }
        "remove" => {
            orgs::remove_member(&state, &staff.auth.actor, &user_id).await?;
            Ok(see_other("/app/settings/team?notice=member-removed"))
        }
        _ => Err(PageError(ApiError::field(
            "action",
            "unknown_action",
            "Choose role or remove.",
        ))),
    }
}

pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
}

#[derive(Template)]
#[template(path = "staff/audit.html")]
struct AuditPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    rows: Vec<AuditRow>,
    scanned: usize,
    query: AuditQuery,
    actors: Vec<(String, String, bool)>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    /// `YYYY-MM-DD`, a day in the member's time zone.
    #[serde(default)]
    pub date: Option<String>,
}

/// How many of the newest entries the filters look through.
const AUDIT_SCAN: u32 = 500;

/// `GET /app/settings/audit?actor=&action=&date=`: the newest entries that match.
pub async fn audit_log(State(state): State<AppState>, staff: Staff, Query(query): Query<AuditQuery>) -> PageResult {
    staff.auth.require(Permission::ReadAuditLog)?;
    let org_id = staff.auth.org_id.clone();
    let (members, _) = orgs::list_members(&state, &org_id, 100, None).await?;
    let name_of = |user_id: &String| {
        members
            .iter()
            .find(|m| m.user_id == *user_id)
            .map(|m| m.name.clone())
            .unwrap_or_else(|| user_id.to_string())
    };
    let blank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (actor, action, date) = (blank(&query.actor), blank(&query.action), blank(&query.date));
    if let Some(date) = &date
        && date.parse::<jiff::civil::Date>().is_err()
    {
        return Err(PageError(ApiError::field(
            "date",
            "invalid_date",
            "Use a date such as 2026-03-02.",
        )));
    }
    let mut entries = Vec::new();
    let mut cursor = None;
    while entries.len() < AUDIT_SCAN as usize {
        let (page, next) = audit::list(state.table.as_ref(), &org_id, 100, cursor).await?;
        entries.extend(page);
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    let scanned = entries.len();
    let rows = entries
        .into_iter()
        .filter(|e| actor.as_deref().is_none_or(|a| e.actor_user_id.as_deref() == Some(a)))
        .filter(|e| action.as_deref().is_none_or(|a| e.action.contains(a)))
        .filter(|e| {
            date.as_deref()
                .is_none_or(|d| super::local_time(&e.at, &staff.time_zone).starts_with(d))
        })
        .map(|e| AuditRow {
            at: super::local_time(&e.at, &staff.time_zone),
            actor: e
                .actor_user_id
                .as_ref()
                .map(name_of)
                .unwrap_or_else(|| "Konnecs".into()),
            action: e.action,
            target: e.target,
        })
        .collect();
    let actors = members
        .iter()
        .map(|m| {
            (
                m.user_id.to_string(),
                m.name.clone(),
                actor.as_deref() == Some(m.user_id.as_str()),
            )
        })
        .collect();
    let staff = staff.in_section("settings");
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            title: "Audit log",
            chrome: Some(staff.chrome),
            notice: None,
            rows,
            scanned,
            query: AuditQuery { actor, action, date },
            actors,
        },
    ))
}
