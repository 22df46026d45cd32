//! Session routes of appointment scheduling: schedules, event types and the
//! host's appointments. Thin: parse, call `services::scheduling`, map.

use crate::domain::ids::BookingId;
use crate::domain::ids::EventTypeId;
use crate::domain::ids::UserId;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::extract::{ApiJson, query};
use super::problem::{ApiError, FieldError};
use super::session::Authenticated;
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::services::scheduling::Caller;
use crate::services::scheduling::bookings::{self, Manager};
use crate::services::scheduling::event_types::{self, EventTypeInput};
use crate::services::scheduling::schedules::{self, ScheduleInput};

pub fn caller(auth: &Authenticated) -> Result<Caller, ApiError> {
    auth.require(Permission::UseCrm)?;
    Ok(Caller {
        user_id: auth.user_id.clone(),
        org_id: auth.org_id.clone(),
        role: auth.role,
        actor: auth.actor.clone(),
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|err| ApiError::Internal(err.to_string()))
}

fn created<T: serde::Serialize>(value: &T) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(to_json(value)?)).into_response())
}

/// A JSON body that may be absent (empty) or an object.
pub(super) fn optional_body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|err| {
        if err.is_syntax() || err.is_eof() {
            ApiError::BadRequest {
                code: "malformed_json",
                field: Some("body".into()),
                detail: "The body is not valid JSON.".into(),
            }
        } else {
            ApiError::Validation(vec![FieldError::new("body", "invalid", err.to_string())])
        }
    })
}

/// A list answer, `{"items": [...]}`: a type, so the document's schema is the one served.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(rename = "{T}List")]
pub struct Items<T> {
    pub items: Vec<T>,
}

// ------------------------------------------------------------------ schedules

pub async fn schedules_list(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let items = schedules::list(&state, &caller).await?;
    Ok::<_, ApiError>(Json(Items { items }))
}

pub async fn schedules_create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<ScheduleInput>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    created(&schedules::create(&state, &caller, body).await?)
}

pub async fn schedule_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    Ok::<_, ApiError>(Json(to_json(&schedules::get(&state, &caller, &id).await?)?))
}

pub async fn schedule_update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    Ok::<_, ApiError>(Json(to_json(&schedules::update(&state, &caller, &id, body).await?)?))
}

pub async fn schedule_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    schedules::delete(&state, &caller, &id).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- event types

pub async fn event_types_list(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let items = event_types::list(&state, &caller).await?;
    Ok::<_, ApiError>(Json(Items { items }))
}

pub async fn event_types_create(
    State(state): State<AppState>,
    auth: Authenticated,
    ApiJson(body): ApiJson<EventTypeInput>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    created(&event_types::create(&state, &caller, body).await?)
}

pub async fn event_type_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<EventTypeId>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let record = event_types::get_record(state.table.as_ref(), &caller.org_id, &id).await?;
    Ok::<_, ApiError>(Json(to_json(&record)?))
}

pub async fn event_type_update(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<EventTypeId>,
    ApiJson(body): ApiJson<Value>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    Ok::<_, ApiError>(Json(to_json(&event_types::update(&state, &caller, &id, body).await?)?))
}

pub async fn event_type_delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<EventTypeId>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    event_types::delete(&state, &caller, &id).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}

// --------------------------------------------------------------- appointments

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "AppointmentsQuery")]
pub struct ListQuery {
    /// An RFC 3339 instant, or a date (from the start of that day) in `tz`.
    from: String,
    /// An RFC 3339 instant, or a date (through the end of that day) in `tz`.
    to: String,
    /// IANA zone of plain dates (default: the organization's).
    #[serde(default)]
    tz: Option<String>,
    /// Another member's calendar (default: the caller's own).
    #[serde(default)]
    host: Option<String>,
}

pub async fn appointments_list(
    State(state): State<AppState>,
    auth: Authenticated,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let q = query(q)?;
    let range = bookings::ListRange {
        from: &q.from,
        to: &q.to,
        tz: q.tz.as_deref(),
    };
    let host = q.host.map(UserId::from);
    let items = bookings::list_for_host(&state, &caller, host.as_ref(), range).await?;
    Ok::<_, ApiError>(Json(Items { items }))
}

pub async fn appointment_get(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<BookingId>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    Ok::<_, ApiError>(Json(to_json(&bookings::get_for_host(&state, &caller, &id).await?)?))
}

/// An optional body (absent or empty is no reason).
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AppointmentRescheduleBody")]
pub struct RescheduleBody {
    /// The new RFC 3339 start, one the event type offers.
    #[serde(default)]
    start: String,
}

pub async fn appointment_cancel(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<BookingId>,
    body: Bytes,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let body: ReasonBody = optional_body(&body)?;
    let org_id = caller.org_id.clone();
    let view = bookings::cancel(&state, &org_id, &id, body.reason, Manager::Host(&caller)).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}

pub async fn appointment_reschedule(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<BookingId>,
    ApiJson(body): ApiJson<RescheduleBody>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let org_id = caller.org_id.clone();
    let view = bookings::reschedule(&state, &org_id, &id, &body.start, Manager::Host(&caller)).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}

pub async fn appointment_confirm(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<BookingId>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let view = bookings::decide(&state, &caller, &id, true, None).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}

pub async fn appointment_decline(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<BookingId>,
    body: Bytes,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let body: ReasonBody = optional_body(&body)?;
    let view = bookings::decide(&state, &caller, &id, false, body.reason).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}

pub async fn appointment_no_show(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<BookingId>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    let view = bookings::mark_no_show(&state, &caller, &id).await?;
    Ok::<_, ApiError>(Json(to_json(&view)?))
}
