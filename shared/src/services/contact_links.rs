//! The seam between pipelines/deals, imports and export and the contacts
//! core (`services::contacts`, owned by the contacts work).
//!
//! Every function here delegates: features that attach to contacts (deals,
//! imports, export) name what they use in one place. The importer takes the
//! contacts core's write plan itself (`contacts::plan`), because a chunk's
//! contacts and its checkpoint must be one transaction.

use serde_json::{Map, Value};

use super::contacts::{self, ContactError, ContactRecord};
use crate::ports::{Key, StoreError, Table, WriteOp};

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
/// The key an import key claims (a contact's id where it was imported from).
pub fn import_key_claim(org_id: &str, import_key: &str) -> Key {
    contacts::import_key_unique_key(org_id, import_key)
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
