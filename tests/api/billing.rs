//! Billing: Stripe's webhook (signed the documented way over the raw body,
//! applied once, never to an older state), plan limits, Checkout and the
//! Customer Portal against a mock Stripe API, dunning by the clock, and no
//! card data kept.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, StatusCode};
use jiff::SignedDuration;
use konnecs::app::AppState;
use konnecs::config::StripeConfig;
use konnecs::domain::billing::{PlanName, sign};
use konnecs::domain::role::Role;
use konnecs::ports::Clock;
use konnecs_tests::app::{Member, START, Store, TestApp};
use konnecs_tests::http::Reply;
use konnecs_tests::on_both_stores;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WHSEC: &str = "whsec_test_4f1c9a0b7d2e";
const STARTER_PRICE: &str = "price_1StarterMonthly";
const PRO_PRICE: &str = "price_1ProMonthly";

/// `app` with Stripe configured (API at `stripe_url`), both paid plans on
/// sale, and a free plan small enough to reach in a test.
fn with_billing(app: &mut TestApp, stripe_url: &str) {
    let mut config = (*app.state.config).clone();
    config.stripe = Some(StripeConfig {
        secret_key: "sk_test_51Konnecs".to_string().into(),
        webhook_signing_secret: WHSEC.to_string().into(),
    });
    config.stripe_base_url = stripe_url.to_string();
    for (name, price) in [(PlanName::Starter, STARTER_PRICE), (PlanName::Pro, PRO_PRICE)] {
        config.plans.plan_mut(name).expect("plan").price_id = Some(price.into());
    }
    let free = &mut config.plans.plan_mut(PlanName::Free).expect("free plan").limits;
    free.contacts = Some(2);
    free.members = Some(2);
    free.event_types = Some(1);
    let state = AppState {
        payments: konnecs::app::payments(&config),
        config: Arc::new(config),
        ..app.state.clone()
    };
    app.replace_state(state);
}

async fn billing_app(store: Store) -> (TestApp, Member) {
    let mut app = TestApp::on(store, START).await;
    with_billing(&mut app, "http://127.0.0.1:9");
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    (app, owner)
}

/// A Stripe event as its API documents them: pretty-printed, `data.object`.
fn event(id: &str, kind: &str, created: i64, object: Value) -> Vec<u8> {
    let event = json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "type": kind,
        "data": {"object": object},
    });
    serde_json::to_vec_pretty(&event).expect("json")
}

fn subscription(org_id: &str, status: &str, price: &str, cancel_at_period_end: bool) -> Value {
    json!({
        "id": "sub_1Whitfield",
        "object": "subscription",
        "customer": "cus_Whitfield",
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "current_period_end": 1_798_000_000,
        "trial_end": null,
        "metadata": {"org_id": org_id},
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": price, "object": "price"}}]},
    })
}

fn invoice(customer: &str) -> Value {
    json!({
        "id": "in_1Whitfield",
        "object": "invoice",
        "customer": customer,
        "subscription": "sub_1Whitfield",
        "status": "open",
        "amount_due": 4900,
        "currency": "eur",
        "charge": {
            "id": "ch_1",
            "payment_method_details": {
                "type": "card",
                "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031, "fingerprint": "Fp9CardFingerprint", "number": "4242424242424242"}
            },
            "billing_details": {"name": "Dana Whitfield", "address": {"line1": "1 Molar Street"}}
        }
    })
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().as_second()
}

async fn deliver(app: &TestApp, body: &[u8], signature: &str) -> Reply {
    let request = Request::builder()
        .method("POST")
        .uri("/webhooks/stripe")
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", signature)
        .body(Body::from(body.to_vec()))
        .expect("request");
    app.request(request).await
}

async fn deliver_signed(app: &TestApp, body: &[u8]) -> Reply {
    deliver(app, body, &sign(body, WHSEC, now(app))).await
}

async fn billing(app: &TestApp, owner: &Member) -> Value {
    let reply = app.send(&owner.browser, "GET", "/billing", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn a_signed_event_is_applied(store: Store) {
    let (app, owner) = billing_app(store).await;
    let body = event(
        "evt_created",
        "customer.subscription.created",
        now(&app),
        subscription(&owner.org_id, "active", STARTER_PRICE, false),
    );
    let reply = deliver_signed(&app, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["outcome"], "applied");
    let view = billing(&app, &owner).await;
    assert_eq!(view["plan"], "starter");
    assert_eq!(view["status"], "active");
    assert_eq!(view["current_period_end"], "2026-12-23T04:26:40Z");
    assert_eq!(view["cancel_at_period_end"], false);
}

async fn a_redelivered_event_changes_nothing_and_answers_200(store: Store) {
    let (app, owner) = billing_app(store).await;
    let created = now(&app);
    let body = event(
        "evt_dup",
        "customer.subscription.created",
        created,
        subscription(&owner.org_id, "active", STARTER_PRICE, false),
    );
    assert_eq!(deliver_signed(&app, &body).await.body["outcome"], "applied");
    // A newer event moves the state on; then Stripe redelivers the first one.
    let cancel = event(
        "evt_cancel",
        "customer.subscription.updated",
        created + 5,
        subscription(&owner.org_id, "active", STARTER_PRICE, true),
    );
    assert_eq!(deliver_signed(&app, &cancel).await.body["outcome"], "applied");
    let again = deliver_signed(&app, &body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["outcome"], "duplicate");
    assert_eq!(billing(&app, &owner).await["cancel_at_period_end"], true);
}

async fn updated_arriving_before_created_is_not_undone(store: Store) {
    let (app, owner) = billing_app(store).await;
    let t = now(&app);
    let updated = event(
        "evt_updated",
        "customer.subscription.updated",
        t,
        subscription(&owner.org_id, "active", PRO_PRICE, true),
    );
    let created = event(
        "evt_created_late",
        "customer.subscription.created",
        t - 30,
        subscription(&owner.org_id, "incomplete", STARTER_PRICE, false),
    );
    assert_eq!(deliver_signed(&app, &updated).await.body["outcome"], "applied");
    let late = deliver_signed(&app, &created).await;
    assert_eq!(late.status, StatusCode::OK, "{}", late.body);
    assert_eq!(late.body["outcome"], "ignored");
    let view = billing(&app, &owner).await;
    assert_eq!(view["plan"], "pro");
    assert_eq!(view["status"], "active");
    assert_eq!(view["cancel_at_period_end"], true);
    // A live subscription changes plan in the portal, not by a second one.
    let again = app
        .send(
            &owner.browser,
            "POST",
            "/billing/checkout",
            Some(&json!({"plan": "starter"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.body["code"], "already_subscribed");
}

#[tokio::test]
async fn a_tampered_body_a_wrong_secret_or_a_stale_timestamp_is_refused() {
    let (app, owner) = billing_app(Store::Sqlite).await;
    let body = event(
        "evt_forged",
        "customer.subscription.created",
        now(&app),
        subscription(&owner.org_id, "active", PRO_PRICE, false),
    );
    let signature = sign(&body, WHSEC, now(&app));
    let tampered = String::from_utf8(body.clone())
        .expect("utf-8")
        .replace("\"active\"", "\"trialing\"");
    let cases = [
        ("tampered body", tampered.into_bytes(), signature.clone()),
        ("wrong secret", body.clone(), sign(&body, "whsec_not_ours", now(&app))),
        ("stale timestamp", body.clone(), sign(&body, WHSEC, now(&app) - 301)),
        ("no signature", body.clone(), String::new()),
    ];
    for (case, body, signature) in cases {
        let reply = deliver(&app, &body, &signature).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}: {}", reply.body);
        assert_eq!(reply.body["code"], "invalid_signature", "{case}");
    }
    assert_eq!(
        billing(&app, &owner).await["plan"],
        "free",
        "nothing forged was applied"
    );
    // The same event signed correctly a moment later (inside the tolerance) is accepted.
    app.clock.advance(SignedDuration::from_secs(299));
    assert_eq!(deliver(&app, &body, &signature).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_event_type_is_acknowledged() {
    let (app, _owner) = billing_app(Store::Sqlite).await;
    let body = event(
        "evt_unknown",
        "customer.tax_id.created",
        now(&app),
        json!({"id": "txi_1"}),
    );
    let reply = deliver_signed(&app, &body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["outcome"], "ignored");
}

#[tokio::test]
async fn without_stripe_configured_billing_is_absent() {
    let app = TestApp::new();
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    let body = event("evt_off", "invoice.paid", 1, json!({}));
    let reply = deliver(&app, &body, &sign(&body, WHSEC, now(&app))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let reply = app.send(&owner.browser, "GET", "/billing", None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // No limits either: a server that sells nothing limits nothing.
    for n in 0..3 {
        let contact = json!({"first_name": "Pat", "last_name": format!("No{n}")});
        let reply = app.send(&owner.browser, "POST", "/contacts", Some(&contact)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
}

async fn create_contact(app: &TestApp, who: &Member, n: usize) -> Reply {
    let contact = json!({"first_name": "Pat", "last_name": format!("Contact{n}")});
    app.send(&who.browser, "POST", "/contacts", Some(&contact)).await
}

#[track_caller]
fn assert_plan_limit(reply: &Reply, limit: &str) {
    assert_eq!(reply.status, StatusCode::PAYMENT_REQUIRED, "{}", reply.body);
    assert_eq!(reply.body["code"], "plan_limit");
    assert_eq!(reply.body["limit"], limit);
    assert_eq!(reply.body["plan"], "free");
    assert_eq!(reply.body["upgrade"], "/billing/checkout");
}

async fn the_free_plan_limits_contacts_members_and_event_types(store: Store) {
    let (app, owner) = billing_app(store).await;
    for n in 0..2 {
        assert_eq!(create_contact(&app, &owner, n).await.status, StatusCode::CREATED);
    }
    assert_plan_limit(&create_contact(&app, &owner, 2).await, "contacts");

    // The owner and one invitation fill two seats.
    let reply = app
        .send(
            &owner.browser,
            "POST",
            "/org/invitations",
            Some(&json!({"email": app.fresh_email("a"), "role": "member"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let reply = app
        .send(
            &owner.browser,
            "POST",
            "/org/invitations",
            Some(&json!({"email": app.fresh_email("b"), "role": "member"})),
        )
        .await;
    assert_plan_limit(&reply, "members");

    let schedule = app
        .send(
            &owner.browser,
            "POST",
            "/schedules",
            Some(&json!({"name": "Clinic", "time_zone": "Europe/London", "weekly": {"monday": [{"start": "09:00", "end": "12:00"}]}})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.body);
    let event_type =
        |slug: &str| json!({"title": "Visit", "slug": slug, "durations": [30], "schedule_id": schedule.body["id"]});
    let first = app
        .send(&owner.browser, "POST", "/event-types", Some(&event_type("visit")))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let second = app
        .send(&owner.browser, "POST", "/event-types", Some(&event_type("visit-2")))
        .await;
    assert_plan_limit(&second, "event_types");

    // A subscription lifts the limits at once.
    let body = event(
        "evt_upgrade",
        "customer.subscription.created",
        now(&app),
        subscription(&owner.org_id, "active", STARTER_PRICE, false),
    );
    assert_eq!(deliver_signed(&app, &body).await.status, StatusCode::OK);
    assert_eq!(create_contact(&app, &owner, 3).await.status, StatusCode::CREATED);
    let view = billing(&app, &owner).await;
    let contacts = view["limits"]
        .as_array()
        .expect("limits")
        .iter()
        .find(|l| l["limit"] == "contacts")
        .cloned()
        .expect("contacts limit");
    assert_eq!(contacts["used"], 3);
    assert_eq!(contacts["allowed"], 5000);
}

/// The webhook reads the bytes Stripe signed, whatever their media type:
/// a body that is not JSON is the handler's `invalid_event`, never the JSON
/// reader's refusals (415, `malformed_json`), and only the body limit in
/// front of every route refuses a body for its size. Every answer here is
/// checked against the OpenAPI document, so each must be documented.
#[tokio::test]
async fn the_webhook_reads_the_signed_bytes_whatever_their_media_type() {
    let (app, owner) = billing_app(Store::Sqlite).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        let signature = sign(&body, WHSEC, now(&app));
        let request = Request::builder()
            .method("POST")
            .uri("/webhooks/stripe")
            .header("content-type", content_type)
            .header("stripe-signature", signature)
            .body(Body::from(body))
            .expect("request");
        app.request(request)
    };
    let event_body = event(
        "evt_plain",
        "customer.subscription.created",
        now(&app),
        subscription(&owner.org_id, "active", STARTER_PRICE, false),
    );
    let reply = post(event_body, "text/plain").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["outcome"], "applied");

    for content_type in ["application/json", "text/plain"] {
        let reply = post(b"{not json".to_vec(), content_type).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{content_type}: {}", reply.body);
        assert_eq!(reply.body["code"], "invalid_event", "{content_type}");
    }

    let oversized = vec![b' '; konnecs::config::MAX_BODY_BYTES + 1];
    let reply = post(oversized, "application/json").await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.body);
    assert_eq!(reply.body["code"], "payload_too_large");
}

on_both_stores!(
    a_signed_event_is_applied,
    a_redelivered_event_changes_nothing_and_answers_200,
    updated_arriving_before_created_is_not_undone,
    the_free_plan_limits_contacts_members_and_event_types,
);

#[tokio::test]
async fn a_failed_payment_emails_the_owners_once_keeps_the_plan_through_the_grace_period_then_falls_to_free() {
    let (app, owner) = billing_app(Store::Sqlite).await;
    let member = app.join(&owner, &app.fresh_email("member"), Role::Member).await;
    let body = event(
        "evt_sub",
        "customer.subscription.created",
        now(&app),
        subscription(&owner.org_id, "active", STARTER_PRICE, false),
    );
    assert_eq!(deliver_signed(&app, &body).await.status, StatusCode::OK);
    for n in 0..2 {
        assert_eq!(create_contact(&app, &owner, n).await.status, StatusCode::CREATED);
    }

    let failed = event(
        "evt_failed",
        "invoice.payment_failed",
        now(&app),
        invoice("cus_Whitfield"),
    );
    assert_eq!(deliver_signed(&app, &failed).await.body["outcome"], "applied");
    assert_eq!(deliver_signed(&app, &failed).await.body["outcome"], "duplicate");
    let dunning: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["kind"] == "billing_payment_failed")
        .collect();
    assert_eq!(dunning.len(), 1, "one email, to the one owner: {dunning:?}");
    assert_eq!(dunning[0]["to"], owner.email.as_str());

    let view = billing(&app, &owner).await;
    assert_eq!(view["last_invoice_status"], "payment_failed");
    assert_eq!(view["payment_failed"], true);
    assert_eq!(view["plan"], "starter", "the grace period keeps the plan");
    assert_eq!(view["grace_until"], "2026-11-24T09:00:00Z");
    // Every member sees the banner; only owners see the rest.
    let members_view = app.send(&member.browser, "GET", "/billing", None).await;
    assert_eq!(members_view.status, StatusCode::FORBIDDEN);
    let home = app.send(&member.browser, "GET", "/app", None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&home.bytes).contains("subscription failed"),
        "the banner: {}",
        String::from_utf8_lossy(&home.bytes)
    );
    let page = app.send(&owner.browser, "GET", "/app/settings/billing", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&page.bytes).contains("payment_failed"),
        "{}",
        String::from_utf8_lossy(&page.bytes)
    );
    let refused = app.send(&member.browser, "GET", "/app/settings/billing", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    assert_eq!(create_contact(&app, &owner, 2).await.status, StatusCode::CREATED);
    app.clock.advance(SignedDuration::from_hours(7 * 24));
    let owner = app.sign_in(&owner.email).await;
    let view = billing(&app, &owner).await;
    assert_eq!(view["plan"], "free");
    assert_eq!(view["downgraded"], true);
    assert_plan_limit(&create_contact(&app, &owner, 3).await, "contacts");
    let list = app.send(&owner.browser, "GET", "/contacts", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body["contacts"].as_array().map(Vec::len),
        Some(3),
        "no data is lost"
    );

    let paid = event("evt_paid", "invoice.paid", now(&app), invoice("cus_Whitfield"));
    assert_eq!(deliver_signed(&app, &paid).await.body["outcome"], "applied");
    let view = billing(&app, &owner).await;
    assert_eq!(view["plan"], "starter");
    assert_eq!(view["last_invoice_status"], "paid");
    assert_eq!(view["payment_failed"], false);
    let member = app.sign_in(&member.email).await;
    let home = app.send(&member.browser, "GET", "/app", None).await;
    assert!(
        !String::from_utf8_lossy(&home.bytes).contains("subscription failed"),
        "no banner once paid"
    );
}

#[tokio::test]
async fn no_card_data_is_kept_from_stripes_payloads() {
    let (app, owner) = billing_app(Store::Sqlite).await;
    let body = event(
        "evt_sub",
        "customer.subscription.created",
        now(&app),
        subscription(&owner.org_id, "active", STARTER_PRICE, false),
    );
    assert_eq!(deliver_signed(&app, &body).await.status, StatusCode::OK);
    let failed = event(
        "evt_card",
        "invoice.payment_failed",
        now(&app),
        invoice("cus_Whitfield"),
    );
    assert_eq!(deliver_signed(&app, &failed).await.status, StatusCode::OK);
    app.drain_jobs().await;
    let mut stored = Vec::new();
    for entry in walk(app.data_dir()) {
        stored.extend(std::fs::read(entry).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(stored.contains("payment_failed"), "the store files were read");
    for card in [
        "4242424242424242",
        "last4",
        "exp_month",
        "Fp9CardFingerprint",
        "payment_method_details",
        "1 Molar Street",
    ] {
        assert!(!stored.contains(card), "{card} reached the store");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test]
async fn checkout_creates_the_customer_once_and_retries_what_stripe_fails() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .and(header("authorization", "Bearer sk_test_51Konnecs"))
        .and(header_exists("idempotency-key"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("metadata%5Borg_id%5D="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_Whitfield", "object": "customer"})))
        .expect(1)
        .mount(&stripe)
        .await;
    // Stripe fails once; the retry (same idempotency key) succeeds.
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error"}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(body_string_contains("mode=subscription"))
        .and(body_string_contains("customer=cus_Whitfield"))
        .and(body_string_contains(format!(
            "line_items%5B0%5D%5Bprice%5D={STARTER_PRICE}"
        )))
        .and(header_exists("idempotency-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "cs_test_1", "url": "https://checkout.stripe.com/c/pay/cs_test_1"})),
        )
        .with_priority(2)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .and(body_string_contains("customer=cus_Whitfield"))
        .and(header_exists("idempotency-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "bps_1", "url": "https://billing.stripe.com/p/session/bps_1"})),
        )
        .mount(&stripe)
        .await;

    let mut app = TestApp::new();
    with_billing(&mut app, &stripe.uri());
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    let admin = app.join(&owner, &app.fresh_email("admin"), Role::Admin).await;

    let reply = app.send(&owner.browser, "POST", "/billing/portal", None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert_eq!(reply.body["code"], "no_subscription");
    let refused = app
        .send(
            &admin.browser,
            "POST",
            "/billing/checkout",
            Some(&json!({"plan": "starter"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "owners only");
    let bad = app
        .send(
            &owner.browser,
            "POST",
            "/billing/checkout",
            Some(&json!({"plan": "platinum"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);

    for _ in 0..2 {
        let reply = app
            .send(
                &owner.browser,
                "POST",
                "/billing/checkout",
                Some(&json!({"plan": "starter"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(reply.body["url"], "https://checkout.stripe.com/c/pay/cs_test_1");
    }
    let portal = app.send(&owner.browser, "POST", "/billing/portal", None).await;
    assert_eq!(portal.status, StatusCode::CREATED, "{}", portal.body);
    assert_eq!(portal.body["url"], "https://billing.stripe.com/p/session/bps_1");

    let requests = stripe.received_requests().await.expect("recorded");
    let checkouts: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/v1/checkout/sessions")
        .collect();
    assert_eq!(checkouts.len(), 3, "one failure, its retry, and the second checkout");
    assert_eq!(
        checkouts[0].headers.get("idempotency-key"),
        checkouts[1].headers.get("idempotency-key"),
        "the retry is the same request"
    );
    assert_ne!(
        checkouts[1].headers.get("idempotency-key"),
        checkouts[2].headers.get("idempotency-key")
    );
    // `.expect(1)` on the customer mock is verified when `stripe` drops.
}

/// Where no price id is configured, the plan is sold by the Stripe price
/// with its lookup key, and a subscription to that price is the plan.
#[tokio::test]
async fn a_plan_without_a_configured_price_is_sold_by_its_lookup_key() {
    let stripe = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "cus_Whitfield"})))
        .mount(&stripe)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/prices"))
        .and(wiremock::matchers::query_param("lookup_keys[]", "konnecs_pro"))
        .and(header("authorization", "Bearer sk_test_51Konnecs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "data": [{"id": "price_FoundByKey", "lookup_key": "konnecs_pro"}]}),
        ))
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(body_string_contains("line_items%5B0%5D%5Bprice%5D=price_FoundByKey"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"url": "https://checkout.stripe.com/c/pay/cs_pro"})),
        )
        .expect(1)
        .mount(&stripe)
        .await;
    let mut app = TestApp::new();
    with_billing(&mut app, &stripe.uri());
    let mut config = (*app.state.config).clone();
    config.plans.plan_mut(PlanName::Pro).expect("pro").price_id = None;
    let state = AppState {
        config: Arc::new(config),
        ..app.state.clone()
    };
    app.replace_state(state);
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    let reply = app
        .send(
            &owner.browser,
            "POST",
            "/billing/checkout",
            Some(&json!({"plan": "pro"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["url"], "https://checkout.stripe.com/c/pay/cs_pro");

    let mut subscribed = subscription(&owner.org_id, "active", "price_FoundByKey", false);
    subscribed["items"]["data"][0]["price"]["lookup_key"] = json!("konnecs_pro");
    let body = event("evt_pro", "customer.subscription.created", now(&app), subscribed);
    assert_eq!(deliver_signed(&app, &body).await.body["outcome"], "applied");
    assert_eq!(billing(&app, &owner).await["plan"], "pro");
}
