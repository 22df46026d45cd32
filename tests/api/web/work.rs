//! Deals on the board, the calendar's actions, availability and event types.

use super::*;

#[tokio::test]
async fn deals_are_opened_from_the_record_and_moved_on_the_board_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.get(&app, "/app/pipelines")
        .await
        .expect(StatusCode::OK)
        .contains("No pipelines yet.");
    anna.post(
        &app,
        "/app/pipelines",
        &[("name", "Rehab"), ("stages", "")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("id=\"stages-error\"")
    .contains("value=\"Rehab\"");
    let created = anna
        .post(
            &app,
            "/app/pipelines",
            &[("name", "Rehab"), ("stages", "Assessment, Plan agreed, Done")],
            Csrf::Field(&csrf),
        )
        .await;
    created.expect(StatusCode::SEE_OTHER);
    let board_path = created.location().split('?').next().unwrap_or_default().to_string();
    let pipeline_id = board_path.trim_start_matches("/app/pipelines/").to_string();

    let maya = anna
        .post(&app, "/app/contacts", &[("first_name", "Maya")], Csrf::Field(&csrf))
        .await;
    let maya = contact_id(maya.location());
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .contains(&format!("<option value=\"{pipeline_id}\">Rehab</option>"));
    let opened = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/deals"),
            &[
                ("title", "Knee programme"),
                ("pipeline_id", &pipeline_id),
                ("value", "1,200.50"),
                ("currency", "gbp"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    opened.expect(StatusCode::SEE_OTHER);
    anna.get(&app, opened.location())
        .await
        .contains("Deal created.")
        .contains("Knee programme · 1200.50 GBP · open");

    let board = anna.get(&app, &board_path).await;
    board
        .expect(StatusCode::OK)
        .contains("Knee programme")
        .contains("1 deal · 1200.50 GBP")
        .contains("<a href=\"/app/contacts/")
        .contains("src=\"/assets/board-");
    let form_start = board.html.find("action=\"/app/deals/").expect("a move form");
    let deal_id: String = board.html[form_start + "action=\"/app/deals/".len()..]
        .chars()
        .take_while(|c| *c != '/')
        .collect();
    let version: String = board.html[form_start..]
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("version")
        .to_string();
    let plan_stage: String = board
        .html
        .split("data-stage-column=\"")
        .nth(2)
        .and_then(|rest| rest.split('"').next())
        .expect("the second column")
        .to_string();
    let moved = anna
        .post(
            &app,
            &format!("/app/deals/{deal_id}/move"),
            &[("version", &version), ("stage_id", &plan_stage)],
            Csrf::Field(&csrf),
        )
        .await;
    moved.expect(StatusCode::SEE_OTHER);
    assert_eq!(moved.location(), format!("{board_path}?notice=deal-moved"));
    let after = anna.get(&app, moved.location()).await;
    after.contains("Deal moved.");
    let second_column = after.html.split("data-stage-column=\"").nth(2).expect("column");
    assert!(second_column.contains("Knee programme"), "moved to the second column");
    // The same move again with the old version: someone moved it meanwhile.
    anna.post(
        &app,
        &format!("/app/deals/{deal_id}/move"),
        &[("version", &version), ("stage_id", &plan_stage)],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    // Without the token, nothing moves.
    anna.post(
        &app,
        &format!("/app/deals/{deal_id}/move"),
        &[("stage_id", &plan_stage)],
        Csrf::None,
    )
    .await
    .expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_week_calendar_shows_appointments_and_their_actions_work_without_js() {
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
    let ann = booking_id(
        &practice
            .book(
                "2026-03-04T10:00:00Z",
                &guest("Ann Lee", "ann@example.com", "Europe/London"),
            )
            .await,
    );
    let bo = booking_id(
        &practice
            .book(
                "2026-03-04T14:00:00Z",
                &guest("Bo Chen", "bo@example.com", "Europe/London"),
            )
            .await,
    );

    let week = dana.get(&app, "/app/calendar").await;
    week.expect(StatusCode::OK)
        .contains("Week of 2026-03-02")
        .contains("times in Europe/London")
        .contains("Wednesday 4 March")
        .contains("10:00–10:30")
        .contains("Ann Lee")
        .contains("<span class=\"status-confirmed\">Confirmed</span>")
        .lacks("Mark as no-show");
    let csrf = week.csrf_field();
    dana.get(&app, "/app/calendar?week=2026-03-09")
        .await
        .contains("0 appointments");
    dana.get(&app, "/app/calendar?week=soon")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);

    // Rescheduled to 11:00 London, as the datetime-local field sends it.
    let moved = dana
        .post(
            &app,
            &format!("/app/appointments/{ann}"),
            &[
                ("week", "2026-03-02"),
                ("action", "reschedule"),
                ("start", "2026-03-04T11:00"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    moved.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        moved.location(),
        "/app/calendar?week=2026-03-02&notice=appointment-rescheduled"
    );
    assert_eq!(practice.record(&ann).await.start.to_string(), "2026-03-04T11:00:00Z");
    dana.get(&app, moved.location())
        .await
        .contains("Appointment rescheduled.")
        .contains("11:00–11:30");

    // Cancelled with a reason.
    dana.post(
        &app,
        &format!("/app/appointments/{bo}"),
        &[
            ("week", "2026-03-02"),
            ("action", "cancel"),
            ("reason", "The surgery is closed."),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let record = practice.record(&bo).await;
    assert_eq!(record.cancel_reason.as_deref(), Some("The surgery is closed."));
    dana.get(&app, "/app/calendar")
        .await
        .contains("<span class=\"status-cancelled\">Cancelled</span>");

    // Once it has started, Ann can be marked as a no-show.
    clock.set("2026-03-04T11:10:00Z".parse().expect("time"));
    let started = dana.get(&app, "/app/calendar").await;
    started.contains("Mark as no-show");
    dana.post(
        &app,
        &format!("/app/appointments/{ann}"),
        &[("action", "no_show")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert!(practice.record(&ann).await.no_show);
    dana.get(&app, "/app/calendar").await.contains("No-show");

    // An unknown action, or none of the token, does nothing.
    dana.post(
        &app,
        &format!("/app/appointments/{ann}"),
        &[("action", "teleport")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    dana.post(
        &app,
        &format!("/app/appointments/{bo}"),
        &[("action", "cancel")],
        Csrf::None,
    )
    .await
    .expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn availability_and_an_event_type_are_set_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let empty = anna.get(&app, "/app/scheduling").await;
    empty
        .expect(StatusCode::OK)
        .contains("No schedules yet.")
        .lacks("action=\"/app/event-types\"");
    let bad = anna
        .post(
            &app,
            "/app/schedules",
            &[
                ("name", "Clinic hours"),
                ("time_zone", "Europe/London"),
                ("monday", "09:00-25:00"),
                ("tuesday", "09:00-17:00"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    bad.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"monday-error\"")
        .contains("value=\"09:00-25:00\"")
        .contains("value=\"Clinic hours\"");
    anna.post(
        &app,
        "/app/schedules",
        &[
            ("name", "Clinic hours"),
            ("time_zone", "Europe/London"),
            ("monday", "09:00-12:30, 13:30-17:00"),
            ("tuesday", "09:00-17:00"),
            ("overrides", "2026-12-25: closed"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let page = anna.get(&app, "/app/scheduling?notice=schedule-created").await;
    page.contains("Schedule created.")
        .contains("<dt>Monday</dt><dd>09:00–12:30, 13:30–17:00</dd>")
        .contains("<dt>Wednesday</dt><dd>closed</dd>")
        .contains("1 date override")
        .contains("action=\"/app/event-types\"");
    let schedule_id: String = page
        .html
        .split("<option value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the schedule option")
        .to_string();
    let event = |durations: &'static str| {
        vec![
            ("title", "Assessment".to_string()),
            ("slug", "assessment".to_string()),
            ("durations", durations.to_string()),
            ("schedule_id", schedule_id.clone()),
            ("location_kind", "in_person".to_string()),
            ("location_detail", "4 Mill Lane, York".to_string()),
        ]
    };
    let bad = event("forty");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    anna.post(&app, "/app/event-types", &bad, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"durations-error\"")
        .contains("value=\"Assessment\"");
    let good = event("45");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    anna.post(&app, "/app/event-types", &good, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
    let listed = anna.get(&app, "/app/scheduling").await;
    listed
        .contains("<strong>Assessment</strong> · 45 min")
        .contains("/book/lee-physio/assessment");
    // The link is the public booking page of that event.
    let public = anna.get(&app, "/book/lee-physio/assessment").await;
    public.expect(StatusCode::OK).contains("Assessment");
    // The same link name again is refused at its field.
    anna.post(&app, "/app/event-types", &good, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"slug-error\"");
}
