//! The Resend `Mailer` adapter against a mock of the Emails API (wiremock):
//! exact path, JSON body, bearer auth, the idempotency key header, and which
//! answers are worth a retry.

use konnecs::adapters::resend::ResendMailer;
use konnecs::ports::mailer::{Attachment, Email, MailError, Mailer};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const API_KEY: &str = "re_test_9f8e7d6c5b4a";
const FROM: &str = "Whitfield Dental <bookings@whitfield-dental.example>";

fn adapter(base_url: String) -> ResendMailer {
    ResendMailer::new(
        reqwest::Client::new(),
        base_url,
        secrecy::SecretString::from(API_KEY.to_string()),
        FROM.into(),
    )
}

fn confirmation() -> Email {
    Email {
        to: "priya.raman@example.com".into(),
        subject: "Your check-up on Tue 8 Dec at 10:00 is confirmed".into(),
        text: "Hi Priya,\n\nSee you on Tuesday.\n".into(),
        html: Some("<p>Hi Priya,</p><p>See you on Tuesday.</p>".into()),
        attachments: vec![Attachment {
            filename: "invite.ics".into(),
            content_type: "text/calendar; method=REQUEST".into(),
            content_base64: "QkVHSU46VkNBTEVOREFSDQo=".into(),
        }],
        kind: "booking_booked_customer".into(),
    }
}

#[tokio::test]
async fn resend_send_posts_the_email_as_json_with_bearer_auth_and_the_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .and(header("authorization", format!("Bearer {API_KEY}").as_str()))
        .and(header("idempotency-key", "booking/b1/booked/0/customer/email"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})))
        .expect(1)
        .mount(&server)
        .await;

    // A trailing slash on the base URL is harmless.
    let mailer = adapter(format!("{}/", server.uri()));
    mailer
        .send(&confirmation(), "booking/b1/booked/0/customer/email")
        .await
        .expect("sent");

    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    let body: Value = serde_json::from_slice(&requests[0].body).expect("a JSON body");
    assert_eq!(
        body,
        json!({
            "from": FROM,
            "to": ["priya.raman@example.com"],
            "subject": "Your check-up on Tue 8 Dec at 10:00 is confirmed",
            "text": "Hi Priya,\n\nSee you on Tuesday.\n",
            "html": "<p>Hi Priya,</p><p>See you on Tuesday.</p>",
            "attachments": [{
                "filename": "invite.ics",
                "content": "QkVHSU46VkNBTEVOREFSDQo=",
                "content_type": "text/calendar; method=REQUEST",
            }],
            "tags": [{"name": "kind", "value": "booking_booked_customer"}],
        })
    );
}

#[tokio::test]
async fn a_plain_text_email_sends_no_html_and_no_attachments() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "e1"})))
        .expect(1)
        .mount(&server)
        .await;
    let email = Email {
        html: None,
        attachments: Vec::new(),
        kind: "verify_email".into(),
        ..confirmation()
    };
    adapter(server.uri())
        .send(&email, "verify-email/u1")
        .await
        .expect("sent");
    let requests = server.received_requests().await.expect("recorded");
    let body: Value = serde_json::from_slice(&requests[0].body).expect("a JSON body");
    let mut keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["from", "subject", "tags", "text", "to"]);
    assert_eq!(
        requests[0].headers.get("idempotency-key").and_then(|v| v.to_str().ok()),
        Some("verify-email/u1")
    );
}

#[tokio::test]
async fn rate_limits_idempotency_conflicts_and_server_errors_are_retryable_other_client_errors_are_rejections() {
    for (status, retryable) in [
        // Too many requests; the same key still being processed; Resend down.
        (429, true),
        (409, true),
        (500, true),
        (503, true),
        // A bad address or payload, a bad key, a domain not verified: sending
        // the same message again cannot help.
        (400, false),
        (401, false),
        (403, false),
        (422, false),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/emails"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"statusCode": status, "name": "error", "message": "nope"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let result = adapter(server.uri()).send(&confirmation(), "k").await;
        match (&result, retryable) {
            (Err(MailError::Unavailable(detail)), true) | (Err(MailError::Rejected(detail)), false) => {
                assert!(detail.contains(&status.to_string()), "{status}: {detail}");
                assert!(!detail.contains(API_KEY), "{status}: {detail}");
            }
            (other, _) => panic!("status {status}: unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_resend_is_retryable_and_its_error_carries_no_key() {
    // A loopback port held by a socket that never listens: connecting is refused.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let mailer = adapter(format!("http://{}", socket.local_addr().expect("bound address")));
    let err = mailer.send(&confirmation(), "k").await.expect_err("unreachable");
    assert!(matches!(err, MailError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains(API_KEY), "{err}");
    drop(socket);
}
