//! The `Mailer` port: transactional email. Resend in production; a local
//! outbox (stored, browsable at `/dev/outbox`) when no Resend key is set.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    /// Base64 (standard alphabet) so the email can travel through queues as JSON.
    pub content_base64: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// What the message is for (`verify_email`, `password_reset`, ...), for
    /// the outbox and provider tags. Never contains personal data.
    pub kind: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The provider refused this message; sending it again will not help.
    #[error("email rejected: {0}")]
    Rejected(String),
    /// Transient: network, rate limit, provider outage. Retry later.
    #[error("email provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends once per `idempotency_key`: a retry with the same key after a
    /// crash or redelivery does not send a second copy.
    async fn send(&self, email: &Email, idempotency_key: &str) -> Result<(), MailError>;
}
