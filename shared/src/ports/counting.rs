//! A `Table` decorator that counts round trips per operation, so tests and
//! benchmarks can state how many store calls a request makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::table::{BatchOp, Condition, Item, Key, Page, PartialCommit, Query, StoreError, Table, Update, WriteOp};

#[derive(Debug, Default)]
pub struct CallCounts {
    pub get: AtomicU64,
    pub batch_get: AtomicU64,
    pub put: AtomicU64,
    pub update: AtomicU64,
    pub delete: AtomicU64,
    pub query: AtomicU64,
    pub transact: AtomicU64,
    pub batch_write: AtomicU64,
}

/// A plain copy of [`CallCounts`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CallSnapshot {
    pub get: u64,
    pub batch_get: u64,
    pub put: u64,
    pub update: u64,
    pub delete: u64,
    pub query: u64,
    pub transact: u64,
    pub batch_write: u64,
}

impl CallSnapshot {
    pub fn total(&self) -> u64 {
        self.get + self.batch_get + self.put + self.update + self.delete + self.query + self.transact + self.batch_write
    }
}

impl CallCounts {
    pub fn snapshot(&self) -> CallSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CallSnapshot {
            get: read(&self.get),
            batch_get: read(&self.batch_get),
            put: read(&self.put),
            update: read(&self.update),
            delete: read(&self.delete),
            query: read(&self.query),
            transact: read(&self.transact),
            batch_write: read(&self.batch_write),
        }
    }
}

pub struct CountingTable {
    inner: Arc<dyn Table>,
    counts: Arc<CallCounts>,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            counts: Arc::default(),
        }
    }

    pub fn counts(&self) -> Arc<CallCounts> {
        self.counts.clone()
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        bump(&self.counts.get);
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        bump(&self.counts.batch_get);
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        bump(&self.counts.put);
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        bump(&self.counts.update);
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        bump(&self.counts.delete);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        bump(&self.counts.query);
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        bump(&self.counts.transact);
        self.inner.transact(ops).await
    }
    /// Counted as one `transact` per transaction tried: one `TransactWriteItems` each on DynamoDB.
    async fn transact_in_order(&self, transactions: Vec<Vec<WriteOp>>) -> Result<(), PartialCommit> {
        let tried = transactions.len() as u64;
        let result = self.inner.transact_in_order(transactions).await;
        let counted = match &result {
            Ok(()) => tried,
            Err(PartialCommit { committed, error }) if !matches!(error, StoreError::Invalid(_)) => {
                *committed as u64 + 1
            }
            Err(_) => 0,
        };
        self.counts.transact.fetch_add(counted, Ordering::Relaxed);
        result
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        bump(&self.counts.batch_write);
        self.inner.batch_write(ops).await
    }
    fn partition_write_units(&self) -> Option<u32> {
        self.inner.partition_write_units()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}
