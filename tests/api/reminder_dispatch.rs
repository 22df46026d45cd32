//! Reminder dispatch: the minute tick (queries only, cursor, catch-up) and
//! the `reminders-send` consumer (pending → sent first, so redelivery never
//! sends twice; dropped once the appointment started; failures retried).
//! Appointments are booked, moved and cancelled through the real router and
//! scheduling service (`konnecs_tests::practice`), so the reminders are the
//! ones bookings really write, in whatever layout `services::reminders` keeps
//! (the due minute's shards). Reminders of the unsharded layout of earlier
//! releases are still found until that layout drains.
//!
//! Every case runs on both store backends (`sqlite::…`, `dynamodb::…`, the
//! latter on the moto emulator); the queues are the embedded ones on both,
//! so redelivery follows the test clock.

use konnecs::domain::ids::BookingId;
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
use konnecs::services::reminders as reminder_items;
use konnecs::services::scheduling::booking_key;
use konnecs_tests::app::{Store, TestApp};
use konnecs_tests::local::drain_jobs;
use konnecs_tests::practice::{Practice, booking_id, texting_guest};
use serde_json::{Value, json};

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

konnecs_tests::on_both_stores!(
    every_reminder_message_delivered_three_times_sends_each_reminder_once,
    a_reminder_whose_tick_was_missed_is_sent_late_if_the_appointment_has_not_started,
    a_reminder_committed_into_a_minute_the_tick_already_read_is_still_sent_once,
    a_reminder_whose_tick_was_missed_is_dropped_once_the_appointment_started,
    cancelled_booking_sends_no_reminder,
    a_reminder_already_queued_when_the_booking_is_cancelled_is_not_sent,
    rescheduling_before_the_due_time_sends_only_the_reminder_for_the_new_time,
    a_failed_send_is_reported_for_that_message_alone_and_sent_on_redelivery,
    a_tick_reads_every_shard_of_each_minute_with_queries_only,
    a_reminder_of_a_booking_that_no_longer_exists_is_dropped_not_retried,
    an_unsharded_reminder_of_an_earlier_release_is_still_sent_exactly_once,
    the_unsharded_layout_is_read_only_until_it_has_drained,
    reminders_of_one_minute_spread_over_its_shards_and_all_go_out,
);

/// The harness on `store` at `at`, and its state and clock (the app keeps the store).
async fn setup(store: Store, at: &str) -> (AppState, TestClock, TestApp) {
    let app = TestApp::on(store, at).await;
    (app.state.clone(), app.clock.clone(), app)
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

async fn every_reminder_message_delivered_three_times_sends_each_reminder_once(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
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

async fn a_reminder_whose_tick_was_missed_is_sent_late_if_the_appointment_has_not_started(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
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

async fn a_reminder_committed_into_a_minute_the_tick_already_read_is_still_sent_once(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
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

async fn a_reminder_whose_tick_was_missed_is_dropped_once_the_appointment_started(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
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

async fn cancelled_booking_sends_no_reminder(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
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

async fn a_reminder_already_queued_when_the_booking_is_cancelled_is_not_sent(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:59:00Z").await;
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

async fn rescheduling_before_the_due_time_sends_only_the_reminder_for_the_new_time(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
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

async fn a_failed_send_is_reported_for_that_message_alone_and_sent_on_redelivery(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:59:00Z").await;
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

async fn a_tick_reads_every_shard_of_each_minute_with_queries_only(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
    let practice = practice(&state).await;
    book(&practice, "2026-12-03T10:00:00Z", "b1").await;
    tick(&state).await;
    let counting = Arc::new(konnecs::ports::counting::CountingTable::new(state.table.clone()));
    let counts = counting.counts();
    let mut counted = state.clone();
    counted.table = counting;
    // Three missed minutes: one cursor read, a query of every partition of
    // five minutes (the three plus the two rescanned before the cursor: each
    // minute's shards and its unsharded partition of earlier releases), one
    // cursor write.
    clock.set(ts("2026-12-01T08:03:00Z"));
    let summary = reminder_dispatch::tick(&counted).await.expect("tick");
    let per_minute = reminder_items::SHARDS as u64 + 1;
    assert_eq!(
        (summary.minutes, summary.partitions, summary.fanned_out),
        (5, 5 * per_minute, 0)
    );
    let snapshot = counts.snapshot();
    assert_eq!(
        (snapshot.get, snapshot.query, snapshot.put),
        (1, 5 * per_minute, 1),
        "{snapshot:?}"
    );
    assert_eq!(
        snapshot.total(),
        2 + 5 * per_minute,
        "no scans, nothing else: {snapshot:?}"
    );

    // A tick every minute (the schedule): the current minute and the two
    // before it again.
    clock.set(ts("2026-12-01T08:04:00Z"));
    let before = counts.snapshot();
    reminder_dispatch::tick(&counted).await.expect("tick");
    let round_trips = counts.snapshot().total() - before.total();
    println!(
        "store round trips of one minute's tick: {round_trips} ({per_minute} partitions per minute read 3 times, cursor get and put)"
    );
    assert_eq!(round_trips, 3 * per_minute + 2);
}

/// SQLite only: two days of minutes are about 47,000 partition queries,
/// minutes on the emulator; the window logic is the same on both backends.
#[tokio::test]
async fn the_tick_catches_up_two_missed_days_within_its_window() {
    let (state, clock, _app) = setup(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = practice(&state).await;
    book(&practice, "2026-12-03T10:00:00Z", "b1").await;
    tick(&state).await;
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

async fn a_reminder_of_a_booking_that_no_longer_exists_is_dropped_not_retried(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:59:00Z").await;
    let practice = practice(&state).await;
    let (id, keys) = book(&practice, "2026-12-01T10:00:00Z", "gone").await;
    // The booking and its notice went (an account purge, say), the reminders stayed.
    for key in [
        booking_key(&practice.org_id, &BookingId::from(&id)),
        notice_key(&practice.org_id, &BookingId::from(&id)),
    ] {
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

/// Turns a booking into one an earlier release made: its reminders move to
/// the minute's one unsharded partition (same sort keys), and the booking
/// lists those keys. Returns them.
async fn as_booked_before_the_shards(state: &AppState, practice: &Practice, booking_id: &str) -> Vec<Key> {
    let mut ops = Vec::new();
    let mut legacy = Vec::new();
    for key in practice.reminder_keys(booking_id).await {
        let mut item = state.table.get(&key).await.expect("get").expect("reminder item");
        let due = item["due_at"].as_i64().expect("due_at");
        let moved = Key::new(
            reminder_items::legacy_partition(Timestamp::from_second(due).expect("due")),
            key.sk.clone(),
        );
        item.insert("pk".into(), json!(moved.pk));
        ops.push(WriteOp::Delete { key, condition: None });
        ops.push(WriteOp::Put { item, condition: None });
        legacy.push(moved);
    }
    let booking = booking_key(&practice.org_id, &BookingId::from(booking_id));
    let mut record = state.table.get(&booking).await.expect("get").expect("booking");
    let listed: Vec<Value> = legacy.iter().map(|k| json!({"pk": k.pk, "sk": k.sk})).collect();
    record.insert("reminder_keys".into(), Value::Array(listed));
    ops.push(WriteOp::Put {
        item: record,
        condition: None,
    });
    state
        .table
        .transact(ops)
        .await
        .expect("rewritten as an earlier release");
    assert_eq!(practice.reminder_keys(booking_id).await, legacy);
    legacy
}

async fn an_unsharded_reminder_of_an_earlier_release_is_still_sent_exactly_once(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&state, json!({"reminders": hour_before()["reminders"], "seats": 2})).await;
    // Booked before the upgrade: its reminders sit in the minute's one partition.
    let (old, _) = book(&practice, "2026-12-01T10:00:00Z", "old").await;
    let keys = as_booked_before_the_shards(&state, &practice, &old).await;
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|key| key.pk == "REMINDERS#2026-12-01T09:00"),
        "{keys:?}"
    );
    // And one cancelled before its reminder was due: the cancel removes the
    // keys its booking lists, whatever their layout.
    let (gone, _) = book(&practice, "2026-12-01T10:00:00Z", "gone").await;
    let gone_keys = as_booked_before_the_shards(&state, &practice, &gone).await;
    drain_jobs(&state).await;
    // The first tick of this release.
    assert_eq!(tick(&state).await, 0);
    practice.cancel(&gone, None).await;
    for key in &gone_keys {
        assert_eq!(status(&state, key).await, None, "the cancel removed {key:?}");
    }

    let calls = Arc::new(Calls::default());
    let mut state = state;
    state.mailer = Arc::new(CountingMailer(state.mailer.clone(), calls.clone()));
    state.sms = Arc::new(CountingSms(state.sms.clone(), calls.clone()));
    clock.set(ts("2026-12-01T09:00:10Z"));
    assert_eq!(tick(&state).await, 2, "the old booking's email and SMS");
    let received = take_reminders(&state).await;
    assert_eq!(received.len(), 2);
    let (a, b) = tokio::join!(
        reminders::consume(state.clone(), messages(&received)),
        reminders::consume(state.clone(), messages(&received))
    );
    let c = reminders::consume(state.clone(), messages(&received)).await;
    assert!(a.failed.is_empty() && b.failed.is_empty() && c.failed.is_empty());
    let mut provider_calls = calls.all();
    provider_calls.sort();
    let mut expected: Vec<String> = received.iter().map(|r| reminder(r).idempotency_key()).collect();
    expected.sort();
    assert_eq!(
        provider_calls, expected,
        "each sent once, none for the cancelled booking"
    );
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_SENT), "{key:?}");
    }
    // The next ticks read the minute again and find nothing pending.
    clock.set(ts("2026-12-01T09:01:10Z"));
    assert_eq!(tick(&state).await, 0);
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().all(|m| m["to"] != "gone@example.com"));
}

async fn the_unsharded_layout_is_read_only_until_it_has_drained(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&state, json!({"reminders": hour_before()["reminders"], "seats": 2})).await;
    tick(&state).await;
    let mut cursor = state
        .table
        .get(&reminder_dispatch::cursor_key())
        .await
        .expect("get")
        .expect("cursor");
    // The first tick of this release records the last minute an earlier
    // release can have planned a reminder for: the longest booking window ahead.
    assert_eq!(
        cursor["legacy_until_s"],
        ts("2026-12-01T08:00:00Z").as_second() + reminder_dispatch::LEGACY_HORIZON_MINUTES * 60
    );
    // Pretend that horizon is 08:40: an unsharded reminder due 08:30 is read,
    // one due 09:00 (which no earlier release could have written) is not.
    cursor.insert("legacy_until_s".into(), json!(ts("2026-12-01T08:40:00Z").as_second()));
    state.table.put(cursor, None).await.expect("cursor");
    let (early, _) = book(&practice, "2026-12-01T09:30:00Z", "early").await;
    let (late, _) = book(&practice, "2026-12-01T10:00:00Z", "late").await;
    for id in [&early, &late] {
        as_booked_before_the_shards(&state, &practice, id).await;
    }
    clock.set(ts("2026-12-01T09:05:00Z"));
    let summary = reminder_dispatch::tick(&state).await.expect("tick");
    // Minutes 07:59 (rescan) to 09:05: those up to 08:40 with their
    // unsharded partition, the later ones in shards only.
    let shards = reminder_items::SHARDS as u64;
    assert_eq!(summary.minutes, 67);
    assert_eq!(summary.partitions, 42 * (shards + 1) + 25 * shards);
    assert_eq!(summary.fanned_out, 2, "only the reminders due before the horizon");
    let fanned: Vec<String> = take_reminders(&state)
        .await
        .iter()
        .map(|r| reminder(r).booking_id.into_string())
        .collect();
    assert_eq!(fanned, vec![early.clone(), early], "{fanned:?}");
}

async fn reminders_of_one_minute_spread_over_its_shards_and_all_go_out(store: Store) {
    let (state, clock, _app) = setup(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&state, json!({"reminders": hour_before()["reminders"], "seats": 30})).await;
    let mut keys = Vec::new();
    for i in 0..30 {
        keys.extend(book(&practice, "2026-12-01T10:00:00Z", &format!("p{i}")).await.1);
    }
    drain_jobs(&state).await;
    let partitions: std::collections::BTreeSet<&str> = keys.iter().map(|k| k.pk.as_str()).collect();
    assert!(
        partitions.len() >= 8,
        "30 bookings land on many of the 16 shards: {partitions:?}"
    );
    let minute = reminder_items::partitions(ts("2026-12-01T09:00:00Z"));
    assert!(
        partitions.iter().all(|pk| minute.iter().any(|p| p == pk)),
        "{partitions:?}"
    );
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:10Z"));
    assert_eq!(tick(&state).await, 60, "every shard of the minute is read");
    let received = take_reminders(&state).await;
    assert_eq!(received.len(), 60);
    assert!(consume_and_ack(&state, &received).await.is_empty());
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some(STATUS_SENT), "{key:?}");
    }
    assert_eq!(sent_reminders(&state).await.len(), 60);
}
