//! The actions of an appointment, posted from the week calendar or the
//! list (confirm, decline, cancel, no-show, reschedule): done through the
//! same services as `/appointments`, then back to the view they came from;
//! a refused reschedule is that view again with the reason beside the field.

use axum::extract::{Path, State};
use http::StatusCode;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use super::calendar::{RefusedStart, STATUSES, week_page};
use super::{FieldErrors, FormData, PageError, PageResult, StaffForm, see_other};
use crate::domain::ids::BookingId;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::inbound::http::scheduling::caller;
use crate::services::scheduling::bookings::{self, Manager};

/// The list's address for a posted action form's filters (each one checked,
/// so no words from the form reach the URL unchecked), ending in `&` or `?`.
pub fn list_url(form: &FormData) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let status = form.text("status");
    if STATUSES.iter().any(|(value, _)| *value == status && !value.is_empty()) {
        query.append_pair("status", &status);
    }
    for name in ["from", "to"] {
        if let Some(date) = form.optional(name).filter(|d| d.parse::<Date>().is_ok()) {
            query.append_pair(name, &date);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        "/app/appointments?".into()
    } else {
        format!("/app/appointments?{query}&")
    }
}

/// A `datetime-local` value in `zone` as an RFC 3339 time; anything else
/// goes to the service as it is, to be refused at its field.
fn start_in_zone(raw: &str, zone: &TimeZone) -> String {
    raw.trim()
        .parse::<DateTime>()
        .ok()
        .and_then(|local| local.to_zoned(zone.clone()).ok())
        .map(|zoned| zoned.timestamp().to_string())
        .unwrap_or_else(|| raw.to_string())
}

/// `POST /app/appointments/{id}`: one of the appointment's actions (`action`
/// = confirm, decline, cancel, no_show or reschedule), back to its week.
pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<BookingId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let org_id = caller.org_id.clone();
    let reason = form.optional("reason");
    let action = form.text("action");
    let notice = match action.as_str() {
        "confirm" => {
            bookings::decide(&state, &caller, &id, true, None).await?;
            "appointment-confirmed"
        }
        "decline" => {
            bookings::decide(&state, &caller, &id, false, reason).await?;
            "appointment-declined"
        }
        "cancel" => {
            bookings::cancel(&state, &org_id, &id, reason, Manager::Host(&caller)).await?;
            "appointment-cancelled"
        }
        "no_show" => {
            bookings::mark_no_show(&state, &caller, &id).await?;
            "appointment-no-show"
        }
        "reschedule" => {
            let zone = TimeZone::get(&staff.time_zone).unwrap_or(TimeZone::UTC);
            let typed = form.text("start");
            let start = start_in_zone(&typed, &zone);
            match bookings::reschedule(&state, &org_id, &id, &start, Manager::Host(&caller))
                .await
                .map_err(ApiError::from)
            {
                Ok(_) => "appointment-rescheduled",
                // A start that is malformed, not offered or just taken (or an
                // event type deleted since): the page again with the reason
                // beside the field.
                Err(
                    err @ (ApiError::Validation(_)
                    | ApiError::Conflict {
                        code: "slot_taken" | "event_type_gone",
                        ..
                    }),
                ) => {
                    let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                    let errors = FieldErrors::from_api(&err, |_| "start");
                    let message = errors.all().first().map(|(_, m)| m.clone()).unwrap_or_default();
                    let refused = RefusedStart {
                        id: id.clone(),
                        start: typed,
                        message,
                    };
                    if form.text("view") == "list" {
                        return super::appointments::list_page(&state, staff, &form, None, Some(refused), status).await;
                    }
                    let week = form.optional("week");
                    return week_page(&state, staff, week.as_deref(), None, Some(refused), status).await;
                }
                Err(other) => return Err(PageError(other)),
            }
        }
        _ => {
            return Err(PageError(ApiError::field(
                "action",
                "unknown_action",
                "Choose confirm, decline, cancel, no_show or reschedule.",
            )));
        }
    };
    if form.text("view") == "list" {
        return Ok(see_other(&format!("{}notice={notice}", list_url(&form))));
    }
    let week = form
        .optional("week")
        .filter(|w| w.parse::<Date>().is_ok())
        .map(|w| format!("week={w}&"))
        .unwrap_or_default();
    Ok(see_other(&format!("/app/calendar?{week}notice={notice}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_to_the_list_keeps_only_known_filters() {
        let form = FormData::parse(b"view=list&status=confirmed&from=2026-03-01&to=soon");
        assert_eq!(list_url(&form), "/app/appointments?status=confirmed&from=2026-03-01&");
        let form = FormData::parse(b"status=%3Cscript%3E");
        assert_eq!(list_url(&form), "/app/appointments?");
    }

    #[test]
    fn a_local_start_is_read_in_the_organizations_zone() {
        let london = TimeZone::get("Europe/London").unwrap();
        assert_eq!(start_in_zone("2026-07-01T09:30", &london), "2026-07-01T08:30:00Z");
        assert_eq!(start_in_zone("soon", &london), "soon");
    }
}
