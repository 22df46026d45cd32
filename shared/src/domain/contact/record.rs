//! The stored contact: emails, phones, address, consent, custom fields and
//! tags, and the rules every writer follows when it adds to or combines
//! records (one primary per list, no duplicate values, bounded lists).

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{MAX_EMAILS, MAX_PHONES, MAX_TAGS};
use crate::domain::email::Email;
use crate::domain::input::FieldError;
use crate::domain::phone::Phone;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactEmail {
    pub address: String,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactPhone {
    /// E.164, the identity of the number.
    pub e164: String,
    /// As typed, for display.
    pub raw: String,
    pub national_digits: String,
    pub primary: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Granted,
    Denied,
    Revoked,
}

/// A consent record: what the person agreed to, when, where and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Consent {
    pub status: ConsentStatus,
    pub at: String,
    pub source: String,
    pub ip: Option<String>,
    /// The consent text shown to the person.
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactRecord {
    pub id: ContactId,
    pub org_id: OrgId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub emails: Vec<ContactEmail>,
    pub phones: Vec<ContactPhone>,
    pub company: Option<String>,
    pub address: Option<Address>,
    pub source: Option<String>,
    pub owner_id: Option<UserId>,
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

impl From<&Phone> for ContactPhone {
    /// Not primary: the list decides that ([`ContactRecord::add_phone`]).
    fn from(phone: &Phone) -> Self {
        ContactPhone {
            e164: phone.e164.clone(),
            raw: phone.raw.clone(),
            national_digits: phone.national_digits.clone(),
            primary: false,
        }
    }
}

/// The lists a contact holds a bounded number of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundedList {
    Emails,
    Phones,
    Tags,
}

impl BoundedList {
    pub const fn max(self) -> usize {
        match self {
            BoundedList::Emails => MAX_EMAILS,
            BoundedList::Phones => MAX_PHONES,
            BoundedList::Tags => MAX_TAGS,
        }
    }

    /// The list's name in the API and in messages.
    pub const fn name(self) -> &'static str {
        match self {
            BoundedList::Emails => "emails",
            BoundedList::Phones => "phones",
            BoundedList::Tags => "tags",
        }
    }
}

impl ContactRecord {
    /// A contact with nothing in it yet, first written at `now`.
    pub fn empty(id: impl Into<ContactId>, org_id: impl Into<OrgId>, now: jiff::Timestamp) -> Self {
        ContactRecord {
            id: id.into(),
            org_id: org_id.into(),
            first_name: None,
            last_name: None,
            emails: Vec::new(),
            phones: Vec::new(),
            company: None,
            address: None,
            source: None,
            owner_id: None,
            custom_fields: Map::new(),
            tags: Vec::new(),
            sms_consent: None,
            email_consent: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            created_ms: now.as_millisecond(),
            version: 1,
            import_keys: Vec::new(),
        }
    }

    /// Adds an email unless the contact has it; the first one is primary.
    pub fn add_email(&mut self, email: &Email) {
        self.add_address(email.as_str());
    }

    fn add_address(&mut self, address: &str) {
        if !self.emails.iter().any(|e| e.address == address) {
            let primary = self.emails.is_empty();
            self.emails.push(ContactEmail {
                address: address.to_string(),
                primary,
            });
        }
    }

    /// Adds a phone unless the contact has its number; the first one is primary.
    pub fn add_phone(&mut self, phone: &ContactPhone) {
        if !self.phones.iter().any(|p| p.e164 == phone.e164) {
            let primary = self.phones.is_empty();
            self.phones.push(ContactPhone {
                primary,
                ..phone.clone()
            });
        }
    }

    /// Adds an already normalized tag unless the contact has it.
    pub fn add_tag(&mut self, tag: &str) {
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_string());
        }
    }

    /// Links an id the contact had elsewhere (see [`ContactRecord::import_keys`]);
    /// its own id needs no link.
    pub fn add_import_key(&mut self, key: &str) {
        if key != self.id && !self.import_keys.iter().any(|k| k == key) {
            self.import_keys.push(key.to_string());
        }
    }

    /// Every list over its bound.
    pub fn lists_over_limit(&self) -> Vec<BoundedList> {
        [
            (BoundedList::Emails, self.emails.len()),
            (BoundedList::Phones, self.phones.len()),
            (BoundedList::Tags, self.tags.len()),
        ]
        .into_iter()
        .filter(|(list, len)| *len > list.max())
        .map(|(list, _)| list)
        .collect()
    }

    /// Whether it names or reaches someone: a contact needs a name, a
    /// company, an email or a phone.
    pub fn is_identifiable(&self) -> bool {
        self.first_name.is_some()
            || self.last_name.is_some()
            || self.company.is_some()
            || !self.emails.is_empty()
            || !self.phones.is_empty()
    }

    /// The error every writer reports for a contact that is not identifiable.
    pub fn identity_error() -> FieldError {
        FieldError::new(
            "first_name",
            "required",
            "Give at least a name, company, email or phone.",
        )
    }

    /// Fills this contact's blanks from `other` (names, company, address,
    /// source, owner, consent, each custom field) and unites the lists;
    /// `other`'s emails and phones join as secondary ones. What a merge of
    /// two contacts keeps.
    pub fn fill_from(&mut self, other: &ContactRecord) {
        fn fill<T: Clone>(slot: &mut Option<T>, other: &Option<T>) {
            if slot.is_none() {
                slot.clone_from(other);
            }
        }
        fill(&mut self.first_name, &other.first_name);
        fill(&mut self.last_name, &other.last_name);
        fill(&mut self.company, &other.company);
        fill(&mut self.address, &other.address);
        fill(&mut self.source, &other.source);
        fill(&mut self.owner_id, &other.owner_id);
        fill(&mut self.sms_consent, &other.sms_consent);
        fill(&mut self.email_consent, &other.email_consent);
        for (key, value) in &other.custom_fields {
            self.custom_fields.entry(key.clone()).or_insert_with(|| value.clone());
        }
        self.unite_lists(other);
    }

    /// Takes every value `newer` gives (names, company, source, each address
    /// line, each custom field) and unites the lists. What an import row
    /// does to the contact it matches.
    pub fn overlay(&mut self, newer: &ContactRecord) {
        fn take<T: Clone>(slot: &mut Option<T>, newer: &Option<T>) {
            if newer.is_some() {
                slot.clone_from(newer);
            }
        }
        take(&mut self.first_name, &newer.first_name);
        take(&mut self.last_name, &newer.last_name);
        take(&mut self.company, &newer.company);
        take(&mut self.source, &newer.source);
        if let Some(given) = &newer.address {
            let mut address = self.address.clone().unwrap_or_default();
            take(&mut address.line1, &given.line1);
            take(&mut address.line2, &given.line2);
            take(&mut address.city, &given.city);
            take(&mut address.region, &given.region);
            take(&mut address.postal_code, &given.postal_code);
            take(&mut address.country, &given.country);
            self.address = address.non_empty();
        }
        for (key, value) in &newer.custom_fields {
            self.custom_fields.insert(key.clone(), value.clone());
        }
        self.unite_lists(newer);
    }

    fn unite_lists(&mut self, other: &ContactRecord) {
        for email in &other.emails {
            self.add_address(&email.address);
        }
        for phone in &other.phones {
            self.add_phone(phone);
        }
        for tag in &other.tags {
            self.add_tag(tag);
        }
        for key in &other.import_keys {
            self.add_import_key(key);
        }
    }
}

impl Address {
    /// `None` for an address with no line at all.
    pub fn non_empty(self) -> Option<Address> {
        (self != Address::default()).then_some(self)
    }
}
