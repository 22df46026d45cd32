//! Listing and searching an organization's contacts: by creation, name or
//! last update (either way) with filters (tag, owner, created range), or by
//! name, email or phone tokens.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    ContactError, ContactRecord, MAX_PAGE, TOKEN_MAX_CHARS, contacts_by_name_partition, contacts_by_update_partition,
    contacts_index_partition, get_many, normalize_tag, owner_index_partition, search_partition, tag_index_partition,
};
use crate::domain::fold::{fold, is_phone_query};
use crate::domain::phone::digits;
use crate::ports::{Index, Query, SortKey, Table};
use crate::services::records::from_item;

// ---------------------------------------------------------------- list and search

/// Filters of `GET /contacts`. The pipeline-stage filter belongs to deals:
/// `pipelines::contacts_in_stage_page` reads that index and applies these.
/// Stored with an export job, hence serde.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactFilter {
    pub tag: Option<String>,
    pub owner_id: Option<UserId>,
    pub created_from: Option<jiff::Timestamp>,
    pub created_to: Option<jiff::Timestamp>,
    /// Search text (name, email or phone prefix).
    pub q: Option<String>,
    /// The order of the list (search results come in the order of the
    /// matching key whatever it says).
    #[serde(default)]
    pub sort_by: SortBy,
    /// Ascending: oldest first, A to Z, least recently updated first.
    #[serde(default, alias = "oldest_first")]
    pub ascending: bool,
}

/// What the list is ordered by; each is one index read in key order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortBy {
    /// The creation index (gsi1, or gsi2 for one owner, or a tag's index),
    /// which the tag, owner and created-range filters narrow by key.
    #[default]
    Created,
    /// The name index items (folded name, then id).
    Name,
    /// The last-update index (gsi3).
    Updated,
}

pub(super) fn created_range(filter: &ContactFilter) -> Option<SortKey> {
    let from = filter.created_from.map(|t| t.as_millisecond());
    let to = filter.created_to.map(|t| t.as_millisecond());
    match (from, to) {
        (None, None) => None,
        (from, to) => Some(SortKey::Between(
            format!("{:013}", from.unwrap_or(0).max(0)),
            format!("{:013}#~", to.unwrap_or(9_999_999_999_999)),
        )),
    }
}

impl ContactFilter {
    /// Whether a contact passes the tag, owner and created-range filters
    /// (for pages read from an index that did not apply them).
    pub fn matches(&self, record: &ContactRecord) -> bool {
        self.tag
            .as_ref()
            .is_none_or(|t| normalize_tag(t).is_ok_and(|t| record.tags.contains(&t)))
            && self
                .owner_id
                .as_ref()
                .is_none_or(|o| record.owner_id.as_ref() == Some(o))
            && self
                .created_from
                .is_none_or(|t| record.created_ms >= t.as_millisecond())
            && self.created_to.is_none_or(|t| record.created_ms <= t.as_millisecond())
    }
}

/// One page of contacts in the filter's order. At most two round trips: one
/// query on the right index (all contacts, by owner or by tag when by
/// creation; the name or last-update index otherwise) and, for tags and
/// names, one batch read of the contacts. By name or last update the tag,
/// owner and created-range filters are applied to the page read (no index
/// holds both), so such a page may hold fewer rows than `limit` while its
/// cursor goes on. `q` delegates to [`search`].
pub async fn list(
    table: &dyn Table,
    org_id: &OrgId,
    filter: &ContactFilter,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ContactRecord>, Option<String>), ContactError> {
    let limit = limit.clamp(1, MAX_PAGE);
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        let (found, next) = search(table, org_id, q, limit, cursor).await?;
        return Ok((found.into_iter().filter(|c| filter.matches(c)).collect(), next));
    }
    if let Some(tag) = &filter.tag {
        // Refused here whatever the order, so a bad tag never lists everyone.
        normalize_tag(tag).map_err(|code| ContactError::field("tag", code, "Not a valid tag."))?;
    }
    match filter.sort_by {
        SortBy::Created => {}
        SortBy::Name => {
            let mut query = Query::partition(contacts_by_name_partition(org_id))
                .limit(limit)
                .after(cursor);
            if !filter.ascending {
                query = query.reverse();
            }
            let page = table.query(&query).await?;
            let ids: Vec<ContactId> = page
                .items
                .iter()
                .filter_map(|i| i.get("contact_id").and_then(Value::as_str).map(ContactId::from))
                .collect();
            let found = get_many(table, org_id, &ids).await?;
            return Ok((found.into_iter().filter(|c| filter.matches(c)).collect(), page.cursor));
        }
        SortBy::Updated => {
            let mut query = Query::partition(contacts_by_update_partition(org_id))
                .on(Index::Gsi3)
                .limit(limit)
                .after(cursor);
            if !filter.ascending {
                query = query.reverse();
            }
            let page = table.query(&query).await?;
            let mut out = Vec::with_capacity(page.items.len());
            for item in page.items {
                let record = from_item::<ContactRecord>(item)?;
                if filter.matches(&record) {
                    out.push(record);
                }
            }
            return Ok((out, page.cursor));
        }
    }
    if let Some(tag) = &filter.tag {
        let tag = normalize_tag(tag).map_err(|code| ContactError::field("tag", code, "Not a valid tag."))?;
        let mut query = Query::partition(tag_index_partition(org_id, &tag))
            .limit(limit)
            .after(cursor);
        if !filter.ascending {
            query = query.reverse();
        }
        if let Some(range) = created_range(filter) {
            query = query.sort(range);
        }
        let page = table.query(&query).await?;
        let ids: Vec<ContactId> = page
            .items
            .iter()
            .filter_map(|i| i.get("contact_id").and_then(Value::as_str).map(ContactId::from))
            .collect();
        let found = get_many(table, org_id, &ids).await?;
        return Ok((found.into_iter().filter(|c| filter.matches(c)).collect(), page.cursor));
    }
    let (index, partition) = match &filter.owner_id {
        Some(owner) => (Index::Gsi2, owner_index_partition(org_id, owner)),
        None => (Index::Gsi1, contacts_index_partition(org_id)),
    };
    let mut query = Query::partition(partition).on(index).limit(limit).after(cursor);
    if !filter.ascending {
        query = query.reverse();
    }
    if let Some(range) = created_range(filter) {
        query = query.sort(range);
    }
    let page = table.query(&query).await?;
    let mut out = Vec::with_capacity(page.items.len());
    for item in page.items {
        out.push(from_item::<ContactRecord>(item)?);
    }
    Ok((out, page.cursor))
}

/// Contacts whose name word, full name, email or phone digits start with `q`
/// (case- and accent-insensitive): one query on the search partition and one
/// batch read. Ordered by the matching key.
pub async fn search(
    table: &dyn Table,
    org_id: &OrgId,
    q: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<ContactRecord>, Option<String>), ContactError> {
    let prefix = if is_phone_query(q) { digits(q) } else { fold(q) };
    let prefix: String = prefix.chars().take(TOKEN_MAX_CHARS).collect();
    if prefix.is_empty() {
        return Err(ContactError::field("q", "required", "Type something to search for."));
    }
    let page = table
        .query(
            &Query::partition(search_partition(org_id))
                .sort(SortKey::BeginsWith(prefix))
                .limit(limit.clamp(1, MAX_PAGE))
                .after(cursor),
        )
        .await?;
    let ids: Vec<ContactId> = page
        .items
        .iter()
        .filter_map(|i| i.get("contact_id").and_then(Value::as_str).map(ContactId::from))
        .collect();
    Ok((get_many(table, org_id, &ids).await?, page.cursor))
}
