//! Booking notifications through the jobs queue into the outbox: emails to
//! customer and host with an iCalendar attachment, SMS only with consent,
//! never twice, never more than three per appointment, never to an opted-out
//! number.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use konnecs::app::{AppState, OUTBOX_SMS_SENDER};
use konnecs::inbound::events::{Message, jobs};
use konnecs::ports::TestClock;
use konnecs::services::notifications::{self, BookingChange, BookingNotice, SmsOutcome, SmsRequest, sms_opt_out_key};
use konnecs_tests::local::booking_changed;
use serde_json::{Value, json};

fn now() -> Timestamp {
    "2026-12-01T08:00:00Z".parse().expect("timestamp")
}

fn state() -> (AppState, tempfile::TempDir) {
    konnecs_tests::local::temp_state_with_clock(Arc::new(TestClock::at(now())))
}

fn notice(booking_id: &str, sequence: u32, starts_at: &str, sms_consent: bool) -> BookingNotice {
    let starts: Timestamp = starts_at.parse().expect("start");
    BookingNotice {
        org_id: "org1".into(),
        booking_id: booking_id.into(),
        org_name: "Whitfield Dental".into(),
        event_title: "Cleaning".into(),
        location: Some("12 High St, Leeds".into()),
        host_name: "Dana Whitfield".into(),
        host_email: "dana@whitfield-dental.example".into(),
        host_time_zone: "Europe/London".into(),
        customer_name: "Ann Lee".into(),
        customer_email: "ann@example.com".into(),
        customer_phone: Some("+447700900123".into()),
        sms_consent,
        customer_time_zone: "America/New_York".into(),
        starts_at: starts.as_second(),
        ends_at: starts.as_second() + 1800,
        sequence,
        manage_url: Some(format!("http://127.0.0.1:3000/booking/{booking_id}?token=tok")),
    }
}

/// Runs the jobs queue dry through the real consumer.
async fn drain_jobs(state: &AppState) {
    for _ in 0..100 {
        let received = state.jobs.receive(10, Duration::from_secs(30)).await.expect("receive");
        if received.is_empty() {
            return;
        }
        let messages = received
            .iter()
            .map(|r| Message {
                message_id: r.message_id.clone(),
                body: r.body.clone(),
                receive_count: r.receive_count,
            })
            .collect();
        let outcome = jobs::consume(state.clone(), messages).await;
        assert!(outcome.failed.is_empty(), "jobs failed: {:?}", outcome.failed);
        for r in &received {
            state.jobs.ack(&r.receipt).await.expect("ack");
        }
    }
    panic!("jobs queue did not drain");
}

async fn outbox(state: &AppState) -> Vec<Value> {
    drain_jobs(state).await;
    let (items, _) = konnecs::adapters::outbox::list(state.table.as_ref(), 200, None)
        .await
        .expect("outbox");
    items.into_iter().map(Value::Object).collect()
}

fn of_kind<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["kind"] == kind).collect()
}

fn ics_of(message: &Value) -> String {
    let attachment = &message["attachments"][0];
    assert!(
        attachment["content_type"]
            .as_str()
            .unwrap_or_default()
            .starts_with("text/calendar"),
        "{attachment}"
    );
    let bytes = STANDARD
        .decode(attachment["content_base64"].as_str().expect("base64"))
        .expect("decodes");
    String::from_utf8(bytes).expect("utf-8")
}

#[tokio::test]
async fn booking_emails_customer_and_host_with_an_ics_and_texts_a_consented_phone() {
    let (state, _dir) = state();
    let n = notice("b1", 0, "2026-12-03T15:00:00Z", true);
    booking_changed(&state, &n, &BookingChange::Booked)
        .await
        .expect("queued");
    let messages = outbox(&state).await;

    let customer = of_kind(&messages, "booking_booked_customer");
    let host = of_kind(&messages, "booking_booked_host");
    assert_eq!((customer.len(), host.len()), (1, 1), "{messages:#?}");
    assert_eq!(customer[0]["to"], "ann@example.com");
    assert_eq!(host[0]["to"], "dana@whitfield-dental.example");
    for email in [customer[0], host[0]] {
        let ics = ics_of(email);
        assert!(ics.contains("METHOD:REQUEST\r\n"), "{ics}");
        assert!(ics.contains("UID:booking-b1@konnecs.com\r\n"), "{ics}");
        assert!(ics.contains("DTSTART:20261203T150000Z\r\n"), "{ics}");
        // The MIME message (lettre) carries the calendar part.
        let mime = email["mime"].as_str().unwrap_or_default();
        assert!(mime.contains("Content-Type: text/calendar"), "{mime}");
        assert!(mime.contains("filename=\"invite.ics\""), "{mime}");
    }
    // 15:00 UTC is 10:00 in New York for the customer, 15:00 in London for the host.
    assert!(customer[0]["text"].as_str().unwrap_or_default().contains("10:00 EST"));
    assert!(host[0]["text"].as_str().unwrap_or_default().contains("15:00 GMT"));
    assert!(
        customer[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("/booking/b1?token=tok")
    );

    let sms = of_kind(&messages, "sms");
    assert_eq!(sms.len(), 1, "{messages:#?}");
    assert_eq!(sms[0]["to"], "+447700900123");
    assert!(sms[0]["text"].as_str().unwrap_or_default().contains("confirmed"));
}

#[tokio::test]
async fn no_sms_without_consent() {
    let (state, _dir) = state();
    booking_changed(
        &state,
        &notice("b1", 0, "2026-12-03T15:00:00Z", false),
        &BookingChange::Booked,
    )
    .await
    .expect("queued");
    let messages = outbox(&state).await;
    assert!(of_kind(&messages, "sms").is_empty());
    assert_eq!(messages.len(), 2);
}

#[tokio::test]
async fn a_repeated_change_notification_sends_nothing_twice() {
    let (state, _dir) = state();
    let n = notice("b1", 0, "2026-12-03T15:00:00Z", true);
    for _ in 0..3 {
        booking_changed(&state, &n, &BookingChange::Booked)
            .await
            .expect("queued");
    }
    // The same jobs delivered again (redelivery) are no-ops too.
    let messages = outbox(&state).await;
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert_eq!(of_kind(&messages, "sms").len(), 1);
}

#[tokio::test]
async fn reschedule_sends_a_higher_sequence_and_cancel_sends_method_cancel() {
    let (state, _dir) = state();
    booking_changed(
        &state,
        &notice("b1", 0, "2026-12-03T15:00:00Z", false),
        &BookingChange::Booked,
    )
    .await
    .expect("booked");
    let previous = "2026-12-03T15:00:00Z".parse::<Timestamp>().expect("ts").as_second();
    booking_changed(
        &state,
        &notice("b1", 1, "2026-12-04T15:00:00Z", false),
        &BookingChange::Rescheduled {
            previous_starts_at: previous,
        },
    )
    .await
    .expect("moved");
    booking_changed(
        &state,
        &notice("b1", 2, "2026-12-04T15:00:00Z", false),
        &BookingChange::Cancelled {
            reason: Some("Feeling better".into()),
        },
    )
    .await
    .expect("cancelled");
    let messages = outbox(&state).await;
    let moved = ics_of(of_kind(&messages, "booking_rescheduled_customer")[0]);
    assert!(
        moved.contains("SEQUENCE:1\r\n") && moved.contains("METHOD:REQUEST\r\n"),
        "{moved}"
    );
    assert!(moved.contains("DTSTART:20261204T150000Z\r\n"), "{moved}");
    let cancelled_email = of_kind(&messages, "booking_cancelled_host")[0];
    let cancelled = ics_of(cancelled_email);
    assert!(
        cancelled.contains("METHOD:CANCEL\r\n") && cancelled.contains("STATUS:CANCELLED\r\n"),
        "{cancelled}"
    );
    assert!(cancelled.contains("SEQUENCE:2\r\n"), "{cancelled}");
    assert!(cancelled.contains("UID:booking-b1@konnecs.com\r\n"));
    assert!(
        cancelled_email["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Feeling better")
    );
}

#[tokio::test]
async fn an_appointment_never_gets_more_than_three_sms() {
    let (state, _dir) = state();
    booking_changed(
        &state,
        &notice("b1", 0, "2026-12-03T15:00:00Z", true),
        &BookingChange::Booked,
    )
    .await
    .expect("booked");
    for sequence in 1..=3 {
        booking_changed(
            &state,
            &notice("b1", sequence, &format!("2026-12-0{}T15:00:00Z", 3 + sequence), true),
            &BookingChange::Rescheduled { previous_starts_at: 0 },
        )
        .await
        .expect("moved");
    }
    booking_changed(
        &state,
        &notice("b1", 4, "2026-12-06T15:00:00Z", true),
        &BookingChange::Cancelled { reason: None },
    )
    .await
    .expect("cancelled");
    let messages = outbox(&state).await;
    assert_eq!(of_kind(&messages, "sms").len(), 3, "{messages:#?}");
    // Emails are not limited.
    assert_eq!(messages.len() - 3, 10);
}

#[tokio::test]
async fn concurrent_sms_for_one_appointment_stay_within_the_limit() {
    let (state, _dir) = state();
    let sends = (0..12).map(|i| {
        let state = state.clone();
        async move {
            let request = SmsRequest {
                idempotency_key: format!("k{i}"),
                org_id: "org1".into(),
                booking_id: Some("b1".into()),
                to: "+447700900123".into(),
                body: format!("message {i}"),
            };
            notifications::send_sms(&state, &request)
                .await
                .expect("no store failure")
        }
    });
    let outcomes = futures::future::join_all(sends).await;
    let sent = outcomes.iter().filter(|o| **o == SmsOutcome::Sent).count();
    assert_eq!(sent, 3, "{outcomes:?}");
    let messages = outbox(&state).await;
    assert_eq!(of_kind(&messages, "sms").len(), 3);
}

#[tokio::test]
async fn an_opted_out_number_receives_nothing_and_keeps_the_allowance() {
    let (state, _dir) = state();
    let opt_out = sms_opt_out_key(OUTBOX_SMS_SENDER, "+447700900123");
    state
        .table
        .put(
            konnecs::services::object(json!({"pk": opt_out.pk, "sk": opt_out.sk, "at": 1})),
            None,
        )
        .await
        .expect("opt out");
    booking_changed(
        &state,
        &notice("b1", 0, "2026-12-03T15:00:00Z", true),
        &BookingChange::Booked,
    )
    .await
    .expect("booked");
    let messages = outbox(&state).await;
    assert!(of_kind(&messages, "sms").is_empty(), "{messages:#?}");
    assert_eq!(messages.len(), 2, "the emails still go");

    // Opted back in (START): the suppressed message did not use the allowance.
    state.table.delete(&opt_out, None).await.expect("opt in");
    for i in 0..3 {
        let request = SmsRequest {
            idempotency_key: format!("later{i}"),
            org_id: "org1".into(),
            booking_id: Some("b1".into()),
            to: "+447700900123".into(),
            body: "hello".into(),
        };
        assert_eq!(
            notifications::send_sms(&state, &request).await.expect("sent"),
            SmsOutcome::Sent
        );
    }
}

/// An SMS provider whose answer never arrives (it may have sent the text).
struct LostAnswer {
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl konnecs::ports::Sms for LostAnswer {
    fn sender(&self) -> &str {
        "+15005550006"
    }
    async fn send(&self, _to: &str, _body: &str, _key: &str) -> Result<(), konnecs::ports::SmsError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(konnecs::ports::SmsError::Unknown("timed out".into()))
    }
}

#[tokio::test]
async fn an_sms_whose_outcome_is_unknown_is_not_sent_again_on_redelivery() {
    let (mut state, _dir) = state();
    let provider = Arc::new(LostAnswer {
        calls: Default::default(),
    });
    state.sms = provider.clone();
    let request = konnecs::services::notifications::SmsRequest {
        idempotency_key: "booking/b1/booked/0/customer/sms".into(),
        org_id: "org1".into(),
        booking_id: Some("b1".into()),
        to: "+447911123456".into(),
        body: "Harbour Physio: your Assessment is confirmed.".into(),
    };
    let first = konnecs::services::notifications::send_sms(&state, &request).await;
    assert!(
        matches!(first, Err(konnecs::services::notifications::SmsSendError::Permanent(_))),
        "not retried: {first:?}"
    );
    let again = konnecs::services::notifications::send_sms(&state, &request).await;
    assert!(
        matches!(again, Ok(konnecs::services::notifications::SmsOutcome::AlreadySent)),
        "{again:?}"
    );
    assert_eq!(provider.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
