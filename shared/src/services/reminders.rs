//! Pending reminder items: creation and removal. The tick
//! and the sending consumer (another module) read exactly this layout:
//!
//! | attribute | value |
//! |---|---|
//! | `pk` | `REMINDERS#<due minute, UTC, YYYY-MM-DDTHH:MM>` |
//! | `sk` | `<org_id>#<booking_id>#<offset_minutes>#<channel>` |
//! | `org_id`, `booking_id` | strings |
//! | `channel` | `"email"` or `"sms"` |
//! | `offset_minutes` | minutes before the start |
//! | `due_at`, `starts_at` | Unix seconds |
//! | `status` | `"pending"` (the consumer moves it to `"sent"` conditionally) |
//! | `expires_at` | `starts_at` + 7 days (TTL) |
//!
//! One item per (booking, offset, channel). The booking record lists the keys
//! of its reminders, so cancel and reschedule delete them in the same
//! transaction as the booking change: a cancelled or moved appointment never
//! keeps a reminder for its old time.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ports::{Key, StoreError, WriteOp};

pub const PARTITION_PREFIX: &str = "REMINDERS#";
pub const STATUS_PENDING: &str = "pending";
/// How long a reminder item outlives its appointment's start.
pub const KEEP_AFTER_START_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

/// One entry of an event type's reminder plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderOffset {
    /// Minutes before the start.
    pub offset_minutes: u32,
    pub channels: Vec<Channel>,
}

/// The default plan: 24 hours and 1 hour before, by email and SMS (SMS only
/// reaches invitees who gave a phone and consent).
pub fn default_plan() -> Vec<ReminderOffset> {
    [24 * 60, 60]
        .into_iter()
        .map(|offset_minutes| ReminderOffset {
            offset_minutes,
            channels: vec![Channel::Email, Channel::Sms],
        })
        .collect()
}

/// The partition of reminders due in the minute containing `due`.
pub fn partition(due: Timestamp) -> String {
    format!("{PARTITION_PREFIX}{}", due.strftime("%Y-%m-%dT%H:%M"))
}

pub fn key(due: Timestamp, org_id: &str, booking_id: &str, offset_minutes: u32, channel: Channel) -> Key {
    Key::new(
        partition(due),
        format!("{org_id}#{booking_id}#{offset_minutes}#{}", channel.as_str()),
    )
}

/// The reminders of one booking: their keys (to store on the booking) and
/// the puts (for the booking's transaction).
#[derive(Debug, Default, Clone)]
pub struct Planned {
    pub keys: Vec<Key>,
    pub ops: Vec<WriteOp>,
}

/// The pending reminders of a booking starting at `starts_at`. Reminders
/// already due at `now` are left out (the confirmation covers them); SMS
/// reminders only when `sms_allowed` (a phone with SMS consent).
pub fn plan(
    org_id: &str,
    booking_id: &str,
    starts_at: Timestamp,
    offsets: &[ReminderOffset],
    sms_allowed: bool,
    now: Timestamp,
) -> Result<Planned, StoreError> {
    let mut planned = Planned::default();
    let start_s = starts_at.as_second();
    for offset in offsets {
        let due_s = start_s - i64::from(offset.offset_minutes) * 60;
        if due_s <= now.as_second() {
            continue;
        }
        let due = Timestamp::from_second(due_s).map_err(|err| StoreError::Invalid(err.to_string()))?;
        let mut channels = offset.channels.clone();
        channels.sort();
        channels.dedup();
        for channel in channels {
            if channel == Channel::Sms && !sms_allowed {
                continue;
            }
            let key = key(due, org_id, booking_id, offset.offset_minutes, channel);
            let item = json!({
                "pk": key.pk,
                "sk": key.sk,
                "org_id": org_id,
                "booking_id": booking_id,
                "channel": channel.as_str(),
                "offset_minutes": offset.offset_minutes,
                "due_at": due_s,
                "starts_at": start_s,
                "status": STATUS_PENDING,
                "expires_at": start_s + KEEP_AFTER_START_SECONDS,
            });
            planned.ops.push(WriteOp::Put {
                item: super::object(item),
                condition: None,
            });
            planned.keys.push(key);
        }
    }
    Ok(planned)
}

/// Deletes of a booking's reminders, for the transaction that cancels or
/// moves it. Unconditional: a reminder already sent (or expired) simply goes;
/// a consumer racing the delete fails its `pending → sent` condition.
pub fn removal_ops(keys: &[Key]) -> Vec<WriteOp> {
    keys.iter()
        .map(|key| WriteOp::Delete {
            key: key.clone(),
            condition: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn reminders_are_keyed_by_due_minute_and_skip_sms_without_consent() {
        let start = ts("2026-03-10T15:30:00Z");
        let now = ts("2026-03-01T00:00:00Z");
        let planned = plan("o1", "b1", start, &default_plan(), false, now).unwrap();
        let keys: Vec<(String, String)> = planned.keys.iter().map(|k| (k.pk.clone(), k.sk.clone())).collect();
        assert_eq!(
            keys,
            [
                ("REMINDERS#2026-03-09T15:30".to_string(), "o1#b1#1440#email".to_string()),
                ("REMINDERS#2026-03-10T14:30".to_string(), "o1#b1#60#email".to_string()),
            ]
        );
        let with_sms = plan("o1", "b1", start, &default_plan(), true, now).unwrap();
        assert_eq!(with_sms.keys.len(), 4);
    }

    #[test]
    fn reminders_already_due_at_booking_time_are_not_created() {
        let start = ts("2026-03-10T15:30:00Z");
        let now = ts("2026-03-10T12:00:00Z");
        let planned = plan("o1", "b1", start, &default_plan(), true, now).unwrap();
        assert_eq!(planned.keys.len(), 2, "only the 1 h reminders remain");
        assert!(planned.keys.iter().all(|k| k.sk.contains("#60#")));
    }
}
