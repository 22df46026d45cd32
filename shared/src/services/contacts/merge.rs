//! Merging contact B into contact A.
//!
//! Rule: A's values win; B fills A's blanks (names, company, address, source,
//! owner, consent, each custom field); tags and import keys are united; B's
//! emails and phones become A's secondary ones; B's notes and timeline move
//! to A.
//!
//! Order, so a crash at any point loses nothing and a re-run completes it:
//! 1. copy B's notes and timeline entries into A's partition (same sort keys:
//!    idempotent puts, ≤ 100 per transaction);
//! 2. put A's new search keys (extra keys pointing at A are harmless);
//! 3. ONE transaction: A updated (version-checked), B deleted (version-checked),
//!    B's email, phone and import-key claims re-pointed to A, tag index items and counters,
//!    the `contact.merged` timeline entry and the audit entry;
//! 4. clean up: B's search keys and B's partition (copies already in A).
//!    Leftover B search keys are skipped by search (B no longer reads).

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use serde_json::{Value, json};

use super::{
    ALL_PARTS, Caller, ContactError, ContactRecord, Parts, commit, contact_partition, get, plan, timeline_entry,
};
use crate::ports::{HasClock, HasTable};
use crate::ports::{Item, Query, StoreError, Table, WriteOp};
use crate::services::audit;

/// A with B's values filling its blanks (pure; the rule is
/// [`ContactRecord::fill_from`]).
pub fn merge_records(a: &ContactRecord, b: &ContactRecord) -> ContactRecord {
    let mut merged = a.clone();
    merged.fill_from(b);
    merged
}

/// Everything in a contact's partition except the contact itself (notes, timeline).
async fn partition_items(table: &dyn Table, org_id: &OrgId, contact_id: &ContactId) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(contact_partition(org_id, contact_id))
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        out.extend(
            page.items
                .into_iter()
                .filter(|i| i.get("sk").and_then(Value::as_str) != Some("PROFILE")),
        );
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// The single-valued fields whose value a merge can take from B although A
/// has one: `first_name`, `last_name`, `company`, `source`, `address` and
/// `custom.<key>`.
pub const CHOOSABLE: [&str; 5] = ["first_name", "last_name", "company", "source", "address"];

/// A merged with B's values in the `from_secondary` fields (where B has a
/// value), the rest by [`merge_records`] (pure).
pub fn merge_choosing(a: &ContactRecord, b: &ContactRecord, from_secondary: &[String]) -> ContactRecord {
    let mut m = merge_records(a, b);
    fn take<T: Clone>(slot: &mut Option<T>, other: &Option<T>) {
        if other.is_some() {
            slot.clone_from(other);
        }
    }
    for field in from_secondary {
        match field.as_str() {
            "first_name" => take(&mut m.first_name, &b.first_name),
            "last_name" => take(&mut m.last_name, &b.last_name),
            "company" => take(&mut m.company, &b.company),
            "source" => take(&mut m.source, &b.source),
            "address" => take(&mut m.address, &b.address),
            other => {
                if let Some(key) = other.strip_prefix("custom.")
                    && let Some(value) = b.custom_fields.get(key).filter(|v| !v.is_null())
                {
                    m.custom_fields.insert(key.to_string(), value.clone());
                }
            }
        }
    }
    m
}

/// Merges `secondary_id` (B) into `primary_id` (A); returns the merged A.
pub async fn merge(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    primary_id: &ContactId,
    secondary_id: &ContactId,
) -> Result<ContactRecord, ContactError> {
    merge_with_choices(state, caller, primary_id, secondary_id, &[]).await
}

/// As [`merge`], with B's values winning in the `from_secondary` fields
/// (see [`merge_choosing`]); a field that is not one of them is refused.
pub async fn merge_with_choices(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    primary_id: &ContactId,
    secondary_id: &ContactId,
    from_secondary: &[String],
) -> Result<ContactRecord, ContactError> {
    if let Some(unknown) = from_secondary
        .iter()
        .find(|f| !CHOOSABLE.contains(&f.as_str()) && !f.starts_with("custom."))
    {
        return Err(ContactError::field(
            "from_secondary",
            "unknown_field",
            format!("{unknown:?} is not a field a merge chooses."),
        ));
    }
    if primary_id == secondary_id {
        return Err(ContactError::field(
            "secondary_id",
            "same_contact",
            "A contact cannot be merged into itself.",
        ));
    }
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    for _ in 0..3 {
        let now = state.clock().now();
        let a = get(table, org_id, primary_id).await?;
        let b = get(table, org_id, secondary_id).await?;
        let mut merged = merge_choosing(&a, &b, from_secondary);
        if !merged.lists_over_limit().is_empty() {
            return Err(ContactError::field(
                "secondary_id",
                "too_many_values",
                "Merged, the contact would have too many emails, phones or tags.",
            ));
        }
        merged.updated_at = now.to_string();
        merged.version = a.version + 1;

        // 1. Copy B's notes and timeline into A (idempotent).
        let moved = partition_items(table, org_id, secondary_id).await?;
        let a_partition = contact_partition(org_id, primary_id);
        let copies: Vec<WriteOp> = moved
            .iter()
            .map(|item| {
                let mut copy = item.clone();
                copy.insert("pk".into(), a_partition.clone().into());
                if copy.contains_key("contact_id") {
                    copy.insert("contact_id".into(), primary_id.as_str().into());
                }
                WriteOp::Put {
                    item: copy,
                    condition: None,
                }
            })
            .collect();
        for chunk in copies.chunks(100) {
            table.transact(chunk.to_vec()).await?;
        }

        // 2. A's new search keys.
        let changes = [(Some(&a), Some(&merged)), (Some(&b), None)];
        let search_only = Parts {
            search: true,
            others: false,
        };
        let search_ops = plan(&changes, search_only)?;
        let (search_puts, search_deletes): (Vec<WriteOp>, Vec<WriteOp>) =
            search_ops.into_iter().partition(|op| matches!(op, WriteOp::Put { .. }));
        for chunk in search_puts.chunks(100) {
            table.transact(chunk.to_vec()).await?;
        }

        // 3. The merge itself.
        let mut ops = plan(
            &changes,
            Parts {
                search: false,
                ..ALL_PARTS
            },
        )?;
        ops.push(timeline_entry(
            org_id,
            primary_id,
            "contact.merged",
            json!({
                "merged_id": secondary_id,
                "merged_name": b.display_name(),
                "merged_emails": b.emails.iter().map(|e| e.address.clone()).collect::<Vec<_>>(),
                "moved_entries": moved.len(),
            }),
            now,
        ));
        ops.push(audit::entry(
            &caller.actor,
            now,
            "contact.merged",
            &format!("contact:{primary_id}"),
            json!({ "primary_id": primary_id, "secondary_id": secondary_id, "moved_entries": moved.len() }),
        ));
        match commit(table, ops).await {
            Ok(()) => {}
            Err(ContactError::StaleVersion) => continue,
            Err(err) => return Err(err),
        }

        // 4. Clean up B's leftovers.
        for chunk in search_deletes.chunks(100) {
            table.transact(chunk.to_vec()).await?;
        }
        super::purge_partition(table, org_id, secondary_id).await?;
        return Ok(merged);
    }
    Err(ContactError::Conflict("contact_changed"))
}
