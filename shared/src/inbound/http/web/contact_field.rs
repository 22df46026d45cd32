//! Editing one field of a contact in place on its record: htmx swaps the
//! field's value for a small form and back (the value saved, or the form
//! again with its error). Without JavaScript the record's "Edit" links lead
//! to the full edit form instead. The same service as `PATCH /contacts/{id}`,
//! version-checked, changing only that field.

use crate::domain::ids::ContactId;
use askama::Template;
use axum::extract::{Path, Query, State};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{PageError, PageResult, Staff, StaffForm, is_htmx, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::contacts::caller;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::fields::{FieldDef, FieldType};
use crate::services::contacts::{self, ContactPatch, ContactRecord, fields};

/// One field of the record, shown or being edited.
#[derive(Template)]
#[template(path = "staff/contact_field.html")]
pub struct FieldPart {
    pub contact_id: ContactId,
    /// `first_name`, `last_name`, `company` or `custom.<key>`.
    pub field: String,
    /// The element id: `field-<field>` with the dot made a dash.
    pub dom_id: String,
    pub label: String,
    pub value: String,
    /// The input's type: text, number, date, url; `select` for a choice.
    pub kind: &'static str,
    pub options: Vec<String>,
    pub version: u64,
    pub csrf: String,
    pub editing: bool,
    pub error: Option<String>,
}

/// What can be edited in place: the name parts, the company and the custom
/// fields of one value (the others, and emails and phones, on the edit page).
fn editable(field: &str, defs: &[FieldDef]) -> Option<(String, &'static str, Vec<String>)> {
    match field {
        "first_name" => Some(("First name".into(), "text", Vec::new())),
        "last_name" => Some(("Last name".into(), "text", Vec::new())),
        "company" => Some(("Company".into(), "text", Vec::new())),
        other => {
            let key = other.strip_prefix("custom.")?;
            let def = defs.iter().find(|d| d.key == key)?;
            let kind = match def.kind {
                FieldType::Text => "text",
                FieldType::Number => "number",
                FieldType::Date => "date",
                FieldType::Url => "url",
                FieldType::SingleSelect => "select",
                FieldType::Checkbox | FieldType::MultiSelect => return None,
            };
            Some((def.label.clone(), kind, def.options.clone()))
        }
    }
}

fn stored_value(contact: &ContactRecord, field: &str) -> String {
    match field {
        "first_name" => contact.first_name.clone().unwrap_or_default(),
        "last_name" => contact.last_name.clone().unwrap_or_default(),
        "company" => contact.company.clone().unwrap_or_default(),
        other => match other.strip_prefix("custom.").and_then(|k| contact.custom_fields.get(k)) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        },
    }
}

/// The part for `field` of `contact`, or `None` when it is not edited in place.
pub fn part(contact: &ContactRecord, field: &str, defs: &[FieldDef], csrf: &str, editing: bool) -> Option<FieldPart> {
    let (label, kind, options) = editable(field, defs)?;
    Some(FieldPart {
        contact_id: contact.id.clone(),
        field: field.to_string(),
        dom_id: format!("field-{}", field.replace('.', "-")),
        label,
        value: stored_value(contact, field),
        kind,
        options,
        version: contact.version,
        csrf: csrf.to_string(),
        editing,
        error: None,
    })
}

/// The one-field patch: blank clears it.
fn patch_of(field: &str, kind: &str, raw: &str) -> ContactPatch {
    let value = Some(raw.trim().to_string()).filter(|v| !v.is_empty());
    let mut patch = ContactPatch::default();
    match field {
        "first_name" => patch.first_name = Some(value),
        "last_name" => patch.last_name = Some(value),
        "company" => patch.company = Some(value),
        other => {
            let key = other.trim_start_matches("custom.").to_string();
            let value = match (kind, value) {
                (_, None) => Value::Null,
                ("number", Some(raw)) => raw
                    .parse::<i64>()
                    .map(|n| json!(n))
                    .or_else(|_| raw.parse::<f64>().map(|n| json!(n)))
                    .unwrap_or(Value::String(raw)),
                (_, Some(text)) => Value::String(text),
            };
            let mut custom = Map::new();
            custom.insert(key, value);
            patch.custom_fields = Some(custom);
        }
    }
    patch
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct FieldQuery {
    #[serde(default)]
    pub edit: Option<String>,
}

/// `GET /app/contacts/{id}/fields/{field}`: to htmx, the field (`?edit=1`:
/// its form); to a browser without it, the edit page.
pub async fn field(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Path((id, field)): Path<(ContactId, String)>,
    Query(query): Query<FieldQuery>,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let table = state.table.as_ref();
    let contact = contacts::get(table, caller.org_id(), &id).await?;
    if !is_htmx(&headers) {
        return Ok(see_other(&format!("/app/contacts/{id}/edit")));
    }
    let defs = fields::list(table, caller.org_id()).await?;
    let editing = query.edit.is_some();
    let part = part(&contact, &field, &defs, &staff.chrome.csrf, editing).ok_or(PageError(ApiError::NotFound))?;
    Ok(render(StatusCode::OK, &part))
}

/// `POST /app/contacts/{id}/fields/{field}`: saves the one field; the field
/// shown again, or its form with the error.
pub async fn save_field(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, field)): Path<(ContactId, String)>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let table = state.table.as_ref();
    let defs = fields::list(table, caller.org_id()).await?;
    let current = contacts::get(table, caller.org_id(), &id).await?;
    let Some((_, kind, _)) = editable(&field, &defs) else {
        return Err(PageError(ApiError::NotFound));
    };
    let version = form.text("version").parse::<u64>().ok();
    let value = form.text("value");
    let saved = contacts::update(&state, &caller, &id, patch_of(&field, kind, &value), version)
        .await
        .map_err(ApiError::from);
    let htmx = is_htmx(&headers);
    match saved {
        Ok(contact) if htmx => {
            let part = part(&contact, &field, &defs, &staff.chrome.csrf, false).ok_or(PageError(ApiError::NotFound))?;
            Ok(render(StatusCode::OK, &part))
        }
        Ok(_) => Ok(see_other(&format!("/app/contacts/{id}?notice=contact-saved"))),
        Err(err @ (ApiError::Validation(_) | ApiError::PreconditionFailed)) => {
            let message = match &err {
                ApiError::PreconditionFailed => {
                    "Someone changed this contact meanwhile: reload the page to see their change.".to_string()
                }
                other => other
                    .problem()
                    .errors
                    .first()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| "That did not work.".into()),
            };
            let mut part =
                part(&current, &field, &defs, &staff.chrome.csrf, true).ok_or(PageError(ApiError::NotFound))?;
            part.value = value;
            part.error = Some(message);
            // htmx swaps only a success; a browser without it gets the status.
            let status = if htmx {
                StatusCode::OK
            } else {
                StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            };
            Ok(render(status, &part))
        }
        Err(other) => Err(PageError(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_value_clears_the_field_and_numbers_are_numbers() {
        assert_eq!(patch_of("company", "text", "  ").company, Some(None));
        let patch = patch_of("custom.size", "number", "42");
        assert_eq!(patch.custom_fields.unwrap()["size"], json!(42));
        let patch = patch_of("custom.size", "number", "");
        assert_eq!(patch.custom_fields.unwrap()["size"], Value::Null);
    }
}
