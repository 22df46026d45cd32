//! The local `Mailer` and `Sms`: every message is stored (an email with its
//! full MIME text, built by lettre; an SMS with `kind: "sms"`) instead of
//! sent, and shown at `/dev/outbox`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::domain::token::token_hash;
use crate::ports::mailer::{Email, MailError, Mailer};
use crate::ports::sms::{Sms, SmsError};
use crate::ports::{Clock, Condition, Item, Query, StoreError, Table, WriteOp};

const PARTITION: &str = "OUTBOX";
/// Outbox messages are kept for 30 days.
const RETENTION_SECONDS: i64 = 30 * 24 * 3600;

pub struct OutboxMailer {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    from: String,
}

impl OutboxMailer {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, from: String) -> Self {
        Self { table, clock, from }
    }
}

/// The message as RFC 5322 MIME text: what a real provider would deliver.
pub fn mime_text(from: &str, email: &Email) -> Result<String, MailError> {
    let message = super::mime::message(from, email, None)?;
    Ok(String::from_utf8_lossy(&message.formatted()).into_owned())
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &Email, idempotency_key: &str) -> Result<(), MailError> {
        let mime = mime_text(&self.from, email)?;
        let now = self.clock.now();
        let id = token_hash(idempotency_key)[..24].to_string();
        let expires_at = now.as_second() + RETENTION_SECONDS;
        let message = json!({
            "pk": PARTITION,
            "sk": format!("MSG#{}#{id}", now.as_millisecond()),
            "id": id,
            "to": email.to,
            "from": self.from,
            "subject": email.subject,
            "kind": email.kind,
            "text": email.text,
            "html": email.html,
            "attachments": email.attachments.iter().map(|a| json!({
                "filename": a.filename, "content_type": a.content_type, "content_base64": a.content_base64,
            })).collect::<Vec<_>>(),
            "mime": mime,
            "created_at": now.to_string(),
            "expires_at": expires_at,
        });
        store(self.table.as_ref(), message, &id, expires_at)
            .await
            .map_err(MailError::Unavailable)
    }
}

/// Stores one message once per id: the key item makes a redelivered send a no-op.
async fn store(table: &dyn Table, message: Value, id: &str, expires_at: i64) -> Result<(), String> {
    {
        let marker = json!({"pk": "OUTBOXKEY", "sk": id, "expires_at": expires_at});
        let (Value::Object(message), Value::Object(marker)) = (message, marker) else {
            return Err("outbox item is not an object".into());
        };
        let ops = vec![
            WriteOp::Put {
                item: marker,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: message,
                condition: None,
            },
        ];
        match table.transact(ops).await {
            Ok(()) => Ok(()),
            Err(StoreError::TransactionConditionFailed { index: 0 }) => Ok(()),
            Err(err) => Err(err.to_string()),
        }
    }
}

/// The local `Sms`: text messages land in the same outbox as email, with
/// `kind: "sms"`, so `/dev/outbox` shows both.
pub struct OutboxSms {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
    from: String,
}

impl OutboxSms {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>, from: String) -> Self {
        Self { table, clock, from }
    }
}

#[async_trait]
impl Sms for OutboxSms {
    fn sender(&self) -> &str {
        &self.from
    }

    async fn send(&self, to: &str, body: &str, idempotency_key: &str) -> Result<(), SmsError> {
        let now = self.clock.now();
        let id = token_hash(idempotency_key)[..24].to_string();
        let expires_at = now.as_second() + RETENTION_SECONDS;
        let preview: String = body.chars().take(60).collect();
        let message = json!({
            "pk": PARTITION,
            "sk": format!("MSG#{}#{id}", now.as_millisecond()),
            "id": id,
            "to": to,
            "from": self.from,
            "subject": format!("SMS: {preview}"),
            "kind": "sms",
            "text": body,
            "attachments": [],
            "created_at": now.to_string(),
            "expires_at": expires_at,
        });
        store(self.table.as_ref(), message, &id, expires_at)
            .await
            .map_err(SmsError::Unavailable)
    }
}

/// Newest-first messages of the outbox (local mode only).
pub async fn list(
    table: &dyn Table,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<Item>, Option<String>), StoreError> {
    let page = table
        .query(&Query::partition(PARTITION).reverse().limit(limit).after(cursor))
        .await?;
    Ok((page.items, page.cursor))
}

/// One outbox message by id.
pub async fn find(table: &dyn Table, id: &str) -> Result<Option<Item>, StoreError> {
    // Ids are unique; the outbox is small and local, a bounded page walk is fine.
    let mut cursor = None;
    for _ in 0..50 {
        let (items, next) = list(table, 200, cursor).await?;
        if let Some(found) = items
            .into_iter()
            .find(|item| item.get("id").and_then(Value::as_str) == Some(id))
        {
            return Ok(Some(found));
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(None),
        }
    }
    Ok(None)
}
