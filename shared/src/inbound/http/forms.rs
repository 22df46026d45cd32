//! Session routes of embedded forms: definitions (with their embed
//! snippets) and submissions. Thin: parse, call `services::forms`, map.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::contacts::if_match;
use super::extract::{ApiJson, query};
use super::problem::{ApiError, FieldError};
use super::session::Authenticated;
use super::web::assets::form_embed_script_url;
use crate::domain::form::FormSpec;
use crate::domain::ids::{FormId, SubmissionId};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::services::forms::definitions::FormView;
use crate::services::forms::submissions::{self, ListQuery};
use crate::services::forms::{self, Caller};

pub fn caller(auth: &Authenticated) -> Result<Caller, ApiError> {
    auth.require(Permission::UseCrm)?;
    Ok(Caller {
        user_id: auth.user_id.clone(),
        org_id: auth.org_id.clone(),
        role: auth.role,
        actor: auth.actor.clone(),
    })
}

/// The hosted page's address and the two embed snippets of a form.
#[derive(Serialize, JsonSchema)]
pub struct Embed {
    pub hosted_url: String,
    /// An `<iframe>` showing the hosted page.
    pub iframe: String,
    /// A `<script>` that renders the form in the embedding page.
    pub script: String,
}

/// A form as the API shows it: its definition, how to embed it and, where
/// known, how many submissions it has.
#[derive(Serialize, JsonSchema)]
pub struct FormJson {
    #[serde(flatten)]
    form: FormView,
    embed: Embed,
    #[serde(skip_serializing_if = "Option::is_none")]
    submission_count: Option<i64>,
}

/// The organization's forms, oldest first.
#[derive(Serialize, JsonSchema)]
pub struct FormList {
    items: Vec<FormJson>,
}

pub fn embed(state: &AppState, form: &FormView) -> Embed {
    let base = state.config.public_url.trim_end_matches('/');
    let hosted = format!("{base}/f/{}", form.public_id);
    let title = askama_escape(&form.spec.title);
    Embed {
        iframe: format!(
            "<iframe src=\"{hosted}?embed=1\" title=\"{title}\" style=\"width:100%;border:0;height:640px\" loading=\"lazy\"></iframe>"
        ),
        script: format!(
            "<script src=\"{base}{}\" data-form=\"{}\" data-title=\"{title}\" async></script>",
            form_embed_script_url(),
            form.public_id
        ),
        hosted_url: hosted,
    }
}

/// Attribute-safe text for the snippets.
fn askama_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn form_json(state: &AppState, form: &FormView, count: Option<i64>) -> FormJson {
    FormJson {
        embed: embed(state, form),
        form: form.clone(),
        submission_count: count,
    }
}

fn with_etag(status: StatusCode, body: FormJson, version: u64) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(http::header::ETAG, etag);
    }
    response
}

pub async fn list(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let items = forms::list(&state, &caller).await?;
    let items = items
        .iter()
        .map(|s| form_json(&state, &s.form, Some(s.submission_count)))
        .collect();
    Ok::<_, ApiError>(Json(FormList { items }))
}

pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<FormSpec>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let form = forms::create(&state, &caller, body).await?;
    Ok::<_, ApiError>(with_etag(
        StatusCode::CREATED,
        form_json(&state, &form, Some(0)),
        form.version,
    ))
}

pub async fn get(State(state): State<AppState>, auth: Authenticated, Path(id): Path<FormId>) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let summary = forms::get(&state, &caller, &id).await?;
    Ok::<_, ApiError>(with_etag(
        StatusCode::OK,
        form_json(&state, &summary.form, Some(summary.submission_count)),
        summary.form.version,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<FormId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FormSpec>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let form = forms::update(&state, &caller, &id, body, if_match(&headers)).await?;
    Ok::<_, ApiError>(with_etag(StatusCode::OK, form_json(&state, &form, None), form.version))
}

pub async fn delete(State(state): State<AppState>, auth: Authenticated, Path(id): Path<FormId>) -> impl IntoResponse {
    let caller = caller(&auth)?;
    forms::delete(&state, &caller, &id).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

/// `?from=&to=` (RFC 3339 or a date), `?limit=`, `?cursor=`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmissionsQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
    #[serde(default)]
    cursor: Option<String>,
}

fn instant(field: &str, raw: Option<&str>, end_of_day: bool) -> Result<Option<jiff::Timestamp>, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ts) = raw.parse::<jiff::Timestamp>() {
        return Ok(Some(ts));
    }
    let date: jiff::civil::Date = raw.parse().map_err(|_| {
        ApiError::Validation(vec![FieldError::new(
            field,
            "invalid",
            "Use an RFC 3339 time or a date like 2026-03-10 (UTC).",
        )])
    })?;
    let time = if end_of_day {
        jiff::civil::Time::constant(23, 59, 59, 999_999_999)
    } else {
        jiff::civil::Time::midnight()
    };
    date.to_datetime(time)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| Some(z.timestamp()))
        .map_err(|err| ApiError::Internal(err.to_string()))
}

fn list_query(q: SubmissionsQuery) -> Result<ListQuery, ApiError> {
    Ok(ListQuery {
        from: instant("from", q.from.as_deref(), false)?,
        to: instant("to", q.to.as_deref(), true)?,
        limit: q.limit,
        cursor: q.cursor.filter(|c| !c.is_empty()),
    })
}

pub async fn submissions_list(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<FormId>,
    q: Result<Query<SubmissionsQuery>, QueryRejection>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let q = list_query(query(q)?)?;
    let page = submissions::list(&state, &caller, &id, q).await?;
    Ok::<_, ApiError>(Json(page))
}

pub async fn submission_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, submission_id)): Path<(FormId, SubmissionId)>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let view = submissions::get(&state, &caller, &id, &submission_id).await?;
    Ok::<_, ApiError>(Json(view))
}

pub async fn submission_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, submission_id)): Path<(FormId, SubmissionId)>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    submissions::delete(&state, &caller, &id, &submission_id).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

pub async fn submissions_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<FormId>,
    q: Result<Query<SubmissionsQuery>, QueryRejection>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let q = list_query(query(q)?)?;
    let bytes = submissions::export_csv(&state, &caller, &id, q).await?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"form-{id}-submissions.csv\"")) {
        headers.insert(http::header::CONTENT_DISPOSITION, value);
    }
    Ok::<_, ApiError>(response)
}
