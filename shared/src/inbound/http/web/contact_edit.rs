//! Changing a contact from its record: the edit form (the fields, the tags
//! and every custom field the organization defined), deleting the contact
//! after a confirmation that names what goes with it, and editing or
//! deleting a note. Plain forms posted and redirected; the record's edit
//! link is loaded in place by htmx when it is there. The same services as
//! `PATCH /contacts/{id}`, `DELETE /contacts/{id}` and the notes routes.

use crate::domain::ids::ContactId;
use askama::Template;
use axum::extract::{Path, State};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::contact_record::{Refused, refused_page};
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::contacts::caller;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::fields::{FieldDef, FieldType};
use crate::services::contacts::{self, ContactPatch, ContactRecord, fields, notes};

/// One custom field's input.
pub struct CustomInput {
    /// The form field's name and id: `cf-<key>`.
    pub id: String,
    pub label: String,
    /// "text", "number", "date", "url", "checkbox", "select", "multi".
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    /// (option, selected)
    pub options: Vec<(String, bool)>,
}

fn input_id(key: &str) -> String {
    format!("cf-{key}")
}

fn kind_of(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text => "text",
        FieldType::Number => "number",
        FieldType::Date => "date",
        FieldType::Url => "url",
        FieldType::Checkbox => "checkbox",
        FieldType::SingleSelect => "select",
        FieldType::MultiSelect => "multi",
    }
}

/// The inputs of the custom fields, filled from the form (after a refusal)
/// or from the contact's stored values.
fn custom_inputs(defs: &[FieldDef], stored: &Map<String, Value>, form: Option<&FormData>) -> Vec<CustomInput> {
    defs.iter()
        .map(|def| {
            let id = input_id(&def.key);
            let stored_value = stored.get(&def.key);
            let chosen: Vec<String> = match form {
                Some(form) => form.all(&id),
                None => match stored_value {
                    Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Number(n)) => vec![n.to_string()],
                    Some(Value::Bool(true)) => vec!["true".into()],
                    _ => Vec::new(),
                },
            };
            let value = match form {
                Some(form) => form.text(&id),
                None => chosen.first().cloned().unwrap_or_default(),
            };
            CustomInput {
                label: def.label.clone(),
                kind: kind_of(def.kind),
                checked: !chosen.is_empty() && chosen.iter().any(|c| c == "true"),
                options: def
                    .options
                    .iter()
                    .map(|option| (option.clone(), chosen.contains(option)))
                    .collect(),
                value,
                id,
            }
        })
        .collect()
}

/// A custom field's form value as the API takes it: blank clears it.
fn custom_value(def: &FieldDef, form: &FormData) -> Value {
    let id = input_id(&def.key);
    match def.kind {
        FieldType::Checkbox => Value::Bool(form.text(&id) == "true"),
        FieldType::MultiSelect => json!(form.all(&id)),
        FieldType::Number => match form.optional(&id) {
            None => Value::Null,
            // Unreadable numbers go through as text, for the service to refuse at the field.
            Some(raw) => match raw.parse::<i64>() {
                Ok(whole) => json!(whole),
                Err(_) => raw
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::String(raw)),
            },
        },
        _ => form.optional(&id).map(Value::String).unwrap_or(Value::Null),
    }
}

/// The edit form as the API's patch: every field given (blank clears).
fn patch_of(form: &FormData, defs: &[FieldDef]) -> Result<ContactPatch, ApiError> {
    let tags: Vec<String> = form
        .text("tags")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let custom: Map<String, Value> = defs
        .iter()
        .map(|def| (def.key.clone(), custom_value(def, form)))
        .collect();
    let body = json!({
        "first_name": form.optional("first_name"),
        "last_name": form.optional("last_name"),
        "emails": form.optional("email").into_iter().collect::<Vec<_>>(),
        "phones": form.optional("phone").into_iter().collect::<Vec<_>>(),
        "company": form.optional("company"),
        "tags": tags,
        "custom_fields": custom,
    });
    serde_json::from_value(body).map_err(|err| ApiError::BadRequest {
        code: "invalid_form",
        field: None,
        detail: err.to_string(),
    })
}

/// The API's name of a field in the edit form's terms.
fn form_field(api_field: &str) -> String {
    if let Some(key) = api_field.strip_prefix("custom_fields.") {
        return input_id(key);
    }
    for (prefix, name) in [("emails", "email"), ("phones", "phone"), ("tags", "tags")] {
        if api_field.starts_with(prefix) {
            return name.into();
        }
    }
    api_field.to_string()
}

#[derive(Template)]
#[template(path = "staff/contact_edit.html")]
struct EditPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    id: ContactId,
    name: String,
    version: u64,
    errors: FieldErrors,
    form: FormData,
    custom: Vec<CustomInput>,
}

/// The form as the stored contact fills it.
fn form_of(contact: &ContactRecord) -> FormData {
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("first_name", contact.first_name.clone().unwrap_or_default()),
            ("last_name", contact.last_name.clone().unwrap_or_default()),
            ("email", contact.primary_email().unwrap_or_default().to_string()),
            ("phone", contact.primary_phone().unwrap_or_default().to_string()),
            ("company", contact.company.clone().unwrap_or_default()),
            ("tags", contact.tags.join(", ")),
        ])
        .finish();
    FormData::parse(encoded.as_bytes())
}

fn display_name(contact: &ContactRecord) -> String {
    let name = contact.display_name();
    if name.is_empty() { "(no name)".into() } else { name }
}

/// `GET /app/contacts/{id}/edit`.
pub async fn edit(State(state): State<AppState>, staff: Staff, Path(id): Path<ContactId>) -> PageResult {
    let caller = caller(&staff.auth)?;
    let table = state.table.as_ref();
    let contact = contacts::get(table, caller.org_id(), &id).await?;
    let defs = fields::list(table, caller.org_id()).await?;
    let staff = staff.in_section("contacts");
    let name = display_name(&contact);
    Ok(render(
        StatusCode::OK,
        &EditPage {
            title: format!("Edit {name}"),
            chrome: Some(staff.chrome),
            notice: None,
            custom: custom_inputs(&defs, &contact.custom_fields, None),
            form: form_of(&contact),
            id,
            name,
            version: contact.version,
            errors: FieldErrors::default(),
        },
    ))
}

/// `POST /app/contacts/{id}`: saves the edit form, back to the record.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<ContactId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let table = state.table.as_ref();
    let defs = fields::list(table, caller.org_id()).await?;
    let version = form.text("version").parse::<u64>().ok();
    let saved = match patch_of(&form, &defs) {
        Ok(patch) => contacts::update(&state, &caller, &id, patch, version)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match saved {
        Ok(_) => Ok(see_other(&format!("/app/contacts/{id}?notice=contact-saved"))),
        Err(
            err @ (ApiError::Validation(_)
            | ApiError::Duplicate { .. }
            | ApiError::BadRequest { .. }
            | ApiError::PreconditionFailed),
        ) => {
            let status = StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let contact = contacts::get(table, caller.org_id(), &id).await?;
            let errors = match &err {
                ApiError::Duplicate { field, detail, .. } => {
                    FieldErrors::from_api(&ApiError::field(&form_field(field), "duplicate", detail), |f| f)
                }
                ApiError::PreconditionFailed => FieldErrors::from_api(
                    &ApiError::Conflict {
                        code: "stale_version",
                        detail: "Someone changed this contact meanwhile: reload the page to see their change.".into(),
                    },
                    |f| f,
                ),
                other => FieldErrors::from_api_owned(other, form_field),
            };
            let staff = staff.in_section("contacts");
            let name = display_name(&contact);
            Ok(render(
                status,
                &EditPage {
                    title: format!("Edit {name}"),
                    chrome: Some(staff.chrome),
                    notice: None,
                    custom: custom_inputs(&defs, &contact.custom_fields, Some(&form)),
                    id,
                    name,
                    version: contact.version,
                    errors,
                    form,
                },
            ))
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `POST /app/contacts/{id}/delete`: the record's confirmed delete.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<ContactId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let version = form.text("version").parse::<u64>().ok();
    contacts::delete(&state, &caller, &id, version).await?;
    // The contact's form submissions go with the contact (erasure).
    crate::services::forms::submissions::erase_for_contact(state.table.as_ref(), caller.org_id(), &id)
        .await
        .map_err(crate::inbound::http::problem::ApiError::from)?;
    Ok(see_other("/app/contacts?notice=contact-deleted"))
}

/// `POST /app/contacts/{id}/notes/{note_id}`: rewrites a note.
pub async fn update_note(
    State(state): State<AppState>,
    Path((id, note_id)): Path<(ContactId, String)>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let body = form.text("body");
    match notes::update(&state, &caller, &id, &note_id, &body)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => Ok(see_other(&format!("/app/contacts/{id}?notice=note-saved"))),
        Err(err @ ApiError::Validation(_)) => {
            let field = format!("note-{note_id}");
            let refused = Refused {
                errors: FieldErrors::from_api_owned(&err, |_| field.clone()),
                note_edit: Some((note_id, body)),
                ..Refused::default()
            };
            refused_page(&state, staff, &id, StatusCode::UNPROCESSABLE_ENTITY, refused).await
        }
        Err(other) => Err(PageError(other)),
    }
}

/// `POST /app/contacts/{id}/notes/{note_id}/delete`.
pub async fn delete_note(
    State(state): State<AppState>,
    Path((id, note_id)): Path<(ContactId, String)>,
    StaffForm { staff, .. }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    notes::delete(&state, &caller, &id, &note_id).await?;
    Ok(see_other(&format!("/app/contacts/{id}?notice=note-deleted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_fields_map_to_the_edit_forms_fields() {
        assert_eq!(form_field("custom_fields.shoe_size"), "cf-shoe_size");
        assert_eq!(form_field("emails[0]"), "email");
        assert_eq!(form_field("last_name"), "last_name");
    }
}
