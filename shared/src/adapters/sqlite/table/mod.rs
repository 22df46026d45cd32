//! `Table` on SQLite with DynamoDB's semantics (see `ports::table`).
//!
//! Each item is stored as JSON text beside the columns SQLite must search on:
//! `pk`, `sk`, the three sparse GSI key pairs and `expires_at`. Expiry is
//! decided by the injected clock, never by SQLite's own time.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::TransactionBehavior;

use super::{Database, map_err};
use crate::ports::clock::Clock;
use crate::ports::table::{
    BatchOp, Condition, Item, Key, Page, PartialCommit, Query, StoreError, Table, Update, WriteOp, check_transaction,
};
use items::{Row, check_key, invalid, load, remove, row_of, store};
use query::run_query;
use writes::{Prepared, Written, apply, commit_in_order, prepare, write_one};

mod items;
mod query;
mod writes;

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
