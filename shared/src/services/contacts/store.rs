//! How a contact is stored: the contact item and the items derived from it
//! (uniqueness claims, search tokens, indexes), planned as operations of the
//! caller's transaction, and the contact's timeline.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::{
    ContactError, ContactRecord, MAX_PAGE, TOKEN_MAX_CHARS, contact_key, contact_partition, contacts_by_name_partition,
    contacts_by_update_partition, contacts_index_partition, email_unique_key, import_key_unique_key, order_key,
    owner_index_partition, phone_unique_key, search_partition, tag_counter_key, tag_index_partition,
};
use crate::domain::fold::fold;
use crate::domain::phone::digits;
use crate::ports::{Condition, Item, Key, Query, SortKey, StoreError, Table, Update, WriteOp};
use crate::services::billing::usage::contact_count_op;
use crate::services::records::{new_id, to_item};

// ---------------------------------------------------------------- derived items

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Uniqueness claim: written NotExists, swapped/deleted only while ours.
    Unique,
    Search,
    TagIndex,
    /// The contact's place in the by-name order.
    NameIndex,
}

/// Characters of a folded name kept in its sort key (DynamoDB allows 1 KB).
const NAME_KEY_MAX_CHARS: usize = 200;

/// Sorts contacts without a name after every name (the highest code point;
/// keys compare by UTF-8 bytes, which is code point order).
const NAMELESS: char = char::MAX;

/// The contact's sort key in the by-name order: the folded (case- and
/// accent-insensitive) display name, then ` #` and the id. The space sorts
/// below any other character a folded name holds, so `Ana` comes before
/// `Ana B` and `Anab`; the id orders namesakes and makes the key unique.
/// Contacts without a name come last, by their folded primary email.
pub fn name_order_key(record: &ContactRecord) -> String {
    let name = fold(&record.display_name());
    let name: String = if name.is_empty() {
        let fallback = record.primary_email().or(record.primary_phone()).unwrap_or_default();
        std::iter::once(NAMELESS)
            .chain(fold(fallback).chars().take(NAME_KEY_MAX_CHARS))
            .collect()
    } else {
        name.chars().take(NAME_KEY_MAX_CHARS).collect()
    };
    format!("{name} #{}", record.id)
}

/// The contact's sort key in the by-last-update order: its `updated_at` in
/// milliseconds (13 digits), then the id.
pub fn update_order_key(record: &ContactRecord) -> String {
    let ms = record
        .updated_at
        .parse::<jiff::Timestamp>()
        .map_or(record.created_ms, |t| t.as_millisecond());
    order_key(ms, &record.id)
}

/// The contact's by-name index item.
pub(super) fn name_index_key(record: &ContactRecord) -> Key {
    Key::new(contacts_by_name_partition(&record.org_id), name_order_key(record))
}

pub(super) fn search_tokens(record: &ContactRecord) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    let mut add = |t: String| {
        let t: String = t.chars().take(TOKEN_MAX_CHARS).collect();
        if !t.is_empty() {
            tokens.insert(t);
        }
    };
    let first = record.first_name.as_deref().map(fold).unwrap_or_default();
    let last = record.last_name.as_deref().map(fold).unwrap_or_default();
    // At most three words of each name part keep a write within one transaction.
    for word in first.split(' ').take(3).chain(last.split(' ').take(3)) {
        add(word.to_string());
    }
    if !first.is_empty() && !last.is_empty() {
        add(format!("{first} {last}"));
    }
    for email in &record.emails {
        add(fold(&email.address));
    }
    for phone in &record.phones {
        add(digits(&phone.e164));
        add(phone.national_digits.clone());
    }
    tokens
}

/// Every index item a contact owns, by key.
pub(super) fn derived(record: &ContactRecord) -> BTreeMap<Key, (Kind, Item)> {
    let org = &record.org_id;
    let id = &record.id;
    let mut out = BTreeMap::new();
    let mut add = |key: Key, kind: Kind, tag: Option<&str>| {
        let mut item = Item::new();
        item.insert("pk".into(), key.pk.clone().into());
        item.insert("sk".into(), key.sk.clone().into());
        item.insert("contact_id".into(), id.clone().into());
        if let Some(tag) = tag {
            item.insert("tag".into(), tag.into());
        }
        out.insert(key, (kind, item));
    };
    for email in &record.emails {
        add(email_unique_key(org, &email.address), Kind::Unique, None);
    }
    for phone in &record.phones {
        add(phone_unique_key(org, &phone.e164), Kind::Unique, None);
    }
    for import_key in &record.import_keys {
        add(import_key_unique_key(org, import_key), Kind::Unique, None);
    }
    let search = search_partition(org);
    for token in search_tokens(record) {
        add(Key::new(search.clone(), format!("{token}#{id}")), Kind::Search, None);
    }
    for tag in &record.tags {
        add(
            Key::new(tag_index_partition(org, tag), order_key(record.created_ms, id)),
            Kind::TagIndex,
            Some(tag),
        );
    }
    add(name_index_key(record), Kind::NameIndex, None);
    out
}

pub(super) fn contact_item(record: &ContactRecord) -> Result<Item, StoreError> {
    let order = order_key(record.created_ms, &record.id);
    let mut extra = vec![
        ("gsi1pk", Value::from(contacts_index_partition(&record.org_id))),
        ("gsi1sk", Value::from(order.clone())),
        ("gsi3pk", Value::from(contacts_by_update_partition(&record.org_id))),
        ("gsi3sk", Value::from(update_order_key(record))),
    ];
    if let Some(owner) = &record.owner_id {
        extra.push(("gsi2pk", owner_index_partition(&record.org_id, owner).into()));
        extra.push(("gsi2sk", order.into()));
    }
    to_item(&contact_key(&record.org_id, &record.id), record, &extra)
}

/// Which parts of a write plan to include: search keys, and everything else
/// (contacts, uniqueness claims, tag index items and counters).
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub search: bool,
    pub others: bool,
}
pub const ALL_PARTS: Parts = Parts {
    search: true,
    others: true,
};

/// The operations that move the store from `before` to `after` (pairs of the
/// same or different contacts; `None` = absent): contacts with version
/// conditions, uniqueness claims, search keys, tag index items and counters.
pub fn plan(
    changes: &[(Option<&ContactRecord>, Option<&ContactRecord>)],
    parts: Parts,
) -> Result<Vec<WriteOp>, StoreError> {
    let mut ops = Vec::new();
    if parts.others {
        for (before, after) in changes {
            match (before, after) {
                (Some(b), Some(a)) => ops.push(WriteOp::Put {
                    item: contact_item(a)?,
                    condition: Some(Condition::VersionEquals(b.version)),
                }),
                (None, Some(a)) => ops.push(WriteOp::Put {
                    item: contact_item(a)?,
                    condition: Some(Condition::NotExists),
                }),
                (Some(b), None) => ops.push(WriteOp::Delete {
                    key: contact_key(&b.org_id, &b.id),
                    condition: Some(Condition::VersionEquals(b.version)),
                }),
                (None, None) => {}
            }
        }
    }
    let mut old: BTreeMap<Key, (Kind, Item)> = BTreeMap::new();
    let mut new: BTreeMap<Key, (Kind, Item)> = BTreeMap::new();
    let mut counts: BTreeMap<(OrgId, String), i64> = BTreeMap::new();
    let mut contacts_delta: BTreeMap<OrgId, i64> = BTreeMap::new();
    for (before, after) in changes {
        match (before, after) {
            (None, Some(a)) => *contacts_delta.entry(a.org_id.clone()).or_default() += 1,
            (Some(b), None) => *contacts_delta.entry(b.org_id.clone()).or_default() -= 1,
            _ => {}
        }
        if let Some(b) = before {
            old.extend(derived(b));
            for tag in &b.tags {
                *counts.entry((b.org_id.clone(), tag.clone())).or_default() -= 1;
            }
        }
        if let Some(a) = after {
            new.extend(derived(a));
            for tag in &a.tags {
                *counts.entry((a.org_id.clone(), tag.clone())).or_default() += 1;
            }
        }
    }
    let wanted = |kind: Kind| {
        if kind == Kind::Search {
            parts.search
        } else {
            parts.others
        }
    };
    // Deletes are found before `new` is consumed; they follow the puts.
    let mut deletes = Vec::new();
    for (key, (kind, item)) in &old {
        if !wanted(*kind) || new.contains_key(key) {
            continue;
        }
        let condition = (*kind == Kind::Unique).then(|| Condition::AttributeEquals {
            name: "contact_id".into(),
            value: item.get("contact_id").cloned().unwrap_or(Value::Null),
        });
        deletes.push(WriteOp::Delete {
            key: key.clone(),
            condition,
        });
    }
    for (key, (kind, item)) in new {
        if !wanted(kind) {
            continue;
        }
        match old.get(&key) {
            Some((_, previous)) if *previous == item => {}
            Some((_, previous)) => {
                // Re-pointed to another contact (merge): only while still the old owner's.
                let condition = (kind == Kind::Unique).then(|| Condition::AttributeEquals {
                    name: "contact_id".into(),
                    value: previous.get("contact_id").cloned().unwrap_or(Value::Null),
                });
                ops.push(WriteOp::Put { item, condition });
            }
            None => ops.push(WriteOp::Put {
                item,
                condition: (kind == Kind::Unique).then_some(Condition::NotExists),
            }),
        }
    }
    ops.extend(deletes);
    if parts.others {
        for ((org, tag), delta) in counts {
            if delta != 0 {
                ops.push(tag_count_op(&OrgId::from(&org), &tag, delta));
            }
        }
        // The organization's contact counter, for plan limits.
        for (org, delta) in contacts_delta {
            if delta != 0 {
                ops.push(contact_count_op(&org, delta));
            }
        }
    }
    Ok(ops)
}

pub(crate) fn tag_count_op(org_id: &OrgId, tag: &str, delta: i64) -> WriteOp {
    WriteOp::Update {
        key: tag_counter_key(org_id, tag),
        update: Update::default().set("tag", tag).add("count", delta),
        condition: None,
    }
}

pub(super) fn too_many_ops() -> ContactError {
    ContactError::field(
        "body",
        "too_many_changes",
        "This change touches too many emails, phones and tags at once; split it into smaller changes.",
    )
}

/// Runs a contact transaction and explains a failed condition: a uniqueness
/// claim held by another contact → `Duplicate`; a contact version → `StaleVersion`.
pub async fn commit(table: &dyn Table, ops: Vec<WriteOp>) -> Result<(), ContactError> {
    if ops.len() > crate::ports::table::MAX_TRANSACTION_OPS {
        return Err(too_many_ops());
    }
    let keys: Vec<(Option<Key>, bool)> = ops
        .iter()
        .map(|op| {
            let unique = matches!(op, WriteOp::Put { item, condition: Some(Condition::NotExists) }
                if item.get("sk").and_then(Value::as_str) == Some("CONTACT"));
            (op.key(), unique)
        })
        .collect();
    // DynamoDB cancels transactions that race on the same keys (Contention):
    // every operation here is conditioned, so a retry is safe and turns the
    // race into a clean outcome (created, or a duplicate naming the winner).
    let mut attempt = 0;
    let result = loop {
        match table.transact(ops.clone()).await {
            Err(StoreError::Contention) if attempt < 6 => {
                attempt += 1;
                let jitter = u64::from(rand::random::<u8>() % 20);
                tokio::time::sleep(std::time::Duration::from_millis(15 * attempt + jitter)).await;
            }
            other => break other,
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionConditionFailed { index }) => {
            let Some((Some(key), unique)) = keys.get(index).cloned() else {
                return Err(ContactError::StaleVersion);
            };
            if unique {
                let existing = table.get(&key).await?;
                let existing_id = existing
                    .as_ref()
                    .and_then(|item| item.get("contact_id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let field = if key.pk.contains("#CPHONE#") {
                    "phones"
                } else {
                    "emails"
                };
                if existing_id.is_empty() {
                    // Released meanwhile: the caller may retry.
                    return Err(ContactError::Conflict("contact_changed"));
                }
                return Err(ContactError::Duplicate {
                    existing_id,
                    field: field.into(),
                });
            }
            Err(ContactError::StaleVersion)
        }
        Err(err) => Err(err.into()),
    }
}

// ---------------------------------------------------------------- timeline

/// One timeline entry for a contact, as one more operation of the caller's
/// transaction. `kind` e.g. `note`, `tags.changed`, `contact.merged`,
/// `booking.created`, `form.submitted`, `message.sent`, `deal.stage_changed`.
pub fn timeline_entry(
    org_id: &OrgId,
    contact_id: &ContactId,
    kind: &str,
    detail: Value,
    now: jiff::Timestamp,
) -> WriteOp {
    timeline_entry_with_id(org_id, contact_id, &new_id(), kind, detail, now).1
}

/// Same, with the entry id given; returns the entry's sort key too.
pub fn timeline_entry_with_id(
    org_id: &OrgId,
    contact_id: &ContactId,
    entry_id: &str,
    kind: &str,
    detail: Value,
    now: jiff::Timestamp,
) -> (String, WriteOp) {
    let sk = format!("TL#{:013}#{entry_id}", now.as_millisecond());
    let item = json!({
        "pk": contact_partition(org_id, contact_id),
        "sk": sk,
        "id": entry_id,
        "kind": kind,
        "detail": detail,
        "at": now.to_string(),
    });
    (
        sk,
        WriteOp::Put {
            item: crate::services::object(item),
            condition: None,
        },
    )
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TimelineEntry {
    pub id: String,
    pub kind: String,
    pub at: String,
    pub detail: Value,
}

impl TimelineEntry {
    fn from_item(item: &Item) -> Self {
        let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
        Self {
            id: text("id"),
            kind: text("kind"),
            at: text("at"),
            detail: item.get("detail").cloned().unwrap_or(Value::Null),
        }
    }
}

/// A contact's timeline, newest first: one query (plus, concurrently, the
/// contact read that turns a foreign or unknown id into NotFound).
pub async fn timeline(
    table: &dyn Table,
    org_id: &OrgId,
    contact_id: &ContactId,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<TimelineEntry>, Option<String>), ContactError> {
    let query = Query::partition(contact_partition(org_id, contact_id))
        .sort(SortKey::BeginsWith("TL#".into()))
        .reverse()
        .limit(limit.clamp(1, MAX_PAGE))
        .after(cursor);
    let key = contact_key(org_id, contact_id);
    let (contact, page) = futures::join!(table.get(&key), table.query(&query));
    if contact?.is_none() {
        return Err(ContactError::NotFound);
    }
    let page = page?;
    Ok((page.items.iter().map(TimelineEntry::from_item).collect(), page.cursor))
}
