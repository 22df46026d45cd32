//! Settings → Webhooks without JavaScript: add an endpoint (the secret shown
//! once), field errors beside the fields, the delivery log with Redeliver,
//! save, a new secret, delete; another organization's endpoint is not found.

use super::*;
use crate::webhooks::{Receiver, signature_is_valid};

/// The `whsec_…` secret shown on a page.
fn secret_on(page: &Page) -> String {
    let start = page.html.find("value=\"whsec_").expect("a secret on the page") + "value=\"".len();
    page.html[start..].chars().take_while(|c| *c != '"').collect()
}

#[tokio::test]
async fn an_admin_adds_an_endpoint_sees_its_deliveries_and_redelivers_without_javascript() {
    let app = App::new();
    let mut owner = Visitor::default();
    let csrf = owner
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    owner
        .get(&app, "/app/settings/webhooks")
        .await
        .expect(StatusCode::OK)
        .contains("No endpoints yet")
        .contains("aria-current=\"page\">Webhooks");

    let refused = owner
        .post(
            &app,
            "/app/settings/webhooks",
            &[("url", "http://hooks.example.com/in"), ("description", "Sync")],
            Csrf::Field(&csrf),
        )
        .await;
    refused
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"url-error\"")
        .contains("Use an https:// URL.")
        .contains("id=\"events-error\"")
        .contains("value=\"http://hooks.example.com/in\"");

    let receiver = Receiver::start(&[], 200).await;
    let created = owner
        .post(
            &app,
            "/app/settings/webhooks",
            &[
                ("url", &receiver.url),
                ("description", "Sync"),
                ("events", "contact.created"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    created.expect(StatusCode::CREATED).contains("shown this once");
    assert_eq!(created.header("cache-control"), "no-store");
    let secret = secret_on(&created);
    let marker = "action=\"/app/settings/webhooks/";
    let start = created.html.find(marker).expect("the endpoint's form") + marker.len();
    let id: String = created.html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let endpoint_page = format!("/app/settings/webhooks/{id}");
    owner
        .get(&app, &endpoint_page)
        .await
        .expect(StatusCode::OK)
        .lacks("whsec_");

    owner
        .post(
            &app,
            "/app/contacts",
            &[("first_name", "Maya"), ("email", "maya@example.com")],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1);
    assert!(signature_is_valid(&secret, &receiver.calls()[0]));
    let page = owner.get(&app, &endpoint_page).await;
    page.expect(StatusCode::OK)
        .contains("contact.created")
        .contains("HTTP 200");
    let marker = "name=\"delivery_id\" value=\"";
    let start = page.html.find(marker).expect("a Redeliver form") + marker.len();
    let delivery: String = page.html[start..].chars().take_while(|c| *c != '"').collect();

    let redelivered = owner
        .post(
            &app,
            &endpoint_page,
            &[("action", "redeliver"), ("delivery_id", &delivery)],
            Csrf::Field(&csrf),
        )
        .await;
    redelivered.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        redelivered.location(),
        format!("{endpoint_page}?notice=webhook-redelivered")
    );
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 2, "Redeliver calls the endpoint again");
    owner
        .get(&app, &format!("{endpoint_page}?notice=webhook-redelivered"))
        .await
        .contains("Delivery queued again.")
        .contains("redelivered");

    let bad = owner
        .post(
            &app,
            &endpoint_page,
            &[
                ("action", "save"),
                ("url", "ftp://x.example"),
                ("events", "contact.created"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    bad.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"url-error\"");
    let saved = owner
        .post(
            &app,
            &endpoint_page,
            &[
                ("action", "save"),
                ("url", &receiver.url),
                ("description", "Paused"),
                ("events", "contact.created"),
                ("events", "booking.created"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    owner
        .get(&app, "/app/settings/webhooks")
        .await
        .contains("Paused")
        .contains("contact.created, booking.created")
        .contains(">off");

    let rotated = owner
        .post(&app, &endpoint_page, &[("action", "rotate")], Csrf::Field(&csrf))
        .await;
    rotated.expect(StatusCode::OK);
    assert_ne!(secret_on(&rotated), secret);

    let mut other = Visitor::default();
    other
        .sign_up(&app, "Ben Hart", "ben@hart-dental.example", "Hart Dental")
        .await;
    other.get(&app, &endpoint_page).await.expect(StatusCode::NOT_FOUND);

    let deleted = owner
        .post(&app, &endpoint_page, &[("action", "delete")], Csrf::Field(&csrf))
        .await;
    deleted.expect(StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), "/app/settings/webhooks?notice=webhook-deleted");
    owner
        .get(&app, deleted.location())
        .await
        .contains("Endpoint deleted.")
        .contains("No endpoints yet");
}

#[tokio::test]
async fn a_form_post_without_the_csrf_token_changes_nothing() {
    let app = App::new();
    let mut owner = Visitor::default();
    owner
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let refused = owner
        .post(
            &app,
            "/app/settings/webhooks",
            &[("url", "https://hooks.example.com/in"), ("events", "contact.created")],
            Csrf::None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    owner
        .get(&app, "/app/settings/webhooks")
        .await
        .contains("No endpoints yet");
}
