//! The host's calendar and its version item: the concurrency core that
//! lets at most one of two racing bookings commit (see the module above).

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::ids::{BookingId, EventTypeId};
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::slots::{Booked, SlotRejection};
use crate::ports::{Condition, Item, Query, SortKey, StoreError, Table, Update, WriteOp};
use crate::services::records::from_item;
use crate::services::scheduling::{SchedulingError, host_calendar_partition, host_calendar_version_key, time_sort};

// ---------------------------------------------------------------------------
// Reading the host calendar

/// One live booking on the host calendar.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct CalendarEntry {
    pub(super) booking_id: BookingId,
    event_type_id: String,
    starts_at: i64,
    ends_at: i64,
    #[serde(default)]
    buffer_before: u32,
    #[serde(default)]
    buffer_after: u32,
    #[serde(default = "one")]
    seats_taken: u32,
}

pub(super) fn one() -> u32 {
    1
}

impl CalendarEntry {
    pub(super) fn booked(&self, event_type_id: &EventTypeId) -> Option<Booked> {
        Some(Booked {
            start: Timestamp::from_second(self.starts_at).ok()?,
            end: Timestamp::from_second(self.ends_at).ok()?,
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            same_event_type: self.event_type_id == event_type_id,
            seats_taken: self.seats_taken,
        })
    }
}

/// The host's live bookings starting in `[from, to]`: one strongly
/// consistent query (more pages only past 1,000 bookings).
pub(super) async fn host_calendar(
    table: &dyn Table,
    org_id: &OrgId,
    host_user_id: &UserId,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<CalendarEntry>, StoreError> {
    let mut entries = Vec::new();
    let mut cursor = None;
    let sort = SortKey::Between(time_sort(from.as_second()), format!("{}~", time_sort(to.as_second())));
    for _ in 0..50 {
        let page = table
            .query(
                &Query::partition(host_calendar_partition(org_id, host_user_id))
                    .sort(sort.clone())
                    .limit(1000)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            entries.push(from_item::<CalendarEntry>(item)?);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(entries)
}

pub(super) fn version_of(item: Option<&Item>) -> Option<u64> {
    item.map(|i| i.get("version").and_then(Value::as_u64).unwrap_or(0))
}

/// The version bump that makes the overlap check and the commit one step.
pub fn bump_calendar(org_id: &OrgId, host_user_id: &UserId, read: Option<u64>) -> WriteOp {
    WriteOp::Update {
        key: host_calendar_version_key(org_id, host_user_id),
        update: Update::default().add("version", 1),
        condition: Some(match read {
            Some(version) => Condition::VersionEquals(version),
            None => Condition::NotExists,
        }),
    }
}

pub(super) fn rejection(reason: SlotRejection) -> SchedulingError {
    match reason {
        SlotRejection::Conflicts | SlotRejection::NoSeatsLeft | SlotRejection::LimitReached => {
            SchedulingError::SlotTaken
        }
        other => SchedulingError::NotOffered(other),
    }
}

/// Whether a failed commit is worth another read-check-commit round.
pub(super) async fn should_retry(err: &StoreError, attempt: usize) -> bool {
    match err {
        StoreError::TransactionConditionFailed { .. } | StoreError::ConditionFailed => true,
        StoreError::Contention => {
            // Someone else holds the items; back off a little, with jitter.
            let jitter = u64::from(rand::random::<u8>() % 20);
            tokio::time::sleep(Duration::from_millis(5 * (attempt as u64 + 1) + jitter)).await;
            true
        }
        _ => false,
    }
}

pub(super) fn exhausted() -> SchedulingError {
    SchedulingError::Store(StoreError::Contention)
}
