//! One item as SQLite keeps it: DynamoDB's size and key limits checked, the row
//! and its index columns, updates and conditions evaluated, TTL honoured on read.

use super::{MAX_ITEM_BYTES, MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES};
use crate::adapters::sqlite::map_err;
use crate::ports::table::{Condition, EXPIRES_AT, Index, Item, Key, PK, SK, StoreError, Update, VERSION};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// An item ready to be written: validated, serialised, index columns extracted.
pub(super) struct Row {
    pub(super) key: Key,
    json: String,
    gsi: [Option<(String, String)>; 3],
    expires_at: Option<i64>,
}

pub(super) fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

pub(super) fn check_key(key: &Key) -> Result<(), StoreError> {
    check_key_value(PK, &key.pk, MAX_PARTITION_KEY_BYTES)?;
    check_key_value(SK, &key.sk, MAX_SORT_KEY_BYTES)
}

pub(super) fn check_key_value(name: &str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid(format!("key attribute {name} must not be empty")));
    }
    if value.len() > max {
        return Err(invalid(format!("key attribute {name} is longer than {max} bytes")));
    }
    Ok(())
}

/// Validates an item as DynamoDB would and extracts its column values.
pub(super) fn row_of(item: &Item) -> Result<Row, StoreError> {
    let key = Key::of(item).ok_or_else(|| invalid("item without string pk and sk"))?;
    check_key(&key)?;
    let mut gsi: [Option<(String, String)>; 3] = [None, None, None];
    for (slot, index) in gsi.iter_mut().zip(Index::SECONDARY) {
        let (pk_name, sk_name) = index.key_attributes();
        let pk = gsi_key(item, pk_name, MAX_PARTITION_KEY_BYTES)?;
        let sk = gsi_key(item, sk_name, MAX_SORT_KEY_BYTES)?;
        // Sparse: an item is in a GSI only when it carries both of its keys.
        if let (Some(pk), Some(sk)) = (pk, sk) {
            *slot = Some((pk.to_owned(), sk.to_owned()));
        }
    }
    // DynamoDB ignores a TTL attribute that is not a number; so do we.
    let expires_at = item.get(EXPIRES_AT).and_then(Value::as_i64);
    let json = serde_json::to_string(item).map_err(|e| invalid(format!("item not serialisable: {e}")))?;
    if json.len() > MAX_ITEM_BYTES {
        return Err(invalid("item larger than 400 KB"));
    }
    Ok(Row {
        key,
        json,
        gsi,
        expires_at,
    })
}

pub(super) fn gsi_key<'a>(item: &'a Item, name: &str, max: usize) -> Result<Option<&'a str>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            check_key_value(name, s, max)?;
            Ok(Some(s))
        }
        Some(_) => Err(invalid(format!("index key attribute {name} must be a string"))),
    }
}

pub(super) fn check_update(update: &Update) -> Result<(), StoreError> {
    // DynamoDB needs an update expression; reject the same request here.
    if update.is_empty() {
        return Err(invalid("an update must change something"));
    }
    let names = update
        .set
        .iter()
        .map(|(n, _)| n)
        .chain(update.add.iter().map(|(n, _)| n))
        .chain(update.remove.iter());
    let mut seen = HashSet::new();
    for name in names {
        if name.is_empty() {
            return Err(invalid("empty attribute name in update"));
        }
        if name == PK || name == SK {
            return Err(invalid(format!("cannot update key attribute {name}")));
        }
        if !seen.insert(name.as_str()) {
            return Err(invalid(format!("attribute {name} appears twice in one update")));
        }
    }
    Ok(())
}

/// Applies an update to the live item (or a fresh one made from the key).
pub(super) fn apply_update(key: &Key, current: Option<Item>, update: &Update) -> Result<Item, StoreError> {
    let mut item = current.unwrap_or_else(|| {
        let mut fresh = Map::new();
        fresh.insert(PK.into(), Value::String(key.pk.clone()));
        fresh.insert(SK.into(), Value::String(key.sk.clone()));
        fresh
    });
    for (name, value) in &update.set {
        item.insert(name.clone(), value.clone());
    }
    for (name, by) in &update.add {
        let next = match item.get(name) {
            None => Value::from(*by),
            Some(Value::Number(n)) => {
                if let Some(i) = n.as_i64() {
                    Value::from(
                        i.checked_add(*by)
                            .ok_or_else(|| invalid(format!("add overflows {name}")))?,
                    )
                } else if let Some(f) = n.as_f64() {
                    // Precision loss is acceptable: counters are integers in practice.
                    #[allow(clippy::cast_precision_loss)]
                    let sum = f + *by as f64;
                    serde_json::Number::from_f64(sum)
                        .map(Value::Number)
                        .ok_or_else(|| invalid("add produced NaN"))?
                } else {
                    return Err(invalid(format!("attribute {name} is not a number")));
                }
            }
            Some(_) => {
                return Err(invalid(format!("cannot add to non-numeric attribute {name}")));
            }
        };
        item.insert(name.clone(), next);
    }
    for name in &update.remove {
        item.remove(name);
    }
    Ok(item)
}

/// Numbers compare by value (1 == 1.0), like DynamoDB's number type.
pub(super) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

pub(super) fn holds(condition: &Condition, current: Option<&Item>) -> bool {
    match (condition, current) {
        (Condition::NotExists, current) => current.is_none(),
        (Condition::Exists, current) => current.is_some(),
        (_, None) => false,
        (Condition::AttributeEquals { name, value }, Some(item)) => {
            item.get(name).is_some_and(|actual| values_equal(actual, value))
        }
        (Condition::VersionEquals(expected), Some(item)) => item
            .get(VERSION)
            .is_some_and(|v| values_equal(v, &Value::from(*expected))),
    }
}

/// The live item under `key`: expired items count as absent.
pub(super) fn load(conn: &Connection, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
    let row: Option<(String, Option<i64>)> = conn
        .prepare_cached("SELECT item, expires_at FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![key.pk, key.sk], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(map_err)?;
    match row {
        Some((_, Some(at))) if at <= now => Ok(None),
        Some((json, _)) => parse_item(&json).map(Some),
        None => Ok(None),
    }
}

pub(super) fn parse_item(json: &str) -> Result<Item, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Unavailable(format!("corrupt item in store: {e}")))
}

pub(super) fn store(conn: &Connection, row: &Row) -> Result<(), StoreError> {
    let gsi = |n: usize| row.gsi[n].as_ref().map(|(p, s)| (p.as_str(), s.as_str())).unzip();
    let (g1p, g1s) = gsi(0);
    let (g2p, g2s) = gsi(1);
    let (g3p, g3s) = gsi(2);
    conn.prepare_cached(
        "INSERT OR REPLACE INTO items (pk, sk, item, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            row.key.pk,
            row.key.sk,
            row.json,
            g1p,
            g1s,
            g2p,
            g2s,
            g3p,
            g3s,
            row.expires_at
        ])
    })
    .map_err(map_err)?;
    Ok(())
}

pub(super) fn remove(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| stmt.execute(params![key.pk, key.sk]))
        .map_err(map_err)?;
    Ok(())
}

/// Whether a live item has this key: the existence conditions need no more
/// than its expiry, so the stored JSON is neither read nor parsed.
pub(super) fn live(conn: &Connection, key: &Key, now: i64) -> Result<bool, StoreError> {
    let row: Option<Option<i64>> = conn
        .prepare_cached("SELECT expires_at FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| stmt.query_row(params![key.pk, key.sk], |r| r.get(0)).optional())
        .map_err(map_err)?;
    Ok(row.is_some_and(|expires_at| expires_at.is_none_or(|at| at > now)))
}

/// Evaluates `condition` on the live item under `key`. `Ok(None)`: it does
/// not hold; `Ok(Some(current))`: it holds, with the live item when
/// `want_item` (an update builds on it, a delete returns it) or the
/// condition compares attributes.
pub(super) fn check_condition(
    conn: &Connection,
    key: &Key,
    condition: Option<&Condition>,
    want_item: bool,
    now: i64,
) -> Result<Option<Option<Item>>, StoreError> {
    let holds_now = match condition {
        None if !want_item => true,
        Some(Condition::NotExists) if !want_item => !live(conn, key, now)?,
        Some(Condition::Exists) if !want_item => live(conn, key, now)?,
        _ => {
            let current = load(conn, key, now)?;
            return Ok(condition.is_none_or(|c| holds(c, current.as_ref())).then_some(current));
        }
    };
    Ok(holds_now.then_some(None))
}
