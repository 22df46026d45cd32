//! Samples of the queue and schedule Lambdas: the jobs worker, and the
//! reminders of Priya's check-up (Tuesday 8 December 2026, 10:00 UTC), due
//! an hour before.

use konnecs::domain::ids::BookingId;
use konnecs::domain::ids::OrgId;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use konnecs::ports::mailer::{Email, MailError, Mailer};
use konnecs::ports::{Sms, SmsError};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use konnecs::catalogue::Trigger;
use konnecs::lambda::handle_schedule;
use konnecs::ports::Key;
use konnecs::services::reminder_dispatch::{ReminderMessage, STATUS_SENT};
use konnecs::services::scheduling::bookings;
use serde_json::{Value, json};

use super::{DANA_EMAIL, World, sample, sample_body};

/// The reminder message of the `reminders-send` sample, per channel.
const SAMPLE_ORG: &str = "0193a4c2e6f07b1d9e8a2c4f6b8d0e1f";
const SAMPLE_BOOKING: &str = "0196f3a9c1d24e7f8a9b0c1d2e3f4a5b";
const SAMPLE_PARTITION: &str = "REMINDERS#2026-12-08T09:00";

/// Dana's practice with the check-up (default reminders: a day and an hour
/// before, by email and SMS) and Priya's booking of it: the booking's id.
async fn priya_booked(w: &World) -> String {
    let schedule = w.api("POST", "/schedules", Some(sample_body("schedules-create"))).await;
    let mut event = sample_body("event-types-create");
    event["schedule_id"] = schedule["id"].clone();
    w.api("POST", "/event-types", Some(event)).await;
    let reply = konnecs_tests::http::Browser::anonymous()
        .send(
            &w.app,
            "POST",
            "/public/booking/whitfield-dental/check-up/bookings",
            Some(&sample_body("public-booking-create")),
        )
        .await;
    assert_eq!(reply.status, http::StatusCode::CREATED, "{}", reply.body);
    reply.body["booking"]["id"].as_str().expect("booking id").to_string()
}

/// Every message on the reminders queue now (hidden for ten minutes).
async fn queued_reminders(w: &World) -> Vec<ReminderMessage> {
    let mut found = Vec::new();
    for _ in 0..100 {
        let received = w
            .state
            .reminders
            .receive(10, Duration::from_secs(600))
            .await
            .expect("receive");
        if received.is_empty() {
            return found;
        }
        found.extend(
            received
                .iter()
                .map(|m| serde_json::from_str::<ReminderMessage>(&m.body).expect("a reminder message")),
        );
    }
    panic!("the reminders queue did not run dry in 100 receives");
}

/// The reminders-tick sample through its function, with the clock at the
/// sample's time: what the tick reported.
async fn tick_at_the_samples_time(w: &World, name: &str) -> u64 {
    let text = sample(&format!("{name}.json"));
    let raw: Value = serde_json::from_str(&text).expect("JSON");
    let at = raw["time"].as_str().expect("the event's time");
    w.clock.set(at.parse().expect("timestamp"));
    let event: EventBridgeEvent<Value> = serde_json::from_str(&text).expect("an EventBridge event");
    assert_eq!(event.detail_type, "Scheduled Event");
    let Trigger::Schedule { tick, .. } = super::entry(name).trigger else {
        panic!("{name} is not a scheduled Lambda");
    };
    handle_schedule(w.state.clone(), name, tick, event)
        .await
        .unwrap_or_else(|e| panic!("{name}: tick failed: {e}"))
        .processed
}

pub async fn jobs_worker_sends_the_queued_verification_email_once(name: &str) {
    let w = World::empty().await;
    for delivery in 1..=2 {
        let response = w.sqs(name, &[]).await;
        assert!(response.batch_item_failures.is_empty(), "delivery {delivery}");
    }
    let sent = w.outbox().await;
    let to_dana: Vec<&Value> = sent.iter().filter(|m| m["to"] == DANA_EMAIL).collect();
    assert_eq!(to_dana.len(), 1, "sent once, however often delivered: {sent:#?}");
    assert_eq!(
        (&to_dana[0]["kind"], &to_dana[0]["subject"]),
        (&json!("verify_email"), &json!("Confirm your email address for Konnecs"))
    );
}

pub async fn reminders_send_sends_the_hour_before_reminder_by_email_and_sms_once(name: &str) {
    let w = World::with_dana().await;
    let booking = priya_booked(&w).await;
    w.run_jobs().await; // the booking's confirmations
    // At the due minute the tick queues the hour-before reminders: the
    // messages the sample is a copy of.
    w.set_clock("2026-12-08T09:00:05Z");
    assert_eq!(tick_now(&w).await, 2);
    let queued = queued_reminders(&w).await;
    let of = |channel: &str| {
        queued
            .iter()
            .find(|m| m.channel == channel)
            .unwrap_or_else(|| panic!("no {channel} reminder in {queued:?}"))
            .clone()
    };
    let (email, sms) = (of("email"), of("sms"));
    let sample_sk = |channel: &str| format!("{SAMPLE_ORG}#{SAMPLE_BOOKING}#60#{channel}");
    let seeded = [
        (sample_sk("email"), email.sk.clone()),
        (sample_sk("sms"), sms.sk.clone()),
        (SAMPLE_PARTITION.to_string(), email.pk.clone()),
        (SAMPLE_ORG.to_string(), w.org_id.clone()),
        (SAMPLE_BOOKING.to_string(), booking.clone()),
    ];
    let seeded: Vec<(&str, &str)> = seeded.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    // The sample's messages are exactly what the tick sent.
    let event: Value = serde_json::from_str(&w.event_text(name, &seeded)).expect("JSON");
    let mut bodies: Vec<ReminderMessage> = event["Records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().expect("body")).expect("a reminder message"))
        .collect();
    let mut sent_by_tick = queued.clone();
    bodies.sort_by(|a, b| a.channel.cmp(&b.channel));
    sent_by_tick.sort_by(|a, b| a.channel.cmp(&b.channel));
    assert_eq!(bodies, sent_by_tick);

    // Every call to the providers is counted: the outbox alone would hide
    // a second send behind its idempotency key.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut w = w;
    w.state.mailer = Arc::new(CountingMailer(w.state.mailer.clone(), calls.clone()));
    w.state.sms = Arc::new(CountingSms(w.state.sms.clone(), calls.clone()));
    for delivery in 1..=2 {
        let response = w.sqs(name, &seeded).await;
        assert!(response.batch_item_failures.is_empty(), "delivery {delivery}");
    }
    let mut provider_calls = calls.lock().expect("calls").clone();
    provider_calls.sort();
    let mut expected = vec![email.idempotency_key(), sms.idempotency_key()];
    expected.sort();
    assert_eq!(provider_calls, expected, "each reminder reached its provider once");
    let sent = w.outbox().await;
    let reminders: Vec<(&str, &str)> = sent
        .iter()
        .filter(|m| m["kind"] == "booking_reminder" || m["text"].as_str().unwrap_or_default().contains("reminder"))
        .map(|m| {
            (
                m["kind"].as_str().unwrap_or_default(),
                m["to"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let mut reminders = reminders;
    reminders.sort_unstable();
    assert_eq!(
        reminders,
        [
            ("booking_reminder", "priya.raman@example.com"),
            ("sms", "+447911123456")
        ],
        "one reminder each way, however often delivered: {sent:#?}"
    );
    for message in [&email, &sms] {
        let item = w
            .state
            .table
            .get(&message.key())
            .await
            .expect("get")
            .expect("the reminder");
        assert_eq!(item["status"], STATUS_SENT, "{}", message.channel);
    }
}

/// The reminders tick at the clock's time.
async fn tick_now(w: &World) -> u64 {
    konnecs::inbound::events::reminders::tick(w.state.clone())
        .await
        .expect("tick")
        .processed
}

pub async fn reminders_tick_fans_out_the_reminders_due_at_its_time(name: &str) {
    let w = World::with_dana().await;
    let booking = priya_booked(&w).await;
    let record = bookings::get_record(
        w.state.table.as_ref(),
        &OrgId::from(&w.org_id),
        &BookingId::from(&booking),
    )
    .await
    .expect("booking");
    let all: Vec<Key> = record
        .reminder_keys
        .iter()
        .map(|k| Key::new(k.pk.clone(), k.sk.clone()))
        .collect();
    assert_eq!(all.len(), 4, "a day and an hour before, by email and SMS");
    // Its time is the hour before the check-up: the hour-before reminders
    // are due, the day-before ones long past the tick's first look back.
    let processed = tick_at_the_samples_time(&w, name).await;
    let queued = queued_reminders(&w).await;
    assert_eq!(processed, queued.len() as u64, "it reports what it queued");
    let mut channels: Vec<(&str, i64)> = queued.iter().map(|m| (m.channel.as_str(), m.offset_minutes)).collect();
    channels.sort_unstable();
    assert_eq!(channels, [("email", 60), ("sms", 60)]);
    for message in &queued {
        assert_eq!(message.booking_id, booking);
        assert!(
            all.contains(&message.key()),
            "{message:?} is one of the booking's reminders"
        );
    }
}

/// Provider calls, by idempotency key.
type Calls = Arc<Mutex<Vec<String>>>;

struct CountingMailer(Arc<dyn Mailer>, Calls);

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, email: &Email, key: &str) -> Result<(), MailError> {
        self.1.lock().expect("calls").push(key.to_string());
        self.0.send(email, key).await
    }
}

struct CountingSms(Arc<dyn Sms>, Calls);

#[async_trait]
impl Sms for CountingSms {
    fn sender(&self) -> &str {
        self.0.sender()
    }
    async fn send(&self, to: &str, body: &str, key: &str) -> Result<(), SmsError> {
        self.1.lock().expect("calls").push(key.to_string());
        self.0.send(to, body, key).await
    }
}

pub async fn org_purge_tick_queues_the_purge_of_the_organization_past_its_grace_window(name: &str) {
    let w = World::with_dana().await;
    w.api(
        "POST",
        "/org/deletion",
        Some(json!({"confirm_name": "Whitfield Dental"})),
    )
    .await;
    // The sample's time is past the seven days: one purge queued, once.
    assert_eq!(tick_at_the_samples_time(&w, name).await, 1);
    assert_eq!(tick_at_the_samples_time(&w, name).await, 0, "queued once");
}
