//! The contacts pages: the table (search as you type, filters, cursor
//! paging, bulk tagging), the new-contact form and the contact record with
//! its notes. Each calls the same contact services as `/contacts`; a form is
//! a plain post answered with a redirect, and htmx only swaps the table.

mod order;

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::PipelineId;
use crate::domain::ids::UserId;
use askama::Template;
use axum::extract::{Path, Query, State};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{
    Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, is_htmx, notice_text, render, see_other,
};
use crate::inbound::AppState;
use crate::inbound::http::contacts::{caller, stage_filter};
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::{self, ContactFilter, ContactRecord, NewContact, SortBy, tags, views};
use crate::services::orgs;
use crate::services::pipelines;
use order::{Sorting, sort_of, sort_token};

/// Rows per page of the table.
const PAGE_ROWS: u32 = 25;

/// The table's filters as the URL carries them (so reload, back and a
/// shared link show the same rows).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TableQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// `pipeline_id/stage_id`.
    #[serde(default)]
    pub stage: Option<String>,
    /// `YYYY-MM-DD`, inclusive, UTC.
    #[serde(default)]
    pub created_from: Option<String>,
    #[serde(default)]
    pub created_to: Option<String>,
    /// The order (see `order::sort_of`).
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub notice: Option<String>,
}

/// Which of the optional columns the table shows.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    pub email: bool,
    pub phone: bool,
    pub company: bool,
    pub tags: bool,
    pub created: bool,
    pub updated: bool,
}

impl Shown {
    fn of(columns: &[String]) -> Self {
        let has = |name: &str| columns.iter().any(|c| c == name);
        Shown {
            email: has("email"),
            phone: has("phone"),
            company: has("company"),
            tags: has("tags"),
            created: has("created"),
            updated: has("updated"),
        }
    }

    /// (value, label, shown) of every optional column, for the choice form.
    fn choices(&self) -> Vec<(&'static str, &'static str, bool)> {
        vec![
            ("email", "Email", self.email),
            ("phone", "Phone", self.phone),
            ("company", "Company", self.company),
            ("tags", "Tags", self.tags),
            ("created", "Created", self.created),
            ("updated", "Updated", self.updated),
        ]
    }
}

pub(super) fn blank_to_none(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A `YYYY-MM-DD` bound as the start of that UTC day (the end of it for `to`).
fn day_bound(field: &str, raw: Option<&str>, end: bool) -> Result<Option<jiff::Timestamp>, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let date: jiff::civil::Date = raw
        .parse()
        .map_err(|_| ApiError::field(field, "invalid_date", "Use a date such as 2026-01-31."))?;
    let date = if end {
        date.tomorrow()
            .map_err(|_| ApiError::field(field, "invalid_date", "Use an earlier date."))?
    } else {
        date
    };
    let at = date
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|_| ApiError::field(field, "invalid_date", "Use a date such as 2026-01-31."))?
        .timestamp();
    Ok(Some(if end {
        at - jiff::SignedDuration::from_millis(1)
    } else {
        at
    }))
}

/// One row of the table.
pub struct Row {
    pub id: ContactId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub company: String,
    pub tags: Vec<String>,
    pub created: String,
    pub updated: String,
}

impl Row {
    pub(super) fn of(contact: &ContactRecord) -> Self {
        let name = contact.display_name();
        Row {
            id: contact.id.clone(),
            name: if name.is_empty() { "(no name)".into() } else { name },
            email: contact.primary_email().unwrap_or_default().to_string(),
            phone: contact.primary_phone().unwrap_or_default().to_string(),
            company: contact.company.clone().unwrap_or_default(),
            tags: contact.tags.clone(),
            created: contact.created_at.chars().take(10).collect(),
            updated: contact.updated_at.chars().take(10).collect(),
        }
    }
}

/// A choice of a filter's `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    fn new(value: String, label: String, current: &Option<String>) -> Self {
        let selected = current.as_deref() == Some(value.as_str());
        Choice { value, label, selected }
    }
}

#[derive(Template)]
#[template(path = "staff/contacts.html")]
struct TablePage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    results: Results,
    query: TableQuery,
    tags: Vec<Choice>,
    owners: Vec<Choice>,
    stages: Vec<Choice>,
    /// The member's saved views: (id, name, query string, is the current one).
    views: Vec<(String, String, String, bool)>,
    /// This page's filters, for the save-view form.
    filters: Vec<(&'static str, String)>,
    filtered: bool,
    /// A refused save-view form: its errors and the name sent.
    view_errors: FieldErrors,
    view_name: String,
    /// (value, label, shown) of the optional columns.
    column_choices: Vec<(&'static str, &'static str, bool)>,
    /// This page's query string, where the column form comes back to.
    here: String,
}

/// A saved view's filters as the table's query.
pub fn query_of_view(filters: &views::ViewFilters) -> TableQuery {
    TableQuery {
        q: filters.q.clone(),
        tag: filters.tag.clone(),
        owner: filters.owner_id.clone(),
        stage: match (&filters.pipeline_id, &filters.stage_id) {
            (Some(p), Some(s)) => Some(format!("{p}/{s}")),
            _ => None,
        },
        created_from: filters.created_from.clone(),
        created_to: filters.created_to.clone(),
        ..TableQuery::default()
    }
}

/// The table's filters as a saved view's.
pub fn view_filters_of(query: &TableQuery) -> views::ViewFilters {
    let (pipeline_id, stage_id) = match blank_to_none(&query.stage) {
        Some(both) => match both.split_once('/') {
            Some((p, s)) => (Some(p.to_string()), Some(s.to_string())),
            None => (Some(both), None),
        },
        None => (None, None),
    };
    views::ViewFilters {
        q: blank_to_none(&query.q),
        tag: blank_to_none(&query.tag),
        owner_id: blank_to_none(&query.owner),
        pipeline_id,
        stage_id,
        created_from: blank_to_none(&query.created_from),
        created_to: blank_to_none(&query.created_to),
    }
}

/// The part htmx swaps: the rows, the paging and the bulk bar.
#[derive(Template)]
#[template(path = "staff/contact_results.html")]
struct Results {
    rows: Vec<Row>,
    errors: FieldErrors,
    csrf: String,
    /// The query string of the next page, if there is one.
    next: Option<String>,
    /// The query string of this page's filters without a cursor.
    first: Option<String>,
    filtered: bool,
    /// This page's filters, as the export form's hidden fields.
    filters: Vec<(&'static str, String)>,
    /// This page's query string (filters and cursor), where the bulk tag
    /// form comes back to.
    back: Option<String>,
    /// The optional columns shown.
    shown: Shown,
    /// The sortable headers (the order the rows are in).
    sorting: Sorting,
    /// A refused bulk tag: its error and the tag sent.
    bulk_error: Option<String>,
    bulk_tag: String,
}

/// The non-blank filters, as (name, value) pairs.
fn filter_fields(query: &TableQuery) -> Vec<(&'static str, String)> {
    [
        ("q", &query.q),
        ("tag", &query.tag),
        ("owner", &query.owner),
        ("stage", &query.stage),
        ("created_from", &query.created_from),
        ("created_to", &query.created_to),
    ]
    .into_iter()
    .filter_map(|(name, value)| blank_to_none(value).map(|value| (name, value)))
    .collect()
}

pub(super) fn query_string(query: &TableQuery, cursor: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("q", &query.q),
        ("tag", &query.tag),
        ("owner", &query.owner),
        ("stage", &query.stage),
        ("created_from", &query.created_from),
        ("created_to", &query.created_to),
    ] {
        if let Some(value) = blank_to_none(value) {
            out.append_pair(name, &value);
        }
    }
    if let Ok(order) = sort_of(&query.sort)
        && order != (SortBy::Created, false)
    {
        out.append_pair("sort", &sort_token(order.0, order.1));
    }
    if let Some(cursor) = cursor {
        out.append_pair("cursor", cursor);
    }
    out.finish()
}

/// The rows the filters select, through the same services as `GET /contacts`.
/// The table's filters as the services take them: the contact filter and
/// the (pipeline, stage) pair, checked as `GET /contacts` checks them.
pub fn filter_of(query: &TableQuery) -> Result<(ContactFilter, Option<(String, String)>), ApiError> {
    let stage = match blank_to_none(&query.stage) {
        Some(both) => {
            let (pipeline, stage) = both.split_once('/').unwrap_or((both.as_str(), ""));
            stage_filter(Some(pipeline.to_string()), Some(stage.to_string()), query.q.as_deref())?
        }
        None => None,
    };
    let (sort_by, ascending) = sort_of(&query.sort)?;
    if stage.is_some() && sort_by != SortBy::Created {
        return Err(ApiError::field(
            "sort",
            "not_with_stage",
            "A pipeline stage lists its contacts by creation: sort by newest or oldest.",
        ));
    }
    let filter = ContactFilter {
        tag: blank_to_none(&query.tag),
        owner_id: blank_to_none(&query.owner).map(UserId::from),
        created_from: day_bound("created_from", query.created_from.as_deref(), false)?,
        created_to: day_bound("created_to", query.created_to.as_deref(), true)?,
        q: blank_to_none(&query.q),
        sort_by,
        ascending,
    };
    Ok((filter, stage))
}

async fn results(state: &AppState, staff: &Staff, query: &TableQuery, oob: bool) -> Result<Results, PageError> {
    let caller = caller(&staff.auth)?;
    let (filter, stage) = filter_of(query)?;
    let table = state.table.as_ref();
    if filter.sort_by != SortBy::Created {
        contacts::order_backfill::ensure_started(state, caller.org_id())
            .await
            .map_err(ApiError::from)?;
    }
    let cursor = blank_to_none(&query.cursor);
    let (items, next) = match &stage {
        Some((pipeline_id, stage_id)) => {
            pipelines::contacts_in_stage_page(
                table,
                caller.org_id(),
                (&PipelineId::from(pipeline_id), stage_id),
                &filter,
                PAGE_ROWS,
                cursor.clone(),
            )
            .await?
        }
        None => contacts::list(table, caller.org_id(), &filter, PAGE_ROWS, cursor.clone()).await?,
    };
    let filtered = filter.tag.is_some()
        || filter.owner_id.is_some()
        || filter.q.is_some()
        || filter.created_from.is_some()
        || filter.created_to.is_some()
        || stage.is_some();
    Ok(Results {
        rows: items.iter().map(Row::of).collect(),
        errors: FieldErrors::default(),
        csrf: staff.chrome.csrf.clone(),
        next: next.map(|cursor| query_string(query, Some(&cursor))),
        first: cursor.as_ref().map(|_| query_string(query, None)),
        filtered,
        filters: filter_fields(query),
        back: Some(query_string(query, cursor.as_deref())).filter(|q| !q.is_empty()),
        shown: Shown::of(&views::columns(table, caller.org_id(), &caller.user_id).await?),
        sorting: Sorting::of(query, (filter.sort_by, filter.ascending), oob),
        bulk_error: None,
        bulk_tag: String::new(),
    })
}

async fn filter_choices(
    state: &AppState,
    org_id: &OrgId,
    query: &TableQuery,
) -> Result<(Vec<Choice>, Vec<Choice>, Vec<Choice>), PageError> {
    let table = state.table.as_ref();
    let tags = tags::list(table, org_id)
        .await?
        .into_iter()
        .map(|t| Choice::new(t.tag.clone(), format!("{} ({})", t.tag, t.count), &query.tag))
        .collect();
    let (members, _) = orgs::list_members(state, org_id, 200, None).await?;
    let owners = members
        .into_iter()
        .map(|member| Choice::new(member.user_id.into_string(), member.name, &query.owner))
        .collect();
    let mut stages = Vec::new();
    for pipeline in pipelines::list_pipelines(table, org_id).await? {
        for stage in &pipeline.stages {
            stages.push(Choice::new(
                format!("{}/{}", pipeline.id, stage.id),
                format!("{}: {}", pipeline.name, stage.name),
                &query.stage,
            ));
        }
    }
    Ok((tags, owners, stages))
}

/// The rows of `query`, or the filters' errors in their place (422).
async fn results_or_errors(
    state: &AppState,
    staff: &Staff,
    query: &TableQuery,
    oob: bool,
) -> Result<(Results, StatusCode), PageError> {
    match results(state, staff, query, oob).await {
        Ok(results) => Ok((results, StatusCode::OK)),
        Err(PageError(err @ ApiError::Validation(_))) => Ok((
            Results {
                rows: Vec::new(),
                errors: FieldErrors::from_api(&err, |field| field),
                csrf: staff.chrome.csrf.clone(),
                next: None,
                first: None,
                filtered: true,
                filters: Vec::new(),
                back: None,
                shown: Shown::of(&views::COLUMNS.map(str::to_string)),
                sorting: Sorting::of(query, (SortBy::Created, false), false),
                bulk_error: None,
                bulk_tag: String::new(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(other) => Err(other),
    }
}

/// The whole table page around `results`.
async fn table_page(
    state: &AppState,
    staff: Staff,
    query: TableQuery,
    results: Results,
    view_errors: FieldErrors,
    view_name: String,
) -> Result<TablePage, PageError> {
    let (tags, owners, stages) = filter_choices(state, &staff.auth.org_id, &query).await?;
    let unsorted = TableQuery {
        sort: None,
        ..query.clone()
    };
    let current = query_string(&unsorted, None);
    let saved = views::list(state.table.as_ref(), &staff.auth.org_id, &staff.auth.user_id).await?;
    let views = saved
        .iter()
        .map(|view| {
            let wanted = query_string(&query_of_view(&view.filters), None);
            let is_current = wanted == current;
            (view.id.clone(), view.name.clone(), wanted, is_current)
        })
        .collect();
    let filters = filter_fields(&query);
    let filtered = !filters.is_empty();
    let column_choices = results.shown.choices();
    let here = query_string(&query, blank_to_none(&query.cursor).as_deref());
    Ok(TablePage {
        title: "Contacts",
        notice: notice_text(query.notice.as_deref()),
        chrome: Some(staff.chrome),
        results,
        query,
        tags,
        owners,
        stages,
        views,
        filters,
        filtered,
        view_errors,
        view_name,
        column_choices,
        here,
    })
}

/// `GET /app/contacts`: the table; to htmx, only the results.
pub async fn table(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Query(query): Query<TableQuery>,
) -> PageResult {
    let staff = staff.in_section("contacts");
    let (results, status) = results_or_errors(&state, &staff, &query, is_htmx(&headers)).await?;
    if is_htmx(&headers) {
        return Ok(render(status, &results));
    }
    let page = table_page(&state, staff, query, results, FieldErrors::default(), String::new()).await?;
    Ok(render(status, &page))
}

/// The table of `query` with a refused form's error over its rows (422).
pub async fn refused_table(state: &AppState, staff: Staff, query: TableQuery, err: &ApiError) -> PageResult {
    let staff = staff.in_section("contacts");
    let (mut results, _) = results_or_errors(state, &staff, &query, false).await?;
    results.errors = FieldErrors::from_api(err, |field| field);
    let page = table_page(state, staff, query, results, FieldErrors::default(), String::new()).await?;
    Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
}

/// The table's filters as a form posts them (hidden fields of the page's filters).
pub fn query_of_form(form: &FormData) -> TableQuery {
    TableQuery {
        q: form.optional("q"),
        tag: form.optional("tag"),
        owner: form.optional("owner"),
        stage: form.optional("stage"),
        created_from: form.optional("created_from"),
        created_to: form.optional("created_to"),
        ..TableQuery::default()
    }
}

/// The save-view form's name of a field the service names.
fn view_field(api_field: &str) -> &str {
    if api_field == "name" { "view-name" } else { "" }
}

/// `POST /app/contacts/views`: saves the table's filters under a name.
pub async fn save_view(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let caller = caller(&staff.auth)?;
    let query = query_of_form(&form);
    let input = views::NewView {
        name: form.text("name"),
        filters: view_filters_of(&query),
    };
    match views::create(&state, &caller, input).await.map_err(ApiError::from) {
        Ok(_) => {
            let back = query_string(&query, None);
            let joiner = if back.is_empty() { "" } else { "&" };
            Ok(see_other(&format!("/app/contacts?{back}{joiner}notice=view-saved")))
        }
        Err(err @ ApiError::Validation(_)) => {
            let staff = staff.in_section("contacts");
            let (results, _) = results_or_errors(&state, &staff, &query, false).await?;
            let errors = FieldErrors::from_api(&err, view_field);
            let page = table_page(&state, staff, query, results, errors, form.text("name")).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `POST /app/contacts/columns`: the columns the member shows, remembered.
pub async fn save_columns(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let caller = caller(&staff.auth)?;
    views::save_columns(&state, &caller, &form.all("columns")).await?;
    let back = form
        .optional("back")
        .filter(|b| b.starts_with("/app/contacts") && !b.contains("//"))
        .unwrap_or_else(|| "/app/contacts".into());
    let joiner = if back.contains('?') { '&' } else { '?' };
    Ok(see_other(&format!("{back}{joiner}notice=columns-saved")))
}

/// `POST /app/contacts/views/{id}/delete`.
pub async fn delete_view(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm { staff, .. }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    views::delete(&state, &caller, &id).await?;
    Ok(see_other("/app/contacts?notice=view-deleted"))
}

/// `POST /app/contacts/tags`: adds a tag to the ticked rows.
pub async fn bulk_tag(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let caller = caller(&staff.auth)?;
    let ids: Vec<ContactId> = form.all("ids").into_iter().map(ContactId::from).collect();
    let tag = form.text("tag");
    let back = form
        .optional("back")
        .filter(|b| b.starts_with("/app/contacts"))
        .unwrap_or_else(|| "/app/contacts".into());
    let tagged = if ids.is_empty() {
        Err(ApiError::field("ids", "required", "Tick at least one contact."))
    } else {
        tags::bulk(&state, &caller, ids, vec![tag.clone()], Vec::new())
            .await
            .map_err(ApiError::from)
    };
    match tagged {
        Ok(_) => {
            let joiner = if back.contains('?') { '&' } else { '?' };
            Ok(see_other(&format!("{back}{joiner}notice=tagged")))
        }
        Err(err @ ApiError::Validation(_)) => {
            // The table the form was posted from, with the error beside the tag.
            let query = query_of_form(&FormData::parse(
                back.split_once('?').map(|(_, q)| q).unwrap_or_default().as_bytes(),
            ));
            let staff = staff.in_section("contacts");
            let (mut results, _) = results_or_errors(&state, &staff, &query, false).await?;
            let message = err
                .problem()
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_else(|| "That did not work.".into());
            results.bulk_error = Some(message);
            results.bulk_tag = tag;
            let page = table_page(&state, staff, query, results, FieldErrors::default(), String::new()).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

#[derive(Template)]
#[template(path = "staff/contact_new.html")]
struct NewContactPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
}

/// `GET /app/contacts/new`.
pub async fn new_contact(staff: Staff) -> PageResult {
    caller(&staff.auth)?;
    let staff = staff.in_section("new-contact");
    Ok(render(
        StatusCode::OK,
        &NewContactPage {
            title: "New contact",
            chrome: Some(staff.chrome),
            notice: None,
            errors: FieldErrors::default(),
            form: FormData::default(),
        },
    ))
}

/// The API's name of a field in the form's terms.
fn form_field(api_field: &str) -> &str {
    if api_field.starts_with("emails") {
        "email"
    } else if api_field.starts_with("phones") {
        "phone"
    } else if api_field.starts_with("tags") {
        "tags"
    } else {
        api_field
    }
}

/// The new-contact form as the API's body.
fn new_contact_body(form: &FormData) -> Result<NewContact, ApiError> {
    let tags: Vec<String> = form
        .text("tags")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let body = json!({
        "first_name": form.optional("first_name"),
        "last_name": form.optional("last_name"),
        "emails": form.optional("email").into_iter().collect::<Vec<_>>(),
        "phones": form.optional("phone").into_iter().collect::<Vec<_>>(),
        "company": form.optional("company"),
        "tags": tags,
    });
    serde_json::from_value(body).map_err(|err| ApiError::BadRequest {
        code: "invalid_form",
        field: None,
        detail: err.to_string(),
    })
}

/// `POST /app/contacts`: creates the contact and opens its record.
pub async fn create(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let caller = caller(&staff.auth)?;
    let created = match new_contact_body(&form) {
        Ok(body) => contacts::create(&state, &caller, body).await.map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match created {
        Ok(contact) => Ok(see_other(&format!(
            "/app/contacts/{}?notice=contact-created",
            contact.id
        ))),
        Err(err @ (ApiError::Validation(_) | ApiError::Duplicate { .. } | ApiError::BadRequest { .. })) => {
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let staff = staff.in_section("new-contact");
            Ok(render(
                status,
                &NewContactPage {
                    title: "New contact",
                    chrome: Some(staff.chrome),
                    notice: None,
                    errors: duplicate_aware(&err),
                    form,
                },
            ))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// Field errors, with a duplicate named at the field it collides on.
fn duplicate_aware(err: &ApiError) -> FieldErrors {
    match err {
        ApiError::Duplicate { field, detail, .. } => {
            FieldErrors::from_api(&ApiError::field(form_field(field), "duplicate", detail), |f| f)
        }
        other => FieldErrors::from_api(other, form_field),
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct NoticeQuery {
    #[serde(default)]
    pub notice: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bounds_cover_whole_utc_days() {
        let from = day_bound("created_from", Some("2026-03-04"), false).unwrap().unwrap();
        let to = day_bound("created_to", Some("2026-03-04"), true).unwrap().unwrap();
        assert_eq!(from.to_string(), "2026-03-04T00:00:00Z");
        assert_eq!(to.to_string(), "2026-03-04T23:59:59.999Z");
        assert!(day_bound("created_to", Some("March"), true).is_err());
        assert_eq!(day_bound("created_to", Some(" "), true).unwrap(), None);
    }

    #[test]
    fn api_fields_map_to_form_fields() {
        assert_eq!(form_field("emails[0]"), "email");
        assert_eq!(form_field("phones[0].number"), "phone");
        assert_eq!(form_field("first_name"), "first_name");
    }

    #[test]
    fn paging_keeps_the_filters() {
        let query = TableQuery {
            q: Some("ann".into()),
            tag: Some("vip".into()),
            ..TableQuery::default()
        };
        assert_eq!(query_string(&query, Some("c1")), "q=ann&tag=vip&cursor=c1");
    }
}
