//! Endpoints through the API: https only, no private addresses in
//! production mode, admins only, tenancy, audit, and the secret shown once
//! and stored sealed.

use std::sync::Arc;

use http::StatusCode;
use konnecs::domain::role::Role;
use konnecs::domain::webhook::TargetPolicy;
use konnecs_tests::app::{START, Store, TestApp, expect, field_errors, problem};
use konnecs_tests::on_both_stores;
use serde_json::json;

use super::{Receiver, add_endpoint, create_contact, signature_is_valid};

on_both_stores!(
    an_endpoint_is_created_listed_changed_and_deleted_with_its_secret_shown_once,
    only_https_urls_and_known_events_are_accepted,
    another_organizations_endpoint_is_not_found_and_members_are_refused,
);

async fn an_endpoint_is_created_listed_changed_and_deleted_with_its_secret_shown_once(store: Store) {
    let app = TestApp::on(store, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    let receiver = Receiver::start(&[], 200).await;
    let (id, secret) = add_endpoint(&app, &owner, &receiver.url, &["contact.created", "booking.created"]).await;
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");

    let listed = app.send(&owner.browser, "GET", "/org/webhooks", None).await;
    expect(&listed, StatusCode::OK);
    let item = &listed.body["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["url"], receiver.url.as_str());
    assert_eq!(item["events"], json!(["contact.created", "booking.created"]));
    assert_eq!(item["enabled"], true);
    assert!(
        !listed.body.to_string().contains(&secret) && item.get("secret").is_none(),
        "never listed"
    );
    // Stored sealed: the plain secret appears nowhere in the item.
    let key = konnecs::services::webhooks::endpoint_key(&owner.org_id.as_str().into(), &id.as_str().into());
    let stored = app.state.table.get(&key).await.expect("get").expect("stored");
    assert!(!serde_json::to_string(&stored).unwrap().contains(&secret[6..]));

    // A rotated secret signs from then on; the old one no longer verifies.
    let rotated = app
        .send(
            &owner.browser,
            "POST",
            &format!("/org/webhooks/{id}/secret"),
            Some(&json!({})),
        )
        .await;
    expect(&rotated, StatusCode::CREATED);
    let new_secret = rotated.body["secret"].as_str().expect("secret").to_string();
    assert_ne!(new_secret, secret);
    create_contact(&app, &owner, "ann@example.com").await;
    app.drain_jobs().await;
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    assert!(signature_is_valid(&new_secret, &calls[0]));
    assert!(!signature_is_valid(&secret, &calls[0]));

    let changed = app
        .send(
            &owner.browser,
            "PATCH",
            &format!("/org/webhooks/{id}"),
            Some(&json!({"enabled": false, "description": "Paused"})),
        )
        .await;
    expect(&changed, StatusCode::OK);
    assert_eq!(
        (&changed.body["enabled"], &changed.body["description"]),
        (&json!(false), &json!("Paused"))
    );
    create_contact(&app, &owner, "bo@example.com").await;
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1, "an endpoint that is off receives nothing");

    let audit = app.send(&owner.browser, "GET", "/org/audit", None).await;
    let actions: Vec<String> = audit.body["entries"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| e["action"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    for action in ["webhook.create", "webhook.rotate_secret", "webhook.update"] {
        assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
    }
    assert!(
        !audit.body.to_string().contains(&new_secret),
        "the audit log holds no secret"
    );

    let deleted = app
        .send(&owner.browser, "DELETE", &format!("/org/webhooks/{id}"), None)
        .await;
    expect(&deleted, StatusCode::NO_CONTENT);
    let listed = app.send(&owner.browser, "GET", "/org/webhooks", None).await;
    assert_eq!(listed.body["items"], json!([]));
}

async fn only_https_urls_and_known_events_are_accepted(store: Store) {
    let app = TestApp::on(store, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    for (url, code) in [
        ("http://hooks.example.com/in", "https_required"),
        ("ftp://hooks.example.com/in", "https_required"),
        ("hooks.example.com/in", "invalid_url"),
        ("https://user:pw@hooks.example.com/in", "credentials_in_url"),
        ("https://10.0.0.1/in", "private_address"),
        ("https://169.254.169.254/latest/meta-data", "private_address"),
    ] {
        let body = json!({"url": url, "events": ["booking.created"]});
        let reply = app.send(&owner.browser, "POST", "/org/webhooks", Some(&body)).await;
        problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(field_errors(&reply), [("url".to_string(), code.to_string())], "{url}");
    }
    let body = json!({"url": "https://hooks.example.com/in", "events": ["booking.exploded"]});
    let reply = app.send(&owner.browser, "POST", "/org/webhooks", Some(&body)).await;
    problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        field_errors(&reply),
        [("events".to_string(), "unknown_event".to_string())]
    );
    let listed = app.send(&owner.browser, "GET", "/org/webhooks", None).await;
    assert_eq!(listed.body["items"], json!([]), "nothing refused was saved");
}

async fn another_organizations_endpoint_is_not_found_and_members_are_refused(store: Store) {
    let app = TestApp::on(store, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    let other = app.sign_up("owner@harbour-physio.example", "Harbour Physio").await;
    let (id, _) = add_endpoint(&app, &owner, "https://hooks.example.com/in", &["booking.created"]).await;
    for (method, path) in [
        ("PATCH", format!("/org/webhooks/{id}")),
        ("DELETE", format!("/org/webhooks/{id}")),
        ("POST", format!("/org/webhooks/{id}/secret")),
        ("GET", format!("/org/webhooks/{id}/deliveries")),
        (
            "POST",
            format!("/org/webhooks/{id}/deliveries/0193a7c5f0e24b1d8c7a9e3f5b6d2c81/redeliver"),
        ),
    ] {
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let reply = app.send(&other.browser, method, &path, body.as_ref()).await;
        problem(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    let listed = app.send(&other.browser, "GET", "/org/webhooks", None).await;
    assert_eq!(listed.body["items"], json!([]));

    let member = app.join(&owner, "sam@whitfield-dental.example", Role::Member).await;
    let reply = app.send(&member.browser, "GET", "/org/webhooks", None).await;
    problem(&reply, StatusCode::FORBIDDEN, "insufficient_role");
    let body = json!({"url": "https://hooks.example.com/x", "events": ["booking.created"]});
    let reply = app.send(&member.browser, "POST", "/org/webhooks", Some(&body)).await;
    problem(&reply, StatusCode::FORBIDDEN, "insufficient_role");
    let admin = app.join(&owner, "ade@whitfield-dental.example", Role::Admin).await;
    let reply = app.send(&admin.browser, "GET", "/org/webhooks", None).await;
    expect(&reply, StatusCode::OK);
}

/// In production mode loopback, private and metadata addresses are
/// refused when an endpoint is saved (the local mode of the other tests
/// lets only loopback through).
#[tokio::test]
async fn production_mode_refuses_private_loopback_and_metadata_addresses() {
    let mut app = TestApp::on(Store::Sqlite, START).await;
    let owner = app.sign_up("owner@whitfield-dental.example", "Whitfield Dental").await;
    let mut config = (*app.state.config).clone();
    config.webhook_targets = TargetPolicy::PublicOnly;
    let state = konnecs::app::AppState {
        config: Arc::new(config),
        ..app.state.clone()
    };
    app.replace_state(state);
    for url in [
        "https://127.0.0.1/hook",
        "http://127.0.0.1:8080/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
    ] {
        let body = json!({"url": url, "events": ["booking.created"]});
        let reply = app.send(&owner.browser, "POST", "/org/webhooks", Some(&body)).await;
        problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let errors = field_errors(&reply);
        assert_eq!(errors.len(), 1, "{url}: {errors:?}");
        assert_eq!(errors[0].0, "url");
        assert!(
            errors[0].1 == "private_address" || errors[0].1 == "https_required",
            "{url}: {errors:?}"
        );
    }
    add_endpoint(&app, &owner, "https://hooks.example.com/in", &["booking.created"]).await;
}
