//! Backups of the local server: `konnecs-local backup` under write load,
//! `konnecs-local restore` into an empty data directory, and the daily
//! scheduled backups with their retention.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use konnecs::adapters::sqlite::backup::{self, DataFiles, FORMAT};
use konnecs::config::LocalConfig;
use konnecs_tests::local::{LocalServer, temp_state, workspace_binary};
use serde_json::{Value, json};

const EMAIL: &str = "dana@whitfield-dental.example";
const PASSWORD: &str = "molar-crown-42-bridge";
/// The writer's bound: it stops at this many contacts if not stopped sooner.
const MAX_WRITES: usize = 5_000;
/// Writes acknowledged before the backup starts.
const WRITES_BEFORE: usize = 100;

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x50, 0x5a, 0x55, 0x0e, 0x00, 0x02, 0x35, 0x01, 0x44, 0xa2, 0x8a, 0x4c, 0x69,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A signed-in client of a running server.
#[derive(Clone)]
struct Session {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Session {
    async fn from(response: reqwest::Response, base: &str) -> Self {
        assert!(response.status().is_success(), "{}", response.status());
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("__Host-konnecs_session="))
            .and_then(|c| c.split(';').next())
            .expect("session cookie")
            .to_string();
        let body: Value = response.json().await.expect("json");
        Self {
            http: client(),
            base: base.to_string(),
            cookie,
            csrf: body["csrf_token"].as_str().expect("csrf").to_string(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn signup(base: &str) -> Session {
    let body =
        json!({"name": "Dana Whitfield", "email": EMAIL, "password": PASSWORD, "business_name": "Whitfield Dental"});
    let response = client()
        .post(format!("{base}/auth/signup"))
        .json(&body)
        .send()
        .await
        .expect("signup");
    Session::from(response, base).await
}

async fn login(base: &str) -> Session {
    let response = client()
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    Session::from(response, base).await
}

/// `konnecs-local <args>` on `data_dir`, to completion.
fn konnecs_local(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(workspace_binary("konnecs-local"))
        .args(args)
        .env("KONNECS_DATA_DIR", data_dir)
        .env("KONNECS_LOG_FORMAT", "json")
        .output()
        .expect("run konnecs-local")
}

fn integrity(database: &Path) -> String {
    let conn = rusqlite::Connection::open(database).expect("open");
    conn.query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check")
}

fn tables(database: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(database).expect("open");
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare");
    statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .map(|name| name.expect("name"))
        .collect()
}

#[tokio::test]
async fn a_backup_under_write_load_restores_every_write_acknowledged_before_it() {
    let work = tempfile::tempdir().expect("dir");
    let live_dir = work.path().join("live");
    let server = LocalServer::start(&live_dir);
    let owner = signup(&server.base_url).await;
    let photo = owner
        .request(reqwest::Method::PUT, "/me/photo")
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .expect("photo");
    assert_eq!(photo.status(), 200);

    // One writer, bounded, creating contacts until told to stop; each id is
    // recorded once the server answered 201.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (session, acknowledged, stop) = (owner.clone(), acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            for n in 0..MAX_WRITES {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let name = format!("Writer {n}");
                let response = session
                    .request(reqwest::Method::POST, "/contacts")
                    .json(&json!({"first_name": name}))
                    .send()
                    .await
                    .expect("write");
                assert_eq!(response.status(), 201);
                let body: Value = response.json().await.expect("json");
                let id = body["id"].as_str().expect("id").to_string();
                acknowledged.lock().expect("lock").push((id, name));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while acknowledged.lock().expect("lock").len() < WRITES_BEFORE {
        assert!(
            Instant::now() < deadline,
            "the writer did not reach {WRITES_BEFORE} writes"
        );
        assert!(!writer.is_finished(), "the writer stopped early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Everything acknowledged so far must be in the backup; what the writer
    // adds while it runs may or may not be.
    let before: Vec<(String, String)> = acknowledged.lock().expect("lock").clone();
    let archive = work.path().join("whitfield.backup");
    let output = {
        let (live_dir, archive) = (live_dir.clone(), archive.clone());
        tokio::task::spawn_blocking(move || konnecs_local(&live_dir, &["backup", archive.to_str().expect("path")]))
            .await
            .expect("backup task")
    };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");
    let total = acknowledged.lock().expect("lock").len();
    assert!(total <= MAX_WRITES);
    eprintln!(
        "backup taken after {} acknowledged writes; {total} in all",
        before.len()
    );

    let mode = std::fs::metadata(&archive).expect("archive").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the archive holds the master key");
    let manifest = backup::read_manifest(&archive).expect("manifest");
    assert_eq!(manifest.format, FORMAT);
    assert!(manifest.files.iter().any(|f| f.path == "token-master.key"));
    assert!(
        manifest.files.iter().any(|f| f.path.starts_with("objects/")),
        "{manifest:?}"
    );
    assert_eq!(integrity(&archive), "ok");

    // Never over a store: the live directory is refused and left alone.
    let refused = konnecs_local(&live_dir, &["restore", archive.to_str().expect("path")]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not empty"));
    assert!(live_dir.join("konnecs.sqlite3").exists());

    let restored_dir = work.path().join("restored");
    let output = konnecs_local(&restored_dir, &["restore", archive.to_str().expect("path")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let database = restored_dir.join("konnecs.sqlite3");
    assert_eq!(integrity(&database), "ok");
    assert_eq!(
        tables(&database),
        vec!["items".to_string(), "queue_messages".to_string()]
    );
    let key = restored_dir.join("token-master.key");
    assert_eq!(
        std::fs::read(&key).expect("key"),
        std::fs::read(live_dir.join("token-master.key")).expect("key")
    );
    assert_eq!(
        std::fs::metadata(&key).expect("key").permissions().mode() & 0o777,
        0o600
    );
    assert!(server.interrupt().success());

    // The restored store serves every write acknowledged before the backup.
    let restored = LocalServer::start(&restored_dir);
    let session = login(&restored.base_url).await;
    for (id, name) in &before {
        let response = session
            .request(reqwest::Method::GET, &format!("/contacts/{id}"))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), 200, "contact {id} ({name}) lost");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["first_name"], name.as_str());
    }
    let photo = session
        .request(reqwest::Method::GET, "/me/photo")
        .send()
        .await
        .expect("photo");
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.bytes().await.expect("bytes").as_ref(), PNG);
    assert!(restored.interrupt().success());
}

#[test]
fn a_damaged_backup_is_refused_and_leaves_the_directory_empty() {
    let (state, dir) = temp_state();
    drop(state);
    let files = LocalConfig::for_tests(dir.path().to_path_buf()).data_files();
    let work = tempfile::tempdir().expect("dir");
    let archive = work.path().join("a.backup");
    backup::create(&files, &archive, Timestamp::now()).expect("backup");
    // Another backup to the same name is refused rather than overwritten.
    assert!(backup::create(&files, &archive, Timestamp::now()).is_err());

    // One changed byte in the key's row: the checksum no longer matches.
    let conn = rusqlite::Connection::open(&archive).expect("open");
    conn.execute(
        "UPDATE konnecs_backup_files SET content = zeroblob(32) WHERE path = 'token-master.key'",
        [],
    )
    .expect("tamper");
    drop(conn);
    let target = work.path().join("restored");
    let restored = LocalConfig::for_tests(target.clone()).data_files();
    let err = backup::restore(&archive, &target, &restored).expect_err("damaged");
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(std::fs::read_dir(&target).expect("dir").count(), 0, "left empty");
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn scheduled_backups_are_daily_and_keep_the_newest() {
    let (state, dir) = temp_state();
    drop(state);
    let files: DataFiles = LocalConfig::for_tests(dir.path().to_path_buf()).data_files();
    let backups = tempfile::tempdir().expect("dir");
    std::fs::write(backups.path().join("notes.txt"), "mine").expect("write");
    let day = SignedDuration::from_hours(24);
    let start: Timestamp = "2026-03-02T03:00:00Z".parse().expect("start");
    let run = |at: Timestamp| backup::run_scheduled(&files, backups.path(), 3, day, at).expect("scheduled");

    assert!(run(start).created.is_some(), "none yet: one now");
    for later in [SignedDuration::from_hours(1), SignedDuration::from_mins(24 * 60 - 1)] {
        assert_eq!(run(start + later).created, None, "not due {later} after");
    }
    for n in 1..=5 {
        let taken = run(start + day * n).created.expect("due a day after the last");
        assert_eq!(
            taken.file_name().map(|n| n.to_string_lossy().into_owned()),
            Some(backup::scheduled_name(start + day * n))
        );
    }
    assert_eq!(
        names(backups.path()),
        vec![
            "konnecs-20260305T030000Z.backup".to_string(),
            "konnecs-20260306T030000Z.backup".to_string(),
            "konnecs-20260307T030000Z.backup".to_string(),
            "notes.txt".to_string(),
        ],
        "the three newest kept; other files left alone"
    );
    let newest = backups.path().join("konnecs-20260307T030000Z.backup");
    assert_eq!(integrity(&newest), "ok");
    assert_eq!(
        backup::read_manifest(&newest).expect("manifest").created_at,
        "2026-03-07T03:00:00Z"
    );
}

#[tokio::test]
async fn the_running_server_takes_its_first_scheduled_backup_at_start() {
    let work = tempfile::tempdir().expect("dir");
    let backups = work.path().join("backups");
    let backups_env = backups.to_str().expect("path").to_string();
    let server = LocalServer::start_with_env(
        &work.path().join("live"),
        &[("KONNECS_BACKUP_DIR", &backups_env), ("KONNECS_BACKUP_KEEP", "2")],
    );
    signup(&server.base_url).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let taken = loop {
        let found: Vec<_> = std::fs::read_dir(&backups)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if let Some(path) = found.iter().find(|p| p.extension().is_some_and(|e| e == "backup")) {
            break path.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled backup in {}",
            backups.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(server.interrupt().success());
    let restored = work.path().join("restored");
    let output = konnecs_local(&restored, &["restore", taken.to_str().expect("path")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(integrity(&restored.join("konnecs.sqlite3")), "ok");
}
