//! Pipelines, the board and deals: `GET/POST /pipelines`,
//! `GET/PATCH/DELETE /pipelines/{id}`, `GET /pipelines/{id}/board`,
//! `GET/POST /deals`, `GET/PATCH/DELETE /deals/{id}`. Rules live in
//! `services::pipelines`.

use crate::domain::ids::ContactId;
use crate::domain::ids::DealId;
use crate::domain::ids::PipelineId;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::{ApiJson, ApiQuery};
use super::session::Authenticated;
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::pipelines::{
    self, DealChange, DealFilter, DealRecord, NewDeal, PipelineChange, PipelineRecord, StageInput,
};

/// `If-Match: "3"` (or `3`) → Some(3); absent → None; anything else is 400.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(http::header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<u64>().map(Some).map_err(|_| ApiError::BadRequest {
        code: "invalid_if_match",
        field: Some("If-Match".into()),
        detail: "If-Match takes the version an earlier read returned, e.g. \"3\".".into(),
    })
}

fn with_etag(version: u64, body: serde_json::Value, status: StatusCode) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(http::header::ETAG, value);
    }
    response
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|err| ApiError::Internal(err.to_string()))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPipelineBody {
    name: String,
    stages: Vec<StageInput>,
}

/// The organization's pipelines, oldest first.
#[derive(Serialize, JsonSchema)]
pub struct PipelineList {
    items: Vec<PipelineRecord>,
}

/// One page of deals, newest first.
#[derive(Serialize, JsonSchema)]
pub struct DealPage {
    items: Vec<DealRecord>,
    /// Pass as `cursor` for the next page; `null` on the last.
    cursor: Option<String>,
}

pub async fn list_pipelines(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let items = pipelines::list_pipelines(state.table.as_ref(), &auth.org_id).await?;
    Ok::<_, ApiError>(Json(PipelineList { items }))
}

pub async fn create_pipeline(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<NewPipelineBody>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let created = pipelines::create_pipeline(&state, &auth.actor, &body.name, &body.stages).await?;
    Ok::<_, ApiError>(with_etag(created.version, to_json(&created)?, StatusCode::CREATED))
}

pub async fn get_pipeline(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<PipelineId>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let pipeline = pipelines::get_pipeline(state.table.as_ref(), &auth.org_id, &id).await?;
    Ok::<_, ApiError>(with_etag(pipeline.version, to_json(&pipeline)?, StatusCode::OK))
}

pub async fn update_pipeline(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<PipelineId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PipelineChange>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let expected = if_match(&headers)?;
    let updated = pipelines::update_pipeline(&state, &auth.actor, &id, body, expected).await?;
    Ok::<_, ApiError>(with_etag(updated.version, to_json(&updated)?, StatusCode::OK))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletePipelineQuery {
    /// With `move_deals_to_stage`: where the pipeline's deals go.
    move_deals_to_pipeline: Option<PipelineId>,
    move_deals_to_stage: Option<String>,
}

pub async fn delete_pipeline(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<PipelineId>,
    query: Result<Query<DeletePipelineQuery>, axum::extract::rejection::QueryRejection>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let query = super::extract::query(query)?;
    let target = match (query.move_deals_to_pipeline, query.move_deals_to_stage) {
        (Some(p), Some(s)) => Some((p, s)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ApiError::field(
                "move_deals_to_stage",
                "required",
                "Name the target stage too.",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::field(
                "move_deals_to_pipeline",
                "required",
                "Name the target pipeline too.",
            ));
        }
    };
    pipelines::delete_pipeline(&state, &auth.actor, &id, target).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, JsonSchema)]
pub struct BoardQuery {
    /// Deals listed per stage (counts and totals always cover all).
    limit: Option<usize>,
}

pub async fn board(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<PipelineId>,
    ApiQuery(query): ApiQuery<BoardQuery>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let per_stage = query.limit.unwrap_or(50).clamp(0, 500);
    let board = pipelines::board(state.table.as_ref(), &auth.org_id, &id, per_stage).await?;
    Ok::<_, ApiError>(Json(board))
}

#[derive(Deserialize, JsonSchema)]
pub struct DealsQuery {
    pipeline_id: Option<PipelineId>,
    stage_id: Option<String>,
    contact_id: Option<ContactId>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_deals(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiQuery(query): ApiQuery<DealsQuery>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let filter = DealFilter {
        pipeline_id: query.pipeline_id,
        stage_id: query.stage_id,
        contact_id: query.contact_id,
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let (items, cursor) =
        pipelines::list_deals(state.table.as_ref(), &auth.org_id, &filter, limit, query.cursor).await?;
    Ok::<_, ApiError>(Json(DealPage { items, cursor }))
}

pub async fn create_deal(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<NewDeal>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let deal = pipelines::create_deal(&state, &auth.actor, body).await?;
    Ok::<_, ApiError>(with_etag(deal.version, to_json(&deal)?, StatusCode::CREATED))
}

pub async fn get_deal(State(state): State<AppState>, auth: Authenticated, Path(id): Path<DealId>) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let deal = pipelines::get_deal(state.table.as_ref(), &auth.org_id, &id).await?;
    Ok::<_, ApiError>(with_etag(deal.version, to_json(&deal)?, StatusCode::OK))
}

pub async fn update_deal(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<DealId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DealChange>,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let expected = if_match(&headers)?;
    let deal = pipelines::update_deal(&state, &auth.actor, &id, body, expected).await?;
    Ok::<_, ApiError>(with_etag(deal.version, to_json(&deal)?, StatusCode::OK))
}

pub async fn delete_deal(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<DealId>,
    headers: HeaderMap,
) -> impl IntoResponse {
    auth.require(Permission::UseCrm)?;
    let expected = if_match(&headers)?;
    pipelines::delete_deal(&state, &auth.actor, &id, expected).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}
