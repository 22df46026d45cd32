//! `Table` on SQLite with DynamoDB's semantics (see `ports::table`).
//!
//! Each item is stored as JSON text beside the columns SQLite must search on:
//! `pk`, `sk`, the three sparse GSI key pairs and `expires_at`. Expiry is
//! decided by the injected clock, never by SQLite's own time.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde_json::{Map, Value};

use super::{Database, map_err};
use crate::ports::clock::Clock;
use crate::ports::table::{
    BatchOp, Condition, EXPIRES_AT, Index, Item, Key, PK, Page, PartialCommit, Query, SK, SortKey, StoreError, Table,
    Update, VERSION, WriteOp, check_transaction,
};

/// DynamoDB's limits, enforced here too so both backends reject the same requests.
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;
const MAX_ITEM_BYTES: usize = 400 * 1024;
const MAX_BATCH_GET: usize = 100;
/// Puts/deletes per SQLite transaction in `batch_write`.
const BATCH_WRITE_CHUNK: usize = 500;
/// Largest page a query returns, whatever the limit (DynamoDB stops at 1 MB).
const MAX_PAGE: u32 = 1000;

pub struct SqliteTable {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
}

impl SqliteTable {
    pub fn new(db: Arc<Database>, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    fn now(&self) -> i64 {
        self.clock.unix_seconds()
    }
}

/// An item ready to be written: validated, serialised, index columns extracted.
struct Row {
    key: Key,
    json: String,
    gsi: [Option<(String, String)>; 3],
    expires_at: Option<i64>,
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

fn check_key(key: &Key) -> Result<(), StoreError> {
    check_key_value(PK, &key.pk, MAX_PARTITION_KEY_BYTES)?;
    check_key_value(SK, &key.sk, MAX_SORT_KEY_BYTES)
}

fn check_key_value(name: &str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid(format!("key attribute {name} must not be empty")));
    }
    if value.len() > max {
        return Err(invalid(format!("key attribute {name} is longer than {max} bytes")));
    }
    Ok(())
}

/// Validates an item as DynamoDB would and extracts its column values.
fn row_of(item: &Item) -> Result<Row, StoreError> {
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

fn gsi_key<'a>(item: &'a Item, name: &str, max: usize) -> Result<Option<&'a str>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            check_key_value(name, s, max)?;
            Ok(Some(s))
        }
        Some(_) => Err(invalid(format!("index key attribute {name} must be a string"))),
    }
}

fn check_update(update: &Update) -> Result<(), StoreError> {
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
fn apply_update(key: &Key, current: Option<Item>, update: &Update) -> Result<Item, StoreError> {
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
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

fn holds(condition: &Condition, current: Option<&Item>) -> bool {
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
fn load(conn: &Connection, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
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

fn parse_item(json: &str) -> Result<Item, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Unavailable(format!("corrupt item in store: {e}")))
}

fn store(conn: &Connection, row: &Row) -> Result<(), StoreError> {
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

fn remove(conn: &Connection, key: &Key) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| stmt.execute(params![key.pk, key.sk]))
        .map_err(map_err)?;
    Ok(())
}

/// Whether a live item has this key: the existence conditions need no more
/// than its expiry, so the stored JSON is neither read nor parsed.
fn live(conn: &Connection, key: &Key, now: i64) -> Result<bool, StoreError> {
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
fn check_condition(
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

/// An operation validated before any transaction starts, so a malformed
/// request is `Invalid` rather than a half-evaluated transaction.
enum Prepared {
    Put {
        row: Row,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    Check {
        key: Key,
        condition: Condition,
    },
}

fn prepare(op: WriteOp) -> Result<Prepared, StoreError> {
    Ok(match op {
        WriteOp::Put { item, condition } => Prepared::Put {
            row: row_of(&item)?,
            condition,
        },
        WriteOp::Update { key, update, condition } => {
            check_key(&key)?;
            check_update(&update)?;
            Prepared::Update { key, update, condition }
        }
        WriteOp::Delete { key, condition } => {
            check_key(&key)?;
            Prepared::Delete { key, condition }
        }
        WriteOp::Check { key, condition } => {
            check_key(&key)?;
            Prepared::Check { key, condition }
        }
    })
}

/// Evaluates the op's condition: `Ok(None)` when it fails, else the live
/// item the write needs (see [`check_condition`]).
fn check(conn: &Connection, op: &Prepared, now: i64) -> Result<Option<Option<Item>>, StoreError> {
    match op {
        // An unconditional put replaces whatever is there: no read needed.
        Prepared::Put { row, condition } => check_condition(conn, &row.key, condition.as_ref(), false, now),
        Prepared::Update { key, condition, .. } | Prepared::Delete { key, condition } => {
            check_condition(conn, key, condition.as_ref(), true, now)
        }
        Prepared::Check { key, condition } => check_condition(conn, key, Some(condition), false, now),
    }
}

/// Writes an op whose condition held; `current` is what [`check`] returned.
fn write(conn: &Connection, op: &Prepared, current: Option<Item>) -> Result<Written, StoreError> {
    match op {
        Prepared::Put { row, .. } => {
            store(conn, row)?;
            Ok(Written::Nothing)
        }
        Prepared::Update { key, update, .. } => {
            let item = apply_update(key, current, update)?;
            store(conn, &row_of(&item)?)?;
            Ok(Written::Item(item))
        }
        Prepared::Delete { key, .. } => {
            remove(conn, key)?;
            Ok(Written::Previous(current))
        }
        Prepared::Check { .. } => Ok(Written::Nothing),
    }
}

/// One DynamoDB-style transaction: every condition is evaluated first, then
/// every op written. Its keys are distinct (`check_transaction`), so this is
/// what DynamoDB does, and a failed condition (`Ok(Err(index))`) has written
/// nothing: no savepoint to roll back to.
fn apply(conn: &Connection, ops: &[Prepared], now: i64) -> Result<Result<(), usize>, StoreError> {
    let mut currents = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        match check(conn, op, now)? {
            Some(current) => currents.push(current),
            None => return Ok(Err(index)),
        }
    }
    for (op, current) in ops.iter().zip(currents) {
        write(conn, op, current)?;
    }
    Ok(Ok(()))
}

enum Written {
    Nothing,
    Item(Item),
    Previous(Option<Item>),
}

/// Runs one conditional write in an immediate transaction.
fn write_one(conn: &mut Connection, op: &Prepared, now: i64) -> Result<Written, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    // A failed condition wrote nothing; dropping the transaction ends it.
    let current = check(&tx, op, now)?.ok_or(StoreError::ConditionFailed)?;
    let written = write(&tx, op, current)?;
    tx.commit().map_err(map_err)?;
    Ok(written)
}

// ---- queries -------------------------------------------------------------

/// The string just above every string that starts with `prefix`: the last
/// character incremented (UTF-8 byte order equals code point order), so
/// `BeginsWith` is an index range and never a LIKE pattern.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn encode_cursor(index: Index, item: &Item) -> Result<String, StoreError> {
    let (ipk, isk) = index.key_attributes();
    let mut key = Map::new();
    for name in [PK, SK, ipk, isk] {
        let value = item
            .get(name)
            .ok_or_else(|| StoreError::Unavailable(format!("indexed item without {name}")))?;
        key.insert(name.to_owned(), value.clone());
    }
    let json = serde_json::to_vec(&key).map_err(|e| StoreError::Unavailable(format!("cursor: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The last key of the previous page: (index sort key, pk, sk).
fn decode_cursor(query: &Query, cursor: &str) -> Result<(String, String, String), StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
    let key: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let (ipk, isk) = query.index.key_attributes();
    let expected: HashSet<&str> = [PK, SK, ipk, isk].into_iter().collect();
    if key.len() != expected.len() || !key.keys().all(|k| expected.contains(k.as_str())) {
        return Err(StoreError::InvalidCursor);
    }
    let text = |name: &str| {
        key.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(StoreError::InvalidCursor)
    };
    // A cursor from another partition would silently skip or repeat items.
    if text(ipk)? != query.partition {
        return Err(StoreError::InvalidCursor);
    }
    Ok((text(isk)?, text(PK)?, text(SK)?))
}

fn check_sort_value(value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid("sort key condition with an empty string"));
    }
    Ok(())
}

fn run_query(conn: &Connection, query: &Query, now: i64) -> Result<Page, StoreError> {
    if query.partition.is_empty() {
        return Err(invalid("query without a partition key value"));
    }
    let limit = match query.limit {
        Some(0) => return Err(invalid("query limit must be at least 1")),
        Some(n) => n.min(MAX_PAGE),
        None => MAX_PAGE,
    };
    let (pcol, scol) = query.index.key_attributes();
    let primary = query.index == Index::Primary;
    let mut sql = format!("SELECT item FROM items WHERE {pcol} = ?1 AND (expires_at IS NULL OR expires_at > ?2)");
    let mut args: Vec<SqlValue> = vec![SqlValue::Text(query.partition.clone()), SqlValue::Integer(now)];
    let mut bind = |sql: &mut String, fragment: &str, value: String| {
        args.push(SqlValue::Text(value));
        sql.push_str(&fragment.replace('?', &format!("?{}", args.len())));
    };
    match &query.sort {
        None => {}
        Some(SortKey::Eq(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} = ?"), v.clone());
        }
        Some(SortKey::BeginsWith(prefix)) => {
            check_sort_value(prefix)?;
            bind(&mut sql, &format!(" AND {scol} >= ?"), prefix.clone());
            if let Some(upper) = prefix_successor(prefix) {
                bind(&mut sql, &format!(" AND {scol} < ?"), upper);
            }
        }
        Some(SortKey::Between(low, high)) => {
            check_sort_value(low)?;
            check_sort_value(high)?;
            if low.as_bytes() > high.as_bytes() {
                return Err(invalid("BETWEEN lower bound is greater than its upper bound"));
            }
            bind(&mut sql, &format!(" AND {scol} >= ?"), low.clone());
            bind(&mut sql, &format!(" AND {scol} <= ?"), high.clone());
        }
        Some(SortKey::Lt(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} < ?"), v.clone());
        }
        Some(SortKey::Le(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} <= ?"), v.clone());
        }
        Some(SortKey::Gt(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} > ?"), v.clone());
        }
        Some(SortKey::Ge(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} >= ?"), v.clone());
        }
    }
    let op = if query.forward { ">" } else { "<" };
    if let Some(cursor) = &query.cursor {
        let (isk, pk, sk) = decode_cursor(query, cursor)?;
        if primary {
            bind(&mut sql, &format!(" AND sk {op} ?"), sk);
        } else {
            bind(&mut sql, &format!(" AND ({scol}, pk, sk) {op} (?"), isk);
            bind(&mut sql, ", ?", pk);
            bind(&mut sql, ", ?)", sk);
        }
    }
    let dir = if query.forward { "ASC" } else { "DESC" };
    if primary {
        sql.push_str(&format!(" ORDER BY sk {dir}"));
    } else {
        // Ties on the GSI sort key are ordered by the table key so paging is exact.
        sql.push_str(&format!(" ORDER BY {scol} {dir}, pk {dir}, sk {dir}"));
    }
    // One extra row tells whether another page exists.
    args.push(SqlValue::Integer(i64::from(limit) + 1));
    sql.push_str(&format!(" LIMIT ?{}", args.len()));

    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(args), |row| row.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(map_err)?;
    let more = rows.len() > limit as usize;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(|json| parse_item(json))
        .collect::<Result<Vec<Item>, _>>()?;
    let cursor = match (more, items.last()) {
        (true, Some(last)) => Some(encode_cursor(query.index, last)?),
        _ => None,
    };
    Ok(Page { items, cursor })
}

/// The transactions of [`Table::transact_in_order`] as they arrive encoded,
/// in one SQLite transaction: those before a failed condition commit.
fn commit_in_order(
    conn: &mut Connection,
    received: std::sync::mpsc::Receiver<Result<Vec<Prepared>, StoreError>>,
    count: usize,
    now: i64,
) -> Result<Option<PartialCommit>, StoreError> {
    let none_committed = |error| PartialCommit { committed: 0, error };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let mut failure = None;
    let mut applied = 0;
    for (position, prepared) in received.iter().enumerate() {
        // Returning without commit drops (rolls back) the whole sequence.
        let ops: Vec<Prepared> = match prepared {
            Ok(ops) => ops,
            Err(error) => return Ok(Some(none_committed(error))),
        };
        if let Err(index) = apply(&tx, &ops, now)? {
            failure = Some(PartialCommit {
                committed: position,
                error: StoreError::TransactionConditionFailed { index },
            });
            break;
        }
        applied += 1;
    }
    if failure.is_none() && applied < count {
        return Err(StoreError::Unavailable("the encoding thread stopped early".into()));
    }
    tx.commit().map_err(map_err)?;
    Ok(failure)
}

#[async_trait]
impl Table for SqliteTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        check_key(key)?;
        let key = key.clone();
        let now = self.now();
        self.db.read(move |conn| load(conn, &key, now)).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > MAX_BATCH_GET {
            return Err(invalid(format!("batch_get reads at most {MAX_BATCH_GET} keys")));
        }
        let mut seen = HashSet::with_capacity(keys.len());
        for key in keys {
            check_key(key)?;
            // DynamoDB rejects duplicate keys in one BatchGetItem.
            if !seen.insert(key) {
                return Err(invalid("batch_get with duplicate keys"));
            }
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = keys.to_vec();
        let now = self.now();
        self.db
            .read(move |conn| {
                // One read transaction: a consistent snapshot across the keys.
                let tx = conn.transaction().map_err(map_err)?;
                let mut items = Vec::with_capacity(keys.len());
                for key in &keys {
                    if let Some(item) = load(&tx, key, now)? {
                        items.push(item);
                    }
                }
                tx.commit().map_err(map_err)?;
                Ok(items)
            })
            .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        let op = prepare(WriteOp::Put { item, condition })?;
        let now = self.now();
        self.db.run(move |conn| write_one(conn, &op, now).map(|_| ())).await
    }

    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        let op = prepare(WriteOp::Update {
            key: key.clone(),
            update,
            condition,
        })?;
        let now = self.now();
        self.db
            .run(move |conn| match write_one(conn, &op, now)? {
                Written::Item(item) => Ok(item),
                _ => Err(StoreError::Unavailable("update wrote no item".into())),
            })
            .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        let op = prepare(WriteOp::Delete {
            key: key.clone(),
            condition,
        })?;
        let now = self.now();
        self.db
            .run(move |conn| match write_one(conn, &op, now)? {
                Written::Previous(previous) => Ok(previous),
                _ => Ok(None),
            })
            .await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let query = query.clone();
        let now = self.now();
        self.db.read(move |conn| run_query(conn, &query, now)).await
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        check_transaction(&ops)?;
        let prepared = ops.into_iter().map(prepare).collect::<Result<Vec<_>, _>>()?;
        let now = self.now();
        self.db
            .run(move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(map_err)?;
                if let Err(index) = apply(&tx, &prepared, now)? {
                    return Err(StoreError::TransactionConditionFailed { index });
                }
                tx.commit().map_err(map_err)
            })
            .await
    }

    /// One SQLite transaction for the whole sequence: each DynamoDB-style
    /// transaction in it checks all its conditions before it writes, so one
    /// that fails has written nothing and the ones before commit together
    /// (one WAL fsync). A malformed transaction anywhere in the sequence
    /// rolls it all back: nothing is written.
    async fn transact_in_order(&self, transactions: Vec<Vec<WriteOp>>) -> Result<(), PartialCommit> {
        let none_committed = |error| PartialCommit { committed: 0, error };
        let count = transactions.len();
        if count == 0 {
            return Ok(());
        }
        // Every transaction's shape first (cheap: keys only), so a malformed
        // one anywhere writes nothing, as the port promises.
        for ops in &transactions {
            check_transaction(ops).map_err(none_committed)?;
        }
        // Checking and encoding the items (JSON) is a good part of a bulk
        // commit's work: a helper thread does it while the store's thread
        // writes the transactions already encoded.
        let (encoded, received) = std::sync::mpsc::channel();
        tokio::task::spawn_blocking(move || {
            for ops in transactions {
                let prepared: Result<Vec<Prepared>, StoreError> = ops.into_iter().map(prepare).collect();
                let malformed = prepared.is_err();
                // A closed channel: the writer stopped at a failed condition.
                if encoded.send(prepared).is_err() || malformed {
                    break;
                }
            }
        });
        let now = self.now();
        self.db
            .run(move |conn| {
                // The sequence's commit is not synced on its own: the next
                // ordinary commit on this connection (FULL) syncs the WAL with
                // it, and the bulk writer's acknowledgement of its job is one.
                // A power cut before that may lose the sequence whole (WAL
                // keeps the file consistent); its transactions carry their
                // own checkpoints, so the writer redoes it from the last one.
                conn.pragma_update(None, "synchronous", "NORMAL").map_err(map_err)?;
                let result = commit_in_order(conn, received, count, now);
                // The outcome stands whatever the restore does; a restore that
                // fails is retried and, failing again, reported loudly.
                let restore = || conn.pragma_update(None, "synchronous", "FULL");
                if let Err(first) = restore()
                    && let Err(again) = restore()
                {
                    tracing::error!(error = %first, again = %again, "could not restore synchronous=FULL after a bulk commit");
                }
                result
            })
            .await
            // Nothing of the group is durable when the outer commit itself failed.
            .map_err(none_committed)?
            .map_or(Ok(()), Err)
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        enum Op {
            Put(Row),
            Delete(Key),
        }
        // Validate everything first so a malformed op writes nothing at all.
        let prepared = ops
            .into_iter()
            .map(|op| match op {
                BatchOp::Put(item) => row_of(&item).map(Op::Put),
                BatchOp::Delete(key) => check_key(&key).map(|()| Op::Delete(key)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rest = prepared;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(BATCH_WRITE_CHUNK));
            let chunk = std::mem::replace(&mut rest, tail);
            self.db
                .run(move |conn| {
                    let tx = conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(map_err)?;
                    for op in &chunk {
                        match op {
                            Op::Put(row) => store(&tx, row)?,
                            Op::Delete(key) => remove(&tx, key)?,
                        }
                    }
                    tx.commit().map_err(map_err)
                })
                .await?;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds_every_extension() {
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        let upper = prefix_successor("é%_").unwrap();
        assert!("é%_zzz" < upper.as_str() && "é%`" >= upper.as_str());
    }
}
