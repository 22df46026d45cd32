//! Local-runtime helpers: a fresh embedded-store state, and the
//! `konnecs-local` binary as a child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use konnecs::app::{AppState, local_state};
use konnecs::config::LocalConfig;
use konnecs::ports::{Clock, SystemClock};

/// A state on a fresh embedded store; the directory lives as long as the guard.
pub fn temp_state() -> (AppState, tempfile::TempDir) {
    temp_state_with_clock(Arc::new(SystemClock))
}

pub fn temp_state_with_clock(clock: Arc<dyn Clock>) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LocalConfig::for_tests(dir.path().to_path_buf());
    let state = local_state(&config, clock).expect("local state");
    (state, dir)
}

/// Path of a binary built from this workspace, next to the test executable's
/// `deps/` directory (`tests/run` builds every binary before testing).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (`cargo build --bins`; tests/run does)",
        path.display()
    );
    path
}

/// `konnecs-local` running on a free loopback port; killed when dropped.
pub struct LocalServer {
    pub child: Child,
    pub base_url: String,
    pub log_lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl LocalServer {
    /// Starts the server on `data_dir` and waits (bounded) for its URL line.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_with_env(data_dir, &[])
    }

    /// As [`LocalServer::start`], with extra environment variables.
    pub fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(workspace_binary("konnecs-local"))
            .envs(env.iter().copied())
            .env("KONNECS_ADDR", "127.0.0.1:0")
            .env("KONNECS_DATA_DIR", data_dir)
            .env("KONNECS_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn konnecs-local");
        let stdout = child.stdout.take().expect("stdout");
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let log_lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = log_lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // "Konnecs is running at <url> in <mode> mode: <why>"
                let url = line
                    .strip_prefix("Konnecs is running at ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string);
                // Logged before the URL is handed over, so the start line
                // is in `logs()` once `start` returns.
                if let Ok(mut lines) = sink.lock() {
                    lines.push(line);
                }
                if let Some(url) = url {
                    let _ = url_tx.send(url);
                }
            }
        });
        let base_url = url_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server printed its URL within 30 s");
        Self {
            child,
            base_url,
            log_lines,
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits, bounded, for a clean exit.
    pub fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().expect("kill -INT");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop within 15 s of Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.log_lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs both job queues dry through their real consumers (as the local
/// workers and the `jobs-worker` and `bulk-worker` Lambdas do), so queued
/// emails reach the outbox and imports and exports finish. A job on one
/// queue may queue work on the other, so until both are dry. Bounded.
pub async fn drain_jobs(state: &AppState) {
    use konnecs::inbound::events::jobs::{consume, consume_bulk};
    for _ in 0..100 {
        let short = drain(state.jobs.as_ref(), "jobs", |messages| consume(state.clone(), messages)).await;
        let bulk = drain(state.bulk.as_ref(), "bulk", |messages| {
            consume_bulk(state.clone(), messages)
        })
        .await;
        if short + bulk == 0 {
            return;
        }
    }
    panic!("the job queues did not run dry in 100 rounds");
}

/// Runs the reminders queue dry through the real consumer (as the local
/// worker and the `reminders-send` Lambda do). Bounded.
pub async fn drain_reminders(state: &AppState) {
    use konnecs::inbound::events::reminders;
    drain(state.reminders.as_ref(), "reminders", |messages| {
        reminders::consume(state.clone(), messages)
    })
    .await;
}

/// Runs `queue` dry through `consume`: how many messages it ran.
async fn drain<F, Fut>(queue: &dyn konnecs::ports::Queue, name: &str, consume: F) -> usize
where
    F: Fn(Vec<konnecs::inbound::events::Message>) -> Fut,
    Fut: std::future::Future<Output = konnecs::inbound::events::BatchOutcome>,
{
    use konnecs::inbound::events::Message;
    let mut ran = 0;
    for _ in 0..100 {
        let received = queue
            .receive(10, std::time::Duration::from_secs(30))
            .await
            .expect("receive");
        if received.is_empty() {
            return ran;
        }
        ran += received.len();
        let messages = received
            .iter()
            .map(|r| Message {
                message_id: r.message_id.clone(),
                body: r.body.clone(),
                receive_count: r.receive_count,
            })
            .collect();
        let outcome = consume(messages).await;
        assert!(outcome.failed.is_empty(), "{name} failed: {:?}", outcome.failed);
        for message in &received {
            queue.ack(&message.receipt).await.expect("ack");
        }
    }
    panic!("the {name} queue did not drain in 100 rounds");
}

/// Every outbox message (newest first) after draining the jobs queue.
pub async fn outbox(state: &AppState) -> Vec<serde_json::Value> {
    drain_jobs(state).await;
    let (items, _) = konnecs::adapters::outbox::list(state.table.as_ref(), 200, None)
        .await
        .expect("outbox");
    items.into_iter().map(serde_json::Value::Object).collect()
}

/// The token in the first link of the newest outbox email to `to` whose link path is `path`.
pub async fn token_from_outbox(state: &AppState, to: &str, path: &str) -> String {
    let needle = format!("{path}?token=");
    for message in outbox(state).await {
        if message["to"] != to {
            continue;
        }
        let text = message["text"].as_str().unwrap_or_default();
        if let Some(start) = text.find(&needle) {
            let token: String = text[start + needle.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            return token;
        }
    }
    panic!("no email to {to} with a {path} link in the outbox");
}
