//! Back-fill of the sort keys of contacts written before the by-name and
//! by-last-update orders existed: their gsi3 keys (last update) and their
//! by-name index item. Every contact write since plans both, so only older
//! contacts lack them.
//!
//! There is no list of all organizations to walk (that would be a Scan), so
//! each organization is back-filled when it first asks for one of these
//! orders: [`ensure_started`] claims the organization's marker once and
//! queues [`Job::BackfillContactOrder`]; the job walks the creation index a
//! page at a time from the cursor kept on the marker, writes only what is
//! missing, and queues itself again until the index is done. It runs the
//! same way in the local process (the embedded bulk queue) and on AWS (SQS).
//!
//! Idempotent: a contact's keys are written in one transaction conditioned
//! on the version read, so a concurrent edit (which writes the keys itself)
//! wins and the contact is read again; a redelivered or duplicated job finds
//! the keys present and writes nothing, and the cursor advances only from
//! the value it was read at, so two chains never both go on. On a backend
//! with per-key limits (DynamoDB) each transaction first reserves its time
//! on the organization's import pace, so the back-fill shares the budget of
//! the partitions it writes (the contacts' indexes) with running imports.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::store::{contact_item, name_index_key, update_order_key};
use super::{ContactRecord, contact_key, contacts_index_partition};
use crate::domain::ids::OrgId;
use crate::ports::{
    Condition, HasClock, HasJobs, HasTable, Index, Item, Key, Query, StoreError, Table, Update, WriteOp,
};
use crate::services::imports::paced_seconds;
use crate::services::jobs::{self, Job};
use crate::services::records::from_item;

/// Contacts read per page of the creation index.
pub const PAGE: u32 = 100;
/// Contacts whose keys one transaction writes (two operations each).
pub const PER_TRANSACTION: usize = 20;
/// A marker still `running` but untouched this long lost its job (a queue
/// failure after the claim): the next request queues it again.
const STALE_MS: i64 = 10 * 60 * 1000;
/// How long one delivery works before it queues the next.
pub const SLICE: Duration = Duration::from_secs(8);

/// The organization's back-fill marker: `state` (`running`, `done`), the
/// creation-index `cursor` reached, and `touched_ms` (the clock's ms).
pub fn marker_key(org_id: &OrgId) -> Key {
    Key::new(format!("ORG#{org_id}#CONTACTS#BACKFILL"), "ORDER")
}

/// Whether the organization's contacts all have their sort keys; if not,
/// starts the back-fill (once; again if its job was lost). A member may
/// list by name or last update meanwhile: older contacts join the list as
/// the back-fill reaches them.
pub async fn ensure_started(state: &(impl HasTable + HasJobs + HasClock), org_id: &OrgId) -> Result<bool, StoreError> {
    let table = state.table().as_ref();
    let key = marker_key(org_id);
    let marker = table.get(&key).await?;
    let text = |name: &str| {
        marker
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let now = state.clock().now().as_millisecond();
    let condition = match text("state").as_deref() {
        Some("done") => return Ok(true),
        None => Condition::NotExists,
        Some(_) => {
            let touched = marker
                .as_ref()
                .and_then(|m| m.get("touched_ms"))
                .cloned()
                .unwrap_or(Value::Null);
            if touched.as_i64().is_some_and(|t| now - t < STALE_MS) {
                return Ok(false);
            }
            Condition::AttributeEquals {
                name: "touched_ms".into(),
                value: touched,
            }
        }
    };
    let mut claimed = crate::services::object(json!({
        "pk": key.pk, "sk": key.sk, "state": "running", "touched_ms": now,
    }));
    if let Some(cursor) = text("cursor") {
        claimed.insert("cursor".into(), cursor.into());
    }
    match table.put(claimed, Some(condition)).await {
        Ok(()) => {}
        // Another request claimed it first; its job runs.
        Err(err) if err.is_condition_failure() => return Ok(false),
        Err(err) => return Err(err),
    }
    let job = Job::BackfillContactOrder { org_id: org_id.clone() };
    if let Err(err) = jobs::enqueue(state, &[job]).await {
        // The claim stays and goes stale; a later request queues it again.
        tracing::warn!(error = %err, "contact order back-fill not queued");
    }
    Ok(false)
}

/// How a call of [`run_slice`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// Every contact has its keys (now, or already before).
    Done,
    /// Stopped at the deadline with more to do: queue the job again.
    More,
    /// Another delivery moved the cursor meanwhile; that one goes on.
    Yielded,
}

/// Back-fills pages of the creation index from the marker's cursor until
/// `deadline` or the end.
pub async fn run_slice(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    deadline: Instant,
) -> Result<Slice, StoreError> {
    let table = state.table().as_ref();
    let key = marker_key(org_id);
    let marker = table.get(&key).await?;
    let state_text = marker.as_ref().and_then(|m| m.get("state")).and_then(Value::as_str);
    if state_text == Some("done") {
        return Ok(Slice::Done);
    }
    let mut cursor: Option<String> = marker
        .as_ref()
        .and_then(|m| m.get("cursor"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let walk = |after: Option<String>| {
        Query::partition(contacts_index_partition(org_id))
            .on(Index::Gsi1)
            .limit(PAGE)
            .after(after)
    };
    loop {
        let page = match table.query(&walk(cursor.clone())).await {
            // A cursor kept by a release whose cursors this one no longer
            // reads: the walk starts over, which writes nothing twice (only
            // missing keys are written). The marker still moves on only
            // from the cursor it holds.
            Err(StoreError::InvalidCursor) if cursor.is_some() => table.query(&walk(None)).await?,
            page => page?,
        };
        fill(table, org_id, page.items).await?;
        let mut next = crate::services::object(json!({
            "pk": key.pk, "sk": key.sk,
            "state": if page.cursor.is_some() { "running" } else { "done" },
            "touched_ms": state.clock().now().as_millisecond(),
        }));
        if let Some(c) = &page.cursor {
            next.insert("cursor".into(), c.clone().into());
        }
        let condition = match &cursor {
            Some(c) => Condition::AttributeEquals {
                name: "cursor".into(),
                value: c.clone().into(),
            },
            // The first page: from a marker without a cursor (or none at all).
            None => match &marker {
                Some(_) => Condition::Exists,
                None => Condition::NotExists,
            },
        };
        match table.put(next, Some(condition)).await {
            Ok(()) => {}
            Err(err) if err.is_condition_failure() => return Ok(Slice::Yielded),
            Err(err) => return Err(err),
        }
        match page.cursor {
            None => return Ok(Slice::Done),
            Some(_) if Instant::now() >= deadline => return Ok(Slice::More),
            Some(c) => cursor = Some(c),
        }
    }
}

/// What a contact lacks: its gsi3 keys, its name item.
fn missing(item: &Item, record: &ContactRecord, names: &std::collections::BTreeSet<Key>) -> bool {
    item.get("gsi3sk").and_then(Value::as_str) != Some(update_order_key(record).as_str())
        || !names.contains(&name_index_key(record))
}

/// The operations giving `record` (read at its version) its keys: the
/// contact's gsi3 keys set (on its version) and its by-name item put.
pub fn ops_of(record: &ContactRecord) -> Result<Vec<WriteOp>, StoreError> {
    let item = contact_item(record)?;
    let mut update = Update::default();
    for name in ["gsi3pk", "gsi3sk"] {
        update = update.set(name, item.get(name).cloned().unwrap_or(Value::Null));
    }
    let name_key = name_index_key(record);
    let name_item = crate::services::object(json!({
        "pk": name_key.pk, "sk": name_key.sk, "contact_id": record.id,
    }));
    Ok(vec![
        WriteOp::Update {
            key: contact_key(&record.org_id, &record.id),
            update,
            condition: Some(Condition::VersionEquals(record.version)),
        },
        WriteOp::Put {
            item: name_item,
            condition: None,
        },
    ])
}

/// How long a transaction of these contacts' keys must take on a backend
/// limiting keys: the updates rewrite each contact's index copies (gsi1,
/// gsi2, gsi3), so they count as puts of the whole item.
pub fn pace_of(records: &[&ContactRecord], partition_write_units: u32) -> Result<f64, StoreError> {
    let mut model = Vec::new();
    for record in records {
        model.push(WriteOp::Put {
            item: contact_item(record)?,
            condition: None,
        });
        model.extend(
            ops_of(record)?
                .into_iter()
                .filter(|op| matches!(op, WriteOp::Put { .. })),
        );
    }
    Ok(paced_seconds(&model, partition_write_units))
}

/// Writes the keys the page's contacts lack.
async fn fill(table: &dyn Table, org_id: &OrgId, items: Vec<Item>) -> Result<(), StoreError> {
    let mut pairs = Vec::with_capacity(items.len());
    for item in items {
        let record: ContactRecord = from_item(item.clone())?;
        pairs.push((item, record));
    }
    let keys: Vec<Key> = pairs.iter().map(|(_, r)| name_index_key(r)).collect();
    let names: std::collections::BTreeSet<Key> = table.batch_get(&keys).await?.iter().filter_map(Key::of).collect();
    let lacking: Vec<&ContactRecord> = pairs
        .iter()
        .filter(|(item, record)| missing(item, record, &names))
        .map(|(_, record)| record)
        .collect();
    for group in lacking.chunks(PER_TRANSACTION) {
        let mut ops = Vec::new();
        for record in group {
            ops.extend(ops_of(record)?);
        }
        if let Some(units) = table.partition_write_units() {
            let seconds = pace_of(group, units)?;
            let wait = crate::services::imports::reserve_pace(table, org_id, seconds).await?;
            tokio::time::sleep(wait).await;
        }
        match table.transact(ops).await {
            Ok(()) => {}
            // A contact changed or went meanwhile: each on its own, read again.
            Err(err) if err.is_condition_failure() || matches!(err, StoreError::Contention) => {
                for record in group {
                    fill_one(table, org_id, record).await?;
                }
            }
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// One contact's keys, from a fresh read, retried while it keeps changing.
async fn fill_one(table: &dyn Table, org_id: &OrgId, record: &ContactRecord) -> Result<(), StoreError> {
    for _ in 0..5 {
        let Some(item) = table.get(&contact_key(org_id, &record.id)).await? else {
            return Ok(()); // deleted: its keys went with it
        };
        let fresh: ContactRecord = from_item(item.clone())?;
        let name_key = name_index_key(&fresh);
        let names: std::collections::BTreeSet<Key> = table.get(&name_key).await?.iter().filter_map(Key::of).collect();
        if !missing(&item, &fresh, &names) {
            return Ok(());
        }
        match table.transact(ops_of(&fresh)?).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_condition_failure() || matches!(err, StoreError::Contention) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}
