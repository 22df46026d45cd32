//! Appointment scheduling: schedules, event types, public booking
//! and the management of bookings. Keys (all under the owning org):
//!
//! | item | pk | sk | index |
//! |---|---|---|---|
//! | schedule | `ORG#<org>` | `SCHEDULE#<id>` | |
//! | event type | `ORG#<org>` | `EVENTTYPE#<id>` | |
//! | event slug (unique per org) | `ORG#<org>#EVENTSLUG#<slug>` | `EVENTTYPE` | |
//! | booking | `ORG#<org>` | `BOOKING#<id>` | gsi1: `ORG#<org>#HOST#<user>#BOOKINGS` / `<start s, 12 digits>#<id>` |
//! | booking uid → org (public manage link) | `BOOKING#<id>` | `BOOKING` | |
//! | host calendar entry (live bookings only) | `ORG#<org>#HOSTCAL#<user>` | `<start s, 12 digits>#<id>` | |
//! | host calendar version | `ORG#<org>#HOSTCAL#<user>` | `VERSION` | |
//! | reminder | see [`crate::services::reminders`] | | |
//!
//! The host calendar is a primary-index partition on purpose: its query is
//! strongly consistent on DynamoDB (a GSI is not), so the overlap check at
//! commit time sees every committed booking of the host.

pub mod bookings;
pub mod event_types;
pub mod public_pages;
pub mod schedules;

use crate::domain::ids::BookingId;
use crate::domain::ids::EventTypeId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde_json::Value;

use crate::domain::input::FieldError;
use crate::domain::role::{Permission, Role};
use crate::domain::slots::SlotRejection;
use crate::ports::busy::BusyError;
use crate::ports::{Key, StoreError};
use crate::services::audit::Actor;

/// Who calls a session use case.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub role: Role,
    pub actor: Actor,
}

impl Caller {
    /// Members manage their own schedules and event types; admins anyone's.
    pub(crate) fn may_manage_for(&self, user_id: &UserId) -> Result<(), SchedulingError> {
        if *user_id == self.user_id || self.role.allows(Permission::ManageSettings) {
            Ok(())
        } else {
            Err(SchedulingError::Forbidden)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulingError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("conflict: {code}")]
    Conflict { code: &'static str, detail: String },
    /// The requested start was free when shown but is gone now (or every
    /// seat is taken, or the limit is reached).
    /// The plan in force allows no more event types.
    #[error(transparent)]
    PlanLimit(crate::services::billing::PlanLimitReached),
    #[error("slot taken")]
    SlotTaken,
    /// The requested start is not one the event type offers.
    #[error("slot not offered: {0}")]
    NotOffered(SlotRejection),
    #[error(transparent)]
    Busy(#[from] BusyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl SchedulingError {
    pub fn field(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        SchedulingError::Invalid(vec![invalid(field, code, message)])
    }
}

pub fn invalid(field: impl Into<String>, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }
}

/// Field errors of a nested validator, with their paths under `prefix`.
pub fn prefixed(prefix: &str, fields: Vec<FieldError>) -> Vec<FieldError> {
    fields
        .into_iter()
        .map(|f| FieldError {
            field: if prefix.is_empty() {
                f.field
            } else {
                format!("{prefix}.{}", f.field)
            },
            ..f
        })
        .collect()
}

pub fn org_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}")
}

/// Every record of one kind in the organization's partition (sort keys
/// `<prefix><id>`), pages of 100; bounded at 2,000 (an organization has a
/// handful of schedules and event types).
async fn list_in_org<T: serde::de::DeserializeOwned>(
    table: &dyn crate::ports::Table,
    org_id: &OrgId,
    prefix: &str,
) -> Result<Vec<T>, SchedulingError> {
    let mut records = Vec::new();
    let mut cursor = None;
    for _ in 0..20 {
        let page = table
            .query(
                &crate::ports::Query::partition(org_partition(org_id))
                    .sort(crate::ports::SortKey::BeginsWith(prefix.into()))
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            records.push(crate::services::records::from_item(item)?);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(records)
}

pub fn schedule_key(org_id: &OrgId, id: &str) -> Key {
    Key::new(org_partition(org_id), format!("SCHEDULE#{id}"))
}

pub fn event_type_key(org_id: &OrgId, id: &EventTypeId) -> Key {
    Key::new(org_partition(org_id), format!("EVENTTYPE#{id}"))
}

pub fn event_slug_key(org_id: &OrgId, slug: &str) -> Key {
    Key::new(format!("ORG#{org_id}#EVENTSLUG#{slug}"), "EVENTTYPE")
}

pub fn booking_key(org_id: &OrgId, id: &BookingId) -> Key {
    Key::new(org_partition(org_id), format!("BOOKING#{id}"))
}

pub fn booking_uid_key(uid: &str) -> Key {
    Key::new(format!("BOOKING#{uid}"), "BOOKING")
}

pub fn host_bookings_index(org_id: &OrgId, host_user_id: &UserId) -> String {
    format!("ORG#{org_id}#HOST#{host_user_id}#BOOKINGS")
}

pub fn host_calendar_partition(org_id: &OrgId, host_user_id: &UserId) -> String {
    format!("ORG#{org_id}#HOSTCAL#{host_user_id}")
}

pub fn host_calendar_version_key(org_id: &OrgId, host_user_id: &UserId) -> Key {
    Key::new(host_calendar_partition(org_id, host_user_id), "VERSION")
}

/// Sort key of a time: zero-padded Unix seconds, so byte order is time order.
pub fn time_sort(second: i64) -> String {
    format!("{:012}", second.max(0))
}

pub fn host_calendar_key(org_id: &OrgId, host_user_id: &UserId, start_s: i64, booking_id: &BookingId) -> Key {
    Key::new(
        host_calendar_partition(org_id, host_user_id),
        format!("{}#{booking_id}", time_sort(start_s)),
    )
}

/// Trimmed text of 1..=max characters.
fn required_text(field: &str, raw: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let text = raw.trim();
    if text.is_empty() {
        errors.push(invalid(field, "required", "This field is required."));
    } else if text.chars().count() > max {
        errors.push(invalid(field, "too_long", format!("Use at most {max} characters.")));
    }
    text.to_string()
}

/// Overlays the top-level keys of a JSON patch on a JSON object.
fn merge_patch(mut base: Value, patch: Value) -> Result<Value, SchedulingError> {
    let (Value::Object(target), Value::Object(changes)) = (&mut base, patch) else {
        return Err(SchedulingError::field("body", "invalid", "Send a JSON object."));
    };
    for (name, value) in changes {
        target.insert(name, value);
    }
    Ok(base)
}

/// Parses a JSON value into an input type, as a field error naming the path.
fn parse_input<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, SchedulingError> {
    serde_json::from_value(value).map_err(|err| {
        let text = err.to_string();
        SchedulingError::field("body", "invalid", text)
    })
}

/// Is `user_id` a member of the org? One read.
async fn is_member(table: &dyn crate::ports::Table, org_id: &OrgId, user_id: &UserId) -> Result<bool, StoreError> {
    Ok(table
        .get(&crate::services::records::member_key(org_id, user_id))
        .await?
        .is_some())
}

impl From<crate::services::billing::limits::LimitError> for SchedulingError {
    fn from(err: crate::services::billing::limits::LimitError) -> Self {
        use crate::services::billing::limits::LimitError as E;
        match err {
            E::Reached(reached) => SchedulingError::PlanLimit(reached),
            E::Store(err) => SchedulingError::Store(err),
        }
    }
}
