//! The Twilio `Sms` adapter against a mock of the Messages API (wiremock):
//! exact path, form fields, basic auth, and which answers are worth a retry.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use konnecs::adapters::twilio::TwilioSms;
use konnecs::ports::{Sms, SmsError};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "s3cr3t-auth-token";

fn adapter(server: &MockServer, from: &str) -> TwilioSms {
    TwilioSms::new(
        reqwest::Client::new(),
        format!("{}/", server.uri()),
        SID.into(),
        secrecy::SecretString::from(TOKEN.to_string()),
        from.into(),
    )
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url_pairs(std::str::from_utf8(body).expect("utf-8 form"))
}

/// Decodes `application/x-www-form-urlencoded` (independently of the adapter's encoder).
fn url_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.replace('+', " ").into_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex digit"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

#[tokio::test]
async fn twilio_send_posts_the_form_to_the_account_messages_path_with_basic_auth() {
    let server = MockServer::start().await;
    let expected_auth = format!("Basic {}", STANDARD.encode(format!("{SID}:{TOKEN}")));
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .and(header("authorization", expected_auth.as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM123", "status": "queued"})))
        .expect(1)
        .mount(&server)
        .await;

    let sms = adapter(&server, "+15005550006");
    sms.send(
        "+447700900123",
        "Whitfield Dental: see you Tue 1 Dec 10:00 & bring forms. Reply STOP to opt out.",
        "k1",
    )
    .await
    .expect("sent");

    let requests = server.received_requests().await.expect("recorded");
    let fields = form(&requests[0].body);
    assert_eq!(
        fields,
        [
            ("To".to_string(), "+447700900123".to_string()),
            ("From".to_string(), "+15005550006".to_string()),
            (
                "Body".to_string(),
                "Whitfield Dental: see you Tue 1 Dec 10:00 & bring forms. Reply STOP to opt out.".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn a_messaging_service_sender_goes_as_messaging_service_sid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
        .and(body_string_contains(
            "MessagingServiceSid=MG0123456789abcdef0123456789abcdef",
        ))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let sms = adapter(&server, "MG0123456789abcdef0123456789abcdef");
    sms.send("+14155550123", "hi", "k2").await.expect("sent");
    let requests = server.received_requests().await.expect("recorded");
    assert!(!form(&requests[0].body).iter().any(|(k, _)| k == "From"));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retryable_other_client_errors_are_rejections() {
    for (status, retryable) in [
        (429, true),
        (500, true),
        (503, true),
        (400, false),
        (401, false),
        (404, false),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(serde_json::json!({"code": 21211, "message": "nope"})),
            )
            .mount(&server)
            .await;
        let result = adapter(&server, "+15005550006").send("+14155550123", "hi", "k").await;
        match (result, retryable) {
            (Err(SmsError::Unavailable(_)), true) | (Err(SmsError::Rejected(_)), false) => {}
            (other, _) => panic!("status {status}: unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_twilio_is_retryable_and_errors_never_carry_the_token() {
    // A loopback port held by a socket that never listens: connecting is
    // refused, and no other process can take the port meanwhile (wiremock
    // pools its servers, so a dropped MockServer would still answer).
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let uri = format!("http://{}", socket.local_addr().expect("bound address"));
    let sms = TwilioSms::new(
        reqwest::Client::new(),
        uri,
        SID.into(),
        secrecy::SecretString::from(TOKEN.to_string()),
        "+15005550006".into(),
    );
    let err = sms.send("+14155550123", "hi", "k").await.expect_err("unreachable");
    assert!(matches!(err, SmsError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
    assert!(!format!("{sms:?}").contains(TOKEN));
    drop(socket);
}

#[tokio::test]
async fn a_twilio_that_does_not_answer_in_time_is_an_unknown_outcome_never_a_retry() {
    // Twilio may have accepted the message: without an idempotency key a
    // retry could text the customer twice, so the caller must not retry.
    // This server takes the connection and never answers, so the client's
    // timeout is the only way the call can end, however slow the machine
    // (a timeout is an unknown outcome in whichever phase it strikes).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let uri = format!("http://{}", listener.local_addr().expect("bound address"));
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        // Accepts, and keeps every connection open and silent until the test ends.
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    let sms = TwilioSms::new(
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(500))
            .build()
            .expect("client"),
        uri,
        SID.into(),
        secrecy::SecretString::from(TOKEN.to_string()),
        "+15005550006".into(),
    );
    let err = sms.send("+14155550123", "hi", "k").await.expect_err("timed out");
    assert!(matches!(err, SmsError::Unknown(_)), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
    assert!(!err.to_string().contains(SID), "no URL in errors: {err}");
    server.abort();
}

#[tokio::test]
async fn error_21610_is_the_recipient_unsubscribed_and_the_status_callback_names_the_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("To=%2B447700900123"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21610, "message": "Attempt to send to unsubscribed recipient",
            "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400,
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let sms =
        adapter(&server, "+15005550006").with_status_callback("https://crm.example.com/webhooks/twilio/status".into());
    let err = sms
        .send("+447700900123", "hi", "k-stop")
        .await
        .expect_err("unsubscribed");
    assert!(matches!(err, SmsError::Unsubscribed(_)), "{err:?}");

    sms.send("+14155550123", "hi", "reminder/abc").await.expect("sent");
    let requests = server.received_requests().await.expect("recorded");
    let callback = form(&requests[1].body)
        .into_iter()
        .find(|(k, _)| k == "StatusCallback")
        .map(|(_, v)| v);
    assert_eq!(
        callback,
        Some(format!(
            "https://crm.example.com/webhooks/twilio/status?m={}",
            konnecs::domain::sms::message_id("reminder/abc")
        ))
    );
}
