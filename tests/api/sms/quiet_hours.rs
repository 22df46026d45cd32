//! Quiet hours on the test clock: a reminder text due in the recipient's
//! quiet hours waits for their end, or is skipped when the appointment
//! comes first; the organization's own hours apply.

use konnecs::ports::Key;
use konnecs::services::reminder_dispatch;
use konnecs::services::sms;
use konnecs_tests::app::{Store, TestApp};
use konnecs_tests::local::outbox;
use konnecs_tests::practice::{Practice, booking_id};
use serde_json::{Value, json};

use super::{PHONE, app, london_guest};

/// The reminder items of a booking, with their status.
async fn reminder_status(app: &TestApp, practice: &Practice, booking: &str) -> Vec<(Key, String)> {
    let mut found = Vec::new();
    for key in practice.reminder_keys(booking).await {
        if let Some(item) = app.state.table.get(&key).await.expect("read") {
            found.push((key, item["status"].as_str().unwrap_or_default().to_string()));
        }
    }
    found
}

async fn reminder_texts(app: &TestApp) -> Vec<Value> {
    outbox(&app.state)
        .await
        .into_iter()
        .filter(|m| m["kind"] == "sms" && m["text"].as_str().unwrap_or_default().contains("reminder"))
        .collect()
}

/// Ticks until the cursor reaches the clock (a tick covers at most six
/// hours), then sends what is due.
async fn run_reminders(app: &TestApp) {
    for _ in 0..8 {
        reminder_dispatch::tick(&app.state).await.expect("tick");
    }
    app.drain_reminders().await;
}

#[tokio::test]
async fn a_reminder_due_in_quiet_hours_waits_for_their_end_or_is_skipped() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(
        &app.state,
        json!({"reminders": [{"offset_minutes": 60, "channels": ["sms"]}]}),
    )
    .await;
    // 08:30 London: the hour-before text is due at 07:30, inside the quiet
    // hours (21:00-08:00), and moves to 08:00, still before the appointment.
    let moved = booking_id(
        &practice
            .book("2026-12-03T08:30:00Z", &london_guest("ann@example.com"))
            .await,
    );
    // 08:00 London: due at 07:00, and the quiet hours end with the appointment: skipped.
    let skipped = booking_id(
        &practice
            .book("2026-12-04T08:00:00Z", &london_guest("ann@example.com"))
            .await,
    );
    outbox(&app.state).await;

    app.set_clock("2026-12-03T07:30:05Z");
    run_reminders(&app).await;
    assert!(reminder_texts(&app).await.is_empty(), "nothing at 07:30");
    // Moved to the end of the quiet hours: the booking lists the copy.
    let listed = reminder_status(&app, &practice, &moved).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0].0.pk.starts_with("REMINDERS#2026-12-03T08:00#"), "{listed:?}");
    assert_eq!(listed[0].1, "pending");
    app.set_clock("2026-12-03T07:59:00Z");
    run_reminders(&app).await;
    assert!(reminder_texts(&app).await.is_empty(), "nothing before 08:00");
    app.set_clock("2026-12-03T08:00:05Z");
    run_reminders(&app).await;
    let sent = reminder_texts(&app).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["to"], PHONE);

    app.set_clock("2026-12-04T07:00:05Z");
    run_reminders(&app).await;
    assert_eq!(reminder_status(&app, &practice, &skipped).await[0].1, "dropped");
    app.set_clock("2026-12-04T08:00:05Z");
    run_reminders(&app).await;
    assert_eq!(reminder_texts(&app).await.len(), 1, "the skipped reminder never goes");
}

#[tokio::test]
async fn the_organizations_quiet_hours_apply() {
    let app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    let practice = Practice::open(
        &app.state,
        json!({"reminders": [{"offset_minutes": 60, "channels": ["sms"]}]}),
    )
    .await;
    // Quiet from 22:00 to 07:00: a text due at 07:30 goes at 07:30.
    sms::save_settings(&app.state, &practice.org_id, "22:00", "07:00", "")
        .await
        .expect("saved");
    practice
        .book("2026-12-03T08:30:00Z", &london_guest("ann@example.com"))
        .await;
    outbox(&app.state).await;
    app.set_clock("2026-12-03T07:30:05Z");
    run_reminders(&app).await;
    assert_eq!(reminder_texts(&app).await.len(), 1);
}

/// A reminder moved past the quiet hours stays its booking's: cancelling or
/// rescheduling the booking removes the moved copy with the booking's other
/// reminders, in the booking's own transaction.
#[tokio::test]
async fn a_moved_reminder_goes_with_its_booking_when_cancelled_or_rescheduled() {
    let mut app = app(Store::Sqlite, "2026-12-01T08:00:00Z").await;
    // The host stays signed in across the days the test clock moves.
    let mut state = app.state.clone();
    let mut config = (*state.config).clone();
    config.session_idle_seconds = 7 * 24 * 3600;
    state.config = std::sync::Arc::new(config);
    app.replace_state(state);
    let practice = Practice::open(
        &app.state,
        json!({"reminders": [{"offset_minutes": 60, "channels": ["sms"]}]}),
    )
    .await;
    // Both hour-before texts are due at 07:30 London and move to 08:00.
    let cancelled = booking_id(
        &practice
            .book("2026-12-03T08:30:00Z", &london_guest("ann@example.com"))
            .await,
    );
    let moved = booking_id(
        &practice
            .book("2026-12-04T08:30:00Z", &london_guest("ann@example.com"))
            .await,
    );
    outbox(&app.state).await;
    for (booking, deferred_at, minute) in [
        (&cancelled, "2026-12-03T07:30:05Z", "REMINDERS#2026-12-03T08:00#"),
        (&moved, "2026-12-04T07:30:05Z", "REMINDERS#2026-12-04T08:00#"),
    ] {
        app.set_clock(deferred_at);
        run_reminders(&app).await;
        let listed = reminder_status(&app, &practice, booking).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert!(listed[0].0.pk.starts_with(minute), "{listed:?}");
        let copy = listed[0].0.clone();
        if booking == &cancelled {
            practice.cancel(booking, None).await;
        } else {
            practice.reschedule(booking, "2026-12-05T14:00:00Z").await;
        }
        assert!(
            app.state.table.get(&copy).await.expect("read").is_none(),
            "{copy:?} outlived its booking's change"
        );
    }
    app.set_clock("2026-12-04T08:00:05Z");
    run_reminders(&app).await;
    assert!(reminder_texts(&app).await.is_empty(), "no reminder for the old times");
    // The rescheduled booking's own reminder goes at its new time.
    app.set_clock("2026-12-05T13:00:05Z");
    run_reminders(&app).await;
    assert_eq!(reminder_texts(&app).await.len(), 1);
}
