//! Booking an appointment on a contact's behalf, from their record: pick
//! one of the organization's event types (each names its host), then one
//! of its free times of a week, listed by the same slots computation as
//! the public booking page and shown in the member's time zone; the
//! booking is the contact's, made by the same service as a public booking
//! (the host's calendar guard, reminders, the confirmation email). A time
//! taken meanwhile comes back with the reason beside the times.

use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use super::calendar::plus_days;
use super::{Chrome, FieldErrors, PageError, PageResult, Staff, StaffForm, render, see_other};
use crate::domain::ids::{ContactId, EventTypeId, UserId};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::scheduling::caller;
use crate::services::contacts;
use crate::services::orgs;
use crate::services::scheduling::bookings::{self, ContactBooking, SlotsQuery};
use crate::services::scheduling::event_types;

/// Days of free times one page shows.
const DAYS_SHOWN: i64 = 7;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ContactBookPageQuery")]
pub struct BookQuery {
    #[serde(default)]
    event_type: Option<String>,
    /// The first day shown, `YYYY-MM-DD` in the member's zone; today when absent.
    #[serde(default)]
    from: Option<String>,
}

/// A free time: the start as the form sends it and as the member reads it.
pub struct FreeTime {
    pub start: String,
    pub time: String,
}

pub struct FreeDay {
    pub label: String,
    pub times: Vec<FreeTime>,
}

#[derive(Template)]
#[template(path = "staff/contact_book.html")]
struct BookPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    contact_id: ContactId,
    contact_name: String,
    contact_email: String,
    /// (id, "Title · 30 min · with Dana") of every event type taking bookings.
    events: Vec<(String, String)>,
    chosen: String,
    zone: String,
    from: String,
    previous: Option<String>,
    next: String,
    days: Vec<FreeDay>,
    errors: FieldErrors,
    /// The start sent by a refused booking, checked again in the list.
    picked: String,
}

/// `GET /app/contacts/{id}/book?event_type=&from=`.
pub async fn book_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<ContactId>,
    Query(query): Query<BookQuery>,
) -> PageResult {
    let choice = Choice {
        event_type: query.event_type.unwrap_or_default(),
        from: query.from.unwrap_or_default(),
        picked: String::new(),
    };
    let page = book_page(&state, staff, &id, choice, FieldErrors::default()).await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/contacts/{id}/book`: books the chosen time for the contact
/// and returns to the record, or shows the times again with the reason.
pub async fn book(
    State(state): State<AppState>,
    Path(id): Path<ContactId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let event_type = form.text("event_type");
    let request = ContactBooking {
        event_type_id: EventTypeId::from(event_type.clone()),
        start: form.text("start"),
        duration: None,
    };
    match bookings::book_for_contact(&state, &caller, &id, request)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(see_other(&format!("/app/contacts/{id}?notice=appointment-booked"))),
        Err(err @ (ApiError::Validation(_) | ApiError::Conflict { code: "slot_taken", .. })) => {
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            // A time taken meanwhile is said beside the times, like a malformed one.
            let err = match err {
                ApiError::Conflict { code, detail } => ApiError::field("start", code, &detail),
                other => other,
            };
            let errors = FieldErrors::from_api(&err, |field| match field {
                "start" | "duration" => "start",
                // The contact as the booking's invitee: said for the whole form.
                _ => "",
            });
            let choice = Choice {
                event_type,
                from: form.text("from"),
                picked: form.text("start"),
            };
            let page = book_page(&state, staff, &id, choice, errors).await?;
            Ok(render(status, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// What the member chose so far.
struct Choice {
    event_type: String,
    from: String,
    picked: String,
}

async fn book_page(
    state: &AppState,
    staff: Staff,
    id: &ContactId,
    choice: Choice,
    errors: FieldErrors,
) -> Result<BookPage, PageError> {
    let caller = caller(&staff.auth)?;
    let contact = contacts::get(state.table.as_ref(), &caller.org_id, id).await?;
    let zone_name = staff.time_zone.clone();
    let zone = TimeZone::get(&zone_name).unwrap_or(TimeZone::UTC);
    let today = state.clock.now().to_zoned(zone.clone()).date();
    let from = match choice.from.trim() {
        "" => today,
        raw => raw.parse::<Date>().map_err(|_| {
            PageError(ApiError::field(
                "from",
                "invalid_date",
                "Use a date such as 2026-03-02.",
            ))
        })?,
    };
    let hosts = host_names(state, &caller.org_id).await?;
    let mut events: Vec<(String, String)> = event_types::list(state, &caller)
        .await?
        .into_iter()
        .filter(|e| e.active)
        .map(|e| {
            let host = hosts
                .iter()
                .find(|(user, _)| *user == e.host_user_id)
                .map(|(_, name)| format!(" · with {name}"))
                .unwrap_or_default();
            (
                e.id.to_string(),
                format!("{} · {} min{host}", e.title, e.default_duration),
            )
        })
        .collect();
    events.sort_by(|a, b| a.1.cmp(&b.1));
    // One event type needs no choosing; otherwise the member's pick.
    let chosen = if events.len() == 1 && choice.event_type.is_empty() {
        events[0].0.clone()
    } else {
        choice.event_type.clone()
    };
    let mut days = Vec::new();
    if !chosen.is_empty() {
        let slots = bookings::member_slots(
            state,
            &caller,
            &EventTypeId::from(chosen.clone()),
            SlotsQuery {
                from: Some(from.to_string()),
                to: Some(plus_days(from, DAYS_SHOWN - 1).to_string()),
                tz: Some(zone_name.clone()),
                duration: None,
            },
        )
        .await?;
        days = slots
            .days
            .into_iter()
            .filter(|day| !day.slots.is_empty())
            .map(|day| FreeDay {
                label: day.date.strftime("%A %-d %B").to_string(),
                times: day
                    .slots
                    .into_iter()
                    .map(|slot| FreeTime {
                        start: slot.start.to_string(),
                        time: slot.time,
                    })
                    .collect(),
            })
            .collect();
    }
    let name = contact.display_name();
    let email = contact.primary_email().unwrap_or_default().to_string();
    let staff = staff.in_section("contacts");
    Ok(BookPage {
        title: format!("Book an appointment for {name}"),
        chrome: Some(staff.chrome),
        notice: None,
        contact_id: id.clone(),
        contact_name: name,
        contact_email: email,
        events,
        chosen,
        zone: zone_name,
        from: from.to_string(),
        previous: (from > today).then(|| plus_days(from, -DAYS_SHOWN).max(today).to_string()),
        next: plus_days(from, DAYS_SHOWN).to_string(),
        days,
        errors,
        picked: choice.picked,
    })
}

/// (user id, name) of the organization's members, to say who hosts what.
pub(super) async fn host_names(
    state: &AppState,
    org_id: &crate::domain::ids::OrgId,
) -> Result<Vec<(UserId, String)>, PageError> {
    let mut names = Vec::new();
    let mut cursor = None;
    loop {
        let (members, next) = orgs::list_members(state, org_id, 100, cursor).await?;
        names.extend(members.into_iter().map(|m| (m.user_id, m.name)));
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(names),
        }
    }
}

impl BookPage {
    fn has_email(&self) -> bool {
        !self.contact_email.is_empty()
    }
}
