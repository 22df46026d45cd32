//! The production `Sms`: Twilio's Messages API over reqwest (rustls).
//! https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
//!
//! `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded
//! `To`, `Body` and either `From` (a number) or `MessagingServiceSid` (an
//! `MG…` id), HTTP basic auth with the account SID and auth token.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::adapters::aws::LazyClient;
use crate::domain::sms::message_id;
use crate::ports::sms::{Sms, SmsError};

pub struct TwilioSms {
    /// Built on the first send: its TLS trust roots are parsed then, not at
    /// a cold start whose invocations may never reach the provider.
    http: LazyClient<reqwest::Client>,
    base_url: String,
    account_sid: String,
    auth_token: SecretString,
    from: String,
    /// Where Twilio reports each message's status (`…/webhooks/twilio/status`);
    /// the message's id is added as `?m=`.
    status_callback: Option<String>,
}

impl std::fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The auth token never reaches a log line.
        f.debug_struct("TwilioSms")
            .field("base_url", &self.base_url)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl TwilioSms {
    /// `base_url` is `https://api.twilio.com` in production; tests point it at a mock.
    pub fn new(
        http: impl Into<LazyClient<reqwest::Client>>,
        base_url: String,
        account_sid: String,
        auth_token: SecretString,
        from: String,
    ) -> Self {
        Self {
            http: http.into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            account_sid,
            auth_token,
            from,
            status_callback: None,
        }
    }

    /// Asks Twilio to report every message's status to `url` (the public
    /// URL of the status webhook, exactly as its signature is checked).
    pub fn with_status_callback(mut self, url: String) -> Self {
        self.status_callback = Some(url);
        self
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, self.account_sid
        )
    }
}

/// Whether Twilio's error body is error 21610: the recipient replied STOP.
pub fn unsubscribed(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("code").and_then(serde_json::Value::as_i64))
        == Some(21610)
}

/// Whether a Twilio answer is worth retrying: rate limits and server faults.
pub fn is_retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

#[async_trait]
impl Sms for TwilioSms {
    fn sender(&self) -> &str {
        &self.from
    }

    async fn send(&self, to: &str, body: &str, idempotency_key: &str) -> Result<(), SmsError> {
        let sender_field = if self.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let callback = self
            .status_callback
            .as_ref()
            .map(|url| format!("{url}?m={}", message_id(idempotency_key)));
        let mut form = vec![("To", to), (sender_field, self.from.as_str()), ("Body", body)];
        if let Some(callback) = &callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        let response = self
            .http
            .get()
            .post(self.messages_url())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .form(&form)
            .send()
            .await
            .map_err(|err| {
                // Not connected: nothing reached Twilio, a retry is safe. A
                // request that could not be built never left. Any later
                // failure (a timeout waiting for the answer) may follow an
                // accepted message. The URL (with the account SID) stays out.
                let timed_out = err.is_timeout();
                let err = err.without_url();
                if err.is_connect() {
                    SmsError::Unavailable(format!("twilio unreachable: {err}"))
                } else if err.is_builder() {
                    SmsError::Rejected(format!("request not built: {err}"))
                } else if timed_out {
                    SmsError::Unknown("no answer from twilio in time".into())
                } else {
                    SmsError::Unknown(format!("no answer from twilio: {err}"))
                }
            })?;
        let status = response.status();
        if status.is_success() {
            tracing::info!(idempotency_key, "sms accepted by twilio");
            return Ok(());
        }
        // Twilio's error bodies name the code and reason, never our credentials.
        let full = response.text().await.unwrap_or_default();
        let detail = full.chars().take(300).collect::<String>();
        if unsubscribed(&full) {
            return Err(SmsError::Unsubscribed(format!("twilio answered {status}: {detail}")));
        }
        if is_retryable(status.as_u16()) {
            Err(SmsError::Unavailable(format!("twilio answered {status}: {detail}")))
        } else {
            Err(SmsError::Rejected(format!("twilio answered {status}: {detail}")))
        }
    }
}
