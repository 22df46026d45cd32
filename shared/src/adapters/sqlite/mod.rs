//! The embedded store: one SQLite file (WAL) holding the table and the queues.
//!
//! One writing connection behind a `std::sync::Mutex`, used only from
//! `spawn_blocking`: SQLite serialises writers anyway, and a single writer
//! makes `BEGIN IMMEDIATE` transactions trivially race-free inside the
//! process while `busy_timeout` covers other processes on the same file.
//! Plain reads (gets, batch gets, queries) use a small pool of read-only
//! connections: under WAL they proceed while a write commits, and see every
//! write committed before they start. A thread of its own checkpoints the
//! WAL into the database every second (`PASSIVE`), so a writer seldom waits
//! for that; under back-to-back writes the WAL may still grow to the
//! writer's own checkpoint size before it starts over.

pub mod backup;
pub mod queue;
pub mod table;

pub use queue::SqliteQueue;
pub use table::SqliteTable;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use crate::ports::table::StoreError;

/// Schema version written to `PRAGMA user_version`; bump with a new migration.
const SCHEMA_VERSION: i64 = 1;

/// Migrations in order; entry `n` upgrades the schema from version `n` to `n + 1`.
const MIGRATIONS: [&str; 1] = [r#"
    CREATE TABLE items (
        pk         TEXT NOT NULL,
        sk         TEXT NOT NULL,
        item       TEXT NOT NULL,
        gsi1pk     TEXT,
        gsi1sk     TEXT,
        gsi2pk     TEXT,
        gsi2sk     TEXT,
        gsi3pk     TEXT,
        gsi3sk     TEXT,
        expires_at INTEGER,
        PRIMARY KEY (pk, sk)
    ) WITHOUT ROWID;
    -- Sparse like DynamoDB GSIs: only items carrying both index keys are indexed.
    -- (pk, sk) after the sort key gives ties a total order, so paging is exact.
    CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
    CREATE INDEX items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
    CREATE INDEX items_gsi3 ON items (gsi3pk, gsi3sk, pk, sk) WHERE gsi3pk IS NOT NULL;
    CREATE INDEX items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;

    CREATE TABLE queue_messages (
        seq           INTEGER PRIMARY KEY,
        queue         TEXT NOT NULL,
        id            TEXT NOT NULL UNIQUE,
        body          TEXT NOT NULL,
        sent_at       INTEGER NOT NULL,
        -- Milliseconds since the Unix epoch.
        visible_at    INTEGER NOT NULL,
        receive_count INTEGER NOT NULL DEFAULT 0,
        receipt       TEXT,
        state         TEXT NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'acked')),
        done_at       INTEGER
    );
    CREATE INDEX queue_ready ON queue_messages (queue, visible_at, seq) WHERE state = 'ready';
    CREATE UNIQUE INDEX queue_receipts ON queue_messages (receipt) WHERE receipt IS NOT NULL;
    CREATE INDEX queue_done ON queue_messages (done_at) WHERE state = 'acked';
"#];

/// Rows deleted per statement by [`Database::sweep`]; the lock is released
/// between chunks so requests are not starved by a large backlog.
const SWEEP_CHUNK: i64 = 500;
/// Upper bound of chunks per sweep call; the next sweep continues.
const SWEEP_MAX_CHUNKS: u32 = 200;
/// Acknowledged queue rows are kept this long (for inspection) before the sweep removes them.
pub const ACKED_RETENTION_SECONDS: i64 = 24 * 60 * 60;

/// What one [`Database::sweep`] removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub expired_items: u64,
    pub acked_messages: u64,
    /// False when the sweep stopped at its bound with rows left to delete.
    pub complete: bool,
}

pub struct Database {
    conn: Arc<Mutex<Connection>>,
    /// Idle read-only connections; more are opened when all are busy.
    readers: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
    /// Dropped with the database, which ends the checkpointer thread.
    _checkpointer: std::sync::mpsc::Sender<()>,
    /// Checkpoint passes the thread has completed.
    checkpoints: Arc<AtomicU64>,
}

/// Read connections kept open when idle.
const IDLE_READERS: usize = 4;

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Arc<Database>, StoreError> {
        let mut conn =
            Connection::open(path).map_err(|e| unavailable(&format!("cannot open {}", path.display()), e))?;
        configure(&conn)?;
        migrate(&mut conn)?;
        let checkpoints = Arc::new(AtomicU64::new(0));
        Ok(Arc::new(Database {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Mutex::new(Vec::new())),
            path: path.to_path_buf(),
            _checkpointer: start_checkpointer(path, checkpoints.clone())?,
            checkpoints,
        }))
    }

    /// How many checkpoint passes the checkpointer thread has completed, so
    /// a caller can wait for one that started after its writes.
    pub fn checkpoint_passes(&self) -> u64 {
        self.checkpoints.load(Ordering::SeqCst)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs blocking work on the connection off the async runtime.
    ///
    /// The std mutex is taken and released inside the blocking task, so it is
    /// never held across an await.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled back (Transaction's Drop), but we
            // cannot prove the connection is sound: report, never panic.
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Unavailable("database connection poisoned by an earlier panic".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Runs a read on a read-only connection off the async runtime, beside
    /// whatever the writing connection is doing.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let idle = readers
                .lock()
                .map_err(|_| StoreError::Unavailable("reader pool poisoned by an earlier panic".into()))?
                .pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => open_reader(&path)?,
            };
            let result = work(&mut conn);
            if let Ok(mut idle) = readers.lock()
                && idle.len() < IDLE_READERS
            {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Cheap liveness probe for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err)?;
            Ok(())
        })
        .await
    }

    /// Physically deletes expired items and queue messages acknowledged more
    /// than [`ACKED_RETENTION_SECONDS`] ago, in bounded chunks.
    pub async fn sweep(&self, now_unix: i64) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport {
            complete: true,
            ..SweepReport::default()
        };
        let acked_before_ms = now_unix.saturating_sub(ACKED_RETENTION_SECONDS).saturating_mul(1000);
        let statements = [
            "DELETE FROM items WHERE (pk, sk) IN \
             (SELECT pk, sk FROM items WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)",
            "DELETE FROM queue_messages WHERE seq IN \
             (SELECT seq FROM queue_messages WHERE state = 'acked' AND done_at <= ?1 LIMIT ?2)",
        ];
        for (which, sql) in statements.into_iter().enumerate() {
            let bound = if which == 0 { now_unix } else { acked_before_ms };
            let mut chunks = 0;
            loop {
                let deleted = self
                    .run(move |conn| {
                        let n = conn
                            .execute(sql, rusqlite::params![bound, SWEEP_CHUNK])
                            .map_err(map_err)?;
                        Ok(u64::try_from(n).unwrap_or(u64::MAX))
                    })
                    .await?;
                if which == 0 {
                    report.expired_items += deleted;
                } else {
                    report.acked_messages += deleted;
                }
                chunks += 1;
                if deleted < SWEEP_CHUNK as u64 {
                    break;
                }
                if chunks >= SWEEP_MAX_CHUNKS {
                    report.complete = false;
                    break;
                }
            }
        }
        Ok(report)
    }
}

#[async_trait::async_trait]
impl crate::ports::sweep::StoreSweeper for Database {
    async fn sweep(&self, now_unix: i64) -> Result<u64, StoreError> {
        let report = Database::sweep(self, now_unix).await?;
        Ok(report.expired_items + report.acked_messages)
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    // WAL lets readers in other processes proceed during writes; FULL syncs the
    // WAL on every commit so an acknowledged write survives power loss/SIGKILL.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| unavailable("journal_mode", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "cannot enable WAL (journal_mode is {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| unavailable("synchronous", e))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| unavailable("foreign_keys", e))?;
    // Every item has up to four index entries on random keys (ids, search
    // tokens): a page cache of 64 MiB (default 2 MiB) keeps the hot B-tree
    // pages of a small business's store in memory instead of re-reading them.
    conn.pragma_update(None, "cache_size", -65_536)
        .map_err(|e| unavailable("cache_size", e))?;
    // The checkpointer thread copies the WAL as it goes; the writer
    // checkpoints itself only past 65,536 pages (256 MiB, default 4 MiB), should that
    // thread fall behind: a checkpoint syncs the database file, which on a
    // slow disk stalls the writer for a second or more. Durability is that
    // of each commit (see `table::SqliteTable::transact_in_order` for bulk
    // sequences). Past a checkpoint the WAL file is cut back to 64 MiB.
    conn.pragma_update(None, "wal_autocheckpoint", 65_536)
        .map_err(|e| unavailable("wal_autocheckpoint", e))?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(|e| unavailable("journal_size_limit", e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| unavailable("busy_timeout", e))?;
    Ok(())
}

/// How often the checkpointer copies committed WAL pages into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checkpoints the WAL from a thread of its own, so a writer never waits for
/// the copying and the database file's sync (on a slow disk, seconds for a
/// bulk import). `PASSIVE` never blocks writers or readers; the writer's own
/// automatic checkpoint, at a larger WAL, stays as the backstop.
fn start_checkpointer(path: &Path, passes: Arc<AtomicU64>) -> Result<std::sync::mpsc::Sender<()>, StoreError> {
    let conn = Connection::open(path).map_err(|e| unavailable(&format!("cannot open {}", path.display()), e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| unavailable("busy_timeout", e))?;
    let (keep_running, stop) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpointer".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
                if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %err, "background WAL checkpoint failed");
                }
                passes.fetch_add(1, Ordering::SeqCst);
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpointer: {e}")))?;
    Ok(keep_running)
}

/// A connection that can only read; the writer has set the file up.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| unavailable(&format!("cannot open {}", path.display()), e))?;
    conn.pragma_update(None, "query_only", "ON")
        .map_err(|e| unavailable("query_only", e))?;
    conn.pragma_update(None, "cache_size", -16_384)
        .map_err(|e| unavailable("cache_size", e))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| unavailable("busy_timeout", e))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| unavailable("migration", e))?;
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| unavailable("user_version", e))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "database schema version {current} is newer than this build supports ({SCHEMA_VERSION})"
        )));
    }
    let from =
        usize::try_from(current).map_err(|_| StoreError::Unavailable(format!("bad schema version {current}")))?;
    for migration in MIGRATIONS.iter().skip(from) {
        tx.execute_batch(migration).map_err(|e| unavailable("migration", e))?;
    }
    if current < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(|e| unavailable("user_version", e))?;
    }
    tx.commit().map_err(|e| unavailable("migration commit", e))
}

fn unavailable(what: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("sqlite {what}: {e}"))
}

/// Maps a SQLite error: lock contention (another process held the file past
/// `busy_timeout`) is retryable; everything else is an outage.
pub(crate) fn map_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Contention,
        _ => StoreError::Unavailable(format!("sqlite: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::{SignedDuration, Timestamp};
    use serde_json::json;

    use super::*;
    use crate::ports::clock::TestClock;
    use crate::ports::queue::Queue;
    use crate::ports::table::{Key, Table};

    const NOW: i64 = 1_700_000_000;

    /// Committed pages reach the database file by the checkpointer's next
    /// full pass, without any writer checkpointing (the WAL is far from 256 MiB).
    #[tokio::test]
    async fn the_checkpointer_copies_committed_pages_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("konnecs.db");
        let clock = Arc::new(TestClock::at(Timestamp::from_second(NOW).unwrap()));
        let db = Database::open(&path).unwrap();
        let table = SqliteTable::new(db.clone(), clock);
        let file_size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = file_size();
        let filler = "x".repeat(2_000);
        for chunk in 0..20 {
            let ops = (0..50)
                .map(|i| crate::ports::WriteOp::Put {
                    item: json!({"pk": "p", "sk": format!("{chunk}-{i}"), "filler": filler})
                        .as_object()
                        .unwrap()
                        .clone(),
                    condition: None,
                })
                .collect();
            table.transact(ops).await.unwrap();
        }
        // A pass may be under way now: the second one from here started
        // after the commits. The deadline only catches a thread that died.
        let wanted = db.checkpoint_passes() + 2;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while db.checkpoint_passes() < wanted {
            assert!(std::time::Instant::now() < deadline, "the checkpointer stopped");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            file_size() >= before + 1_000_000,
            "{} bytes before, {} after",
            before,
            file_size()
        );
    }

    #[tokio::test]
    async fn sweep_removes_expired_items_and_old_acked_messages_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("s.db")).unwrap();
        let clock = TestClock::at(Timestamp::from_second(NOW).unwrap());
        let table = SqliteTable::new(db.clone(), Arc::new(clock.clone()));
        for (sk, expires_at) in [
            ("gone", json!(NOW - 1)),
            ("live", json!(NOW + 60)),
            ("forever", json!(null)),
        ] {
            let item = json!({"pk": "p", "sk": sk, "expires_at": expires_at});
            table.put(item.as_object().unwrap().clone(), None).await.unwrap();
        }
        let queue = SqliteQueue::new(db.clone(), "jobs", 3, Arc::new(clock.clone()));
        queue.send_batch(vec!["a".into(), "b".into()]).await.unwrap();
        let got = queue.receive(1, Duration::from_secs(30)).await.unwrap();
        queue.ack(&got[0].receipt).await.unwrap();

        let report = db.sweep(NOW).await.unwrap();
        assert_eq!(
            report,
            SweepReport {
                expired_items: 1,
                acked_messages: 0,
                complete: true
            }
        );
        clock.advance(SignedDuration::from_secs(ACKED_RETENTION_SECONDS + 1));
        let report = db.sweep(NOW + ACKED_RETENTION_SECONDS + 1).await.unwrap();
        assert_eq!(report.acked_messages, 1);
        assert_eq!(queue.depth().await.unwrap(), 1, "unacknowledged messages stay");
        let count: i64 = db
            .run(|c| {
                c.query_row("SELECT count(*) FROM items", [], |r| r.get(0))
                    .map_err(map_err)
            })
            .await
            .unwrap();
        assert_eq!(count, 1, "only the item without a TTL is left after both sweeps");
        assert!(table.get(&Key::new("p", "forever")).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let clock = Arc::new(TestClock::at(Timestamp::from_second(NOW).unwrap()));
        {
            let table = SqliteTable::new(Database::open(&path).unwrap(), clock.clone());
            table
                .put(json!({"pk": "p", "sk": "s"}).as_object().unwrap().clone(), None)
                .await
                .unwrap();
        }
        let db = Database::open(&path).unwrap();
        let version: i64 = db
            .run(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(map_err))
            .await
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let sync: i64 = db
            .run(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0)).map_err(map_err))
            .await
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        let table = SqliteTable::new(db.clone(), clock);
        assert!(table.get(&Key::new("p", "s")).await.unwrap().is_some());

        // A bulk sequence relaxes syncing for its own commit only, whether it
        // commits or stops at a failed condition.
        let put = |sk: &str, condition| crate::ports::WriteOp::Put {
            item: json!({"pk": "bulk", "sk": sk}).as_object().unwrap().clone(),
            condition,
        };
        table
            .transact_in_order(vec![vec![put("a", None)], vec![put("b", None)]])
            .await
            .unwrap();
        let stopped = table
            .transact_in_order(vec![
                vec![put("c", None)],
                vec![put("a", Some(crate::ports::Condition::NotExists))],
            ])
            .await
            .unwrap_err();
        assert_eq!(stopped.committed, 1);
        let sync: i64 = db
            .run(|c| c.query_row("PRAGMA synchronous", [], |r| r.get(0)).map_err(map_err))
            .await
            .unwrap();
        assert_eq!(sync, 2, "back to synchronous=FULL for every other write");
    }

    #[tokio::test]
    async fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.db");
        let db = Database::open(&path).unwrap();
        db.run(|c| {
            c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .map_err(map_err)
        })
        .await
        .unwrap();
        drop(db);
        assert!(matches!(Database::open(&path), Err(StoreError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_panic_in_blocking_work_poisons_into_unavailable_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("p.db")).unwrap();
        let result: Result<(), StoreError> = db.run(|_| panic!("boom")).await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
        assert!(matches!(db.ping().await, Err(StoreError::Unavailable(_))));
    }
}
