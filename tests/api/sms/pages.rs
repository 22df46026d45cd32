//! What the staff see of text messages: a contact's conversation and SMS
//! consent (also in the export), the reply on the home page, and the
//! organization's SMS settings.

use axum::body::Body;
use http::StatusCode;
use konnecs::app::OUTBOX_SMS_SENDER;
use konnecs_tests::app::Store;
use konnecs_tests::http::Reply;
use konnecs_tests::local::outbox;
use konnecs_tests::practice::Practice;
use serde_json::{Value, json};

use super::{PHONE, app, contact_of, london_guest, text_in, twiml_of};

#[tokio::test]
async fn the_consent_a_booking_gives_is_kept_with_time_ip_text_and_source_and_exported() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    let mut visitor = konnecs_tests::http::Browser::anonymous();
    visitor.ip = Some("198.51.100.7".into());
    let mut body = json!({"start": "2026-12-03T15:00:00Z"});
    if let (Some(body), Some(guest)) = (body.as_object_mut(), london_guest("ann@example.com").as_object()) {
        body.extend(guest.clone());
    }
    let reply = visitor
        .send(
            &practice.app,
            "POST",
            &format!("{}/bookings", practice.page),
            Some(&body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let export = practice
        .host
        .send(&practice.app, "GET", "/contacts/export?format=jsonl", None)
        .await;
    assert_eq!(export.status, StatusCode::OK);
    let text = String::from_utf8(export.bytes.clone()).expect("utf-8");
    let ann: Value = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .find(|c| c["phones"][0]["e164"] == PHONE)
        .expect("Ann is exported");
    let consent = &ann["sms_consent"];
    assert_eq!(consent["status"], "granted", "{consent}");
    assert_eq!(consent["source"], "booking");
    assert_eq!(consent["ip"], "198.51.100.7");
    assert_eq!(
        consent["text"],
        "Text me about this appointment (confirmation and reminders). Reply STOP to opt out."
    );
    assert_eq!(consent["at"], "2026-12-01T08:00:00Z");
}

fn html(reply: &Reply) -> String {
    String::from_utf8(reply.bytes.clone()).expect("utf-8")
}

/// A form post as the staff app's pages send it (CSRF in the form).
async fn post_form(practice: &Practice, path: &str, pairs: &[(&str, &str)]) -> Reply {
    let mut pairs: Vec<(&str, &str)> = pairs.to_vec();
    let csrf = practice.host.csrf.clone().expect("csrf");
    pairs.push(("_csrf", &csrf));
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    let mut request = practice.host.request("POST", path, None);
    request.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    *request.body_mut() = Body::from(body);
    konnecs_tests::http::send(&practice.app, request).await
}

#[tokio::test]
async fn the_staff_see_the_conversation_the_consent_and_the_reply_on_the_home_page() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    text_in(&app, "SM0501", PHONE, "Can I bring my daughter?").await;
    text_in(&app, "SM0502", PHONE, "STOP").await;
    let contact = contact_of(&app.state, &practice.org_id).await;

    let page = practice
        .host
        .send(&practice.app, "GET", &format!("/app/contacts/{contact}/sms"), None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let page = html(&page);
    let sent = page
        .find("Sent to +447911123456 · accepted")
        .expect("the confirmation with its status");
    let reply = page.find("Can I bring my daughter?").expect("the reply");
    let stop = page.find("Opted out from +447911123456").expect("the opt-out");
    assert!(sent < reply && reply < stop, "oldest first: {page}");
    assert!(page.contains("+447911123456: <strong>opted out"), "{page}");
    assert!(
        page.contains("Text me about this appointment"),
        "the consent text: {page}"
    );
    assert!(page.contains("<dt>Source</dt><dd>booking</dd>"), "{page}");
    // The record links to it.
    let record = practice
        .host
        .send(&practice.app, "GET", &format!("/app/contacts/{contact}"), None)
        .await;
    let record = html(&record);
    assert!(record.contains(&format!("href=\"/app/contacts/{contact}/sms\"")));
    assert!(record.contains("Opted out of texts"), "{record}");
    assert!(record.contains("Text received"), "{record}");

    let home = html(&practice.host.send(&practice.app, "GET", "/app", None).await);
    assert!(
        home.contains("Text from +447911123456: Can I bring my daughter?"),
        "{home}"
    );

    // Another organization's contact id is not found.
    let other = app.sign_up(&app.fresh_email("owner"), "Another Practice").await;
    let foreign = app
        .send(&other.browser, "GET", &format!("/app/contacts/{contact}/sms"), None)
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_sms_settings_page_saves_quiet_hours_and_the_help_text_and_refuses_bad_times() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(&app.state, json!({})).await;
    let page = html(
        &practice
            .host
            .send(&practice.app, "GET", "/app/settings/sms", None)
            .await,
    );
    assert!(page.contains(OUTBOX_SMS_SENDER), "the sender: {page}");
    assert!(
        page.contains("value=\"21:00\"") && page.contains("value=\"08:00\""),
        "{page}"
    );

    let refused = post_form(
        &practice,
        "/app/settings/sms",
        &[("quiet_start", "25:00"), ("quiet_end", "07:00"), ("help_text", "")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html(&refused).contains("id=\"quiet_start-error\""),
        "{}",
        html(&refused)
    );

    let saved = post_form(
        &practice,
        "/app/settings/sms",
        &[
            ("quiet_start", "22:00"),
            ("quiet_end", "07:00"),
            ("help_text", "Reminders of your dental appointments."),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", html(&saved));
    let page = html(
        &practice
            .host
            .send(&practice.app, "GET", "/app/settings/sms", None)
            .await,
    );
    assert!(page.contains("value=\"22:00\""), "{page}");
    assert!(
        page.contains("Whitfield Dental: Reminders of your dental appointments. Msg ")
            && page.contains("data rates may apply. Reply STOP to opt out. Help: hello@konnecs.com"),
        "{page}"
    );
    // Only those who may change settings see or save them.
    let owner = konnecs_tests::app::Member {
        browser: practice.host.clone(),
        user_id: String::new(),
        org_id: practice.org_id.to_string(),
        email: konnecs_tests::practice::HOST_EMAIL.into(),
    };
    let member = app
        .join(
            &owner,
            "sam@whitfield-dental.example",
            konnecs::domain::role::Role::Member,
        )
        .await;
    let refused = app.send(&member.browser, "GET", "/app/settings/sms", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // HELP now answers with the business's own words.
    practice
        .book("2026-12-03T15:00:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    let reply = twiml_of(&text_in(&app, "SM0601", PHONE, "help").await);
    assert!(reply.contains("Reminders of your dental appointments."), "{reply}");
}
