//! Contacts: the CRM core. Public use cases other features call:
//! [`create`], [`upsert`], [`get`], [`get_many`], [`update`], [`delete`],
//! [`list`], [`search`], and [`timeline_entry`] (one more operation of the
//! caller's transaction, for bookings, forms, messages, stage changes).
//!
//! Keys (all under the organization; see also `records.rs`):
//!
//! | item | pk | sk | index |
//! |---|---|---|---|
//! | contact | `ORG#<org>#CONTACT#<id>` | `PROFILE` | gsi1 `ORG#<org>#CONTACTS` / `<created ms>#<id>`; gsi2 `ORG#<org>#OWNER#<user>` / same |
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
//!
//! Every contact write puts the contact and all its derived items (uniqueness,
//! search keys, tag index, tag counters) in ONE transaction, so the indexes
//! and counts are exact and duplicates are impossible under concurrency.

pub mod fields;
pub mod merge;
pub mod notes;
pub mod tags;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::audit::{self, Actor};
use super::records::{OrgRecord, from_item, member_key, new_id, org_key, to_item};
use crate::domain::email::Email;
use crate::domain::fold::{fold, is_phone_query};
use crate::domain::phone::{Phone, digits};
use crate::ports::{Condition, Index, Item, Key, Query, SortKey, StoreError, Table, Update, WriteOp};
use crate::ports::{HasClock, HasTable};

pub const MAX_EMAILS: usize = 10;
pub const MAX_PHONES: usize = 10;
pub const MAX_TAGS: usize = 20;
pub const MAX_PAGE: u32 = 100;
const TOKEN_MAX_CHARS: usize = 64;

// ---------------------------------------------------------------- keys

pub fn contact_partition(org_id: &str, contact_id: &str) -> String {
    format!("ORG#{org_id}#CONTACT#{contact_id}")
}
pub fn contact_key(org_id: &str, contact_id: &str) -> Key {
    Key::new(contact_partition(org_id, contact_id), "PROFILE")
}
pub fn contacts_index_partition(org_id: &str) -> String {
    format!("ORG#{org_id}#CONTACTS")
}
pub fn owner_index_partition(org_id: &str, user_id: &str) -> String {
    format!("ORG#{org_id}#OWNER#{user_id}")
}
pub fn email_unique_key(org_id: &str, email: &str) -> Key {
    Key::new(format!("ORG#{org_id}#CEMAIL#{email}"), "CONTACT")
}
pub fn phone_unique_key(org_id: &str, e164: &str) -> Key {
    Key::new(format!("ORG#{org_id}#CPHONE#{e164}"), "CONTACT")
}
/// The claim of an import key (see [`ContactRecord::import_keys`]).
pub fn import_key_unique_key(org_id: &str, import_key: &str) -> Key {
    Key::new(format!("ORG#{org_id}#CIMPORT#{import_key}"), "CONTACT")
}
pub fn search_partition(org_id: &str) -> String {
    format!("ORG#{org_id}#SEARCH")
}
pub fn tags_partition(org_id: &str) -> String {
    format!("ORG#{org_id}#TAGS")
}
pub fn tag_counter_key(org_id: &str, tag: &str) -> Key {
    Key::new(tags_partition(org_id), tag)
}
pub fn tag_index_partition(org_id: &str, tag: &str) -> String {
    format!("ORG#{org_id}#TAG#{tag}")
}
fn order_key(created_ms: i64, id: &str) -> String {
    format!("{created_ms:013}#{id}")
}

// ---------------------------------------------------------------- errors

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    /// (field, code, message); field names such as `emails[1]` or `custom_fields.size`.
    #[error("invalid input")]
    Invalid(Vec<(String, &'static str, String)>),
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ContactError {
    pub fn field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        ContactError::Invalid(vec![(field.into(), code, message.into())])
    }
}

type Errors = Vec<(String, &'static str, String)>;

// ---------------------------------------------------------------- records

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEmail {
    pub address: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPhone {
    /// E.164, the identity of the number.
    pub e164: String,
    /// As typed, for display.
    pub raw: String,
    pub national_digits: String,
    pub primary: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default)]
    pub line1: Option<String>,
    #[serde(default)]
    pub line2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Granted,
    Denied,
    Revoked,
}

/// A consent record: what the person agreed to, when, where and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub status: ConsentStatus,
    pub at: String,
    pub source: String,
    pub ip: Option<String>,
    /// The consent text shown to the person.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    pub id: String,
    pub org_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub emails: Vec<ContactEmail>,
    pub phones: Vec<ContactPhone>,
    pub company: Option<String>,
    pub address: Option<Address>,
    pub source: Option<String>,
    pub owner_id: Option<String>,
    pub custom_fields: Map<String, Value>,
    pub tags: Vec<String>,
    pub sms_consent: Option<Consent>,
    pub email_consent: Option<Consent>,
    pub created_at: String,
    pub updated_at: String,
    pub created_ms: i64,
    pub version: u64,
    /// The ids this contact had where it was imported from: the `id` column
    /// of a Konnecs export made in another organization (ids are per
    /// organization), or another system's record id. Each is claimed like an
    /// email, so importing the same file again finds the contact even when it
    /// has no email or phone (`services::imports`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_keys: Vec<String>,
}

impl ContactRecord {
    pub fn primary_email(&self) -> Option<&str> {
        self.emails.iter().find(|e| e.primary).map(|e| e.address.as_str())
    }
    pub fn primary_phone(&self) -> Option<&str> {
        self.phones.iter().find(|p| p.primary).map(|p| p.e164.as_str())
    }
    pub fn display_name(&self) -> String {
        [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

// ---------------------------------------------------------------- input

/// An email as given: `"a@b.co"` or `{"address": "a@b.co", "primary": true}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EmailInput {
    Plain(String),
    Full {
        address: String,
        #[serde(default)]
        primary: bool,
    },
}

/// A phone as given: `"415 555 0123"` or `{"number": "...", "primary": true}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PhoneInput {
    Plain(String),
    Full {
        number: String,
        #[serde(default)]
        primary: bool,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub status: ConsentStatus,
    pub source: String,
    #[serde(default)]
    pub text: Option<String>,
    /// Defaults to the caller's IP.
    #[serde(default)]
    pub ip: Option<String>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    pub at: Option<String>,
}

/// A new contact.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub emails: Vec<EmailInput>,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub custom_fields: Map<String, Value>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub sms_consent: Option<ConsentInput>,
    #[serde(default)]
    pub email_consent: Option<ConsentInput>,
}

/// `Some(None)` for an explicit `null` (clear), `None` when absent.
fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial update (PATCH): absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: Option<Option<String>>,
    /// Replaces the list.
    #[serde(default)]
    pub emails: Option<Vec<EmailInput>>,
    #[serde(default)]
    pub phones: Option<Vec<PhoneInput>>,
    #[serde(default, deserialize_with = "nullable")]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "nullable")]
    pub source: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub owner_id: Option<Option<String>>,
    /// Merged key by key; a `null` value removes the key.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Replaces the tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub sms_consent: Option<Option<ConsentInput>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email_consent: Option<Option<ConsentInput>>,
}

/// Who acts and from where; `role` decides admin-only actions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub user_id: String,
    pub is_admin: bool,
}

impl Caller {
    pub fn org_id(&self) -> &str {
        &self.actor.org_id
    }
}

// ---------------------------------------------------------------- validation

fn optional_text(field: &str, raw: Option<String>, max: usize, errors: &mut Errors) -> Option<String> {
    let text = raw.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())?;
    if text.chars().count() > max {
        errors.push((field.to_string(), "too_long", format!("Use at most {max} characters.")));
    }
    Some(text)
}

/// A tag as stored: trimmed, lower-case, single spaces, 1..=50 characters, no `#`.
pub fn normalize_tag(raw: &str) -> Result<String, &'static str> {
    let tag = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if tag.is_empty() {
        return Err("required");
    }
    if tag.chars().count() > 50 || tag.contains('#') {
        return Err("invalid_tag");
    }
    Ok(tag)
}

fn normalize_tags(field: &str, raw: &[String], errors: &mut Errors) -> Vec<String> {
    let mut out = Vec::new();
    for (i, tag) in raw.iter().enumerate() {
        match normalize_tag(tag) {
            Ok(tag) if !out.contains(&tag) => out.push(tag),
            Ok(_) => {}
            Err(code) => errors.push((
                format!("{field}[{i}]"),
                code,
                "A tag has 1 to 50 characters and no '#'.".into(),
            )),
        }
    }
    out
}

fn parse_emails(raw: &[EmailInput], errors: &mut Errors) -> Vec<ContactEmail> {
    let mut out: Vec<ContactEmail> = Vec::new();
    for (i, input) in raw.iter().enumerate() {
        let (address, primary) = match input {
            EmailInput::Plain(a) => (a.as_str(), false),
            EmailInput::Full { address, primary } => (address.as_str(), *primary),
        };
        match Email::parse(address) {
            Ok(email) => {
                if out.iter().any(|e| e.address == email.as_str()) {
                    continue;
                }
                out.push(ContactEmail {
                    address: email.as_str().to_string(),
                    primary,
                });
            }
            Err(err) => errors.push((format!("emails[{i}]"), err.code(), err.message().into())),
        }
    }
    settle_primary("emails", &mut out, |e| &mut e.primary, errors);
    if out.len() > MAX_EMAILS {
        errors.push(("emails".into(), "too_many", format!("At most {MAX_EMAILS} emails.")));
    }
    out
}

fn parse_phones(raw: &[PhoneInput], region: &str, errors: &mut Errors) -> Vec<ContactPhone> {
    let mut out: Vec<ContactPhone> = Vec::new();
    for (i, input) in raw.iter().enumerate() {
        let (number, primary) = match input {
            PhoneInput::Plain(n) => (n.as_str(), false),
            PhoneInput::Full { number, primary } => (number.as_str(), *primary),
        };
        match Phone::parse(number, region) {
            Ok(phone) => {
                if out.iter().any(|p| p.e164 == phone.e164) {
                    continue;
                }
                out.push(ContactPhone {
                    e164: phone.e164,
                    raw: phone.raw,
                    national_digits: phone.national_digits,
                    primary,
                });
            }
            Err(err) => errors.push((format!("phones[{i}]"), err.code(), err.message().into())),
        }
    }
    settle_primary("phones", &mut out, |p| &mut p.primary, errors);
    if out.len() > MAX_PHONES {
        errors.push(("phones".into(), "too_many", format!("At most {MAX_PHONES} phones.")));
    }
    out
}

/// Exactly one primary when the list is not empty: the first unless one is marked.
fn settle_primary<T>(field: &str, list: &mut [T], primary: impl Fn(&mut T) -> &mut bool, errors: &mut Errors) {
    let marked = list.iter_mut().filter_map(|item| primary(item).then_some(())).count();
    if marked > 1 {
        errors.push((field.into(), "one_primary", "Mark at most one as primary.".into()));
    } else if marked == 0
        && let Some(first) = list.first_mut()
    {
        *primary(first) = true;
    }
}

fn consent(input: ConsentInput, field: &str, caller: &Caller, now: jiff::Timestamp, errors: &mut Errors) -> Consent {
    let source = input.source.trim().to_string();
    if source.is_empty() || source.chars().count() > 200 {
        errors.push((
            format!("{field}.source"),
            "required",
            "Say where consent was given (1 to 200 characters).".into(),
        ));
    }
    let at = match input.at.as_deref() {
        None => now.to_string(),
        Some(at) => match at.parse::<jiff::Timestamp>() {
            Ok(at) => at.to_string(),
            Err(_) => {
                errors.push((format!("{field}.at"), "invalid_time", "Use an RFC 3339 time.".into()));
                now.to_string()
            }
        },
    };
    let text = input.text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 5000) {
        errors.push((
            format!("{field}.text"),
            "too_long",
            "Use at most 5000 characters.".into(),
        ));
    }
    Consent {
        status: input.status,
        at,
        source,
        ip: input.ip.or_else(|| caller.actor.ip.clone()),
        text,
    }
}

fn clean_address(address: Option<Address>, errors: &mut Errors) -> Option<Address> {
    let address = address?;
    let mut clean = |name: &str, value: Option<String>| optional_text(&format!("address.{name}"), value, 200, errors);
    let out = Address {
        line1: clean("line1", address.line1),
        line2: clean("line2", address.line2),
        city: clean("city", address.city),
        region: clean("region", address.region),
        postal_code: clean("postal_code", address.postal_code),
        country: clean("country", address.country),
    };
    (out != Address::default()).then_some(out)
}

async fn org_region(table: &dyn Table, org_id: &str) -> Result<String, ContactError> {
    let org: OrgRecord = from_item(table.get(&org_key(org_id)).await?.ok_or(ContactError::NotFound)?)?;
    Ok(org.country)
}

async fn check_owner(
    table: &dyn Table,
    org_id: &str,
    owner: Option<&str>,
    errors: &mut Errors,
) -> Result<(), StoreError> {
    if let Some(owner) = owner
        && table.get(&member_key(org_id, owner)).await?.is_none()
    {
        errors.push((
            "owner_id".into(),
            "not_a_member",
            "The owner must be a member of the organization.".into(),
        ));
    }
    Ok(())
}

fn require_identity(record: &ContactRecord, errors: &mut Errors) {
    if record.first_name.is_none()
        && record.last_name.is_none()
        && record.company.is_none()
        && record.emails.is_empty()
        && record.phones.is_empty()
    {
        errors.push((
            "first_name".into(),
            "required",
            "Give at least a name, company, email or phone.".into(),
        ));
    }
}

/// Builds (but does not store) a contact from input, validated.
async fn build_new(
    state: &impl HasTable,
    caller: &Caller,
    input: NewContact,
    now: jiff::Timestamp,
) -> Result<ContactRecord, ContactError> {
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    let mut errors = Errors::new();
    let region = if input.phones.is_empty() {
        String::new()
    } else {
        org_region(table, org_id).await?
    };
    let emails = parse_emails(&input.emails, &mut errors);
    let phones = parse_phones(&input.phones, &region, &mut errors);
    let tags = normalize_tags("tags", &input.tags, &mut errors);
    if tags.len() > MAX_TAGS {
        errors.push(("tags".into(), "too_many", format!("At most {MAX_TAGS} tags.")));
    }
    let owner_id = input.owner_id.map(|o| o.trim().to_string()).filter(|o| !o.is_empty());
    check_owner(table, org_id, owner_id.as_deref(), &mut errors).await?;
    let custom_fields = if input.custom_fields.is_empty() {
        Map::new()
    } else {
        let defs = fields::list(table, org_id).await?;
        fields::apply_values(&defs, &Map::new(), &input.custom_fields, &mut errors)
    };
    let record = ContactRecord {
        id: new_id(),
        org_id: org_id.to_string(),
        first_name: optional_text("first_name", input.first_name, 100, &mut errors),
        last_name: optional_text("last_name", input.last_name, 100, &mut errors),
        emails,
        phones,
        company: optional_text("company", input.company, 200, &mut errors),
        address: clean_address(input.address, &mut errors),
        source: optional_text("source", input.source, 100, &mut errors),
        owner_id,
        custom_fields,
        tags,
        sms_consent: input
            .sms_consent
            .map(|c| consent(c, "sms_consent", caller, now, &mut errors)),
        email_consent: input
            .email_consent
            .map(|c| consent(c, "email_consent", caller, now, &mut errors)),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        created_ms: now.as_millisecond(),
        version: 1,
        import_keys: Vec::new(),
    };
    require_identity(&record, &mut errors);
    if errors.is_empty() {
        Ok(record)
    } else {
        Err(ContactError::Invalid(errors))
    }
}

// ---------------------------------------------------------------- derived items

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Uniqueness claim: written NotExists, swapped/deleted only while ours.
    Unique,
    Search,
    TagIndex,
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
fn derived(record: &ContactRecord) -> BTreeMap<Key, (Kind, Item)> {
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
    out
}

fn contact_item(record: &ContactRecord) -> Result<Item, StoreError> {
    let order = order_key(record.created_ms, &record.id);
    let mut extra = vec![
        ("gsi1pk", Value::from(contacts_index_partition(&record.org_id))),
        ("gsi1sk", Value::from(order.clone())),
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
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (before, after) in changes {
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
                ops.push(tag_count_op(&org, &tag, delta));
            }
        }
    }
    Ok(ops)
}

pub(crate) fn tag_count_op(org_id: &str, tag: &str, delta: i64) -> WriteOp {
    WriteOp::Update {
        key: tag_counter_key(org_id, tag),
        update: Update::default().set("tag", tag).add("count", delta),
        condition: None,
    }
}

fn too_many_ops() -> ContactError {
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
pub fn timeline_entry(org_id: &str, contact_id: &str, kind: &str, detail: Value, now: jiff::Timestamp) -> WriteOp {
    timeline_entry_with_id(org_id, contact_id, &new_id(), kind, detail, now).1
}

/// Same, with the entry id given; returns the entry's sort key too.
pub fn timeline_entry_with_id(
    org_id: &str,
    contact_id: &str,
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
            item: super::object(item),
            condition: None,
        },
    )
}

#[derive(Debug, Clone, Serialize)]
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
    org_id: &str,
    contact_id: &str,
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

// ---------------------------------------------------------------- use cases

/// Reads one contact of the organization.
pub async fn get(table: &dyn Table, org_id: &str, contact_id: &str) -> Result<ContactRecord, ContactError> {
    let item = table
        .get(&contact_key(org_id, contact_id))
        .await?
        .ok_or(ContactError::NotFound)?;
    Ok(from_item(item)?)
}

/// Reads many contacts (any count; 100 per round trip), in the order given;
/// unknown ids are left out.
pub async fn get_many(table: &dyn Table, org_id: &str, ids: &[String]) -> Result<Vec<ContactRecord>, ContactError> {
    let mut found: BTreeMap<String, ContactRecord> = BTreeMap::new();
    let unique: Vec<&String> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
    for chunk in unique.chunks(100) {
        let keys: Vec<Key> = chunk.iter().map(|id| contact_key(org_id, id)).collect();
        for item in table.batch_get(&keys).await? {
            let record: ContactRecord = from_item(item)?;
            found.insert(record.id.clone(), record);
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for id in ids {
        if seen.insert(id)
            && let Some(record) = found.remove(id)
        {
            out.push(record);
        }
    }
    Ok(out)
}

/// What [`create`]/[`upsert`] did.
#[derive(Debug, Clone)]
pub struct Saved {
    pub contact: ContactRecord,
    /// true when a new contact was made; false when merged into an existing one.
    pub created: bool,
}

/// Creates a contact; an email or phone another contact has → `Duplicate`.
/// One transaction (plus the org read when phones are given, the member read
/// when an owner is given, and the field definitions when custom fields are).
pub async fn create(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    input: NewContact,
) -> Result<ContactRecord, ContactError> {
    let now = state.clock().now();
    let record = build_new(state, caller, input, now).await?;
    insert(state.table().as_ref(), caller, &record, now).await?;
    Ok(record)
}

async fn insert(
    table: &dyn Table,
    caller: &Caller,
    record: &ContactRecord,
    now: jiff::Timestamp,
) -> Result<(), ContactError> {
    let mut ops = plan(&[(None, Some(record))], ALL_PARTS)?;
    ops.push(audit::entry(
        &caller.actor,
        now,
        "contact.created",
        &format!("contact:{}", record.id),
        json!({ "email": record.primary_email(), "phone": record.primary_phone() }),
    ));
    commit(table, ops).await
}

/// A create-or-merge planned for a transaction the caller commits (a booking
/// puts its invitee's contact in the booking's own transaction).
#[derive(Debug, Clone)]
pub struct PlannedUpsert {
    /// The contact as it is once the operations commit.
    pub contact: ContactRecord,
    /// true when a new contact is made; false when merged into an existing one.
    pub created: bool,
    /// Every operation carries a condition (not-exists claims, the contact's
    /// version), so a concurrent writer makes the caller's transaction fail
    /// rather than be overwritten; the caller plans again.
    pub ops: Vec<WriteOp>,
}

/// Plans [`upsert`] without committing: reads the claims of the input's emails
/// and phones (one batch read) and the contact that holds them. One email or
/// phone held by a contact → merge into it (existing values win, the new ones
/// fill blanks; emails, phones and tags are united); held by two different
/// contacts → `Duplicate` naming the second.
pub async fn plan_upsert(
    state: &impl HasTable,
    caller: &Caller,
    input: NewContact,
    now: jiff::Timestamp,
) -> Result<PlannedUpsert, ContactError> {
    let table = state.table().as_ref();
    let incoming = build_new(state, caller, input, now).await?;
    let org_id = caller.org_id();
    let claims: Vec<(Key, &'static str)> = incoming
        .emails
        .iter()
        .map(|e| (email_unique_key(org_id, &e.address), "emails"))
        .chain(
            incoming
                .phones
                .iter()
                .map(|p| (phone_unique_key(org_id, &p.e164), "phones")),
        )
        .collect();
    let keys: Vec<Key> = claims.iter().map(|(key, _)| key.clone()).collect();
    let held: BTreeMap<Key, String> = table
        .batch_get(&keys)
        .await?
        .into_iter()
        .filter_map(|item| Some((Key::of(&item)?, item.get("contact_id")?.as_str()?.to_string())))
        .collect();
    // In input order, so the primary email's contact is the one merged into.
    let mut holder: Option<&String> = None;
    for (key, field) in &claims {
        match (holder, held.get(key)) {
            (None, Some(id)) => holder = Some(id),
            (Some(first), Some(id)) if first != id => {
                return Err(ContactError::Duplicate {
                    existing_id: id.clone(),
                    field: (*field).into(),
                });
            }
            _ => {}
        }
    }
    let Some(existing_id) = holder else {
        let mut ops = plan(&[(None, Some(&incoming))], ALL_PARTS)?;
        ops.push(audit::entry(
            &caller.actor,
            now,
            "contact.created",
            &format!("contact:{}", incoming.id),
            json!({ "email": incoming.primary_email(), "phone": incoming.primary_phone() }),
        ));
        return Ok(PlannedUpsert {
            contact: incoming,
            created: true,
            ops,
        });
    };
    let existing = match get(table, org_id, existing_id).await {
        Ok(existing) => existing,
        // The claim outlived its contact for a moment (a delete in flight): plan again.
        Err(ContactError::NotFound) => return Err(ContactError::Conflict("contact_changed")),
        Err(err) => return Err(err),
    };
    let mut merged = merge::merge_records(&existing, &incoming);
    if merged == existing {
        // Nothing new: only make sure the contact is still this version.
        return Ok(PlannedUpsert {
            ops: vec![WriteOp::Check {
                key: contact_key(org_id, &existing.id),
                condition: Condition::VersionEquals(existing.version),
            }],
            contact: existing,
            created: false,
        });
    }
    merged.updated_at = now.to_string();
    merged.version = existing.version + 1;
    if merged.tags.len() > MAX_TAGS || merged.emails.len() > MAX_EMAILS || merged.phones.len() > MAX_PHONES {
        return Err(ContactError::field(
            "body",
            "too_many_values",
            "Merged, the contact would have too many emails, phones or tags.",
        ));
    }
    let mut ops = plan(&[(Some(&existing), Some(&merged))], ALL_PARTS)?;
    ops.extend(tag_timeline(&existing, &merged, now));
    ops.push(audit::entry(
        &caller.actor,
        now,
        "contact.upserted",
        &format!("contact:{}", merged.id),
        json!({ "email": incoming.primary_email(), "phone": incoming.primary_phone() }),
    ));
    Ok(PlannedUpsert {
        contact: merged,
        created: false,
        ops,
    })
}

/// Creates the contact, or — when one of its emails or phones already belongs
/// to a contact — merges it into that contact (see [`plan_upsert`]). A race
/// with another writer of the same contact is planned again, up to 3 times.
pub async fn upsert(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    input: NewContact,
) -> Result<Saved, ContactError> {
    let now = state.clock().now();
    for _ in 0..3 {
        let planned = plan_upsert(state, caller, input.clone(), now).await?;
        match commit(state.table().as_ref(), planned.ops).await {
            Ok(()) => {
                return Ok(Saved {
                    contact: planned.contact,
                    created: planned.created,
                });
            }
            Err(ContactError::StaleVersion | ContactError::Duplicate { .. } | ContactError::Conflict(_)) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ContactError::Conflict("contact_changed"))
}

/// A timeline entry when the tags changed between two versions.
fn tag_timeline(before: &ContactRecord, after: &ContactRecord, now: jiff::Timestamp) -> Option<WriteOp> {
    let added: Vec<&String> = after.tags.iter().filter(|t| !before.tags.contains(t)).collect();
    let removed: Vec<&String> = before.tags.iter().filter(|t| !after.tags.contains(t)).collect();
    (!added.is_empty() || !removed.is_empty()).then(|| {
        timeline_entry(
            &after.org_id,
            &after.id,
            "tags.changed",
            json!({ "added": added, "removed": removed }),
            now,
        )
    })
}

/// Applies a partial update. `if_match`: the version the caller read; a
/// different current version → `StaleVersion`. Without it the update applies
/// to the latest version (retried on a concurrent write).
pub async fn update(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    contact_id: &str,
    patch: ContactPatch,
    if_match: Option<u64>,
) -> Result<ContactRecord, ContactError> {
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    let region = if patch.phones.as_ref().is_some_and(|p| !p.is_empty()) {
        org_region(table, org_id).await?
    } else {
        String::new()
    };
    let defs = match &patch.custom_fields {
        Some(values) if !values.is_empty() => Some(fields::list(table, org_id).await?),
        _ => None,
    };
    let mut owner_checked = false;
    for _ in 0..3 {
        let now = state.clock().now();
        let before = get(table, org_id, contact_id).await?;
        if if_match.is_some_and(|v| v != before.version) {
            return Err(ContactError::StaleVersion);
        }
        let mut after = before.clone();
        let mut errors = Errors::new();
        let p = patch.clone();
        if let Some(v) = p.first_name {
            after.first_name = optional_text("first_name", v, 100, &mut errors);
        }
        if let Some(v) = p.last_name {
            after.last_name = optional_text("last_name", v, 100, &mut errors);
        }
        if let Some(v) = p.company {
            after.company = optional_text("company", v, 200, &mut errors);
        }
        if let Some(v) = p.source {
            after.source = optional_text("source", v, 100, &mut errors);
        }
        if let Some(v) = p.address {
            after.address = clean_address(v, &mut errors);
        }
        if let Some(v) = p.emails {
            after.emails = parse_emails(&v, &mut errors);
        }
        if let Some(v) = p.phones {
            after.phones = parse_phones(&v, &region, &mut errors);
        }
        if let Some(v) = p.owner_id {
            after.owner_id = v.map(|o| o.trim().to_string()).filter(|o| !o.is_empty());
            if !owner_checked && after.owner_id != before.owner_id {
                check_owner(table, org_id, after.owner_id.as_deref(), &mut errors).await?;
                owner_checked = errors.is_empty();
            }
        }
        if let (Some(values), Some(defs)) = (&p.custom_fields, &defs) {
            after.custom_fields = fields::apply_values(defs, &before.custom_fields, values, &mut errors);
        }
        if let Some(tags) = &p.tags {
            after.tags = normalize_tags("tags", tags, &mut errors);
        }
        for tag in normalize_tags("add_tags", &p.add_tags, &mut errors) {
            if !after.tags.contains(&tag) {
                after.tags.push(tag);
            }
        }
        let remove = normalize_tags("remove_tags", &p.remove_tags, &mut errors);
        after.tags.retain(|t| !remove.contains(t));
        if after.tags.len() > MAX_TAGS {
            errors.push(("tags".into(), "too_many", format!("At most {MAX_TAGS} tags.")));
        }
        if let Some(v) = p.sms_consent {
            after.sms_consent = v.map(|c| consent(c, "sms_consent", caller, now, &mut errors));
        }
        if let Some(v) = p.email_consent {
            after.email_consent = v.map(|c| consent(c, "email_consent", caller, now, &mut errors));
        }
        require_identity(&after, &mut errors);
        if !errors.is_empty() {
            return Err(ContactError::Invalid(errors));
        }
        if after == before {
            return Ok(before);
        }
        after.updated_at = now.to_string();
        after.version = before.version + 1;
        let mut ops = plan(&[(Some(&before), Some(&after))], ALL_PARTS)?;
        ops.extend(tag_timeline(&before, &after, now));
        ops.push(audit::entry(
            &caller.actor,
            now,
            "contact.updated",
            &format!("contact:{contact_id}"),
            json!({ "version": after.version, "changed": changed_fields(&before, &after) }),
        ));
        match commit(table, ops).await {
            Ok(()) => return Ok(after),
            Err(ContactError::StaleVersion) if if_match.is_none() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ContactError::Conflict("contact_changed"))
}

fn changed_fields(before: &ContactRecord, after: &ContactRecord) -> Vec<String> {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| !matches!(k.as_str(), "version" | "updated_at") && b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Deletes a contact with its uniqueness claims, search keys and tag index
/// items (one transaction), then its notes and timeline (bounded batches).
pub async fn delete(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    contact_id: &str,
    if_match: Option<u64>,
) -> Result<(), ContactError> {
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    for _ in 0..3 {
        let now = state.clock().now();
        let before = get(table, org_id, contact_id).await?;
        if if_match.is_some_and(|v| v != before.version) {
            return Err(ContactError::StaleVersion);
        }
        let mut ops = plan(&[(Some(&before), None)], ALL_PARTS)?;
        ops.push(audit::entry(
            &caller.actor,
            now,
            "contact.deleted",
            &format!("contact:{contact_id}"),
            json!({ "email": before.primary_email(), "name": before.display_name() }),
        ));
        match commit(table, ops).await {
            Ok(()) => {
                purge_partition(table, org_id, contact_id).await?;
                return Ok(());
            }
            Err(ContactError::StaleVersion) if if_match.is_none() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ContactError::Conflict("contact_changed"))
}

/// Removes what is left in a deleted contact's partition (notes, timeline).
pub(crate) async fn purge_partition(table: &dyn Table, org_id: &str, contact_id: &str) -> Result<(), StoreError> {
    loop {
        let page = table
            .query(&Query::partition(contact_partition(org_id, contact_id)).limit(100))
            .await?;
        let keys: Vec<crate::ports::BatchOp> = page
            .items
            .iter()
            .filter_map(Key::of)
            .filter(|k| k.sk != "PROFILE")
            .map(crate::ports::BatchOp::Delete)
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        table.batch_write(keys).await?;
    }
}

// ---------------------------------------------------------------- list and search

/// Filters of `GET /contacts`. The pipeline-stage filter belongs to deals:
/// `pipelines::contacts_in_stage_page` reads that index and applies these.
/// Stored with an export job, hence serde.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactFilter {
    pub tag: Option<String>,
    pub owner_id: Option<String>,
    pub created_from: Option<jiff::Timestamp>,
    pub created_to: Option<jiff::Timestamp>,
    /// Search text (name, email or phone prefix).
    pub q: Option<String>,
}

fn created_range(filter: &ContactFilter) -> Option<SortKey> {
    let from = filter.created_from.map(|t| t.as_millisecond());
    let to = filter.created_to.map(|t| t.as_millisecond());
    match (from, to) {
        (None, None) => None,
        (from, to) => Some(SortKey::Between(
            format!("{:013}", from.unwrap_or(0).max(0)),
            format!("{:013}#~", to.unwrap_or(9_999_999_999_999)),
        )),
    }
}

impl ContactFilter {
    /// Whether a contact passes the tag, owner and created-range filters
    /// (for pages read from an index that did not apply them).
    pub fn matches(&self, record: &ContactRecord) -> bool {
        self.tag
            .as_ref()
            .is_none_or(|t| normalize_tag(t).is_ok_and(|t| record.tags.contains(&t)))
            && self
                .owner_id
                .as_ref()
                .is_none_or(|o| record.owner_id.as_ref() == Some(o))
            && self
                .created_from
                .is_none_or(|t| record.created_ms >= t.as_millisecond())
            && self.created_to.is_none_or(|t| record.created_ms <= t.as_millisecond())
    }
}

/// One page of contacts, newest first. At most two round trips: one query on
/// the right index (all contacts, by owner, or by tag) and, for tags, one
/// batch read of the contacts. `q` delegates to [`search`].
pub async fn list(
    table: &dyn Table,
    org_id: &str,
    filter: &ContactFilter,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ContactRecord>, Option<String>), ContactError> {
    let limit = limit.clamp(1, MAX_PAGE);
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        let (found, next) = search(table, org_id, q, limit, cursor).await?;
        return Ok((found.into_iter().filter(|c| filter.matches(c)).collect(), next));
    }
    if let Some(tag) = &filter.tag {
        let tag = normalize_tag(tag).map_err(|code| ContactError::field("tag", code, "Not a valid tag."))?;
        let mut query = Query::partition(tag_index_partition(org_id, &tag))
            .reverse()
            .limit(limit)
            .after(cursor);
        if let Some(range) = created_range(filter) {
            query = query.sort(range);
        }
        let page = table.query(&query).await?;
        let ids: Vec<String> = page
            .items
            .iter()
            .filter_map(|i| i.get("contact_id").and_then(Value::as_str).map(str::to_string))
            .collect();
        let found = get_many(table, org_id, &ids).await?;
        return Ok((found.into_iter().filter(|c| filter.matches(c)).collect(), page.cursor));
    }
    let (index, partition) = match &filter.owner_id {
        Some(owner) => (Index::Gsi2, owner_index_partition(org_id, owner)),
        None => (Index::Gsi1, contacts_index_partition(org_id)),
    };
    let mut query = Query::partition(partition)
        .on(index)
        .reverse()
        .limit(limit)
        .after(cursor);
    if let Some(range) = created_range(filter) {
        query = query.sort(range);
    }
    let page = table.query(&query).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for item in page.items {
        out.push(from_item::<ContactRecord>(item)?);
    }
    Ok((out, page.cursor))
}

/// Contacts whose name word, full name, email or phone digits start with `q`
/// (case- and accent-insensitive): one query on the search partition and one
/// batch read. Ordered by the matching key.
pub async fn search(
    table: &dyn Table,
    org_id: &str,
    q: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ContactRecord>, Option<String>), ContactError> {
    let prefix = if is_phone_query(q) { digits(q) } else { fold(q) };
    let prefix: String = prefix.chars().take(TOKEN_MAX_CHARS).collect();
    if prefix.is_empty() {
        return Err(ContactError::field("q", "required", "Type something to search for."));
    }
    let page = table
        .query(
            &Query::partition(search_partition(org_id))
                .sort(SortKey::BeginsWith(prefix))
                .limit(limit.clamp(1, MAX_PAGE))
                .after(cursor),
        )
        .await?;
    let ids: Vec<String> = page
        .items
        .iter()
        .filter_map(|i| i.get("contact_id").and_then(Value::as_str).map(str::to_string))
        .collect();
    Ok((get_many(table, org_id, &ids).await?, page.cursor))
}
