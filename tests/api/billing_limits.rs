//! Plan limits where records are made and texts are sent, beyond the create
//! routes: the texts of a calendar month, CSV imports, contacts made by
//! bookings, merges, and the contact counter the checks read. Billing is on
//! by the plain `KONNECS_BILLING` setting, without Stripe's keys, as in every
//! function that is not a billing one.

use std::sync::Arc;

use axum::body::Body;
use http::StatusCode;
use jiff::SignedDuration;
use konnecs::domain::billing::PlanName;
use konnecs::domain::ids::OrgId;
use konnecs::services::billing::limits::{contacts_in_use, count_contacts};
use konnecs::services::billing::usage;
use konnecs::services::notifications::{self, SmsOutcome, SmsRequest};
use konnecs::services::sms;
use konnecs_tests::app::{Member, Store, TestApp};
use konnecs_tests::http::Reply;
use konnecs_tests::local::outbox;
use konnecs_tests::on_both_stores;
use konnecs_tests::practice::{Practice, booking_id, guest, texting_guest};
use serde_json::{Value, json};

/// Billing on by the setting alone (no Stripe keys), with a free plan of
/// `contacts` contacts and `texts` texts a month.
fn with_small_free_plan(app: &mut TestApp, contacts: u64, texts: u64) {
    let mut config = (*app.state.config).clone();
    config.billing_on = true;
    assert!(config.stripe.is_none());
    let free = &mut config.plans.plan_mut(PlanName::Free).expect("free plan").limits;
    free.contacts = Some(contacts);
    free.sms_per_month = Some(texts);
    let mut state = app.state.clone();
    state.config = Arc::new(config);
    app.replace_state(state);
}

async fn limited(store: Store, contacts: u64, texts: u64) -> TestApp {
    let mut app = TestApp::on(store, "2026-12-01T08:00:00Z").await;
    with_small_free_plan(&mut app, contacts, texts);
    app
}

async fn create_contact(app: &TestApp, who: &Member, name: &str) -> Reply {
    let contact = json!({"first_name": name, "emails": [format!("{}@example.com", name.to_lowercase())]});
    app.send(&who.browser, "POST", "/contacts", Some(&contact)).await
}

async fn counter(app: &TestApp, org_id: &OrgId) -> Option<i64> {
    app.state
        .table
        .get(&usage::contacts_counter_key(org_id))
        .await
        .expect("read")
        .and_then(|item| item.get("count").and_then(Value::as_i64))
}

async fn counted(app: &TestApp, org_id: &OrgId) -> u64 {
    count_contacts(app.state.table.as_ref(), org_id, u64::MAX, app.now().as_second())
        .await
        .expect("count")
}

/// The setting alone turns limits on: a function without Stripe's keys
/// refuses the contact past the free plan's.
async fn the_billing_setting_alone_enforces_the_limits(store: Store) {
    let app = limited(store, 2, 10).await;
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    for name in ["Ann", "Bob"] {
        assert_eq!(create_contact(&app, &owner, name).await.status, StatusCode::CREATED);
    }
    let refused = create_contact(&app, &owner, "Cat").await;
    assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED, "{}", refused.body);
    assert_eq!(refused.body["code"], "plan_limit");
    assert_eq!(refused.body["limit"], "contacts");
}

/// Creates and deletes move the counter in their own transaction; the
/// check reads it (one item), and it always agrees with a full count.
async fn the_contact_counter_follows_creates_deletes_and_merges(store: Store) {
    let app = limited(store, 3, 10).await;
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    let mut ids = Vec::new();
    for name in ["Ann", "Bob", "Cat"] {
        let reply = create_contact(&app, &owner, name).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        ids.push(reply.body["id"].as_str().expect("id").to_string());
    }
    assert_eq!(counter(&app, &OrgId::from(owner.org_id.as_str())).await, Some(3));
    assert_eq!(
        create_contact(&app, &owner, "Dee").await.status,
        StatusCode::PAYMENT_REQUIRED
    );

    // A merge at the limit is not refused: it makes one contact of two.
    let merged = app
        .send(
            &owner.browser,
            "POST",
            "/contacts/merge",
            Some(&json!({"primary_id": ids[0], "secondary_id": ids[1]})),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(counter(&app, &OrgId::from(owner.org_id.as_str())).await, Some(2));
    assert_eq!(create_contact(&app, &owner, "Dee").await.status, StatusCode::CREATED);

    let deleted = app
        .send(&owner.browser, "DELETE", &format!("/contacts/{}", ids[2]), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(counter(&app, &OrgId::from(owner.org_id.as_str())).await, Some(2));
    assert_eq!(counted(&app, &OrgId::from(owner.org_id.as_str())).await, 2);
}

/// Contacts made before the counter existed: the first check counts them
/// once (the repair path) and the counter carries on from there.
async fn a_missing_counter_is_seeded_from_a_full_count(store: Store) {
    let app = limited(store, 3, 10).await;
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    for name in ["Ann", "Bob"] {
        assert_eq!(create_contact(&app, &owner, name).await.status, StatusCode::CREATED);
    }
    app.state
        .table
        .delete(&usage::contacts_counter_key(&OrgId::from(owner.org_id.as_str())), None)
        .await
        .expect("as before the counter");
    let used = contacts_in_use(
        app.state.table.as_ref(),
        &OrgId::from(owner.org_id.as_str()),
        app.now().as_second(),
    )
    .await
    .expect("seeded");
    assert_eq!(used, 2);
    assert_eq!(create_contact(&app, &owner, "Cat").await.status, StatusCode::CREATED);
    assert_eq!(
        create_contact(&app, &owner, "Dee").await.status,
        StatusCode::PAYMENT_REQUIRED
    );
    assert_eq!(counter(&app, &OrgId::from(owner.org_id.as_str())).await, Some(3));
}

/// Rows past the limit fail with `plan_limit` in the error report; rows
/// that update a contact still go through.
async fn an_import_reports_the_rows_past_the_limit(store: Store) {
    let app = limited(store, 3, 10).await;
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    assert_eq!(create_contact(&app, &owner, "Ann").await.status, StatusCode::CREATED);
    let csv = "first_name,email,company\n\
               Ann,ann@example.com,Acme\n\
               Bob,bob@example.com,\n\
               Cat,cat@example.com,\n\
               Dee,dee@example.com,\n\
               Eve,eve@example.com,\n";
    let mut request = owner.browser.request("POST", "/imports/contacts?mode=update", None);
    *request.body_mut() = Body::from(csv.to_string());
    request
        .headers_mut()
        .insert("content-type", "text/csv".parse().expect("header"));
    let started = app.request(request).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    app.drain_jobs().await;
    let id = started.body["id"].as_str().expect("import id");
    let progress = app
        .send(&owner.browser, "GET", &format!("/imports/{id}"), None)
        .await
        .body;
    assert_eq!(progress["created"], 2, "{progress}");
    assert_eq!(progress["updated"], 1, "{progress}");
    assert_eq!(progress["failed"], 2, "{progress}");
    let report = app
        .send(&owner.browser, "GET", &format!("/imports/{id}/errors.csv"), None)
        .await;
    let mut reader = csv::Reader::from_reader(report.bytes.as_slice());
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            (r[0].to_string(), r[2].to_string())
        })
        .collect();
    assert_eq!(
        rows,
        [("5".into(), "plan_limit".into()), ("6".into(), "plan_limit".into())]
    );
    assert_eq!(counter(&app, &OrgId::from(owner.org_id.as_str())).await, Some(3));
    assert_eq!(counted(&app, &OrgId::from(owner.org_id.as_str())).await, 3);
}

/// The invitee keeps their appointment when the business is at its
/// contact limit: the booking goes through without a new contact (and its
/// texts still go, on the consent the booking recorded).
async fn a_booking_past_the_contact_limit_is_kept_without_a_new_contact(store: Store) {
    let app = limited(store, 1, 10).await;
    let practice = Practice::open(&app.state, json!({})).await;
    let first = practice
        .book(
            "2026-12-03T15:00:00Z",
            &guest("Ann Lee", "ann@example.com", "Europe/London"),
        )
        .await;
    let ann = practice.record(&booking_id(&first)).await.contact_id;
    assert!(ann.is_some());
    let second = practice
        .book(
            "2026-12-03T16:00:00Z",
            &texting_guest("Bob Ray", "bob@example.com", "Europe/London", "+447911123456"),
        )
        .await;
    let record = practice.record(&booking_id(&second)).await;
    assert_eq!(record.contact_id, None);
    assert_eq!(counted(&app, &practice.org_id).await, 1);
    let texts: Vec<Value> = outbox(&app.state)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "sms")
        .collect();
    assert_eq!(texts.len(), 1, "the confirmation text still goes");
    // Ann, a contact already, books again: merged as always.
    let again = practice
        .book(
            "2026-12-04T15:00:00Z",
            &guest("Ann Lee", "ann@example.com", "Europe/London"),
        )
        .await;
    assert_eq!(practice.record(&booking_id(&again)).await.contact_id, ann);
}

/// Texts of a calendar month past the plan's: recorded as skipped with
/// `plan_limit`, the staff told once, and the next month texts again.
async fn texts_past_the_months_allowance_are_skipped_and_the_staff_told_once(store: Store) {
    let app = limited(store, 100, 2).await;
    let practice = Practice::open(&app.state, json!({})).await;
    let phone = "+447911123456";
    practice.contact_consenting_to_texts("Ann", phone).await;
    let send = |key: &str| SmsRequest {
        idempotency_key: key.into(),
        org_id: practice.org_id.clone(),
        booking_id: None,
        to: phone.into(),
        body: "Whitfield Dental: see you soon".into(),
    };
    for key in ["december/1", "december/2"] {
        assert_eq!(
            notifications::send_sms(&app.state, &send(key)).await.expect("sent"),
            SmsOutcome::Sent
        );
    }
    for key in ["december/3", "december/4"] {
        assert_eq!(
            notifications::send_sms(&app.state, &send(key)).await.expect("no error"),
            SmsOutcome::PlanLimit
        );
    }
    let skipped = app
        .state
        .table
        .get(&sms::message_key(&sms::message_id("december/3")))
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(skipped["reason"], "plan_limit");
    let notes = sms::recent_notifications(app.state.table.as_ref(), &practice.org_id, 10)
        .await
        .expect("notifications");
    assert_eq!(
        notes.iter().filter(|n| n.kind == "sms.plan_limit").count(),
        1,
        "{notes:?}"
    );
    let sent: Vec<Value> = outbox(&app.state)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "sms")
        .collect();
    assert_eq!(sent.len(), 2);
    let month = app
        .state
        .table
        .get(&usage::sms_month_key(&practice.org_id, "2026-12"))
        .await
        .expect("read")
        .expect("the month's counter");
    assert_eq!(month["count"], 2, "refused texts give their count back");

    // January: a new month, a new allowance.
    app.advance(SignedDuration::from_hours(24 * 31));
    assert_eq!(
        notifications::send_sms(&app.state, &send("january/1"))
            .await
            .expect("sent"),
        SmsOutcome::Sent
    );
}

on_both_stores!(
    the_billing_setting_alone_enforces_the_limits,
    the_contact_counter_follows_creates_deletes_and_merges,
    a_missing_counter_is_seeded_from_a_full_count,
    an_import_reports_the_rows_past_the_limit,
    a_booking_past_the_contact_limit_is_kept_without_a_new_contact,
    texts_past_the_months_allowance_are_skipped_and_the_staff_told_once,
);
