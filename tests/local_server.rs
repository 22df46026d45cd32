//! End to end: the README's first command (`konnecs-local`) as a real process.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use konnecs::adapters::sqlite::{Database, table::SqliteTable};
use konnecs::app::local_state;
use konnecs::config::LocalConfig;
use konnecs::ports::{EncryptionContext, Key, Query, SystemClock, Table};
use konnecs_tests::local::LocalServer;
use serde_json::{Value, json};

fn config(dir: &std::path::Path) -> LocalConfig {
    LocalConfig::for_tests(dir.to_path_buf())
}

async fn get_json(url: &str) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let response = client.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn local_server_serves_health_logs_requests_and_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path());
    assert!(
        server.base_url.starts_with("http://127.0.0.1:"),
        "binds loopback: {}",
        server.base_url
    );

    let (status, body) = get_json(&format!("{}/health", server.base_url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert!(
        dir.path().join("konnecs.sqlite3").exists(),
        "store lives in the data directory"
    );

    let (status, body) = get_json(&format!("{}/nowhere", server.base_url)).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found");

    // The request log line is JSON on stdout.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logged = server
            .logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| {
                l["message"] == "request"
                    && l["route"] == "/health"
                    && l["status"] == 200
                    && l["client_ip"] == "127.0.0.1"
            });
        if logged {
            break;
        }
        assert!(Instant::now() < deadline, "no request log line: {:?}", server.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let logs = server.log_lines.clone();
    let status = server.interrupt();
    assert!(status.success(), "Ctrl-C exits cleanly, got {status:?}");
    let logs = logs.lock().unwrap().join("\n");
    assert!(
        logs.contains("local server stopped"),
        "graceful shutdown completed: {logs}"
    );
}

#[tokio::test]
async fn restart_keeps_stored_items_and_the_token_key() {
    let dir = tempfile::tempdir().unwrap();
    let context = EncryptionContext::new().with("org", "o1").with("user", "u1");
    let envelope = {
        let state = local_state(&config(dir.path()), Arc::new(SystemClock)).unwrap();
        let item = json!({"pk": "ORG#o1", "sk": "PROFILE", "name": "Acme"});
        let Value::Object(item) = item else { unreachable!() };
        state.table.put(item, None).await.unwrap();
        state.keys.encrypt(b"refresh-token", &context).await.unwrap()
    };

    for _ in 0..2 {
        let server = LocalServer::start(dir.path());
        let (status, _) = get_json(&format!("{}/health", server.base_url)).await;
        assert_eq!(status, 200);
        assert!(server.interrupt().success());
    }

    let state = local_state(&config(dir.path()), Arc::new(SystemClock)).unwrap();
    let item = state
        .table
        .get(&Key::new("ORG#o1", "PROFILE"))
        .await
        .unwrap()
        .expect("item survived restarts");
    assert_eq!(item["name"], "Acme");
    let plaintext = state
        .keys
        .decrypt(&envelope, &context)
        .await
        .expect("same key file after restarts");
    assert_eq!(plaintext, b"refresh-token");
}

#[tokio::test]
async fn sigkill_during_writes_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("konnecs.sqlite3");
    let mut writer = Command::new(env!("CARGO_BIN_EXE_store-writer"))
        .arg(&db_path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    let stdout = writer.stdout.take().unwrap();
    let mut acknowledged = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("writer output");
        let n: u32 = line
            .strip_prefix("ack ")
            .and_then(|n| n.parse().ok())
            .expect("ack line");
        acknowledged.push(n);
        if acknowledged.len() >= 300 || Instant::now() > deadline {
            writer.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
            break;
        }
    }
    let _ = writer.wait();
    assert!(
        acknowledged.len() >= 300,
        "writer acknowledged only {} writes",
        acknowledged.len()
    );

    let db = Database::open(&db_path).expect("store reopens after SIGKILL");
    let table = SqliteTable::new(db, Arc::new(SystemClock));
    let mut stored = std::collections::HashSet::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(&Query::partition("WRITER").limit(500).after(cursor))
            .await
            .unwrap();
        stored.extend(page.items.iter().filter_map(|i| i["n"].as_u64()));
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|n| !stored.contains(&u64::from(**n)))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost after SIGKILL: {lost:?}");
}
