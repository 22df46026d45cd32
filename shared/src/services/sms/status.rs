//! Twilio's status callbacks: each report moves the message's status
//! forward (queued → sent → delivered, or undelivered / failed with an error
//! code), never back, since callbacks may arrive out of order. A change is
//! written on the contact's timeline; a reminder that failed raises a
//! notification for the staff.

use crate::domain::ids::{ContactId, OrgId};
use serde_json::{Value, json};

use super::{SmsServiceError, message_key, notification_op};
use crate::ports::{Condition, HasClock, HasTable, StoreError, Update, WriteOp};
use crate::services::contacts;

/// What Twilio reported about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Konnecs's message id (the `m` of the callback URL).
    pub message_id: String,
    pub message_sid: String,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`, ...
    pub status: String,
    pub error_code: Option<String>,
}

/// How far along a status is; a report with a lower rank is stale.
fn rank(status: &str) -> u8 {
    match status {
        "accepted" | "scheduled" => 0,
        "queued" => 1,
        "sending" => 2,
        "sent" => 3,
        "delivered" | "undelivered" | "failed" | "read" | "canceled" => 4,
        _ => 0,
    }
}

pub fn is_failure(status: &str) -> bool {
    matches!(status, "undelivered" | "failed")
}

/// Records a report; `Ok(false)` when it changed nothing (unknown message,
/// a repeat, or older than what is stored).
pub async fn record_status(state: &(impl HasTable + HasClock), report: &StatusReport) -> Result<bool, SmsServiceError> {
    let table = state.table().as_ref();
    let now = state.clock().now();
    let key = message_key(&report.message_id);
    let Some(item) = table.get(&key).await? else {
        return Ok(false);
    };
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
    let current = text("status").unwrap_or_default();
    let final_already = rank(&current) == 4;
    if report.status == current || rank(&report.status) < rank(&current) || final_already {
        return Ok(false);
    }
    let mut update = Update::default()
        .set("status", report.status.as_str())
        .set("message_sid", report.message_sid.as_str())
        .set("status_at", now.to_string());
    if let Some(code) = &report.error_code {
        update = update.set("error_code", code.as_str());
    }
    let mut ops = vec![WriteOp::Update {
        key,
        update,
        // Only over what was read: a concurrent report is decided again.
        condition: Some(Condition::AttributeEquals {
            name: "status".into(),
            value: json!(current),
        }),
    }];
    let org_id = OrgId::new(text("org_id").unwrap_or_default());
    let contact_id = text("contact_id").map(ContactId::new);
    if let Some(contact_id) = &contact_id {
        ops.push(contacts::timeline_entry(
            &org_id,
            contact_id,
            "sms.status",
            json!({
                "message_id": report.message_id,
                "status": report.status,
                "error_code": report.error_code,
                "to": text("to"),
            }),
            now,
        ));
    }
    if is_failure(&report.status) && text("kind").as_deref() == Some("reminder") {
        let reason = report
            .error_code
            .as_deref()
            .map(|code| format!(" (Twilio error {code})"))
            .unwrap_or_default();
        ops.push(notification_op(
            &org_id,
            "sms.failed",
            &format!(
                "A reminder text to {} was {}{reason}.",
                text("to").unwrap_or_default(),
                report.status
            ),
            contact_id.as_ref(),
            now,
        ));
    }
    match table.transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Ok(false),
        Err(err) => Err(err.into()),
    }
}
