//! Reminder dispatch of 10,000 due reminders on the embedded store (SQLite
//! table and queue in one file): one `reminders-tick` run (queries of every
//! shard of the missed minutes, fan-out to the queue in batches of 10) and the
//! `reminders-send` consumer draining the queue (pending → sent, then the
//! outbox mailer / SMS). Prints wall time and store round trips.
//!
//! 5,000 bookings, each with an email and an SMS reminder (10,000 items),
//! due across 10 minutes (each spread over its shards) that the tick finds
//! on catch-up.
//!
//! Run: `cargo bench -p konnecs --bench reminder_dispatch`

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use konnecs::app::local_state;
use konnecs::config::LocalConfig;
use konnecs::domain::ids::{BookingId, OrgId};
use konnecs::inbound::events::{Message, reminders};
use konnecs::ports::counting::CountingTable;
use konnecs::ports::{BatchOp, TestClock};
use konnecs::services::notifications::{BookingNotice, notice_key};
use konnecs::services::reminders::{self as reminder_items, Channel};
use konnecs::services::{object, records};
use serde_json::json;

const BOOKINGS: usize = 5_000;
const MINUTES: i64 = 10;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let start: Timestamp = "2026-12-01T08:00:00Z".parse().expect("time");
    let clock = TestClock::at(start);
    let mut state = local_state(
        &LocalConfig::for_tests(dir.path().to_path_buf()),
        Arc::new(clock.clone()),
    )
    .expect("state");
    let counting = Arc::new(CountingTable::new(state.table.clone()));
    let counts = counting.counts();
    state.table = counting;

    // Setup (not timed): notices and reminder items, written in batches.
    let starts = start.as_second() + 2 * 3600;
    let mut ops = Vec::with_capacity(BOOKINGS * 3);
    let org_id = OrgId::from("org1");
    for i in 0..BOOKINGS {
        let booking_id = BookingId::from(format!("b{i:05}"));
        let booking_start = starts + (i as i64 % MINUTES) * 60;
        let notice = BookingNotice {
            org_id: "org1".into(),
            booking_id: booking_id.clone(),
            org_name: "Whitfield Dental".into(),
            event_title: "Cleaning".into(),
            location: None,
            host_name: "Dana".into(),
            host_email: "dana@whitfield-dental.example".into(),
            host_time_zone: "Europe/London".into(),
            customer_name: format!("Customer {i}"),
            customer_email: format!("c{i}@example.com"),
            customer_phone: Some(format!("+4477009{i:05}")),
            sms_consent: true,
            customer_time_zone: "Europe/London".into(),
            starts_at: booking_start,
            ends_at: booking_start + 1800,
            sequence: 0,
            manage_url: None,
        };
        ops.push(BatchOp::Put(
            records::to_item(
                &notice_key(&org_id, &booking_id),
                &notice,
                &[("status", json!("active")), ("version", json!(1))],
            )
            .expect("notice item"),
        ));
        let due = booking_start - 3600;
        for channel in [Channel::Email, Channel::Sms] {
            let key = reminder_items::key(
                Timestamp::from_second(due).expect("due"),
                &org_id,
                &booking_id,
                60,
                channel,
            );
            let channel = channel.as_str();
            ops.push(BatchOp::Put(object(json!({
                "pk": key.pk,
                "sk": key.sk,
                "org_id": "org1", "booking_id": booking_id, "channel": channel, "offset_minutes": 60,
                "due_at": due, "starts_at": booking_start, "status": "pending",
                "expires_at": booking_start + 7 * 24 * 3600,
            }))));
        }
    }
    state.table.batch_write(ops).await.expect("setup");
    // A first tick at 08:00 sets the cursor; the next runs at 09:10, after ten missed minutes.
    reminders::tick(state.clone()).await.expect("first tick");
    clock.set(Timestamp::from_second(start.as_second() + 3600 + MINUTES * 60).expect("time"));
    let before_tick = counts.snapshot();

    let timer = Instant::now();
    let report = reminders::tick(state.clone()).await.expect("tick");
    let tick_time = timer.elapsed();
    let after_tick = counts.snapshot();
    assert_eq!(report.processed as usize, BOOKINGS * 2, "every reminder fanned out");

    let timer = Instant::now();
    let mut consumed = 0usize;
    loop {
        let received = state
            .reminders
            .receive(10, Duration::from_secs(300))
            .await
            .expect("receive");
        if received.is_empty() {
            break;
        }
        let messages = received
            .iter()
            .map(|r| Message {
                message_id: r.message_id.clone(),
                body: r.body.clone(),
                receive_count: r.receive_count,
            })
            .collect();
        let outcome = reminders::consume(state.clone(), messages).await;
        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        for r in &received {
            state.reminders.ack(&r.receipt).await.expect("ack");
        }
        consumed += received.len();
    }
    let consume_time = timer.elapsed();
    let after_consume = counts.snapshot();
    assert_eq!(consumed, BOOKINGS * 2);

    let tick_calls = after_tick.total() - before_tick.total();
    let consume_calls = after_consume.total() - after_tick.total();
    println!(
        "reminder dispatch, embedded store, {} reminders (due in {} minutes of {} shards)",
        BOOKINGS * 2,
        MINUTES,
        reminder_items::SHARDS
    );
    println!("| phase | wall time | per reminder | table round trips | per reminder |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| tick (query + fan-out) | {:.1} ms | {:.1} µs | {tick_calls} (query {}, get {}, put {}) | {:.3} |",
        tick_time.as_secs_f64() * 1e3,
        tick_time.as_secs_f64() * 1e6 / (BOOKINGS * 2) as f64,
        after_tick.query - before_tick.query,
        after_tick.get - before_tick.get,
        after_tick.put - before_tick.put,
        tick_calls as f64 / (BOOKINGS * 2) as f64
    );
    println!(
        "| consume (pending → sent + send) | {:.1} ms | {:.1} µs | {consume_calls} (get {}, update {}, put {}, transact {}) | {:.2} |",
        consume_time.as_secs_f64() * 1e3,
        consume_time.as_secs_f64() * 1e6 / (BOOKINGS * 2) as f64,
        after_consume.get - after_tick.get,
        after_consume.update - after_tick.update,
        after_consume.put - after_tick.put,
        after_consume.transact - after_tick.transact,
        consume_calls as f64 / (BOOKINGS * 2) as f64
    );
}
