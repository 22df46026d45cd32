//! Two-way SMS through Twilio's webhooks, signed exactly as Twilio signs
//! them (the scheme whose documented example `domain::sms` reproduces):
//! STOP, START and HELP, replies for the business, status callbacks, the
//! provider's own opt-out (error 21610), and quiet hours on the test clock.
//! Bookings go through the real router (`konnecs_tests::practice`); texts
//! land in the outbox.

use konnecs::domain::ids::{BookingId, OrgId};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use http::{Request, StatusCode};
use konnecs::app::{AppState, OUTBOX_SMS_SENDER};
use konnecs::config::TwilioConfig;
use konnecs::domain::sms::twilio_signature;
use konnecs::ports::{Sms, SmsError};
use konnecs::services::notifications::{self, SmsOutcome, SmsRequest};
use konnecs::services::sms::{self, outbound::SentSms};
use konnecs_tests::app::{Store, TestApp};
use konnecs_tests::http::Reply;
use konnecs_tests::local::outbox;
use konnecs_tests::practice::{Practice, booking_id, texting_guest};
use serde_json::{Value, json};

mod consent;
mod erasure;
mod pages;
mod quiet_hours;

const PHONE: &str = "+447911123456";
const AUTH_TOKEN: &str = "test-twilio-auth-token-5d1e0c";
const PUBLIC_URL: &str = "https://crm.whitfield-dental.example";

/// The harness at `at`, with Twilio's webhook secret configured (texts
/// still go to the outbox).
async fn app(store: Store, at: &str) -> TestApp {
    let mut app = TestApp::on(store, at).await;
    let mut state = app.state.clone();
    let mut config = (*state.config).clone();
    config.public_url = PUBLIC_URL.into();
    config.twilio = Some(TwilioConfig {
        account_sid: "AC00000000000000000000000000000001".into(),
        auth_token: AUTH_TOKEN.to_string().into(),
        from: OUTBOX_SMS_SENDER.into(),
    });
    state.config = Arc::new(config);
    app.replace_state(state);
    app
}

fn london_guest(email: &str) -> Value {
    texting_guest("Ann Lee", email, "Europe/London", PHONE)
}

/// A webhook request as Twilio sends it, signed with `token` over
/// `PUBLIC_URL` + `path_and_query`.
fn twilio_request(path_and_query: &str, params: &[(&str, &str)], token: &str) -> Request<Body> {
    let owned: Vec<(String, String)> = params.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect();
    let signature = twilio_signature(token, &format!("{PUBLIC_URL}{path_and_query}"), &owned);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    Request::builder()
        .method("POST")
        .uri(path_and_query)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(Body::from(body))
        .expect("request")
}

/// `Body` texted from `from`, as message `sid`.
async fn text_in(app: &TestApp, sid: &str, from: &str, body: &str) -> Reply {
    let params = [
        ("MessageSid", sid),
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("From", from),
        ("To", OUTBOX_SMS_SENDER),
        ("Body", body),
        ("NumMedia", "0"),
    ];
    app.request(twilio_request("/webhooks/twilio/sms", &params, AUTH_TOKEN))
        .await
}

fn twiml_of(reply: &Reply) -> String {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    assert!(
        reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/xml")),
        "{:?}",
        reply.headers
    );
    String::from_utf8(reply.bytes.clone()).expect("utf-8")
}

fn texts(messages: &[Value]) -> Vec<&Value> {
    messages.iter().filter(|m| m["kind"] == "sms").collect()
}

fn booking_emails(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["kind"].as_str().unwrap_or_default().starts_with("booking_booked"))
        .collect()
}

/// The contact's timeline entry kinds, oldest first.
async fn timeline_kinds(practice: &Practice, contact_id: &str) -> Vec<(String, Value)> {
    let reply = practice
        .host
        .send(&practice.app, "GET", &format!("/contacts/{contact_id}/timeline"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut entries: Vec<(String, Value)> = reply.body["entries"]
        .as_array()
        .expect("timeline entries")
        .iter()
        .map(|e| (e["kind"].as_str().unwrap_or_default().to_string(), e["detail"].clone()))
        .collect();
    entries.reverse();
    entries
}

async fn contact_of(state: &AppState, org_id: &str) -> String {
    sms::contact_with_phone(state.table.as_ref(), &OrgId::from(org_id), PHONE)
        .await
        .expect("read")
        .expect("the booking made a contact with the phone")
        .into_string()
}

async fn stop_is_confirmed_once_silences_bookings_but_not_email_and_start_restores(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    let first = booking_id(
        &practice
            .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
            .await,
    );
    assert_eq!(texts(&outbox(&app.state).await).len(), 1, "the confirmation text");

    let reply = twiml_of(&text_in(&app, "SM0001", PHONE, " Stop ").await);
    assert!(
        reply.contains("<Message>Whitfield Dental: You are unsubscribed"),
        "{reply}"
    );
    assert!(reply.contains("Reply START"), "{reply}");
    // Twilio retries the webhook with the same MessageSid: no second confirmation.
    let again = twiml_of(&text_in(&app, "SM0001", PHONE, " Stop ").await);
    assert!(!again.contains("<Message>"), "{again}");

    // The booking's pending text reminders are cancelled; its emails stay.
    for key in practice.reminder_keys(&first).await {
        let item = app.state.table.get(&key).await.expect("read").expect("reminder");
        let expected = if key.sk.ends_with("#sms") { "dropped" } else { "pending" };
        assert_eq!(item["status"], expected, "{}", key.sk);
    }

    // A new booking with that number: the emails go, no text.
    let before = outbox(&app.state).await;
    practice
        .book("2026-12-04T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    let after = outbox(&app.state).await;
    assert_eq!(texts(&after).len(), texts(&before).len(), "no text after STOP");
    assert_eq!(booking_emails(&after).len(), booking_emails(&before).len() + 2);

    // START opts back in: confirmed, and the next booking texts again.
    let reply = twiml_of(&text_in(&app, "SM0002", PHONE, "start").await);
    assert!(reply.contains("resubscribed"), "{reply}");
    practice
        .book("2026-12-05T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    assert_eq!(texts(&outbox(&app.state).await).len(), texts(&after).len() + 1);

    let contact = contact_of(&app.state, &practice.org_id).await;
    let kinds: Vec<String> = timeline_kinds(&practice, &contact)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let position = |kind: &str| {
        kinds
            .iter()
            .position(|k| k == kind)
            .unwrap_or_else(|| panic!("{kind} in {kinds:?}"))
    };
    assert!(position("sms.sent") < position("sms.opted_out"), "{kinds:?}");
    assert!(position("sms.opted_out") < position("sms.opted_in"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "sms.opted_out").count(), 1, "{kinds:?}");
}

async fn help_names_the_business_the_messages_stop_and_the_support_address(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    let reply = twiml_of(&text_in(&app, "SM0101", PHONE, "HELP").await);
    assert!(reply.contains("Whitfield Dental:"), "{reply}");
    assert!(reply.contains("Appointment confirmations, reminders"), "{reply}");
    assert!(reply.contains("Reply STOP to opt out"), "{reply}");
    assert!(reply.contains("hello@konnecs.com"), "{reply}");
    // INFO is HELP too, and neither opts anybody out.
    assert!(twiml_of(&text_in(&app, "SM0102", PHONE, "info").await).contains("Reply STOP to opt out"));
    let opt_out = sms::sms_opt_out_key(OUTBOX_SMS_SENDER, PHONE);
    assert!(app.state.table.get(&opt_out).await.expect("read").is_none());
}

async fn a_reply_goes_on_the_timeline_and_to_the_host(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    let reply = twiml_of(&text_in(&app, "SM0201", PHONE, "Running 10 minutes late, sorry!").await);
    assert!(!reply.contains("<Message>"), "no automatic answer: {reply}");
    let contact = contact_of(&app.state, &practice.org_id).await;
    let timeline = timeline_kinds(&practice, &contact).await;
    let received: Vec<&Value> = timeline
        .iter()
        .filter(|(k, _)| k == "sms.received")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(received.len(), 1, "{timeline:?}");
    assert_eq!(received[0]["body"], "Running 10 minutes late, sorry!");
    let notes = sms::recent_notifications(app.state.table.as_ref(), &practice.org_id, 10)
        .await
        .expect("notifications");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, "sms.received");
    assert_eq!(notes[0].contact_id.as_deref(), Some(contact.as_str()));
    let emails: Vec<Value> = outbox(&app.state)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "sms_reply")
        .collect();
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["to"], "dana@whitfield-dental.example");
    assert!(
        emails[0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Running 10 minutes late")
    );
    // Twilio's retry of the same message adds nothing.
    text_in(&app, "SM0201", PHONE, "Running 10 minutes late, sorry!").await;
    let timeline = timeline_kinds(&practice, &contact).await;
    assert_eq!(timeline.iter().filter(|(k, _)| k == "sms.received").count(), 1);
}

konnecs_tests::on_both_stores!(
    stop_is_confirmed_once_silences_bookings_but_not_email_and_start_restores,
    help_names_the_business_the_messages_stop_and_the_support_address,
    a_reply_goes_on_the_timeline_and_to_the_host,
    status_callbacks_move_the_status_forward_on_the_timeline,
);

#[tokio::test]
async fn a_request_not_signed_by_twilio_is_refused_and_changes_nothing() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let params = [("MessageSid", "SM0301"), ("From", PHONE), ("Body", "STOP")];
    // Another token, another URL, no signature at all.
    let wrong_token = twilio_request("/webhooks/twilio/sms", &params, "not-the-token");
    let mut wrong_url = twilio_request("/webhooks/twilio/sms?x=1", &params, AUTH_TOKEN);
    *wrong_url.uri_mut() = "/webhooks/twilio/sms".parse().expect("uri");
    let mut unsigned = twilio_request("/webhooks/twilio/sms", &params, AUTH_TOKEN);
    unsigned.headers_mut().remove("x-twilio-signature");
    for request in [wrong_token, wrong_url, unsigned] {
        let reply = app.request(request).await;
        konnecs_tests::app::problem(&reply, StatusCode::FORBIDDEN, "invalid_signature");
    }
    let opt_out = sms::sms_opt_out_key(OUTBOX_SMS_SENDER, PHONE);
    assert!(app.state.table.get(&opt_out).await.expect("read").is_none());
    // Signed properly, the same request works.
    let reply = app
        .request(twilio_request("/webhooks/twilio/sms", &params, AUTH_TOKEN))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(app.state.table.get(&opt_out).await.expect("read").is_some());
}

async fn status(app: &TestApp, message_id: &str, sid: &str, status: &str, error: Option<&str>) -> StatusCode {
    let mut params = vec![("MessageSid", sid), ("MessageStatus", status), ("To", PHONE)];
    if let Some(code) = error {
        params.push(("ErrorCode", code));
    }
    let path = format!("/webhooks/twilio/status?m={message_id}");
    app.request(twilio_request(&path, &params, AUTH_TOKEN)).await.status
}

async fn status_callbacks_move_the_status_forward_on_the_timeline(store: Store) {
    let app = app(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    let contact = contact_of(&app.state, &practice.org_id).await;
    let timeline = timeline_kinds(&practice, &contact).await;
    let sent = timeline
        .iter()
        .find(|(k, _)| k == "sms.sent")
        .map(|(_, d)| d.clone())
        .expect("the confirmation on the timeline");
    let id = sent["message_id"].as_str().expect("message id").to_string();
    assert_eq!(status(&app, &id, "SM0401", "sent", None).await, StatusCode::NO_CONTENT);
    assert_eq!(
        status(&app, &id, "SM0401", "delivered", None).await,
        StatusCode::NO_CONTENT
    );
    // Out of order and repeated: nothing moves back.
    assert_eq!(status(&app, &id, "SM0401", "sent", None).await, StatusCode::NO_CONTENT);
    assert_eq!(
        status(&app, &id, "SM0401", "delivered", None).await,
        StatusCode::NO_CONTENT
    );
    let message = app
        .state
        .table
        .get(&sms::message_key(&id))
        .await
        .expect("read")
        .expect("message");
    assert_eq!(message["status"], "delivered");
    assert_eq!(message["message_sid"], "SM0401");
    let statuses: Vec<Value> = timeline_kinds(&practice, &contact)
        .await
        .into_iter()
        .filter(|(k, _)| k == "sms.status")
        .map(|(_, d)| d["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("sent"), json!("delivered")]);
    // A confirmation that failed is on the timeline, but only reminders alert the staff.
    assert!(
        sms::recent_notifications(app.state.table.as_ref(), &practice.org_id, 10)
            .await
            .expect("notifications")
            .is_empty()
    );

    // A reminder text that fails: the staff see it.
    let request = SmsRequest {
        idempotency_key: "reminder/REMINDERS#2026-12-03T14:00#1/x#y#60#sms".into(),
        org_id: practice.org_id.clone(),
        booking_id: None,
        to: PHONE.into(),
        body: "Whitfield Dental: reminder".into(),
    };
    assert_eq!(
        notifications::send_sms(&app.state, &request).await.expect("sent"),
        SmsOutcome::Sent
    );
    let reminder_id = sms::message_id(&request.idempotency_key);
    assert_eq!(
        status(&app, &reminder_id, "SM0402", "undelivered", Some("30003")).await,
        StatusCode::NO_CONTENT
    );
    let notes = sms::recent_notifications(app.state.table.as_ref(), &practice.org_id, 10)
        .await
        .expect("notifications");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "sms.failed");
    assert!(notes[0].text.contains("30003"), "{}", notes[0].text);
}

/// Twilio refusing every send with error 21610 (the number replied STOP to
/// Twilio before Konnecs heard of it).
struct Unsubscribed {
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Sms for Unsubscribed {
    fn sender(&self) -> &str {
        OUTBOX_SMS_SENDER
    }
    async fn send(&self, _to: &str, _body: &str, _key: &str) -> Result<(), SmsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(SmsError::Unsubscribed("twilio answered 400: {\"code\": 21610}".into()))
    }
}

#[tokio::test]
async fn twilio_error_21610_records_the_opt_out_and_is_not_retried() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let provider = Arc::new(Unsubscribed {
        calls: AtomicUsize::new(0),
    });
    let mut state = app.state.clone();
    state.sms = provider.clone();
    let practice = Practice::open(&state, json!({})).await;
    practice.contact_consenting_to_texts("Ann", PHONE).await;
    let request = |key: &str| SmsRequest {
        idempotency_key: key.into(),
        org_id: practice.org_id.clone(),
        booking_id: Some("b1".into()),
        to: PHONE.into(),
        body: "Whitfield Dental: your Cleaning is confirmed.".into(),
    };
    // Not an error to retry: the outcome is final.
    assert_eq!(
        notifications::send_sms(&state, &request("k1")).await.expect("no retry"),
        SmsOutcome::OptedOut
    );
    let opt_out = state
        .table
        .get(&sms::sms_opt_out_key(OUTBOX_SMS_SENDER, PHONE))
        .await
        .expect("read")
        .expect("the opt-out is recorded");
    assert_eq!(opt_out["source"], "provider");
    // The next text is suppressed before it reaches Twilio, and the refused
    // one did not use the appointment's allowance.
    assert_eq!(
        notifications::send_sms(&state, &request("k2"))
            .await
            .expect("suppressed"),
        SmsOutcome::OptedOut
    );
    assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
    let counter = state
        .table
        .get(&notifications::sms_counter_key(&practice.org_id, &BookingId::new("b1")))
        .await
        .expect("read");
    let used = counter
        .as_ref()
        .and_then(|c| c.get("count"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    assert_eq!(used, 0);
}
