//! Merging another contact into this one from its record: find the other
//! contact, see both side by side, choose per field whose value stays where
//! both have one, and merge. Emails, phones, tags, notes and the timeline
//! of both are kept. The same service as `POST /contacts/merge`.

use crate::domain::ids::ContactId;
use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::contacts::Row;
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::contacts::caller;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::{self, ContactRecord, fields, merge};

/// Contacts offered when looking for the other one.
const CANDIDATES: u32 = 20;

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct MergeQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub other: Option<String>,
}

/// One field of the side-by-side comparison.
pub struct Compared {
    /// The form field of the choice: `pick-<field>`.
    pub id: String,
    pub label: String,
    pub this: String,
    pub other: String,
    /// Both have a value and they differ: the member chooses.
    pub choose: bool,
    pub other_chosen: bool,
}

#[derive(Template)]
#[template(path = "staff/contact_merge.html")]
struct MergePage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    contact: Row,
    q: String,
    /// Contacts found for `q` (the other one to pick).
    found: Vec<Row>,
    /// The other contact, once picked.
    other: Option<Row>,
    compared: Vec<Compared>,
    errors: FieldErrors,
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_string()
}

fn address_text(contact: &ContactRecord) -> String {
    contact
        .address
        .as_ref()
        .and_then(|address| serde_json::to_value(address).ok())
        .and_then(|value| value.as_object().cloned())
        .map(|map| {
            map.values()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn custom_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "Yes".into(),
        Some(Value::Bool(false)) => "No".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// The two contacts field by field; `form` holds the choices made so far.
fn compare(
    a: &ContactRecord,
    b: &ContactRecord,
    labels: &[(String, String)],
    form: Option<&FormData>,
) -> Vec<Compared> {
    let mut pairs: Vec<(String, String, String, String)> = vec![
        (
            "first_name".into(),
            "First name".into(),
            text(a.first_name.as_deref()),
            text(b.first_name.as_deref()),
        ),
        (
            "last_name".into(),
            "Last name".into(),
            text(a.last_name.as_deref()),
            text(b.last_name.as_deref()),
        ),
        (
            "company".into(),
            "Company".into(),
            text(a.company.as_deref()),
            text(b.company.as_deref()),
        ),
        ("address".into(), "Address".into(), address_text(a), address_text(b)),
        (
            "source".into(),
            "Source".into(),
            text(a.source.as_deref()),
            text(b.source.as_deref()),
        ),
    ];
    for (key, label) in labels {
        pairs.push((
            format!("custom.{key}"),
            label.clone(),
            custom_text(a.custom_fields.get(key)),
            custom_text(b.custom_fields.get(key)),
        ));
    }
    pairs
        .into_iter()
        .filter(|(_, _, this, other)| !this.is_empty() || !other.is_empty())
        .map(|(field, label, this, other)| {
            let id = format!("pick-{}", field.replace('.', "-"));
            let choose = !this.is_empty() && !other.is_empty() && this != other;
            let other_chosen = choose && form.is_some_and(|f| f.text(&id) == "other");
            Compared {
                id,
                label,
                this,
                other,
                choose,
                other_chosen,
            }
        })
        .collect()
}

/// The service's field for a choice's form field.
fn field_of_choice(id: &str, labels: &[(String, String)]) -> Option<String> {
    let field = id.strip_prefix("pick-")?;
    if merge::CHOOSABLE.contains(&field) {
        return Some(field.to_string());
    }
    let key = field.strip_prefix("custom-")?;
    labels.iter().any(|(k, _)| k == key).then(|| format!("custom.{key}"))
}

async fn merge_page(
    state: &AppState,
    staff: Staff,
    id: &ContactId,
    query: MergeQuery,
    form: Option<&FormData>,
    errors: FieldErrors,
) -> Result<MergePage, PageError> {
    let caller = caller(&staff.auth)?;
    let table = state.table.as_ref();
    let a = contacts::get(table, caller.org_id(), id).await?;
    let q = query.q.clone().unwrap_or_default();
    let labels: Vec<(String, String)> = fields::list(table, caller.org_id())
        .await?
        .into_iter()
        .map(|d| (d.key, d.label))
        .collect();
    let (other, compared) = match query.other.as_deref().filter(|o| !o.is_empty()) {
        Some(other_id) => {
            let b = contacts::get(table, caller.org_id(), &ContactId::from(other_id)).await?;
            let compared = compare(&a, &b, &labels, form);
            (Some(Row::of(&b)), compared)
        }
        None => (None, Vec::new()),
    };
    let found = match q.trim() {
        "" => Vec::new(),
        text => contacts::search(table, caller.org_id(), text, CANDIDATES, None)
            .await?
            .0
            .iter()
            .filter(|c| c.id != a.id)
            .map(Row::of)
            .collect(),
    };
    let row = Row::of(&a);
    let staff = staff.in_section("contacts");
    Ok(MergePage {
        title: format!("Merge into {}", row.name),
        chrome: Some(staff.chrome),
        notice: None,
        contact: row,
        q,
        found,
        other,
        compared,
        errors,
    })
}

/// `GET /app/contacts/{id}/merge`: find the other contact, then both side by side.
pub async fn merge_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<ContactId>,
    Query(query): Query<MergeQuery>,
) -> PageResult {
    let page = merge_page(&state, staff, &id, query, None, FieldErrors::default()).await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/contacts/{id}/merge`: merges the other contact into this one
/// with the values chosen, back to this record.
pub async fn merge_contacts(
    State(state): State<AppState>,
    Path(id): Path<ContactId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let other = ContactId::from(form.text("other_id"));
    let labels: Vec<(String, String)> = fields::list(state.table.as_ref(), caller.org_id())
        .await?
        .into_iter()
        .map(|d| (d.key, d.label))
        .collect();
    let from_other: Vec<String> = form
        .pairs()
        .filter(|(_, value)| *value == "other")
        .filter_map(|(name, _)| field_of_choice(name, &labels))
        .collect();
    match merge::merge_with_choices(&state, &caller, &id, &other, &from_other)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => {
            // The merged-away contact's form submissions follow it.
            crate::services::forms::submissions::reassign_contact(state.table.as_ref(), caller.org_id(), &other, &id)
                .await
                .map_err(ApiError::from)?;
            Ok(see_other(&format!("/app/contacts/{id}?notice=contacts-merged")))
        }
        Err(err @ ApiError::Validation(_)) => {
            let errors = FieldErrors::from_api(&err, |_| "");
            let query = MergeQuery {
                q: None,
                other: Some(other.into_string()).filter(|o| *o != id),
            };
            let page = merge_page(&state, staff, &id, query, Some(&form), errors).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(other) => Err(PageError(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_name_only_fields_a_merge_chooses() {
        let labels = vec![("shoe_size".to_string(), "Shoe size".to_string())];
        assert_eq!(field_of_choice("pick-company", &labels).as_deref(), Some("company"));
        assert_eq!(
            field_of_choice("pick-custom-shoe_size", &labels).as_deref(),
            Some("custom.shoe_size")
        );
        assert_eq!(field_of_choice("pick-custom-salary", &labels), None);
        assert_eq!(field_of_choice("pick-emails", &labels), None);
        assert_eq!(field_of_choice("company", &labels), None);
    }
}
