//! Appointment scheduling through the router (and the reminder items each
//! booking writes): schedules, event types, public slots and
//! booking, the no-double-booking commit under 200 concurrent requests on
//! both store backends, seats, manage links, host management, and reminders
//! removed or replaced in the same transaction as the booking change.

use konnecs::domain::ids::OrgId;
use konnecs::domain::ids::UserId;
use konnecs::domain::ids::{BookingId, ContactId};
use std::sync::Arc;

use axum::Router;
use futures::future::join_all;
use http::StatusCode;
use jiff::Timestamp;
use konnecs::app::AppState;
use konnecs::ports::counting::CountingTable;
use konnecs::ports::{Item, Key, Query, SortKey, Table, TestClock};
use konnecs::services::contacts;
use konnecs::services::reminders;
use konnecs::services::scheduling::{booking_key, host_calendar_partition};
use konnecs_tests::app::{Store, TestApp};
use konnecs_tests::http::{Browser, Reply};
use serde_json::{Value, json};

/// Monday 2 March 2026, 08:00 UTC (London is on GMT until 29 March).
const NOW: &str = "2026-03-02T08:00:00Z";

fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

struct Fixture {
    base: TestApp,
    host: Browser,
    org_id: String,
    user_id: String,
    org_slug: String,
    schedule_id: String,
    event_id: String,
    event_slug: String,
}

/// The harness underneath: `f.state`, `f.router`, `f.clock`.
impl std::ops::Deref for Fixture {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.base
    }
}

const HOST_PASSWORD: &str = "harbour-physio-42-knee";

async fn signup(app: &TestApp, email: &str, business: &str) -> (Browser, Value) {
    let body = json!({"name": "Morgan Hale", "email": email, "password": HOST_PASSWORD, "business_name": business});
    let reply = app.send_anonymous("POST", "/auth/signup", Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (Browser::from_reply(&reply), reply.body)
}

/// A fresh session for the fixture's host (after the clock moved past the idle timeout).
async fn login(app: &TestApp) -> Browser {
    let body = json!({"email": "morgan@harbour-physio.example", "password": HOST_PASSWORD});
    let reply = app.send_anonymous("POST", "/auth/login", Some(&body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    Browser::from_reply(&reply)
}

fn london_week() -> Value {
    let day = json!([{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]);
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day})
}

/// A signed-up host with a London schedule and a 30-minute event type.
async fn fixture_on(base: TestApp, event_extra: Value) -> Fixture {
    let (host, body) = signup(&base, "morgan@harbour-physio.example", "Harbour Physio").await;
    let org_id = body["org_id"].as_str().expect("org id").to_string();
    let user_id = body["user_id"].as_str().expect("user id").to_string();
    let schedule = base
        .send(
            &host,
            "POST",
            "/schedules",
            Some(&json!({"name": "Clinic hours", "time_zone": "Europe/London", "weekly": london_week()})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.body);
    let schedule_id = schedule.body["id"].as_str().expect("schedule id").to_string();
    let mut event =
        json!({"title": "Assessment", "slug": "assessment", "durations": [30, 60], "schedule_id": schedule_id});
    if let (Some(event), Some(extra)) = (event.as_object_mut(), event_extra.as_object()) {
        event.extend(extra.clone());
    }
    let created = base.send(&host, "POST", "/event-types", Some(&event)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    Fixture {
        base,
        host,
        org_id,
        user_id,
        org_slug: "harbour-physio".into(),
        schedule_id,
        event_id: created.body["id"].as_str().expect("event id").to_string(),
        event_slug: created.body["slug"].as_str().expect("slug").to_string(),
    }
}

async fn fixture(event_extra: Value) -> (Fixture, TestClock) {
    fixture_on_store(Store::Sqlite, event_extra).await
}

konnecs_tests::on_both_stores!(
    reminders_of_real_bookings_follow_a_reschedule_and_stop_at_a_cancel,
    cancelling_by_token_removes_the_reminders_and_frees_the_slot_in_one_step,
    rescheduling_replaces_the_reminders_and_refuses_a_taken_slot,
    bookings_that_need_confirmation_hold_the_slot_and_get_reminders_once_confirmed,
);

/// The fixture on the embedded store or on a DynamoDB table of the emulator
/// (with embedded queues, so queue timing follows the test clock).
async fn fixture_on_store(store: Store, event_extra: Value) -> (Fixture, TestClock) {
    let base = TestApp::on(store, NOW).await;
    let clock = base.clock.clone();
    (fixture_on(base, event_extra).await, clock)
}

impl Fixture {
    fn public(&self, tail: &str) -> String {
        format!("/public/booking/{}/{}{tail}", self.org_slug, self.event_slug)
    }

    async fn book(&self, start: &str, email: &str, extra: Value) -> Reply {
        let mut body = json!({"start": start, "name": "Sam Lee", "email": email, "time_zone": "Europe/London"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        Browser::anonymous()
            .send(&self.router, "POST", &self.public("/bookings"), Some(&body))
            .await
    }

    async fn slot_starts(&self, query: &str) -> Vec<String> {
        let reply = Browser::anonymous()
            .send(&self.router, "GET", &self.public(&format!("/slots?{query}")), None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["days"]
            .as_array()
            .expect("days")
            .iter()
            .flat_map(|d| d["slots"].as_array().cloned().unwrap_or_default())
            .map(|s| s["start"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    async fn booking_item(&self, id: &str) -> Item {
        self.state
            .table
            .get(&booking_key(&OrgId::from(&self.org_id), &BookingId::from(id)))
            .await
            .expect("get")
            .expect("booking stored")
    }

    async fn host_calendar(&self) -> Vec<Item> {
        query_all(
            self.state.table.as_ref(),
            Query::partition(host_calendar_partition(
                &OrgId::from(&self.org_id),
                &UserId::from(&self.user_id),
            )),
        )
        .await
    }
}

async fn query_all(table: &dyn Table, query: Query) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.query(&query.clone().after(cursor)).await.expect("query");
        items.extend(page.items);
        cursor = page.cursor;
        if cursor.is_none() {
            return items;
        }
    }
}

fn reminder_keys(booking: &Item) -> Vec<Key> {
    booking["reminder_keys"]
        .as_array()
        .expect("reminder keys")
        .iter()
        .map(|k| Key::new(k["pk"].as_str().unwrap(), k["sk"].as_str().unwrap()))
        .collect()
}

async fn live(table: &dyn Table, keys: &[Key]) -> usize {
    let mut n = 0;
    for key in keys {
        if table.get(key).await.expect("get").is_some() {
            n += 1;
        }
    }
    n
}

fn codes(reply: &Reply) -> Vec<(String, String)> {
    reply.body["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().to_string(),
                e["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

// ------------------------------------------------------------ schedules

#[tokio::test]
async fn schedule_crud_reports_field_errors_and_a_used_schedule_cannot_be_deleted() {
    let (f, _clock) = fixture(json!({})).await;
    let bad = json!({"name": "", "time_zone": "Mars/Olympus", "weekly": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}], "tuesday": [{"start": "10:00", "end": "09:00"}]}});
    let reply = f.host.send(&f.router, "POST", "/schedules", Some(&bad)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    let errors = codes(&reply);
    for expected in [
        ("name", "required"),
        ("time_zone", "unknown_time_zone"),
        ("weekly.monday[1]", "overlapping_intervals"),
        ("weekly.tuesday[0].end", "end_not_after_start"),
    ] {
        assert!(
            errors.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {errors:?}"
        );
    }

    let with_override = json!({"name": "Late Thursdays", "time_zone": "Asia/Kolkata", "weekly": {"thursday": [{"start": "12:00", "end": "20:00"}]}, "overrides": {"2026-03-05": {"kind": "unavailable"}}});
    let created = f.host.send(&f.router, "POST", "/schedules", Some(&with_override)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["owner_user_id"], f.user_id.as_str());
    assert_eq!(created.body["overrides"]["2026-03-05"]["kind"], "unavailable");

    let patched = f
        .host
        .send(
            &f.router,
            "PATCH",
            &format!("/schedules/{id}"),
            Some(&json!({"name": "Late Thursdays (Kolkata)"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["name"], "Late Thursdays (Kolkata)");
    assert_eq!(patched.body["time_zone"], "Asia/Kolkata", "unpatched fields stay");
    assert_eq!(patched.body["version"], 2);

    let list = f.host.send(&f.router, "GET", "/schedules", None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);

    // The fixture's schedule is used by its event type.
    let refused = f
        .host
        .send(&f.router, "DELETE", &format!("/schedules/{}", f.schedule_id), None)
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.body["code"], "schedule_in_use");
    let deleted = f
        .host
        .send(&f.router, "DELETE", &format!("/event-types/{}", f.event_id), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let deleted = f
        .host
        .send(&f.router, "DELETE", &format!("/schedules/{}", f.schedule_id), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = f
        .host
        .send(&f.router, "GET", &format!("/schedules/{}", f.schedule_id), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_organizations_schedules_event_types_and_appointments_are_not_found() {
    let (f, _clock) = fixture(json!({})).await;
    let booked = f.book("2026-03-03T10:00:00Z", "sam@example.com", json!({})).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let booking_id = booked.body["booking"]["id"].as_str().unwrap().to_string();
    let (other, _) = signup(&f, "ola@northside-dental.example", "Northside Dental").await;
    for path in [
        format!("/schedules/{}", f.schedule_id),
        format!("/event-types/{}", f.event_id),
        format!("/appointments/{booking_id}"),
    ] {
        let reply = other.send(&f.router, "GET", &path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let cancel = other
        .send(
            &f.router,
            "POST",
            &format!("/appointments/{booking_id}/cancel"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    let patch = other
        .send(
            &f.router,
            "PATCH",
            &format!("/event-types/{}", f.event_id),
            Some(&json!({"title": "Mine"})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------- event types

#[tokio::test]
async fn event_type_fields_are_validated_and_slugs_are_unique_per_organization() {
    let (f, _clock) = fixture(json!({})).await;
    // Defaults: the reminder plan is 24 h and 1 h by email and SMS; active; one seat.
    let shown = f
        .host
        .send(&f.router, "GET", &format!("/event-types/{}", f.event_id), None)
        .await;
    assert_eq!(
        shown.body["reminders"],
        json!([
            {"offset_minutes": 1440, "channels": ["email", "sms"]},
            {"offset_minutes": 60, "channels": ["email", "sms"]}
        ])
    );
    assert_eq!(shown.body["default_duration"], 30);
    assert_eq!(shown.body["active"], true);
    assert_eq!(shown.body["seats"], 1);

    let bad = json!({
        "title": "", "slug": "Bad Slug", "durations": [30, 0], "default_duration": 45,
        "schedule_id": "nope", "seats": 0, "daily_limit": 0,
        "location": {"kind": "video", "url": "zoom"},
        "questions": [{"id": "x", "label": "Pick", "type": "select"}],
        "reminders": [{"offset_minutes": 60, "channels": ["sms"]}, {"offset_minutes": 30, "channels": ["sms"]}, {"offset_minutes": 10, "channels": ["sms"]}],
        "window": {"kind": "date_range", "start": "2026-05-01", "end": "2026-04-01"}
    });
    let reply = f.host.send(&f.router, "POST", "/event-types", Some(&bad)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    let errors = codes(&reply);
    for expected in [
        ("title", "required"),
        ("slug", "slug_characters"),
        ("durations[1]", "out_of_range"),
        ("default_duration", "not_offered"),
        ("schedule_id", "not_found"),
        ("seats", "out_of_range"),
        ("daily_limit", "out_of_range"),
        ("location.url", "invalid_url"),
        ("questions[0].options", "invalid_options"),
        ("reminders", "too_many_sms"),
        ("window.end", "end_before_start"),
    ] {
        assert!(
            errors.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {errors:?}"
        );
    }

    let twin =
        json!({"title": "Assessment again", "slug": "assessment", "durations": [30], "schedule_id": f.schedule_id});
    let taken = f.host.send(&f.router, "POST", "/event-types", Some(&twin)).await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes(&taken), vec![("slug".to_string(), "slug_taken".to_string())]);

    // Another organization may use the same slug.
    let (other, _) = signup(&f, "ola@northside-dental.example", "Northside Dental").await;
    let schedule = other
        .send(
            &f.router,
            "POST",
            "/schedules",
            Some(&json!({"name": "Hours", "time_zone": "Europe/Dublin", "weekly": london_week()})),
        )
        .await;
    let mine =
        json!({"title": "Assessment", "slug": "assessment", "durations": [30], "schedule_id": schedule.body["id"]});
    let ok = other.send(&f.router, "POST", "/event-types", Some(&mine)).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);

    // Renaming the slug frees the old address and takes the new one.
    let renamed = f
        .host
        .send(
            &f.router,
            "PATCH",
            &format!("/event-types/{}", f.event_id),
            Some(&json!({"slug": "first-visit", "description": "Bring your scans."})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    assert_eq!(renamed.body["durations"], json!([30, 60]), "unpatched fields stay");
    let old = Browser::anonymous()
        .send(&f.router, "GET", "/public/booking/harbour-physio/assessment", None)
        .await;
    assert_eq!(old.status, StatusCode::NOT_FOUND);
    let new = Browser::anonymous()
        .send(&f.router, "GET", "/public/booking/harbour-physio/first-visit", None)
        .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
    assert_eq!(new.body["description"], "Bring your scans.");
    assert_eq!(new.body["time_zone"], "Europe/London");
}

#[tokio::test]
async fn the_invitee_zone_is_optional_and_defaults_to_the_event_zone() {
    let (f, _clock) = fixture(json!({})).await;
    let book = |body: Value| {
        let app = f.router.clone();
        let path = f.public("/bookings");
        async move { Browser::anonymous().send(&app, "POST", &path, Some(&body)).await }
    };
    // No zone, a blank one or null: the schedule's zone (London), not the organization's (UTC).
    for (start, email, zone) in [
        ("2026-03-04T10:00:00Z", "ann@example.com", None),
        ("2026-03-04T11:00:00Z", "bob@example.com", Some(json!(""))),
        ("2026-03-04T13:00:00Z", "cy@example.com", Some(Value::Null)),
    ] {
        let mut body = json!({"start": start, "name": "Sam Lee", "email": email});
        if let Some(zone) = zone {
            body["time_zone"] = zone;
        }
        let reply = book(body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        assert_eq!(
            reply.body["booking"]["invitee"]["time_zone"], "Europe/London",
            "{}",
            reply.body
        );
    }
    let own = book(json!({"start": "2026-03-04T14:00:00Z", "name": "Dee", "email": "dee@example.com", "time_zone": "Asia/Kolkata"})).await;
    assert_eq!(own.status, StatusCode::CREATED, "{}", own.body);
    assert_eq!(own.body["booking"]["invitee"]["time_zone"], "Asia/Kolkata");
    let unknown = book(
        json!({"start": "2026-03-04T15:00:00Z", "name": "Eve", "email": "eve@example.com", "time_zone": "Mars/Base"}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        codes(&unknown),
        vec![("time_zone".to_string(), "unknown_time_zone".to_string())]
    );
}

#[tokio::test]
async fn inactive_event_types_are_not_public() {
    let (f, _clock) = fixture(json!({"active": false})).await;
    let reply = Browser::anonymous().send(&f.router, "GET", &f.public(""), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let book = f.book("2026-03-03T10:00:00Z", "sam@example.com", json!({})).await;
    assert_eq!(book.status, StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- slots

#[tokio::test]
async fn slots_are_grouped_by_day_in_the_invitee_zone() {
    let (f, _clock) = fixture(json!({})).await;
    // Tuesday 3 March in London: 09:00–12:00 and 13:00–17:00 GMT, 30-minute slots.
    let reply = Browser::anonymous()
        .send(
            &f.router,
            "GET",
            &f.public("/slots?from=2026-03-03&to=2026-03-03&tz=Europe/London&duration=30"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let days = reply.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["date"], "2026-03-03");
    let slots = days[0]["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 14);
    assert_eq!(slots[0]["start"], "2026-03-03T09:00:00Z");
    assert_eq!(slots[0]["time"], "09:00");
    assert_eq!(slots[6]["start"], "2026-03-03T13:00:00Z", "lunch is not offered");

    // The same instants seen from Kolkata (+05:30): the Kolkata date 3 March
    // is [2 March 18:30Z, 3 March 18:30Z), so it holds all 14, from 14:30.
    let reply = Browser::anonymous()
        .send(
            &f.router,
            "GET",
            &f.public("/slots?from=2026-03-03&to=2026-03-03&tz=Asia/Kolkata"),
            None,
        )
        .await;
    let days = reply.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["date"], "2026-03-03");
    assert_eq!(days[0]["slots"].as_array().unwrap().len(), 14);
    assert_eq!(days[0]["slots"][0]["start"], "2026-03-03T09:00:00Z");
    assert_eq!(days[0]["slots"][0]["time"], "14:30");
    // From Auckland (+13:00 in March) the London morning crosses midnight.
    let reply = Browser::anonymous()
        .send(
            &f.router,
            "GET",
            &f.public("/slots?from=2026-03-03T00:00:00Z&to=2026-03-04T00:00:00Z&tz=Pacific/Auckland"),
            None,
        )
        .await;
    let days = reply.body["days"].as_array().unwrap();
    assert_eq!(days[0]["date"], "2026-03-03");
    assert_eq!(days[0]["slots"][0]["time"], "22:00");
    assert_eq!(days[0]["slots"].as_array().unwrap().len(), 4);
    assert_eq!(days[1]["date"], "2026-03-04");
    assert_eq!(days[1]["slots"][0]["start"], "2026-03-03T11:00:00Z");
    assert_eq!(days[1]["slots"][0]["time"], "00:00");

    // A booking takes its slot away; unknown zones and durations are field errors.
    let booked = f.book("2026-03-03T09:30:00Z", "sam@example.com", json!({})).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let starts = f.slot_starts("from=2026-03-03&to=2026-03-03&tz=Europe/London").await;
    assert!(!starts.contains(&"2026-03-03T09:30:00Z".to_string()));
    assert_eq!(starts.len(), 13);
    for (query, field, code) in [
        ("tz=Mars/Base", "tz", "unknown_time_zone"),
        ("duration=45", "duration", "not_offered"),
        ("from=2026-03-01&to=2026-06-01", "to", "range_too_long"),
    ] {
        let reply = Browser::anonymous()
            .send(&f.router, "GET", &f.public(&format!("/slots?{query}")), None)
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(codes(&reply), vec![(field.to_string(), code.to_string())], "{query}");
    }
}

// -------------------------------------------------------------- booking

#[tokio::test]
async fn a_booking_returns_a_manage_link_creates_the_contact_and_its_reminder_items() {
    let (f, _clock) = fixture(json!({
        "questions": [{"id": "injury", "label": "Which joint?", "type": "select", "options": ["knee", "shoulder"], "required": true}]
    }))
    .await;
    let missing = f.book("2026-03-04T10:00:00Z", "sam@example.com", json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        codes(&missing),
        vec![("answers.injury".to_string(), "required".to_string())]
    );
    let off_grid = f
        .book(
            "2026-03-04T10:10:00Z",
            "sam@example.com",
            json!({"answers": {"injury": "knee"}}),
        )
        .await;
    assert_eq!(off_grid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        codes(&off_grid),
        vec![("start".to_string(), "outside_availability".to_string())]
    );

    let reply = f
        .book(
            "2026-03-04T10:00:00Z",
            "Sam.Lee@Example.com",
            json!({"phone": "+44 7911 123456", "sms_consent": true, "sms_consent_text": "Texts about this appointment", "answers": {"injury": "knee"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let uid = reply.body["booking"]["uid"].as_str().unwrap().to_string();
    let token = reply.body["manage_token"].as_str().unwrap().to_string();
    let url = reply.body["manage_url"].as_str().unwrap();
    assert!(url.ends_with(&format!("/booking/{uid}?token={token}")), "{url}");
    assert!(token.len() >= 43, "256-bit token");
    assert_eq!(reply.body["booking"]["invitee"]["phone"], "+447911123456");
    assert_eq!(reply.body["booking"]["status"], "confirmed");

    // The token is stored only as a hash.
    let stored = f.booking_item(&uid).await;
    assert!(!serde_json::to_string(&stored).unwrap().contains(&token));

    // Manage link: right token opens it, a wrong or missing one is a 404.
    let shown = Browser::anonymous()
        .send(&f.router, "GET", &format!("/public/bookings/{uid}?token={token}"), None)
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.body["answers"]["injury"], "knee");
    for bad in [
        format!("/public/bookings/{uid}?token=x{token}"),
        format!("/public/bookings/{uid}"),
    ] {
        let reply = Browser::anonymous().send(&f.router, "GET", &bad, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{bad}");
    }

    // Reminder items: one per (offset, channel), keyed by due minute and the
    // booking's shard, with the agreed attributes.
    let keys = reminder_keys(&stored);
    let shard = reminders::shard_of(&BookingId::from(&uid));
    let mut expected = vec![
        (
            format!("REMINDERS#2026-03-03T10:00#{shard}"),
            format!("{}#{uid}#1440#email", f.org_id),
        ),
        (
            format!("REMINDERS#2026-03-03T10:00#{shard}"),
            format!("{}#{uid}#1440#sms", f.org_id),
        ),
        (
            format!("REMINDERS#2026-03-04T09:00#{shard}"),
            format!("{}#{uid}#60#email", f.org_id),
        ),
        (
            format!("REMINDERS#2026-03-04T09:00#{shard}"),
            format!("{}#{uid}#60#sms", f.org_id),
        ),
    ];
    let mut got: Vec<(String, String)> = keys.iter().map(|k| (k.pk.clone(), k.sk.clone())).collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    let item = f.state.table.get(&keys[0]).await.unwrap().expect("reminder stored");
    assert_eq!(item["status"], "pending");
    assert_eq!(item["booking_id"], uid.as_str());
    assert_eq!(item["org_id"], f.org_id.as_str());
    let starts_at = ts("2026-03-04T10:00:00Z").as_second();
    assert_eq!(item["starts_at"], starts_at);
    assert_eq!(item["expires_at"], starts_at + 7 * 24 * 3600);
    assert_eq!(
        item["due_at"].as_i64().unwrap(),
        starts_at - item["offset_minutes"].as_i64().unwrap() * 60
    );

    // The invitee became a contact with the booking on the timeline.
    let pointer = f
        .state
        .table
        .get(&contacts::email_unique_key(
            &OrgId::from(&f.org_id),
            "sam.lee@example.com",
        ))
        .await
        .unwrap()
        .expect("contact created");
    let contact_id = pointer["contact_id"].as_str().unwrap();
    let timeline = query_all(
        f.state.table.as_ref(),
        Query::partition(contacts::contact_partition(
            &OrgId::from(&f.org_id),
            &ContactId::from(contact_id),
        ))
        .sort(SortKey::BeginsWith("TL#".into())),
    )
    .await;
    let kinds: Vec<&str> = timeline.iter().filter_map(|t| t["kind"].as_str()).collect();
    assert_eq!(kinds, ["booking.created"]);
    assert_eq!(f.booking_item(&uid).await["contact_id"], contact_id);

    // A second booking by the same person lands on the same contact, in the booking's own transaction.
    let again = f
        .book(
            "2026-03-05T10:00:00Z",
            "sam.lee@example.com",
            json!({"answers": {"injury": "shoulder"}}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.body["booking"]["contact_id"], contact_id);
    let timeline = query_all(
        f.state.table.as_ref(),
        Query::partition(contacts::contact_partition(
            &OrgId::from(&f.org_id),
            &ContactId::from(contact_id),
        ))
        .sort(SortKey::BeginsWith("TL#".into())),
    )
    .await;
    assert_eq!(timeline.len(), 2);
}

#[tokio::test]
async fn a_returning_invitee_gets_their_phone_merged_and_a_phone_of_someone_else_is_left_alone() {
    let (f, _clock) = fixture(json!({})).await;
    let contact = |body: Value| {
        let f = &f;
        async move {
            let reply = f.host.send(&f.router, "POST", "/contacts", Some(&body)).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            reply.body
        }
    };
    let sam = contact(
        json!({"first_name": "Sam", "last_name": "Lee", "emails": ["sam.lee@example.com"], "company": "Lee & Co"}),
    )
    .await;
    let kim = contact(json!({"first_name": "Kim", "phones": ["+447911123456"]})).await;
    let contact_now = |c: &Value| {
        let path = format!("/contacts/{}", c["id"].as_str().unwrap_or_default());
        let f = &f;
        async move { f.host.send(&f.router, "GET", &path, None).await.body }
    };

    // Sam books with a new phone and SMS consent: both join Sam's contact, whose own values win.
    let first = f
        .book(
            "2026-03-04T10:00:00Z",
            "sam.lee@example.com",
            json!({"name": "Samuel Lee", "phone": "+447911123457", "sms_consent": true, "sms_consent_text": "Texts about this appointment"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["booking"]["contact_id"], sam["id"]);
    let after = contact_now(&sam).await;
    assert_eq!(after["first_name"], "Sam");
    assert_eq!(after["company"], "Lee & Co");
    assert_eq!(after["phones"][0]["e164"], "+447911123457");
    assert_eq!(after["sms_consent"]["status"], "granted");
    assert_eq!(after["version"], 2);

    // Sam books again giving Kim's phone: the booking is Sam's, Kim's phone stays Kim's.
    let second = f
        .book(
            "2026-03-05T10:00:00Z",
            "sam.lee@example.com",
            json!({"phone": "+447911123456", "sms_consent": true, "sms_consent_text": "Texts about this appointment"}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    assert_eq!(second.body["booking"]["contact_id"], sam["id"]);
    let sam_now = contact_now(&sam).await;
    assert_eq!(sam_now["phones"].as_array().unwrap().len(), 1, "{sam_now}");
    let kim_now = contact_now(&kim).await;
    assert_eq!(kim_now["phones"][0]["e164"], "+447911123456");
    assert_eq!(kim_now["version"], 1);
    let timeline = f
        .host
        .send(
            &f.router,
            "GET",
            &format!("/contacts/{}/timeline", sam["id"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    let booked = timeline["items"]
        .as_array()
        .or_else(|| timeline["entries"].as_array())
        .unwrap_or_else(|| panic!("{timeline}"))
        .iter()
        .filter(|t| t["kind"] == "booking.created")
        .count();
    assert_eq!(booked, 2);
}

#[tokio::test]
async fn only_the_host_or_an_admin_changes_an_appointment_and_the_invitee_not_once_it_started() {
    let (f, clock) = fixture(json!({})).await;
    let booked = f.book("2026-03-04T10:00:00Z", "sam@example.com", json!({})).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let id = booked.body["booking"]["id"].as_str().unwrap().to_string();
    let token = booked.body["manage_token"].as_str().unwrap().to_string();

    // A colleague (member, not the host) sees the appointment but cannot change it.
    let invited = f
        .host
        .send(
            &f.router,
            "POST",
            "/org/invitations",
            Some(&json!({"email": "riley@harbour-physio.example", "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let invitation =
        konnecs_tests::local::token_from_outbox(&f.state, "riley@harbour-physio.example", "/accept-invitation").await;
    let joined = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            "/invitations/accept",
            Some(&json!({"token": invitation, "name": "Riley Quinn", "password": "front-desk-42-riley"})),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    let colleague = Browser::from_reply(&joined);
    assert_eq!(
        colleague
            .send(&f.router, "GET", &format!("/appointments/{id}"), None)
            .await
            .status,
        StatusCode::OK
    );
    for (path, body) in [
        (format!("/appointments/{id}/cancel"), json!({"reason": "Not mine"})),
        (
            format!("/appointments/{id}/reschedule"),
            json!({"start": "2026-03-04T11:00:00Z"}),
        ),
        (format!("/appointments/{id}/no-show"), json!({})),
    ] {
        let reply = colleague.send(&f.router, "POST", &path, Some(&body)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}: {}", reply.body);
    }
    assert_eq!(f.booking_item(&id).await["status"], "confirmed");

    // Once it has started, the customer's link no longer cancels or moves it.
    clock.set(ts("2026-03-04T10:05:00Z"));
    for (path, body) in [
        (
            format!("/public/bookings/{id}/cancel?token={token}"),
            json!({"reason": "Late"}),
        ),
        (
            format!("/public/bookings/{id}/reschedule"),
            json!({"token": token, "start": "2026-03-05T10:00:00Z"}),
        ),
    ] {
        let reply = Browser::anonymous().send(&f.router, "POST", &path, Some(&body)).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{path}: {}", reply.body);
        assert_eq!(reply.body["code"], "already_started");
    }
    assert_eq!(f.booking_item(&id).await["status"], "confirmed");
}

#[tokio::test]
async fn a_booking_outside_the_event_rules_is_refused_with_the_rule_it_breaks() {
    // Now is Monday 2026-03-02 08:00 UTC (London = UTC in March before the 29th).
    let (f, _clock) = fixture(json!({
        "minimum_notice": 120,
        "window": {"kind": "rolling", "days": 7},
        "daily_limit": 1,
        "questions": [{"id": "injury", "label": "Which joint?", "type": "select", "options": ["knee", "shoulder"], "required": true}]
    }))
    .await;
    let knee = json!({"answers": {"injury": "knee"}});
    let refused = |reply: &Reply, field: &str, code: &str| {
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
        let errors = reply.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", reply.body));
        assert!(
            errors.iter().any(|e| e["field"] == field && e["code"] == code),
            "{field}/{code} in {}",
            reply.body
        );
    };
    // Inside the two hours' notice.
    refused(
        &f.book("2026-03-02T09:00:00Z", "a@example.com", knee.clone()).await,
        "start",
        "too_soon",
    );
    // Beyond the seven-day window.
    refused(
        &f.book("2026-03-12T10:00:00Z", "b@example.com", knee.clone()).await,
        "start",
        "outside_window",
    );
    // Outside working hours (lunch).
    refused(
        &f.book("2026-03-03T12:00:00Z", "c@example.com", knee.clone()).await,
        "start",
        "outside_availability",
    );
    // A required answer missing, and an answer the question does not offer.
    let missing = f.book("2026-03-03T10:00:00Z", "d@example.com", json!({})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", missing.body);
    let wrong = f
        .book(
            "2026-03-03T10:00:00Z",
            "d@example.com",
            json!({"answers": {"injury": "elbow"}}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.body);
    // The daily limit: one booking on Tuesday, then the next is refused.
    let first = f.book("2026-03-03T10:00:00Z", "e@example.com", knee.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    // (Taken by other bookings, like a lost race: 409 slot_taken.)
    let second = f.book("2026-03-03T14:00:00Z", "g@example.com", knee.clone()).await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
    assert_eq!(second.body["code"], "slot_taken");
    let wednesday = f.book("2026-03-04T14:00:00Z", "g@example.com", knee.clone()).await;
    assert_eq!(
        wednesday.status,
        StatusCode::CREATED,
        "another day is free: {}",
        wednesday.body
    );
    // Nothing of the refused attempts was kept: two bookings.
    let listed = f
        .host
        .send(
            &f.router,
            "GET",
            "/appointments?from=2026-03-01T00:00:00Z&to=2026-03-20T00:00:00Z",
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let count = listed.body["appointments"]
        .as_array()
        .or_else(|| listed.body["items"].as_array())
        .map(Vec::len)
        .unwrap_or_else(|| panic!("{}", listed.body));
    assert_eq!(count, 2);
}

/// Runs the reminder tick until it has caught up, then the consumer on
/// everything queued, as the local workers do; returns the reminder emails
/// sent so far.
async fn run_reminders(state: &AppState) -> Vec<Value> {
    use konnecs::inbound::events::reminders as worker;
    // A tick covers at most six hours: enough of them to catch up two days.
    for _ in 0..10 {
        worker::tick(state.clone()).await.expect("tick");
    }
    konnecs_tests::local::drain_reminders(state).await;
    konnecs_tests::local::outbox(state)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "booking_reminder")
        .collect()
}

async fn reminders_of_real_bookings_follow_a_reschedule_and_stop_at_a_cancel(store: Store) {
    let (f, clock) = fixture_on_store(
        store,
        json!({"reminders": [{"offset_minutes": 60, "channels": ["email"]}]}),
    )
    .await;
    let mut host = f.host.clone();
    if let Store::Dynamodb = store {
        // The morning of the appointments: a tick reads every shard of each
        // minute it catches up, and two days of minutes would be some 50,000
        // emulator requests. The host's session went idle meanwhile.
        clock.set(ts("2026-03-04T07:00:00Z"));
        host = login(&f).await;
    }
    assert!(run_reminders(&f.state).await.is_empty());
    let moved = f.book("2026-03-04T10:00:00Z", "moved@example.com", json!({})).await;
    let moved_id = moved.body["booking"]["id"].as_str().unwrap().to_string();
    let dropped = f.book("2026-03-04T14:00:00Z", "dropped@example.com", json!({})).await;
    let dropped_id = dropped.body["booking"]["id"].as_str().unwrap().to_string();
    let dropped_token = dropped.body["manage_token"].as_str().unwrap().to_string();
    // Before either reminder is due: one moves to 11:00, the other is cancelled.
    let reply = host
        .send(
            &f.router,
            "POST",
            &format!("/appointments/{moved_id}/reschedule"),
            Some(&json!({"start": "2026-03-04T11:00:00Z"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            &format!("/public/bookings/{dropped_id}/cancel?token={dropped_token}"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // The old due time (09:00) passes: nothing is sent; the cancelled one's 13:00 neither.
    clock.set(ts("2026-03-04T09:00:30Z"));
    assert!(run_reminders(&f.state).await.is_empty());
    clock.set(ts("2026-03-04T09:59:00Z"));
    assert!(run_reminders(&f.state).await.is_empty());
    // The new due time (10:00): exactly one reminder, for 11:00.
    clock.set(ts("2026-03-04T10:00:30Z"));
    let sent = run_reminders(&f.state).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["to"], "moved@example.com");
    assert!(
        sent[0]["text"].as_str().unwrap_or_default().contains("11:00"),
        "{}",
        sent[0]["text"]
    );
    clock.set(ts("2026-03-04T13:00:30Z"));
    let later = run_reminders(&f.state).await;
    assert_eq!(later.len(), 1, "still only the one: {later:#?}");
}

#[tokio::test]
async fn a_booking_sent_twice_with_one_idempotency_key_is_booked_once_and_its_token_is_not_stored_readable() {
    let (f, _clock) = fixture(json!({})).await;
    let body = json!({"start": "2026-03-04T10:00:00Z", "name": "Sam Lee", "email": "sam@example.com", "time_zone": "Europe/London"});
    let path = f.public("/bookings");
    let first = Browser::anonymous()
        .send_once(&f.router, &path, &body, "b7d2-double-click")
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = Browser::anonymous()
        .send_once(&f.router, &path, &body, "b7d2-double-click")
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["booking"]["id"], first.body["booking"]["id"]);
    assert_eq!(again.body["manage_token"], first.body["manage_token"]);

    // Without a key the same request is a second booking attempt: the slot is taken.
    let without = f.book("2026-03-04T10:00:00Z", "sam@example.com", json!({})).await;
    assert_eq!(without.status, StatusCode::CONFLICT);

    // The kept answer is sealed: the manage token is nowhere in it.
    let digest = konnecs::domain::token::token_hash(&format!("public\nPOST {path}\nb7d2-double-click"));
    let kept = f
        .state
        .table
        .get(&Key::new(format!("IDEMPOTENCY#{digest}"), "RESPONSE"))
        .await
        .unwrap()
        .expect("the answer is kept");
    let token = first.body["manage_token"].as_str().unwrap();
    assert!(!serde_json::to_string(&kept).unwrap().contains(token));
    assert_eq!(kept["status"], 201);
}

#[tokio::test]
async fn sms_reminders_need_a_phone_with_consent() {
    let (f, _clock) = fixture(json!({})).await;
    let without = f
        .book(
            "2026-03-04T10:00:00Z",
            "a@example.com",
            json!({"phone": "+447911123456", "sms_consent": false}),
        )
        .await;
    assert_eq!(without.status, StatusCode::CREATED, "{}", without.body);
    let keys = reminder_keys(&f.booking_item(without.body["booking"]["id"].as_str().unwrap()).await);
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.sk.ends_with("#email")));
    let consent_without_phone = f
        .book(
            "2026-03-04T11:00:00Z",
            "b@example.com",
            json!({"sms_consent": true, "sms_consent_text": "ok"}),
        )
        .await;
    assert_eq!(consent_without_phone.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        codes(&consent_without_phone),
        vec![("phone".to_string(), "required".to_string())]
    );
}

/// Fires `n` bookings for one start at once; returns the replies.
async fn race(f: &Fixture, n: usize, start: &str) -> Vec<Reply> {
    let requests = (0..n).map(|i| {
        let body = json!({"start": start, "name": format!("Racer {i}"), "email": format!("racer{i}@example.com"), "time_zone": "Europe/London"});
        let request = Browser::anonymous().request("POST", &f.public("/bookings"), Some(&body));
        let app = f.router.clone();
        tokio::spawn(async move { konnecs_tests::http::send(&app, request).await })
    });
    join_all(requests).await.into_iter().map(|r| r.expect("task")).collect()
}

/// After a race: exactly `winners` bookings exist, and nothing of the losers
/// (no contact, no timeline entry, no reminder, no queued message).
async fn assert_only_winners_left(
    f: &Fixture,
    start: Timestamp,
    replies: &[Reply],
    winners: usize,
    existing_contacts: &[(usize, String)],
) {
    let won: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    let lost: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::CONFLICT).collect();
    assert_eq!(won.len(), winners, "winners");
    assert_eq!(lost.len(), replies.len() - winners, "every other request is a 409");
    assert!(
        lost.iter().all(|r| r.body["code"] == "slot_taken"),
        "losers get slot_taken"
    );
    let winner_emails: Vec<String> = won
        .iter()
        .map(|r| r.body["booking"]["invitee"]["email"].as_str().unwrap().to_string())
        .collect();

    assert_eq!(
        f.host_calendar().await.iter().filter(|i| i["sk"] != "VERSION").count(),
        winners
    );
    let mut reminder_count = 0;
    for reply in &won {
        let keys = reminder_keys(&f.booking_item(reply.body["booking"]["id"].as_str().unwrap()).await);
        assert_eq!(live(f.state.table.as_ref(), &keys).await, keys.len());
        reminder_count += keys.len();
    }
    // Every reminder partition of the slot holds the winners' reminders only.
    for hours in [24, 1] {
        for due in reminders::partitions(start - jiff::SignedDuration::from_hours(hours)) {
            let items = query_all(f.state.table.as_ref(), Query::partition(due.clone())).await;
            reminder_count -= items.len().min(reminder_count);
            assert!(
                items
                    .iter()
                    .all(|i| won.iter().any(|w| w.body["booking"]["id"] == i["booking_id"])),
                "a loser's reminder exists in {due}"
            );
        }
    }
    assert_eq!(
        reminder_count, 0,
        "the reminder partitions hold exactly the winners' reminders"
    );

    // Contacts and timeline entries: only the winners'.
    let mut timeline_entries = 0;
    for i in 0..replies.len() {
        let email = format!("racer{i}@example.com");
        let pointer = f
            .state
            .table
            .get(&contacts::email_unique_key(&OrgId::from(&f.org_id), &email))
            .await
            .unwrap();
        let pre_existing = existing_contacts.iter().any(|(j, _)| *j == i);
        if !pre_existing {
            assert_eq!(pointer.is_some(), winner_emails.contains(&email), "contact of {email}");
        }
        if let Some(pointer) = pointer {
            let contact_id = pointer["contact_id"].as_str().unwrap();
            let timeline = query_all(
                f.state.table.as_ref(),
                Query::partition(contacts::contact_partition(
                    &OrgId::from(&f.org_id),
                    &ContactId::from(contact_id),
                ))
                .sort(SortKey::BeginsWith("TL#".into())),
            )
            .await;
            let booked = timeline.iter().filter(|t| t["kind"] == "booking.created").count();
            assert_eq!(
                booked,
                usize::from(winner_emails.contains(&email)),
                "timeline of {email}"
            );
            timeline_entries += booked;
        }
    }
    assert_eq!(timeline_entries, winners);

    // Messages: queued for the winners only.
    let mut bodies = Vec::new();
    for round in 0.. {
        assert!(round < 1_000, "the jobs queue did not run dry in 1,000 receives");
        let received = f
            .state
            .jobs
            .receive(10, std::time::Duration::from_secs(60))
            .await
            .expect("receive");
        if received.is_empty() {
            break;
        }
        bodies.extend(received.into_iter().map(|m| m.body));
    }
    assert!(!bodies.is_empty(), "the winners' confirmations are queued");
    for i in 0..replies.len() {
        let email = format!("racer{i}@example.com");
        let mentioned = bodies.iter().any(|b| b.contains(&email));
        assert_eq!(mentioned, winner_emails.contains(&email), "messages to {email}");
    }
}

#[tokio::test]
async fn two_hundred_concurrent_bookings_of_one_slot_on_sqlite_make_one_booking_and_199_slot_taken() {
    let (f, _clock) = fixture(json!({})).await;
    // Half of the racers are already contacts: their timeline entry would be
    // written inside the booking transaction, so a loser's must not appear.
    let mut existing = Vec::new();
    for i in (0..200).step_by(2) {
        let reply = f
            .host
            .send(
                &f.router,
                "POST",
                "/contacts",
                Some(&json!({"first_name": format!("Racer {i}"), "emails": [format!("racer{i}@example.com")]})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        existing.push((i, reply.body["id"].as_str().unwrap_or_default().to_string()));
    }
    let replies = race(&f, 200, "2026-03-04T10:00:00Z").await;
    assert_only_winners_left(&f, ts("2026-03-04T10:00:00Z"), &replies, 1, &existing).await;
}

#[tokio::test]
async fn a_three_seat_event_lets_exactly_three_of_two_hundred_concurrent_bookings_share_a_start() {
    let (f, _clock) = fixture(json!({"seats": 3})).await;
    let replies = race(&f, 200, "2026-03-04T10:00:00Z").await;
    assert_only_winners_left(&f, ts("2026-03-04T10:00:00Z"), &replies, 3, &[]).await;
    let starts = f.slot_starts("from=2026-03-04&to=2026-03-04").await;
    assert!(
        !starts.contains(&"2026-03-04T10:00:00Z".to_string()),
        "a full seated slot is not offered"
    );
}

#[tokio::test]
async fn concurrent_bookings_on_dynamodb_make_exactly_one_booking() {
    // The DynamoDB adapter hides items whose TTL passed in real time (sessions
    // included), so this test runs at the real time: a Wednesday 10:00 in
    // London at least three days ahead.
    let today = Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap())
        .date();
    let mut day = today.checked_add(jiff::Span::new().days(3)).unwrap();
    while day.weekday() != jiff::civil::Weekday::Wednesday {
        day = day.tomorrow().unwrap();
    }
    let start = day
        .at(10, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap())
        .unwrap()
        .timestamp();
    let app = TestApp::on(Store::Aws, &Timestamp::now().to_string()).await;
    let f = fixture_on(app, json!({})).await;
    let started = std::time::Instant::now();
    let replies = race(&f, 200, &start.to_string()).await;
    println!(
        "200 concurrent bookings on the DynamoDB emulator took {:?}",
        started.elapsed()
    );
    assert_only_winners_left(&f, start, &replies, 1, &[]).await;
}

// --------------------------------------------------------------- manage

async fn cancelling_by_token_removes_the_reminders_and_frees_the_slot_in_one_step(store: Store) {
    let (f, _clock) = fixture_on_store(store, json!({})).await;
    let reply = f.book("2026-03-04T10:00:00Z", "sam@example.com", json!({})).await;
    let uid = reply.body["booking"]["uid"].as_str().unwrap().to_string();
    let token = reply.body["manage_token"].as_str().unwrap().to_string();
    let keys = reminder_keys(&f.booking_item(&uid).await);
    assert_eq!(live(f.state.table.as_ref(), &keys).await, 2);

    let wrong = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            &format!("/public/bookings/{uid}/cancel"),
            Some(&json!({"token": "nope"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    assert_eq!(
        live(f.state.table.as_ref(), &keys).await,
        2,
        "a wrong token changes nothing"
    );

    let cancelled = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            &format!("/public/bookings/{uid}/cancel?token={token}"),
            Some(&json!({"reason": "Feeling better"})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["cancelled_by"], "invitee");
    assert_eq!(cancelled.body["cancel_reason"], "Feeling better");
    assert_eq!(
        live(f.state.table.as_ref(), &keys).await,
        0,
        "reminders went with the cancel"
    );
    assert!(
        f.booking_item(&uid).await["reminder_keys"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        f.slot_starts("from=2026-03-04&to=2026-03-04")
            .await
            .contains(&"2026-03-04T10:00:00Z".to_string())
    );

    let again = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            &format!("/public/bookings/{uid}/cancel"),
            Some(&json!({"token": token})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["code"], "booking_not_active");
}

async fn rescheduling_replaces_the_reminders_and_refuses_a_taken_slot(store: Store) {
    let (f, _clock) = fixture_on_store(store, json!({})).await;
    let a = f.book("2026-03-04T10:00:00Z", "a@example.com", json!({})).await;
    let b = f.book("2026-03-04T11:00:00Z", "b@example.com", json!({})).await;
    assert_eq!(b.status, StatusCode::CREATED);
    let uid = a.body["booking"]["uid"].as_str().unwrap().to_string();
    let token = a.body["manage_token"].as_str().unwrap().to_string();
    let old_keys = reminder_keys(&f.booking_item(&uid).await);

    let taken = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            &format!("/public/bookings/{uid}/reschedule"),
            Some(&json!({"token": token, "start": "2026-03-04T11:00:00Z"})),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert_eq!(taken.body["code"], "slot_taken");
    assert_eq!(
        live(f.state.table.as_ref(), &old_keys).await,
        2,
        "a refused move changes nothing"
    );

    // Moving by half an hour overlaps its own old time: that is fine.
    let moved = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            &format!("/public/bookings/{uid}/reschedule"),
            Some(&json!({"token": token, "start": "2026-03-04T10:30:00Z"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.body["start"], "2026-03-04T10:30:00Z");
    assert_eq!(moved.body["sequence"], 1);
    assert_eq!(
        live(f.state.table.as_ref(), &old_keys).await,
        0,
        "old reminders are gone"
    );
    let new_keys = reminder_keys(&f.booking_item(&uid).await);
    assert_eq!(live(f.state.table.as_ref(), &new_keys).await, 2);
    assert!(new_keys.iter().any(|k| k.pk
        == format!(
            "REMINDERS#2026-03-04T09:30#{}",
            reminders::shard_of(&BookingId::from(&uid))
        )));
    let starts = f.slot_starts("from=2026-03-04&to=2026-03-04").await;
    assert!(
        starts.contains(&"2026-03-04T10:00:00Z".to_string()),
        "the old time is free again"
    );
    assert!(!starts.contains(&"2026-03-04T10:30:00Z".to_string()));

    // The host reschedules with the session.
    let by_host = f
        .host
        .send(
            &f.router,
            "POST",
            &format!("/appointments/{uid}/reschedule"),
            Some(&json!({"start": "2026-03-05T09:00:00Z"})),
        )
        .await;
    assert_eq!(by_host.status, StatusCode::OK, "{}", by_host.body);
    assert_eq!(by_host.body["sequence"], 2);
    assert_eq!(live(f.state.table.as_ref(), &new_keys).await, 0);
}

async fn bookings_that_need_confirmation_hold_the_slot_and_get_reminders_once_confirmed(store: Store) {
    let (f, clock) = fixture_on_store(store, json!({"requires_confirmation": true})).await;
    let a = f.book("2026-03-04T10:00:00Z", "a@example.com", json!({})).await;
    assert_eq!(a.body["booking"]["status"], "pending_confirmation");
    let a_id = a.body["booking"]["id"].as_str().unwrap().to_string();
    assert!(reminder_keys(&f.booking_item(&a_id).await).is_empty());
    assert!(
        !f.slot_starts("from=2026-03-04&to=2026-03-04")
            .await
            .contains(&"2026-03-04T10:00:00Z".to_string())
    );

    let confirmed = f
        .host
        .send(&f.router, "POST", &format!("/appointments/{a_id}/confirm"), None)
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "confirmed");
    let keys = reminder_keys(&f.booking_item(&a_id).await);
    assert_eq!(live(f.state.table.as_ref(), &keys).await, 2);
    // The request told both sides, without an invite; the confirmation sends
    // the invite, and the customer's manage link survives into it.
    let mail = konnecs_tests::local::outbox(&f.state).await;
    let to = |who: &str, subject: &str| -> Vec<Value> {
        mail.iter()
            .filter(|m| m["to"] == who && m["subject"].as_str().unwrap_or_default().starts_with(subject))
            .cloned()
            .collect()
    };
    let link = a.body["manage_url"].as_str().unwrap();
    let requested = to("a@example.com", "Requested:");
    assert_eq!(requested.len(), 1, "{mail:#?}");
    assert!(requested[0]["text"].as_str().unwrap().contains(link));
    assert_eq!(requested[0]["attachments"], json!([]));
    let asked = to("morgan@harbour-physio.example", "Please confirm:");
    assert_eq!(asked.len(), 1, "{mail:#?}");
    assert_eq!(asked[0]["attachments"], json!([]));
    let confirmation = to("a@example.com", "Confirmed:");
    assert_eq!(confirmation.len(), 1, "{mail:#?}");
    assert!(confirmation[0]["text"].as_str().unwrap().contains(link));
    assert_eq!(confirmation[0]["attachments"][0]["filename"], "invite.ics");
    let twice = f
        .host
        .send(&f.router, "POST", &format!("/appointments/{a_id}/confirm"), None)
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    let b = f
        .book(
            "2026-03-04T11:00:00Z",
            "b@example.com",
            json!({"phone": "+447911123458", "sms_consent": true, "sms_consent_text": "Texts about this appointment"}),
        )
        .await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    let b_id = b.body["booking"]["id"].as_str().unwrap().to_string();
    let declined = f
        .host
        .send(
            &f.router,
            "POST",
            &format!("/appointments/{b_id}/decline"),
            Some(&json!({"reason": "On leave"})),
        )
        .await;
    assert_eq!(declined.body["status"], "declined");
    // A request and its decline go by email only: no text, no calendar file.
    let mail = konnecs_tests::local::outbox(&f.state).await;
    let to_b: Vec<&Value> = mail
        .iter()
        .filter(|m| m["to"] == "b@example.com" || m["to"] == "+447911123458")
        .collect();
    let subjects: Vec<&str> = to_b.iter().map(|m| m["subject"].as_str().unwrap_or_default()).collect();
    assert_eq!(to_b.len(), 2, "{subjects:?}");
    assert!(subjects.iter().any(|s| s.starts_with("Requested:")), "{subjects:?}");
    assert!(
        subjects.iter().any(|s| s.starts_with("Not taking place:")),
        "{subjects:?}"
    );
    assert!(to_b.iter().all(|m| m["attachments"] == json!([])));
    assert!(
        f.slot_starts("from=2026-03-04&to=2026-03-04")
            .await
            .contains(&"2026-03-04T11:00:00Z".to_string())
    );

    // No-show only once the appointment has started.
    let early = f
        .host
        .send(&f.router, "POST", &format!("/appointments/{a_id}/no-show"), None)
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert_eq!(early.body["code"], "not_started");
    clock.set(ts("2026-03-04T10:20:00Z"));
    let host = login(&f).await;
    let marked = host
        .send(&f.router, "POST", &format!("/appointments/{a_id}/no-show"), None)
        .await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.body);
    assert_eq!(marked.body["no_show"], true);
}

#[tokio::test]
async fn the_host_lists_and_cancels_appointments_with_the_session() {
    let (f, _clock) = fixture(json!({})).await;
    for (start, email) in [
        ("2026-03-04T10:00:00Z", "a@example.com"),
        ("2026-03-05T10:00:00Z", "b@example.com"),
        ("2026-03-12T10:00:00Z", "c@example.com"),
    ] {
        assert_eq!(f.book(start, email, json!({})).await.status, StatusCode::CREATED);
    }
    let list = f
        .host
        .send(&f.router, "GET", "/appointments?from=2026-03-02&to=2026-03-09", None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let items = list.body["items"].as_array().unwrap();
    let emails: Vec<&str> = items.iter().map(|i| i["invitee"]["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["a@example.com", "b@example.com"]);
    // Dates are days in the given zone (default: the organization's), `to` included:
    // 5 March in Auckland (UTC+13) is 4 March 11:00 to 5 March 11:00 UTC.
    let auckland = f
        .host
        .send(
            &f.router,
            "GET",
            "/appointments?from=2026-03-05&to=2026-03-05&tz=Pacific/Auckland",
            None,
        )
        .await;
    assert_eq!(auckland.status, StatusCode::OK, "{}", auckland.body);
    let emails: Vec<&str> = auckland.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["invitee"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["b@example.com"]);
    let unknown = f
        .host
        .send(
            &f.router,
            "GET",
            "/appointments?from=2026-03-05&to=2026-03-05&tz=Mars/Olympus",
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.body);
    let id = items[0]["id"].as_str().unwrap().to_string();
    let keys = reminder_keys(&f.booking_item(&id).await);

    let no_csrf = Browser {
        csrf: None,
        ..f.host.clone()
    }
    .send(
        &f.router,
        "POST",
        &format!("/appointments/{id}/cancel"),
        Some(&json!({})),
    )
    .await;
    assert_eq!(
        no_csrf.status,
        StatusCode::FORBIDDEN,
        "session writes need the CSRF token"
    );
    let cancelled = f
        .host
        .send(
            &f.router,
            "POST",
            &format!("/appointments/{id}/cancel"),
            Some(&json!({"reason": "Therapist ill"})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["cancelled_by"], "host");
    assert_eq!(live(f.state.table.as_ref(), &keys).await, 0);
    let shown = f
        .host
        .send(&f.router, "GET", &format!("/appointments/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], "cancelled");
}

// ------------------------------------------------------- round trips

#[tokio::test]
async fn slots_and_booking_store_round_trips_are_bounded() {
    let mut base = TestApp::at(NOW);
    let mut state = base.state.clone();
    let counting = Arc::new(CountingTable::new(state.table.clone()));
    let counts = counting.counts();
    state.table = counting;
    base.replace_state(state);
    let f = fixture_on(base, json!({})).await;
    assert_eq!(
        f.book("2026-03-04T11:00:00Z", "returning@example.com", json!({}))
            .await
            .status,
        StatusCode::CREATED
    );

    let before = counts.snapshot();
    f.slot_starts("from=2026-03-02&to=2026-03-08").await;
    let after = counts.snapshot();
    let slots = (
        after.get - before.get,
        after.batch_get - before.batch_get,
        after.query - before.query,
        after.total() - before.total(),
    );
    println!(
        "slots request: get {} batch_get {} query {} total {}",
        slots.0, slots.1, slots.2, slots.3
    );
    assert_eq!(
        slots,
        (2, 1, 1, 5),
        "slug, event pointer, one batch (org, event type, schedule, version), one calendar query, \
         and the page's rate-limit bucket (the client IP's too where the request has one)"
    );

    for (email, label) in [
        ("new@example.com", "new contact"),
        ("returning@example.com", "returning contact"),
    ] {
        let before = counts.snapshot();
        let start = if label == "new contact" {
            "2026-03-04T14:00:00Z"
        } else {
            "2026-03-04T15:00:00Z"
        };
        assert_eq!(f.book(start, email, json!({})).await.status, StatusCode::CREATED);
        let after = counts.snapshot();
        println!(
            "booking ({label}): get {} batch_get {} query {} transact {} put {} update {} total {}",
            after.get - before.get,
            after.batch_get - before.batch_get,
            after.query - before.query,
            after.transact - before.transact,
            after.put - before.put,
            after.update - before.update,
            after.total() - before.total()
        );
        let calls = (
            after.get - before.get,
            after.batch_get - before.batch_get,
            after.query - before.query,
            after.put - before.put,
            after.total() - before.total(),
        );
        // As BENCHMARKS.md states: (get, batch_get, query, put, total);
        // the total includes the page's rate-limit bucket (one update).
        let expected = if label == "new contact" {
            (2, 3, 2, 0, 9)
        } else {
            (3, 3, 2, 0, 10)
        };
        assert_eq!(calls, expected, "{label}");
        // The booking, its reminders, the invitee's contact (new or merged) and
        // its timeline entry are one transaction: nothing can commit halfway.
        assert_eq!(after.transact - before.transact, 1, "{label}");
    }
    let _ = reminders::default_plan();
}

#[tokio::test]
async fn a_reschedule_racing_new_bookings_for_the_same_slot_lets_exactly_one_through() {
    let (f, _clock) = fixture(json!({})).await;
    let a = f.book("2026-03-04T10:00:00Z", "mover@example.com", json!({})).await;
    let uid = a.body["booking"]["uid"].as_str().unwrap().to_string();
    let token = a.body["manage_token"].as_str().unwrap().to_string();
    let move_request = Browser::anonymous().request(
        "POST",
        &format!("/public/bookings/{uid}/reschedule"),
        Some(&json!({"token": token, "start": "2026-03-04T11:00:00Z"})),
    );
    let app = f.router.clone();
    let mover = tokio::spawn(async move { konnecs_tests::http::send(&app, move_request).await });
    let bookers = race(&f, 50, "2026-03-04T11:00:00Z").await;
    let moved = mover.await.expect("task");
    let successes = bookers.iter().filter(|r| r.status == StatusCode::CREATED).count()
        + usize::from(moved.status == StatusCode::OK);
    assert_eq!(successes, 1, "the mover: {} {}", moved.status, moved.body);
    assert!(
        bookers
            .iter()
            .all(|r| r.status == StatusCode::CREATED || r.body["code"] == "slot_taken")
    );
    let at_eleven = f
        .host_calendar()
        .await
        .iter()
        .filter(|i| i.get("starts_at") == Some(&json!(ts("2026-03-04T11:00:00Z").as_second())))
        .count();
    assert_eq!(at_eleven, 1);
}

// ---------------------------------------------------------------- pages

/// A page as a browser without JavaScript gets it: status, headers, HTML.
async fn page(app: &Router, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let reply = Browser::anonymous().send(app, "GET", path, None).await;
    let html = String::from_utf8(reply.bytes).expect("utf-8 page");
    (reply.status, reply.headers, html)
}

#[track_caller]
fn assert_page_headers(headers: &http::HeaderMap) {
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.contains_key("content-security-policy"));
}

#[tokio::test]
async fn the_booking_page_is_rendered_on_the_server_and_unknown_events_are_404_pages() {
    let (f, _clock) = fixture(json!({
        "description": "A first look at the problem.\nBring shorts.",
        "location": {"kind": "in_person", "address": "1 Quay St, Bristol"},
    }))
    .await;
    let path = format!("/book/{}/{}", f.org_slug, f.event_slug);
    let (status, headers, html) = page(&f.router, &path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_page_headers(&headers);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    for expected in [
        "<title>Assessment · Harbour Physio</title>",
        r#"<h1 id="title">Assessment</h1>"#,
        r#"<p class="muted" id="org">Harbour Physio</p>"#,
        "With Morgan Hale",
        "A first look at the problem.\nBring shorts.",
        r#"<div id="durationBox" class="muted">30 or 60 minutes</div>"#,
        "In person at 1 Quay St, Bristol",
        r#"<meta property="og:title" content="Assessment">"#,
        r#"<meta property="og:site_name" content="Harbour Physio">"#,
        r#"<meta property="og:url" content="http://127.0.0.1:3000/book/harbour-physio/assessment">"#,
        r#"<meta property="og:description" content="30 or 60 minutes · In person at 1 Quay St, Bristol · A first look at the problem."#,
        r#"data-org="harbour-physio" data-event="assessment""#,
    ] {
        assert!(html.contains(expected), "{expected:?} missing from {html}");
    }

    // Unknown organization, unknown or malformed event, an inactive event: a 404 page.
    let deactivated = f
        .host
        .send(
            &f.router,
            "PATCH",
            &format!("/event-types/{}", f.event_id),
            Some(&json!({"active": false})),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    for missing in [
        "/book/nobody-here/assessment".to_string(),
        format!("/book/{}/no-such-event", f.org_slug),
        format!("/book/{}/%3Cscript%3E", f.org_slug),
        path.clone(),
    ] {
        let (status, headers, html) = page(&f.router, &missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {html}");
        assert_page_headers(&headers);
        assert!(html.contains("This booking page does not exist"), "{missing}: {html}");
        assert!(!html.contains("Assessment"), "{missing}: {html}");
    }
}

/// The text an HTML fragment (escaped text, no markup) stands for.
fn unescape_html(fragment: &str) -> String {
    assert!(
        !fragment.contains(['<', '>', '"']),
        "markup or a quote in text: {fragment:?}"
    );
    let mut out = fragment.to_string();
    for (entity, text) in [
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
    ] {
        out = out.replace(entity, text);
    }
    out.replace("&#38;", "&").replace("&amp;", "&")
}

/// What lies between `before` and the next `after` in `html`.
fn between<'a>(html: &'a str, before: &str, after: &str) -> &'a str {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} missing from {html}"))
        + before.len();
    let len = html[start..]
        .find(after)
        .unwrap_or_else(|| panic!("no {after:?} after {before:?}"));
    &html[start..start + len]
}

#[tokio::test]
async fn a_hostile_event_name_is_escaped_everywhere_the_page_shows_it() {
    let title = "\"><script>alert(1)</script> & <b>Deals</b>";
    let description = "</p><img src=x onerror=alert(2)>'quoted'";
    let (f, _clock) = fixture(json!({"title": title, "description": description})).await;
    let (status, _, html) = page(&f.router, &format!("/book/{}/{}", f.org_slug, f.event_slug)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for raw in ["<script>alert(1)", "<img src=x", "\"><script", "<b>Deals", "'quoted'"] {
        assert!(!html.contains(raw), "{raw:?} reached the page unescaped: {html}");
    }
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the page's own script: {html}"
    );
    // Each place shows exactly the text, as text: no tag, no quote that ends an attribute.
    assert_eq!(
        unescape_html(between(&html, "<title>", "</title>")),
        format!("{title} · Harbour Physio")
    );
    assert_eq!(unescape_html(between(&html, r#"<h1 id="title">"#, "</h1>")), title);
    assert_eq!(
        unescape_html(between(&html, r#"<meta property="og:title" content=""#, "\">")),
        title
    );
    assert_eq!(
        unescape_html(between(&html, r#"<p id="description" class="muted">"#, "</p>\n")),
        description
    );
    let og_description = between(&html, r#"<meta property="og:description" content=""#, "\">");
    assert!(unescape_html(og_description).ends_with(description), "{og_description}");
}

#[tokio::test]
async fn the_manage_page_shows_the_booking_without_javascript_and_a_wrong_token_is_a_404_page() {
    let (f, _clock) = fixture(json!({"location": {"kind": "video", "url": "https://meet.example/harbour"}})).await;
    let booked = f
        .book(
            "2026-03-04T10:00:00Z",
            "sam@example.com",
            json!({"time_zone": "Asia/Kolkata"}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let uid = booked.body["booking"]["uid"].as_str().expect("uid").to_string();
    let token = booked.body["manage_token"].as_str().expect("token").to_string();
    let path = format!("/booking/{uid}?token={token}");
    let (status, headers, html) = page(&f.router, &path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_page_headers(&headers);
    for expected in [
        "<title>Assessment · Harbour Physio</title>",
        r#"<h1 id="title">Assessment</h1>"#,
        // The invitee's own zone: 10:00 UTC is 15:30 in Kolkata.
        r#"<strong id="when">Wednesday 4 March 2026, 15:30 (Asia/Kolkata)</strong>"#,
        r#"<span id="state">Confirmed</span>"#,
        "With Morgan Hale",
        "Video call: https://meet.example/harbour",
        r#"<div id="actions" class="card"><h2>"#,
        r#"<meta name="robots" content="noindex, nofollow">"#,
        r#"data-org="harbour-physio" data-event="assessment""#,
    ] {
        assert!(html.contains(expected), "{expected:?} missing from {html}");
    }
    assert!(!html.contains(&token), "the token stays in the URL, not in the page");

    for wrong in [
        format!("/booking/{uid}?token=x{token}"),
        format!("/booking/{uid}"),
        format!("/booking/0193a4c2e6f07b1d9e8a2c4f6b8d0e1f?token={token}"),
    ] {
        let (status, headers, html) = page(&f.router, &wrong).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{wrong}: {html}");
        assert_page_headers(&headers);
        assert!(html.contains("This booking was not found"), "{html}");
        assert!(!html.contains("Assessment"), "{wrong}: {html}");
    }

    // Cancelled, it offers no more changes.
    let cancelled = Browser::anonymous()
        .send(
            &f.router,
            "POST",
            &format!("/public/bookings/{uid}/cancel"),
            Some(&json!({"token": token})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let (_, _, html) = page(&f.router, &path).await;
    assert!(html.contains(r#"<span id="state">Cancelled</span>"#), "{html}");
    assert!(html.contains(r#"<div id="actions" class="card" hidden>"#), "{html}");
}
