//! Queries on the table and its two indexes: key conditions, sort order,
//! pages and opaque cursors, like DynamoDB's.

use super::MAX_PAGE;
use super::items::{invalid, parse_item};
use crate::adapters::sqlite::map_err;
use crate::ports::table::{CursorKey, Index, Item, PK, Page, Query, SK, SortKey, StoreError};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

/// The string just above every string that starts with `prefix`: the last
/// character incremented (UTF-8 byte order equals code point order), so
/// `BeginsWith` is an index range and never a LIKE pattern.
pub(super) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match u32::from(last) + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The cursor after `last`: its table key and, on a secondary index, its
/// index key, bound to `query` (see [`Query::seal_cursor`]).
pub(super) fn encode_cursor(query: &Query, last: &Item) -> Result<String, StoreError> {
    let (ipk, isk) = query.index.key_attributes();
    let mut key = CursorKey::new();
    for name in [PK, SK, ipk, isk] {
        let value = last
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| StoreError::Unavailable(format!("indexed item without string {name}")))?;
        key.insert(name.to_owned(), value.to_owned());
    }
    query.seal_cursor(key)
}

/// The last key of the previous page: (index sort key, pk, sk).
pub(super) fn decode_cursor(query: &Query, cursor: &str) -> Result<(String, String, String), StoreError> {
    let key = query.open_cursor(cursor)?;
    let text = |name: &str| key.get(name).cloned().ok_or(StoreError::InvalidCursor);
    Ok((text(query.index.key_attributes().1)?, text(PK)?, text(SK)?))
}

pub(super) fn check_sort_value(value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(invalid("sort key condition with an empty string"));
    }
    Ok(())
}

pub(super) fn run_query(conn: &Connection, query: &Query, now: i64) -> Result<Page, StoreError> {
    if query.partition.is_empty() {
        return Err(invalid("query without a partition key value"));
    }
    let limit = match query.limit {
        Some(0) => return Err(invalid("query limit must be at least 1")),
        Some(n) => n.min(MAX_PAGE),
        None => MAX_PAGE,
    };
    let (pcol, scol) = query.index.key_attributes();
    let primary = query.index == Index::Primary;
    let mut sql = format!("SELECT item FROM items WHERE {pcol} = ?1 AND (expires_at IS NULL OR expires_at > ?2)");
    let mut args: Vec<SqlValue> = vec![SqlValue::Text(query.partition.clone()), SqlValue::Integer(now)];
    let mut bind = |sql: &mut String, fragment: &str, value: String| {
        args.push(SqlValue::Text(value));
        sql.push_str(&fragment.replace('?', &format!("?{}", args.len())));
    };
    match &query.sort {
        None => {}
        Some(SortKey::Eq(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} = ?"), v.clone());
        }
        Some(SortKey::BeginsWith(prefix)) => {
            check_sort_value(prefix)?;
            bind(&mut sql, &format!(" AND {scol} >= ?"), prefix.clone());
            if let Some(upper) = prefix_successor(prefix) {
                bind(&mut sql, &format!(" AND {scol} < ?"), upper);
            }
        }
        Some(SortKey::Between(low, high)) => {
            check_sort_value(low)?;
            check_sort_value(high)?;
            if low.as_bytes() > high.as_bytes() {
                return Err(invalid("BETWEEN lower bound is greater than its upper bound"));
            }
            bind(&mut sql, &format!(" AND {scol} >= ?"), low.clone());
            bind(&mut sql, &format!(" AND {scol} <= ?"), high.clone());
        }
        Some(SortKey::Lt(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} < ?"), v.clone());
        }
        Some(SortKey::Le(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} <= ?"), v.clone());
        }
        Some(SortKey::Gt(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} > ?"), v.clone());
        }
        Some(SortKey::Ge(v)) => {
            check_sort_value(v)?;
            bind(&mut sql, &format!(" AND {scol} >= ?"), v.clone());
        }
    }
    let op = if query.forward { ">" } else { "<" };
    if let Some(cursor) = &query.cursor {
        let (isk, pk, sk) = decode_cursor(query, cursor)?;
        if primary {
            bind(&mut sql, &format!(" AND sk {op} ?"), sk);
        } else {
            bind(&mut sql, &format!(" AND ({scol}, pk, sk) {op} (?"), isk);
            bind(&mut sql, ", ?", pk);
            bind(&mut sql, ", ?)", sk);
        }
    }
    let dir = if query.forward { "ASC" } else { "DESC" };
    if primary {
        sql.push_str(&format!(" ORDER BY sk {dir}"));
    } else {
        // Ties on the GSI sort key are ordered by the table key so paging is exact.
        sql.push_str(&format!(" ORDER BY {scol} {dir}, pk {dir}, sk {dir}"));
    }
    // One extra row tells whether another page exists.
    args.push(SqlValue::Integer(i64::from(limit) + 1));
    sql.push_str(&format!(" LIMIT ?{}", args.len()));

    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(args), |row| row.get::<_, String>(0))
        .map_err(map_err)?
        .collect::<Result<Vec<String>, _>>()
        .map_err(map_err)?;
    let more = rows.len() > limit as usize;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(|json| parse_item(json))
        .collect::<Result<Vec<Item>, _>>()?;
    let cursor = match (more, items.last()) {
        (true, Some(last)) => Some(encode_cursor(query, last)?),
        _ => None,
    };
    Ok(Page { items, cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_bounds_every_extension() {
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        let upper = prefix_successor("é%_").unwrap();
        assert!("é%_zzz" < upper.as_str() && "é%`" >= upper.as_str());
    }
}
