//! `Queue` conformance cases: SQS semantics (visibility timeout, redelivery,
//! dead-letter queue), checked on every backend with real waits.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use konnecs::ports::{Queue, QueueError, Received};

use crate::QueueFixture;

/// The suite's queues dead-letter a message after this many receives.
pub const MAX_RECEIVES: u32 = 2;
const VISIBILITY: Duration = Duration::from_secs(1);
/// Upper bound on any wait for a message to (re)appear.
const PATIENCE: Duration = Duration::from_secs(15);

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

/// Receives for `window` and returns everything that showed up.
async fn receive_for(queue: &dyn Queue, window: Duration, visibility: Duration) -> Vec<Received> {
    let deadline = Instant::now() + window;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let batch = queue.receive(10, visibility).await.unwrap();
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
    // A long visibility: nothing may come back during this test.
    let got = receive_at_least(q.queue.as_ref(), 25, Duration::from_secs(60)).await;
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
    let first = receive_at_least(q.queue.as_ref(), 1, VISIBILITY).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body, sent);
    assert_eq!(first[0].receive_count, 1);
    // Hidden while in flight.
    assert!(
        q.queue.receive(10, VISIBILITY).await.unwrap().is_empty(),
        "in flight: not visible"
    );
    let second = receive_at_least(q.queue.as_ref(), 1, VISIBILITY).await;
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
    let later = receive_for(
        q.queue.as_ref(),
        VISIBILITY * 2 + Duration::from_millis(500),
        VISIBILITY,
    )
    .await;
    assert!(later.is_empty(), "acknowledged message came back: {later:?}");
}

pub async fn stale_receipt_ack_is_not_an_error(q: &QueueFixture) {
    q.queue.send_batch(vec![body("stale")]).await.unwrap();
    let first = receive_at_least(q.queue.as_ref(), 1, VISIBILITY).await;
    assert_eq!(first.len(), 1);
    let second = receive_at_least(q.queue.as_ref(), 1, Duration::from_secs(60)).await;
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
        let got = receive_at_least(q.queue.as_ref(), 1, VISIBILITY).await;
        assert_eq!(got.len(), 1, "receive #{receive}");
        assert_eq!(got[0].receive_count, receive);
        message_id = Some(got[0].message_id.clone());
        // Not acknowledged: the consumer "failed".
    }
    // The next receive attempt after the timeout moves it to the DLQ instead of delivering it.
    let after = receive_for(q.queue.as_ref(), VISIBILITY + Duration::from_millis(700), VISIBILITY).await;
    assert!(after.is_empty(), "delivered beyond max_receives: {after:?}");
    let dead = receive_at_least(q.dead_letters.as_ref(), 1, Duration::from_secs(30)).await;
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
    let got = receive_at_least(q.queue.as_ref(), 1, Duration::from_secs(60)).await;
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
