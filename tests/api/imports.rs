//! Contacts CSV import and export: mapping detection, per-row errors in
//! errors.csv, dedupe update vs skip, tags, crash-resume from the checkpoint
//! (embedded store and DynamoDB/SQS on the emulator), idempotent re-imports,
//! uploads in parts, export → import round trips, and export jobs (parts,
//! crashes, races, S3 presigned links, the inline limit of buffered runtimes),
//! and what the queue's last try does to an import or export that fails.

use konnecs::domain::ids::OrgId;
use konnecs::domain::ids::{ContactId, UserId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use konnecs::app::AppState;
use konnecs::catalogue::{self};
use konnecs::inbound::events::jobs;
use konnecs::inbound::http::router;
use konnecs::ports::{BatchOp, Condition, Item, Key, Page, PartialCommit, Query, StoreError, Update, WriteOp};
use konnecs::services::audit::Actor;
use konnecs::services::contacts::{self, ContactFilter, ContactRecord, NewContact};
use konnecs::services::imports::{self, Budget, DedupeMode, ImportOptions, ImportState};
use konnecs::services::jobs::{Delivery, Job};
use konnecs_tests::app::{START, Store, TestApp};
use konnecs_tests::crash::{Lost, crashing};
use konnecs_tests::http::{Browser, Reply};
use konnecs_tests::local::drain_jobs;
use serde_json::{Value, json};

type World = TestApp;

fn world() -> World {
    TestApp::at("2026-09-21T14:13:20Z")
}

async fn signup(w: &World, email: &str) -> Browser {
    w.sign_up(email, "Whitfield Dental").await.browser
}

async fn call(w: &World, b: &Browser, method: &str, path: &str, body: Option<Value>) -> Reply {
    w.send(b, method, path, body.as_ref()).await
}

/// `POST <path>` with a raw CSV body.
async fn upload(w: &World, b: &Browser, path: &str, csv: &str) -> Reply {
    let mut request = b.request("POST", path, None);
    *request.body_mut() = Body::from(csv.to_string());
    request
        .headers_mut()
        .insert("content-type", "text/csv".parse().unwrap());
    w.request(request).await
}

async fn import(w: &World, b: &Browser, query: &str, csv: &str) -> Value {
    let reply = upload(w, b, &format!("/imports/contacts?{query}"), csv).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    w.drain_jobs().await;
    let id = reply.body["id"].as_str().expect("import id");
    let progress = call(w, b, "GET", &format!("/imports/{id}"), None).await;
    assert_eq!(progress.status, StatusCode::OK);
    progress.body
}

async fn org_of(w: &World, b: &Browser) -> String {
    call(w, b, "GET", "/me", None).await.body["org_id"]
        .as_str()
        .expect("org id")
        .to_string()
}

/// The signed-in user as the services' actor.
async fn actor_of(w: &World, b: &Browser) -> Actor {
    let me = call(w, b, "GET", "/me", None).await.body;
    Actor {
        org_id: OrgId::from(me["org_id"].as_str().expect("org id").to_string()),
        user_id: me["id"].as_str().map(UserId::from),
        ..Default::default()
    }
}

/// Every contact of the org (paged through).
async fn all_contacts(state: &AppState, org_id: &str) -> Vec<ContactRecord> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = contacts::list(
            state.table.as_ref(),
            &OrgId::from(org_id),
            &ContactFilter::default(),
            100,
            cursor,
        )
        .await
        .expect("list");
        out.extend(page);
        match next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn by_email(contacts: &[ContactRecord], email: &str) -> ContactRecord {
    contacts
        .iter()
        .find(|c| c.emails.iter().any(|e| e.address == email))
        .unwrap_or_else(|| panic!("no contact with {email}"))
        .clone()
}

fn progress_numbers(p: &Value) -> (String, u64, u64, u64, u64, u64, u64) {
    let n = |k: &str| p[k].as_u64().unwrap_or(u64::MAX);
    (
        p["state"].as_str().unwrap_or_default().to_string(),
        n("rows_done"),
        n("rows_total"),
        n("created"),
        n("updated"),
        n("skipped"),
        n("failed"),
    )
}

/// `rows` generated rows with unique emails and phones.
fn generated(rows: usize) -> String {
    let mut csv = String::from("First Name,Last Name,Email,Phone,Company\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "Given{i},Family{i},person{i}@example.com,+1 212 {:03} {:04},Company {}\n",
            200 + i / 10_000,
            i % 10_000,
            i % 7
        ));
    }
    csv
}

#[test]
fn mapping_is_detected_from_common_headers_and_can_be_overridden() {
    let headers: Vec<String> = [
        "First Name",
        "SURNAME",
        "E-mail Address",
        "Mobile",
        "Company Name",
        "Tags",
        "Shoe size",
        "Zip",
        "Notes",
        "Full name",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let custom = vec!["shoe_size".to_string(), "referral".to_string()];
    let mapping = imports::build_mapping(&headers, &custom, &BTreeMap::new()).expect("mapping");
    let targets: Vec<&str> = mapping.iter().map(|c| c.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "first_name",
            "last_name",
            "email",
            "phone",
            "company",
            "tags",
            "custom.shoe_size",
            "address.postal_code",
            "ignore",
            "name"
        ]
    );

    let overrides = BTreeMap::from([
        ("notes".to_string(), "custom.referral".to_string()),
        ("Mobile".to_string(), "ignore".to_string()),
    ]);
    let mapping = imports::build_mapping(&headers, &custom, &overrides).expect("mapping");
    assert_eq!(mapping[8].target, "custom.referral");
    assert_eq!(mapping[3].target, "ignore");

    let bad = BTreeMap::from([
        ("Notes".to_string(), "custom.nope".to_string()),
        ("Missing".to_string(), "email".to_string()),
    ]);
    match imports::build_mapping(&headers, &custom, &bad) {
        Err(imports::ImportError::Invalid(errors)) => {
            let fields: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
            assert_eq!(
                fields,
                [
                    ("mapping.Missing", "unknown_column"),
                    ("mapping.Notes", "unknown_target")
                ]
            );
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    let no_identity: Vec<String> = vec!["First Name".into(), "Company".into()];
    assert!(matches!(
        imports::build_mapping(&no_identity, &custom, &BTreeMap::new()),
        Err(imports::ImportError::Invalid(_))
    ));
}

#[tokio::test]
async fn an_import_creates_contacts_with_its_tags_and_reports_progress() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let csv = "Name,Email,Phone,Company,Tags,City\n\
               Aisha Khan,aisha@example.com,+44 20 7946 0958,Khan Dental,vip; recall,London\n\
               Tom Baker,tom@example.com,,,recall,\n\
               Zoë O'Brien,,+44 20 7946 0321,,,Leeds\n";
    let p = import(&w, &b, "tags=spring-2026", csv).await;
    assert_eq!(progress_numbers(&p), ("done".into(), 3, 3, 3, 0, 0, 0), "{p}");

    let org = org_of(&w, &b).await;
    // The uploaded file (personal data) is gone once every row is in.
    let file = imports::part_object_key(&OrgId::from(&org), p["id"].as_str().unwrap(), 0);
    assert!(w.state.objects.get(&file).await.unwrap().is_none());
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 3);
    let aisha = by_email(&all, "aisha@example.com");
    assert_eq!(aisha.first_name.as_deref(), Some("Aisha"));
    assert_eq!(aisha.last_name.as_deref(), Some("Khan"));
    assert_eq!(aisha.phones[0].e164, "+442079460958");
    assert_eq!(aisha.company.as_deref(), Some("Khan Dental"));
    assert_eq!(aisha.address.as_ref().and_then(|a| a.city.as_deref()), Some("London"));
    assert_eq!(aisha.tags, ["vip", "recall", "spring-2026"]);
    assert!(all.iter().all(|c| c.tags.contains(&"spring-2026".to_string())));

    // Tag counts and the list's tag filter see the imported contacts.
    let tags = call(&w, &b, "GET", "/tags", None).await;
    let count = |tag: &str| {
        tags.body["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tag"] == tag)
            .map(|t| t["count"].clone())
    };
    assert_eq!(count("spring-2026"), Some(json!(3)));
    assert_eq!(count("recall"), Some(json!(2)));
    let listed = call(&w, &b, "GET", "/contacts?tag=vip", None).await;
    assert_eq!(listed.body["contacts"].as_array().unwrap().len(), 1);
    // Search finds imported names, accent-insensitively.
    let found = call(&w, &b, "GET", "/contacts?q=zoe", None).await;
    assert_eq!(found.body["contacts"].as_array().unwrap().len(), 1, "{}", found.body);
}

#[tokio::test]
async fn invalid_rows_are_skipped_and_listed_in_errors_csv_with_row_field_and_reason() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let csv = "first_name,email,phone,tags\n\
               Ann,ann@example.com,,\n\
               Bad,not-an-email,,\n\
               Pat,pat@example.com,12,\n\
               Nobody,,,\n\
               Tag,tag@example.com,,bad#tag\n\
               Bob,bob@example.com,+44 20 7946 0111,\n";
    let p = import(&w, &b, "", csv).await;
    assert_eq!(progress_numbers(&p), ("done".into(), 6, 6, 2, 0, 0, 4), "{p}");

    let id = p["id"].as_str().unwrap();
    let report = call(&w, &b, "GET", &format!("/imports/{id}/errors.csv"), None).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(report.bytes.as_slice());
    assert_eq!(reader.headers().unwrap(), vec!["row", "field", "reason", "message"]);
    let rows: Vec<(String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].to_string())
        })
        .collect();
    // Row numbers as a spreadsheet shows them: the header is row 1.
    assert_eq!(
        rows,
        [
            ("3".into(), "email".into(), "invalid_email".into()),
            ("4".into(), "phone".into(), "invalid_phone".into()),
            ("5".into(), "email".into(), "missing_identity".into()),
            ("6".into(), "tags".into(), "invalid_tag".into()),
        ]
    );
    let org = org_of(&w, &b).await;
    assert_eq!(all_contacts(&w.state, &org).await.len(), 2);

    // Another organization cannot read the report.
    let other = signup(&w, "omar@harbour-physio.example").await;
    assert_eq!(
        call(&w, &other, "GET", &format!("/imports/{id}/errors.csv"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&w, &other, "GET", &format!("/imports/{id}"), None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_matching_row_updates_the_contact_in_update_mode_and_is_left_alone_in_skip_mode() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let existing = call(&w, &b, "POST", "/contacts", Some(json!({
        "first_name": "Ann", "last_name": "Lee", "emails": ["ann@example.com"], "company": "Old Co", "tags": ["patient"]
    }))).await;
    assert_eq!(existing.status, StatusCode::CREATED, "{}", existing.body);
    let org = org_of(&w, &b).await;
    let csv = "email,phone,company,last_name\nANN@example.com,+44 20 7946 0222,New Co,\n";

    let skipped = import(&w, &b, "mode=skip&tags=imported", csv).await;
    assert_eq!(progress_numbers(&skipped), ("done".into(), 1, 1, 0, 0, 1, 0));
    let ann = by_email(&all_contacts(&w.state, &org).await, "ann@example.com");
    assert_eq!(ann.company.as_deref(), Some("Old Co"));
    assert_eq!(ann.version, 1);

    let updated = import(&w, &b, "mode=update&tags=imported", csv).await;
    assert_eq!(progress_numbers(&updated), ("done".into(), 1, 1, 0, 1, 0, 0));
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 1, "no duplicate made");
    let ann = by_email(&all, "ann@example.com");
    assert_eq!(ann.company.as_deref(), Some("New Co"), "row values win");
    assert_eq!(ann.last_name.as_deref(), Some("Lee"), "empty cells keep values");
    assert_eq!(ann.phones[0].e164, "+442079460222", "the new phone is added");
    assert_eq!(ann.tags, ["patient", "imported"]);
    assert_eq!(ann.version, 2);

    // The phone now belongs to Ann: a row with it and another email matches her too.
    let by_phone = import(
        &w,
        &b,
        "mode=update",
        "email,phone,first_name\nann.lee@work.example,+44 20 7946 0222,Annie\n",
    )
    .await;
    assert_eq!(progress_numbers(&by_phone), ("done".into(), 1, 1, 0, 1, 0, 0));
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 1);
    let emails: Vec<&str> = all[0].emails.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(emails, ["ann@example.com", "ann.lee@work.example"]);

    // Email of one contact and phone of another: the row is refused, nothing merges.
    call(
        &w,
        &b,
        "POST",
        "/contacts",
        Some(json!({"first_name": "Bo", "emails": ["bo@example.com"]})),
    )
    .await;
    let clash = import(&w, &b, "mode=update", "email,phone\nbo@example.com,+44 20 7946 0222\n").await;
    assert_eq!(progress_numbers(&clash), ("done".into(), 1, 1, 0, 0, 0, 1));
}

#[tokio::test]
async fn a_file_that_repeats_a_person_imports_them_once() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let csv = "email,first_name,tags\nsam@example.com,Sam,a\nSAM@example.com,Samuel,b\n";
    let p = import(&w, &b, "mode=update", csv).await;
    assert_eq!(progress_numbers(&p), ("done".into(), 2, 2, 1, 1, 0, 0), "{p}");
    let org = org_of(&w, &b).await;
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].first_name.as_deref(), Some("Samuel"));
    assert_eq!(all[0].tags, ["a", "b"]);
}

#[tokio::test]
async fn re_importing_the_same_file_changes_nothing() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    let mut csv = generated(40);
    csv.push_str("Broken,Row,nope,,\n");
    let first = import(&w, &b, "mode=update&tags=q1", &csv).await;
    assert_eq!(progress_numbers(&first), ("done".into(), 41, 41, 40, 0, 0, 1));
    let before = all_contacts(&w.state, &org).await;
    let tags_before = call(&w, &b, "GET", "/tags", None).await.body;

    for mode in ["update", "skip"] {
        let again = import(&w, &b, &format!("mode={mode}&tags=q1"), &csv).await;
        assert_eq!(
            progress_numbers(&again),
            ("done".into(), 41, 41, 0, 0, 40, 1),
            "{mode}: {again}"
        );
    }
    let after = all_contacts(&w.state, &org).await;
    assert_eq!(after, before, "same contacts, same versions");
    assert_eq!(call(&w, &b, "GET", "/tags", None).await.body, tags_before);
}

/// Each job goes to its own queue, however the list that queues them mixes
/// them: data work on the bulk queue, messages on the jobs queue.
#[tokio::test]
async fn queued_jobs_go_each_to_their_own_queue() {
    let w = world();
    let backfill = Job::BackfillContactOrder {
        org_id: OrgId::from("0193a4c2e6f07b1d9e8a2c4f6b8d0e1f".to_string()),
    };
    let email = Job::SendEmail {
        idempotency_key: "mixed-1".into(),
        email: konnecs::ports::mailer::Email {
            to: "dana@whitfield-dental.example".into(),
            subject: "Hello".into(),
            text: "Hi".into(),
            html: None,
            attachments: Vec::new(),
            kind: "test".into(),
        },
    };
    konnecs::services::jobs::enqueue(&w.state, &[backfill.clone(), email.clone(), backfill.clone()])
        .await
        .unwrap();
    let on = |queue: &Arc<dyn konnecs::ports::Queue>| {
        let queue = queue.clone();
        async move {
            let received = queue.receive(10, std::time::Duration::from_secs(60)).await.unwrap();
            received
                .iter()
                .map(|m| serde_json::from_str::<Job>(&m.body).unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(on(&w.state.jobs).await, [email]);
    assert_eq!(on(&w.state.bulk).await, [backfill.clone(), backfill]);
}

/// An import's job on the short jobs' queue (queued before bulk work had a
/// queue of its own) is neither run there nor lost: the jobs worker sends it
/// on, and the bulk worker finishes it.
#[tokio::test]
async fn an_import_delivered_to_the_jobs_worker_is_sent_on_to_the_bulk_worker() {
    use konnecs::inbound::events::Message;
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    w.drain_jobs().await;
    let reply = upload(&w, &b, "/imports/contacts?tags=moved", &generated(5)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let id = reply.body["id"].as_str().unwrap().to_string();
    let queued = w
        .state
        .bulk
        .receive(10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "the import's job is on the bulk queue");
    assert!(
        w.state
            .jobs
            .receive(10, std::time::Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "and nothing on the short jobs' queue"
    );
    w.state.bulk.ack(&queued[0].receipt).await.unwrap();

    // The same job delivered to the jobs worker, as an older deployment queued it.
    let message = Message {
        message_id: "moved-1".into(),
        body: queued[0].body.clone(),
        receive_count: 1,
    };
    let outcome = jobs::consume(w.state.clone(), vec![message]).await;
    assert!(outcome.failed.is_empty(), "sent on, not failed");
    let p = call(&w, &b, "GET", &format!("/imports/{id}"), None).await.body;
    assert_eq!(progress_numbers(&p).1, 0, "not run by the jobs worker: {p}");
    let sent_on = w
        .state
        .bulk
        .receive(10, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        sent_on.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        [queued[0].body.as_str()],
        "the same job, on the bulk queue"
    );
    let message = Message {
        message_id: sent_on[0].message_id.clone(),
        body: sent_on[0].body.clone(),
        receive_count: 1,
    };
    let outcome = jobs::consume_bulk(w.state.clone(), vec![message]).await;
    assert!(outcome.failed.is_empty());
    w.state.bulk.ack(&sent_on[0].receipt).await.unwrap();
    let p = call(&w, &b, "GET", &format!("/imports/{id}"), None).await.body;
    assert_eq!(progress_numbers(&p), ("done".into(), 5, 5, 5, 0, 0, 0), "{p}");
    assert_eq!(all_contacts(&w.state, &org).await.len(), 5);
}

/// The crash: one chunk is committed, then the worker dies without
/// acknowledging; the message comes back after its visibility timeout.
#[tokio::test]
async fn a_worker_crash_mid_import_resumes_from_the_checkpoint_without_duplicating_or_losing_rows() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    w.drain_jobs().await; // the sign-up email, so the next message is the import's
    let reply = upload(&w, &b, "/imports/contacts?tags=crash", &generated(75)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let id = reply.body["id"].as_str().unwrap().to_string();

    // A worker takes the message and gets one chunk in before it dies.
    let messages = w
        .state
        .bulk
        .receive(1, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    let job: Job = serde_json::from_str(&messages[0].body).unwrap();
    assert_eq!(
        job,
        Job::ImportContacts {
            org_id: OrgId::from(org.clone()),
            import_id: id.clone()
        }
    );
    let partial = imports::process(
        &w.state,
        &OrgId::from(&org),
        &id,
        Budget {
            max_rows: Some(30),
            deadline: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(partial.state, ImportState::Running);
    assert!(partial.rows_done > 0 && partial.rows_done < 75, "{}", partial.rows_done);
    assert_eq!(
        all_contacts(&w.state, &org).await.len() as u64,
        partial.rows_done,
        "the chunk and its checkpoint commit together"
    );
    drop(messages); // never acknowledged

    // Nothing is redelivered before the visibility timeout; then it is, and finishes.
    assert!(
        w.state
            .bulk
            .receive(1, std::time::Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
    w.clock.advance(SignedDuration::from_secs(61));
    w.drain_jobs().await;

    let p = call(&w, &b, "GET", &format!("/imports/{id}"), None).await.body;
    assert_eq!(progress_numbers(&p), ("done".into(), 75, 75, 75, 0, 0, 0), "{p}");
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 75);
    for i in 0..75 {
        by_email(&all, &format!("person{i}@example.com"));
    }
    let tags = call(&w, &b, "GET", "/tags", None).await.body;
    assert_eq!(tags["tags"][0], json!({"tag": "crash", "count": 75}));

    // A stray duplicate of the message after the end changes nothing.
    jobs::run(&w.state, job, &Delivery::starting_now(false)).await.unwrap();
    let again = call(&w, &b, "GET", &format!("/imports/{id}"), None).await.body;
    assert_eq!(again, p);
}

#[tokio::test]
async fn a_large_file_uploads_in_parts_and_imports_as_one() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    let whole = generated(30);
    let lines: Vec<&str> = whole.lines().collect();
    let first = format!("{}\n{}\n", lines[0], lines[1..11].join("\n"));
    let second = format!("{}\n", lines[11..21].join("\n"));
    let third = format!("{}\n", lines[21..].join("\n"));

    let started = upload(&w, &b, "/imports/contacts?more_parts=true", &first).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    assert_eq!(started.body["state"], "uploading");
    let id = started.body["id"].as_str().unwrap();
    let part = upload(&w, &b, &format!("/imports/{id}/parts"), &second).await;
    assert_eq!(part.status, StatusCode::ACCEPTED, "{}", part.body);
    w.drain_jobs().await;
    assert_eq!(
        all_contacts(&w.state, &org).await.len(),
        0,
        "nothing runs before the last part"
    );
    let last = upload(&w, &b, &format!("/imports/{id}/parts?last=true"), &third).await;
    assert_eq!(last.status, StatusCode::ACCEPTED);
    assert_eq!(last.body["rows_total"], 30);
    w.drain_jobs().await;
    let p = call(&w, &b, "GET", &format!("/imports/{id}"), None).await.body;
    assert_eq!(progress_numbers(&p), ("done".into(), 30, 30, 30, 0, 0, 0));
    assert_eq!(all_contacts(&w.state, &org).await.len(), 30);
    let late = upload(&w, &b, &format!("/imports/{id}/parts"), &third).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn import_requests_are_validated() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let no_identity = upload(&w, &b, "/imports/contacts", "first_name,company\nAnn,Acme\n").await;
    assert_eq!(no_identity.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad_mode = upload(&w, &b, "/imports/contacts?mode=merge", "email\na@example.com\n").await;
    assert_eq!(bad_mode.status, StatusCode::UNPROCESSABLE_ENTITY);
    let json_body = call(
        &w,
        &b,
        "POST",
        "/imports/contacts",
        Some(json!({
            "csv": "E-mail,Mobile number\na@example.com,+44 20 7946 0999\n", "mode": "update", "tags": ["json"],
            "mapping": {"Mobile number": "phone"}
        })),
    )
    .await;
    assert_eq!(json_body.status, StatusCode::ACCEPTED, "{}", json_body.body);
    assert_eq!(json_body.body["mapping"][1]["target"], "phone");
    let mut wrong_type = b.request("POST", "/imports/contacts", None);
    *wrong_type.body_mut() = Body::from("email\na@example.com\n");
    wrong_type
        .headers_mut()
        .insert("content-type", "image/png".parse().unwrap());
    assert_eq!(w.request(wrong_type).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn an_export_imports_into_a_fresh_organization_as_the_same_contacts() {
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    let z = signup(&w, "omar@harbour-physio.example").await;
    for b in [&a, &z] {
        for field in [
            json!({"label": "Insurance", "key": "insurance", "type": "single_select", "options": ["Delta", "Aetna"]}),
            json!({"label": "Visits", "key": "visits", "type": "number"}),
            json!({"label": "Allergies", "key": "allergies", "type": "multi_select", "options": ["latex", "penicillin"]}),
            json!({"label": "Newsletter", "key": "newsletter", "type": "checkbox"}),
        ] {
            let reply = call(&w, b, "POST", "/fields", Some(field)).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        }
    }
    let created = call(&w, &a, "POST", "/contacts", Some(json!({
        "first_name": "Zoë", "last_name": "O'Brien, Jr.", "emails": ["zoe@example.com", {"address": "z.ob@work.example", "primary": false}],
        "phones": ["+44 20 7946 0958"], "company": "=HYPERLINK(\"http://evil.example\",\"Quote Co\")", "address": {"line1": "1 High St", "city": "Leeds", "country": "GB"},
        "source": "referral", "tags": ["vip", "recall"],
        "custom_fields": {"insurance": "Delta", "visits": 3, "allergies": ["latex", "penicillin"], "newsletter": true}
    }))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    // Enough more to cross the export's page size.
    import(&w, &a, "tags=bulk", &generated(130)).await;
    let org_a = org_of(&w, &a).await;
    let org_z = org_of(&w, &z).await;

    let export = call(&w, &a, "GET", "/contacts/export?format=csv", None).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("contacts.csv")
    );
    let text = String::from_utf8(export.bytes.clone()).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "id,first_name,last_name,email,phone,company,address.line1,address.line2,address.city,address.region,address.postal_code,address.country,source,tags,custom.insurance,custom.visits,custom.allergies,custom.newsletter"
    );

    // A cell a spreadsheet would run as a formula is exported as text (CSV
    // injection); phone numbers keep their plus sign.
    assert!(
        text.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Quote Co\"\")\","),
        "{text}"
    );
    assert!(!text.contains(",=HYPERLINK"));
    assert!(text.contains(",+442079460958,"));

    let p = import(&w, &z, "", &text).await;
    assert_eq!(progress_numbers(&p), ("done".into(), 131, 131, 131, 0, 0, 0), "{p}");

    let comparable = |c: &ContactRecord| {
        let mut tags = c.tags.clone();
        tags.sort();
        json!({
            "first_name": c.first_name, "last_name": c.last_name,
            "emails": c.emails.iter().map(|e| (e.address.clone(), e.primary)).collect::<Vec<_>>(),
            "phones": c.phones.iter().map(|p| (p.e164.clone(), p.primary)).collect::<Vec<_>>(),
            "company": c.company, "address": c.address, "source": c.source, "tags": tags, "custom_fields": c.custom_fields,
        })
    };
    let mut source: Vec<Value> = all_contacts(&w.state, &org_a).await.iter().map(comparable).collect();
    let mut copy: Vec<Value> = all_contacts(&w.state, &org_z).await.iter().map(comparable).collect();
    source.sort_by_key(|v| v.to_string());
    copy.sort_by_key(|v| v.to_string());
    assert_eq!(source.len(), 131);
    assert_eq!(copy, source);

    // JSON Lines: one contact record per line; filters apply.
    let jsonl = call(&w, &a, "GET", "/contacts/export?format=jsonl&tag=vip", None).await;
    assert_eq!(jsonl.status, StatusCode::OK);
    assert_eq!(jsonl.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = String::from_utf8(jsonl.bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["custom_fields"]["allergies"], json!(["latex", "penicillin"]));
    let all_jsonl = call(&w, &a, "GET", "/contacts/export?format=jsonl", None).await;
    assert_eq!(String::from_utf8(all_jsonl.bytes).unwrap().lines().count(), 131);
    let bad = call(&w, &a, "GET", "/contacts/export?format=xlsx", None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A CSV export's rows without their `id` column (the one value an import
/// into another organization changes), in a stable order: the importing
/// organization lists its contacts by its own creation times and ids.
fn rows_without_id(csv: &str) -> (String, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[0], "id");
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().skip(1).map(str::to_string).collect())
        .collect();
    rows.sort();
    (header.join(","), rows)
}

async fn csv_export(w: &World, b: &Browser) -> String {
    let reply = call(w, b, "GET", "/contacts/export?format=csv", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    String::from_utf8(reply.bytes).unwrap()
}

#[tokio::test]
async fn an_export_with_identity_less_contacts_round_trips_into_a_new_organization_and_imports_again_without_duplicates()
 {
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    let b = signup(&w, "omar@harbour-physio.example").await;
    for org in [&a, &b] {
        let field = json!({"label": "Visits", "key": "visits", "type": "number"});
        let reply = call(&w, org, "POST", "/fields", Some(field)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    for body in [
        json!({"first_name": "Zoë", "last_name": "O'Brien", "emails": ["zoe@example.com"], "phones": ["+44 20 7946 0958"], "tags": ["vip"], "custom_fields": {"visits": 3}}),
        // Neither email nor phone: a name, a company, or both.
        json!({"first_name": "Walk-in", "last_name": "Patient"}),
        json!({"first_name": "Walk-in", "last_name": "Patient"}),
        json!({"company": "Acme Dental Supplies", "tags": ["supplier"]}),
        json!({"first_name": "Sam", "company": "=SUM(A1:A9)", "address": {"city": "Leeds", "country": "GB"}, "source": "referral"}),
        json!({"last_name": "Nguyen", "custom_fields": {"visits": 1}}),
    ] {
        let reply = call(&w, &a, "POST", "/contacts", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let (org_a, org_b) = (org_of(&w, &a).await, org_of(&w, &b).await);
    let export_a = csv_export(&w, &a).await;
    let ids_a: Vec<ContactId> = all_contacts(&w.state, &org_a).await.into_iter().map(|c| c.id).collect();

    let first = import(&w, &b, "", &export_a).await;
    assert_eq!(progress_numbers(&first), ("done".into(), 6, 6, 6, 0, 0, 0), "{first}");
    let export_b = csv_export(&w, &b).await;
    assert_eq!(
        rows_without_id(&export_b),
        rows_without_id(&export_a),
        "{export_a}\n{export_b}"
    );
    // New ids here; each contact keeps the one it had in A as its import key.
    let contacts_b = all_contacts(&w.state, &org_b).await;
    let mut keys: Vec<String> = contacts_b.iter().flat_map(|c| c.import_keys.clone()).collect();
    let mut expected = ids_a.clone();
    keys.sort();
    expected.sort();
    assert_eq!(keys, expected);
    assert!(
        contacts_b
            .iter()
            .all(|c| !ids_a.contains(&c.id) && c.import_keys.len() == 1)
    );

    // The same file again, either mode: every row finds its contact, nothing changes.
    for mode in ["skip", "update"] {
        let again = import(&w, &b, &format!("mode={mode}"), &export_a).await;
        assert_eq!(
            progress_numbers(&again),
            ("done".into(), 6, 6, 0, 0, 6, 0),
            "{mode}: {again}"
        );
    }
    assert_eq!(
        all_contacts(&w.state, &org_b).await,
        contacts_b,
        "same contacts, same versions"
    );
    assert_eq!(csv_export(&w, &b).await, export_b);
    // An organization's own export names its own ids: it imports back into it as a no-op too.
    for (org, browser, file) in [(&org_b, &b, &export_b), (&org_a, &a, &export_a)] {
        let before = all_contacts(&w.state, org).await;
        let own = import(&w, browser, "mode=update", file).await;
        assert_eq!(progress_numbers(&own), ("done".into(), 6, 6, 0, 0, 6, 0), "{own}");
        assert_eq!(all_contacts(&w.state, org).await, before);
    }

    // A third organization imports B's export: the ids chain on, still whole.
    let c = signup(&w, "lee@third-practice.example").await;
    call(
        &w,
        &c,
        "POST",
        "/fields",
        Some(json!({"label": "Visits", "key": "visits", "type": "number"})),
    )
    .await;
    let third = import(&w, &c, "", &export_b).await;
    assert_eq!(progress_numbers(&third), ("done".into(), 6, 6, 6, 0, 0, 0), "{third}");
    assert_eq!(rows_without_id(&csv_export(&w, &c).await), rows_without_id(&export_a));
}

#[tokio::test]
async fn an_id_links_a_contact_found_by_email_follows_it_through_a_merge_and_an_id_alone_is_refused() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    let existing = call(
        &w,
        &b,
        "POST",
        "/contacts",
        Some(json!({"first_name": "Ann", "emails": ["ann@example.com"]})),
    )
    .await;
    assert_eq!(existing.status, StatusCode::CREATED, "{}", existing.body);
    // Another system's export: its record ids map to `id`.
    let csv = "Record ID,Email,First Name,Company\nhs-1,ann@example.com,Ann,\nhs-2,,Bo,Bo's Bakery\nhs-3,,,\n";
    let first = import(&w, &b, "mode=update", csv).await;
    assert_eq!(progress_numbers(&first), ("done".into(), 3, 3, 1, 1, 0, 1), "{first}");
    let errors = call(
        &w,
        &b,
        "GET",
        &format!("/imports/{}/errors.csv", first["id"].as_str().unwrap()),
        None,
    )
    .await;
    let report = String::from_utf8(errors.bytes).unwrap();
    assert!(report.contains("4,first_name,required,"), "{report}");
    let ann = by_email(&all_contacts(&w.state, &org).await, "ann@example.com");
    assert_eq!(ann.import_keys, ["hs-1"], "matched by email, linked to the id");
    // Ann's email changed since: her id still finds her; Bo (no email) is not made twice.
    let csv = "Record ID,Email,First Name,Company\nhs-1,ann.lee@work.example,Ann,\nhs-2,,Bo,Bo's Bakery\n";
    let again = import(&w, &b, "mode=update", csv).await;
    assert_eq!(progress_numbers(&again), ("done".into(), 2, 2, 0, 1, 1, 0), "{again}");
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 2);
    let ann = by_email(&all, "ann@example.com");
    let emails: Vec<&str> = ann.emails.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(emails, ["ann@example.com", "ann.lee@work.example"]);
    // An id of one contact and the email of another: refused, nothing merges.
    let clash = import(&w, &b, "mode=update", "id,email\nhs-2,ann@example.com\n").await;
    assert_eq!(progress_numbers(&clash), ("done".into(), 1, 1, 0, 0, 0, 1));

    // Merged into Ann, Bo's id comes along: his row finds Ann, not a new Bo.
    let bo = all.iter().find(|c| c.import_keys == ["hs-2"]).expect("Bo").id.clone();
    let merge = json!({"primary_id": ann.id, "secondary_id": bo});
    let merged = call(&w, &b, "POST", "/contacts/merge", Some(merge)).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    let after_merge = import(&w, &b, "mode=skip", "id,first_name\nhs-2,Bo\n").await;
    assert_eq!(progress_numbers(&after_merge), ("done".into(), 1, 1, 0, 0, 1, 0));
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].import_keys, ["hs-1", "hs-2"]);
}

/// The importer writes through the contacts core's plan (less the tag
/// counters, which it sums per chunk): deleting an imported contact through
/// the contacts core must leave nothing behind.
#[tokio::test]
async fn imported_contacts_are_indexed_exactly_as_the_contacts_core_indexes_them() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    import(
        &w,
        &b,
        "tags=one",
        "name,email,phone,tags\nJosé María Núñez,jose@example.com,+44 20 7946 0555,two\n",
    )
    .await;
    let imported = all_contacts(&w.state, &org).await.remove(0);
    let via_api = call(&w, &b, "POST", "/contacts", Some(json!({
        "first_name": "José", "last_name": "María Núñez", "emails": ["jose2@example.com"], "phones": ["+44 20 7946 0556"], "tags": ["two", "one"]
    }))).await;
    assert_eq!(via_api.status, StatusCode::CREATED);
    let search = |q: &'static str| {
        let w = &w;
        let b = &b;
        async move {
            call(w, b, "GET", &format!("/contacts?q={q}"), None).await.body["contacts"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    for q in ["jose", "maria", "nunez", "jose%20maria", "4420794605", "020794605"] {
        assert_eq!(search(q).await, 2, "{q}");
    }
    let deleted = call(&w, &b, "DELETE", &format!("/contacts/{}", imported.id), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    for q in ["jose", "maria", "nunez", "4420794605"] {
        assert_eq!(search(q).await, 1, "{q}: no search key left behind");
    }
    let tags = call(&w, &b, "GET", "/tags", None).await.body;
    for tag in tags["tags"].as_array().unwrap() {
        assert_eq!(tag["count"], 1, "{tag}");
    }
    // The email is free again.
    let again = call(
        &w,
        &b,
        "POST",
        "/contacts",
        Some(json!({"emails": ["jose@example.com"]})),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
}

#[tokio::test]
async fn a_person_repeated_in_a_later_group_is_merged_while_the_earlier_group_commits() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    let actor = actor_of(&w, &b).await;
    // 2,500 rows = three groups, each planned while the one before commits.
    // Four rows repeat the email of a row 1,000 earlier (the group being
    // committed while they are planned) with a new phone; one repeats a row
    // of its own group.
    let repeats = [1_005usize, 1_500, 2_001, 2_400];
    let mut csv = String::from("First Name,Last Name,Email,Phone\n");
    for i in 0..2_500usize {
        let email_of = if repeats.contains(&i) {
            i - 1_000
        } else if i == 2_450 {
            2_420
        } else {
            i
        };
        csv.push_str(&format!(
            "Given{i},Family{i},person{email_of}@example.com,+1 212 {:03} {:04}\n",
            300 + i / 10_000,
            i % 10_000
        ));
    }
    let options = ImportOptions {
        mode: DedupeMode::Update,
        tags: vec!["groups".into()],
        ..Default::default()
    };
    let record = imports::create(&w.state, &actor, csv.into_bytes(), options)
        .await
        .unwrap();
    let counting = Arc::new(konnecs::ports::counting::CountingTable::new(w.state.table.clone()));
    let counts = counting.counts();
    let counted = AppState {
        table: counting,
        ..w.state.clone()
    };
    let done = imports::process(&counted, &OrgId::from(&org), &record.id, Budget::UNLIMITED)
        .await
        .unwrap();
    assert_eq!(
        (
            done.state,
            done.rows_done,
            done.created,
            done.updated,
            done.skipped,
            done.failed
        ),
        (ImportState::Done, 2_500, 2_495, 5, 0, 0)
    );
    // No plan met a commit it did not foresee: the import and the
    // organization are read once, and no checkpoint was re-read for a retry.
    assert_eq!(counts.snapshot().get, 2);
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 2_495);
    for i in repeats {
        let merged = by_email(&all, &format!("person{}@example.com", i - 1_000));
        assert_eq!(
            merged.first_name,
            Some(format!("Given{i}")),
            "the later row's values win"
        );
        assert_eq!(merged.phones.len(), 2, "both phones: {:?}", merged.phones);
        assert_eq!(merged.version, 2);
    }
    let tags = call(&w, &b, "GET", "/tags", None).await.body;
    assert_eq!(tags["tags"][0], json!({"tag": "groups", "count": 2_495}));
}

/// A table that lets a staff member add a contact just before the importer's
/// first group commit, and remembers how that commit ended.
struct RaceBeforeFirstGroup {
    inner: Arc<dyn konnecs::ports::Table>,
    racer: AppState,
    caller: contacts::Caller,
    raced: tokio::sync::Mutex<Option<Result<(), (usize, bool)>>>,
}

#[async_trait::async_trait]
impl konnecs::ports::Table for RaceBeforeFirstGroup {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.inner.transact(ops).await
    }
    async fn transact_in_order(&self, transactions: Vec<Vec<WriteOp>>) -> Result<(), PartialCommit> {
        let mut raced = self.raced.lock().await;
        if raced.is_some() {
            return self.inner.transact_in_order(transactions).await;
        }
        let walk_in: NewContact = serde_json::from_value(
            json!({"first_name": "Walk", "last_name": "In", "emails": ["person23@example.com"]}),
        )
        .unwrap();
        contacts::create(&self.racer, &self.caller, walk_in).await.unwrap();
        let result = self.inner.transact_in_order(transactions).await;
        *raced = Some(
            result
                .as_ref()
                .map(|_| ())
                .map_err(|p| (p.committed, p.error.is_condition_failure())),
        );
        result
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        self.inner.batch_write(ops).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

#[tokio::test]
async fn a_contact_created_during_an_import_keeps_the_rows_before_it_and_merges_its_row() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &b).await;
    let actor = actor_of(&w, &b).await;
    let user_id = actor.user_id.clone().unwrap_or_default();
    let racing = Arc::new(RaceBeforeFirstGroup {
        inner: w.state.table.clone(),
        racer: w.state.clone(),
        caller: contacts::Caller {
            actor: actor.clone(),
            user_id,
            is_admin: true,
        },
        raced: Default::default(),
    });
    let state = AppState {
        table: racing.clone(),
        ..w.state.clone()
    };
    let options = ImportOptions {
        mode: DedupeMode::Update,
        tags: vec!["race".into()],
        ..Default::default()
    };
    let record = imports::create(&state, &actor, generated(75).into_bytes(), options)
        .await
        .unwrap();
    let done = imports::process(&state, &OrgId::from(&org), &record.id, Budget::UNLIMITED)
        .await
        .unwrap();

    // Row 23's chunk lost to the walk-in's email claim: the chunks before it
    // stayed committed, the rest was planned again from the checkpoint.
    let first_commit = racing.raced.lock().await.expect("the importer committed a group");
    let (committed, condition) = first_commit.expect_err("the group met the walk-in's claim");
    assert!(committed >= 1 && condition, "{committed} {condition}");
    assert_eq!(
        (
            done.state,
            done.rows_done,
            done.created,
            done.updated,
            done.skipped,
            done.failed
        ),
        (ImportState::Done, 75, 74, 1, 0, 0)
    );
    let all = all_contacts(&w.state, &org).await;
    assert_eq!(all.len(), 75);
    let walk_in = by_email(&all, "person23@example.com");
    // Update mode: the file's values win, the walk-in's id and version history stay.
    assert_eq!(walk_in.first_name.as_deref(), Some("Given23"));
    assert_eq!(walk_in.company.as_deref(), Some("Company 2"));
    assert_eq!(walk_in.version, 2);
    assert_eq!(walk_in.phones.len(), 1);
    assert_eq!(walk_in.tags, ["race"]);
    let tags = call(&w, &b, "GET", "/tags", None).await.body;
    assert_eq!(tags["tags"][0], json!({"tag": "race", "count": 75}));
}

// ---------------------------------------------------------------- DynamoDB

async fn aws_state() -> AppState {
    konnecs_tests::aws::app_state().await
}

#[tokio::test]
async fn on_dynamodb_a_crashed_import_resumes_without_duplicates_and_a_rerun_changes_nothing() {
    let state = aws_state().await;
    let input = konnecs::services::accounts::SignupInput {
        name: "Dana Whitfield".into(),
        email: "dana@whitfield-dental.example".into(),
        password: "molar-crown-42-bridge".into(),
        business_name: "Whitfield Dental".into(),
        website: None,
        industry: None,
    };
    let signed = konnecs::services::accounts::signup(&state, input, &Default::default())
        .await
        .expect("signup");
    let org = signed.org_id.clone();
    let actor = Actor {
        org_id: org.clone(),
        user_id: Some(signed.user_id.clone()),
        ..Default::default()
    };
    let options = ImportOptions {
        mode: DedupeMode::Update,
        tags: vec!["dynamo".into()],
        ..Default::default()
    };
    let csv = generated(40);
    let record = imports::create(&state, &actor, csv.clone().into_bytes(), options.clone())
        .await
        .expect("create");

    // One chunk, then the worker dies; SQS still holds the unacknowledged message.
    let mut import_job = None;
    for _ in 0..20 {
        let messages = state
            .bulk
            .receive(10, std::time::Duration::from_secs(600))
            .await
            .unwrap();
        import_job = messages
            .into_iter()
            .find(|m| matches!(serde_json::from_str::<Job>(&m.body), Ok(Job::ImportContacts { .. })));
        if import_job.is_some() {
            break;
        }
    }
    let import_job = import_job.expect("the import's message");
    let partial = imports::process(
        &state,
        &org,
        &record.id,
        Budget {
            max_rows: Some(30),
            deadline: None,
        },
    )
    .await
    .unwrap();
    assert!(partial.rows_done > 0 && partial.rows_done < 40);
    assert_eq!(all_contacts(&state, &org).await.len() as u64, partial.rows_done);

    // The redelivered message (same body) resumes from the checkpoint.
    let job: Job = serde_json::from_str(&import_job.body).unwrap();
    jobs::run(&state, job.clone(), &Delivery::starting_now(false))
        .await
        .expect("redelivery");
    let done = imports::get(&state, &org, &record.id).await.unwrap();
    assert_eq!(
        (
            done.state,
            done.rows_done,
            done.created,
            done.updated,
            done.skipped,
            done.failed
        ),
        (ImportState::Done, 40, 40, 0, 0, 0)
    );
    let before = all_contacts(&state, &org).await;
    assert_eq!(before.len(), 40);
    jobs::run(&state, job, &Delivery::starting_now(false))
        .await
        .expect("a stray duplicate is harmless");

    // The same file again: all skipped, nothing written.
    let rerun = imports::create(&state, &actor, csv.into_bytes(), options)
        .await
        .expect("rerun");
    imports::process(&state, &org, &rerun.id, Budget::UNLIMITED)
        .await
        .unwrap();
    let rerun = imports::get(&state, &org, &rerun.id).await.unwrap();
    assert_eq!(
        (rerun.state, rerun.created, rerun.updated, rerun.skipped),
        (ImportState::Done, 0, 0, 40)
    );
    assert_eq!(all_contacts(&state, &org).await, before);
}

// ---------------------------------------------------------------- export jobs

/// The world's router over a state whose responses are buffered, as on
/// Lambda, with an inline limit of `limit` bytes.
fn buffered_app(w: &World, limit: usize) -> Router {
    let mut state = w.state.clone();
    let mut config = (*state.config).clone();
    config.inline_download_limit = Some(limit);
    state.config = Arc::new(config);
    router(state, catalogue::entries())
}

#[tokio::test]
async fn an_export_job_writes_the_file_the_direct_export_streams_and_serves_it_to_its_organization_only() {
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    let z = signup(&w, "omar@harbour-physio.example").await;
    let field = json!({"label": "Visits", "key": "visits", "type": "number"});
    assert_eq!(
        call(&w, &a, "POST", "/fields", Some(field)).await.status,
        StatusCode::CREATED
    );
    import(&w, &a, "tags=bulk", &generated(230)).await;
    let vip =
        json!({"first_name": "Zoë", "emails": ["zoe@example.com"], "tags": ["vip"], "custom_fields": {"visits": 3}});
    assert_eq!(
        call(&w, &a, "POST", "/contacts", Some(vip)).await.status,
        StatusCode::CREATED
    );

    let started = call(&w, &a, "POST", "/contacts/exports", Some(json!({"format": "csv"}))).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let id = started.body["id"].as_str().unwrap().to_string();
    assert_eq!(started.headers["location"], format!("/exports/{id}").as_str());
    assert_eq!(
        (started.body["state"].as_str(), started.body["kind"].as_str()),
        (Some("queued"), Some("contacts"))
    );
    assert_eq!(started.body["download_url"], Value::Null);
    let early = call(&w, &a, "GET", &format!("/exports/{id}/download"), None).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert_eq!(early.body["code"], "export_not_ready");

    w.drain_jobs().await;
    let done = call(&w, &a, "GET", &format!("/exports/{id}"), None).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(
        (done.body["state"].as_str(), done.body["rows_done"].as_u64()),
        (Some("done"), Some(231))
    );
    assert_eq!(done.body["download_url"], format!("/exports/{id}/download").as_str());
    let file = call(&w, &a, "GET", &format!("/exports/{id}/download"), None).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        file.headers["content-disposition"],
        format!("attachment; filename=\"contacts-{id}.csv\"").as_str()
    );
    assert_eq!(done.body["bytes"].as_u64(), Some(file.bytes.len() as u64));
    let direct = call(&w, &a, "GET", "/contacts/export?format=csv", None).await;
    assert_eq!(
        String::from_utf8(file.bytes).unwrap(),
        String::from_utf8(direct.bytes).unwrap()
    );

    // Filters and JSON Lines, as the direct export has them.
    let vip_job = call(
        &w,
        &a,
        "POST",
        "/contacts/exports",
        Some(json!({"format": "jsonl", "tag": "vip"})),
    )
    .await;
    assert_eq!(vip_job.status, StatusCode::ACCEPTED, "{}", vip_job.body);
    w.drain_jobs().await;
    let vip_id = vip_job.body["id"].as_str().unwrap();
    let vip_file = call(&w, &a, "GET", &format!("/exports/{vip_id}/download"), None).await;
    let vip_direct = call(&w, &a, "GET", "/contacts/export?format=jsonl&tag=vip", None).await;
    assert_eq!(vip_file.headers["content-type"], "application/x-ndjson");
    assert_eq!(vip_file.bytes, vip_direct.bytes);
    assert_eq!(String::from_utf8(vip_file.bytes).unwrap().lines().count(), 1);

    // Another organization sees neither the job nor its file.
    for path in [format!("/exports/{id}"), format!("/exports/{id}/download")] {
        assert_eq!(
            call(&w, &z, "GET", &path, None).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        call(&w, &a, "GET", "/exports/not-an-id", None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn export_job_requests_are_validated_and_leave_nothing_behind() {
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    let org = org_of(&w, &a).await;
    let cases = [
        (json!({"format": "xlsx"}), "format"),
        (json!({"stage_id": "s1"}), "pipeline_id"),
        (json!({"created_from": "yesterday"}), "created_from"),
        (json!({"pipeline_id": "p", "stage_id": "s", "q": "ann"}), "q"),
        (json!({"colour": "red"}), "body"),
        (json!({"tag": "a#b"}), "tag"),
        (json!({"tag": ""}), "tag"),
    ];
    for (body, field) in cases {
        let reply = call(&w, &a, "POST", "/contacts/exports", Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.body);
        assert_eq!(reply.headers["content-type"], "application/problem+json");
        let named = reply.body["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            named == field || (field == "body" && named.contains("colour")),
            "{body}: {}",
            reply.body
        );
    }
    let records = w
        .state
        .table
        .query(&Query::partition(format!("ORG#{org}")).sort(konnecs::ports::SortKey::BeginsWith("EXPORT#".into())))
        .await
        .unwrap();
    assert!(records.items.is_empty(), "a refused request records no export");
    let queued = w.state.bulk.receive(10, std::time::Duration::ZERO).await.unwrap();
    assert!(
        !queued
            .iter()
            .any(|m| matches!(serde_json::from_str(&m.body), Ok(Job::Export { .. }))),
        "a refused request queues no job"
    );
}

/// Files under the local object store's `exports/` for one export.
fn export_files(w: &World, org: &str, id: &str) -> Vec<String> {
    let dir = w.data_dir().join("objects").join("exports").join(org).join(id);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A signed-up organization with `rows` imported contacts and an export
/// job (queued) of all of them as CSV: (browser, org id, job).
async fn csv_export_of(w: &World, rows: usize) -> (Browser, String, konnecs::services::exports::job::ExportRecord) {
    use konnecs::services::exports::{ExportFilter, Format, Source, job};
    let a = signup(w, "dana@whitfield-dental.example").await;
    import(w, &a, "", &generated(rows)).await;
    let actor = actor_of(w, &a).await;
    let source = Source::contacts(&w.state, &actor.org_id, ExportFilter::default(), Format::Csv)
        .await
        .unwrap();
    let export = job::create(&w.state, &actor, source).await.unwrap();
    (a, actor.org_id.into_string(), export)
}

/// A finished export's file as the local store serves it: (length, bytes).
async fn export_file(state: &AppState, org: &str, id: &str) -> (u64, Vec<u8>) {
    use konnecs::services::exports::job::{self, Download};
    let (_, Download::File(reader)) = job::download(state, &OrgId::from(org), id).await.unwrap() else {
        panic!("the local store serves its files itself");
    };
    let chunks: Vec<_> = futures::TryStreamExt::try_collect(reader.chunks).await.unwrap();
    (reader.length, chunks.concat())
}

/// Time passes until a crashed delivery's lease on an export has run out.
fn after_the_lease(w: &World) {
    let lease = SignedDuration::try_from(konnecs::services::exports::job::LEASE).unwrap();
    w.clock.advance(lease + SignedDuration::from_secs(1));
}

#[tokio::test]
async fn an_export_in_many_parts_survives_crashes_at_any_point_and_racing_deliveries() {
    use konnecs::services::exports::job::{self, Budget, ExportState};
    use konnecs::services::exports::{ExportFilter, Format, Source};
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    import(&w, &a, "tags=bulk", &generated(640)).await;
    let actor = actor_of(&w, &a).await;
    let org = actor.org_id.clone();
    let direct = call(&w, &a, "GET", "/contacts/export?format=csv", None).await.bytes;
    // Parts of 20 kB and one page per call: about 3 parts, with rows staged
    // between calls; S3's 5 MiB minimum is the part size in production.
    let budget = Budget {
        part_bytes: 20_000,
        deadline: None,
        max_pages: Some(1),
    };

    // A clean run first: parts, staging, and nothing left over.
    let source = Source::contacts(&w.state, &org, ExportFilter::default(), Format::Csv)
        .await
        .unwrap();
    let clean = job::create(&w.state, &actor, source.clone()).await.unwrap();
    let mut calls = 0;
    loop {
        let (record, turn) = job::process(&w.state, &org, &clean.id, budget).await.unwrap();
        assert_eq!(turn, job::Turn::Worked);
        calls += 1;
        if record.state == ExportState::Done {
            assert!(record.parts.len() >= 3, "{} parts", record.parts.len());
            assert_eq!(record.rows_done, 640);
            break;
        }
        assert!(calls < 50, "the export must finish");
    }
    let file = format!("contacts-{}.csv", clean.id);
    assert_eq!(
        export_files(&w, &org, &clean.id),
        [format!("{file}~content-type"), format!("{file}~object")],
        "only the file: no staging object or part is left over"
    );
    assert_eq!(export_file(&w.state, &org, &clean.id).await.1, direct);

    // Now most calls die at one store call or another (the call lost on its
    // way, or done by the store with its answer lost), and some calls race
    // a second delivery. After a crash, time passes until the redelivery:
    // the lease has run out.
    let (crashing, switch) = crashing(&w.state);
    let crashed = job::create(&w.state, &actor, source).await.unwrap();
    let mut finished = false;
    let (mut crashes, mut crashes_mid_work) = (0, 0);
    let (mut races, mut races_won) = (0, 0);
    for round in 0..2_000 {
        // Crash points scattered over each call: its 1st to 7th store call
        // (a whole call makes 5 to 7), the call or its answer lost, every
        // pair of the two within 14 rounds.
        let step = 1 + (round * 5) % 7;
        let lost = if round % 2 == 0 { Lost::Request } else { Lost::Answer };
        let before = job::get(&w.state, &org, &crashed.id).await.unwrap().version;
        if round % 4 == 3 {
            let (left, right) = tokio::join!(
                job::process(&w.state, &org, &crashed.id, budget),
                job::process(&w.state, &org, &crashed.id, budget)
            );
            let turns = [left.unwrap().1, right.unwrap().1];
            races += 1;
            if turns.contains(&job::Turn::Worked) {
                races_won += 1;
            }
        } else {
            switch.arm(step, lost);
            let outcome = switch.run(job::process(&crashing, &org, &crashed.id, budget)).await;
            switch.disarm();
            match outcome {
                Some(done) => {
                    done.unwrap();
                }
                None => {
                    crashes += 1;
                    let after = job::get(&w.state, &org, &crashed.id).await.unwrap().version;
                    // Past the claim: the crash came while holding the export.
                    if after > before {
                        crashes_mid_work += 1;
                    }
                    after_the_lease(&w);
                }
            }
        }
        let record = job::get(&w.state, &org, &crashed.id).await.unwrap();
        assert_ne!(record.state, ExportState::Failed, "{:?}", record.error);
        if record.state == ExportState::Done {
            assert_eq!(record.rows_done, 640, "no row counted twice or lost");
            finished = true;
            break;
        }
    }
    assert!(finished, "the export must finish despite the crashes");
    assert!(crashes >= 8, "only {crashes} calls crashed");
    assert!(crashes_mid_work >= 5, "only {crashes_mid_work} crashes landed mid-work");
    // A dead delivery's writes have all landed before the next delivery
    // starts and its lease has run out, so of two racing deliveries one
    // always works: the other finds it holding the export and yields.
    assert!(races >= 3, "only {races} races");
    assert_eq!(
        races_won, races,
        "one of two racing deliveries works: {races_won} of {races} races"
    );
    let record = job::get(&w.state, &org, &crashed.id).await.unwrap();
    let (_, file) = export_file(&w.state, &org, &crashed.id).await;
    assert_eq!(record.bytes, file.len() as u64);
    assert_eq!(
        String::from_utf8(file).unwrap(),
        String::from_utf8(direct).unwrap(),
        "the same file as without crashes"
    );
}

/// The export messages in the bulk queue (received, so gone from it).
async fn queued_exports(state: &AppState) -> usize {
    let mut found = 0;
    for _ in 0..100 {
        let messages = state
            .bulk
            .receive(10, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        if messages.is_empty() {
            return found;
        }
        for message in &messages {
            if matches!(serde_json::from_str(&message.body), Ok(Job::Export { .. })) {
                found += 1;
            }
            state.bulk.ack(&message.receipt).await.unwrap();
        }
    }
    panic!("the bulk queue did not run dry in 100 receives");
}

#[tokio::test]
async fn a_duplicate_delivery_of_an_export_slice_yields_to_the_holder_and_queues_nothing() {
    use konnecs::services::exports::job::{self, Budget, ExportState, Turn};
    let w = world();
    let (_, org, export) = csv_export_of(&w, 150).await;
    assert_eq!(queued_exports(&w.state).await, 1, "create queues the first slice");

    // A delivery claims the export and dies holding it: the first store
    // call whose landing leaves the export held is its claim.
    let one_page = Budget {
        part_bytes: 1_000_000,
        deadline: None,
        max_pages: Some(1),
    };
    let (crashing, switch) = crashing(&w.state);
    let mut step = 1;
    loop {
        switch.arm(step, Lost::Answer);
        let outcome = switch
            .run(job::process(&crashing, &OrgId::from(&org), &export.id, one_page))
            .await;
        switch.disarm();
        if let Some(ended) = outcome {
            panic!("dead at store call {step}, the slice still ended: {ended:?}");
        }
        let held = job::get(&w.state, &OrgId::from(&org), &export.id)
            .await
            .unwrap()
            .lease_until;
        if held.is_some() {
            break;
        }
        step += 1;
        assert!(step < 20, "no crash left the export held");
    }
    // A duplicate message meanwhile: it yields and starts no second chain.
    let delivery = Delivery::starting_now(false);
    job::run_job(&w.state, &OrgId::from(&org), &export.id, &delivery)
        .await
        .unwrap();
    assert_eq!(queued_exports(&w.state).await, 0);
    let (_, turn) = job::process(&w.state, &OrgId::from(&org), &export.id, one_page)
        .await
        .unwrap();
    assert_eq!(turn, Turn::Yielded);

    // The crashed slice's redelivery, after the lease ran out, carries on.
    after_the_lease(&w);
    job::run_job(&w.state, &OrgId::from(&org), &export.id, &delivery)
        .await
        .unwrap();
    let record = job::get(&w.state, &OrgId::from(&org), &export.id).await.unwrap();
    assert_eq!((record.state, record.rows_done), (ExportState::Done, 150));
    assert_eq!(queued_exports(&w.state).await, 0, "a finished export queues nothing");
}

#[tokio::test]
async fn an_export_whose_upload_was_completed_by_a_delivery_that_then_crashed_finishes_with_that_file() {
    use konnecs::services::exports::job::{self, Budget, ExportState};
    use konnecs::services::records::to_item;
    let w = world();
    let (a, org, export) = csv_export_of(&w, 300).await;
    let budget = Budget {
        part_bytes: 10_000,
        deadline: None,
        max_pages: Some(1),
    };
    // Up to the last page, with the upload started.
    let mut before_last = job::get(&w.state, &OrgId::from(&org), &export.id).await.unwrap();
    loop {
        let (record, _) = job::process(&w.state, &OrgId::from(&org), &export.id, budget)
            .await
            .unwrap();
        if record.state == ExportState::Done {
            break;
        }
        before_last = record;
    }
    assert!(before_last.upload_id.is_some() && !before_last.parts.is_empty());
    let done = job::get(&w.state, &OrgId::from(&org), &export.id).await.unwrap();
    // The completing delivery's last checkpoint is lost: the record is as
    // it was before that slice, and the upload it names is complete.
    let mut lost = before_last.clone();
    lost.version = done.version;
    w.state
        .table
        .put(
            to_item(&job::export_key(&OrgId::from(&org), &export.id), &lost, &[]).unwrap(),
            None,
        )
        .await
        .unwrap();
    let (record, _) = job::process(&w.state, &OrgId::from(&org), &export.id, budget)
        .await
        .unwrap();
    assert_eq!(record.state, ExportState::Done);
    assert_eq!(record.rows_done, 300);
    let (length, file) = export_file(&w.state, &org, &export.id).await;
    assert_eq!(record.bytes, length);
    let direct = call(&w, &a, "GET", "/contacts/export", None).await.bytes;
    assert_eq!(file, direct);
}

#[tokio::test]
async fn an_export_that_cannot_succeed_fails_instead_of_retrying_and_slices_wait_for_a_fresh_batch() {
    use konnecs::services::exports::job::{self, ExportState};
    use konnecs::services::exports::{ExportFilter, Format, Source};
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    let actor = actor_of(&w, &a).await;
    let org = actor.org_id.clone();
    // A filter the request checks would refuse, stored anyway (e.g. by an
    // older version): the store rejects it on every try.
    let filter = ExportFilter {
        contacts: ContactFilter {
            tag: Some("a#b".into()),
            ..Default::default()
        },
        stage: None,
    };
    let source = Source::contacts(&w.state, &org, filter, Format::Csv).await.unwrap();
    let export = job::create(&w.state, &actor, source.clone()).await.unwrap();
    queued_exports(&w.state).await;
    job::run_job(&w.state, &org, &export.id, &Delivery::starting_now(false))
        .await
        .unwrap();
    let record = job::get(&w.state, &org, &export.id).await.unwrap();
    assert_eq!(record.state, ExportState::Failed);
    assert!(record.error.is_some());
    assert_eq!(queued_exports(&w.state).await, 0, "a failed export is not retried");

    // With less than a slice's time left in its batch, a slice job is queued
    // again for a fresh batch and does nothing now.
    let fresh = job::create(
        &w.state,
        &actor,
        Source::contacts(&w.state, &org, ExportFilter::default(), Format::Csv)
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    queued_exports(&w.state).await;
    let spent = Delivery {
        deadline: std::time::Instant::now(),
        last_attempt: false,
    };
    let message = Job::Export {
        org_id: org.clone(),
        export_id: fresh.id.clone(),
    };
    jobs::run(&w.state, message, &spent).await.unwrap();
    assert_eq!(queued_exports(&w.state).await, 1);
    assert_eq!(job::get(&w.state, &org, &fresh.id).await.unwrap(), fresh);
}

#[tokio::test]
async fn where_responses_are_buffered_a_large_direct_download_is_refused_with_a_pointer_to_export_jobs() {
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    import(&w, &a, "tags=bulk", &generated(120)).await;
    let vip = json!({"first_name": "Zoë", "emails": ["zoe@example.com"], "tags": ["vip"]});
    assert_eq!(
        call(&w, &a, "POST", "/contacts", Some(vip)).await.status,
        StatusCode::CREATED
    );
    let lambda_like = buffered_app(&w, 4_000);

    let large = a.send(&lambda_like, "GET", "/contacts/export", None).await;
    assert_eq!(large.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", large.body);
    assert_eq!(large.headers["content-type"], "application/problem+json");
    assert_eq!(large.body["code"], "export_too_large");
    assert_eq!(large.body["instead"], "POST /contacts/exports");
    // What fits is answered inline, byte for byte as the streamed export.
    let small = a.send(&lambda_like, "GET", "/contacts/export?tag=vip", None).await;
    assert_eq!(small.status, StatusCode::OK);
    let streamed = call(&w, &a, "GET", "/contacts/export?tag=vip", None).await;
    assert_eq!(small.bytes, streamed.bytes);
    assert_eq!(small.headers["content-length"], small.bytes.len().to_string().as_str());

    // An import's error report is held to the same limit.
    let mut broken = String::from("First Name,Email\n");
    for i in 0..200 {
        broken.push_str(&format!("Bad{i},not-an-email-{i}\n"));
    }
    let progress = import(&w, &a, "", &broken).await;
    let errors_url = progress["errors_url"].as_str().unwrap();
    let refused = a.send(&lambda_like, "GET", errors_url, None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert_eq!(refused.body["code"], "error_report_too_large");
    assert_eq!(refused.body["instead"], "POST /imports/{id}/errors/exports");
    let inline = call(&w, &a, "GET", errors_url, None).await;
    assert_eq!(inline.status, StatusCode::OK);

    // The report as an export job: the same file, whatever its size.
    let import_id = progress["id"].as_str().unwrap();
    let started = a
        .send(
            &lambda_like,
            "POST",
            &format!("/imports/{import_id}/errors/exports"),
            None,
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    assert_eq!(started.body["kind"], "import_errors");
    assert_eq!(started.body["import_id"], import_id);
    w.drain_jobs().await;
    let id = started.body["id"].as_str().unwrap();
    let file = a
        .send(&lambda_like, "GET", &format!("/exports/{id}/download"), None)
        .await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(
        file.headers["content-disposition"],
        format!("attachment; filename=\"import-{import_id}-errors.csv\"").as_str()
    );
    assert_eq!(file.bytes, inline.bytes);
    assert_eq!(String::from_utf8(file.bytes).unwrap().lines().count(), 201);

    // Another organization's import has no report to export.
    let z = signup(&w, "omar@harbour-physio.example").await;
    let foreign = z
        .send(
            &lambda_like,
            "POST",
            &format!("/imports/{import_id}/errors/exports"),
            None,
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_aws_an_export_job_runs_through_sqs_and_its_download_is_a_presigned_s3_link() {
    let w = TestApp::on(Store::Aws, START).await;
    let (state, app) = (w.state.clone(), w.router.clone());
    let a = signup(&w, "dana@whitfield-dental.example").await;
    let mut request = a.request("POST", "/imports/contacts?tags=bulk", None);
    *request.body_mut() = Body::from(generated(30));
    request
        .headers_mut()
        .insert("content-type", "text/csv".parse().unwrap());
    assert_eq!(w.request(request).await.status, StatusCode::ACCEPTED);
    drain_jobs(&state).await;

    let started = a
        .send(&app, "POST", "/contacts/exports", Some(&json!({"format": "jsonl"})))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    let id = started.body["id"].as_str().unwrap().to_string();
    drain_jobs(&state).await;
    let done = a.send(&app, "GET", &format!("/exports/{id}"), None).await;
    assert_eq!(
        (done.body["state"].as_str(), done.body["rows_done"].as_u64()),
        (Some("done"), Some(30))
    );

    let download = a.send(&app, "GET", &format!("/exports/{id}/download"), None).await;
    assert_eq!(download.status, StatusCode::SEE_OTHER);
    assert_eq!(download.headers["cache-control"], "private, no-store");
    let link = download.headers["location"].to_str().unwrap().to_string();
    assert!(
        link.contains("X-Amz-Signature=") && link.contains("X-Amz-Expires=900"),
        "{link}"
    );
    // The link needs no session: it is the signature that grants access.
    let fetched = reqwest::get(&link).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.headers()["content-disposition"],
        format!("attachment; filename=\"contacts-{id}.jsonl\"").as_str()
    );
    let file = fetched.bytes().await.unwrap();
    let direct = a.send(&app, "GET", "/contacts/export?format=jsonl", None).await;
    assert_eq!(file.as_ref(), direct.bytes.as_slice());
    assert_eq!(String::from_utf8(direct.bytes).unwrap().lines().count(), 30);
}

/// The local runtime keeps to the bucket's lifecycle: an export's file goes
/// with its record after 7 days, and an upload nobody completed after a day.
#[tokio::test]
async fn locally_the_sweep_expires_export_files_with_their_records_and_drops_abandoned_uploads() {
    use konnecs::services::exports::job::{self, ExportError};
    let w = world();
    // Files are dated by the real clock: the test clock starts there too.
    let written = Timestamp::now();
    w.clock.set(written);
    let a = signup(&w, "dana@whitfield-dental.example").await;
    import(&w, &a, "", &generated(20)).await;
    let started = call(&w, &a, "POST", "/contacts/exports", Some(json!({}))).await;
    let id = started.body["id"].as_str().unwrap().to_string();
    w.drain_jobs().await;
    let org = org_of(&w, &a).await;
    let file = format!("contacts-{id}.csv~object");
    assert!(export_files(&w, &org, &id).contains(&file));
    let abandoned = w
        .state
        .objects
        .start_upload("exports/o/e/contacts.csv", "text/csv")
        .await
        .unwrap();
    let uploads = w.data_dir().join("objects").join("~uploads");
    assert!(uploads.join(&abandoned).is_dir());

    let sweep = || konnecs::inbound::events::sweep::tick(w.state.clone());
    w.clock.set(written + SignedDuration::from_hours(6 * 24));
    sweep().await.unwrap();
    assert!(!uploads.join(&abandoned).exists(), "an upload a day old is dropped");
    assert!(
        export_files(&w, &org, &id).contains(&file),
        "a 6-day-old export is kept"
    );
    assert!(job::get(&w.state, &OrgId::from(&org), &id).await.is_ok());

    w.clock.set(written + SignedDuration::from_hours(8 * 24));
    sweep().await.unwrap();
    assert_eq!(
        export_files(&w, &org, &id),
        Vec::<String>::new(),
        "the file is gone after 7 days"
    );
    assert!(
        matches!(
            job::get(&w.state, &OrgId::from(&org), &id).await,
            Err(ExportError::NotFound)
        ),
        "and so is its record"
    );
}

#[tokio::test]
async fn an_organization_runs_at_most_three_exports_at_once() {
    let w = world();
    let a = signup(&w, "dana@whitfield-dental.example").await;
    let z = signup(&w, "omar@harbour-physio.example").await;
    for _ in 0..3 {
        let started = call(&w, &a, "POST", "/contacts/exports", Some(json!({}))).await;
        assert_eq!(started.status, StatusCode::ACCEPTED);
    }
    let fourth = call(&w, &a, "POST", "/contacts/exports", Some(json!({}))).await;
    assert_eq!(fourth.status, StatusCode::CONFLICT, "{}", fourth.body);
    assert_eq!(fourth.body["code"], "too_many_exports_running");
    // Another organization is not held up by this one's exports.
    let other = call(&w, &z, "POST", "/contacts/exports", Some(json!({}))).await;
    assert_eq!(other.status, StatusCode::ACCEPTED);
    // Once they have finished, exports can be started again.
    w.drain_jobs().await;
    let again = call(&w, &a, "POST", "/contacts/exports", Some(json!({}))).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
}

// ------------------------------------------------------- the queue's last try

/// An object store that fails every call while `down` (an S3 outage), or
/// only its deletes.
struct ObjectsThatGoDown {
    inner: Arc<dyn konnecs::ports::ObjectStore>,
    down: AtomicBool,
    deletes_fail: AtomicBool,
}

impl ObjectsThatGoDown {
    fn check(&self, failing: &AtomicBool) -> Result<(), konnecs::ports::ObjectError> {
        if failing.load(Ordering::SeqCst) {
            return Err(konnecs::ports::ObjectError::Unavailable("outage".into()));
        }
        Ok(())
    }
    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
    fn deletes_fail(&self, fail: bool) {
        self.deletes_fail.store(fail, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl konnecs::ports::ObjectStore for ObjectsThatGoDown {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> Result<Option<konnecs::ports::StoredObject>, konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.get(key).await
    }
    async fn open(&self, key: &str) -> Result<Option<konnecs::ports::ObjectReader>, konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.open(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.exists(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.check(&self.deletes_fail)?;
        self.inner.delete(key).await
    }
    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.start_upload(key, content_type).await
    }
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<konnecs::ports::UploadedPart, konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.upload_part(key, upload_id, number, bytes).await
    }
    async fn complete_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[konnecs::ports::UploadedPart],
    ) -> Result<(), konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.complete_upload(key, upload_id, parts).await
    }
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.abort_upload(key, upload_id).await
    }
    async fn download_url(
        &self,
        key: &str,
        filename: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, konnecs::ports::ObjectError> {
        self.check(&self.down)?;
        self.inner.download_url(key, filename, ttl).await
    }
}

/// `w`'s state with an object store that can go down.
fn with_outages(w: &World) -> (AppState, Arc<ObjectsThatGoDown>) {
    let objects = Arc::new(ObjectsThatGoDown {
        inner: w.state.objects.clone(),
        down: Default::default(),
        deletes_fail: Default::default(),
    });
    let state = AppState {
        objects: objects.clone(),
        ..w.state.clone()
    };
    (state, objects)
}

#[tokio::test]
async fn on_the_queues_last_try_a_failing_import_is_marked_failed_and_a_finished_one_stays_done() {
    let w = world();
    let b = signup(&w, "dana@whitfield-dental.example").await;
    let actor = actor_of(&w, &b).await;
    let org = actor.org_id.clone();
    let (state, objects) = with_outages(&w);

    // An import part-way through when the object store goes down.
    let running = imports::create(&state, &actor, generated(75).into_bytes(), ImportOptions::default())
        .await
        .unwrap();
    let budget = Budget {
        max_rows: Some(30),
        deadline: None,
    };
    let partial = imports::process(&state, &org, &running.id, budget).await.unwrap();
    assert_eq!(partial.state, ImportState::Running);
    objects.set_down(true);

    // The jobs worker's tries of the import's message, as the queue counts
    // them: all but the last fail and leave the import to the next one.
    let message = |receive_count| konnecs::inbound::events::Message {
        message_id: "m-1".into(),
        body: serde_json::to_string(&Job::ImportContacts {
            org_id: org.clone(),
            import_id: running.id.clone(),
        })
        .unwrap(),
        receive_count,
    };
    let max = konnecs::catalogue::QueueName::Bulk.max_receives();
    for try_number in 1..max {
        let outcome = konnecs::inbound::events::jobs::consume_bulk(state.clone(), vec![message(try_number)]).await;
        assert_eq!(outcome.failed, ["m-1"], "delivered again");
        let still = imports::get(&state, &org, &running.id).await.unwrap();
        assert_eq!(
            (still.state, still.rows_done),
            (ImportState::Running, partial.rows_done)
        );
    }

    // The last try fails too: the import says so, and keeps its rows.
    let outcome = konnecs::inbound::events::jobs::consume_bulk(state.clone(), vec![message(max)]).await;
    assert_eq!(
        outcome.failed,
        ["m-1"],
        "the queue still sees the failure (its dead-letter queue)"
    );
    let failed = imports::get(&state, &org, &running.id).await.unwrap();
    assert_eq!(
        (failed.state, failed.rows_done),
        (ImportState::Failed, partial.rows_done)
    );
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("rows done so far are kept")
    );
    assert_eq!(all_contacts(&state, &org).await.len() as u64, partial.rows_done);
    let reply = call(&w, &b, "GET", &format!("/imports/{}", running.id), None).await;
    assert_eq!(reply.body["state"], "failed", "{}", reply.body);

    // A finished import whose file clean-up fails on the last try stays done.
    objects.set_down(false);
    let finished = imports::create(&state, &actor, generated(20).into_bytes(), ImportOptions::default())
        .await
        .unwrap();
    let done = imports::process(&state, &org, &finished.id, Budget::UNLIMITED)
        .await
        .unwrap();
    assert_eq!(done.state, ImportState::Done);
    objects.set_down(true);
    let last = imports::run_job(&state, &org, &finished.id, &Delivery::starting_now(true)).await;
    assert!(matches!(last, Err(imports::ImportError::Objects(_))), "{last:?}");
    let after = imports::get(&state, &org, &finished.id).await.unwrap();
    assert_eq!(
        (after.state, after.rows_done, after.error),
        (ImportState::Done, 20, None)
    );
}

#[tokio::test]
async fn on_the_queues_last_try_a_failing_export_is_marked_failed_and_a_finished_one_stays_done() {
    use konnecs::services::exports::job::{self, Budget, ExportError, ExportState};
    let w = world();
    let (b, org, export) = csv_export_of(&w, 150).await;
    let (state, objects) = with_outages(&w);
    let one_page = Budget {
        part_bytes: 1_000_000,
        deadline: None,
        max_pages: Some(1),
    };
    let (partial, _) = job::process(&state, &OrgId::from(&org), &export.id, one_page)
        .await
        .unwrap();
    assert_eq!((partial.state, partial.rows_done), (ExportState::Running, 100));
    objects.set_down(true);

    // An earlier try fails: the export waits for the queue's next try.
    let retry = job::run_job(&state, &OrgId::from(&org), &export.id, &Delivery::starting_now(false)).await;
    assert!(matches!(retry, Err(ExportError::Objects(_))), "{retry:?}");
    let still = job::get(&state, &OrgId::from(&org), &export.id).await.unwrap();
    assert_eq!((still.state, still.rows_done), (ExportState::Running, 100));

    // The last try comes after the failed try's lease and fails too.
    after_the_lease(&w);
    let last = job::run_job(&state, &OrgId::from(&org), &export.id, &Delivery::starting_now(true)).await;
    assert!(last.is_err(), "the queue still sees the failure");
    let failed = job::get(&state, &OrgId::from(&org), &export.id).await.unwrap();
    assert_eq!(failed.state, ExportState::Failed);
    assert_eq!(
        failed.error.as_deref(),
        Some("The export could not be finished; start it again.")
    );
    assert_eq!(failed.lease_until, None);

    // A last try whose export is finished by the time it fails leaves it
    // done: here the export's last slice writes the file and marks it done,
    // then fails to delete the staged rows it no longer needs.
    objects.set_down(false);
    let (actor, source) = (actor_of(&w, &b).await, export.source.clone());
    let finishing = job::create(&state, &actor, source).await.unwrap();
    let (staged, _) = job::process(&state, &OrgId::from(&org), &finishing.id, one_page)
        .await
        .unwrap();
    assert!(staged.staged.is_some() && staged.lease_until.is_none());
    objects.deletes_fail(true);
    let last = job::run_job(&state, &OrgId::from(&org), &finishing.id, &Delivery::starting_now(true)).await;
    assert!(matches!(last, Err(ExportError::Objects(_))), "{last:?}");
    let after = job::get(&state, &OrgId::from(&org), &finishing.id).await.unwrap();
    assert_eq!(
        (after.state, after.rows_done, after.error),
        (ExportState::Done, 150, None)
    );
    objects.deletes_fail(false);
    let direct = call(&w, &b, "GET", "/contacts/export?format=csv", None).await.bytes;
    assert_eq!(export_file(&state, &org, &finishing.id).await.1, direct);
}
