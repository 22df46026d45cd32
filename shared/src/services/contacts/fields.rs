//! Custom field definitions per organization: their storage and use cases.
//! The check of a contact's values against them is in `domain::contact`.

use crate::domain::ids::OrgId;
use serde::Deserialize;
use serde_json::json;

use super::{Caller, ContactError, Errors};
pub use crate::domain::contact::{FieldDef, FieldType, apply_values, check_value};
use crate::domain::input::FieldError;
use crate::ports::{Condition, Key, Query, SortKey, StoreError, Table, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit;
use crate::services::records::{from_item, new_id, to_item};

pub const MAX_FIELDS: usize = 200;
pub const MAX_OPTIONS: usize = 100;

pub fn fields_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#FIELDS")
}
pub fn field_key(org_id: &OrgId, field_id: &str) -> Key {
    Key::new(fields_partition(org_id), format!("FIELD#{field_id}"))
}
pub fn field_name_key(org_id: &OrgId, key: &str) -> Key {
    Key::new(format!("ORG#{org_id}#FIELDKEY#{key}"), "FIELD")
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldPatch {
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub options: Option<Vec<String>>,
}

/// All definitions of the organization: one query.
pub async fn list(table: &dyn Table, org_id: &OrgId) -> Result<Vec<FieldDef>, StoreError> {
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
            errors.push(FieldError::new(
                format!("options[{i}]"),
                "invalid_option",
                "An option has 1 to 100 characters.",
            ));
        } else if !options.contains(&option) {
            options.push(option);
        }
    }
    let select = matches!(kind, FieldType::SingleSelect | FieldType::MultiSelect);
    if select && options.is_empty() {
        errors.push(FieldError::new(
            "options",
            "required",
            "A select field needs at least one option.",
        ));
    }
    if !select && !options.is_empty() {
        errors.push(FieldError::new(
            "options",
            "not_allowed",
            "Only select fields have options.",
        ));
    }
    if options.len() > MAX_OPTIONS {
        errors.push(FieldError::new(
            "options",
            "too_many",
            format!("At most {MAX_OPTIONS} options."),
        ));
    }
    options
}

fn clean_label(raw: &str, errors: &mut Errors) -> String {
    let label = raw.trim().to_string();
    if label.is_empty() || label.chars().count() > 100 {
        errors.push(FieldError::new("label", "required", "A label has 1 to 100 characters."));
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
        errors.push(FieldError::new(
            "key",
            "invalid_key",
            "A key is 1 to 40 lower-case letters, digits or '_', starting with a letter.",
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

async fn get(table: &dyn Table, org_id: &OrgId, field_id: &str) -> Result<FieldDef, ContactError> {
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
