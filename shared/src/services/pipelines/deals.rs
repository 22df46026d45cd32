//! Deals: opportunities linked to a contact, placed in a stage of a
//! pipeline; create, read, list, update (moving stages) and delete.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::ids::{ContactId, DealId, PipelineId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::stats::{stats_ops, transact_deal};
use super::{
    DealRecord, DealStatus, MAX_TITLE, PipelineError, PipelineRecord, Stage, contact_deals_partition, deal_item,
    deal_key, get_pipeline, invalid, pipeline_deals_partition, plausible_id, stage_prefix,
};
use crate::domain::input::FieldError;
use crate::domain::money::{self, Currency};
use crate::ports::{Condition, Index, Query, SortKey, StoreError, Table, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::contacts;
use crate::services::records::{from_item, member_key, new_id};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeal {
    pub title: String,
    pub contact_id: ContactId,
    pub pipeline_id: PipelineId,
    /// Defaults to the pipeline's first stage.
    #[serde(default)]
    pub stage_id: Option<String>,
    #[serde(default)]
    pub value: Option<i64>,
    pub currency: String,
    #[serde(default)]
    pub status: Option<DealStatus>,
    #[serde(default)]
    pub expected_close_date: Option<String>,
    /// A member of the organization; defaults to the creator.
    #[serde(default)]
    pub owner_id: Option<UserId>,
}

/// A partial change. `null` clears `expected_close_date` and `owner_id`.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DealChange {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// Moving to another pipeline needs its `stage_id` too (or takes its first stage).
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    #[serde(default)]
    pub stage_id: Option<String>,
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub status: Option<DealStatus>,
    /// Civil date `YYYY-MM-DD`; `null` clears it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub expected_close_date: Option<Value>,
    /// A member of the organization; `null` clears it.
    #[serde(default)]
    #[schemars(with = "Option<UserId>")]
    pub owner_id: Option<Value>,
}

fn check_title(raw: &str, errors: &mut Vec<FieldError>) -> String {
    let title = raw.trim();
    if title.is_empty() {
        errors.push(FieldError::new("title", "required", "This field is required."));
    } else if title.chars().count() > MAX_TITLE {
        errors.push(FieldError::new(
            "title",
            "too_long",
            format!("Use at most {MAX_TITLE} characters."),
        ));
    }
    title.to_string()
}

fn check_value(value: i64, errors: &mut Vec<FieldError>) {
    if !money::valid_amount(value) {
        errors.push(FieldError::new(
            "value",
            "out_of_range",
            format!("Use whole minor units from 0 to {}.", money::MAX_MINOR_UNITS),
        ));
    }
}

fn check_currency(raw: &str, errors: &mut Vec<FieldError>) -> String {
    match Currency::parse(raw) {
        Some(c) => c.as_str().to_string(),
        None => {
            errors.push(FieldError::new(
                "currency",
                "invalid",
                "Use an ISO 4217 currency code such as EUR.",
            ));
            String::new()
        }
    }
}

fn check_date(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match raw.trim().parse::<jiff::civil::Date>() {
        Ok(date) => Some(date.to_string()),
        Err(_) => {
            errors.push(FieldError::new(
                "expected_close_date",
                "invalid",
                "Use a date as YYYY-MM-DD.",
            ));
            None
        }
    }
}

async fn check_contact(
    table: &dyn Table,
    org_id: &OrgId,
    id: &ContactId,
    errors: &mut Vec<FieldError>,
) -> Result<(), StoreError> {
    if !contacts::exists(table, org_id, id).await? {
        errors.push(FieldError::new(
            "contact_id",
            "not_found",
            "No such contact in this organization.",
        ));
    }
    Ok(())
}

async fn check_owner(
    table: &dyn Table,
    org_id: &OrgId,
    id: &str,
    errors: &mut Vec<FieldError>,
) -> Result<(), StoreError> {
    if !plausible_id(id) || table.get(&member_key(org_id, &UserId::from(id))).await?.is_none() {
        errors.push(FieldError::new(
            "owner_id",
            "not_a_member",
            "The owner must be a member of this organization.",
        ));
    }
    Ok(())
}

/// The pipeline and stage a deal goes to, or field errors.
async fn resolve_stage(
    table: &dyn Table,
    org_id: &OrgId,
    pipeline_id: &PipelineId,
    stage_id: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Result<Option<(PipelineRecord, Stage)>, PipelineError> {
    let pipeline = match get_pipeline(table, org_id, pipeline_id).await {
        Ok(p) => p,
        Err(PipelineError::NotFound) => {
            errors.push(FieldError::new("pipeline_id", "not_found", "No such pipeline."));
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let stage = match stage_id {
        Some(id) => pipeline.stages.iter().find(|s| s.id == id).cloned(),
        None => pipeline.stages.first().cloned(),
    };
    match stage {
        Some(stage) => Ok(Some((pipeline, stage))),
        None => {
            errors.push(FieldError::new(
                "stage_id",
                "unknown_stage",
                "No such stage in the pipeline.",
            ));
            Ok(None)
        }
    }
}

fn store_error(err: StoreError) -> PipelineError {
    if err.is_condition_failure() {
        PipelineError::Stale
    } else {
        PipelineError::Store(err)
    }
}

pub async fn create_deal(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    input: NewDeal,
) -> Result<DealRecord, PipelineError> {
    let table = state.table().as_ref();
    let org_id = &actor.org_id;
    let mut errors = Vec::new();
    let title = check_title(&input.title, &mut errors);
    let value = input.value.unwrap_or(0);
    check_value(value, &mut errors);
    let currency = check_currency(&input.currency, &mut errors);
    let expected_close_date = input
        .expected_close_date
        .as_deref()
        .and_then(|d| check_date(d, &mut errors));
    check_contact(table, org_id, &input.contact_id, &mut errors).await?;
    let owner_id = match input.owner_id {
        Some(owner) => {
            check_owner(table, org_id, &owner, &mut errors).await?;
            Some(owner)
        }
        None => actor.user_id.clone(),
    };
    let resolved = resolve_stage(
        table,
        org_id,
        &input.pipeline_id,
        input.stage_id.as_deref(),
        &mut errors,
    )
    .await?;
    let Some((pipeline, stage)) = resolved.filter(|_| errors.is_empty()) else {
        return Err(PipelineError::Invalid(errors));
    };
    let now = state.clock().now();
    let deal = DealRecord {
        id: DealId::new(new_id()),
        pipeline_id: pipeline.id.clone(),
        stage_id: stage.id.clone(),
        title,
        contact_id: input.contact_id.clone(),
        value,
        currency,
        status: input.status.unwrap_or(DealStatus::Open),
        expected_close_date,
        owner_id,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
    };
    let mut ops = vec![
        WriteOp::Put {
            item: deal_item(org_id, &deal)?,
            condition: Some(Condition::NotExists),
        },
        // The contact must still exist when the deal commits.
        WriteOp::Check {
            key: contacts::contact_key(org_id, &deal.contact_id),
            condition: Condition::Exists,
        },
        contacts::timeline_entry(
            org_id,
            &deal.contact_id,
            "deal_created",
            json!({ "deal_id": deal.id, "title": deal.title, "pipeline_id": pipeline.id, "stage_id": stage.id, "stage_name": stage.name }),
            now,
        ),
        audit::entry(
            actor,
            now,
            "deal.create",
            &format!("deal:{}", deal.id),
            json!({ "title": deal.title, "contact_id": deal.contact_id }),
        ),
    ];
    ops.extend(stats_ops(org_id, &[(None, Some(&deal))]));
    match transact_deal(state.table().as_ref(), ops).await {
        Ok(()) => Ok(deal),
        Err(StoreError::TransactionConditionFailed { index: 1 }) => Err(invalid(
            "contact_id",
            "not_found",
            "No such contact in this organization.",
        )),
        Err(err) => Err(store_error(err)),
    }
}

pub async fn get_deal(table: &dyn Table, org_id: &OrgId, deal_id: &DealId) -> Result<DealRecord, PipelineError> {
    if !plausible_id(deal_id) {
        return Err(PipelineError::NotFound);
    }
    match table.get(&deal_key(org_id, deal_id)).await? {
        Some(item) => Ok(from_item(item)?),
        None => Err(PipelineError::NotFound),
    }
}

#[derive(Debug, Clone, Default)]
pub struct DealFilter {
    pub pipeline_id: Option<PipelineId>,
    pub stage_id: Option<String>,
    pub contact_id: Option<ContactId>,
}

/// One page of deals: newest first, or by pipeline (and stage) on gsi1, or by
/// contact on gsi2. One query.
pub async fn list_deals(
    table: &dyn Table,
    org_id: &OrgId,
    filter: &DealFilter,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<DealRecord>, Option<String>), PipelineError> {
    let query = if let Some(pipeline_id) = &filter.pipeline_id {
        let mut q = Query::partition(pipeline_deals_partition(org_id, pipeline_id)).on(Index::Gsi1);
        if let Some(stage_id) = &filter.stage_id {
            q = q.sort(SortKey::BeginsWith(stage_prefix(stage_id)));
        }
        q
    } else if let Some(contact_id) = &filter.contact_id {
        Query::partition(contact_deals_partition(org_id, contact_id))
            .on(Index::Gsi2)
            .reverse()
    } else if filter.stage_id.is_some() {
        return Err(invalid(
            "stage_id",
            "needs_pipeline",
            "Filter by stage together with pipeline_id.",
        ));
    } else {
        Query::partition(format!("ORG#{org_id}"))
            .sort(SortKey::BeginsWith("DEAL#".into()))
            .reverse()
    };
    let page = table.query(&query.limit(limit).after(cursor)).await?;
    let mut deals = Vec::with_capacity(page.items.len());
    for item in page.items {
        let deal: DealRecord = from_item(item)?;
        if filter.contact_id.as_ref().is_some_and(|c| c != &deal.contact_id) {
            continue;
        }
        deals.push(deal);
    }
    Ok((deals, page.cursor))
}

pub async fn update_deal(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    deal_id: &DealId,
    change: DealChange,
    expected_version: Option<u64>,
) -> Result<DealRecord, PipelineError> {
    let table = state.table().as_ref();
    let org_id = &actor.org_id;
    let current = get_deal(table, org_id, deal_id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(PipelineError::Stale);
    }
    let mut next = current.clone();
    let mut errors = Vec::new();
    if let Some(title) = &change.title {
        next.title = check_title(title, &mut errors);
    }
    if let Some(value) = change.value {
        check_value(value, &mut errors);
        next.value = value;
    }
    if let Some(currency) = &change.currency {
        next.currency = check_currency(currency, &mut errors);
    }
    if let Some(status) = change.status {
        next.status = status;
    }
    match &change.expected_close_date {
        None => {}
        Some(Value::Null) => next.expected_close_date = None,
        Some(Value::String(d)) => next.expected_close_date = check_date(d, &mut errors),
        Some(_) => errors.push(FieldError::new(
            "expected_close_date",
            "invalid",
            "Use a date as YYYY-MM-DD.",
        )),
    }
    match &change.owner_id {
        None => {}
        Some(Value::Null) => next.owner_id = None,
        Some(Value::String(owner)) => {
            check_owner(table, org_id, owner, &mut errors).await?;
            next.owner_id = Some(UserId::from(owner.clone()));
        }
        Some(_) => errors.push(FieldError::new("owner_id", "invalid", "Give a member's id or null.")),
    }
    if let Some(contact_id) = &change.contact_id
        && contact_id != &current.contact_id
    {
        check_contact(table, org_id, contact_id, &mut errors).await?;
        next.contact_id = contact_id.clone();
    }
    let mut stage_name = None;
    if change.pipeline_id.is_some() || change.stage_id.is_some() {
        let pipeline_id = change
            .pipeline_id
            .clone()
            .unwrap_or_else(|| current.pipeline_id.clone());
        let stage_id = match (&change.stage_id, pipeline_id == current.pipeline_id) {
            (Some(s), _) => Some(s.as_str()),
            (None, true) => Some(current.stage_id.as_str()),
            (None, false) => None,
        };
        if let Some((pipeline, stage)) = resolve_stage(table, org_id, &pipeline_id, stage_id, &mut errors).await? {
            next.pipeline_id = pipeline.id;
            next.stage_id = stage.id.clone();
            stage_name = Some(stage.name);
        }
    }
    if !errors.is_empty() {
        return Err(PipelineError::Invalid(errors));
    }
    if next == current {
        return Ok(current);
    }
    let now = state.clock().now();
    next.updated_at = now.to_string();
    next.version = current.version + 1;
    let mut ops = vec![WriteOp::Put {
        item: deal_item(org_id, &next)?,
        condition: Some(Condition::VersionEquals(current.version)),
    }];
    if next.contact_id != current.contact_id {
        ops.push(WriteOp::Check {
            key: contacts::contact_key(org_id, &next.contact_id),
            condition: Condition::Exists,
        });
    }
    let moved = next.stage_id != current.stage_id || next.pipeline_id != current.pipeline_id;
    if moved {
        ops.push(contacts::timeline_entry(
            org_id,
            &next.contact_id,
            "deal_stage_changed",
            json!({
                "deal_id": next.id, "title": next.title,
                "from_pipeline_id": current.pipeline_id, "from_stage_id": current.stage_id,
                "to_pipeline_id": next.pipeline_id, "to_stage_id": next.stage_id, "to_stage_name": stage_name,
            }),
            now,
        ));
    }
    if next.status != current.status {
        ops.push(contacts::timeline_entry(
            org_id,
            &next.contact_id,
            "deal_status_changed",
            json!({ "deal_id": next.id, "title": next.title, "from": current.status, "to": next.status }),
            now,
        ));
    }
    ops.push(audit::entry(
        actor,
        now,
        if moved { "deal.move" } else { "deal.update" },
        &format!("deal:{}", next.id),
        json!({ "from_stage_id": current.stage_id, "to_stage_id": next.stage_id, "status": next.status }),
    ));
    ops.extend(stats_ops(org_id, &[(Some(&current), Some(&next))]));
    match transact_deal(state.table().as_ref(), ops).await {
        Ok(()) => Ok(next),
        Err(StoreError::TransactionConditionFailed { index: 1 }) if next.contact_id != current.contact_id => Err(
            invalid("contact_id", "not_found", "No such contact in this organization."),
        ),
        Err(err) => Err(store_error(err)),
    }
}

pub async fn delete_deal(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    deal_id: &DealId,
    expected_version: Option<u64>,
) -> Result<(), PipelineError> {
    let current = get_deal(state.table().as_ref(), &actor.org_id, deal_id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(PipelineError::Stale);
    }
    let now = state.clock().now();
    let mut ops = vec![
        WriteOp::Delete {
            key: deal_key(&actor.org_id, deal_id),
            condition: Some(Condition::VersionEquals(current.version)),
        },
        audit::entry(
            actor,
            now,
            "deal.delete",
            &format!("deal:{deal_id}"),
            json!({ "title": current.title }),
        ),
    ];
    ops.extend(stats_ops(&actor.org_id, &[(Some(&current), None)]));
    transact_deal(state.table().as_ref(), ops).await.map_err(store_error)
}
