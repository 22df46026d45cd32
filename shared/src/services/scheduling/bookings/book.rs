//! Booking from the public page: the request validated against the event
//! (notice, window, questions, daily limit), then one transaction.

use crate::domain::ids::BookingId;
use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::ports::busy::BusyTimes;
use crate::services::google::calendar::CalendarReach;
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::calendar::bump_calendar;
use super::calendar::exhausted;
use super::calendar::host_calendar;
use super::calendar::rejection;
use super::calendar::should_retry;
use super::google_event;
use super::public::Context;
use super::public::Pointer;
use super::public::load;
use super::public::public_context;
use super::public::zone;
use super::{
    BookingChange, BookingRecord, BookingStatus, Invitee, MAX_ATTEMPTS, NewBooking, StoredKey, busy_source, contact,
    notify,
};
use crate::domain::email::Email;
use crate::domain::input::FieldError;
use crate::domain::phone::Phone;
use crate::domain::slots::{Booked, SlotInputs, SlotRejection, is_bookable, lookup_range};
use crate::domain::token::token_hash;
use crate::ports::HasConfig;
use crate::ports::{Condition, WriteOp};
use crate::services::audit::{self, Actor};
use crate::services::contacts;
use crate::services::records::{new_id, to_item};
use crate::services::reminders;
use crate::services::scheduling::event_types::{EventTypeRecord, QuestionKind};
use crate::services::scheduling::{SchedulingError, booking_uid_key, invalid};
use crate::services::secrets::new_token;
use crate::services::webhooks;

// ---------------------------------------------------------------------------
// Booking

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// RFC 3339 start, as listed by the slots endpoint.
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub duration: Option<u32>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub sms_consent: bool,
    #[serde(default)]
    pub sms_consent_text: Option<String>,
    /// The invitee's IANA zone (their messages show times in it); absent or
    /// blank means the event's own zone, which the answer then carries.
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
}

pub(super) fn parse_start(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<Timestamp> {
    match raw.trim().parse::<Timestamp>() {
        Ok(ts) => Some(ts),
        Err(_) => {
            errors.push(invalid(
                field,
                "invalid",
                "Use an RFC 3339 time, e.g. 2026-03-10T14:00:00Z.",
            ));
            None
        }
    }
}

pub(super) fn is_blank(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Bool(b)) => !b,
        _ => false,
    }
}

/// Whether a booking must answer the event type's required questions: the
/// invitee on the public page must; a member booking for a contact books
/// what the contact asked for and is not the one being asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Questions {
    Asked,
    NotAsked,
}

/// Checks answers against the event type's questions; returns them cleaned.
pub(super) fn check_answers(
    event: &EventTypeRecord,
    answers: &BTreeMap<String, Value>,
    country: &str,
    questions: Questions,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for key in answers.keys() {
        if !event.questions.iter().any(|q| &q.id == key) {
            errors.push(invalid(
                format!("answers.{key}"),
                "unknown_question",
                "No such question.",
            ));
        }
    }
    for q in &event.questions {
        let field = format!("answers.{}", q.id);
        let value = answers.get(&q.id);
        if is_blank(value) {
            if q.required && questions == Questions::Asked {
                errors.push(invalid(field, "required", "This question needs an answer."));
            }
            continue;
        }
        let Some(value) = value else { continue };
        let ok = match q.kind {
            QuestionKind::ShortText => value.as_str().is_some_and(|s| s.chars().count() <= 500),
            QuestionKind::LongText => value.as_str().is_some_and(|s| s.chars().count() <= 5000),
            QuestionKind::Select => value.as_str().is_some_and(|s| q.options.iter().any(|o| o == s)),
            QuestionKind::MultiSelect => value.as_array().is_some_and(|items| {
                items
                    .iter()
                    .all(|v| v.as_str().is_some_and(|s| q.options.iter().any(|o| o == s)))
            }),
            QuestionKind::Checkbox => value.is_boolean(),
            QuestionKind::Number => value.is_number(),
            QuestionKind::Phone => value.as_str().is_some_and(|s| Phone::parse(s, country).is_ok()),
        };
        if ok {
            let cleaned = match value {
                Value::String(s) => Value::String(s.trim().to_string()),
                other => other.clone(),
            };
            out.insert(q.id.clone(), cleaned);
        } else {
            errors.push(invalid(
                field,
                "invalid_answer",
                "This answer does not fit the question.",
            ));
        }
    }
    out
}

pub(super) struct ValidRequest {
    start: Timestamp,
    duration: u32,
    invitee: Invitee,
    answers: BTreeMap<String, Value>,
}

pub(super) fn validate_request(
    ctx: &Context,
    request: &BookingRequest,
    questions: Questions,
) -> Result<ValidRequest, SchedulingError> {
    let mut errors = Vec::new();
    let start = parse_start("start", &request.start, &mut errors);
    let duration = request.duration.unwrap_or(ctx.event.default_duration);
    if !ctx.event.durations.contains(&duration) {
        errors.push(invalid(
            "duration",
            "not_offered",
            format!("Choose one of {:?} minutes.", ctx.event.durations),
        ));
    }
    let name = request.name.trim().to_string();
    if name.is_empty() {
        errors.push(invalid("name", "required", "This field is required."));
    } else if name.chars().count() > 100 {
        errors.push(invalid("name", "too_long", "Use at most 100 characters."));
    }
    let email = match Email::parse(&request.email) {
        Ok(email) => email.as_str().to_string(),
        Err(err) => {
            errors.push(invalid("email", err.code(), err.message()));
            String::new()
        }
    };
    let phone = match request.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => None,
        Some(raw) => match Phone::parse(raw, &ctx.org.country) {
            Ok(phone) => Some(phone.e164),
            Err(err) => {
                errors.push(invalid("phone", err.code(), err.message()));
                None
            }
        },
    };
    let consent_text = request
        .sms_consent_text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if request.sms_consent {
        if request.phone.as_deref().is_none_or(|p| p.trim().is_empty()) {
            errors.push(invalid("phone", "required", "SMS consent needs a phone number."));
        }
        match &consent_text {
            None => errors.push(invalid(
                "sms_consent_text",
                "required",
                "Send the consent wording the invitee agreed to.",
            )),
            Some(text) if text.chars().count() > 1000 => {
                errors.push(invalid("sms_consent_text", "too_long", "Use at most 1000 characters."));
            }
            Some(_) => {}
        }
    }
    let time_zone = match request.time_zone.as_deref().map(str::trim).filter(|z| !z.is_empty()) {
        Some(name) => {
            if let Err(SchedulingError::Invalid(mut fields)) = zone("time_zone", name) {
                errors.append(&mut fields);
            }
            name.to_string()
        }
        None => ctx.schedule.schedule.time_zone_name().to_string(),
    };
    let answers = check_answers(&ctx.event, &request.answers, &ctx.org.country, questions, &mut errors);
    match start {
        Some(start) if errors.is_empty() => Ok(ValidRequest {
            start,
            duration,
            invitee: Invitee {
                name,
                email,
                phone,
                sms_consent: request.sms_consent,
                sms_consent_text: if request.sms_consent { consent_text } else { None },
                time_zone,
            },
            answers,
        }),
        _ => Err(SchedulingError::Invalid(errors)),
    }
}

/// Checks `start` against the host's calendar as read now.
pub(super) async fn check_free(
    state: &impl CalendarReach,
    ctx: &Context,
    duration: u32,
    start: Timestamp,
    ignore_booking: Option<&str>,
) -> Result<(), SchedulingError> {
    let rules = ctx.event.rules(duration)?;
    let end = start
        .checked_add(jiff::SignedDuration::from_mins(i64::from(duration)))
        .map_err(|_| SchedulingError::NotOffered(SlotRejection::OutsideWindow))?;
    let (lo, hi) = lookup_range(start, end);
    let entries = host_calendar(state.table().as_ref(), &ctx.org.id, &ctx.event.host_user_id, lo, hi).await?;
    let bookings: Vec<Booked> = entries
        .iter()
        .filter(|e| Some(e.booking_id.as_str()) != ignore_booking)
        .filter_map(|e| e.booked(&ctx.event.id))
        .collect();
    let busy = busy_source(state)
        .busy(&ctx.org.id, &ctx.event.host_user_id, lo, hi)
        .await?;
    let inputs = SlotInputs {
        schedule: &ctx.schedule.schedule,
        rules: &rules,
        bookings: &bookings,
        busy: &busy,
        now: state.clock().now(),
    };
    is_bookable(inputs, start).map_err(rejection)
}

pub(super) fn manage_url(state: &impl HasConfig, uid: &str, token: &str) -> String {
    format!(
        "{}/booking/{uid}?token={token}",
        state.config().public_url.trim_end_matches('/')
    )
}

pub(super) fn public_actor(org_id: &OrgId, meta: &Actor) -> Actor {
    Actor {
        org_id: OrgId::from(org_id.to_string()),
        user_id: None,
        ..meta.clone()
    }
}

/// `POST /public/booking/{org}/{event}/bookings`.
pub async fn book(
    state: &impl CalendarReach,
    org_slug: &str,
    event_slug: &str,
    request: BookingRequest,
    meta: &Actor,
) -> Result<NewBooking, SchedulingError> {
    let (p, ctx) = public_context(state, org_slug, event_slug).await?;
    let valid = validate_request(&ctx, &request, Questions::Asked)?;
    let actor = public_actor(&ctx.org.id, meta);
    commit(state, &p, ctx, valid, &actor, Booker::Invitee).await
}

/// Whose booking it is, for the contact step of the transaction.
pub(super) enum Booker<'a> {
    /// The invitee of the public page: they become a contact (new, or
    /// merged into the one with their email).
    Invitee,
    /// A member booking for this contact of the organization: the booking
    /// is theirs as they are.
    Member { contact_id: &'a ContactId },
}

/// The read-check-commit rounds of a validated booking: the host's
/// calendar re-read and the start re-checked on every round, then one
/// transaction; the confirmation queued once it committed.
pub(super) async fn commit(
    state: &impl CalendarReach,
    p: &Pointer,
    mut ctx: Context,
    valid: ValidRequest,
    actor: &Actor,
    booker: Booker<'_>,
) -> Result<NewBooking, SchedulingError> {
    let token = new_token();
    let end = valid
        .start
        .checked_add(jiff::SignedDuration::from_mins(i64::from(valid.duration)))
        .map_err(|_| SchedulingError::NotOffered(SlotRejection::OutsideWindow))?;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            ctx = load(state.table().as_ref(), p).await?;
            if !ctx.event.active {
                return Err(SchedulingError::NotFound);
            }
        }
        check_free(state, &ctx, valid.duration, valid.start, None).await?;
        let now = state.clock().now();
        let status = if ctx.event.requires_confirmation {
            BookingStatus::PendingConfirmation
        } else {
            BookingStatus::Confirmed
        };
        let id = BookingId::new(new_id());
        let mut booking = BookingRecord {
            id: id.clone(),
            org_id: ctx.org.id.clone(),
            event_type_id: ctx.event.id.clone(),
            event_title: ctx.event.title.clone(),
            host_user_id: ctx.event.host_user_id.clone(),
            start: valid.start,
            end,
            duration: valid.duration,
            buffer_before: ctx.event.buffer_before,
            buffer_after: ctx.event.buffer_after,
            host_time_zone: ctx.schedule.schedule.time_zone_name().to_string(),
            status,
            no_show: false,
            location: ctx.event.location.clone(),
            invitee: valid.invitee.clone(),
            answers: valid.answers.clone(),
            contact_id: None,
            token_hash: token_hash(&token),
            reminder_keys: Vec::new(),
            sequence: 0,
            cancel_reason: None,
            cancelled_by: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            version: 1,
            google_event: None,
        };
        let planned = if status == BookingStatus::Confirmed {
            reminders::plan(
                &booking.org_id,
                &id,
                booking.start,
                &ctx.event.reminders,
                booking.invitee.sms_allowed(),
                now,
            )?
        } else {
            reminders::Planned::default()
        };
        booking.reminder_keys = planned.keys.iter().map(StoredKey::from).collect();
        let contact = match booker {
            Booker::Invitee => match contact::on_booked(state, &booking, &ctx.org.country, actor, now).await {
                Ok(contact) => contact,
                // The invitee's contact is changing right now: plan the booking again.
                Err(SchedulingError::Store(err)) if should_retry(&err, attempt).await => continue,
                Err(err) => return Err(err),
            },
            Booker::Member { contact_id } => {
                // A round lost to the contact's deletion ends here, not in retries.
                if attempt > 0 && !contacts::exists(state.table().as_ref(), &booking.org_id, contact_id).await? {
                    return Err(SchedulingError::NotFound);
                }
                contact::for_contact(&booking, contact_id, now)
            }
        };
        booking.contact_id = contact.contact_id.clone();

        let mut ops = vec![
            WriteOp::Put {
                item: booking.item()?,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: to_item(
                    &booking_uid_key(&id),
                    &json!({"org_id": booking.org_id, "booking_id": id, "token_hash": booking.token_hash}),
                    &[],
                )?,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: booking.calendar_entry(),
                condition: Some(Condition::NotExists),
            },
            bump_calendar(&booking.org_id, &booking.host_user_id, ctx.calendar_version),
        ];
        ops.extend(planned.ops);
        ops.extend(contact.ops);
        let link = manage_url(state, &id, &token);
        let notice = notify::prepare(state, &booking, &BookingChange::Booked, Some(&link), false).await?;
        ops.extend(notice.as_ref().map(|(op, _)| op.clone()));
        ops.push(audit::entry(
            actor,
            now,
            "booking.create",
            &format!("booking:{id}"),
            json!({"event_type_id": booking.event_type_id, "start": booking.start, "status": booking.status}),
        ));
        match state.table().transact(ops).await {
            Ok(()) => {
                notify::queue(state, notice.map(|(_, pending)| pending)).await;
                // One query of the endpoints for both: the booking, and the contact it made.
                let mut events = vec![notify::event(&booking, "booking.created", now)];
                events.extend(contact.created.as_ref().map(|new| contacts::created_event(new, now)));
                webhooks::announce(state, &booking.org_id, events).await;
                google_event::queue(state, &booking).await;
                let view = booking.view();
                return Ok(NewBooking {
                    manage_url: link,
                    manage_token: token,
                    booking: view,
                });
            }
            Err(err) if should_retry(&err, attempt).await => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(exhausted())
}
