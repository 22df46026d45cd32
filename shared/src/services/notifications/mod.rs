//! Booking notifications: on book, reschedule and cancel an
//! email to the customer and one to the host, each with an iCalendar
//! invitation, and an SMS to the customer when they gave a phone with SMS
//! consent. Everything goes through the jobs queue; idempotency keys are
//! derived from (booking, change, sequence, recipient, channel), so a
//! redelivered job or a repeated [`booking_changed`] call sends nothing twice.
//!
//! SMS rules (privacy policy §6), all checked in [`send_sms`], the one
//! function that calls the `Sms` port: at most [`MAX_SMS_PER_BOOKING`] text
//! messages per appointment in total (confirmation, reminders, notices),
//! enforced by a conditional counter; an opted-out (sender, recipient) pair
//! receives nothing, checked right before each send; a number without a
//! recorded consent receives nothing; and an organization's plan may cap its
//! texts per calendar month. A text not sent for one of these reasons is
//! recorded as skipped, with the reason.
//!
//! Items written here:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | booking notice (what reminders need) | `ORG#<org>` | `BOOKINGNOTICE#<booking>` |
//! | SMS counter of a booking | `ORG#<org>` | `SMSCOUNT#<booking>` |
//! | SMS claim without a booking | `SMSKEY#<sha256 of key>` | `SMS` |
//! | SMS opt-out (read here; `services::sms` writes it on STOP, START and Twilio error 21610) | `SMSOPTOUT#<sender>#<recipient>` | `OPTOUT` |

use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ports::{HasClock, HasJobs};
use crate::ports::{Key, QueueError, StoreError, Table};
use crate::services::jobs::{self, Job};
use crate::services::records;

mod calendar;
mod messages;
mod monthly;
mod sms;

pub use calendar::{ical_uid, local_time, render_ics};
pub use messages::{Recipient, change_email, change_sms, idempotency_key, reminder_email, reminder_sms};
pub use sms::{SmsOutcome, SmsRequest, SmsSendError, send_sms};

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
    pub org_id: OrgId,
    pub booking_id: BookingId,
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

pub fn notice_key(org_id: &OrgId, booking_id: &BookingId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("BOOKINGNOTICE#{booking_id}"))
}

pub fn sms_counter_key(org_id: &OrgId, booking_id: &BookingId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("SMSCOUNT#{booking_id}"))
}

pub fn sms_opt_out_key(sender: &str, recipient: &str) -> Key {
    Key::new(format!("SMSOPTOUT#{sender}#{recipient}"), "OPTOUT")
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
    jobs::enqueue(state, &queued).await?;
    Ok(())
}

/// The stored notice of a booking and whether it was cancelled.
pub async fn find_notice(
    table: &dyn Table,
    org_id: &OrgId,
    booking_id: &BookingId,
) -> Result<Option<(BookingNotice, bool)>, StoreError> {
    let Some(item) = table.get(&notice_key(org_id, booking_id)).await? else {
        return Ok(None);
    };
    let cancelled = item.get("status").and_then(Value::as_str) == Some("cancelled");
    Ok(Some((records::from_item(item)?, cancelled)))
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use jiff::tz::TimeZone;

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
