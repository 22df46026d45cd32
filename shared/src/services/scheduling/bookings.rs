//! Bookings: the public booking flow (event info, slots, book), the host's
//! management (list, cancel, reschedule, confirm, decline, no-show) and the
//! invitee's management through the manage link's token.
//!
//! **No double booking** (DESIGN.md §5). Every change that takes time from a
//! host reads the host's calendar version item, then the host's live
//! calendar entries around the requested time (a strongly consistent
//! primary-index query), checks the start with [`is_bookable`], and commits
//! in ONE transaction: the booking, its calendar entry, the version bump
//! (`VersionEquals(read)` — `NotExists` for a host's first booking), the
//! contact change and timeline entry, the pending reminders and the audit
//! entry. Two concurrent bookings for one host read the same version, so at
//! most one commits; the other re-reads (bounded) and finds the slot gone.
//! A loser writes nothing: everything it would leave is in the transaction
//! that failed, and notifications are queued only after a commit.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::event_types::{self, EventTypeRecord, Location, QuestionKind};
use super::schedules::ScheduleRecord;
use super::{
    Caller, SchedulingError, booking_key, booking_uid_key, event_slug_key, event_type_key, host_bookings_index,
    host_calendar_key, host_calendar_partition, host_calendar_version_key, invalid, schedule_key, time_sort,
};
use crate::app::AppState;
use crate::domain::email::Email;
use crate::domain::phone::Phone;
use crate::domain::slots::{
    Booked, Busy, InvalidField, SlotInputs, SlotRejection, compute_slots, is_bookable, lookup_range,
};
use crate::domain::slug::Slug;
use crate::ports::busy::{BusyTimes, NoBusyTimes};
use crate::ports::{Condition, Index, Item, Key, Query, SortKey, StoreError, Table, Update, WriteOp};
use crate::services::audit::{self, Actor};
use crate::services::records::{OrgRecord, from_item, new_id, org_key, slug_key, to_item};
use crate::services::reminders;
use crate::services::secrets::{new_token, token_hash};

/// Attempts of one booking change before giving up on a busy host calendar.
/// A loser of a race needs one more attempt to see the winner; with `seats`
/// seats, at most `seats` commits can beat it.
pub const MAX_ATTEMPTS: usize = 12;
/// Longest slot range one request may ask for.
pub const MAX_SLOT_RANGE_DAYS: i64 = 62;

/// Where external busy times come from. Google Calendar fills this later;
/// until then no host is ever busy outside Konnecs.
pub fn busy_source(_state: &AppState) -> &'static dyn BusyTimes {
    static NONE: NoBusyTimes = NoBusyTimes;
    &NONE
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Holds the time; waits for the host (requires-confirmation events).
    PendingConfirmation,
    Confirmed,
    Cancelled,
    Declined,
}

impl BookingStatus {
    fn is_live(self) -> bool {
        matches!(self, BookingStatus::PendingConfirmation | BookingStatus::Confirmed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    Host,
    Invitee,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitee {
    pub name: String,
    pub email: String,
    /// E.164.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub sms_consent: bool,
    /// The consent wording the invitee agreed to, kept as evidence.
    #[serde(default)]
    pub sms_consent_text: Option<String>,
    pub time_zone: String,
}

impl Invitee {
    pub fn sms_allowed(&self) -> bool {
        self.phone.is_some() && self.sms_consent
    }
}

/// A key as stored on a booking (the reminders it owns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub pk: String,
    pub sk: String,
}

impl From<&Key> for StoredKey {
    fn from(key: &Key) -> Self {
        Self {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
        }
    }
}

impl StoredKey {
    fn key(&self) -> Key {
        Key::new(self.pk.clone(), self.sk.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookingRecord {
    pub id: String,
    pub org_id: String,
    pub event_type_id: String,
    pub event_title: String,
    pub host_user_id: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub duration: u32,
    pub buffer_before: u32,
    pub buffer_after: u32,
    /// The host's (schedule's) zone when booked, for the host's messages.
    #[serde(default)]
    pub host_time_zone: String,
    pub status: BookingStatus,
    #[serde(default)]
    pub no_show: bool,
    pub location: Option<Location>,
    pub invitee: Invitee,
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
    #[serde(default)]
    pub contact_id: Option<String>,
    /// SHA-256 of the manage-link token.
    pub token_hash: String,
    /// Keys of this booking's pending reminders.
    #[serde(default)]
    pub reminder_keys: Vec<StoredKey>,
    /// iCalendar SEQUENCE: 0 when booked, +1 per reschedule.
    pub sequence: u32,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub cancelled_by: Option<ChangedBy>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl BookingRecord {
    fn calendar_key(&self) -> Key {
        host_calendar_key(&self.org_id, &self.host_user_id, self.start.as_second(), &self.id)
    }

    fn reminder_keys(&self) -> Vec<Key> {
        self.reminder_keys.iter().map(StoredKey::key).collect()
    }

    pub fn item(&self) -> Result<Item, StoreError> {
        to_item(
            &booking_key(&self.org_id, &self.id),
            self,
            &[
                ("gsi1pk", host_bookings_index(&self.org_id, &self.host_user_id).into()),
                (
                    "gsi1sk",
                    format!("{}#{}", time_sort(self.start.as_second()), self.id).into(),
                ),
            ],
        )
    }

    /// The host calendar entry: what the overlap check reads.
    pub fn calendar_entry(&self) -> Item {
        let key = self.calendar_key();
        crate::services::object(json!({
            "pk": key.pk,
            "sk": key.sk,
            "booking_id": self.id,
            "event_type_id": self.event_type_id,
            "starts_at": self.start.as_second(),
            "ends_at": self.end.as_second(),
            "buffer_before": self.buffer_before,
            "buffer_after": self.buffer_after,
            "seats_taken": 1,
        }))
    }

    pub fn view(&self) -> BookingView {
        BookingView {
            id: self.id.clone(),
            uid: self.id.clone(),
            org_id: self.org_id.clone(),
            event_type_id: self.event_type_id.clone(),
            event_title: self.event_title.clone(),
            host_user_id: self.host_user_id.clone(),
            start: self.start,
            end: self.end,
            duration: self.duration,
            status: self.status,
            no_show: self.no_show,
            location: self.location.clone(),
            invitee: self.invitee.clone(),
            answers: self.answers.clone(),
            contact_id: self.contact_id.clone(),
            sequence: self.sequence,
            cancel_reason: self.cancel_reason.clone(),
            cancelled_by: self.cancelled_by,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// What the API shows of a booking (and what notifications are built from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookingView {
    pub id: String,
    /// The public id in manage links (the same as `id`).
    pub uid: String,
    pub org_id: String,
    pub event_type_id: String,
    pub event_title: String,
    pub host_user_id: String,
    pub start: Timestamp,
    pub end: Timestamp,
    pub duration: u32,
    pub status: BookingStatus,
    pub no_show: bool,
    pub location: Option<Location>,
    pub invitee: Invitee,
    pub answers: BTreeMap<String, Value>,
    pub contact_id: Option<String>,
    pub sequence: u32,
    pub cancel_reason: Option<String>,
    pub cancelled_by: Option<ChangedBy>,
    pub created_at: String,
    pub updated_at: String,
}

/// What happened to a booking, for notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BookingChange {
    Booked,
    Rescheduled {
        previous_start: Timestamp,
        previous_end: Timestamp,
    },
    Cancelled {
        by: ChangedBy,
    },
    Confirmed,
    Declined,
    NoShow,
}

/// A booking just made: its view and the manage link (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct NewBooking {
    pub booking: BookingView,
    pub manage_token: String,
    pub manage_url: String,
}

// ---------------------------------------------------------------------------
// Reading the host calendar

/// One live booking on the host calendar.
#[derive(Debug, Clone, Deserialize)]
struct CalendarEntry {
    booking_id: String,
    event_type_id: String,
    starts_at: i64,
    ends_at: i64,
    #[serde(default)]
    buffer_before: u32,
    #[serde(default)]
    buffer_after: u32,
    #[serde(default = "one")]
    seats_taken: u32,
}

fn one() -> u32 {
    1
}

impl CalendarEntry {
    fn booked(&self, event_type_id: &str) -> Option<Booked> {
        Some(Booked {
            start: Timestamp::from_second(self.starts_at).ok()?,
            end: Timestamp::from_second(self.ends_at).ok()?,
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            same_event_type: self.event_type_id == event_type_id,
            seats_taken: self.seats_taken,
        })
    }
}

/// The host's live bookings starting in `[from, to]`: one strongly
/// consistent query (more pages only past 1,000 bookings).
async fn host_calendar(
    table: &dyn Table,
    org_id: &str,
    host_user_id: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<CalendarEntry>, StoreError> {
    let mut entries = Vec::new();
    let mut cursor = None;
    let sort = SortKey::Between(time_sort(from.as_second()), format!("{}~", time_sort(to.as_second())));
    for _ in 0..50 {
        let page = table
            .query(
                &Query::partition(host_calendar_partition(org_id, host_user_id))
                    .sort(sort.clone())
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            entries.push(from_item::<CalendarEntry>(item)?);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(entries)
}

fn version_of(item: Option<&Item>) -> Option<u64> {
    item.map(|i| i.get("version").and_then(Value::as_u64).unwrap_or(0))
}

/// The version bump that makes the overlap check and the commit one step.
pub fn bump_calendar(org_id: &str, host_user_id: &str, read: Option<u64>) -> WriteOp {
    WriteOp::Update {
        key: host_calendar_version_key(org_id, host_user_id),
        update: Update::default().add("version", 1),
        condition: Some(match read {
            Some(version) => Condition::VersionEquals(version),
            None => Condition::NotExists,
        }),
    }
}

fn rejection(reason: SlotRejection) -> SchedulingError {
    match reason {
        SlotRejection::Conflicts | SlotRejection::NoSeatsLeft | SlotRejection::LimitReached => {
            SchedulingError::SlotTaken
        }
        other => SchedulingError::NotOffered(other),
    }
}

/// Whether a failed commit is worth another read-check-commit round.
async fn should_retry(err: &StoreError, attempt: usize) -> bool {
    match err {
        StoreError::TransactionConditionFailed { .. } | StoreError::ConditionFailed => true,
        StoreError::Contention => {
            // Someone else holds the items; back off a little, with jitter.
            let jitter = u64::from(rand::random::<u8>() % 20);
            tokio::time::sleep(Duration::from_millis(5 * (attempt as u64 + 1) + jitter)).await;
            true
        }
        _ => false,
    }
}

fn exhausted() -> SchedulingError {
    SchedulingError::Store(StoreError::Contention)
}

// ---------------------------------------------------------------------------
// Loading what the public pages need

/// The event type of a public page with everything its slots depend on.
struct Context {
    org: OrgRecord,
    event: EventTypeRecord,
    schedule: ScheduleRecord,
    /// The host calendar version as read (None: never booked).
    calendar_version: Option<u64>,
}

/// The pointer behind `/book/{org}/{event}`.
struct Pointer {
    org_id: String,
    event_type_id: String,
    schedule_id: String,
    host_user_id: String,
}

async fn pointer(table: &dyn Table, org_slug: &str, event_slug: &str) -> Result<Pointer, SchedulingError> {
    let (Ok(org_slug), Ok(event_slug)) = (Slug::parse(org_slug), Slug::parse(event_slug)) else {
        return Err(SchedulingError::NotFound);
    };
    let org = table
        .get(&slug_key(org_slug.as_str()))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    let org_id = text(&org, "org_id").ok_or(SchedulingError::NotFound)?;
    let item = table
        .get(&event_slug_key(&org_id, event_slug.as_str()))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    Ok(Pointer {
        event_type_id: text(&item, "event_type_id").ok_or(SchedulingError::NotFound)?,
        schedule_id: text(&item, "schedule_id").unwrap_or_default(),
        host_user_id: text(&item, "host_user_id").unwrap_or_default(),
        org_id,
    })
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_string)
}

/// One consistent batch read: org, event type, schedule and the host
/// calendar version. A pointer gone stale (the event type just moved to
/// another schedule or host) costs one more read.
async fn load(table: &dyn Table, p: &Pointer) -> Result<Context, SchedulingError> {
    let keys = [
        org_key(&p.org_id),
        event_type_key(&p.org_id, &p.event_type_id),
        schedule_key(&p.org_id, &p.schedule_id),
        host_calendar_version_key(&p.org_id, &p.host_user_id),
    ];
    let items = table.batch_get(&keys).await?;
    let find = |key: &Key| items.iter().find(|item| Key::of(item).as_ref() == Some(key)).cloned();
    let org: OrgRecord = from_item(find(&keys[0]).ok_or(SchedulingError::NotFound)?)?;
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
async fn load_for_event(table: &dyn Table, org: OrgRecord, event: EventTypeRecord) -> Result<Context, SchedulingError> {
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

async fn public_context(
    state: &AppState,
    org_slug: &str,
    event_slug: &str,
) -> Result<(Pointer, Context), SchedulingError> {
    let p = pointer(state.table.as_ref(), org_slug, event_slug).await?;
    let ctx = load(state.table.as_ref(), &p).await?;
    if !ctx.event.active {
        return Err(SchedulingError::NotFound);
    }
    Ok((p, ctx))
}

/// Event info for the public page.
#[derive(Debug, Clone, Serialize)]
pub struct PublicEvent {
    pub org_name: String,
    pub org_slug: String,
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

fn public_location(location: &Option<Location>) -> Option<Value> {
    Some(match location.as_ref()? {
        Location::InPerson { address } => json!({"kind": "in_person", "address": address}),
        Location::Phone { .. } => json!({"kind": "phone"}),
        Location::Video { .. } => json!({"kind": "video"}),
    })
}

pub async fn public_event(state: &AppState, org_slug: &str, event_slug: &str) -> Result<PublicEvent, SchedulingError> {
    let (_, ctx) = public_context(state, org_slug, event_slug).await?;
    Ok(PublicEvent {
        org_name: ctx.org.name,
        org_slug: ctx.org.slug,
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

#[derive(Debug, Clone, Default, Deserialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct SlotView {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Wall-clock start in the invitee's zone, `HH:MM`.
    pub time: String,
    pub seats_left: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayView {
    pub date: Date,
    pub slots: Vec<SlotView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlotsView {
    pub time_zone: String,
    pub duration: u32,
    pub from: Timestamp,
    pub to: Timestamp,
    pub days: Vec<DayView>,
}

fn zone(field: &str, name: &str) -> Result<TimeZone, SchedulingError> {
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
fn bound(field: &str, raw: &str, tz: &TimeZone, end: bool) -> Result<Timestamp, SchedulingError> {
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
    state: &AppState,
    org_slug: &str,
    event_slug: &str,
    query: SlotsQuery,
) -> Result<SlotsView, SchedulingError> {
    let (_, ctx) = public_context(state, org_slug, event_slug).await?;
    let tz = match &query.tz {
        Some(name) if !name.trim().is_empty() => zone("tz", name)?,
        _ => ctx.schedule.schedule.time_zone().clone(),
    };
    let duration = query.duration.unwrap_or(ctx.event.default_duration);
    let rules = ctx.event.rules(duration)?;
    let now = state.clock.now();
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
    let entries = host_calendar(state.table.as_ref(), &ctx.org.id, &ctx.event.host_user_id, lo, hi).await?;
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

// ---------------------------------------------------------------------------
// Booking

#[derive(Debug, Clone, Default, Deserialize)]
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
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub answers: BTreeMap<String, Value>,
}

fn parse_start(field: &str, raw: &str, errors: &mut Vec<InvalidField>) -> Option<Timestamp> {
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

fn is_blank(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Bool(b)) => !b,
        _ => false,
    }
}

/// Checks answers against the event type's questions; returns them cleaned.
fn check_answers(
    event: &EventTypeRecord,
    answers: &BTreeMap<String, Value>,
    country: &str,
    errors: &mut Vec<InvalidField>,
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
            if q.required {
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

struct ValidRequest {
    start: Timestamp,
    duration: u32,
    invitee: Invitee,
    answers: BTreeMap<String, Value>,
}

fn validate_request(ctx: &Context, request: &BookingRequest) -> Result<ValidRequest, SchedulingError> {
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
    let time_zone = request.time_zone.trim().to_string();
    if let Err(SchedulingError::Invalid(mut fields)) = zone("time_zone", &time_zone) {
        errors.append(&mut fields);
    }
    let answers = check_answers(&ctx.event, &request.answers, &ctx.org.country, &mut errors);
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
async fn check_free(
    state: &AppState,
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
    let entries = host_calendar(state.table.as_ref(), &ctx.org.id, &ctx.event.host_user_id, lo, hi).await?;
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
        now: state.clock.now(),
    };
    is_bookable(inputs, start).map_err(rejection)
}

fn manage_url(state: &AppState, uid: &str, token: &str) -> String {
    format!(
        "{}/booking/{uid}?token={token}",
        state.config.public_url.trim_end_matches('/')
    )
}

fn public_actor(org_id: &str, meta: &Actor) -> Actor {
    Actor {
        org_id: org_id.to_string(),
        user_id: None,
        ..meta.clone()
    }
}

/// `POST /public/booking/{org}/{event}/bookings`.
pub async fn book(
    state: &AppState,
    org_slug: &str,
    event_slug: &str,
    request: BookingRequest,
    meta: &Actor,
) -> Result<NewBooking, SchedulingError> {
    let (p, mut ctx) = public_context(state, org_slug, event_slug).await?;
    let valid = validate_request(&ctx, &request)?;
    let actor = public_actor(&ctx.org.id, meta);
    let token = new_token();
    let end = valid
        .start
        .checked_add(jiff::SignedDuration::from_mins(i64::from(valid.duration)))
        .map_err(|_| SchedulingError::NotOffered(SlotRejection::OutsideWindow))?;
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            ctx = load(state.table.as_ref(), &p).await?;
            if !ctx.event.active {
                return Err(SchedulingError::NotFound);
            }
        }
        check_free(state, &ctx, valid.duration, valid.start, None).await?;
        let now = state.clock.now();
        let status = if ctx.event.requires_confirmation {
            BookingStatus::PendingConfirmation
        } else {
            BookingStatus::Confirmed
        };
        let id = new_id();
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
        let contact = match contact::on_booked(state, &booking, &actor, now).await {
            Ok(contact) => contact,
            // The invitee's contact is changing right now: plan the booking again.
            Err(SchedulingError::Store(err)) if should_retry(&err, attempt).await => continue,
            Err(err) => return Err(err),
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
            &actor,
            now,
            "booking.create",
            &format!("booking:{id}"),
            json!({"event_type_id": booking.event_type_id, "start": booking.start, "status": booking.status}),
        ));
        match state.table.transact(ops).await {
            Ok(()) => {
                notify::queue(state, notice.map(|(_, pending)| pending)).await;
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

// ---------------------------------------------------------------------------
// Managing bookings

/// Who manages a booking.
pub enum Manager<'a> {
    Host(&'a Caller),
    /// The invitee, proven by the manage-link token.
    Invitee {
        meta: &'a Actor,
    },
}

impl Manager<'_> {
    /// Members change their own appointments, admins anyone's; the invitee
    /// proved theirs with the token already.
    fn may_change(&self, booking: &BookingRecord) -> Result<(), SchedulingError> {
        match self {
            Manager::Host(caller) => caller.may_manage_for(&booking.host_user_id),
            Manager::Invitee { .. } => Ok(()),
        }
    }
    fn by(&self) -> ChangedBy {
        match self {
            Manager::Host(_) => ChangedBy::Host,
            Manager::Invitee { .. } => ChangedBy::Invitee,
        }
    }
    fn actor(&self, org_id: &str) -> Actor {
        match self {
            Manager::Host(caller) => caller.actor.clone(),
            Manager::Invitee { meta } => public_actor(org_id, meta),
        }
    }
}

pub async fn get_record(table: &dyn Table, org_id: &str, id: &str) -> Result<BookingRecord, SchedulingError> {
    let item = table
        .get(&booking_key(org_id, id))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    Ok(from_item(item)?)
}

/// The org of a manage link whose token matches (constant-time, on the
/// stored hash). Unknown uid and wrong token are the same 404.
pub async fn org_of_token(table: &dyn Table, uid: &str, token: &str) -> Result<String, SchedulingError> {
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
    text(&item, "org_id").ok_or(SchedulingError::NotFound)
}

pub async fn get_by_token(state: &AppState, uid: &str, token: &str) -> Result<BookingView, SchedulingError> {
    let org_id = org_of_token(state.table.as_ref(), uid, token).await?;
    Ok(get_record(state.table.as_ref(), &org_id, uid).await?.view())
}

pub async fn get_for_host(state: &AppState, caller: &Caller, id: &str) -> Result<BookingView, SchedulingError> {
    Ok(get_record(state.table.as_ref(), &caller.org_id, id).await?.view())
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
    async fn resolve(&self, state: &AppState, org_id: &str) -> Result<(Timestamp, Timestamp), SchedulingError> {
        let is_date = |raw: &str| raw.trim().parse::<jiff::civil::Date>().is_ok();
        let tz = match (self.tz, is_date(self.from) || is_date(self.to)) {
            (Some(name), _) => zone("tz", name)?,
            (None, true) => {
                let org: OrgRecord = from_item(
                    state
                        .table
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
    state: &AppState,
    caller: &Caller,
    host_user_id: Option<&str>,
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
            .table
            .query(
                &Query::partition(host_bookings_index(&caller.org_id, host))
                    .on(Index::Gsi1)
                    .sort(sort.clone())
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            views.push(from_item::<BookingRecord>(item)?.view());
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(views)
}

/// A cancel or decline reason as kept: trimmed, blank = none, ≤ 1,000 characters.
fn cancel_reason(reason: Option<String>) -> Result<Option<String>, SchedulingError> {
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

fn already_started() -> SchedulingError {
    SchedulingError::Conflict {
        code: "already_started",
        detail: "The appointment has started; ask the business to change it.".into(),
    }
}

fn not_live(booking: &BookingRecord) -> SchedulingError {
    SchedulingError::Conflict {
        code: "booking_not_active",
        detail: format!("The booking is {:?} and can no longer change.", booking.status).to_lowercase(),
    }
}

fn changed_concurrently() -> SchedulingError {
    SchedulingError::Conflict {
        code: "conflict",
        detail: "The booking changed concurrently; read it again.".into(),
    }
}

/// The booking put with `VersionEquals(read)`: the guard of every change.
fn booking_put(booking: &BookingRecord, read_version: u64) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put {
        item: booking.item()?,
        condition: Some(Condition::VersionEquals(read_version)),
    })
}

pub async fn cancel(
    state: &AppState,
    org_id: &str,
    id: &str,
    reason: Option<String>,
    manager: Manager<'_>,
) -> Result<BookingView, SchedulingError> {
    let reason = cancel_reason(reason)?;
    let old = get_record(state.table.as_ref(), org_id, id).await?;
    manager.may_change(&old)?;
    if !old.status.is_live() {
        return Err(not_live(&old));
    }
    let now = state.clock.now();
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
    match state.table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { index: 0 }) => return Err(changed_concurrently()),
        Err(err) => return Err(err.into()),
    }
    notify::queue(state, notice.map(|(_, pending)| pending)).await;
    Ok(booking.view())
}

pub async fn reschedule(
    state: &AppState,
    org_id: &str,
    id: &str,
    raw_start: &str,
    manager: Manager<'_>,
) -> Result<BookingView, SchedulingError> {
    let mut errors = Vec::new();
    let Some(start) = parse_start("start", raw_start, &mut errors) else {
        return Err(SchedulingError::Invalid(errors));
    };
    let actor = manager.actor(org_id);
    for attempt in 0..MAX_ATTEMPTS {
        let old = get_record(state.table.as_ref(), org_id, id).await?;
        manager.may_change(&old)?;
        if !old.status.is_live() {
            return Err(not_live(&old));
        }
        if old.start <= state.clock.now() && matches!(manager, Manager::Invitee { .. }) {
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
                .table
                .get(&org_key(org_id))
                .await?
                .ok_or(SchedulingError::NotFound)?,
        )?;
        let event = match event_types::get_record(state.table.as_ref(), org_id, &old.event_type_id).await {
            Ok(event) => event,
            Err(SchedulingError::NotFound) => {
                return Err(SchedulingError::Conflict {
                    code: "event_type_gone",
                    detail: "The event type of this booking no longer exists; book a new time instead.".into(),
                });
            }
            Err(err) => return Err(err),
        };
        let mut ctx = load_for_event(state.table.as_ref(), org, event).await?;
        // The booking keeps its own duration even if the event type's offer changed.
        if !ctx.event.durations.contains(&old.duration) {
            ctx.event.durations.push(old.duration);
        }
        check_free(state, &ctx, old.duration, start, Some(&old.id)).await?;
        let now = state.clock.now();
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
        match state.table.transact(ops).await {
            Ok(()) => {
                notify::queue(state, notice.map(|(_, pending)| pending)).await;
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
    state: &AppState,
    caller: &Caller,
    id: &str,
    confirm: bool,
    reason: Option<String>,
) -> Result<BookingView, SchedulingError> {
    let reason = cancel_reason(reason)?;
    let old = get_record(state.table.as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&old.host_user_id)?;
    if old.status != BookingStatus::PendingConfirmation {
        return Err(SchedulingError::Conflict {
            code: "not_pending_confirmation",
            detail: "Only bookings waiting for confirmation can be confirmed or declined.".into(),
        });
    }
    let now = state.clock.now();
    let mut booking = old.clone();
    booking.updated_at = now.to_string();
    booking.version = old.version + 1;
    let mut ops = Vec::new();
    let (action, change) = if confirm {
        booking.status = BookingStatus::Confirmed;
        let reminder_plan =
            match event_types::get_record(state.table.as_ref(), &caller.org_id, &old.event_type_id).await {
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
    match state.table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { index: 0 }) => return Err(changed_concurrently()),
        Err(err) => return Err(err.into()),
    }
    notify::queue(state, notice.map(|(_, pending)| pending)).await;
    Ok(booking.view())
}

/// Marks that the invitee did not come (only once the start has passed).
pub async fn mark_no_show(state: &AppState, caller: &Caller, id: &str) -> Result<BookingView, SchedulingError> {
    let old = get_record(state.table.as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&old.host_user_id)?;
    if old.status != BookingStatus::Confirmed {
        return Err(not_live(&old));
    }
    let now = state.clock.now();
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
    match state.table.transact(ops).await {
        Ok(()) => Ok(booking.view()),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(changed_concurrently()),
        Err(err) => Err(err.into()),
    }
}

// ---------------------------------------------------------------------------
// The contact step and notifications: kept apart so the contacts and
// notifications modules plug in at one place each.

mod contact {
    use super::*;
    use crate::services::contacts::{
        self, ConsentInput, ConsentStatus, ContactError, EmailInput, NewContact, PhoneInput,
    };

    /// What a booking does to the CRM inside its own transaction.
    pub struct ContactStep {
        /// The invitee's contact (new or existing), when it could be planned.
        pub contact_id: Option<String>,
        pub ops: Vec<WriteOp>,
    }

    /// Read phase: the invitee becomes a contact (created, or merged into the
    /// contact that has their email: a phone and SMS consent fill its blanks)
    /// with a `booking.created` timeline entry, all as operations of the
    /// booking's own transaction. A booking that loses its race therefore
    /// leaves no contact and no timeline entry behind, and a crash cannot
    /// leave a booking without its contact.
    pub async fn on_booked(
        state: &AppState,
        booking: &BookingRecord,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<ContactStep, SchedulingError> {
        let caller = contacts::Caller {
            actor: actor.clone(),
            user_id: booking.host_user_id.clone(),
            is_admin: false,
        };
        let mut input = new_contact(booking);
        let planned = match contacts::plan_upsert(state, &caller, input.clone(), now).await {
            // The phone belongs to another contact: the booking is by email, so
            // the email's contact gets the booking and the phone stays where it is.
            Err(ContactError::Duplicate { field, .. }) if field == "phones" => {
                input.phones.clear();
                input.sms_consent = None;
                contacts::plan_upsert(state, &caller, input, now).await
            }
            other => other,
        };
        let planned = match planned {
            Ok(planned) => planned,
            Err(ContactError::Store(err)) => return Err(err.into()),
            // Someone changes that contact right now: the booking's retry plans again.
            Err(ContactError::Conflict(_)) => return Err(StoreError::ConditionFailed.into()),
            Err(err) => {
                // The booking was validated already; a contact the CRM refuses
                // (e.g. too many values once merged) must not cost the customer
                // their appointment.
                tracing::warn!(booking_id = %booking.id, error = %err, "booking kept without a contact");
                return Ok(ContactStep {
                    contact_id: None,
                    ops: Vec::new(),
                });
            }
        };
        let contact_id = planned.contact.id.clone();
        let mut ops = planned.ops;
        ops.push(contacts::timeline_entry(
            &booking.org_id,
            &contact_id,
            "booking.created",
            detail(booking),
            now,
        ));
        Ok(ContactStep {
            contact_id: Some(contact_id),
            ops,
        })
    }

    fn detail(booking: &BookingRecord) -> Value {
        json!({
            "booking_id": booking.id,
            "event_type_id": booking.event_type_id,
            "event_title": booking.event_title,
            "start": booking.start,
            "end": booking.end,
            "status": booking.status,
        })
    }

    fn new_contact(booking: &BookingRecord) -> NewContact {
        let name = booking.invitee.name.trim();
        let (first, last) = match name.split_once(' ') {
            Some((first, last)) => (first.to_string(), Some(last.trim().to_string())),
            None => (name.to_string(), None),
        };
        NewContact {
            first_name: Some(first),
            last_name: last,
            emails: vec![EmailInput::Plain(booking.invitee.email.clone())],
            phones: booking.invitee.phone.iter().cloned().map(PhoneInput::Plain).collect(),
            source: Some("booking".into()),
            sms_consent: booking.invitee.sms_allowed().then(|| ConsentInput {
                status: ConsentStatus::Granted,
                source: "booking".into(),
                text: booking.invitee.sms_consent_text.clone(),
                ip: None,
                at: None,
            }),
            ..NewContact::default()
        }
    }

    /// The timeline entry of a later change (cancel, reschedule, ...), when
    /// the contact still exists.
    pub async fn on_changed(
        state: &AppState,
        booking: &BookingRecord,
        kind: &str,
        now: Timestamp,
    ) -> Result<Vec<WriteOp>, SchedulingError> {
        let Some(contact_id) = &booking.contact_id else {
            return Ok(Vec::new());
        };
        if state
            .table
            .get(&contacts::contact_key(&booking.org_id, contact_id))
            .await?
            .is_none()
        {
            return Ok(Vec::new());
        }
        let mut detail = detail(booking);
        detail["cancel_reason"] = json!(booking.cancel_reason);
        Ok(vec![contacts::timeline_entry(
            &booking.org_id,
            contact_id,
            kind,
            detail,
            now,
        )])
    }
}

mod notify {
    use super::*;
    use crate::services::notifications::{self, BookingNotice};
    use crate::services::records::{MemberRecord, member_key};

    fn location(booking: &BookingRecord) -> Option<String> {
        Some(match booking.location.as_ref()? {
            Location::InPerson { address } => address.clone(),
            Location::Phone { number: Some(number) } => format!("Phone call: {number}"),
            Location::Phone { number: None } => "Phone call (we will call you)".to_string(),
            Location::Video { url } => url.clone(),
        })
    }

    /// What to send once the change committed.
    pub struct Pending {
        notice: BookingNotice,
        change: notifications::BookingChange,
    }

    /// The booking's notice after `change` (what reminders and messages
    /// need: org and host names, times, the manage link) as an operation of
    /// the change's own transaction, so reminders never see a booking
    /// without its current notice. One batch read (org, host, stored notice,
    /// whose manage link a change without the token keeps). `None` when
    /// nothing is sent (a no-show mark) or the host left the organization.
    pub async fn prepare(
        state: &AppState,
        booking: &BookingRecord,
        change: &BookingChange,
        manage_url: Option<&str>,
        // The booking waited for confirmation before this change.
        pending_before: bool,
    ) -> Result<Option<(WriteOp, Pending)>, SchedulingError> {
        let pending_confirmation = booking.status == BookingStatus::PendingConfirmation;
        let change = match change {
            // Never confirmed: its end is told like the request was, by email only.
            BookingChange::Cancelled { .. } | BookingChange::Declined if pending_before => {
                notifications::BookingChange::RequestCancelled {
                    reason: booking.cancel_reason.clone(),
                }
            }
            // Not an appointment yet: a request, without invite or SMS.
            BookingChange::Booked | BookingChange::Rescheduled { .. } if pending_confirmation => {
                notifications::BookingChange::Requested
            }
            BookingChange::Booked | BookingChange::Confirmed => notifications::BookingChange::Booked,
            BookingChange::Rescheduled { previous_start, .. } => notifications::BookingChange::Rescheduled {
                previous_starts_at: previous_start.as_second(),
            },
            BookingChange::Cancelled { .. } | BookingChange::Declined => notifications::BookingChange::Cancelled {
                reason: booking.cancel_reason.clone(),
            },
            BookingChange::NoShow => return Ok(None),
        };
        let keys = [
            org_key(&booking.org_id),
            member_key(&booking.org_id, &booking.host_user_id),
            notifications::notice_key(&booking.org_id, &booking.id),
        ];
        let items = state.table.batch_get(&keys).await?;
        let find = |key: &Key| items.iter().find(|item| Key::of(item).as_ref() == Some(key)).cloned();
        let org = find(&keys[0]).and_then(|item| from_item::<OrgRecord>(item).ok());
        let host = find(&keys[1]).and_then(|item| from_item::<MemberRecord>(item).ok());
        let stored_link = find(&keys[2]).and_then(|item| text(&item, "manage_url"));
        let (Some(org), Some(host)) = (org, host) else {
            tracing::error!(booking_id = %booking.id, "the booking's org or host is gone; no notice sent");
            return Ok(None);
        };
        let notice = BookingNotice {
            org_id: booking.org_id.clone(),
            booking_id: booking.id.clone(),
            org_name: org.name,
            event_title: booking.event_title.clone(),
            location: location(booking),
            host_name: host.name,
            host_email: host.email,
            host_time_zone: booking.host_time_zone.clone(),
            customer_name: booking.invitee.name.clone(),
            customer_email: booking.invitee.email.clone(),
            customer_phone: booking.invitee.phone.clone(),
            sms_consent: booking.invitee.sms_consent,
            customer_time_zone: booking.invitee.time_zone.clone(),
            starts_at: booking.start.as_second(),
            ends_at: booking.end.as_second(),
            sequence: booking.sequence,
            manage_url: manage_url.map(str::to_string).or(stored_link),
        };
        let item = notifications::notice_item(&notice, &change).map_err(|err| match err {
            notifications::NotificationError::Store(err) => SchedulingError::Store(err),
            other => SchedulingError::Store(StoreError::Invalid(other.to_string())),
        })?;
        let op = WriteOp::Put { item, condition: None };
        Ok(Some((op, Pending { notice, change })))
    }

    /// Queues the messages of a committed change. Never inside the
    /// transaction: a loser of a race must not send anything, and a queue
    /// hiccup must not undo a booking. A failure is logged; the change stands.
    pub async fn queue(state: &AppState, pending: Option<Pending>) {
        let Some(Pending { notice, change }) = pending else {
            return;
        };
        if let Err(err) = notifications::queue_messages(state, &notice, &change).await {
            tracing::error!(booking_id = %notice.booking_id, error = %err, "could not queue the booking's notifications");
        }
    }
}
