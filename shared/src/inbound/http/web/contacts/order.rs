//! The contacts table's orders: the `sort` parameter of its URLs, the
//! sortable column headers (a link per header, `aria-sort` on the one the
//! rows follow) and the filter form's order choice.

use super::{TableQuery, blank_to_none, query_string};
use crate::inbound::http::contacts::{sort_order, sort_param};
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::SortBy;

/// The table's order from its `sort` parameter: `newest` (the default) or
/// `oldest` by creation, `name` (A to Z) or `-name`, `-updated` (most
/// recently updated first) or `updated`; the API's `created`/`-created`
/// are understood too.
pub(super) fn sort_of(sort: &Option<String>) -> Result<(SortBy, bool), ApiError> {
    match blank_to_none(sort).as_deref() {
        None | Some("newest") => Ok((SortBy::Created, false)),
        Some("oldest") => Ok((SortBy::Created, true)),
        Some(other) => sort_order(Some(other)).map_err(|_| {
            ApiError::field(
                "sort",
                "unknown_sort",
                "Sort by newest, oldest, name, -name, -updated or updated.",
            )
        }),
    }
}

/// The `sort` parameter of an order in the table's URLs.
pub(super) fn sort_token(by: SortBy, ascending: bool) -> String {
    match (by, ascending) {
        (SortBy::Created, false) => "newest".into(),
        (SortBy::Created, true) => "oldest".into(),
        (by, ascending) => sort_param(by, ascending),
    }
}

/// The orders of the filter form's `<select>`: (value, label).
const SORT_CHOICES: [(&str, &str); 6] = [
    ("newest", "Newest first"),
    ("oldest", "Oldest first"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("-updated", "Recently updated first"),
    ("updated", "Least recently updated first"),
];

/// A sortable column's header: its `aria-sort` (when the rows are in its
/// order) and the query string of the order a click asks for.
pub struct SortHeader {
    pub aria: Option<&'static str>,
    pub href: String,
}

/// The table's sortable headers and the order choices, for the results
/// fragment (which also refreshes the filter form's order choice when htmx
/// swaps it, so a later filter change keeps the order).
pub struct Sorting {
    pub name: SortHeader,
    pub created: SortHeader,
    pub updated: SortHeader,
    /// (value, label, selected) of the filter form's order choice.
    pub choices: Vec<(&'static str, &'static str, bool)>,
    /// Send the order choice out of band (an htmx swap of the results).
    pub oob: bool,
}

impl Sorting {
    pub(super) fn of(query: &TableQuery, (by, ascending): (SortBy, bool), oob: bool) -> Self {
        let header = |column: SortBy, first_ascending: bool| {
            let current = by == column;
            let wanted = if current { !ascending } else { first_ascending };
            let href = query_string(
                &TableQuery {
                    sort: Some(sort_token(column, wanted)),
                    ..query.clone()
                },
                None,
            );
            SortHeader {
                aria: current.then_some(if ascending { "ascending" } else { "descending" }),
                href,
            }
        };
        let token = sort_token(by, ascending);
        Sorting {
            name: header(SortBy::Name, true),
            created: header(SortBy::Created, false),
            updated: header(SortBy::Updated, false),
            choices: SORT_CHOICES
                .iter()
                .map(|(value, label)| (*value, *label, *value == token))
                .collect(),
            oob,
        }
    }
}
