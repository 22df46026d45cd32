//! Configuration from the environment, read once at start-up.
//! The README's configuration table lists every variable read here.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;

use crate::domain::billing::{PlanName, Plans};
use crate::domain::host::is_loopback_host;
use crate::domain::webhook::TargetPolicy;
use crate::ports::QueueName;
use crate::ports::secrets::Integration;

/// Default bound on request bodies; larger bodies get a 413 problem.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required")]
    Missing { name: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

fn required(name: &'static str) -> Result<String, ConfigError> {
    var(name).ok_or(ConfigError::Missing { name })
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (CloudWatch, log shippers). The default.
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

impl LogFormat {
    pub fn from_env() -> Result<Self, ConfigError> {
        match var("KONNECS_LOG_FORMAT").as_deref() {
            None | Some("json") => Ok(LogFormat::Json),
            Some("pretty") => Ok(LogFormat::Pretty),
            Some(other) => Err(ConfigError::Invalid {
                name: "KONNECS_LOG_FORMAT",
                reason: format!("{other:?} is not json or pretty"),
            }),
        }
    }
}

/// The local single-process runtime.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub app: AppConfig,
    /// `KONNECS_BACKUP_DIR`: daily backups taken by the running server.
    pub backup: Option<BackupSchedule>,
}

/// Scheduled backups: one a day into `dir`, the `keep` newest kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    pub keep: usize,
}

/// Backups kept when `KONNECS_BACKUP_KEEP` is unset: a week of dailies.
pub const DEFAULT_BACKUP_KEEP: usize = 7;

impl BackupSchedule {
    fn from_env() -> Result<Option<Self>, ConfigError> {
        let keep = match var("KONNECS_BACKUP_KEEP") {
            None => DEFAULT_BACKUP_KEEP,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(ConfigError::Invalid {
                    name: "KONNECS_BACKUP_KEEP",
                    reason: format!("{raw:?} is not a positive number"),
                })?,
        };
        match var("KONNECS_BACKUP_DIR") {
            Some(dir) => Ok(Some(Self {
                dir: PathBuf::from(dir),
                keep,
            })),
            None if var("KONNECS_BACKUP_KEEP").is_some() => Err(ConfigError::Invalid {
                name: "KONNECS_BACKUP_KEEP",
                reason: "set KONNECS_BACKUP_DIR too: it says where the backups go".into(),
            }),
            None => Ok(None),
        }
    }
}

impl LocalConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let addr = match var("KONNECS_ADDR") {
            Some(raw) => raw.parse().map_err(|err| ConfigError::Invalid {
                name: "KONNECS_ADDR",
                reason: format!("{err}"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let data_dir = var("KONNECS_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("data"));
        Ok(Self {
            addr,
            data_dir,
            app: AppConfig::from_env(true)?,
            backup: BackupSchedule::from_env()?,
        })
    }

    /// What a backup copies from the data directory.
    pub fn data_files(&self) -> DataFiles {
        DataFiles {
            database: self.database_path(),
            key_file: self.key_file_path(),
            objects_dir: self.objects_dir(),
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("konnecs.sqlite3")
    }

    pub fn key_file_path(&self) -> PathBuf {
        self.data_dir.join("token-master.key")
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.data_dir.join("objects")
    }

    /// A loopback server on a free port over `data_dir`, with test defaults.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            app: AppConfig::for_tests(),
            backup: None,
        }
    }
}

/// The AWS runtime: names of the resources `template.yaml` creates.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub table_name: String,
    pub jobs_queue_url: String,
    /// Imports, exports, back-fills and purges, in slices.
    pub bulk_queue_url: String,
    /// Fan-out queue of due reminders (`reminders-tick` → `reminders-send`).
    pub reminders_queue_url: String,
    pub token_key_id: String,
    /// Private bucket for profile photos and exports.
    pub objects_bucket: String,
    pub app: AppConfig,
}

impl AwsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            jobs_queue_url: required(QueueName::Jobs.url_env())?,
            bulk_queue_url: required(QueueName::Bulk.url_env())?,
            reminders_queue_url: required(QueueName::Reminders.url_env())?,
            token_key_id: required("TOKEN_KEY_ID")?,
            objects_bucket: required("OBJECTS_BUCKET")?,
            app: AppConfig::from_env(false)?,
        })
    }
}

/// Settings both runtimes share, read once at start-up.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Base URL of links in emails (verification, reset, invitations, bookings).
    pub public_url: String,
    /// Sender of transactional email.
    pub mail_from: String,
    pub session_idle_seconds: i64,
    pub session_absolute_seconds: i64,
    /// Local plain-http only: cookies without `Secure` and the `__Host-` prefix.
    pub insecure_cookies: bool,
    /// When set, email goes through Resend; otherwise to the local outbox.
    pub resend_api_key: Option<secrecy::SecretString>,
    /// `KONNECS_SMTP_URL`: when set, email goes through this SMTP server.
    pub smtp: Option<SmtpSettings>,
    pub resend_base_url: String,
    /// When all of SID, token and sender are set, SMS goes through Twilio;
    /// otherwise to the local outbox.
    pub twilio: Option<TwilioConfig>,
    pub twilio_base_url: String,
    /// Set where responses are buffered (Lambda behind API Gateway, capped
    /// at 6 MB): the most bytes, once encoded for the response, a download
    /// may answer with inline. Larger downloads go through export jobs.
    /// `None`: responses stream.
    pub inline_download_limit: Option<usize>,
    /// `KONNECS_BILLING=on`: plans and their limits apply. Not a secret, so
    /// every function that checks a limit knows billing is on without
    /// holding Stripe's keys; only the billing functions declare those.
    pub billing_on: bool,
    /// Set only where Stripe is configured (the billing functions).
    pub stripe: Option<StripeConfig>,
    pub stripe_base_url: String,
    /// The plans sold, their limits and Stripe prices, and the grace period
    /// after a failed payment.
    pub plans: Plans,
    /// Set only where Google's OAuth client is configured.
    pub google_oauth: Option<GoogleOAuthConfig>,
    /// Where outgoing webhooks may go: public addresses only, except in the
    /// local server's developer mode (`run_mode`), which adds loopback.
    pub webhook_targets: TargetPolicy,
    /// Google's consent pages (`/o/oauth2/v2/auth`).
    pub google_accounts_base_url: String,
    /// Google's token and revocation endpoints (`/token`, `/revoke`).
    pub google_oauth_base_url: String,
    /// Google's JWK set, the keys that sign ID tokens.
    pub google_certs_url: String,
    /// The Google Calendar API (`/users/me/calendarList`, `/freeBusy`).
    pub google_calendar_base_url: String,
    /// The Gmail API (`GOOGLE_GMAIL_BASE_URL`; tests point it at a mock).
    pub google_gmail_base_url: String,
    /// The People API (`/people/me/connections`), for the Contacts import.
    pub google_people_base_url: String,
}

/// What a buffered Lambda response may carry inline, counted as encoded in
/// the response (JSON-escaped text or base64): Lambda's 6 MB less headroom
/// for the headers and the envelope.
pub const LAMBDA_INLINE_DOWNLOAD_LIMIT: usize = 5 * 1024 * 1024;

/// Twilio credentials and sender. The token is a secret: never logged.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: secrecy::SecretString,
    /// An E.164 number, or a Messaging Service SID (`MG…`).
    pub from: String,
}

/// Stripe's API key and the signing secret of its webhooks.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: secrecy::SecretString,
    pub webhook_signing_secret: secrecy::SecretString,
}

/// Where Google's consent pages are.
pub const GOOGLE_ACCOUNTS_BASE_URL: &str = "https://accounts.google.com";
/// Where Google's OAuth token and revocation endpoints are.
pub const GOOGLE_OAUTH_BASE_URL: &str = "https://oauth2.googleapis.com";
/// Where the Google Calendar API is.
pub const GOOGLE_CALENDAR_BASE_URL: &str = "https://www.googleapis.com/calendar/v3";
/// Where the Google People API is (the Contacts import).
pub const GOOGLE_PEOPLE_BASE_URL: &str = "https://people.googleapis.com/v1";
/// Where the Gmail API is.
pub const GOOGLE_GMAIL_BASE_URL: &str = "https://gmail.googleapis.com/gmail/v1";
/// Where Google publishes the keys that sign its ID tokens.
pub const GOOGLE_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// Google's OAuth client (sign-in and calendar access).
#[derive(Debug, Clone)]
pub struct GoogleOAuthConfig {
    pub client_id: String,
    pub client_secret: secrecy::SecretString,
}

/// Why an integration's credentials were refused. Names fields, never values.
#[derive(Debug, thiserror::Error)]
#[error("set {fields} together, or none of them")]
pub struct PartialCredentials {
    pub fields: String,
}

/// The plans with the Stripe price each paid plan sells
/// (`STRIPE_PRICE_STARTER`, `STRIPE_PRICE_PRO`); a plan without one is
/// sold by the Stripe price with its lookup key (`PlanName::lookup_key`).
/// The limits are the built-in ones.
fn plans_from_env() -> Plans {
    let mut plans = Plans::default();
    for (name, env) in [
        (PlanName::Starter, "STRIPE_PRICE_STARTER"),
        (PlanName::Pro, "STRIPE_PRICE_PRO"),
    ] {
        if let Some(plan) = plans.plan_mut(name) {
            plan.price_id = var(env);
        }
    }
    plans
}

/// `KONNECS_SMTP_URL`, parsed; the value holds a password, so it is read
/// into a secret and no error repeats it.
fn smtp_from_env() -> Result<Option<SmtpSettings>, ConfigError> {
    use secrecy::ExposeSecret;
    let Some(raw) = var("KONNECS_SMTP_URL").map(secrecy::SecretString::from) else {
        return Ok(None);
    };
    SmtpSettings::from_url(raw.expose_secret())
        .map(Some)
        .map_err(|reason| ConfigError::Invalid {
            name: "KONNECS_SMTP_URL",
            reason,
        })
}

impl AppConfig {
    /// `local` decides whether `KONNECS_INSECURE_COOKIES` may be honoured.
    pub fn from_env(local: bool) -> Result<Self, ConfigError> {
        let number = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            match var(name) {
                None => Ok(default),
                Some(raw) => raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or(ConfigError::Invalid {
                    name,
                    reason: format!("{raw:?} is not a positive number"),
                }),
            }
        };
        let insecure_cookies = matches!(var("KONNECS_INSECURE_COOKIES").as_deref(), Some("1" | "true"));
        if insecure_cookies && !local {
            return Err(ConfigError::Invalid {
                name: "KONNECS_INSECURE_COOKIES",
                reason: "insecure cookies are refused outside the local server".into(),
            });
        }
        let resend_api_key = var("RESEND_API_KEY").map(secrecy::SecretString::from);
        let smtp = smtp_from_env()?;
        if smtp.is_some() && !local {
            return Err(ConfigError::Invalid {
                name: "KONNECS_SMTP_URL",
                reason: "SMTP is for the local server; Lambdas send through Resend".into(),
            });
        }
        if smtp.is_some() && resend_api_key.is_some() {
            return Err(ConfigError::Invalid {
                name: "KONNECS_SMTP_URL",
                reason: "set KONNECS_SMTP_URL or RESEND_API_KEY, not both: mail goes out one way".into(),
            });
        }
        let mut config = Self {
            public_url: var("KONNECS_PUBLIC_URL")
                .unwrap_or_else(|| "http://127.0.0.1:3000".into())
                .trim_end_matches('/')
                .to_string(),
            mail_from: var("KONNECS_MAIL_FROM").unwrap_or_else(|| "Konnecs <no-reply@konnecs.com>".into()),
            session_idle_seconds: number("KONNECS_SESSION_IDLE_MINUTES", 8 * 60)? * 60,
            session_absolute_seconds: number("KONNECS_SESSION_ABSOLUTE_HOURS", 7 * 24)? * 3600,
            insecure_cookies,
            resend_api_key,
            smtp,
            resend_base_url: var("RESEND_BASE_URL").unwrap_or_else(|| "https://api.resend.com".into()),
            twilio: None,
            twilio_base_url: var("TWILIO_BASE_URL").unwrap_or_else(|| "https://api.twilio.com".into()),
            inline_download_limit: (!local).then_some(LAMBDA_INLINE_DOWNLOAD_LIMIT),
            billing_on: match var("KONNECS_BILLING").as_deref() {
                None | Some("off") => false,
                Some("on") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "KONNECS_BILLING",
                        reason: format!("{other:?} is neither \"on\" nor \"off\""),
                    });
                }
            },
            stripe: None,
            stripe_base_url: var("STRIPE_BASE_URL").unwrap_or_else(|| "https://api.stripe.com".into()),
            plans: plans_from_env(),
            google_oauth: None,
            // The local server widens this in developer mode (`local::serve`).
            webhook_targets: TargetPolicy::PublicOnly,
            google_accounts_base_url: var("GOOGLE_ACCOUNTS_BASE_URL")
                .unwrap_or_else(|| GOOGLE_ACCOUNTS_BASE_URL.into()),
            google_oauth_base_url: var("GOOGLE_OAUTH_BASE_URL").unwrap_or_else(|| GOOGLE_OAUTH_BASE_URL.into()),
            google_certs_url: var("GOOGLE_CERTS_URL").unwrap_or_else(|| GOOGLE_CERTS_URL.into()),
            google_calendar_base_url: var("GOOGLE_CALENDAR_BASE_URL")
                .unwrap_or_else(|| GOOGLE_CALENDAR_BASE_URL.into()),
            google_gmail_base_url: var("GOOGLE_GMAIL_BASE_URL").unwrap_or_else(|| GOOGLE_GMAIL_BASE_URL.into()),
            google_people_base_url: var("GOOGLE_PEOPLE_BASE_URL").unwrap_or_else(|| GOOGLE_PEOPLE_BASE_URL.into()),
        };
        // Locally the integrations' credentials are environment variables;
        // on AWS the Lambda start replaces them with the declared secrets.
        for integration in Integration::ALL {
            config
                .set_integration(integration, |field| {
                    let (_, env) = integration.fields().iter().find(|(name, _)| *name == field)?;
                    var(env)
                })
                .map_err(|err| ConfigError::Invalid {
                    name: integration.fields()[0].1,
                    reason: err.to_string(),
                })?;
        }
        Ok(config)
    }

    /// Sets one integration's credentials from its fields (the secret's JSON
    /// keys, `Integration::fields`), or clears them when every field is
    /// empty: the placeholder the stack creates, or nothing configured
    /// locally. Then email and SMS go to the outbox. Some fields but not all
    /// is an error.
    pub fn set_integration(
        &mut self,
        integration: Integration,
        field: impl Fn(&str) -> Option<String>,
    ) -> Result<(), PartialCredentials> {
        let fields = integration.fields();
        let values: Vec<Option<String>> = fields
            .iter()
            .map(|(name, _)| field(name).filter(|value| !value.trim().is_empty()))
            .collect();
        let present = values.iter().filter(|value| value.is_some()).count();
        if present != 0 && present != fields.len() {
            let local = fields.iter().map(|(_, env)| *env).collect::<Vec<_>>();
            return Err(PartialCredentials {
                fields: local.join(", "),
            });
        }
        let mut values = values.into_iter().flatten();
        let mut next = || values.next().unwrap_or_default();
        let set = present != 0;
        match integration {
            Integration::Resend => self.resend_api_key = set.then(|| secrecy::SecretString::from(next())),
            Integration::Twilio => {
                self.twilio = set.then(|| TwilioConfig {
                    account_sid: next(),
                    auth_token: secrecy::SecretString::from(next()),
                    from: next(),
                })
            }
            Integration::Stripe => {
                self.stripe = set.then(|| StripeConfig {
                    secret_key: secrecy::SecretString::from(next()),
                    webhook_signing_secret: secrecy::SecretString::from(next()),
                })
            }
            Integration::Google => {
                self.google_oauth = set.then(|| GoogleOAuthConfig {
                    client_id: next(),
                    client_secret: secrecy::SecretString::from(next()),
                })
            }
        }
        Ok(())
    }

    /// Whether plans and their limits apply: `KONNECS_BILLING=on`, or Stripe
    /// configured here (the local server, where its keys are plain
    /// environment variables).
    pub fn billing_enabled(&self) -> bool {
        self.billing_on || self.stripe.is_some()
    }

    /// Whether an integration's credentials are set.
    pub fn has_integration(&self, integration: Integration) -> bool {
        match integration {
            Integration::Resend => self.resend_api_key.is_some(),
            Integration::Twilio => self.twilio.is_some(),
            Integration::Stripe => self.stripe.is_some(),
            Integration::Google => self.google_oauth.is_some(),
        }
    }

    /// Defaults for tests: local URLs, outbox mail, secure cookies.
    pub fn for_tests() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".into(),
            mail_from: "Konnecs <no-reply@konnecs.com>".into(),
            session_idle_seconds: 8 * 3600,
            session_absolute_seconds: 7 * 24 * 3600,
            insecure_cookies: false,
            resend_api_key: None,
            smtp: None,
            resend_base_url: "https://api.resend.com".into(),
            twilio: None,
            twilio_base_url: "https://api.twilio.com".into(),
            inline_download_limit: None,
            billing_on: false,
            stripe: None,
            stripe_base_url: "https://api.stripe.com".into(),
            plans: Plans::default(),
            google_oauth: None,
            // Tests run as the developer setup does, with receivers on 127.0.0.1.
            webhook_targets: TargetPolicy::AllowLoopback,
            google_accounts_base_url: GOOGLE_ACCOUNTS_BASE_URL.into(),
            google_oauth_base_url: GOOGLE_OAUTH_BASE_URL.into(),
            google_certs_url: GOOGLE_CERTS_URL.into(),
            google_gmail_base_url: GOOGLE_GMAIL_BASE_URL.into(),
            google_calendar_base_url: GOOGLE_CALENDAR_BASE_URL.into(),
            google_people_base_url: GOOGLE_PEOPLE_BASE_URL.into(),
        }
    }
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain connect, then STARTTLS; a server without it is refused.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    ImplicitTls,
    /// `smtp://…?tls=none`: no TLS, for a relay on a loopback address only.
    None,
}

/// A parsed `KONNECS_SMTP_URL`. `Debug` shows no password.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
}

fn decoded(raw: &str, what: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| format!("the {what} is not valid percent-encoded UTF-8"))
}

impl SmtpSettings {
    /// Parses the URL. Error messages never repeat the URL (it holds the password).
    pub fn from_url(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw.trim()).map_err(|err| format!("not a URL ({err})"))?;
        let mut security = match url.scheme() {
            "smtp" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::ImplicitTls,
            other => return Err(format!("scheme {other:?} is not smtp or smtps")),
        };
        for (name, value) in url.query_pairs() {
            match (name.as_ref(), value.as_ref()) {
                ("tls", "none") if security == SmtpSecurity::StartTls => security = SmtpSecurity::None,
                ("tls", "starttls") if security == SmtpSecurity::StartTls => {}
                ("tls", other) => {
                    return Err(format!(
                        "tls={other:?} is not understood: smtp:// uses STARTTLS, smtps:// implicit TLS, \
                         and smtp://…?tls=none plain SMTP to a loopback relay"
                    ));
                }
                (other, _) => return Err(format!("unknown option {other:?}")),
            }
        }
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or("the URL names no host")?
            .to_string();
        if security == SmtpSecurity::None && !is_loopback_host(&host) {
            return Err(
                "tls=none is accepted only for a relay on this machine (localhost, 127.0.0.1 or [::1]): \
                 anywhere else mail and password would cross the network in clear"
                    .into(),
            );
        }
        if !matches!(url.path(), "" | "/") {
            return Err("the URL has a path; only scheme, credentials, host, port and ?tls= are read".into());
        }
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::ImplicitTls => 465,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::None => 25,
        });
        let username = Some(url.username())
            .filter(|user| !user.is_empty())
            .map(|user| decoded(user, "user name"))
            .transpose()?;
        let password = url
            .password()
            .map(|password| decoded(password, "password").map(SecretString::from))
            .transpose()?;
        if password.is_some() != username.is_some() {
            return Err("give both a user name and a password, or neither".into());
        }
        Ok(Self {
            host,
            port,
            security,
            username,
            password,
        })
    }

    /// `host:port` and the protection, for the start line and logs: no credentials.
    pub fn describe(&self) -> String {
        let security = match self.security {
            SmtpSecurity::StartTls => "STARTTLS",
            SmtpSecurity::ImplicitTls => "implicit TLS",
            SmtpSecurity::None => "no TLS, loopback relay",
        };
        let auth = if self.username.is_some() { ", AUTH" } else { "" };
        format!("{}:{} ({security}{auth})", self.host, self.port)
    }
}

/// Where a data directory keeps what a backup copies.
#[derive(Debug, Clone)]
pub struct DataFiles {
    pub database: PathBuf,
    pub key_file: PathBuf,
    pub objects_dir: PathBuf,
}
