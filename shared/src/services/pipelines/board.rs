//! The board of a pipeline (columns per stage with counts and value totals)
//! and the contacts of a stage: the statistics item and queries on the
//! deals' stage index.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::PipelineId;
use std::collections::{BTreeMap, HashMap, HashSet};

use futures::future::join_all;
use serde::Serialize;
use serde_json::{Value, json};

use super::stages::deals_in_stage;
use super::stats::{count_attribute, new_stats_item, stage_figures, stats_key, value_attribute};
use super::{
    DealRecord, PipelineError, PipelineRecord, Stage, pipeline_deals_partition, pipeline_key, plausible_id,
    stage_prefix,
};
use crate::ports::{Condition, Index, Item, Key, Query, SortKey, StoreError, Table};
use crate::services::contacts;
use crate::services::contacts::{ContactFilter, ContactRecord};
use crate::services::records::from_item;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Total {
    pub currency: String,
    pub value: i64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BoardColumn {
    #[serde(flatten)]
    pub stage: Stage,
    /// Every deal of the stage, whatever its status.
    pub count: u64,
    /// Sum of the stage's deal values, one entry per currency, sorted by code.
    pub totals: Vec<Total>,
    /// The first `limit` deals (oldest first).
    pub deals: Vec<DealRecord>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Board {
    pub pipeline: PipelineRecord,
    pub stages: Vec<BoardColumn>,
}

/// Deals per stage with counts and totals per currency: the pipeline and its
/// statistics (one batch read) and the first `per_stage` deals of each stage
/// (one query per stage, concurrently), whatever the number of deals. A
/// pipeline whose statistics are not complete yet (made before they existed)
/// is counted from its deals once, see [`count_and_complete`].
pub async fn board(
    table: &dyn Table,
    org_id: &OrgId,
    pipeline_id: &PipelineId,
    per_stage: usize,
) -> Result<Board, PipelineError> {
    if !plausible_id(pipeline_id) {
        return Err(PipelineError::NotFound);
    }
    let keys = [pipeline_key(org_id, pipeline_id), stats_key(org_id, pipeline_id)];
    let items = table.batch_get(&keys).await?;
    let find = |key: &Key| items.iter().find(|item| Key::of(item).as_ref() == Some(key)).cloned();
    let pipeline: PipelineRecord = from_item(find(&keys[0]).ok_or(PipelineError::NotFound)?)?;
    let stats = find(&keys[1]);
    let complete = stats
        .as_ref()
        .is_some_and(|item| item.get("complete").and_then(Value::as_bool) == Some(true));
    if !complete {
        return count_and_complete(table, org_id, pipeline, stats.as_ref(), per_stage).await;
    }
    let stats = stats.unwrap_or_default();
    let pages = join_all(pipeline.stages.iter().map(|stage| async move {
        if per_stage == 0 {
            return Ok(Vec::new());
        }
        deals_in_stage(table, org_id, pipeline_id, &stage.id, Some(per_stage as u32)).await
    }))
    .await;
    let mut columns = Vec::with_capacity(pipeline.stages.len());
    for (stage, deals) in pipeline.stages.iter().zip(pages) {
        let mut deals = deals?;
        deals.truncate(per_stage);
        let (count, totals) = stage_figures(&stats, &stage.id);
        columns.push(BoardColumn {
            stage: stage.clone(),
            count,
            totals,
            deals,
        });
    }
    Ok(Board {
        pipeline,
        stages: columns,
    })
}

/// The board of a pipeline whose statistics are incomplete: its deals read
/// once from the organization's partition (strongly consistent), and the
/// statistics stored complete, on condition that no deal change came since
/// they were read (`writes` unchanged, or still absent), which is exactly
/// when the count covers every deal. A change in between leaves them
/// incomplete for the next view to count.
async fn count_and_complete(
    table: &dyn Table,
    org_id: &OrgId,
    pipeline: PipelineRecord,
    stats: Option<&Item>,
    per_stage: usize,
) -> Result<Board, PipelineError> {
    let mut columns: Vec<BoardColumn> = pipeline
        .stages
        .iter()
        .map(|stage| BoardColumn {
            stage: stage.clone(),
            count: 0,
            totals: Vec::new(),
            deals: Vec::new(),
        })
        .collect();
    let index: HashMap<String, usize> = pipeline
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    let mut counted: BTreeMap<String, i64> = BTreeMap::new();
    let mut deals: Vec<DealRecord> = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(format!("ORG#{org_id}"))
                    .sort(SortKey::BeginsWith("DEAL#".into()))
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            let deal: DealRecord = from_item(item)?;
            if deal.pipeline_id != pipeline.id {
                continue;
            }
            *counted
                .entry(count_attribute(&deal.stage_id, &deal.currency))
                .or_default() += 1;
            *counted
                .entry(value_attribute(&deal.stage_id, &deal.currency))
                .or_default() += deal.value;
            deals.push(deal);
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // The board's order: by stage index key (the deal's id: oldest first).
    deals.sort_by(|a, b| a.id.cmp(&b.id));
    for deal in deals {
        if let Some(&i) = index.get(&deal.stage_id)
            && columns[i].deals.len() < per_stage
        {
            columns[i].deals.push(deal);
        }
    }
    let writes = stats.and_then(|item| item.get("writes")).and_then(Value::as_i64);
    let mut item = new_stats_item(org_id, &pipeline.id);
    item.insert("writes".into(), json!(writes.unwrap_or(0)));
    for (name, value) in &counted {
        item.insert(name.clone(), json!(value));
    }
    let condition = match writes {
        Some(writes) => Condition::AttributeEquals {
            name: "writes".into(),
            value: json!(writes),
        },
        None if stats.is_some() => Condition::Exists,
        None => Condition::NotExists,
    };
    match table.put(item.clone(), Some(condition)).await {
        Ok(()) => {}
        Err(err) if err.is_condition_failure() => {
            tracing::info!(pipeline_id = %pipeline.id, "deals changed while counted; the next board view counts again");
        }
        Err(err) => return Err(err.into()),
    }
    for column in &mut columns {
        let (count, totals) = stage_figures(&item, &column.stage.id);
        column.count = count;
        column.totals = totals;
    }
    Ok(Board {
        pipeline,
        stages: columns,
    })
}

/// Contacts with a deal in one pipeline stage (DESIGN.md §4 "contacts by
/// pipeline stage"): one query on gsi1 per page. Returns contact ids in deal
/// order, de-duplicated within the page, and the cursor of the next page.
/// The contact list's stage filter calls this.
pub async fn contacts_in_stage(
    table: &dyn Table,
    org_id: &OrgId,
    pipeline_id: &PipelineId,
    stage_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ContactId>, Option<String>), StoreError> {
    if !plausible_id(pipeline_id) || !plausible_id(stage_id) {
        return Ok((Vec::new(), None));
    }
    let page = table
        .query(
            &Query::partition(pipeline_deals_partition(org_id, pipeline_id))
                .on(Index::Gsi1)
                .sort(SortKey::BeginsWith(stage_prefix(stage_id)))
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let mut seen = HashSet::new();
    let ids = page
        .items
        .iter()
        .filter_map(|item| item.get("contact_id").and_then(Value::as_str))
        .filter(|id| seen.insert(id.to_string()))
        .map(ContactId::from)
        .collect();
    Ok((ids, page.cursor))
}

/// `GET /contacts?pipeline_id=&stage_id=` and the export's stage filter:
/// contacts with a deal in the stage, in deal order, that also pass the
/// list's other filters. Two round trips: the stage query and one batch read.
pub async fn contacts_in_stage_page(
    table: &dyn Table,
    org_id: &OrgId,
    (pipeline_id, stage_id): (&PipelineId, &str),
    filter: &ContactFilter,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ContactRecord>, Option<String>), StoreError> {
    let (ids, next) = contacts_in_stage(table, org_id, pipeline_id, stage_id, limit, cursor).await?;
    let found = contacts::get_many(table, org_id, &ids).await?;
    Ok((found.into_iter().filter(|c| filter.matches(c)).collect(), next))
}
