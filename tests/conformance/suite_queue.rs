//! `Queue` conformance cases: SQS semantics (visibility timeout, redelivery,
//! dead-letter queue), checked on every backend.
//!
//! Time: a backend whose visibility runs on the `Clock` port (the embedded
//! queue) hands the suite a test clock, and the cases move it past each
//! timeout: nothing waits. A backend on real time (SQS on the emulator) is
//! waited out, and wherever a case asserts that a message stays hidden it
//! hides it for [`HIDDEN`], far longer than any pause a loaded machine puts
//! between two calls, so the assertion cannot fail by timing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use konnecs::ports::{Queue, QueueError, Received};

use crate::QueueFixture;

/// The suite's queues dead-letter a message after this many receives.
pub const MAX_RECEIVES: u32 = 2;
/// The visibility timeout of deliveries the suite lets run out (it only
/// waits for what happens after, never for something to happen before).
const VISIBILITY: Duration = Duration::from_secs(1);
/// The visibility timeout of a delivery the suite asserts stays hidden.
const HIDDEN: Duration = Duration::from_secs(20);
/// The visibility timeout of deliveries that must not come back while a
/// case runs at all (receiving many messages takes many calls).
const FOR_GOOD: Duration = Duration::from_secs(600);
/// Upper bound on any real-time wait for a message to (re)appear: past
/// [`HIDDEN`], with room for a slow emulator.
const PATIENCE: Duration = Duration::from_secs(60);

impl QueueFixture {
    /// Lets a delivery's visibility timeout of `visibility` run out. On the
    /// suite's clock it has once this returns; in real time the receive
    /// loops below wait for it.
    fn let_expire(&self, visibility: Duration) {
        if let Some(clock) = &self.clock {
            let by = SignedDuration::try_from(visibility).expect("short duration");
            clock.advance(by + SignedDuration::from_secs(1));
        }
    }
}

/// Receives until `want` messages arrived or `PATIENCE` ran out; a backend may
/// return fewer than asked per call.
async fn receive_at_least(queue: &dyn Queue, want: usize, visibility: Duration) -> Vec<Received> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        let batch = queue.receive((want - got.len()).min(10), visibility).await.unwrap();
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        got.extend(batch);
    }
    got
}

/// Everything that shows up on the queue while `window` passes (on the
/// suite's clock: once it has passed).
async fn receive_for(q: &QueueFixture, window: Duration, visibility: Duration) -> Vec<Received> {
    let mut got = Vec::new();
    if q.clock.is_some() {
        q.let_expire(window);
        loop {
            let batch = q.queue.receive(10, visibility).await.unwrap();
            if batch.is_empty() {
                return got;
            }
            got.extend(batch);
        }
    }
    let deadline = Instant::now() + window;
    while Instant::now() < deadline {
        let batch = q.queue.receive(10, visibility).await.unwrap();
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        got.extend(batch);
    }
    got
}

fn body(tag: &str) -> String {
    format!("{tag}-{}", uuid::Uuid::new_v4().simple())
}

pub async fn send_batch_of_25_is_received_exactly_once(q: &QueueFixture) {
    let bodies: Vec<String> = (0..25).map(|i| body(&format!("m{i}"))).collect();
    q.queue.send_batch(bodies.clone()).await.unwrap();
    // Nothing may come back during this test.
    let got = receive_at_least(q.queue.as_ref(), 25, FOR_GOOD).await;
    let mut seen: HashMap<String, u32> = HashMap::new();
    for message in &got {
        *seen.entry(message.body.clone()).or_default() += 1;
        assert_eq!(message.receive_count, 1);
        q.queue.ack(&message.receipt).await.unwrap();
    }
    assert_eq!(got.len(), 25, "every message once");
    for body in &bodies {
        assert_eq!(seen.get(body), Some(&1), "{body} received exactly once");
    }
    let ids: std::collections::HashSet<&str> = got.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 25, "distinct message ids");
    assert!(q.queue.receive(10, VISIBILITY).await.unwrap().is_empty());
}

pub async fn unacknowledged_message_is_redelivered_after_visibility_timeout(q: &QueueFixture) {
    let sent = body("redeliver");
    q.queue.send_batch(vec![sent.clone()]).await.unwrap();
    let first = receive_at_least(q.queue.as_ref(), 1, HIDDEN).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body, sent);
    assert_eq!(first[0].receive_count, 1);
    // Hidden while in flight.
    assert!(
        q.queue.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "in flight: not visible"
    );
    q.let_expire(HIDDEN);
    let second = receive_at_least(q.queue.as_ref(), 1, HIDDEN).await;
    assert_eq!(second.len(), 1, "redelivered after the visibility timeout");
    assert_eq!(
        second[0].message_id, first[0].message_id,
        "same message id across deliveries"
    );
    assert_eq!(second[0].body, sent);
    assert_eq!(second[0].receive_count, 2);
    assert_ne!(second[0].receipt, first[0].receipt, "a new receipt per delivery");
    q.queue.ack(&second[0].receipt).await.unwrap();
}

pub async fn acknowledged_message_is_not_redelivered(q: &QueueFixture) {
    q.queue.send_batch(vec![body("ack")]).await.unwrap();
    let got = receive_at_least(q.queue.as_ref(), 1, VISIBILITY).await;
    assert_eq!(got.len(), 1);
    q.queue.ack(&got[0].receipt).await.unwrap();
    // Acknowledging twice is not an error.
    q.queue.ack(&got[0].receipt).await.unwrap();
    let later = receive_for(q, VISIBILITY * 2 + Duration::from_millis(500), VISIBILITY).await;
    assert!(later.is_empty(), "acknowledged message came back: {later:?}");
}

pub async fn stale_receipt_ack_is_not_an_error(q: &QueueFixture) {
    q.queue.send_batch(vec![body("stale")]).await.unwrap();
    let first = receive_at_least(q.queue.as_ref(), 1, VISIBILITY).await;
    assert_eq!(first.len(), 1);
    q.let_expire(VISIBILITY);
    let second = receive_at_least(q.queue.as_ref(), 1, HIDDEN).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].message_id, first[0].message_id);
    // SQS accepts a stale receipt; whether it deletes is unspecified there
    // (the SQLite queue keeps the message: see its unit tests).
    q.queue.ack(&first[0].receipt).await.unwrap();
    q.queue.ack(&second[0].receipt).await.unwrap();
    assert_eq!(q.queue.depth().await.unwrap(), 0);
}

pub async fn message_lands_in_dead_letter_queue_after_max_receives(q: &QueueFixture) {
    let sent = body("poison");
    q.queue.send_batch(vec![sent.clone()]).await.unwrap();
    let mut message_id = None;
    for receive in 1..=MAX_RECEIVES {
        if receive > 1 {
            q.let_expire(VISIBILITY);
        }
        let got = receive_at_least(q.queue.as_ref(), 1, VISIBILITY).await;
        assert_eq!(got.len(), 1, "receive #{receive}");
        assert_eq!(got[0].receive_count, receive);
        message_id = Some(got[0].message_id.clone());
        // Not acknowledged: the consumer "failed".
    }
    // A receive attempt after the timeout moves it to the DLQ instead of
    // delivering it: attempts go on until it is there, none delivers it.
    q.let_expire(VISIBILITY);
    let deadline = Instant::now() + PATIENCE;
    let dead = loop {
        let after = q.queue.receive(10, VISIBILITY).await.unwrap();
        assert!(after.is_empty(), "delivered beyond max_receives: {after:?}");
        let dead = q.dead_letters.receive(10, FOR_GOOD).await.unwrap();
        if !dead.is_empty() || Instant::now() > deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dead.len(), 1, "the message is in the dead-letter queue");
    assert_eq!(dead[0].body, sent);
    assert_eq!(
        Some(&dead[0].message_id),
        message_id.as_ref(),
        "same message id in the DLQ"
    );
    q.dead_letters.ack(&dead[0].receipt).await.unwrap();
    assert_eq!(q.queue.depth().await.unwrap(), 0);
}

pub async fn depth_counts_waiting_and_in_flight_messages(q: &QueueFixture) {
    assert_eq!(q.queue.depth().await.unwrap(), 0);
    q.queue
        .send_batch(vec![body("d1"), body("d2"), body("d3")])
        .await
        .unwrap();
    assert_eq!(q.queue.depth().await.unwrap(), 3);
    let got = receive_at_least(q.queue.as_ref(), 1, HIDDEN).await;
    assert_eq!(q.queue.depth().await.unwrap(), 3, "in-flight messages still count");
    q.queue.ack(&got[0].receipt).await.unwrap();
    assert_eq!(q.queue.depth().await.unwrap(), 2);
}

pub async fn receive_of_more_than_ten_is_invalid(q: &QueueFixture) {
    let result = q.queue.receive(11, VISIBILITY).await;
    assert!(matches!(result, Err(QueueError::Invalid(_))), "{result:?}");
    let result = q.queue.receive(0, VISIBILITY).await;
    assert!(matches!(result, Err(QueueError::Invalid(_))), "{result:?}");
}

pub async fn delayed_message_stays_hidden_until_its_delay_passes(q: &QueueFixture) {
    let sent = body("delayed");
    q.queue.send_delayed(sent.clone(), HIDDEN).await.unwrap();
    assert!(
        q.queue.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "not visible before its delay"
    );
    q.let_expire(HIDDEN);
    let got = receive_at_least(q.queue.as_ref(), 1, FOR_GOOD).await;
    assert_eq!(got.len(), 1, "visible once the delay passed");
    assert_eq!(got[0].body, sent);
    q.queue.ack(&got[0].receipt).await.unwrap();
    let too_long = q
        .queue
        .send_delayed(
            body("too-late"),
            konnecs::ports::queue::MAX_DELAY + Duration::from_secs(1),
        )
        .await;
    assert!(matches!(too_long, Err(QueueError::Invalid(_))), "{too_long:?}");
}
