//! Cursors and ids are positions inside one organization's data: a cursor
//! from another organization, cut short or altered is a 400
//! `invalid_cursor` problem, never a 5xx and never a page of someone else's
//! records; the same cursor sent twice gives the same page; another
//! organization's ids are not found. A cursor resumes only the list that
//! issued it: replayed on another list of the same organization, even one
//! kept in the same partition, it is the same 400.

use http::StatusCode;
use konnecs_tests::app::{Member, Store, TestApp, expect, field_errors, problem};
use konnecs_tests::http::Reply;
use serde_json::{Value, json};

konnecs_tests::on_both_stores!(
    cursors_and_ids_never_cross_organizations_and_altered_cursors_are_refused,
    a_cursor_replayed_on_another_list_of_the_organization_is_refused,
);

/// An organization with three of everything that pages.
struct Org {
    member: Member,
    contact_id: String,
    deal_id: String,
    /// Strings only this organization's data contains.
    markers: Vec<String>,
}

async fn created(app: &TestApp, who: &Member, path: &str, body: Value) -> Value {
    let reply = app.send(&who.browser, "POST", path, Some(&body)).await;
    assert!(reply.status.is_success(), "{path}: {} {}", reply.status, reply.body);
    reply.body
}

async fn furnish(app: &TestApp, stem: &str) -> Org {
    let member = app
        .sign_up(&format!("owner@{stem}.example"), &format!("{stem} clinic"))
        .await;
    let mut contact_ids = Vec::new();
    for n in 0..3 {
        let contact = created(
            app,
            &member,
            "/contacts",
            json!({"first_name": format!("{stem}-patient-{n}"), "emails": [format!("p{n}@{stem}-mail.example")]}),
        )
        .await;
        contact_ids.push(contact["id"].as_str().expect("contact id").to_string());
    }
    let contact_id = contact_ids[0].clone();
    for n in 0..3 {
        let path = format!("/contacts/{contact_id}/notes");
        created(app, &member, &path, json!({"body": format!("{stem}-note-{n}")})).await;
    }
    let pipeline = created(
        app,
        &member,
        "/pipelines",
        json!({"name": "New patients", "stages": [{"name": "Lead", "probability": 10}, {"name": "Won", "probability": 100}]}),
    )
    .await;
    let mut deal_id = String::new();
    for (n, deal_contact) in contact_ids.iter().enumerate().take(3) {
        let deal = created(
            app,
            &member,
            "/deals",
            json!({"title": format!("{stem}-deal-{n}"), "contact_id": deal_contact, "pipeline_id": pipeline["id"],
                   "stage_id": pipeline["stages"][0]["id"], "value": 100, "currency": "EUR"}),
        )
        .await;
        deal_id = deal["id"].as_str().expect("deal id").to_string();
    }
    for n in 0..3 {
        let invite = json!({"email": format!("staff{n}@{stem}-staff.example"), "role": "member"});
        created(app, &member, "/org/invitations", invite).await;
    }
    let mut markers = vec![member.org_id.clone(), member.user_id.clone(), format!("{stem}-")];
    markers.extend(contact_ids);
    Org {
        member,
        contact_id,
        deal_id,
        markers,
    }
}

/// The paged lists: path for an organization, and where its items are.
fn lists(org: &Org) -> Vec<(String, &'static str)> {
    vec![
        ("/contacts".to_string(), "contacts"),
        (format!("/contacts/{}/timeline", org.contact_id), "entries"),
        ("/org/audit".to_string(), "entries"),
        ("/deals".to_string(), "items"),
        ("/org/invitations".to_string(), "invitations"),
    ]
}

fn with_cursor(path: &str, cursor: &str) -> String {
    format!("{path}?limit=1&cursor={cursor}")
}

fn assert_shows_nothing_of(reply: &Reply, org: &Org) {
    let text = reply.body.to_string();
    for marker in &org.markers {
        assert!(
            !text.contains(marker.as_str()),
            "{marker:?} of another organization in {text}"
        );
    }
}

async fn cursors_and_ids_never_cross_organizations_and_altered_cursors_are_refused(store: Store) {
    let app = TestApp::on(store, konnecs_tests::app::START).await;
    let a = furnish(&app, "harbour").await;
    let b = furnish(&app, "riverside").await;
    let (a_lists, b_lists) = (lists(&a), lists(&b));

    for ((a_path, items), (b_path, _)) in a_lists.iter().zip(&b_lists) {
        let first = app
            .send(&a.member.browser, "GET", &format!("{a_path}?limit=1"), None)
            .await;
        expect(&first, StatusCode::OK);
        let cursor = first.body["cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{a_path} has a second page: {}", first.body))
            .to_string();

        // Replayed: the same next page each time.
        let next = app
            .send(&a.member.browser, "GET", &with_cursor(a_path, &cursor), None)
            .await;
        expect(&next, StatusCode::OK);
        let again = app
            .send(&a.member.browser, "GET", &with_cursor(a_path, &cursor), None)
            .await;
        expect(&again, StatusCode::OK);
        assert_eq!(next.body[items], again.body[items], "{a_path}: a replayed cursor moved");
        assert_ne!(
            next.body[items], first.body[items],
            "{a_path}: the cursor moved nowhere"
        );

        // Another organization's cursor on its own list.
        let foreign = app
            .send(&b.member.browser, "GET", &with_cursor(b_path, &cursor), None)
            .await;
        problem(&foreign, StatusCode::BAD_REQUEST, "invalid_cursor");
        assert_shows_nothing_of(&foreign, &a);

        // Cut short, or with its first character altered (the JSON inside
        // no longer reads).
        let cut = &cursor[..cursor.len() / 2];
        let reply = app
            .send(&a.member.browser, "GET", &with_cursor(a_path, cut), None)
            .await;
        problem(&reply, StatusCode::BAD_REQUEST, "invalid_cursor");
        let altered = format!("{}{}", if cursor.starts_with('A') { 'B' } else { 'A' }, &cursor[1..]);
        let reply = app
            .send(&a.member.browser, "GET", &with_cursor(a_path, &altered), None)
            .await;
        problem(&reply, StatusCode::BAD_REQUEST, "invalid_cursor");
    }

    // Another organization's records by id.
    for path in [
        format!("/contacts/{}", a.contact_id),
        format!("/contacts/{}/timeline", a.contact_id),
        format!("/deals/{}", a.deal_id),
    ] {
        let reply = app.send(&b.member.browser, "GET", &path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.body);
        assert_eq!(
            reply.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        assert_shows_nothing_of(&reply, &a);
    }
}

async fn a_cursor_replayed_on_another_list_of_the_organization_is_refused(store: Store) {
    let app = TestApp::on(store, konnecs_tests::app::START).await;
    let org = furnish(&app, "harbour").await;
    let timeline = format!("/contacts/{}/timeline?limit=1", org.contact_id);
    // (the list that issued the cursor, the list it is replayed on); deals
    // and invitations share the organization's partition, and so do the two
    // orders of the contact list.
    let pairs = [
        ("/deals?limit=1", "/org/invitations?limit=1"),
        ("/org/invitations?limit=1", "/deals?limit=1"),
        ("/contacts?limit=1", "/contacts?limit=1&sort=created"),
        ("/contacts?limit=1&sort=created", "/contacts?limit=1"),
        ("/contacts?limit=1", "/deals?limit=1"),
        (timeline.as_str(), "/org/audit?limit=1"),
    ];
    for (issuer, other) in pairs {
        let first = app.send(&org.member.browser, "GET", issuer, None).await;
        expect(&first, StatusCode::OK);
        let cursor = first.body["cursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{issuer} has a second page: {}", first.body))
            .to_string();
        // The list that issued it takes it back.
        let own = app
            .send(&org.member.browser, "GET", &format!("{issuer}&cursor={cursor}"), None)
            .await;
        expect(&own, StatusCode::OK);

        let replayed = app
            .send(&org.member.browser, "GET", &format!("{other}&cursor={cursor}"), None)
            .await;
        assert_eq!(
            replayed.status,
            StatusCode::BAD_REQUEST,
            "{issuer} -> {other}: {}",
            replayed.body
        );
        problem(&replayed, StatusCode::BAD_REQUEST, "invalid_cursor");
        assert_eq!(
            field_errors(&replayed).first().map(|(field, _)| field.as_str()),
            Some("cursor"),
            "{issuer} -> {other}: {}",
            replayed.body
        );
    }
}
