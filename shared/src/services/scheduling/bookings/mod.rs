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

use crate::services::google::calendar::{CalendarReach, GoogleBusyTimes};

mod book;
mod calendar;
mod contact;
mod for_contact;
mod google_event;
mod google_sync;
mod manage;
mod notify;
mod public;
mod records;

pub use book::{BookingRequest, book};
pub use calendar::bump_calendar;
pub use for_contact::{ContactBooking, book_for_contact};
pub use google_event::{GoogleEventError, GoogleEventOutcome, event_id, sync_booking_event};
pub use google_sync::{CalendarSyncOutcome, sync_host_calendar};
pub use manage::{
    ListRange, Manager, cancel, decide, get_by_token, get_for_host, get_many, get_record, list_for_host, mark_no_show,
    org_of_token, reschedule,
};
pub use public::{DayView, PublicEvent, SlotView, SlotsQuery, SlotsView, member_slots, public_event, slots};
pub use records::{
    BookingChange, BookingRecord, BookingStatus, BookingView, ChangedBy, GoogleCalendarView, GoogleEventLink, Invitee,
    MovedInGoogle, NewBooking, StoredKey,
};

/// Attempts of one booking change before giving up on a busy host calendar.
/// A loser of a race needs one more attempt to see the winner; with `seats`
/// seats, at most `seats` commits can beat it.
pub const MAX_ATTEMPTS: usize = 12;
/// Longest slot range one request may ask for.
pub const MAX_SLOT_RANGE_DAYS: i64 = 62;

/// Where external busy times come from: the host's chosen Google
/// calendars (none for a host without a Calendar connection).
pub fn busy_source<S: CalendarReach>(state: &S) -> GoogleBusyTimes<'_, S> {
    GoogleBusyTimes { state }
}
