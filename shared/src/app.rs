//! The composition root: the ports of `AppState`, wired to one runtime's
//! adapters. Built once per process (per Lambda cold start).

use std::sync::Arc;

use crate::adapters::aws::s3::S3ObjectStore;
use crate::adapters::aws::{LazyClient, dynamodb::DynamoTable, kms::KmsDataKeys, sqs::SqsQueue};
use crate::adapters::envelope::EnvelopeVault;
use crate::adapters::google::GoogleOAuthClient;
#[cfg(feature = "local")]
use crate::adapters::local_keys::LocalDataKeys;
#[cfg(feature = "local")]
use crate::adapters::object_dir::DirObjectStore;
use crate::adapters::outbox::{OutboxMailer, OutboxSms};
use crate::adapters::resend::ResendMailer;
#[cfg(feature = "local")]
use crate::adapters::smtp::SmtpMailer;
#[cfg(feature = "local")]
use crate::adapters::sqlite::{Database, queue::SqliteQueue, table::SqliteTable};
use crate::adapters::stripe::StripePayments;
use crate::adapters::twilio::TwilioSms;
#[cfg(feature = "local")]
use crate::config::LocalConfig;
use crate::config::{AppConfig, AwsConfig};
pub use crate::inbound::AppState;
#[cfg(feature = "local")]
use crate::ports::QueueName;
use crate::ports::{Clock, GoogleOAuth, Mailer, Payments, Sms, SystemClock, Table};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot open the embedded store: {0}")]
    Store(#[from] crate::ports::StoreError),
    #[error("cannot open the token key: {0}")]
    Keys(#[from] crate::ports::KeyError),
    #[error("cannot set up mail: {0}")]
    Mail(String),
    #[error(transparent)]
    NoMailProvider(#[from] crate::run_mode::NoMailProvider),
}

/// The embedded runtime: SQLite table and queues in one file, local key file.
#[cfg(feature = "local")]
pub fn local_state(config: &LocalConfig, clock: Arc<dyn Clock>) -> Result<AppState, StartupError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartupError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let db = Database::open(&config.database_path())?;
    let keys = LocalDataKeys::open_or_create(config.key_file_path())?;
    let jobs = SqliteQueue::new(
        db.clone(),
        QueueName::Jobs.as_str(),
        QueueName::Jobs.max_receives(),
        clock.clone(),
    );
    let reminders = SqliteQueue::new(
        db.clone(),
        QueueName::Reminders.as_str(),
        QueueName::Reminders.max_receives(),
        clock.clone(),
    );
    let table: Arc<dyn Table> = Arc::new(SqliteTable::new(db.clone(), clock.clone()));
    let objects = Arc::new(DirObjectStore::new(config.objects_dir()));
    Ok(AppState {
        mailer: local_mailer(&config.app, table.clone(), clock.clone())?,
        sms: sms(&config.app, table.clone(), clock.clone()),
        reminders: Arc::new(reminders),
        objects: objects.clone(),
        table,
        jobs: Arc::new(jobs),
        keys: Arc::new(EnvelopeVault::new(keys)),
        clock,
        config: Arc::new(config.app.clone()),
        payments: payments(&config.app),
        google: google(&config.app),
        sweepers: vec![db, objects],
    })
}

/// The AWS runtime: clients built once, from the function's environment.
pub async fn aws_state(config: &AwsConfig) -> AppState {
    aws_state_from(&crate::adapters::aws::sdk_config().await, config)
}

/// The AWS runtime from an explicit SDK configuration (tests point it at the
/// emulator; `aws_state` loads it from the environment).
pub fn aws_state_from(sdk: &aws_config::SdkConfig, config: &AwsConfig) -> AppState {
    aws_state_with_clock(sdk, config, Arc::new(SystemClock))
}

/// As [`aws_state_from`], on `clock` (tests pin the time).
/// Each SDK client is built on its first call ([`LazyClient`]), so a cold
/// start pays only for the services its invocations reach.
pub fn aws_state_with_clock(sdk: &aws_config::SdkConfig, config: &AwsConfig, clock: Arc<dyn Clock>) -> AppState {
    let dynamodb = LazyClient::new({
        let sdk = sdk.clone();
        move || aws_sdk_dynamodb::Client::new(&sdk)
    });
    let sqs = LazyClient::new({
        let sdk = sdk.clone();
        move || aws_sdk_sqs::Client::new(&sdk)
    });
    let kms = LazyClient::new({
        let sdk = sdk.clone();
        move || aws_sdk_kms::Client::new(&sdk)
    });
    let s3 = LazyClient::new({
        let sdk = sdk.clone();
        move || {
            // An overridden endpoint (an emulator or S3-compatible store) needs
            // path-style addressing; AWS itself uses virtual-hosted buckets.
            let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(sdk.endpoint_url().is_some())
                .build();
            aws_sdk_s3::Client::from_conf(s3_config)
        }
    });
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb, config.table_name.clone(), clock.clone()));
    AppState {
        mailer: mailer(&config.app, table.clone(), clock.clone()),
        sms: sms(&config.app, table.clone(), clock.clone()),
        reminders: Arc::new(SqsQueue::new(sqs.clone(), config.reminders_queue_url.clone())),
        objects: Arc::new(S3ObjectStore::new(s3, config.objects_bucket.clone())),
        config: Arc::new(config.app.clone()),
        payments: payments(&config.app),
        google: google(&config.app),
        table,
        jobs: Arc::new(SqsQueue::new(sqs, config.jobs_queue_url.clone())),
        keys: Arc::new(EnvelopeVault::new(KmsDataKeys::new(kms, config.token_key_id.clone()))),
        clock,
        sweepers: Vec::new(),
    }
}

/// The local server's mailer: SMTP when configured (the configuration
/// refuses it beside a Resend key, and in Lambdas), else as in AWS.
#[cfg(feature = "local")]
fn local_mailer(
    config: &AppConfig,
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Mailer>, StartupError> {
    match &config.smtp {
        Some(smtp) => SmtpMailer::new(smtp, config.mail_from.clone(), hello_name(&config.public_url), &[])
            .map(|mailer| Arc::new(mailer) as Arc<dyn Mailer>)
            .map_err(|reason| StartupError::Mail(format!("SMTP {}: {reason}", smtp.describe()))),
        None => Ok(mailer(config, table, clock)),
    }
}

/// Resend when a key is configured; otherwise the outbox in the table.
fn mailer(config: &AppConfig, table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Arc<dyn Mailer> {
    match &config.resend_api_key {
        Some(key) => Arc::new(ResendMailer::new(
            reqwest::Client::new(),
            config.resend_base_url.clone(),
            key.clone(),
            config.mail_from.clone(),
        )),
        None => Arc::new(OutboxMailer::new(table, clock, config.mail_from.clone())),
    }
}

/// The EHLO name: the public host when it is a name (`crm.example.com`);
/// lettre's default otherwise.
#[cfg(feature = "local")]
fn hello_name(public_url: &str) -> Option<String> {
    let host = url::Url::parse(public_url).ok()?.host_str()?.to_string();
    (host.contains('.') && host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[')).then_some(host)
}

/// The sender id the local outbox uses when Twilio is not configured.
pub const OUTBOX_SMS_SENDER: &str = "+15005550006";

/// Twilio when configured; otherwise the outbox in the table.
fn sms(config: &AppConfig, table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Arc<dyn Sms> {
    match &config.twilio {
        Some(twilio) => Arc::new(
            TwilioSms::new(
                reqwest::Client::new(),
                config.twilio_base_url.clone(),
                twilio.account_sid.clone(),
                twilio.auth_token.clone(),
                twilio.from.clone(),
            )
            .with_status_callback(format!(
                "{}{}",
                config.public_url.trim_end_matches('/'),
                crate::inbound::http::twilio::STATUS_PATH
            )),
        ),
        None => Arc::new(OutboxSms::new(table, clock, OUTBOX_SMS_SENDER.into())),
    }
}

/// Stripe when it is configured; `None` leaves billing off.
pub fn payments(config: &AppConfig) -> Option<Arc<dyn Payments>> {
    config.stripe.as_ref().map(|stripe| {
        Arc::new(StripePayments::new(
            reqwest::Client::new(),
            config.stripe_base_url.clone(),
            stripe.secret_key.clone(),
        )) as Arc<dyn Payments>
    })
}

/// Google's OAuth client when it is configured; `None` leaves Google off.
pub fn google(config: &AppConfig) -> Option<Arc<dyn GoogleOAuth>> {
    config.google_oauth.as_ref().map(|google| {
        Arc::new(GoogleOAuthClient::new(
            reqwest::Client::new(),
            &config.google_accounts_base_url,
            &config.google_oauth_base_url,
            &config.google_certs_url,
            &config.google_calendar_base_url,
            google.client_id.clone(),
            google.client_secret.clone(),
        )) as Arc<dyn GoogleOAuth>
    })
}
