//! The pipelines board: a column per stage with its count and value totals,
//! the deals as cards (title, value, contact, age), each with a "Move to"
//! select and button (keyboard, touch, no JavaScript) that dragging a card
//! onto another column submits too (`board.js`); htmx swaps the board in
//! place. Creating a pipeline, and a deal from a contact's record. The same
//! services as `/pipelines` and `/deals`.

use crate::domain::ids::ContactId;
use crate::domain::ids::DealId;
use crate::domain::ids::PipelineId;
use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;

use super::contact_record::{Refused, refused_page};
use super::contacts::NoticeQuery;
use super::home::money;
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts;
use crate::services::pipelines::{self, DealChange, NewDeal, PipelineRecord, StageInput};

/// Deals shown per column.
const PER_STAGE: usize = 50;

pub struct Card {
    pub id: DealId,
    pub title: String,
    pub value: String,
    pub contact: String,
    pub contact_id: ContactId,
    pub age: String,
    pub version: u64,
    pub stage_id: String,
}

pub struct Column {
    pub id: String,
    pub name: String,
    pub count: u64,
    pub total: String,
    pub cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "staff/board.html")]
struct BoardPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    pipeline: PipelineRecord,
    pipelines: Vec<(PipelineId, String)>,
    columns: Vec<Column>,
}

#[derive(Template)]
#[template(path = "staff/pipelines.html")]
struct PipelinesPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    pipelines: Vec<PipelineRecord>,
    errors: FieldErrors,
    form: FormData,
}

/// Whole days since an RFC 3339 time, in words.
fn age(created_at: &str, now: jiff::Timestamp) -> String {
    let Ok(created) = created_at.parse::<jiff::Timestamp>() else {
        return String::new();
    };
    let days = (now.as_second() - created.as_second()).max(0) / 86_400;
    match days {
        0 => "today".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// `GET /app/pipelines`: every pipeline's board, and the form for a new one.
pub async fn pipelines_page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let pipelines = pipelines::list_pipelines(state.table.as_ref(), &staff.auth.org_id).await?;
    let staff = staff.in_section("pipelines");
    Ok(render(
        StatusCode::OK,
        &PipelinesPage {
            title: "Pipelines",
            chrome: Some(staff.chrome),
            notice: notice_text(query.notice.as_deref()),
            pipelines,
            errors: FieldErrors::default(),
            form: FormData::default(),
        },
    ))
}

/// `POST /app/pipelines`: a new pipeline from a name and its stages (one per line or comma).
pub async fn create_pipeline(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let stages: Vec<StageInput> = form
        .text("stages")
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| StageInput {
            id: None,
            name: name.to_string(),
            probability: None,
        })
        .collect();
    match pipelines::create_pipeline(&state, &staff.auth.actor, &form.text("name"), &stages)
        .await
        .map_err(ApiError::from)
    {
        Ok(pipeline) => Ok(see_other(&format!(
            "/app/pipelines/{}?notice=pipeline-created",
            pipeline.id
        ))),
        Err(err @ ApiError::Validation(_)) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            let pipelines = pipelines::list_pipelines(state.table.as_ref(), &staff.auth.org_id).await?;
            let errors =
                FieldErrors::from_api(&err, |field| if field.starts_with("stages") { "stages" } else { field });
            let staff = staff.in_section("pipelines");
            Ok(render(
                status,
                &PipelinesPage {
                    title: "Pipelines",
                    chrome: Some(staff.chrome),
                    notice: None,
                    pipelines,
                    errors,
                    form,
                },
            ))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `GET /app/pipelines/{id}`: the board.
pub async fn board(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<PipelineId>,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let table = state.table.as_ref();
    let org_id = staff.auth.org_id.clone();
    let board = pipelines::board(table, &org_id, &id, PER_STAGE).await?;
    let all = pipelines::list_pipelines(table, &org_id).await?;
    let mut contact_ids: Vec<ContactId> = board
        .stages
        .iter()
        .flat_map(|column| column.deals.iter().map(|deal| deal.contact_id.clone()))
        .collect();
    contact_ids.sort();
    contact_ids.dedup();
    let names: HashMap<ContactId, String> = contacts::get_many(table, &org_id, &contact_ids)
        .await?
        .into_iter()
        .map(|contact| (contact.id.clone(), contact.display_name()))
        .collect();
    let now = state.clock.now();
    let columns = board
        .stages
        .iter()
        .map(|column| Column {
            id: column.stage.id.clone(),
            name: column.stage.name.clone(),
            count: column.count,
            total: column
                .totals
                .iter()
                .map(|t| money(t.value, &t.currency))
                .collect::<Vec<_>>()
                .join(", "),
            cards: column
                .deals
                .iter()
                .map(|deal| Card {
                    id: deal.id.clone(),
                    title: deal.title.clone(),
                    value: money(deal.value, &deal.currency),
                    contact: names.get(&deal.contact_id).cloned().unwrap_or_default(),
                    contact_id: deal.contact_id.clone(),
                    age: age(&deal.created_at, now),
                    version: deal.version,
                    stage_id: deal.stage_id.clone(),
                })
                .collect(),
        })
        .collect();
    let staff = staff.in_section("pipelines");
    Ok(render(
        StatusCode::OK,
        &BoardPage {
            title: board.pipeline.name.clone(),
            chrome: Some(staff.chrome),
            notice: notice_text(query.notice.as_deref()),
            pipelines: all.into_iter().map(|p| (p.id, p.name)).collect(),
            pipeline: board.pipeline,
            columns,
        },
    ))
}

/// `POST /app/deals/{id}/move`: the card's "Move to" form (and its drag).
pub async fn move_deal(
    State(state): State<AppState>,
    Path(id): Path<DealId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let change = DealChange {
        stage_id: form.optional("stage_id"),
        ..DealChange::default()
    };
    let version = form.text("version").parse::<u64>().ok();
    let deal = pipelines::update_deal(&state, &staff.auth.actor, &id, change, version).await?;
    Ok(see_other(&format!(
        "/app/pipelines/{}?notice=deal-moved",
        deal.pipeline_id
    )))
}

/// `POST /app/contacts/{id}/deals`: the record's new-deal form.
pub async fn create_deal(
    State(state): State<AppState>,
    Path(id): Path<ContactId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    staff.auth.require(Permission::UseCrm)?;
    let value = match form.optional("value") {
        None => Ok(None),
        Some(raw) => major_to_minor(&raw)
            .map(Some)
            .ok_or_else(|| ApiError::field("value", "invalid_value", "Use an amount such as 1200 or 1200.50.")),
    };
    let created = match value {
        Ok(value) => {
            let input = NewDeal {
                title: form.text("title"),
                contact_id: id.clone(),
                pipeline_id: PipelineId::from(form.text("pipeline_id")),
                stage_id: None,
                value,
                currency: form.text("currency").to_uppercase(),
                status: None,
                expected_close_date: None,
                owner_id: None,
            };
            pipelines::create_deal(&state, &staff.auth.actor, input)
                .await
                .map_err(ApiError::from)
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(_) => Ok(see_other(&format!("/app/contacts/{id}?notice=deal-created"))),
        Err(err @ ApiError::Validation(_)) => {
            let refused = Refused {
                deal_errors: FieldErrors::from_api(&err, deal_field),
                deal_form: form,
                ..Refused::default()
            };
            refused_page(&state, staff, &id, StatusCode::UNPROCESSABLE_ENTITY, refused).await
        }
        Err(other) => Err(PageError(other)),
    }
}

/// The service's name of a deal field as the record's new-deal form names
/// its input.
fn deal_field(api_field: &str) -> &str {
    match api_field {
        "title" => "deal-title",
        "pipeline_id" | "stage_id" => "deal-pipeline",
        "value" => "deal-value",
        "currency" => "deal-currency",
        _ => "",
    }
}

/// "1200.5" → 120050 minor units (two decimals).
fn major_to_minor(raw: &str) -> Option<i64> {
    let raw = raw.trim().replace([',', ' '], "");
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw.as_str(), ""));
    if fraction.len() > 2 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole
        .checked_mul(100)?
        .checked_add(if whole < 0 { -cents } else { cents })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_minor_units() {
        assert_eq!(major_to_minor("1200"), Some(120_000));
        assert_eq!(major_to_minor("1,200.5"), Some(120_050));
        assert_eq!(major_to_minor("0.05"), Some(5));
        assert_eq!(major_to_minor("12.345"), None);
        assert_eq!(major_to_minor("lots"), None);
    }

    #[test]
    fn ages_read_in_days() {
        let now: jiff::Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        assert_eq!(age("2026-03-10T08:00:00Z", now), "today");
        assert_eq!(age("2026-03-07T12:00:00Z", now), "3 days");
    }
}
