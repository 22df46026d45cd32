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
//! - pipeline statistics `ORG#<org>` / `PIPESTATS#<pipeline>`: counts and
//!   totals per stage and currency, kept by every deal change (`stats.rs`).

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::ids::{ContactId, DealId, PipelineId};
use serde::{Deserialize, Serialize};

use super::records::to_item;
use crate::domain::input::FieldError;
use crate::ports::{Key, StoreError};

mod board;
mod deals;
mod stages;
mod stats;

pub use board::{Board, BoardColumn, Total, board, contacts_in_stage, contacts_in_stage_page};
pub use deals::{DealChange, DealFilter, NewDeal, create_deal, delete_deal, get_deal, list_deals, update_deal};
pub use stages::{
    PipelineChange, StageInput, create_pipeline, delete_pipeline, get_pipeline, list_pipelines, update_pipeline,
};
pub use stats::{stats_key, stats_ops};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
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
    PipelineError::Invalid(vec![FieldError::new(field, code, message)])
}

pub const MAX_STAGES: usize = 50;
const MAX_NAME: usize = 100;
const MAX_TITLE: usize = 200;
/// Deals per transaction when moving many (each move is 2 operations).
const MOVE_CHUNK: usize = 45;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Stage {
    pub id: String,
    pub name: String,
    /// 0-based order on the board.
    pub position: u32,
    /// Win probability in percent, 0..=100.
    pub probability: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PipelineRecord {
    pub id: PipelineId,
    pub name: String,
    pub stages: Vec<Stage>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DealStatus {
    Open,
    Won,
    Lost,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DealRecord {
    pub id: DealId,
    pub pipeline_id: PipelineId,
    pub stage_id: String,
    pub title: String,
    pub contact_id: ContactId,
    /// Integer minor units of `currency` (cents for EUR, yen for JPY).
    pub value: i64,
    pub currency: String,
    pub status: DealStatus,
    /// Civil date `YYYY-MM-DD`.
    #[serde(default)]
    pub expected_close_date: Option<String>,
    #[serde(default)]
    pub owner_id: Option<UserId>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

pub fn pipeline_key(org_id: &OrgId, pipeline_id: &PipelineId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("PIPELINE#{pipeline_id}"))
}
pub fn deal_key(org_id: &OrgId, deal_id: &DealId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("DEAL#{deal_id}"))
}
/// gsi1 partition of a pipeline's deals.
pub fn pipeline_deals_partition(org_id: &OrgId, pipeline_id: &PipelineId) -> String {
    format!("ORG#{org_id}#PIPE#{pipeline_id}")
}
/// gsi1 sort-key prefix of one stage's deals.
pub fn stage_prefix(stage_id: &str) -> String {
    format!("STAGE#{stage_id}#")
}
/// gsi2 partition of a contact's deals.
pub fn contact_deals_partition(org_id: &OrgId, contact_id: &ContactId) -> String {
    format!("ORG#{org_id}#CONTACT#{contact_id}#DEALS")
}

pub fn deal_item(org_id: &OrgId, deal: &DealRecord) -> Result<crate::ports::Item, StoreError> {
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
