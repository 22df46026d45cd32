//! The operations of the booking area's HTTP entries: the public JSON API
//! an invitee's browser calls (event info, free slots, booking, and the
//! manage link's view, cancel and reschedule) and the two public pages.
//! The manage token travels in the body or the `token` query parameter; a
//! missing or wrong one is a 404 like an unknown booking, so neither tells
//! whether the booking exists.

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use super::scheduling::{BOOKING_ID, RESCHEDULE_CONFLICTS, booking, cancelled};
use crate::inbound::http::public_booking::{CancelBody, RescheduleBody, TokenQuery};
use crate::services::scheduling::bookings::{
    BookingRequest, BookingView, NewBooking, PublicEvent, SlotsQuery, SlotsView,
};

const ORG_SLUG: &str = "harbour-physio";
const EVENT_SLUG: &str = "assessment";
const TOKEN: &str = "kq3Jx7VbN2pL8sWd5TfY0hRc9GmA4eZu";

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    Some(match name {
        "public-booking-event" => event_page(Operation::new())
            .json::<PublicEvent>(schemas, 200, "What the booking page shows of the event type.", event())
            .problem(404, &["not_found"]),
        "public-booking-slots" => event_page(Operation::new())
            .query::<SlotsQuery>(schemas)
            .json::<SlotsView>(schemas, 200, "The free starts, by day in the invitee's zone.", slots())
            .problem(404, &["not_found"])
            .problem(422, &["validation_failed"])
            // The host's Google calendar cannot be read and no recent busy
            // times stand in: no slot is offered on a guess. Sent with
            // `Retry-After` (seconds).
            .problem(503, &["calendar_unavailable"]),
        "public-booking-create" => event_page(Operation::new())
            .json_body::<BookingRequest>(
                schemas,
                json!({
                    "start": "2026-03-10T14:00:00Z",
                    "duration": 30,
                    "name": "Sam Lee",
                    "email": "sam.lee@example.com",
                    "phone": "+447700900123",
                    "sms_consent": true,
                    "sms_consent_text": "Text me about this booking.",
                    "time_zone": "Europe/London",
                    "answers": {"reason": "Knee pain after running."}
                }),
            )
            .json::<NewBooking>(
                schemas,
                201,
                "Booked: the booking and its manage link (the token is shown only here).",
                json!({
                    "booking": booking(),
                    "manage_token": TOKEN,
                    "manage_url": format!("https://app.konnecs.example/booking/{BOOKING_ID}?token={TOKEN}"),
                }),
            )
            .problem(404, &["not_found"])
            .problem(409, &["slot_taken", "conflict"])
            .problem(503, &["calendar_unavailable"]),
        "public-booking-show" => manage_link(Operation::new())
            .query::<TokenQuery>(schemas)
            .json::<BookingView>(schemas, 200, "The booking.", booking())
            .problem(404, &["not_found"]),
        "public-booking-cancel" => manage_link(Operation::new())
            .query::<TokenQuery>(schemas)
            // Optional: an empty body cancels with no reason (token from the query).
            .json_body::<CancelBody>(schemas, json!({"token": TOKEN, "reason": "I can no longer come."}))
            .json::<BookingView>(schemas, 200, "The booking, cancelled.", invitee_cancelled())
            .problem(404, &["not_found"])
            .problem(409, &["booking_not_active", "already_started", "conflict"]),
        "public-booking-reschedule" => manage_link(Operation::new())
            .query::<TokenQuery>(schemas)
            .json_body::<RescheduleBody>(schemas, json!({"token": TOKEN, "start": "2026-03-11T10:00:00Z"}))
            .json::<BookingView>(schemas, 200, "The booking, moved.", booking())
            .problem(404, &["not_found"])
            .problem(409, RESCHEDULE_CONFLICTS)
            .problem(503, &["calendar_unavailable"]),
        "page-book" => event_page(Operation::new())
            .html(
                200,
                "The booking page: the event, a date and time picker, and the invitee's form.",
                "<h1>Assessment</h1>",
            )
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        "page-booking" => manage_link(Operation::new())
            .query::<crate::inbound::http::pages::TokenQuery>(schemas)
            .html(
                200,
                "The invitee's page of one booking, to cancel or reschedule it.",
                "<h1>Assessment · Harbour Physio</h1>",
            )
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        _ => return None,
    })
}

/// The event type's public address: the organization's and its own slug.
fn event_page(operation: Operation) -> Operation {
    operation
        .path("org_slug", "The organization's public slug.", ORG_SLUG)
        .path("event_slug", "The event type's slug.", EVENT_SLUG)
}

/// The booking's public id, as in its manage link.
fn manage_link(operation: Operation) -> Operation {
    operation.path("uid", "The booking's public id, from its manage link.", BOOKING_ID)
}

fn invitee_cancelled() -> Value {
    let mut booking = cancelled();
    booking["cancel_reason"] = json!("I can no longer come.");
    booking["cancelled_by"] = json!("invitee");
    booking
}

fn event() -> Value {
    json!({
        "org_name": "Harbour Physio",
        "org_slug": ORG_SLUG,
        "host_name": "Morgan Hale",
        "title": "Assessment",
        "slug": EVENT_SLUG,
        "description": "A first look at what brings you in.",
        "durations": [30, 60],
        "default_duration": 30,
        "location": {"kind": "in_person", "address": "4 Quay Street, Bristol"},
        "time_zone": "Europe/London",
        "seats": 1,
        "requires_confirmation": false,
        "questions": [{"id": "reason", "label": "What brings you in?", "type": "long_text", "required": true}],
        "minimum_notice": 120,
    })
}

fn slots() -> Value {
    json!({
        "time_zone": "Europe/London",
        "duration": 30,
        "from": "2026-03-09T00:00:00Z",
        "to": "2026-03-16T00:00:00Z",
        "days": [{
            "date": "2026-03-10",
            "slots": [
                {"start": "2026-03-10T09:00:00Z", "end": "2026-03-10T09:30:00Z", "time": "09:00", "seats_left": 1},
                {"start": "2026-03-10T14:00:00Z", "end": "2026-03-10T14:30:00Z", "time": "14:00", "seats_left": 1}
            ]
        }],
    })
}
