//! The single-process runtime: every catalogue entry in one process on the
//! embedded store. HTTP routes on one listener, schedules on tokio intervals,
//! queue consumers as in-process worker loops — all calling the same code the
//! Lambdas run.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::adapters::sqlite::backup::{self, DataFiles};
use crate::app::{self, AppState, StartupError};
use crate::catalogue::{self, QueueName, Runtime, Trigger};
use crate::config::{AppConfig, BackupSchedule, LocalConfig};
use crate::domain::schedule::parse_rate;
use crate::inbound::events::{Consumer, Message, Tick};
use crate::inbound::http;
use crate::ports::{Clock, queue::MAX_BATCH};
use crate::run_mode::{self, MailProvider, ModeDecision};

/// How long an idle worker waits before polling its queue again.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// How often the backup schedule looks whether a backup is due.
const BACKUP_CHECK_EVERY: Duration = Duration::from_secs(3600);
/// Scheduled backups are daily.
const BACKUP_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// How the configuration sends mail, for the mode decision.
pub fn mail_provider(config: &AppConfig) -> MailProvider {
    match (&config.smtp, &config.resend_api_key) {
        (Some(smtp), _) => MailProvider::Smtp(smtp.describe()),
        (None, Some(_)) => MailProvider::Resend,
        (None, None) => MailProvider::None,
    }
}

/// The server's mode: developer (the outbox) or production (a mail
/// provider); an error when others could reach it and it has no provider.
pub fn mode(config: &LocalConfig) -> Result<ModeDecision, run_mode::NoMailProvider> {
    run_mode::decide(&config.addr, &config.app.public_url, mail_provider(&config.app))
}

/// Serves until `shutdown` resolves, then stops background work and returns.
pub async fn serve(
    config: LocalConfig,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    // Decided before anything is opened: a server that may not run opens nothing.
    let mode = mode(&config)?;
    let mut config = config;
    // Only the developer setup, reachable from this machine alone, may
    // send webhooks to loopback (a receiver under test); anything others
    // can reach sends to public addresses only.
    config.app.webhook_targets = if mode.serves_dev_outbox() {
        crate::domain::webhook::TargetPolicy::AllowLoopback
    } else {
        crate::domain::webhook::TargetPolicy::PublicOnly
    };
    let state = app::local_state(&config, clock)?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| StartupError::DataDir {
            path: config.addr.to_string(),
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(config.addr);
    // The one line a newcomer needs (the URL is its first word after "at",
    // which the end-to-end tests parse): where, which mode, and why.
    let outbox = if mode.serves_dev_outbox() {
        format!(" (http://{addr}/dev/outbox)")
    } else {
        String::new()
    };
    println!(
        "Konnecs is running at http://{addr} in {} mode: {}{outbox}",
        mode.name(),
        mode.reason
    );
    tracing::info!(%addr, data_dir = %config.data_dir.display(), mode = mode.name(), reason = %mode.reason, "local server listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = JoinSet::new();
    if let Some(schedule) = config.backup.clone() {
        background.spawn(run_backups(
            config.data_files(),
            schedule,
            state.clock.clone(),
            stop_rx.clone(),
        ));
    }
    for entry in catalogue::entries() {
        match entry.trigger {
            Trigger::Schedule { every, tick } => match parse_rate(every) {
                Some(period) => {
                    background.spawn(run_schedule(state.clone(), entry.name, period, tick, stop_rx.clone()));
                }
                None => tracing::error!(function = entry.name, every, "unparseable schedule; not started"),
            },
            Trigger::Queue { queue, consumer } => {
                background.spawn(run_worker(state.clone(), entry.name, queue, consumer, stop_rx.clone()));
            }
            Trigger::Http { .. } => {}
        }
    }

    let entries = catalogue::entries()
        .iter()
        .filter(|entry| entry.runtime != Runtime::LocalDevelopment || mode.serves_dev_outbox());
    let app = http::router(state, entries).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    let _ = stop_tx.send(true);
    while background.join_next().await.is_some() {}
    tracing::info!("local server stopped");
    served.map_err(|source| StartupError::DataDir {
        path: addr.to_string(),
        source,
    })
}

async fn run_schedule(
    state: AppState,
    name: &'static str,
    period: Duration,
    tick: Tick,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {
                match tick(state.clone()).instrument(tracing::info_span!("invocation", function = name)).await {
                    Ok(report) => tracing::info!(function = name, processed = report.processed, "tick done"),
                    Err(err) => tracing::error!(function = name, error = %err, "tick failed"),
                }
            }
        }
    }
}

/// Scheduled backups, checked on an interval like the catalogue's schedules
/// (the first check at start); whether one is due, and its name, come from
/// the Clock.
async fn run_backups(
    files: DataFiles,
    schedule: BackupSchedule,
    clock: Arc<dyn Clock>,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(BACKUP_CHECK_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = interval.tick() => {
                let (files, dir, keep, now) = (files.clone(), schedule.dir.clone(), schedule.keep, clock.now());
                let run = tokio::task::spawn_blocking(move || backup::run_scheduled(&files, &dir, keep, BACKUP_EVERY, now)).await;
                match run {
                    Ok(Ok(run)) => {
                        if let Some(created) = &run.created {
                            tracing::info!(backup = %created.display(), removed = run.removed.len(), "scheduled backup taken");
                        }
                    }
                    Ok(Err(err)) => tracing::error!(error = %err, dir = %schedule.dir.display(), "scheduled backup failed"),
                    Err(err) => tracing::error!(error = %err, "scheduled backup task failed"),
                }
            }
        }
    }
}

async fn run_worker(
    state: AppState,
    name: &'static str,
    queue: QueueName,
    consumer: Consumer,
    mut stop: watch::Receiver<bool>,
) {
    let source = state.queue(queue);
    let visibility = Duration::from_secs(queue.visibility_seconds());
    loop {
        if *stop.borrow() {
            return;
        }
        let received = match source.receive(MAX_BATCH, visibility).await {
            Ok(received) => received,
            Err(err) => {
                tracing::error!(function = name, error = %err, "receive failed");
                Vec::new()
            }
        };
        if received.is_empty() {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(IDLE_POLL) => continue,
            }
        }
        let messages = received
            .iter()
            .map(|r| Message {
                message_id: r.message_id.clone(),
                body: r.body.clone(),
                receive_count: r.receive_count,
            })
            .collect();
        let outcome = consumer(state.clone(), messages)
            .instrument(tracing::info_span!("invocation", function = name))
            .await;
        // Acknowledge what succeeded; failures reappear after the visibility timeout.
        for message in received.iter().filter(|r| !outcome.failed.contains(&r.message_id)) {
            if let Err(err) = source.ack(&message.receipt).await {
                tracing::warn!(function = name, message_id = %message.message_id, error = %err, "ack failed; message will be redelivered");
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}
