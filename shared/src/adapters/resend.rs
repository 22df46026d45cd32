//! The production `Mailer`: Resend's HTTP API over reqwest (rustls).
//! https://resend.com/docs/api-reference/emails/send-email

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::adapters::aws::LazyClient;
use crate::ports::mailer::{Email, MailError, Mailer};

pub struct ResendMailer {
    /// Built on the first send: its TLS trust roots are parsed then, not at
    /// a cold start whose invocations may never reach the provider.
    http: LazyClient<reqwest::Client>,
    base_url: String,
    api_key: SecretString,
    from: String,
}

impl ResendMailer {
    /// `base_url` is `https://api.resend.com` in production; tests point it at a mock.
    pub fn new(
        http: impl Into<LazyClient<reqwest::Client>>,
        base_url: String,
        api_key: SecretString,
        from: String,
    ) -> Self {
        Self {
            http: http.into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            from,
        }
    }
}

#[async_trait]
impl Mailer for ResendMailer {
    async fn send(&self, email: &Email, idempotency_key: &str) -> Result<(), MailError> {
        let attachments: Vec<_> = email
            .attachments
            .iter()
            .map(|a| json!({"filename": a.filename, "content": a.content_base64, "content_type": a.content_type}))
            .collect();
        let mut body = json!({
            "from": self.from,
            "to": [email.to],
            "subject": email.subject,
            "text": email.text,
            "tags": [{"name": "kind", "value": email.kind}],
        });
        if let Some(html) = &email.html {
            body["html"] = json!(html);
        }
        if !attachments.is_empty() {
            body["attachments"] = json!(attachments);
        }
        let response = self
            .http
            .get()
            .post(format!("{}/emails", self.base_url))
            .bearer_auth(self.api_key.expose_secret())
            // Resend keeps idempotency keys for 24 hours: a redelivered job sends nothing new.
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            .send()
            .await
            .map_err(|err| MailError::Unavailable(format!("resend unreachable: {}", err.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let detail = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>();
        if status.as_u16() == 429 || status.as_u16() == 409 || status.is_server_error() {
            Err(MailError::Unavailable(format!("resend answered {status}: {detail}")))
        } else {
            Err(MailError::Rejected(format!("resend answered {status}: {detail}")))
        }
    }
}
