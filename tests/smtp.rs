//! The SMTP mailer against a real SMTP server on loopback (aiosmtpd): STARTTLS
//! and implicit TLS with AUTH, the message as a mail reader parses it (headers,
//! text, the booking's `.ics` byte for byte), and SMTP's reply classes as the
//! jobs worker's retry or drop.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use konnecs::adapters::smtp::SmtpMailer;
use konnecs::config::SmtpSettings;
use konnecs::inbound::events::jobs;
use konnecs::ports::mailer::{Email, MailError, Mailer};
use konnecs::services::jobs::{Delivery, Job, JobError};
use konnecs::services::notifications::{BookingChange, BookingNotice, Recipient, change_email, idempotency_key};
use konnecs_tests::local::temp_state;
use konnecs_tests::smtp::{Mode, SmtpServer, ca_pem};
use serde_json::Value;

const FROM: &str = "Whitfield Dental <bookings@whitfield-dental.example>";
/// A password with characters a URL must percent-encode.
const PASSWORD: &str = "p@ss:w/rd 42";
const PASSWORD_IN_URL: &str = "p%40ss%3Aw%2Frd%2042";

fn mailer(url: &str, trust_test_ca: bool) -> SmtpMailer {
    let settings = SmtpSettings::from_url(url).expect("valid URL");
    let roots = if trust_test_ca { vec![ca_pem()] } else { Vec::new() };
    SmtpMailer::new(
        &settings,
        FROM.into(),
        Some("crm.whitfield-dental.example".into()),
        &roots,
    )
    .expect("mailer")
}

fn booking_notice() -> BookingNotice {
    let starts: Timestamp = "2026-12-01T15:00:00Z".parse().expect("start");
    BookingNotice {
        org_id: "org1".into(),
        booking_id: "b1".into(),
        org_name: "Whitfield Dental".into(),
        event_title: "Cleaning".into(),
        location: Some("12 High St, Leeds".into()),
        host_name: "Dana Whitfield".into(),
        host_email: "dana@whitfield-dental.example".into(),
        host_time_zone: "Europe/London".into(),
        customer_name: "Ann Lée".into(),
        customer_email: "ann@example.com".into(),
        customer_phone: None,
        sms_consent: false,
        customer_time_zone: "America/New_York".into(),
        starts_at: starts.as_second(),
        ends_at: starts.as_second() + 1800,
        sequence: 0,
        manage_url: Some("https://crm.whitfield-dental.example/booking/b1?token=tok".into()),
    }
}

/// The customer's confirmation of a booking, with its `invite.ics`.
fn booking_email() -> (Email, String) {
    let notice = booking_notice();
    let now: Timestamp = "2026-11-20T09:00:00Z".parse().expect("now");
    let email = change_email(&notice, &BookingChange::Booked, Recipient::Customer, now).expect("email");
    let key = idempotency_key(&notice, &BookingChange::Booked, Recipient::Customer, "email");
    (email, key)
}

fn simple_email(to: &str) -> Email {
    Email {
        to: to.into(),
        subject: "Hello".into(),
        text: "Hi.\n".into(),
        html: None,
        attachments: Vec::new(),
        kind: "test".into(),
    }
}

/// The message arrived as sent: envelope, headers, text and the `.ics` intact.
fn assert_booking_arrived(received: &Value, email: &Email, user: Option<&str>) {
    assert_eq!(received["mail_from"], "bookings@whitfield-dental.example");
    assert_eq!(received["rcpt_tos"], serde_json::json!(["ann@example.com"]));
    assert_eq!(received["tls"], true, "the session was encrypted");
    assert_eq!(received["auth_user"].as_str(), user);
    let headers = &received["headers"];
    assert_eq!(headers["From"], FROM);
    assert_eq!(headers["To"], "ann@example.com");
    assert_eq!(headers["Subject"], email.subject, "{headers}");
    assert!(
        headers["Message-ID"]
            .as_str()
            .is_some_and(|id| id.starts_with('<') && id.ends_with("@whitfield-dental.example>")),
        "{headers}"
    );
    assert!(headers["Date"].is_string(), "{headers}");
    let text = received["text"].as_str().expect("a text part");
    assert_eq!(text.replace("\r\n", "\n"), email.text);
    let attachments = received["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    let sent = &email.attachments[0];
    assert_eq!(attachments[0]["filename"], "invite.ics");
    assert_eq!(attachments[0]["content_type"], "text/calendar");
    let got = STANDARD
        .decode(attachments[0]["content_base64"].as_str().expect("content"))
        .expect("base64");
    let want = STANDARD.decode(&sent.content_base64).expect("base64");
    assert_eq!(got, want, "the .ics arrived byte for byte");
    assert!(String::from_utf8_lossy(&got).contains("BEGIN:VCALENDAR"));
}

#[tokio::test]
async fn starttls_with_auth_delivers_the_booking_email_with_its_ics_intact() {
    let server = SmtpServer::start(Mode::StartTls, Some(("bookings", PASSWORD)));
    let url = format!("smtp://bookings:{PASSWORD_IN_URL}@127.0.0.1:{}", server.port);
    let (email, key) = booking_email();
    mailer(&url, true).send(&email, &key).await.expect("sent");
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_booking_arrived(&received[0], &email, Some("bookings"));

    // Sent again with the same key (a redelivered job): the same Message-ID,
    // which mail readers show once.
    mailer(&url, true).send(&email, &key).await.expect("sent");
    let received = server.received();
    assert_eq!(
        received[0]["headers"]["Message-ID"],
        received[1]["headers"]["Message-ID"]
    );
}

#[tokio::test]
async fn implicit_tls_with_auth_delivers_the_booking_email_with_its_ics_intact() {
    let server = SmtpServer::start(Mode::ImplicitTls, Some(("bookings", PASSWORD)));
    let url = format!("smtps://bookings:{PASSWORD_IN_URL}@127.0.0.1:{}", server.port);
    let (email, key) = booking_email();
    mailer(&url, true).send(&email, &key).await.expect("sent");
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_booking_arrived(&received[0], &email, Some("bookings"));
}

#[tokio::test]
async fn a_loopback_relay_without_tls_delivers_when_asked_for_explicitly() {
    let server = SmtpServer::start(Mode::Plain, None);
    let url = format!("smtp://127.0.0.1:{}?tls=none", server.port);
    mailer(&url, false)
        .send(&simple_email("ann@example.com"), "k1")
        .await
        .expect("sent");
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["tls"], false);
    assert_eq!(received[0]["headers"]["Subject"], "Hello");
}

#[tokio::test]
async fn without_starttls_or_a_trusted_certificate_nothing_is_sent_and_the_job_retries() {
    // smtp:// requires STARTTLS: a server that does not offer it gets nothing.
    let plain = SmtpServer::start(Mode::Plain, None);
    let url = format!("smtp://127.0.0.1:{}", plain.port);
    let err = mailer(&url, true)
        .send(&simple_email("ann@example.com"), "k1")
        .await
        .expect_err("no STARTTLS");
    assert!(matches!(err, MailError::Unavailable(_)), "{err:?}");
    assert!(plain.received().is_empty());

    // A certificate no trusted root signed: refused, nothing sent.
    let tls = SmtpServer::start(Mode::StartTls, None);
    let url = format!("smtp://127.0.0.1:{}", tls.port);
    let err = mailer(&url, false)
        .send(&simple_email("ann@example.com"), "k2")
        .await
        .expect_err("untrusted certificate");
    assert!(matches!(err, MailError::Unavailable(_)), "{err:?}");
    assert!(tls.received().is_empty());
}

/// Runs one `SendEmail` job through the jobs consumer's dispatch with `mailer`.
async fn run_job(mailer: SmtpMailer, to: &str) -> Result<(), JobError> {
    let (mut state, _dir) = temp_state();
    state.mailer = Arc::new(mailer);
    let job = Job::SendEmail {
        idempotency_key: format!("test/{to}"),
        email: simple_email(to),
    };
    jobs::run(&state, job, &Delivery::starting_now(false)).await
}

#[tokio::test]
async fn a_4xx_reply_is_a_retry_and_a_5xx_reply_a_permanent_failure() {
    let server = SmtpServer::start(Mode::StartTls, Some(("bookings", PASSWORD)));
    let url = format!("smtp://bookings:{PASSWORD_IN_URL}@127.0.0.1:{}", server.port);

    let busy = mailer(&url, true)
        .send(&simple_email("busy@example.com"), "k1")
        .await
        .expect_err("451");
    assert!(
        matches!(&busy, MailError::Unavailable(detail) if detail.contains("451")),
        "{busy:?}"
    );
    let rejected = mailer(&url, true)
        .send(&simple_email("reject@example.com"), "k2")
        .await
        .expect_err("550");
    assert!(
        matches!(&rejected, MailError::Rejected(detail) if detail.contains("550")),
        "{rejected:?}"
    );
    // A wrong password is refused with 535: permanent.
    let wrong = format!("smtp://bookings:nope@127.0.0.1:{}", server.port);
    let err = mailer(&wrong, true)
        .send(&simple_email("ann@example.com"), "k3")
        .await
        .expect_err("535");
    assert!(
        matches!(&err, MailError::Rejected(detail) if detail.contains("535")),
        "{err:?}"
    );

    // Through the jobs worker: retried, or dropped.
    assert!(matches!(
        run_job(mailer(&url, true), "busy@example.com").await,
        Err(JobError::Retry(_))
    ));
    assert!(matches!(
        run_job(mailer(&url, true), "reject@example.com").await,
        Err(JobError::Permanent(_))
    ));
    assert!(run_job(mailer(&url, true), "ann@example.com").await.is_ok());
    let received = server.received();
    assert_eq!(received.len(), 1, "only the accepted one arrived: {received:?}");
    assert_eq!(received[0]["rcpt_tos"], serde_json::json!(["ann@example.com"]));
}
