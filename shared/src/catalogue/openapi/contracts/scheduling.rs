//! The operations of the scheduling area's HTTP entries: the JSON API of
//! schedules, event types and the host's appointments here, the staff pages
//! in [`pages`].

mod pages;

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use crate::inbound::http::scheduling::{Items, ListQuery, ReasonBody, RescheduleBody};
use crate::services::scheduling::bookings::BookingView;
use crate::services::scheduling::event_types::{EventTypeInput, EventTypeRecord};
use crate::services::scheduling::schedules::{ScheduleInput, ScheduleView};

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    Some(match name {
        "schedules-list" => Operation::new()
            .json::<Items<ScheduleView>>(
                schemas,
                200,
                "The organization's schedules.",
                json!({"items": [schedule()]}),
            )
            .problem(403, &["insufficient_role"]),
        "schedules-create" => Operation::new()
            .json_body::<ScheduleInput>(schemas, schedule_input())
            .json::<ScheduleView>(schemas, 201, "The schedule, created.", schedule())
            .problem(403, &["insufficient_role"])
            .problem(409, &["conflict"]),
        "schedules-get" => Operation::new()
            .path("id", "The schedule's id.", SCHEDULE_ID)
            .json::<ScheduleView>(schemas, 200, "The schedule.", schedule())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "schedules-update" => Operation::new()
            .path("id", "The schedule's id.", SCHEDULE_ID)
            // A JSON merge patch over the schedule's input: each field sent replaces it.
            .json_body::<ScheduleInput>(
                schemas,
                json!({"name": "Clinic hours (winter)", "weekly": {"friday": [{"start": "09:00", "end": "13:00"}]}}),
            )
            .json::<ScheduleView>(schemas, 200, "The schedule, changed.", schedule())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "schedules-delete" => Operation::new()
            .path("id", "The schedule's id.", SCHEDULE_ID)
            .empty(204, "Deleted.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["schedule_in_use", "conflict"]),
        "event-types-list" => Operation::new()
            .json::<Items<EventTypeRecord>>(
                schemas,
                200,
                "The organization's event types.",
                json!({"items": [event_type()]}),
            )
            .problem(403, &["insufficient_role"]),
        "event-types-create" => Operation::new()
            .json_body::<EventTypeInput>(schemas, event_type_input())
            .json::<EventTypeRecord>(schemas, 201, "The event type, created.", event_type())
            .problem(402, &["plan_limit"])
            .problem(403, &["insufficient_role"])
            .problem(409, &["conflict"]),
        "event-types-get" => Operation::new()
            .path("id", "The event type's id.", EVENT_TYPE_ID)
            .json::<EventTypeRecord>(schemas, 200, "The event type.", event_type())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "event-types-update" => Operation::new()
            .path("id", "The event type's id.", EVENT_TYPE_ID)
            // A JSON merge patch over the event type's input: each field sent replaces it.
            .json_body::<EventTypeInput>(schemas, json!({"title": "First assessment", "durations": [45, 60]}))
            .json::<EventTypeRecord>(schemas, 200, "The event type, changed.", event_type())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "event-types-delete" => Operation::new()
            .path("id", "The event type's id.", EVENT_TYPE_ID)
            .empty(204, "Deleted: its link stops taking bookings; bookings made stay.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "appointments-list" => Operation::new()
            .query::<ListQuery>(schemas)
            .json::<Items<BookingView>>(
                schemas,
                200,
                "The host's appointments starting in the range, oldest first (cancelled ones included).",
                json!({"items": [booking()]}),
            )
            .problem(403, &["insufficient_role"])
            .problem(422, &["validation_failed"]),
        "appointments-get" => Operation::new()
            .path("id", "The appointment's (booking's) id.", BOOKING_ID)
            .json::<BookingView>(schemas, 200, "The appointment.", booking())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "appointments-cancel" => reason_body(Operation::new(), schemas)
            .path("id", "The appointment's (booking's) id.", BOOKING_ID)
            .json::<BookingView>(schemas, 200, "The appointment, cancelled.", cancelled())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["booking_not_active", "already_started", "conflict"]),
        "appointments-reschedule" => Operation::new()
            .path("id", "The appointment's (booking's) id.", BOOKING_ID)
            .json_body::<RescheduleBody>(schemas, json!({"start": "2026-03-11T10:00:00Z"}))
            .json::<BookingView>(schemas, 200, "The appointment, moved.", booking())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, RESCHEDULE_CONFLICTS)
            // The host's Google calendar could not be read (with `Retry-After`).
            .problem(503, &["calendar_unavailable"]),
        "appointments-confirm" => Operation::new()
            .path("id", "The appointment's (booking's) id.", BOOKING_ID)
            .json::<BookingView>(schemas, 200, "The appointment, confirmed.", booking())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["not_pending_confirmation", "conflict"]),
        "appointments-decline" => reason_body(Operation::new(), schemas)
            .path("id", "The appointment's (booking's) id.", BOOKING_ID)
            .json::<BookingView>(schemas, 200, "The appointment, declined.", declined())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["not_pending_confirmation", "conflict"]),
        "appointments-no-show" => Operation::new()
            .path("id", "The appointment's (booking's) id.", BOOKING_ID)
            .json::<BookingView>(schemas, 200, "The appointment, marked as a no-show.", no_show())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["booking_not_active", "not_started", "conflict"]),
        other => return pages::operation(other, schemas),
    })
}

/// The optional `{"reason": ...}` of a cancel or decline (an empty body is
/// no reason; the handler reads the bytes, so any media type is accepted).
fn reason_body(operation: Operation, schemas: &mut Schemas) -> Operation {
    operation.json_body::<ReasonBody>(schemas, json!({"reason": "The clinic is closed that day."}))
}

pub(super) const SCHEDULE_ID: &str = "0193f2a4c8e27b51a3d9e6f0b1c2d3e4";
pub(super) const EVENT_TYPE_ID: &str = "0193f2a4d1107c62b4e0f7a1c2d3e4f5";
pub(super) const BOOKING_ID: &str = "0193f2b7e5a87d73c5f1a8b2d3e4f5a6";
const USER_ID: &str = "0193f2a1b0c47e84d6a2b9c3e4f5a6b7";
const ORG_ID: &str = "0193f2a1b0c37f95e7b3cad4f5a6b7c8";

fn weekly() -> Value {
    let day = json!([{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]);
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day})
}

fn schedule_input() -> Value {
    json!({
        "name": "Clinic hours",
        "time_zone": "Europe/London",
        "weekly": weekly(),
        "overrides": {"2026-12-25": {"kind": "unavailable"}},
    })
}

fn schedule() -> Value {
    let mut weekly = weekly();
    for day in ["saturday", "sunday"] {
        weekly[day] = json!([]);
    }
    json!({
        "id": SCHEDULE_ID,
        "name": "Clinic hours",
        "owner_user_id": USER_ID,
        "time_zone": "Europe/London",
        "weekly": weekly,
        "overrides": {"2026-12-25": {"kind": "unavailable"}},
        "used_by_event_types": 1,
        "created_at": "2026-03-02T09:00:00Z",
        "updated_at": "2026-03-02T09:00:00Z",
        "version": 1,
    })
}

fn event_type_input() -> Value {
    json!({
        "title": "Assessment",
        "slug": "assessment",
        "description": "A first look at what brings you in.",
        "durations": [30, 60],
        "location": {"kind": "in_person", "address": "4 Quay Street, Bristol"},
        "schedule_id": SCHEDULE_ID,
        "buffer_after": 10,
        "minimum_notice": 120,
        "questions": [{"id": "reason", "label": "What brings you in?", "type": "long_text", "required": true}],
    })
}

fn event_type() -> Value {
    json!({
        "id": EVENT_TYPE_ID,
        "org_id": ORG_ID,
        "title": "Assessment",
        "slug": "assessment",
        "description": "A first look at what brings you in.",
        "durations": [30, 60],
        "default_duration": 30,
        "location": {"kind": "in_person", "address": "4 Quay Street, Bristol"},
        "host_user_id": USER_ID,
        "schedule_id": SCHEDULE_ID,
        "buffer_before": 0,
        "buffer_after": 10,
        "minimum_notice": 120,
        "window": {"kind": "rolling", "days": 60},
        "slot_interval": null,
        "daily_limit": null,
        "weekly_limit": null,
        "seats": 1,
        "requires_confirmation": false,
        "questions": [{"id": "reason", "label": "What brings you in?", "type": "long_text", "required": true}],
        "reminders": [
            {"offset_minutes": 1440, "channels": ["email", "sms"]},
            {"offset_minutes": 60, "channels": ["email", "sms"]}
        ],
        "active": true,
        "created_at": "2026-03-02T09:05:00Z",
        "updated_at": "2026-03-02T09:05:00Z",
        "version": 1,
    })
}

/// Why a booking cannot move, whether its host moves it or its invitee does
/// through the manage link.
pub(super) const RESCHEDULE_CONFLICTS: &[&str] = &[
    "booking_not_active",
    "already_started",
    "slot_taken",
    "event_type_gone",
    "conflict",
];

/// A confirmed booking as the API shows it (the booking area's examples too).
pub(super) fn booking() -> Value {
    json!({
        "id": BOOKING_ID,
        "uid": BOOKING_ID,
        "org_id": ORG_ID,
        "event_type_id": EVENT_TYPE_ID,
        "event_title": "Assessment",
        "host_user_id": USER_ID,
        "start": "2026-03-10T14:00:00Z",
        "end": "2026-03-10T14:30:00Z",
        "duration": 30,
        "status": "confirmed",
        "no_show": false,
        "location": {"kind": "in_person", "address": "4 Quay Street, Bristol"},
        "invitee": {
            "name": "Sam Lee",
            "email": "sam.lee@example.com",
            "phone": "+447700900123",
            "sms_consent": true,
            "sms_consent_text": "Text me about this booking.",
            "time_zone": "Europe/London"
        },
        "answers": {"reason": "Knee pain after running."},
        "contact_id": "0193f2b7e5a97e84d6a2b9c3e4f5a6b7",
        "sequence": 0,
        "cancel_reason": null,
        "cancelled_by": null,
        "created_at": "2026-03-03T18:12:00Z",
        "updated_at": "2026-03-03T18:12:00Z",
    })
}

pub(super) fn cancelled() -> Value {
    let mut booking = booking();
    booking["status"] = json!("cancelled");
    booking["cancel_reason"] = json!("The clinic is closed that day.");
    booking["cancelled_by"] = json!("host");
    booking
}

fn no_show() -> Value {
    let mut booking = booking();
    booking["no_show"] = json!(true);
    booking
}

fn declined() -> Value {
    let mut booking = booking();
    booking["status"] = json!("declined");
    booking["cancel_reason"] = json!("The clinic is closed that day.");
    booking
}
