//! The board of a pipeline (columns per stage with counts and value totals)
//! and the contacts of a stage, both queries on the deals' stage index.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::{
    DealRecord, PipelineError, PipelineRecord, Stage, get_pipeline, pipeline_deals_partition, plausible_id,
    stage_prefix,
};
use crate::ports::{Index, Query, SortKey, StoreError, Table};
use crate::services::contact_links;
use crate::services::contacts::{ContactFilter, ContactRecord};
use crate::services::records::from_item;

#[derive(Debug, Clone, Serialize)]
pub struct Total {
    pub currency: String,
    pub value: i64,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct Board {
    pub pipeline: PipelineRecord,
    pub stages: Vec<BoardColumn>,
}

/// Deals per stage with counts and totals per currency: queries on the
/// pipeline's gsi1 partition only (one paged query sequence for the pipeline).
pub async fn board(
    table: &dyn Table,
    org_id: &str,
    pipeline_id: &str,
    per_stage: usize,
) -> Result<Board, PipelineError> {
    let pipeline = get_pipeline(table, org_id, pipeline_id).await?;
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
    let mut sums: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); columns.len()];
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(pipeline_deals_partition(org_id, pipeline_id))
                    .on(Index::Gsi1)
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            let deal: DealRecord = from_item(item)?;
            let Some(&i) = index.get(&deal.stage_id) else { continue };
            let column = &mut columns[i];
            column.count += 1;
            let sum = sums[i].entry(deal.currency.clone()).or_insert(0);
            *sum = sum.saturating_add(deal.value);
            if column.deals.len() < per_stage {
                column.deals.push(deal);
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for (column, sum) in columns.iter_mut().zip(sums) {
        column.totals = sum
            .into_iter()
            .map(|(currency, value)| Total { currency, value })
            .collect();
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
    org_id: &str,
    pipeline_id: &str,
    stage_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<String>, Option<String>), StoreError> {
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
        .map(str::to_string)
        .collect();
    Ok((ids, page.cursor))
}

/// `GET /contacts?pipeline_id=&stage_id=` and the export's stage filter:
/// contacts with a deal in the stage, in deal order, that also pass the
/// list's other filters. Two round trips: the stage query and one batch read.
pub async fn contacts_in_stage_page(
    table: &dyn Table,
    org_id: &str,
    (pipeline_id, stage_id): (&str, &str),
    filter: &ContactFilter,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ContactRecord>, Option<String>), StoreError> {
    let (ids, next) = contacts_in_stage(table, org_id, pipeline_id, stage_id, limit, cursor).await?;
    let found = contact_links::get_many(table, org_id, &ids).await?;
    Ok((found.into_iter().filter(|c| filter.matches(c)).collect(), next))
}
