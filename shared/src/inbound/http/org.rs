//! The organization: `GET/PATCH /org`, its members (`/org/members`), and its
//! audit log (`GET /org/audit`). Thin: parse, call `services::orgs`, map.

use crate::domain::ids::UserId;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};

use super::extract::{ApiJson, ApiQuery};
use super::session::Authenticated;
use crate::domain::role::{Permission, Role};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::audit;
use crate::services::audit::AuditEntry;
use crate::services::orgs::{self, OrgChange, OrgView};
use crate::services::records::MemberRecord;

/// A member as the API shows it (never the membership's internals).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MemberView {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub joined_at: String,
}

impl From<MemberRecord> for MemberView {
    fn from(member: MemberRecord) -> Self {
        Self {
            user_id: member.user_id,
            name: member.name,
            email: member.email,
            role: member.role,
            joined_at: member.joined_at,
        }
    }
}

/// One page of members; `cursor` asks for the next (absent on the last).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MembersPage {
    pub members: Vec<MemberView>,
    pub cursor: Option<String>,
}

/// One page of the audit log, newest first; `cursor` asks for the next.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub cursor: Option<String>,
}

/// `?cursor=&limit=` of every list route.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct PageQuery {
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

impl PageQuery {
    /// The limit (1..=max, `default` when absent) and the cursor.
    pub fn parse(self, default: u32, max: u32) -> Result<(u32, Option<String>), ApiError> {
        let limit = match self.limit.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            None => default,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=max).contains(l))
                .ok_or_else(|| {
                    ApiError::field(
                        "limit",
                        "invalid_limit",
                        &format!("Use a whole number from 1 to {max}."),
                    )
                })?,
        };
        Ok((limit, self.cursor.filter(|c| !c.is_empty())))
    }
}

/// Tells an absent field (`None`) from an explicit null (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

pub async fn get_org(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let org = orgs::org(&state, &auth.org_id).await?;
    Ok::<_, ApiError>(Json(OrgView::from(org)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchOrg {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    website: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    industry: Option<Option<String>>,
    time_zone: Option<String>,
    country: Option<String>,
    slug: Option<String>,
    version: Option<u64>,
}

pub async fn update_org(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<PatchOrg>,
) -> impl IntoResponse {
    auth.require(Permission::ManageSettings)?;
    let change = OrgChange {
        name: body.name,
        website: body.website,
        industry: body.industry,
        time_zone: body.time_zone,
        country: body.country,
        slug: body.slug,
        version: body.version,
    };
    let org = orgs::update_org(&state, &auth.actor, change).await?;
    Ok::<_, ApiError>(Json(OrgView::from(org)))
}

pub async fn list_members(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> impl IntoResponse {
    let (limit, cursor) = page.parse(100, 100)?;
    let (members, cursor) = orgs::list_members(&state, &auth.org_id, limit, cursor).await?;
    let members = members.into_iter().map(MemberView::from).collect();
    Ok::<_, ApiError>(Json(MembersPage { members, cursor }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchMember {
    role: Role,
}

pub async fn update_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<UserId>,
    ApiJson(body): ApiJson<PatchMember>,
) -> impl IntoResponse {
    let m = orgs::change_role(&state, &auth.actor, &user_id, body.role).await?;
    Ok::<_, ApiError>(Json(MemberView::from(m)))
}

pub async fn remove_member(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(user_id): Path<UserId>,
) -> impl IntoResponse {
    orgs::remove_member(&state, &auth.actor, &user_id).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
}

pub async fn list_audit(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> impl IntoResponse {
    auth.require(Permission::ReadAuditLog)?;
    let (limit, cursor) = page.parse(50, 100)?;
    let (entries, cursor) = audit::list(state.table.as_ref(), &auth.org_id, limit, cursor).await?;
    Ok::<_, ApiError>(Json(AuditPage { entries, cursor }))
}
