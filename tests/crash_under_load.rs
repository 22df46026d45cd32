//! The short crash-under-load test: `konnecs-local` as a real process on
//! its embedded store, a modest mixed load from signed-in clients over TCP
//! (public slot reads and bookings, contact creates, searches, timeline
//! reads), and three SIGKILLs with restarts on the same data directory.
//! Afterwards every write that was answered 2xx is read back through the
//! API, no host has two bookings holding the same time, and the store file
//! passes `PRAGMA integrity_check`. Kills wait for acknowledged writes, not
//! only for time, so each life of the server carries writes across a crash
//! however slow the machine; the assertions are about data, never latency.
//! The long run and its figures are in BENCHMARKS.md ("Load with crashes").

use std::sync::{Arc, Mutex};
use std::time::Duration;

use konnecs_tests::load::{self, Ack, Clients, LoadPlan, MIX, Progress, ServerProcess};
use konnecs_tests::load_check::{self, KillPlan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_mixed_load_loses_no_acknowledged_write_and_doubles_no_booking() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = ServerProcess::new(load::local_binary(), dir.path(), load::free_port());
    server.start();
    let base = server.base_url();
    let run = "crash-test";
    let tenants = load::set_up(&base, run, 2, 3, 5).await;
    let clients = Clients::new(&tenants, 24, run, 7);
    let server = Arc::new(Mutex::new(server));
    let progress = Arc::new(Progress::default());
    // Bounded: the load stops by itself once the last restart has taken
    // writes, or at the latest after five minutes (then the kill count
    // below fails the test instead of it hanging).
    let plan = LoadPlan {
        rate: Some(40.0),
        duration: Duration::from_secs(300),
        mix: MIX.to_vec(),
        // Half a day of each host's slots (48): bookings race for them, so
        // the no-double-booking check meets 409s and lost races, and some
        // stay free for the later lives of the server.
        booking_slots: load::SLOTS_PER_DAY / 2,
        seed: 17,
    };
    let kill_plan = KillPlan {
        every: Duration::from_secs(5),
        min_acks: 10,
        kills: 3,
        stop_after: true,
    };
    let controller = tokio::spawn(load_check::kill_on_schedule(
        server.clone(),
        kill_plan,
        progress.clone(),
    ));
    let report = load::run("crash test", &base, &clients, &plan, progress.clone()).await;
    progress.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (kills, _) = controller.await.expect("controller");
    report.print();
    let slot_taken = report.count(|_, answer| answer == load::Answer::SlotTaken);
    println!("bookings refused as slot_taken: {slot_taken}");
    assert_eq!(kills, 3, "the server was killed three times under load");

    let contacts = report.acks.iter().filter(|a| matches!(a, Ack::Contact { .. })).count();
    let bookings = report.acks.iter().filter(|a| matches!(a, Ack::Booking { .. })).count();
    assert!(
        contacts > 0 && bookings > 0,
        "writes of both kinds were acknowledged: {contacts} contacts, {bookings} bookings"
    );

    let verification = load_check::verify(server.clone(), &tenants, &report.acks).await;
    verification.print();
    assert!(
        verification.missing.is_empty(),
        "acknowledged writes lost: {:?}",
        verification.missing
    );
    assert!(
        verification.overlaps.is_empty(),
        "double bookings: {:?}",
        verification.overlaps
    );
    assert_eq!(verification.integrity, "ok");
    assert!(
        verification.bookings_in_store >= bookings,
        "every acknowledged booking is in the store file"
    );
}
