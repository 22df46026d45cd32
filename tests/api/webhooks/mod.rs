//! Outgoing webhooks end to end: endpoints through the API, events from real
//! bookings and contacts, deliveries through the real jobs consumer to a
//! receiver on 127.0.0.1 that checks every signature with its own code,
//! written from the Standard Webhooks text (not the product's signer).

mod delivery;
mod endpoints;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use konnecs_tests::app::{Member, TestApp, expect};
use serde_json::{Value, json};
use sha2::Sha256;

/// What the receiver was sent.
#[derive(Debug, Clone)]
pub struct Call {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Call {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone, Default)]
struct Script {
    calls: Arc<Mutex<Vec<Call>>>,
    /// Statuses to answer in turn; then `otherwise`.
    answers: Arc<Mutex<VecDeque<u16>>>,
    otherwise: u16,
}

/// An HTTP receiver on 127.0.0.1 answering scripted statuses.
pub struct Receiver {
    pub url: String,
    script: Script,
}

impl Receiver {
    pub async fn start(answers: &[u16], otherwise: u16) -> Self {
        let script = Script {
            calls: Arc::default(),
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
            otherwise,
        };
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            script,
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.script.calls.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

async fn receive(State(script): State<Script>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    script.calls.lock().unwrap_or_else(PoisonError::into_inner).push(Call {
        headers,
        body: body.to_vec(),
    });
    let status = script
        .answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop_front()
        .unwrap_or(script.otherwise);
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The receiver's own check, from the Standard Webhooks text: the key is
/// the base64 after `whsec_`; the signed content is
/// `{webhook-id}.{webhook-timestamp}.{body}`; the header holds
/// space-separated `v1,<base64 HMAC-SHA256>` signatures, one must match.
pub fn signature_is_valid(secret: &str, call: &Call) -> bool {
    let Some(encoded) = secret.strip_prefix("whsec_") else {
        return false;
    };
    let Ok(key) = STANDARD.decode(encoded) else {
        return false;
    };
    let mut signed = format!("{}.{}.", call.header("webhook-id"), call.header("webhook-timestamp")).into_bytes();
    signed.extend_from_slice(&call.body);
    call.header("webhook-signature").split(' ').any(|candidate| {
        let Some(signature) = candidate.strip_prefix("v1,").and_then(|sig| STANDARD.decode(sig).ok()) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(&signed);
        mac.verify_slice(&signature).is_ok()
    })
}

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
