//! What a sent text leaves behind: the message item its status callbacks
//! update, the peer item a reply is routed by, and an entry on the
//! recipient's contact timeline. And the opt-out item, written by STOP or
//! by Twilio refusing a send to an unsubscribed number.

use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use serde_json::{Value, json};

use super::{KEEP_SECONDS, PEER_BOOKINGS, contact_with_phone, message_id, message_key, peer_key, sms_opt_out_key};
use crate::ports::{StoreError, Table, WriteOp};
use crate::services::contacts;
use crate::services::object;

/// The writes that record an opt-out of `recipient` from `sender`.
/// `source` is `keyword` (the person replied STOP) or `provider` (Twilio
/// answered 21610).
pub fn opt_out_ops(sender: &str, recipient: &str, source: &str, detail: &str, now: jiff::Timestamp) -> Vec<WriteOp> {
    let key = sms_opt_out_key(sender, recipient);
    vec![WriteOp::Put {
        item: object(json!({
            "pk": key.pk, "sk": key.sk,
            "sender": sender, "recipient": recipient,
            "source": source, "detail": detail,
            "at": now.as_second(),
            "at_text": now.to_string(),
        })),
        condition: None,
    }]
}

/// What a sent message was.
#[derive(Debug, Clone)]
pub struct SentSms<'a> {
    pub idempotency_key: &'a str,
    pub org_id: &'a OrgId,
    pub booking_id: Option<&'a BookingId>,
    pub sender: &'a str,
    pub to: &'a str,
    pub body: &'a str,
}

/// Whether a message is a reminder (its failures are shown to the host).
pub fn is_reminder(idempotency_key: &str) -> bool {
    idempotency_key.starts_with("reminder/")
}

/// Records a text that the provider accepted: the message item (status
/// `accepted` until Twilio reports), the peer item, the timeline entry.
pub async fn record_sent(table: &dyn Table, sent: &SentSms<'_>, now: jiff::Timestamp) -> Result<(), StoreError> {
    let id = message_id(sent.idempotency_key);
    let contact_id = contact_with_phone(table, sent.org_id, sent.to).await?;
    let key = message_key(&id);
    let mut ops = vec![WriteOp::Put {
        item: object(json!({
            "pk": key.pk, "sk": key.sk,
            "id": id,
            "org_id": sent.org_id,
            "booking_id": sent.booking_id,
            "contact_id": contact_id,
            "to": sent.to,
            "body": sent.body,
            "kind": if is_reminder(sent.idempotency_key) { "reminder" } else { "notice" },
            "status": "accepted",
            "sent_at": now.to_string(),
            "expires_at": now.as_second() + KEEP_SECONDS,
        })),
        condition: None,
    }];
    ops.push(peer_op(table, sent, now).await?);
    if let Some(contact_id) = &contact_id {
        ops.push(contacts::timeline_entry(
            sent.org_id,
            contact_id,
            "sms.sent",
            json!({"message_id": id, "to": sent.to, "body": sent.body, "status": "accepted", "booking_id": sent.booking_id}),
            now,
        ));
    }
    table.transact(ops).await
}

/// The peer item after this send: the organization that texted last, and
/// the recent bookings texted about (newest first, bounded).
async fn peer_op(table: &dyn Table, sent: &SentSms<'_>, now: jiff::Timestamp) -> Result<WriteOp, StoreError> {
    let key = peer_key(sent.sender, sent.to);
    let previous = table.get(&key).await?;
    let mut bookings: Vec<Value> = previous
        .as_ref()
        .and_then(|item| item.get("bookings"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(booking_id) = sent.booking_id {
        let entry = json!({"org_id": sent.org_id, "booking_id": booking_id});
        bookings.retain(|b| b != &entry);
        bookings.insert(0, entry);
        bookings.truncate(PEER_BOOKINGS);
    }
    Ok(WriteOp::Put {
        item: object(json!({
            "pk": key.pk, "sk": key.sk,
            "org_id": sent.org_id,
            "bookings": bookings,
            "updated_at": now.as_second(),
            "expires_at": now.as_second() + KEEP_SECONDS,
        })),
        condition: None,
    })
}

/// Records a text that was not sent, and why (`reason`: `opted_out`,
/// `no_consent`, `appointment_limit`, `plan_limit`): the message item with
/// status `skipped`, and a timeline entry when a contact has the number.
/// Once per idempotency key: a redelivered job records nothing new.
pub async fn record_skipped(
    table: &dyn Table,
    skipped: &SentSms<'_>,
    reason: &str,
    now: jiff::Timestamp,
) -> Result<(), StoreError> {
    let id = message_id(skipped.idempotency_key);
    let contact_id = contact_with_phone(table, skipped.org_id, skipped.to).await?;
    let key = message_key(&id);
    let mut ops = vec![WriteOp::Put {
        item: object(json!({
            "pk": key.pk, "sk": key.sk,
            "id": id,
            "org_id": skipped.org_id,
            "booking_id": skipped.booking_id,
            "contact_id": contact_id,
            "to": skipped.to,
            "kind": if is_reminder(skipped.idempotency_key) { "reminder" } else { "notice" },
            "status": "skipped",
            "reason": reason,
            "skipped_at": now.to_string(),
            "expires_at": now.as_second() + KEEP_SECONDS,
        })),
        condition: Some(crate::ports::Condition::NotExists),
    }];
    if let Some(contact_id) = &contact_id {
        ops.push(contacts::timeline_entry(
            skipped.org_id,
            contact_id,
            "sms.skipped",
            json!({"message_id": id, "to": skipped.to, "reason": reason, "booking_id": skipped.booking_id}),
            now,
        ));
    }
    match table.transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Ok(()),
        Err(err) => Err(err),
    }
}
