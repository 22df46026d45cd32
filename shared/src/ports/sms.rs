//! The `Sms` port: transactional text messages. Twilio's Messages API in
//! production; the local outbox (shown at `/dev/outbox`) when Twilio is not
//! configured.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider refused this message (bad number, unsubscribed, ...);
    /// sending it again will not help.
    #[error("sms rejected: {0}")]
    Rejected(String),
    /// The recipient replied STOP to this sender (Twilio error 21610): no
    /// text reaches them until they opt back in.
    #[error("sms recipient unsubscribed: {0}")]
    Unsubscribed(String),
    /// Transient: network, rate limit, provider outage. Retry later.
    #[error("sms provider unavailable: {0}")]
    Unavailable(String),
    /// The request may have reached the provider (e.g. a timeout while
    /// waiting for its answer): the message may be on its way. Twilio has no
    /// idempotency key, so sending it again could deliver it twice.
    #[error("sms outcome unknown: {0}")]
    Unknown(String),
}

#[async_trait]
pub trait Sms: Send + Sync {
    /// The sender identity (E.164 number or messaging-service id). Opt-outs
    /// are recorded per (sender, recipient), as carriers do.
    fn sender(&self) -> &str;

    /// Sends `body` to `to` (E.164). `idempotency_key` names the message:
    /// adapters that can deduplicate (the outbox) drop a second copy; Twilio
    /// cannot, so callers claim the key in the store before sending
    /// (`services::notifications::send_sms`).
    async fn send(&self, to: &str, body: &str, idempotency_key: &str) -> Result<(), SmsError>;
}
