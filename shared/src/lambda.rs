//! Runs one catalogue entry as an AWS Lambda function. Each binary in
//! `functions/` is a call to [`run`] with its entry picked at compile time
//! (`catalogue::entry`); the pieces below are public so tests can invoke a
//! function's handler with its sample event.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tracing::Instrument;

use crate::adapters::aws::secrets_manager::SecretsManagerStore;
use crate::app::{self, AppState, Wiring};
use crate::catalogue::{Access, Entry, Method, Runtime, Trigger};
use crate::config::{AppConfig, AwsConfig, LogFormat};
use crate::inbound::events::{Consumer, Message, Tick, TickReport};
use crate::inbound::http;
use crate::integrations;
use crate::ports::SystemClock;
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
    let wiring = Start::declared(&entry);
    match entry.trigger {
        Trigger::Http { .. } => Box::pin(serve_http(entry, wiring)),
        Trigger::Queue { consumer, .. } => Box::pin(serve_queue(entry, wiring, consumer)),
        Trigger::Schedule { tick, .. } => Box::pin(serve_schedule(entry, wiring, tick)),
    }
}

async fn serve_http(entry: Entry, wiring: Start) -> Result<(), Error> {
    let state = start(&entry, wiring).await?;
    lambda_http::run(http::router(state, [&entry])).await
}

async fn serve_queue(entry: Entry, wiring: Start, consumer: Consumer) -> Result<(), Error> {
    let state = start(&entry, wiring).await?;
    let name = entry.name;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        let span = tracing::info_span!("invocation", function = name);
        async move { Ok::<_, Error>(handle_sqs(state, consumer, event.payload).await) }.instrument(span)
    }))
    .await
}

async fn serve_schedule(entry: Entry, wiring: Start, tick: Tick) -> Result<(), Error> {
    let state = start(&entry, wiring).await?;
    let name = entry.name;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<Value>>| {
        let state = state.clone();
        let span = tracing::info_span!("invocation", function = name);
        async move { handle_schedule(state, name, tick, event.payload).await }.instrument(span)
    }))
    .await
}

/// What a function's init builds, picked from its entry's declared access:
/// the secret store and the state's adapters ([`Wiring`]).
#[derive(Clone, Copy)]
pub struct Start {
    secrets: fn(&aws_types::SdkConfig) -> Box<dyn SecretStore>,
    state: Wiring,
}

impl Start {
    /// The pick for `entry`. Always inlined into [`run`], itself inlined
    /// into the main, where the entry is a constant: each test below folds
    /// to a constant and only the picked functions are referenced, so the
    /// binary carries no adapter its function does not declare.
    #[inline(always)]
    pub fn declared(entry: &Entry) -> Start {
        let access = entry.access;
        // The shared layers of a POST route seal idempotent answers with the key vault.
        let post = matches!(
            entry.trigger,
            Trigger::Http {
                method: Method::Post,
                ..
            }
        );
        let objects = declares(access, |a| {
            matches!(
                a,
                Access::ObjectRead | Access::ObjectWrite | Access::ExportRead | Access::ExportWrite
            )
        });
        let keys = post
            || declares(access, |a| {
                matches!(
                    a,
                    Access::TokenKeyEncrypt | Access::TokenKeyDecrypt | Access::TokenKeyDescribe
                )
            });
        let secret = |integration: Integration| declares(access, move |a| *a == Access::Secret(integration));
        Start {
            secrets: if declares(access, |a| matches!(a, Access::Secret(_))) {
                secrets_manager
            } else {
                no_secrets
            },
            state: Wiring {
                objects: if objects {
                    Wiring::ALL.objects
                } else {
                    Wiring::undeclared_objects
                },
                keys: if keys {
                    Wiring::ALL.keys
                } else {
                    Wiring::undeclared_keys
                },
                mailer: if secret(Integration::Resend) {
                    Wiring::ALL.mailer
                } else {
                    Wiring::outbox_mailer
                },
                sms: if secret(Integration::Twilio) {
                    Wiring::ALL.sms
                } else {
                    Wiring::outbox_sms
                },
                payments: if secret(Integration::Stripe) {
                    Wiring::ALL.payments
                } else {
                    Wiring::no_payments
                },
            },
        }
    }
}

/// Whether `access` holds an item `wanted` accepts. Written out for the
/// first 24 items, not as a loop: on a constant list each test then folds
/// while compiling, which a loop (not unrolled when optimising for size)
/// would not; the rare longer list is searched on.
#[inline(always)]
fn declares(access: &[Access], wanted: impl Fn(&Access) -> bool) -> bool {
    macro_rules! at {
        ($($i:literal)*) => { false $(|| (access.len() > $i && wanted(&access[$i])))* };
    }
    at!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23)
        || (access.len() > 24 && access[24..].iter().any(&wanted))
}

fn secrets_manager(sdk: &aws_types::SdkConfig) -> Box<dyn SecretStore> {
    Box::new(SecretsManagerStore::new(aws_sdk_secretsmanager::Client::new(sdk)))
}

/// No client, and no call, in a function that declares no secret.
fn no_secrets(_: &aws_types::SdkConfig) -> Box<dyn SecretStore> {
    Box::new(NoSecrets)
}

/// The init phase every kind shares: telemetry, configuration, the declared
/// secrets and the state (its SDK clients built on first use).
async fn start(entry: &Entry, wiring: Start) -> Result<AppState, Error> {
    let name = entry.name;
    crate::telemetry::init(LogFormat::Json, name);
    // Local-only entries (the developer outbox among them) never run as a
    // Lambda, whatever a deployment names.
    if entry.runtime != Runtime::Both {
        return Err(format!("{name} runs only in the local server, never as a Lambda").into());
    }
    let mut config = AwsConfig::from_env()?;
    let sdk = crate::adapters::aws::sdk_config();
    let store = (wiring.secrets)(&sdk);
    load_secrets(
        name,
        &entry.secrets(),
        store.as_ref(),
        secret_id_from_env,
        &mut config.app,
    )
    .await?;
    Ok(app::aws_state_wired(&sdk, &config, Arc::new(SystemClock), wiring.state))
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

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
    use aws_types::SdkConfig;
    use secrecy::SecretString;

    use super::*;
    use crate::catalogue;
    use crate::config::StripeConfig;

    /// The state `name`'s Lambda starts with, Stripe configured. The SDK
    /// configuration has no credentials: a real adapter fails on them, at
    /// once and without a connection, never with "declares no access".
    fn state_of(name: &str) -> AppState {
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .build();
        let mut app = AppConfig::for_tests();
        app.stripe = Some(StripeConfig {
            secret_key: SecretString::from("sk_test_1"),
            webhook_signing_secret: SecretString::from("whsec_1"),
        });
        let config = AwsConfig {
            table_name: "t".into(),
            jobs_queue_url: "http://127.0.0.1:9/q/jobs".into(),
            bulk_queue_url: "http://127.0.0.1:9/q/bulk".into(),
            reminders_queue_url: "http://127.0.0.1:9/q/reminders".into(),
            token_key_id: "k".into(),
            objects_bucket: "b".into(),
            app,
        };
        let start = Start::declared(catalogue::find(name).expect("in the catalogue"));
        app::aws_state_wired(&sdk, &config, Arc::new(SystemClock), start.state)
    }

    async fn objects_refused(state: &AppState) -> bool {
        let err = state
            .objects
            .exists("a/b")
            .await
            .expect_err("no credentials, no bucket");
        err.to_string().contains("declares no access")
    }

    async fn keys_refused(state: &AppState) -> bool {
        let err = state.keys.ping().await.expect_err("no credentials, no key");
        err.to_string().contains("declares no access")
    }

    #[tokio::test]
    async fn a_function_wires_only_the_adapters_its_entry_declares() {
        // A tick: no bucket, no key, no provider.
        let tick = state_of("reminders-tick");
        assert!(objects_refused(&tick).await);
        assert!(keys_refused(&tick).await);
        assert!(tick.payments.is_none(), "Stripe configured but its secret not declared");

        // The bulk worker reads and writes objects (imports, exports); the
        // jobs worker has no bucket, and opens webhook signing secrets with
        // the token key.
        let bulk = state_of("bulk-worker");
        assert!(!objects_refused(&bulk).await);
        let jobs = state_of("jobs-worker");
        assert!(objects_refused(&jobs).await);
        assert!(!keys_refused(&jobs).await);
        // A read route that declares neither gets neither.
        let list = state_of("contacts-list");
        assert!(objects_refused(&list).await);
        assert!(keys_refused(&list).await);

        // Health describes the key; a POST route seals idempotent answers with it.
        assert!(!keys_refused(&state_of("health")).await);
        assert!(objects_refused(&state_of("health")).await);
        assert!(!keys_refused(&state_of("auth-login")).await);

        // A route that declares Stripe's secret has the provider; one that
        // only checks plan limits (a plain setting) does not.
        assert!(state_of("billing-checkout").payments.is_some());
        assert!(state_of("invitations-create").payments.is_none());
    }
}
