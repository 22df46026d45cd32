//! Two-way SMS through Twilio's webhooks, signed exactly as Twilio signs
//! them (the scheme whose documented example `domain::sms` reproduces):
//! STOP, START and HELP, replies for the business, status callbacks, the
//! provider's own opt-out (error 21610), and quiet hours on the test clock.
//! Bookings go through the real router (`konnecs_tests::practice`); texts
//! land in the outbox.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use http::{Request, StatusCode};
use konnecs::app::{AppState, OUTBOX_SMS_SENDER};
use konnecs::config::TwilioConfig;
use konnecs::domain::sms::twilio_signature;
use konnecs::ports::{Key, Sms, SmsError};
use konnecs::services::notifications::{self, SmsOutcome, SmsRequest};
use konnecs::services::reminder_dispatch;
use konnecs::services::sms;
use konnecs_tests::app::{Store, TestApp};
use konnecs_tests::http::Reply;
use konnecs_tests::local::outbox;
use konnecs_tests::practice::{Practice, booking_id, texting_guest};
use serde_json::{Value, json};

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
    sms::contact_with_phone(state.table.as_ref(), org_id, PHONE)
        .await
        .expect("read")
        .expect("the booking made a contact with the phone")
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
    let request = |key: &str| SmsRequest {
        idempotency_key: key.into(),
        org_id: "org1".into(),
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
        .get(&notifications::sms_counter_key("org1", "b1"))
        .await
        .expect("read");
    let used = counter
        .as_ref()
        .and_then(|c| c.get("count"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    assert_eq!(used, 0);
}

/// The reminder items of a booking with `channel`, by key.
async fn reminder_status(app: &TestApp, practice: &Practice, booking: &str) -> Vec<(Key, String)> {
    let mut found = Vec::new();
    for key in practice.reminder_keys(booking).await {
        if let Some(item) = app.state.table.get(&key).await.expect("read") {
            found.push((key, item["status"].as_str().unwrap_or_default().to_string()));
        }
    }
    found
}

async fn reminder_texts(app: &TestApp) -> Vec<Value> {
    outbox(&app.state)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "sms" && m["text"].as_str().unwrap_or_default().contains("reminder"))
        .collect()
}

/// Ticks until the cursor reaches the clock (a tick covers at most six
/// hours), then sends what is due.
async fn run_reminders(app: &TestApp) {
    for _ in 0..8 {
        reminder_dispatch::tick(&app.state).await.expect("tick");
    }
    app.drain_reminders().await;
}

#[tokio::test]
async fn a_reminder_due_in_quiet_hours_waits_for_their_end_or_is_skipped() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(
        &app.state,
        json!({"reminders": [{"offset_minutes": 60, "channels": ["sms"]}]}),
    )
    .await;
    // 08:30 London: the hour-before text is due at 07:30, inside the quiet
    // hours (21:00-08:00), and moves to 08:00, still before the appointment.
    let moved = booking_id(
        &practice
            .book("2026-12-03T08:30:00Z", &london_guest("ann@example.com"))
            .await,
    );
    // 08:00 London: due at 07:00, and the quiet hours end with the appointment: skipped.
    let skipped = booking_id(
        &practice
            .book("2026-12-04T08:00:00Z", &london_guest("ann@example.com"))
            .await,
    );
    outbox(&app.state).await;

    app.set_clock("2026-12-03T07:30:05Z");
    run_reminders(&app).await;
    assert!(reminder_texts(&app).await.is_empty(), "nothing at 07:30");
    assert_eq!(
        reminder_status(&app, &practice, &moved).await[0].1,
        "deferred",
        "moved to the end of the quiet hours"
    );
    app.set_clock("2026-12-03T07:59:00Z");
    run_reminders(&app).await;
    assert!(reminder_texts(&app).await.is_empty(), "nothing before 08:00");
    app.set_clock("2026-12-03T08:00:05Z");
    run_reminders(&app).await;
    let sent = reminder_texts(&app).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["to"], PHONE);

    app.set_clock("2026-12-04T07:00:05Z");
    run_reminders(&app).await;
    assert_eq!(reminder_status(&app, &practice, &skipped).await[0].1, "dropped");
    app.set_clock("2026-12-04T08:00:05Z");
    run_reminders(&app).await;
    assert_eq!(reminder_texts(&app).await.len(), 1, "the skipped reminder never goes");
}

#[tokio::test]
async fn the_organizations_quiet_hours_apply() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(
        &app.state,
        json!({"reminders": [{"offset_minutes": 60, "channels": ["sms"]}]}),
    )
    .await;
    // Quiet from 22:00 to 07:00: a text due at 07:30 goes at 07:30.
    sms::save_settings(&app.state, &practice.org_id, "22:00", "07:00", "")
        .await
        .expect("saved");
    practice
        .book("2026-12-03T08:30:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    app.set_clock("2026-12-03T07:30:05Z");
    run_reminders(&app).await;
    assert_eq!(reminder_texts(&app).await.len(), 1);
}

#[tokio::test]
async fn the_consent_a_booking_gives_is_kept_with_time_ip_text_and_source_and_exported() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    let mut visitor = konnecs_tests::http::Browser::anonymous();
    visitor.ip = Some("198.51.100.7".into());
    let mut body = json!({"start": "2026-12-03T15:00:00Z"});
    if let (Some(body), Some(guest)) = (body.as_object_mut(), london_guest("ann@example.com").as_object()) {
        body.extend(guest.clone());
    }
    let reply = visitor
        .send(
            &practice.app,
            "POST",
            &format!("{}/bookings", practice.page),
            Some(&body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let export = practice
        .host
        .send(&practice.app, "GET", "/contacts/export?format=jsonl", None)
        .await;
    assert_eq!(export.status, StatusCode::OK);
    let text = String::from_utf8(export.bytes.clone()).expect("utf-8");
    let ann: Value = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .find(|c| c["phones"][0]["e164"] == PHONE)
        .expect("Ann is exported");
    let consent = &ann["sms_consent"];
    assert_eq!(consent["status"], "granted", "{consent}");
    assert_eq!(consent["source"], "booking");
    assert_eq!(consent["ip"], "198.51.100.7");
    assert_eq!(
        consent["text"],
        "Text me about this appointment (confirmation and reminders). Reply STOP to opt out."
    );
    assert_eq!(consent["at"], "2026-12-01T08:00:00Z");
}

fn html(reply: &Reply) -> String {
    String::from_utf8(reply.bytes.clone()).expect("utf-8")
}

/// A form post as the staff app's pages send it (CSRF in the form).
async fn post_form(practice: &Practice, path: &str, pairs: &[(&str, &str)]) -> Reply {
    let mut pairs: Vec<(&str, &str)> = pairs.to_vec();
    let csrf = practice.host.csrf.clone().expect("csrf");
    pairs.push(("_csrf", &csrf));
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    let mut request = practice.host.request("POST", path, None);
    request.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    *request.body_mut() = Body::from(body);
    konnecs_tests::http::send(&practice.app, request).await
}

#[tokio::test]
async fn the_staff_see_the_conversation_the_consent_and_the_reply_on_the_home_page() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    text_in(&app, "SM0501", PHONE, "Can I bring my daughter?").await;
    text_in(&app, "SM0502", PHONE, "STOP").await;
    let contact = contact_of(&app.state, &practice.org_id).await;

    let page = practice
        .host
        .send(&practice.app, "GET", &format!("/app/contacts/{contact}/sms"), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let page = html(&page);
    let sent = page
        .find("Sent to +447911123456 · accepted")
        .expect("the confirmation with its status");
    let reply = page.find("Can I bring my daughter?").expect("the reply");
    let stop = page.find("Opted out from +447911123456").expect("the opt-out");
    assert!(sent < reply && reply < stop, "oldest first: {page}");
    assert!(page.contains("+447911123456: <strong>opted out"), "{page}");
    assert!(
        page.contains("Text me about this appointment"),
        "the consent text: {page}"
    );
    assert!(page.contains("<dt>Source</dt><dd>booking</dd>"), "{page}");
    // The record links to it.
    let record = practice
        .host
        .send(&practice.app, "GET", &format!("/app/contacts/{contact}"), None)
        .await;
    let record = html(&record);
    assert!(record.contains(&format!("href=\"/app/contacts/{contact}/sms\"")));
    assert!(record.contains("Opted out of texts"), "{record}");
    assert!(record.contains("Text received"), "{record}");

    let home = html(&practice.host.send(&practice.app, "GET", "/app", None).await);
    assert!(
        home.contains("Text from +447911123456: Can I bring my daughter?"),
        "{home}"
    );

    // Another organization's contact id is not found.
    let other = app.sign_up(&app.fresh_email("owner"), "Another Practice").await;
    let foreign = app
        .send(&other.browser, "GET", &format!("/app/contacts/{contact}/sms"), None)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_sms_settings_page_saves_quiet_hours_and_the_help_text_and_refuses_bad_times() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    let page = html(
        &practice
            .host
            .send(&practice.app, "GET", "/app/settings/sms", None)
            .await,
    );
    assert!(page.contains(OUTBOX_SMS_SENDER), "the sender: {page}");
    assert!(
        page.contains("value=\"21:00\"") && page.contains("value=\"08:00\""),
        "{page}"
    );

    let refused = post_form(
        &practice,
        "/app/settings/sms",
        &[("quiet_start", "25:00"), ("quiet_end", "07:00"), ("help_text", "")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html(&refused).contains("id=\"quiet_start-error\""),
        "{}",
        html(&refused)
    );

    let saved = post_form(
        &practice,
        "/app/settings/sms",
        &[
            ("quiet_start", "22:00"),
            ("quiet_end", "07:00"),
            ("help_text", "Reminders of your dental appointments."),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", html(&saved));
    let page = html(
        &practice
            .host
            .send(&practice.app, "GET", "/app/settings/sms", None)
            .await,
    );
    assert!(page.contains("value=\"22:00\""), "{page}");
    assert!(
        page.contains("Whitfield Dental: Reminders of your dental appointments. Msg ")
            && page.contains("data rates may apply. Reply STOP to opt out. Help: hello@konnecs.com"),
        "{page}"
    );
    // Only those who may change settings see or save them.
    let owner = konnecs_tests::app::Member {
        browser: practice.host.clone(),
        user_id: String::new(),
        org_id: practice.org_id.clone(),
        email: konnecs_tests::practice::HOST_EMAIL.into(),
    };
    let member = app
        .join(
            &owner,
            "sam@whitfield-dental.example",
            konnecs::domain::role::Role::Member,
        )
        .await;
    let refused = app.send(&member.browser, "GET", "/app/settings/sms", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // HELP now answers with the business's own words.
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    let reply = twiml_of(&text_in(&app, "SM0601", PHONE, "help").await);
    assert!(reply.contains("Reminders of your dental appointments."), "{reply}");
}
