//! Contacts CRM routes: contacts, merge, tags, custom fields, notes, timeline.
//! Every route takes a session (`Authenticated`) and needs `UseCrm`; ids are
//! looked up under the caller's organization, so a foreign id is a 404.

use crate::domain::ids::ContactId;
use crate::domain::ids::PipelineId;
use crate::domain::ids::UserId;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiQuery};
use super::session::Authenticated;
use crate::domain::role::{Permission, Role};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::{
    self, Caller, ContactError, ContactFilter, ContactPatch, ContactRecord, NewContact, SortBy, fields, merge, notes,
    tags, views,
};
use crate::services::pipelines;

type Outcome = Result<Response, ApiError>;

/// One page of contacts; `cursor` asks for the next (none after the last).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ContactPage {
    pub contacts: Vec<ContactRecord>,
    pub cursor: Option<String>,
}

/// One page of a contact's timeline, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TimelinePage {
    pub entries: Vec<contacts::TimelineEntry>,
    pub cursor: Option<String>,
}

/// One page of a contact's notes.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NotePage {
    pub notes: Vec<notes::NoteRecord>,
    pub cursor: Option<String>,
}

/// Every tag in use with its number of contacts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagList {
    pub tags: Vec<tags::TagCount>,
}

/// A renamed tag: its new (normalized) name and how many contacts carry it now.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagRenamed {
    pub tag: String,
    pub contacts_changed: usize,
}

/// A removed tag: how many contacts lost it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TagRemoved {
    pub contacts_changed: usize,
}

/// The organization's custom field definitions.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldList {
    pub fields: Vec<crate::domain::contact::FieldDef>,
}

/// The caller's saved views of the contact list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ViewList {
    pub views: Vec<views::SavedView>,
}

pub fn caller(auth: &Authenticated) -> Result<Caller, ApiError> {
    auth.require(Permission::UseCrm)?;
    Ok(Caller {
        actor: auth.actor.clone(),
        user_id: auth.user_id.clone(),
        is_admin: auth.role >= Role::Admin,
    })
}

/// `If-Match: "3"` → Some(3); absent or `*` → None; unreadable → Some(0)
/// (never a real version, so it answers 412).
pub fn if_match(headers: &HeaderMap) -> Option<u64> {
    let raw = headers.get(http::header::IF_MATCH)?.to_str().unwrap_or_default().trim();
    if raw == "*" {
        return None;
    }
    let raw = raw.trim_start_matches("W/").trim_matches('"');
    Some(raw.parse().unwrap_or(0))
}

fn with_etag(status: StatusCode, contact: &ContactRecord) -> Response {
    let mut response = (status, Json(contact)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", contact.version)) {
        response.headers_mut().insert(http::header::ETAG, value);
    }
    response
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListParams {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    created_from: Option<String>,
    #[serde(default)]
    created_to: Option<String>,
    #[serde(default)]
    q: Option<String>,
    /// Contacts with a deal in this stage of this pipeline (both together).
    #[serde(default)]
    pipeline_id: Option<String>,
    #[serde(default)]
    stage_id: Option<String>,
    /// Not a filter: named so that it is refused rather than ignored.
    #[serde(default)]
    stage: Option<String>,
    /// `-created` (newest first, the default), `created`, `name` (A to Z),
    /// `-name`, `-updated` (most recently updated first) or `updated`.
    #[serde(default)]
    sort: Option<String>,
}

/// The list's order from its `sort` parameter: a field, ascending unless
/// `-` comes before it.
pub fn sort_order(sort: Option<&str>) -> Result<(SortBy, bool), ContactError> {
    let raw = sort.map(str::trim).filter(|s| !s.is_empty()).unwrap_or("-created");
    let (field, ascending) = match raw.strip_prefix('-') {
        Some(field) => (field, false),
        None => (raw, true),
    };
    let by = match field {
        "created" => SortBy::Created,
        "name" => SortBy::Name,
        "updated" => SortBy::Updated,
        _ => {
            return Err(ContactError::field(
                "sort",
                "unknown_sort",
                "Sort by created, name or updated; a leading - reverses the order.",
            ));
        }
    };
    Ok((by, ascending))
}

/// The `sort` parameter of an order (the inverse of [`sort_order`]).
pub fn sort_param(by: SortBy, ascending: bool) -> String {
    let field = match by {
        SortBy::Created => "created",
        SortBy::Name => "name",
        SortBy::Updated => "updated",
    };
    if ascending {
        field.to_string()
    } else {
        format!("-{field}")
    }
}

/// The pipeline-stage filter of the contact list and the export: both ids or
/// neither, and not with a search (the search index knows no stages).
pub fn stage_filter(
    pipeline_id: Option<String>,
    stage_id: Option<String>,
    q: Option<&str>,
) -> Result<Option<(String, String)>, ApiError> {
    match (pipeline_id, stage_id) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) if q.is_some_and(|q| !q.trim().is_empty()) => Err(ApiError::field(
            "q",
            "not_with_stage",
            "Search within all contacts, or list a pipeline stage; not both at once.",
        )),
        (Some(pipeline_id), Some(stage_id)) => Ok(Some((pipeline_id, stage_id))),
        (None, Some(_)) => Err(ApiError::field(
            "pipeline_id",
            "required",
            "Give pipeline_id and stage_id together.",
        )),
        (Some(_), None) => Err(ApiError::field(
            "stage_id",
            "required",
            "Give pipeline_id and stage_id together.",
        )),
    }
}

/// An RFC 3339 time from a query parameter; empty is none.
pub(super) fn time_param(field: &str, raw: Option<&str>) -> Result<Option<jiff::Timestamp>, ContactError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse::<jiff::Timestamp>().map(Some).map_err(|_| {
            ContactError::field(
                field,
                "invalid_time",
                "Use an RFC 3339 time, e.g. 2026-01-31T00:00:00Z.",
            )
        }),
    }
}

pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<ListParams>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    if params.stage.is_some() {
        return Err(ApiError::field(
            "stage",
            "unknown_filter",
            "Filter by stage with pipeline_id and stage_id.",
        ));
    }
    let stage = stage_filter(params.pipeline_id, params.stage_id, params.q.as_deref())?;
    let (sort_by, ascending) = sort_order(params.sort.as_deref())?;
    if stage.is_some() && sort_by != SortBy::Created {
        return Err(ApiError::field(
            "sort",
            "not_with_stage",
            "A pipeline stage lists its contacts by creation; sort by created or -created.",
        ));
    }
    let filter = ContactFilter {
        tag: params.tag,
        owner_id: params.owner_id.map(UserId::from),
        created_from: time_param("created_from", params.created_from.as_deref())?,
        created_to: time_param("created_to", params.created_to.as_deref())?,
        q: params.q,
        sort_by,
        ascending,
    };
    let limit = params.limit.unwrap_or(50);
    let table = state.table.as_ref();
    let listing = async {
        match &stage {
            Some((pipeline_id, stage_id)) => pipelines::contacts_in_stage_page(
                table,
                caller.org_id(),
                (&PipelineId::from(pipeline_id), stage_id),
                &filter,
                limit.clamp(1, contacts::MAX_PAGE),
                params.cursor,
            )
            .await
            .map_err(ApiError::from),
            None => contacts::list(table, caller.org_id(), &filter, limit, params.cursor)
                .await
                .map_err(ApiError::from),
        }
    };
    // The back-fill check (one get) runs beside the page's own reads.
    let backfill = async {
        match sort_by {
            SortBy::Created => Ok(true),
            _ => contacts::order_backfill::ensure_started(&state, caller.org_id()).await,
        }
    };
    let (page, backfill) = futures::join!(listing, backfill);
    backfill?;
    let (items, cursor) = page?;
    Ok::<_, ApiError>(
        Json(ContactPage {
            contacts: items,
            cursor,
        })
        .into_response(),
    )
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CreateParams {
    #[serde(default)]
    upsert: bool,
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(params): ApiQuery<CreateParams>,
    ApiJson(body): ApiJson<NewContact>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    if params.upsert {
        let saved = contacts::upsert(&state, &caller, body).await?;
        let status = if saved.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Outcome::Ok(with_etag(status, &saved.contact));
    }
    let contact = contacts::create(&state, &caller, body).await?;
    Outcome::Ok(with_etag(StatusCode::CREATED, &contact))
}

pub async fn show(State(state): State<AppState>, auth: Authenticated, Path(id): Path<ContactId>) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let contact = contacts::get(state.table.as_ref(), caller.org_id(), &id).await?;
    Outcome::Ok(with_etag(StatusCode::OK, &contact))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<ContactId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ContactPatch>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let contact = contacts::update(&state, &caller, &id, body, if_match(&headers)).await?;
    Outcome::Ok(with_etag(StatusCode::OK, &contact))
}

pub async fn remove(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<ContactId>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    contacts::delete(&state, &caller, &id, if_match(&headers)).await?;
    // The contact's form submissions go with the contact (erasure).
    crate::services::forms::submissions::erase_for_contact(state.table.as_ref(), caller.org_id(), &id)
        .await
        .map_err(ApiError::from)?;
    Outcome::Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    primary_id: ContactId,
    secondary_id: ContactId,
}

pub async fn merge_contacts(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<MergeBody>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let contact = merge::merge(&state, &caller, &body.primary_id, &body.secondary_id).await?;
    // The merged-away contact's form submissions follow it.
    crate::services::forms::submissions::reassign_contact(
        state.table.as_ref(),
        caller.org_id(),
        &body.secondary_id,
        &body.primary_id,
    )
    .await
    .map_err(ApiError::from)?;
    Outcome::Ok(with_etag(StatusCode::OK, &contact))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTagsBody {
    ids: Vec<ContactId>,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

pub async fn bulk_tags(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<BulkTagsBody>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let outcome = tags::bulk(&state, &caller, body.ids, body.add, body.remove).await?;
    Outcome::Ok(Json(outcome).into_response())
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PageParams {
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

pub async fn timeline(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<ContactId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let (entries, cursor) = contacts::timeline(
        state.table.as_ref(),
        caller.org_id(),
        &id,
        page.limit.unwrap_or(50),
        page.cursor,
    )
    .await?;
    Outcome::Ok(Json(TimelinePage { entries, cursor }).into_response())
}

// ---------------------------------------------------------------- tags

pub async fn tags_list(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let tags = tags::list(state.table.as_ref(), caller.org_id()).await?;
    Outcome::Ok(Json(TagList { tags }).into_response())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    name: String,
}

pub async fn tag_rename(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(tag): Path<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let changed = tags::rename(&state, &caller, &tag, &body.name).await?;
    let name = contacts::normalize_tag(&body.name).unwrap_or(body.name);
    Outcome::Ok(
        Json(TagRenamed {
            tag: name,
            contacts_changed: changed,
        })
        .into_response(),
    )
}

pub async fn tag_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(tag): Path<String>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let changed = tags::delete(&state, &caller, &tag).await?;
    Outcome::Ok(
        Json(TagRemoved {
            contacts_changed: changed,
        })
        .into_response(),
    )
}

// ---------------------------------------------------------------- custom fields

pub async fn fields_list(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let defs = fields::list(state.table.as_ref(), caller.org_id()).await?;
    Outcome::Ok(Json(FieldList { fields: defs }).into_response())
}

pub async fn field_create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<fields::NewField>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let def = fields::create(&state, &caller, body).await?;
    Outcome::Ok((StatusCode::CREATED, Json(def)).into_response())
}

pub async fn field_update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<fields::FieldPatch>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let def = fields::update(&state, &caller, &id, body).await?;
    Outcome::Ok(Json(def).into_response())
}

pub async fn field_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    fields::delete(&state, &caller, &id).await?;
    Outcome::Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- notes

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    body: String,
}

pub async fn notes_list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<ContactId>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let (items, cursor) = notes::list(
        state.table.as_ref(),
        caller.org_id(),
        &id,
        page.limit.unwrap_or(50),
        page.cursor,
    )
    .await?;
    Outcome::Ok(Json(NotePage { notes: items, cursor }).into_response())
}

pub async fn note_create(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<ContactId>,
    ApiJson(body): ApiJson<NoteBody>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let note = notes::create(&state, &caller, &id, &body.body).await?;
    Outcome::Ok((StatusCode::CREATED, Json(note)).into_response())
}

pub async fn note_update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, note_id)): Path<(ContactId, String)>,
    ApiJson(body): ApiJson<NoteBody>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let note = notes::update(&state, &caller, &id, &note_id, &body.body).await?;
    Outcome::Ok(Json(note).into_response())
}

pub async fn note_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, note_id)): Path<(ContactId, String)>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    notes::delete(&state, &caller, &id, &note_id).await?;
    Outcome::Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- saved views

pub async fn views_list(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let items = views::list(state.table.as_ref(), caller.org_id(), &caller.user_id).await?;
    Outcome::Ok(Json(ViewList { views: items }).into_response())
}

pub async fn view_create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<views::NewView>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let view = views::create(&state, &caller, body).await?;
    Outcome::Ok((StatusCode::CREATED, Json(view)).into_response())
}

pub async fn view_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    views::delete(&state, &caller, &id).await?;
    Outcome::Ok(StatusCode::NO_CONTENT.into_response())
}
