//! The developer outbox cannot hand out accounts. The takeover sequence —
//! anonymous `POST /auth/password/forgot` for the owner, anonymous
//! `GET /dev/outbox.json`, `POST /auth/password/reset` — is tried against
//! each production-like setup: the real `konnecs-local` process behind a
//! reverse proxy (loopback bind, https public URL), with and without a mail
//! provider, and every Lambda's router. A server bound beyond loopback takes
//! the same path through `run_mode::decide`; tests bind loopback only, so
//! that case is covered by `run_mode`'s own tests. The newcomer's first run
//! (the README's command: loopback, http public URL, no provider) still
//! shows their verification mail in the outbox.

use std::process::Command;
use std::time::{Duration, Instant};

use http::StatusCode;
use konnecs::catalogue::{self, Runtime};
use konnecs::inbound::http::router;
use konnecs_tests::http::Browser;
use konnecs_tests::local::{LocalServer, temp_state, workspace_binary};
use konnecs_tests::smtp::{Mode, SmtpServer};
use serde_json::{Value, json};

const OWNER: &str = "dana@whitfield-dental.example";
const PASSWORD: &str = "molar-crown-42-bridge";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn start_line(server: &LocalServer) -> String {
    server
        .logs()
        .into_iter()
        .find(|line| line.starts_with("Konnecs is running at "))
        .expect("start line")
}

async fn signup(base: &str) {
    let body =
        json!({"name": "Dana Whitfield", "email": OWNER, "password": PASSWORD, "business_name": "Whitfield Dental"});
    let reply = client()
        .post(format!("{base}/auth/signup"))
        .json(&body)
        .send()
        .await
        .expect("signup");
    assert_eq!(reply.status(), 201);
}

/// The attacker's side of the takeover: what they can read, and whether a
/// reset goes through with any token they found.
async fn try_takeover(base: &str) -> (u16, Value) {
    let http = client();
    let forgot = http
        .post(format!("{base}/auth/password/forgot"))
        .json(&json!({"email": OWNER}))
        .send()
        .await
        .expect("forgot");
    assert_eq!(forgot.status(), 202);
    let outbox = http
        .get(format!("{base}/dev/outbox.json"))
        .send()
        .await
        .expect("outbox");
    let status = outbox.status().as_u16();
    let body: Value = outbox.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The token of a reset link in `text`, if any.
fn reset_token(text: &str) -> Option<String> {
    let start = text.find("/reset-password?token=")? + "/reset-password?token=".len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect(),
    )
}

#[tokio::test]
async fn the_newcomers_first_run_shows_the_verification_mail_in_the_outbox() {
    let dir = tempfile::tempdir().expect("dir");
    let server = LocalServer::start(dir.path());
    let base = server.base_url.clone();
    let line = start_line(&server);
    assert!(
        line.contains("in developer mode:") && line.contains("no mail provider"),
        "{line}"
    );
    assert!(line.contains(&format!("{base}/dev/outbox")), "{line}");

    signup(&base).await;
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(15);
    let verification = loop {
        let outbox: Value = http
            .get(format!("{base}/dev/outbox.json"))
            .send()
            .await
            .expect("outbox")
            .json()
            .await
            .expect("json");
        let found = outbox["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["to"] == OWNER && m["kind"] == "verify_email")
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no verification mail in the outbox: {outbox}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        verification["text"]
            .as_str()
            .is_some_and(|t| t.contains("/verify-email?token=")),
        "{verification}"
    );
    let page = http.get(format!("{base}/dev/outbox")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("Confirm your email address"));

    // A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) gets nothing.
    for path in ["/dev/outbox", "/dev/outbox.json"] {
        let rebound = http
            .get(format!("{base}{path}"))
            .header("host", "attacker.example:3000")
            .send()
            .await
            .expect("rebound");
        assert_eq!(rebound.status(), 404, "{path}");
    }
    assert!(server.interrupt().success());
}

#[test]
fn behind_a_reverse_proxy_without_a_mail_provider_the_server_refuses_to_start() {
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(workspace_binary("konnecs-local"))
        .env("KONNECS_ADDR", "127.0.0.1:0")
        .env("KONNECS_DATA_DIR", dir.path())
        .env("KONNECS_PUBLIC_URL", "https://crm.whitfield-dental.example")
        .env_remove("KONNECS_SMTP_URL")
        .env_remove("RESEND_API_KEY")
        .output()
        .expect("run konnecs-local");
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.contains("Konnecs is running"), "{stdout}");
    for named in [
        "https://crm.whitfield-dental.example",
        "reverse proxy",
        "KONNECS_SMTP_URL",
        "RESEND_API_KEY",
        "/dev/outbox",
    ] {
        assert!(stderr.contains(named), "{named} not in: {stderr}");
    }
    // It stopped before opening anything.
    assert!(!dir.path().join("konnecs.sqlite3").exists());
}

#[test]
fn a_mail_provider_chosen_twice_or_smtp_in_a_lambda_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let output = Command::new(workspace_binary("konnecs-local"))
        .env("KONNECS_ADDR", "127.0.0.1:0")
        .env("KONNECS_DATA_DIR", dir.path())
        .env("KONNECS_SMTP_URL", "smtps://konnecs:hunter2-smtp@mail.example.com")
        .env("RESEND_API_KEY", "re_test")
        .output()
        .expect("run konnecs-local");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not both"), "{stderr}");
    assert!(!stderr.contains("hunter2-smtp"), "{stderr}");

    let mut command = Command::new(workspace_binary("health"));
    for queue in catalogue::QueueName::ALL {
        command.env(queue.url_env(), "http://127.0.0.1:9/q");
    }
    let output = command
        .env("KONNECS_SMTP_URL", "smtps://konnecs:hunter2-smtp@mail.example.com")
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
    assert!(text.contains("SMTP is for the local server"), "{text}");
    assert!(!text.contains("hunter2-smtp"), "{text}");
}

#[tokio::test]
async fn behind_a_reverse_proxy_with_smtp_the_takeover_fails_and_the_owner_gets_the_link() {
    let smtp_password = "relay-secret-42";
    let relay = SmtpServer::start(Mode::Plain, Some(("konnecs", smtp_password)));
    let url = format!("smtp://konnecs:{smtp_password}@127.0.0.1:{}?tls=none", relay.port);
    let dir = tempfile::tempdir().expect("dir");
    let server = LocalServer::start_with_env(
        dir.path(),
        &[
            ("KONNECS_PUBLIC_URL", "https://crm.whitfield-dental.example"),
            ("KONNECS_SMTP_URL", &url),
        ],
    );
    let base = server.base_url.clone();
    let line = start_line(&server);
    assert!(
        line.contains("in production mode:")
            && line.contains(&format!("SMTP 127.0.0.1:{}", relay.port))
            && line.contains("reverse proxy"),
        "{line}"
    );
    assert!(!line.contains("/dev/outbox"), "{line}");
    signup(&base).await;

    // The outbox is not there: nothing to read, under any of its paths.
    let (status, body) = try_takeover(&base).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["code"], "not_found");
    for path in ["/dev/outbox", "/dev/outbox/anything"] {
        let reply = client().get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(reply.status(), 404, "{path}");
    }
    let guessed = client()
        .post(format!("{base}/auth/password/reset"))
        .json(&json!({"token": "guessed-token", "password": "attacker-owns-it-99"}))
        .send()
        .await
        .expect("reset");
    assert_eq!(guessed.status(), 400);

    // The link went to the owner, over SMTP, on the public URL; it works for them.
    let deadline = Instant::now() + Duration::from_secs(15);
    let token = loop {
        let found = relay
            .received()
            .iter()
            .filter(|m| m["rcpt_tos"] == json!([OWNER]))
            .find_map(|m| m["text"].as_str().and_then(reset_token).map(|t| (t, m.clone())));
        if let Some((token, message)) = found {
            assert!(
                message["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("https://crm.whitfield-dental.example/reset-password?token=")),
                "{message}"
            );
            break token;
        }
        assert!(
            Instant::now() < deadline,
            "no reset mail over SMTP: {:?}",
            relay.received()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reset = client()
        .post(format!("{base}/auth/password/reset"))
        .json(&json!({"token": token, "password": "new-molar-crown-43-bridge"}))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 204);
    let logs = server.logs().join("\n");
    assert!(!logs.contains(smtp_password), "the SMTP password reached the output");
    assert!(server.interrupt().success());
}

#[tokio::test]
async fn no_lambda_serves_the_outbox() {
    // No deployed entry is an outbox route, and a Lambda main refuses to run
    // a local entry whatever it is asked to.
    for entry in catalogue::entries() {
        if entry.http().is_some_and(|(_, path)| path.starts_with("/dev/")) {
            assert_eq!(entry.runtime, Runtime::LocalDevelopment, "{}", entry.name);
        }
    }
    for name in ["dev-outbox", "dev-outbox-json", "dev-outbox-message", "store-sweep"] {
        let entry = *catalogue::find(name).expect("in the catalogue");
        let err = konnecs::lambda::run(entry).await.expect_err(name);
        assert!(err.to_string().contains("never as a Lambda"), "{name}: {err}");
    }

    // The takeover through Lambda-shaped routers: the forgot route's own,
    // then the outbox path on every deployed function's.
    let (state, _dir) = temp_state();
    let deployed: Vec<_> = catalogue::entries()
        .iter()
        .filter(|e| e.runtime == Runtime::Both && e.http().is_some())
        .collect();
    let forgot = deployed
        .iter()
        .find(|e| e.name == "auth-password-forgot")
        .expect("forgot entry");
    let reply = Browser::anonymous()
        .send(
            &router(state.clone(), [*forgot]),
            "POST",
            "/auth/password/forgot",
            Some(&json!({"email": OWNER})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    for entry in &deployed {
        let app = router(state.clone(), [*entry]);
        for path in ["/dev/outbox.json", "/dev/outbox"] {
            let reply = Browser::anonymous().send(&app, "GET", path, None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{} serves {path}", entry.name);
        }
    }
}
