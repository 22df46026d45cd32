//! The appointments list (status and date filters, the calendar's actions
//! coming back to the list) and the member's own time zone, in which every
//! time of the app is shown.

use super::*;

#[tokio::test]
async fn the_appointments_list_filters_by_status_and_dates_and_its_actions_come_back_to_it() {
    use konnecs::ports::TestClock;
    use konnecs_tests::practice::{Practice, booking_id, guest};

    // Wednesday 4 March 2026, 08:00 UTC (London is on GMT).
    let clock = TestClock::at("2026-03-04T08:00:00Z".parse().expect("time"));
    let (state, dir) = konnecs_tests::local::temp_state_with_clock(std::sync::Arc::new(clock.clone()));
    let practice = Practice::open(&state, json!({})).await;
    let app = TestApp::with(state.clone(), clock.clone(), dir);
    let mut dana = Visitor {
        cookies: vec![(
            konnecs_tests::http::SESSION_COOKIE.to_string(),
            practice.host.session.clone().expect("session"),
        )],
    };
    let london = json!({"time_zone": "Europe/London"});
    let org = practice.host.send(&app.router, "PATCH", "/org", Some(&london)).await;
    assert_eq!(org.status, StatusCode::OK, "{}", org.body);
    let book = |start: &'static str, name: &'static str, email: &'static str| {
        let practice = &practice;
        async move { booking_id(&practice.book(start, &guest(name, email, "Europe/London")).await) }
    };
    let ann = book("2026-03-04T10:00:00Z", "Ann Lee", "ann@example.com").await;
    let bo = book("2026-03-04T14:00:00Z", "Bo Chen", "bo@example.com").await;
    book("2026-03-20T10:00:00Z", "Cy Diaz", "cy@example.com").await;

    let all = dana.get(&app, "/app/appointments").await;
    all.expect(StatusCode::OK)
        .contains("3 appointments from 2026-03-04 to 2026-04-03")
        .contains("<strong>Wed 4 Mar 2026 10:00–10:30</strong>")
        .contains("<strong>Fri 20 Mar 2026 10:00–10:30</strong>")
        .contains("times in Europe/London");
    let csrf = all.csrf_field();

    // Cancelled from the list: back to the list with its filters.
    let cancelled = dana
        .post(
            &app,
            &format!("/app/appointments/{bo}"),
            &[
                ("view", "list"),
                ("status", ""),
                ("from", "2026-03-04"),
                ("to", "2026-03-31"),
                ("action", "cancel"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    cancelled.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        cancelled.location(),
        "/app/appointments?from=2026-03-04&to=2026-03-31&notice=appointment-cancelled"
    );
    dana.get(&app, cancelled.location())
        .await
        .contains("Appointment cancelled.")
        .contains("<span class=\"status-cancelled\">Cancelled</span>");
    dana.get(&app, "/app/appointments?status=cancelled")
        .await
        .contains("1 appointment from")
        .contains("Bo Chen")
        .lacks("Ann Lee");
    dana.get(&app, "/app/appointments?status=confirmed&from=2026-03-10&to=2026-03-31")
        .await
        .contains("1 appointment from 2026-03-10 to 2026-03-31")
        .contains("Cy Diaz")
        .lacks("Ann Lee");
    dana.get(&app, "/app/appointments?status=lost")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    dana.get(&app, "/app/appointments?from=soon")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);

    // Rescheduled from the list, the new start read in the viewer's zone.
    let moved = dana
        .post(
            &app,
            &format!("/app/appointments/{ann}"),
            &[
                ("view", "list"),
                ("status", "confirmed"),
                ("action", "reschedule"),
                ("start", "2026-03-04T12:00"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    moved.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        moved.location(),
        "/app/appointments?status=confirmed&notice=appointment-rescheduled"
    );
    assert_eq!(practice.record(&ann).await.start.to_string(), "2026-03-04T12:00:00Z");
}

#[tokio::test]
async fn times_are_shown_in_the_members_own_time_zone_once_chosen() {
    use konnecs::ports::TestClock;
    use konnecs_tests::practice::{Practice, booking_id, guest};

    let clock = TestClock::at("2026-03-04T08:00:00Z".parse().expect("time"));
    let (state, dir) = konnecs_tests::local::temp_state_with_clock(std::sync::Arc::new(clock.clone()));
    let practice = Practice::open(&state, json!({})).await;
    let app = TestApp::with(state.clone(), clock.clone(), dir);
    let mut dana = Visitor {
        cookies: vec![(
            konnecs_tests::http::SESSION_COOKIE.to_string(),
            practice.host.session.clone().expect("session"),
        )],
    };
    let london = json!({"time_zone": "Europe/London"});
    practice.host.send(&app.router, "PATCH", "/org", Some(&london)).await;
    let ann = booking_id(
        &practice
            .book(
                "2026-03-04T10:00:00Z",
                &guest("Ann Lee", "ann@example.com", "Europe/London"),
            )
            .await,
    );
    let profile = dana.get(&app, "/app/profile").await;
    profile
        .expect(StatusCode::OK)
        .contains("use the organization's (Europe/London)")
        .contains("id=\"time_zone\" name=\"time_zone\" type=\"text\" value=\"\"");
    let csrf = profile.csrf_field();
    dana.get(&app, "/app/calendar")
        .await
        .contains("times in Europe/London")
        .contains("10:00–10:30");

    dana.post(
        &app,
        "/app/profile",
        &[("form", "time_zone"), ("time_zone", "Mars/Olympus")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("id=\"time_zone-error\"")
    .contains("value=\"Mars/Olympus\"");
    let saved = dana
        .post(
            &app,
            "/app/profile",
            &[("form", "time_zone"), ("time_zone", "Asia/Tokyo")],
            Csrf::Field(&csrf),
        )
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/app/profile?notice=time-zone-saved");
    // The API shows it too.
    let me = practice.host.send(&app.router, "GET", "/me", None).await;
    assert_eq!(me.body["time_zone"], "Asia/Tokyo", "{}", me.body);

    // 10:00 UTC is 19:00 in Tokyo: on the calendar, the list and the home page.
    dana.get(&app, "/app/calendar")
        .await
        .contains("times in Asia/Tokyo")
        .contains("19:00–19:30")
        .lacks("10:00–10:30");
    dana.get(&app, "/app/appointments")
        .await
        .contains("times in Asia/Tokyo")
        .contains("<strong>Wed 4 Mar 2026 19:00–19:30</strong>");
    dana.get(&app, "/app").await.contains("19:00");
    // The audit log too (the clock stands at 08:00 UTC, 17:00 in Tokyo), and
    // its day filter is a Tokyo day.
    dana.get(&app, "/app/settings/audit?date=2026-03-04")
        .await
        .expect(StatusCode::OK)
        .contains("<td>2026-03-04 17:00</td>")
        .lacks("(UTC)");
    // A reschedule typed on the page is read in Tokyo time.
    dana.post(
        &app,
        &format!("/app/appointments/{ann}"),
        &[("action", "reschedule"), ("start", "2026-03-04T20:00")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert_eq!(practice.record(&ann).await.start.to_string(), "2026-03-04T11:00:00Z");

    // Blank goes back to the organization's zone, through the API as well.
    let cleared = practice
        .host
        .send(&app.router, "PATCH", "/me", Some(&json!({"time_zone": ""})))
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["time_zone"], serde_json::Value::Null);
    dana.get(&app, "/app/calendar")
        .await
        .contains("times in Europe/London")
        .contains("11:00–11:30");
    let refused = practice
        .host
        .send(&app.router, "PATCH", "/me", Some(&json!({"time_zone": "Nowhere"})))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["errors"][0]["field"], "time_zone", "{}", refused.body);
}

#[tokio::test]
async fn a_refused_reschedule_comes_back_with_the_reason_beside_its_field() {
    use konnecs::ports::TestClock;
    use konnecs_tests::practice::{Practice, booking_id, guest};

    // Wednesday 4 March 2026, 08:00 UTC (London is on GMT).
    let clock = TestClock::at("2026-03-04T08:00:00Z".parse().expect("time"));
    let (state, dir) = konnecs_tests::local::temp_state_with_clock(std::sync::Arc::new(clock.clone()));
    let practice = Practice::open(&state, json!({})).await;
    let app = TestApp::with(state.clone(), clock.clone(), dir);
    let mut dana = Visitor {
        cookies: vec![(
            konnecs_tests::http::SESSION_COOKIE.to_string(),
            practice.host.session.clone().expect("session"),
        )],
    };
    let london = json!({"time_zone": "Europe/London"});
    practice.host.send(&app.router, "PATCH", "/org", Some(&london)).await;
    let ann = booking_id(
        &practice
            .book(
                "2026-03-04T10:00:00Z",
                &guest("Ann Lee", "ann@example.com", "Europe/London"),
            )
            .await,
    );
    booking_id(
        &practice
            .book(
                "2026-03-04T14:00:00Z",
                &guest("Bo Chen", "bo@example.com", "Europe/London"),
            )
            .await,
    );
    let csrf = dana.get(&app, "/app/calendar").await.csrf_field();
    let field = format!("id=\"start-{ann}\"");
    let error = format!("id=\"start-{ann}-error\"");

    // Not a time at all: the week again, Ann's actions open, the error beside the field.
    let bad = dana
        .post(
            &app,
            &format!("/app/appointments/{ann}"),
            &[("week", "2026-03-02"), ("action", "reschedule"), ("start", "soon")],
            Csrf::Field(&csrf),
        )
        .await;
    bad.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("Week of 2026-03-02")
        .contains(&format!(
            "{field} name=\"start\" type=\"datetime-local\" value=\"soon\" aria-invalid=\"true\" aria-describedby=\"start-{ann}-error\">"
        ))
        .contains(&format!("<p class=\"field-error\" {error}>"))
        .contains("<details open>");

    // Bo's time, already taken: refused beside the field, from the list too.
    let taken = dana
        .post(
            &app,
            &format!("/app/appointments/{ann}"),
            &[
                ("view", "list"),
                ("status", "confirmed"),
                ("action", "reschedule"),
                ("start", "2026-03-04T14:00"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    assert!(taken.status.is_client_error(), "{}", taken.status);
    taken
        .contains("<h1>Appointments</h1>")
        .contains("value=\"2026-03-04T14:00\" aria-invalid=\"true\"")
        .contains(&error)
        .contains("<option value=\"confirmed\" selected>");
    assert_eq!(practice.record(&ann).await.start.to_string(), "2026-03-04T10:00:00Z");
}
