//! The host's Google calendars against a mock Google: the busy times of the
//! calendars they check keep those slots free (times only, through
//! free/busy), read again after a brief cache, chosen on the Integrations
//! page; when Google does not answer, times read in the last fifteen
//! minutes stand in, else the lookup fails (503 `calendar_unavailable`
//! with Retry-After) rather than guess; a broken connection stops the calls.

use http::StatusCode;
use jiff::SignedDuration;
use konnecs::domain::role::Role;
use konnecs_tests::app::{Member, START, Store, TestApp};
use konnecs_tests::google::{HOLIDAYS_ID, MockGoogle, param, query_of, with_google};
use konnecs_tests::http::Browser;
use serde_json::json;

const GRANTED: &str = "openid email https://www.googleapis.com/auth/calendar.events";
const SLOTS: &str =
    "/public/booking/whitfield-dental/assessment/slots?from=2026-11-19&to=2026-11-19&tz=Europe/London&duration=30";

/// Dana, host of a 30-minute "assessment" on London weekday mornings, with
/// Google Calendar connected (Google busy 10:00–11:00 on Thursday 19 November).
async fn host(google: &MockGoogle) -> (TestApp, Member) {
    let mut app = TestApp::on(Store::Sqlite, START).await;
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
    (app, dana)
}

async fn connect(app: &TestApp, who: &Member) {
    let reply = app
        .send(
            &who.browser,
            "POST",
            "/integrations/google/connect",
            Some(&json!({"features": ["calendar"]})),
        )
        .await;
    let state = param(&query_of(reply.body["url"].as_str().expect("url")), "state").expect("state");
    let back = app
        .send(
            &who.browser,
            "GET",
            &format!("/app/settings/integrations/google/callback?state={state}&code=c"),
            None,
        )
        .await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
}

async fn slot_times(app: &TestApp) -> Vec<String> {
    let reply = app.send_anonymous("GET", SLOTS, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d["slots"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s["time"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn busy_times_of_the_hosts_google_calendar_keep_those_slots_free() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google
        .serve_calendars(&[("2026-11-19T10:00:00Z", "2026-11-19T11:00:00Z")])
        .await;
    let (app, dana) = host(&google).await;
    let before = slot_times(&app).await;
    assert_eq!(
        before,
        ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"],
        "not connected: all free"
    );
    assert!(google.free_busy_queries().await.is_empty());

    connect(&app, &dana).await;
    assert_eq!(slot_times(&app).await, ["09:00", "09:30", "11:00", "11:30"]);
    let queries = google.free_busy_queries().await;
    assert_eq!(queries.len(), 1);
    assert_eq!(
        queries[0]["items"],
        json!([{"id": "primary"}]),
        "the main calendar at first"
    );
    // A booking into the busy hour is refused too.
    let booking = json!({"start": "2026-11-19T10:00:00Z", "name": "Sam Lee", "email": "sam@example.com", "time_zone": "Europe/London"});
    let refused = app
        .send_anonymous(
            "POST",
            "/public/booking/whitfield-dental/assessment/bookings",
            Some(&booking),
        )
        .await;
    assert!(refused.status.is_client_error(), "{} {}", refused.status, refused.body);

    // Cached briefly: the same window again asks Google nothing...
    slot_times(&app).await;
    let cached = google.free_busy_queries().await.len();
    // ...and after two minutes asks again.
    app.clock.advance(SignedDuration::from_mins(3));
    slot_times(&app).await;
    assert_eq!(google.free_busy_queries().await.len(), cached + 1);
}

#[tokio::test]
async fn the_host_chooses_the_calendars_checked_on_the_integrations_page() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google
        .serve_calendars(&[("2026-11-19T09:00:00Z", "2026-11-19T09:30:00Z")])
        .await;
    let (app, dana) = host(&google).await;
    connect(&app, &dana).await;
    let page = app.send(&dana.browser, "GET", "/app/settings/integrations", None).await;
    let html = String::from_utf8_lossy(&page.bytes).into_owned();
    assert!(
        html.contains("Holidays in United Kingdom") && html.contains("(your main calendar)"),
        "{html}"
    );
    assert!(html.contains("never what the events are"));

    let form = |busy: &[&str]| {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.append_pair("_csrf", dana.browser.csrf.as_deref().unwrap_or_default());
        body.append_pair("action", "calendars");
        for id in busy {
            body.append_pair("busy", id);
        }
        let mut request = Browser {
            csrf: None,
            ..dana.browser.clone()
        }
        .request("POST", "/app/settings/integrations", None);
        let headers = request.headers_mut();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().expect("header"),
        );
        headers.insert("sec-fetch-site", "same-origin".parse().expect("header"));
        *request.body_mut() = axum::body::Body::from(body.finish());
        request
    };
    let saved = app.request(form(&[HOLIDAYS_ID])).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    slot_times(&app).await;
    let queries = google.free_busy_queries().await;
    assert_eq!(queries.last().expect("query")["items"], json!([{"id": HOLIDAYS_ID}]));
    // A calendar that is not the member's is refused, and nothing changes.
    let refused = app.request(form(&["someone.else@gmail.com"])).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    // None checked: no busy times are read at all.
    assert_eq!(app.request(form(&[])).await.status, StatusCode::SEE_OTHER);
    let seen = google.free_busy_queries().await.len();
    app.clock.advance(SignedDuration::from_mins(3));
    assert_eq!(slot_times(&app).await.len(), 6);
    assert_eq!(google.free_busy_queries().await.len(), seen);
    let audit = app.send(&dana.browser, "GET", "/org/audit", None).await;
    assert!(audit.body.to_string().contains("google.calendars_chosen"));
}

#[tokio::test]
async fn a_google_that_does_not_answer_fails_the_slots_and_a_broken_connection_stops_the_calls() {
    let google = MockGoogle::start(GRANTED, MockGoogle::invalid_grant()).await;
    let (app, dana) = host(&google).await;
    connect(&app, &dana).await;
    // No free/busy mock: Google answers 404 to it, which is no busy time to trust.
    let reply = app.send_anonymous("GET", SLOTS, None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
    assert_eq!(reply.body["code"], "calendar_unavailable", "{}", reply.body);
    assert_eq!(reply.headers["retry-after"], "60");

    // Two hours on the access token has expired and Google refuses the grant:
    // the connection breaks, slots are computed without it, and Google hears no more.
    app.clock.advance(SignedDuration::from_hours(2));
    assert_eq!(slot_times(&app).await.len(), 6);
    let seen = google.requests().await.len();
    app.clock.advance(SignedDuration::from_mins(5));
    assert_eq!(slot_times(&app).await.len(), 6);
    assert_eq!(google.requests().await.len(), seen);
    let status = app.send(&dana.browser, "GET", "/integrations/google", None).await;
    assert_eq!(status.body["state"], "broken");
}

#[tokio::test]
async fn another_members_calendar_never_shows_on_the_page() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.serve_calendars(&[]).await;
    let (app, dana) = host(&google).await;
    connect(&app, &dana).await;
    let sam = app.join(&dana, &app.fresh_email("sam"), Role::Member).await;
    let page = app.send(&sam.browser, "GET", "/app/settings/integrations", None).await;
    let html = String::from_utf8_lossy(&page.bytes).into_owned();
    assert!(
        !html.contains("Holidays in United Kingdom") && html.contains("Not connected"),
        "{html}"
    );
}

#[tokio::test]
async fn busy_times_read_in_the_last_fifteen_minutes_stand_in_for_a_google_that_does_not_answer() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google
        .serve_calendars(&[("2026-11-19T10:00:00Z", "2026-11-19T11:00:00Z")])
        .await;
    let (app, dana) = host(&google).await;
    connect(&app, &dana).await;
    assert_eq!(slot_times(&app).await, ["09:00", "09:30", "11:00", "11:30"]);
    // Google's free/busy starts failing.
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(format!(
            "{}/freeBusy",
            konnecs_tests::google::CALENDAR_PREFIX
        )))
        .respond_with(wiremock::ResponseTemplate::new(503))
        .with_priority(1)
        .mount(&google.server)
        .await;
    // Past the two fresh minutes Google is asked, fails, and the times read
    // five minutes ago still keep the busy hour out.
    app.clock.advance(SignedDuration::from_mins(5));
    let asked = google.free_busy_queries().await.len();
    assert_eq!(slot_times(&app).await, ["09:00", "09:30", "11:00", "11:30"]);
    assert_eq!(
        google.free_busy_queries().await.len(),
        asked + 1,
        "Google was asked first"
    );
    // Sixteen minutes on, nothing recent enough: no guess.
    app.clock.advance(SignedDuration::from_mins(11));
    let reply = app.send_anonymous("GET", SLOTS, None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.body);
    assert_eq!(reply.body["code"], "calendar_unavailable");
    assert_eq!(reply.headers["retry-after"], "60");
}
