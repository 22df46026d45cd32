//! A webhook receiver for tests: an HTTP server on 127.0.0.1 that records
//! what it is sent and answers scripted statuses, and its own check of the
//! Standard Webhooks signature, written from the specification's text (not
//! the product's signer), so a test proves the signature independently.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, StatusCode};
use serde_json::Value;
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
/// space-separated `v1,<base64 HMAC-SHA256>` signatures, one must match
/// (`verify_slice` compares in constant time).
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
