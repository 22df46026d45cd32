//! Reminder dispatch: the minute tick (queries only, cursor, catch-up) and
//! the `reminders-send` consumer (pending → sent first, so redelivery never
//! sends twice; dropped once the appointment started; failures retried).
//! Appointments are booked, moved and cancelled through the real router and
//! scheduling service (`konnecs_tests::practice`), so the reminders are the
//! ones bookings really write, in whatever layout `services::reminders` keeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use konnecs::app::AppState;
use konnecs::inbound::events::{Message, reminders};
use konnecs::ports::mailer::{Email, MailError, Mailer};
use konnecs::ports::{
    BatchOp, Condition, Item, Key, Page, PartialCommit, Query, Received, Sms, SmsError, StoreError, Table, TestClock,
    Update, WriteOp,
};
use konnecs::services::notifications::notice_key;
use konnecs::services::reminder_dispatch::{self, ReminderMessage, STATUS_DROPPED, STATUS_PENDING, STATUS_SENT};
use konnecs::services::scheduling::booking_key;
use konnecs_tests::local::drain_jobs;
use konnecs_tests::practice::{Practice, booking_id, texting_guest};
use serde_json::{Value, json};

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn setup(at: &str) -> (AppState, TestClock, tempfile::TempDir) {
    let clock = TestClock::at(ts(at));
    let (state, dir) = konnecs_tests::local::temp_state_with_clock(Arc::new(clock.clone()));
    (state, clock, dir)
}

/// The event type's reminder plan: an email and a text an hour before.
fn hour_before() -> Value {
    json!({"reminders": [{"offset_minutes": 60, "channels": ["email", "sms"]}]})
}

/// Whitfield Dental with the hour-before reminders.
async fn practice(state: &AppState) -> Practice {
    Practice::open(state, hour_before()).await
}

/// `name@example.com` in London, with a phone and consent to texts.
fn patient(name: &str) -> Value {
    texting_guest(name, &format!("{name}@example.com"), "Europe/London", "+447911123456")
}

/// Books `start` for `name`: the booking's id and its reminders' keys.
async fn book(practice: &Practice, start: &str, name: &str) -> (String, Vec<Key>) {
    let id = booking_id(&practice.book(start, &patient(name)).await);
    let keys = practice.reminder_keys(&id).await;
    (id, keys)
}

fn messages(received: &[Received]) -> Vec<Message> {
    received
        .iter()
        .map(|r| Message {
            message_id: r.message_id.clone(),
            body: r.body.clone(),
            receive_count: r.receive_count,
        })
        .collect()
}

fn reminder(received: &Received) -> ReminderMessage {
    serde_json::from_str(&received.body).expect("a reminder message")
}

/// Everything currently visible on the reminders queue.
async fn take_reminders(state: &AppState) -> Vec<Received> {
    let mut all = Vec::new();
    for _ in 0..100 {
        let batch = state
            .reminders
            .receive(10, Duration::from_secs(60))
            .await
            .expect("receive");
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
    panic!("the reminders queue did not run dry in 100 receives");
}

/// Consumes and acknowledges what succeeded, as the local worker does.
async fn consume_and_ack(state: &AppState, received: &[Received]) -> Vec<String> {
    let outcome = reminders::consume(state.clone(), messages(received)).await;
    for r in received.iter().filter(|r| !outcome.failed.contains(&r.message_id)) {
        state.reminders.ack(&r.receipt).await.expect("ack");
    }
    outcome.failed
}

async fn tick(state: &AppState) -> u64 {
    reminders::tick(state.clone()).await.expect("tick").processed
}

/// Reminder messages in the outbox (email and SMS), oldest first.
async fn sent_reminders(state: &AppState) -> Vec<Value> {
    drain_jobs(state).await;
    let (items, _) = konnecs::adapters::outbox::list(state.table.as_ref(), 200, None)
        .await
        .expect("outbox");
    let mut found: Vec<Value> = items
        .into_iter()
        .map(Value::Object)
        .filter(|m| {
            m["kind"] == "booking_reminder"
                || (m["kind"] == "sms" && m["text"].as_str().unwrap_or_default().contains("reminder"))
        })
        .collect();
    found.reverse();
    found
}

async fn status(state: &AppState, key: &Key) -> Option<String> {
    state
        .table
        .get(key)
        .await
        .expect("get")
        .and_then(|item| item.get("status").and_then(Value::as_str).map(str::to_owned))
}

#[tokio::test]
async fn every_reminder_message_delivered_three_times_sends_each_reminder_once() {
    let (state, clock, _dir) = setup("2026-12-01T08:00:00Z");
    let practice = Practice::open(&state, json!({"reminders": hour_before()["reminders"], "seats": 6})).await;
    let mut keys = Vec::new();
    for i in 0..6 {
        keys.extend(book(&practice, "2026-12-01T10:00:00Z", &format!("b{i}")).await.1);
    }
    assert_eq!(keys.len(), 12, "an email and a text for each of 6 bookings");
    drain_jobs(&state).await;
    let calls = Arc::new(Calls::default());
    let mut state = state;
    state.mailer = Arc::new(CountingMailer(state.mailer.clone(), calls.clone()));
    state.sms = Arc::new(CountingSms(state.sms.clone(), calls.clone()));
    assert_eq!(tick(&state).await, 0, "nothing due at 08:00");
    clock.set(ts("2026-12-01T09:00:10Z"));
    assert_eq!(tick(&state).await, 12, "6 bookings × (email, sms) due at 09:00");
    let received = take_reminders(&state).await;
    assert_eq!(received.len(), 12);
    let mut fanned: Vec<Key> = received.iter().map(|r| reminder(r).key()).collect();
    let mut booked = keys.clone();
    fanned.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
    booked.sort_by(|a, b| (&a.pk, &a.sk).cmp(&(&b.pk, &b.sk)));
    assert_eq!(fanned, booked, "the tick fanned out exactly the bookings' reminders");

    // Three deliveries of every message, two of them concurrent.
    let (a, b) = tokio::join!(
        reminders::consume(state.clone(), messages(&received)),
        reminders::consume(state.clone(), messages(&received))
    );
    let c = reminders::consume(state.clone(), messages(&received)).await;
    assert!(a.failed.is_empty() && b.failed.is_empty() && c.failed.is_empty());

    // Each reminder reached its provider exactly once.
    let mut provider_calls = calls.all();
    provider_calls.sort();
    let mut expected: Vec<String> = received.iter().map(|r| reminder(r).idempotency_key()).collect();
    expected.sort();
    assert_eq!(provider_calls, expected);
    let sent = sent_reminders(&state).await;
    let emails = sent.iter().filter(|m| m["kind"] == "booking_reminder").count();
    let sms = sent.iter().filter(|m| m["kind"] == "sms").count();
    assert_eq!((emails, sms), (6, 6), "{sent:#?}");
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_SENT), "{key:?}");
    }
    // A tick running again for the same minute fans out nothing new.
    assert_eq!(tick(&state).await, 0);
}

#[tokio::test]
async fn a_reminder_whose_tick_was_missed_is_sent_late_if_the_appointment_has_not_started() {
    let (state, clock, _dir) = setup("2026-12-01T08:00:00Z");
    let practice = practice(&state).await;
    let (_, keys) = book(&practice, "2026-12-01T10:00:00Z", "b1").await;
    tick(&state).await;
    // The ticks from 08:01 to 09:39 never ran.
    clock.set(ts("2026-12-01T09:40:00Z"));
    assert_eq!(tick(&state).await, 2);
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().any(|m| m["to"] == "b1@example.com"));
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_SENT));
    }
}

/// A table that, armed, runs `before` just ahead of the next transaction:
/// something that happens between a booking's planning and its commit.
struct BeforeNextCommit {
    inner: Arc<dyn Table>,
    armed: AtomicBool,
    before: Box<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>,
}

#[async_trait]
impl Table for BeforeNextCommit {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            (self.before)().await;
        }
        self.inner.transact(ops).await
    }
    async fn transact_in_order(&self, transactions: Vec<Vec<WriteOp>>) -> Result<(), PartialCommit> {
        self.inner.transact_in_order(transactions).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        self.inner.batch_write(ops).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn a_reminder_committed_into_a_minute_the_tick_already_read_is_still_sent_once() {
    let (state, clock, _dir) = setup("2026-12-01T08:00:00Z");
    // The 09:00 tick runs (and reads the 09:00 minute) after a booking
    // planned at 08:59:59 its 60-minute reminder, due 09:00, and before
    // that booking commits it into that minute.
    let ticking = {
        let (state, clock) = (state.clone(), clock.clone());
        move || {
            let (state, clock) = (state.clone(), clock.clone());
            Box::pin(async move {
                clock.set(ts("2026-12-01T09:00:05Z"));
                assert_eq!(tick(&state).await, 0, "the minute is still empty");
            }) as futures::future::BoxFuture<'static, ()>
        }
    };
    let racing = Arc::new(BeforeNextCommit {
        inner: state.table.clone(),
        armed: AtomicBool::new(false),
        before: Box::new(ticking),
    });
    let booking_state = AppState {
        table: racing.clone(),
        ..state.clone()
    };
    let practice = practice(&booking_state).await;
    tick(&state).await;
    clock.set(ts("2026-12-01T08:59:59Z"));
    racing.armed.store(true, Ordering::SeqCst);
    let (_, keys) = book(&practice, "2026-12-01T10:00:00Z", "late").await;
    assert!(!racing.armed.load(Ordering::SeqCst), "the tick ran before the commit");
    assert_eq!(keys.len(), 2);
    clock.set(ts("2026-12-01T09:01:00Z"));
    assert_eq!(tick(&state).await, 2, "the 09:00 minute is read again");
    clock.set(ts("2026-12-01T09:02:00Z"));
    let again = tick(&state).await;
    assert!(again <= 2);
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 2, "one email and one SMS, however often found: {sent:#?}");
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_SENT));
    }
}

#[tokio::test]
async fn a_reminder_whose_tick_was_missed_is_dropped_once_the_appointment_started() {
    let (state, clock, _dir) = setup("2026-12-01T08:00:00Z");
    let practice = practice(&state).await;
    let (_, keys) = book(&practice, "2026-12-01T10:00:00Z", "b1").await;
    tick(&state).await;
    clock.set(ts("2026-12-01T10:05:00Z"));
    assert_eq!(tick(&state).await, 2, "the missed minute is still found");
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    assert!(sent_reminders(&state).await.is_empty());
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_DROPPED));
    }
}

#[tokio::test]
async fn cancelled_booking_sends_no_reminder() {
    let (state, clock, _dir) = setup("2026-12-01T08:00:00Z");
    let practice = practice(&state).await;
    let (id, keys) = book(&practice, "2026-12-01T10:00:00Z", "b1").await;
    assert_eq!(keys.len(), 2);
    tick(&state).await;
    clock.set(ts("2026-12-01T08:30:00Z"));
    practice.cancel(&id, None).await;
    for key in &keys {
        assert_eq!(status(&state, key).await, None, "the cancel removed {key:?}");
    }
    clock.set(ts("2026-12-01T09:00:00Z"));
    assert_eq!(tick(&state).await, 0);
    assert!(sent_reminders(&state).await.is_empty());
}

#[tokio::test]
async fn a_reminder_already_queued_when_the_booking_is_cancelled_is_not_sent() {
    let (state, clock, _dir) = setup("2026-12-01T08:59:00Z");
    let practice = practice(&state).await;
    let (id, _) = book(&practice, "2026-12-01T10:00:00Z", "b1").await;
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:00Z"));
    assert_eq!(tick(&state).await, 2);
    // The cancel commits between the fan-out and the consumer.
    practice.cancel(&id, None).await;
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    assert!(sent_reminders(&state).await.is_empty());
}

#[tokio::test]
async fn rescheduling_before_the_due_time_sends_only_the_reminder_for_the_new_time() {
    let (state, clock, _dir) = setup("2026-12-01T08:00:00Z");
    let practice = practice(&state).await;
    let (id, old) = book(&practice, "2026-12-01T10:00:00Z", "b1").await;
    tick(&state).await;
    // Moved to 14:00 before the 09:00 reminder was due: old reminders replaced.
    clock.set(ts("2026-12-01T08:30:00Z"));
    practice.reschedule(&id, "2026-12-01T14:00:00Z").await;
    let new = practice.reminder_keys(&id).await;
    assert_eq!(new.len(), 2);
    for key in &old {
        assert_eq!(status(&state, key).await, None, "the reschedule removed {key:?}");
    }
    clock.set(ts("2026-12-01T09:00:30Z"));
    assert_eq!(tick(&state).await, 0, "nothing for the old time");
    clock.set(ts("2026-12-01T13:00:30Z"));
    assert_eq!(tick(&state).await, 2);
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 2);
    for message in &sent {
        assert!(
            message["text"].as_str().unwrap_or_default().contains("14:00"),
            "{message}"
        );
    }
    for key in &new {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_SENT));
    }
}

/// Counts provider calls per idempotency key (the outbox would hide a
/// duplicate send by deduplicating; this sees every call).
#[derive(Default)]
struct Calls(std::sync::Mutex<Vec<String>>);

impl Calls {
    fn record(&self, key: &str) {
        if let Ok(mut calls) = self.0.lock() {
            calls.push(key.to_string());
        }
    }
    fn all(&self) -> Vec<String> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

struct CountingMailer(Arc<dyn Mailer>, Arc<Calls>);

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, email: &Email, key: &str) -> Result<(), MailError> {
        self.1.record(key);
        self.0.send(email, key).await
    }
}

struct CountingSms(Arc<dyn Sms>, Arc<Calls>);

#[async_trait]
impl Sms for CountingSms {
    fn sender(&self) -> &str {
        self.0.sender()
    }
    async fn send(&self, to: &str, body: &str, key: &str) -> Result<(), SmsError> {
        self.1.record(key);
        self.0.send(to, body, key).await
    }
}

/// A mailer that is down.
struct DownMailer;

#[async_trait]
impl Mailer for DownMailer {
    async fn send(&self, _email: &Email, _key: &str) -> Result<(), MailError> {
        Err(MailError::Unavailable("provider down".into()))
    }
}

#[tokio::test]
async fn a_failed_send_is_reported_for_that_message_alone_and_sent_on_redelivery() {
    let (state, clock, _dir) = setup("2026-12-01T08:59:00Z");
    let practice = practice(&state).await;
    book(&practice, "2026-12-01T10:00:00Z", "b1").await;
    drain_jobs(&state).await;
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:00Z"));
    tick(&state).await;
    let received = take_reminders(&state).await;
    let email = received
        .iter()
        .find(|r| reminder(r).channel == "email")
        .expect("email reminder");
    let (email_message, email_key) = (email.message_id.clone(), reminder(email).key());

    let mut down = state.clone();
    down.mailer = Arc::new(DownMailer);
    let failed = consume_and_ack(&down, &received).await;
    assert_eq!(
        failed,
        std::slice::from_ref(&email_message),
        "only the email failed; the SMS went"
    );
    assert_eq!(status(&state, &email_key).await.as_deref(), Some(STATUS_PENDING));

    // Redelivered after the visibility timeout, with the provider back.
    clock.advance(SignedDuration::from_secs(61));
    let again = take_reminders(&state).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, email_message);
    assert_eq!(again[0].receive_count, 2);
    assert!(consume_and_ack(&state, &again).await.is_empty());
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.iter().filter(|m| m["kind"] == "booking_reminder").count(), 1);
    assert_eq!(status(&state, &email_key).await.as_deref(), Some(STATUS_SENT));
}

#[tokio::test]
async fn the_tick_catches_up_a_bounded_window_with_queries_only() {
    let (state, clock, _dir) = setup("2026-12-01T08:00:00Z");
    let practice = practice(&state).await;
    book(&practice, "2026-12-03T10:00:00Z", "b1").await;
    tick(&state).await;
    let counting = Arc::new(konnecs::ports::counting::CountingTable::new(state.table.clone()));
    let counts = counting.counts();
    let mut counted = state.clone();
    counted.table = counting;
    // Three missed minutes: one cursor read, five partition queries (the
    // three plus the two rescanned before the cursor), one cursor write.
    clock.set(ts("2026-12-01T08:03:00Z"));
    assert_eq!(tick(&counted).await, 0);
    let snapshot = counts.snapshot();
    assert_eq!((snapshot.get, snapshot.query, snapshot.put), (1, 5, 1), "{snapshot:?}");
    assert_eq!(snapshot.total(), 7, "no scans, nothing else: {snapshot:?}");

    // Down for two days: the reminder due 2026-12-03T09:00 is still found within the window.
    clock.set(ts("2026-12-03T09:30:00Z"));
    let mut fanned = 0;
    for _ in 0..10 {
        fanned += tick(&state).await;
    }
    assert_eq!(fanned, 2);
    let cursor = state
        .table
        .get(&reminder_dispatch::cursor_key())
        .await
        .expect("get")
        .expect("cursor");
    assert_eq!(cursor["minute"], "2026-12-03T09:30");
}

#[tokio::test]
async fn a_reminder_of_a_booking_that_no_longer_exists_is_dropped_not_retried() {
    let (state, clock, _dir) = setup("2026-12-01T08:59:00Z");
    let practice = practice(&state).await;
    let (id, keys) = book(&practice, "2026-12-01T10:00:00Z", "gone").await;
    // The booking and its notice went (an account purge, say), the reminders stayed.
    for key in [booking_key(&practice.org_id, &id), notice_key(&practice.org_id, &id)] {
        assert!(
            state.table.delete(&key, None).await.expect("delete").is_some(),
            "{key:?}"
        );
    }
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:00Z"));
    assert_eq!(tick(&state).await, 2);
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_DROPPED));
    }
}
