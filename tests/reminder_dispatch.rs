//! Reminder dispatch: the minute tick (queries only, cursor, catch-up) and
//! the `reminders-send` consumer (pending → sent first, so redelivery never
//! sends twice; dropped once the appointment started; failures retried).
//! Reminder items are written by `services::reminders::key` (the due
//! minute's shards); reminders of the unsharded layout of earlier releases
//! are still found until that layout drains.
//!
//! Every case runs on both store backends (`sqlite::…`, `dynamodb::…`, the
//! latter on the moto emulator); the queues are the embedded ones on both,
//! so redelivery follows the test clock.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use konnecs::app::AppState;
use konnecs::inbound::events::{Message, jobs, reminders};
use konnecs::ports::mailer::{Email, MailError, Mailer};
use konnecs::ports::{Key, Received, Sms, SmsError, TestClock, WriteOp};
use konnecs::services::notifications::{BookingChange, BookingNotice};
use konnecs::services::reminder_dispatch;
use konnecs::services::reminders::{self as reminder_items, Channel};
use konnecs_tests::local::booking_changed;
use serde_json::{Value, json};

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Dynamodb,
}

/// One `#[tokio::test]` per case and backend: `sqlite::<case>`, `dynamodb::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Backend::Sqlite).await
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Backend::Dynamodb).await
            })*
        }
    };
}

on_both_backends!(
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

async fn setup(backend: Backend, at: &str) -> (AppState, TestClock, tempfile::TempDir) {
    let clock = TestClock::at(ts(at));
    let (state, dir) = match backend {
        Backend::Sqlite => konnecs_tests::local::temp_state_with_clock(Arc::new(clock.clone())),
        Backend::Dynamodb => konnecs_tests::aws::dynamodb_state_with_clock(Arc::new(clock.clone())).await,
    };
    (state, clock, dir)
}

fn notice(booking_id: &str, sequence: u32, starts_at: &str) -> BookingNotice {
    let starts = ts(starts_at).as_second();
    BookingNotice {
        org_id: "org1".into(),
        booking_id: booking_id.into(),
        org_name: "Whitfield Dental".into(),
        event_title: "Cleaning".into(),
        location: None,
        host_name: "Dana Whitfield".into(),
        host_email: "dana@whitfield-dental.example".into(),
        host_time_zone: "Europe/London".into(),
        customer_name: "Ann Lee".into(),
        customer_email: format!("{booking_id}@example.com"),
        customer_phone: Some("+447700900123".into()),
        sms_consent: true,
        customer_time_zone: "Europe/London".into(),
        starts_at: starts,
        ends_at: starts + 1800,
        sequence,
        manage_url: None,
    }
}

/// The reminder items of a booking, keyed by `services::reminders::key`.
fn reminder_items(n: &BookingNotice, offsets: &[i64]) -> Vec<(Key, Value)> {
    layout_items(n, offsets, |due, offset, channel| {
        reminder_items::key(due, &n.org_id, &n.booking_id, offset as u32, channel)
    })
}

/// The same items in the unsharded layout of earlier releases.
fn unsharded_items(n: &BookingNotice, offsets: &[i64]) -> Vec<(Key, Value)> {
    layout_items(n, offsets, |due, offset, channel| {
        Key::new(
            reminder_items::legacy_partition(due),
            format!("{}#{}#{offset}#{}", n.org_id, n.booking_id, channel.as_str()),
        )
    })
}

fn layout_items(
    n: &BookingNotice,
    offsets: &[i64],
    key_of: impl Fn(Timestamp, i64, Channel) -> Key,
) -> Vec<(Key, Value)> {
    let mut items = Vec::new();
    for offset in offsets {
        let due = n.starts_at - offset * 60;
        for channel in [Channel::Email, Channel::Sms] {
            let key = key_of(Timestamp::from_second(due).expect("due"), *offset, channel);
            let channel = channel.as_str();
            let item = json!({
                "pk": key.pk, "sk": key.sk, "org_id": n.org_id, "booking_id": n.booking_id,
                "channel": channel, "offset_minutes": offset, "due_at": due, "starts_at": n.starts_at,
                "status": "pending", "expires_at": n.starts_at + 7 * 24 * 3600,
            });
            items.push((key, item));
        }
    }
    items
}

/// Books: the reminders are written in one transaction (as the booking's), then
/// the notification service runs (as after commit). Returns the reminder keys.
async fn book(state: &AppState, n: &BookingNotice, offsets: &[i64]) -> Vec<Key> {
    let items = reminder_items(n, offsets);
    let ops = items
        .iter()
        .map(|(_, item)| WriteOp::Put {
            item: konnecs::services::object(item.clone()),
            condition: None,
        })
        .collect();
    state.table.transact(ops).await.expect("reminders written");
    booking_changed(state, n, &BookingChange::Booked)
        .await
        .expect("notified");
    items.into_iter().map(|(key, _)| key).collect()
}

/// Cancel or reschedule: the old reminders go in one transaction.
async fn remove(state: &AppState, keys: &[Key]) {
    let ops = keys
        .iter()
        .map(|key| WriteOp::Delete {
            key: key.clone(),
            condition: None,
        })
        .collect();
    state.table.transact(ops).await.expect("reminders removed");
}

async fn drain_jobs(state: &AppState) {
    for _ in 0..100 {
        let received = state.jobs.receive(10, Duration::from_secs(30)).await.expect("receive");
        if received.is_empty() {
            return;
        }
        let outcome = jobs::consume(state.clone(), messages(&received)).await;
        assert!(outcome.failed.is_empty());
        for r in &received {
            state.jobs.ack(&r.receipt).await.expect("ack");
        }
    }
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

/// Everything currently visible on the reminders queue.
async fn take_reminders(state: &AppState) -> Vec<Received> {
    let mut all = Vec::new();
    loop {
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

async fn every_reminder_message_delivered_three_times_sends_each_reminder_once(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    let mut keys = Vec::new();
    for i in 0..6 {
        keys.extend(book(&state, &notice(&format!("b{i}"), 0, "2026-12-01T10:00:00Z"), &[60]).await);
    }
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
    let mut expected: Vec<String> = keys.iter().map(|k| format!("reminder/{}/{}", k.pk, k.sk)).collect();
    expected.sort();
    assert_eq!(provider_calls, expected);
    let sent = sent_reminders(&state).await;
    let emails = sent.iter().filter(|m| m["kind"] == "booking_reminder").count();
    let sms = sent.iter().filter(|m| m["kind"] == "sms").count();
    assert_eq!((emails, sms), (6, 6), "{sent:#?}");
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some("sent"), "{key:?}");
    }
    // A tick running again for the same minute fans out nothing new.
    assert_eq!(tick(&state).await, 0);
}

async fn a_reminder_whose_tick_was_missed_is_sent_late_if_the_appointment_has_not_started(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    let keys = book(&state, &notice("b1", 0, "2026-12-01T10:00:00Z"), &[60]).await;
    tick(&state).await;
    // The ticks from 08:01 to 09:39 never ran.
    clock.set(ts("2026-12-01T09:40:00Z"));
    assert_eq!(tick(&state).await, 2);
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().any(|m| m["to"] == "b1@example.com"));
    assert_eq!(status(&state, &keys[0]).await.as_deref(), Some("sent"));
}

async fn a_reminder_committed_into_a_minute_the_tick_already_read_is_still_sent_once(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    tick(&state).await;
    // The 09:00 tick has read the 09:00 minute; then a booking planned at
    // 08:59:59 commits its 60-minute reminder (due 09:00) into it.
    clock.set(ts("2026-12-01T09:00:05Z"));
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:20Z"));
    let keys = book(&state, &notice("late", 0, "2026-12-01T10:00:00Z"), &[60]).await;
    clock.set(ts("2026-12-01T09:01:00Z"));
    assert_eq!(tick(&state).await, 2, "the 09:00 minute is read again");
    clock.set(ts("2026-12-01T09:02:00Z"));
    let again = tick(&state).await;
    assert!(again <= 2);
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 2, "one email and one SMS, however often found: {sent:#?}");
    assert_eq!(status(&state, &keys[0]).await.as_deref(), Some("sent"));
}

async fn a_reminder_whose_tick_was_missed_is_dropped_once_the_appointment_started(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    let keys = book(&state, &notice("b1", 0, "2026-12-01T10:00:00Z"), &[60]).await;
    tick(&state).await;
    clock.set(ts("2026-12-01T10:05:00Z"));
    assert_eq!(tick(&state).await, 2, "the missed minute is still found");
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    assert!(sent_reminders(&state).await.is_empty());
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some("dropped"));
    }
}

async fn cancelled_booking_sends_no_reminder(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    let n = notice("b1", 0, "2026-12-01T10:00:00Z");
    let keys = book(&state, &n, &[60]).await;
    tick(&state).await;
    clock.set(ts("2026-12-01T08:30:00Z"));
    remove(&state, &keys).await;
    booking_changed(
        &state,
        &notice("b1", 1, "2026-12-01T10:00:00Z"),
        &BookingChange::Cancelled { reason: None },
    )
    .await
    .expect("notified");
    clock.set(ts("2026-12-01T09:00:00Z"));
    assert_eq!(tick(&state).await, 0);
    assert!(sent_reminders(&state).await.is_empty());
}

async fn a_reminder_already_queued_when_the_booking_is_cancelled_is_not_sent(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:59:00Z").await;
    let keys = book(&state, &notice("b1", 0, "2026-12-01T10:00:00Z"), &[60]).await;
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:00Z"));
    assert_eq!(tick(&state).await, 2);
    // The cancel commits between the fan-out and the consumer.
    remove(&state, &keys).await;
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    assert!(sent_reminders(&state).await.is_empty());
}

async fn rescheduling_before_the_due_time_sends_only_the_reminder_for_the_new_time(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    let old = book(&state, &notice("b1", 0, "2026-12-01T10:00:00Z"), &[60]).await;
    tick(&state).await;
    // Moved to 14:00 before the 09:00 reminder was due: old reminders replaced.
    clock.set(ts("2026-12-01T08:30:00Z"));
    let moved = notice("b1", 1, "2026-12-01T14:00:00Z");
    remove(&state, &old).await;
    let items = reminder_items(&moved, &[60]);
    for (_, item) in &items {
        state
            .table
            .put(konnecs::services::object(item.clone()), None)
            .await
            .expect("new reminder");
    }
    booking_changed(
        &state,
        &moved,
        &BookingChange::Rescheduled {
            previous_starts_at: ts("2026-12-01T10:00:00Z").as_second(),
        },
    )
    .await
    .expect("notified");
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

async fn a_failed_send_is_reported_for_that_message_alone_and_sent_on_redelivery(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:59:00Z").await;
    let keys = book(&state, &notice("b1", 0, "2026-12-01T10:00:00Z"), &[60]).await;
    drain_jobs(&state).await;
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:00Z"));
    tick(&state).await;
    let received = take_reminders(&state).await;
    let email_message = received
        .iter()
        .find(|r| r.body.contains("#email"))
        .expect("email reminder")
        .message_id
        .clone();

    let mut down = state.clone();
    down.mailer = Arc::new(DownMailer);
    let failed = consume_and_ack(&down, &received).await;
    assert_eq!(
        failed,
        std::slice::from_ref(&email_message),
        "only the email failed; the SMS went"
    );
    let email_key = keys.iter().find(|k| k.sk.ends_with("#email")).expect("key");
    assert_eq!(status(&state, email_key).await.as_deref(), Some("pending"));

    // Redelivered after the visibility timeout, with the provider back.
    clock.advance(SignedDuration::from_secs(61));
    let again = take_reminders(&state).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, email_message);
    assert_eq!(again[0].receive_count, 2);
    assert!(consume_and_ack(&state, &again).await.is_empty());
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.iter().filter(|m| m["kind"] == "booking_reminder").count(), 1);
    assert_eq!(status(&state, email_key).await.as_deref(), Some("sent"));
}

async fn a_tick_reads_every_shard_of_each_minute_with_queries_only(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    book(&state, &notice("b1", 0, "2026-12-03T10:00:00Z"), &[60]).await;
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
    let minute = counts.snapshot();
    let round_trips = minute.total() - before.total();
    println!(
        "store round trips of one minute's tick: {round_trips} ({per_minute} partitions per minute read 3 times, cursor get and put)"
    );
    assert_eq!(round_trips, 3 * per_minute + 2);
}

/// SQLite only: two days of minutes are about 47,000 partition queries,
/// minutes on the emulator; the window logic is the same on both backends.
#[tokio::test]
async fn the_tick_catches_up_two_missed_days_within_its_window() {
    let (state, clock, _dir) = setup(Backend::Sqlite, "2026-12-01T08:00:00Z").await;
    book(&state, &notice("b1", 0, "2026-12-03T10:00:00Z"), &[60]).await;
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

/// Writes reminder items as an earlier release did (one transaction, as its booking).
async fn write_items(state: &AppState, items: &[(Key, Value)]) {
    let ops = items
        .iter()
        .map(|(_, item)| WriteOp::Put {
            item: konnecs::services::object(item.clone()),
            condition: None,
        })
        .collect();
    state.table.transact(ops).await.expect("reminders written");
}

async fn an_unsharded_reminder_of_an_earlier_release_is_still_sent_exactly_once(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    // Booked before the upgrade: its reminders sit in the minute's one partition.
    let old = notice("old", 0, "2026-12-01T10:00:00Z");
    let items = unsharded_items(&old, &[60]);
    assert!(items.iter().all(|(key, _)| key.pk == "REMINDERS#2026-12-01T09:00"));
    write_items(&state, &items).await;
    booking_changed(&state, &old, &BookingChange::Booked)
        .await
        .expect("notified");
    // And one cancelled before its reminder was due: its booking deletes the
    // keys it lists, whatever their layout.
    let gone = notice("gone", 0, "2026-12-01T10:00:00Z");
    let gone_items = unsharded_items(&gone, &[60]);
    write_items(&state, &gone_items).await;
    booking_changed(&state, &gone, &BookingChange::Booked)
        .await
        .expect("notified");
    drain_jobs(&state).await;
    // The first tick of this release.
    assert_eq!(tick(&state).await, 0);
    remove(
        &state,
        &gone_items.iter().map(|(key, _)| key.clone()).collect::<Vec<_>>(),
    )
    .await;

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
    let mut expected: Vec<String> = items
        .iter()
        .map(|(k, _)| format!("reminder/{}/{}", k.pk, k.sk))
        .collect();
    expected.sort();
    assert_eq!(
        provider_calls, expected,
        "each sent once, none for the cancelled booking"
    );
    for (key, _) in &items {
        assert_eq!(status(&state, key).await.as_deref(), Some("sent"), "{key:?}");
    }
    // The next ticks read the minute again and find nothing pending.
    clock.set(ts("2026-12-01T09:01:10Z"));
    assert_eq!(tick(&state).await, 0);
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    assert!(sent.iter().all(|m| m["to"] != "gone@example.com"));
}

async fn the_unsharded_layout_is_read_only_until_it_has_drained(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
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
    // Pretend that horizon is 08:30: an unsharded reminder due 08:20 is read,
    // one due 08:40 (which no earlier release could have written) is not.
    cursor.insert("legacy_until_s".into(), json!(ts("2026-12-01T08:30:00Z").as_second()));
    state.table.put(cursor, None).await.expect("cursor");
    let early = notice("early", 0, "2026-12-01T09:20:00Z");
    let late = notice("late", 0, "2026-12-01T09:40:00Z");
    for n in [&early, &late] {
        write_items(&state, &unsharded_items(n, &[60])).await;
        booking_changed(&state, n, &BookingChange::Booked)
            .await
            .expect("notified");
    }
    clock.set(ts("2026-12-01T08:45:00Z"));
    let summary = reminder_dispatch::tick(&state).await.expect("tick");
    // Minutes 07:59 (rescan) to 08:45: those up to 08:30 with their
    // unsharded partition, the later ones in shards only.
    let shards = reminder_items::SHARDS as u64;
    assert_eq!(summary.minutes, 47);
    assert_eq!(summary.partitions, 32 * (shards + 1) + 15 * shards);
    assert_eq!(summary.fanned_out, 2, "only the reminder due before the horizon");
    let bodies: Vec<String> = take_reminders(&state).await.into_iter().map(|r| r.body).collect();
    assert!(bodies.iter().all(|b| b.contains("#early#")), "{bodies:?}");
}

async fn reminders_of_one_minute_spread_over_its_shards_and_all_go_out(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:00:00Z").await;
    let mut keys = Vec::new();
    for i in 0..30 {
        keys.extend(
            book(
                &state,
                &notice(&format!("booking-{i}"), 0, "2026-12-01T10:00:00Z"),
                &[60],
            )
            .await,
        );
    }
    drain_jobs(&state).await;
    let partitions: std::collections::BTreeSet<&str> = keys.iter().map(|k| k.pk.as_str()).collect();
    assert!(
        partitions.len() >= 12,
        "30 bookings land on most of the 16 shards: {partitions:?}"
    );
    assert!(partitions.iter().all(|pk| {
        reminder_items::partitions(ts("2026-12-01T09:00:00Z"))
            .iter()
            .any(|p| p == pk)
    }));
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:10Z"));
    assert_eq!(tick(&state).await, 60, "every shard of the minute is read");
    let received = take_reminders(&state).await;
    assert_eq!(received.len(), 60);
    assert!(consume_and_ack(&state, &received).await.is_empty());
    for key in &keys {
        assert_eq!(status(&state, key).await.as_deref(), Some("sent"), "{key:?}");
    }
    let sent = sent_reminders(&state).await;
    assert_eq!(sent.len(), 60);
}

async fn a_reminder_of_a_booking_that_no_longer_exists_is_dropped_not_retried(backend: Backend) {
    let (state, clock, _dir) = setup(backend, "2026-12-01T08:59:00Z").await;
    // Reminder items without their booking (nor its notice).
    let items = reminder_items(&notice("gone", 0, "2026-12-01T10:00:00Z"), &[60]);
    for (_, item) in &items {
        state
            .table
            .put(konnecs::services::object(item.clone()), None)
            .await
            .expect("reminder");
    }
    tick(&state).await;
    clock.set(ts("2026-12-01T09:00:00Z"));
    assert_eq!(tick(&state).await, 2);
    assert!(consume_and_ack(&state, &take_reminders(&state).await).await.is_empty());
    for (key, _) in &items {
        assert_eq!(status(&state, key).await.as_deref(), Some("dropped"));
    }
}
