//! Samples of the Gmail Lambdas, with Google's client configured, Dana's
//! Gmail connected and the Gmail API on the mock (`konnecs_tests::gmail`).

use aws_lambda_events::eventbridge::EventBridgeEvent;
use http::StatusCode;
use konnecs::catalogue::Trigger;
use konnecs::lambda::handle_schedule;
use konnecs_tests::gmail::{metadata, sent_id};
use konnecs_tests::google::{GOOGLE_EMAIL, MockGoogle, param, query_of, with_google};
use serde_json::{Value, json};

use super::{World, sample, sample_body};

/// The contact the samples name.
const SAMPLE_CONTACT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";
const GRANTED: &str = "openid https://www.googleapis.com/auth/userinfo.email \
     https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/gmail.send";

/// Dana with Gmail connected, and Maria (as `contacts-create` makes her).
async fn world_with_gmail(google: &MockGoogle) -> (World, String) {
    google.accept_sends().await;
    let mut world = World::with_dana().await;
    world.state = with_google(&world.state, &google.uri());
    world.app = konnecs::inbound::http::router(world.state.clone(), konnecs::catalogue::entries());
    let started = world
        .api(
            "POST",
            "/integrations/google/connect",
            Some(json!({"features": ["gmail"]})),
        )
        .await;
    let state = param(&query_of(started["url"].as_str().expect("url")), "state").expect("state");
    let path = format!("/app/settings/integrations/google/callback?state={state}&code=4%2F0Aean");
    let reply = world.dana().send(&world.app, "GET", &path, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let maria = world
        .api("POST", "/contacts", Some(sample_body("contacts-create")))
        .await;
    let id = maria["id"].as_str().expect("id").to_owned();
    (world, id)
}

async fn emails_on_the_timeline(world: &World, id: &str) -> Vec<Value> {
    let timeline = world.api("GET", &format!("/contacts/{id}/timeline"), None).await;
    timeline["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["kind"] == "email.sent")
        .collect()
}

pub async fn contacts_email_sends_from_danas_gmail_and_logs_it(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (world, id) = world_with_gmail(&google).await;
    let reply = world.http(name, &[(SAMPLE_CONTACT, &id)]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(reply.body["gmail_message_id"], sent_id(1));
    assert_eq!(reply.body["from"], GOOGLE_EMAIL);
    assert_eq!(reply.body["to"], "maria.gonzalez@example.com");
    assert_eq!(google.sent_raw().await.len(), 1);
    let sent = emails_on_the_timeline(&world, &id).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["detail"]["subject"], "Your crown fitting – next steps");
}

pub async fn page_contact_email_sends_and_returns_to_the_record(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (world, id) = world_with_gmail(&google).await;
    let reply = world.http(name, &[(SAMPLE_CONTACT, &id)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        format!("/app/contacts/{id}?notice=email-sent")
    );
    assert_eq!(google.sent_raw().await.len(), 1);
    assert_eq!(emails_on_the_timeline(&world, &id).await.len(), 1);
}

pub async fn gmail_replies_tick_puts_marias_reply_on_her_timeline(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_profile().await;
    let (world, id) = world_with_gmail(&google).await;
    let body = json!({"subject": "Your crown fitting", "body": "Would Thursday suit you?"});
    world.api("POST", &format!("/contacts/{id}/emails"), Some(body)).await;
    let thread = sent_id(1);
    let ours = metadata(&thread, &thread, &["SENT"], &[("From", GOOGLE_EMAIL)], 1);
    let hers = metadata(
        "18c5f0a1b2c3e001",
        &thread,
        &["INBOX"],
        &[
            ("From", "Maria González <maria.gonzalez@example.com>"),
            ("Subject", "Re: Your crown fitting"),
        ],
        1_796_000_000_000,
    );
    google.serve_thread(&thread, vec![ours, hers]).await;

    let event: EventBridgeEvent<Value> =
        serde_json::from_str(&sample(&format!("{name}.json"))).expect("an EventBridge event");
    assert_eq!(event.detail_type, "Scheduled Event");
    let Trigger::Schedule { tick, .. } = super::entry(name).trigger else {
        panic!("{name} is not a scheduled Lambda");
    };
    let report = handle_schedule(world.state.clone(), name, tick, event)
        .await
        .unwrap_or_else(|e| panic!("{name}: tick failed: {e}"));
    assert_eq!(report.processed, 1, "one reply read");
    let timeline = world.api("GET", &format!("/contacts/{id}/timeline"), None).await;
    let replies: Vec<&Value> = timeline["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "email.reply_received")
        .collect();
    assert_eq!(replies.len(), 1, "{timeline}");
    assert_eq!(replies[0]["detail"]["gmail_message_id"], "18c5f0a1b2c3e001");
}
