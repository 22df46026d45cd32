//! Runs one catalogue entry as an AWS Lambda function. Each binary in
//! `functions/` is a call to [`run`] with its entry picked at compile time
//! (`catalogue::entry`); the pieces below are public so tests can invoke a
//! function's handler with its sample event.

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;

use crate::adapters::aws::secrets_manager::SecretsManagerStore;
use crate::app::{self, AppState};
use crate::catalogue::{Entry, Runtime, Trigger};
use crate::config::{AppConfig, AwsConfig, LogFormat};
use crate::inbound::events::{Consumer, Message, Tick, TickReport};
use crate::inbound::http;
use crate::integrations;
use crate::ports::secrets::{Integration, SecretError, SecretStore};

pub type Error = lambda_runtime::Error;

/// What a function's process runs until the runtime stops it.
pub type Served = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

/// Cold start: telemetry, configuration and the declared secrets once (SDK
/// clients on first use); then serve invocations of `entry` until the
/// runtime stops the process. A main passes its entry as a constant
/// (`catalogue::entry`), so only that entry's code is in its binary.
///
/// Always inlined, so the trigger is matched in the main itself, on its
/// constant entry: the compiler keeps one arm, and a binary links only its
/// own kind's runtime (a consumer or a tick neither the HTTP router, its
/// compression and `lambda_http`, nor an HTTP route the SQS or EventBridge
/// loop).
#[inline(always)]
pub fn run(entry: Entry) -> Served {
    match entry.trigger {
        Trigger::Http { .. } => Box::pin(serve_http(entry)),
        Trigger::Queue { consumer, .. } => Box::pin(serve_queue(entry, consumer)),
        Trigger::Schedule { tick, .. } => Box::pin(serve_schedule(entry, tick)),
    }
}

async fn serve_http(entry: Entry) -> Result<(), Error> {
    let state = start(&entry).await?;
    lambda_http::run(http::router(state, [&entry])).await
}

async fn serve_queue(entry: Entry, consumer: Consumer) -> Result<(), Error> {
    let state = start(&entry).await?;
    let name = entry.name;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        let span = tracing::info_span!("invocation", function = name);
        async move { Ok::<_, Error>(handle_sqs(state, consumer, event.payload).await) }.instrument(span)
    }))
    .await
}

async fn serve_schedule(entry: Entry, tick: Tick) -> Result<(), Error> {
    let state = start(&entry).await?;
    let name = entry.name;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<Value>>| {
        let state = state.clone();
        let span = tracing::info_span!("invocation", function = name);
        async move { handle_schedule(state, name, tick, event.payload).await }.instrument(span)
    }))
    .await
}

/// The init phase every kind shares: telemetry, configuration, the declared
/// secrets and the state (its SDK clients built on first use).
async fn start(entry: &Entry) -> Result<AppState, Error> {
    let name = entry.name;
    crate::telemetry::init(LogFormat::Json, name);
    // Local-only entries (the developer outbox among them) never run as a
    // Lambda, whatever a deployment names.
    if entry.runtime != Runtime::Both {
        return Err(format!("{name} runs only in the local server, never as a Lambda").into());
    }
    let mut config = AwsConfig::from_env()?;
    let sdk = crate::adapters::aws::sdk_config().await;
    let declared = entry.secrets();
    // No client, and no call, in a function that declares no secret.
    let store: Box<dyn SecretStore> = if declared.is_empty() {
        Box::new(NoSecrets)
    } else {
        Box::new(SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(&sdk)))
    };
    load_secrets(name, &declared, store.as_ref(), secret_id_from_env, &mut config.app).await?;
    Ok(app::aws_state_from(&sdk, &config))
}

/// The declared integrations' secrets from `store` (Secrets Manager), by
/// the ids `secret_id` gives (the ARNs in the environment), once per cold
/// start. One log line says which integrations fall back; never a value.
pub async fn load_secrets(
    name: &str,
    declared: &[Integration],
    store: &dyn SecretStore,
    secret_id: impl Fn(Integration) -> Option<String>,
    app: &mut AppConfig,
) -> Result<(), integrations::IntegrationError> {
    let unset = integrations::load_declared(app, declared, store, secret_id).await?;
    if !unset.is_empty() {
        let names: Vec<&str> = unset.iter().map(|i| i.as_str()).collect();
        let fallbacks: Vec<&str> = unset.iter().map(|i| integrations::fallback(*i)).collect();
        tracing::warn!(
            function = name,
            unset = names.join(", "),
            "integration secrets hold their placeholders: {}",
            fallbacks.join("; ")
        );
    }
    Ok(())
}

/// The secret ARNs the template puts in a function's environment.
fn secret_id_from_env(integration: Integration) -> Option<String> {
    std::env::var(integration.secret_id_env())
        .ok()
        .filter(|id| !id.trim().is_empty())
}

/// The store of a function that declares no secret: never asked.
struct NoSecrets;

#[async_trait::async_trait]
impl SecretStore for NoSecrets {
    async fn read(&self, id: &str) -> Result<secrecy::SecretString, SecretError> {
        Err(SecretError::NotFound(id.into()))
    }
}

/// An SQS batch through a consumer; failed messages are reported one by one
/// (`ReportBatchItemFailures`) so only they are delivered again.
pub async fn handle_sqs(state: AppState, consumer: Consumer, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    let mut messages = Vec::with_capacity(event.records.len());
    for record in event.records {
        match (record.message_id, record.body) {
            (Some(message_id), Some(body)) => {
                let receive_count = record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                messages.push(Message {
                    message_id,
                    body,
                    receive_count,
                });
            }
            // Without a body there is nothing to do; without an id it cannot be reported.
            (Some(message_id), None) => tracing::warn!(%message_id, "SQS record without a body acknowledged"),
            (None, _) => tracing::warn!("SQS record without a message id"),
        }
    }
    let outcome = consumer(state, messages).await;
    failures.extend(outcome.failed.into_iter().map(|item_identifier| {
        // Both types are non-exhaustive: build from Default.
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = item_identifier;
        failure
    }));
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// An EventBridge scheduled event through a tick.
pub async fn handle_schedule(
    state: AppState,
    name: &str,
    tick: Tick,
    event: EventBridgeEvent<Value>,
) -> Result<TickReport, Error> {
    tracing::info!(
        function = name,
        event_id = event.id.as_deref().unwrap_or("-"),
        "scheduled tick"
    );
    let report = tick(state).await?;
    tracing::info!(function = name, processed = report.processed, "tick done");
    Ok(report)
}
