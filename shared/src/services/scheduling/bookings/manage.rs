//! Managing a booking: the host's list and actions (confirm, decline,
//! cancel, reschedule, no-show) and the invitee's through the manage link.

use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::services::google::calendar::CalendarReach;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::book::check_free;
use super::book::parse_start;
use super::book::public_actor;
use super::calendar::bump_calendar;
use super::calendar::exhausted;
use super::calendar::should_retry;
use super::public::bound;
use super::public::load_for_event;
use super::public::text;
use super::public::zone;
use super::{
    BookingChange, BookingRecord, BookingStatus, BookingView, ChangedBy, MAX_ATTEMPTS, StoredKey, contact,
    google_event, notify,
};
use crate::domain::slots::SlotRejection;
use crate::domain::token::token_hash;
use crate::ports::{Condition, Index, Query, SortKey, StoreError, Table, WriteOp};
use crate::ports::{HasClock, HasGoogle, HasJobs, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::records::{OrgRecord, from_item, org_key};
use crate::services::reminders;
use crate::services::scheduling::event_types::{self};
use crate::services::scheduling::{
    Caller, SchedulingError, booking_key, booking_uid_key, host_bookings_index, time_sort,
};

// ---------------------------------------------------------------------------
// Managing bookings

/// Who manages a booking.
pub enum Manager<'a> {
    Host(&'a Caller),
    /// The invitee, proven by the manage-link token.
    Invitee {
        meta: &'a Actor,
    },
    /// The host, through their Google calendar (the calendar sync): the
    /// event Konnecs wrote for the booking was deleted there.
    Calendar {
        actor: &'a Actor,
    },
}

impl Manager<'_> {
    /// Members change their own appointments, admins anyone's; the invitee
    /// proved theirs with the token already.
    fn may_change(&self, booking: &BookingRecord) -> Result<(), SchedulingError> {
        match self {
            Manager::Host(caller) => caller.may_manage_for(&booking.host_user_id),
            Manager::Invitee { .. } | Manager::Calendar { .. } => Ok(()),
        }
    }
    fn by(&self) -> ChangedBy {
        match self {
            Manager::Host(_) | Manager::Calendar { .. } => ChangedBy::Host,
            Manager::Invitee { .. } => ChangedBy::Invitee,
        }
    }
    fn actor(&self, org_id: &OrgId) -> Actor {
        match self {
            Manager::Host(caller) => caller.actor.clone(),
            Manager::Invitee { meta } => public_actor(org_id, meta),
            Manager::Calendar { actor } => (*actor).clone(),
        }
    }
}

pub async fn get_record(table: &dyn Table, org_id: &OrgId, id: &BookingId) -> Result<BookingRecord, SchedulingError> {
    let item = table
        .get(&booking_key(org_id, id))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    Ok(from_item(item)?)
}

/// The organization's bookings of these ids (at most 100, unknown ones
/// left out) in one batch read, by start: a contact's appointments, found
/// through their timeline.
pub async fn get_many(
    table: &dyn Table,
    org_id: &OrgId,
    ids: &[BookingId],
) -> Result<Vec<BookingView>, SchedulingError> {
    let keys: Vec<_> = ids.iter().take(100).map(|id| booking_key(org_id, id)).collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut views = table
        .batch_get(&keys)
        .await?
        .into_iter()
        .map(|item| from_item::<BookingRecord>(item).map(|record| record.view()))
        .collect::<Result<Vec<_>, _>>()?;
    views.sort_by_key(|view| view.start);
    Ok(views)
}

/// The org of a manage link whose token matches (constant-time, on the
/// stored hash). Unknown uid and wrong token are the same 404.
pub async fn org_of_token(table: &dyn Table, uid: &BookingId, token: &str) -> Result<OrgId, SchedulingError> {
    if uid.is_empty() || uid.len() > 64 || token.is_empty() || token.len() > 128 {
        return Err(SchedulingError::NotFound);
    }
    let item = table
        .get(&booking_uid_key(uid))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    let stored = text(&item, "token_hash").unwrap_or_default();
    let presented = token_hash(token);
    if stored.len() != presented.len() || !bool::from(stored.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(SchedulingError::NotFound);
    }
    let org_id = text(&item, "org_id")
        .map(OrgId::from)
        .ok_or(SchedulingError::NotFound)?;
    // A deleted organization's manage links lead nowhere.
    if crate::services::records::org_closing(table, &org_id).await? {
        return Err(SchedulingError::NotFound);
    }
    Ok(org_id)
}

pub async fn get_by_token(state: &impl HasTable, uid: &BookingId, token: &str) -> Result<BookingView, SchedulingError> {
    let org_id = org_of_token(state.table().as_ref(), uid, token).await?;
    Ok(get_record(state.table().as_ref(), &org_id, uid).await?.view())
}

pub async fn get_for_host(
    state: &impl HasTable,
    caller: &Caller,
    id: &BookingId,
) -> Result<BookingView, SchedulingError> {
    Ok(get_record(state.table().as_ref(), &caller.org_id, id)
        .await?
        .host_view())
}

/// `GET /appointments?from&to[&tz]`: RFC 3339 instants, or dates (`from`
/// from the start of its day, `to` through the end of its day) in `tz`,
/// by default the organization's zone.
pub struct ListRange<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub tz: Option<&'a str>,
}

impl ListRange<'_> {
    async fn resolve(&self, state: &impl HasTable, org_id: &OrgId) -> Result<(Timestamp, Timestamp), SchedulingError> {
        let is_date = |raw: &str| raw.trim().parse::<jiff::civil::Date>().is_ok();
        let tz = match (self.tz, is_date(self.from) || is_date(self.to)) {
            (Some(name), _) => zone("tz", name)?,
            (None, true) => {
                let org: OrgRecord = from_item(
                    state
                        .table()
                        .get(&org_key(org_id))
                        .await?
                        .ok_or(SchedulingError::NotFound)?,
                )?;
                zone("tz", &org.time_zone)?
            }
            (None, false) => TimeZone::UTC,
        };
        Ok((bound("from", self.from, &tz, false)?, bound("to", self.to, &tz, true)?))
    }
}

/// The host's bookings starting in `[from, to)` (cancelled ones included,
/// with their status): one GSI query, oldest first.
pub async fn list_for_host(
    state: &impl HasTable,
    caller: &Caller,
    host_user_id: Option<&UserId>,
    range: ListRange<'_>,
) -> Result<Vec<BookingView>, SchedulingError> {
    let host = host_user_id.unwrap_or(&caller.user_id);
    let (from, to) = range.resolve(state, &caller.org_id).await?;
    if to <= from {
        return Err(SchedulingError::field(
            "to",
            "end_before_start",
            "`to` must be after `from`.",
        ));
    }
    let mut views = Vec::new();
    let mut cursor = None;
    let sort = SortKey::Between(time_sort(from.as_second()), time_sort(to.as_second()));
    for _ in 0..10 {
        let page = state
            .table()
            .query(
                &Query::partition(host_bookings_index(&caller.org_id, host))
                    .on(Index::Gsi1)
                    .sort(sort.clone())
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            views.push(from_item::<BookingRecord>(item)?.host_view());
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(views)
}

/// A cancel or decline reason as kept: trimmed, blank = none, ≤ 1,000 characters.
pub(super) fn cancel_reason(reason: Option<String>) -> Result<Option<String>, SchedulingError> {
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(SchedulingError::field(
            "reason",
            "too_long",
            "Use at most 1000 characters.",
        ));
    }
    Ok(reason)
}

pub(super) fn already_started() -> SchedulingError {
    SchedulingError::Conflict {
        code: "already_started",
        detail: "The appointment has started; ask the business to change it.".into(),
    }
}

pub(super) fn not_live(booking: &BookingRecord) -> SchedulingError {
    SchedulingError::Conflict {
        code: "booking_not_active",
        detail: format!("The booking is {:?} and can no longer change.", booking.status).to_lowercase(),
    }
}

pub(super) fn changed_concurrently() -> SchedulingError {
    SchedulingError::Conflict {
        code: "conflict",
        detail: "The booking changed concurrently; read it again.".into(),
    }
}

/// The booking put with `VersionEquals(read)`: the guard of every change.
pub(super) fn booking_put(booking: &BookingRecord, read_version: u64) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put {
        item: booking.item()?,
        condition: Some(Condition::VersionEquals(read_version)),
    })
}

pub async fn cancel(
    state: &(impl HasTable + HasClock + HasJobs + HasGoogle),
    org_id: &OrgId,
    id: &BookingId,
    reason: Option<String>,
    manager: Manager<'_>,
) -> Result<BookingView, SchedulingError> {
    let reason = cancel_reason(reason)?;
    let old = get_record(state.table().as_ref(), org_id, id).await?;
    manager.may_change(&old)?;
    if !old.status.is_live() {
        return Err(not_live(&old));
    }
    let now = state.clock().now();
    if old.start <= now && matches!(manager, Manager::Invitee { .. }) {
        return Err(already_started());
    }
    let actor = manager.actor(org_id);
    let mut booking = old.clone();
    booking.status = BookingStatus::Cancelled;
    booking.cancel_reason = reason.clone();
    booking.cancelled_by = Some(manager.by());
    booking.reminder_keys = Vec::new();
    booking.sequence = old.sequence + 1;
    booking.updated_at = now.to_string();
    booking.version = old.version + 1;
    let mut ops = vec![
        booking_put(&booking, old.version)?,
        WriteOp::Delete {
            key: old.calendar_key(),
            condition: None,
        },
    ];
    ops.extend(reminders::removal_ops(&old.reminder_keys()));
    ops.extend(contact::on_changed(state, &booking, "booking.cancelled", now).await?);
    let notice = notify::prepare(
        state,
        &booking,
        &BookingChange::Cancelled { by: manager.by() },
        None,
        old.status == BookingStatus::PendingConfirmation,
    )
    .await?;
    ops.extend(notice.as_ref().map(|(op, _)| op.clone()));
    ops.push(audit::entry(
        &actor,
        now,
        "booking.cancel",
        &format!("booking:{id}"),
        json!({"by": manager.by(), "reason": reason}),
    ));
    match state.table().transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { index: 0 }) => return Err(changed_concurrently()),
        Err(err) => return Err(err.into()),
    }
    notify::queue(state, notice.map(|(_, pending)| pending)).await;
    notify::announce(state, &booking, "booking.cancelled", now).await;
    google_event::queue(state, &booking).await;
    Ok(booking.view())
}

pub async fn reschedule(
    state: &impl CalendarReach,
    org_id: &OrgId,
    id: &BookingId,
    raw_start: &str,
    manager: Manager<'_>,
) -> Result<BookingView, SchedulingError> {
    let mut errors = Vec::new();
    let Some(start) = parse_start("start", raw_start, &mut errors) else {
        return Err(SchedulingError::Invalid(errors));
    };
    let actor = manager.actor(org_id);
    for attempt in 0..MAX_ATTEMPTS {
        let old = get_record(state.table().as_ref(), org_id, id).await?;
        manager.may_change(&old)?;
        if !old.status.is_live() {
            return Err(not_live(&old));
        }
        if old.start <= state.clock().now() && matches!(manager, Manager::Invitee { .. }) {
            return Err(already_started());
        }
        if old.start == start {
            return Err(SchedulingError::field(
                "start",
                "same_time",
                "The booking already starts at this time.",
            ));
        }
        let org: OrgRecord = from_item(
            state
                .table()
                .get(&org_key(org_id))
                .await?
                .ok_or(SchedulingError::NotFound)?,
        )?;
        let event = match event_types::get_record(state.table().as_ref(), org_id, &old.event_type_id).await {
            Ok(event) => event,
            Err(SchedulingError::NotFound) => {
                return Err(SchedulingError::Conflict {
                    code: "event_type_gone",
                    detail: "The event type of this booking no longer exists; book a new time instead.".into(),
                });
            }
            Err(err) => return Err(err),
        };
        let mut ctx = load_for_event(state.table().as_ref(), org, event).await?;
        // The booking keeps its own duration even if the event type's offer changed.
        if !ctx.event.durations.contains(&old.duration) {
            ctx.event.durations.push(old.duration);
        }
        check_free(state, &ctx, old.duration, start, Some(&old.id)).await?;
        let now = state.clock().now();
        let mut booking = old.clone();
        booking.start = start;
        // A new appointment time: whatever was marked about the old one goes.
        booking.no_show = false;
        booking.end = start
            .checked_add(jiff::SignedDuration::from_mins(i64::from(old.duration)))
            .map_err(|_| SchedulingError::NotOffered(SlotRejection::OutsideWindow))?;
        booking.host_user_id = ctx.event.host_user_id.clone();
        booking.buffer_before = ctx.event.buffer_before;
        booking.buffer_after = ctx.event.buffer_after;
        booking.host_time_zone = ctx.schedule.schedule.time_zone_name().to_string();
        booking.sequence = old.sequence + 1;
        booking.updated_at = now.to_string();
        booking.version = old.version + 1;
        let planned = if booking.status == BookingStatus::Confirmed {
            reminders::plan(
                org_id,
                id,
                booking.start,
                &ctx.event.reminders,
                booking.invitee.sms_allowed(),
                now,
            )?
        } else {
            reminders::Planned::default()
        };
        booking.reminder_keys = planned.keys.iter().map(StoredKey::from).collect();
        let mut ops = vec![
            booking_put(&booking, old.version)?,
            WriteOp::Delete {
                key: old.calendar_key(),
                condition: None,
            },
            WriteOp::Put {
                item: booking.calendar_entry(),
                condition: Some(Condition::NotExists),
            },
            bump_calendar(org_id, &booking.host_user_id, ctx.calendar_version),
        ];
        ops.extend(reminders::removal_ops(&old.reminder_keys()));
        ops.extend(planned.ops);
        ops.extend(contact::on_changed(state, &booking, "booking.rescheduled", now).await?);
        let change = BookingChange::Rescheduled {
            previous_start: old.start,
            previous_end: old.end,
        };
        let notice = notify::prepare(state, &booking, &change, None, false).await?;
        ops.extend(notice.as_ref().map(|(op, _)| op.clone()));
        ops.push(audit::entry(
            &actor,
            now,
            "booking.reschedule",
            &format!("booking:{id}"),
            json!({"by": manager.by(), "from": old.start, "to": booking.start}),
        ));
        match state.table().transact(ops).await {
            Ok(()) => {
                notify::queue(state, notice.map(|(_, pending)| pending)).await;
                notify::announce(state, &booking, "booking.rescheduled", now).await;
                google_event::queue(state, &booking).await;
                return Ok(booking.view());
            }
            Err(err) if should_retry(&err, attempt).await => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(exhausted())
}

/// Confirm or decline a booking that waits for the host.
pub async fn decide(
    state: &(impl HasTable + HasClock + HasJobs + HasGoogle),
    caller: &Caller,
    id: &BookingId,
    confirm: bool,
    reason: Option<String>,
) -> Result<BookingView, SchedulingError> {
    let reason = cancel_reason(reason)?;
    let old = get_record(state.table().as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&old.host_user_id)?;
    if old.status != BookingStatus::PendingConfirmation {
        return Err(SchedulingError::Conflict {
            code: "not_pending_confirmation",
            detail: "Only bookings waiting for confirmation can be confirmed or declined.".into(),
        });
    }
    let now = state.clock().now();
    let mut booking = old.clone();
    booking.updated_at = now.to_string();
    booking.version = old.version + 1;
    let mut ops = Vec::new();
    let (action, change) = if confirm {
        booking.status = BookingStatus::Confirmed;
        let reminder_plan =
            match event_types::get_record(state.table().as_ref(), &caller.org_id, &old.event_type_id).await {
                Ok(event) => event.reminders,
                Err(SchedulingError::NotFound) => reminders::default_plan(),
                Err(err) => return Err(err),
            };
        let planned = reminders::plan(
            &caller.org_id,
            id,
            booking.start,
            &reminder_plan,
            booking.invitee.sms_allowed(),
            now,
        )?;
        booking.reminder_keys = planned.keys.iter().map(StoredKey::from).collect();
        ops.push(booking_put(&booking, old.version)?);
        ops.extend(planned.ops);
        ("booking.confirm", BookingChange::Confirmed)
    } else {
        booking.status = BookingStatus::Declined;
        booking.cancel_reason = reason;
        booking.cancelled_by = Some(ChangedBy::Host);
        booking.reminder_keys = Vec::new();
        booking.sequence = old.sequence + 1;
        ops.push(booking_put(&booking, old.version)?);
        ops.push(WriteOp::Delete {
            key: old.calendar_key(),
            condition: None,
        });
        ops.extend(reminders::removal_ops(&old.reminder_keys()));
        ("booking.decline", BookingChange::Declined)
    };
    ops.extend(contact::on_changed(state, &booking, action, now).await?);
    let notice = notify::prepare(state, &booking, &change, None, true).await?;
    ops.extend(notice.as_ref().map(|(op, _)| op.clone()));
    ops.push(audit::entry(
        &caller.actor,
        now,
        action,
        &format!("booking:{id}"),
        json!({}),
    ));
    match state.table().transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { index: 0 }) => return Err(changed_concurrently()),
        Err(err) => return Err(err.into()),
    }
    notify::queue(state, notice.map(|(_, pending)| pending)).await;
    if !confirm {
        notify::announce(state, &booking, "booking.cancelled", now).await;
    }
    google_event::queue(state, &booking).await;
    Ok(booking.view())
}

/// Marks that the invitee did not come (only once the start has passed).
pub async fn mark_no_show(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    id: &BookingId,
) -> Result<BookingView, SchedulingError> {
    let old = get_record(state.table().as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&old.host_user_id)?;
    if old.status != BookingStatus::Confirmed {
        return Err(not_live(&old));
    }
    let now = state.clock().now();
    if old.start > now {
        return Err(SchedulingError::Conflict {
            code: "not_started",
            detail: "A booking can be marked as a no-show once it has started.".into(),
        });
    }
    let mut booking = old.clone();
    booking.no_show = true;
    booking.updated_at = now.to_string();
    booking.version = old.version + 1;
    let mut ops = vec![booking_put(&booking, old.version)?];
    ops.extend(contact::on_changed(state, &booking, "booking.no_show", now).await?);
    ops.push(audit::entry(
        &caller.actor,
        now,
        "booking.no_show",
        &format!("booking:{id}"),
        json!({}),
    ));
    match state.table().transact(ops).await {
        Ok(()) => Ok(booking.view()),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(changed_concurrently()),
        Err(err) => Err(err.into()),
    }
}
