//! Deleting an organization (`/org/deletion`) and its purge after the grace
//! window: the privacy policy's "we will remove your personal data and
//! organization data within 30 days", on both stores, read back from the
//! raw store.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use http::StatusCode;
use jiff::SignedDuration;
use konnecs::domain::ids::OrgId;
use konnecs::domain::role::Role;
use konnecs::ports::Table;
use konnecs::services::jobs::{self, Job};
use konnecs::services::orgs::deletion::GRACE_DAYS;
use konnecs::services::orgs::purge::{self, Slice};
use konnecs_tests::app::{Member, PASSWORD, START, Store, TestApp, expect, problem};
use konnecs_tests::google::{MockGoogle, param, query_of, with_google};
use konnecs_tests::on_both_stores;
use konnecs_tests::practice::texting_guest;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GRANTED: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events";
const SUBSCRIPTION: &str = "sub_1PurgeWhitfield";
const CUSTOMER: &str = "cus_PurgeWhitfield";

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x50, 0x5a, 0x55, 0x0e, 0x00, 0x02, 0x35, 0x01, 0x44, 0xa2, 0x8a, 0x4c, 0x69,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Where the raw items are read from, for the assertions over the whole store.
enum Raw {
    Sqlite(std::path::PathBuf),
    Dynamodb(aws_sdk_dynamodb::Client, String),
}

/// One stored item: its key and its whole text.
#[derive(Debug, Clone, PartialEq)]
struct RawItem {
    pk: String,
    sk: String,
    text: String,
    expires_at: Option<i64>,
}

impl Raw {
    async fn dump(&self) -> Vec<RawItem> {
        match self {
            Raw::Sqlite(file) => {
                let conn = rusqlite::Connection::open(file).expect("open the store");
                let mut statement = conn
                    .prepare("SELECT pk, sk, item, expires_at FROM items ORDER BY pk, sk")
                    .expect("prepare");
                statement
                    .query_map([], |row| {
                        Ok(RawItem {
                            pk: row.get(0)?,
                            sk: row.get(1)?,
                            text: row.get(2)?,
                            expires_at: row.get(3)?,
                        })
                    })
                    .expect("query")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("rows")
            }
            Raw::Dynamodb(client, table) => {
                // A Scan, in a test only: the product never scans.
                let mut items = Vec::new();
                let mut start = None;
                loop {
                    let page = client
                        .scan()
                        .table_name(table)
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .expect("scan");
                    for item in page.items() {
                        let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                        items.push(RawItem {
                            pk: s("pk"),
                            sk: s("sk"),
                            text: attributes(item).to_string(),
                            expires_at: item
                                .get("expires_at")
                                .and_then(|v| v.as_n().ok())
                                .and_then(|n| n.parse().ok()),
                        });
                    }
                    start = page.last_evaluated_key().cloned();
                    if start.is_none() {
                        return items;
                    }
                }
            }
        }
    }
}

/// A DynamoDB item as JSON with sorted keys, so equal items read equal.
fn attributes(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn one(value: &A) -> Value {
        match value {
            A::S(s) => json!(s),
            A::N(n) => json!(n),
            A::Bool(b) => json!(b),
            A::Null(_) => Value::Null,
            A::L(list) => Value::Array(list.iter().map(one).collect()),
            A::M(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), one(v))).collect()),
            A::Ss(set) => {
                let mut set = set.clone();
                set.sort();
                json!(set)
            }
            other => json!(format!("{other:?}")),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), one(v))).collect())
}

async fn world(store: Store, google: &MockGoogle, stripe: &MockServer) -> (TestApp, Raw) {
    let (mut app, raw) = match store {
        Store::Sqlite => {
            let app = TestApp::on(store, START).await;
            let file = app.data_dir().join("konnecs.sqlite3");
            (app, Raw::Sqlite(file))
        }
        _ => {
            let (client, name) = konnecs_tests::aws::unique_table().await;
            let clock = konnecs::ports::TestClock::at(START.parse().expect("start"));
            let (mut state, dir) = konnecs_tests::local::temp_state_with_clock(Arc::new(clock.clone()));
            let table: Arc<dyn Table> = Arc::new(konnecs::adapters::aws::dynamodb::DynamoTable::new(
                client.clone(),
                name.clone(),
                Arc::new(clock.clone()),
            ));
            state.mailer = Arc::new(konnecs::adapters::outbox::OutboxMailer::new(
                table.clone(),
                Arc::new(clock.clone()),
                state.config.mail_from.clone(),
            ));
            state.sms = Arc::new(konnecs::adapters::outbox::OutboxSms::new(
                table.clone(),
                Arc::new(clock.clone()),
                konnecs::app::OUTBOX_SMS_SENDER.into(),
            ));
            state.table = table;
            (TestApp::with(state, clock, dir), Raw::Dynamodb(client, name))
        }
    };
    let mut state = with_google(&app.state, &google.uri());
    let mut config = (*state.config).clone();
    config.stripe = Some(konnecs::config::StripeConfig {
        secret_key: "sk_test_51Konnecs".to_string().into(),
        webhook_signing_secret: "whsec_test_4f1c9a0b7d2e".to_string().into(),
    });
    config.stripe_base_url = stripe.uri();
    state.payments = konnecs::app::payments(&config);
    state.config = Arc::new(config);
    app.replace_state(state);
    (app, raw)
}

async fn send(
    app: &TestApp,
    who: &Member,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> konnecs_tests::http::Reply {
    app.send(&who.browser, method, path, body.as_ref()).await
}

#[track_caller]
fn created(reply: &konnecs_tests::http::Reply) -> Value {
    assert!(reply.status.is_success(), "{}: {}", reply.status, reply.body);
    reply.body.clone()
}

/// What the practice built, for the checks.
struct Built {
    booking_page: String,
    form_public_id: String,
}

/// A live Pro subscription, as Stripe's webhooks leave it.
async fn subscribe(app: &TestApp, owner: &Member) {
    let org = owner.org_id.clone();
    let billing = json!({
        "pk": format!("ORG#{org}"), "sk": "BILLING", "org_id": org, "customer_id": CUSTOMER,
        "subscription_id": SUBSCRIPTION, "plan": "pro", "status": "active", "version": 1,
    });
    let customer = json!({"pk": format!("STRIPECUSTOMER#{CUSTOMER}"), "sk": "ORG", "org_id": org});
    for item in [billing, customer] {
        let Value::Object(item) = item else { unreachable!() };
        app.state.table.put(item, None).await.expect("billing item");
    }
}

/// Data of the organization in every family the product has.
async fn fill(app: &TestApp, owner: &Member) -> Built {
    // Contacts: tags, a custom field, a note, a saved view, a pipeline and a deal.
    created(
        &send(
            app,
            owner,
            "POST",
            "/fields",
            Some(json!({"label": "Nickname", "type": "text"})),
        )
        .await,
    );
    let contact = created(
        &send(
            app,
            owner,
            "POST",
            "/contacts",
            Some(
                json!({"first_name": "Maria", "last_name": "Purgeable", "emails": ["maria.purgeable@example.com"],
                "phones": ["+14155550123"], "tags": ["vip", "spring"]}),
            ),
        )
        .await,
    );
    let contact_id = contact["id"].as_str().expect("contact id").to_string();
    created(
        &send(
            app,
            owner,
            "POST",
            &format!("/contacts/{contact_id}/notes"),
            Some(json!({"body": "Prefers mornings"})),
        )
        .await,
    );
    created(
        &send(
            app,
            owner,
            "POST",
            "/contacts/views",
            Some(json!({"name": "VIP", "filters": {"tag": "vip"}})),
        )
        .await,
    );
    let pipeline = created(
        &send(
            app,
            owner,
            "POST",
            "/pipelines",
            Some(json!({"name": "New patients", "stages": [{"name": "Lead", "probability": 10}, {"name": "Won", "probability": 100}]})),
        )
        .await,
    );
    created(
        &send(
            app,
            owner,
            "POST",
            "/deals",
            Some(
                json!({"title": "Implants", "contact_id": contact_id, "pipeline_id": pipeline["id"],
                "stage_id": pipeline["stages"][0]["id"], "value": 120000, "currency": "USD"}),
            ),
        )
        .await,
    );
    // Webhooks, with a delivery in their log.
    let receiver = super::webhooks::Receiver::start(&[], 200).await;
    super::webhooks::add_endpoint(app, owner, &receiver.url, &["contact.created"]).await;
    super::webhooks::create_contact(app, owner, "ann.purgeable@example.com").await;
    // Scheduling: a schedule, an event type, a booking with texts and reminders.
    let day = json!([{"start": "08:00", "end": "18:00"}]);
    let weekly: serde_json::Map<String, Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .into_iter()
    .map(|d| (d.to_string(), day.clone()))
    .collect();
    let schedule = created(
        &send(
            app,
            owner,
            "POST",
            "/schedules",
            Some(json!({"name": "Surgery hours", "time_zone": "Europe/London", "weekly": weekly})),
        )
        .await,
    );
    let event = created(
        &send(
            app,
            owner,
            "POST",
            "/event-types",
            Some(
                json!({"title": "Cleaning", "slug": "cleaning", "durations": [30], "schedule_id": schedule["id"],
                "location": {"kind": "in_person", "address": "12 High St, Leeds"}}),
            ),
        )
        .await,
    );
    let org_view = created(&send(app, owner, "GET", "/org", None).await);
    let booking_page = format!(
        "/public/booking/{}/{}",
        org_view["slug"].as_str().expect("slug"),
        event["slug"].as_str().expect("event slug")
    );
    let mut booking = texting_guest(
        "Zoe Purgeable",
        "zoe.purgeable@example.com",
        "Europe/London",
        "+14155550188",
    );
    booking["start"] = json!("2026-11-26T10:00:00Z");
    created(
        &app.send_anonymous("POST", &format!("{booking_page}/bookings"), Some(&booking))
            .await,
    );
    // Forms, with a submission.
    let form = created(
        &send(
            app,
            owner,
            "POST",
            "/forms",
            Some(json!({"title": "Request a quote", "fields": [
                {"key": "name", "kind": "short_text", "label": "Your name", "required": true},
                {"key": "email", "kind": "email", "label": "Email", "required": true}],
                "thank_you_message": "Thanks."})),
        )
        .await,
    );
    let form_public_id = form["public_id"].as_str().expect("public id").to_string();
    let page = app.send_anonymous("GET", &format!("/f/{form_public_id}"), None).await;
    let html = String::from_utf8_lossy(&page.bytes).to_string();
    let needle = "name=\"rendered\" value=\"";
    let at = html.find(needle).expect("render stamp") + needle.len();
    let rendered = html[at..].split('"').next().expect("stamp").to_string();
    app.advance(SignedDuration::from_secs(8));
    created(
        &app.send_anonymous(
            "POST",
            &format!("/public/forms/{form_public_id}/submissions"),
            Some(&json!({"answers": {"name": "Lia Purgeable", "email": "lia.purgeable@example.com"}, "rendered": rendered})),
        )
        .await,
    );
    // An import (its file) and an export (its file).
    let mut upload = owner.browser.request("POST", "/imports/contacts?tags=imported", None);
    *upload.body_mut() = Body::from("first_name,email\nIda,ida.purgeable@example.com\n");
    upload
        .headers_mut()
        .insert("content-type", "text/csv".parse().expect("header"));
    created(&app.request(upload).await);
    app.drain_jobs().await;
    created(&send(app, owner, "POST", "/contacts/exports", Some(json!({"format": "csv"}))).await);
    app.drain_jobs().await;
    // The owner's photo, a pending invitation, a Google connection.
    let mut photo = owner.browser.request("PUT", "/me/photo", None);
    *photo.body_mut() = Body::from(PNG.to_vec());
    photo
        .headers_mut()
        .insert("content-type", "image/png".parse().expect("header"));
    created(&app.request(photo).await);
    created(
        &send(
            app,
            owner,
            "POST",
            "/org/invitations",
            Some(json!({"email": "pending.purgeable@example.com", "role": "member"})),
        )
        .await,
    );
    let connect = created(
        &send(
            app,
            owner,
            "POST",
            "/integrations/google/connect",
            Some(json!({"features": ["calendar"]})),
        )
        .await,
    );
    let params = query_of(connect["url"].as_str().expect("url"));
    let back = format!(
        "/app/settings/integrations/google/callback?state={}&code=4%2F0AeanS0bcode&scope=email",
        param(&params, "state").expect("state")
    );
    let reply = app.send(&owner.browser, "GET", &back, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    app.drain_jobs().await;
    Built {
        booking_page,
        form_public_id,
    }
}

fn live(items: Vec<RawItem>, now: i64) -> Vec<RawItem> {
    // Expired items are invisible to every read and physically removed by
    // the TTL (DynamoDB) or the hourly sweep (embedded).
    items
        .into_iter()
        .filter(|item| item.expires_at.is_none_or(|at| at > now))
        .collect()
}

async fn a_deleted_organization_is_purged_completely_and_only_it(store: Store) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let stripe = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1/subscriptions/{SUBSCRIPTION}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": SUBSCRIPTION, "status": "canceled"})))
        .expect(1)
        .mount(&stripe)
        .await;
    let (app, raw) = world(store, &google, &stripe).await;

    // The other organization, whose owner is also an admin of the deleted one.
    let bea = app.sign_up("bea.keeps@other.example", "Other Dental").await;
    let kept_contact = created(
        &send(
            &app,
            &bea,
            "POST",
            "/contacts",
            Some(json!({"first_name": "Kept", "emails": ["kept@other.example"], "tags": ["vip"]})),
        )
        .await,
    );

    let dana = app
        .sign_up("dana.purgeable@whitfield.example", "Whitfield Dental")
        .await;
    subscribe(&app, &dana).await;
    let sam = app.join(&dana, "sam.purgeable@whitfield.example", Role::Member).await;
    let bea_in_dana = app.join(&dana, "bea.keeps@other.example", Role::Admin).await;
    let built = fill(&app, &dana).await;
    let other_before: Vec<RawItem> = raw
        .dump()
        .await
        .into_iter()
        .filter(|item| item.pk.starts_with(&format!("ORG#{}", bea.org_id)))
        .collect();
    assert!(other_before.len() > 5, "the other organization has data");
    let org_items = raw
        .dump()
        .await
        .into_iter()
        .filter(|item| item.text.contains(&dana.org_id))
        .count();
    assert!(org_items > 40, "data in every family: {org_items} items");

    // The owner asks: the typed name and a password (the sign-in is not recent).
    app.advance(SignedDuration::from_mins(11));
    let wrong_name = json!({"confirm_name": "Whitfield", "password": PASSWORD});
    let reply = send(&app, &dana, "POST", "/org/deletion", Some(wrong_name)).await;
    problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let no_password = json!({"confirm_name": "Whitfield Dental"});
    let reply = send(&app, &dana, "POST", "/org/deletion", Some(no_password)).await;
    problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let reply = send(
        &app,
        &sam,
        "POST",
        "/org/deletion",
        Some(json!({"confirm_name": "Whitfield Dental", "password": PASSWORD})),
    )
    .await;
    problem(&reply, StatusCode::FORBIDDEN, "insufficient_role");
    let revokes_before = google.forms("/revoke").await.len();
    let reply = send(
        &app,
        &dana,
        "POST",
        "/org/deletion",
        Some(json!({"confirm_name": "Whitfield Dental", "password": PASSWORD})),
    )
    .await;
    expect(&reply, StatusCode::ACCEPTED);
    assert_eq!(reply.body["deletion"]["grace_days"], GRACE_DAYS);
    assert_eq!(
        google.forms("/revoke").await.len(),
        revokes_before + 1,
        "Google revoked at once"
    );

    // At once: members are out, public pages gone, the owner sees only the deletion.
    problem(
        &send(&app, &sam, "GET", "/contacts", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    problem(
        &send(&app, &bea_in_dana, "GET", "/contacts", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    problem(
        &send(&app, &dana, "GET", "/contacts", None).await,
        StatusCode::FORBIDDEN,
        "org_closing",
    );
    expect(&send(&app, &dana, "GET", "/org/deletion", None).await, StatusCode::OK);
    expect(
        &app.send_anonymous(
            "GET",
            &format!("{}/slots?from=2026-11-20&to=2026-11-21", built.booking_page),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    );
    expect(
        &app.send_anonymous("GET", &format!("/f/{}", built.form_public_id), None)
            .await,
        StatusCode::NOT_FOUND,
    );
    // Bea signs in to her own organization, untouched.
    let bea_again = app.sign_in("bea.keeps@other.example").await;
    assert_eq!(bea_again.org_id, bea.org_id);

    // Not before the grace window ends.
    assert_eq!(purge::tick(&app.state).await.expect("tick"), 0);
    let org = OrgId::from(dana.org_id.as_str());
    assert_eq!(purge::slice(&app.state, &org, 10).await.expect("slice"), Slice::NotDue);

    app.advance(SignedDuration::from_hours(GRACE_DAYS * 24 + 1));
    // A slice stopped half-way (a crash after some deletes) ...
    assert!(matches!(
        purge::slice(&app.state, &org, 5).await.expect("slice"),
        Slice::More(_)
    ));
    // ... the tick queues the purge once, the queue delivers it twice ...
    assert_eq!(purge::tick(&app.state).await.expect("tick"), 1);
    assert_eq!(purge::tick(&app.state).await.expect("tick"), 0, "queued once");
    // A chain that outlives the tick's requeue age renews its claim, so the
    // tick does not start a second one beside it.
    app.advance(SignedDuration::from_mins(16));
    assert!(matches!(
        purge::run_job(
            &app.state,
            &org,
            std::time::Instant::now(),
            std::time::Duration::from_secs(1)
        )
        .await
        .expect("run"),
        Slice::More(_)
    ));
    assert_eq!(
        purge::tick(&app.state).await.expect("tick"),
        0,
        "a living chain is left alone"
    );
    jobs::enqueue(&app.state, &[Job::PurgeOrganization { org_id: org.clone() }])
        .await
        .expect("enqueue");
    app.drain_jobs().await;
    // ... and a late copy finds nothing left to do.
    assert_eq!(purge::slice(&app.state, &org, 5).await.expect("slice"), Slice::Done);
    app.advance(SignedDuration::from_hours(2));
    assert_eq!(purge::tick(&app.state).await.expect("tick"), 0, "nothing due any more");

    let now = app.now().as_second();
    let everything = live(raw.dump().await, now);
    let kept_markers = ["OUTBOX", "SMSOPTOUT#"];
    let dana_user = &dana.user_id;
    let sam_user = &sam.user_id;
    let personal = [
        dana.org_id.as_str(),
        dana_user.as_str(),
        sam_user.as_str(),
        "purgeable",
        "Purgeable",
        "+14155550123",
        "+14155550188",
        CUSTOMER,
    ];
    let leftovers: Vec<&RawItem> = everything
        .iter()
        .filter(|item| !kept_markers.iter().any(|m| item.pk.starts_with(m)))
        .filter(|item| !(item.pk == format!("ORG#{}", dana.org_id) && item.sk == "PURGED"))
        .filter(|item| personal.iter().any(|p| item.text.contains(p) || item.pk.contains(p)))
        .collect();
    assert!(leftovers.is_empty(), "left of the deleted organization: {leftovers:#?}");
    let tombstone = everything
        .iter()
        .find(|item| item.pk == format!("ORG#{}", dana.org_id))
        .expect("a tombstone");
    assert_eq!(tombstone.sk, "PURGED");
    assert!(!tombstone.text.contains("Whitfield"), "the tombstone names nothing");

    // The other organization's items are exactly as they were.
    let other_after: Vec<RawItem> = everything
        .iter()
        .filter(|item| item.pk.starts_with(&format!("ORG#{}", bea.org_id)))
        .cloned()
        .collect();
    let by_key = |items: &[RawItem]| -> BTreeMap<(String, String), String> {
        items
            .iter()
            .map(|i| ((i.pk.clone(), i.sk.clone()), i.text.clone()))
            .collect()
    };
    let before = by_key(&other_before);
    let after = by_key(&other_after);
    // Bea's own sign-ins since are audit entries; nothing else moved.
    let changed: Vec<_> = before
        .iter()
        .filter(|(key, text)| after.get(*key) != Some(*text))
        .map(|(key, _)| key)
        .collect();
    assert!(changed.is_empty(), "the other organization changed: {changed:?}");
    let bea_again = app.sign_in("bea.keeps@other.example").await;
    assert_eq!(bea_again.org_id, bea.org_id);
    let contact = send(
        &app,
        &bea_again,
        "GET",
        &format!("/contacts/{}", kept_contact["id"].as_str().expect("id")),
        None,
    )
    .await;
    expect(&contact, StatusCode::OK);
    // The user of both organizations keeps their account; the others cannot sign in.
    for gone in ["dana.purgeable@whitfield.example", "sam.purgeable@whitfield.example"] {
        let reply = app
            .send_anonymous(
                "POST",
                "/auth/login",
                Some(&json!({"email": gone, "password": PASSWORD})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{gone}: {}", reply.body);
    }
    // Stripe heard one cancel (the mock's `expect(1)` is checked when it drops).
    drop(stripe);
}

async fn cancelling_within_the_grace_window_restores_access(store: Store) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let stripe = MockServer::start().await;
    let (app, _) = world(store, &google, &stripe).await;
    let dana = app.sign_up("dana@whitfield.example", "Whitfield Dental").await;
    let sam = app.join(&dana, "sam@whitfield.example", Role::Member).await;
    // A sign-in this recent re-authenticates without a password.
    let reply = send(
        &app,
        &dana,
        "POST",
        "/org/deletion",
        Some(json!({"confirm_name": "Whitfield Dental"})),
    )
    .await;
    expect(&reply, StatusCode::ACCEPTED);
    // Sam's session ended; signing in again opens nothing.
    problem(
        &send(&app, &sam, "GET", "/contacts", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let reply = app
        .send_anonymous(
            "POST",
            "/auth/login",
            Some(&json!({"email": "sam@whitfield.example", "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    // Sam cannot cancel; Dana can, within the window.
    app.advance(SignedDuration::from_hours(GRACE_DAYS * 24 - 1));
    let dana = app.sign_in("dana@whitfield.example").await;
    let reply = send(&app, &dana, "DELETE", "/org/deletion", None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    expect(&send(&app, &dana, "GET", "/contacts", None).await, StatusCode::OK);
    let sam = app.sign_in("sam@whitfield.example").await;
    expect(&send(&app, &sam, "GET", "/contacts", None).await, StatusCode::OK);
    // The purge never comes.
    app.advance(SignedDuration::from_hours(48));
    assert_eq!(purge::tick(&app.state).await.expect("tick"), 0);
    let org = OrgId::from(dana.org_id.as_str());
    assert_eq!(purge::slice(&app.state, &org, 10).await.expect("slice"), Slice::NotDue);
    let dana = app.sign_in("dana@whitfield.example").await;
    expect(&send(&app, &dana, "GET", "/org", None).await, StatusCode::OK);
    // Asked again and left past the window: too late to cancel.
    app.advance(SignedDuration::from_mins(11));
    let reply = send(
        &app,
        &dana,
        "POST",
        "/org/deletion",
        Some(json!({"confirm_name": "Whitfield Dental", "password": PASSWORD})),
    )
    .await;
    expect(&reply, StatusCode::ACCEPTED);
    app.advance(SignedDuration::from_hours(GRACE_DAYS * 24));
    // An owner still signs in to a closing organization, to see it.
    let dana = app.sign_in("dana@whitfield.example").await;
    expect(&send(&app, &dana, "GET", "/org/deletion", None).await, StatusCode::OK);
    problem(
        &send(&app, &dana, "DELETE", "/org/deletion", None).await,
        StatusCode::CONFLICT,
        "purge_started",
    );
}

on_both_stores!(
    a_deleted_organization_is_purged_completely_and_only_it,
    cancelling_within_the_grace_window_restores_access,
);
