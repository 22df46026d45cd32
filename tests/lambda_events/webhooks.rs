//! Samples of the webhook-endpoint Lambdas (the organization's outgoing
//! webhooks): each runs against an endpoint made through the API, its id in
//! place of the sample's.

use http::StatusCode;
use konnecs::services::jobs::Job;
use serde_json::{Value, json};

use super::World;

/// The endpoint the samples name.
const SAMPLE_ENDPOINT: &str = "0193a7c4e2f15d8b9a6c3e7f1d2b4a90";
/// The delivery of `webhooks-redeliver`.
const SAMPLE_DELIVERY: &str = "0193a7c5f0e24b1d8c7a9e3f5b6d2c81";
/// Nothing answers there: deliveries to it fail without leaving the machine.
const UNREACHABLE: &str = "https://hooks.whitfield-dental.invalid/konnecs";

/// An endpoint for new contacts: its id and secret.
async fn endpoint(w: &World) -> (String, String) {
    let body = json!({"url": UNREACHABLE, "events": ["contact.created"], "description": "Sync"});
    let created = w.api("POST", "/org/webhooks", Some(body)).await;
    (
        created["id"].as_str().expect("id").to_string(),
        created["secret"].as_str().expect("secret").to_string(),
    )
}

async fn listed(w: &World) -> Vec<Value> {
    w.api("GET", "/org/webhooks", None).await["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// A contact is created and its webhook's first attempt made (it fails):
/// the endpoint and its one delivery.
async fn one_delivery(w: &World) -> (String, String) {
    let (id, _) = endpoint(w).await;
    w.take_jobs().await;
    w.api(
        "POST",
        "/contacts",
        Some(json!({"first_name": "Ann", "emails": ["ann@example.com"]})),
    )
    .await;
    for job in w.take_jobs().await {
        if let Job::DeliverWebhook(attempt) = job {
            konnecs::services::webhooks::run_attempt(&w.state, attempt)
                .await
                .expect("the attempt runs");
        }
    }
    let log = w.api("GET", &format!("/org/webhooks/{id}/deliveries"), None).await;
    let delivery = log["items"][0]["id"].as_str().expect("a delivery").to_string();
    (id, delivery)
}

pub async fn webhooks_list_shows_the_endpoint(name: &str) {
    let w = World::with_dana().await;
    let (id, secret) = endpoint(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["items"][0]["id"], id.as_str());
    assert_eq!(reply.body["items"][0]["url"], UNREACHABLE);
    assert!(!reply.text.contains(&secret), "the secret is never listed");
}

pub async fn webhooks_create_adds_the_endpoint_and_shows_its_secret_once(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert!(reply.body["secret"].as_str().expect("secret").starts_with("whsec_"));
    assert_eq!(reply.body["url"], "https://hooks.whitfield-dental.example/konnecs");
    assert_eq!(reply.body["events"], json!(["booking.created", "booking.cancelled"]));
    let items = listed(&w).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["description"], "Practice management sync");
}

pub async fn webhooks_update_turns_the_endpoint_off(name: &str) {
    let w = World::with_dana().await;
    let (id, _) = endpoint(&w).await;
    let reply = w.http(name, &[(SAMPLE_ENDPOINT, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["enabled"], false);
    assert_eq!(listed(&w).await[0]["enabled"], false);
}

pub async fn webhooks_delete_deletes_the_endpoint(name: &str) {
    let w = World::with_dana().await;
    let (id, _) = endpoint(&w).await;
    w.http(name, &[(SAMPLE_ENDPOINT, &id)])
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(listed(&w).await.is_empty());
}

pub async fn webhooks_rotate_secret_returns_a_new_secret(name: &str) {
    let w = World::with_dana().await;
    let (id, secret) = endpoint(&w).await;
    let reply = w.http(name, &[(SAMPLE_ENDPOINT, &id)]).await;
    reply.expect(StatusCode::CREATED);
    let rotated = reply.body["secret"].as_str().expect("secret");
    assert!(rotated.starts_with("whsec_") && rotated != secret);
}

pub async fn webhooks_deliveries_shows_the_failed_attempt(name: &str) {
    let w = World::with_dana().await;
    let (id, delivery) = one_delivery(&w).await;
    let reply = w.http(name, &[(SAMPLE_ENDPOINT, &id)]).await;
    reply.expect(StatusCode::OK);
    let item = &reply.body["items"][0];
    assert_eq!(item["id"], delivery.as_str());
    assert_eq!(item["event_type"], "contact.created");
    assert_eq!(item["status"], "pending", "a retry is scheduled");
    assert_eq!(item["attempts"][0]["status_code"], Value::Null);
    assert!(item["attempts"][0]["error"].is_string(), "{item}");
}

pub async fn webhooks_redeliver_queues_one_more_attempt(name: &str) {
    let w = World::with_dana().await;
    let (id, delivery) = one_delivery(&w).await;
    let reply = w
        .http(name, &[(SAMPLE_ENDPOINT, &id), (SAMPLE_DELIVERY, &delivery)])
        .await;
    reply.expect(StatusCode::ACCEPTED);
    let queued: Vec<_> = w
        .take_jobs()
        .await
        .into_iter()
        .filter_map(|job| match job {
            Job::DeliverWebhook(attempt) if attempt.manual => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        (queued[0].attempt, queued[0].delivery_id.as_str()),
        (2, delivery.as_str())
    );
}

pub async fn page_webhooks_lists_the_endpoint(name: &str) {
    let w = World::with_dana().await;
    let (id, _) = endpoint(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(
        reply.text.contains(&format!("/app/settings/webhooks/{id}")),
        "{}",
        reply.text
    );
    assert!(reply.text.contains(UNREACHABLE));
}

pub async fn page_webhooks_create_adds_the_endpoint_and_shows_its_secret_once(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    let items = listed(&w).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["events"], json!(["booking.created", "booking.cancelled"]));
    assert!(reply.text.contains("whsec_"), "the secret is on the page");
    assert_eq!(reply.header("cache-control"), "no-store");
}

pub async fn page_webhook_shows_the_endpoint_and_its_deliveries(name: &str) {
    let w = World::with_dana().await;
    let (id, delivery) = one_delivery(&w).await;
    let reply = w.http(name, &[(SAMPLE_ENDPOINT, &id)]).await;
    reply.expect(StatusCode::OK);
    assert!(
        reply.text.contains(&format!("value=\"{delivery}\"")),
        "a Redeliver button for the delivery"
    );
    assert!(reply.text.contains("contact.created"));
    assert!(!reply.text.contains("whsec_"), "no secret after creation");
}

pub async fn page_webhook_action_saves_the_endpoint(name: &str) {
    let w = World::with_dana().await;
    let (id, _) = endpoint(&w).await;
    let reply = w.http(name, &[(SAMPLE_ENDPOINT, &id)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        format!("/app/settings/webhooks/{id}?notice=webhook-saved")
    );
    let items = listed(&w).await;
    assert_eq!(items[0]["description"], "Paused for the migration");
    assert_eq!(items[0]["events"], json!(["booking.created"]));
    assert_eq!(items[0]["enabled"], false, "the sample leaves the box unticked");
}
