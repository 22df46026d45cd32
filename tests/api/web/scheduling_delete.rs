//! Deleting schedules and event types from their editors (a confirmed
//! form; a schedule event types book on is refused with the reason; the
//! bookings of a deleted event type stay and are handled as the API
//! handles them), and the event type editor's host picker, offered to
//! admins only and refused to members by the server anyway.

use super::*;
use konnecs::domain::role::Role;
use konnecs_tests::app::Member;

fn visitor(member: &Member) -> Visitor {
    Visitor {
        cookies: vec![(
            konnecs_tests::http::SESSION_COOKIE.to_string(),
            member.browser.session.clone().expect("session"),
        )],
    }
}

async fn created(app: &App, who: &Member, path: &str, body: serde_json::Value) -> String {
    let reply = app.send(&who.browser, "POST", path, Some(&body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
    reply.body["id"].as_str().expect("id").to_string()
}

fn hours(name: &str) -> serde_json::Value {
    let day = json!([{"start": "08:00", "end": "18:00"}]);
    json!({"name": name, "time_zone": "Europe/London", "weekly": {
        "monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day}})
}

#[tokio::test]
async fn an_admin_picks_the_host_and_schedules_and_event_types_are_deleted_from_their_editors() {
    // Monday 2 March 2026, 08:00 UTC.
    let app = App::at("2026-03-02T08:00:00Z");
    let owner = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let sam = app.join(&owner, "sam@whitfield-dental.example", Role::Member).await;
    let owners_hours = created(&app, &owner, "/schedules", hours("Dana hours")).await;
    let sams_hours = created(&app, &sam, "/schedules", hours("Sam hours")).await;
    let consult = created(
        &app,
        &owner,
        "/event-types",
        json!({"title": "Consult", "slug": "consult", "durations": [30], "schedule_id": owners_hours}),
    )
    .await;
    let mut dana = visitor(&owner);
    let mut sam_page = visitor(&sam);

    // The owner (an admin) is offered every member as host, and whose each schedule is.
    let path = format!("/app/event-types/{consult}");
    let editor = dana.get(&app, &path).await;
    editor
        .expect(StatusCode::OK)
        .contains("<select id=\"host_user_id\" name=\"host_user_id\">")
        .contains(&format!(
            "<option value=\"{}\" selected>Dana Whitfield</option>",
            owner.user_id
        ))
        .contains(&format!("<option value=\"{}\">Sam Taylor</option>", sam.user_id))
        .contains("Sam hours (Sam Taylor)");
    let csrf = editor.csrf_field();
    let fields = |host: &str, schedule: &str| {
        vec![
            ("title", "Consult".to_string()),
            ("durations", "30".to_string()),
            ("window_kind", "rolling".to_string()),
            ("window_days", "60".to_string()),
            ("active", "true".to_string()),
            ("host_user_id", host.to_string()),
            ("schedule_id", schedule.to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| fields;
    // Sam as host on Dana's schedule: refused at the schedule field.
    let wrong = post(fields(&sam.user_id, &owners_hours));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    dana.post(&app, &path, &wrong, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"schedule_id-error\"");
    let moved = post(fields(&sam.user_id, &sams_hours));
    let moved: Vec<(&str, &str)> = moved.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = dana.post(&app, &path, &moved, Csrf::Field(&csrf)).await;
    saved.expect(StatusCode::SEE_OTHER);
    let stored = app
        .send(&owner.browser, "GET", &format!("/event-types/{consult}"), None)
        .await;
    assert_eq!(stored.body["host_user_id"], sam.user_id.as_str(), "{}", stored.body);
    assert_eq!(stored.body["schedule_id"], sams_hours.as_str());

    // Sam, a member, hosts it now: no picker, and a forged host is refused.
    let sams_editor = sam_page.get(&app, &path).await;
    sams_editor
        .expect(StatusCode::OK)
        .contains("Hosted by Sam Taylor.")
        .lacks("name=\"host_user_id\"");
    let sam_csrf = sams_editor.csrf_field();
    let forged = post(fields(&owner.user_id, &owners_hours));
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    sam_page
        .post(&app, &path, &forged, Csrf::Field(&sam_csrf))
        .await
        .expect(StatusCode::FORBIDDEN);
    // Without the picker, saving keeps the host.
    let plain: Vec<(&str, &str)> = moved.iter().filter(|(k, _)| *k != "host_user_id").copied().collect();
    sam_page
        .post(&app, &path, &plain, Csrf::Field(&sam_csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
    let stored = app
        .send(&owner.browser, "GET", &format!("/event-types/{consult}"), None)
        .await;
    assert_eq!(stored.body["host_user_id"], sam.user_id.as_str(), "{}", stored.body);

    // Someone books it for Wednesday.
    let org = app.send(&owner.browser, "GET", "/org", None).await;
    let slug = org.body["slug"].as_str().expect("slug").to_string();
    let booked = app
        .send_anonymous(
            "POST",
            &format!("/public/booking/{slug}/consult/bookings"),
            Some(&json!({"start": "2026-03-04T10:00:00Z", "name": "Ann Lee", "email": "ann@example.com"})),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let booking = booked.body["booking"]["id"].as_str().expect("booking").to_string();

    // Sam's schedule is in use: the editor offers the delete with the reason,
    // and the delete is refused naming the event type.
    let schedule_path = format!("/app/schedules/{sams_hours}");
    sam_page
        .get(&app, &schedule_path)
        .await
        .contains("<summary>Delete this schedule</summary>")
        .contains("Consult books on Sam hours");
    let refused = sam_page
        .post(&app, &format!("{schedule_path}/delete"), &[], Csrf::Field(&sam_csrf))
        .await;
    refused
        .expect(StatusCode::CONFLICT)
        .contains("Sam hours cannot be deleted: Consult books on it.")
        .contains("<details class=\"danger-zone\" open>");
    let still = app
        .send(&sam.browser, "GET", &format!("/schedules/{sams_hours}"), None)
        .await;
    assert_eq!(still.status, StatusCode::OK);

    // Sam, a member, cannot delete an event type Dana hosts.
    let danas = created(
        &app,
        &owner,
        "/event-types",
        json!({"title": "Check-up", "slug": "check-up", "durations": [30], "schedule_id": owners_hours}),
    )
    .await;
    // Sam, a member, is offered no save or delete on what Dana hosts or
    // owns, and the server refuses the delete anyway.
    sam_page
        .get(&app, &format!("/app/event-types/{danas}"))
        .await
        .expect(StatusCode::OK)
        .contains("Only Dana Whitfield, who hosts it, or an admin can change this event type.")
        .lacks("Save event type")
        .lacks("Delete this event type");
    sam_page
        .get(&app, &format!("/app/schedules/{owners_hours}"))
        .await
        .expect(StatusCode::OK)
        .lacks("Save schedule")
        .lacks("Delete this schedule");
    dana.get(&app, &format!("/app/event-types/{danas}"))
        .await
        .contains("Save event type")
        .contains("Delete this event type");
    sam_page
        .post(
            &app,
            &format!("/app/event-types/{danas}/delete"),
            &[],
            Csrf::Field(&sam_csrf),
        )
        .await
        .expect(StatusCode::FORBIDDEN);

    // The event type is deleted behind its confirmation.
    sam_page
        .get(&app, &path)
        .await
        .contains("<summary>Delete this event type</summary>")
        .contains(&format!(
            "<form method=\"post\" action=\"/app/event-types/{consult}/delete\">"
        ));
    let deleted = sam_page
        .post(&app, &format!("{path}/delete"), &[], Csrf::Field(&sam_csrf))
        .await;
    deleted.expect(StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), "/app/scheduling?notice=event-type-deleted");
    sam_page
        .get(&app, deleted.location())
        .await
        .contains("Event type deleted")
        .lacks(&format!("/app/event-types/{consult}\""));
    let gone = app
        .send(&sam.browser, "GET", &format!("/event-types/{consult}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // Its booking stays on the calendar; moving it is refused beside the
    // field, as the API refuses it; cancelling works.
    let week = sam_page.get(&app, "/app/calendar?week=2026-03-02").await;
    week.contains("Ann Lee").contains("Consult");
    sam_page
        .post(
            &app,
            &format!("/app/appointments/{booking}"),
            &[
                ("week", "2026-03-02"),
                ("action", "reschedule"),
                ("start", "2026-03-04T12:00"),
            ],
            Csrf::Field(&sam_csrf),
        )
        .await
        .expect(StatusCode::CONFLICT)
        .contains(&format!("id=\"start-{booking}-error\""))
        .contains("no longer exists");
    sam_page
        .post(
            &app,
            &format!("/app/appointments/{booking}"),
            &[("week", "2026-03-02"), ("action", "cancel")],
            Csrf::Field(&sam_csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    let cancelled = app
        .send(&sam.browser, "GET", &format!("/appointments/{booking}"), None)
        .await;
    assert_eq!(cancelled.body["status"], "cancelled", "{}", cancelled.body);

    // Now no event type books on Sam's schedule: it is deleted.
    let deleted = sam_page
        .post(&app, &format!("{schedule_path}/delete"), &[], Csrf::Field(&sam_csrf))
        .await;
    deleted.expect(StatusCode::SEE_OTHER);
    assert_eq!(deleted.location(), "/app/scheduling?notice=schedule-deleted");
    let gone = app
        .send(&sam.browser, "GET", &format!("/schedules/{sams_hours}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}
