//! Times as each reader sees them, and the iCalendar event (stable UID, growing
//! SEQUENCE, REQUEST or CANCEL) attached to booking emails.

use super::{BookingChange, BookingNotice, NotificationError};
use crate::domain::ids::BookingId;
use crate::ports::mailer::Attachment;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};
use jiff::Timestamp;
use jiff::tz::TimeZone;

pub(super) fn timestamp(second: i64) -> Result<Timestamp, NotificationError> {
    Timestamp::from_second(second).map_err(|err| NotificationError::Invalid(err.to_string()))
}

pub(super) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// `Tuesday, 1 December 2026, 10:00 GMT` in `zone_name`.
pub fn local_time(second: i64, zone_name: &str) -> String {
    match Timestamp::from_second(second) {
        Ok(ts) => ts
            .to_zoned(zone(zone_name))
            .strftime("%A, %-d %B %Y, %H:%M %Z")
            .to_string(),
        Err(_) => second.to_string(),
    }
}

/// A short form for SMS: `Tue 1 Dec 10:00 GMT`.
pub(super) fn short_time(second: i64, zone_name: &str) -> String {
    match Timestamp::from_second(second) {
        Ok(ts) => ts.to_zoned(zone(zone_name)).strftime("%a %-d %b %H:%M %Z").to_string(),
        Err(_) => second.to_string(),
    }
}

pub(super) fn ical_utc(second: i64) -> Result<String, NotificationError> {
    Ok(timestamp(second)?.strftime("%Y%m%dT%H%M%SZ").to_string())
}

/// The stable iCalendar UID of a booking: every update and the cancel of one
/// booking carry the same UID, so calendars replace rather than duplicate.
pub fn ical_uid(booking_id: &BookingId) -> String {
    format!("booking-{booking_id}@konnecs.com")
}

/// The `.ics` text for a booking after `change` (pure; `dtstamp` is when the
/// message is made). METHOD:REQUEST for book and reschedule, METHOD:CANCEL
/// (with STATUS:CANCELLED) for cancel; DTSTART/DTEND in UTC.
pub fn render_ics(
    notice: &BookingNotice,
    change: &BookingChange,
    dtstamp: Timestamp,
) -> Result<String, NotificationError> {
    let cancelled = matches!(change, BookingChange::Cancelled { .. });
    let method = if cancelled { "CANCEL" } else { "REQUEST" };
    let mut event = Event::new();
    event
        .uid(&ical_uid(&notice.booking_id))
        .sequence(notice.sequence)
        .summary(&format!("{} with {}", notice.event_title, notice.org_name))
        .add_property("DTSTAMP", dtstamp.strftime("%Y%m%dT%H%M%SZ").to_string())
        .add_property("DTSTART", ical_utc(notice.starts_at)?)
        .add_property("DTEND", ical_utc(notice.ends_at)?)
        .append_property(
            Property::new("ORGANIZER", format!("mailto:{}", notice.host_email))
                .add_parameter("CN", &notice.host_name)
                .done(),
        )
        .append_multi_property(
            Property::new("ATTENDEE", format!("mailto:{}", notice.customer_email))
                .add_parameter("CN", &notice.customer_name)
                .add_parameter("ROLE", "REQ-PARTICIPANT")
                .add_parameter("PARTSTAT", if cancelled { "DECLINED" } else { "ACCEPTED" })
                .done(),
        );
    if let Some(location) = &notice.location {
        event.location(location);
    }
    if let Some(url) = &notice.manage_url {
        event.description(&format!("Reschedule or cancel: {url}"));
    }
    event.status(if cancelled {
        EventStatus::Cancelled
    } else {
        EventStatus::Confirmed
    });
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Konnecs//Booking//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", method))
        .push(event.done());
    Ok(calendar.to_string())
}

pub(super) fn ics_attachment(
    notice: &BookingNotice,
    change: &BookingChange,
    now: Timestamp,
) -> Result<Attachment, NotificationError> {
    let method = if matches!(change, BookingChange::Cancelled { .. }) {
        "CANCEL"
    } else {
        "REQUEST"
    };
    let ics = render_ics(notice, change, now)?;
    Ok(Attachment {
        filename: if method == "CANCEL" { "cancel.ics" } else { "invite.ics" }.into(),
        content_type: format!("text/calendar; charset=utf-8; method={method}"),
        content_base64: STANDARD.encode(ics.as_bytes()),
    })
}
