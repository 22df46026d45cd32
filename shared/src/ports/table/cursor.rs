//! The opaque cursor both adapters hand out: the last key of a page, bound to
//! the query that produced it. A cursor resumes only that query: the same
//! index, partition, sort-key condition and direction. Sent with any other
//! query, even one on the same partition, its key would silently skip or
//! repeat items, or start another list in the middle, so it is refused.

use super::{PK, Query, SK, SortKey, StoreError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};

/// The last evaluated key: attribute name to string value.
pub type CursorKey = BTreeMap<String, String>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    /// The scope of the query that issued the cursor.
    q: String,
    /// The last key of the page.
    k: CursorKey,
}

impl Query {
    /// What identifies this query's order of items, limit and cursor aside:
    /// a digest, so the cursor stays short whatever the key lengths, and
    /// stable across processes and releases (no seeded hasher).
    fn cursor_scope(&self) -> String {
        let sort: Vec<&str> = match &self.sort {
            None => vec!["all"],
            Some(SortKey::Eq(v)) => vec!["eq", v],
            Some(SortKey::BeginsWith(v)) => vec!["begins_with", v],
            Some(SortKey::Between(low, high)) => vec!["between", low, high],
            Some(SortKey::Lt(v)) => vec!["lt", v],
            Some(SortKey::Le(v)) => vec!["le", v],
            Some(SortKey::Gt(v)) => vec!["gt", v],
            Some(SortKey::Ge(v)) => vec!["ge", v],
        };
        let index = self.index.name().unwrap_or("table");
        let direction = if self.forward { "forward" } else { "backward" };
        let mut digest = Sha256::new();
        for field in [index, &self.partition, direction].into_iter().chain(sort) {
            // Length-prefixed, so no two queries give the same bytes.
            digest.update((field.len() as u64).to_be_bytes());
            digest.update(field.as_bytes());
        }
        let sum = digest.finalize();
        URL_SAFE_NO_PAD.encode(&sum[..16])
    }

    /// The cursor that resumes this query after `last`.
    pub fn seal_cursor(&self, last: CursorKey) -> Result<String, StoreError> {
        let sealed = Sealed {
            q: self.cursor_scope(),
            k: last,
        };
        let json = serde_json::to_vec(&sealed).map_err(|e| StoreError::Unavailable(format!("cursor: {e}")))?;
        Ok(URL_SAFE_NO_PAD.encode(json))
    }

    /// The key a cursor resumes after, if this query issued it: anything
    /// else, whether altered, cut short, from another partition or from
    /// another query on the same partition, is [`StoreError::InvalidCursor`].
    pub fn open_cursor(&self, cursor: &str) -> Result<CursorKey, StoreError> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
        let sealed: Sealed = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        if sealed.q != self.cursor_scope() {
            return Err(StoreError::InvalidCursor);
        }
        // The scope is not a secret, so the key is checked on its own too:
        // exactly the key attributes of this index, on this partition.
        let (ipk, isk) = self.index.key_attributes();
        let mut expected: HashSet<&str> = [PK, SK, ipk, isk].into_iter().collect();
        let fits = sealed.k.len() == expected.len()
            && sealed.k.keys().all(|name| expected.remove(name.as_str()))
            && sealed.k.get(ipk) == Some(&self.partition)
            && sealed.k.values().all(|value| !value.is_empty());
        if !fits {
            return Err(StoreError::InvalidCursor);
        }
        Ok(sealed.k)
    }
}
