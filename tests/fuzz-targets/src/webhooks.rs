//! Inbound webhooks: Stripe's events and Twilio's texts and status
//! callbacks, with their signature headers. The signature checks are fuzzed
//! directly (a forged or tampered delivery is never accepted, a genuine one
//! always is), and the bodies through the router, signed as the provider
//! would sign them, so the event parsing behind the check is reached too.

use axum::body::Body;
use http::{HeaderValue, Request};
use konnecs::domain::billing::{sign, verify_signature};
use konnecs::domain::sms::{twilio_signature, twilio_signature_matches};
use konnecs::inbound::http::twilio::{SMS_PATH, STATUS_PATH};

use crate::app::fixture;
use crate::split_line;

fn post(uri: &str, content_type: &str, header: (&'static str, &str), body: &[u8]) -> Request<Body> {
    let mut request = Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .expect("request");
    // A header value the HTTP stack would refuse never reaches the handler.
    if let Ok(value) = HeaderValue::from_str(header.1) {
        request.headers_mut().insert(header.0, value);
    }
    request
}

/// A copy of `body` that differs from it.
fn tampered(body: &[u8]) -> Vec<u8> {
    let mut other = body.to_vec();
    match other.last_mut() {
        Some(last) => *last ^= 0x20,
        None => other.push(b'{'),
    }
    other
}

/// Input: the `Stripe-Signature` header, a newline, the event body.
pub fn stripe(data: &[u8]) {
    let (header, body) = split_line(data);
    let header = String::from_utf8_lossy(header);
    let f = fixture();
    let now = f.now().as_second();
    const SECRET: &str = crate::app::STRIPE_SECRET;

    // The check alone, at a fixed time: whatever the header says.
    let forged = verify_signature(&header, body, SECRET, now);
    if forged.is_ok() {
        // Only a header carrying the real MAC passes, so a second secret must not.
        assert!(verify_signature(&header, body, "whsec_another_secret", now).is_err());
        assert!(verify_signature(&header, &tampered(body), SECRET, now).is_err());
    }
    let genuine = sign(body, SECRET, now);
    assert_eq!(verify_signature(&genuine, body, SECRET, now), Ok(()));
    assert!(verify_signature(&genuine, &tampered(body), SECRET, now).is_err());
    assert!(
        verify_signature(&genuine, body, SECRET, now + 3600).is_err(),
        "an old signature is stale"
    );

    // Through the router: with the fuzzed header, and genuinely signed.
    let reply = f.request(post(
        "/webhooks/stripe",
        "application/json",
        ("stripe-signature", &header),
        body,
    ));
    reply.assert_client_error_or_success("stripe webhook (fuzzed signature)");
    let at = f.now().as_second();
    if reply.status.is_success() {
        assert!(
            verify_signature(&header, body, SECRET, at).is_ok(),
            "an unverified event was accepted"
        );
    }
    // The router's request is a minute later than the clock read here.
    let signed = sign(body, SECRET, at + 60);
    let reply = f.request(post(
        "/webhooks/stripe",
        "application/json",
        ("stripe-signature", &signed),
        body,
    ));
    reply.assert_client_error_or_success("stripe webhook (signed)");
}

/// Input: a byte choosing the texts or the status webhook, the
/// `X-Twilio-Signature` header, a newline, the form-encoded body.
pub fn twilio(data: &[u8]) {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    let (header, body) = split_line(rest);
    let header = String::from_utf8_lossy(header);
    let f = fixture();
    const TOKEN: &str = crate::app::TWILIO_TOKEN;
    let path = if which % 2 == 0 {
        SMS_PATH.to_string()
    } else {
        format!("{STATUS_PATH}?m=0123456789abcdef0123456789abcdef")
    };
    // As the handler reads them, and the URL it checks the signature over.
    let url = format!("http://127.0.0.1:3000{path}");
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();

    let forged = twilio_signature_matches(TOKEN, &url, &params, &header);
    let genuine = twilio_signature(TOKEN, &url, &params);
    assert!(twilio_signature_matches(TOKEN, &url, &params, &genuine));
    let mut more = params.clone();
    more.push(("Injected".into(), "1".into()));
    assert!(
        !twilio_signature_matches(TOKEN, &url, &more, &genuine),
        "an added parameter breaks the signature"
    );
    assert!(!twilio_signature_matches("another-token", &url, &params, &genuine));
    if forged {
        assert!(!twilio_signature_matches(TOKEN, &url, &more, &header));
    }

    let content_type = "application/x-www-form-urlencoded";
    let reply = f.request(post(&path, content_type, ("x-twilio-signature", &header), body));
    assert!(
        reply.status.as_u16() < 500,
        "twilio (fuzzed signature): {} {}",
        reply.status,
        reply.text()
    );
    if reply.status.is_success() {
        assert!(forged, "an unverified Twilio request was accepted");
    }
    let reply = f.request(post(&path, content_type, ("x-twilio-signature", &genuine), body));
    assert!(
        reply.status.as_u16() < 500,
        "twilio (signed): {} {}",
        reply.status,
        reply.text()
    );
}
