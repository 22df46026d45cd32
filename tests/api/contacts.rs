//! Contacts CRM through the router on the embedded store (and, for the
//! uniqueness race, the contacts service on DynamoDB via the emulator):
//! contacts, duplicates and upsert, merge, tags, custom fields, notes and
//! timeline, list and search, and store round trips.

use konnecs::domain::ids::ContactId;
use konnecs::domain::ids::OrgId;
use konnecs::domain::ids::UserId;
use std::sync::Arc;

use http::StatusCode;
use jiff::SignedDuration;
use konnecs::domain::role::Role;
use konnecs::ports::counting::CountingTable;
use konnecs::ports::{Clock, Index, Query, Table};
use konnecs::services::audit::Actor;
use konnecs::services::contacts::{self, Caller, ContactError, ContactFilter, NewContact, SortBy};
use konnecs_tests::app::{Member, Store, TestApp, expect, field_errors, problem};
use konnecs_tests::http::Reply;
use serde_json::{Value, json};

type World = TestApp;

fn world() -> World {
    TestApp::at("2026-09-21T14:13:20Z")
}

async fn signup_on(w: &World, email: &str, business: &str) -> Member {
    w.sign_up(email, business).await
}

async fn owner(w: &World) -> Member {
    signup_on(w, "dana@whitfield-dental.example", "Whitfield Dental").await
}

/// A second person in `org`'s organization with `role`.
async fn join(w: &World, org: &Member, email: &str, role: Role) -> Member {
    w.join(org, email, role).await
}

async fn send(w: &World, who: &Member, method: &str, path: &str, body: Option<Value>) -> Reply {
    w.send(&who.browser, method, path, body.as_ref()).await
}

async fn send_if_match(w: &World, who: &Member, method: &str, path: &str, version: &str, body: Option<Value>) -> Reply {
    let mut request = who.browser.request(method, path, body.as_ref());
    request
        .headers_mut()
        .insert(http::header::IF_MATCH, version.parse().unwrap());
    w.request(request).await
}

async fn create(w: &World, who: &Member, body: Value) -> Value {
    let reply = send(w, who, "POST", "/contacts", Some(body)).await;
    expect(&reply, StatusCode::CREATED);
    reply.body
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn names(list: &Value) -> Vec<String> {
    list["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .map(|c| c["first_name"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn audit_actions(w: &World, org_id: &str) -> Vec<String> {
    let (entries, _) = konnecs::services::audit::list(w.state.table.as_ref(), &OrgId::from(org_id), 200, None)
        .await
        .unwrap();
    entries.into_iter().map(|e| e.action).collect()
}

// ---------------------------------------------------------------- 1. contacts

#[tokio::test]
async fn contact_is_created_read_patched_and_deleted_with_normalized_email_and_e164_phone() {
    let w = world();
    let dana = owner(&w).await;
    let created = send(
        &w,
        &dana,
        "POST",
        "/contacts",
        Some(json!({
            "first_name": " María ", "last_name": "González",
            "emails": ["  Maria.Gonzalez@Example.COM ", {"address": "mg@work.example", "primary": true}],
            "phones": ["(415) 555-2671", "+44 20 7946 0018"],
            "company": "Bay Ortho", "source": "website",
            "address": {"line1": "1 Market St", "city": "San Francisco", "country": "US"},
            "tags": ["New Patient", "new  patient", "VIP"]
        })),
    )
    .await;
    expect(&created, StatusCode::CREATED);
    assert_eq!(created.headers["etag"], "\"1\"");
    let c = &created.body;
    assert_eq!(c["first_name"], "María");
    assert_eq!(
        c["emails"],
        json!([{"address": "maria.gonzalez@example.com", "primary": false}, {"address": "mg@work.example", "primary": true}])
    );
    assert_eq!(c["phones"][0]["e164"], "+14155552671");
    assert_eq!(c["phones"][0]["raw"], "(415) 555-2671");
    assert_eq!(c["phones"][0]["primary"], true);
    assert_eq!(c["phones"][1]["e164"], "+442079460018");
    assert_eq!(c["tags"], json!(["new patient", "vip"]));
    assert_eq!(c["created_at"], c["updated_at"]);
    let cid = id(c);

    let read = send(&w, &dana, "GET", &format!("/contacts/{cid}"), None).await;
    expect(&read, StatusCode::OK);
    assert_eq!(read.body, created.body);
    assert_eq!(read.headers["etag"], "\"1\"");

    w.clock.advance(SignedDuration::from_secs(60));
    let patched = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{cid}"),
        Some(json!({"company": null, "last_name": "González-Ruiz", "add_tags": ["gold"], "remove_tags": ["vip"]})),
    )
    .await;
    expect(&patched, StatusCode::OK);
    assert_eq!(patched.headers["etag"], "\"2\"");
    assert_eq!(patched.body["company"], Value::Null, "null clears");
    assert_eq!(patched.body["source"], "website", "absent keeps");
    assert_eq!(patched.body["last_name"], "González-Ruiz");
    assert_eq!(patched.body["tags"], json!(["new patient", "gold"]));
    assert_ne!(patched.body["updated_at"], patched.body["created_at"]);

    let bad = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{cid}"),
        Some(json!({"phones": ["12"], "emails": ["nope"]})),
    )
    .await;
    problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields = field_errors(&bad);
    assert!(
        fields.contains(&("phones[0]".into(), "invalid_phone".into())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("emails[0]".into(), "invalid_email".into())),
        "{fields:?}"
    );

    expect(
        &send(&w, &dana, "DELETE", &format!("/contacts/{cid}"), None).await,
        StatusCode::NO_CONTENT,
    );
    problem(
        &send(&w, &dana, "GET", &format!("/contacts/{cid}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let actions = audit_actions(&w, &dana.org_id).await;
    for action in ["contact.created", "contact.updated", "contact.deleted"] {
        assert!(actions.contains(&action.to_string()), "{action} audited: {actions:?}");
    }
}

#[tokio::test]
async fn stale_if_match_on_patch_or_delete_answers_412_stale_version() {
    let w = world();
    let dana = owner(&w).await;
    let c = create(&w, &dana, json!({"first_name": "Ann", "emails": ["ann@example.com"]})).await;
    let path = format!("/contacts/{}", id(&c));
    let first = send_if_match(&w, &dana, "PATCH", &path, "\"1\"", Some(json!({"company": "Acme"}))).await;
    expect(&first, StatusCode::OK);
    assert_eq!(first.headers["etag"], "\"2\"");
    // A second writer still holding version 1 loses.
    let stale = send_if_match(&w, &dana, "PATCH", &path, "\"1\"", Some(json!({"company": "Other"}))).await;
    problem(&stale, StatusCode::PRECONDITION_FAILED, "stale_version");
    let stale_delete = send_if_match(&w, &dana, "DELETE", &path, "\"1\"", None).await;
    problem(&stale_delete, StatusCode::PRECONDITION_FAILED, "stale_version");
    let read = send(&w, &dana, "GET", &path, None).await;
    assert_eq!(read.body["company"], "Acme");
    expect(
        &send_if_match(&w, &dana, "DELETE", &path, "\"2\"", None).await,
        StatusCode::NO_CONTENT,
    );
}

#[tokio::test]
async fn owner_must_be_a_member_and_consent_records_keep_time_source_ip_and_text() {
    let w = world();
    let dana = owner(&w).await;
    let outsider = signup_on(&w, "x@other.example", "Other Dental").await;
    let bad = send(
        &w,
        &dana,
        "POST",
        "/contacts",
        Some(json!({"first_name": "Ann", "owner_id": outsider.user_id})),
    )
    .await;
    problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        field_errors(&bad),
        vec![("owner_id".to_string(), "not_a_member".to_string())]
    );

    let c = create(
        &w,
        &dana,
        json!({
            "first_name": "Ann", "owner_id": dana.user_id,
            "sms_consent": {"status": "granted", "source": "booking form", "text": "Text me reminders. Reply STOP to opt out.", "ip": "198.51.100.7"},
            "email_consent": {"status": "denied", "source": "front desk"}
        }),
    )
    .await;
    assert_eq!(c["owner_id"], dana.user_id.as_str());
    assert_eq!(c["sms_consent"]["status"], "granted");
    assert_eq!(c["sms_consent"]["ip"], "198.51.100.7");
    assert_eq!(c["sms_consent"]["text"], "Text me reminders. Reply STOP to opt out.");
    assert_eq!(c["sms_consent"]["at"], w.clock.now().to_string());
    assert_eq!(c["email_consent"]["status"], "denied");
    assert_eq!(c["email_consent"]["source"], "front desk");
    let revoked = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{}", id(&c)),
        Some(json!({"sms_consent": {"status": "revoked", "source": "SMS STOP"}})),
    )
    .await;
    assert_eq!(revoked.body["sms_consent"]["status"], "revoked");
    assert_eq!(revoked.body["sms_consent"]["source"], "SMS STOP");
}

#[tokio::test]
async fn members_do_crm_work_and_another_organizations_contact_is_not_found() {
    let w = world();
    let dana = owner(&w).await;
    let member = join(&w, &dana, "sam@whitfield-dental.example", Role::Member).await;
    let c = create(&w, &member, json!({"first_name": "Ann", "emails": ["ann@example.com"]})).await;
    let other = signup_on(&w, "eve@other.example", "Other Dental").await;
    let path = format!("/contacts/{}", id(&c));
    for (method, p, body) in [
        ("GET", path.clone(), None),
        ("PATCH", path.clone(), Some(json!({"company": "X"}))),
        ("DELETE", path.clone(), None),
        ("GET", format!("{path}/timeline"), None),
        ("GET", format!("{path}/notes"), None),
        ("POST", format!("{path}/notes"), Some(json!({"body": "hi"}))),
    ] {
        problem(
            &send(&w, &other, method, &p, body).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    // Same email in another organization is no duplicate.
    create(&w, &other, json!({"first_name": "Ann", "emails": ["ann@example.com"]})).await;
    expect(&send(&w, &dana, "GET", &path, None).await, StatusCode::OK);
}

#[tokio::test]
async fn another_organizations_contact_ids_in_a_merge_or_a_bulk_tag_change_are_not_found() {
    let w = world();
    let dana = owner(&w).await;
    let a = create(
        &w,
        &dana,
        json!({"first_name": "Ann", "emails": ["ann@example.com"], "tags": ["vip"]}),
    )
    .await;
    let b = create(&w, &dana, json!({"first_name": "Bo", "emails": ["bo@example.com"]})).await;
    let other = signup_on(&w, "eve@other.example", "Other Dental").await;
    let own = create(
        &w,
        &other,
        json!({"first_name": "Eve", "emails": ["eve@other.example"]}),
    )
    .await;
    // Two foreign ids, and a foreign id beside one of the caller's own, either way round.
    for (primary, secondary) in [(id(&a), id(&b)), (id(&own), id(&a)), (id(&a), id(&own))] {
        let merge = send(
            &w,
            &other,
            "POST",
            "/contacts/merge",
            Some(json!({"primary_id": primary, "secondary_id": secondary})),
        )
        .await;
        problem(&merge, StatusCode::NOT_FOUND, "not_found");
    }
    // Nothing moved: both of Dana's contacts are whole, Eve's too.
    for (who, contact) in [(&dana, &a), (&dana, &b), (&other, &own)] {
        let reply = send(&w, who, "GET", &format!("/contacts/{}", id(contact)), None).await;
        expect(&reply, StatusCode::OK);
        assert_eq!(reply.body["version"], contact["version"], "{}", reply.body);
    }

    // Bulk tags: the foreign ids are reported as not found and left alone.
    let reply = send(
        &w,
        &other,
        "POST",
        "/contacts/tags",
        Some(json!({"ids": [id(&a), id(&own), id(&b)], "add": ["poached"], "remove": ["vip"]})),
    )
    .await;
    expect(&reply, StatusCode::OK);
    assert_eq!(reply.body["updated"], 1, "{}", reply.body);
    assert_eq!(reply.body["not_found"], json!([id(&a), id(&b)]), "{}", reply.body);
    let untouched = send(&w, &dana, "GET", &format!("/contacts/{}", id(&a)), None).await;
    assert_eq!(untouched.body["tags"], json!(["vip"]));
    assert_eq!(
        send(&w, &dana, "GET", "/tags", None).await.body["tags"],
        json!([{"tag": "vip", "count": 1}])
    );
    let tagged = send(&w, &other, "GET", &format!("/contacts/{}", id(&own)), None).await;
    assert_eq!(tagged.body["tags"], json!(["poached"]));
}

// ---------------------------------------------------------------- 2. duplicates

#[tokio::test]
async fn duplicate_email_or_phone_answers_409_with_the_existing_contacts_id() {
    let w = world();
    let dana = owner(&w).await;
    let c = create(
        &w,
        &dana,
        json!({"first_name": "Ann", "emails": ["ann@example.com"], "phones": ["415 555 2671"]}),
    )
    .await;
    for body in [
        json!({"first_name": "Other", "emails": ["  ANN@Example.com "]}),
        json!({"first_name": "Other", "phones": ["+1 (415) 555-2671"]}),
        json!({"first_name": "Other", "emails": ["new@example.com", "ann@example.com"]}),
    ] {
        let reply = send(&w, &dana, "POST", "/contacts", Some(body)).await;
        problem(&reply, StatusCode::CONFLICT, "duplicate_contact");
        assert_eq!(reply.body["existing_id"], c["id"], "{}", reply.body);
        assert!(reply.body["request_id"].is_string());
        assert_eq!(reply.headers["location"], format!("/contacts/{}", id(&c)).as_str());
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    // The failed creates left no claim behind: new@example.com is free.
    create(&w, &dana, json!({"emails": ["new@example.com"]})).await;
    // A PATCH onto another contact's email is a duplicate too.
    let b = create(&w, &dana, json!({"first_name": "Bo"})).await;
    let reply = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{}", id(&b)),
        Some(json!({"emails": ["ann@example.com"]})),
    )
    .await;
    problem(&reply, StatusCode::CONFLICT, "duplicate_contact");
    assert_eq!(reply.body["existing_id"], c["id"]);
}

#[tokio::test]
async fn changing_or_deleting_a_contact_releases_its_email_and_phone() {
    let w = world();
    let dana = owner(&w).await;
    let c = create(
        &w,
        &dana,
        json!({"first_name": "Ann", "emails": ["ann@example.com"], "phones": ["415 555 2671"]}),
    )
    .await;
    let path = format!("/contacts/{}", id(&c));
    let changed = send(&w, &dana, "PATCH", &path, Some(json!({"emails": ["ann@new.example"]}))).await;
    expect(&changed, StatusCode::OK);
    // The old email is free, the new one taken.
    create(&w, &dana, json!({"emails": ["ann@example.com"]})).await;
    problem(
        &send(
            &w,
            &dana,
            "POST",
            "/contacts",
            Some(json!({"emails": ["ann@new.example"]})),
        )
        .await,
        StatusCode::CONFLICT,
        "duplicate_contact",
    );
    expect(&send(&w, &dana, "DELETE", &path, None).await, StatusCode::NO_CONTENT);
    create(
        &w,
        &dana,
        json!({"emails": ["ann@new.example"], "phones": ["4155552671"]}),
    )
    .await;
}

#[tokio::test]
async fn upsert_merges_into_the_existing_contact_instead_of_a_409() {
    let w = world();
    let dana = owner(&w).await;
    let c = create(
        &w,
        &dana,
        json!({"first_name": "Ann", "emails": ["ann@example.com"], "tags": ["lead"]}),
    )
    .await;
    let reply = send(
        &w,
        &dana,
        "POST",
        "/contacts?upsert=true",
        Some(json!({"first_name": "Annie", "last_name": "Lee", "emails": ["ANN@example.com", "ann@work.example"], "phones": ["415 555 2671"], "tags": ["vip"]})),
    )
    .await;
    expect(&reply, StatusCode::OK);
    assert_eq!(reply.body["id"], c["id"]);
    assert_eq!(reply.body["first_name"], "Ann", "existing value wins");
    assert_eq!(reply.body["last_name"], "Lee", "blank filled");
    assert_eq!(reply.body["tags"], json!(["lead", "vip"]));
    assert_eq!(
        reply.body["emails"],
        json!([{"address": "ann@example.com", "primary": true}, {"address": "ann@work.example", "primary": false}])
    );
    assert_eq!(reply.headers["etag"], "\"2\"");
    // The added email and phone are claimed by the existing contact now.
    let dup = send(
        &w,
        &dana,
        "POST",
        "/contacts",
        Some(json!({"phones": ["+14155552671"]})),
    )
    .await;
    assert_eq!(dup.body["existing_id"], c["id"]);
    // A new person through upsert is simply created.
    let fresh = send(
        &w,
        &dana,
        "POST",
        "/contacts?upsert=true",
        Some(json!({"emails": ["zed@example.com"]})),
    )
    .await;
    expect(&fresh, StatusCode::CREATED);
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_email_make_one_contact_and_49_conflicts() {
    let w = world();
    let dana = owner(&w).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = w.router.clone();
        let browser = dana.browser.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"first_name": format!("Racer {i}"), "emails": [format!(" Race@Example.com{}", if i % 2 == 0 { "" } else { " " })]});
            browser.send(&app, "POST", "/contacts", Some(&body)).await
        }));
    }
    let mut created = Vec::new();
    let mut conflicts = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::CREATED => created.push(reply.body["id"].as_str().unwrap().to_string()),
            StatusCode::CONFLICT => conflicts.push(reply.body["existing_id"].as_str().unwrap_or_default().to_string()),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(created.len(), 1);
    assert_eq!(conflicts.len(), 49);
    assert!(conflicts.iter().all(|c| c == &created[0]), "every 409 names the winner");
    let list = send(&w, &dana, "GET", "/contacts", None).await;
    assert_eq!(list.body["contacts"].as_array().unwrap().len(), 1);
}

fn caller_of(member: &Member) -> Caller {
    Caller {
        actor: Actor {
            org_id: OrgId::from(member.org_id.clone()),
            user_id: Some(UserId::from(member.user_id.clone())),
            request_id: "test".into(),
            ip: None,
            user_agent: None,
        },
        user_id: UserId::from(member.user_id.clone()),
        is_admin: true,
    }
}

fn new_contact(first: &str, email: &str) -> NewContact {
    serde_json::from_value(json!({"first_name": first, "emails": [email]})).unwrap()
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_email_on_dynamodb_make_one_contact() {
    let w = TestApp::on(Store::Dynamodb, "2026-09-21T14:13:20Z").await;
    let state = w.state.clone();
    let dana = owner(&w).await;
    let caller = caller_of(&dana);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let state = state.clone();
        let caller = caller.clone();
        tasks.push(tokio::spawn(async move {
            contacts::create(&state, &caller, new_contact(&format!("Racer {i}"), "RACE@example.com ")).await
        }));
    }
    let mut created = Vec::new();
    let mut duplicates = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(contact) => created.push(contact.id),
            Err(ContactError::Duplicate { existing_id, .. }) => duplicates.push(existing_id),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one contact");
    assert_eq!(duplicates.len(), 49, "every loser is told the winner's id");
    assert!(duplicates.iter().all(|d| d == &created[0]));
    let (all, _) = contacts::list(
        state.table.as_ref(),
        &OrgId::from(&dana.org_id),
        &ContactFilter::default(),
        100,
        None,
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 1);
    // A retry of a losing create is a clean duplicate.
    let again = contacts::create(&state, &caller, new_contact("Late", "race@example.com")).await;
    assert!(matches!(again, Err(ContactError::Duplicate { existing_id, .. }) if existing_id == created[0]));
}

// ---------------------------------------------------------------- 3. merge

#[tokio::test]
async fn merge_keeps_a_fills_blanks_unites_tags_moves_timeline_and_removes_b() {
    let w = world();
    let dana = owner(&w).await;
    let a = create(
        &w,
        &dana,
        json!({"first_name": "Ann", "emails": ["ann@example.com"], "tags": ["lead", "vip"]}),
    )
    .await;
    let b = create(
        &w,
        &dana,
        json!({"first_name": "Annie", "last_name": "Lee", "company": "Acme", "emails": ["annie@work.example"], "phones": ["415 555 2671"], "tags": ["vip", "gold"]}),
    )
    .await;
    let (aid, bid) = (id(&a), id(&b));
    let note = send(
        &w,
        &dana,
        "POST",
        &format!("/contacts/{bid}/notes"),
        Some(json!({"body": "Prefers mornings"})),
    )
    .await;
    expect(&note, StatusCode::CREATED);
    let note_id = note.body["id"].as_str().unwrap().to_string();
    w.clock.advance(SignedDuration::from_secs(5));
    let merged = send(
        &w,
        &dana,
        "POST",
        "/contacts/merge",
        Some(json!({"primary_id": aid, "secondary_id": bid})),
    )
    .await;
    expect(&merged, StatusCode::OK);
    let m = &merged.body;
    assert_eq!(m["id"], aid.as_str());
    assert_eq!(m["first_name"], "Ann", "A wins");
    assert_eq!(m["last_name"], "Lee", "B fills blanks");
    assert_eq!(m["company"], "Acme");
    assert_eq!(m["tags"], json!(["lead", "vip", "gold"]));
    assert_eq!(
        m["emails"],
        json!([{"address": "ann@example.com", "primary": true}, {"address": "annie@work.example", "primary": false}])
    );
    assert_eq!(m["phones"][0]["e164"], "+14155552671");
    problem(
        &send(&w, &dana, "GET", &format!("/contacts/{bid}"), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // B's email now finds A.
    let dup = send(
        &w,
        &dana,
        "POST",
        "/contacts",
        Some(json!({"emails": ["annie@work.example"]})),
    )
    .await;
    assert_eq!(dup.body["existing_id"], aid.as_str());
    // Notes and timeline moved under A; the note is still editable there.
    let notes = send(&w, &dana, "GET", &format!("/contacts/{aid}/notes"), None).await;
    assert_eq!(notes.body["notes"][0]["body"], "Prefers mornings");
    expect(
        &send(
            &w,
            &dana,
            "PATCH",
            &format!("/contacts/{aid}/notes/{note_id}"),
            Some(json!({"body": "Prefers afternoons"})),
        )
        .await,
        StatusCode::OK,
    );
    let timeline = send(&w, &dana, "GET", &format!("/contacts/{aid}/timeline"), None).await;
    let kinds: Vec<&str> = timeline.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["contact.merged", "note"]);
    assert_eq!(timeline.body["entries"][1]["detail"]["body"], "Prefers afternoons");
    // Tag counts stay exact: vip was on both and counts once.
    let tags = send(&w, &dana, "GET", "/tags", None).await;
    assert_eq!(
        tags.body["tags"],
        json!([{"tag": "gold", "count": 1}, {"tag": "lead", "count": 1}, {"tag": "vip", "count": 1}])
    );
    // Search finds A by B's name, and never B.
    let found = send(&w, &dana, "GET", "/contacts?q=annie", None).await;
    let ids: Vec<&str> = found.body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![aid.as_str()]);
    let merges = audit_actions(&w, &dana.org_id)
        .await
        .into_iter()
        .filter(|a| a == "contact.merged")
        .count();
    assert_eq!(merges, 1, "one audit entry");
}

// ---------------------------------------------------------------- 4. tags

#[tokio::test]
async fn tags_are_added_and_removed_in_bulk_with_exact_counts() {
    let w = world();
    let dana = owner(&w).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(id(&create(
            &w,
            &dana,
            json!({"first_name": format!("P{i}"), "tags": if i < 10 { json!(["old"]) } else { json!([]) }}),
        )
        .await));
    }
    let mut request_ids = ids.clone();
    request_ids.push("0193a4c2e1f07b5a9d3c6e8f1a2b4c5d".into());
    let reply = send(
        &w,
        &dana,
        "POST",
        "/contacts/tags",
        Some(json!({"ids": request_ids, "add": ["Recall 2026"], "remove": ["old"]})),
    )
    .await;
    expect(&reply, StatusCode::OK);
    assert_eq!(reply.body["updated"], 60);
    assert_eq!(reply.body["not_found"], json!(["0193a4c2e1f07b5a9d3c6e8f1a2b4c5d"]));
    let tags = send(&w, &dana, "GET", "/tags", None).await;
    assert_eq!(tags.body["tags"], json!([{"tag": "recall 2026", "count": 60}]));
    // Again: nothing changes, counts stay.
    let again = send(
        &w,
        &dana,
        "POST",
        "/contacts/tags",
        Some(json!({"ids": ids[..5], "add": ["recall 2026"]})),
    )
    .await;
    assert_eq!(again.body["unchanged"], 5);
    // Removing on one contact through PATCH.
    expect(
        &send(
            &w,
            &dana,
            "PATCH",
            &format!("/contacts/{}", ids[0]),
            Some(json!({"remove_tags": ["recall 2026"]})),
        )
        .await,
        StatusCode::OK,
    );
    let tags = send(&w, &dana, "GET", "/tags", None).await;
    assert_eq!(tags.body["tags"], json!([{"tag": "recall 2026", "count": 59}]));
    let by_tag = send(&w, &dana, "GET", "/contacts?tag=recall%202026&limit=100", None).await;
    assert_eq!(by_tag.body["contacts"].as_array().unwrap().len(), 59);
    let timeline = send(&w, &dana, "GET", &format!("/contacts/{}/timeline", ids[1]), None).await;
    assert_eq!(timeline.body["entries"][0]["kind"], "tags.changed");
    assert_eq!(
        timeline.body["entries"][0]["detail"],
        json!({"added": ["recall 2026"], "removed": ["old"]})
    );
    // More than 1,000 ids is refused.
    let many: Vec<String> = (0..1001).map(|i| format!("id{i}")).collect();
    let reply = send(
        &w,
        &dana,
        "POST",
        "/contacts/tags",
        Some(json!({"ids": many, "add": ["x"]})),
    )
    .await;
    problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        field_errors(&reply),
        vec![("ids".to_string(), "invalid_count".to_string())]
    );
}

#[tokio::test]
async fn a_tag_is_renamed_and_deleted_across_all_contacts() {
    let w = world();
    let dana = owner(&w).await;
    let mut ids = Vec::new();
    for i in 0..45 {
        let tags = if i % 3 == 0 {
            json!(["vip", "gold"])
        } else {
            json!(["vip"])
        };
        ids.push(id(&create(
            &w,
            &dana,
            json!({"first_name": format!("P{i}"), "tags": tags}),
        )
        .await));
    }
    // Rename onto a tag some contacts already have: they keep one.
    let reply = send(&w, &dana, "PATCH", "/tags/vip", Some(json!({"name": "Gold"}))).await;
    expect(&reply, StatusCode::OK);
    assert_eq!(reply.body["contacts_changed"], 45);
    let tags = send(&w, &dana, "GET", "/tags", None).await;
    assert_eq!(tags.body["tags"], json!([{"tag": "gold", "count": 45}]));
    let one = send(&w, &dana, "GET", &format!("/contacts/{}", ids[0]), None).await;
    assert_eq!(one.body["tags"], json!(["gold"]));
    problem(
        &send(&w, &dana, "PATCH", "/tags/vip", Some(json!({"name": "x"}))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let reply = send(&w, &dana, "DELETE", "/tags/gold", None).await;
    expect(&reply, StatusCode::OK);
    assert_eq!(reply.body["contacts_changed"], 45);
    assert_eq!(send(&w, &dana, "GET", "/tags", None).await.body["tags"], json!([]));
    let by_tag = send(&w, &dana, "GET", "/contacts?tag=gold", None).await;
    assert_eq!(by_tag.body["contacts"], json!([]));
    let one = send(&w, &dana, "GET", &format!("/contacts/{}", ids[3]), None).await;
    assert_eq!(one.body["tags"], json!([]));
    let actions = audit_actions(&w, &dana.org_id).await;
    assert!(actions.contains(&"tag.renamed".to_string()) && actions.contains(&"tag.deleted".to_string()));
}

// ---------------------------------------------------------------- 5. custom fields

#[tokio::test]
async fn custom_fields_are_defined_and_values_validated_by_type_on_write() {
    let w = world();
    let dana = owner(&w).await;
    let defs = [
        json!({"label": "Nickname", "type": "text"}),
        json!({"label": "Visits", "type": "number"}),
        json!({"label": "Birthday", "type": "date"}),
        json!({"label": "Insurer", "type": "single_select", "options": ["Delta", "Aetna"]}),
        json!({"label": "Interests", "type": "multi_select", "options": ["Implants", "Whitening"]}),
        json!({"label": "Newsletter", "type": "checkbox"}),
        json!({"label": "Website", "key": "site", "type": "url"}),
    ];
    let mut field_ids = Vec::new();
    for def in defs {
        let reply = send(&w, &dana, "POST", "/fields", Some(def)).await;
        expect(&reply, StatusCode::CREATED);
        field_ids.push(id(&reply.body));
    }
    let dup = send(
        &w,
        &dana,
        "POST",
        "/fields",
        Some(json!({"label": "Nickname", "type": "text"})),
    )
    .await;
    assert_eq!(field_errors(&dup), vec![("key".to_string(), "key_taken".to_string())]);
    let no_options = send(
        &w,
        &dana,
        "POST",
        "/fields",
        Some(json!({"label": "Pick", "type": "single_select"})),
    )
    .await;
    assert_eq!(
        field_errors(&no_options),
        vec![("options".to_string(), "required".to_string())]
    );
    let list = send(&w, &dana, "GET", "/fields", None).await;
    assert_eq!(list.body["fields"].as_array().unwrap().len(), 7);

    let good = json!({"nickname": "Annie", "visits": 3, "birthday": "1990-02-28", "insurer": "Delta",
        "interests": ["Whitening", "Implants", "Whitening"], "newsletter": true, "site": "https://annie.example"});
    let c = create(&w, &dana, json!({"first_name": "Ann", "custom_fields": good})).await;
    assert_eq!(c["custom_fields"]["interests"], json!(["Whitening", "Implants"]));
    let bad = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{}", id(&c)),
        Some(
            json!({"custom_fields": {"visits": "three", "birthday": "1990-02-30", "insurer": "Cigna",
            "interests": ["Braces"], "newsletter": "yes", "site": "annie.example", "shoe_size": 9}}),
        ),
    )
    .await;
    problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let mut fields: Vec<String> = field_errors(&bad).into_iter().map(|(f, _)| f).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "custom_fields.birthday",
            "custom_fields.insurer",
            "custom_fields.interests",
            "custom_fields.newsletter",
            "custom_fields.shoe_size",
            "custom_fields.site",
            "custom_fields.visits"
        ]
    );
    // null removes one value; the rest stay.
    let cleared = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{}", id(&c)),
        Some(json!({"custom_fields": {"nickname": null}})),
    )
    .await;
    expect(&cleared, StatusCode::OK);
    assert!(cleared.body["custom_fields"].get("nickname").is_none());
    assert_eq!(cleared.body["custom_fields"]["visits"], 3);

    let renamed = send(
        &w,
        &dana,
        "PATCH",
        &format!("/fields/{}", field_ids[3]),
        Some(json!({"label": "Insurance", "options": ["Delta", "Aetna", "Cigna"]})),
    )
    .await;
    expect(&renamed, StatusCode::OK);
    assert_eq!(renamed.body["key"], "insurer", "the key never changes");
    let ok = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{}", id(&c)),
        Some(json!({"custom_fields": {"insurer": "Cigna"}})),
    )
    .await;
    expect(&ok, StatusCode::OK);
    expect(
        &send(&w, &dana, "DELETE", &format!("/fields/{}", field_ids[0]), None).await,
        StatusCode::NO_CONTENT,
    );
    let gone = send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{}", id(&c)),
        Some(json!({"custom_fields": {"nickname": "A"}})),
    )
    .await;
    assert_eq!(
        field_errors(&gone),
        vec![("custom_fields.nickname".to_string(), "unknown_field".to_string())]
    );
    problem(
        &send(&w, &dana, "DELETE", &format!("/fields/{}", field_ids[0]), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

// ---------------------------------------------------------------- 6. notes and timeline

#[tokio::test]
async fn only_the_author_or_an_admin_edits_or_deletes_a_note() {
    let w = world();
    let dana = owner(&w).await;
    let sam = join(&w, &dana, "sam@whitfield-dental.example", Role::Member).await;
    let kim = join(&w, &dana, "kim@whitfield-dental.example", Role::Member).await;
    let c = create(&w, &dana, json!({"first_name": "Ann"})).await;
    let notes = format!("/contacts/{}/notes", id(&c));
    let note = send(&w, &sam, "POST", &notes, Some(json!({"body": "Allergic to latex"}))).await;
    expect(&note, StatusCode::CREATED);
    assert_eq!(note.body["author_id"], sam.user_id.as_str());
    let path = format!("{notes}/{}", id(&note.body));
    problem(
        &send(&w, &kim, "PATCH", &path, Some(json!({"body": "edited by kim"}))).await,
        StatusCode::FORBIDDEN,
        "not_author",
    );
    problem(
        &send(&w, &kim, "DELETE", &path, None).await,
        StatusCode::FORBIDDEN,
        "not_author",
    );
    let edited = send(
        &w,
        &sam,
        "PATCH",
        &path,
        Some(json!({"body": "Allergic to latex and penicillin"})),
    )
    .await;
    expect(&edited, StatusCode::OK);
    let admin_edit = send(
        &w,
        &dana,
        "PATCH",
        &path,
        Some(json!({"body": "Allergies: latex, penicillin"})),
    )
    .await;
    expect(&admin_edit, StatusCode::OK);
    let list = send(&w, &kim, "GET", &notes, None).await;
    assert_eq!(list.body["notes"][0]["body"], "Allergies: latex, penicillin");
    assert_eq!(
        list.body["notes"][0]["author_id"],
        sam.user_id.as_str(),
        "the author stays"
    );
    expect(&send(&w, &dana, "DELETE", &path, None).await, StatusCode::NO_CONTENT);
    assert_eq!(send(&w, &kim, "GET", &notes, None).await.body["notes"], json!([]));
    let timeline = send(&w, &kim, "GET", &format!("/contacts/{}/timeline", id(&c)), None).await;
    assert_eq!(timeline.body["entries"], json!([]), "the note left the timeline too");
    let empty = send(&w, &sam, "POST", &notes, Some(json!({"body": "   "}))).await;
    assert_eq!(
        field_errors(&empty),
        vec![("body".to_string(), "invalid_length".to_string())]
    );
    let actions = audit_actions(&w, &dana.org_id).await;
    for action in ["note.created", "note.updated", "note.deleted"] {
        assert!(actions.contains(&action.to_string()), "{action}: {actions:?}");
    }
}

#[tokio::test]
async fn timeline_lists_notes_tag_changes_and_appended_entries_newest_first_in_pages() {
    let w = world();
    let dana = owner(&w).await;
    let c = create(&w, &dana, json!({"first_name": "Ann"})).await;
    let cid = id(&c);
    for i in 0..3 {
        w.clock.advance(SignedDuration::from_secs(10));
        send(
            &w,
            &dana,
            "POST",
            &format!("/contacts/{cid}/notes"),
            Some(json!({"body": format!("note {i}")})),
        )
        .await;
    }
    w.clock.advance(SignedDuration::from_secs(10));
    send(
        &w,
        &dana,
        "PATCH",
        &format!("/contacts/{cid}"),
        Some(json!({"add_tags": ["vip"]})),
    )
    .await;
    // Another feature appends in its own transaction.
    w.clock.advance(SignedDuration::from_secs(10));
    let entry = contacts::timeline_entry(
        &OrgId::from(&dana.org_id),
        &ContactId::from(&cid),
        "booking.created",
        json!({"booking_id": "b1"}),
        w.clock.now(),
    );
    w.state.table.transact(vec![entry]).await.unwrap();

    let first = send(&w, &dana, "GET", &format!("/contacts/{cid}/timeline?limit=3"), None).await;
    let kinds = |r: &Reply| -> Vec<String> {
        r.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kinds(&first), vec!["booking.created", "tags.changed", "note"]);
    assert_eq!(first.body["entries"][2]["detail"]["body"], "note 2");
    let cursor = first.body["cursor"].as_str().expect("more pages");
    let second = send(
        &w,
        &dana,
        "GET",
        &format!("/contacts/{cid}/timeline?limit=3&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(kinds(&second), vec!["note", "note"]);
    assert_eq!(second.body["entries"][1]["detail"]["body"], "note 0");
}

// ---------------------------------------------------------------- 8. list and search

#[tokio::test]
async fn contacts_list_newest_first_in_pages_filtered_by_tag_owner_and_created_range() {
    let w = world();
    let dana = owner(&w).await;
    let sam = join(&w, &dana, "sam@whitfield-dental.example", Role::Member).await;
    let start = w.clock.now();
    for i in 0..7 {
        w.clock.advance(SignedDuration::from_secs(60));
        let owner_id = if i % 2 == 0 { &dana.user_id } else { &sam.user_id };
        let tags = if i < 3 { json!(["early"]) } else { json!([]) };
        create(
            &w,
            &dana,
            json!({"first_name": format!("P{i}"), "owner_id": owner_id, "tags": tags}),
        )
        .await;
    }
    let page1 = send(&w, &dana, "GET", "/contacts?limit=3", None).await;
    assert_eq!(names(&page1.body), vec!["P6", "P5", "P4"]);
    let cursor = page1.body["cursor"].as_str().unwrap();
    let page2 = send(&w, &dana, "GET", &format!("/contacts?limit=3&cursor={cursor}"), None).await;
    assert_eq!(names(&page2.body), vec!["P3", "P2", "P1"]);
    let bad_cursor = send(&w, &dana, "GET", "/contacts?cursor=bogus", None).await;
    problem(&bad_cursor, StatusCode::BAD_REQUEST, "invalid_cursor");

    let by_tag = send(&w, &dana, "GET", "/contacts?tag=early", None).await;
    assert_eq!(names(&by_tag.body), vec!["P2", "P1", "P0"]);
    let by_owner = send(&w, &dana, "GET", &format!("/contacts?owner_id={}", sam.user_id), None).await;
    assert_eq!(names(&by_owner.body), vec!["P5", "P3", "P1"]);
    let from = (start + SignedDuration::from_secs(150)).to_string();
    let to = (start + SignedDuration::from_secs(300)).to_string();
    let ranged = send(
        &w,
        &dana,
        "GET",
        &format!("/contacts?created_from={from}&created_to={to}"),
        None,
    )
    .await;
    assert_eq!(names(&ranged.body), vec!["P4", "P3", "P2"]);
    let owner_ranged = send(
        &w,
        &dana,
        "GET",
        &format!("/contacts?owner_id={}&created_from={from}", dana.user_id),
        None,
    )
    .await;
    assert_eq!(names(&owner_ranged.body), vec!["P6", "P4", "P2"]);
    let bad = send(&w, &dana, "GET", "/contacts?created_from=yesterday", None).await;
    assert_eq!(
        field_errors(&bad),
        vec![("created_from".to_string(), "invalid_time".to_string())]
    );
}

#[tokio::test]
async fn search_finds_name_email_and_phone_prefixes_ignoring_case_and_accents() {
    let w = world();
    let dana = owner(&w).await;
    create(&w, &dana, json!({"first_name": "José", "last_name": "Núñez", "emails": ["jose.nunez@example.com"], "phones": ["(415) 555-2671"]})).await;
    create(&w, &dana, json!({"first_name": "Zoë", "last_name": "Ångström", "emails": ["zoe@example.org"], "phones": ["+44 20 7946 0018"]})).await;
    create(&w, &dana, json!({"first_name": "Joseph", "last_name": "Smith"})).await;
    let found = |q: &str| {
        let encoded: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let path = format!("/contacts?q={encoded}");
        let w = &w;
        let dana = &dana;
        async move {
            let mut n = names(&send(w, dana, "GET", &path, None).await.body);
            n.sort();
            n
        }
    };
    assert_eq!(found("jos").await, vec!["Joseph", "José"]);
    assert_eq!(
        found("JOSÉ").await,
        vec!["Joseph", "José"],
        "a prefix, accent-insensitive"
    );
    assert_eq!(found("JOSE N").await, vec!["José"]);
    assert_eq!(found("nunez").await, vec!["José"]);
    assert_eq!(found("NÚÑ").await, vec!["José"]);
    assert_eq!(found("jose n").await, vec!["José"]);
    assert_eq!(found("angs").await, vec!["Zoë"]);
    assert_eq!(found("zoe@").await, vec!["Zoë"]);
    assert_eq!(found("jose.nunez@ex").await, vec!["José"]);
    assert_eq!(found("415 555").await, vec!["José"]);
    assert_eq!(found("+1 415").await, vec!["José"]);
    assert_eq!(found("020 7946").await, vec!["Zoë"]);
    assert_eq!(found("+4420").await, vec!["Zoë"]);
    assert_eq!(found("smyth").await, Vec::<String>::new());
}

#[tokio::test]
async fn store_round_trips_of_create_get_list_and_search_are_bounded() {
    let w = world();
    let dana = owner(&w).await;
    let counting = Arc::new(CountingTable::new(w.state.table.clone()));
    let counts = counting.counts();
    let mut state = w.state.clone();
    state.table = counting.clone();
    let caller = caller_of(&dana);
    let table: &dyn Table = counting.as_ref();

    let before = counts.snapshot();
    let plain = contacts::create(&state, &caller, new_contact("Ann", "ann@example.com"))
        .await
        .unwrap();
    let create_plain = counts.snapshot().total() - before.total();

    let before = counts.snapshot();
    let input: NewContact = serde_json::from_value(
        json!({"first_name": "Bo", "emails": ["bo@example.com"], "phones": ["415 555 2671"], "tags": ["vip"]}),
    )
    .unwrap();
    contacts::create(&state, &caller, input).await.unwrap();
    let create_phone = counts.snapshot().total() - before.total();

    let before = counts.snapshot();
    contacts::get(table, &OrgId::from(&dana.org_id), &plain.id)
        .await
        .unwrap();
    let get = counts.snapshot().total() - before.total();

    let before = counts.snapshot();
    contacts::list(table, &OrgId::from(&dana.org_id), &ContactFilter::default(), 50, None)
        .await
        .unwrap();
    let list = counts.snapshot().total() - before.total();

    let before = counts.snapshot();
    let by_tag = ContactFilter {
        tag: Some("vip".into()),
        ..ContactFilter::default()
    };
    contacts::list(table, &OrgId::from(&dana.org_id), &by_tag, 50, None)
        .await
        .unwrap();
    let list_tag = counts.snapshot().total() - before.total();

    let sorted = |sort_by, ascending| ContactFilter {
        sort_by,
        ascending,
        ..ContactFilter::default()
    };
    let before = counts.snapshot();
    let (by_name, _) = contacts::list(table, &OrgId::from(&dana.org_id), &sorted(SortBy::Name, true), 50, None)
        .await
        .unwrap();
    let list_name = counts.snapshot();
    assert_eq!(by_name.len(), 2);
    assert_eq!(list_name.query - before.query, 1, "by name is one query, never a scan");
    let list_name = list_name.total() - before.total();

    let before = counts.snapshot();
    let (by_update, _) = contacts::list(
        table,
        &OrgId::from(&dana.org_id),
        &sorted(SortBy::Updated, false),
        50,
        None,
    )
    .await
    .unwrap();
    let list_updated = counts.snapshot().total() - before.total();
    assert_eq!(by_update.len(), 2);

    let before = counts.snapshot();
    let (hits, _) = contacts::search(table, &OrgId::from(&dana.org_id), "an", 50, None)
        .await
        .unwrap();
    let search = counts.snapshot();
    let search_calls = search.total() - before.total();
    assert_eq!(hits.len(), 1);
    assert_eq!(search.query - before.query, 1, "search is one query, never a scan");

    println!(
        "round trips: create {create_plain} (with phones: {create_phone}), get {get}, list {list}, list by tag {list_tag}, by name {list_name}, by last update {list_updated}, search {search_calls}"
    );
    assert_eq!(list_name, 2, "the by-name items' query + one batch read of the page");
    assert_eq!(list_updated, 1, "one query of the last-update index");
    assert_eq!(
        create_plain, 2,
        "one transaction + the webhook endpoints query once it committed"
    );
    assert_eq!(
        create_phone, 3,
        "org region read + one transaction + the webhook endpoints query"
    );
    assert_eq!(get, 1);
    assert_eq!(list, 1);
    assert!(list_tag <= 2 && search_calls <= 2);
    // The list really ran on the index (a GSI query, newest first).
    let page = table
        .query(
            &Query::partition(contacts::contacts_index_partition(&OrgId::from(&dana.org_id)))
                .on(Index::Gsi1)
                .reverse(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
}

#[tokio::test]
async fn merge_rerun_after_a_crash_between_copy_and_commit_loses_and_duplicates_nothing() {
    let w = world();
    let dana = owner(&w).await;
    let a = id(&create(&w, &dana, json!({"first_name": "Ann", "emails": ["ann@example.com"]})).await);
    let b = id(&create(
        &w,
        &dana,
        json!({"first_name": "Bo", "emails": ["bo@example.com"], "tags": ["vip"]}),
    )
    .await);
    for body in ["first", "second"] {
        send(
            &w,
            &dana,
            "POST",
            &format!("/contacts/{b}/notes"),
            Some(json!({"body": body})),
        )
        .await;
    }
    // Step 1 of a merge ran (B's notes and timeline copied into A), then the process died.
    let table = w.state.table.as_ref();
    let b_items = table
        .query(&Query::partition(contacts::contact_partition(
            &OrgId::from(&dana.org_id),
            &ContactId::from(&b),
        )))
        .await
        .unwrap()
        .items;
    for mut item in b_items.into_iter().filter(|i| i["sk"] != "PROFILE") {
        item.insert(
            "pk".into(),
            contacts::contact_partition(&OrgId::from(&dana.org_id), &ContactId::from(&a)).into(),
        );
        table.put(item, None).await.unwrap();
    }
    // B is intact meanwhile: nothing was lost.
    expect(
        &send(&w, &dana, "GET", &format!("/contacts/{b}"), None).await,
        StatusCode::OK,
    );
    assert_eq!(
        send(&w, &dana, "GET", &format!("/contacts/{b}/notes"), None).await.body["notes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The merge is run again and completes with each entry once.
    let merged = send(
        &w,
        &dana,
        "POST",
        "/contacts/merge",
        Some(json!({"primary_id": a, "secondary_id": b})),
    )
    .await;
    expect(&merged, StatusCode::OK);
    let notes = send(&w, &dana, "GET", &format!("/contacts/{a}/notes"), None).await;
    assert_eq!(notes.body["notes"].as_array().unwrap().len(), 2);
    let timeline = send(&w, &dana, "GET", &format!("/contacts/{a}/timeline"), None).await;
    let kinds: Vec<&str> = timeline.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["contact.merged", "note", "note"]);
    // B's partition is gone: nothing of it remains to be read.
    let left = table
        .query(&Query::partition(contacts::contact_partition(
            &OrgId::from(&dana.org_id),
            &ContactId::from(&b),
        )))
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items);
    assert_eq!(
        send(&w, &dana, "GET", "/tags", None).await.body["tags"],
        json!([{"tag": "vip", "count": 1}])
    );
}

#[tokio::test]
async fn a_contact_with_every_limit_filled_is_written_in_one_transaction() {
    let w = world();
    let dana = owner(&w).await;
    let emails: Vec<String> = (0..10).map(|i| format!("person{i}@example.com")).collect();
    let phones: Vec<String> = (0..10).map(|i| format!("+1 415 555 {:04}", 2671 + i)).collect();
    let tags: Vec<String> = (0..20).map(|i| format!("tag {i}")).collect();
    let long_name = "Maria Fernanda Luisa Carmen Isabel de la Cruz";
    let full =
        json!({"first_name": long_name, "last_name": long_name, "emails": emails, "phones": phones, "tags": tags});
    let c = create(&w, &dana, full).await;
    assert_eq!(c["phones"].as_array().unwrap().len(), 10);
    let mut over = emails.clone();
    over.push("one-more@example.com".into());
    let reply = send(&w, &dana, "POST", "/contacts", Some(json!({"emails": over}))).await;
    assert_eq!(
        field_errors(&reply),
        vec![("emails".to_string(), "too_many".to_string())]
    );
    // Deleting it is one transaction too, and frees everything.
    expect(
        &send(&w, &dana, "DELETE", &format!("/contacts/{}", id(&c)), None).await,
        StatusCode::NO_CONTENT,
    );
    assert_eq!(send(&w, &dana, "GET", "/tags", None).await.body["tags"], json!([]));
    create(
        &w,
        &dana,
        json!({"emails": ["person0@example.com"], "phones": ["+1 415 555 2671"]}),
    )
    .await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_create_instead_of_making_a_second() {
    let w = world();
    let dana = owner(&w).await;
    let body = json!({"first_name": "Ann", "emails": ["ann@example.com"]});
    let first = dana
        .browser
        .send_once(&w.router, "/contacts", &body, "7c1e6f0a-create-ann")
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = dana
        .browser
        .send_once(&w.router, "/contacts", &body, "7c1e6f0a-create-ann")
        .await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "the first answer, not a 409 duplicate: {}",
        again.body
    );
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.headers["etag"], first.headers["etag"]);
    let (all, _) = contacts::list(
        w.state.table.as_ref(),
        &OrgId::from(&dana.org_id),
        &ContactFilter::default(),
        50,
        None,
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 1);

    // The same key with another body is a client mistake.
    let other = dana
        .browser
        .send_once(
            &w.router,
            "/contacts",
            &json!({"first_name": "Bo", "emails": ["bo@example.com"]}),
            "7c1e6f0a-create-ann",
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", other.body);
    assert_eq!(other.body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(other.body["errors"][0]["code"], "idempotency_key_reused");

    // A refused request keeps nothing: corrected, the same key goes through.
    let bad = dana
        .browser
        .send_once(&w.router, "/contacts", &json!({"emails": ["not-an-email"]}), "key-2")
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_again = dana
        .browser
        .send_once(&w.router, "/contacts", &json!({"emails": ["not-an-email"]}), "key-2")
        .await;
    assert!(
        bad_again.headers.get("idempotent-replayed").is_none(),
        "errors are not replayed"
    );

    // Keys belong to the caller: another organization's same key and body make its own contact.
    let omar = signup_on(&w, "omar@harbour-physio.example", "Harbour Physio").await;
    let theirs = omar
        .browser
        .send_once(&w.router, "/contacts", &body, "7c1e6f0a-create-ann")
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    assert!(theirs.headers.get("idempotent-replayed").is_none());
    assert_ne!(theirs.body["id"], first.body["id"]);

    // A key must be 1–255 visible characters.
    let long = dana
        .browser
        .send_once(&w.router, "/contacts", &body, &"k".repeat(256))
        .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.body);
    assert_eq!(long.body["code"], "invalid_idempotency_key");
}
