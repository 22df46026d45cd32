//! Reminder dispatch: the minute tick finds due reminders
//! with queries only and fans them out through the reminders queue; the
//! consumer sends each one at most once.
//!
//! The reminder items themselves (one per booking, offset and channel, in
//! one of the [`reminders::SHARDS`] partitions of their due minute) are
//! created and removed by [`crate::services::reminders`] inside the
//! booking's transactions.
//!
//! **Tick.** A cursor item remembers the last minute processed. Each tick
//! queries every minute after the cursor up to the current minute (at most
//! [`CATCH_UP_MINUTES`] back, and at most [`MINUTES_PER_TICK`] per run),
//! sends the pending reminders to the queue in batches of 10, then advances
//! the cursor. A missed tick is therefore caught up by the next one. The
//! shards of a minute (and of the minutes of one chunk) are queried
//! concurrently, and the batches are sent concurrently: the busiest minute
//! of a day holds hundreds of thousands of reminders on the internet-scale
//! population of BENCHMARKS.md, which one query and one send after another
//! would not read and fan out inside the function's timeout.
//!
//! **Two layouts, read until the old one drains.** Releases before the
//! shards kept a minute in one partition (`REMINDERS#<minute>`,
//! [`reminders::legacy_partition`]). Those reminders are not migrated: the
//! tick reads each minute's legacy partition beside its shards, so a pending
//! reminder of the old layout is fanned out (once it is sent, the consumer's
//! conditional `pending → sent` makes any repeat a no-op) and its booking
//! still deletes it by the key it lists. Only an earlier release can have
//! written that layout, at most [`LEGACY_HORIZON_MINUTES`] before its due
//! time (the longest booking window plus a day), so the first tick of this
//! release stores on the cursor the last minute that can hold one
//! (`legacy_until_s`) and later minutes are read in shards only: the extra
//! read ends by itself once the old layout has drained.
//!
//! **Consumer.** For each message: a reminder whose appointment has started
//! is dropped (`status: "dropped"`); otherwise the reminder moves
//! `pending → sent` by a conditional write *before* anything is sent, so a
//! redelivered (or concurrently delivered) message sends nothing the second
//! time. A send that fails transiently moves it back to `pending` and the
//! message is reported failed: it is delivered again, and after
//! `QueueName::Reminders.max_receives()` receives it goes to the dead-letter queue.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | tick cursor (`minute_s`, `minute`, `legacy_until_s`) | `REMINDERTICK` | `CURSOR` |

use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use futures::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::sms::reminder_time;
use crate::ports::queue::MAX_BATCH;
use crate::ports::{Condition, Key, Query, StoreError, Update};
use crate::ports::{HasClock, HasConfig, HasMailer, HasReminders, HasSms, HasTable};
use crate::services::notifications::{self, SmsOutcome, SmsRequest, SmsSendError};
use crate::services::object;
use crate::services::reminders;
use crate::services::scheduling::bookings::{BookingRecord, StoredKey};
use crate::services::scheduling::{SchedulingError, booking_key, bookings};
use crate::services::sms;
use jiff::tz::TimeZone;

/// How far back a tick looks when the cursor is older (or missing).
pub const CATCH_UP_MINUTES: i64 = 48 * 60;
/// Where a first tick (no cursor yet) starts.
pub const FIRST_TICK_LOOKBACK_MINUTES: i64 = 60;
/// Minute partitions one tick queries at most; a longer backlog continues
/// on the next tick (keeps a Lambda run well inside its timeout).
pub const MINUTES_PER_TICK: i64 = 6 * 60;
/// Minutes before the cursor each tick reads again (see `tick`). A booking
/// commits within seconds of planning, so two minutes cover the gap.
pub const RESCAN_MINUTES: i64 = 2;
/// Minutes one chunk covers: the cursor advances after each chunk.
pub const CHUNK_MINUTES: i64 = 16;
/// Partition queries in flight at once (shards of several minutes).
pub const QUERY_CONCURRENCY: usize = 64;
/// Queue batches (of 10 messages) in flight at once.
pub const SEND_CONCURRENCY: usize = 32;
/// How long before its due time an earlier release may have written a
/// reminder in the unsharded layout: the longest rolling booking window (ten
/// years; a booking is at most that far ahead and its reminders are due
/// before it) and a day for releases still running beside this one. A
/// date-range window may name later dates: a reminder an earlier release
/// planned more than ten years ahead would not be found.
pub const LEGACY_HORIZON_MINUTES: i64 = (crate::domain::slots::MAX_WINDOW_DAYS as i64 + 1) * 24 * 60;

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_SENT: &str = "sent";
pub const STATUS_DROPPED: &str = "dropped";
pub const STATUS_FAILED: &str = "failed";
/// Moved to the end of the recipient's quiet hours (a pending copy exists).
pub const STATUS_DEFERRED: &str = "deferred";

pub fn cursor_key() -> Key {
    Key::new("REMINDERTICK", "CURSOR")
}

/// `2026-12-01T09:30` for any instant in that UTC minute.
pub fn minute_label(at: Timestamp) -> String {
    reminders::minute_label(at)
}

fn floor_minute(second: i64) -> i64 {
    second.div_euclid(60) * 60
}

/// One queue message: a due reminder's key and what the consumer needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderMessage {
    pub pk: String,
    pub sk: String,
    pub org_id: OrgId,
    pub booking_id: BookingId,
    pub channel: String,
    pub offset_minutes: i64,
    pub due_at: i64,
    pub starts_at: i64,
}

impl ReminderMessage {
    fn from_item(item: &crate::ports::Item) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
        let number = |name: &str| item.get(name).and_then(Value::as_i64);
        Some(Self {
            pk: text("pk")?,
            sk: text("sk")?,
            org_id: OrgId::new(text("org_id")?),
            booking_id: BookingId::new(text("booking_id")?),
            channel: text("channel")?,
            offset_minutes: number("offset_minutes")?,
            due_at: number("due_at")?,
            starts_at: number("starts_at")?,
        })
    }

    pub fn key(&self) -> Key {
        Key::new(self.pk.clone(), self.sk.clone())
    }

    /// Idempotency key of the reminder's message (email or SMS).
    pub fn idempotency_key(&self) -> String {
        format!("reminder/{}/{}", self.pk, self.sk)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickSummary {
    /// Minutes covered.
    pub minutes: u64,
    /// Partitions queried (the shards of every minute, and the unsharded
    /// partition of each minute that may still hold one).
    pub partitions: u64,
    /// Reminders sent to the queue.
    pub fanned_out: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] crate::ports::QueueError),
}

/// The pending reminders of one partition (every page).
async fn pending_in(state: &impl HasTable, partition: String) -> Result<Vec<ReminderMessage>, StoreError> {
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = state
            .table()
            .query(&Query::partition(partition.clone()).limit(500).after(cursor))
            .await?;
        found.extend(
            page.items
                .iter()
                .filter(|item| item.get("status").and_then(Value::as_str) == Some(STATUS_PENDING))
                .filter_map(ReminderMessage::from_item),
        );
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(found),
        }
    }
}

/// The partitions that may hold reminders due in `minute` (Unix seconds):
/// its shards, and its unsharded partition while that layout may still
/// hold one (up to `legacy_until`).
pub fn partitions_of_minute(minute: i64, legacy_until: i64) -> Result<Vec<String>, StoreError> {
    let at = Timestamp::from_second(minute).map_err(|err| StoreError::Invalid(err.to_string()))?;
    let mut partitions = reminders::partitions(at);
    if minute <= legacy_until {
        partitions.push(reminders::legacy_partition(at));
    }
    Ok(partitions)
}

/// The tick cursor as stored: the last minute processed, and the last due
/// minute whose unsharded partition is still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    minute_s: Option<i64>,
    legacy_until_s: i64,
}

async fn read_cursor(state: &impl HasTable, current: i64) -> Result<Cursor, StoreError> {
    let item = state.table().get(&cursor_key()).await?;
    let number = |name: &str| item.as_ref().and_then(|item| item.get(name)).and_then(Value::as_i64);
    Ok(Cursor {
        minute_s: number("minute_s"),
        // The first tick of the sharded release (no value stored yet): an
        // earlier release may have planned a reminder up to the horizon ahead.
        legacy_until_s: number("legacy_until_s").unwrap_or(current + LEGACY_HORIZON_MINUTES * 60),
    })
}

/// One tick: every minute after the cursor up to now, fanned out, then the
/// cursor moves. Safe to run twice or concurrently (the consumer is idempotent).
pub async fn tick(state: &(impl HasTable + HasClock + HasReminders)) -> Result<TickSummary, DispatchError> {
    let now = state.clock().unix_seconds();
    let current = floor_minute(now);
    let oldest = current - CATCH_UP_MINUTES * 60;
    let cursor = read_cursor(state, current).await?;
    let mut next = match cursor.minute_s {
        // The minutes just before the cursor again: a booking that planned its
        // reminder before a tick and committed after it wrote into a minute
        // that tick had already read. Pending reminders found twice are sent
        // once (the consumer's conditional pending → sent).
        Some(last) => (last + 60 - RESCAN_MINUTES * 60).max(oldest),
        None => current - FIRST_TICK_LOOKBACK_MINUTES * 60,
    };
    let last = current.min(next + (MINUTES_PER_TICK - 1) * 60);
    let mut summary = TickSummary::default();
    while next <= last {
        let chunk_end = last.min(next + (CHUNK_MINUTES - 1) * 60);
        let mut partitions = Vec::new();
        let mut minute = next;
        while minute <= chunk_end {
            partitions.extend(partitions_of_minute(minute, cursor.legacy_until_s)?);
            minute += 60;
        }
        // Every shard of every minute of the chunk at once (bounded).
        let results: Vec<Result<Vec<ReminderMessage>, StoreError>> = stream::iter(partitions.iter().cloned())
            .map(|partition| pending_in(state, partition))
            .buffer_unordered(QUERY_CONCURRENCY)
            .collect()
            .await;
        let mut bodies = Vec::new();
        for result in results {
            for message in result? {
                bodies.push(serde_json::to_string(&message).map_err(|err| StoreError::Invalid(err.to_string()))?);
            }
        }
        summary.minutes += ((chunk_end - next) / 60 + 1) as u64;
        summary.partitions += partitions.len() as u64;
        summary.fanned_out += bodies.len() as u64;
        let batches: Vec<Vec<String>> = bodies.chunks(MAX_BATCH).map(<[String]>::to_vec).collect();
        let sent: Vec<Result<(), crate::ports::QueueError>> = stream::iter(batches)
            .map(|batch| state.reminders().send_batch(batch))
            .buffer_unordered(SEND_CONCURRENCY)
            .collect()
            .await;
        sent.into_iter().collect::<Result<Vec<()>, _>>()?;
        // Only after the messages are queued: a crash before this re-runs the chunk.
        advance_cursor(state, chunk_end, cursor.legacy_until_s).await?;
        next = chunk_end + 60;
    }
    Ok(summary)
}

async fn advance_cursor(
    state: &(impl HasTable + HasClock),
    minute_s: i64,
    legacy_until_s: i64,
) -> Result<(), StoreError> {
    let label = Timestamp::from_second(minute_s).map(minute_label).unwrap_or_default();
    let item = object(json!({
        "pk": cursor_key().pk, "sk": cursor_key().sk,
        "minute": label, "minute_s": minute_s,
        "legacy_until_s": legacy_until_s,
        "updated_at": state.clock().unix_seconds(),
    }));
    state.table().put(item, None).await
}

/// What the consumer did with one reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Already sent, dropped, or removed (cancelled / rescheduled): nothing to do.
    Nothing,
    /// The appointment has started (or the booking is gone / moved): not sent.
    Dropped,
    /// The recipient opted out, or the SMS allowance is used up.
    Suppressed,
    /// The provider refused it for good.
    Failed,
    /// Due in the recipient's quiet hours: moved to their end.
    Deferred,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Deliver the message again later.
    #[error("retry: {0}")]
    Retry(String),
}

impl From<StoreError> for DeliveryError {
    fn from(err: StoreError) -> Self {
        DeliveryError::Retry(err.to_string())
    }
}

/// Moves the reminder from `from` to `to` only if it is still in `from`.
/// Returns false when it was not (another delivery won, or it was removed).
async fn transition(state: &(impl HasTable + HasClock), key: &Key, from: &str, to: &str) -> Result<bool, StoreError> {
    let update = Update::default()
        .set("status", to)
        .set(format!("{to}_at"), state.clock().unix_seconds());
    match state
        .table()
        .update(
            key,
            update,
            Some(Condition::AttributeEquals {
                name: "status".into(),
                value: json!(from),
            }),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(err) if err.is_condition_failure() => Ok(false),
        Err(err) => Err(err),
    }
}

async fn drop_reminder(state: &(impl HasTable + HasClock), key: &Key, why: &str) -> Result<Delivery, StoreError> {
    if transition(state, key, STATUS_PENDING, STATUS_DROPPED).await? {
        tracing::info!(reminder = %key.sk, why, "reminder dropped");
        Ok(Delivery::Dropped)
    } else {
        Ok(Delivery::Nothing)
    }
}

/// Moves a pending reminder to `at` (the end of the recipient's quiet
/// hours): a copy pending in `at`'s minute, this one `deferred`, and the
/// booking listing the copy's key instead of this one's, in one transaction
/// conditioned on the booking's version. So the copy stays tied to its
/// booking: a cancel, a reschedule or a STOP deletes (or drops) it like any
/// of the booking's reminders, and a booking change racing the move either
/// commits first (this move then finds the reminder gone or the booking
/// changed) or fails its version check and plans again from the new keys.
async fn defer(
    state: &(impl HasTable + HasClock),
    item: &crate::ports::Item,
    booking: &BookingRecord,
    at: Timestamp,
) -> Result<Delivery, StoreError> {
    let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    let Some(old_key) = crate::ports::Key::of(item) else {
        return Err(StoreError::Invalid("reminder without a key".into()));
    };
    // The minute partition at or after `at`.
    let due_s = (at.as_second() + 59).div_euclid(60) * 60;
    let due = Timestamp::from_second(due_s).map_err(|err| StoreError::Invalid(err.to_string()))?;
    let new_key = Key::new(
        reminders::partition(due, reminders::shard_of(&BookingId::new(text("booking_id")))),
        old_key.sk.clone(),
    );
    let mut moved = item.clone();
    moved.insert("pk".into(), json!(new_key.pk));
    moved.insert("due_at".into(), json!(due_s));
    moved.insert("deferred_from".into(), json!(old_key.pk));
    let listed: Vec<StoredKey> = booking.reminder_keys.clone();
    if !listed.iter().any(|k| k.pk == old_key.pk && k.sk == old_key.sk) {
        // The booking no longer lists it (changed since): not its reminder.
        return drop_reminder(state, &old_key, "booking changed").await;
    }
    let relisted: Vec<StoredKey> = listed
        .into_iter()
        .map(|k| {
            if k.pk == old_key.pk && k.sk == old_key.sk {
                StoredKey::from(&new_key)
            } else {
                k
            }
        })
        .collect();
    let relisted = serde_json::to_value(&relisted).map_err(|err| StoreError::Invalid(err.to_string()))?;
    let ops = vec![
        crate::ports::WriteOp::Update {
            key: booking_key(&booking.org_id, &booking.id),
            update: Update::default().set("reminder_keys", relisted).add("version", 1),
            condition: Some(Condition::VersionEquals(booking.version)),
        },
        crate::ports::WriteOp::Update {
            key: old_key.clone(),
            update: Update::default()
                .set("status", STATUS_DEFERRED)
                .set("deferred_to", new_key.pk.as_str())
                .set(format!("{STATUS_DEFERRED}_at"), state.clock().unix_seconds()),
            condition: Some(Condition::AttributeEquals {
                name: "status".into(),
                value: json!(STATUS_PENDING),
            }),
        },
        crate::ports::WriteOp::Put {
            item: moved,
            condition: Some(Condition::NotExists),
        },
    ];
    match state.table().transact(ops).await {
        Ok(()) => {
            tracing::info!(reminder = %old_key.sk, to = %new_key.pk, "reminder deferred past quiet hours");
            Ok(Delivery::Deferred)
        }
        // The reminder or its booking changed since they were read: decided
        // again on the redelivery (a reminder no longer pending is then left).
        Err(err) if err.is_condition_failure() => Err(StoreError::Contention),
        Err(err) => Err(err),
    }
}

/// Delivers one due reminder at most once.
pub async fn deliver(
    state: &(impl HasTable + HasClock + HasMailer + HasSms + HasConfig),
    message: &ReminderMessage,
) -> Result<Delivery, DeliveryError> {
    let key = message.key();
    let Some(item) = state.table().get(&key).await? else {
        // Removed by a cancel or a reschedule: nothing for the old time.
        return Ok(Delivery::Nothing);
    };
    if item.get("status").and_then(Value::as_str) != Some(STATUS_PENDING) {
        return Ok(Delivery::Nothing);
    }
    let starts_at = item
        .get("starts_at")
        .and_then(Value::as_i64)
        .unwrap_or(message.starts_at);
    if starts_at <= state.clock().unix_seconds() {
        return Ok(drop_reminder(state, &key, "appointment already started").await?);
    }
    if crate::services::records::org_closing(state.table().as_ref(), &message.org_id).await? {
        return Ok(drop_reminder(state, &key, "organization deleted").await?);
    }
    let Some((notice, cancelled)) =
        notifications::find_notice(state.table().as_ref(), &message.org_id, &message.booking_id).await?
    else {
        return match bookings::get_record(state.table().as_ref(), &message.org_id, &message.booking_id).await {
            Err(SchedulingError::NotFound) => Ok(drop_reminder(state, &key, "booking gone").await?),
            // The booking committed but its notice is not written yet: try again.
            _ => Err(DeliveryError::Retry("booking notice not found yet".into())),
        };
    };
    if cancelled {
        return Ok(drop_reminder(state, &key, "booking cancelled").await?);
    }
    if notice.starts_at != starts_at {
        return Ok(drop_reminder(state, &key, "booking moved").await?);
    }
    let sms_to = match message.channel.as_str() {
        "sms" => match notice.sms_phone() {
            Some(phone) => Some(phone.to_string()),
            None => return Ok(drop_reminder(state, &key, "no phone with sms consent").await?),
        },
        _ => None,
    };
    if sms_to.is_some() {
        let settings = sms::load_settings(state, &message.org_id).await?;
        let zone = TimeZone::get(&notice.customer_time_zone).unwrap_or(TimeZone::UTC);
        let now = state.clock().now();
        let start = Timestamp::from_second(starts_at).map_err(|err| StoreError::Invalid(err.to_string()))?;
        match reminder_time(now, start, &zone, settings.quiet) {
            None => return Ok(drop_reminder(state, &key, "quiet hours last until the appointment").await?),
            Some(at) if at > now => {
                return match bookings::get_record(state.table().as_ref(), &message.org_id, &message.booking_id).await {
                    Ok(booking) => Ok(defer(state, &item, &booking, at).await?),
                    Err(SchedulingError::NotFound) => Ok(drop_reminder(state, &key, "booking gone").await?),
                    Err(err) => Err(DeliveryError::Retry(err.to_string())),
                };
            }
            Some(_) => {}
        }
    }
    // The conditional write comes first: only one delivery gets past it.
    if !transition(state, &key, STATUS_PENDING, STATUS_SENT).await? {
        return Ok(Delivery::Nothing);
    }
    let idempotency_key = message.idempotency_key();
    let result = match sms_to {
        Some(to) => {
            let request = SmsRequest {
                idempotency_key,
                org_id: message.org_id.clone(),
                booking_id: Some(message.booking_id.clone()),
                to,
                body: notifications::reminder_sms(&notice),
            };
            match notifications::send_sms(state, &request).await {
                Ok(SmsOutcome::Sent | SmsOutcome::AlreadySent) => Ok(Delivery::Sent),
                Ok(SmsOutcome::OptedOut | SmsOutcome::LimitReached | SmsOutcome::NoConsent | SmsOutcome::PlanLimit) => {
                    Ok(Delivery::Suppressed)
                }
                Err(SmsSendError::Retry(reason)) => Err(reason),
                Err(SmsSendError::Permanent(reason)) => {
                    tracing::error!(reminder = %key.sk, %reason, "reminder sms rejected");
                    Ok(Delivery::Failed)
                }
            }
        }
        None => match state
            .mailer()
            .send(&notifications::reminder_email(&notice), &idempotency_key)
            .await
        {
            Ok(()) => Ok(Delivery::Sent),
            Err(crate::ports::MailError::Unavailable(reason)) => Err(reason),
            Err(crate::ports::MailError::Rejected(reason)) => {
                tracing::error!(reminder = %key.sk, %reason, "reminder email rejected");
                Ok(Delivery::Failed)
            }
        },
    };
    match result {
        Ok(Delivery::Failed) => {
            transition(state, &key, STATUS_SENT, STATUS_FAILED).await?;
            Ok(Delivery::Failed)
        }
        Ok(delivery) => Ok(delivery),
        Err(reason) => {
            // Not delivered: pending again, so the redelivered message sends it.
            transition(state, &key, STATUS_SENT, STATUS_PENDING).await?;
            Err(DeliveryError::Retry(reason))
        }
    }
}

/// The start of the minute `by` before `at` (tests and benchmarks).
pub fn minutes_before(at: Timestamp, by: i64) -> Timestamp {
    at.checked_sub(SignedDuration::from_mins(by)).unwrap_or(at)
}
