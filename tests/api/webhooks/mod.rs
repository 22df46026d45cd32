//! Outgoing webhooks end to end: endpoints through the API, events from real
//! bookings and contacts, deliveries through the real jobs consumer to a
//! receiver on 127.0.0.1 that checks every signature with its own code,
//! written from the Standard Webhooks text (not the product's signer).

mod delivery;
mod endpoints;

use http::{HeaderMap, StatusCode};
use konnecs_tests::app::{Member, TestApp, expect};
pub use konnecs_tests::webhook_receiver::{Call, Receiver, signature_is_valid};
use serde_json::{Value, json};

/// Adds an endpoint for `events` at `url`; returns its id and secret.
pub async fn add_endpoint(app: &TestApp, owner: &Member, url: &str, events: &[&str]) -> (String, String) {
    let body = json!({"url": url, "events": events, "description": "CRM sync"});
    let reply = app.send(&owner.browser, "POST", "/org/webhooks", Some(&body)).await;
    expect(&reply, StatusCode::CREATED);
    (
        reply.body["id"].as_str().expect("id").to_string(),
        reply.body["secret"].as_str().expect("secret").to_string(),
    )
}

/// An endpoint's delivery log, newest first.
pub async fn deliveries(app: &TestApp, owner: &Member, endpoint: &str) -> Vec<Value> {
    let reply = app
        .send(
            &owner.browser,
            "GET",
            &format!("/org/webhooks/{endpoint}/deliveries"),
            None,
        )
        .await;
    expect(&reply, StatusCode::OK);
    reply.body["items"].as_array().expect("items").clone()
}

/// Creates a contact through the API (a `contact.created` event).
pub async fn create_contact(app: &TestApp, owner: &Member, email: &str) -> String {
    let body = json!({"first_name": "Ann", "last_name": "Lee", "emails": [email]});
    let reply = app.send(&owner.browser, "POST", "/contacts", Some(&body)).await;
    expect(&reply, StatusCode::CREATED);
    reply.body["id"].as_str().expect("contact id").to_string()
}

#[test]
fn the_receivers_check_accepts_the_reference_example_and_nothing_altered() {
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap());
    headers.insert("webhook-timestamp", "1614265330".parse().unwrap());
    headers.insert(
        "webhook-signature",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse().unwrap(),
    );
    let call = Call {
        headers,
        body: br#"{"test": 2432232314}"#.to_vec(),
    };
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(signature_is_valid(secret, &call));
    let mut altered = call.clone();
    altered.body = br#"{"test": 2432232315}"#.to_vec();
    assert!(!signature_is_valid(secret, &altered));
    assert!(!signature_is_valid("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", &call));
}
