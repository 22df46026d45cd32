//! The Calendar API's events, as Konnecs writes and watches its own:
//! `events.get`, `events.insert`, `events.patch`, `events.delete` and
//! `events.list` (with sync tokens),
//! https://developers.google.com/calendar/api/v3/reference/events.
//! Every call is made with a member's access token on one of their
//! calendars.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use secrecy::SecretString;

use super::google::GoogleError;

/// An event as Google answers it: only what Konnecs looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    pub id: String,
    /// `confirmed`, `tentative` or `cancelled` (deleted).
    pub status: String,
    /// Timed events only; an all-day event has neither.
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// `extendedProperties.private`: visible only to the app that set them.
    pub private: BTreeMap<String, String>,
}

impl CalendarEvent {
    pub fn is_cancelled(&self) -> bool {
        self.status == "cancelled"
    }
}

/// What Konnecs writes into an event it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWrite {
    /// Chosen by Konnecs (base32hex, 5 to 1024 characters), so a second
    /// insert of the same event is refused rather than duplicated.
    pub id: String,
    pub summary: String,
    pub description: String,
    pub location: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `extendedProperties.private`.
    pub private: BTreeMap<String, String>,
}

/// What `insert` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// Google already holds an event with this id (409): a repeated insert.
    AlreadyExists,
}

/// Where a listing starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFrom {
    /// A full listing (deleted events included), from its first page.
    Start,
    /// The next page of the listing in progress (`full`: a full listing,
    /// else an incremental one).
    Page { token: String, full: bool },
    /// Only what changed since the listing that gave this sync token.
    Changes(String),
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsPage {
    pub events: Vec<CalendarEvent>,
    pub next_page_token: Option<String>,
    /// On the last page only: where the next incremental listing starts.
    pub next_sync_token: Option<String>,
}

/// What a listing answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Page(EventsPage),
    /// 410 GONE: the sync token is no longer valid; list in full again.
    SyncTokenExpired,
}

#[async_trait]
pub trait CalendarEvents: Send + Sync {
    /// The event, deleted ones included (status `cancelled`); `None` when
    /// Google knows no event of that id.
    async fn get_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<Option<CalendarEvent>, GoogleError>;

    async fn insert_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<Inserted, GoogleError>;

    /// Changes the event's summary, description, location, times and
    /// private properties; its other fields (attendees, reminders, colour
    /// the member set) stay.
    async fn patch_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<(), GoogleError>;

    /// Deletes the event; one already gone counts as deleted.
    async fn delete_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<(), GoogleError>;

    async fn list_events(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        from: &ListFrom,
    ) -> Result<Listing, GoogleError>;
}
