//! The one-time Google Contacts import against a mock People API
//! (`people.connections.list` in its documented shapes): started by the
//! member only, read page by page into the contacts importer's pipeline
//! (the same dedupe by normalised email and phone as a CSV), progress on
//! the import, audited at start and end; redelivered jobs add nothing, a
//! broken or disconnected connection makes no call, nothing else ever
//! reads the member's contacts, and another organization sees none of it.

use http::StatusCode;
use jiff::SignedDuration;
use konnecs::catalogue::{Trigger, entries};
use konnecs::domain::ids::OrgId;
use konnecs::services::jobs::{Job, enqueue};
use konnecs_tests::app::{Member, START, Store, TestApp};
use konnecs_tests::google::{ACCESS_TOKEN, MockGoogle, param, person, query_of, with_google};
use konnecs_tests::on_both_stores;
use serde_json::{Value, json};

const GRANTED: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/contacts.readonly";
const CALENDAR_ONLY: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events";

async fn google_app(store: Store, google: &MockGoogle) -> (TestApp, Member) {
    let mut app = TestApp::on(store, START).await;
    let state = with_google(&app.state, &google.uri());
    app.replace_state(state);
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    (app, owner)
}

async fn connect(app: &TestApp, who: &Member, features: Value) {
    let reply = app
        .send(
            &who.browser,
            "POST",
            "/integrations/google/connect",
            Some(&json!({ "features": features })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let state = param(&query_of(reply.body["url"].as_str().expect("url")), "state").expect("state");
    let back = app
        .send(
            &who.browser,
            "GET",
            &format!("/app/settings/integrations/google/callback?state={state}&code=4%2F0AeanS0b"),
            None,
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
}

async fn start_import(app: &TestApp, who: &Member, body: Value) -> konnecs_tests::http::Reply {
    app.send(
        &who.browser,
        "POST",
        "/integrations/google/contacts/import",
        Some(&body),
    )
    .await
}

async fn import_of(app: &TestApp, who: &Member, id: &str) -> Value {
    let reply = app.send(&who.browser, "GET", &format!("/imports/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn contacts(app: &TestApp, who: &Member) -> Vec<Value> {
    let reply = app.send(&who.browser, "GET", "/contacts?limit=200", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["contacts"].as_array().expect("contacts").clone()
}

async fn audit_actions(app: &TestApp, who: &Member) -> Vec<String> {
    let reply = app.send(&who.browser, "GET", "/org/audit", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

fn emails_of(contact: &Value) -> Vec<String> {
    contact["emails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["address"].as_str().map(str::to_owned))
        .collect()
}

/// Dana's Google contacts, two pages: Alice (new), Sam (his address is
/// already a contact, in other letters), Bob (his number already is, typed
/// differently and without Google's canonical form), Carol (a name only),
/// and an empty entry (nothing to import it by).
fn two_pages() -> Vec<Vec<Value>> {
    vec![
        vec![
            person(
                "people/c1001",
                Some(("Alice", "Ng")),
                &["alice.ng@example.com", "alice@work.example"],
                &[("(415) 555-2671", Some("+14155552671"))],
            ),
            person("people/c1002", Some(("Sam", "Lee")), &["Sam.Lee@Example.COM"], &[]),
            person(
                "people/c1003",
                Some(("Bob", "Hart")),
                &[],
                &[("+44 20 7946 0958", None)],
            ),
        ],
        vec![
            person("people/c1004", Some(("Carol", "Smith")), &[], &[]),
            person("people/c1005", None, &[], &[]),
        ],
    ]
}

async fn existing_contacts(app: &TestApp, who: &Member) {
    for body in [
        json!({"first_name": "Samuel", "emails": ["sam.lee@example.com"], "source": "website"}),
        json!({"first_name": "Robert", "phones": ["+442079460958"]}),
    ] {
        let reply = app.send(&who.browser, "POST", "/contacts", Some(&body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
}

async fn the_import_creates_contacts_deduped_like_a_csv_across_pages_and_is_audited(store: Store) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_people(two_pages()).await;
    let (app, dana) = google_app(store, &google).await;
    existing_contacts(&app, &dana).await;
    connect(&app, &dana, json!(["contacts"])).await;
    assert!(
        google.people_requests().await.is_empty(),
        "connecting reads no contacts"
    );

    let started = start_import(&app, &dana, json!({})).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
    assert_eq!(started.body["source"], "google_contacts");
    assert_eq!(started.body["state"], "uploading");
    let id = started.body["id"].as_str().expect("id").to_owned();
    assert!(
        google.people_requests().await.is_empty(),
        "the job reads them, not the request"
    );

    app.drain_jobs().await;
    let done = import_of(&app, &dana, &id).await;
    assert_eq!(
        (
            &done["state"],
            &done["rows_total"],
            &done["rows_done"],
            &done["created"],
            &done["skipped"],
            &done["failed"]
        ),
        (&json!("done"), &json!(5), &json!(5), &json!(2), &json!(2), &json!(1)),
        "{done}"
    );
    assert_eq!(done["google_pages_read"], 2);

    // Two pages, each asked for once, with only the three fields, a bounded
    // page, the member's access token, and the first page's token for the second.
    let calls = google.people_requests().await;
    assert_eq!(calls.len(), 2);
    for call in &calls {
        let query: Vec<(String, String)> = call.url.query_pairs().into_owned().collect();
        assert_eq!(
            param(&query, "personFields").as_deref(),
            Some("names,emailAddresses,phoneNumbers")
        );
        let size: u32 = param(&query, "pageSize").expect("pageSize").parse().expect("number");
        assert!((1..=1000).contains(&size), "{size}");
        assert!(param(&query, "requestSyncToken").is_none());
        assert_eq!(
            call.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some(format!("Bearer {ACCESS_TOKEN}").as_str())
        );
    }
    let token_of = |i: usize| {
        let query: Vec<(String, String)> = calls[i].url.query_pairs().into_owned().collect();
        param(&query, "pageToken")
    };
    assert_eq!((token_of(0), token_of(1).as_deref()), (None, Some("page-1")));

    let all = contacts(&app, &dana).await;
    assert_eq!(all.len(), 4, "two there, two new: {all:#?}");
    let alice = all.iter().find(|c| c["first_name"] == "Alice").expect("Alice");
    assert_eq!(alice["last_name"], "Ng");
    assert_eq!(emails_of(alice), ["alice.ng@example.com", "alice@work.example"]);
    assert_eq!(alice["phones"][0]["e164"], "+14155552671");
    assert_eq!(alice["source"], "Google Contacts");
    let carol = all.iter().find(|c| c["first_name"] == "Carol").expect("Carol");
    assert_eq!(
        (&carol["last_name"], &carol["source"]),
        (&json!("Smith"), &json!("Google Contacts"))
    );
    // Skip mode: the contacts already here are as they were.
    let samuel = all.iter().find(|c| c["first_name"] == "Samuel").expect("Samuel");
    assert_eq!(
        (emails_of(samuel), &samuel["source"]),
        (vec!["sam.lee@example.com".to_string()], &json!("website"))
    );
    assert!(all.iter().all(|c| c["first_name"] != "Sam" && c["first_name"] != "Bob"));

    // The row Google had nothing for is in the error report.
    let errors = app
        .send(&dana.browser, "GET", &format!("/imports/{id}/errors.csv"), None)
        .await;
    assert_eq!(errors.status, StatusCode::OK);

    let actions = audit_actions(&app, &dana).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "google.contacts_import.started")
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "google.contacts_import.finished")
            .count(),
        1,
        "{actions:?}"
    );

    // Imported again in update mode: the same people are found (by email,
    // phone, or the Google contact itself), none twice; the existing ones
    // gain what Google knows of them.
    let again = start_import(&app, &dana, json!({"mode": "update"})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    app.drain_jobs().await;
    let second = import_of(&app, &dana, again.body["id"].as_str().expect("id")).await;
    assert_eq!(
        (&second["state"], &second["created"], &second["failed"]),
        (&json!("done"), &json!(0), &json!(1)),
        "{second}"
    );
    let all = contacts(&app, &dana).await;
    assert_eq!(all.len(), 4, "nobody twice: {all:#?}");
    let robert = all
        .iter()
        .find(|c| c["phones"][0]["e164"] == "+442079460958")
        .expect("Robert");
    assert_eq!(
        (&robert["first_name"], &robert["last_name"]),
        (&json!("Bob"), &json!("Hart"))
    );
}

async fn a_redelivered_job_adds_nothing_and_a_finished_import_reads_google_no_more(store: Store) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_people(two_pages()).await;
    let (app, dana) = google_app(store, &google).await;
    connect(&app, &dana, json!(["contacts"])).await;
    let started = start_import(&app, &dana, json!({})).await;
    let id = started.body["id"].as_str().expect("id").to_owned();
    let job = Job::ImportGoogleContacts {
        org_id: OrgId::from(dana.org_id.as_str()),
        import_id: id.clone(),
    };
    // The queue delivers the job three more times (at least once means
    // more than once sometimes), also while the first copy is queued.
    enqueue(&app.state, &[job.clone(), job.clone(), job.clone()])
        .await
        .expect("enqueue");
    app.drain_jobs().await;
    let done = import_of(&app, &dana, &id).await;
    assert_eq!(
        (&done["state"], &done["created"], &done["rows_total"]),
        (&json!("done"), &json!(4), &json!(5)),
        "{done}"
    );
    assert_eq!(contacts(&app, &dana).await.len(), 4);
    let reads = google.people_requests().await.len();
    assert!(reads >= 2, "{reads}");

    // Delivered again after it finished: no call, no contact, no second audit entry.
    enqueue(&app.state, &[job]).await.expect("enqueue");
    app.drain_jobs().await;
    assert_eq!(google.people_requests().await.len(), reads);
    assert_eq!(contacts(&app, &dana).await.len(), 4);
    let finished = audit_actions(&app, &dana)
        .await
        .into_iter()
        .filter(|a| a == "google.contacts_import.finished")
        .count();
    assert_eq!(finished, 1);
}

on_both_stores!(
    the_import_creates_contacts_deduped_like_a_csv_across_pages_and_is_audited,
    a_redelivered_job_adds_nothing_and_a_finished_import_reads_google_no_more,
);

#[tokio::test]
async fn a_slice_cut_short_resumes_at_the_stored_page_token() {
    use konnecs::services::google::contacts::run_job;
    use konnecs::services::jobs::Delivery;
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_people(two_pages()).await;
    let (app, dana) = google_app(Store::Sqlite, &google).await;
    connect(&app, &dana, json!(["contacts"])).await;
    let started = start_import(&app, &dana, json!({})).await;
    let id = started.body["id"].as_str().expect("id").to_owned();
    // A delivery whose batch has no time left past the first page: that
    // page is read (a delivery always moves the import on), and the job
    // is queued again.
    let short = Delivery {
        deadline: std::time::Instant::now(),
        last_attempt: false,
    };
    let org_id = OrgId::from(dana.org_id.as_str());
    run_job(&app.state, &org_id, &id, &short).await.expect("first slice");
    let after_one = import_of(&app, &dana, &id).await;
    assert_eq!(
        (
            &after_one["state"],
            &after_one["google_pages_read"],
            &after_one["rows_total"]
        ),
        (&json!("uploading"), &json!(1), &json!(3))
    );
    assert_eq!(google.people_requests().await.len(), 1);
    // The same message delivered again goes on from the stored token.
    app.drain_jobs().await;
    let calls = google.people_requests().await;
    let tokens: Vec<Option<String>> = calls
        .iter()
        .map(|c| {
            let query: Vec<(String, String)> = c.url.query_pairs().into_owned().collect();
            param(&query, "pageToken")
        })
        .collect();
    assert_eq!(tokens, [None, Some("page-1".to_string())], "each page read once");
    let done = import_of(&app, &dana, &id).await;
    assert_eq!((&done["state"], &done["created"]), (&json!("done"), &json!(4)));
}

#[tokio::test]
async fn without_contacts_access_the_import_is_refused_and_google_is_not_called() {
    let google = MockGoogle::start(CALENDAR_ONLY, MockGoogle::refreshed(CALENDAR_ONLY)).await;
    google.serve_people(two_pages()).await;
    let (app, dana) = google_app(Store::Sqlite, &google).await;
    // Not connected at all.
    let refused = start_import(&app, &dana, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["code"], "google_contacts_not_enabled");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Settings → Integrations")
    );
    // Connected for the calendar only.
    connect(&app, &dana, json!(["calendar"])).await;
    let refused = start_import(&app, &dana, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["code"], "google_contacts_not_enabled");
    // A mode that is not one is a field error.
    let bad = start_import(&app, &dana, json!({"mode": "merge"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    app.drain_jobs().await;
    assert!(google.people_requests().await.is_empty());
    assert!(contacts(&app, &dana).await.is_empty());
}

#[tokio::test]
async fn a_connection_broken_or_disconnected_after_the_start_stops_the_import_without_a_call() {
    // Broken: the access token expired and Google refuses the refresh.
    let google = MockGoogle::start(GRANTED, MockGoogle::invalid_grant()).await;
    google.serve_people(two_pages()).await;
    let (app, dana) = google_app(Store::Sqlite, &google).await;
    connect(&app, &dana, json!(["contacts"])).await;
    let started = start_import(&app, &dana, json!({})).await;
    let id = started.body["id"].as_str().expect("id").to_owned();
    app.advance(SignedDuration::from_hours(2));
    app.drain_jobs().await;
    let stopped = import_of(&app, &dana, &id).await;
    assert_eq!(stopped["state"], "failed", "{stopped}");
    assert!(
        stopped["error"]
            .as_str()
            .unwrap_or_default()
            .contains("Connect it again"),
        "{stopped}"
    );
    assert!(google.people_requests().await.is_empty());
    // A broken connection refuses a new import before any job.
    let refused = start_import(&app, &dana, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.body["code"], "google_contacts_not_enabled");

    // Disconnected between the start and the job.
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_people(two_pages()).await;
    let (app, dana) = google_app(Store::Sqlite, &google).await;
    connect(&app, &dana, json!(["contacts"])).await;
    let started = start_import(&app, &dana, json!({})).await;
    let id = started.body["id"].as_str().expect("id").to_owned();
    let gone = app.send(&dana.browser, "DELETE", "/integrations/google", None).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.body);
    let calls_before = google.requests().await.len();
    app.drain_jobs().await;
    let stopped = import_of(&app, &dana, &id).await;
    assert_eq!(stopped["state"], "failed", "{stopped}");
    assert_eq!(
        google.requests().await.len(),
        calls_before,
        "nothing calls Google after the disconnect"
    );
    assert!(contacts(&app, &dana).await.is_empty());
    let actions = audit_actions(&app, &dana).await;
    assert!(
        actions.contains(&"google.contacts_import.finished".to_string()),
        "{actions:?}"
    );
}

/// Every scheduled task of the catalogue, and the queues run dry after it.
async fn run_every_schedule(app: &TestApp) {
    for entry in entries() {
        if let Trigger::Schedule { tick, .. } = entry.trigger {
            tick(app.state.clone())
                .await
                .unwrap_or_else(|err| panic!("{}: {err}", entry.name));
        }
    }
    app.drain_jobs().await;
    app.drain_reminders().await;
}

#[tokio::test]
async fn nothing_reads_google_contacts_without_the_member_starting_an_import() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_people(two_pages()).await;
    let (app, mut dana) = google_app(Store::Sqlite, &google).await;
    connect(&app, &dana, json!(["contacts"])).await;
    // A week of every scheduled task, hour by hour, with the member
    // signing in and opening their pages each day: no People API call.
    for hour in 0..(24 * 7) {
        run_every_schedule(&app).await;
        if hour % 24 == 0 {
            dana = app.sign_in(&dana.email).await;
            let page = app.send(&dana.browser, "GET", "/app/settings/integrations", None).await;
            assert_eq!(page.status, StatusCode::OK);
            let status = app.send(&dana.browser, "GET", "/integrations/google", None).await;
            assert_eq!(status.body["state"], "connected");
        }
        app.advance(SignedDuration::from_hours(1));
    }
    assert!(google.people_requests().await.is_empty());

    // After an import, the same: it read its pages once, and nothing again.
    let dana = app.sign_in(&dana.email).await;
    let started = start_import(&app, &dana, json!({})).await;
    assert_eq!(started.status, StatusCode::ACCEPTED);
    app.drain_jobs().await;
    let reads = google.people_requests().await.len();
    assert_eq!(reads, 2);
    for _ in 0..48 {
        run_every_schedule(&app).await;
        app.advance(SignedDuration::from_hours(1));
    }
    assert_eq!(google.people_requests().await.len(), reads);
}

#[tokio::test]
async fn another_organization_sees_nothing_of_the_import() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_people(two_pages()).await;
    let (app, dana) = google_app(Store::Sqlite, &google).await;
    connect(&app, &dana, json!(["contacts"])).await;
    let started = start_import(&app, &dana, json!({})).await;
    let id = started.body["id"].as_str().expect("id").to_owned();
    app.drain_jobs().await;
    let other = app.sign_up(&app.fresh_email("other"), "Harbour Physio").await;
    for path in [
        format!("/imports/{id}"),
        format!("/imports/{id}/errors.csv"),
        format!("/app/imports/{id}"),
    ] {
        let reply = app.send(&other.browser, "GET", &path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.body);
    }
    assert!(contacts(&app, &other).await.is_empty());
    // The other organization's member has no Google connection: no import.
    let refused = start_import(&app, &other, json!({})).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let page = app
        .send(&other.browser, "GET", "/app/settings/integrations", None)
        .await;
    assert!(
        !String::from_utf8_lossy(&page.bytes).contains(&id),
        "another organization's page names no import of Dana's"
    );
    assert_eq!(contacts(&app, &dana).await.len(), 4);
}
