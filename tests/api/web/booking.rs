//! Booking an appointment on a contact's behalf from their record: the
//! free times are the public booking page's slots, shown in the member's
//! zone; the booking is the contact's, with the confirmation email; a taken
//! or malformed time comes back beside the times; another organization's
//! contact or event type is not found.

use super::*;
use konnecs::ports::TestClock;
use konnecs_tests::practice::Practice;

/// Monday 2 March 2026, 08:00 UTC; the practice's schedule is 08:00–18:00
/// London every day, its event type a 30-minute cleaning.
async fn practice() -> (Practice, TestApp, Visitor) {
    let clock = TestClock::at("2026-03-02T08:00:00Z".parse().expect("time"));
    let (state, dir) = konnecs_tests::local::temp_state_with_clock(std::sync::Arc::new(clock.clone()));
    let practice = Practice::open(&state, json!({})).await;
    let app = TestApp::with(state.clone(), clock, dir);
    let dana = Visitor {
        cookies: vec![(
            konnecs_tests::http::SESSION_COOKIE.to_string(),
            practice.host.session.clone().expect("session"),
        )],
    };
    (practice, app, dana)
}

/// Every start the public page offers for these dates in `tz`.
async fn public_starts(practice: &Practice, from: &str, to: &str, tz: &str) -> Vec<String> {
    let reply = konnecs_tests::http::Browser::anonymous()
        .send(
            &practice.app,
            "GET",
            &format!("{}/slots?from={from}&to={to}&tz={tz}", practice.page),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|day| day["slots"].as_array().cloned().unwrap_or_default())
        .map(|slot| slot["start"].as_str().expect("start").to_string())
        .collect()
}

#[tokio::test]
async fn a_member_books_for_a_contact_at_a_free_time_in_their_zone_and_the_contact_is_emailed() {
    let (practice, app, mut dana) = practice().await;
    let tokyo = json!({"time_zone": "Asia/Tokyo"});
    let me = practice.host.send(&app.router, "PATCH", "/me", Some(&tokyo)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let csrf = dana.get(&app, "/app/contacts/new").await.csrf_field();
    let created = dana
        .post(
            &app,
            "/app/contacts",
            &[
                ("first_name", "Ann"),
                ("last_name", "Lee"),
                ("email", "ann@example.com"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    created.expect(StatusCode::SEE_OTHER);
    let ann = contact_id(created.location());

    let record = dana.get(&app, &format!("/app/contacts/{ann}")).await;
    record
        .expect(StatusCode::OK)
        .contains("No appointments.")
        .contains(&format!("href=\"/app/contacts/{ann}/book\""));

    // The only event type is chosen; its host is named; the times are the
    // public page's for those days, read in Tokyo (London 10:00 is 19:00).
    let form = dana.get(&app, &format!("/app/contacts/{ann}/book")).await;
    form.expect(StatusCode::OK)
        .contains("Book an appointment for Ann Lee")
        .contains("Cleaning · 30 min · with Dana Whitfield")
        .contains("times in Asia/Tokyo")
        .contains("Free times from 2026-03-02")
        .contains("value=\"2026-03-03T10:00:00Z\"> 19:00</label>");
    let offered = public_starts(&practice, "2026-03-02", "2026-03-08", "Asia/Tokyo").await;
    assert!(offered.len() > 20, "{offered:?}");
    assert_eq!(
        form.html.matches("type=\"radio\" name=\"start\"").count(),
        offered.len(),
        "the page lists exactly the public slots"
    );
    for start in &offered {
        form.contains(&format!("value=\"{start}\""));
    }

    let event = practice.event_type_id.clone();
    let booked = dana
        .post(
            &app,
            &format!("/app/contacts/{ann}/book"),
            &[
                ("event_type", event.as_str()),
                ("from", "2026-03-02"),
                ("start", "2026-03-03T10:00:00Z"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    booked.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        booked.location(),
        format!("/app/contacts/{ann}?notice=appointment-booked")
    );
    let list = practice
        .host
        .send(&app.router, "GET", "/appointments?from=2026-03-02&to=2026-03-08", None)
        .await;
    let items = list.body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1, "{}", list.body);
    assert_eq!(items[0]["contact_id"], ann.as_str());
    assert_eq!(items[0]["invitee"]["email"], "ann@example.com");
    assert_eq!(items[0]["invitee"]["name"], "Ann Lee");
    assert_eq!(items[0]["start"], "2026-03-03T10:00:00Z");
    // No second contact was made for her.
    let contacts = practice.host.send(&app.router, "GET", "/contacts", None).await;
    assert_eq!(
        contacts.body["contacts"].as_array().map(Vec::len),
        Some(1),
        "{}",
        contacts.body
    );
    let emails: Vec<serde_json::Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["to"] == "ann@example.com")
        .collect();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(
        emails[0]["text"].as_str().unwrap_or_default().contains("Cleaning"),
        "{emails:?}"
    );
    dana.get(&app, booked.location())
        .await
        .contains("Appointment booked")
        .contains("Tue 3 Mar 2026 19:00</a> · Cleaning · <span class=\"status-confirmed\">Confirmed</span>");

    // The time is gone from the list; sent again, it is refused beside the times.
    dana.get(&app, &format!("/app/contacts/{ann}/book"))
        .await
        .lacks("value=\"2026-03-03T10:00:00Z\"");
    let taken = dana
        .post(
            &app,
            &format!("/app/contacts/{ann}/book"),
            &[
                ("event_type", event.as_str()),
                ("from", "2026-03-02"),
                ("start", "2026-03-03T10:00:00Z"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    assert!(taken.status.is_client_error(), "{}", taken.status);
    taken
        .contains("<fieldset id=\"start\" aria-describedby=\"start-error\">")
        .contains("<p class=\"field-error\" id=\"start-error\">")
        .contains(&format!("name=\"event_type\" value=\"{event}\""));
    let bad = dana
        .post(
            &app,
            &format!("/app/contacts/{ann}/book"),
            &[("event_type", event.as_str()), ("start", "soon")],
            Csrf::Field(&csrf),
        )
        .await;
    bad.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"start-error\"");
    let list = practice
        .host
        .send(&app.router, "GET", "/appointments?from=2026-03-02&to=2026-03-08", None)
        .await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1), "{}", list.body);
}

#[tokio::test]
async fn a_contact_without_email_is_told_and_other_organizations_contacts_and_event_types_are_not_found() {
    let (practice, app, mut dana) = practice().await;
    let csrf = dana.get(&app, "/app/contacts/new").await.csrf_field();
    let created = dana
        .post(&app, "/app/contacts", &[("first_name", "Bo")], Csrf::Field(&csrf))
        .await;
    let bo = contact_id(created.location());
    let event = practice.event_type_id.clone();
    dana.get(&app, &format!("/app/contacts/{bo}/book"))
        .await
        .expect(StatusCode::OK)
        .contains("Bo has no email address.");
    dana.post(
        &app,
        &format!("/app/contacts/{bo}/book"),
        &[("event_type", event.as_str()), ("start", "2026-03-03T10:00:00Z")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("Add an email address to this contact first");

    // Another organization: Dana's contact and Dana's event type are not theirs.
    let mut anna = Visitor::default();
    let anna_csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let mine = anna
        .post(
            &app,
            "/app/contacts",
            &[("first_name", "Cy"), ("email", "cy@example.com")],
            Csrf::Field(&anna_csrf),
        )
        .await;
    let cy = contact_id(mine.location());
    // Anna's own event type, on her own hours.
    anna.post(
        &app,
        "/app/schedules",
        &[
            ("name", "Clinic"),
            ("time_zone", "Europe/London"),
            ("tuesday", "08:00-18:00"),
        ],
        Csrf::Field(&anna_csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let scheduling = anna.get(&app, "/app/scheduling").await;
    let marker = "href=\"/app/schedules/";
    let clinic: String = scheduling
        .html
        .split(marker)
        .nth(1)
        .expect("a schedule")
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    anna.post(
        &app,
        "/app/event-types",
        &[
            ("title", "Assessment"),
            ("durations", "30"),
            ("schedule_id", clinic.as_str()),
        ],
        Csrf::Field(&anna_csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let scheduling = anna.get(&app, "/app/scheduling").await;
    let marker = "href=\"/app/event-types/";
    let assessment: String = scheduling
        .html
        .split(marker)
        .nth(1)
        .expect("an event type")
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    anna.get(&app, &format!("/app/contacts/{cy}/book?event_type={assessment}"))
        .await
        .expect(StatusCode::OK)
        .contains("value=\"2026-03-03T10:00:00Z\"");
    // Dana's contact with Anna's own event type: not found, nothing booked.
    anna.get(&app, &format!("/app/contacts/{bo}/book?event_type={assessment}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    anna.post(
        &app,
        &format!("/app/contacts/{bo}/book"),
        &[("event_type", assessment.as_str()), ("start", "2026-03-03T10:00:00Z")],
        Csrf::Field(&anna_csrf),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    anna.get(&app, &format!("/app/contacts/{bo}/book"))
        .await
        .expect(StatusCode::NOT_FOUND);
    anna.get(&app, &format!("/app/contacts/{cy}/book?event_type={event}"))
        .await
        .expect(StatusCode::NOT_FOUND);
    for contact in [&bo, &cy] {
        anna.post(
            &app,
            &format!("/app/contacts/{contact}/book"),
            &[("event_type", event.as_str()), ("start", "2026-03-03T10:00:00Z")],
            Csrf::Field(&anna_csrf),
        )
        .await
        .expect(StatusCode::NOT_FOUND);
    }
    let anna_bookings = anna.get(&app, "/app/appointments?from=2026-03-02&to=2026-03-08").await;
    anna_bookings.contains("0 appointments from");
    // The slot is still free on Dana's public page: nothing was booked.
    let offered = public_starts(&practice, "2026-03-03", "2026-03-03", "Europe/London").await;
    assert!(offered.iter().any(|s| s == "2026-03-03T10:00:00Z"), "{offered:?}");
}
