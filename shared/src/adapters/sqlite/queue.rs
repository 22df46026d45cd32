//! `Queue` on SQLite with SQS's semantics: visibility timeout, redelivery with
//! a fresh receipt, and a dead-letter queue (`{name}-dlq`) after too many receives.
//!
//! Times are milliseconds from the injected `Clock`, so a test clock drives
//! visibility exactly as it drives table TTLs.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior, params};

use super::{Database, map_err};
use crate::ports::clock::Clock;
use crate::ports::queue::{MAX_BATCH, MAX_DELAY, Queue, QueueError, Received};
use crate::ports::table::StoreError;

/// SQS limits, kept so both backends reject the same requests.
const MAX_BODY_BYTES: usize = 256 * 1024;
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);
/// Rounds of "move dead letters, look again" per receive; each round either
/// delivers or moves every row it sees, so this only bounds pathological backlogs.
const MAX_RECEIVE_ROUNDS: usize = 50;

pub struct SqliteQueue {
    db: Arc<Database>,
    name: String,
    /// Receives after which an unacknowledged message goes to the DLQ.
    max_receives: u32,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("name", &self.name)
            .field("max_receives", &self.max_receives)
            .finish()
    }
}

impl SqliteQueue {
    /// `max_receives` is SQS's maxReceiveCount (at least 1).
    pub fn new(db: Arc<Database>, name: impl Into<String>, max_receives: u32, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            name: name.into(),
            max_receives: max_receives.max(1),
            clock,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn dlq_name(&self) -> String {
        format!("{}-dlq", self.name)
    }

    /// The dead-letter queue as a queue of its own (without a further DLQ).
    pub fn dead_letters(&self) -> SqliteQueue {
        SqliteQueue {
            db: Arc::clone(&self.db),
            name: self.dlq_name(),
            max_receives: u32::MAX,
            clock: Arc::clone(&self.clock),
        }
    }

    fn now_ms(&self) -> i64 {
        self.clock.now().as_millisecond()
    }

    /// Stores `bodies`, visible once `delay` has passed.
    async fn insert(&self, bodies: Vec<String>, delay: Duration) -> Result<(), QueueError> {
        if let Some(body) = bodies.iter().find(|b| b.is_empty() || b.len() > MAX_BODY_BYTES) {
            return Err(QueueError::Invalid(format!(
                "message body must be 1 to {MAX_BODY_BYTES} bytes (got {})",
                body.len()
            )));
        }
        if bodies.is_empty() {
            return Ok(());
        }
        let queue = self.name.clone();
        let now = self.now_ms();
        let visible_at = now.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        self.db
            .run(move |conn| {
                // All or nothing: a failed send leaves no partial batch behind.
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO queue_messages (queue, id, body, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .map_err(map_err)?;
                    for body in &bodies {
                        stmt.execute(params![queue, uuid::Uuid::new_v4().to_string(), body, now, visible_at])
                            .map_err(map_err)?;
                    }
                }
                tx.commit().map_err(map_err)
            })
            .await
            .map_err(queue_error)
    }
}

fn queue_error(e: StoreError) -> QueueError {
    match e {
        StoreError::Invalid(m) => QueueError::Invalid(m),
        other => QueueError::Unavailable(other.to_string()),
    }
}

fn receive_in(
    conn: &mut Connection,
    queue: &str,
    dlq: &str,
    max: usize,
    max_receives: u32,
    now: i64,
    visible_at: i64,
) -> Result<Vec<Received>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let mut delivered = Vec::with_capacity(max);
    for _ in 0..MAX_RECEIVE_ROUNDS {
        let wanted = max - delivered.len();
        let candidates: Vec<(i64, String, String, u32)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, id, body, receive_count FROM queue_messages \
                     WHERE queue = ?1 AND state = 'ready' AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3",
                )
                .map_err(map_err)?;
            let rows = stmt
                .query_map(params![queue, now, i64::try_from(wanted).unwrap_or(i64::MAX)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(map_err)?;
            rows.collect::<Result<_, _>>().map_err(map_err)?
        };
        if candidates.is_empty() {
            break;
        }
        for (seq, message_id, body, receive_count) in candidates {
            if receive_count >= max_receives {
                // Redrive like SQS: the same message (id, count) moves to the DLQ,
                // visible there at once.
                tx.prepare_cached(
                    "UPDATE queue_messages SET queue = ?1, visible_at = ?2, receipt = NULL WHERE seq = ?3",
                )
                .and_then(|mut s| s.execute(params![dlq, now, seq]))
                .map_err(map_err)?;
                continue;
            }
            let receipt = uuid::Uuid::new_v4().to_string();
            let receive_count = receive_count.saturating_add(1);
            tx.prepare_cached(
                "UPDATE queue_messages SET receipt = ?1, visible_at = ?2, receive_count = ?3 WHERE seq = ?4",
            )
            .and_then(|mut s| s.execute(params![receipt, visible_at, receive_count, seq]))
            .map_err(map_err)?;
            delivered.push(Received {
                message_id,
                receipt,
                body,
                receive_count,
            });
        }
        if delivered.len() >= max {
            break;
        }
    }
    tx.commit().map_err(map_err)?;
    Ok(delivered)
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        self.insert(bodies, Duration::ZERO).await
    }

    async fn send_delayed(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        if delay > MAX_DELAY {
            return Err(QueueError::Invalid("delay longer than 15 minutes".into()));
        }
        self.insert(vec![body], delay).await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        if max == 0 || max > MAX_BATCH {
            return Err(QueueError::Invalid(format!("receive takes 1 to {MAX_BATCH} messages")));
        }
        if visibility > MAX_VISIBILITY {
            return Err(QueueError::Invalid("visibility timeout longer than 12 hours".into()));
        }
        let now = self.now_ms();
        let visible_at = now.saturating_add(i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX));
        let (queue, dlq, max_receives) = (self.name.clone(), self.dlq_name(), self.max_receives);
        self.db
            .run(move |conn| receive_in(conn, &queue, &dlq, max, max_receives, now, visible_at))
            .await
            .map_err(queue_error)
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        if receipt.is_empty() {
            return Err(QueueError::Invalid("empty receipt".into()));
        }
        let (queue, receipt) = (self.name.clone(), receipt.to_owned());
        let now = self.now_ms();
        self.db
            .run(move |conn| {
                // Only the latest delivery's receipt matches: a stale receipt
                // succeeds and deletes nothing, as on SQS.
                conn.prepare_cached(
                    "UPDATE queue_messages SET state = 'acked', done_at = ?1, receipt = NULL \
                     WHERE queue = ?2 AND receipt = ?3 AND state = 'ready'",
                )
                .and_then(|mut s| s.execute(params![now, queue, receipt]))
                .map_err(map_err)?;
                Ok(())
            })
            .await
            .map_err(queue_error)
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let queue = self.name.clone();
        self.db
            .run(move |conn| {
                let n: i64 = conn
                    .prepare_cached("SELECT count(*) FROM queue_messages WHERE queue = ?1 AND state = 'ready'")
                    .and_then(|mut s| s.query_row(params![queue], |r| r.get(0)))
                    .map_err(map_err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
            .map_err(queue_error)
    }
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::ports::clock::TestClock;

    fn queue(max_receives: u32) -> (SqliteQueue, TestClock, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("q.db")).unwrap();
        let clock = TestClock::at(Timestamp::from_second(1_700_000_000).unwrap());
        (
            SqliteQueue::new(db, "jobs", max_receives, Arc::new(clock.clone())),
            clock,
            dir,
        )
    }

    #[tokio::test]
    async fn stale_receipt_does_not_delete_a_redelivered_message() {
        let (q, clock, _dir) = queue(5);
        q.send_batch(vec!["m".into()]).await.unwrap();
        let first = q.receive(1, Duration::from_secs(30)).await.unwrap();
        clock.advance(SignedDuration::from_secs(31));
        let second = q.receive(1, Duration::from_secs(30)).await.unwrap();
        assert_eq!(second[0].message_id, first[0].message_id);
        q.ack(&first[0].receipt).await.unwrap();
        assert_eq!(q.depth().await.unwrap(), 1, "stale receipt deleted the message");
        q.ack(&second[0].receipt).await.unwrap();
        assert_eq!(q.depth().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn visibility_follows_the_injected_clock() {
        let (q, clock, _dir) = queue(5);
        q.send_batch(vec!["m".into()]).await.unwrap();
        assert_eq!(q.receive(10, Duration::from_secs(30)).await.unwrap().len(), 1);
        clock.advance(SignedDuration::from_secs(29));
        assert!(q.receive(10, Duration::from_secs(30)).await.unwrap().is_empty());
        clock.advance(SignedDuration::from_secs(1));
        assert_eq!(
            q.receive(10, Duration::from_secs(30)).await.unwrap()[0].receive_count,
            2
        );
    }

    #[tokio::test]
    async fn redrive_moves_only_exhausted_messages_and_still_fills_the_batch() {
        let (q, clock, _dir) = queue(1);
        q.send_batch(vec!["poison".into()]).await.unwrap();
        assert_eq!(q.receive(10, Duration::from_secs(5)).await.unwrap().len(), 1);
        clock.advance(SignedDuration::from_secs(5));
        q.send_batch(vec!["fresh".into()]).await.unwrap();
        let got = q.receive(10, Duration::from_secs(5)).await.unwrap();
        assert_eq!(got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["fresh"]);
        let dead = q.dead_letters().receive(10, Duration::from_secs(5)).await.unwrap();
        assert_eq!(dead.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["poison"]);
        assert_eq!(q.dead_letters().name(), "jobs-dlq");
    }

    #[tokio::test]
    async fn empty_and_oversized_bodies_are_invalid() {
        let (q, _clock, _dir) = queue(5);
        assert!(matches!(
            q.send_batch(vec![String::new()]).await,
            Err(QueueError::Invalid(_))
        ));
        assert!(matches!(
            q.send_batch(vec!["x".repeat(MAX_BODY_BYTES + 1)]).await,
            Err(QueueError::Invalid(_))
        ));
        assert_eq!(q.depth().await.unwrap(), 0);
    }
}
