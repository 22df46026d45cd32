//! Samples of the scheduling Lambdas: schedules, event types, the public
//! booking routes and pages, and the host's appointments. The story they
//! tell: Whitfield Dental's "Surgery hours" and 30-minute check-up, which
//! Priya Raman books for Tuesday 8 December 2026 at 10:00 London time.

use http::StatusCode;
use konnecs::services::jobs::Job;
use serde_json::{Value, json};

use super::{World, sample_body};

/// The schedule the scheduling samples name (the event type samples use
/// the same id for the event type).
const SAMPLE_SCHEDULE: &str = "0196f3a2b7c84d1e9f0a1b2c3d4e5f60";
const SAMPLE_EVENT_TYPE: &str = "0196f3a2b7c84d1e9f0a1b2c3d4e5f60";
/// The schedule the event type editor's sample chooses.
const SAMPLE_EVENT_SCHEDULE: &str = "0196f3a2b7c84d1e9f0a1b2c3d4e5f61";
/// Priya's booking in the appointment and public booking samples.
const SAMPLE_BOOKING: &str = "0196f3a9c1d24e7f8a9b0c1d2e3f4a5b";
/// Its manage token in the public booking samples.
const SAMPLE_MANAGE_TOKEN: &str = "bm90LWEtcmVhbC10b2tlbi1mb3ItdGhlLXNhbXBsZS1ldmVudA";
/// The booking and token of the `page-booking` sample.
const SAMPLE_PAGE_BOOKING: &str = "0193a4c2e6f07b1d9e8a2c4f6b8d0e1f";
const SAMPLE_PAGE_TOKEN: &str = "Zq9x4Lr2Vt7Nw1Ks8Pm3Hc6Jd0Fb5Ya";
const PRIYA: &str = "priya.raman@example.com";

fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

/// "Surgery hours", as `schedules-create` makes them.
async fn surgery_hours(w: &World) -> String {
    id_of(&w.api("POST", "/schedules", Some(sample_body("schedules-create"))).await)
}

/// The check-up of `event-types-create` on the surgery hours, with `extra`
/// fields on top: its id.
async fn check_up(w: &World, extra: Value) -> String {
    let mut body = sample_body("event-types-create");
    body["schedule_id"] = json!(surgery_hours(w).await);
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    id_of(&w.api("POST", "/event-types", Some(body)).await)
}

/// Priya's booking (the `public-booking-create` request) of a check-up with
/// `extra` fields: the reply (`booking`, `manage_token`, `manage_url`).
async fn priya_booked(w: &World, extra: Value) -> Value {
    check_up(w, extra).await;
    let reply = konnecs_tests::http::Browser::anonymous()
        .send(
            &w.app,
            "POST",
            "/public/booking/whitfield-dental/check-up/bookings",
            Some(&sample_body("public-booking-create")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

fn booking_id(booked: &Value) -> String {
    booked["booking"]["id"].as_str().expect("booking id").to_string()
}

fn manage_token(booked: &Value) -> String {
    booked["manage_token"].as_str().expect("manage token").to_string()
}

async fn appointment(w: &World, id: &str) -> Value {
    w.api("GET", &format!("/appointments/{id}"), None).await
}

pub async fn schedules_create_makes_the_surgery_hours(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(
        (&reply.body["name"], &reply.body["time_zone"]),
        (&json!("Surgery hours"), &json!("Europe/London"))
    );
    assert_eq!(reply.body["overrides"]["2026-12-25"]["kind"], "unavailable");
}

pub async fn schedules_list_shows_the_schedule(name: &str) {
    let w = World::with_dana().await;
    let id = surgery_hours(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let ids: Vec<&Value> = reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert_eq!(ids, [&json!(id)]);
}

pub async fn schedules_get_shows_the_schedule(name: &str) {
    let w = World::with_dana().await;
    let id = surgery_hours(&w).await;
    let reply = w.http(name, &[(SAMPLE_SCHEDULE, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["id"], &reply.body["name"]),
        (&json!(id), &json!("Surgery hours"))
    );
}

pub async fn schedules_update_renames_the_schedule(name: &str) {
    let w = World::with_dana().await;
    let id = surgery_hours(&w).await;
    let reply = w.http(name, &[(SAMPLE_SCHEDULE, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["name"], &reply.body["version"]),
        (&json!("Winter surgery hours"), &json!(2))
    );
}

pub async fn schedules_delete_deletes_the_unused_schedule(name: &str) {
    let w = World::with_dana().await;
    let id = surgery_hours(&w).await;
    w.http(name, &[(SAMPLE_SCHEDULE, &id)])
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(w.api("GET", "/schedules", None).await["items"], json!([]));
}

pub async fn event_types_create_offers_the_check_up_on_the_schedule(name: &str) {
    let w = World::with_dana().await;
    let schedule = surgery_hours(&w).await;
    let reply = w.http(name, &[(SAMPLE_SCHEDULE, &schedule)]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(
        (
            &reply.body["slug"],
            &reply.body["schedule_id"],
            &reply.body["minimum_notice"]
        ),
        (&json!("check-up"), &json!(schedule), &json!(240))
    );
    let public = konnecs_tests::http::Browser::anonymous()
        .send(&w.app, "GET", "/public/booking/whitfield-dental/check-up", None)
        .await;
    assert_eq!(public.status, StatusCode::OK, "it is bookable: {}", public.body);
}

pub async fn event_types_list_shows_the_event_type(name: &str) {
    let w = World::with_dana().await;
    let id = check_up(&w, json!({})).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let ids: Vec<&Value> = reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids, [&json!(id)]);
}

pub async fn event_types_get_shows_the_event_type(name: &str) {
    let w = World::with_dana().await;
    let id = check_up(&w, json!({})).await;
    let reply = w.http(name, &[(SAMPLE_EVENT_TYPE, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["id"], &reply.body["title"]),
        (&json!(id), &json!("Check-up and clean"))
    );
}

pub async fn event_types_update_deactivates_the_event_type(name: &str) {
    let w = World::with_dana().await;
    let id = check_up(&w, json!({})).await;
    let reply = w.http(name, &[(SAMPLE_EVENT_TYPE, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["active"], false);
    let public = konnecs_tests::http::Browser::anonymous()
        .send(&w.app, "GET", "/public/booking/whitfield-dental/check-up", None)
        .await;
    assert_eq!(
        public.status,
        StatusCode::NOT_FOUND,
        "an inactive event type is not public"
    );
}

pub async fn event_types_delete_deletes_the_event_type(name: &str) {
    let w = World::with_dana().await;
    let id = check_up(&w, json!({})).await;
    w.http(name, &[(SAMPLE_EVENT_TYPE, &id)])
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(w.api("GET", "/event-types", None).await["items"], json!([]));
}

pub async fn public_booking_event_shows_the_check_up(name: &str) {
    let w = World::with_dana().await;
    check_up(&w, json!({})).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["org_name"], &reply.body["title"], &reply.body["durations"]),
        (
            &json!("Whitfield Dental"),
            &json!("Check-up and clean"),
            &json!([30, 45])
        )
    );
    assert_eq!(reply.body["location"]["address"], "12 Harley Street, London W1G 9PF");
}

pub async fn public_booking_slots_offers_the_weeks_free_times(name: &str) {
    let w = World::with_dana().await;
    check_up(&w, json!({})).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let days = reply.body["days"].as_array().expect("days");
    let dates: Vec<&str> = days.iter().filter_map(|d| d["date"].as_str()).collect();
    // Monday to Friday of the week; the surgery is shut at the weekend.
    assert_eq!(
        dates,
        ["2026-12-07", "2026-12-08", "2026-12-09", "2026-12-10", "2026-12-11"],
        "{}",
        reply.body
    );
    let tuesday: Vec<&str> = days[1]["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .filter_map(|s| s["time"].as_str())
        .collect();
    assert_eq!(tuesday.first(), Some(&"09:00"));
    assert!(tuesday.contains(&"10:00"), "{tuesday:?}");
}

pub async fn public_booking_create_books_and_queues_the_confirmation_emails_and_sms(name: &str) {
    let w = World::with_dana().await;
    check_up(&w, json!({})).await;
    w.take_jobs().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    let booking = &reply.body["booking"];
    assert_eq!(
        (&booking["start"], &booking["status"], &booking["invitee"]["phone"]),
        (
            &json!("2026-12-08T10:00:00Z"),
            &json!("confirmed"),
            &json!("+447911123456")
        )
    );
    let id = booking["id"].as_str().expect("id");
    assert_eq!(appointment(&w, id).await["status"], "confirmed");
    let contact = booking["contact_id"].as_str().expect("the invitee became a contact");
    let contact = w.api("GET", &format!("/contacts/{contact}"), None).await;
    assert_eq!(contact["emails"][0]["address"], PRIYA);

    let jobs = w.take_jobs().await;
    let mut emails = super::emails(&jobs);
    emails.sort();
    assert_eq!(
        emails,
        [
            (super::DANA_EMAIL.to_string(), "booking_booked_host".to_string()),
            (PRIYA.to_string(), "booking_booked_customer".to_string()),
        ]
    );
    let texts: Vec<&str> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::SendSms { to, booking_id, .. } if booking_id.as_deref() == Some(id) => Some(to.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["+447911123456"], "{jobs:?}");
}

pub async fn public_booking_show_shows_the_booking_to_its_token(name: &str) {
    let w = World::with_dana().await;
    let booked = priya_booked(&w, json!({})).await;
    let (id, token) = (booking_id(&booked), manage_token(&booked));
    let reply = w
        .http(name, &[(SAMPLE_BOOKING, &id), (SAMPLE_MANAGE_TOKEN, &token)])
        .await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["id"], &reply.body["status"], &reply.body["start"]),
        (&json!(id), &json!("confirmed"), &json!("2026-12-08T10:00:00Z"))
    );
}

pub async fn public_booking_cancel_cancels_with_the_token(name: &str) {
    let w = World::with_dana().await;
    let booked = priya_booked(&w, json!({})).await;
    let (id, token) = (booking_id(&booked), manage_token(&booked));
    let reply = w
        .http(name, &[(SAMPLE_BOOKING, &id), (SAMPLE_MANAGE_TOKEN, &token)])
        .await;
    reply.expect(StatusCode::OK);
    let shown = appointment(&w, &id).await;
    assert_eq!(
        (&shown["status"], &shown["cancelled_by"], &shown["cancel_reason"]),
        (
            &json!("cancelled"),
            &json!("invitee"),
            &json!("Something came up at work.")
        )
    );
}

pub async fn public_booking_reschedule_moves_the_booking_with_the_token(name: &str) {
    let w = World::with_dana().await;
    let booked = priya_booked(&w, json!({})).await;
    let (id, token) = (booking_id(&booked), manage_token(&booked));
    let reply = w
        .http(name, &[(SAMPLE_BOOKING, &id), (SAMPLE_MANAGE_TOKEN, &token)])
        .await;
    reply.expect(StatusCode::OK);
    let shown = appointment(&w, &id).await;
    assert_eq!(
        (&shown["start"], &shown["status"], &shown["sequence"]),
        (&json!("2026-12-09T14:30:00Z"), &json!("confirmed"), &json!(1))
    );
}

pub async fn page_book_serves_the_booking_page_of_the_event_type(name: &str) {
    let w = World::with_dana().await;
    check_up(&w, json!({})).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.text.starts_with("<!doctype html>"), "{}", reply.text);
    assert!(reply.headers.contains_key("content-security-policy"));
    assert!(
        reply.text.contains("data-org=\"whitfield-dental\"") && reply.text.contains("data-event=\"check-up\""),
        "the page loads the check-up of whitfield-dental: {}",
        reply.text
    );
}

pub async fn page_booking_serves_the_manage_page_with_the_bookings_event_type(name: &str) {
    let w = World::with_dana().await;
    let booked = priya_booked(&w, json!({})).await;
    let (id, token) = (booking_id(&booked), manage_token(&booked));
    let reply = w
        .http(name, &[(SAMPLE_PAGE_BOOKING, &id), (SAMPLE_PAGE_TOKEN, &token)])
        .await;
    reply.expect(StatusCode::OK);
    assert!(reply.text.starts_with("<!doctype html>"), "{}", reply.text);
    assert!(reply.headers.contains_key("content-security-policy"));
    // The token matched: the page knows where to offer a reschedule.
    for expected in [
        format!("data-uid=\"{id}\""),
        "data-org=\"whitfield-dental\"".to_string(),
        "data-event=\"check-up\"".to_string(),
    ] {
        assert!(reply.text.contains(&expected), "{expected} in {}", reply.text);
    }
}

pub async fn appointments_list_shows_the_booking(name: &str) {
    let w = World::with_dana().await;
    let booked = priya_booked(&w, json!({})).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let ids: Vec<&Value> = reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|b| &b["id"])
        .collect();
    assert_eq!(ids, [&booked["booking"]["id"]]);
}

pub async fn appointments_get_shows_the_booking(name: &str) {
    let w = World::with_dana().await;
    let id = booking_id(&priya_booked(&w, json!({})).await);
    let reply = w.http(name, &[(SAMPLE_BOOKING, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (
            &reply.body["id"],
            &reply.body["invitee"]["name"],
            &reply.body["answers"]["reason"]
        ),
        (&json!(id), &json!("Priya Raman"), &json!("Sensitive upper left molar."))
    );
}

pub async fn appointments_cancel_cancels_with_the_reason(name: &str) {
    let w = World::with_dana().await;
    let id = booking_id(&priya_booked(&w, json!({})).await);
    let reply = w.http(name, &[(SAMPLE_BOOKING, &id)]).await;
    reply.expect(StatusCode::OK);
    let shown = appointment(&w, &id).await;
    assert_eq!(
        (&shown["status"], &shown["cancelled_by"], &shown["cancel_reason"]),
        (
            &json!("cancelled"),
            &json!("host"),
            &json!("The dentist is ill; we will call you to rebook.")
        )
    );
}

pub async fn appointments_reschedule_moves_the_booking(name: &str) {
    let w = World::with_dana().await;
    let id = booking_id(&priya_booked(&w, json!({})).await);
    let reply = w.http(name, &[(SAMPLE_BOOKING, &id)]).await;
    reply.expect(StatusCode::OK);
    let shown = appointment(&w, &id).await;
    assert_eq!(
        (&shown["start"], &shown["sequence"]),
        (&json!("2026-12-10T11:00:00Z"), &json!(1))
    );
}

pub async fn appointments_confirm_confirms_the_booking_waiting_for_it(name: &str) {
    let w = World::with_dana().await;
    let booked = priya_booked(&w, json!({"requires_confirmation": true})).await;
    assert_eq!(booked["booking"]["status"], "pending_confirmation");
    let id = booking_id(&booked);
    w.http(name, &[(SAMPLE_BOOKING, &id)]).await.expect(StatusCode::OK);
    assert_eq!(appointment(&w, &id).await["status"], "confirmed");
}

pub async fn appointments_decline_declines_the_booking_waiting_for_confirmation(name: &str) {
    let w = World::with_dana().await;
    let booked = priya_booked(&w, json!({"requires_confirmation": true})).await;
    let id = booking_id(&booked);
    w.http(name, &[(SAMPLE_BOOKING, &id)]).await.expect(StatusCode::OK);
    let shown = appointment(&w, &id).await;
    assert_eq!(
        (&shown["status"], &shown["cancel_reason"]),
        (&json!("declined"), &json!("Fully booked that week."))
    );
}

pub async fn appointments_no_show_marks_the_started_booking(name: &str) {
    let mut w = World::with_dana().await;
    let id = booking_id(&priya_booked(&w, json!({})).await);
    // Half an hour into the appointment, Dana signs in and marks it.
    w.set_clock("2026-12-08T10:30:00Z");
    w.sign_in_again().await;
    w.http(name, &[(SAMPLE_BOOKING, &id)]).await.expect(StatusCode::OK);
    assert_eq!(appointment(&w, &id).await["no_show"], true);
}

/// The booking the `page-appointment-action` sample names.
const SAMPLE_ACTION_BOOKING: &str = "0193b1e4a7c25d8f9e0a1b2c3d4e5f60";

pub async fn page_calendar_shows_the_weeks_booking(name: &str) {
    let w = World::with_dana().await;
    let id = booking_id(&priya_booked(&w, json!({})).await);
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.header("content-security-policy").contains("script-src 'self'"));
    for text in [
        "Tuesday 8 December",
        "Priya Raman",
        "Confirmed",
        &format!("action=\"/app/appointments/{id}\""),
    ] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_appointments_lists_the_confirmed_booking(name: &str) {
    let w = World::with_dana().await;
    let id = booking_id(&priya_booked(&w, json!({})).await);
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    for text in [
        "Tue 8 Dec 2026",
        "Priya Raman",
        "<option value=\"confirmed\" selected>",
        &format!("action=\"/app/appointments/{id}\""),
        "<input type=\"hidden\" name=\"view\" value=\"list\">",
    ] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_appointment_action_cancels_with_the_reason(name: &str) {
    let w = World::with_dana().await;
    let id = booking_id(&priya_booked(&w, json!({})).await);
    let reply = w.http(name, &[(SAMPLE_ACTION_BOOKING, &id)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        "/app/calendar?week=2026-12-07&notice=appointment-cancelled"
    );
    let shown = appointment(&w, &id).await;
    assert_eq!(
        (&shown["status"], &shown["cancelled_by"], &shown["cancel_reason"]),
        (
            &json!("cancelled"),
            &json!("host"),
            &json!("The surgery is closed that day.")
        )
    );
}

pub async fn page_scheduling_shows_the_event_types_link_and_the_hours(name: &str) {
    let w = World::with_dana().await;
    check_up(&w, json!({})).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    for text in [
        "Check-up and clean",
        "/book/whitfield-dental/check-up",
        "Surgery hours",
        "09:00–12:30, 13:30–17:00",
    ] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_schedule_create_makes_the_surgery_hours(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/scheduling?notice=schedule-created");
    let listed = w.api("GET", "/schedules", None).await;
    let schedule = &listed["items"][0];
    assert_eq!(schedule["name"], "Surgery hours", "{listed}");
    assert_eq!(schedule["time_zone"], "Europe/London");
    assert_eq!(
        schedule["weekly"]["monday"][1],
        json!({"start": "13:30", "end": "17:00"})
    );
    assert_eq!(schedule["overrides"]["2026-12-25"]["kind"], "unavailable");
}

pub async fn page_event_type_create_offers_the_check_up(name: &str) {
    let w = World::with_dana().await;
    let schedule = surgery_hours(&w).await;
    let reply = w.http(name, &[(SAMPLE_SCHEDULE, &schedule)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/scheduling?notice=event-type-created");
    let listed = w.api("GET", "/event-types", None).await;
    let event = &listed["items"][0];
    assert_eq!(
        (
            &event["slug"],
            &event["durations"],
            &event["minimum_notice"],
            &event["daily_limit"]
        ),
        (&json!("check-up"), &json!([30, 45]), &json!(240), &json!(8)),
        "{listed}"
    );
    assert_eq!(event["location"]["address"], "12 Harley Street, London");
}

pub async fn page_schedule_edit_shows_the_hours_to_edit(name: &str) {
    let w = World::with_dana().await;
    let schedule = surgery_hours(&w).await;
    let reply = w.http(name, &[(SAMPLE_SCHEDULE, &schedule)]).await;
    reply.expect(StatusCode::OK);
    for text in [
        "value=\"Surgery hours\"",
        "value=\"09:00-12:30, 13:30-17:00\"",
        "2026-12-25: closed",
    ] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_schedule_update_saves_the_new_hours(name: &str) {
    let w = World::with_dana().await;
    let schedule = surgery_hours(&w).await;
    let reply = w.http(name, &[(SAMPLE_SCHEDULE, &schedule)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/scheduling?notice=schedule-saved");
    let saved = w.api("GET", &format!("/schedules/{schedule}"), None).await;
    assert_eq!(
        saved["weekly"]["monday"],
        json!([{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]),
        "{saved}"
    );
    assert_eq!(saved["weekly"]["saturday"], json!([]));
    // The override the form no longer lists is gone; the new one is there.
    assert!(saved["overrides"].get("2026-12-25").is_none(), "{saved}");
    assert_eq!(saved["overrides"]["2026-12-24"]["kind"], "hours");
}

pub async fn page_event_type_edit_shows_every_setting_and_the_link(name: &str) {
    let w = World::with_dana().await;
    let event = check_up(&w, json!({})).await;
    let reply = w.http(name, &[(SAMPLE_EVENT_TYPE, &event)]).await;
    reply.expect(StatusCode::OK);
    for text in [
        "/book/whitfield-dental/check-up",
        "data-copy=\"public-link\"",
        "name=\"weekly_limit\"",
        "name=\"reminders\"",
        "name=\"questions\"",
    ] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_event_type_update_saves_every_setting(name: &str) {
    let w = World::with_dana().await;
    let event = check_up(&w, json!({})).await;
    let before = w.api("GET", &format!("/event-types/{event}"), None).await;
    let schedule = before["schedule_id"].as_str().expect("schedule").to_string();
    let reply = w
        .http(name, &[(SAMPLE_EVENT_TYPE, &event), (SAMPLE_EVENT_SCHEDULE, &schedule)])
        .await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/scheduling?notice=event-type-saved");
    let saved = w.api("GET", &format!("/event-types/{event}"), None).await;
    assert_eq!(
        (
            &saved["default_duration"],
            &saved["buffer_after"],
            &saved["slot_interval"],
            &saved["weekly_limit"],
            &saved["requires_confirmation"],
        ),
        (&json!(45), &json!(10), &json!(15), &json!(30), &json!(true)),
        "{saved}"
    );
    assert_eq!(saved["window"], json!({"kind": "rolling", "days": 90}));
    assert_eq!(saved["questions"][0]["type"], "long_text");
    assert_eq!(
        saved["reminders"],
        json!([{"offset_minutes": 1440, "channels": ["email", "sms"]}])
    );
}

pub async fn page_schedule_delete_deletes_the_unused_schedule(name: &str) {
    let w = World::with_dana().await;
    let schedule = surgery_hours(&w).await;
    let reply = w.http(name, &[(SAMPLE_SCHEDULE, &schedule)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/scheduling?notice=schedule-deleted");
    let gone = w
        .dana()
        .send(&w.app, "GET", &format!("/schedules/{schedule}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn page_event_type_delete_deletes_the_event_type(name: &str) {
    let w = World::with_dana().await;
    let event = check_up(&w, json!({})).await;
    let reply = w.http(name, &[(SAMPLE_EVENT_TYPE, &event)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/scheduling?notice=event-type-deleted");
    let gone = w
        .dana()
        .send(&w.app, "GET", &format!("/event-types/{event}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

/// Maria, the contact of the record samples.
const SAMPLE_RECORD_CONTACT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";

async fn maria(w: &World) -> String {
    id_of(&w.api("POST", "/contacts", Some(sample_body("contacts-create"))).await)
}

pub async fn page_contact_book_form_lists_the_free_times_for_the_contact(name: &str) {
    let w = World::with_dana().await;
    let event = check_up(&w, json!({})).await;
    let contact = maria(&w).await;
    let reply = w
        .http(name, &[(SAMPLE_RECORD_CONTACT, &contact), (SAMPLE_EVENT_TYPE, &event)])
        .await;
    reply.expect(StatusCode::OK);
    for text in [
        "Book an appointment for Maria González",
        "Free times from 2026-12-08",
        "Tuesday 8 December",
        "value=\"2026-12-08T11:00:00Z\"",
    ] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_contact_book_books_the_time_for_the_contact(name: &str) {
    let w = World::with_dana().await;
    let event = check_up(&w, json!({})).await;
    let contact = maria(&w).await;
    let reply = w
        .http(name, &[(SAMPLE_RECORD_CONTACT, &contact), (SAMPLE_EVENT_TYPE, &event)])
        .await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        format!("/app/contacts/{contact}?notice=appointment-booked")
    );
    let list = w.api("GET", "/appointments?from=2026-12-08&to=2026-12-08", None).await;
    assert_eq!(list["items"][0]["contact_id"], contact.as_str(), "{list}");
    assert_eq!(list["items"][0]["start"], "2026-12-08T11:00:00Z");
    assert_eq!(list["items"][0]["invitee"]["email"], "maria.gonzalez@example.com");
}
