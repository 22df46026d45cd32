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

    // The request log line is JSON on stdout (written as the response
    // leaves, so it may trail it; the bound only catches a missing line).
    let deadline = Instant::now() + Duration::from_secs(60);
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

#[tokio::test]
async fn local_dev_flag_drops_secure_cookie_prefix_for_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start_with_env(dir.path(), &[("KONNECS_INSECURE_COOKIES", "1")]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let body = json!({"name": "Dana", "email": "dana@example.com", "password": "molar-crown-42-bridge", "business_name": "Whitfield"});
    let response = client
        .post(format!("{}/auth/signup", server.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("konnecs_session="))
        .expect("plain session cookie");
    assert!(!session.contains("Secure") && session.contains("HttpOnly"), "{session}");
    assert!(cookies.iter().all(|c| !c.starts_with("__Host-")));
}

#[test]
fn insecure_cookie_flag_is_refused_outside_the_local_server() {
    // A Lambda main refuses to start with the flag, before it contacts the runtime API.
    let mut command = Command::new(konnecs_tests::local::workspace_binary("health"));
    for queue in konnecs::catalogue::QueueName::ALL {
        command.env(queue.url_env(), "http://127.0.0.1:9/q");
    }
    let output = command
        .env("KONNECS_INSECURE_COOKIES", "1")
        .env("TABLE_NAME", "t")
        .env("TOKEN_KEY_ID", "k")
        .env("OBJECTS_BUCKET", "b")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "health")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run the health Lambda");
    assert!(!output.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("insecure cookies are refused"), "{text}");
}

/// A header value with a control byte is not HTTP (RFC 9110 §5.5): the HTTP
/// server refuses the request before any route, so no handler, and no
/// write, ever sees it. The OpenAPI document says so, and the schemathesis
/// hooks leave such values out.
#[tokio::test]
async fn a_header_that_is_not_http_is_refused_before_any_route_and_changes_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path());
    let mut owner = Client::new(&server.base_url);
    let signup = json!({"name": "Dana Whitfield", "email": "dana@whitfield.example", "password": "molar-crown-42-bridge", "business_name": "Whitfield Dental"});
    let (status, body) = owner.call("POST", "/auth/signup", Some(signup)).await;
    assert_eq!(status, 201, "{body}");
    let (status, contact) = owner
        .call(
            "POST",
            "/contacts",
            Some(json!({"first_name": "Pat", "last_name": "Kept"})),
        )
        .await;
    assert_eq!(status, 201, "{contact}");
    let path = format!("/contacts/{}", contact["id"].as_str().unwrap());

    let address = server.base_url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut request = format!(
        "DELETE {path} HTTP/1.1\r\nHost: {address}\r\nCookie: __Host-konnecs_session={}\r\nX-CSRF-Token: {}\r\nIf-Match: ",
        owner.session.clone().unwrap(),
        owner.csrf.clone().unwrap()
    )
    .into_bytes();
    request.extend_from_slice(b"\xda\x17\xa45\r\nConnection: close\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");

    let (status, still) = owner.call("GET", &path, None).await;
    assert_eq!(status, 200, "the contact is still there: {still}");
    // Without the unreadable header, the same request reaches the route.
    let (status, body) = owner.call("DELETE", &path, None).await;
    assert_eq!(status, 204, "{body}");
    assert!(server.interrupt().success());
}

/// A browser-like client for the real server: keeps the session cookie and CSRF token.
struct Client {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
    csrf: Option<String>,
}

impl Client {
    fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            http,
            base: base.to_string(),
            session: None,
            csrf: None,
        }
    }

    async fn call(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(session) = &self.session {
            request = request.header("cookie", format!("__Host-konnecs_session={session}"));
        }
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let session = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.strip_prefix("__Host-konnecs_session=")
                    .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
            });
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if let Some(session) = session.filter(|s| !s.is_empty()) {
            self.session = Some(session);
            self.csrf = body["csrf_token"].as_str().map(str::to_string);
        }
        (status, body)
    }

    /// The token of the newest link to `to` with `path` in the outbox; the
    /// in-process jobs worker delivers within a poll interval (bounded wait).
    async fn token_in_outbox(&self, to: &str, path: &str) -> String {
        let needle = format!("{path}?token=");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let outbox: Value = self
                .http
                .get(format!("{}/dev/outbox.json", self.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for message in outbox["messages"].as_array().into_iter().flatten() {
                let text = message["text"].as_str().unwrap_or_default();
                if message["to"] == to
                    && let Some(start) = text.find(&needle)
                {
                    return text[start + needle.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {path} email to {to} in the outbox: {outbox}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn account_lifecycle_end_to_end_on_the_local_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalServer::start(dir.path());
    let base = server.base_url.clone();

    // Sign up, then verify by the link the outbox shows.
    let mut owner = Client::new(&base);
    let signup = json!({"name": "Dana Whitfield", "email": "dana@whitfield.example", "password": "molar-crown-42-bridge", "business_name": "Whitfield Dental"});
    let (status, body) = owner.call("POST", "/auth/signup", Some(signup)).await;
    assert_eq!(status, 201, "{body}");
    let token = owner.token_in_outbox("dana@whitfield.example", "/verify-email").await;
    let page = reqwest::get(format!("{base}/verify-email?token={token}"))
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the link opens a page");
    assert!(page.text().await.unwrap().contains("action=\"/verify-email\""));
    let (status, _) = Client::new(&base)
        .call("POST", "/auth/verify-email", Some(json!({"token": token})))
        .await;
    assert_eq!(status, 204);

    // Log in again: a new session.
    let first_session = owner.session.clone();
    let (status, _) = owner
        .call(
            "POST",
            "/auth/login",
            Some(json!({"email": "dana@whitfield.example", "password": "molar-crown-42-bridge"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(owner.session, first_session);
    let (_, me) = owner.call("GET", "/me", None).await;
    assert_eq!(me["email_verified"], true);

    // Invite a colleague, who accepts with a new account.
    let (status, body) = owner
        .call(
            "POST",
            "/org/invitations",
            Some(json!({"email": "sam@whitfield.example", "role": "member"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let invite = owner
        .token_in_outbox("sam@whitfield.example", "/accept-invitation")
        .await;
    let mut sam = Client::new(&base);
    let (status, body) = sam
        .call(
            "POST",
            "/invitations/accept",
            Some(json!({"token": invite, "name": "Sam Ortiz", "password": "hygienist-rota-2026"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, sam_me) = sam.call("GET", "/me", None).await;
    assert_eq!(sam_me["role"], "member");
    let sam_id = sam_me["id"].as_str().unwrap().to_string();

    // A member cannot do an admin's work; promoted, they can.
    let (status, body) = sam.call("GET", "/org/audit", None).await;
    assert_eq!((status, body["code"].clone()), (403, json!("insufficient_role")));
    let (status, body) = owner
        .call(
            "PATCH",
            &format!("/org/members/{sam_id}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = sam.call("GET", "/org/audit", None).await;
    assert_eq!(status, 200);

    // Removed, Sam's session no longer reaches the organization.
    let (status, _) = owner.call("DELETE", &format!("/org/members/{sam_id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = sam.call("GET", "/org/members", None).await;
    assert_eq!(status, 401);

    // The audit log saw every step, newest first.
    let (_, audit) = owner.call("GET", "/org/audit", None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["action"].as_str()).collect())
        .unwrap_or_default();
    for action in [
        "member.removed",
        "member.role_changed",
        "invitation.accepted",
        "invitation.created",
        "auth.login",
        "account.signup",
    ] {
        assert!(actions.contains(&action), "{action} missing from {actions:?} ({audit})");
    }
    assert!(server.interrupt().success());
}
