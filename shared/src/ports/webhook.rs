//! The `WebhookTransport` port: one HTTP POST of a signed webhook to the URL
//! a customer configured, through the SSRF guard (`domain::webhook::address`).

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::webhook::TargetPolicy;

/// One delivery attempt's request.
#[derive(Debug, Clone)]
pub struct OutgoingWebhook {
    pub url: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`, content type.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout: Duration,
    /// Which addresses the connection may reach, checked on every address
    /// the host resolves to.
    pub policy: TargetPolicy,
}

/// What the receiver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookAnswer {
    pub status: u16,
    /// From sending the request to the answer's status line.
    pub elapsed: Duration,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum WebhookSendError {
    /// The URL's host is, or resolves to, an address the policy refuses.
    #[error("refused: {0}")]
    Refused(String),
    #[error("timed out")]
    TimedOut,
    /// DNS failure, connection refused, TLS failure, reset.
    #[error("could not connect: {0}")]
    Network(String),
}

#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// POSTs once; no redirects are followed (a redirect could lead past
    /// the guard) and no proxy from the environment is used.
    async fn post(&self, request: &OutgoingWebhook) -> Result<WebhookAnswer, WebhookSendError>;
}
