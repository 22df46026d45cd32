//! Pipelines and their ordered stages: create, read, rename, reorder and
//! delete (moving or refusing the deals of a removed stage).

use crate::domain::ids::OrgId;
use crate::domain::ids::PipelineId;
use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::json;

use super::stats::{new_stats_item, stats_key, stats_ops, transact_deal};
use super::{
    DealRecord, MAX_NAME, MAX_STAGES, MOVE_CHUNK, PipelineError, PipelineRecord, Stage, deal_item, invalid,
    pipeline_deals_partition, pipeline_key, plausible_id, stage_prefix,
};
use crate::domain::input::FieldError;
use crate::ports::{Condition, Index, Query, SortKey, StoreError, Table, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::contacts;
use crate::services::records::{from_item, new_id, to_item};

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    /// An existing stage's id (on update); absent for a new stage.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub probability: Option<u8>,
}

/// Validates the ordered stage list against the pipeline's current stages.
fn build_stages(inputs: &[StageInput], current: &[Stage]) -> Result<Vec<Stage>, PipelineError> {
    let mut errors = Vec::new();
    if inputs.is_empty() {
        errors.push(FieldError::new(
            "stages".to_string(),
            "required",
            "A pipeline needs at least one stage.".to_string(),
        ));
    }
    if inputs.len() > MAX_STAGES {
        errors.push(FieldError::new(
            "stages".to_string(),
            "too_many",
            format!("Use at most {MAX_STAGES} stages."),
        ));
    }
    let known: HashMap<&str, &Stage> = current.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut seen_ids = HashSet::new();
    let mut seen_names = HashSet::new();
    let mut stages = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let name = input.name.trim().to_string();
        if name.is_empty() {
            errors.push(FieldError::new(
                format!("stages[{i}].name"),
                "required",
                "This field is required.",
            ));
        } else if name.chars().count() > MAX_NAME {
            errors.push(FieldError::new(
                format!("stages[{i}].name"),
                "too_long",
                format!("Use at most {MAX_NAME} characters."),
            ));
        } else if !seen_names.insert(name.to_lowercase()) {
            errors.push(FieldError::new(
                format!("stages[{i}].name"),
                "duplicate",
                "Two stages have this name.",
            ));
        }
        let default_probability = if inputs.len() <= 1 {
            100
        } else {
            u8::try_from(i * 100 / (inputs.len() - 1)).unwrap_or(100)
        };
        let probability = match input.probability {
            Some(p) if p > 100 => {
                errors.push(FieldError::new(
                    format!("stages[{i}].probability"),
                    "out_of_range",
                    "Use 0 to 100.",
                ));
                p
            }
            Some(p) => p,
            None => default_probability,
        };
        let id = match &input.id {
            Some(id) => {
                if !known.contains_key(id.as_str()) {
                    errors.push(FieldError::new(
                        format!("stages[{i}].id"),
                        "unknown_stage",
                        "No such stage in this pipeline.",
                    ));
                } else if !seen_ids.insert(id.clone()) {
                    errors.push(FieldError::new(
                        format!("stages[{i}].id"),
                        "duplicate",
                        "A stage may appear once.",
                    ));
                }
                id.clone()
            }
            None => new_id(),
        };
        stages.push(Stage {
            id,
            name,
            position: u32::try_from(i).unwrap_or(u32::MAX),
            probability,
        });
    }
    if errors.is_empty() {
        Ok(stages)
    } else {
        Err(PipelineError::Invalid(errors))
    }
}

fn pipeline_name(raw: &str) -> Result<String, PipelineError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(invalid("name", "required", "This field is required."));
    }
    if name.chars().count() > MAX_NAME {
        return Err(invalid(
            "name",
            "too_long",
            format!("Use at most {MAX_NAME} characters."),
        ));
    }
    Ok(name.to_string())
}

pub async fn create_pipeline(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    name: &str,
    stages: &[StageInput],
) -> Result<PipelineRecord, PipelineError> {
    let name = pipeline_name(name);
    let stages = build_stages(stages, &[]);
    let (name, stages) = match (name, stages) {
        (Ok(n), Ok(s)) => (n, s),
        (Err(PipelineError::Invalid(mut a)), Err(PipelineError::Invalid(b))) => {
            a.extend(b);
            return Err(PipelineError::Invalid(a));
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let now = state.clock().now();
    let record = PipelineRecord {
        id: PipelineId::new(new_id()),
        name,
        stages,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
    };
    let item = to_item(&pipeline_key(&actor.org_id, &record.id), &record, &[])?;
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: new_stats_item(&actor.org_id, &record.id),
                condition: Some(Condition::NotExists),
            },
            audit::entry(
                actor,
                now,
                "pipeline.create",
                &format!("pipeline:{}", record.id),
                json!({ "name": record.name, "stages": record.stages.len() }),
            ),
        ])
        .await?;
    Ok(record)
}

pub async fn get_pipeline(
    table: &dyn Table,
    org_id: &OrgId,
    pipeline_id: &PipelineId,
) -> Result<PipelineRecord, PipelineError> {
    if !plausible_id(pipeline_id) {
        return Err(PipelineError::NotFound);
    }
    match table.get(&pipeline_key(org_id, pipeline_id)).await? {
        Some(item) => Ok(from_item(item)?),
        None => Err(PipelineError::NotFound),
    }
}

/// Every pipeline of the organization (one query; an org has a handful).
pub async fn list_pipelines(table: &dyn Table, org_id: &OrgId) -> Result<Vec<PipelineRecord>, PipelineError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(format!("ORG#{org_id}"))
                    .sort(SortKey::BeginsWith("PIPELINE#".into()))
                    .limit(200)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            out.push(from_item::<PipelineRecord>(item)?);
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineChange {
    #[serde(default)]
    pub name: Option<String>,
    /// The full ordered list: stages left out are removed.
    #[serde(default)]
    pub stages: Option<Vec<StageInput>>,
    /// Where deals of removed stages go (a stage kept in this pipeline).
    #[serde(default)]
    pub move_deals_to: Option<String>,
}

/// Every deal of one stage (paged through), or its first `limit`.
pub(super) async fn deals_in_stage(
    table: &dyn Table,
    org_id: &OrgId,
    pipeline_id: &PipelineId,
    stage_id: &str,
    limit: Option<u32>,
) -> Result<Vec<DealRecord>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(pipeline_deals_partition(org_id, pipeline_id))
                    .on(Index::Gsi1)
                    .sort(SortKey::BeginsWith(stage_prefix(stage_id)))
                    .limit(limit.unwrap_or(500))
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            out.push(from_item::<DealRecord>(item)?);
        }
        if limit.is_some_and(|l| out.len() >= l as usize) {
            break;
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(out)
}

/// Moves deals to a stage, a stage-change timeline entry on each contact in
/// the same transaction as the deal's change.
async fn move_deals(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    deals: Vec<DealRecord>,
    to_pipeline: &PipelineId,
    to_stage: &Stage,
) -> Result<(), PipelineError> {
    let now = state.clock().now();
    for chunk in deals.chunks(MOVE_CHUNK) {
        let mut ops = Vec::with_capacity(chunk.len() * 2 + 2);
        let mut changes = Vec::with_capacity(chunk.len());
        for deal in chunk {
            let mut moved = deal.clone();
            moved.pipeline_id = to_pipeline.clone();
            moved.stage_id = to_stage.id.clone();
            moved.updated_at = now.to_string();
            moved.version = deal.version + 1;
            changes.push((deal, moved.clone()));
            ops.push(WriteOp::Put {
                item: deal_item(&actor.org_id, &moved)?,
                condition: Some(Condition::VersionEquals(deal.version)),
            });
            ops.push(contacts::timeline_entry(
                &actor.org_id,
                &deal.contact_id,
                "deal_stage_changed",
                json!({
                    "deal_id": deal.id, "title": deal.title,
                    "from_pipeline_id": deal.pipeline_id, "from_stage_id": deal.stage_id,
                    "to_pipeline_id": to_pipeline, "to_stage_id": to_stage.id, "to_stage_name": to_stage.name,
                }),
                now,
            ));
        }
        let pairs: Vec<(Option<&DealRecord>, Option<&DealRecord>)> = changes
            .iter()
            .map(|(before, after)| (Some(*before), Some(after)))
            .collect();
        ops.extend(stats_ops(&actor.org_id, &pairs));
        transact_deal(state.table().as_ref(), ops).await.map_err(|err| {
            if err.is_condition_failure() {
                PipelineError::Stale
            } else {
                PipelineError::Store(err)
            }
        })?;
    }
    Ok(())
}

pub async fn update_pipeline(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    pipeline_id: &PipelineId,
    change: PipelineChange,
    expected_version: Option<u64>,
) -> Result<PipelineRecord, PipelineError> {
    let org_id = &actor.org_id;
    let current = get_pipeline(state.table().as_ref(), org_id, pipeline_id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(PipelineError::Stale);
    }
    let mut next = current.clone();
    if let Some(name) = &change.name {
        next.name = pipeline_name(name)?;
    }
    if let Some(inputs) = &change.stages {
        next.stages = build_stages(inputs, &current.stages)?;
    }
    let kept: HashSet<&str> = next.stages.iter().map(|s| s.id.as_str()).collect();
    let removed: Vec<&Stage> = current
        .stages
        .iter()
        .filter(|s| !kept.contains(s.id.as_str()))
        .collect();
    let target = match &change.move_deals_to {
        Some(id) => Some(
            next.stages
                .iter()
                .find(|s| &s.id == id)
                .cloned()
                .ok_or_else(|| invalid("move_deals_to", "unknown_stage", "Name a stage this pipeline keeps."))?,
        ),
        None => None,
    };
    let mut to_move = Vec::new();
    for stage in &removed {
        let deals = deals_in_stage(state.table().as_ref(), org_id, pipeline_id, &stage.id, None).await?;
        if !deals.is_empty() && target.is_none() {
            return Err(PipelineError::HasDeals {
                code: "stage_has_deals",
                detail: format!(
                    "Stage \"{}\" still has {} deal(s); name move_deals_to to move them.",
                    stage.name,
                    deals.len()
                ),
            });
        }
        to_move.extend(deals);
    }
    if let Some(target) = &target {
        move_deals(state, actor, to_move, pipeline_id, target).await?;
    }
    let now = state.clock().now();
    next.updated_at = now.to_string();
    next.version = current.version + 1;
    let item = to_item(&pipeline_key(org_id, pipeline_id), &next, &[])?;
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item,
                condition: Some(Condition::VersionEquals(current.version)),
            },
            audit::entry(
                actor,
                now,
                "pipeline.update",
                &format!("pipeline:{pipeline_id}"),
                json!({
                    "name": next.name,
                    "removed_stages": removed.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
                    "moved_deals_to": change.move_deals_to,
                }),
            ),
        ])
        .await
        .map_err(|err| {
            if err.is_condition_failure() {
                PipelineError::Stale
            } else {
                PipelineError::Store(err)
            }
        })?;
    Ok(next)
}

/// Deletes a pipeline; its deals must move first to `target` = (pipeline, stage).
pub async fn delete_pipeline(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    pipeline_id: &PipelineId,
    target: Option<(PipelineId, String)>,
) -> Result<(), PipelineError> {
    let org_id = &actor.org_id;
    let current = get_pipeline(state.table().as_ref(), org_id, pipeline_id).await?;
    let mut deals = Vec::new();
    for stage in &current.stages {
        deals.extend(deals_in_stage(state.table().as_ref(), org_id, pipeline_id, &stage.id, None).await?);
    }
    if !deals.is_empty() {
        let Some((target_pipeline, target_stage)) = target else {
            return Err(PipelineError::HasDeals {
                code: "pipeline_has_deals",
                detail: format!(
                    "The pipeline still has {} deal(s); name move_deals_to_pipeline and move_deals_to_stage to move them.",
                    deals.len()
                ),
            });
        };
        if &target_pipeline == pipeline_id {
            return Err(invalid(
                "move_deals_to_pipeline",
                "same_pipeline",
                "Name another pipeline.",
            ));
        }
        let other = match get_pipeline(state.table().as_ref(), org_id, &target_pipeline).await {
            Ok(p) => p,
            Err(PipelineError::NotFound) => {
                return Err(invalid("move_deals_to_pipeline", "not_found", "No such pipeline."));
            }
            Err(e) => return Err(e),
        };
        let stage = other
            .stages
            .iter()
            .find(|s| s.id == target_stage)
            .cloned()
            .ok_or_else(|| {
                invalid(
                    "move_deals_to_stage",
                    "unknown_stage",
                    "No such stage in that pipeline.",
                )
            })?;
        move_deals(state, actor, deals, &other.id, &stage).await?;
    }
    let now = state.clock().now();
    state
        .table()
        .transact(vec![
            WriteOp::Delete {
                key: pipeline_key(org_id, pipeline_id),
                condition: Some(Condition::VersionEquals(current.version)),
            },
            WriteOp::Delete {
                key: stats_key(org_id, pipeline_id),
                condition: None,
            },
            audit::entry(
                actor,
                now,
                "pipeline.delete",
                &format!("pipeline:{pipeline_id}"),
                json!({ "name": current.name }),
            ),
        ])
        .await
        .map_err(|err| {
            if err.is_condition_failure() {
                PipelineError::Stale
            } else {
                PipelineError::Store(err)
            }
        })?;
    Ok(())
}
