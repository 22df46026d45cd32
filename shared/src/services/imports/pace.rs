//! Pacing chunk commits on a backend that limits each partition key
//! (DynamoDB), so an import leaves the organization's other writes room.

use crate::domain::ids::OrgId;
use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::ports::table::check_transaction;
use crate::ports::{Condition, Key, PartialCommit, StoreError, Table, WriteOp};

/// Share of one partition key's write capacity an import may take on a
/// backend that limits keys (DynamoDB). Every row writes the organization's
/// search partition (a key per name word, email and phone), its contacts
/// index and the import's tag index, so an unpaced import (a chunk
/// transaction every ≈ 30 ms) would take several times what DynamoDB serves
/// one key and throttle the organization's everyday writes with it
/// (BENCHMARKS.md, "Key distribution"). Chunks are spaced so that each key
/// gets this share on average; a second can hold one chunk more than the
/// average (a chunk's busiest key takes ≈ 110 units), and the organization's
/// own bookings and contacts write there too, so any second stays under half
/// the limit.
pub const PARTITION_SHARE: f64 = 0.3;

/// How long a chunk transaction must occupy the import on a backend serving
/// `partition_write_units` per key, for no key it writes to receive more
/// than [`PARTITION_SHARE`] of that: its busiest key's units (2 per started
/// KB of an item in a transaction, 1 for each index copy) over the share.
pub fn paced_seconds(ops: &[WriteOp], partition_write_units: u32) -> f64 {
    let mut units: HashMap<(&str, &str), f64> = HashMap::new();
    for op in ops {
        match op {
            WriteOp::Put { item, .. } => {
                let kb = serde_json::to_vec(item).map_or(1, |bytes| bytes.len().div_ceil(1024).max(1)) as f64;
                if let Some(pk) = item.get("pk").and_then(Value::as_str) {
                    *units.entry(("", pk)).or_default() += 2.0 * kb;
                }
                for index in ["gsi1pk", "gsi2pk", "gsi3pk"] {
                    if let Some(partition) = item.get(index).and_then(Value::as_str) {
                        *units.entry((index, partition)).or_default() += kb;
                    }
                }
            }
            WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => {
                *units.entry(("", key.pk.as_str())).or_default() += 2.0;
            }
        }
    }
    let busiest = units.values().copied().fold(0.0, f64::max);
    busiest / (PARTITION_SHARE * f64::from(partition_write_units.max(1)))
}

/// The organization's import pace: until when its partitions are taken by
/// import writes (`next_at_ms`, Unix milliseconds). Every chunk of every
/// import of the organization reserves its [`paced_seconds`] here before it
/// writes, so imports running at once share the one budget of the
/// organization's search partition instead of each taking it.
pub fn pace_key(org_id: &OrgId) -> Key {
    Key::new(format!("ORG#{org_id}#IMPORTPACE"), "PACE")
}

/// Wall-clock milliseconds: pacing is about real throughput, across the
/// processes running an organization's imports (like the slices' deadlines,
/// not the application's clock).
pub(super) fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Reserves `seconds` of the organization's import pace after what is
/// already reserved (an optimistic, conditional write); returns how long to
/// wait before writing.
pub(crate) async fn reserve(table: &dyn Table, org_id: &OrgId, seconds: f64) -> Result<Duration, StoreError> {
    let key = pace_key(org_id);
    for _ in 0..20 {
        let now = wall_ms();
        let reserved = table
            .get(&key)
            .await?
            .and_then(|item| item.get("next_at_ms").and_then(Value::as_i64));
        let start = reserved.unwrap_or(now).max(now);
        let end = start + (seconds * 1000.0).ceil() as i64;
        let item = crate::services::object(json!({
            "pk": key.pk, "sk": key.sk, "next_at_ms": end, "expires_at": end / 1000 + 3600,
        }));
        let condition = match reserved {
            Some(at) => Condition::AttributeEquals {
                name: "next_at_ms".into(),
                value: at.into(),
            },
            None => Condition::NotExists,
        };
        match table.put(item, Some(condition)).await {
            Ok(()) => return Ok(Duration::from_millis((start - now).max(0) as u64)),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}

/// Commits a group's chunk transactions in order (`Table::transact_in_order`);
/// on a backend with per-key limits one at a time, each after reserving its
/// [`paced_seconds`] of the organization's import pace.
pub(super) async fn commit_group(
    table: &dyn Table,
    org_id: &OrgId,
    transactions: Vec<Vec<WriteOp>>,
) -> Result<(), PartialCommit> {
    let Some(limit) = table.partition_write_units() else {
        return table.transact_in_order(transactions).await;
    };
    for ops in &transactions {
        check_transaction(ops).map_err(|error| PartialCommit { committed: 0, error })?;
    }
    for (committed, ops) in transactions.into_iter().enumerate() {
        let wait = reserve(table, org_id, paced_seconds(&ops, limit))
            .await
            .map_err(|error| PartialCommit { committed, error })?;
        tokio::time::sleep(wait).await;
        table
            .transact(ops)
            .await
            .map_err(|error| PartialCommit { committed, error })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Update;

    fn put(pk: &str, sk: &str, extra: &[(&str, &str)], bytes: usize) -> WriteOp {
        let mut item = crate::ports::Item::new();
        item.insert("pk".into(), pk.into());
        item.insert("sk".into(), sk.into());
        for (name, value) in extra {
            item.insert((*name).into(), (*value).into());
        }
        item.insert("pad".into(), "x".repeat(bytes).into());
        WriteOp::Put { item, condition: None }
    }

    #[test]
    pub(super) fn a_chunk_is_paced_by_the_busiest_partition_key_it_writes() {
        // Nine contacts: each its own partition (and a copy in the contacts
        // index), six search keys each in the organization's one search partition.
        let mut ops = Vec::new();
        for c in 0..9 {
            ops.push(put(
                &format!("ORG#o#CONTACT#{c}"),
                "PROFILE",
                &[("gsi1pk", "ORG#o#CONTACTS")],
                1500,
            ));
            for t in 0..6 {
                ops.push(put("ORG#o#SEARCH", &format!("token{t}#{c}"), &[], 10));
            }
        }
        ops.push(WriteOp::Update {
            key: Key::new("ORG#o", "IMPORT#i"),
            update: Update::default().add("rows_done", 9),
            condition: None,
        });
        // 54 search items of under 1 KB, 2 units each in a transaction: 108
        // units, at 30 % of 1,000 a second.
        let seconds = paced_seconds(&ops, 1_000);
        assert!((seconds - 108.0 / 300.0).abs() < 1e-9, "{seconds}");
        // The contacts index gets nine 2 KB copies (18 units): not the busiest.
        ops.retain(|op| !matches!(op, WriteOp::Put { item, .. } if item["pk"] == "ORG#o#SEARCH"));
        let seconds = paced_seconds(&ops, 1_000);
        assert!((seconds - 18.0 / 300.0).abs() < 1e-9, "{seconds}");
    }
}
