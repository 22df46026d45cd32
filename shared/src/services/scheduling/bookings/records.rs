//! What a booking is in the store: its status, invitee, the keys it owns,
//! the record and the views the API answers with.

use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::ids::{ContactId, EventTypeId};
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ports::{Item, Key, StoreError};
use crate::services::records::to_item;
use crate::services::scheduling::event_types::Location;
use crate::services::scheduling::{booking_key, host_bookings_index, host_calendar_key, time_sort};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Holds the time; waits for the host (requires-confirmation events).
    PendingConfirmation,
    Confirmed,
    Cancelled,
    Declined,
}

impl BookingStatus {
    pub(super) fn is_live(self) -> bool {
        matches!(self, BookingStatus::PendingConfirmation | BookingStatus::Confirmed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    Host,
    Invitee,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    pub id: BookingId,
    pub org_id: OrgId,
    pub event_type_id: EventTypeId,
    pub event_title: String,
    pub host_user_id: UserId,
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
    pub contact_id: Option<ContactId>,
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
    /// The booking's event in the host's Google calendar, once written.
    /// Set by the calendar job without a version change (a change racing
    /// it may drop it; that change's own job sets it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_event: Option<GoogleEventLink>,
}

/// Where the booking's Google event is, and what the calendar sync noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleEventLink {
    pub calendar_id: String,
    pub event_id: String,
    /// The host moved the event in Google: its times there, for staff to
    /// act on (the booking itself keeps its time until someone reschedules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<MovedInGoogle>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MovedInGoogle {
    pub start: Timestamp,
    pub end: Timestamp,
    pub noticed_at: String,
}

/// What staff see of the booking's Google event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GoogleCalendarView {
    /// Written into the host's Google calendar.
    pub written: bool,
    /// Moved in Google to these times: the booking needs a look.
    pub moved: Option<MovedInGoogle>,
}

impl BookingRecord {
    pub(super) fn calendar_key(&self) -> Key {
        host_calendar_key(&self.org_id, &self.host_user_id, self.start.as_second(), &self.id)
    }

    pub(super) fn reminder_keys(&self) -> Vec<Key> {
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
            id: self.id.to_string(),
            uid: self.id.to_string(),
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
            google_calendar: None,
        }
    }

    /// The view staff see: with the state of the booking's Google event,
    /// which the invitee's answers and webhooks leave out.
    pub fn host_view(&self) -> BookingView {
        BookingView {
            google_calendar: self.google_event.as_ref().map(|link| GoogleCalendarView {
                written: true,
                moved: link.moved.clone(),
            }),
            ..self.view()
        }
    }
}

/// What the API shows of a booking (and what notifications are built from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BookingView {
    pub id: String,
    /// The public id in manage links (the same as `id`).
    pub uid: String,
    pub org_id: OrgId,
    pub event_type_id: EventTypeId,
    pub event_title: String,
    pub host_user_id: UserId,
    pub start: Timestamp,
    pub end: Timestamp,
    pub duration: u32,
    pub status: BookingStatus,
    pub no_show: bool,
    pub location: Option<Location>,
    pub invitee: Invitee,
    pub answers: BTreeMap<String, Value>,
    pub contact_id: Option<ContactId>,
    pub sequence: u32,
    pub cancel_reason: Option<String>,
    pub cancelled_by: Option<ChangedBy>,
    pub created_at: String,
    pub updated_at: String,
    /// Staff views only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_calendar: Option<GoogleCalendarView>,
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
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NewBooking {
    pub booking: BookingView,
    pub manage_token: String,
    pub manage_url: String,
}
