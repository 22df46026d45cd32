//! One CSV row: parsed and validated into a candidate contact, then made
//! into a new contact or merged into the one it matches. The checks are the
//! contact model's own (`domain::contact`); only the reading of cells and the
//! column names in the error report are the importer's.

use crate::domain::ids::OrgId;
use serde_json::{Map, Value};

use super::ColumnMap;
use crate::domain::contact::{
    Address, BoundedList, ContactPhone, ContactRecord, FieldDef, FieldType, apply_values, clean_text, normalize_tag,
    too_many,
};
use crate::domain::email::Email;
use crate::domain::input::FieldError;
use crate::domain::phone::Phone;
use crate::domain::spreadsheet::unescape_formula;
use crate::services::records::new_id;

/// A row, parsed and validated, not yet matched.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    /// The row's `id` column: see the module's Identity section.
    pub(super) key: Option<String>,
    /// The row's values as a contact without id or organization.
    pub(super) contact: ContactRecord,
}

pub(super) fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split([';', '\n']).map(str::trim).filter(|s| !s.is_empty())
}

fn text_value(field: &str, cell: &str, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    clean_text(field, Some(cell.to_string()), max, errors)
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

/// The column an error about a whole list is reported on.
fn column_of(list: BoundedList) -> &'static str {
    match list {
        BoundedList::Emails => "email",
        BoundedList::Phones => "phone",
        BoundedList::Tags => "tags",
    }
}

pub(super) type Parsed = Result<Candidate, Vec<FieldError>>;

pub(super) struct RowContext<'a> {
    pub(super) mapping: &'a [ColumnMap],
    pub(super) defs: &'a [FieldDef],
    pub(super) region: &'a str,
    pub(super) import_tags: &'a [String],
}

pub(super) fn parse_row(ctx: &RowContext<'_>, record: &csv::StringRecord) -> Parsed {
    let mut errors = Vec::new();
    let mut key = None;
    // Only its values are used: a new contact gets its id and times in
    // `new_contact`, a matched one keeps its own.
    let mut c = ContactRecord::empty("", "", jiff::Timestamp::UNIX_EPOCH);
    let mut address = Address::default();
    let mut custom_raw = Map::new();
    for column in ctx.mapping {
        let cell = unescape_formula(record.get(column.column).unwrap_or_default());
        if cell.is_empty() {
            continue;
        }
        match column.target.as_str() {
            "id" => key = text_value("id", cell, 100, &mut errors),
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
                        Ok(email) => c.add_email(&email),
                        Err(err) => errors.push(FieldError::new("email", err.code(), err.message())),
                    }
                }
            }
            "phone" => {
                for raw in split_list(cell) {
                    match Phone::parse(raw, ctx.region) {
                        Ok(phone) => c.add_phone(&ContactPhone::from(&phone)),
                        Err(err) => errors.push(FieldError::new("phone", err.code(), err.message())),
                    }
                }
            }
            "company" => c.company = text_value("company", cell, 200, &mut errors),
            "source" => c.source = text_value("source", cell, 100, &mut errors),
            "tags" => {
                for raw in cell.split([';', ',']).map(str::trim).filter(|t| !t.is_empty()) {
                    match normalize_tag(raw) {
                        Ok(tag) => c.add_tag(&tag),
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
                        "line1" => address.line1 = value,
                        "line2" => address.line2 = value,
                        "city" => address.city = value,
                        "region" => address.region = value,
                        "postal_code" => address.postal_code = value,
                        _ => address.country = value,
                    }
                } else if let Some(key) = target.strip_prefix("custom.")
                    && let Some(def) = ctx.defs.iter().find(|d| d.key == key)
                {
                    custom_raw.insert(key.to_string(), custom_value(def, cell));
                }
            }
        }
    }
    c.address = address.non_empty();
    if !custom_raw.is_empty() {
        let mut field_errors = Vec::new();
        c.custom_fields = apply_values(ctx.defs, &Map::new(), &custom_raw, &mut field_errors);
        // Report custom fields by their column name in the file.
        for error in field_errors {
            let key = error.field.strip_prefix("custom_fields.").unwrap_or(&error.field);
            errors.push(FieldError::new(format!("custom.{key}"), error.code, error.message));
        }
    }
    for tag in ctx.import_tags {
        c.add_tag(tag);
    }
    if c.emails.is_empty() && c.phones.is_empty() && key.is_none() && errors.is_empty() {
        errors.push(FieldError::new(
            "email",
            "missing_identity",
            "Each row needs an email, a phone or an id, so a re-import finds the contact instead of duplicating it.",
        ));
    }
    // What the API asks of any contact.
    if !c.is_identifiable() && errors.is_empty() {
        errors.push(ContactRecord::identity_error());
    }
    for list in c.lists_over_limit() {
        errors.push(too_many(list, column_of(list)));
    }
    if errors.is_empty() {
        Ok(Candidate { key, contact: c })
    } else {
        Err(errors)
    }
}

pub(super) fn new_contact(org_id: &OrgId, c: &Candidate, now: jiff::Timestamp) -> ContactRecord {
    let mut contact = ContactRecord {
        import_keys: c.key.iter().cloned().collect(),
        ..ContactRecord::empty(new_id(), org_id, now)
    };
    contact.overlay(&c.contact);
    contact
}

/// `before` with the row's values: given values win, emails/phones/tags are
/// added, custom fields merged key by key. Too many values → row errors.
pub(super) fn merged(before: &ContactRecord, c: &Candidate) -> Result<ContactRecord, Vec<FieldError>> {
    let mut after = before.clone();
    after.overlay(&c.contact);
    // Matched by email or phone (or an import key it has): linked to the
    // row's id from now on.
    if let Some(key) = &c.key {
        after.add_import_key(key);
    }
    let errors: Vec<FieldError> = after
        .lists_over_limit()
        .into_iter()
        .map(|list| {
            FieldError::new(
                column_of(list),
                "too_many",
                format!("The matching contact would have too many {}.", list.name()),
            )
        })
        .collect();
    if errors.is_empty() { Ok(after) } else { Err(errors) }
}

/// One data row as the importer reads it: the contact it would write, or
/// the row's errors.
pub type RowOutcome = Result<ContactRecord, Vec<FieldError>>;

/// What the importer makes of a whole file before any contact is matched:
/// the header's mapping and, per data row, the contact it would write or the
/// row's errors. The same steps the upload and the job run, without a store,
/// so hostile files can be checked against them in isolation (the fuzz
/// targets and their corpus replay).
pub fn read_file(
    csv: &[u8],
    defs: &[FieldDef],
    overrides: &std::collections::BTreeMap<String, String>,
    region: &str,
) -> Result<(Vec<ColumnMap>, Vec<RowOutcome>), super::ImportError> {
    let mut records = super::mapping::parse_records(csv)?;
    if records.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let headers: Vec<String> = records.remove(0).iter().map(str::to_string).collect();
    let keys: Vec<String> = defs.iter().map(|d| d.key.clone()).collect();
    let mapping = super::mapping::build_mapping(&headers, &keys, overrides)?;
    let ctx = RowContext {
        mapping: &mapping,
        defs,
        region,
        import_tags: &[],
    };
    let rows = records
        .iter()
        .map(|record| parse_row(&ctx, record).map(|c| c.contact))
        .collect();
    Ok((mapping, rows))
}
