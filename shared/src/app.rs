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
use crate::adapters::undeclared::Undeclared;
use crate::adapters::webhook_http::HttpWebhooks;
#[cfg(feature = "local")]
use crate::config::LocalConfig;
use crate::config::{AppConfig, AwsConfig};
pub use crate::inbound::AppState;
#[cfg(feature = "local")]
use crate::ports::QueueName;
use crate::ports::{Clock, GoogleOAuth, KeyVault, Mailer, ObjectStore, Payments, Sms, SystemClock, Table};

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
    let queue = |name: QueueName| SqliteQueue::new(db.clone(), name.as_str(), name.max_receives(), clock.clone());
    let (jobs, bulk) = (queue(QueueName::Jobs), queue(QueueName::Bulk));
    let reminders = queue(QueueName::Reminders);
    let table: Arc<dyn Table> = Arc::new(SqliteTable::new(db.clone(), clock.clone()));
    let objects = Arc::new(DirObjectStore::new(config.objects_dir()));
    Ok(AppState {
        mailer: local_mailer(&config.app, table.clone(), clock.clone())?,
        sms: sms(&config.app, table.clone(), clock.clone()),
        reminders: Arc::new(reminders),
        objects: objects.clone(),
        table,
        jobs: Arc::new(jobs),
        bulk: Arc::new(bulk),
        keys: Arc::new(EnvelopeVault::new(keys)),
        clock,
        config: Arc::new(config.app.clone()),
        payments: payments(&config.app),
        webhooks: Arc::new(HttpWebhooks::new()),
        google: google(&config.app),
        sweepers: vec![db, objects],
    })
}

/// The AWS runtime: clients built once, from the function's environment.
pub fn aws_state(config: &AwsConfig) -> AppState {
    aws_state_from(&crate::adapters::aws::sdk_config(), config)
}

/// The AWS runtime from an explicit SDK configuration (tests point it at the
/// emulator; `aws_state` loads it from the environment).
pub fn aws_state_from(sdk: &aws_types::SdkConfig, config: &AwsConfig) -> AppState {
    aws_state_with_clock(sdk, config, Arc::new(SystemClock))
}

/// As [`aws_state_from`], on `clock` (tests pin the time).
pub fn aws_state_with_clock(sdk: &aws_types::SdkConfig, config: &AwsConfig, clock: Arc<dyn Clock>) -> AppState {
    aws_state_wired(sdk, config, clock, Wiring::ALL)
}

/// Builds a provider's port from the configuration, or the outbox on the
/// table and clock.
pub type ProviderPort<P> = fn(&AppConfig, Arc<dyn Table>, Arc<dyn Clock>) -> Arc<P>;

/// Which adapter each optional port of a Lambda's state gets: the real one
/// where the function's catalogue entry declares the access (or reads the
/// provider's secret), else the one that refuses (an undeclared AWS service,
/// which IAM would refuse anyway) or falls back (the outbox, billing off:
/// what an undeclared provider's unread secret leaves). Function pointers,
/// picked by `lambda::run` on the main's constant entry, so a binary links
/// only the adapters, and the SDK clients, it wires.
#[derive(Clone, Copy)]
pub struct Wiring {
    pub objects: fn(&aws_types::SdkConfig, &AwsConfig) -> Arc<dyn ObjectStore>,
    pub keys: fn(&aws_types::SdkConfig, &AwsConfig) -> Arc<dyn KeyVault>,
    pub mailer: ProviderPort<dyn Mailer>,
    pub sms: ProviderPort<dyn Sms>,
    pub payments: fn(&AppConfig) -> Option<Arc<dyn Payments>>,
}

impl Wiring {
    /// Every adapter real: tests and tools, which reach every service.
    pub const ALL: Wiring = Wiring {
        objects: s3_objects,
        keys: kms_keys,
        mailer,
        sms,
        payments,
    };

    /// The objects bucket refused.
    pub fn undeclared_objects(_: &aws_types::SdkConfig, _: &AwsConfig) -> Arc<dyn ObjectStore> {
        Arc::new(Undeclared)
    }

    /// The token key refused.
    pub fn undeclared_keys(_: &aws_types::SdkConfig, _: &AwsConfig) -> Arc<dyn KeyVault> {
        Arc::new(Undeclared)
    }

    /// The outbox, whatever the configuration: the mail provider's secret is not read.
    pub fn outbox_mailer(config: &AppConfig, table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Arc<dyn Mailer> {
        Arc::new(OutboxMailer::new(table, clock, config.mail_from.clone()))
    }

    /// The outbox, whatever the configuration: the SMS provider's secret is not read.
    pub fn outbox_sms(_: &AppConfig, table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Arc<dyn Sms> {
        Arc::new(OutboxSms::new(table, clock, OUTBOX_SMS_SENDER.into()))
    }

    /// Billing off: the payment provider's secret is not read.
    pub fn no_payments(_: &AppConfig) -> Option<Arc<dyn Payments>> {
        None
    }
}

/// The AWS runtime with the adapters `wiring` picks. Each SDK client is
/// built on its first call ([`LazyClient`]), so a cold start pays only for
/// the services its invocations reach.
pub fn aws_state_wired(
    sdk: &aws_types::SdkConfig,
    config: &AwsConfig,
    clock: Arc<dyn Clock>,
    wiring: Wiring,
) -> AppState {
    let dynamodb = LazyClient::new({
        let sdk = sdk.clone();
        move || aws_sdk_dynamodb::Client::new(&sdk)
    });
    let sqs = LazyClient::new({
        let sdk = sdk.clone();
        move || aws_sdk_sqs::Client::new(&sdk)
    });
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb, config.table_name.clone(), clock.clone()));
    AppState {
        mailer: (wiring.mailer)(&config.app, table.clone(), clock.clone()),
        sms: (wiring.sms)(&config.app, table.clone(), clock.clone()),
        reminders: Arc::new(SqsQueue::new(sqs.clone(), config.reminders_queue_url.clone())),
        objects: (wiring.objects)(sdk, config),
        config: Arc::new(config.app.clone()),
        payments: (wiring.payments)(&config.app),
        table,
        jobs: Arc::new(SqsQueue::new(sqs.clone(), config.jobs_queue_url.clone())),
        bulk: Arc::new(SqsQueue::new(sqs, config.bulk_queue_url.clone())),
        keys: (wiring.keys)(sdk, config),
        clock,
        webhooks: Arc::new(HttpWebhooks::new()),
        google: google(&config.app),
        sweepers: Vec::new(),
    }
}

/// The objects bucket on S3.
fn s3_objects(sdk: &aws_types::SdkConfig, config: &AwsConfig) -> Arc<dyn ObjectStore> {
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
    Arc::new(S3ObjectStore::new(s3, config.objects_bucket.clone()))
}

/// Envelope encryption under the token key in KMS.
fn kms_keys(sdk: &aws_types::SdkConfig, config: &AwsConfig) -> Arc<dyn KeyVault> {
    let kms = LazyClient::new({
        let sdk = sdk.clone();
        move || aws_sdk_kms::Client::new(&sdk)
    });
    Arc::new(EnvelopeVault::new(KmsDataKeys::new(kms, config.token_key_id.clone())))
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
            provider_http(),
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
                provider_http(),
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

/// The HTTPS client of the providers' APIs (Resend, Twilio, Stripe), one
/// per process and built on the first call to any of them: building it
/// parses the TLS trust roots, work a cold start skips when its invocations
/// never reach a provider.
fn provider_http() -> LazyClient<reqwest::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    LazyClient::new(|| CLIENT.get_or_init(reqwest::Client::new).clone())
}

/// Stripe when it is configured; `None` leaves billing off.
pub fn payments(config: &AppConfig) -> Option<Arc<dyn Payments>> {
    config.stripe.as_ref().map(|stripe| {
        Arc::new(StripePayments::new(
            provider_http(),
            config.stripe_base_url.clone(),
            stripe.secret_key.clone(),
        )) as Arc<dyn Payments>
    })
}

/// Google's OAuth client when it is configured; `None` leaves Google off.
pub fn google(config: &AppConfig) -> Option<Arc<dyn GoogleOAuth>> {
    config.google_oauth.as_ref().map(|google| {
        Arc::new(
            GoogleOAuthClient::new(
                provider_http(),
                &config.google_accounts_base_url,
                &config.google_oauth_base_url,
                &config.google_certs_url,
                &config.google_calendar_base_url,
                google.client_id.clone(),
                google.client_secret.clone(),
            )
            .with_gmail_base_url(&config.google_gmail_base_url)
            .with_people_base_url(&config.google_people_base_url),
        ) as Arc<dyn GoogleOAuth>
    })
}
