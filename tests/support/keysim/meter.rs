//! What each store call costs, per partition key, in DynamoDB capacity units,
//! and the per-key peaks over the simulated day.
//!
//! Unit assumptions (DynamoDB on-demand, as documented by AWS):
//! - a write is 1 WCU per started KB of the item (the larger of before and
//!   after; a delete or a condition check of an item we do not size counts
//!   1 KB); inside `TransactWriteItems` it is 2 WCU per KB;
//! - a strongly consistent read (`GetItem`, `BatchGetItem`, a primary-index
//!   `Query` — what the `Table` port does) is 1 RCU per started 4 KB; an index
//!   query is eventually consistent, half that. A query rounds the sum of its
//!   page's items up to 4 KB (at least one unit, even when empty); a missing
//!   item still costs the minimum read;
//! - a write of an item carrying `gsiNpk` also writes that index partition, 1
//!   WCU per KB (the indexes project every attribute), not doubled by a
//!   transaction;
//! - an item's size is the length of its JSON (names and values; a little
//!   more than DynamoDB's own count, so the units err on the high side).
//!
//! Units are computed in thousandths and kept in eighths (integers: the sums
//! do not depend on the order of addition; half a read unit is exact). Time
//! is whole seconds of the simulated UTC day.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use konnecs::ports::{Index, Item, Key, WriteOp};
use serde_json::Value;

pub const WRITE_UNIT_BYTES: usize = 1024;
pub const READ_UNIT_BYTES: usize = 4096;
/// What DynamoDB serves one partition key per second.
pub const PARTITION_WRITE_UNITS: f64 = 1000.0;
pub const PARTITION_READ_UNITS: f64 = 3000.0;
/// The share of those limits every key must stay under.
pub const BUDGET: f64 = 0.5;
/// Seconds of the simulated day.
pub const DAY_SECONDS: u32 = 86_400;
/// History an ever-growing partition is shown with (its item collection).
pub const HISTORY_DAYS: f64 = 365.0;

const MILLI: u64 = 1000;

/// Bytes of an item as stored (its JSON).
pub fn item_bytes(item: &Item) -> usize {
    serde_json::to_vec(item)
        .map(|bytes| bytes.len())
        .unwrap_or(WRITE_UNIT_BYTES)
}

fn write_milli(bytes: usize) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as u64 * MILLI
}

fn read_milli(bytes: usize, consistent: bool) -> u64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as u64 * MILLI;
    if consistent { units } else { units / 2 }
}

/// How long the items a write adds stay in their partition, for the size of
/// item collections: a partition written every day holds `Days(n)` days of
/// them (`Forever`: [`HISTORY_DAYS`]); `Once` is a key of its own entity or
/// date, which holds what this one day put there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Retention {
    Once,
    Days(f64),
    Forever,
}

impl Retention {
    fn factor(self) -> f64 {
        match self {
            Retention::Once => 1.0,
            Retention::Days(days) => days.min(HISTORY_DAYS),
            Retention::Forever => HISTORY_DAYS,
        }
    }
}

/// FxHash for the id map (its keys are already hashes).
#[derive(Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// One call's units on one key in one second, packed for a small, fast
/// sort: key (27 bits), second (17), write (1), units in eighths (19).
type Op = u64;

const KEY_SHIFT: u32 = 37;
const SECOND_SHIFT: u32 = 20;
const WRITE_BIT: u64 = 1 << 19;
const UNITS_MASK: u64 = WRITE_BIT - 1;
/// Units are kept in eighths (a half read unit is exact).
const EIGHTHS: u64 = 8;
const MILLI_PER_EIGHTH: u64 = MILLI / EIGHTHS;

fn pack(key: u32, second: u32, write: bool, eighths: u64) -> Op {
    (u64::from(key) << KEY_SHIFT)
        | (u64::from(second) << SECOND_SHIFT)
        | if write { WRITE_BIT } else { 0 }
        | eighths.min(UNITS_MASK)
}

/// A stable 64-bit hash of a partition key in its index: SipHash with fixed
/// keys (std's `DefaultHasher::new`), so runs and platforms agree.
fn key_hash(index: usize, partition: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    hasher.write_usize(index);
    hasher.write(partition.as_bytes());
    hasher.finish()
}

/// Every store call of the simulated day, by partition key.
pub struct Recorder {
    /// Key hash (index and partition) → id. A GSI partition is a partition of its own.
    ids: FxMap<u64, u32>,
    /// Names of the ids, one after another (`gsi1 ` and so on before index partitions).
    names: String,
    spans: Vec<(u32, u32)>,
    ops: Vec<Op>,
    /// Item collections: items and bytes per id.
    collections: Vec<(f64, f64)>,
    /// Calls made (as the `Table` port counts them), for the report.
    pub calls: u64,
}

fn slot(index: Index) -> usize {
    match index {
        Index::Primary => 0,
        Index::Gsi1 => 1,
        Index::Gsi2 => 2,
        Index::Gsi3 => 3,
    }
}

fn second_of(at: f64) -> u32 {
    (at.floor() as i64).rem_euclid(i64::from(DAY_SECONDS)) as u32
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self {
            ids: FxMap::default(),
            names: String::new(),
            spans: Vec::new(),
            ops: Vec::new(),
            collections: Vec::new(),
            calls: 0,
        }
    }

    /// Room for `ops` calls' units (the binary sizes it up front: growing a
    /// vector of a hundred million entries doubles its memory for a moment).
    pub fn reserve(&mut self, ops: usize) {
        self.ops.reserve(ops.saturating_sub(self.ops.len()));
    }

    fn id(&mut self, index: Index, partition: &str) -> u32 {
        let slot = slot(index);
        let hash = key_hash(slot, partition);
        if let Some(id) = self.ids.get(&hash) {
            return *id;
        }
        let id = self.spans.len() as u32;
        assert!(id < 1 << (64 - KEY_SHIFT), "more partition keys than the packing holds");
        self.ids.insert(hash, id);
        let start = self.names.len() as u32;
        self.names.push_str(["", "gsi1 ", "gsi2 ", "gsi3 "][slot]);
        self.names.push_str(partition);
        self.spans.push((start, self.names.len() as u32 - start));
        self.collections.push((0.0, 0.0));
        id
    }

    fn name(&self, id: u32) -> &str {
        let (start, len) = self.spans[id as usize];
        &self.names[start as usize..(start + len) as usize]
    }

    fn add(&mut self, at: f64, index: Index, partition: &str, milli: u64, write: bool) {
        let key = self.id(index, partition);
        let eighths = milli.div_ceil(MILLI_PER_EIGHTH);
        let op = pack(key, second_of(at), write, eighths);
        // Consecutive calls on one key in one second (a transaction's search
        // keys, an import chunk) are one entry: less memory, same sums.
        if let Some(last) = self.ops.last_mut()
            && *last & !UNITS_MASK == op & !UNITS_MASK
            && (*last & UNITS_MASK) + eighths < UNITS_MASK
        {
            *last += eighths;
            return;
        }
        self.ops.push(op);
    }
    pub fn read_units(&mut self, at: f64, index: Index, partition: &str, milli: u64) {
        self.add(at, index, partition, milli, false);
    }

    pub fn write_units(&mut self, at: f64, index: Index, partition: &str, milli: u64) {
        self.add(at, index, partition, milli, true);
    }

    /// `GetItem` (strongly consistent) of an item of `bytes` (0: absent).
    pub fn get(&mut self, at: f64, key: &Key, bytes: usize) {
        self.calls += 1;
        self.read_units(at, Index::Primary, &key.pk, read_milli(bytes, true));
    }

    /// `BatchGetItem` (strongly consistent): each key as a get.
    pub fn batch_get(&mut self, at: f64, keys: &[(Key, usize)]) {
        for chunk in keys.chunks(100) {
            self.calls += 1;
            for (key, bytes) in chunk {
                self.read_units(at, Index::Primary, &key.pk, read_milli(*bytes, true));
            }
        }
    }

    /// A paged `Query` reading `items` items of `item_bytes` each, `limit`
    /// per page, all pages within the second `at` (the worst case for the
    /// one-second window). Consistent on the primary index only.
    pub fn query(&mut self, at: f64, index: Index, partition: &str, items: usize, item_bytes: usize, limit: usize) {
        let consistent = index == Index::Primary;
        let per_page = limit.clamp(1, (1 << 20) / item_bytes.max(1));
        let mut left = items;
        loop {
            let page = left.min(per_page);
            self.calls += 1;
            self.read_units(at, index, partition, read_milli(page * item_bytes, consistent));
            left -= page;
            if left == 0 {
                return;
            }
        }
    }

    /// One write operation: `factor` 2 inside a transaction. `bytes` sizes
    /// the operations that carry no item (updates, deletes, checks).
    fn write_op(&mut self, at: f64, op: &WriteOp, factor: u64, bytes: usize) {
        match op {
            WriteOp::Put { item, .. } => {
                let size = item_bytes(item);
                let Some(key) = Key::of(item) else { return };
                self.write_units(at, Index::Primary, &key.pk, factor * write_milli(size));
                for index in Index::SECONDARY {
                    let (pk, _) = index.key_attributes();
                    if let Some(partition) = item.get(pk).and_then(Value::as_str) {
                        self.write_units(at, index, partition, write_milli(size));
                    }
                }
            }
            WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => {
                self.write_units(at, Index::Primary, &key.pk, factor * write_milli(bytes));
            }
        }
    }

    /// `TransactWriteItems`.
    pub fn transact(&mut self, at: f64, ops: &[WriteOp]) {
        self.calls += 1;
        for op in ops {
            self.write_op(at, op, 2, WRITE_UNIT_BYTES);
        }
    }

    /// A single `PutItem`, `UpdateItem` or `DeleteItem` (`bytes` for the
    /// ones without an item).
    pub fn write(&mut self, at: f64, op: &WriteOp, bytes: usize) {
        self.calls += 1;
        self.write_op(at, op, 1, bytes);
    }

    /// An update of an item indexed on `indexes` (the index rewrites its copy).
    pub fn write_indexed(&mut self, at: f64, op: &WriteOp, bytes: usize, indexes: &[(Index, String)]) {
        self.write(at, op, bytes);
        for (index, partition) in indexes {
            self.write_units(at, *index, partition, write_milli(bytes));
        }
    }

    /// An item put and kept: in its table partition for `table`, in its
    /// index partitions for `index` (the item collections).
    pub fn keep_item(&mut self, item: &Item, table: Retention, index: Retention) {
        let Some(key) = Key::of(item) else { return };
        let bytes = item_bytes(item) as f64;
        let mut partitions = vec![(Index::Primary, key.pk, table.factor())];
        for gsi in Index::SECONDARY {
            if let Some(partition) = item.get(gsi.key_attributes().0).and_then(Value::as_str) {
                partitions.push((gsi, partition.to_owned(), index.factor()));
            }
        }
        for (space, partition, factor) in partitions {
            let id = self.id(space, &partition) as usize;
            self.collections[id].0 += factor;
            self.collections[id].1 += bytes * factor;
        }
    }

    /// Measures every key and hands each to `visit` (with its id): the
    /// caller keeps what it reports. Consumes the recorder.
    pub fn finish(mut self, mut visit: impl FnMut(KeyStats)) {
        let mut ops = std::mem::take(&mut self.ops);
        ops.sort_unstable();
        let mut measured = vec![false; self.spans.len()];
        let mut i = 0;
        while i < ops.len() {
            let key = (ops[i] >> KEY_SHIFT) as u32;
            let mut end = i;
            while end < ops.len() && (ops[end] >> KEY_SHIFT) as u32 == key {
                end += 1;
            }
            measured[key as usize] = true;
            visit(self.stats(key, &ops[i..end]));
            i = end;
        }
        drop(ops);
        // Keys only kept (an item collection), never read or written today.
        for (key, done) in measured.into_iter().enumerate() {
            if !done {
                visit(self.stats(key as u32, &[]));
            }
        }
    }

    fn stats(&self, key: u32, ops: &[Op]) -> KeyStats {
        let (items, bytes) = self.collections[key as usize];
        let mut stats = KeyStats {
            name: self.name(key).to_owned(),
            items,
            bytes,
            ..KeyStats::default()
        };
        stats.measure(ops);
        stats
    }
}

/// One partition key's day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyStats {
    /// The partition key; index partitions are prefixed `gsi1 `, `gsi2 `, ...
    pub name: String,
    /// Busiest second: write and read units in it, and when.
    pub writes_1s: f64,
    pub writes_1s_at: u32,
    pub reads_1s: f64,
    pub reads_1s_at: u32,
    /// Busiest minute: its units per second (the minute's sum / 60), and when.
    pub writes_1m: f64,
    pub writes_1m_at: u32,
    pub reads_1m: f64,
    pub reads_1m_at: u32,
    /// Units of the whole day.
    pub writes_day: f64,
    pub reads_day: f64,
    /// Item collection (steady state, see [`Retention`]).
    pub items: f64,
    pub bytes: f64,
}

impl KeyStats {
    fn measure(&mut self, ops: &[Op]) {
        fn flush(window: (u32, u64, u64), peak: &mut (u64, u32, u64, u32)) {
            if window.0 == u32::MAX {
                return;
            }
            if window.1 > peak.0 {
                (peak.0, peak.1) = (window.1, window.0);
            }
            if window.2 > peak.2 {
                (peak.2, peak.3) = (window.2, window.0);
            }
        }
        let mut second = (u32::MAX, 0u64, 0u64);
        let mut minute = (u32::MAX, 0u64, 0u64);
        let (mut peak_s, mut peak_m) = ((0u64, 0, 0u64, 0), (0u64, 0, 0u64, 0));
        let mut day = (0u64, 0u64);
        for op in ops {
            let at = ((op >> SECOND_SHIFT) & ((1 << 17) - 1)) as u32;
            let write = op & WRITE_BIT != 0;
            let eighths = op & UNITS_MASK;
            if at != second.0 {
                flush(second, &mut peak_s);
                second = (at, 0, 0);
            }
            if at / 60 != minute.0 {
                flush(minute, &mut peak_m);
                minute = (at / 60, 0, 0);
            }
            if write {
                second.1 += eighths;
                minute.1 += eighths;
                day.0 += eighths;
            } else {
                second.2 += eighths;
                minute.2 += eighths;
                day.1 += eighths;
            }
        }
        flush(second, &mut peak_s);
        flush(minute, &mut peak_m);
        let units = |eighths: u64| eighths as f64 / EIGHTHS as f64;
        self.writes_1s = units(peak_s.0);
        self.writes_1s_at = peak_s.1;
        self.reads_1s = units(peak_s.2);
        self.reads_1s_at = peak_s.3;
        self.writes_1m = units(peak_m.0) / 60.0;
        self.writes_1m_at = peak_m.1 * 60;
        self.reads_1m = units(peak_m.2) / 60.0;
        self.reads_1m_at = peak_m.3 * 60;
        self.writes_day = units(day.0);
        self.reads_day = units(day.1);
    }

    /// The largest share of a per-partition limit the key reaches (1.0 = the
    /// limit), over both windows.
    pub fn load(&self) -> f64 {
        (self.writes_1s / PARTITION_WRITE_UNITS)
            .max(self.reads_1s / PARTITION_READ_UNITS)
            .max(self.writes_1m / PARTITION_WRITE_UNITS)
            .max(self.reads_1m / PARTITION_READ_UNITS)
    }

    pub fn within_budget(&self) -> bool {
        self.load() <= BUDGET
    }
}

/// `HH:MM:SS` of a second of the day.
pub fn clock(second: u32) -> String {
    format!("{:02}:{:02}:{:02}", second / 3600, second / 60 % 60, second % 60)
}
