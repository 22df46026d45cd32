//! The member's appointments as a list: filtered by status and by a range
//! of dates (in the viewer's time zone), oldest first, each with its date,
//! time, invitee, event, status and the same actions as on the week
//! calendar (confirm, decline, reschedule, cancel, no-show), which come back
//! to this list with its filters. The same service as `/appointments`.

use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::calendar::{Appointment, RefusedStart, STATUSES, appointment, plus_days};
use super::{Chrome, FormData, PageError, PageResult, Staff, notice_text, render};
use crate::inbound::AppState;
use crate::inbound::http::problem::{ApiError, FieldError};
use crate::inbound::http::scheduling::caller;
use crate::services::scheduling::bookings::{self, BookingStatus, BookingView, ListRange};

/// How many days the list covers when no end is chosen.
const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "AppointmentsPageQuery")]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "staff/appointments.html")]
struct ListPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    zone: String,
    status: String,
    from: String,
    to: String,
    rows: Vec<Appointment>,
    statuses: [(&'static str, &'static str); 6],
}

impl ListPage {
    /// What an action form carries to come back to this list.
    fn back_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("view", "list".into()),
            ("status", self.status.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
        ]
    }
}

/// Whether a booking has the status the filter names.
fn has_status(booking: &BookingView, status: &str) -> bool {
    match status {
        "" => true,
        "no_show" => booking.no_show,
        "confirmed" => booking.status == BookingStatus::Confirmed && !booking.no_show,
        "pending_confirmation" => booking.status == BookingStatus::PendingConfirmation,
        "cancelled" => booking.status == BookingStatus::Cancelled,
        "declined" => booking.status == BookingStatus::Declined,
        _ => false,
    }
}

fn date_field(name: &str, raw: Option<&str>, default: Date) -> Result<Date, FieldError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<Date>()
            .map_err(|_| FieldError::new(name, "invalid_date", "Use a date such as 2026-03-02.")),
    }
}

/// `GET /app/appointments?status=&from=&to=`.
pub async fn list(State(state): State<AppState>, staff: Staff, Query(query): Query<ListQuery>) -> PageResult {
    let notice = notice_text(query.notice.as_deref());
    let filters = FormData::from_pairs([
        ("status", query.status.unwrap_or_default()),
        ("from", query.from.unwrap_or_default()),
        ("to", query.to.unwrap_or_default()),
    ]);
    list_page(&state, staff, &filters, notice, None, StatusCode::OK).await
}

/// The list for the filters in `filters` (`status`, `from`, `to`), with a
/// refused reschedule beside its field when there is one.
pub(super) async fn list_page(
    state: &AppState,
    staff: Staff,
    filters: &FormData,
    notice: Option<&'static str>,
    refused: Option<RefusedStart>,
    page_status: StatusCode,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let zone_name = staff.time_zone.clone();
    let zone = TimeZone::get(&zone_name).unwrap_or(TimeZone::UTC);
    let now = state.clock.now();
    let today = now.to_zoned(zone.clone()).date();
    let status = filters.text("status");
    let mut errors = Vec::new();
    if !STATUSES.iter().any(|(value, _)| *value == status) {
        errors.push(FieldError::new(
            "status",
            "unknown_status",
            "Choose one of the listed statuses.",
        ));
    }
    let from = date_field("from", filters.optional("from").as_deref(), today);
    let from_date = from.as_ref().copied().unwrap_or(today);
    let to = date_field(
        "to",
        filters.optional("to").as_deref(),
        plus_days(from_date, DEFAULT_DAYS),
    );
    let (from, to) = match (from, to) {
        (Ok(from), Ok(to)) if errors.is_empty() => (from, to),
        (from, to) => {
            errors.extend(from.err());
            errors.extend(to.err());
            return Err(PageError(ApiError::Validation(errors)));
        }
    };
    // The end date is included: the service's range ends before `to`.
    let (from_text, to_text) = (from.to_string(), plus_days(to, 1).to_string());
    let bookings = bookings::list_for_host(
        state,
        &caller,
        None,
        ListRange {
            from: &from_text,
            to: &to_text,
            tz: Some(&zone_name),
        },
    )
    .await?;
    let rows = bookings
        .iter()
        .filter(|b| has_status(b, &status))
        .map(|b| {
            let mut shown = appointment(b, &zone, now);
            RefusedStart::mark(refused.as_ref(), &mut shown);
            shown
        })
        .collect();
    let staff = staff.in_section("calendar");
    Ok(render(
        page_status,
        &ListPage {
            title: "Appointments",
            chrome: Some(staff.chrome),
            notice,
            zone: zone_name,
            status,
            from: from.to_string(),
            to: to.to_string(),
            rows,
            statuses: STATUSES,
        },
    ))
}
