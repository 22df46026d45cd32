//! Samples of the billing Lambdas, with Stripe configured: its API on a
//! mock, and the webhook signed with the samples' signing secret.

use std::sync::Arc;

use base64::Engine;
use http::StatusCode;
use konnecs::app::AppState;
use konnecs::config::StripeConfig;
use konnecs::domain::billing::PlanName;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{World, sample};

/// The signing secret `events/stripe-webhook.json` is signed with.
const SAMPLE_WHSEC: &str = "whsec_konnecsSampleSigningSecret0001";
/// The customer and price the webhook sample names.
const SAMPLE_CUSTOMER: &str = "cus_QxWhitfield0001";
const SAMPLE_PRICE: &str = "price_1QxStarterMonthly";

/// Dana's world with billing on, Stripe's API at `stripe_url`.
async fn world_with_stripe(stripe_url: &str) -> World {
    let mut world = World::with_dana().await;
    let mut config = (*world.state.config).clone();
    config.stripe = Some(StripeConfig {
        secret_key: "sk_test_51Konnecs".to_string().into(),
        webhook_signing_secret: SAMPLE_WHSEC.to_string().into(),
    });
    config.stripe_base_url = stripe_url.to_string();
    config.plans.plan_mut(PlanName::Starter).expect("starter").price_id = Some(SAMPLE_PRICE.into());
    world.state = AppState {
        payments: konnecs::app::payments(&config),
        config: Arc::new(config),
        ..world.state.clone()
    };
    world.app = konnecs::inbound::http::router(world.state.clone(), konnecs::catalogue::entries());
    world
}

async fn stripe_mock() -> MockServer {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": SAMPLE_CUSTOMER})))
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "cs_1", "url": "https://checkout.stripe.com/c/pay/cs_1"})),
        )
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "bps_1", "url": "https://billing.stripe.com/p/session/bps_1"})),
        )
        .mount(&stripe)
        .await;
    stripe
}

pub async fn billing_get_shows_the_free_plan_and_its_limits(name: &str) {
    let w = world_with_stripe("http://127.0.0.1:9").await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["plan"], "free");
    assert_eq!(reply.body["plans_offered"], json!(["starter", "pro"]));
}

pub async fn billing_checkout_returns_the_checkout_url(name: &str) {
    let stripe = stripe_mock().await;
    let w = world_with_stripe(&stripe.uri()).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(reply.body["url"], "https://checkout.stripe.com/c/pay/cs_1");
}

pub async fn billing_portal_returns_the_portal_url_for_the_customer(name: &str) {
    let stripe = stripe_mock().await;
    let w = world_with_stripe(&stripe.uri()).await;
    w.api("POST", "/billing/checkout", Some(json!({"plan": "starter"})))
        .await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(reply.body["url"], "https://billing.stripe.com/p/session/bps_1");
}

/// The sample's body is base64 as API Gateway delivers it; its signature
/// holds over those bytes, and over no re-serialisation of the same JSON.
pub async fn stripe_webhook_verifies_the_raw_body_and_applies_the_subscription(name: &str) {
    let w = world_with_stripe("http://127.0.0.1:9").await;
    // The customer Konnecs made for Dana's organization at checkout.
    w.state
        .table
        .put(
            konnecs::services::object(json!({
                "pk": format!("STRIPECUSTOMER#{SAMPLE_CUSTOMER}"), "sk": "ORG", "org_id": w.org_id,
            })),
            None,
        )
        .await
        .expect("customer mapping");

    let event: Value = serde_json::from_str(&sample(&format!("{name}.json"))).expect("JSON");
    let encoded = event["body"].as_str().expect("body");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let reserialised = serde_json::to_vec(&serde_json::from_slice::<Value>(&raw).expect("JSON body")).expect("JSON");
    assert_ne!(raw, reserialised, "the sample's bytes differ from a re-serialisation");
    let reencoded = base64::engine::general_purpose::STANDARD.encode(&reserialised);
    let refused = w.http(name, &[(encoded, &reencoded)]).await;
    refused.expect(StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["code"], "invalid_signature");

    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["outcome"], "applied");
    let billing = w.api("GET", "/billing", None).await;
    assert_eq!(billing["plan"], "starter");
    assert_eq!(billing["status"], "active");
    let again = w.http(name, &[]).await;
    again.expect(StatusCode::OK);
    assert_eq!(again.body["outcome"], "duplicate");
}

pub async fn page_billing_shows_the_plan_and_usage(name: &str) {
    let w = world_with_stripe("http://127.0.0.1:9").await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.text.contains("<h1>Billing</h1>"), "{}", reply.text);
    assert!(reply.text.contains("Upgrade to starter"), "{}", reply.text);
}

pub async fn page_billing_action_links_on_to_stripe_checkout(name: &str) {
    let stripe = stripe_mock().await;
    let w = world_with_stripe(&stripe.uri()).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(
        reply.text.contains("href=\"https://checkout.stripe.com/c/pay/cs_1\""),
        "{}",
        reply.text
    );
}
