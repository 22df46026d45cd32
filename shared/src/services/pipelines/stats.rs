//! A pipeline's statistics item `ORG#<org>` / `PIPESTATS#<pipeline>`: per
//! stage and currency, the number of deals (`n#<stage>#<currency>`) and the
//! sum of their values (`v#<stage>#<currency>`), moved by every deal change
//! in the change's own transaction ([`stats_ops`]). The board reads these and
//! a page of deals per stage, so its cost does not grow with the deals a
//! pipeline has ever had (reading all of them on every view took a large
//! pipeline's index partition far past what DynamoDB serves one key:
//! BENCHMARKS.md, "Key distribution"). `complete` says every deal is counted:
//! from its creation for a pipeline made since, and for an older one once a
//! board view has counted its deals; `writes` counts the changes, so that
//! count is stored only if no change came between.

use crate::domain::ids::OrgId;
use crate::domain::ids::PipelineId;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{DealRecord, Total};
use crate::ports::{Item, Key, StoreError, Table, Update, WriteOp};

/// The pipeline's statistics (counts and totals per stage and currency).
pub fn stats_key(org_id: &OrgId, pipeline_id: &PipelineId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("PIPESTATS#{pipeline_id}"))
}
pub(super) fn count_attribute(stage_id: &str, currency: &str) -> String {
    format!("n#{stage_id}#{currency}")
}
pub(super) fn value_attribute(stage_id: &str, currency: &str) -> String {
    format!("v#{stage_id}#{currency}")
}

/// The statistics updates of deal changes (`before` → `after`, `None` =
/// absent): one update per pipeline whose counts or totals move, with its
/// change counter. For the transaction of the changes.
pub fn stats_ops(org_id: &OrgId, changes: &[(Option<&DealRecord>, Option<&DealRecord>)]) -> Vec<WriteOp> {
    let mut deltas: BTreeMap<&PipelineId, BTreeMap<String, i64>> = BTreeMap::new();
    for (before, after) in changes {
        for (deal, sign) in [(before, -1), (after, 1)] {
            let Some(deal) = deal else { continue };
            let pipeline = deltas.entry(&deal.pipeline_id).or_default();
            *pipeline
                .entry(count_attribute(&deal.stage_id, &deal.currency))
                .or_default() += sign;
            *pipeline
                .entry(value_attribute(&deal.stage_id, &deal.currency))
                .or_default() += sign * deal.value;
        }
    }
    deltas
        .into_iter()
        .filter_map(|(pipeline_id, attributes)| {
            let mut update = Update::default();
            for (name, delta) in attributes.into_iter().filter(|(_, delta)| *delta != 0) {
                update = update.add(name, delta);
            }
            (!update.is_empty()).then(|| WriteOp::Update {
                key: stats_key(org_id, pipeline_id),
                update: update.add("writes", 1),
                condition: None,
            })
        })
        .collect()
}

/// The statistics of a pipeline made now: complete, nothing counted yet.
pub(super) fn new_stats_item(org_id: &OrgId, pipeline_id: &PipelineId) -> Item {
    let key = stats_key(org_id, pipeline_id);
    crate::services::object(
        json!({"pk": key.pk, "sk": key.sk, "pipeline_id": pipeline_id, "complete": true, "writes": 0}),
    )
}

/// A stage's count and totals (currencies with deals, by code) from the statistics.
pub(super) fn stage_figures(stats: &Item, stage_id: &str) -> (u64, Vec<Total>) {
    let prefix = format!("n#{stage_id}#");
    let mut count = 0;
    let mut totals = Vec::new();
    let mut currencies: Vec<(&str, i64)> = stats
        .iter()
        .filter_map(|(name, value)| Some((name.strip_prefix(&prefix)?, value.as_i64()?)))
        .filter(|(_, n)| *n > 0)
        .collect();
    currencies.sort();
    for (currency, n) in currencies {
        count += n as u64;
        let value = stats
            .get(&value_attribute(stage_id, currency))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        totals.push(Total {
            currency: currency.to_string(),
            value,
        });
    }
    (count, totals)
}

/// A deal transaction: every one moves its pipeline's statistics item, so
/// two changes in one pipeline at the same moment can collide on DynamoDB
/// (a transaction conflict, which wrote nothing); it is tried again.
pub(super) async fn transact_deal(table: &dyn Table, ops: Vec<WriteOp>) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        match table.transact(ops.clone()).await {
            Err(StoreError::Contention) if attempt < 6 => {
                attempt += 1;
                let jitter = u64::from(rand::random::<u8>() % 20);
                tokio::time::sleep(std::time::Duration::from_millis(15 * attempt + jitter)).await;
            }
            other => return other,
        }
    }
}
