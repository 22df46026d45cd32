//! Availability and booking pages: the member's schedules (weekly hours per
//! day, several intervals a day, date overrides, time zone) and event types
//! (title, link name, description, durations, schedule, location, notice,
//! buffer, daily limit, confirmation) with their public booking links, and
//! the forms that create them. The same services as `/schedules` and
//! `/event-types`; a refused form comes back with the errors at its fields.

use askama::Template;
use axum::extract::{Query, State};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::contacts::NoticeQuery;
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::problem::{ApiError, FieldError};
use crate::inbound::http::scheduling::caller;
use crate::services::orgs;
use crate::services::scheduling::{event_types, schedules};

pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

pub struct ScheduleRow {
    pub id: String,
    pub name: String,
    pub time_zone: String,
    /// (day, "09:00–12:30, 13:30–17:00" or "closed")
    pub hours: Vec<(String, String)>,
    pub overrides: usize,
}

pub struct EventRow {
    pub id: String,
    pub title: String,
    pub durations: String,
    pub link: String,
    pub active: bool,
    pub confirm: bool,
}

#[derive(Template)]
#[template(path = "staff/scheduling.html")]
struct SchedulingPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    schedules: Vec<ScheduleRow>,
    events: Vec<EventRow>,
    /// (id, name) for the event type form.
    schedule_choices: Vec<(String, String)>,
    errors: FieldErrors,
    form: FormData,
    /// Which form the errors and values belong to: "schedule" or "event".
    failed: &'static str,
    weekdays: [&'static str; 7],
    org_zone: String,
}

impl SchedulingPage {
    /// The value to show in a field of `which` form.
    fn value(&self, which: &str, field: &str) -> String {
        if self.failed == which {
            self.form.text(field)
        } else {
            String::new()
        }
    }

    /// The error of a field of `which` form.
    fn error(&self, which: &str, field: &str) -> Option<&str> {
        if self.failed == which {
            self.errors.get(field)
        } else {
            None
        }
    }
}

fn interval_text(intervals: &Value) -> String {
    let text: Vec<String> = intervals
        .as_array()
        .map(|list| {
            list.iter()
                .map(|i| {
                    format!(
                        "{}–{}",
                        i["start"].as_str().unwrap_or_default(),
                        i["end"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if text.is_empty() {
        "closed".into()
    } else {
        text.join(", ")
    }
}

async fn page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
    failed: &'static str,
) -> Result<SchedulingPage, PageError> {
    let caller = caller(&staff.auth)?;
    let org = orgs::org(state, &caller.org_id).await?;
    let schedule_views = schedules::list(state, &caller).await?;
    let events = event_types::list(state, &caller).await?;
    let base = state.config.public_url.trim_end_matches('/').to_string();
    let schedules: Vec<ScheduleRow> = schedule_views
        .iter()
        .map(|view| {
            let weekly = serde_json::to_value(&view.weekly).unwrap_or(Value::Null);
            ScheduleRow {
                id: view.id.clone(),
                name: view.name.clone(),
                time_zone: view.time_zone.clone(),
                hours: WEEKDAYS
                    .iter()
                    .map(|day| (capitalised(day), interval_text(&weekly[*day])))
                    .collect(),
                overrides: view.overrides.len(),
            }
        })
        .collect();
    let staff = staff.in_section("scheduling");
    Ok(SchedulingPage {
        title: "Scheduling",
        chrome: Some(staff.chrome),
        notice,
        schedule_choices: schedules.iter().map(|s| (s.id.clone(), s.name.clone())).collect(),
        schedules,
        events: events
            .iter()
            .map(|e| EventRow {
                id: e.id.to_string(),
                title: e.title.clone(),
                durations: e.durations.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
                link: format!("{base}/book/{}/{}", org.slug, e.slug),
                active: e.active,
                confirm: e.requires_confirmation,
            })
            .collect(),
        errors,
        form,
        failed,
        weekdays: WEEKDAYS,
        org_zone: org.time_zone,
    })
}

fn capitalised(day: &str) -> String {
    let mut chars = day.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `GET /app/scheduling`.
pub async fn scheduling(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    let page = page(
        &state,
        staff,
        notice_text(query.notice.as_deref()),
        FieldErrors::default(),
        FormData::default(),
        "",
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// "09:00-12:30, 13:30-17:00" → intervals; blank → none (closed). A piece
/// that is not `start-end` goes through as it is, for the service to refuse.
pub(super) fn intervals(raw: &str) -> Value {
    let list: Vec<Value> = raw
        .split(',')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let piece = piece.replace('–', "-");
            match piece.split_once('-') {
                Some((start, end)) => json!({"start": start.trim(), "end": end.trim()}),
                None => json!({"start": piece, "end": ""}),
            }
        })
        .collect();
    Value::Array(list)
}

/// Override lines "2026-12-25: closed" / "2026-12-24: 09:00-12:00".
pub(super) fn overrides(raw: &str) -> Map<String, Value> {
    raw.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (date, rest) = line.split_once(':').unwrap_or((line, ""));
            let rest = rest.trim();
            let value = if rest.is_empty() || rest.eq_ignore_ascii_case("closed") {
                json!({"kind": "unavailable"})
            } else {
                json!({"kind": "hours", "intervals": intervals(rest)})
            };
            (date.trim().to_string(), value)
        })
        .collect()
}

/// The API's name of a schedule field in the form's terms.
pub(super) fn schedule_field(api_field: &str) -> String {
    if let Some(rest) = api_field.strip_prefix("weekly.") {
        return rest.split(['[', '.']).next().unwrap_or(rest).to_string();
    }
    if api_field.starts_with("overrides") {
        return "overrides".into();
    }
    api_field.to_string()
}

/// The schedule form as the API's body (`name`, `time_zone`, `weekly`,
/// `overrides`); hours that are no times at all are refused here, each at
/// its own day, since the service could only name the whole body.
pub(super) fn schedule_body(form: &FormData) -> Result<Value, ApiError> {
    let weekly: Map<String, Value> = WEEKDAYS
        .iter()
        .map(|day| (day.to_string(), intervals(&form.text(day))))
        .collect();
    let body = json!({
        "name": form.text("name"),
        "time_zone": form.text("time_zone"),
        "weekly": weekly,
        "overrides": overrides(&form.text("overrides")),
    });
    let mut unreadable = Vec::new();
    for day in WEEKDAYS {
        let alone = json!({"weekly": {day: intervals(&form.text(day))}});
        if serde_json::from_value::<schedules::ScheduleInput>(alone).is_err() {
            unreadable.push(FieldError::new(
                day,
                "invalid_hours",
                "Use hours such as 09:00-12:30, 13:30-17:00.",
            ));
        }
    }
    let alone = json!({"overrides": overrides(&form.text("overrides"))});
    if serde_json::from_value::<schedules::ScheduleInput>(alone).is_err() {
        unreadable.push(FieldError::new(
            "overrides",
            "invalid_overrides",
            "Use lines such as 2026-12-25: closed or 2026-12-24: 09:00-12:00.",
        ));
    }
    if unreadable.is_empty() {
        Ok(body)
    } else {
        Err(ApiError::Validation(unreadable))
    }
}

/// `POST /app/schedules`.
pub async fn create_schedule(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let caller = caller(&staff.auth)?;
    let created = match schedule_body(&form).map(serde_json::from_value) {
        Ok(Ok(input)) => schedules::create(&state, &caller, input).await.map_err(ApiError::from),
        Ok(Err(_)) => Err(ApiError::field("name", "invalid", "The form could not be read.")),
        Err(err) => Err(err),
    };
    match created {
        Ok(_) => Ok(see_other("/app/scheduling?notice=schedule-created")),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api_owned(&err, schedule_field);
            let page = page(&state, staff, None, errors, form, "schedule").await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// The API's name of an event type field in the form's terms.
pub(super) fn event_field(api_field: &str) -> String {
    if api_field.starts_with("durations") || api_field == "default_duration" {
        return "durations".into();
    }
    if api_field.starts_with("location") {
        return "location_detail".into();
    }
    api_field.to_string()
}

pub(super) fn number(form: &FormData, name: &str) -> Value {
    match form.optional(name) {
        None => Value::Null,
        Some(raw) => raw.parse::<u32>().map(Value::from).unwrap_or(Value::String(raw)),
    }
}

/// `POST /app/event-types`.
pub async fn create_event_type(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    let caller = caller(&staff.auth)?;
    let durations: Vec<Value> = form
        .text("durations")
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<u32>()
                .map(Value::from)
                .unwrap_or(Value::String(d.to_string()))
        })
        .collect();
    let detail = form.text("location_detail");
    let location = match form.text("location_kind").as_str() {
        "in_person" => json!({"kind": "in_person", "address": detail}),
        "phone" => json!({"kind": "phone", "number": form.optional("location_detail")}),
        "video" => json!({"kind": "video", "url": detail}),
        _ => Value::Null,
    };
    let mut body = json!({
        "title": form.text("title"),
        "slug": form.optional("slug"),
        "description": form.text("description"),
        "durations": durations,
        "schedule_id": form.text("schedule_id"),
        "location": location,
        "requires_confirmation": form.text("requires_confirmation") == "true",
    });
    for name in ["minimum_notice", "buffer_after", "daily_limit"] {
        let value = number(&form, name);
        if !value.is_null() {
            body[name] = value;
        }
    }
    let created = match serde_json::from_value(body) {
        Ok(input) => event_types::create(&state, &caller, input)
            .await
            .map_err(ApiError::from),
        Err(_) => Err(ApiError::Validation(vec![FieldError::new(
            "durations",
            "invalid",
            "Use whole numbers of minutes, separated by commas; notice, buffer and limit are whole numbers too.",
        )])),
    };
    match created {
        Ok(_) => Ok(see_other("/app/scheduling?notice=event-type-created")),
        Err(err @ (ApiError::Validation(_) | ApiError::Conflict { .. })) => {
            let errors = match &err {
                ApiError::Conflict { detail, .. } => {
                    FieldErrors::from_api(&ApiError::field("slug", "taken", detail), |f| f)
                }
                other => FieldErrors::from_api_owned(other, event_field),
            };
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = page(&state, staff, None, errors, form, "event").await?;
            Ok(render(status, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_overrides_read_from_text() {
        assert_eq!(
            intervals("09:00-12:30, 13:30–17:00"),
            json!([{"start": "09:00", "end": "12:30"}, {"start": "13:30", "end": "17:00"}])
        );
        assert_eq!(intervals(" "), json!([]));
        let read = overrides("2026-12-25: closed\n2026-12-24: 09:00-12:00");
        assert_eq!(read["2026-12-25"], json!({"kind": "unavailable"}));
        assert_eq!(read["2026-12-24"]["intervals"][0]["end"], "12:00");
    }

    #[test]
    fn api_fields_map_to_the_forms_fields() {
        assert_eq!(schedule_field("weekly.monday[0].start"), "monday");
        assert_eq!(schedule_field("overrides.2026-12-25"), "overrides");
        assert_eq!(event_field("durations[1]"), "durations");
        assert_eq!(event_field("location.address"), "location_detail");
    }
}
