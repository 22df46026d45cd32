//! The staff app's import wizard: the file is uploaded first as an import
//! that is still `uploading` (the same `create` as the API's first part with
//! more parts to come), so nothing runs while the uploader looks at the
//! first rows and chooses the columns' fields; `start` then sets the
//! mapping, mode and tags and queues the job, as the last part would.
//!
//! The mapping a member starts an import with is remembered per member (by
//! each header's squashed form) and offered for the next file's columns.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | a member's last import mapping | `ORG#<org>#MEMBER#<user>#IMPORTMAP` | `MAPPING` |

use crate::domain::ids::{OrgId, UserId};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mapping::{parse_records, squash};
use super::upload::{Identity, ImportOptions, import_tags, store_first_part};
use super::{
    ColumnMap, DedupeMode, ImportError, ImportRecord, ImportState, build_mapping, discard_file, get, import_key,
    part_object_key, queue_job,
};
use crate::ports::{Condition, Key, Update, WriteOp};
use crate::ports::{HasClock, HasJobs, HasObjects, HasTable};
use crate::services::audit::Actor;
use crate::services::contacts;
use crate::services::records::{from_item, to_item};

/// The fields a column can fill, besides `address.<part>` and `custom.<key>`.
pub const TARGETS: [&str; 10] = [
    "ignore",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "company",
    "tags",
    "source",
    "id",
];

/// Most headers one remembered mapping keeps.
const REMEMBERED_HEADERS: usize = 200;

fn remembered_key(org_id: &OrgId, user_id: &UserId) -> Key {
    Key::new(format!("ORG#{org_id}#MEMBER#{user_id}#IMPORTMAP"), "MAPPING")
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Remembered {
    /// squashed header → target
    targets: BTreeMap<String, String>,
}

/// Stores an uploaded file as an import not started yet: its columns'
/// fields are chosen next, so none needs to name the contact yet.
pub async fn upload(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    csv: Vec<u8>,
) -> Result<ImportRecord, ImportError> {
    let options = ImportOptions {
        more_parts: true,
        ..ImportOptions::default()
    };
    store_first_part(state, actor, csv, options, Identity::ChosenLater).await
}

/// An uploaded file's header and first rows, and the mapping to offer.
#[derive(Debug, Clone)]
pub struct Preview {
    pub record: ImportRecord,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The first `rows` data rows of an import that has not started. Its
/// mapping is the detected one with the member's remembered choices
/// applied (see [`remembered_mapping`]).
pub async fn preview(
    state: &(impl HasTable + HasObjects),
    org_id: &OrgId,
    import_id: &str,
    rows: usize,
) -> Result<Preview, ImportError> {
    let record = get(state, org_id, import_id).await?;
    if record.state != ImportState::Uploading || record.parts != 1 || record.google.is_some() {
        return Err(ImportError::Conflict("import_not_uploading"));
    }
    let mut records = read_first_part(state, org_id, import_id).await?;
    if records.is_empty() {
        return Err(ImportError::Conflict("import_not_uploading"));
    }
    let headers: Vec<String> = records.remove(0).iter().map(str::to_string).collect();
    let rows = records
        .iter()
        .take(rows)
        .map(|record| record.iter().map(str::to_string).collect())
        .collect();
    Ok(Preview { record, headers, rows })
}

async fn read_first_part(
    state: &impl HasObjects,
    org_id: &OrgId,
    import_id: &str,
) -> Result<Vec<csv::StringRecord>, ImportError> {
    let object = state
        .objects()
        .get(&part_object_key(org_id, import_id, 0))
        .await
        .map_err(|err| ImportError::Objects(err.to_string()))?
        .ok_or(ImportError::NotFound)?;
    parse_records(&object.bytes)
}

/// The mapping offered for `headers`: what the member chose last time for
/// a header of the same (squashed) name, else what the header says.
pub async fn remembered_mapping(
    state: &impl HasTable,
    org_id: &OrgId,
    user_id: &UserId,
    headers: &[String],
) -> Result<Vec<ColumnMap>, ImportError> {
    let table = state.table().as_ref();
    let remembered: Remembered = match table.get(&remembered_key(org_id, user_id)).await? {
        Some(item) => from_item(item)?,
        None => Remembered::default(),
    };
    let keys: Vec<String> = contacts::fields::list(table, org_id)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect();
    let mut mapping = super::mapping::map_columns(headers, &keys, &BTreeMap::new())?;
    for column in &mut mapping {
        if let Some(target) = remembered.targets.get(&squash(&column.header))
            && super::mapping::valid_target(target, &keys)
        {
            column.target = target.clone();
        }
    }
    Ok(mapping)
}

/// Starts an import the wizard uploaded: the chosen mapping (header →
/// target), mode and tags, then the job, exactly as the API's last part
/// would. The mapping is remembered for the member's next import.
pub async fn start(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    import_id: &str,
    mode: DedupeMode,
    tags: &[String],
    overrides: &BTreeMap<String, String>,
) -> Result<ImportRecord, ImportError> {
    let org_id = &actor.org_id;
    let current = get(state, org_id, import_id).await?;
    if current.state != ImportState::Uploading || current.parts != 1 || current.google.is_some() {
        return Err(ImportError::Conflict("import_not_uploading"));
    }
    let mut records = read_first_part(state, org_id, import_id).await?;
    let headers: Vec<String> = if records.is_empty() {
        Vec::new()
    } else {
        records.remove(0).iter().map(str::to_string).collect()
    };
    let table = state.table().as_ref();
    let keys: Vec<String> = contacts::fields::list(table, org_id)
        .await?
        .into_iter()
        .map(|d| d.key)
        .collect();
    let mapping = build_mapping(&headers, &keys, overrides);
    let tags = import_tags(tags);
    let (mapping, tags) = match (mapping, tags) {
        (Ok(mapping), Ok(tags)) => (mapping, tags),
        (Err(ImportError::Invalid(mut a)), Err(ImportError::Invalid(b))) => {
            a.extend(b);
            return Err(ImportError::Invalid(a));
        }
        (Err(err), _) | (_, Err(err)) => return Err(err),
    };
    let now = state.clock().now();
    let next_state = if current.rows_total == 0 {
        ImportState::Done
    } else {
        ImportState::Queued
    };
    let mut update = Update::default()
        .set("mapping", json(&mapping))
        .set("mode", json(&mode))
        .set("tags", json(&tags))
        .set("state", json(&next_state))
        .set("updated_at", now.to_string());
    if next_state == ImportState::Done {
        update = update.set("finished_at", now.to_string());
    }
    let mut ops = vec![WriteOp::Update {
        key: import_key(org_id, import_id),
        update,
        // Started once: a second press of the button finds it queued.
        condition: Some(Condition::AttributeEquals {
            name: "state".into(),
            value: json(&ImportState::Uploading),
        }),
    }];
    if let Some(user_id) = &actor.user_id {
        let remembered = Remembered {
            targets: mapping
                .iter()
                .map(|column| (squash(&column.header), column.target.clone()))
                .filter(|(header, _)| !header.is_empty())
                .take(REMEMBERED_HEADERS)
                .collect(),
        };
        ops.push(WriteOp::Put {
            item: to_item(&remembered_key(org_id, user_id), &remembered, &[])?,
            condition: None,
        });
    }
    table.transact(ops).await.map_err(|err| {
        if err.is_condition_failure() {
            ImportError::Conflict("import_not_uploading")
        } else {
            ImportError::Store(err)
        }
    })?;
    let record = get(state, org_id, import_id).await?;
    match next_state {
        ImportState::Queued => queue_job(state, org_id, import_id).await?,
        _ => discard_file(state, org_id, &record).await?,
    }
    Ok(record)
}

/// A part of the record as the table stores it (these always serialize).
fn json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offered_targets_are_all_valid() {
        for target in TARGETS {
            assert!(super::super::mapping::valid_target(target, &[]), "{target}");
        }
    }
}
