//! Schedules: named weekly availability in an IANA zone with date overrides.
//! A member may have several; event types point at one of their host's.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use std::collections::BTreeMap;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Caller, SchedulingError, is_member, merge_patch, parse_input, prefixed, required_text, schedule_key};
use crate::domain::slots::{DayOverride, ScheduleSpec, WeeklyHours, WeeklySchedule};
use crate::ports::{Condition, StoreError, Table, Update, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit;
use crate::services::records::{from_item, new_id, to_item};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub id: String,
    pub org_id: OrgId,
    /// The member (user id) whose availability this is.
    pub owner_user_id: UserId,
    pub name: String,
    pub schedule: WeeklySchedule,
    /// Event types pointing at this schedule; it can only be deleted at 0.
    #[serde(default)]
    pub used_by: i64,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

/// What a caller sends to create a schedule (and what a PATCH overlays).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub owner_user_id: Option<UserId>,
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub weekly: WeeklyHours,
    #[serde(default)]
    pub overrides: BTreeMap<Date, DayOverride>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScheduleView {
    pub id: String,
    pub name: String,
    pub owner_user_id: UserId,
    pub time_zone: String,
    pub weekly: WeeklyHours,
    pub overrides: BTreeMap<Date, DayOverride>,
    pub used_by_event_types: i64,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl ScheduleRecord {
    pub fn view(&self) -> ScheduleView {
        let spec = self.schedule.spec();
        ScheduleView {
            id: self.id.clone(),
            name: self.name.clone(),
            owner_user_id: self.owner_user_id.clone(),
            time_zone: spec.time_zone.clone(),
            weekly: spec.weekly.clone(),
            overrides: spec.overrides.clone(),
            used_by_event_types: self.used_by,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            version: self.version,
        }
    }

    fn input(&self) -> ScheduleInput {
        let spec = self.schedule.spec();
        ScheduleInput {
            name: self.name.clone(),
            owner_user_id: Some(self.owner_user_id.clone()),
            time_zone: spec.time_zone.clone(),
            weekly: spec.weekly.clone(),
            overrides: spec.overrides.clone(),
        }
    }
}

struct Valid {
    name: String,
    owner_user_id: UserId,
    schedule: WeeklySchedule,
}

async fn validate(state: &impl HasTable, caller: &Caller, input: ScheduleInput) -> Result<Valid, SchedulingError> {
    let mut errors = Vec::new();
    let name = required_text("name", &input.name, 80, &mut errors);
    let spec = ScheduleSpec {
        time_zone: input.time_zone.trim().to_string(),
        weekly: input.weekly,
        overrides: input.overrides,
    };
    if spec.overrides.len() > 366 {
        errors.push(super::invalid("overrides", "too_many", "At most 366 date overrides."));
    }
    let schedule = match WeeklySchedule::new(spec) {
        Ok(schedule) => Some(schedule),
        Err(fields) => {
            errors.extend(prefixed("", fields.0));
            None
        }
    };
    let owner_user_id = input.owner_user_id.unwrap_or_else(|| caller.user_id.clone());
    caller.may_manage_for(&owner_user_id)?;
    if !is_member(state.table().as_ref(), &caller.org_id, &owner_user_id).await? {
        errors.push(super::invalid(
            "owner_user_id",
            "not_a_member",
            "The owner must be a member of this organization.",
        ));
    }
    match schedule {
        Some(schedule) if errors.is_empty() => Ok(Valid {
            name,
            owner_user_id,
            schedule,
        }),
        _ => Err(SchedulingError::Invalid(errors)),
    }
}

pub async fn create(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    input: ScheduleInput,
) -> Result<ScheduleView, SchedulingError> {
    let valid = validate(state, caller, input).await?;
    let now = state.clock().now();
    let record = ScheduleRecord {
        id: new_id(),
        org_id: caller.org_id.clone(),
        owner_user_id: valid.owner_user_id,
        name: valid.name,
        schedule: valid.schedule,
        used_by: 0,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
    };
    let key = schedule_key(&caller.org_id, &record.id);
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&key, &record, &[])?,
                condition: Some(Condition::NotExists),
            },
            audit::entry(
                &caller.actor,
                now,
                "schedule.create",
                &format!("schedule:{}", record.id),
                json!({"name": record.name, "owner_user_id": record.owner_user_id}),
            ),
        ])
        .await?;
    Ok(record.view())
}

/// One schedule of the org (a foreign or unknown id is not found).
pub async fn get_record(table: &dyn Table, org_id: &OrgId, id: &str) -> Result<ScheduleRecord, SchedulingError> {
    let item = table
        .get(&schedule_key(org_id, id))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    Ok(from_item(item)?)
}

pub async fn get(state: &impl HasTable, caller: &Caller, id: &str) -> Result<ScheduleView, SchedulingError> {
    Ok(get_record(state.table().as_ref(), &caller.org_id, id).await?.view())
}

/// Every schedule of the org (a handful per member): primary-index queries.
pub async fn list(state: &impl HasTable, caller: &Caller) -> Result<Vec<ScheduleView>, SchedulingError> {
    let records: Vec<ScheduleRecord> = super::list_in_org(state.table().as_ref(), &caller.org_id, "SCHEDULE#").await?;
    Ok(records.iter().map(ScheduleRecord::view).collect())
}

pub async fn update(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    id: &str,
    patch: Value,
) -> Result<ScheduleView, SchedulingError> {
    let record = get_record(state.table().as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&record.owner_user_id)?;
    let base = serde_json::to_value(record.input()).map_err(|e| SchedulingError::Internal(e.to_string()))?;
    let input: ScheduleInput = parse_input(merge_patch(base, patch)?)?;
    let valid = validate(state, caller, input).await?;
    let now = state.clock().now();
    let key = schedule_key(&caller.org_id, id);
    let schedule_value = serde_json::to_value(&valid.schedule).map_err(|e| SchedulingError::Internal(e.to_string()))?;
    // An update (not a put) so a concurrent event type's `used_by` count survives.
    let update = Update::default()
        .set("name", valid.name.clone())
        .set("owner_user_id", valid.owner_user_id.clone())
        .set("schedule", schedule_value)
        .set("updated_at", now.to_string())
        .add("version", 1);
    let result = state
        .table()
        .transact(vec![
            WriteOp::Update {
                key,
                update,
                condition: Some(Condition::VersionEquals(record.version)),
            },
            audit::entry(
                &caller.actor,
                now,
                "schedule.update",
                &format!("schedule:{id}"),
                json!({"name": valid.name}),
            ),
        ])
        .await;
    match result {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { index: 0 }) => {
            return Err(SchedulingError::Conflict {
                code: "conflict",
                detail: "The schedule changed concurrently; read it again.".into(),
            });
        }
        Err(err) => return Err(err.into()),
    }
    Ok(get_record(state.table().as_ref(), &caller.org_id, id).await?.view())
}

pub async fn delete(state: &(impl HasTable + HasClock), caller: &Caller, id: &str) -> Result<(), SchedulingError> {
    let record = get_record(state.table().as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&record.owner_user_id)?;
    let now = state.clock().now();
    let result = state
        .table()
        .transact(vec![
            WriteOp::Delete {
                key: schedule_key(&caller.org_id, id),
                condition: Some(Condition::AttributeEquals {
                    name: "used_by".into(),
                    value: json!(0),
                }),
            },
            audit::entry(
                &caller.actor,
                now,
                "schedule.delete",
                &format!("schedule:{id}"),
                json!({"name": record.name}),
            ),
        ])
        .await;
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(SchedulingError::Conflict {
            code: "schedule_in_use",
            detail: "Event types use this schedule; point them at another one first.".into(),
        }),
        Err(err) => Err(err.into()),
    }
}
