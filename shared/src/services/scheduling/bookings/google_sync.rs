//! The scheduled two-way sync of a host's Google calendar: Konnecs's own
//! events, noticed when the host deleted or moved them in Google.
//!
//! Each run lists what changed in the calendar bookings are written into
//! since the last run (`events.list` with the stored sync token; Google
//! allows no filter beside a sync token, so other events come too and are
//! only looked at for Konnecs's tag, never stored). The first run, and a
//! run whose token Google expired (410 GONE), lists the calendar in full,
//! deleted events included; a listing longer than a run's page budget
//! continues from its page token on the next run.
//!
//! What a change of a Konnecs event does (decided after Cal.com, whose
//! calendar is the host's own word):
//! - **deleted in Google**, booking still to come: the booking is
//!   cancelled by the host, and the customer gets the usual cancellation
//!   (email, SMS, webhook). A booking already over is left alone: clearing
//!   old events out of a calendar is not cancelling them.
//! - **moved in Google**: the booking is not moved (the customer agreed to
//!   its time and no slot check ran on the new one); it is flagged for
//!   staff with the times it has in Google, shown on the appointment, until
//!   someone reschedules it (which writes the event back) or the event is
//!   moved back.
//!
//! The sync never writes into Google itself.

use jiff::Timestamp;
use serde_json::json;

use super::google_event::{BOOKING_PROPERTY, GoogleEventError, ORG_PROPERTY, SEQUENCE_PROPERTY, event_id, store_link};
use super::manage::{Manager, cancel};
use super::{BookingRecord, GoogleEventLink, MovedInGoogle, get_record};
use crate::domain::ids::{BookingId, OrgId, UserId};
use crate::ports::google::{CalendarEvent, ListFrom, Listing};
use crate::services::audit::{self, Actor};
use crate::services::google::calendar::CalendarReach;
use crate::services::google::calendar_sync::{EventsSync, calendar_access, save_events_sync};
use crate::services::scheduling::SchedulingError;

/// Pages one run lists at most (250 events each); a longer listing goes on
/// next run from its page token.
pub const MAX_PAGES_PER_RUN: u32 = 20;
/// Full resyncs one run starts at most after a 410: a Google expiring
/// every token it hands out cannot keep a run listing forever.
pub const MAX_RESYNCS_PER_RUN: u32 = 1;
/// Tries of one cancel that races another change of the booking.
const CANCEL_ATTEMPTS: usize = 3;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CalendarSyncOutcome {
    /// Pages listed (0: nothing was called).
    pub pages: u32,
    /// Full listings started because Google expired the sync token.
    pub resyncs: u32,
    /// Bookings cancelled because their event was deleted in Google.
    pub cancelled: u32,
    /// Bookings flagged because their event was moved in Google.
    pub flagged: u32,
}

fn sync_actor(org_id: &OrgId, user_id: &UserId, booking_id: &BookingId) -> Actor {
    Actor {
        org_id: org_id.clone(),
        user_id: Some(user_id.clone()),
        request_id: format!("google-calendar-sync-{booking_id}"),
        ip: None,
        user_agent: Some("Google Calendar".into()),
    }
}

/// One run of the sync for the host `user_id` (a job queued per connected
/// member by the scheduled tick). A member without a working Calendar
/// connection is skipped without a call.
pub async fn sync_host_calendar(
    state: &impl CalendarReach,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<CalendarSyncOutcome, GoogleEventError> {
    let mut outcome = CalendarSyncOutcome::default();
    let Some(access) = calendar_access(state, org_id, user_id).await? else {
        return Ok(outcome);
    };
    let Some(calendar_id) = access.record.write_calendar.clone() else {
        return Ok(outcome);
    };
    let mut sync = match access.record.events_sync.clone() {
        Some(sync) if sync.calendar_id == calendar_id => sync,
        _ => EventsSync {
            calendar_id: calendar_id.clone(),
            sync_token: None,
            page_token: None,
        },
    };
    while outcome.pages < MAX_PAGES_PER_RUN {
        let from = match (&sync.page_token, &sync.sync_token) {
            (Some(page), sync_token) => ListFrom::Page {
                token: page.clone(),
                full: sync_token.is_none(),
            },
            (None, Some(token)) => ListFrom::Changes(token.clone()),
            (None, None) => ListFrom::Start,
        };
        let page = match access.google.list_events(&access.token, &calendar_id, &from).await? {
            Listing::SyncTokenExpired => {
                if outcome.resyncs >= MAX_RESYNCS_PER_RUN {
                    break;
                }
                tracing::info!(%org_id, %user_id, "google expired the calendar's sync token; listing it in full");
                outcome.resyncs += 1;
                sync.sync_token = None;
                sync.page_token = None;
                continue;
            }
            Listing::Page(page) => page,
        };
        outcome.pages += 1;
        for event in &page.events {
            apply(state, org_id, user_id, &calendar_id, event, &mut outcome).await?;
        }
        match (page.next_page_token, page.next_sync_token) {
            (Some(next), _) => sync.page_token = Some(next),
            (None, token) => {
                sync.page_token = None;
                sync.sync_token = token.or(sync.sync_token);
                break;
            }
        }
    }
    save_events_sync(state, org_id, user_id, &sync).await?;
    Ok(outcome)
}

/// Acts on one listed event if it is Konnecs's event of one of this
/// host's live bookings; anything else is passed over.
async fn apply(
    state: &impl CalendarReach,
    org_id: &OrgId,
    user_id: &UserId,
    calendar_id: &str,
    event: &CalendarEvent,
    outcome: &mut CalendarSyncOutcome,
) -> Result<(), GoogleEventError> {
    if event.private.get(ORG_PROPERTY).map(String::as_str) != Some(org_id.as_str()) {
        return Ok(());
    }
    let Some(booking_id) = event
        .private
        .get(BOOKING_PROPERTY)
        .map(|id| BookingId::from(id.as_str()))
    else {
        return Ok(());
    };
    let booking = match get_record(state.table().as_ref(), org_id, &booking_id).await {
        Ok(booking) => booking,
        Err(SchedulingError::NotFound) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    // Only the event Konnecs wrote for it, in this host's calendar.
    if &booking.host_user_id != user_id || event.id != event_id(&booking.id) || !booking.status.is_live() {
        return Ok(());
    }
    let now = state.clock().now();
    if event.is_cancelled() {
        if booking.end > now && cancel_deleted(state, org_id, user_id, &booking_id).await? {
            outcome.cancelled += 1;
        }
        return Ok(());
    }
    let (Some(start), Some(end)) = (event.start, event.end) else {
        return Ok(());
    };
    // Written before the booking's last reschedule: its patch is on its way.
    let written_at = event
        .private
        .get(SEQUENCE_PROPERTY)
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0);
    if written_at < booking.sequence {
        return Ok(());
    }
    let flagged = booking.google_event.as_ref().and_then(|link| link.moved.as_ref());
    let moved = (start != booking.start || end != booking.end).then(|| MovedInGoogle {
        start,
        end,
        noticed_at: now.to_string(),
    });
    let same_flag = match (&moved, flagged) {
        (Some(new), Some(old)) => new.start == old.start && new.end == old.end,
        (None, None) => true,
        _ => false,
    };
    if same_flag {
        return Ok(());
    }
    flag(state, &booking, calendar_id, moved, user_id, now).await?;
    outcome.flagged += 1;
    Ok(())
}

/// Cancels a booking whose event the host deleted in Google, as the host.
/// `false` when it was no longer live.
async fn cancel_deleted(
    state: &impl CalendarReach,
    org_id: &OrgId,
    user_id: &UserId,
    booking_id: &BookingId,
) -> Result<bool, GoogleEventError> {
    let actor = sync_actor(org_id, user_id, booking_id);
    for _ in 0..CANCEL_ATTEMPTS {
        let reason = Some("The appointment was removed from the host's calendar.".to_owned());
        match cancel(state, org_id, booking_id, reason, Manager::Calendar { actor: &actor }).await {
            Ok(_) => return Ok(true),
            Err(SchedulingError::NotFound) => return Ok(false),
            Err(SchedulingError::Conflict { code: "conflict", .. }) => continue,
            // Cancelled or declined meanwhile.
            Err(SchedulingError::Conflict { .. }) => return Ok(false),
            Err(err) => return Err(err.into()),
        }
    }
    Err(GoogleEventError::Store(crate::ports::StoreError::Invalid(
        "the booking kept changing while its deletion in google was applied".into(),
    )))
}

/// Sets (or clears, with `None`) the booking's moved-in-Google flag, with
/// an audit entry.
async fn flag(
    state: &impl CalendarReach,
    booking: &BookingRecord,
    calendar_id: &str,
    moved: Option<MovedInGoogle>,
    user_id: &UserId,
    now: Timestamp,
) -> Result<(), GoogleEventError> {
    let link = GoogleEventLink {
        calendar_id: booking
            .google_event
            .as_ref()
            .map_or_else(|| calendar_id.to_owned(), |link| link.calendar_id.clone()),
        event_id: event_id(&booking.id),
        moved: moved.clone(),
    };
    store_link(state, booking, &link).await?;
    let actor = sync_actor(&booking.org_id, user_id, &booking.id);
    let action = if moved.is_some() {
        "booking.moved_in_google"
    } else {
        "booking.moved_back_in_google"
    };
    let detail = match &moved {
        Some(moved) => json!({"start": moved.start, "end": moved.end}),
        None => json!({}),
    };
    let entry = audit::entry(&actor, now, action, &format!("booking:{}", booking.id), detail);
    state.table().transact(vec![entry]).await?;
    Ok(())
}
