//! The Secrets Manager adapter and the Lambda start's secret loading against
//! the moto emulator (`KONNECS_TEST_AWS_ENDPOINT`): a function reads the
//! secrets it declares, an untouched placeholder leaves its integration off
//! (email to the outbox, as locally) and says so in one log line, and a
//! missing or malformed secret stops the start without showing a value.

use std::io::Write;
use std::sync::{Arc, Mutex};

use konnecs::adapters::aws::secrets_manager::SecretsManagerStore;
use konnecs::config::{AppConfig, AwsConfig};
use konnecs::integrations::placeholder;
use konnecs::ports::mailer::Email;
use konnecs::ports::secrets::{Integration, SecretError, SecretStore};
use konnecs_tests::aws;
use secrecy::ExposeSecret;

async fn store() -> (aws_sdk_secretsmanager::Client, SecretsManagerStore) {
    let client = aws_sdk_secretsmanager::Client::new(&aws::sdk_config().await);
    (client.clone(), SecretsManagerStore::new(client))
}

/// A fresh secret holding `text`; returns its ARN.
async fn secret(client: &aws_sdk_secretsmanager::Client, text: &str) -> String {
    let created = client
        .create_secret()
        .name(aws::unique_name("secret"))
        .secret_string(text)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating a secret on the emulator failed: {e:?}"));
    created.arn.unwrap_or_else(|| panic!("the emulator returned no ARN"))
}

#[tokio::test]
async fn reads_a_secret_by_arn_and_reports_a_missing_one() {
    let (client, store) = store().await;
    let arn = secret(&client, r#"{"api_key":"re_test_1"}"#).await;
    let text = store.read(&arn).await.expect("reads");
    assert_eq!(text.expose_secret(), r#"{"api_key":"re_test_1"}"#);

    let missing = format!("{arn}-gone");
    match store.read(&missing).await {
        Err(SecretError::NotFound(id)) => assert_eq!(id, missing),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture")).into_owned()
    }
}

#[tokio::test]
async fn a_placeholder_leaves_email_in_the_outbox_and_says_so_once() {
    let (client, store) = store().await;
    let resend = secret(&client, &placeholder(Integration::Resend)).await;
    let twilio = secret(&client, &placeholder(Integration::Twilio)).await;
    let ids = |integration: Integration| match integration {
        Integration::Resend => Some(resend.clone()),
        Integration::Twilio => Some(twilio.clone()),
        _ => None,
    };

    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut app = AppConfig::for_tests();
    konnecs::lambda::load_secrets(
        "jobs-worker",
        &[Integration::Resend, Integration::Twilio],
        &store,
        ids,
        &mut app,
    )
    .await
    .expect("a placeholder is no error");
    assert!(app.resend_api_key.is_none() && app.twilio.is_none());
    let logs = captured.text();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains("placeholders")).collect();
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(lines[0].contains("resend, twilio"), "{logs}");
    assert!(lines[0].contains("email goes to the outbox"), "{logs}");

    // The function's state then mails through the outbox, as locally.
    let (_, table_name) = aws::unique_table().await;
    let config = AwsConfig {
        table_name,
        jobs_queue_url: String::new(),
        bulk_queue_url: String::new(),
        reminders_queue_url: String::new(),
        token_key_id: String::new(),
        objects_bucket: String::new(),
        app,
    };
    let state = konnecs::app::aws_state_from(&aws::sdk_config().await, &config);
    let email = Email {
        to: "dana@whitfield-dental.example".into(),
        subject: "Hello".into(),
        text: "Hi".into(),
        html: None,
        attachments: Vec::new(),
        kind: "test".into(),
    };
    state
        .mailer
        .send(&email, "placeholder-1")
        .await
        .expect("outbox accepts");
    let (items, _) = konnecs::adapters::outbox::list(state.table.as_ref(), 10, None)
        .await
        .expect("outbox");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["to"], "dana@whitfield-dental.example");
}

#[tokio::test]
async fn real_values_are_read_and_a_changed_secret_counts_at_the_next_start() {
    let (client, store) = store().await;
    let twilio = secret(
        &client,
        r#"{"account_sid":"AC123","auth_token":"tw-secret-77","from":"+15005550006"}"#,
    )
    .await;
    let ids = |integration: Integration| (integration == Integration::Twilio).then(|| twilio.clone());
    let mut app = AppConfig::for_tests();
    konnecs::integrations::load_declared(&mut app, &[Integration::Twilio], &store, ids)
        .await
        .expect("loads");
    let loaded = app.twilio.as_ref().expect("twilio is set");
    assert_eq!(loaded.account_sid, "AC123");
    assert_eq!(loaded.auth_token.expose_secret(), "tw-secret-77");
    assert_eq!(loaded.from, "+15005550006");

    // The operator empties it again: the next cold start turns SMS off.
    client
        .put_secret_value()
        .secret_id(&twilio)
        .secret_string(placeholder(Integration::Twilio))
        .send()
        .await
        .expect("updates");
    let unset = konnecs::integrations::load_declared(&mut app, &[Integration::Twilio], &store, ids)
        .await
        .expect("loads");
    assert_eq!(unset, vec![Integration::Twilio]);
    assert!(app.twilio.is_none());
}

#[tokio::test]
async fn a_missing_or_partial_secret_stops_the_start_without_its_value() {
    let (client, store) = store().await;
    let partial = secret(&client, r#"{"api_key":"","other":"x"}"#).await;
    let twilio = secret(
        &client,
        r#"{"account_sid":"AC9","auth_token":"tw-secret-88","from":""}"#,
    )
    .await;
    let err = konnecs::integrations::load_declared(&mut AppConfig::for_tests(), &[Integration::Twilio], &store, |_| {
        Some(twilio.clone())
    })
    .await
    .expect_err("partial");
    assert!(!err.to_string().contains("tw-secret-88"), "{err}");
    assert!(err.to_string().contains("twilio"), "{err}");

    let err = konnecs::integrations::load_declared(&mut AppConfig::for_tests(), &[Integration::Resend], &store, |_| {
        Some(format!("{partial}-gone"))
    })
    .await
    .expect_err("missing");
    assert!(err.to_string().contains("not found"), "{err}");
}
