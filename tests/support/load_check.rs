//! What a load run with crashes must leave behind, and the physical limit
//! it is compared with: SIGKILLs on a schedule, the read-back of every
//! acknowledged write, the no-double-booking scan of the store file,
//! `PRAGMA integrity_check`, and the raw SQLite insert rate.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;

use crate::load::{Ack, Progress, ServerProcess, Tenant, client, staff};

/// When the controller kills the server.
#[derive(Debug, Clone, Copy)]
pub struct KillPlan {
    /// Time the server runs between a (re)start and its SIGKILL.
    pub every: Duration,
    /// Writes acknowledged since the (re)start before it may be killed, so
    /// every life of the server carries writes across a crash however slow
    /// the machine is (0: time alone decides).
    pub min_acks: usize,
    pub kills: usize,
    /// Once the last kill's restart has acknowledged `min_acks` writes,
    /// the load is told to stop (the short test); otherwise it runs its course.
    pub stop_after: bool,
}

/// SIGKILLs and restarts `server` per `plan` while a load runs; returns the
/// kills done and the seconds the server was down (kill to listening again).
pub async fn kill_on_schedule(
    server: Arc<Mutex<ServerProcess>>,
    plan: KillPlan,
    progress: Arc<Progress>,
) -> (usize, f64) {
    let mut kills = 0;
    let mut down = 0.0;
    let mut life_started = Instant::now();
    let mut acks_at_start = progress.acked.load(Ordering::SeqCst);
    loop {
        let acked = progress.acked.load(Ordering::SeqCst) - acks_at_start;
        if progress.stop.load(Ordering::SeqCst) {
            break;
        }
        if kills == plan.kills {
            if !plan.stop_after {
                break;
            }
            if acked >= plan.min_acks.max(1) {
                progress.stop.store(true, Ordering::SeqCst);
                break;
            }
        } else if life_started.elapsed() >= plan.every && acked >= plan.min_acks {
            let server = server.clone();
            let took = tokio::task::spawn_blocking(move || {
                let mut server = server.lock().unwrap_or_else(PoisonError::into_inner);
                let killed = Instant::now();
                server.kill();
                server.start();
                killed.elapsed().as_secs_f64()
            })
            .await
            .expect("restart");
            kills += 1;
            down += took;
            life_started = Instant::now();
            acks_at_start = progress.acked.load(Ordering::SeqCst);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (kills, down)
}

/// A confirmed booking found overlapping another of the same host.
#[derive(Debug, Clone)]
pub struct Overlap {
    pub host: String,
    pub first: String,
    pub second: String,
}

#[derive(Debug, Default)]
pub struct Verification {
    pub contacts_checked: usize,
    pub bookings_checked: usize,
    /// Acknowledged writes the API does not return: (what, id, status, body).
    pub missing: Vec<String>,
    pub bookings_in_store: usize,
    pub overlaps: Vec<Overlap>,
    pub integrity: String,
}

impl Verification {
    pub fn holds(&self) -> bool {
        self.missing.is_empty() && self.overlaps.is_empty() && self.integrity == "ok"
    }

    pub fn print(&self) {
        println!(
            "verification: {} acknowledged contacts and {} acknowledged bookings read back, {} missing; {} bookings in the store, {} overlapping pairs; integrity_check: {}",
            self.contacts_checked,
            self.bookings_checked,
            self.missing.len(),
            self.bookings_in_store,
            self.overlaps.len(),
            self.integrity
        );
        for missing in self.missing.iter().take(10) {
            println!("  missing: {missing}");
        }
        for overlap in self.overlaps.iter().take(10) {
            println!("  overlap: {overlap:?}");
        }
    }
}

/// Reads every acknowledged write back through the API (the server must be
/// running), then, with the server SIGKILLed once more, scans the store
/// file for overlapping bookings and runs `PRAGMA integrity_check` on it.
pub async fn verify(server: Arc<Mutex<ServerProcess>>, tenants: &[Arc<Tenant>], acks: &[Ack]) -> Verification {
    let (base, store) = {
        let server = server.lock().unwrap_or_else(PoisonError::into_inner);
        (server.base_url(), server.store_path())
    };
    let http = client(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut verification = Verification::default();
    let results: Vec<Option<String>> = futures::stream::iter(acks.iter().cloned())
        .map(|ack| {
            let http = http.clone();
            let base = base.clone();
            async move {
                let (what, tenant, path) = match &ack {
                    Ack::Contact { tenant, id } => ("contact", *tenant, format!("/contacts/{id}")),
                    Ack::Booking { tenant, id } => ("booking", *tenant, format!("/appointments/{id}")),
                };
                let session = &tenants[tenant].session;
                // A read refused for lack of an answer is retried: only an
                // answer can prove a write missing.
                for _ in 0..5 {
                    match staff(&http, &base, session, reqwest::Method::GET, &path, None).await {
                        Ok((200, body)) => {
                            let confirmed = what == "contact" || body["status"] == "confirmed";
                            return (!confirmed).then(|| format!("{what} {path}: not confirmed: {body}"));
                        }
                        Ok((status, body)) => return Some(format!("{what} {path}: {status} {body}")),
                        Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                    }
                }
                Some(format!("{what} {path}: no answer"))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    verification.missing = results.into_iter().flatten().collect();
    verification.contacts_checked = acks.iter().filter(|a| matches!(a, Ack::Contact { .. })).count();
    verification.bookings_checked = acks.iter().filter(|a| matches!(a, Ack::Booking { .. })).count();

    {
        let mut server = server.lock().unwrap_or_else(PoisonError::into_inner);
        server.kill();
    }
    let (bookings, overlaps) = overlapping_bookings(&store);
    verification.bookings_in_store = bookings;
    verification.overlaps = overlaps;
    verification.integrity = integrity_check(&store);
    verification
}

/// Every booking that holds its host's time (not cancelled or declined),
/// grouped by host and sorted by start: any start before the previous end
/// is a double booking.
pub fn overlapping_bookings(store: &Path) -> (usize, Vec<Overlap>) {
    let conn = rusqlite::Connection::open(store).expect("open store");
    let mut statement = conn
        .prepare("SELECT item FROM items WHERE pk LIKE 'ORG#%' AND sk LIKE 'BOOKING#%'")
        .expect("prepare");
    let items: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let mut by_host: BTreeMap<String, Vec<(jiff::Timestamp, jiff::Timestamp, String)>> = BTreeMap::new();
    for item in &items {
        let booking: Value = serde_json::from_str(item).expect("booking json");
        let status = booking["status"].as_str().unwrap_or_default();
        if status == "cancelled" || status == "declined" {
            continue;
        }
        let at = |field: &str| -> jiff::Timestamp {
            booking[field]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("booking {field}: {booking}"))
        };
        by_host
            .entry(booking["host_user_id"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push((
                at("start"),
                at("end"),
                booking["id"].as_str().unwrap_or_default().to_string(),
            ));
    }
    let mut overlaps = Vec::new();
    for (host, mut bookings) in by_host {
        bookings.sort();
        for pair in bookings.windows(2) {
            if pair[1].0 < pair[0].1 {
                overlaps.push(Overlap {
                    host: host.clone(),
                    first: pair[0].2.clone(),
                    second: pair[1].2.clone(),
                });
            }
        }
    }
    (items.len(), overlaps)
}

pub fn integrity_check(store: &Path) -> String {
    let conn = rusqlite::Connection::open(store).expect("open store");
    let rows: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
        .expect("integrity_check");
    rows.join("; ")
}

/// Single-row transactions per second into a fresh file in `dir`: the
/// embedded store's `items` table and indexes, its pragmas (WAL,
/// synchronous FULL, the same cache and checkpoint sizes) and its
/// checkpointer (a second connection checkpointing PASSIVE every second,
/// so the WAL is reused rather than grown, as in the store), one row of a
/// contact's size per commit, as a request's write commits. Runs `duration`.
pub fn raw_insert_rate(dir: &Path, duration: Duration) -> (u64, f64) {
    let path = dir.join("raw-insert.sqlite3");
    let conn = rusqlite::Connection::open(&path).expect("open raw file");
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .expect("wal");
    assert_eq!(mode, "wal");
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;
         PRAGMA wal_autocheckpoint = 65536; PRAGMA journal_size_limit = 67108864;
         CREATE TABLE items (
             pk TEXT NOT NULL, sk TEXT NOT NULL, item TEXT NOT NULL,
             gsi1pk TEXT, gsi1sk TEXT, gsi2pk TEXT, gsi2sk TEXT, gsi3pk TEXT, gsi3sk TEXT,
             expires_at INTEGER, PRIMARY KEY (pk, sk)) WITHOUT ROWID;
         CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
         CREATE INDEX items_gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
         CREATE INDEX items_gsi3 ON items (gsi3pk, gsi3sk, pk, sk) WHERE gsi3pk IS NOT NULL;
         CREATE INDEX items_expiry ON items (expires_at) WHERE expires_at IS NOT NULL;",
    )
    .expect("schema");
    let checkpointing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let checkpointer = {
        let checkpointing = checkpointing.clone();
        let checkpoints = rusqlite::Connection::open(&path).expect("open checkpointer");
        std::thread::spawn(move || {
            while checkpointing.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_secs(1));
                let _ = checkpoints.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
    };
    let filler = "x".repeat(400);
    let started = Instant::now();
    let mut rows = 0u64;
    while started.elapsed() < duration {
        let id = format!("{:016x}", rows.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let item = format!(
            r#"{{"id":"{id}","first_name":"Given{rows}","last_name":"Load","emails":["person{rows}@load.example"],"notes":"{filler}"}}"#
        );
        conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
        conn.execute(
            "INSERT INTO items (pk, sk, item, gsi1pk, gsi1sk, gsi2pk, gsi2sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                "ORG#raw",
                format!("CONTACT#{id}"),
                item,
                "ORG#raw#CONTACTS",
                format!("{rows:012}"),
                "ORG#raw#EMAIL",
                format!("person{rows}@load.example")
            ],
        )
        .expect("insert");
        conn.execute_batch("COMMIT").expect("commit");
        rows += 1;
    }
    let rate = rows as f64 / started.elapsed().as_secs_f64();
    checkpointing.store(false, Ordering::SeqCst);
    let _ = checkpointer.join();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("raw-insert.sqlite3{suffix}")));
    }
    (rows, rate)
}
