//! Contacts: the CRM core. Public use cases other features call:
//! [`create`], [`upsert`], [`get`], [`get_many`], [`update`], [`delete`],
//! [`list`], [`search`], and [`timeline_entry`] (one more operation of the
//! caller's transaction, for bookings, forms, messages, stage changes).
//!
//! Keys (all under the organization; see also `records.rs`):
//!
//! | item | pk | sk | index |
//! |---|---|---|---|
//! | contact | `ORG#<org>#CONTACT#<id>` | `PROFILE` | gsi1 `ORG#<org>#CONTACTS` / `<created ms>#<id>`; gsi2 `ORG#<org>#OWNER#<user>` / same; gsi3 `ORG#<org>#CONTACTS#BYUPDATE` / `<updated ms>#<id>` |
//! | contact by name | `ORG#<org>#CONTACTS#BYNAME` | `<folded name> #<id>` | |
//! | sort keys' back-fill marker (`order_backfill`) | `ORG#<org>#CONTACTS#BACKFILL` | `ORDER` | |
//! | note | `ORG#<org>#CONTACT#<id>` | `NOTE#<note id>` | |
//! | timeline entry | `ORG#<org>#CONTACT#<id>` | `TL#<ms>#<entry id>` | |
//! | email → contact (unique) | `ORG#<org>#CEMAIL#<email>` | `CONTACT` | |
//! | phone → contact (unique) | `ORG#<org>#CPHONE#<e164>` | `CONTACT` | |
//! | import key → contact (unique) | `ORG#<org>#CIMPORT#<key>` | `CONTACT` | |
//! | search key | `ORG#<org>#SEARCH` | `<folded token>#<id>` | |
//! | tag counter | `ORG#<org>#TAGS` | `<tag>` | |
//! | contact by tag | `ORG#<org>#TAG#<tag>` | `<created ms>#<id>` | |
//! | custom field | `ORG#<org>#FIELDS` | `FIELD#<id>` | |
//! | field key (unique) | `ORG#<org>#FIELDKEY#<key>` | `FIELD` | |
//! | saved view (`views`) | `ORG#<org>#MEMBER#<user>#VIEWS` | `VIEW#<id>` | |
//!
//! Every contact write puts the contact and all its derived items (uniqueness,
//! search keys, tag index, tag counters) in ONE transaction, so the indexes
//! and counts are exact and duplicates are impossible under concurrency.

pub mod fields;
pub mod merge;
pub mod notes;
pub mod order_backfill;
pub mod tags;
pub mod views;

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::input::FieldError;
use crate::ports::{Key, StoreError};

mod model;
mod query;
mod store;
mod use_cases;

pub use crate::domain::contact::{
    Address, Consent, ConsentInput, ConsentStatus, ContactEmail, ContactPatch, ContactPhone, ContactRecord, EmailInput,
    MAX_EMAILS, MAX_PHONES, MAX_TAGS, NewContact, PhoneInput, normalize_tag,
};
pub use model::Caller;
pub use query::{ContactFilter, SortBy, list, search};
pub(crate) use store::tag_count_op;
pub use store::{ALL_PARTS, Parts, TimelineEntry, commit, plan, timeline, timeline_entry, timeline_entry_with_id};
pub(crate) use use_cases::purge_partition;
pub use use_cases::{
    PlannedUpsert, Saved, announce_created, create, created_event, delete, exists, get, get_many, plan_upsert, purge,
    update, upsert,
};

pub const MAX_PAGE: u32 = 100;
const TOKEN_MAX_CHARS: usize = 64;

pub fn contact_partition(org_id: &OrgId, contact_id: &ContactId) -> String {
    format!("ORG#{org_id}#CONTACT#{contact_id}")
}
pub fn contact_key(org_id: &OrgId, contact_id: &ContactId) -> Key {
    Key::new(contact_partition(org_id, contact_id), "PROFILE")
}
pub fn contacts_index_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#CONTACTS")
}
/// The gsi3 partition of the contacts by last update (the sort key changes
/// with every write of the contact, so DynamoDB moves the index copy itself).
pub fn contacts_by_update_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#CONTACTS#BYUPDATE")
}
/// The partition of the contacts' name index items: a name seldom changes,
/// so one small item per contact, rewritten only with its name.
pub fn contacts_by_name_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#CONTACTS#BYNAME")
}
pub fn owner_index_partition(org_id: &OrgId, user_id: &UserId) -> String {
    format!("ORG#{org_id}#OWNER#{user_id}")
}
pub fn email_unique_key(org_id: &OrgId, email: &str) -> Key {
    Key::new(format!("ORG#{org_id}#CEMAIL#{email}"), "CONTACT")
}
pub fn phone_unique_key(org_id: &OrgId, e164: &str) -> Key {
    Key::new(format!("ORG#{org_id}#CPHONE#{e164}"), "CONTACT")
}
/// The claim of an import key (see [`ContactRecord::import_keys`]).
pub fn import_key_unique_key(org_id: &OrgId, import_key: &str) -> Key {
    Key::new(format!("ORG#{org_id}#CIMPORT#{import_key}"), "CONTACT")
}
pub fn search_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#SEARCH")
}
pub fn tags_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#TAGS")
}
pub fn tag_counter_key(org_id: &OrgId, tag: &str) -> Key {
    Key::new(tags_partition(org_id), tag)
}
pub fn tag_index_partition(org_id: &OrgId, tag: &str) -> String {
    format!("ORG#{org_id}#TAG#{tag}")
}
fn order_key(created_ms: i64, id: &str) -> String {
    format!("{created_ms:013}#{id}")
}

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// (field, code, message); field names such as `emails[1]` or `custom_fields.size`.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// An email or phone already belongs to another contact of the organization.
    #[error("duplicate of contact {existing_id}")]
    Duplicate { existing_id: String, field: String },
    #[error("not found")]
    NotFound,
    /// `If-Match` named an older version.
    #[error("stale version")]
    StaleVersion,
    /// Only the author or an admin may do this.
    #[error("forbidden")]
    Forbidden,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The plan in force allows no more contacts.
    #[error(transparent)]
    PlanLimit(crate::services::billing::PlanLimitReached),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::services::billing::limits::LimitError> for ContactError {
    fn from(err: crate::services::billing::limits::LimitError) -> Self {
        use crate::services::billing::limits::LimitError as E;
        match err {
            E::Reached(reached) => ContactError::PlanLimit(reached),
            E::Store(err) => ContactError::Store(err),
        }
    }
}

impl ContactError {
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        ContactError::Invalid(vec![FieldError::new(field, code, message)])
    }
}

type Errors = Vec<FieldError>;
