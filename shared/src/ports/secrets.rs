//! Credentials of the outside services, one secret per integration. On AWS
//! each is a Secrets Manager secret the stack creates with a placeholder;
//! locally they come from the environment (`config::AppConfig::from_env`).

use async_trait::async_trait;
use secrecy::SecretString;

/// An outside service whose credentials are a secret. Each is one JSON
/// object in one secret; its fields are [`Integration::fields`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Integration {
    /// Transactional email.
    Resend,
    /// Transactional SMS (and the signatures of its webhooks).
    Twilio,
    /// Billing: API calls and webhook signatures.
    Stripe,
    /// Google sign-in and calendar: the OAuth client.
    Google,
}

impl Integration {
    pub const ALL: [Integration; 4] = [
        Integration::Resend,
        Integration::Twilio,
        Integration::Stripe,
        Integration::Google,
    ];

    /// Stem of the CloudFormation names (`ResendSecret`).
    pub fn as_str(self) -> &'static str {
        match self {
            Integration::Resend => "resend",
            Integration::Twilio => "twilio",
            Integration::Stripe => "stripe",
            Integration::Google => "google",
        }
    }

    /// Environment variable that names the secret (its ARN) in a function
    /// that declared it; never the value.
    pub fn secret_id_env(self) -> &'static str {
        match self {
            Integration::Resend => "RESEND_SECRET_ARN",
            Integration::Twilio => "TWILIO_SECRET_ARN",
            Integration::Stripe => "STRIPE_SECRET_ARN",
            Integration::Google => "GOOGLE_SECRET_ARN",
        }
    }

    /// The fields of the secret's JSON object, with the local environment
    /// variable each one replaces. The stack's placeholder has them all empty.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Integration::Resend => &[("api_key", "RESEND_API_KEY")],
            Integration::Twilio => &[
                ("account_sid", "TWILIO_ACCOUNT_SID"),
                ("auth_token", "TWILIO_AUTH_TOKEN"),
                ("from", "TWILIO_FROM"),
            ],
            Integration::Stripe => &[
                ("secret_key", "STRIPE_SECRET_KEY"),
                ("webhook_signing_secret", "STRIPE_WEBHOOK_SECRET"),
            ],
            Integration::Google => &[
                ("client_id", "GOOGLE_CLIENT_ID"),
                ("client_secret", "GOOGLE_CLIENT_SECRET"),
            ],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No secret by that id (or no permission to know it exists).
    #[error("secret {0} not found")]
    NotFound(String),
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

/// Reads secrets by id (an ARN on AWS).
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret's current text. The error never carries the value.
    async fn read(&self, id: &str) -> Result<SecretString, SecretError>;
}
