//! The seam between pipelines/deals, imports and export and the contacts
//! core (`services::contacts`, owned by the contacts work).
//!
//! Most functions here only delegate. [`write_plan`] is the exception: the
//! importer must put a chunk's contacts and its progress checkpoint in ONE
//! transaction, so it needs the contacts core's write plan (contact item,
//! uniqueness claims, search keys, tag index items, tag counters) as
//! operations rather than a committed write. `contacts::plan` is private, so
//! [`write_plan`] mirrors it for the two cases the importer uses (create, and
//! update of one contact). When the contacts core exposes
//! `pub(crate) fn plan`, the body becomes `contacts::plan(changes, ALL_PARTS)`
//! and `import_mirror_matches_contacts_core` (tests/imports.rs) keeps
//! guarding the equivalence through the public API meanwhile.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::contacts::{self, ContactError, ContactRecord};
use super::records::to_item;
use crate::domain::fold::fold;
use crate::domain::phone::digits;
use crate::ports::{Condition, Item, Key, StoreError, Table, Update, WriteOp};

/// The key of a contact of `org_id`.
pub fn contact_key(org_id: &str, contact_id: &str) -> Key {
    contacts::contact_key(org_id, contact_id)
}

/// Whether the contact exists in this organization (a foreign id does not).
pub async fn contact_exists(table: &dyn Table, org_id: &str, contact_id: &str) -> Result<bool, StoreError> {
    if contact_id.is_empty() || contact_id.contains('#') {
        return Ok(false);
    }
    Ok(table.get(&contact_key(org_id, contact_id)).await?.is_some())
}

/// A timeline entry on the contact, as one more operation of the caller's transaction.
pub fn timeline_entry(org_id: &str, contact_id: &str, now: jiff::Timestamp, kind: &str, detail: Value) -> WriteOp {
    contacts::timeline_entry(org_id, contact_id, kind, detail, now)
}

/// The key a unique email claims, and the one a phone claims.
pub fn email_claim(org_id: &str, email: &str) -> Key {
    contacts::email_unique_key(org_id, email)
}
pub fn phone_claim(org_id: &str, e164: &str) -> Key {
    contacts::phone_unique_key(org_id, e164)
}

fn store(err: ContactError) -> StoreError {
    match err {
        ContactError::Store(err) => err,
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Contacts by id (100 per round trip), in the order given.
pub async fn get_many(table: &dyn Table, org_id: &str, ids: &[String]) -> Result<Vec<ContactRecord>, StoreError> {
    contacts::get_many(table, org_id, ids).await.map_err(store)
}

/// Custom field definitions of the organization: (key, type name, options).
pub async fn field_defs(table: &dyn Table, org_id: &str) -> Result<Vec<contacts::fields::FieldDef>, StoreError> {
    contacts::fields::list(table, org_id).await.map_err(store)
}

/// Validates custom values on top of `current`; problems go to `errors` as
/// (field, code, message).
pub fn apply_custom_fields(
    defs: &[contacts::fields::FieldDef],
    current: &Map<String, Value>,
    changes: &Map<String, Value>,
    errors: &mut Vec<(String, &'static str, String)>,
) -> Map<String, Value> {
    contacts::fields::apply_values(defs, current, changes, errors)
}

/// A tag as the contacts core stores it.
pub fn normalize_tag(raw: &str) -> Result<String, &'static str> {
    contacts::normalize_tag(raw)
}

// ------------------------------------------------------------ write plan (mirror)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unique,
    Search,
    TagIndex,
}

const TOKEN_MAX_CHARS: usize = 64;

fn order_key(created_ms: i64, id: &str) -> String {
    format!("{created_ms:013}#{id}")
}

fn search_tokens(record: &ContactRecord) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    let mut add = |t: String| {
        let t: String = t.chars().take(TOKEN_MAX_CHARS).collect();
        if !t.is_empty() {
            tokens.insert(t);
        }
    };
    let first = record.first_name.as_deref().map(fold).unwrap_or_default();
    let last = record.last_name.as_deref().map(fold).unwrap_or_default();
    for word in first.split(' ').chain(last.split(' ')) {
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

fn derived(record: &ContactRecord) -> BTreeMap<Key, (Kind, Item)> {
    let org = &record.org_id;
    let id = &record.id;
    let mut out = BTreeMap::new();
    let mut add = |key: Key, kind: Kind, extra: Value| {
        let mut item = super::object(extra);
        item.insert("pk".into(), key.pk.clone().into());
        item.insert("sk".into(), key.sk.clone().into());
        item.insert("contact_id".into(), id.clone().into());
        out.insert(key, (kind, item));
    };
    for email in &record.emails {
        add(contacts::email_unique_key(org, &email.address), Kind::Unique, json!({}));
    }
    for phone in &record.phones {
        add(contacts::phone_unique_key(org, &phone.e164), Kind::Unique, json!({}));
    }
    for token in search_tokens(record) {
        add(
            Key::new(contacts::search_partition(org), format!("{token}#{id}")),
            Kind::Search,
            json!({}),
        );
    }
    for tag in &record.tags {
        add(
            Key::new(
                contacts::tag_index_partition(org, tag),
                order_key(record.created_ms, id),
            ),
            Kind::TagIndex,
            json!({ "tag": tag }),
        );
    }
    out
}

fn contact_item(record: &ContactRecord) -> Result<Item, StoreError> {
    let order = order_key(record.created_ms, &record.id);
    let mut extra = vec![
        (
            "gsi1pk",
            Value::from(contacts::contacts_index_partition(&record.org_id)),
        ),
        ("gsi1sk", Value::from(order.clone())),
    ];
    if let Some(owner) = &record.owner_id {
        extra.push(("gsi2pk", contacts::owner_index_partition(&record.org_id, owner).into()));
        extra.push(("gsi2sk", order.into()));
    }
    to_item(&contacts::contact_key(&record.org_id, &record.id), record, &extra)
}

/// The operations that take the store from each `before` to its `after`
/// (`None` before = a new contact): the contact with its version or
/// not-exists condition, uniqueness claims (not-exists), search keys, tag
/// index items, and one counter update per tag for the whole set.
pub fn write_plan(changes: &[(Option<&ContactRecord>, &ContactRecord)]) -> Result<Vec<WriteOp>, StoreError> {
    let mut ops = Vec::new();
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (before, after) in changes {
        ops.push(WriteOp::Put {
            item: contact_item(after)?,
            condition: Some(match before {
                Some(b) => Condition::VersionEquals(b.version),
                None => Condition::NotExists,
            }),
        });
        let old = before.map(derived).unwrap_or_default();
        let new = derived(after);
        for (key, (kind, item)) in &new {
            match old.get(key) {
                Some((_, previous)) if previous == item => {}
                Some(_) => ops.push(WriteOp::Put {
                    item: item.clone(),
                    condition: None,
                }),
                None => ops.push(WriteOp::Put {
                    item: item.clone(),
                    condition: (*kind == Kind::Unique).then_some(Condition::NotExists),
                }),
            }
        }
        for (key, (kind, item)) in &old {
            if new.contains_key(key) {
                continue;
            }
            let condition = (*kind == Kind::Unique).then(|| Condition::AttributeEquals {
                name: "contact_id".into(),
                value: item.get("contact_id").cloned().unwrap_or(Value::Null),
            });
            ops.push(WriteOp::Delete {
                key: key.clone(),
                condition,
            });
        }
        if let Some(b) = before {
            for tag in &b.tags {
                *counts.entry((b.org_id.clone(), tag.clone())).or_default() -= 1;
            }
        }
        for tag in &after.tags {
            *counts.entry((after.org_id.clone(), tag.clone())).or_default() += 1;
        }
    }
    for ((org, tag), delta) in counts {
        if delta != 0 {
            ops.push(WriteOp::Update {
                key: contacts::tag_counter_key(&org, &tag),
                update: Update::default().set("tag", tag.as_str()).add("count", delta),
                condition: None,
            });
        }
    }
    Ok(ops)
}
