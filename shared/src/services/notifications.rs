//! Booking notifications: on book, reschedule and cancel an
//! email to the customer and one to the host, each with an iCalendar
//! invitation, and an SMS to the customer when they gave a phone with SMS
//! consent. Everything goes through the jobs queue; idempotency keys are
//! derived from (booking, change, sequence, recipient, channel), so a
//! redelivered job or a repeated [`booking_changed`] call sends nothing twice.
//!
//! SMS rules (privacy policy §6): at most [`MAX_SMS_PER_BOOKING`] text
//! messages per appointment in total (confirmation, reminders, notices),
//! enforced by a conditional counter; an opted-out (sender, recipient) pair
//! receives nothing, checked right before each send.
//!
//! Items written here:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | booking notice (what reminders need) | `ORG#<org>` | `BOOKINGNOTICE#<booking>` |
//! | SMS counter of a booking | `ORG#<org>` | `SMSCOUNT#<booking>` |
//! | SMS claim without a booking | `SMSKEY#<sha256 of key>` | `SMS` |
//! | SMS opt-out (read only; STOP/START write it) | `SMSOPTOUT#<sender>#<recipient>` | `OPTOUT` |

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use icalendar::{Calendar, Component, Event, EventLike, EventStatus, Property};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ports::mailer::{Attachment, Email};
use crate::ports::{Condition, Key, QueueError, SmsError, StoreError, Table};
use crate::ports::{HasClock, HasJobs, HasSms, HasTable};
use crate::services::jobs::{self, Job};
use crate::services::{object, records};

/// Text messages one appointment may cause, all kinds together.
pub const MAX_SMS_PER_BOOKING: i64 = 3;
/// How long the notice and the SMS counter outlive the appointment.
const KEEP_AFTER_END_SECONDS: i64 = 30 * 24 * 3600;
/// Attempts of an optimistic counter update before giving up (contention).
const COUNTER_ATTEMPTS: usize = 8;

/// Everything the messages about one booking need, as committed. The
/// scheduling service builds it before its transaction, puts
/// [`notice_item`] in it and calls [`queue_messages`] after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingNotice {
    pub org_id: String,
    pub booking_id: String,
    /// The business, as customers know it.
    pub org_name: String,
    pub event_title: String,
    /// Address, phone or video link, as shown to the customer.
    #[serde(default)]
    pub location: Option<String>,
    pub host_name: String,
    pub host_email: String,
    /// IANA zone the host reads times in (the schedule's zone).
    pub host_time_zone: String,
    pub customer_name: String,
    pub customer_email: String,
    /// E.164.
    #[serde(default)]
    pub customer_phone: Option<String>,
    /// The customer ticked the SMS consent box.
    #[serde(default)]
    pub sms_consent: bool,
    /// IANA zone the customer booked in.
    pub customer_time_zone: String,
    /// Unix seconds, UTC.
    pub starts_at: i64,
    pub ends_at: i64,
    /// iCalendar SEQUENCE: 0 when booked, +1 for each reschedule and for the cancel.
    pub sequence: u32,
    /// The customer's manage link (with its token), when the caller has it.
    #[serde(default)]
    pub manage_url: Option<String>,
}

impl BookingNotice {
    /// A phone the customer agreed to receive SMS on.
    pub fn sms_phone(&self) -> Option<&str> {
        self.customer_phone.as_deref().filter(|_| self.sms_consent)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum BookingChange {
    /// Booked on an event type that needs the host's confirmation: no
    /// calendar invite and no SMS yet; the customer keeps the manage link.
    Requested,
    /// A request cancelled or declined before it was confirmed: told by
    /// email only, without a calendar file (no invite ever went out).
    RequestCancelled {
        reason: Option<String>,
    },
    Booked,
    Rescheduled {
        previous_starts_at: i64,
    },
    Cancelled {
        reason: Option<String>,
    },
}

impl BookingChange {
    /// About a request that was never confirmed: no calendar file, no SMS.
    pub fn is_request(&self) -> bool {
        matches!(self, BookingChange::Requested | BookingChange::RequestCancelled { .. })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            BookingChange::Requested => "requested",
            BookingChange::RequestCancelled { .. } => "request_cancelled",
            BookingChange::Booked => "booked",
            BookingChange::Rescheduled { .. } => "rescheduled",
            BookingChange::Cancelled { .. } => "cancelled",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("invalid notice: {0}")]
    Invalid(String),
}

pub fn notice_key(org_id: &str, booking_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("BOOKINGNOTICE#{booking_id}"))
}

pub fn sms_counter_key(org_id: &str, booking_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("SMSCOUNT#{booking_id}"))
}

pub fn sms_opt_out_key(sender: &str, recipient: &str) -> Key {
    Key::new(format!("SMSOPTOUT#{sender}#{recipient}"), "OPTOUT")
}

fn timestamp(second: i64) -> Result<Timestamp, NotificationError> {
    Timestamp::from_second(second).map_err(|err| NotificationError::Invalid(err.to_string()))
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// `Tuesday, 1 December 2026, 10:00 GMT` in `zone_name`.
pub fn local_time(second: i64, zone_name: &str) -> String {
    match Timestamp::from_second(second) {
        Ok(ts) => ts
            .to_zoned(zone(zone_name))
            .strftime("%A, %-d %B %Y, %H:%M %Z")
            .to_string(),
        Err(_) => second.to_string(),
    }
}

/// A short form for SMS: `Tue 1 Dec 10:00 GMT`.
fn short_time(second: i64, zone_name: &str) -> String {
    match Timestamp::from_second(second) {
        Ok(ts) => ts.to_zoned(zone(zone_name)).strftime("%a %-d %b %H:%M %Z").to_string(),
        Err(_) => second.to_string(),
    }
}

fn ical_utc(second: i64) -> Result<String, NotificationError> {
    Ok(timestamp(second)?.strftime("%Y%m%dT%H%M%SZ").to_string())
}

/// The stable iCalendar UID of a booking: every update and the cancel of one
/// booking carry the same UID, so calendars replace rather than duplicate.
pub fn ical_uid(booking_id: &str) -> String {
    format!("booking-{booking_id}@konnecs.com")
}

/// The `.ics` text for a booking after `change` (pure; `dtstamp` is when the
/// message is made). METHOD:REQUEST for book and reschedule, METHOD:CANCEL
/// (with STATUS:CANCELLED) for cancel; DTSTART/DTEND in UTC.
pub fn render_ics(
    notice: &BookingNotice,
    change: &BookingChange,
    dtstamp: Timestamp,
) -> Result<String, NotificationError> {
    let cancelled = matches!(change, BookingChange::Cancelled { .. });
    let method = if cancelled { "CANCEL" } else { "REQUEST" };
    let mut event = Event::new();
    event
        .uid(&ical_uid(&notice.booking_id))
        .sequence(notice.sequence)
        .summary(&format!("{} with {}", notice.event_title, notice.org_name))
        .add_property("DTSTAMP", dtstamp.strftime("%Y%m%dT%H%M%SZ").to_string())
        .add_property("DTSTART", ical_utc(notice.starts_at)?)
        .add_property("DTEND", ical_utc(notice.ends_at)?)
        .append_property(
            Property::new("ORGANIZER", format!("mailto:{}", notice.host_email))
                .add_parameter("CN", &notice.host_name)
                .done(),
        )
        .append_multi_property(
            Property::new("ATTENDEE", format!("mailto:{}", notice.customer_email))
                .add_parameter("CN", &notice.customer_name)
                .add_parameter("ROLE", "REQ-PARTICIPANT")
                .add_parameter("PARTSTAT", if cancelled { "DECLINED" } else { "ACCEPTED" })
                .done(),
        );
    if let Some(location) = &notice.location {
        event.location(location);
    }
    if let Some(url) = &notice.manage_url {
        event.description(&format!("Reschedule or cancel: {url}"));
    }
    event.status(if cancelled {
        EventStatus::Cancelled
    } else {
        EventStatus::Confirmed
    });
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Konnecs//Booking//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", method))
        .push(event.done());
    Ok(calendar.to_string())
}

fn ics_attachment(
    notice: &BookingNotice,
    change: &BookingChange,
    now: Timestamp,
) -> Result<Attachment, NotificationError> {
    let method = if matches!(change, BookingChange::Cancelled { .. }) {
        "CANCEL"
    } else {
        "REQUEST"
    };
    let ics = render_ics(notice, change, now)?;
    Ok(Attachment {
        filename: if method == "CANCEL" { "cancel.ics" } else { "invite.ics" }.into(),
        content_type: format!("text/calendar; charset=utf-8; method={method}"),
        content_base64: STANDARD.encode(ics.as_bytes()),
    })
}

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipient {
    Customer,
    Host,
}

impl Recipient {
    fn as_str(self) -> &'static str {
        match self {
            Recipient::Customer => "customer",
            Recipient::Host => "host",
        }
    }
}

/// Idempotency key of one message about one change: the same change
/// delivered again maps to the same key, a later change to a new one.
pub fn idempotency_key(notice: &BookingNotice, change: &BookingChange, recipient: Recipient, channel: &str) -> String {
    format!(
        "booking/{}/{}/{}/{}/{channel}",
        notice.booking_id,
        change.as_str(),
        notice.sequence,
        recipient.as_str()
    )
}

/// The email about `change` for one recipient, with the `.ics` attached.
pub fn change_email(
    notice: &BookingNotice,
    change: &BookingChange,
    recipient: Recipient,
    now: Timestamp,
) -> Result<Email, NotificationError> {
    let (to, greeting_name, zone_name) = match recipient {
        Recipient::Customer => (
            &notice.customer_email,
            &notice.customer_name,
            &notice.customer_time_zone,
        ),
        Recipient::Host => (&notice.host_email, &notice.host_name, &notice.host_time_zone),
    };
    let when = local_time(notice.starts_at, zone_name);
    let what = &notice.event_title;
    let (subject, headline) = match (change, recipient) {
        (BookingChange::Requested, Recipient::Customer) => (
            format!("Requested: {what} with {} on {when}", notice.org_name),
            format!(
                "Your request for {what} with {} on {when} was sent. You will get a confirmation with a calendar invite once they confirm it.",
                notice.org_name
            ),
        ),
        (BookingChange::Requested, Recipient::Host) => (
            format!("Please confirm: {what} with {} on {when}", notice.customer_name),
            format!(
                "{} ({}) asked for {what} on {when}. Confirm or decline it under Appointments in Konnecs.",
                notice.customer_name, notice.customer_email
            ),
        ),
        (BookingChange::RequestCancelled { reason }, _) => (
            format!("Not taking place: {what} on {when}"),
            match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                Some(reason) => format!(
                    "The request for {what} ({} with {}) on {when} is cancelled. Reason: {reason}",
                    notice.customer_name, notice.org_name
                ),
                None => format!(
                    "The request for {what} ({} with {}) on {when} is cancelled.",
                    notice.customer_name, notice.org_name
                ),
            },
        ),
        (BookingChange::Booked, Recipient::Customer) => (
            format!("Confirmed: {what} with {} on {when}", notice.org_name),
            format!("Your {what} with {} is booked for {when}.", notice.org_name),
        ),
        (BookingChange::Booked, Recipient::Host) => (
            format!("New booking: {what} with {} on {when}", notice.customer_name),
            format!(
                "{} ({}) booked {what} for {when}.",
                notice.customer_name, notice.customer_email
            ),
        ),
        (BookingChange::Rescheduled { previous_starts_at }, _) => {
            let before = local_time(*previous_starts_at, zone_name);
            (
                format!("Rescheduled: {what} is now on {when}"),
                format!(
                    "{what} ({} with {}) moved from {before} to {when}.",
                    notice.customer_name, notice.org_name
                ),
            )
        }
        (BookingChange::Cancelled { reason }, _) => (
            format!("Cancelled: {what} on {when}"),
            match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                Some(reason) => format!(
                    "{what} ({} with {}) on {when} is cancelled. Reason: {reason}",
                    notice.customer_name, notice.org_name
                ),
                None => format!(
                    "{what} ({} with {}) on {when} is cancelled.",
                    notice.customer_name, notice.org_name
                ),
            },
        ),
    };
    let mut text = format!("Hi {greeting_name},\n\n{headline}\n");
    if let Some(location) = &notice.location {
        text.push_str(&format!("\nWhere: {location}\n"));
    }
    if recipient == Recipient::Customer
        && !matches!(change, BookingChange::Cancelled { .. })
        && let Some(url) = &notice.manage_url
    {
        text.push_str(&format!("\nReschedule or cancel: {url}\n"));
    }
    // A request is not an appointment yet: its invite comes with the confirmation.
    let attachments = if change.is_request() {
        Vec::new()
    } else {
        text.push_str("\nThe attached calendar file updates your calendar.\n");
        vec![ics_attachment(notice, change, now)?]
    };
    Ok(Email {
        to: to.clone(),
        subject,
        text,
        html: None,
        attachments,
        kind: format!("booking_{}_{}", change.as_str(), recipient.as_str()),
    })
}

/// The SMS about `change` (to the customer).
pub fn change_sms(notice: &BookingNotice, change: &BookingChange) -> String {
    let when = short_time(notice.starts_at, &notice.customer_time_zone);
    let body = match change {
        BookingChange::Requested => format!(
            "{}: we have your request for {} on {when}; we will confirm it.",
            notice.org_name, notice.event_title
        ),
        BookingChange::RequestCancelled { .. } => format!(
            "{}: your request for {} on {when} is cancelled.",
            notice.org_name, notice.event_title
        ),
        BookingChange::Booked => format!(
            "{}: your {} is confirmed for {when}.",
            notice.org_name, notice.event_title
        ),
        BookingChange::Rescheduled { .. } => {
            format!("{}: your {} is moved to {when}.", notice.org_name, notice.event_title)
        }
        BookingChange::Cancelled { .. } => {
            format!(
                "{}: your {} on {when} is cancelled.",
                notice.org_name, notice.event_title
            )
        }
    };
    match (&notice.manage_url, change) {
        (Some(url), BookingChange::Booked | BookingChange::Rescheduled { .. }) => {
            format!("{body} Manage: {url} Reply STOP to opt out.")
        }
        _ => format!("{body} Reply STOP to opt out."),
    }
}

/// The reminder email `offset_minutes` before the start.
pub fn reminder_email(notice: &BookingNotice) -> Email {
    let when = local_time(notice.starts_at, &notice.customer_time_zone);
    let mut text = format!(
        "Hi {},\n\nA reminder: your {} with {} is on {when}.\n",
        notice.customer_name, notice.event_title, notice.org_name
    );
    if let Some(location) = &notice.location {
        text.push_str(&format!("\nWhere: {location}\n"));
    }
    if let Some(url) = &notice.manage_url {
        text.push_str(&format!("\nReschedule or cancel: {url}\n"));
    }
    Email {
        to: notice.customer_email.clone(),
        subject: format!("Reminder: {} on {when}", notice.event_title),
        text,
        html: None,
        attachments: Vec::new(),
        kind: "booking_reminder".into(),
    }
}

pub fn reminder_sms(notice: &BookingNotice) -> String {
    format!(
        "{}: reminder, your {} is on {}. Reply STOP to opt out.",
        notice.org_name,
        notice.event_title,
        short_time(notice.starts_at, &notice.customer_time_zone)
    )
}

/// The stored notice after `change`, as one operation of the caller's
/// transaction: reminders read it, so it must commit with the booking.
pub fn notice_item(notice: &BookingNotice, change: &BookingChange) -> Result<crate::ports::Item, NotificationError> {
    let status = match change {
        BookingChange::Cancelled { .. } | BookingChange::RequestCancelled { .. } => "cancelled",
        _ => "active",
    };
    Ok(records::to_item(
        &notice_key(&notice.org_id, &notice.booking_id),
        notice,
        &[
            ("status", json!(status)),
            ("expires_at", json!(notice.ends_at + KEEP_AFTER_END_SECONDS)),
        ],
    )?)
}

/// Queues the emails (customer and host; the `.ics` with every change but a
/// request) and, with a consented phone, the SMS. Each message carries an
/// idempotency key per change and sequence, so a repeat sends nothing new.
pub async fn queue_messages(
    state: &(impl HasClock + HasJobs),
    notice: &BookingNotice,
    change: &BookingChange,
) -> Result<(), NotificationError> {
    let now = state.clock().now();
    let mut queued = Vec::with_capacity(3);
    for recipient in [Recipient::Customer, Recipient::Host] {
        queued.push(Job::SendEmail {
            idempotency_key: idempotency_key(notice, change, recipient, "email"),
            email: change_email(notice, change, recipient, now)?,
        });
    }
    // Texts are for appointments: a request and its cancellation go by email.
    if let Some(phone) = notice.sms_phone()
        && !change.is_request()
    {
        queued.push(Job::SendSms {
            idempotency_key: idempotency_key(notice, change, Recipient::Customer, "sms"),
            org_id: notice.org_id.clone(),
            booking_id: Some(notice.booking_id.clone()),
            to: phone.to_string(),
            body: change_sms(notice, change),
        });
    }
    jobs::enqueue(state.jobs().as_ref(), &queued).await?;
    Ok(())
}

/// The stored notice of a booking and whether it was cancelled.
pub async fn find_notice(
    table: &dyn Table,
    org_id: &str,
    booking_id: &str,
) -> Result<Option<(BookingNotice, bool)>, StoreError> {
    let Some(item) = table.get(&notice_key(org_id, booking_id)).await? else {
        return Ok(None);
    };
    let cancelled = item.get("status").and_then(Value::as_str) == Some("cancelled");
    Ok(Some((records::from_item(item)?, cancelled)))
}

/// One SMS to send once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsRequest {
    pub idempotency_key: String,
    pub org_id: String,
    /// Counts against the booking's SMS limit when set.
    pub booking_id: Option<String>,
    pub to: String,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsOutcome {
    Sent,
    /// This key was sent (or is being sent) already.
    AlreadySent,
    /// The recipient opted out (STOP) of this sender.
    OptedOut,
    /// The appointment used up its SMS allowance.
    LimitReached,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsSendError {
    /// Worth retrying (provider down, store busy); the claim was released.
    #[error("retry: {0}")]
    Retry(String),
    /// Will never succeed.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<StoreError> for SmsSendError {
    fn from(err: StoreError) -> Self {
        SmsSendError::Retry(err.to_string())
    }
}

/// What [`claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    New,
    Already,
    Exhausted,
}

fn counter_state(item: Option<&crate::ports::Item>) -> (i64, Vec<String>, u64) {
    let Some(item) = item else {
        return (0, Vec::new(), 0);
    };
    let count = item.get("count").and_then(Value::as_i64).unwrap_or(0);
    let keys = item
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let version = item.get("version").and_then(Value::as_u64).unwrap_or(0);
    (count, keys, version)
}

/// Claims one of `limit` sends on the counter item for `idempotency_key`,
/// by a conditional write on the item's version (optimistic, retried).
async fn claim(
    table: &dyn Table,
    key: &Key,
    idempotency_key: &str,
    limit: i64,
    expires_at: i64,
) -> Result<Claim, StoreError> {
    for _ in 0..COUNTER_ATTEMPTS {
        let current = table.get(key).await?;
        let (count, mut keys, version) = counter_state(current.as_ref());
        if keys.iter().any(|k| k == idempotency_key) {
            return Ok(Claim::Already);
        }
        if count >= limit {
            return Ok(Claim::Exhausted);
        }
        keys.push(idempotency_key.to_string());
        let item = object(json!({
            "pk": key.pk, "sk": key.sk,
            "count": count + 1, "keys": keys, "version": version + 1,
            "expires_at": expires_at,
        }));
        let condition = if current.is_some() {
            Condition::VersionEquals(version)
        } else {
            Condition::NotExists
        };
        match table.put(item, Some(condition)).await {
            Ok(()) => return Ok(Claim::New),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}

/// Gives a claim back (the message was not delivered).
async fn release(table: &dyn Table, key: &Key, idempotency_key: &str) -> Result<(), StoreError> {
    for _ in 0..COUNTER_ATTEMPTS {
        let Some(current) = table.get(key).await? else {
            return Ok(());
        };
        let (count, keys, version) = counter_state(Some(&current));
        if !keys.iter().any(|k| k == idempotency_key) {
            return Ok(());
        }
        let keys: Vec<String> = keys.into_iter().filter(|k| k != idempotency_key).collect();
        let mut item = current.clone();
        item.insert("count".into(), json!((count - 1).max(0)));
        item.insert("keys".into(), json!(keys));
        item.insert("version".into(), json!(version + 1));
        match table.put(item, Some(Condition::VersionEquals(version))).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}

/// Sends one SMS at most once: claims the key (and one of the booking's
/// [`MAX_SMS_PER_BOOKING`]) in the store, checks the opt-out right before
/// sending, and releases the claim when the message did not go out.
pub async fn send_sms(
    state: &(impl HasTable + HasClock + HasSms),
    request: &SmsRequest,
) -> Result<SmsOutcome, SmsSendError> {
    let table = state.table().as_ref();
    let now = state.clock().unix_seconds();
    let (counter, limit) = match &request.booking_id {
        Some(booking_id) => (sms_counter_key(&request.org_id, booking_id), MAX_SMS_PER_BOOKING),
        None => (
            Key::new(
                format!("SMSKEY#{}", crate::domain::token::token_hash(&request.idempotency_key)),
                "SMS",
            ),
            1,
        ),
    };
    match claim(
        table,
        &counter,
        &request.idempotency_key,
        limit,
        now + KEEP_AFTER_END_SECONDS * 12,
    )
    .await?
    {
        Claim::Already => return Ok(SmsOutcome::AlreadySent),
        Claim::Exhausted => {
            tracing::info!(org_id = %request.org_id, "sms limit of the appointment reached; not sent");
            return Ok(SmsOutcome::LimitReached);
        }
        Claim::New => {}
    }
    let sender = state.sms().sender().to_string();
    if table.get(&sms_opt_out_key(&sender, &request.to)).await?.is_some() {
        release(table, &counter, &request.idempotency_key).await?;
        tracing::info!(org_id = %request.org_id, "recipient opted out of sms; not sent");
        return Ok(SmsOutcome::OptedOut);
    }
    match state
        .sms()
        .send(&request.to, &request.body, &request.idempotency_key)
        .await
    {
        Ok(()) => Ok(SmsOutcome::Sent),
        // Perhaps delivered: the claim stays, so it is never sent twice (at
        // most once when the provider's answer is lost).
        Err(SmsError::Unknown(reason)) => {
            tracing::warn!(org_id = %request.org_id, %reason, "sms outcome unknown; not retried");
            Err(SmsSendError::Permanent(reason))
        }
        Err(err) => {
            // Not delivered: the allowance and the key are free again.
            release(table, &counter, &request.idempotency_key).await?;
            match err {
                SmsError::Unavailable(reason) => Err(SmsSendError::Retry(reason)),
                SmsError::Rejected(reason) | SmsError::Unknown(reason) => Err(SmsSendError::Permanent(reason)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(sequence: u32, starts: &str) -> BookingNotice {
        let starts_at: Timestamp = starts.parse().unwrap();
        BookingNotice {
            org_id: "o1".into(),
            booking_id: "b1".into(),
            org_name: "Whitfield Dental".into(),
            event_title: "Cleaning; check-up, x-ray".into(),
            location: Some("12 High St, Leeds".into()),
            host_name: "Dana Whitfield".into(),
            host_email: "dana@whitfield-dental.example".into(),
            host_time_zone: "Europe/London".into(),
            customer_name: "Ann Lee".into(),
            customer_email: "ann@example.com".into(),
            customer_phone: Some("+447700900123".into()),
            sms_consent: true,
            customer_time_zone: "America/New_York".into(),
            starts_at: starts_at.as_second(),
            ends_at: starts_at.as_second() + 1800,
            sequence,
            manage_url: Some("https://app.konnecs.com/booking/b1?token=t".into()),
        }
    }

    /// The .ics of one booking as booked, then moved a day later, then cancelled.
    fn booked_moved_cancelled() -> (String, String, String) {
        let now: Timestamp = "2026-11-29T08:00:00Z".parse().unwrap();
        let booked = render_ics(&notice(0, "2026-12-01T15:00:00Z"), &BookingChange::Booked, now).unwrap();
        let moved = render_ics(
            &notice(1, "2026-12-02T15:00:00Z"),
            &BookingChange::Rescheduled { previous_starts_at: 0 },
            now,
        )
        .unwrap();
        let cancelled = render_ics(
            &notice(2, "2026-12-02T15:00:00Z"),
            &BookingChange::Cancelled { reason: None },
            now,
        )
        .unwrap();
        (booked, moved, cancelled)
    }

    fn line<'a>(ics: &'a str, name: &str) -> Vec<&'a str> {
        ics.split("\r\n").filter(|l| l.starts_with(name)).collect()
    }

    #[test]
    fn ics_uid_is_stable_across_reschedule_and_cancel() {
        let (booked, moved, cancelled) = booked_moved_cancelled();
        let uid = ["UID:booking-b1@konnecs.com"];
        assert_eq!(line(&booked, "UID:"), uid);
        assert_eq!(line(&moved, "UID:"), uid);
        assert_eq!(line(&cancelled, "UID:"), uid);
    }

    #[test]
    fn ics_sequence_increases_on_reschedule_and_method_follows_the_change() {
        let (booked, moved, cancelled) = booked_moved_cancelled();
        assert_eq!(line(&booked, "SEQUENCE:"), ["SEQUENCE:0"]);
        assert_eq!(line(&moved, "SEQUENCE:"), ["SEQUENCE:1"]);
        assert_eq!(line(&cancelled, "SEQUENCE:"), ["SEQUENCE:2"]);
        assert_eq!(line(&booked, "METHOD:"), ["METHOD:REQUEST"]);
        assert_eq!(line(&moved, "METHOD:"), ["METHOD:REQUEST"]);
        assert_eq!(line(&cancelled, "METHOD:"), ["METHOD:CANCEL"]);
        assert_eq!(line(&cancelled, "STATUS:"), ["STATUS:CANCELLED"]);
        assert_eq!(line(&booked, "STATUS:"), ["STATUS:CONFIRMED"]);
    }

    #[test]
    fn ics_times_are_utc_whatever_the_zones() {
        let now: Timestamp = "2026-11-29T08:00:00Z".parse().unwrap();
        // 10:00 in New York (EST, UTC-5) is 15:00 UTC.
        let start = jiff::civil::datetime(2026, 12, 1, 10, 0, 0, 0)
            .to_zoned(TimeZone::get("America/New_York").unwrap())
            .unwrap()
            .timestamp();
        let ics = render_ics(&notice(0, &start.to_string()), &BookingChange::Booked, now).unwrap();
        assert_eq!(line(&ics, "DTSTART"), ["DTSTART:20261201T150000Z"]);
        assert_eq!(line(&ics, "DTEND"), ["DTEND:20261201T153000Z"]);
        assert_eq!(line(&ics, "DTSTAMP"), ["DTSTAMP:20261129T080000Z"]);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
        assert!(
            ics.contains("ORGANIZER;CN=Dana Whitfield:mailto:dana@whitfield-dental.example"),
            "{ics}"
        );
        // Long lines are folded (RFC 5545 §3.1); unfolded, the attendee is whole.
        let unfolded = ics.replace("\r\n ", "");
        assert!(
            unfolded.contains("ATTENDEE;CN=Ann Lee;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:ann@example.com"),
            "{ics}"
        );
        // Text values are escaped per RFC 5545.
        assert!(
            ics.contains(r"SUMMARY:Cleaning\; check-up\, x-ray with Whitfield Dental"),
            "{ics}"
        );
    }

    #[test]
    fn emails_show_each_reader_their_own_zone() {
        let now: Timestamp = "2026-11-29T08:00:00Z".parse().unwrap();
        let n = notice(0, "2026-12-01T15:00:00Z");
        let customer = change_email(&n, &BookingChange::Booked, Recipient::Customer, now).unwrap();
        let host = change_email(&n, &BookingChange::Booked, Recipient::Host, now).unwrap();
        assert!(customer.text.contains("10:00 EST"), "{}", customer.text);
        assert!(customer.text.contains("https://app.konnecs.com/booking/b1?token=t"));
        assert!(host.text.contains("15:00 GMT"), "{}", host.text);
        assert_eq!(
            customer.attachments[0].content_type,
            "text/calendar; charset=utf-8; method=REQUEST"
        );
    }

    #[test]
    fn idempotency_keys_differ_per_change_and_sequence_only() {
        let n0 = notice(0, "2026-12-01T15:00:00Z");
        let n1 = notice(1, "2026-12-02T15:00:00Z");
        let booked = idempotency_key(&n0, &BookingChange::Booked, Recipient::Customer, "email");
        assert_eq!(
            booked,
            idempotency_key(&n0, &BookingChange::Booked, Recipient::Customer, "email")
        );
        let moved = idempotency_key(
            &n1,
            &BookingChange::Rescheduled { previous_starts_at: 1 },
            Recipient::Customer,
            "email",
        );
        assert_ne!(booked, moved);
        assert_ne!(
            booked,
            idempotency_key(&n0, &BookingChange::Booked, Recipient::Host, "email")
        );
    }
}
