//! Pipelines (ordered stages) and deals (opportunities linked to a contact).
//!
//! Keys (see `records.rs`):
//! - pipeline `ORG#<org>` / `PIPELINE#<id>`, its stages inside the item;
//! - deal `ORG#<org>` / `DEAL#<id>` (UUIDv7 ids: the partition reads newest
//!   first), indexed on gsi1 `ORG#<org>#PIPE#<pipeline>` / `STAGE#<stage>#<deal>`
//!   (deals of a pipeline, of one stage by prefix: the board and
//!   contacts-by-stage are queries) and gsi2 `ORG#<org>#CONTACT#<contact>#DEALS`
//!   / `<deal>` (deals of a contact).
//!
//! The stage id (not its position) is in the index key, so reordering stages
//! rewrites one pipeline item and no deals.
//!
//! - pipeline statistics `ORG#<org>` / `PIPESTATS#<pipeline>`: per stage and
//!   currency, the number of deals (`n#<stage>#<currency>`) and the sum of
//!   their values (`v#<stage>#<currency>`), moved by every deal change in
//!   the change's own transaction ([`stats_ops`]). The board reads these and
//!   a page of deals per stage: its cost does not grow with the deals a
//!   pipeline has ever had (reading all of them on every view took a large
//!   pipeline's index partition far past what DynamoDB serves one key:
//!   BENCHMARKS.md, "Key distribution"). `complete` says every deal is
//!   counted: from its creation for a pipeline made since, and for an older
//!   one once a board view has counted its deals ([`board`]); `writes`
//!   counts the changes, so that count is stored only if no change came
//!   between.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{self, Actor};
use super::contact_links;
use super::contacts::{ContactFilter, ContactRecord};
use super::records::{from_item, member_key, new_id, to_item};
use crate::app::AppState;
use crate::domain::money::{self, Currency};
use crate::ports::{Condition, Index, Key, Query, SortKey, StoreError, Table, WriteOp};

/// (field, code, message)
pub type FieldProblem = (String, &'static str, String);

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("invalid input")]
    Invalid(Vec<FieldProblem>),
    #[error("not found")]
    NotFound,
    /// A stage or pipeline still holds deals and no target was named.
    #[error("{code}: {detail}")]
    HasDeals { code: &'static str, detail: String },
    #[error("stale version")]
    Stale,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> PipelineError {
    PipelineError::Invalid(vec![(field.into(), code, message.into())])
}

pub const MAX_STAGES: usize = 50;
const MAX_NAME: usize = 100;
const MAX_TITLE: usize = 200;
/// Deals per transaction when moving many (each move is 2 operations).
const MOVE_CHUNK: usize = 45;

// ---------------------------------------------------------------- records

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub name: String,
    /// 0-based order on the board.
    pub position: u32,
    /// Win probability in percent, 0..=100.
    pub probability: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineRecord {
    pub id: String,
    pub name: String,
    pub stages: Vec<Stage>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    Open,
    Won,
    Lost,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DealRecord {
    pub id: String,
    pub pipeline_id: String,
    pub stage_id: String,
    pub title: String,
    pub contact_id: String,
    /// Integer minor units of `currency` (cents for EUR, yen for JPY).
    pub value: i64,
    pub currency: String,
    pub status: DealStatus,
    /// Civil date `YYYY-MM-DD`.
    #[serde(default)]
    pub expected_close_date: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

pub fn pipeline_key(org_id: &str, pipeline_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("PIPELINE#{pipeline_id}"))
}
pub fn deal_key(org_id: &str, deal_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("DEAL#{deal_id}"))
}
/// gsi1 partition of a pipeline's deals.
pub fn pipeline_deals_partition(org_id: &str, pipeline_id: &str) -> String {
    format!("ORG#{org_id}#PIPE#{pipeline_id}")
}
/// gsi1 sort-key prefix of one stage's deals.
pub fn stage_prefix(stage_id: &str) -> String {
    format!("STAGE#{stage_id}#")
}
/// gsi2 partition of a contact's deals.
pub fn contact_deals_partition(org_id: &str, contact_id: &str) -> String {
    format!("ORG#{org_id}#CONTACT#{contact_id}#DEALS")
}
/// The pipeline's statistics (counts and totals per stage and currency).
pub fn stats_key(org_id: &str, pipeline_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("PIPESTATS#{pipeline_id}"))
}
fn count_attribute(stage_id: &str, currency: &str) -> String {
    format!("n#{stage_id}#{currency}")
}
fn value_attribute(stage_id: &str, currency: &str) -> String {
    format!("v#{stage_id}#{currency}")
}

/// The statistics updates of deal changes (`before` → `after`, `None` =
/// absent): one update per pipeline whose counts or totals move, with its
/// change counter. For the transaction of the changes.
pub fn stats_ops(org_id: &str, changes: &[(Option<&DealRecord>, Option<&DealRecord>)]) -> Vec<WriteOp> {
    let mut deltas: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    for (before, after) in changes {
        for (deal, sign) in [(before, -1), (after, 1)] {
            let Some(deal) = deal else { continue };
            let pipeline = deltas.entry(deal.pipeline_id.as_str()).or_default();
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
            let mut update = crate::ports::Update::default();
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
fn new_stats_item(org_id: &str, pipeline_id: &str) -> crate::ports::Item {
    let key = stats_key(org_id, pipeline_id);
    super::object(json!({"pk": key.pk, "sk": key.sk, "pipeline_id": pipeline_id, "complete": true, "writes": 0}))
}

pub fn deal_item(org_id: &str, deal: &DealRecord) -> Result<crate::ports::Item, StoreError> {
    to_item(
        &deal_key(org_id, &deal.id),
        deal,
        &[
            ("gsi1pk", pipeline_deals_partition(org_id, &deal.pipeline_id).into()),
            ("gsi1sk", format!("{}{}", stage_prefix(&deal.stage_id), deal.id).into()),
            ("gsi2pk", contact_deals_partition(org_id, &deal.contact_id).into()),
            ("gsi2sk", deal.id.clone().into()),
        ],
    )
}

/// Ids are ours (UUIDv7 hex); anything else cannot name an item.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------- pipelines

#[derive(Debug, Clone, Deserialize)]
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
        errors.push((
            "stages".to_string(),
            "required",
            "A pipeline needs at least one stage.".to_string(),
        ));
    }
    if inputs.len() > MAX_STAGES {
        errors.push((
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
            errors.push((
                format!("stages[{i}].name"),
                "required",
                "This field is required.".into(),
            ));
        } else if name.chars().count() > MAX_NAME {
            errors.push((
                format!("stages[{i}].name"),
                "too_long",
                format!("Use at most {MAX_NAME} characters."),
            ));
        } else if !seen_names.insert(name.to_lowercase()) {
            errors.push((
                format!("stages[{i}].name"),
                "duplicate",
                "Two stages have this name.".into(),
            ));
        }
        let default_probability = if inputs.len() <= 1 {
            100
        } else {
            u8::try_from(i * 100 / (inputs.len() - 1)).unwrap_or(100)
        };
        let probability = match input.probability {
            Some(p) if p > 100 => {
                errors.push((
                    format!("stages[{i}].probability"),
                    "out_of_range",
                    "Use 0 to 100.".into(),
                ));
                p
            }
            Some(p) => p,
            None => default_probability,
        };
        let id = match &input.id {
            Some(id) => {
                if !known.contains_key(id.as_str()) {
                    errors.push((
                        format!("stages[{i}].id"),
                        "unknown_stage",
                        "No such stage in this pipeline.".into(),
                    ));
                } else if !seen_ids.insert(id.clone()) {
                    errors.push((
                        format!("stages[{i}].id"),
                        "duplicate",
                        "A stage may appear once.".into(),
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
    state: &AppState,
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
    let now = state.clock.now();
    let record = PipelineRecord {
        id: new_id(),
        name,
        stages,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
    };
    let item = to_item(&pipeline_key(&actor.org_id, &record.id), &record, &[])?;
    state
        .table
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

pub async fn get_pipeline(table: &dyn Table, org_id: &str, pipeline_id: &str) -> Result<PipelineRecord, PipelineError> {
    if !plausible_id(pipeline_id) {
        return Err(PipelineError::NotFound);
    }
    match table.get(&pipeline_key(org_id, pipeline_id)).await? {
        Some(item) => Ok(from_item(item)?),
        None => Err(PipelineError::NotFound),
    }
}

/// Every pipeline of the organization (one query; an org has a handful).
pub async fn list_pipelines(table: &dyn Table, org_id: &str) -> Result<Vec<PipelineRecord>, PipelineError> {
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

#[derive(Debug, Clone, Default, Deserialize)]
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

/// Every deal of one stage (paged through).
async fn deals_in_stage(
    table: &dyn Table,
    org_id: &str,
    pipeline_id: &str,
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
    state: &AppState,
    actor: &Actor,
    deals: Vec<DealRecord>,
    to_pipeline: &str,
    to_stage: &Stage,
) -> Result<(), PipelineError> {
    let now = state.clock.now();
    for chunk in deals.chunks(MOVE_CHUNK) {
        let mut ops = Vec::with_capacity(chunk.len() * 2 + 2);
        let mut changes = Vec::with_capacity(chunk.len());
        for deal in chunk {
            let mut moved = deal.clone();
            moved.pipeline_id = to_pipeline.to_string();
            moved.stage_id = to_stage.id.clone();
            moved.updated_at = now.to_string();
            moved.version = deal.version + 1;
            changes.push((deal, moved.clone()));
            ops.push(WriteOp::Put {
                item: deal_item(&actor.org_id, &moved)?,
                condition: Some(Condition::VersionEquals(deal.version)),
            });
            ops.push(contact_links::timeline_entry(
                &actor.org_id,
                &deal.contact_id,
                now,
                "deal_stage_changed",
                json!({
                    "deal_id": deal.id, "title": deal.title,
                    "from_pipeline_id": deal.pipeline_id, "from_stage_id": deal.stage_id,
                    "to_pipeline_id": to_pipeline, "to_stage_id": to_stage.id, "to_stage_name": to_stage.name,
                }),
            ));
        }
        let pairs: Vec<(Option<&DealRecord>, Option<&DealRecord>)> = changes
            .iter()
            .map(|(before, after)| (Some(*before), Some(after)))
            .collect();
        ops.extend(stats_ops(&actor.org_id, &pairs));
        transact_deal(state.table.as_ref(), ops).await.map_err(|err| {
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
    state: &AppState,
    actor: &Actor,
    pipeline_id: &str,
    change: PipelineChange,
    expected_version: Option<u64>,
) -> Result<PipelineRecord, PipelineError> {
    let org_id = &actor.org_id;
    let current = get_pipeline(state.table.as_ref(), org_id, pipeline_id).await?;
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
        let deals = deals_in_stage(state.table.as_ref(), org_id, pipeline_id, &stage.id, None).await?;
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
    let now = state.clock.now();
    next.updated_at = now.to_string();
    next.version = current.version + 1;
    let item = to_item(&pipeline_key(org_id, pipeline_id), &next, &[])?;
    state
        .table
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
    state: &AppState,
    actor: &Actor,
    pipeline_id: &str,
    target: Option<(String, String)>,
) -> Result<(), PipelineError> {
    let org_id = &actor.org_id;
    let current = get_pipeline(state.table.as_ref(), org_id, pipeline_id).await?;
    let mut deals = Vec::new();
    for stage in &current.stages {
        deals.extend(deals_in_stage(state.table.as_ref(), org_id, pipeline_id, &stage.id, None).await?);
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
        if target_pipeline == pipeline_id {
            return Err(invalid(
                "move_deals_to_pipeline",
                "same_pipeline",
                "Name another pipeline.",
            ));
        }
        let other = match get_pipeline(state.table.as_ref(), org_id, &target_pipeline).await {
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
    let now = state.clock.now();
    state
        .table
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

// ---------------------------------------------------------------- board

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

/// Deals per stage with counts and totals per currency: the pipeline and its
/// statistics (one batch read) and the first `per_stage` deals of each stage
/// (one query per stage, concurrently), whatever the number of deals. A
/// pipeline whose statistics are not complete yet (made before they existed)
/// is counted from its deals once, see [`count_and_complete`].
pub async fn board(
    table: &dyn Table,
    org_id: &str,
    pipeline_id: &str,
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

/// A stage's count and totals (currencies with deals, by code) from the statistics.
fn stage_figures(stats: &crate::ports::Item, stage_id: &str) -> (u64, Vec<Total>) {
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

/// The board of a pipeline whose statistics are incomplete: its deals read
/// once from the organization's partition (strongly consistent), and the
/// statistics stored complete, on condition that no deal change came since
/// they were read (`writes` unchanged, or still absent), which is exactly
/// when the count covers every deal. A change in between leaves them
/// incomplete for the next view to count.
async fn count_and_complete(
    table: &dyn Table,
    org_id: &str,
    pipeline: PipelineRecord,
    stats: Option<&crate::ports::Item>,
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

// ---------------------------------------------------------------- deals

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDeal {
    pub title: String,
    pub contact_id: String,
    pub pipeline_id: String,
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
    pub owner_id: Option<String>,
}

/// A partial change. `null` clears `expected_close_date` and `owner_id`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealChange {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub contact_id: Option<String>,
    /// Moving to another pipeline needs its `stage_id` too (or takes its first stage).
    #[serde(default)]
    pub pipeline_id: Option<String>,
    #[serde(default)]
    pub stage_id: Option<String>,
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub status: Option<DealStatus>,
    #[serde(default)]
    pub expected_close_date: Option<Value>,
    #[serde(default)]
    pub owner_id: Option<Value>,
}

fn check_title(raw: &str, errors: &mut Vec<FieldProblem>) -> String {
    let title = raw.trim();
    if title.is_empty() {
        errors.push(("title".into(), "required", "This field is required.".into()));
    } else if title.chars().count() > MAX_TITLE {
        errors.push((
            "title".into(),
            "too_long",
            format!("Use at most {MAX_TITLE} characters."),
        ));
    }
    title.to_string()
}

fn check_value(value: i64, errors: &mut Vec<FieldProblem>) {
    if !money::valid_amount(value) {
        errors.push((
            "value".into(),
            "out_of_range",
            format!("Use whole minor units from 0 to {}.", money::MAX_MINOR_UNITS),
        ));
    }
}

fn check_currency(raw: &str, errors: &mut Vec<FieldProblem>) -> String {
    match Currency::parse(raw) {
        Some(c) => c.as_str().to_string(),
        None => {
            errors.push((
                "currency".into(),
                "invalid",
                "Use an ISO 4217 currency code such as EUR.".into(),
            ));
            String::new()
        }
    }
}

fn check_date(raw: &str, errors: &mut Vec<FieldProblem>) -> Option<String> {
    match raw.trim().parse::<jiff::civil::Date>() {
        Ok(date) => Some(date.to_string()),
        Err(_) => {
            errors.push((
                "expected_close_date".into(),
                "invalid",
                "Use a date as YYYY-MM-DD.".into(),
            ));
            None
        }
    }
}

async fn check_contact(
    table: &dyn Table,
    org_id: &str,
    id: &str,
    errors: &mut Vec<FieldProblem>,
) -> Result<(), StoreError> {
    if !contact_links::contact_exists(table, org_id, id).await? {
        errors.push((
            "contact_id".into(),
            "not_found",
            "No such contact in this organization.".into(),
        ));
    }
    Ok(())
}

async fn check_owner(
    table: &dyn Table,
    org_id: &str,
    id: &str,
    errors: &mut Vec<FieldProblem>,
) -> Result<(), StoreError> {
    if !plausible_id(id) || table.get(&member_key(org_id, id)).await?.is_none() {
        errors.push((
            "owner_id".into(),
            "not_a_member",
            "The owner must be a member of this organization.".into(),
        ));
    }
    Ok(())
}

/// The pipeline and stage a deal goes to, or field errors.
async fn resolve_stage(
    table: &dyn Table,
    org_id: &str,
    pipeline_id: &str,
    stage_id: Option<&str>,
    errors: &mut Vec<FieldProblem>,
) -> Result<Option<(PipelineRecord, Stage)>, PipelineError> {
    let pipeline = match get_pipeline(table, org_id, pipeline_id).await {
        Ok(p) => p,
        Err(PipelineError::NotFound) => {
            errors.push(("pipeline_id".into(), "not_found", "No such pipeline.".into()));
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
            errors.push((
                "stage_id".into(),
                "unknown_stage",
                "No such stage in the pipeline.".into(),
            ));
            Ok(None)
        }
    }
}

/// A deal transaction: every one moves its pipeline's statistics item, so
/// two changes in one pipeline at the same moment can collide on DynamoDB
/// (a transaction conflict, which wrote nothing); it is tried again.
async fn transact_deal(table: &dyn Table, ops: Vec<WriteOp>) -> Result<(), StoreError> {
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

fn store_error(err: StoreError) -> PipelineError {
    if err.is_condition_failure() {
        PipelineError::Stale
    } else {
        PipelineError::Store(err)
    }
}

pub async fn create_deal(state: &AppState, actor: &Actor, input: NewDeal) -> Result<DealRecord, PipelineError> {
    let table = state.table.as_ref();
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
    let now = state.clock.now();
    let deal = DealRecord {
        id: new_id(),
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
            key: contact_links::contact_key(org_id, &deal.contact_id),
            condition: Condition::Exists,
        },
        contact_links::timeline_entry(
            org_id,
            &deal.contact_id,
            now,
            "deal_created",
            json!({ "deal_id": deal.id, "title": deal.title, "pipeline_id": pipeline.id, "stage_id": stage.id, "stage_name": stage.name }),
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
    match transact_deal(state.table.as_ref(), ops).await {
        Ok(()) => Ok(deal),
        Err(StoreError::TransactionConditionFailed { index: 1 }) => Err(invalid(
            "contact_id",
            "not_found",
            "No such contact in this organization.",
        )),
        Err(err) => Err(store_error(err)),
    }
}

pub async fn get_deal(table: &dyn Table, org_id: &str, deal_id: &str) -> Result<DealRecord, PipelineError> {
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
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub contact_id: Option<String>,
}

/// One page of deals: newest first, or by pipeline (and stage) on gsi1, or by
/// contact on gsi2. One query.
pub async fn list_deals(
    table: &dyn Table,
    org_id: &str,
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
    state: &AppState,
    actor: &Actor,
    deal_id: &str,
    change: DealChange,
    expected_version: Option<u64>,
) -> Result<DealRecord, PipelineError> {
    let table = state.table.as_ref();
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
        Some(_) => errors.push((
            "expected_close_date".into(),
            "invalid",
            "Use a date as YYYY-MM-DD.".into(),
        )),
    }
    match &change.owner_id {
        None => {}
        Some(Value::Null) => next.owner_id = None,
        Some(Value::String(owner)) => {
            check_owner(table, org_id, owner, &mut errors).await?;
            next.owner_id = Some(owner.clone());
        }
        Some(_) => errors.push(("owner_id".into(), "invalid", "Give a member's id or null.".into())),
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
    let now = state.clock.now();
    next.updated_at = now.to_string();
    next.version = current.version + 1;
    let mut ops = vec![WriteOp::Put {
        item: deal_item(org_id, &next)?,
        condition: Some(Condition::VersionEquals(current.version)),
    }];
    if next.contact_id != current.contact_id {
        ops.push(WriteOp::Check {
            key: contact_links::contact_key(org_id, &next.contact_id),
            condition: Condition::Exists,
        });
    }
    let moved = next.stage_id != current.stage_id || next.pipeline_id != current.pipeline_id;
    if moved {
        ops.push(contact_links::timeline_entry(
            org_id,
            &next.contact_id,
            now,
            "deal_stage_changed",
            json!({
                "deal_id": next.id, "title": next.title,
                "from_pipeline_id": current.pipeline_id, "from_stage_id": current.stage_id,
                "to_pipeline_id": next.pipeline_id, "to_stage_id": next.stage_id, "to_stage_name": stage_name,
            }),
        ));
    }
    if next.status != current.status {
        ops.push(contact_links::timeline_entry(
            org_id,
            &next.contact_id,
            now,
            "deal_status_changed",
            json!({ "deal_id": next.id, "title": next.title, "from": current.status, "to": next.status }),
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
    match transact_deal(state.table.as_ref(), ops).await {
        Ok(()) => Ok(next),
        Err(StoreError::TransactionConditionFailed { index: 1 }) if next.contact_id != current.contact_id => Err(
            invalid("contact_id", "not_found", "No such contact in this organization."),
        ),
        Err(err) => Err(store_error(err)),
    }
}

pub async fn delete_deal(
    state: &AppState,
    actor: &Actor,
    deal_id: &str,
    expected_version: Option<u64>,
) -> Result<(), PipelineError> {
    let current = get_deal(state.table.as_ref(), &actor.org_id, deal_id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(PipelineError::Stale);
    }
    let now = state.clock.now();
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
    transact_deal(state.table.as_ref(), ops).await.map_err(store_error)
}
