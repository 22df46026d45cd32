//! Saved views: a member's named filter sets of the contact list (search,
//! tag, owner, pipeline stage, created range), each member's own. One item
//! per view under the member's partition; listing is one query.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | saved view | `ORG#<org>#MEMBER#<user>#VIEWS` | `VIEW#<id>` |

use crate::domain::ids::{OrgId, UserId};
use serde::{Deserialize, Serialize};

use super::{Caller, ContactError};
use crate::domain::input::FieldError;
use crate::ports::{Condition, Key, Query, SortKey, StoreError, Table, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::records::{from_item, new_id, plausible_id, to_item};

pub const MAX_VIEWS: usize = 50;
pub const MAX_NAME_CHARS: usize = 60;
/// The most characters of one filter value.
const MAX_FILTER_CHARS: usize = 200;

fn partition(org_id: &OrgId, user_id: &UserId) -> String {
    format!("ORG#{org_id}#MEMBER#{user_id}#VIEWS")
}

pub fn view_key(org_id: &OrgId, user_id: &UserId, view_id: &str) -> Key {
    Key::new(partition(org_id, user_id), format!("VIEW#{view_id}"))
}

/// The filters of a view, as the contact list takes them (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_id: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<String>,
    /// `YYYY-MM-DD`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SavedView {
    pub id: String,
    pub name: String,
    pub filters: ViewFilters,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewView {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub filters: ViewFilters,
}

/// Blank values dropped, the rest trimmed and bounded; dates must be dates.
fn clean(filters: ViewFilters) -> Result<ViewFilters, ContactError> {
    let mut errors = Vec::new();
    let mut one = |field: &str, value: Option<String>, date: bool| -> Option<String> {
        let value = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())?;
        if value.chars().count() > MAX_FILTER_CHARS {
            errors.push(FieldError::new(
                format!("filters.{field}"),
                "too_long",
                format!("At most {MAX_FILTER_CHARS} characters."),
            ));
        } else if date && value.parse::<jiff::civil::Date>().is_err() {
            errors.push(FieldError::new(
                format!("filters.{field}"),
                "invalid_date",
                "Use a date such as 2026-01-31.".to_string(),
            ));
        }
        Some(value)
    };
    let cleaned = ViewFilters {
        q: one("q", filters.q, false),
        tag: one("tag", filters.tag, false),
        owner_id: one("owner_id", filters.owner_id, false),
        pipeline_id: one("pipeline_id", filters.pipeline_id, false),
        stage_id: one("stage_id", filters.stage_id, false),
        created_from: one("created_from", filters.created_from, true),
        created_to: one("created_to", filters.created_to, true),
    };
    if cleaned.pipeline_id.is_some() != cleaned.stage_id.is_some() {
        errors.push(FieldError::new(
            "filters.stage_id",
            "required",
            "Give pipeline_id and stage_id together.",
        ));
    }
    if errors.is_empty() {
        Ok(cleaned)
    } else {
        Err(ContactError::Invalid(errors))
    }
}

/// The member's views, oldest first (the order their tabs keep).
pub async fn list(table: &dyn Table, org_id: &OrgId, user_id: &UserId) -> Result<Vec<SavedView>, ContactError> {
    let page = table
        .query(
            &Query::partition(partition(org_id, user_id))
                .sort(SortKey::BeginsWith("VIEW#".into()))
                .limit(MAX_VIEWS as u32),
        )
        .await?;
    Ok(page.items.into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?)
}

/// Saves a view for the calling member.
pub async fn create(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    input: NewView,
) -> Result<SavedView, ContactError> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ContactError::field(
            "name",
            "invalid_length",
            format!("A view's name has 1 to {MAX_NAME_CHARS} characters."),
        ));
    }
    let filters = clean(input.filters)?;
    let table = state.table().as_ref();
    let existing = list(table, caller.org_id(), &caller.user_id).await?;
    if existing.len() >= MAX_VIEWS {
        return Err(ContactError::field(
            "name",
            "too_many",
            format!("Keep at most {MAX_VIEWS} views: delete one first."),
        ));
    }
    if existing.iter().any(|v| v.name.eq_ignore_ascii_case(&name)) {
        return Err(ContactError::field(
            "name",
            "taken",
            "You have a view of this name already.",
        ));
    }
    let view = SavedView {
        id: new_id(),
        name,
        filters,
        created_at: state.clock().now().to_string(),
    };
    let key = view_key(caller.org_id(), &caller.user_id, &view.id);
    table
        .transact(vec![WriteOp::Put {
            item: to_item(&key, &view, &[])?,
            condition: Some(Condition::NotExists),
        }])
        .await?;
    Ok(view)
}

/// Deletes one of the calling member's views (anyone else's is not found).
pub async fn delete(state: &impl HasTable, caller: &Caller, view_id: &str) -> Result<(), ContactError> {
    if !plausible_id(view_id) {
        return Err(ContactError::NotFound);
    }
    let key = view_key(caller.org_id(), &caller.user_id, view_id);
    let deleted = state
        .table()
        .transact(vec![WriteOp::Delete {
            key,
            condition: Some(Condition::Exists),
        }])
        .await;
    match deleted {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionConditionFailed { .. }) => Err(ContactError::NotFound),
        Err(err) => Err(err.into()),
    }
}

// ---------------------------------------------------------------- table columns

/// The contact table's columns a member may show or hide (the name always shows).
pub const COLUMNS: [&str; 6] = ["email", "phone", "company", "tags", "created", "updated"];

fn columns_key(org_id: &OrgId, user_id: &UserId) -> Key {
    Key::new(partition(org_id, user_id), "COLUMNS")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ColumnChoice {
    columns: Vec<String>,
}

/// The columns the member chose (every one until they choose).
pub async fn columns(table: &dyn Table, org_id: &OrgId, user_id: &UserId) -> Result<Vec<String>, ContactError> {
    match table.get(&columns_key(org_id, user_id)).await? {
        Some(item) => Ok(from_item::<ColumnChoice>(item)?.columns),
        None => Ok(COLUMNS.iter().map(|c| c.to_string()).collect()),
    }
}

/// Remembers the columns the calling member shows, in the table's order.
pub async fn save_columns(
    state: &impl HasTable,
    caller: &Caller,
    chosen: &[String],
) -> Result<Vec<String>, ContactError> {
    if let Some(unknown) = chosen.iter().find(|c| !COLUMNS.contains(&c.as_str())) {
        return Err(ContactError::field(
            "columns",
            "unknown_column",
            format!("No column {unknown:?}: choose from {}.", COLUMNS.join(", ")),
        ));
    }
    let columns: Vec<String> = COLUMNS
        .iter()
        .filter(|c| chosen.iter().any(|chosen| chosen == *c))
        .map(|c| c.to_string())
        .collect();
    let key = columns_key(caller.org_id(), &caller.user_id);
    state
        .table()
        .transact(vec![WriteOp::Put {
            item: to_item(
                &key,
                &ColumnChoice {
                    columns: columns.clone(),
                },
                &[],
            )?,
            condition: None,
        }])
        .await?;
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_trimmed_and_checked() {
        let cleaned = clean(ViewFilters {
            q: Some("  ".into()),
            tag: Some(" vip ".into()),
            created_from: Some("2026-01-31".into()),
            ..ViewFilters::default()
        })
        .unwrap();
        assert_eq!(cleaned.q, None);
        assert_eq!(cleaned.tag.as_deref(), Some("vip"));
        assert!(
            clean(ViewFilters {
                created_to: Some("soon".into()),
                ..ViewFilters::default()
            })
            .is_err()
        );
        assert!(
            clean(ViewFilters {
                stage_id: Some("s".into()),
                ..ViewFilters::default()
            })
            .is_err()
        );
    }
}
