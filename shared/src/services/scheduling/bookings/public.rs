//! What the public booking page reads: the event by its slugs, and the
//! free slots of a range in the visitor's zone.

use crate::domain::ids::EventTypeId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::ports::busy::BusyTimes;
use crate::services::google::calendar::CalendarReach;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::calendar::host_calendar;
use super::calendar::version_of;
use super::{MAX_SLOT_RANGE_DAYS, busy_source};
use crate::domain::slots::{Booked, Busy, SlotInputs, compute_slots, lookup_range};
use crate::domain::slug::Slug;
use crate::ports::HasTable;
use crate::ports::{Item, Key, StoreError, Table};
use crate::services::records::{MemberRecord, member_key};
use crate::services::records::{OrgRecord, from_item, org_key, slug_key};
use crate::services::scheduling::event_types::{self, EventTypeRecord, Location};
use crate::services::scheduling::schedules::ScheduleRecord;
use crate::services::scheduling::{
    Caller, SchedulingError, event_slug_key, event_type_key, host_calendar_version_key, schedule_key,
};

// ---------------------------------------------------------------------------
// Loading what the public pages need

/// The event type of a public page with everything its slots depend on.
pub(super) struct Context {
    pub(super) org: OrgRecord,
    pub(super) event: EventTypeRecord,
    pub(super) schedule: ScheduleRecord,
    /// The host calendar version as read (None: never booked).
    pub(super) calendar_version: Option<u64>,
}

/// The pointer behind `/book/{org}/{event}`.
pub(super) struct Pointer {
    org_id: OrgId,
    event_type_id: EventTypeId,
    schedule_id: String,
    host_user_id: String,
}

pub(super) async fn pointer(table: &dyn Table, org_slug: &str, event_slug: &str) -> Result<Pointer, SchedulingError> {
    let (Ok(org_slug), Ok(event_slug)) = (Slug::parse(org_slug), Slug::parse(event_slug)) else {
        return Err(SchedulingError::NotFound);
    };
    let org = table
        .get(&slug_key(org_slug.as_str()))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    let org_id = text(&org, "org_id").map(OrgId::from).ok_or(SchedulingError::NotFound)?;
    let item = table
        .get(&event_slug_key(&org_id, event_slug.as_str()))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    Ok(Pointer {
        event_type_id: text(&item, "event_type_id")
            .map(EventTypeId::from)
            .ok_or(SchedulingError::NotFound)?,
        schedule_id: text(&item, "schedule_id").unwrap_or_default(),
        host_user_id: text(&item, "host_user_id").unwrap_or_default(),
        org_id,
    })
}

pub(super) fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_string)
}

/// One consistent batch read: org, event type, schedule and the host
/// calendar version. A pointer gone stale (the event type just moved to
/// another schedule or host) costs one more read.
pub(super) async fn load(table: &dyn Table, p: &Pointer) -> Result<Context, SchedulingError> {
    let keys = [
        org_key(&p.org_id),
        event_type_key(&p.org_id, &p.event_type_id),
        schedule_key(&p.org_id, &p.schedule_id),
        host_calendar_version_key(&p.org_id, &UserId::from(&p.host_user_id)),
    ];
    let items = table.batch_get(&keys).await?;
    let find = |key: &Key| items.iter().find(|item| Key::of(item).as_ref() == Some(key)).cloned();
    let org: OrgRecord = from_item(find(&keys[0]).ok_or(SchedulingError::NotFound)?)?;
    // A deleted organization takes no bookings.
    if org.deletion.is_some() {
        return Err(SchedulingError::NotFound);
    }
    let event: EventTypeRecord = from_item(find(&keys[1]).ok_or(SchedulingError::NotFound)?)?;
    if event.schedule_id != p.schedule_id || event.host_user_id != p.host_user_id {
        return load_for_event(table, org, event).await;
    }
    let schedule: ScheduleRecord = from_item(find(&keys[2]).ok_or(SchedulingError::NotFound)?)?;
    Ok(Context {
        calendar_version: version_of(find(&keys[3]).as_ref()),
        org,
        event,
        schedule,
    })
}

/// The schedule and calendar version of a known event type.
pub(super) async fn load_for_event(
    table: &dyn Table,
    org: OrgRecord,
    event: EventTypeRecord,
) -> Result<Context, SchedulingError> {
    let keys = [
        schedule_key(&org.id, &event.schedule_id),
        host_calendar_version_key(&org.id, &event.host_user_id),
    ];
    let items = table.batch_get(&keys).await?;
    let find = |key: &Key| items.iter().find(|item| Key::of(item).as_ref() == Some(key)).cloned();
    let schedule: ScheduleRecord = from_item(find(&keys[0]).ok_or(SchedulingError::NotFound)?)?;
    Ok(Context {
        calendar_version: version_of(find(&keys[1]).as_ref()),
        org,
        event,
        schedule,
    })
}

pub(super) async fn public_context(
    state: &impl HasTable,
    org_slug: &str,
    event_slug: &str,
) -> Result<(Pointer, Context), SchedulingError> {
    let p = pointer(state.table().as_ref(), org_slug, event_slug).await?;
    let ctx = load(state.table().as_ref(), &p).await?;
    if !ctx.event.active {
        return Err(SchedulingError::NotFound);
    }
    Ok((p, ctx))
}

/// An event type of the caller's organization with what its slots depend
/// on, for a member booking on a contact's behalf: unknown, foreign or not
/// taking bookings is not found, as on the public page.
pub(super) async fn member_context(
    table: &dyn Table,
    org_id: &OrgId,
    event_type_id: &EventTypeId,
) -> Result<(Pointer, Context), SchedulingError> {
    let event = event_types::get_record(table, org_id, event_type_id).await?;
    if !event.active {
        return Err(SchedulingError::NotFound);
    }
    let org: OrgRecord = from_item(table.get(&org_key(org_id)).await?.ok_or(SchedulingError::NotFound)?)?;
    if org.deletion.is_some() {
        return Err(SchedulingError::NotFound);
    }
    let p = Pointer {
        org_id: org_id.clone(),
        event_type_id: event.id.clone(),
        schedule_id: event.schedule_id.clone(),
        host_user_id: event.host_user_id.to_string(),
    };
    Ok((p, load_for_event(table, org, event).await?))
}

/// Event info for the public page.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PublicEvent {
    pub org_name: String,
    pub org_slug: String,
    /// The name of the member who hosts it, as the organization lists them.
    pub host_name: String,
    pub title: String,
    pub slug: String,
    pub description: String,
    pub durations: Vec<u32>,
    pub default_duration: u32,
    /// The kind, and the address of in-person events; a video link is only
    /// shared once booked.
    pub location: Option<Value>,
    pub time_zone: String,
    pub seats: u32,
    pub requires_confirmation: bool,
    pub questions: Vec<event_types::Question>,
    pub minimum_notice: u32,
}

pub(super) fn public_location(location: &Option<Location>) -> Option<Value> {
    Some(match location.as_ref()? {
        Location::InPerson { address } => json!({"kind": "in_person", "address": address}),
        Location::Phone { .. } => json!({"kind": "phone"}),
        Location::Video { .. } => json!({"kind": "video"}),
    })
}

/// A member's name as their organization lists it; empty once they left.
async fn host_name(table: &dyn Table, org_id: &OrgId, user_id: &UserId) -> Result<String, StoreError> {
    match table.get(&member_key(org_id, user_id)).await? {
        Some(item) => Ok(from_item::<MemberRecord>(item)?.name),
        None => Ok(String::new()),
    }
}

pub async fn public_event(
    state: &impl HasTable,
    org_slug: &str,
    event_slug: &str,
) -> Result<PublicEvent, SchedulingError> {
    let (_, ctx) = public_context(state, org_slug, event_slug).await?;
    let host_name = host_name(state.table().as_ref(), &ctx.org.id, &ctx.event.host_user_id).await?;
    Ok(PublicEvent {
        org_name: ctx.org.name,
        org_slug: ctx.org.slug,
        host_name,
        title: ctx.event.title,
        slug: ctx.event.slug,
        description: ctx.event.description,
        durations: ctx.event.durations,
        default_duration: ctx.event.default_duration,
        location: public_location(&ctx.event.location),
        time_zone: ctx.schedule.schedule.time_zone_name().to_string(),
        seats: ctx.event.seats,
        requires_confirmation: ctx.event.requires_confirmation,
        questions: ctx.event.questions,
        minimum_notice: ctx.event.minimum_notice,
    })
}

// ---------------------------------------------------------------------------
// Slots

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct SlotsQuery {
    /// A date (`YYYY-MM-DD`, in `tz`) or an RFC 3339 instant; default today.
    pub from: Option<String>,
    /// A date (inclusive, in `tz`) or an RFC 3339 instant; default `from` + 7 days.
    pub to: Option<String>,
    /// The invitee's IANA zone; default the schedule's.
    pub tz: Option<String>,
    /// Minutes; default the event type's default duration.
    pub duration: Option<u32>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SlotView {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Wall-clock start in the invitee's zone, `HH:MM`.
    pub time: String,
    pub seats_left: u32,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DayView {
    pub date: Date,
    pub slots: Vec<SlotView>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SlotsView {
    pub time_zone: String,
    pub duration: u32,
    pub from: Timestamp,
    pub to: Timestamp,
    pub days: Vec<DayView>,
}

pub(super) fn zone(field: &str, name: &str) -> Result<TimeZone, SchedulingError> {
    match TimeZone::get(name.trim()) {
        Ok(tz) if tz.iana_name().is_some() => Ok(tz),
        _ => Err(SchedulingError::field(
            field,
            "unknown_time_zone",
            format!("`{name}` is not an IANA time zone name."),
        )),
    }
}

/// A range bound: a date in `tz` (start of that day, or of the next for an
/// inclusive end) or an instant.
pub(super) fn bound(field: &str, raw: &str, tz: &TimeZone, end: bool) -> Result<Timestamp, SchedulingError> {
    let raw = raw.trim();
    if let Ok(date) = raw.parse::<Date>() {
        let date = if end { date.tomorrow().unwrap_or(date) } else { date };
        return date
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|_| SchedulingError::field(field, "invalid", "This date is out of range."));
    }
    raw.parse::<Timestamp>()
        .map_err(|_| SchedulingError::field(field, "invalid", "Use a date (YYYY-MM-DD) or an RFC 3339 time."))
}

pub async fn slots(
    state: &impl CalendarReach,
    org_slug: &str,
    event_slug: &str,
    query: SlotsQuery,
) -> Result<SlotsView, SchedulingError> {
    let (_, ctx) = public_context(state, org_slug, event_slug).await?;
    slots_of(state, &ctx, query).await
}

/// The free slots of an event type of the caller's organization, exactly
/// as its public page lists them (`tz` is the zone to show them in).
pub async fn member_slots(
    state: &impl CalendarReach,
    caller: &Caller,
    event_type_id: &EventTypeId,
    query: SlotsQuery,
) -> Result<SlotsView, SchedulingError> {
    let (_, ctx) = member_context(state.table().as_ref(), &caller.org_id, event_type_id).await?;
    slots_of(state, &ctx, query).await
}

async fn slots_of(state: &impl CalendarReach, ctx: &Context, query: SlotsQuery) -> Result<SlotsView, SchedulingError> {
    let tz = match &query.tz {
        Some(name) if !name.trim().is_empty() => zone("tz", name)?,
        _ => ctx.schedule.schedule.time_zone().clone(),
    };
    let duration = query.duration.unwrap_or(ctx.event.default_duration);
    let rules = ctx.event.rules(duration)?;
    let now = state.clock().now();
    let from = match &query.from {
        Some(raw) => bound("from", raw, &tz, false)?,
        None => now
            .to_zoned(tz.clone())
            .date()
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(now),
    };
    let to = match &query.to {
        Some(raw) => bound("to", raw, &tz, true)?,
        None => from
            .checked_add(jiff::SignedDuration::from_hours(7 * 24))
            .unwrap_or(from),
    };
    if to <= from {
        return Err(SchedulingError::field(
            "to",
            "end_before_start",
            "`to` must be after `from`.",
        ));
    }
    if to.as_second() - from.as_second() > MAX_SLOT_RANGE_DAYS * 86_400 {
        return Err(SchedulingError::field(
            "to",
            "range_too_long",
            format!("Ask for at most {MAX_SLOT_RANGE_DAYS} days at a time."),
        ));
    }
    let (lo, hi) = lookup_range(from, to);
    let entries = host_calendar(state.table().as_ref(), &ctx.org.id, &ctx.event.host_user_id, lo, hi).await?;
    let bookings: Vec<Booked> = entries.iter().filter_map(|e| e.booked(&ctx.event.id)).collect();
    let busy: Vec<Busy> = busy_source(state)
        .busy(&ctx.org.id, &ctx.event.host_user_id, lo, hi)
        .await?;
    let inputs = SlotInputs {
        schedule: &ctx.schedule.schedule,
        rules: &rules,
        bookings: &bookings,
        busy: &busy,
        now,
    };
    let days = compute_slots(inputs, from, to, &tz)
        .map_err(|err| SchedulingError::field("to", err.code(), err.to_string()))?;
    Ok(SlotsView {
        time_zone: tz.iana_name().unwrap_or("UTC").to_string(),
        duration,
        from,
        to,
        days: days
            .into_iter()
            .map(|day| DayView {
                date: day.date,
                slots: day
                    .slots
                    .into_iter()
                    .map(|slot| SlotView {
                        start: slot.start,
                        end: slot.end,
                        time: slot.start.to_zoned(tz.clone()).strftime("%H:%M").to_string(),
                        seats_left: slot.seats_left,
                    })
                    .collect(),
            })
            .collect(),
    })
}
