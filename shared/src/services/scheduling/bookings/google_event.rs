//! A booking's event in its host's Google calendar, kept in step by a job
//! queued after every committed change (book, reschedule, confirm, decline,
//! cancel): the job reads the booking as it is then and makes Google
//! match, so jobs running late, twice or out of order leave one right
//! event. The booking is never held up by Google: a Google that does not
//! answer only delays its event.
//!
//! - The event's id is derived from the booking's (base32hex, as Google
//!   accepts ids), so a repeated insert is refused (409) rather than
//!   duplicated, and is patched instead.
//! - The event carries the private extended properties
//!   `konnecsOrg`/`konnecsBookingId`/`konnecsSequence`. An event under the
//!   booking's id without them (or naming another booking) is not Konnecs's:
//!   it is never patched or deleted; the refusal is logged and audited.
//! - A live booking (confirmed or waiting for confirmation: both hold the
//!   time) has its event; a cancelled or declined one has none.

use std::collections::BTreeMap;

use serde_json::json;

use super::notify::location;
use super::{BookingRecord, GoogleEventLink, get_record};
use crate::domain::ids::{BookingId, OrgId};
use crate::ports::google::GoogleError;
use crate::ports::google::{CalendarEvent, EventWrite, Inserted};
use crate::ports::{Condition, HasClock, HasGoogle, HasJobs, HasTable, StoreError, Update};
use crate::services::audit::{self, Actor};
use crate::services::google::GoogleConnectionError;
use crate::services::google::calendar::CalendarReach;
use crate::services::google::calendar_sync::{calendar_access, writes_bookings};
use crate::services::jobs::{self, Job};
use crate::services::scheduling::{SchedulingError, booking_key};

/// The private extended properties naming a Konnecs booking.
pub const ORG_PROPERTY: &str = "konnecsOrg";
pub const BOOKING_PROPERTY: &str = "konnecsBookingId";
/// The booking's sequence the event was last written at: the sync tells a
/// move in Google from a reschedule whose patch has not run yet.
pub const SEQUENCE_PROPERTY: &str = "konnecsSequence";

#[derive(Debug, thiserror::Error)]
pub enum GoogleEventError {
    #[error(transparent)]
    Connection(#[from] GoogleConnectionError),
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SchedulingError> for GoogleEventError {
    fn from(err: SchedulingError) -> Self {
        match err {
            SchedulingError::Store(err) => GoogleEventError::Store(err),
            other => GoogleEventError::Store(StoreError::Invalid(other.to_string())),
        }
    }
}

/// What the job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoogleEventOutcome {
    /// No Calendar connection (or a broken one): nothing was called.
    NoCalendar,
    /// The booking is gone.
    NoBooking,
    Created,
    Updated,
    Deleted,
    /// Already as it should be (a cancelled booking without an event, an
    /// event the host deleted in Google: the sync acts on that).
    Unchanged,
    /// An event under the booking's id is not Konnecs's: left alone.
    Refused,
}

/// The Google event id of a booking: base32hex (`0-9a-v`) of its id.
pub fn event_id(booking_id: &BookingId) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let bytes = booking_id.as_str().as_bytes();
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Whether `event` is Konnecs's event of `booking`.
pub fn is_konnecs_event(event: &CalendarEvent, org_id: &OrgId, booking_id: &BookingId) -> bool {
    event.private.get(ORG_PROPERTY).map(String::as_str) == Some(org_id.as_str())
        && event.private.get(BOOKING_PROPERTY).map(String::as_str) == Some(booking_id.as_str())
}

/// Queues the job that brings the booking's Google event in step, when
/// its host writes bookings into a Google calendar (a booking made while
/// the host had none is not written later). A failure is logged; the
/// change stands.
pub async fn queue(state: &(impl HasTable + HasJobs + HasGoogle), booking: &BookingRecord) {
    // Without Google configured no connection can exist: no read.
    if state.google().is_none() {
        return;
    }
    match writes_bookings(state, &booking.org_id, &booking.host_user_id).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(err) => {
            tracing::error!(booking_id = %booking.id, error = %err, "could not read the host's google connection; no calendar event queued");
            return;
        }
    }
    let job = Job::BookingCalendarEvent {
        org_id: booking.org_id.clone(),
        booking_id: booking.id.clone(),
    };
    if let Err(err) = jobs::enqueue(state, &[job]).await {
        tracing::error!(booking_id = %booking.id, error = %err, "could not queue the booking's calendar event");
    }
}

fn write_of(booking: &BookingRecord, event_id: &str) -> EventWrite {
    let mut private = BTreeMap::new();
    private.insert(ORG_PROPERTY.to_owned(), booking.org_id.to_string());
    private.insert(BOOKING_PROPERTY.to_owned(), booking.id.to_string());
    private.insert(SEQUENCE_PROPERTY.to_owned(), booking.sequence.to_string());
    let mut description = format!("{} <{}>", booking.invitee.name, booking.invitee.email);
    if let Some(phone) = &booking.invitee.phone {
        description.push_str(&format!("\n{phone}"));
    }
    description.push_str("\n\nBooked with Konnecs.");
    EventWrite {
        id: event_id.to_owned(),
        summary: format!("{} with {}", booking.event_title, booking.invitee.name),
        description,
        location: location(booking),
        start: booking.start,
        end: booking.end,
        private,
    }
}

/// Brings the booking's event in its host's Google calendar in step with
/// the booking (the job of [`queue`]).
pub async fn sync_booking_event(
    state: &impl CalendarReach,
    org_id: &OrgId,
    booking_id: &BookingId,
) -> Result<GoogleEventOutcome, GoogleEventError> {
    let booking = match get_record(state.table().as_ref(), org_id, booking_id).await {
        Ok(booking) => booking,
        Err(SchedulingError::NotFound) => return Ok(GoogleEventOutcome::NoBooking),
        Err(err) => return Err(err.into()),
    };
    let Some(access) = calendar_access(state, org_id, &booking.host_user_id).await? else {
        return Ok(GoogleEventOutcome::NoCalendar);
    };
    let id = event_id(&booking.id);
    // The calendar it was written into, else the one chosen now.
    let calendar_id = match (&booking.google_event, &access.record.write_calendar) {
        (Some(link), _) => link.calendar_id.clone(),
        (None, Some(calendar)) => calendar.clone(),
        (None, None) => return Ok(GoogleEventOutcome::NoCalendar),
    };
    let google = access.google.as_ref();
    let existing = google.get_event(&access.token, &calendar_id, &id).await?;
    if let Some(event) = &existing
        && !is_konnecs_event(event, org_id, &booking.id)
    {
        refuse(state, &booking, &calendar_id, &id).await?;
        return Ok(GoogleEventOutcome::Refused);
    }
    let live = booking.status.is_live();
    let outcome = match (&existing, live) {
        (None, true) => {
            let write = write_of(&booking, &id);
            match google.insert_event(&access.token, &calendar_id, &write).await? {
                Inserted::Created => GoogleEventOutcome::Created,
                // Another delivery inserted it between our read and insert:
                // read it again so a foreign event is still never patched.
                Inserted::AlreadyExists => match google.get_event(&access.token, &calendar_id, &id).await? {
                    Some(event) if is_konnecs_event(&event, org_id, &booking.id) && !event.is_cancelled() => {
                        google.patch_event(&access.token, &calendar_id, &write).await?;
                        GoogleEventOutcome::Updated
                    }
                    Some(event) if !is_konnecs_event(&event, org_id, &booking.id) => {
                        refuse(state, &booking, &calendar_id, &id).await?;
                        return Ok(GoogleEventOutcome::Refused);
                    }
                    _ => GoogleEventOutcome::Unchanged,
                },
            }
        }
        // Deleted in Google while the booking is live: the sync cancels or
        // flags the booking; recreating it would undo the host's delete.
        (Some(event), true) if event.is_cancelled() => GoogleEventOutcome::Unchanged,
        (Some(_), true) => {
            google
                .patch_event(&access.token, &calendar_id, &write_of(&booking, &id))
                .await?;
            GoogleEventOutcome::Updated
        }
        (Some(event), false) if !event.is_cancelled() => {
            google.delete_event(&access.token, &calendar_id, &id).await?;
            GoogleEventOutcome::Deleted
        }
        (_, false) => GoogleEventOutcome::Unchanged,
    };
    if live && booking.google_event.as_ref().is_none_or(|link| link.event_id != id) {
        let link = GoogleEventLink {
            calendar_id,
            event_id: id,
            moved: None,
        };
        store_link(state, &booking, &link).await?;
    }
    Ok(outcome)
}

/// Records where the event is on the booking, without a version change:
/// the booking's own changes are not made to fail by it.
pub(super) async fn store_link(
    state: &impl HasTable,
    booking: &BookingRecord,
    link: &GoogleEventLink,
) -> Result<(), StoreError> {
    let update = Update::default().set("google_event", json!(link));
    match state
        .table()
        .update(
            &booking_key(&booking.org_id, &booking.id),
            update,
            Some(Condition::Exists),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err),
    }
}

/// An event under the booking's id that Konnecs did not write: nothing is
/// changed in Google; the refusal is logged and audited.
async fn refuse(
    state: &(impl HasTable + HasClock),
    booking: &BookingRecord,
    calendar_id: &str,
    event_id: &str,
) -> Result<(), StoreError> {
    tracing::warn!(
        booking_id = %booking.id,
        event_id,
        "an event without Konnecs's tag holds the booking's event id; it is left alone"
    );
    let actor = Actor {
        org_id: booking.org_id.clone(),
        user_id: None,
        request_id: format!("google-event-{}-{}", booking.id, booking.sequence),
        ip: None,
        user_agent: None,
    };
    let entry = audit::entry(
        &actor,
        state.clock().now(),
        "google.event_refused",
        &format!("booking:{}", booking.id),
        json!({"calendar_id": calendar_id, "event_id": event_id}),
    );
    state.table().transact(vec![entry]).await
}
