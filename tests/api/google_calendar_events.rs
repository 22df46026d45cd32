//! Bookings written into the host's Google calendar, against a mock Google
//! holding the events: each booking becomes one event tagged with
//! Konnecs's private properties (a redelivered job makes no second one), a
//! reschedule patches it, a cancel deletes it, and an event under the
//! booking's id without the tag is never patched or deleted. The scheduled
//! sync lists changes with the stored sync token, lists in full after a
//! 410, cancels a booking whose event the host deleted in Google (telling
//! the customer) and flags one moved there. Without a working connection
//! nothing calls Google.

use http::StatusCode;
use jiff::SignedDuration;
use konnecs::domain::ids::{BookingId, OrgId};
use konnecs::services::jobs::{Job, enqueue};
use konnecs::services::scheduling::bookings::{GoogleEventOutcome, event_id, sync_booking_event};
use konnecs_tests::app::{Member, START, Store, TestApp};
use konnecs_tests::google::{CALENDAR_PREFIX, MockGoogle, param, query_of, with_google};
use konnecs_tests::google_events::MockCalendarEvents;
use serde_json::{Value, json};

const GRANTED: &str = "openid email https://www.googleapis.com/auth/calendar.events";
const BOOK: &str = "/public/booking/whitfield-dental/assessment/bookings";
/// The calendar bookings go into at first.
const CALENDAR: &str = "primary";

struct Fixture {
    app: TestApp,
    dana: Member,
    google: MockGoogle,
    events: MockCalendarEvents,
}

/// Dana hosts a 30-minute "assessment" on London weekday mornings; with
/// `connected`, her Google Calendar is connected.
async fn fixture(store: Store, connected: bool, refresh: wiremock::ResponseTemplate) -> Fixture {
    let google = MockGoogle::start(GRANTED, refresh).await;
    google.serve_calendars(&[]).await;
    let events = MockCalendarEvents::mount(&google).await;
    let mut app = TestApp::on(store, START).await;
    let state = with_google(&app.state, &google.uri());
    app.replace_state(state);
    let dana = app.sign_up(&app.fresh_email("dana"), "Whitfield Dental").await;
    let day = json!([{"start": "09:00", "end": "12:00"}]);
    let weekly = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day});
    let schedule = app
        .send(
            &dana.browser,
            "POST",
            "/schedules",
            Some(&json!({"name": "Mornings", "time_zone": "Europe/London", "weekly": weekly})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.body);
    let event =
        json!({"title": "Assessment", "slug": "assessment", "durations": [30], "schedule_id": schedule.body["id"]});
    let created = app.send(&dana.browser, "POST", "/event-types", Some(&event)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    if connected {
        let reply = app
            .send(
                &dana.browser,
                "POST",
                "/integrations/google/connect",
                Some(&json!({"features": ["calendar"]})),
            )
            .await;
        let state = param(&query_of(reply.body["url"].as_str().expect("url")), "state").expect("state");
        let back = app
            .send(
                &dana.browser,
                "GET",
                &format!("/app/settings/integrations/google/callback?state={state}&code=c"),
                None,
            )
            .await;
        assert_eq!(back.status, StatusCode::SEE_OTHER);
    }
    Fixture {
        app,
        dana,
        google,
        events,
    }
}

/// Sam books `start`; answers the booking id and manage token.
async fn book(f: &Fixture, start: &str) -> (String, String) {
    let body = json!({"start": start, "name": "Sam Lee", "email": "sam@example.com", "time_zone": "Europe/London"});
    let booked = f.app.send_anonymous("POST", BOOK, Some(&body)).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let id = booked.body["booking"]["id"].as_str().expect("id").to_string();
    let token = booked.body["manage_token"].as_str().expect("token").to_string();
    (id, token)
}

/// The calls to the events API, as "METHOD path".
async fn event_calls(google: &MockGoogle) -> Vec<String> {
    google
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path().starts_with(&format!("{CALENDAR_PREFIX}/calendars/")))
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

fn writes(calls: &[String]) -> Vec<String> {
    calls.iter().filter(|c| !c.starts_with("GET ")).cloned().collect()
}

fn event_path(id: &str) -> String {
    format!(
        "{CALENDAR_PREFIX}/calendars/{CALENDAR}/events/{}",
        event_id(&BookingId::from(id))
    )
}

async fn audit_actions(f: &Fixture) -> Vec<String> {
    let reply = f.app.send(&f.dana.browser, "GET", "/org/audit", None).await;
    reply.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_booking_becomes_one_tagged_event_even_when_its_job_is_delivered_twice() {
    let f = fixture(Store::Sqlite, true, MockGoogle::refreshed(GRANTED)).await;
    let (id, _) = book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    let events = f.events.events(CALENDAR);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["id"], event_id(&BookingId::from(id.as_str())));
    assert_eq!(event["extendedProperties"]["private"]["konnecsBookingId"], id.as_str());
    assert_eq!(
        event["extendedProperties"]["private"]["konnecsOrg"],
        f.dana.org_id.as_str()
    );
    assert_eq!(event["start"]["dateTime"], "2026-11-19T10:00:00Z");
    assert_eq!(event["end"]["dateTime"], "2026-11-19T10:30:00Z");
    assert_eq!(event["summary"], "Assessment with Sam Lee");
    let inserts = writes(&event_calls(&f.google).await);
    assert_eq!(inserts, [format!("POST {CALENDAR_PREFIX}/calendars/{CALENDAR}/events")]);
    // Staff see that it is in Google.
    let shown = f
        .app
        .send(&f.dana.browser, "GET", &format!("/appointments/{id}"), None)
        .await;
    assert_eq!(shown.body["google_calendar"]["written"], true, "{}", shown.body);

    // The queue delivers the job again: no second event, no second insert.
    let job = Job::BookingCalendarEvent {
        org_id: OrgId::from(f.dana.org_id.as_str()),
        booking_id: BookingId::from(id.as_str()),
    };
    enqueue(&f.app.state, &[job.clone(), job]).await.expect("queued");
    f.app.drain_jobs().await;
    assert_eq!(f.events.events(CALENDAR).len(), 1);
    let calls = writes(&event_calls(&f.google).await);
    assert_eq!(calls.iter().filter(|c| c.starts_with("POST")).count(), 1, "{calls:?}");

    // Two deliveries racing: the second insert meets Google's 409 and is
    // neither an error nor a second event.
    let (other, _) = book(&f, "2026-11-19T11:00:00Z").await;
    let org = OrgId::from(f.dana.org_id.as_str());
    let booking = BookingId::from(other.as_str());
    let (a, b) = tokio::join!(
        sync_booking_event(&f.app.state, &org, &booking),
        sync_booking_event(&f.app.state, &org, &booking)
    );
    let outcomes = [a.expect("first"), b.expect("second")];
    assert!(outcomes.contains(&GoogleEventOutcome::Created), "{outcomes:?}");
    assert_eq!(f.events.events(CALENDAR).len(), 2);
}

#[tokio::test]
async fn a_reschedule_patches_the_event_and_a_cancel_deletes_it() {
    let f = fixture(Store::Sqlite, true, MockGoogle::refreshed(GRANTED)).await;
    let (id, token) = book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    let moved = f
        .app
        .send(
            &f.dana.browser,
            "POST",
            &format!("/appointments/{id}/reschedule"),
            Some(&json!({"start": "2026-11-20T09:30:00Z"})),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    f.app.drain_jobs().await;
    let calls = writes(&event_calls(&f.google).await);
    assert_eq!(calls.last(), Some(&format!("PATCH {}", event_path(&id))), "{calls:?}");
    let event = f
        .events
        .event(CALENDAR, &event_id(&BookingId::from(id.as_str())))
        .expect("event");
    assert_eq!(event["start"]["dateTime"], "2026-11-20T09:30:00Z");
    assert_eq!(event["extendedProperties"]["private"]["konnecsSequence"], "1");

    // The customer cancels through the manage link.
    let cancelled = f
        .app
        .send_anonymous(
            "POST",
            &format!("/public/bookings/{id}/cancel"),
            Some(&json!({"token": token})),
        )
        .await;
    assert!(cancelled.status.is_success(), "{}", cancelled.body);
    f.app.drain_jobs().await;
    let calls = writes(&event_calls(&f.google).await);
    assert_eq!(calls.last(), Some(&format!("DELETE {}", event_path(&id))), "{calls:?}");
    let event = f
        .events
        .event(CALENDAR, &event_id(&BookingId::from(id.as_str())))
        .expect("event");
    assert_eq!(event["status"], "cancelled");
    assert_eq!(calls.len(), 3, "one insert, one patch, one delete: {calls:?}");
}

#[tokio::test]
async fn an_event_without_konnecs_tag_is_never_patched_or_deleted() {
    let f = fixture(Store::Sqlite, true, MockGoogle::refreshed(GRANTED)).await;
    let (id, _) = book(&f, "2026-11-19T10:00:00Z").await;
    // Before the job runs, Google holds an event of the member's own under that id.
    let google_id = event_id(&BookingId::from(id.as_str()));
    f.events.change_in_google(
        CALENDAR,
        &google_id,
        json!({"summary": "Dentist (private)", "start": {"dateTime": "2026-11-19T15:00:00Z"}, "end": {"dateTime": "2026-11-19T16:00:00Z"}}),
    );
    f.app.drain_jobs().await;
    let refused = f
        .app
        .send(
            &f.dana.browser,
            "POST",
            &format!("/appointments/{id}/reschedule"),
            Some(&json!({"start": "2026-11-20T09:30:00Z"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.body);
    f.app.drain_jobs().await;
    let cancelled = f
        .app
        .send(
            &f.dana.browser,
            "POST",
            &format!("/appointments/{id}/cancel"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    f.app.drain_jobs().await;
    // Looked at, never written.
    let calls = event_calls(&f.google).await;
    assert!(calls.iter().any(|c| c.starts_with("GET ")), "{calls:?}");
    assert!(writes(&calls).is_empty(), "{calls:?}");
    let event = f.events.event(CALENDAR, &google_id).expect("event");
    assert_eq!(event["summary"], "Dentist (private)");
    assert_eq!(event["status"], "confirmed");
    assert!(audit_actions(&f).await.iter().any(|a| a == "google.event_refused"));
}

#[tokio::test]
async fn without_a_working_connection_nothing_calls_google() {
    // Never connected.
    let f = fixture(Store::Sqlite, false, MockGoogle::refreshed(GRANTED)).await;
    book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    run_sync(&f).await;
    assert!(event_calls(&f.google).await.is_empty());

    // Connected, then Google refuses the grant: broken, and silent after that.
    let f = fixture(Store::Sqlite, true, MockGoogle::invalid_grant()).await;
    f.app.clock.advance(SignedDuration::from_hours(2));
    book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    let status = f.app.send(&f.dana.browser, "GET", "/integrations/google", None).await;
    assert_eq!(status.body["state"], "broken");
    let seen = f.google.requests().await.len();
    book(&f, "2026-11-19T11:00:00Z").await;
    f.app.drain_jobs().await;
    run_sync(&f).await;
    assert!(event_calls(&f.google).await.is_empty());
    assert_eq!(f.google.requests().await.len(), seen, "no call at all once broken");

    // Disconnected: the item is gone, so nothing is called for it.
    let f = fixture(Store::Sqlite, true, MockGoogle::refreshed(GRANTED)).await;
    let gone = f
        .app
        .send(&f.dana.browser, "DELETE", "/integrations/google", None)
        .await;
    assert!(gone.status.is_success(), "{}", gone.body);
    book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    run_sync(&f).await;
    assert!(event_calls(&f.google).await.is_empty());
}

/// One scheduled tick of the calendar sync, and its jobs.
async fn run_sync(f: &Fixture) {
    konnecs::inbound::events::calendar_sync::tick(f.app.state.clone())
        .await
        .expect("tick");
    f.app.drain_jobs().await;
}

/// The `syncToken` of each listing, in order (`None`: a full listing).
async fn listings(google: &MockGoogle) -> Vec<Option<String>> {
    google
        .requests()
        .await
        .iter()
        .filter(|r| r.method == wiremock::http::Method::GET && r.url.path().ends_with("/events"))
        .map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "syncToken")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_sync_lists_changes_with_its_stored_token_and_in_full_after_410() {
    let f = fixture(Store::Sqlite, true, MockGoogle::refreshed(GRANTED)).await;
    book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    run_sync(&f).await;
    run_sync(&f).await;
    let seen = listings(&f.google).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], None, "the first run lists in full");
    let token = seen[1].clone().expect("the second run lists changes since the first");
    assert!(token.starts_with("sync-"), "{token}");

    // Google expires the token: one 410, then a full listing and a new token.
    f.events.expire_sync_tokens();
    run_sync(&f).await;
    let seen = listings(&f.google).await;
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[2].as_deref(), Some(token.as_str()));
    assert_eq!(seen[3], None, "a full resync after the 410");
    run_sync(&f).await;
    let seen = listings(&f.google).await;
    let fresh = seen[4].clone().expect("incremental again");
    assert_ne!(fresh, token);
}

#[tokio::test]
async fn an_event_deleted_in_google_cancels_the_booking_and_tells_the_customer() {
    let f = fixture(Store::Sqlite, true, MockGoogle::refreshed(GRANTED)).await;
    let (id, _) = book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    run_sync(&f).await;
    let google_id = event_id(&BookingId::from(id.as_str()));
    // The host deletes it in Google.
    f.events
        .change_in_google(CALENDAR, &google_id, json!({"status": "cancelled"}));
    let writes_before = writes(&event_calls(&f.google).await).len();
    run_sync(&f).await;
    let shown = f
        .app
        .send(&f.dana.browser, "GET", &format!("/appointments/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], "cancelled", "{}", shown.body);
    assert_eq!(shown.body["cancelled_by"], "host");
    let outbox = f.app.outbox().await;
    let to_sam: Vec<&Value> = outbox
        .iter()
        .filter(|m| m.to_string().contains("sam@example.com") && m.to_string().to_lowercase().contains("cancel"))
        .collect();
    assert!(!to_sam.is_empty(), "the customer is told: {outbox:?}");
    // Konnecs writes nothing back to Google for it.
    assert_eq!(writes(&event_calls(&f.google).await).len(), writes_before);
    // A second run does not cancel anything again.
    run_sync(&f).await;
    assert!(
        audit_actions(&f)
            .await
            .iter()
            .filter(|a| *a == "booking.cancel")
            .count()
            == 1
    );
}

#[tokio::test]
async fn an_event_moved_in_google_flags_the_booking_for_staff() {
    let f = fixture(Store::Sqlite, true, MockGoogle::refreshed(GRANTED)).await;
    let (id, token) = book(&f, "2026-11-19T10:00:00Z").await;
    f.app.drain_jobs().await;
    run_sync(&f).await;
    let shown = f
        .app
        .send(&f.dana.browser, "GET", &format!("/appointments/{id}"), None)
        .await;
    assert_eq!(shown.body["google_calendar"]["moved"], Value::Null, "{}", shown.body);
    let google_id = event_id(&BookingId::from(id.as_str()));
    f.events.change_in_google(
        CALENDAR,
        &google_id,
        json!({"start": {"dateTime": "2026-11-19T14:00:00Z"}, "end": {"dateTime": "2026-11-19T14:30:00Z"}}),
    );
    run_sync(&f).await;
    let shown = f
        .app
        .send(&f.dana.browser, "GET", &format!("/appointments/{id}"), None)
        .await;
    assert_eq!(shown.body["status"], "confirmed", "the booking keeps its time");
    assert_eq!(shown.body["start"], "2026-11-19T10:00:00Z");
    assert_eq!(
        shown.body["google_calendar"]["moved"]["start"], "2026-11-19T14:00:00Z",
        "{}",
        shown.body
    );
    assert!(audit_actions(&f).await.iter().any(|a| a == "booking.moved_in_google"));
    // Staff see it on the calendar page, in the organization's zone.
    let page = f
        .app
        .send(&f.dana.browser, "GET", "/app/calendar?week=2026-11-19", None)
        .await;
    let html = String::from_utf8_lossy(&page.bytes).into_owned();
    assert!(
        html.contains("Moved in Google Calendar to Thu 19 Nov 2026 14:00–14:30"),
        "{html}"
    );
    // The customer's own view does not show it.
    let theirs = f
        .app
        .send_anonymous("GET", &format!("/public/bookings/{id}?token={token}"), None)
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert!(theirs.body.get("google_calendar").is_none(), "{}", theirs.body);
    // Moved back in Google: the flag goes.
    f.events.change_in_google(
        CALENDAR,
        &google_id,
        json!({"start": {"dateTime": "2026-11-19T10:00:00Z"}, "end": {"dateTime": "2026-11-19T10:30:00Z"}}),
    );
    run_sync(&f).await;
    let shown = f
        .app
        .send(&f.dana.browser, "GET", &format!("/appointments/{id}"), None)
        .await;
    assert_eq!(shown.body["google_calendar"]["moved"], Value::Null, "{}", shown.body);
}
