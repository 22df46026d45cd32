//! Booking notifications through the jobs queue into the outbox: emails to
//! customer and host with an iCalendar attachment, SMS only with consent,
//! never twice, never more than three per appointment, never to an opted-out
//! number. Appointments are booked, moved and cancelled through the real
//! router and scheduling service (`konnecs_tests::practice`), so these are
//! the messages bookings really send.

use konnecs::domain::ids::BookingId;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use konnecs::app::{AppState, OUTBOX_SMS_SENDER};
use konnecs::inbound::events::{Message, jobs};
use konnecs::services::notifications::{self, SmsOutcome, SmsRequest, sms_opt_out_key};
use konnecs_tests::app::TestApp;
use konnecs_tests::local::outbox;
use konnecs_tests::practice::{Practice, booking_id, guest, texting_guest};
use serde_json::{Value, json};

const PHONE: &str = "+447911123456";

/// The harness on the morning of 1 December 2026, and its state (the app keeps the store).
fn state() -> (AppState, TestApp) {
    let app = TestApp::at("2026-12-01T08:00:00Z");
    (app.state.clone(), app)
}

/// Ann, in New York, with her phone and consent to texts.
fn ann_texting() -> Value {
    texting_guest("Ann Lee", "ann@example.com", "America/New_York", PHONE)
}

/// Ann, in New York, without a phone.
fn ann() -> Value {
    guest("Ann Lee", "ann@example.com", "America/New_York")
}

fn of_kind<'a>(messages: &'a [Value], kind: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["kind"] == kind).collect()
}

/// The messages bookings sent (the sign-up's verification email left out).
fn booking_messages(messages: &[Value]) -> Vec<&Value> {
    messages.iter().filter(|m| m["kind"] != "verify_email").collect()
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
    let (state, _app) = state();
    let practice = Practice::open(&state, json!({})).await;
    let booked = practice.book("2026-12-03T15:00:00Z", &ann_texting()).await;
    let id = booking_id(&booked);
    let messages = outbox(&state).await;

    let customer = of_kind(&messages, "booking_booked_customer");
    let host = of_kind(&messages, "booking_booked_host");
    assert_eq!((customer.len(), host.len()), (1, 1), "{messages:#?}");
    assert_eq!(customer[0]["to"], "ann@example.com");
    assert_eq!(host[0]["to"], "dana@whitfield-dental.example");
    for email in [customer[0], host[0]] {
        let ics = ics_of(email);
        assert!(ics.contains("METHOD:REQUEST\r\n"), "{ics}");
        assert!(ics.contains(&format!("UID:booking-{id}@konnecs.com\r\n")), "{ics}");
        assert!(ics.contains("DTSTART:20261203T150000Z\r\n"), "{ics}");
        // The MIME message (lettre) carries the calendar part.
        let mime = email["mime"].as_str().unwrap_or_default();
        assert!(mime.contains("Content-Type: text/calendar"), "{mime}");
        assert!(mime.contains("filename=\"invite.ics\""), "{mime}");
    }
    // 15:00 UTC is 10:00 in New York for the customer, 15:00 in London for the host.
    assert!(customer[0]["text"].as_str().unwrap_or_default().contains("10:00 EST"));
    assert!(host[0]["text"].as_str().unwrap_or_default().contains("15:00 GMT"));
    let manage_url = booked["manage_url"].as_str().expect("manage url");
    assert!(manage_url.contains(&format!("/booking/{id}?token=")), "{manage_url}");
    assert!(
        customer[0]["text"].as_str().unwrap_or_default().contains(manage_url),
        "the customer's email carries the manage link"
    );

    let sms = of_kind(&messages, "sms");
    assert_eq!(sms.len(), 1, "{messages:#?}");
    assert_eq!(sms[0]["to"], PHONE);
    assert!(sms[0]["text"].as_str().unwrap_or_default().contains("confirmed"));
}

#[tokio::test]
async fn no_sms_without_consent() {
    let (state, _app) = state();
    let practice = Practice::open(&state, json!({})).await;
    let mut no_consent = ann_texting();
    no_consent["sms_consent"] = json!(false);
    for (start, invitee) in [("2026-12-03T15:00:00Z", ann()), ("2026-12-03T16:00:00Z", no_consent)] {
        practice.book(start, &invitee).await;
    }
    let messages = outbox(&state).await;
    assert!(of_kind(&messages, "sms").is_empty(), "{messages:#?}");
    assert_eq!(booking_messages(&messages).len(), 4, "two emails per booking");
}

/// Everything on the jobs queue now, received (hidden for a minute).
async fn take_jobs(state: &AppState) -> Vec<Message> {
    let mut all = Vec::new();
    for _ in 0..100 {
        let batch = state.jobs.receive(10, Duration::from_secs(60)).await.expect("receive");
        if batch.is_empty() {
            return all;
        }
        all.extend(batch.into_iter().map(|r| Message {
            message_id: r.message_id,
            body: r.body,
            receive_count: r.receive_count,
        }));
    }
    panic!("the jobs queue did not run dry in 100 receives");
}

#[tokio::test]
async fn a_notification_delivered_three_times_sends_nothing_twice() {
    let (state, _app) = state();
    let practice = Practice::open(&state, json!({})).await;
    practice.book("2026-12-03T15:00:00Z", &ann_texting()).await;
    let queued = take_jobs(&state).await;
    assert_eq!(
        queued.len(),
        4,
        "the sign-up's email, the booking's two emails and its SMS"
    );
    // Three deliveries of every job, two of them at once.
    let (a, b) = tokio::join!(
        jobs::consume(state.clone(), queued.clone()),
        jobs::consume(state.clone(), queued.clone())
    );
    let c = jobs::consume(state.clone(), queued).await;
    assert!(a.failed.is_empty() && b.failed.is_empty() && c.failed.is_empty());
    let messages = outbox(&state).await;
    assert_eq!(booking_messages(&messages).len(), 3, "{messages:#?}");
    assert_eq!(of_kind(&messages, "sms").len(), 1);
}

#[tokio::test]
async fn reschedule_sends_a_higher_sequence_and_cancel_sends_method_cancel() {
    let (state, _app) = state();
    let practice = Practice::open(&state, json!({})).await;
    let id = booking_id(&practice.book("2026-12-03T15:00:00Z", &ann()).await);
    practice.reschedule(&id, "2026-12-04T15:00:00Z").await;
    practice.cancel(&id, Some("Feeling better")).await;
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
    assert!(cancelled.contains(&format!("UID:booking-{id}@konnecs.com\r\n")));
    assert!(
        cancelled_email["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Feeling better")
    );
}

#[tokio::test]
async fn an_appointment_never_gets_more_than_three_sms() {
    let (state, _app) = state();
    let practice = Practice::open(&state, json!({})).await;
    let id = booking_id(&practice.book("2026-12-03T15:00:00Z", &ann_texting()).await);
    for day in 4..=6 {
        practice.reschedule(&id, &format!("2026-12-0{day}T15:00:00Z")).await;
    }
    practice.cancel(&id, None).await;
    let messages = outbox(&state).await;
    // Five changes, each with a text for a consented phone: three go.
    assert_eq!(of_kind(&messages, "sms").len(), 3, "{messages:#?}");
    // Emails are not limited: customer and host, five times.
    assert_eq!(booking_messages(&messages).len() - 3, 10);
}

#[tokio::test]
async fn concurrent_sms_for_one_appointment_stay_within_the_limit() {
    let (state, _app) = state();
    let practice = Practice::open(&state, json!({})).await;
    // Booked without a phone: none of the allowance is used yet. The number
    // agreed to texts at the front desk.
    let id = booking_id(&practice.book("2026-12-03T15:00:00Z", &ann()).await);
    practice.contact_consenting_to_texts("Ann", PHONE).await;
    let sends = (0..12).map(|i| {
        let state = state.clone();
        let request = SmsRequest {
            idempotency_key: format!("k{i}"),
            org_id: practice.org_id.clone(),
            booking_id: Some(BookingId::from(id.clone())),
            to: PHONE.into(),
            body: format!("message {i}"),
        };
        async move {
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
    let (state, _app) = state();
    // The number sent STOP earlier (the opt-out record the SMS service checks).
    let opt_out = sms_opt_out_key(OUTBOX_SMS_SENDER, PHONE);
    state
        .table
        .put(
            konnecs::services::object(json!({"pk": opt_out.pk, "sk": opt_out.sk, "at": 1})),
            None,
        )
        .await
        .expect("opt out");
    let practice = Practice::open(&state, json!({})).await;
    let id = booking_id(&practice.book("2026-12-03T15:00:00Z", &ann_texting()).await);
    let messages = outbox(&state).await;
    assert!(of_kind(&messages, "sms").is_empty(), "{messages:#?}");
    assert_eq!(booking_messages(&messages).len(), 2, "the emails still go");

    // Opted back in (START): the suppressed message did not use the allowance.
    state.table.delete(&opt_out, None).await.expect("opt in");
    for i in 0..3 {
        let request = SmsRequest {
            idempotency_key: format!("later{i}"),
            org_id: practice.org_id.clone(),
            booking_id: Some(BookingId::from(id.clone())),
            to: PHONE.into(),
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
    let (mut state, _app) = state();
    let provider = Arc::new(LostAnswer {
        calls: Default::default(),
    });
    state.sms = provider.clone();
    let practice = Practice::open(&state, json!({})).await;
    practice.contact_consenting_to_texts("Ann", "+447911123456").await;
    let request = konnecs::services::notifications::SmsRequest {
        idempotency_key: "booking/b1/booked/0/customer/sms".into(),
        org_id: practice.org_id.clone(),
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

/// A job reached when its batch has no time left is queued again for a
/// fresh batch: not sent now (it could outrun the function's timeout), not
/// failed (that would wait out the visibility timeout and count a try
/// towards the dead-letter queue), and sent once by the next batch.
#[tokio::test]
async fn a_job_out_of_batch_time_is_queued_again_and_sent_once_by_the_next_batch() {
    use konnecs::ports::mailer::Email;
    use konnecs::services::jobs::{Delivery, Job};
    let (state, _app) = state();
    let job = Job::SendEmail {
        idempotency_key: "late-batch-1".into(),
        email: Email {
            to: "ann@example.com".into(),
            subject: "Your appointment".into(),
            text: "See you soon.".into(),
            html: None,
            attachments: Vec::new(),
            kind: "booking_confirmation".into(),
        },
    };
    let spent = Delivery {
        deadline: std::time::Instant::now(),
        last_attempt: false,
    };
    jobs::run(&state, job, &spent).await.expect("queued again, not failed");
    let sent = |all: Vec<Value>| all.iter().filter(|m| m["subject"] == "Your appointment").count();
    let (items, _) = konnecs::adapters::outbox::list(state.table.as_ref(), 50, None)
        .await
        .expect("outbox");
    assert_eq!(
        sent(items.into_iter().map(Value::Object).collect()),
        0,
        "nothing sent from a spent batch"
    );
    assert_eq!(sent(outbox(&state).await), 1, "the next batch sends it once");
}
