//! Pending reminder items: creation and removal. The tick
//! and the sending consumer ([`crate::services::reminder_dispatch`]) read
//! exactly this layout:
//!
//! | attribute | value |
//! |---|---|
//! | `pk` | `REMINDERS#<due minute, UTC, YYYY-MM-DDTHH:MM>#<shard>` |
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
//!
//! **Shards.** Every tenant's reminders due in one minute would otherwise
//! share one partition key, and DynamoDB serves one partition key at about
//! 1,000 write and 3,000 read units per second: appointments cluster on the
//! hour, so the busiest minute of a day holds a large share of all reminders
//! and the consumer flips each of them `pending → sent` within that minute.
//! So a minute is spread over [`SHARDS`] partition keys, the shard being a
//! stable hash of the booking id ([`shard_of`]: FNV-1a, never Rust's
//! per-process randomized hasher), so all reminders of one booking share a
//! shard and a retry plans the same keys. [`SHARDS`] comes from the
//! key-distribution simulation (`tests/support/keysim`, numbers and the
//! choice in BENCHMARKS.md, "Key distribution"). Changing it moves new
//! reminders to other partitions: the tick must then read the shards of both
//! values until the old ones drain, as it does for the unsharded layout.
//!
//! **The unsharded layout** (`REMINDERS#<due minute>`, [`legacy_partition`])
//! is what releases before the shards wrote. Its pending reminders are not
//! migrated: the tick reads both layouts until they drain (see
//! `reminder_dispatch`), and the booking records that list such keys still
//! delete them on cancel and reschedule.

use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ports::{Key, StoreError, WriteOp};

pub const PARTITION_PREFIX: &str = "REMINDERS#";
pub const STATUS_PENDING: &str = "pending";
/// How long a reminder item outlives its appointment's start.
pub const KEEP_AFTER_START_SECONDS: i64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// Partition keys each due minute is spread over. Chosen from the
/// key-distribution simulation (BENCHMARKS.md, "Key distribution").
pub const SHARDS: u32 = 16;

/// FNV-1a (64 bit) of the booking id: stable across processes, releases
/// and platforms.
pub fn booking_hash(booking_id: &BookingId) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    booking_id
        .bytes()
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME))
}

/// The shard of a booking's reminders: [`booking_hash`] modulo [`SHARDS`].
pub fn shard_of(booking_id: &BookingId) -> u32 {
    (booking_hash(booking_id) % u64::from(SHARDS)) as u32
}

/// `2026-12-01T09:30` for any instant in that UTC minute.
pub fn minute_label(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M").to_string()
}

/// Shard `shard` of the reminders due in the minute containing `due`.
pub fn partition(due: Timestamp, shard: u32) -> String {
    format!("{PARTITION_PREFIX}{}#{shard}", minute_label(due))
}

/// Every shard of the minute containing `due`, shard 0 first.
pub fn partitions(due: Timestamp) -> Vec<String> {
    (0..SHARDS).map(|shard| partition(due, shard)).collect()
}

/// The one partition of a minute in the unsharded layout of earlier
/// releases: still read until its reminders drain, never written.
pub fn legacy_partition(due: Timestamp) -> String {
    format!("{PARTITION_PREFIX}{}", minute_label(due))
}

pub fn key(due: Timestamp, org_id: &OrgId, booking_id: &BookingId, offset_minutes: u32, channel: Channel) -> Key {
    Key::new(
        partition(due, shard_of(booking_id)),
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
    org_id: &OrgId,
    booking_id: &BookingId,
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
        let planned = plan(
            &OrgId::new("o1"),
            &BookingId::new("b1"),
            start,
            &default_plan(),
            false,
            now,
        )
        .unwrap();
        let shard = shard_of(&BookingId::new("b1"));
        let keys: Vec<(String, String)> = planned.keys.iter().map(|k| (k.pk.clone(), k.sk.clone())).collect();
        assert_eq!(
            keys,
            [
                (
                    format!("REMINDERS#2026-03-09T15:30#{shard}"),
                    "o1#b1#1440#email".to_string()
                ),
                (
                    format!("REMINDERS#2026-03-10T14:30#{shard}"),
                    "o1#b1#60#email".to_string()
                ),
            ]
        );
        let with_sms = plan(
            &OrgId::new("o1"),
            &BookingId::new("b1"),
            start,
            &default_plan(),
            true,
            now,
        )
        .unwrap();
        assert_eq!(with_sms.keys.len(), 4);
    }

    #[test]
    fn reminders_already_due_at_booking_time_are_not_created() {
        let start = ts("2026-03-10T15:30:00Z");
        let now = ts("2026-03-10T12:00:00Z");
        let planned = plan(
            &OrgId::new("o1"),
            &BookingId::new("b1"),
            start,
            &default_plan(),
            true,
            now,
        )
        .unwrap();
        assert_eq!(planned.keys.len(), 2, "only the 1 h reminders remain");
        assert!(planned.keys.iter().all(|k| k.sk.contains("#60#")));
    }

    #[test]
    fn the_shard_is_a_fixed_fnv_1a_of_the_booking_id() {
        // FNV-1a 64 reference values: a changed hash would move the
        // reminders of existing bookings where the tick no longer finds them.
        assert_eq!(
            SHARDS, 16,
            "a new shard count needs the tick to read the old shards until they drain"
        );
        assert_eq!(shard_of(&BookingId::new("")), (0xcbf2_9ce4_8422_2325_u64 % 16) as u32);
        assert_eq!(shard_of(&BookingId::new("a")), (0xaf63_dc4c_8601_ec8c_u64 % 16) as u32);
        assert_eq!(
            shard_of(&BookingId::new("foobar")),
            (0x8594_4171_f739_67e8_u64 % 16) as u32
        );
        let key = key(
            ts("2026-03-10T14:30:59Z"),
            &OrgId::new("o1"),
            &BookingId::new("foobar"),
            60,
            Channel::Sms,
        );
        assert_eq!(key.pk, "REMINDERS#2026-03-10T14:30#8");
        assert_eq!(key.sk, "o1#foobar#60#sms");
        assert_eq!(
            legacy_partition(ts("2026-03-10T14:30:59Z")),
            "REMINDERS#2026-03-10T14:30"
        );
    }

    #[test]
    fn bookings_spread_evenly_over_the_shards() {
        let mut counts = [0u32; SHARDS as usize];
        for i in 0..16_000 {
            // Ids as `records::new_id` makes them: 32 hex digits.
            let id = format!(
                "019a{:028x}",
                u128::from(i as u32).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
            );
            counts[shard_of(&BookingId::new(id)) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 800 && *max < 1200, "{counts:?}");
    }
}
