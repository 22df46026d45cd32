//! The contact model: the stored record (emails, phones, address, consent,
//! custom fields), the input shapes of create and update, and their
//! validation into a record.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::fields;
use super::{ContactError, Errors, MAX_EMAILS, MAX_PHONES, MAX_TAGS};
use crate::domain::email::Email;
use crate::domain::phone::Phone;
use crate::ports::HasTable;
use crate::ports::{StoreError, Table};
use crate::services::audit::Actor;
use crate::services::records::{OrgRecord, from_item, member_key, new_id, org_key};

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
pub(super) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
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

pub(super) fn optional_text(field: &str, raw: Option<String>, max: usize, errors: &mut Errors) -> Option<String> {
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

pub(super) fn normalize_tags(field: &str, raw: &[String], errors: &mut Errors) -> Vec<String> {
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

pub(super) fn parse_emails(raw: &[EmailInput], errors: &mut Errors) -> Vec<ContactEmail> {
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

pub(super) fn parse_phones(raw: &[PhoneInput], region: &str, errors: &mut Errors) -> Vec<ContactPhone> {
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
pub(super) fn settle_primary<T>(
    field: &str,
    list: &mut [T],
    primary: impl Fn(&mut T) -> &mut bool,
    errors: &mut Errors,
) {
    let marked = list.iter_mut().filter_map(|item| primary(item).then_some(())).count();
    if marked > 1 {
        errors.push((field.into(), "one_primary", "Mark at most one as primary.".into()));
    } else if marked == 0
        && let Some(first) = list.first_mut()
    {
        *primary(first) = true;
    }
}

pub(super) fn consent(
    input: ConsentInput,
    field: &str,
    caller: &Caller,
    now: jiff::Timestamp,
    errors: &mut Errors,
) -> Consent {
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

pub(super) fn clean_address(address: Option<Address>, errors: &mut Errors) -> Option<Address> {
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

pub(super) async fn org_region(table: &dyn Table, org_id: &str) -> Result<String, ContactError> {
    let org: OrgRecord = from_item(table.get(&org_key(org_id)).await?.ok_or(ContactError::NotFound)?)?;
    Ok(org.country)
}

pub(super) async fn check_owner(
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

pub(super) fn require_identity(record: &ContactRecord, errors: &mut Errors) {
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
pub(super) async fn build_new(
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
