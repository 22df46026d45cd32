//! Samples of Twilio's webhooks as API Gateway (HTTP API, payload 2.0)
//! delivers them: a form-encoded body, base64-encoded, and the
//! `X-Twilio-Signature` Twilio computed over the URL it called. The function
//! is configured with that URL as its public URL, so the signature checks
//! against the path and query API Gateway reports; a copy with one byte of
//! the body changed is refused.

use konnecs::domain::ids::OrgId;
use std::sync::Arc;

use base64::Engine;
use http::StatusCode;
use konnecs::app::OUTBOX_SMS_SENDER;
use konnecs::config::TwilioConfig;
use konnecs::services::sms::{self, message_key, outbound::SentSms};
use serde_json::Value;

use super::World;

/// The auth token the samples were signed with.
const SAMPLE_AUTH_TOKEN: &str = "sample-twilio-auth-token-0000000";
/// The host of the samples' API Gateway.
const SAMPLE_PUBLIC_URL: &str = "https://r4nd0m1d2.execute-api.eu-west-1.amazonaws.com";
/// The number that texts STOP in the sample.
const SAMPLE_FROM: &str = "+447700900123";

/// The world with Twilio's webhook secret and the public URL of the samples
/// (SMS itself still lands in the outbox).
async fn twilio_world() -> World {
    let mut world = World::with_dana().await;
    let mut config = (*world.state.config).clone();
    config.public_url = SAMPLE_PUBLIC_URL.into();
    config.twilio = Some(TwilioConfig {
        account_sid: "AC0f3e5d7c9b1a2e4f6d8c0b2a4e6f8d01".into(),
        auth_token: SAMPLE_AUTH_TOKEN.to_string().into(),
        from: OUTBOX_SMS_SENDER.into(),
    });
    world.state.config = Arc::new(config);
    world.app = konnecs::inbound::http::router(world.state.clone(), konnecs::catalogue::entries());
    world
}

/// Writes the sample, with one word of its body changed (same length).
fn tampered(entry: &str) -> String {
    let mut event: Value = serde_json::from_str(&super::sample(&format!("{entry}.json"))).expect("JSON");
    let engine = base64::engine::general_purpose::STANDARD;
    let body = engine
        .decode(event["body"].as_str().expect("body"))
        .expect("base64 body");
    let body = String::from_utf8(body)
        .expect("utf-8")
        .replace("Body=Stop", "Body=STOP");
    event["body"] = Value::String(engine.encode(body));
    event.to_string()
}

pub async fn twilio_sms_records_the_stop_and_confirms_it_in_twiml(name: &str) {
    let world = twilio_world().await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(
        reply.header("content-type").starts_with("text/xml"),
        "{}",
        reply.header("content-type")
    );
    assert!(reply.text.contains("<Response><Message>"), "{}", reply.text);
    assert!(reply.text.contains("unsubscribed"), "{}", reply.text);
    let opt_out = sms::sms_opt_out_key(OUTBOX_SMS_SENDER, SAMPLE_FROM);
    assert!(
        world.state.table.get(&opt_out).await.expect("read").is_some(),
        "the opt-out is recorded"
    );
    // Twilio retries the same message: no second confirmation.
    let again = world.http(name, &[]).await;
    again.expect(StatusCode::OK);
    assert!(!again.text.contains("<Message>"), "{}", again.text);

    // The same request with the body changed is not Twilio's.
    let forged = world.http_text(name, &tampered(name)).await;
    forged.expect(StatusCode::FORBIDDEN);
    assert_eq!(forged.body["code"], "invalid_signature", "{}", forged.text);
    assert!(
        world.state.table.get(&opt_out).await.expect("read").is_some(),
        "still opted out"
    );
}

pub async fn twilio_status_records_the_undelivered_reminder(name: &str) {
    let world = twilio_world().await;
    // The reminder the sample reports on, as sending it recorded it.
    let key = "reminder/REMINDERS#2026-12-08T09:00#3/org#booking#60#sms";
    let sent = SentSms {
        idempotency_key: key,
        org_id: &OrgId::from(&world.org_id),
        booking_id: None,
        sender: OUTBOX_SMS_SENDER,
        to: SAMPLE_FROM,
        body: "Whitfield Dental: reminder of your Check-up tomorrow at 09:00.",
    };
    sms::record_sent(
        world.state.table.as_ref(),
        &sent,
        konnecs::ports::Clock::now(&world.clock),
    )
    .await
    .expect("recorded");
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::NO_CONTENT);
    let message = world
        .state
        .table
        .get(&message_key(&sms::message_id(key)))
        .await
        .expect("read")
        .expect("the message");
    assert_eq!(message["status"], "undelivered");
    assert_eq!(message["error_code"], "30003");
    let notes = sms::recent_notifications(world.state.table.as_ref(), &OrgId::from(&world.org_id), 10)
        .await
        .expect("notifications");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].kind, "sms.failed");
}

/// The contact the page samples name.
const SAMPLE_CONTACT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";

#[track_caller]
fn assert_page(reply: &super::HttpReply, contains: &str) {
    reply.expect(StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/html"));
    assert!(reply.header("content-security-policy").contains("script-src 'self'"));
    assert!(reply.text.contains(contains), "no {contains:?} in {}", reply.text);
}

pub async fn page_contact_sms_shows_the_consent_and_the_numbers_state(name: &str) {
    let world = World::with_dana().await;
    let contact = serde_json::json!({
        "first_name": "Maria", "last_name": "González",
        "phones": ["+447911123456"],
        "sms_consent": {"status": "granted", "source": "front desk", "text": "Text me my reminders."},
    });
    let id = world.api("POST", "/contacts", Some(contact)).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    let reply = world.http(name, &[(SAMPLE_CONTACT, &id)]).await;
    assert_page(&reply, "Text messages with Maria");
    assert!(reply.text.contains("front desk"), "{}", reply.text);
    assert!(reply.text.contains("Text me my reminders."));
    assert!(
        reply.text.contains("+447911123456: can receive texts"),
        "{}",
        reply.text
    );
}

pub async fn page_sms_settings_shows_the_sender_and_the_help_answer(name: &str) {
    let world = World::with_dana().await;
    let reply = world.http(name, &[]).await;
    assert_page(&reply, OUTBOX_SMS_SENDER);
    assert!(reply.text.contains("value=\"21:00\""), "{}", reply.text);
    assert!(
        reply.text.contains("Whitfield Dental: Appointment confirmations"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("Reply STOP to opt out. Help: hello@konnecs.com"));
}

pub async fn page_sms_settings_save_saves_the_quiet_hours_and_help_text(name: &str) {
    let world = World::with_dana().await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert!(reply.header("location").starts_with("/app/settings/sms?notice="));
    let settings = sms::load_settings(&world.state, &OrgId::from(&world.org_id))
        .await
        .expect("settings");
    assert_eq!(sms::settings::format_time(settings.quiet.start), "21:30");
    assert_eq!(sms::settings::format_time(settings.quiet.end), "07:30");
    assert_eq!(
        settings.help_text.as_deref(),
        Some("Appointment texts from Whitfield Dental.")
    );
}
