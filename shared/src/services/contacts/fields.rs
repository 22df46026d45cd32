//! Custom field definitions per organization and the validation of contact
//! values against them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Caller, ContactError, Errors};
use crate::ports::{Condition, Key, Query, SortKey, Table, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit;
use crate::services::records::{from_item, new_id, to_item};

pub const MAX_FIELDS: usize = 200;
pub const MAX_OPTIONS: usize = 100;

pub fn fields_partition(org_id: &str) -> String {
    format!("ORG#{org_id}#FIELDS")
}
pub fn field_key(org_id: &str, field_id: &str) -> Key {
    Key::new(fields_partition(org_id), format!("FIELD#{field_id}"))
}
pub fn field_name_key(org_id: &str, key: &str) -> Key {
    Key::new(format!("ORG#{org_id}#FIELDKEY#{key}"), "FIELD")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Date,
    SingleSelect,
    MultiSelect,
    Checkbox,
    Url,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub id: String,
    /// Immutable machine key: the name of the value in `custom_fields`.
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub options: Vec<String>,
    pub created_at: String,
    pub version: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewField {
    pub label: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldPatch {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub options: Option<Vec<String>>,
}

/// All definitions of the organization: one query.
pub async fn list(table: &dyn Table, org_id: &str) -> Result<Vec<FieldDef>, ContactError> {
    let page = table
        .query(
            &Query::partition(fields_partition(org_id))
                .sort(SortKey::BeginsWith("FIELD#".into()))
                .limit(MAX_FIELDS as u32),
        )
        .await?;
    let mut out = Vec::new();
    for item in page.items {
        out.push(from_item::<FieldDef>(item)?);
    }
    Ok(out)
}

fn key_from(label: &str) -> String {
    let mut key = String::new();
    for c in crate::domain::fold::fold(label).chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.ends_with('_') && !key.is_empty() {
            key.push('_');
        }
    }
    key.trim_end_matches('_').chars().take(40).collect()
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn clean_options(kind: FieldType, raw: &[String], errors: &mut Errors) -> Vec<String> {
    let mut options: Vec<String> = Vec::new();
    for (i, option) in raw.iter().enumerate() {
        let option = option.trim().to_string();
        if option.is_empty() || option.chars().count() > 100 {
            errors.push((
                format!("options[{i}]"),
                "invalid_option",
                "An option has 1 to 100 characters.".into(),
            ));
        } else if !options.contains(&option) {
            options.push(option);
        }
    }
    let select = matches!(kind, FieldType::SingleSelect | FieldType::MultiSelect);
    if select && options.is_empty() {
        errors.push((
            "options".into(),
            "required",
            "A select field needs at least one option.".into(),
        ));
    }
    if !select && !options.is_empty() {
        errors.push((
            "options".into(),
            "not_allowed",
            "Only select fields have options.".into(),
        ));
    }
    if options.len() > MAX_OPTIONS {
        errors.push(("options".into(), "too_many", format!("At most {MAX_OPTIONS} options.")));
    }
    options
}

fn clean_label(raw: &str, errors: &mut Errors) -> String {
    let label = raw.trim().to_string();
    if label.is_empty() || label.chars().count() > 100 {
        errors.push(("label".into(), "required", "A label has 1 to 100 characters.".into()));
    }
    label
}

pub async fn create(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    input: NewField,
) -> Result<FieldDef, ContactError> {
    let now = state.clock().now();
    let mut errors = Errors::new();
    let label = clean_label(&input.label, &mut errors);
    let key = input
        .key
        .as_deref()
        .map(|k| k.trim().to_string())
        .unwrap_or_else(|| key_from(&label));
    if !valid_key(&key) {
        errors.push((
            "key".into(),
            "invalid_key",
            "A key is 1 to 40 lower-case letters, digits or '_', starting with a letter.".into(),
        ));
    }
    let options = clean_options(input.kind, &input.options, &mut errors);
    if !errors.is_empty() {
        return Err(ContactError::Invalid(errors));
    }
    let def = FieldDef {
        id: new_id(),
        key,
        label,
        kind: input.kind,
        options,
        created_at: now.to_string(),
        version: 1,
    };
    let org_id = caller.org_id();
    let name_key = field_name_key(org_id, &def.key);
    let ops = vec![
        WriteOp::Put {
            item: to_item(&field_key(org_id, &def.id), &def, &[])?,
            condition: Some(Condition::NotExists),
        },
        WriteOp::Put {
            item: to_item(&name_key, &json!({ "field_id": def.id }), &[])?,
            condition: Some(Condition::NotExists),
        },
        audit::entry(
            &caller.actor,
            now,
            "field.created",
            &format!("field:{}", def.id),
            json!({ "key": def.key, "type": def.kind }),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(def),
        Err(err) if err.is_condition_failure() => Err(ContactError::field(
            "key",
            "key_taken",
            "Another custom field has this key.",
        )),
        Err(err) => Err(err.into()),
    }
}

async fn get(table: &dyn Table, org_id: &str, field_id: &str) -> Result<FieldDef, ContactError> {
    let item = table
        .get(&field_key(org_id, field_id))
        .await?
        .ok_or(ContactError::NotFound)?;
    Ok(from_item(item)?)
}

pub async fn update(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    field_id: &str,
    patch: FieldPatch,
) -> Result<FieldDef, ContactError> {
    let now = state.clock().now();
    let org_id = caller.org_id();
    let before = get(state.table().as_ref(), org_id, field_id).await?;
    let mut after = before.clone();
    let mut errors = Errors::new();
    if let Some(label) = &patch.label {
        after.label = clean_label(label, &mut errors);
    }
    if let Some(options) = &patch.options {
        after.options = clean_options(after.kind, options, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ContactError::Invalid(errors));
    }
    if after == before {
        return Ok(before);
    }
    after.version += 1;
    let ops = vec![
        WriteOp::Put {
            item: to_item(&field_key(org_id, field_id), &after, &[])?,
            condition: Some(Condition::VersionEquals(before.version)),
        },
        audit::entry(
            &caller.actor,
            now,
            "field.updated",
            &format!("field:{field_id}"),
            json!({ "label": after.label, "options": after.options }),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(after),
        Err(err) if err.is_condition_failure() => Err(ContactError::StaleVersion),
        Err(err) => Err(err.into()),
    }
}

/// Removes the definition. Values stored on contacts stay inert (never shown
/// as a field, dropped the next time the contact is written).
pub async fn delete(state: &(impl HasTable + HasClock), caller: &Caller, field_id: &str) -> Result<(), ContactError> {
    let now = state.clock().now();
    let org_id = caller.org_id();
    let def = get(state.table().as_ref(), org_id, field_id).await?;
    let ops = vec![
        WriteOp::Delete {
            key: field_key(org_id, field_id),
            condition: Some(Condition::Exists),
        },
        WriteOp::Delete {
            key: field_name_key(org_id, &def.key),
            condition: None,
        },
        audit::entry(
            &caller.actor,
            now,
            "field.deleted",
            &format!("field:{field_id}"),
            json!({ "key": def.key }),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(()),
        Err(err) if err.is_condition_failure() => Err(ContactError::NotFound),
        Err(err) => Err(err.into()),
    }
}

/// Checks one value against its definition; `Err((code, message))`.
pub fn check_value(def: &FieldDef, value: &Value) -> Result<Value, (&'static str, String)> {
    let invalid = |message: &str| Err(("invalid_value", message.to_string()));
    match def.kind {
        FieldType::Text => match value.as_str().map(str::trim) {
            Some(t) if t.chars().count() <= 2000 => Ok(Value::from(t)),
            Some(_) => Err(("too_long", "Use at most 2000 characters.".into())),
            None => invalid("Expected text."),
        },
        FieldType::Number => match value.as_f64() {
            Some(n) if n.is_finite() => Ok(value.clone()),
            _ => invalid("Expected a number."),
        },
        FieldType::Date => match value.as_str().map(|s| s.trim().parse::<jiff::civil::Date>()) {
            Some(Ok(date)) => Ok(Value::from(date.to_string())),
            _ => invalid("Expected a date as YYYY-MM-DD."),
        },
        FieldType::Checkbox => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => invalid("Expected true or false."),
        },
        FieldType::Url => {
            let mut errors = Vec::new();
            match value.as_str() {
                Some(text) => {
                    let url = crate::domain::input::optional_url("url", Some(text), &mut errors);
                    match (url, errors.is_empty()) {
                        (Some(url), true) => Ok(Value::from(url)),
                        _ => invalid("Expected a full http(s) address."),
                    }
                }
                None => invalid("Expected a full http(s) address."),
            }
        }
        FieldType::SingleSelect => match value.as_str() {
            Some(choice) if def.options.iter().any(|o| o == choice) => Ok(value.clone()),
            _ => Err(("invalid_option", format!("Choose one of: {}.", def.options.join(", ")))),
        },
        FieldType::MultiSelect => {
            let Some(choices) = value.as_array() else {
                return invalid("Expected a list of options.");
            };
            let mut out: Vec<String> = Vec::new();
            for choice in choices {
                match choice.as_str() {
                    Some(c) if def.options.iter().any(|o| o == c) => {
                        if !out.iter().any(|o| o == c) {
                            out.push(c.to_string());
                        }
                    }
                    _ => return Err(("invalid_option", format!("Choose from: {}.", def.options.join(", ")))),
                }
            }
            Ok(Value::from(out))
        }
    }
}

/// The contact's custom values after applying `changes` to `current`: each
/// change validated (`null` removes); values of deleted definitions dropped.
pub fn apply_values(
    defs: &[FieldDef],
    current: &Map<String, Value>,
    changes: &Map<String, Value>,
    errors: &mut Errors,
) -> Map<String, Value> {
    let mut out: Map<String, Value> = current
        .iter()
        .filter(|(k, _)| defs.iter().any(|d| &d.key == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in changes {
        let field = format!("custom_fields.{key}");
        let Some(def) = defs.iter().find(|d| &d.key == key) else {
            errors.push((field, "unknown_field", "There is no custom field with this key.".into()));
            continue;
        };
        if value.is_null() {
            out.remove(key);
            continue;
        }
        match check_value(def, value) {
            Ok(value) => {
                out.insert(key.clone(), value);
            }
            Err((code, message)) => errors.push((field, code, message)),
        }
    }
    out
}
