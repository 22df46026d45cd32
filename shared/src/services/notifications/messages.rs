//! The words of every booking message: the change emails and texts to the
//! customer and the host, the reminders, and each message's idempotency key.

use super::calendar::{ics_attachment, short_time};
use super::{BookingChange, BookingNotice, NotificationError, local_time};
use crate::ports::mailer::Email;
use jiff::Timestamp;

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
