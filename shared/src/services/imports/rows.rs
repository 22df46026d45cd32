//! One CSV row: parsed and validated into a candidate contact, then made
//! into a new contact or merged into the one it matches.

use serde_json::{Map, Value};

use super::ColumnMap;
use crate::domain::email::Email;
use crate::domain::input::FieldError;
use crate::domain::phone::Phone;
use crate::domain::spreadsheet::unescape_formula;
use crate::services::contact_links::{self, apply_custom_fields};
use crate::services::contacts::fields::{FieldDef, FieldType};
use crate::services::contacts::{self, Address, ContactEmail, ContactPhone, ContactRecord};
use crate::services::records::new_id;

/// A row, parsed and validated, not yet matched.
#[derive(Debug, Clone, Default)]
pub(super) struct Candidate {
    /// The row's `id` column: see the module's Identity section.
    pub(super) key: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    pub(super) emails: Vec<String>,
    pub(super) phones: Vec<Phone>,
    company: Option<String>,
    source: Option<String>,
    address: Address,
    custom: Map<String, Value>,
    tags: Vec<String>,
}

pub(super) fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '\n']).map(str::trim).filter(|s| !s.is_empty())
}

pub(super) fn text_value(field: &str, cell: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    if cell.is_empty() {
        return None;
    }
    if cell.chars().count() > max {
        errors.push(FieldError::new(
            field.to_string(),
            "too_long",
            format!("Use at most {max} characters."),
        ));
    }
    Some(cell.to_string())
}

/// A CSV cell as the JSON value a custom field of this type takes.
pub(super) fn custom_value(def: &FieldDef, cell: &str) -> Value {
    match def.kind {
        FieldType::Number => cell
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| cell.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| Value::from(cell)),
        FieldType::Checkbox => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "x" | "on" => Value::Bool(true),
            "false" | "no" | "n" | "0" | "off" => Value::Bool(false),
            _ => Value::from(cell),
        },
        FieldType::MultiSelect => Value::from(split_list(cell).map(str::to_string).collect::<Vec<_>>()),
        _ => Value::from(cell),
    }
}

pub(super) type Parsed = Result<Candidate, Vec<FieldError>>;

pub(super) struct RowContext<'a> {
    pub(super) mapping: &'a [ColumnMap],
    pub(super) defs: &'a [FieldDef],
    pub(super) region: &'a str,
    pub(super) import_tags: &'a [String],
}

pub(super) fn parse_row(ctx: &RowContext<'_>, record: &csv::StringRecord) -> Result<Candidate, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut c = Candidate::default();
    let mut custom_raw = Map::new();
    for column in ctx.mapping {
        let cell = unescape_formula(record.get(column.column).unwrap_or_default());
        if cell.is_empty() {
            continue;
        }
        match column.target.as_str() {
            "id" => c.key = text_value("id", cell, 100, &mut errors),
            "first_name" => c.first_name = text_value("first_name", cell, 100, &mut errors),
            "last_name" => c.last_name = text_value("last_name", cell, 100, &mut errors),
            "name" => {
                let mut words = cell.split_whitespace();
                let first = words.next().map(str::to_string);
                let rest = words.collect::<Vec<_>>().join(" ");
                if c.first_name.is_none() {
                    c.first_name = first.and_then(|f| text_value("name", &f, 100, &mut errors));
                }
                if c.last_name.is_none() && !rest.is_empty() {
                    c.last_name = text_value("name", &rest, 100, &mut errors);
                }
            }
            "email" => {
                for raw in split_list(cell) {
                    match Email::parse(raw) {
                        Ok(email) => {
                            let email = email.as_str().to_string();
                            if !c.emails.contains(&email) {
                                c.emails.push(email);
                            }
                        }
                        Err(err) => errors.push(FieldError::new("email", err.code(), err.message())),
                    }
                }
            }
            "phone" => {
                for raw in split_list(cell) {
                    match Phone::parse(raw, ctx.region) {
                        Ok(phone) => {
                            if !c.phones.iter().any(|p| p.e164 == phone.e164) {
                                c.phones.push(phone);
                            }
                        }
                        Err(err) => errors.push(FieldError::new("phone", err.code(), err.message())),
                    }
                }
            }
            "company" => c.company = text_value("company", cell, 200, &mut errors),
            "source" => c.source = text_value("source", cell, 100, &mut errors),
            "tags" => {
                for raw in cell.split([';', ',']).map(str::trim).filter(|t| !t.is_empty()) {
                    match contact_links::normalize_tag(raw) {
                        Ok(tag) if !c.tags.contains(&tag) => c.tags.push(tag),
                        Ok(_) => {}
                        Err(code) => {
                            errors.push(FieldError::new("tags", code, format!("\"{raw}\" is not a valid tag.")))
                        }
                    }
                }
            }
            target => {
                if let Some(part) = target.strip_prefix("address.") {
                    let value = text_value(target, cell, 200, &mut errors);
                    match part {
                        "line1" => c.address.line1 = value,
                        "line2" => c.address.line2 = value,
                        "city" => c.address.city = value,
                        "region" => c.address.region = value,
                        "postal_code" => c.address.postal_code = value,
                        _ => c.address.country = value,
                    }
                } else if let Some(key) = target.strip_prefix("custom.")
                    && let Some(def) = ctx.defs.iter().find(|d| d.key == key)
                {
                    custom_raw.insert(key.to_string(), custom_value(def, cell));
                }
            }
        }
    }
    if !custom_raw.is_empty() {
        let mut field_errors = Vec::new();
        c.custom = apply_custom_fields(ctx.defs, &Map::new(), &custom_raw, &mut field_errors);
        // Report custom fields by their column name in the file.
        for error in field_errors {
            let key = error.field.strip_prefix("custom_fields.").unwrap_or(&error.field);
            errors.push(FieldError::new(format!("custom.{key}"), error.code, error.message));
        }
    }
    for tag in ctx.import_tags {
        if !c.tags.contains(tag) {
            c.tags.push(tag.clone());
        }
    }
    if c.emails.is_empty() && c.phones.is_empty() && c.key.is_none() && errors.is_empty() {
        errors.push(FieldError::new(
            "email",
            "missing_identity",
            "Each row needs an email, a phone or an id, so a re-import finds the contact instead of duplicating it.",
        ));
    }
    // What the API asks of any contact.
    let named = c.first_name.is_some() || c.last_name.is_some() || c.company.is_some();
    if !named && c.emails.is_empty() && c.phones.is_empty() && errors.is_empty() {
        errors.push(FieldError::new(
            "first_name",
            "required",
            "Give at least a name, company, email or phone.",
        ));
    }
    if c.emails.len() > contacts::MAX_EMAILS {
        errors.push(FieldError::new(
            "email",
            "too_many",
            format!("At most {} emails.", contacts::MAX_EMAILS),
        ));
    }
    if c.phones.len() > contacts::MAX_PHONES {
        errors.push(FieldError::new(
            "phone",
            "too_many",
            format!("At most {} phones.", contacts::MAX_PHONES),
        ));
    }
    if c.tags.len() > contacts::MAX_TAGS {
        errors.push(FieldError::new(
            "tags",
            "too_many",
            format!("At most {} tags.", contacts::MAX_TAGS),
        ));
    }
    if errors.is_empty() { Ok(c) } else { Err(errors) }
}

pub(super) fn address_or_none(address: Address) -> Option<Address> {
    (address != Address::default()).then_some(address)
}

pub(super) fn new_contact(org_id: &str, c: &Candidate, now: jiff::Timestamp) -> ContactRecord {
    ContactRecord {
        id: new_id(),
        org_id: org_id.to_string(),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        emails: c
            .emails
            .iter()
            .enumerate()
            .map(|(i, address)| ContactEmail {
                address: address.clone(),
                primary: i == 0,
            })
            .collect(),
        phones: c
            .phones
            .iter()
            .enumerate()
            .map(|(i, p)| ContactPhone {
                e164: p.e164.clone(),
                raw: p.raw.clone(),
                national_digits: p.national_digits.clone(),
                primary: i == 0,
            })
            .collect(),
        company: c.company.clone(),
        address: address_or_none(c.address.clone()),
        source: c.source.clone(),
        owner_id: None,
        custom_fields: c.custom.clone(),
        tags: c.tags.clone(),
        sms_consent: None,
        email_consent: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        created_ms: now.as_millisecond(),
        version: 1,
        import_keys: c.key.iter().cloned().collect(),
    }
}

/// `before` with the row's values: given values win, emails/phones/tags are
/// added, custom fields merged key by key. Too many values → row errors.
pub(super) fn merged(before: &ContactRecord, c: &Candidate) -> Result<ContactRecord, Vec<FieldError>> {
    let mut after = before.clone();
    if c.first_name.is_some() {
        after.first_name = c.first_name.clone();
    }
    if c.last_name.is_some() {
        after.last_name = c.last_name.clone();
    }
    if c.company.is_some() {
        after.company = c.company.clone();
    }
    if c.source.is_some() {
        after.source = c.source.clone();
    }
    if c.address != Address::default() {
        let mut address = after.address.clone().unwrap_or_default();
        let a = &c.address;
        for (slot, value) in [
            (&mut address.line1, &a.line1),
            (&mut address.line2, &a.line2),
            (&mut address.city, &a.city),
            (&mut address.region, &a.region),
            (&mut address.postal_code, &a.postal_code),
            (&mut address.country, &a.country),
        ] {
            if value.is_some() {
                *slot = value.clone();
            }
        }
        after.address = address_or_none(address);
    }
    for email in &c.emails {
        if !after.emails.iter().any(|e| &e.address == email) {
            let primary = after.emails.is_empty();
            after.emails.push(ContactEmail {
                address: email.clone(),
                primary,
            });
        }
    }
    for phone in &c.phones {
        if !after.phones.iter().any(|p| p.e164 == phone.e164) {
            let primary = after.phones.is_empty();
            after.phones.push(ContactPhone {
                e164: phone.e164.clone(),
                raw: phone.raw.clone(),
                national_digits: phone.national_digits.clone(),
                primary,
            });
        }
    }
    for (key, value) in &c.custom {
        after.custom_fields.insert(key.clone(), value.clone());
    }
    for tag in &c.tags {
        if !after.tags.contains(tag) {
            after.tags.push(tag.clone());
        }
    }
    // Matched by email or phone (or an import key it has): linked to the
    // row's id from now on. Its own id needs no key.
    if let Some(key) = &c.key
        && key != &after.id
        && !after.import_keys.contains(key)
    {
        after.import_keys.push(key.clone());
    }
    let mut errors = Vec::new();
    if after.emails.len() > contacts::MAX_EMAILS {
        errors.push(FieldError::new(
            "email",
            "too_many",
            "The matching contact would have too many emails.".to_string(),
        ));
    }
    if after.phones.len() > contacts::MAX_PHONES {
        errors.push(FieldError::new(
            "phone",
            "too_many",
            "The matching contact would have too many phones.".to_string(),
        ));
    }
    if after.tags.len() > contacts::MAX_TAGS {
        errors.push(FieldError::new(
            "tags",
            "too_many",
            "The matching contact would have too many tags.".to_string(),
        ));
    }
    if errors.is_empty() { Ok(after) } else { Err(errors) }
}
