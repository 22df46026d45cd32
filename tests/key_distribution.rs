//! The key-distribution simulation (`konnecs_tests::keysim`) on a reduced
//! population: one day of 100 organizations and 10,000 bookings through the
//! real key builders, deterministic and without any timing. The full-size
//! day (10,000 organizations, a million bookings) is the `key-sim` binary,
//! reported in BENCHMARKS.md ("Key distribution").

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use http::StatusCode;
use konnecs::catalogue;
use konnecs::ports::{
    BatchOp, Condition, Index, Item, Key, Page, PartialCommit, Query, StoreError, Table, TestClock, Update, WriteOp,
};
use konnecs::services::reminders::SHARDS;
use konnecs_tests::http::Browser;
use konnecs_tests::keysim::report::pattern;
use konnecs_tests::keysim::{self, Config, ReminderLayout, Report};
use serde_json::{Value, json};

fn tiny() -> Config {
    Config::tiny()
}

/// The tiny day's report, run once for the tests that only read it.
fn tiny_report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| keysim::run(&tiny()))
}

fn describe(keys: &[&keysim::KeyStats]) -> String {
    keys.iter()
        .map(|k| format!("{} at {:.0} %", k.name, k.load() * 100.0))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_partition_key_goes_over_half_of_dynamodb_limits_on_the_reduced_population() {
    let report = keysim::run(&Config::reduced());
    print!("{}", report.render(10));
    let over = report.over_budget();
    assert!(over.is_empty(), "keys over budget:\n{}", describe(&over));
    // The day is busy enough to mean something: the importer's pacing is
    // what holds its keys at (not far under) the budget.
    let hottest = &report.hottest(1)[0];
    assert!(hottest.load() > 0.2, "{}", describe(&[hottest]));
}

#[test]
fn the_simulation_is_deterministic() {
    let a = tiny_report();
    let b = keysim::run(&tiny());
    assert_eq!((a.calls, a.key_count), (b.calls, b.key_count));
    assert!(
        a.keys == b.keys && a.patterns == b.patterns,
        "two runs of one seed differ"
    );
    let other = keysim::run(&Config {
        seed: tiny().seed + 1,
        ..tiny()
    });
    assert!(a.keys != other.keys, "the seed drives the population");
}

#[test]
fn shards_divide_the_busiest_reminder_minute() {
    let sharded = tiny_report();
    let unsharded = keysim::run(&Config {
        layout: ReminderLayout::Unsharded,
        ..tiny()
    });
    let shards = sharded
        .pattern("REMINDERS#<minute>#<n>")
        .expect("sharded reminder keys");
    let minutes = unsharded
        .pattern("REMINDERS#<minute>")
        .expect("unsharded reminder keys");
    assert_eq!(
        shards.keys,
        1440 * SHARDS as usize,
        "every shard of every minute is read"
    );
    assert_eq!(minutes.keys, 1440);
    // The same reminders, written and sent in both layouts...
    let (sharded_total, unsharded_total) = (shards.writes_day, minutes.writes_day);
    assert!(
        (sharded_total - unsharded_total).abs() < 1e-6,
        "{sharded_total} vs {unsharded_total}"
    );
    // ...but a minute's writes are spread over its shards (by a hash, so
    // unevenly: at least half the ideal split).
    let (per_shard, whole) = (shards.hottest.writes_1m, minutes.hottest.writes_1m);
    let ratio = whole / per_shard;
    assert!(
        ratio >= f64::from(SHARDS) / 2.0,
        "the busiest minute: {whole:.1} units/s unsharded, {per_shard:.1} per shard ({ratio:.1}×)"
    );
}

#[test]
fn every_access_pattern_of_the_key_layout_is_simulated() {
    let report = tiny_report();
    let simulated: BTreeSet<String> = report.patterns.iter().map(|p| p.pattern.clone()).collect();
    let expected = [
        // accounts and sessions (records.rs, sessions, throttle, idempotency)
        "USER#<id>",
        "EMAIL#<email>",
        "SLUG#<slug>",
        "ORG#<id>",
        "gsi1 USER#<id>#ORGS",
        "SESSION#<hash>",
        "gsi1 USER#<id>#SESSIONS",
        "TOKEN#<hash>",
        "THROTTLE#LOGIN#<email>",
        "THROTTLE#IP#<n>.<n>.<n>.<n>",
        "IDEMPOTENCY#<hash>",
        "ORG#<id>#AUDIT",
        // scheduling
        "ORG#<id>#EVENTSLUG#<eventslug>",
        "BOOKING#<id>",
        "gsi1 ORG#<id>#HOST#<id>#BOOKINGS",
        "ORG#<id>#HOSTCAL#<id>",
        // reminders (both layouts are read) and notifications
        "REMINDERS#<minute>#<n>",
        "REMINDERS#<minute>",
        "REMINDERTICK",
        "SMSOPTOUT#+<n>#+<n>",
        // contacts
        "ORG#<id>#CONTACT#<id>",
        "gsi1 ORG#<id>#CONTACTS",
        "gsi2 ORG#<id>#OWNER#<id>",
        "gsi3 ORG#<id>#CONTACTS#BYUPDATE",
        "ORG#<id>#CONTACTS#BYNAME",
        "ORG#<id>#CONTACTS#BACKFILL",
        "ORG#<id>#CEMAIL#<email>",
        "ORG#<id>#CPHONE#+<n>",
        "ORG#<id>#SEARCH",
        "ORG#<id>#TAGS",
        "ORG#<id>#TAG#<tag>",
        "ORG#<id>#FIELDS",
        // imports, exports, pipelines
        "ORG#<id>#IMPORT#<id>#ERRORS",
        "ORG#<id>#IMPORTPACE",
        "gsi1 ORG#<id>#PIPE#<id>",
        "gsi2 ORG#<id>#CONTACT#<id>#DEALS",
        // google calendar: the connections index the calendar sync reads
        "gsi2 GOOGLE#<n>",
        // email from members' Gmail and the reply poll
        "ORG#<id>#GMAIL#<id>",
        "GMAILBOXES#<n>",
    ];
    let missing: Vec<&str> = expected.iter().copied().filter(|p| !simulated.contains(*p)).collect();
    assert!(
        missing.is_empty(),
        "not simulated: {missing:?}\nsimulated: {simulated:#?}"
    );
}

/// Records the partition of every call (table and index partitions).
struct RecordingTable {
    inner: Arc<dyn Table>,
    seen: Mutex<BTreeSet<String>>,
}

impl RecordingTable {
    fn see(&self, partition: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(partition.to_string());
        }
    }
    fn see_op(&self, op: &WriteOp) {
        if let Some(key) = op.key() {
            self.see(&key.pk);
        }
        if let WriteOp::Put { item, .. } = op {
            self.see_item(item);
        }
    }
    fn see_item(&self, item: &Item) {
        for (index, name) in [(Index::Gsi1, "gsi1"), (Index::Gsi2, "gsi2"), (Index::Gsi3, "gsi3")] {
            if let Some(partition) = item.get(index.key_attributes().0).and_then(Value::as_str) {
                self.see(&format!("{name} {partition}"));
            }
        }
    }
    fn patterns(&self) -> BTreeSet<String> {
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        seen.iter().map(|p| pattern(p)).collect()
    }
    fn clear(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
        }
    }
}

#[async_trait]
impl Table for RecordingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.see(&key.pk);
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        keys.iter().for_each(|k| self.see(&k.pk));
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        if let Some(key) = Key::of(&item) {
            self.see(&key.pk);
        }
        self.see_item(&item);
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        self.see(&key.pk);
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.see(&key.pk);
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        match query.index.name() {
            Some(name) => self.see(&format!("{name} {}", query.partition)),
            None => self.see(&query.partition),
        }
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        ops.iter().for_each(|op| self.see_op(op));
        self.inner.transact(ops).await
    }
    async fn transact_in_order(&self, transactions: Vec<Vec<WriteOp>>) -> Result<(), PartialCommit> {
        transactions.iter().flatten().for_each(|op| self.see_op(op));
        self.inner.transact_in_order(transactions).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        for op in &ops {
            match op {
                BatchOp::Put(item) => {
                    if let Some(key) = Key::of(item) {
                        self.see(&key.pk);
                    }
                }
                BatchOp::Delete(key) => self.see(&key.pk),
            }
        }
        self.inner.batch_write(ops).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

/// The model of a booking is checked against the real thing: every
/// partition the real public booking flow touches (slots, booking with a
/// phone and SMS consent, its messages, the reminder tick and consumer, a
/// cancel by the manage link) has its pattern in the simulation.
#[tokio::test]
async fn the_real_booking_flow_touches_only_key_patterns_the_simulation_models() {
    let clock = TestClock::at("2026-03-02T08:00:00Z".parse().expect("time"));
    let (mut state, _dir) = konnecs_tests::local::temp_state_with_clock(Arc::new(clock.clone()));
    let recording = Arc::new(RecordingTable {
        inner: state.table.clone(),
        seen: Mutex::new(BTreeSet::new()),
    });
    state.table = recording.clone();
    let app = konnecs::inbound::http::router(state.clone(), catalogue::entries());
    let signup = json!({"name": "Morgan Hale", "email": "morgan@harbour-physio.example", "password": "harbour-physio-42-knee", "business_name": "Harbour Physio"});
    let reply = Browser::anonymous()
        .send(&app, "POST", "/auth/signup", Some(&signup))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let host = Browser::from_reply(&reply);
    let day = json!([{"start": "09:00", "end": "17:00"}]);
    let week = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day});
    let schedule = host
        .send(
            &app,
            "POST",
            "/schedules",
            Some(&json!({"name": "Clinic", "time_zone": "Europe/London", "weekly": week})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.body);
    let event =
        json!({"title": "Assessment", "slug": "assessment", "durations": [30], "schedule_id": schedule.body["id"]});
    let event = host.send(&app, "POST", "/event-types", Some(&event)).await;
    assert_eq!(event.status, StatusCode::CREATED, "{}", event.body);
    // The first tick (the cursor) and the set-up are not the booking flow.
    konnecs::inbound::events::reminders::tick(state.clone())
        .await
        .expect("tick");
    konnecs_tests::local::drain_jobs(&state).await;
    recording.clear();

    let path = "/public/booking/harbour-physio/assessment";
    let slots = Browser::anonymous()
        .send(
            &app,
            "GET",
            &format!("{path}/slots?from=2026-03-04&to=2026-03-04"),
            None,
        )
        .await;
    assert_eq!(slots.status, StatusCode::OK, "{}", slots.body);
    let booking = json!({"start": "2026-03-04T10:00:00Z", "name": "Sam Lee", "email": "sam@example.com", "time_zone": "Europe/London", "phone": "+447911123456", "sms_consent": true, "sms_consent_text": "Texts are fine."});
    let booked = Browser::anonymous()
        .send(&app, "POST", &format!("{path}/bookings"), Some(&booking))
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    konnecs_tests::local::drain_jobs(&state).await;
    // Its 24-hour reminders, and a second booking cancelled by its manage link.
    clock.set("2026-03-03T10:00:20Z".parse().expect("time"));
    for _ in 0..10 {
        konnecs::inbound::events::reminders::tick(state.clone())
            .await
            .expect("tick");
    }
    konnecs_tests::local::drain_reminders(&state).await;
    konnecs_tests::local::drain_jobs(&state).await;
    let other = json!({"start": "2026-03-04T11:00:00Z", "name": "Ann Lee", "email": "ann@example.com", "time_zone": "Europe/London"});
    let other = Browser::anonymous()
        .send(&app, "POST", &format!("{path}/bookings"), Some(&other))
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let uid = other.body["booking"]["uid"].as_str().expect("uid");
    let token = other.body["manage_token"].as_str().expect("token");
    let cancelled = Browser::anonymous()
        .send(
            &app,
            "POST",
            &format!("/public/bookings/{uid}/cancel?token={token}"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    konnecs_tests::local::drain_jobs(&state).await;

    let real = recording.patterns();
    assert!(real.contains("REMINDERS#<minute>#<n>"), "{real:#?}");
    let report = tiny_report();
    let simulated: BTreeSet<String> = report.patterns.iter().map(|p| p.pattern.clone()).collect();
    // The outbox stands in for the email and SMS providers locally (one
    // partition of every message); production sends through the providers.
    let unmodelled: Vec<&String> = real
        .iter()
        .filter(|p| *p != "OUTBOX" && !simulated.contains(*p))
        .collect();
    assert!(
        unmodelled.is_empty(),
        "the booking flow touches partitions the simulation does not model: {unmodelled:?}"
    );
}

/// Every partition the real Gmail flow touches (an email from a contact's
/// record, the reply poll's first resync, then its history read finding a
/// reply) has its pattern in the simulation.
#[tokio::test]
async fn the_real_gmail_flow_touches_only_key_patterns_the_simulation_models() {
    use konnecs::services::google::gmail_replies::{self, TimelineOnly};
    use konnecs_tests::gmail::{PROFILE_HISTORY_ID, metadata, sent_id};
    use konnecs_tests::google::{GOOGLE_EMAIL, MockGoogle, param, query_of, with_google};
    use wiremock::ResponseTemplate;

    const GRANTED: &str = "openid https://www.googleapis.com/auth/userinfo.email \
         https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/gmail.send";
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.accept_sends().await;
    google.serve_profile().await;
    let clock = TestClock::at("2026-03-02T08:00:00Z".parse().expect("time"));
    let (state, _dir) = konnecs_tests::local::temp_state_with_clock(Arc::new(clock.clone()));
    let mut state = with_google(&state, &google.uri());
    let recording = Arc::new(RecordingTable {
        inner: state.table.clone(),
        seen: Mutex::new(BTreeSet::new()),
    });
    state.table = recording.clone();
    let app = konnecs::inbound::http::router(state.clone(), catalogue::entries());
    let signup = json!({"name": "Morgan Hale", "email": "morgan@harbour-physio.example", "password": "harbour-physio-42-knee", "business_name": "Harbour Physio"});
    let reply = Browser::anonymous()
        .send(&app, "POST", "/auth/signup", Some(&signup))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let host = Browser::from_reply(&reply);
    let started = host
        .send(
            &app,
            "POST",
            "/integrations/google/connect",
            Some(&json!({"features": ["gmail"]})),
        )
        .await;
    let oauth_state = param(&query_of(started.body["url"].as_str().expect("url")), "state").expect("state");
    let back = host
        .send(
            &app,
            "GET",
            &format!("/app/settings/integrations/google/callback?state={oauth_state}&code=c"),
            None,
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    let contact = host
        .send(
            &app,
            "POST",
            "/contacts",
            Some(&json!({"first_name": "Sam", "emails": ["sam@example.com"]})),
        )
        .await;
    let contact_id = contact.body["id"].as_str().expect("id").to_owned();
    recording.clear();

    let sent = host
        .send(
            &app,
            "POST",
            &format!("/contacts/{contact_id}/emails"),
            Some(&json!({"subject": "Your knee", "body": "How is it today?"})),
        )
        .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{}", sent.body);
    let thread = sent_id(1);
    let ours = metadata(&thread, &thread, &["SENT"], &[("From", GOOGLE_EMAIL)], 1);
    google.serve_thread(&thread, vec![ours]).await;
    gmail_replies::poll(&state, &TimelineOnly).await.expect("first poll");
    let added = json!({"history": [{"id": "9002", "messagesAdded": [{"message": {"id": "r1", "threadId": thread}}]}], "historyId": "9003"});
    google
        .serve_history(PROFILE_HISTORY_ID, ResponseTemplate::new(200).set_body_json(added))
        .await;
    google
        .serve_message(
            "r1",
            metadata("r1", &thread, &["INBOX"], &[("From", "sam@example.com")], 2),
        )
        .await;
    let summary = gmail_replies::poll(&state, &TimelineOnly).await.expect("poll");
    assert_eq!(summary.replies, 1, "{summary:?}");

    let real = recording.patterns();
    assert!(real.contains("GMAILBOXES#<n>"), "{real:#?}");
    let report = tiny_report();
    let simulated: BTreeSet<String> = report.patterns.iter().map(|p| p.pattern.clone()).collect();
    let unmodelled: Vec<&String> = real.iter().filter(|p| !simulated.contains(*p)).collect();
    assert!(
        unmodelled.is_empty(),
        "the Gmail flow touches partitions the simulation does not model: {unmodelled:?}"
    );
}
