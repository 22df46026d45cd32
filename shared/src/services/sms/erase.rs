//! Erasing a deleted contact's texts. The timeline entries of the contact's
//! partition go with the partition; what the texts left elsewhere holds the
//! number and the words too, and goes with them:
//!
//! - the message items (`SMSMSG#…`: number, body, status) the `sms.sent`
//!   and `sms.status` entries name;
//! - the inbound markers (`SMSIN#<MessageSid>`: the number) of the replies
//!   the `sms.received`, `sms.opted_out` and `sms.opted_in` entries name;
//! - the peer item of every number the contact had or was texted on, when
//!   it points at this organization (another organization's peer loses only
//!   this organization's bookings);
//! - the staff notifications about the contact (a reply's preview, a failed
//!   reminder).
//!
//! The opt-out item of a number stays: it is the record that the number
//! asked for no more texts, which must outlive the contact for the STOP to
//! keep working (privacy policy §6; it holds the number and when, no text).
//!
//! A leaf of the SMS service (keys and ports only), so the contacts service
//! can call it without a loop.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::domain::ids::{ContactId, OrgId};
use crate::ports::{BatchOp, Condition, Item, Key, Query, StoreError, Table, WriteOp};
use crate::services::sms::keys::{inbound_key, message_key, notifications_partition, peer_key};

/// How often a peer item changed by a concurrent text is read again.
const PEER_ATTEMPTS: usize = 5;

/// What a contact's texts left outside its partition, gathered from its
/// timeline entries and its phones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmsTraces {
    pub message_ids: BTreeSet<String>,
    pub inbound_sids: BTreeSet<String>,
    pub numbers: BTreeSet<String>,
}

impl SmsTraces {
    /// Notes what one item of the contact's partition says about texts
    /// (only `sms.*` timeline entries say anything).
    pub fn note(&mut self, item: &Item) {
        let is_sms = item
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|kind| kind.starts_with("sms."));
        let Some(detail) = item.get("detail").filter(|_| is_sms) else {
            return;
        };
        let text = |name: &str| detail.get(name).and_then(Value::as_str).map(str::to_owned);
        self.message_ids.extend(text("message_id"));
        self.inbound_sids.extend(text("message_sid"));
        self.numbers.extend(text("to"));
        self.numbers.extend(text("from"));
    }

    pub fn note_number(&mut self, e164: &str) {
        self.numbers.insert(e164.to_owned());
    }
}

/// Erases `traces` of `contact_id` in `org_id`. Idempotent: run before the
/// contact's deletion commits, and again by a retried deletion.
/// `sender` is the number (or service) the texts went from; `still_held`
/// names numbers another contact of the organization has now, whose peer
/// item still routes that contact's replies.
pub async fn erase_contact_texts(
    table: &dyn Table,
    sender: &str,
    org_id: &OrgId,
    contact_id: &ContactId,
    traces: &SmsTraces,
    still_held: &BTreeSet<String>,
) -> Result<(), StoreError> {
    let mut deletes = Vec::new();
    for id in &traces.message_ids {
        let key = message_key(id);
        // A message id names one organization's text: never another's.
        if let Some(item) = table.get(&key).await?
            && item.get("org_id").and_then(Value::as_str) == Some(org_id.as_str())
        {
            deletes.push(BatchOp::Delete(key));
        }
    }
    deletes.extend(traces.inbound_sids.iter().map(|sid| BatchOp::Delete(inbound_key(sid))));
    for number in traces.numbers.difference(still_held) {
        forget_peer(table, &peer_key(sender, number), org_id).await?;
    }
    deletes.extend(notifications_about(table, org_id, contact_id).await?);
    for chunk in deletes.chunks(25) {
        table.batch_write(chunk.to_vec()).await?;
    }
    Ok(())
}

/// Deletes the peer item when this organization texted the number last;
/// otherwise takes this organization's bookings off it.
async fn forget_peer(table: &dyn Table, key: &Key, org_id: &OrgId) -> Result<(), StoreError> {
    for _ in 0..PEER_ATTEMPTS {
        let Some(item) = table.get(key).await? else {
            return Ok(());
        };
        let updated_at = item.get("updated_at").cloned().unwrap_or(Value::Null);
        // Only over what was read: a text sent meanwhile is decided again.
        let unchanged = Some(Condition::AttributeEquals {
            name: "updated_at".into(),
            value: updated_at,
        });
        let op = if item.get("org_id").and_then(Value::as_str) == Some(org_id.as_str()) {
            WriteOp::Delete {
                key: key.clone(),
                condition: unchanged,
            }
        } else {
            let bookings: Vec<Value> = item
                .get("bookings")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter(|b| b.get("org_id").and_then(Value::as_str) != Some(org_id.as_str()))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            let mut kept = item.clone();
            kept.insert("bookings".into(), json!(bookings));
            WriteOp::Put {
                item: kept,
                condition: unchanged,
            }
        };
        match table.transact(vec![op]).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}

/// The staff notifications that name the contact (every page of the
/// organization's notifications, which expire after `KEEP_SECONDS`).
async fn notifications_about(
    table: &dyn Table,
    org_id: &OrgId,
    contact_id: &ContactId,
) -> Result<Vec<BatchOp>, StoreError> {
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(notifications_partition(org_id))
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        found.extend(
            page.items
                .iter()
                .filter(|item| item.get("contact_id").and_then(Value::as_str) == Some(contact_id.as_str()))
                .filter_map(Key::of)
                .map(BatchOp::Delete),
        );
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(found),
        }
    }
}
