//! Custom fields: an organization's definitions and the check of a contact's
//! values against them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::input::{FieldError, optional_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
                    let url = optional_url("url", Some(text), &mut errors);
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
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let mut out: Map<String, Value> = current
        .iter()
        .filter(|(k, _)| defs.iter().any(|d| &d.key == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, value) in changes {
        let field = format!("custom_fields.{key}");
        let Some(def) = defs.iter().find(|d| &d.key == key) else {
            errors.push(FieldError::new(
                field,
                "unknown_field",
                "There is no custom field with this key.",
            ));
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
            Err((code, message)) => errors.push(FieldError::new(field, code, message)),
        }
    }
    out
}
