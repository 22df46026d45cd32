//! The calendar: the member's appointments for a week in the organization's
//! time zone (shown once), as seven days side by side on a wide screen and a
//! list of days on a phone, each appointment with its status in words and
//! its actions (confirm, decline, reschedule, cancel, no-show) as plain
//! forms (handled in `appointment_actions`). The same services as
//! `/appointments`.

use crate::domain::ids::BookingId;
use crate::domain::ids::ContactId;
use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::{Chrome, PageError, PageResult, Staff, notice_text, render};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::scheduling::caller;
use crate::services::scheduling::bookings::{self, BookingStatus, BookingView, ListRange};

pub struct Appointment {
    pub id: String,
    /// The day in words ("Wed 4 Mar 2026"), for lists of several days.
    pub date: String,
    pub time: String,
    pub who: String,
    pub email: String,
    pub what: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub contact_id: Option<ContactId>,
    pub pending: bool,
    pub live: bool,
    pub started: bool,
    /// The start as a `datetime-local` value in the organization's zone
    /// (or the value a refused reschedule sent).
    pub start_local: String,
    /// Why a reschedule of this appointment was refused: shown beside its
    /// field, with its actions open.
    pub start_error: Option<String>,
    /// The host moved its Google Calendar event: where it is there.
    pub moved_in_google: Option<String>,
}

/// A reschedule the service refused: which appointment, the start as typed
/// and why, to show beside the field.
pub struct RefusedStart {
    pub id: BookingId,
    pub start: String,
    pub message: String,
}

impl RefusedStart {
    /// Puts the refusal on its appointment.
    pub fn mark(refused: Option<&RefusedStart>, appointment: &mut Appointment) {
        if let Some(refused) = refused.filter(|r| r.id.as_str() == appointment.id) {
            appointment.start_local = refused.start.clone();
            appointment.start_error = Some(refused.message.clone());
        }
    }
}

pub struct Day {
    pub label: String,
    pub date: String,
    pub today: bool,
    pub appointments: Vec<Appointment>,
}

#[derive(Template)]
#[template(path = "staff/calendar.html")]
struct CalendarPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    zone: String,
    week: String,
    previous: String,
    next: String,
    days: Vec<Day>,
    count: usize,
}

impl CalendarPage {
    /// What an action form carries to come back to this week.
    fn back_fields(&self) -> Vec<(&'static str, String)> {
        vec![("week", self.week.clone())]
    }
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CalendarPageQuery")]
pub struct WeekQuery {
    /// Any day of the week to show, `YYYY-MM-DD`; this week when absent.
    #[serde(default)]
    week: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

pub(super) fn status_words(status: BookingStatus, no_show: bool) -> (&'static str, &'static str) {
    match status {
        BookingStatus::Confirmed if no_show => ("No-show", "cancelled"),
        BookingStatus::PendingConfirmation => ("Pending", "pending_confirmation"),
        BookingStatus::Confirmed => ("Confirmed", "confirmed"),
        BookingStatus::Cancelled => ("Cancelled", "cancelled"),
        BookingStatus::Declined => ("Declined", "declined"),
    }
}

/// The Monday of `day`'s week.
fn monday_of(day: Date) -> Date {
    let back = i64::from(day.weekday().to_monday_zero_offset());
    day.checked_sub(jiff::Span::new().days(back)).unwrap_or(day)
}

pub(super) fn plus_days(day: Date, days: i64) -> Date {
    day.checked_add(jiff::Span::new().days(days)).unwrap_or(day)
}

pub(super) fn appointment(booking: &BookingView, zone: &TimeZone, now: jiff::Timestamp) -> Appointment {
    let start = booking.start.to_zoned(zone.clone());
    let end = booking.end.to_zoned(zone.clone());
    let (status, status_class) = status_words(booking.status, booking.no_show);
    let live = matches!(
        booking.status,
        BookingStatus::Confirmed | BookingStatus::PendingConfirmation
    );
    Appointment {
        id: booking.id.clone(),
        date: start.strftime("%a %-d %b %Y").to_string(),
        time: format!("{}–{}", start.strftime("%H:%M"), end.strftime("%H:%M")),
        who: booking.invitee.name.clone(),
        email: booking.invitee.email.clone(),
        what: booking.event_title.clone(),
        status,
        status_class,
        contact_id: booking.contact_id.clone(),
        pending: booking.status == BookingStatus::PendingConfirmation,
        live,
        started: booking.status == BookingStatus::Confirmed && !booking.no_show && booking.start <= now,
        start_local: start.strftime("%Y-%m-%dT%H:%M").to_string(),
        start_error: None,
        moved_in_google: booking
            .google_calendar
            .as_ref()
            .and_then(|google| google.moved.as_ref())
            .filter(|_| live)
            .map(|moved| {
                let (start, end) = (moved.start.to_zoned(zone.clone()), moved.end.to_zoned(zone.clone()));
                format!(
                    "{} {}–{}",
                    start.strftime("%a %-d %b %Y"),
                    start.strftime("%H:%M"),
                    end.strftime("%H:%M")
                )
            }),
    }
}

/// `GET /app/calendar?week=`.
pub async fn calendar(State(state): State<AppState>, staff: Staff, Query(query): Query<WeekQuery>) -> PageResult {
    let notice = notice_text(query.notice.as_deref());
    week_page(&state, staff, query.week.as_deref(), notice, None, StatusCode::OK).await
}

/// The week of `week` (any day of it; this week when absent), with a
/// refused reschedule beside its field when there is one.
pub(super) async fn week_page(
    state: &AppState,
    staff: Staff,
    week: Option<&str>,
    notice: Option<&'static str>,
    refused: Option<RefusedStart>,
    status: StatusCode,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let zone_name = staff.time_zone.clone();
    let zone = TimeZone::get(&zone_name).unwrap_or(TimeZone::UTC);
    let now = state.clock.now();
    let today = now.to_zoned(zone.clone()).date();
    let asked = match week.map(str::trim).filter(|w| !w.is_empty()) {
        None => today,
        Some(raw) => raw.parse::<Date>().map_err(|_| {
            PageError(ApiError::field(
                "week",
                "invalid_date",
                "Use a date such as 2026-03-02.",
            ))
        })?,
    };
    let monday = monday_of(asked);
    let (from, to) = (monday.to_string(), plus_days(monday, 7).to_string());
    let bookings = bookings::list_for_host(
        state,
        &caller,
        None,
        ListRange {
            from: &from,
            to: &to,
            tz: Some(&zone_name),
        },
    )
    .await?;
    let days: Vec<Day> = (0..7)
        .map(|offset| {
            let date = plus_days(monday, offset);
            Day {
                label: date.strftime("%A %-d %B").to_string(),
                date: date.to_string(),
                today: date == today,
                appointments: bookings
                    .iter()
                    .filter(|b| b.start.to_zoned(zone.clone()).date() == date)
                    .map(|b| {
                        let mut shown = appointment(b, &zone, now);
                        RefusedStart::mark(refused.as_ref(), &mut shown);
                        shown
                    })
                    .collect(),
            }
        })
        .collect();
    let staff = staff.in_section("calendar");
    Ok(render(
        status,
        &CalendarPage {
            title: "Calendar",
            chrome: Some(staff.chrome),
            notice,
            zone: zone_name.clone(),
            week: monday.to_string(),
            previous: plus_days(monday, -7).to_string(),
            next: plus_days(monday, 7).to_string(),
            count: bookings.len(),
            days,
        },
    ))
}

/// The status filter's choices: (value, label).
pub const STATUSES: [(&str, &str); 6] = [
    ("", "Any status"),
    ("pending_confirmation", "Pending"),
    ("confirmed", "Confirmed"),
    ("cancelled", "Cancelled"),
    ("declined", "Declined"),
    ("no_show", "No-show"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday() {
        let sunday: Date = "2026-03-08".parse().unwrap();
        assert_eq!(monday_of(sunday).to_string(), "2026-03-02");
        let monday: Date = "2026-03-02".parse().unwrap();
        assert_eq!(monday_of(monday), monday);
    }
}
