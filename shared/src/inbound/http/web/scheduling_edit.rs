//! The editors of one schedule (weekly hours with several intervals a day,
//! date overrides, time zone, name) and of one event type (every setting
//! `PATCH /event-types/{id}` takes: title, link name, description,
//! durations and the default one, location, schedule, buffers before and
//! after, minimum notice, booking window, slot interval, daily and weekly
//! limits, seats, confirmation, questions, reminders, whether it takes
//! bookings). Each form shows what is stored and sends all of it back as
//! the API's merge patch; a refused form comes back with the errors at its
//! fields. Members edit their own, admins anyone's, as the API.

use crate::domain::ids::{EventTypeId, UserId};
use askama::Template;
use axum::extract::{Path, State};
use http::StatusCode;
use serde_json::{Value, json};

use super::contact_booking::host_names;
use super::scheduling::{WEEKDAYS, event_field, number, schedule_body, schedule_field};
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::problem::{ApiError, FieldError};
use crate::inbound::http::scheduling::caller;
use crate::services::orgs;
use crate::services::scheduling::Caller;
use crate::services::scheduling::event_types::{self, EventTypeRecord};
use crate::services::scheduling::schedules::{self, ScheduleView};

/// Form pairs as a [`FormData`], the way a posted form arrives.
fn form_of(pairs: &[(&str, String)]) -> FormData {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    FormData::parse(encoded.as_bytes())
}

/// Intervals as the form writes them: "09:00-12:30, 13:30-17:00".
fn intervals_field(intervals: &Value) -> String {
    intervals
        .as_array()
        .map(|list| {
            list.iter()
                .map(|i| {
                    format!(
                        "{}-{}",
                        i["start"].as_str().unwrap_or_default(),
                        i["end"].as_str().unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn schedule_form(view: &ScheduleView) -> FormData {
    let weekly = serde_json::to_value(&view.weekly).unwrap_or(Value::Null);
    let overrides = serde_json::to_value(&view.overrides).unwrap_or(Value::Null);
    let override_lines: Vec<String> = overrides
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(date, day)| match day["kind"].as_str() {
                    Some("hours") => format!("{date}: {}", intervals_field(&day["intervals"])),
                    _ => format!("{date}: closed"),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut pairs = vec![
        ("name", view.name.clone()),
        ("time_zone", view.time_zone.clone()),
        ("overrides", override_lines.join("\n")),
    ];
    for day in WEEKDAYS {
        pairs.push((day, intervals_field(&weekly[day])));
    }
    form_of(&pairs)
}

#[derive(Template)]
#[template(path = "staff/schedule_edit.html")]
struct SchedulePage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    id: String,
    name: String,
    /// Titles of the event types on this schedule: it cannot be deleted
    /// while there are any.
    in_use: Vec<String>,
    /// Whether the member may change it (its owner, or an admin): no one
    /// else is offered the save and delete buttons.
    can_change: bool,
    errors: FieldErrors,
    form: FormData,
    weekdays: [&'static str; 7],
}

fn schedule_page(
    staff: Staff,
    view: &ScheduleView,
    in_use: Vec<String>,
    errors: FieldErrors,
    form: FormData,
) -> SchedulePage {
    let can_change = staff.chrome.is_admin || view.owner_user_id == staff.auth.user_id;
    let staff = staff.in_section("scheduling");
    SchedulePage {
        title: format!("Edit {}", view.name),
        chrome: Some(staff.chrome),
        notice: None,
        id: view.id.clone(),
        name: view.name.clone(),
        in_use,
        can_change,
        errors,
        form,
        weekdays: WEEKDAYS,
    }
}

/// `GET /app/schedules/{id}`.
pub async fn schedule_editor(State(state): State<AppState>, staff: Staff, Path(id): Path<String>) -> PageResult {
    let caller = caller(&staff.auth)?;
    let view = schedules::get(&state, &caller, &id).await?;
    let form = schedule_form(&view);
    let in_use = event_types_on(&state, &caller, &id).await?;
    Ok(render(
        StatusCode::OK,
        &schedule_page(staff, &view, in_use, FieldErrors::default(), form),
    ))
}

/// Titles of the event types that book on schedule `id`.
async fn event_types_on(state: &AppState, caller: &Caller, id: &str) -> Result<Vec<String>, PageError> {
    Ok(event_types::list(state, caller)
        .await?
        .into_iter()
        .filter(|e| e.schedule_id == id)
        .map(|e| e.title)
        .collect())
}

/// `POST /app/schedules/{id}/delete`: the confirmed delete. A schedule
/// event types still book on is refused, and its editor says which.
pub async fn delete_schedule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm { staff, .. }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    match schedules::delete(&state, &caller, &id).await.map_err(ApiError::from) {
        Ok(()) => Ok(see_other("/app/scheduling?notice=schedule-deleted")),
        Err(ApiError::Conflict {
            code: "schedule_in_use",
            ..
        }) => {
            let view = schedules::get(&state, &caller, &id).await?;
            let in_use = event_types_on(&state, &caller, &id).await?;
            let message = format!(
                "{} cannot be deleted: {} book{} on it. Choose another schedule for {} first, or delete {}.",
                view.name,
                in_use.join(", "),
                if in_use.len() == 1 { "s" } else { "" },
                if in_use.len() == 1 { "it" } else { "them" },
                if in_use.len() == 1 { "it" } else { "them" },
            );
            let errors = FieldErrors::from_api(
                &ApiError::Conflict {
                    code: "schedule_in_use",
                    detail: message,
                },
                |field| field,
            );
            let form = schedule_form(&view);
            Ok(render(
                StatusCode::CONFLICT,
                &schedule_page(staff, &view, in_use, errors, form),
            ))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `POST /app/event-types/{id}/delete`: the confirmed delete, as the API's
/// (the link stops taking bookings; bookings made stay, and can still be
/// cancelled).
pub async fn delete_event_type(
    State(state): State<AppState>,
    Path(id): Path<EventTypeId>,
    StaffForm { staff, .. }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    event_types::delete(&state, &caller, &id).await?;
    Ok(see_other("/app/scheduling?notice=event-type-deleted"))
}

/// `POST /app/schedules/{id}`: the whole schedule as the API's patch (each
/// top-level field replaced, so a date override no longer listed is gone).
pub async fn save_schedule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let current = schedules::get(&state, &caller, &id).await?;
    let saved = match schedule_body(&form) {
        Ok(body) => schedules::update(&state, &caller, &id, body)
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match saved {
        Ok(()) => Ok(see_other("/app/scheduling?notice=schedule-saved")),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api_owned(&err, schedule_field);
            let in_use = event_types_on(&state, &caller, &id).await?;
            Ok(render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &schedule_page(staff, &current, in_use, errors, form),
            ))
        }
        Err(other) => Err(PageError(other)),
    }
}

#[derive(Template)]
#[template(path = "staff/event_type_edit.html")]
struct EventTypePage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    id: String,
    link: String,
    errors: FieldErrors,
    form: FormData,
    /// (id, name) of the schedules to choose from.
    schedules: Vec<(String, String)>,
    /// (user id, name) of the members who may host it: every member for an
    /// admin, none for a member (who hosts only their own, so sees no
    /// choice).
    hosts: Vec<(String, String)>,
    /// Who hosts it now, by name.
    host_name: String,
    /// Whether the member may change it (its host, or an admin): no one
    /// else is offered the save and delete buttons.
    can_change: bool,
}

const LOCATION_KINDS: [(&str, &str); 4] = [
    ("", "Not said"),
    ("in_person", "In person"),
    ("phone", "By phone"),
    ("video", "Video call"),
];

const QUESTION_HELP: &str = "One per line: key | question | type | required or optional | choices separated by ; (types: short_text, long_text, select, multi_select, checkbox, number, phone).";

fn event_form(record: &EventTypeRecord) -> FormData {
    let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let location = serde_json::to_value(&record.location).unwrap_or(Value::Null);
    let window = serde_json::to_value(record.window).unwrap_or(Value::Null);
    let questions: Vec<String> = record
        .questions
        .iter()
        .map(|q| {
            let kind = serde_json::to_value(q.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let required = if q.required { "required" } else { "optional" };
            format!(
                "{} | {} | {kind} | {required} | {}",
                q.id,
                q.label,
                q.options.join("; ")
            )
        })
        .collect();
    let reminders: Vec<String> = record
        .reminders
        .iter()
        .map(|r| {
            let channels: Vec<String> = r
                .channels
                .iter()
                .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_string))
                .collect();
            format!("{}: {}", r.offset_minutes, channels.join(", "))
        })
        .collect();
    let detail = ["address", "number", "url"]
        .iter()
        .find_map(|k| location[*k].as_str())
        .unwrap_or_default()
        .to_string();
    form_of(&[
        ("title", record.title.clone()),
        ("slug", record.slug.clone()),
        ("description", record.description.clone()),
        (
            "durations",
            record
                .durations
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("default_duration", record.default_duration.to_string()),
        (
            "location_kind",
            location["kind"].as_str().unwrap_or_default().to_string(),
        ),
        ("location_detail", detail),
        ("schedule_id", record.schedule_id.clone()),
        ("host_user_id", record.host_user_id.to_string()),
        ("buffer_before", record.buffer_before.to_string()),
        ("buffer_after", record.buffer_after.to_string()),
        ("minimum_notice", record.minimum_notice.to_string()),
        ("window_kind", window["kind"].as_str().unwrap_or("rolling").to_string()),
        (
            "window_days",
            window["days"].as_u64().map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("window_start", window["start"].as_str().unwrap_or_default().to_string()),
        ("window_end", window["end"].as_str().unwrap_or_default().to_string()),
        ("slot_interval", number(record.slot_interval)),
        ("daily_limit", number(record.daily_limit)),
        ("weekly_limit", number(record.weekly_limit)),
        ("seats", record.seats.to_string()),
        ("requires_confirmation", record.requires_confirmation.to_string()),
        ("active", record.active.to_string()),
        ("questions", questions.join("\n")),
        ("reminders", reminders.join("\n")),
    ])
}

/// "1440: email, sms" lines → the API's reminder plan; a line that is not
/// minutes and channels is refused at the field.
fn reminder_plan(raw: &str) -> Result<Vec<Value>, FieldError> {
    raw.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (minutes, channels) = line.split_once(':').unwrap_or((line, "email"));
            let minutes = minutes.trim().parse::<u32>().map_err(|_| {
                FieldError::new(
                    "reminders",
                    "invalid_reminder",
                    "Use lines such as 1440: email, sms (minutes before: channels).",
                )
            })?;
            let channels: Vec<String> = channels
                .split(',')
                .map(|c| c.trim().to_lowercase())
                .filter(|c| !c.is_empty())
                .collect();
            Ok(json!({"offset_minutes": minutes, "channels": channels}))
        })
        .collect()
}

/// "key | question | type | required | a; b" lines → the API's questions.
fn question_list(raw: &str) -> Vec<Value> {
    raw.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let part = |i: usize| parts.get(i).copied().unwrap_or_default();
            let options: Vec<&str> = part(4).split(';').map(str::trim).filter(|o| !o.is_empty()).collect();
            json!({
                "id": part(0),
                "label": part(1),
                "type": if part(2).is_empty() { "short_text" } else { part(2) },
                "required": part(3).eq_ignore_ascii_case("required"),
                "options": options,
            })
        })
        .collect()
}

/// The event type form as the API's full body (a merge patch that sets
/// every setting); numbers that are no numbers are refused at their field.
fn event_body(form: &FormData) -> Result<Value, ApiError> {
    let mut errors = Vec::new();
    let mut whole = |name: &str| -> Value {
        let value = number(form, name);
        if value.is_string() {
            errors.push(FieldError::new(name, "invalid_number", "Use a whole number."));
        }
        value
    };
    let durations: Vec<Value> = form
        .text("durations")
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<u32>().map(Value::from).unwrap_or(Value::Null))
        .collect();
    let numbers: Vec<(&str, Value)> = [
        "default_duration",
        "buffer_before",
        "buffer_after",
        "minimum_notice",
        "slot_interval",
        "daily_limit",
        "weekly_limit",
        "seats",
        "window_days",
    ]
    .into_iter()
    .map(|name| (name, whole(name)))
    .collect();
    if durations.iter().any(Value::is_null) {
        errors.push(FieldError::new(
            "durations",
            "invalid_number",
            "Use whole numbers of minutes, separated by commas.",
        ));
    }
    let reminders = match reminder_plan(&form.text("reminders")) {
        Ok(plan) => plan,
        Err(err) => {
            errors.push(err);
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let value = |name: &str| {
        numbers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let zero_when_blank = |name: &str| {
        let v = value(name);
        if v.is_null() { json!(0) } else { v }
    };
    let detail = form.text("location_detail");
    // Only an admin's form has the host picker; without it the host stays.
    let host = form.optional("host_user_id");
    let location = match form.text("location_kind").as_str() {
        "in_person" => json!({"kind": "in_person", "address": detail}),
        "phone" => json!({"kind": "phone", "number": form.optional("location_detail")}),
        "video" => json!({"kind": "video", "url": detail}),
        _ => Value::Null,
    };
    let window = if form.text("window_kind") == "date_range" {
        json!({"kind": "date_range", "start": form.text("window_start"), "end": form.text("window_end")})
    } else {
        // Blank: the API's default window of 60 days.
        let days = value("window_days");
        json!({"kind": "rolling", "days": if days.is_null() { json!(60) } else { days }})
    };
    let mut body = json!({
        "title": form.text("title"),
        "slug": form.optional("slug"),
        "description": form.text("description"),
        "durations": durations,
        "default_duration": value("default_duration"),
        "location": location,
        "schedule_id": form.text("schedule_id"),
        "buffer_before": zero_when_blank("buffer_before"),
        "buffer_after": zero_when_blank("buffer_after"),
        "minimum_notice": zero_when_blank("minimum_notice"),
        "window": window,
        "slot_interval": value("slot_interval"),
        "daily_limit": value("daily_limit"),
        "weekly_limit": value("weekly_limit"),
        "seats": if value("seats").is_null() { json!(1) } else { value("seats") },
        "requires_confirmation": form.text("requires_confirmation") == "true",
        "active": form.text("active") == "true",
        "questions": question_list(&form.text("questions")),
        "reminders": reminders,
    });
    if let Some(host) = host {
        body["host_user_id"] = json!(host);
    }
    Ok(body)
}

/// The API's name of an event type field in the editor's terms.
fn editor_field(api_field: &str) -> String {
    let field = event_field(api_field);
    for (prefix, name) in [
        ("window.days", "window_days"),
        ("window.start", "window_start"),
        ("window.end", "window_end"),
        ("window", "window_days"),
        ("questions", "questions"),
        ("reminders", "reminders"),
        ("body", "title"),
    ] {
        if field.starts_with(prefix) {
            return name.into();
        }
    }
    field
}

async fn event_page(
    state: &AppState,
    staff: Staff,
    record: &EventTypeRecord,
    errors: FieldErrors,
    form: FormData,
) -> Result<EventTypePage, PageError> {
    let caller = caller(&staff.auth)?;
    let org = orgs::org(state, &caller.org_id).await?;
    let members = host_names(state, &caller.org_id).await?;
    let name_of = |user: &UserId| {
        members
            .iter()
            .find(|(id, _)| id == user)
            .map(|(_, name)| name.clone())
            .unwrap_or_default()
    };
    let is_admin = staff.chrome.is_admin;
    // An admin sees whose each schedule is: the host's own must be chosen.
    let schedules = schedules::list(state, &caller)
        .await?
        .into_iter()
        .map(|s| {
            let label = if is_admin {
                format!("{} ({})", s.name, name_of(&s.owner_user_id))
            } else {
                s.name
            };
            (s.id, label)
        })
        .collect();
    let hosts = if is_admin {
        members
            .iter()
            .map(|(id, name)| (id.to_string(), name.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let host_name = name_of(&record.host_user_id);
    let can_change = is_admin || record.host_user_id == staff.auth.user_id;
    let base = state.config.public_url.trim_end_matches('/');
    let staff = staff.in_section("scheduling");
    Ok(EventTypePage {
        title: format!("Edit {}", record.title),
        chrome: Some(staff.chrome),
        notice: None,
        id: record.id.to_string(),
        link: format!("{base}/book/{}/{}", org.slug, record.slug),
        errors,
        form,
        schedules,
        hosts,
        host_name,
        can_change,
    })
}

impl EventTypePage {
    fn location_kinds(&self) -> [(&'static str, &'static str); 4] {
        LOCATION_KINDS
    }

    fn question_help(&self) -> &'static str {
        QUESTION_HELP
    }
}

/// `GET /app/event-types/{id}`.
pub async fn event_type_editor(State(state): State<AppState>, staff: Staff, Path(id): Path<EventTypeId>) -> PageResult {
    let caller = caller(&staff.auth)?;
    let record = event_types::get_record(state.table.as_ref(), &caller.org_id, &id).await?;
    let form = event_form(&record);
    let page = event_page(&state, staff, &record, FieldErrors::default(), form).await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/event-types/{id}`.
pub async fn save_event_type(
    State(state): State<AppState>,
    Path(id): Path<EventTypeId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let record = event_types::get_record(state.table.as_ref(), &caller.org_id, &id).await?;
    let saved = match event_body(&form) {
        Ok(body) => event_types::update(&state, &caller, &id, body)
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match saved {
        Ok(()) => Ok(see_other("/app/scheduling?notice=event-type-saved")),
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api_owned(&err, editor_field);
            let page = event_page(&state, staff, &record, errors, form).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::scheduling::intervals;
    use super::*;

    #[test]
    fn reminders_and_questions_read_from_lines() {
        assert_eq!(
            reminder_plan("1440: email, SMS\n60").unwrap(),
            vec![
                json!({"offset_minutes": 1440, "channels": ["email", "sms"]}),
                json!({"offset_minutes": 60, "channels": ["email"]})
            ]
        );
        assert!(reminder_plan("tomorrow: email").is_err());
        assert_eq!(
            question_list("reason | What is it about? | select | required | Back; Knee")[0],
            json!({"id": "reason", "label": "What is it about?", "type": "select", "required": true, "options": ["Back", "Knee"]})
        );
    }

    #[test]
    fn intervals_are_written_as_the_form_reads_them() {
        let written = intervals_field(&intervals("09:00-12:30, 13:30-17:00"));
        assert_eq!(written, "09:00-12:30, 13:30-17:00");
        assert_eq!(intervals(&written), intervals("09:00-12:30, 13:30-17:00"));
    }
}
