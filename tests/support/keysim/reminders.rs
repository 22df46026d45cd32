//! Reminders after they are planned: the minute tick's queries
//! (`reminder_dispatch::tick`: every shard of the current minute and of the
//! [`RESCAN_MINUTES`] before it, the cursor read and written) and the
//! consumer (`reminder_dispatch::deliver`: the reminder and the booking's
//! notice read, `pending → sent`, an SMS's claim and opt-out read).

use konnecs::domain::ids::BookingId;
use std::collections::HashMap;

use jiff::Timestamp;
use konnecs::ports::{Condition, Index, Item, Key, Update, WriteOp};
use konnecs::services::notifications;
use konnecs::services::reminder_dispatch::{RESCAN_MINUTES, cursor_key, partitions_of_minute};
use konnecs::services::reminders::{booking_hash, legacy_partition, partition, shard_of};
use serde_json::Value;

use super::ReminderLayout;
use super::bookings::{Cx, sms_claim};
use super::entities;
use super::meter::item_bytes;
use super::population::Org;
use super::rng::Rng;

/// Pending reminders per partition key: what each tick query reads.
#[derive(Debug, Default)]
pub struct Due {
    partitions: HashMap<String, (usize, usize)>,
}

impl Due {
    fn add(&mut self, partition: &str, bytes: usize) {
        let entry = self.partitions.entry(partition.to_owned()).or_default();
        entry.0 += 1;
        entry.1 += bytes;
    }

    /// (items, bytes per item) of a partition.
    fn size(&self, partition: &str) -> (usize, usize) {
        match self.partitions.get(partition) {
            Some((items, bytes)) if *items > 0 => (*items, bytes.div_ceil(*items)),
            _ => (0, 0),
        }
    }
}

/// The partition a reminder due at `due` is written to.
pub fn partition_for(layout: ReminderLayout, due: Timestamp, booking_id: &str) -> String {
    match layout {
        ReminderLayout::Sharded => partition(due, shard_of(&BookingId::new(booking_id))),
        ReminderLayout::Shards(n) => partition(
            due,
            (booking_hash(&BookingId::new(booking_id)) % u64::from(n.max(1))) as u32,
        ),
        ReminderLayout::Unsharded => legacy_partition(due),
    }
}

/// The partitions one tick query reads for the minute starting `minute`.
fn tick_partitions(layout: ReminderLayout, minute: Timestamp) -> Vec<String> {
    match layout {
        // This release: the shards, and the unsharded partition while an
        // earlier release may have written it (an empty query each).
        ReminderLayout::Sharded => partitions_of_minute(minute.as_second(), i64::MAX).unwrap_or_default(),
        ReminderLayout::Shards(n) => (0..n.max(1))
            .map(|shard| partition(minute, shard))
            .chain([legacy_partition(minute)])
            .collect(),
        ReminderLayout::Unsharded => vec![legacy_partition(minute)],
    }
}

/// A reminder item the booking wrote: counted in its partition for the
/// tick and delivered by the consumer after its due minute's tick, unless
/// the booking changed before it was due (`removed_at`).
#[allow(clippy::too_many_arguments)]
pub fn due(
    cx: &mut Cx,
    rng: &mut Rng,
    org: &Org,
    booking_id: &str,
    item: &Item,
    notice_bytes: usize,
    phone: Option<&str>,
    removed_at: Option<i64>,
) {
    let due_rel = item.get("due_at").and_then(Value::as_i64).unwrap_or(0) - cx.day0.as_second();
    if removed_at.is_some_and(|at| at <= due_rel) {
        return;
    }
    let Some(key) = Key::of(item) else { return };
    let bytes = item_bytes(item);
    cx.due.add(&key.pk, bytes);
    let minute = due_rel.div_euclid(60) * 60;
    let at = minute as f64 + cx.config.tick_second + 1.0 + rng.unit() * cx.config.consumer_drain_seconds;
    cx.rec.get(at, &key, bytes);
    cx.rec.get(
        at,
        &notifications::notice_key(&org.id, &BookingId::new(booking_id)),
        notice_bytes,
    );
    cx.rec.write(
        at,
        &WriteOp::Update {
            key,
            update: Update::default().set("status", "sent"),
            condition: Some(Condition::AttributeEquals {
                name: "status".into(),
                value: "pending".into(),
            }),
        },
        bytes,
    );
    if item.get("channel").and_then(Value::as_str) == Some("sms")
        && let Some(phone) = phone
    {
        sms_claim(cx.rec, at, org, booking_id, phone);
    }
}

/// Store calls of the minute ticks: the busiest minute's (and when) and the
/// quietest's; the most reminders due in one minute (what its tick fans out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickCalls {
    pub busiest_minute: u32,
    pub busiest: u64,
    pub quietest: u64,
    pub most_due: usize,
}

/// Every minute's tick: the cursor, then one query per partition of the
/// current minute and of the minutes it reads again.
pub fn tick(cx: &mut Cx) -> TickCalls {
    let cursor = entities::sized(
        &cursor_key(),
        &[("minute", "2026-10-13T09:30"), ("minute_s", "1791883800")],
    );
    let mut calls = TickCalls {
        quietest: u64::MAX,
        ..TickCalls::default()
    };
    for minute in 0..1440i64 {
        let before = cx.rec.calls;
        let at = (minute * 60) as f64 + cx.config.tick_second;
        cx.rec.get(at, &cursor_key(), item_bytes(&cursor));
        for back in 0..=RESCAN_MINUTES {
            let read = (minute - back).rem_euclid(1440);
            let start = Timestamp::from_second(cx.day0.as_second() + read * 60).unwrap_or(cx.day0);
            let mut due = 0;
            for partition in tick_partitions(cx.config.layout, start) {
                let (items, bytes) = cx.due.size(&partition);
                due += items;
                cx.rec.query(at, Index::Primary, &partition, items, bytes, 500);
            }
            calls.most_due = calls.most_due.max(due);
        }
        cx.rec.write(
            at,
            &WriteOp::Put {
                item: cursor.clone(),
                condition: None,
            },
            0,
        );
        let made = cx.rec.calls - before;
        if made > calls.busiest {
            calls.busiest = made;
            calls.busiest_minute = (minute * 60) as u32;
        }
        calls.quietest = calls.quietest.min(made);
    }
    calls
}
