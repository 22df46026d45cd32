//! Uploading a CSV: the first part creates the import, later parts append,
//! the last one queues the job.

use crate::domain::ids::OrgId;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::mapping::{map_columns, parse_records};
use super::{
    DedupeMode, ImportError, ImportRecord, ImportState, MAX_PARTS, MAX_ROWS, build_mapping, discard_file, get,
    import_key, invalid, part_object_key, queue_job,
};
use crate::domain::input::FieldError;
use crate::ports::{Condition, Update, WriteOp};
use crate::ports::{HasClock, HasJobs, HasObjects, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::contacts;
use crate::services::records::{from_item, new_id, to_item};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub mode: DedupeMode,
    pub tags: Vec<String>,
    /// header → target
    pub mapping: BTreeMap<String, String>,
    /// More parts follow (`POST /imports/{id}/parts`).
    pub more_parts: bool,
}

pub(super) async fn put_part(
    state: &impl HasObjects,
    org_id: &OrgId,
    import_id: &str,
    part: u32,
    bytes: Vec<u8>,
) -> Result<(), ImportError> {
    state
        .objects()
        .put(&part_object_key(org_id, import_id, part), bytes, "text/csv")
        .await
        .map_err(|err| ImportError::Objects(err.to_string()))
}

/// The tags every imported contact gets, normalized and checked.
pub(super) fn import_tags(raw_tags: &[String]) -> Result<Vec<String>, ImportError> {
    let mut tags = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in raw_tags.iter().enumerate() {
        match crate::domain::contact::normalize_tag(raw) {
            Ok(tag) if !tags.contains(&tag) => tags.push(tag),
            Ok(_) => {}
            Err(code) => errors.push(FieldError::new(
                format!("tags[{i}]"),
                code,
                "A tag has 1 to 50 characters and no '#'.".to_string(),
            )),
        }
    }
    if tags.len() > 5 {
        errors.push(FieldError::new(
            "tags",
            "too_many",
            "Apply at most 5 tags to an import.",
        ));
    }
    if errors.is_empty() {
        Ok(tags)
    } else {
        Err(ImportError::Invalid(errors))
    }
}

/// Starts an import from the first (or only) part of the file.
pub async fn create(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    csv: Vec<u8>,
    options: ImportOptions,
) -> Result<ImportRecord, ImportError> {
    store_first_part(state, actor, csv, options, Identity::Required).await
}

/// Whether the mapping must name a column that identifies the contact yet:
/// not while the uploader is still to choose the columns' fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Identity {
    Required,
    ChosenLater,
}

pub(super) async fn store_first_part(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    csv: Vec<u8>,
    options: ImportOptions,
    identity: Identity,
) -> Result<ImportRecord, ImportError> {
    let org_id = &actor.org_id;
    let mut records = parse_records(&csv)?;
    if records.is_empty() {
        return Err(invalid("file", "empty", "The file has no header row."));
    }
    let headers: Vec<String> = records.remove(0).iter().map(str::to_string).collect();
    let rows = records.len() as u64;
    if rows > MAX_ROWS {
        return Err(invalid(
            "file",
            "too_many_rows",
            format!("Import at most {MAX_ROWS} rows at once."),
        ));
    }
    let defs = contacts::fields::list(state.table().as_ref(), org_id).await?;
    let keys: Vec<String> = defs.iter().map(|d| d.key.clone()).collect();
    let mapping = match identity {
        Identity::Required => build_mapping(&headers, &keys, &options.mapping)?,
        Identity::ChosenLater => map_columns(&headers, &keys, &options.mapping)?,
    };
    let tags = import_tags(&options.tags)?;
    let now = state.clock().now();
    let id = new_id();
    let state_now = if options.more_parts {
        ImportState::Uploading
    } else if rows == 0 {
        ImportState::Done
    } else {
        ImportState::Queued
    };
    let record = ImportRecord {
        id: id.clone(),
        state: state_now,
        mode: options.mode,
        tags,
        mapping,
        parts: 1,
        rows_total: rows,
        rows_done: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        finished_at: (state_now == ImportState::Done).then(|| now.to_string()),
        error: None,
        created_by: actor.user_id.clone(),
        google: None,
        finish_audited: false,
    };
    if record.state != ImportState::Done {
        put_part(state, org_id, &id, 0, csv).await?;
    }
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&import_key(org_id, &id), &record, &[])?,
                condition: Some(Condition::NotExists),
            },
            audit::entry(
                actor,
                now,
                "contacts.import",
                &format!("import:{id}"),
                json!({ "rows": rows, "mode": record.mode, "tags": record.tags, "more_parts": options.more_parts }),
            ),
        ])
        .await?;
    if record.state == ImportState::Queued {
        queue_job(state, org_id, &id).await?;
    }
    Ok(record)
}

/// Appends the next part (rows only, no header); `last` queues the job.
pub async fn append_part(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects),
    actor: &Actor,
    import_id: &str,
    csv: Vec<u8>,
    last: bool,
) -> Result<ImportRecord, ImportError> {
    let org_id = &actor.org_id;
    let current = get(state, org_id, import_id).await?;
    // A Google contacts import reads its parts from Google, never from a request.
    if current.state != ImportState::Uploading || current.google.is_some() {
        return Err(ImportError::Conflict("import_not_uploading"));
    }
    if current.parts >= MAX_PARTS {
        return Err(invalid(
            "file",
            "too_many_parts",
            format!("Upload at most {MAX_PARTS} parts."),
        ));
    }
    let rows = parse_records(&csv)?.len() as u64;
    let total = current.rows_total + rows;
    if total > MAX_ROWS {
        return Err(invalid(
            "file",
            "too_many_rows",
            format!("Import at most {MAX_ROWS} rows at once."),
        ));
    }
    put_part(state, org_id, import_id, current.parts, csv).await?;
    let now = state.clock().now();
    let next_state = match (last, total) {
        (false, _) => ImportState::Uploading,
        (true, 0) => ImportState::Done,
        (true, _) => ImportState::Queued,
    };
    let mut update = Update::default()
        .set("parts", current.parts + 1)
        .set("rows_total", total)
        .set("state", serde_json::to_value(next_state).unwrap_or(Value::Null))
        .set("updated_at", now.to_string());
    if next_state == ImportState::Done {
        update = update.set("finished_at", now.to_string());
    }
    let item = state
        .table()
        .update(
            &import_key(org_id, import_id),
            update,
            // Parts arrive in order, each once.
            Some(Condition::AttributeEquals {
                name: "parts".into(),
                value: current.parts.into(),
            }),
        )
        .await
        .map_err(|err| {
            if err.is_condition_failure() {
                ImportError::Conflict("part_out_of_order")
            } else {
                ImportError::Store(err)
            }
        })?;
    let record: ImportRecord = from_item(item)?;
    match next_state {
        ImportState::Queued => queue_job(state, org_id, import_id).await?,
        ImportState::Done => discard_file(state, org_id, &record).await?,
        _ => {}
    }
    Ok(record)
}
