//! Tags across contacts: counts, bulk add/remove, rename and delete. Every
//! change writes the contact, its tag index items and the counters in one
//! transaction, so counts stay exact; contacts by tag are a query on the tag's
//! index partition, never a scan.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    ALL_PARTS, Caller, ContactError, ContactRecord, Errors, MAX_TAGS, get_many, normalize_tag, plan,
    tag_index_partition, tags_partition, timeline_entry,
};
use crate::domain::contact::normalize_tags;
use crate::domain::input::FieldError;
use crate::ports::{Condition, Key, Query, StoreError, Table, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit;

pub const MAX_BULK_IDS: usize = 1000;
pub const MAX_BULK_TAGS: usize = 20;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

/// Every tag in use with its number of contacts: one query per 1,000 tags.
pub async fn list(table: &dyn Table, org_id: &OrgId) -> Result<Vec<TagCount>, ContactError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(&Query::partition(tags_partition(org_id)).limit(1000).after(cursor))
            .await?;
        for item in &page.items {
            let tag = item.get("tag").and_then(Value::as_str).unwrap_or_default();
            let count = item.get("count").and_then(Value::as_i64).unwrap_or(0);
            if count > 0 && !tag.is_empty() {
                out.push(TagCount {
                    tag: tag.to_string(),
                    count,
                });
            }
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct BulkOutcome {
    pub updated: usize,
    pub unchanged: usize,
    /// Ids that are not contacts of this organization.
    pub not_found: Vec<ContactId>,
}

/// Writes each contact's tag change (contact + index + timeline) with the
/// counters summed per transaction, ≤ 100 operations each. Returns the
/// contacts whose version changed meanwhile (to retry).
async fn write_changes(
    table: &dyn Table,
    caller: &Caller,
    changes: &[(ContactRecord, ContactRecord)],
    action: &str,
    detail: &Value,
    now: jiff::Timestamp,
) -> Result<Vec<ContactId>, ContactError> {
    let mut stale = Vec::new();
    let mut start = 0;
    while start < changes.len() {
        let mut end = start;
        // Grow the chunk while it fits (contact ops + counters + audit ≤ 100).
        loop {
            let candidate = &changes[start..=end];
            let pairs: Vec<(Option<&ContactRecord>, Option<&ContactRecord>)> =
                candidate.iter().map(|(b, a)| (Some(b), Some(a))).collect();
            let size = plan(&pairs, ALL_PARTS)?.len() + candidate.len() + 1;
            if size > 100 && end > start {
                end -= 1;
                break;
            }
            if end + 1 == changes.len() || size > 100 {
                break;
            }
            end += 1;
        }
        let chunk = &changes[start..=end];
        let pairs: Vec<(Option<&ContactRecord>, Option<&ContactRecord>)> =
            chunk.iter().map(|(b, a)| (Some(b), Some(a))).collect();
        let mut ops = plan(&pairs, ALL_PARTS)?;
        for (before, after) in chunk {
            let added: Vec<&String> = after.tags.iter().filter(|t| !before.tags.contains(t)).collect();
            let removed: Vec<&String> = before.tags.iter().filter(|t| !after.tags.contains(t)).collect();
            ops.push(timeline_entry(
                &after.org_id,
                &after.id,
                "tags.changed",
                json!({ "added": added, "removed": removed }),
                now,
            ));
        }
        let ids: Vec<&str> = chunk.iter().map(|(b, _)| b.id.as_str()).collect();
        let mut detail = detail.clone();
        detail["contact_ids"] = json!(ids);
        ops.push(audit::entry(&caller.actor, now, action, "contacts", detail));
        match table.transact(ops).await {
            Ok(()) => {}
            Err(StoreError::TransactionConditionFailed { .. }) => {
                stale.extend(chunk.iter().map(|(before, _)| before.id.clone()))
            }
            Err(err) => return Err(err.into()),
        }
        start = end + 1;
    }
    Ok(stale)
}

/// Adds and removes tags on up to 1,000 contacts.
pub async fn bulk(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    ids: Vec<ContactId>,
    add: Vec<String>,
    remove: Vec<String>,
) -> Result<BulkOutcome, ContactError> {
    let mut errors = Errors::new();
    if ids.is_empty() || ids.len() > MAX_BULK_IDS {
        errors.push(FieldError::new(
            "ids",
            "invalid_count",
            format!("Give 1 to {MAX_BULK_IDS} contact ids."),
        ));
    }
    let add = normalize_tags("add", &add, &mut errors);
    let remove = normalize_tags("remove", &remove, &mut errors);
    if add.is_empty() && remove.is_empty() {
        errors.push(FieldError::new("add", "required", "Give tags to add or remove."));
    }
    if add.len() + remove.len() > MAX_BULK_TAGS {
        errors.push(FieldError::new(
            "add",
            "too_many",
            format!("At most {MAX_BULK_TAGS} tags per call."),
        ));
    }
    if !errors.is_empty() {
        return Err(ContactError::Invalid(errors));
    }
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    let mut outcome = BulkOutcome::default();
    let mut pending: Vec<ContactId> = {
        let mut seen = std::collections::BTreeSet::new();
        ids.into_iter().filter(|id| seen.insert(id.clone())).collect()
    };
    let detail = json!({ "add": add, "remove": remove });
    for attempt in 0..4 {
        if pending.is_empty() {
            break;
        }
        if attempt == 3 {
            return Err(ContactError::Conflict("contact_changed"));
        }
        let found = get_many(table, org_id, &pending).await?;
        if attempt == 0 {
            outcome.not_found = pending
                .iter()
                .filter(|id| !found.iter().any(|c| &c.id == *id))
                .cloned()
                .collect();
        }
        let mut changes = Vec::new();
        for before in found {
            let mut after = before.clone();
            for tag in &add {
                if !after.tags.contains(tag) {
                    after.tags.push(tag.clone());
                }
            }
            after.tags.retain(|t| !remove.contains(t));
            if after.tags == before.tags {
                outcome.unchanged += 1;
                continue;
            }
            if after.tags.len() > MAX_TAGS {
                return Err(ContactError::field(
                    "add",
                    "too_many",
                    format!("Contact {} would have more than {MAX_TAGS} tags.", before.id),
                ));
            }
            after.version = before.version + 1;
            after.updated_at = state.clock().now().to_string();
            changes.push((before, after));
        }
        let stale = write_changes(table, caller, &changes, "contacts.tagged", &detail, state.clock().now()).await?;
        outcome.updated += changes.len() - stale.len();
        pending = stale;
    }
    Ok(outcome)
}

/// Renames `from` to `to` on every contact (or removes it when `to` is None),
/// in bounded transactions of 20 contacts; returns how many contacts changed.
async fn retag_all(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    from: &str,
    to: Option<&str>,
) -> Result<usize, ContactError> {
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    let (action, detail) = match to {
        Some(to) => ("tag.renamed", json!({ "from": from, "to": to })),
        None => ("tag.deleted", json!({ "tag": from })),
    };
    let mut changed = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        if rounds > 10_000 {
            return Err(ContactError::Conflict("contact_changed"));
        }
        let page = table
            .query(&Query::partition(tag_index_partition(org_id, from)).limit(20))
            .await?;
        if page.items.is_empty() {
            break;
        }
        let ids: Vec<ContactId> = page
            .items
            .iter()
            .filter_map(|i| i.get("contact_id").and_then(Value::as_str).map(ContactId::from))
            .collect();
        let found = get_many(table, org_id, &ids).await?;
        // Index items whose contact is gone or lacks the tag: drop them.
        let orphans: Vec<WriteOp> = page
            .items
            .iter()
            .filter(|i| {
                let id = i.get("contact_id").and_then(Value::as_str).unwrap_or_default();
                !found.iter().any(|c| c.id == id && c.tags.iter().any(|t| t == from))
            })
            .filter_map(Key::of)
            .map(|key| WriteOp::Delete { key, condition: None })
            .collect();
        if !orphans.is_empty() {
            table.transact(orphans).await?;
        }
        let now = state.clock().now();
        let mut changes = Vec::new();
        for before in found {
            if !before.tags.iter().any(|t| t == from) {
                continue;
            }
            let mut after = before.clone();
            after.tags = Vec::new();
            for tag in &before.tags {
                let tag = if tag == from { to } else { Some(tag.as_str()) };
                if let Some(tag) = tag
                    && !after.tags.iter().any(|t| t == tag)
                {
                    after.tags.push(tag.to_string());
                }
            }
            after.version = before.version + 1;
            after.updated_at = now.to_string();
            changes.push((before, after));
        }
        let stale = write_changes(table, caller, &changes, action, &detail, now).await?;
        changed += changes.len() - stale.len();
    }
    // The counter of the old name is zero now; remove it only if still zero.
    let _ = table
        .delete(
            &super::tag_counter_key(org_id, from),
            Some(Condition::AttributeEquals {
                name: "count".into(),
                value: json!(0),
            }),
        )
        .await;
    Ok(changed)
}

pub async fn rename(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    from: &str,
    to: &str,
) -> Result<usize, ContactError> {
    let from = normalize_tag(from).map_err(|_| ContactError::NotFound)?;
    let to = normalize_tag(to)
        .map_err(|code| ContactError::field("name", code, "A tag has 1 to 50 characters and no '#'."))?;
    if from == to {
        return Ok(0);
    }
    ensure_exists(state.table().as_ref(), caller.org_id(), &from).await?;
    retag_all(state, caller, &from, Some(&to)).await
}

pub async fn delete(state: &(impl HasTable + HasClock), caller: &Caller, tag: &str) -> Result<usize, ContactError> {
    let tag = normalize_tag(tag).map_err(|_| ContactError::NotFound)?;
    ensure_exists(state.table().as_ref(), caller.org_id(), &tag).await?;
    retag_all(state, caller, &tag, None).await
}

async fn ensure_exists(table: &dyn Table, org_id: &OrgId, tag: &str) -> Result<(), ContactError> {
    let counter = table.get(&super::tag_counter_key(org_id, tag)).await?;
    match counter.and_then(|i| i.get("count").and_then(Value::as_i64)) {
        Some(n) if n > 0 => Ok(()),
        _ => Err(ContactError::NotFound),
    }
}

/// Contacts with `tag`, newest first (index query + batch read).
pub async fn contacts_with(
    table: &dyn Table,
    org_id: &OrgId,
    tag: &str,
    limit: u32,
) -> Result<Vec<ContactRecord>, ContactError> {
    let page = table
        .query(
            &Query::partition(tag_index_partition(org_id, tag))
                .reverse()
                .limit(limit),
        )
        .await?;
    let ids: Vec<ContactId> = page
        .items
        .iter()
        .filter_map(|i| i.get("contact_id").and_then(Value::as_str).map(ContactId::from))
        .collect();
    Ok(get_many(table, org_id, &ids).await?)
}
