//! The `Table` port: the subset of DynamoDB semantics Konnecs needs.
//!
//! Items are JSON objects. Every item has the string keys `pk` and `sk`; it may
//! carry up to three sparse secondary-index key pairs (`gsi1pk`/`gsi1sk`, ...)
//! and an `expires_at` TTL (Unix seconds). Both adapters (SQLite and DynamoDB)
//! obey the conformance suite in `tests/conformance/`, so the item layout
//! and key design live in one place and behave the same everywhere.

mod cursor;

pub use cursor::CursorKey;

use async_trait::async_trait;
use serde_json::{Map, Value};

/// A stored item: a JSON object with at least `pk` and `sk` strings.
pub type Item = Map<String, Value>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// TTL attribute, Unix seconds. Expired items are invisible on every backend,
/// even before the backend physically removes them.
pub const EXPIRES_AT: &str = "expires_at";
/// Attribute used by [`Condition::VersionEquals`].
pub const VERSION: &str = "version";

/// Most operations one transaction may hold (DynamoDB's limit).
pub const MAX_TRANSACTION_OPS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// The key of a stored item, if it has string `pk` and `sk`.
    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
    }
}

/// Which key schema a query runs on. Each GSI has a string partition key
/// `gsiNpk` and string sort key `gsiNsk`; items without them are not indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Primary,
    Gsi1,
    Gsi2,
    Gsi3,
}

impl Index {
    pub const SECONDARY: [Index; 3] = [Index::Gsi1, Index::Gsi2, Index::Gsi3];

    /// (partition key attribute, sort key attribute)
    pub fn key_attributes(self) -> (&'static str, &'static str) {
        match self {
            Index::Primary => (PK, SK),
            Index::Gsi1 => ("gsi1pk", "gsi1sk"),
            Index::Gsi2 => ("gsi2pk", "gsi2sk"),
            Index::Gsi3 => ("gsi3pk", "gsi3sk"),
        }
    }

    /// The index name in DynamoDB (and the SQLite index name).
    pub fn name(self) -> Option<&'static str> {
        match self {
            Index::Primary => None,
            Index::Gsi1 => Some("gsi1"),
            Index::Gsi2 => Some("gsi2"),
            Index::Gsi3 => Some("gsi3"),
        }
    }
}

/// A typed write condition. Expired items count as absent.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// No live item has this key.
    NotExists,
    /// A live item has this key.
    Exists,
    /// A live item exists and its attribute equals the value.
    AttributeEquals { name: String, value: Value },
    /// A live item exists and its `version` attribute equals this number.
    VersionEquals(u64),
}

/// Changes applied by [`Table::update`]. Updating a missing (or expired) item
/// creates it from its key (as DynamoDB does) unless a condition forbids it.
/// An empty update is `StoreError::Invalid` on every backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    /// Atomic numeric add; a missing attribute counts as 0.
    pub add: Vec<(String, i64)>,
    pub remove: Vec<String>,
}

impl Update {
    pub fn set(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set.push((name.into(), value.into()));
        self
    }
    pub fn add(mut self, name: impl Into<String>, by: i64) -> Self {
        self.add.push((name.into(), by));
        self
    }
    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.add.is_empty() && self.remove.is_empty()
    }
}

/// Sort-key condition of a query. Comparison is by UTF-8 bytes on both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    pub sort: Option<SortKey>,
    /// true = ascending sort key, false = newest/highest first.
    pub forward: bool,
    pub limit: Option<u32>,
    /// Opaque cursor from a previous [`Page`].
    pub cursor: Option<String>,
}

impl Query {
    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            index: Index::Primary,
            partition: partition.into(),
            sort: None,
            forward: true,
            limit: None,
            cursor: None,
        }
    }
    pub fn on(mut self, index: Index) -> Self {
        self.index = index;
        self
    }
    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = Some(sort);
        self
    }
    pub fn reverse(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Resumes after a page's cursor: one this same query (index,
    /// partition, sort-key condition, direction) issued; the limit may change.
    pub fn after(mut self, cursor: Option<String>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of a query. A page may hold fewer than `limit` items (expired items
/// are filtered after the limit, as on DynamoDB); only `cursor == None` means done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub cursor: Option<String>,
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put {
        item: Item,
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
    /// Writes nothing; fails the transaction when the condition does not hold.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl WriteOp {
    pub fn key(&self) -> Option<Key> {
        match self {
            WriteOp::Put { item, .. } => Key::of(item),
            WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => Some(key.clone()),
        }
    }
}

/// One unconditional operation of a batch write.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOp {
    Put(Item),
    Delete(Key),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The condition of a single-item write did not hold.
    #[error("condition failed")]
    ConditionFailed,
    /// The transaction wrote nothing because the condition of operation `index` failed.
    #[error("transaction cancelled: condition of operation {index} failed")]
    TransactionConditionFailed { index: usize },
    /// A concurrent transaction touched the same items; safe to retry.
    #[error("transaction conflict")]
    Contention,
    /// The request itself is malformed (too many ops, duplicate keys, missing key attributes).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// A cursor that this table did not issue for this query (see
    /// [`Query::open_cursor`]).
    #[error("invalid cursor")]
    InvalidCursor,
    /// The backend failed or is unreachable.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// How [`Table::transact_in_order`] stopped: the first `committed`
/// transactions are in the store; the next one failed with `error`.
#[derive(Debug, thiserror::Error)]
#[error("{committed} transactions committed, then: {error}")]
pub struct PartialCommit {
    pub committed: usize,
    pub error: StoreError,
}

impl StoreError {
    /// True when the failure is about a condition: the caller lost a race or
    /// the item is not in the expected state.
    pub fn is_condition_failure(&self) -> bool {
        matches!(
            self,
            StoreError::ConditionFailed | StoreError::TransactionConditionFailed { .. }
        )
    }
}

#[async_trait]
pub trait Table: Send + Sync {
    /// Strongly consistent read of one live item.
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Reads up to 100 keys; missing and expired items are left out. Order is not kept.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError>;

    /// Applies the update and returns the item as it is afterwards.
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError>;

    /// Deletes and returns the previous live item, if any.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError>;

    async fn query(&self, query: &Query) -> Result<Page, StoreError>;

    /// All-or-nothing write of up to [`MAX_TRANSACTION_OPS`] operations on distinct keys.
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Commits `transactions` in order, each all-or-nothing as [`Table::transact`],
    /// and stops at the first that fails: the transactions before it stay
    /// committed, it and the ones after write nothing. Every transaction passes
    /// [`check_transaction`] before the first is tried (a malformed one writes
    /// nothing); a limit only the backend knows (DynamoDB's item size) stops
    /// the sequence where it is met, like any other failure.
    ///
    /// For bulk writers (the importer) whose transactions each carry their own
    /// checkpoint: on SQLite the committed ones share one commit, made durable
    /// by the connection's next ordinary commit rather than an fsync of its
    /// own (a power cut in between loses the sequence whole, never part of a
    /// transaction; the writer redoes it from its checkpoint); on DynamoDB
    /// each is one `TransactWriteItems`, which is what this default does.
    async fn transact_in_order(&self, transactions: Vec<Vec<WriteOp>>) -> Result<(), PartialCommit> {
        for ops in &transactions {
            check_transaction(ops).map_err(|error| PartialCommit { committed: 0, error })?;
        }
        for (committed, ops) in transactions.into_iter().enumerate() {
            self.transact(ops)
                .await
                .map_err(|error| PartialCommit { committed, error })?;
        }
        Ok(())
    }

    /// Unconditional puts and deletes of any count; not atomic as a whole.
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError>;

    /// Cheap liveness probe for `/health`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Write units per second the backend serves one partition key, when it
    /// limits keys at all (DynamoDB: 1,000 units of 1 KB, a transactional
    /// write counting twice). Bulk writers pace themselves by it; `None` (the
    /// embedded store) means no per-key limit.
    fn partition_write_units(&self) -> Option<u32> {
        None
    }
}

/// Validates what both backends reject the same way, so errors are identical.
pub fn check_transaction(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::Invalid("a transaction needs at least one operation".into()));
    }
    if ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction holds at most {MAX_TRANSACTION_OPS} operations"
        )));
    }
    // Borrowed keys: bulk writers check thousands of operations per commit.
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    for op in ops {
        let key = match op {
            WriteOp::Put { item, .. } => item
                .get(PK)
                .and_then(Value::as_str)
                .zip(item.get(SK).and_then(Value::as_str)),
            WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => {
                Some((key.pk.as_str(), key.sk.as_str()))
            }
        }
        .ok_or_else(|| StoreError::Invalid("item without string pk and sk".into()))?;
        if !seen.insert(key) {
            return Err(StoreError::Invalid("a transaction may touch each key only once".into()));
        }
    }
    Ok(())
}

/// Whether a live item's TTL has passed at `now` (Unix seconds).
pub fn is_expired(item: &Item, now: i64) -> bool {
    item.get(EXPIRES_AT).and_then(Value::as_i64).is_some_and(|at| at <= now)
}
