//! The booking's notice (committed with the change) and the messages queued
//! once the change committed.

use super::public::text;
use super::{BookingChange, BookingRecord, BookingStatus};
use crate::ports::{HasClock, HasJobs, HasTable};
use crate::ports::{Key, StoreError, WriteOp};
use crate::services::notifications::{self, BookingNotice};
use crate::services::records::{MemberRecord, member_key};
use crate::services::records::{OrgRecord, from_item, org_key};
use crate::services::scheduling::SchedulingError;
use crate::services::scheduling::event_types::Location;
use crate::services::webhooks;
use jiff::Timestamp;

pub(super) fn location(booking: &BookingRecord) -> Option<String> {
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
    state: &impl HasTable,
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
    let items = state.table().batch_get(&keys).await?;
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
pub async fn queue(state: &(impl HasClock + HasJobs), pending: Option<Pending>) {
    let Some(Pending { notice, change }) = pending else {
        return;
    };
    if let Err(err) = notifications::queue_messages(state, &notice, &change).await {
        tracing::error!(booking_id = %notice.booking_id, error = %err, "could not queue the booking's notifications");
    }
}

/// A committed change as a webhook event (`booking.created`,
/// `booking.rescheduled`, `booking.cancelled`). The event id names the
/// booking and its sequence, so each change is one event.
pub fn event(booking: &BookingRecord, event_type: &str, now: Timestamp) -> crate::domain::webhook::WebhookEvent {
    let event_id = format!("{event_type}:{}:{}", booking.id, booking.sequence);
    let data = serde_json::to_value(booking.view()).unwrap_or_default();
    webhooks::event(event_type, &event_id, now, data)
}

/// Announces a committed change to the organization's webhook endpoints.
pub async fn announce(state: &(impl HasTable + HasJobs), booking: &BookingRecord, event_type: &str, now: Timestamp) {
    webhooks::announce(state, &booking.org_id, vec![event(booking, event_type, now)]).await;
}
