//! Google Calendar: the host's connection read after every booking change,
//! and for connected hosts the job that writes the booking's event
//! (`bookings::sync_booking_event`: the booking and the connection read;
//! the event's link written on the booking when it is first written), and the calendar sync (`calendar_sync::tick` every five
//! minutes: every shard of the connections index; then each connected
//! host's run, `bookings::sync_host_calendar`: the connection read and its
//! listing position written). Google's own answers touch no key.

use konnecs::domain::ids::{OrgId, UserId};
use konnecs::ports::{Condition, Index, Key, Update, WriteOp};
use konnecs::services::google::calendar_sync::{CONNECTION_SHARDS, connections_index, connections_partition};
use konnecs::services::google::connection_key;
use konnecs::services::scheduling::booking_key;
use konnecs::services::scheduling::bookings::BookingRecord;
use serde_json::json;

use super::Sim;
use super::meter::{Recorder, item_bytes};
use super::population::Org;

/// Hosts with Google Calendar connected: three in ten.
const CONNECTED_PER_TEN: u64 = 3;
/// A connection item: sealed tokens, scopes, the calendar choice, the sync position.
const CONNECTION_BYTES: usize = 1_400;
/// Seconds between two ticks of the calendar sync (`rate(5 minutes)`).
const SYNC_EVERY: i64 = 300;
/// The hosts' runs follow their tick within this many seconds (the jobs queue).
const RUNS_SPREAD_SECONDS: f64 = 60.0;

/// Whether the host has Google Calendar connected (a fixed share, by id).
pub fn connected(user_id: &str) -> bool {
    let hash = user_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash % 10 < CONNECTED_PER_TEN
}

/// After one committed change of `booking` (`first`: its booking): the
/// host's connection read (`google_event::queue`), and for a connected
/// host the event job: the booking and the connection read, the event's
/// link written on the booking the first time.
pub fn event_job(rec: &mut Recorder, at: f64, org: &Org, booking: &BookingRecord, first: bool) {
    let host = &booking.host_user_id;
    let is_connected = connected(host.as_str());
    let connection_bytes = if is_connected { CONNECTION_BYTES } else { 0 };
    rec.get(at, &connection_key(&org.id, host), connection_bytes);
    if !is_connected {
        return;
    }
    let job_at = at + 1.0;
    let booking_bytes = booking.item().map(|item| item_bytes(&item)).unwrap_or(1_500);
    rec.get(job_at, &booking_key(&org.id, &booking.id), booking_bytes);
    rec.get(job_at, &connection_key(&org.id, host), CONNECTION_BYTES);
    if first {
        let op = WriteOp::Update {
            key: booking_key(&org.id, &booking.id),
            update: Update::default().set("google_event", json!({"calendar_id": "primary"})),
            condition: Some(Condition::Exists),
        };
        rec.write(job_at + 0.5, &op, booking_bytes + 120);
    }
}

/// The day's calendar-sync ticks and the connected hosts' runs.
pub fn run(sim: &mut Sim) {
    let members: Vec<(OrgId, UserId)> = sim
        .orgs
        .iter()
        .flat_map(|org| {
            org.users
                .iter()
                .take(org.hosts)
                .filter(|user| connected(&user.id))
                .map(|user| (org.id.clone(), UserId::from(user.id.as_str())))
        })
        .collect();
    let mut per_shard = vec![0usize; CONNECTION_SHARDS as usize];
    for (org_id, user_id) in &members {
        let [(_, partition), _] = connections_index(org_id, user_id);
        let shard = partition
            .as_str()
            .and_then(|p| p.strip_prefix("GOOGLE#"))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(count) = shard.and_then(|s| per_shard.get_mut(s)) {
            *count += 1;
        }
    }
    let spread = RUNS_SPREAD_SECONDS / members.len().max(1) as f64;
    for tick in 0..(86_400 / SYNC_EVERY) {
        let at = (tick * SYNC_EVERY) as f64;
        for (shard, items) in per_shard.iter().enumerate() {
            sim.rec.query(
                at,
                Index::Gsi2,
                &connections_partition(shard as u32),
                *items,
                CONNECTION_BYTES,
                500,
            );
        }
        for (n, (org_id, user_id)) in members.iter().enumerate() {
            let run_at = at + 1.0 + n as f64 * spread;
            let key: Key = connection_key(org_id, user_id);
            sim.rec.get(run_at, &key, CONNECTION_BYTES);
            let op = WriteOp::Update {
                key,
                update: Update::default().set("events_sync", json!({"calendar_id": "primary"})),
                condition: Some(Condition::Exists),
            };
            sim.rec.write(run_at + 0.5, &op, CONNECTION_BYTES);
        }
    }
}
