//! The AWS emulator (moto server on loopback) for conformance tests.
//!
//! The test command sets `KONNECS_TEST_AWS_ENDPOINT` (see `infra/moto.sh`).
//! Without it the AWS tests fail: they must never pass by skipping. Tests run
//! in parallel against one server, so each creates its own uniquely named
//! table, queues and key.

use aws_types::SdkConfig;
use konnecs::adapters::aws::{dynamodb, sdk_config_from, sqs};

pub const ENDPOINT_VAR: &str = "KONNECS_TEST_AWS_ENDPOINT";

/// The emulator's URL; panics with set-up instructions when it is missing.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "{ENDPOINT_VAR} is not set: the AWS conformance tests need the moto emulator. \
             Run `bash infra/test-tools.sh && export {ENDPOINT_VAR}=$(bash infra/moto.sh start)`, \
             then `bash infra/moto.sh stop` afterwards."
        ),
    }
}

/// SDK configuration for the emulator, read as a deployed function reads its
/// own (`sdk_config_from`), from the variables Lambda sets: dummy
/// credentials, us-east-1, the emulator's URL. Built per test because each
/// `#[tokio::test]` has its own runtime and the SDK's connection pool must
/// not outlive it.
pub async fn sdk_config() -> SdkConfig {
    let endpoint = endpoint();
    sdk_config_from(|name| match name {
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".into()),
        "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
        _ => None,
    })
}

/// A name no other test uses, e.g. `konnecs-table-<uuid>`.
pub fn unique_name(kind: &str) -> String {
    format!("konnecs-{kind}-{}", uuid::Uuid::new_v4().simple())
}

/// A fresh table with the production schema; returns its client and name.
pub async fn unique_table() -> (aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let name = unique_name("table");
    if let Err(e) = dynamodb::create_table(&client, &name).await {
        panic!("creating table {name} on the emulator failed: {e}");
    }
    (client, name)
}

/// A fresh queue whose messages go to its dead-letter queue after
/// `max_receives` receives; returns (client, queue URL, dead-letter queue URL).
pub async fn unique_queue(max_receives: u32) -> (aws_sdk_sqs::Client, String, String) {
    let client = aws_sdk_sqs::Client::new(&sdk_config().await);
    let name = unique_name("queue");
    match sqs::create_queue_with_dlq(&client, &name, max_receives).await {
        Ok((url, dlq_url)) => (client, url, dlq_url),
        Err(e) => panic!("creating queue {name} on the emulator failed: {e}"),
    }
}

/// A fresh symmetric KMS key; returns (client, key id).
pub async fn unique_kms_key() -> (aws_sdk_kms::Client, String) {
    let client = aws_sdk_kms::Client::new(&sdk_config().await);
    let created = client
        .create_key()
        .description(unique_name("key"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating a KMS key on the emulator failed: {e:?}"));
    let key_id = created
        .key_metadata
        .map(|m| m.key_id)
        .unwrap_or_else(|| panic!("the emulator returned no key metadata"));
    (client, key_id)
}

/// A fresh private bucket; returns its name.
pub async fn unique_bucket() -> String {
    let sdk = sdk_config().await;
    let config = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let name = unique_name("bucket");
    client
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating bucket {name} on the emulator failed: {e:?}"));
    name
}

/// The whole `AppState` a Lambda cold start builds, on a fresh table, queues,
/// token key and bucket of the emulator.
pub async fn app_state() -> konnecs::app::AppState {
    app_state_with_clock(std::sync::Arc::new(konnecs::ports::SystemClock)).await
}

/// [`app_state`] on `clock`.
pub async fn app_state_with_clock(clock: std::sync::Arc<dyn konnecs::ports::Clock>) -> konnecs::app::AppState {
    use konnecs::catalogue::QueueName;
    let sdk = sdk_config().await;
    let (_, table_name) = unique_table().await;
    let (_, jobs_queue_url, _) = unique_queue(QueueName::Jobs.max_receives()).await;
    let (_, bulk_queue_url, _) = unique_queue(QueueName::Bulk.max_receives()).await;
    let (_, reminders_queue_url, _) = unique_queue(QueueName::Reminders.max_receives()).await;
    let (_, token_key_id) = unique_kms_key().await;
    let objects_bucket = unique_bucket().await;
    konnecs::app::aws_state_with_clock(
        &sdk,
        &konnecs::config::AwsConfig {
            table_name,
            jobs_queue_url,
            bulk_queue_url,
            reminders_queue_url,
            token_key_id,
            objects_bucket,
            app: konnecs::config::AppConfig::for_tests(),
        },
        clock,
    )
}

/// A state whose table is a fresh DynamoDB table on the emulator, with
/// expiry read from `clock`, and whose queues, key vault and objects are the
/// embedded ones of a temp directory (queue visibility then follows the test
/// clock too). The outbox, where emails and SMS land, is on that table.
/// For tests of the store's key layout that run on both backends.
pub async fn dynamodb_state_with_clock(
    clock: std::sync::Arc<dyn konnecs::ports::Clock>,
) -> (konnecs::app::AppState, tempfile::TempDir) {
    use std::sync::Arc;

    use konnecs::adapters::outbox::{OutboxMailer, OutboxSms};
    use konnecs::ports::Table;

    let (client, name) = unique_table().await;
    let (mut state, dir) = crate::local::temp_state_with_clock(clock.clone());
    let table: Arc<dyn Table> = Arc::new(dynamodb::DynamoTable::new(client, name, clock.clone()));
    state.mailer = Arc::new(OutboxMailer::new(
        table.clone(),
        clock.clone(),
        state.config.mail_from.clone(),
    ));
    state.sms = Arc::new(OutboxSms::new(
        table.clone(),
        clock,
        konnecs::app::OUTBOX_SMS_SENDER.into(),
    ));
    state.table = table;
    (state, dir)
}
