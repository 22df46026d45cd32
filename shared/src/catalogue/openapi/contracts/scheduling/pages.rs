//! The scheduling area's staff pages: the calendar, the appointment list
//! and its actions, booking for a contact, and the schedule and event type
//! editors. Their posts are HTML forms whose handlers read untyped pairs
//! (`FormData`), so each body lists the fields its page handler reads. A
//! refusal the page can explain beside its fields (a taken time, an invalid
//! value) is the page again at the problem's status.

use serde_json::{Map, Value, json};

use super::super::super::{Operation, Schemas};
use super::{BOOKING_ID, EVENT_TYPE_ID, SCHEDULE_ID};
use crate::inbound::http::web::appointments::ListQuery;
use crate::inbound::http::web::calendar::WeekQuery;
use crate::inbound::http::web::contact_booking::BookQuery;
use crate::inbound::http::web::contacts::NoticeQuery;

const CONTACT_ID: &str = "0193f2b7e5a97e84d6a2b9c3e4f5a6b7";
const CSRF: &str = "4f1c2a9e7b6d5c3a8e0f1b2c3d4e5f6a";

pub(super) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    Some(match name {
        "page-contact-book-form" => Operation::new()
            .path("id", "The contact's id.", CONTACT_ID)
            .query::<BookQuery>(schemas)
            .html(
                200,
                "The free times of the chosen event type for a week, to book one for the contact.",
                "<h1>Book an appointment for Sam Lee</h1>",
            )
            .problem(404, &["not_found"])
            .problem(422, &["validation_failed"])
            .problem(503, &["calendar_unavailable", "unavailable"]),
        "page-contact-book" => form_post(&[
            ("event_type", "The event type's id."),
            ("start", "The chosen start, RFC 3339, as the page lists it."),
            ("from", "The first day shown, to show the same week again on a refusal."),
        ])
        .path("id", "The contact's id.", CONTACT_ID)
        .redirect(303, "Booked: back to the contact's record.")
        .problem(404, &["not_found"])
        .problem(409, &["slot_taken"])
        .problem(422, &["validation_failed"])
        .problem(503, &["calendar_unavailable", "unavailable"]),
        "page-calendar" => Operation::new()
            .query::<WeekQuery>(schemas)
            .html(200, "The member's week of appointments.", "<h1>Calendar</h1>")
            .problem(422, &["validation_failed"]),
        "page-appointments" => Operation::new()
            .query::<ListQuery>(schemas)
            .html(
                200,
                "The member's appointments, filtered by status and dates.",
                "<h1>Appointments</h1>",
            )
            .problem(422, &["validation_failed"]),
        "page-appointment-action" => form_post(&[
            ("action", "One of confirm, decline, cancel, no_show, reschedule."),
            ("reason", "The cancel or decline reason (optional)."),
            (
                "start",
                "The new start of a reschedule, a local date-time in the member's zone.",
            ),
            ("view", "`list` to come back to the list; else the week calendar."),
            ("week", "The week to come back to."),
            ("status", "The list's status filter to come back to."),
            ("from", "The list's first date to come back to."),
            ("to", "The list's last date to come back to."),
        ])
        .path("id", "The appointment's (booking's) id.", BOOKING_ID)
        .redirect(303, "Done: back to the week or the list, with a notice.")
        .problem(404, &["not_found"])
        .problem(
            409,
            &[
                "booking_not_active",
                "already_started",
                "not_pending_confirmation",
                "not_started",
                "slot_taken",
                "event_type_gone",
                "conflict",
            ],
        )
        .problem(422, &["validation_failed"])
        .problem(503, &["calendar_unavailable", "unavailable"]),
        "page-scheduling" => Operation::new().query::<NoticeQuery>(schemas).html(
            200,
            "The member's schedules and event types, with the forms to add one.",
            "<h1>Scheduling</h1>",
        ),
        "page-schedule-create" => schedule_form()
            .redirect(303, "Created: back to the scheduling page.")
            .problem(409, &["conflict"])
            .problem(422, &["validation_failed"]),
        "page-event-type-create" => form_post(&[
            ("title", "The event type's title."),
            ("slug", "Its public address (optional; made from the title)."),
            ("description", "What invitees read."),
            ("durations", "Minutes, comma-separated, e.g. `30, 60`."),
            ("schedule_id", "The schedule it books on."),
            ("location_kind", "in_person, phone, video or blank."),
            ("location_detail", "The address, phone number or video link."),
            ("requires_confirmation", "`true` when the host confirms each booking."),
            ("minimum_notice", "Minutes of notice (optional)."),
            ("buffer_after", "Minutes kept free after (optional)."),
            ("daily_limit", "Bookings per day at most (optional)."),
        ])
        .redirect(303, "Created: back to the scheduling page.")
        .problem(402, &["plan_limit"])
        .problem(409, &["conflict"])
        .problem(422, &["validation_failed"]),
        "page-schedule-edit" => Operation::new()
            .path("id", "The schedule's id.", SCHEDULE_ID)
            .html(200, "The schedule's editor.", "<h1>Clinic hours</h1>")
            .problem(404, &["not_found"]),
        "page-schedule-update" => schedule_form()
            .path("id", "The schedule's id.", SCHEDULE_ID)
            .redirect(303, "Saved: back to the scheduling page.")
            .problem(404, &["not_found"])
            .problem(409, &["conflict"])
            .problem(422, &["validation_failed"]),
        "page-event-type-edit" => Operation::new()
            .path("id", "The event type's id.", EVENT_TYPE_ID)
            .html(200, "The event type's editor.", "<h1>Assessment</h1>")
            .problem(404, &["not_found"]),
        "page-event-type-update" => form_post(&[
            ("title", "The event type's title."),
            ("slug", "Its public address."),
            ("description", "What invitees read."),
            ("durations", "Minutes, comma-separated, e.g. `30, 60`."),
            ("default_duration", "One of the durations."),
            ("schedule_id", "The schedule it books on."),
            ("host_user_id", "The hosting member (admins only)."),
            ("location_kind", "in_person, phone, video or blank."),
            ("location_detail", "The address, phone number or video link."),
            ("buffer_before", "Minutes kept free before."),
            ("buffer_after", "Minutes kept free after."),
            ("minimum_notice", "Minutes of notice."),
            ("slot_interval", "Minutes between offered starts (blank: the duration)."),
            ("daily_limit", "Bookings per day at most."),
            ("weekly_limit", "Bookings per week at most."),
            ("seats", "Invitees per slot."),
            ("window_kind", "`rolling` or `date_range`."),
            ("window_days", "Days ahead a rolling window reaches."),
            ("window_start", "A date range's first date."),
            ("window_end", "A date range's last date."),
            ("requires_confirmation", "`true` when the host confirms each booking."),
            ("active", "`true` while the link takes bookings."),
            ("questions", "One per line: `key | question | type | required | a; b`."),
            ("reminders", "One per line: `minutes: email, sms`."),
        ])
        .path("id", "The event type's id.", EVENT_TYPE_ID)
        .redirect(303, "Saved: back to the scheduling page.")
        .problem(404, &["not_found"])
        .problem(409, &["conflict"])
        .problem(422, &["validation_failed"]),
        "page-schedule-delete" => form_post(&[])
            .path("id", "The schedule's id.", SCHEDULE_ID)
            .redirect(303, "Deleted: back to the scheduling page.")
            .problem(404, &["not_found"])
            .problem(409, &["schedule_in_use", "conflict"]),
        "page-event-type-delete" => form_post(&[])
            .path("id", "The event type's id.", EVENT_TYPE_ID)
            .redirect(303, "Deleted: back to the scheduling page.")
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        _ => return None,
    })
}

/// The schedule form of the scheduling page and the schedule editor.
fn schedule_form() -> Operation {
    form_post(&[
        ("name", "The schedule's name."),
        ("time_zone", "An IANA zone, e.g. `Europe/London`."),
        ("monday", "Hours such as `09:00-12:30, 13:30-17:00`; blank is closed."),
        ("tuesday", "As monday."),
        ("wednesday", "As monday."),
        ("thursday", "As monday."),
        ("friday", "As monday."),
        ("saturday", "As monday."),
        ("sunday", "As monday."),
        (
            "overrides",
            "One per line: `2026-12-25: closed` or `2026-12-24: 09:00-12:00`.",
        ),
    ])
}

/// A staff form post: the fields its page handler reads, plus the CSRF
/// token (`_csrf`, or the `X-CSRF-Token` header htmx sends). A post that is
/// not a form, or too large, is refused before the handler.
fn form_post(fields: &[(&str, &str)]) -> Operation {
    let mut properties = Map::new();
    let mut example = Map::new();
    properties.insert(
        "_csrf".into(),
        json!({"type": "string", "description": "The session's CSRF token, as the page's form carries it."}),
    );
    example.insert("_csrf".into(), json!(CSRF));
    for (name, description) in fields {
        properties.insert((*name).into(), json!({"type": "string", "description": description}));
        example.insert((*name).into(), json!(example_value(name)));
    }
    Operation::new()
        .body(
            "application/x-www-form-urlencoded",
            json!({"type": "object", "properties": properties}),
            Value::Object(example),
        )
        .problem(413, &["payload_too_large"])
        .problem(415, &["unsupported_media_type"])
}

/// A value each form field takes, for the examples.
fn example_value(field: &str) -> &'static str {
    match field {
        "event_type" => EVENT_TYPE_ID,
        "start" => "2026-03-10T14:00:00Z",
        "from" | "week" | "window_start" => "2026-03-09",
        "to" | "window_end" => "2026-03-31",
        "action" => "confirm",
        "view" => "list",
        "status" => "confirmed",
        "reason" => "The clinic is closed that day.",
        "name" => "Clinic hours",
        "time_zone" => "Europe/London",
        "monday" | "tuesday" | "wednesday" | "thursday" | "friday" => "09:00-12:00, 13:00-17:00",
        "overrides" => "2026-12-25: closed",
        "title" => "Assessment",
        "slug" => "assessment",
        "description" => "A first look at what brings you in.",
        "durations" => "30, 60",
        "default_duration" => "30",
        "schedule_id" => SCHEDULE_ID,
        "location_kind" => "in_person",
        "location_detail" => "4 Quay Street, Bristol",
        "requires_confirmation" => "false",
        "active" => "true",
        "minimum_notice" => "120",
        "buffer_before" | "buffer_after" => "10",
        "seats" => "1",
        "window_kind" => "rolling",
        "window_days" => "60",
        "questions" => "reason | What brings you in? | long_text | required",
        "reminders" => "1440: email, sms",
        _ => "",
    }
}
