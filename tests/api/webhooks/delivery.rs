//! Delivery: a booking's signed `booking.created`, retries with growing
//! waits, at most one call per attempt whatever the queue redelivers (an
//! attempt lost during its call made again after its lease), manual
//! redelivery, turning a failing endpoint off with one email, and
//! the SSRF guard at delivery time.

use std::sync::Arc;

use http::StatusCode;
use jiff::SignedDuration;
use konnecs::domain::webhook::TargetPolicy;
use konnecs::inbound::events::{Message, jobs};
use konnecs::ports::{OutgoingWebhook, WebhookAnswer, WebhookSendError, WebhookTransport};
use konnecs_tests::app::{START, Store, TestApp, expect};
use konnecs_tests::on_both_stores;
use konnecs_tests::practice::{Practice, booking_id, guest};
use serde_json::json;

use super::{Receiver, add_endpoint, create_contact, deliveries, signature_is_valid};

on_both_stores!(
    a_booking_sends_a_signed_booking_created_webhook,
    a_failing_receiver_is_retried_with_growing_waits_until_it_answers,
    a_redelivered_queue_message_calls_once_and_a_manual_redelivery_calls_again,
    an_endpoint_failing_for_a_day_is_turned_off_and_its_owners_emailed_once,
    an_attempt_lost_during_its_call_is_made_again_after_its_lease_with_the_same_webhook_id,
);

async fn a_booking_sends_a_signed_booking_created_webhook(store: Store) {
    let app = TestApp::on(store, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    let receiver = Receiver::start(&[], 200).await;
    let owner = konnecs_tests::app::Member {
        browser: practice.host.clone(),
        user_id: String::new(),
        org_id: practice.org_id.to_string(),
        email: konnecs_tests::practice::HOST_EMAIL.into(),
    };
    let (endpoint, secret) = add_endpoint(&app, &owner, &receiver.url, &["booking.created"]).await;
    let booked = practice
        .book(
            "2026-12-03T10:00:00Z",
            &guest("Ann Lee", "ann@example.com", "Europe/London"),
        )
        .await;
    app.drain_jobs().await;

    let calls = receiver.calls();
    assert_eq!(
        calls.len(),
        1,
        "one call for the one subscribed event (contact.created is not subscribed)"
    );
    let call = &calls[0];
    assert!(signature_is_valid(&secret, call), "the receiver verifies the signature");
    assert_eq!(call.header("content-type"), "application/json");
    assert_eq!(call.header("webhook-timestamp"), app.now().as_second().to_string());
    let id = booking_id(&booked);
    assert_eq!(call.header("webhook-id"), format!("booking.created:{id}:0"));
    let body = call.json();
    assert_eq!(body["type"], "booking.created");
    assert_eq!(body["id"], call.header("webhook-id"));
    assert_eq!(body["data"]["id"], id.as_str());
    assert_eq!(body["data"]["invitee"]["email"], "ann@example.com");
    assert_eq!(body["data"]["start"], "2026-12-03T10:00:00Z");
    // Tampering is caught by the same check.
    let mut forged = call.clone();
    forged.body = forged.body.iter().map(|b| if *b == b'A' { b'B' } else { *b }).collect();
    assert!(!signature_is_valid(&secret, &forged));

    let log = deliveries(&app, &owner, &endpoint).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["event_type"], "booking.created");
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["attempts"][0]["status_code"], 200);
    assert_eq!(log[0]["attempts"][0]["attempt"], 1);
}

async fn a_failing_receiver_is_retried_with_growing_waits_until_it_answers(store: Store) {
    let app = TestApp::on(store, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    let receiver = Receiver::start(&[500, 503], 204).await;
    let (endpoint, secret) = add_endpoint(&app, &owner, &receiver.url, &["contact.created"]).await;
    create_contact(&app, &owner, "ann@example.com").await;
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1, "the first attempt");
    let log = deliveries(&app, &owner, &endpoint).await;
    assert_eq!(log[0]["status"], "pending");
    assert_eq!(
        log[0]["next_attempt_at"], "2026-11-17T09:00:30Z",
        "30 s after the first failure"
    );

    app.advance(SignedDuration::from_secs(29));
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1, "not before its time");
    app.advance(SignedDuration::from_secs(1));
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 2, "the second attempt after 30 s");

    // The next wait doubles: 60 s.
    app.advance(SignedDuration::from_secs(59));
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 2, "not before 60 s");
    app.advance(SignedDuration::from_secs(1));
    app.drain_jobs().await;
    let calls = receiver.calls();
    assert_eq!(calls.len(), 3, "the third attempt after 60 s more");
    for call in &calls {
        assert!(signature_is_valid(&secret, call));
        assert_eq!(
            call.header("webhook-id"),
            calls[0].header("webhook-id"),
            "one id on every attempt"
        );
        assert_eq!(call.body, calls[0].body, "the same body on every attempt");
    }
    assert_eq!(calls[2].header("webhook-timestamp"), app.now().as_second().to_string());

    let log = deliveries(&app, &owner, &endpoint).await;
    assert_eq!(log[0]["status"], "succeeded", "{:?}", log[0]);
    let codes: Vec<_> = log[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status_code"].clone())
        .collect();
    assert_eq!(codes, [json!(204), json!(503), json!(500)], "newest first");
    // Nothing more is queued.
    app.advance(SignedDuration::from_hours(30));
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 3);
}

async fn a_redelivered_queue_message_calls_once_and_a_manual_redelivery_calls_again(store: Store) {
    let app = TestApp::on(store, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    let receiver = Receiver::start(&[], 200).await;
    let (endpoint, secret) = add_endpoint(&app, &owner, &receiver.url, &["contact.created"]).await;
    app.drain_jobs().await;
    create_contact(&app, &owner, "ann@example.com").await;
    let received = app
        .state
        .jobs
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1, "one delivery job");
    let message = Message {
        message_id: received[0].message_id.clone(),
        body: received[0].body.clone(),
        receive_count: 1,
    };
    let first = jobs::consume(app.state.clone(), vec![message.clone()]).await;
    assert!(first.failed.is_empty());
    // The queue delivers the same message again (it was never acknowledged).
    let again = Message {
        receive_count: 2,
        ..message
    };
    let second = jobs::consume(app.state.clone(), vec![again]).await;
    assert!(second.failed.is_empty());
    assert_eq!(receiver.calls().len(), 1, "a redelivered message makes no second call");
    // Publishing the same event again (a retried producer) sends nothing either.
    konnecs::services::webhooks::publish(
        &app.state,
        &owner.org_id.as_str().into(),
        "contact.created",
        receiver.calls()[0].header("webhook-id"),
        app.now(),
        json!({}),
    )
    .await
    .expect("publish");
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1, "one event, one delivery");

    let log = deliveries(&app, &owner, &endpoint).await;
    assert_eq!(log.len(), 1);
    let delivery = log[0]["id"].as_str().expect("delivery id");
    let reply = app
        .send(
            &owner.browser,
            "POST",
            &format!("/org/webhooks/{endpoint}/deliveries/{delivery}/redeliver"),
            Some(&json!({})),
        )
        .await;
    expect(&reply, StatusCode::ACCEPTED);
    app.drain_jobs().await;
    let calls = receiver.calls();
    assert_eq!(calls.len(), 2, "a manual redelivery calls again");
    assert!(signature_is_valid(&secret, &calls[1]));
    assert_eq!(calls[1].header("webhook-id"), calls[0].header("webhook-id"));
    let log = deliveries(&app, &owner, &endpoint).await;
    let attempts = log[0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (&attempts[0]["attempt"], &attempts[0]["manual"]),
        (&json!(2), &json!(true))
    );
}

async fn an_endpoint_failing_for_a_day_is_turned_off_and_its_owners_emailed_once(store: Store) {
    let app = TestApp::on(store, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    app.join(
        &owner,
        "admin@whitfield-dental.example",
        konnecs::domain::role::Role::Admin,
    )
    .await;
    let receiver = Receiver::start(&[], 500).await;
    let (endpoint, _) = add_endpoint(&app, &owner, &receiver.url, &["contact.created"]).await;
    create_contact(&app, &owner, "ann@example.com").await;
    app.drain_jobs().await;
    for hour in 0..24 {
        let listed = app.send(&owner.browser, "GET", "/org/webhooks", None).await;
        assert_eq!(
            listed.body["items"][0]["enabled"], true,
            "on before a day of failures (hour {hour})"
        );
        app.advance(SignedDuration::from_hours(1));
        app.drain_jobs().await;
    }
    let listed = app.send(&owner.browser, "GET", "/org/webhooks", None).await;
    let item = &listed.body["items"][0];
    assert_eq!(item["enabled"], false, "{item}");
    assert_eq!(item["disabled_reason"], "failing");
    let attempts = receiver.calls().len();
    assert!((10..20).contains(&attempts), "{attempts} attempts over the day");
    let log = deliveries(&app, &owner, &endpoint).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["attempts"].as_array().unwrap().len(), attempts);
    let last = &log[0]["attempts"][0]["at"];
    assert_eq!(last, "2026-11-18T09:00:00Z", "the last retry as the day ends");

    let emails: Vec<_> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["kind"] == "webhook_disabled")
        .collect();
    assert_eq!(emails.len(), 1, "one email, to the owner only: {emails:?}");
    assert_eq!(emails[0]["to"], "owner@whitfield-dental.example");
    let text = emails[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains(&receiver.url) && text.contains(&endpoint), "{text}");

    // Off: a new event is not delivered, and nothing emails again.
    create_contact(&app, &owner, "bo@example.com").await;
    app.advance(SignedDuration::from_hours(2));
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), attempts);
    let emails = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["kind"] == "webhook_disabled")
        .count();
    assert_eq!(emails, 1);
}

/// A transport whose call never ends: the process making it "stops" when
/// the test drops the attempt's future during the call.
struct StopsDuringTheCall {
    called: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl WebhookTransport for StopsDuringTheCall {
    async fn post(&self, _request: &OutgoingWebhook) -> Result<WebhookAnswer, WebhookSendError> {
        self.called.notify_one();
        std::future::pending().await
    }
}

async fn an_attempt_lost_during_its_call_is_made_again_after_its_lease_with_the_same_webhook_id(store: Store) {
    let app = TestApp::on(store, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    let receiver = Receiver::start(&[], 200).await;
    let (endpoint, secret) = add_endpoint(&app, &owner, &receiver.url, &["contact.created"]).await;
    app.drain_jobs().await;
    let contact = create_contact(&app, &owner, "ann@example.com").await;
    let received = app
        .state
        .jobs
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1, "one delivery job");
    let message = Message {
        message_id: received[0].message_id.clone(),
        body: received[0].body.clone(),
        receive_count: 1,
    };

    // The first delivery claims the attempt and stops during the call.
    let called = Arc::new(tokio::sync::Notify::new());
    let stopping = konnecs::app::AppState {
        webhooks: Arc::new(StopsDuringTheCall { called: called.clone() }),
        ..app.state.clone()
    };
    tokio::select! {
        _ = jobs::consume(stopping, vec![message.clone()]) => panic!("the call never ends"),
        () = called.notified() => {}
    }
    assert!(receiver.calls().is_empty());

    // Redelivered while the lease runs: it may still be under way, so
    // nothing is sent; the job comes back when the lease ends.
    let again = Message {
        receive_count: 2,
        ..message.clone()
    };
    assert!(jobs::consume(app.state.clone(), vec![again]).await.failed.is_empty());
    app.drain_jobs().await;
    assert!(receiver.calls().is_empty(), "no second call while the lease runs");

    // After the lease: the lost attempt is made, once, as the same message.
    app.advance(
        SignedDuration::try_from(konnecs::services::webhooks::ATTEMPT_LEASE).expect("lease")
            + SignedDuration::from_secs(1),
    );
    app.drain_jobs().await;
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1, "the lost attempt made again");
    assert!(signature_is_valid(&secret, &calls[0]));
    assert_eq!(calls[0].header("webhook-id"), format!("contact.created:{contact}"));
    let third = Message {
        receive_count: 3,
        ..message
    };
    assert!(jobs::consume(app.state.clone(), vec![third]).await.failed.is_empty());
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1, "made, it is not made again");
    let log = deliveries(&app, &owner, &endpoint).await;
    assert_eq!(log[0]["status"], "succeeded", "{log:?}");
    assert_eq!(log[0]["attempts"].as_array().map(Vec::len), Some(1), "{log:?}");
}

/// Production mode: an endpoint saved while loopback was allowed (or a
/// name that later resolves to it) is never called.
#[tokio::test]
async fn production_mode_never_calls_a_loopback_receiver() {
    let mut app = TestApp::on(Store::Sqlite, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    let receiver = Receiver::start(&[], 200).await;
    let (endpoint, _) = add_endpoint(&app, &owner, &receiver.url, &["contact.created"]).await;
    let mut config = (*app.state.config).clone();
    config.webhook_targets = TargetPolicy::PublicOnly;
    let state = konnecs::app::AppState {
        config: Arc::new(config),
        ..app.state.clone()
    };
    app.replace_state(state);
    create_contact(&app, &owner, "ann@example.com").await;
    app.drain_jobs().await;
    assert!(receiver.calls().is_empty(), "no call to 127.0.0.1 in production mode");
    let log = deliveries(&app, &owner, &endpoint).await;
    let attempt = &log[0]["attempts"][0];
    assert_eq!(attempt["status_code"], serde_json::Value::Null);
    assert!(
        attempt["error"].as_str().unwrap_or_default().starts_with("refused"),
        "{attempt}"
    );
}

/// The guard applies to what a name RESOLVES to: `localhost` is refused in
/// production mode at connection time, not only by its spelling.
#[tokio::test]
async fn the_guard_refuses_a_name_that_resolves_to_loopback() {
    let transport = konnecs::adapters::webhook_http::HttpWebhooks::new();
    let request = |url: &str| OutgoingWebhook {
        url: url.into(),
        headers: vec![],
        body: b"{}".to_vec(),
        timeout: std::time::Duration::from_secs(5),
        policy: TargetPolicy::PublicOnly,
    };
    for url in ["https://localhost:9/hook", "http://localhost:9/hook"] {
        match transport.post(&request(url)).await {
            Err(WebhookSendError::Refused(reason)) => assert!(reason.contains("not public"), "{reason}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    for url in [
        "https://127.0.0.1:9/",
        "https://10.0.0.1/",
        "https://169.254.169.254/latest",
        "https://[::1]:9/",
    ] {
        assert!(
            matches!(transport.post(&request(url)).await, Err(WebhookSendError::Refused(_))),
            "{url}"
        );
    }
}
