//! Planning a group of rows: one read of the claims their identities touch,
//! each row matched or created, and the chunk transactions that write them
//! together with the checkpoint.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use super::rows::{Candidate, Parsed, merged, new_contact};
use super::{DedupeMode, ImportError, ImportRecord, ImportState, errors_partition, import_key};
use crate::domain::billing::PlanName;
use crate::domain::input::FieldError;
use crate::ports::{Condition, Key, StoreError, Update, WriteOp};
use crate::services::billing::limits::Room;
use crate::services::billing::usage::{contact_count_op, contacts_counter_key};
use crate::services::contacts::{self, ContactRecord};
use crate::services::contacts::{
    email_unique_key as email_claim, import_key_unique_key as import_key_claim, phone_unique_key as phone_claim,
};
use crate::services::records::plausible_id;

/// Contacts are shared between a plan and its overlay (`Arc`): a group holds
/// up to 1,000 of them and each is looked at by several steps.
pub(super) enum Outcome {
    Create(Arc<ContactRecord>),
    Update(Arc<ContactRecord>, Arc<ContactRecord>),
    Skip,
    Fail(Vec<FieldError>),
}

/// A planned group: its chunk transactions in order, the import as it is
/// once they have all committed, and what they write (for the next plan).
pub(super) struct Group {
    pub(super) transactions: Vec<Vec<WriteOp>>,
    pub(super) after: ImportRecord,
    pub(super) overlay: Known,
    /// The plan's contact limit once this group commits.
    pub(super) room_after: Option<Room>,
}

/// What a plan knows of the store: which contact holds each email/phone
/// claim and those contacts. Read once for a group, then carried through
/// the plan, so a chunk sees what the chunks before it will write.
#[derive(Default)]
pub(super) struct Known {
    owner_of: HashMap<Key, ContactId>,
    contacts: HashMap<ContactId, Arc<ContactRecord>>,
}

impl Known {
    /// Records a contact the plan will write, for the chunks after it.
    /// (No entry for the contact's own id: no row can name a contact this
    /// import creates, and an existing one is read from the store, then
    /// replaced by its planned version like any contact a claim names.)
    fn planned(&mut self, org_id: &OrgId, contact: &Arc<ContactRecord>) {
        for import_key in &contact.import_keys {
            self.owner_of
                .insert(import_key_claim(org_id, import_key), contact.id.clone());
        }
        for email in &contact.emails {
            self.owner_of
                .insert(email_claim(org_id, &email.address), contact.id.clone());
        }
        for phone in &contact.phones {
            self.owner_of
                .insert(phone_claim(org_id, &phone.e164), contact.id.clone());
        }
        self.contacts.insert(contact.id.clone(), Arc::clone(contact));
    }
}

/// The keys that say which contact a row is: its email and phone claims,
/// and for its id the import-key claim and the contact with that id (an
/// item whose `id` names it, where claims name it in `contact_id`).
pub(super) fn claims_of(org_id: &OrgId, c: &Candidate) -> Vec<Key> {
    let mut keys: Vec<Key> = c
        .contact
        .emails
        .iter()
        .map(|e| email_claim(org_id, &e.address))
        .chain(c.contact.phones.iter().map(|p| phone_claim(org_id, &p.e164)))
        .collect();
    if let Some(key) = &c.key {
        keys.push(import_key_claim(org_id, key));
        if plausible_id(key) {
            keys.push(contacts::contact_key(org_id, &ContactId::new(key.as_str())));
        }
    }
    keys
}

/// The store's view of the rows' claims (100 keys a round trip) and of the
/// contacts holding them, with `pending` (a group planned but not yet
/// committed) laid over it.
pub(super) async fn read_known(
    table: &dyn crate::ports::Table,
    org_id: &OrgId,
    rows: &[Option<Parsed>],
    pending: &Known,
) -> Result<Known, StoreError> {
    let mut claim_keys: Vec<Key> = rows
        .iter()
        .flatten()
        .filter_map(|p| p.as_ref().ok())
        .flat_map(|c| claims_of(org_id, c))
        .filter(|key| !pending.owner_of.contains_key(key))
        .collect();
    claim_keys.sort();
    claim_keys.dedup();
    let mut known = Known::default();
    for keys in claim_keys.chunks(100) {
        for item in table.batch_get(keys).await? {
            let owner = item
                .get("contact_id")
                .or_else(|| item.get("id"))
                .and_then(Value::as_str);
            if let (Some(key), Some(id)) = (Key::of(&item), owner) {
                known.owner_of.insert(key, ContactId::from(id));
            }
        }
    }
    let mut ids: Vec<ContactId> = known
        .owner_of
        .values()
        .filter(|id| !pending.contacts.contains_key(*id))
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
    for contact in contacts::get_many(table, org_id, &ids).await? {
        known.contacts.insert(contact.id.clone(), Arc::new(contact));
    }
    // Claims of the rows that the pending group writes, and the pending
    // version of every contact these rows name.
    for c in rows.iter().flatten().filter_map(|p| p.as_ref().ok()) {
        for key in claims_of(org_id, c) {
            if let Some(id) = pending.owner_of.get(&key) {
                known.owner_of.insert(key, id.clone());
            }
        }
    }
    let named: Vec<ContactId> = known.owner_of.values().cloned().collect();
    for id in named {
        if let Some(contact) = pending.contacts.get(&id) {
            known.contacts.insert(id, Arc::clone(contact));
        }
    }
    Ok(known)
}

/// Plans `rows` (the next rows after `record`'s checkpoint) as a sequence of
/// chunk transactions, each holding its contacts' full write plan, its error
/// rows and the checkpoint conditioned on the value the chunk before leaves.
/// Pure: everything it needs from the store is in `known`.
///
/// `room` is what the plan's contact limit leaves (`None`: no limit): a row
/// that would create a contact past it fails with `plan_limit`, reported
/// in the error rows like any refused row, never dropped silently.
pub(super) fn plan_group(
    org_id: &OrgId,
    record: &ImportRecord,
    rows: &[Option<Parsed>],
    mut known: Known,
    mut room: Option<Room>,
    now: jiff::Timestamp,
) -> Result<Group, ImportError> {
    let parsed: Vec<&Parsed> = rows.iter().flatten().collect();
    let start = record.rows_done as usize;
    let mut overlay = Known::default();
    let mut transactions = Vec::new();
    let mut at = record.clone();
    let mut next = 0;
    while next < parsed.len() {
        let outcomes = plan_chunk(
            org_id,
            record.mode,
            &parsed[next..],
            start + next,
            &mut known,
            &mut room,
            now,
        )?;
        for planned in &outcomes {
            if let Outcome::Create(after) | Outcome::Update(_, after) = &planned.outcome {
                overlay.planned(org_id, after);
            }
        }
        next += outcomes.len();
        let (ops, after) = chunk_transaction(org_id, &at, outcomes, now);
        transactions.push(ops);
        at = after;
    }
    Ok(Group {
        transactions,
        after: at,
        overlay,
        room_after: room,
    })
}

/// A row's decision and, for a contact it writes, that contact's operations.
pub(super) struct PlannedRow {
    row_number: u64,
    outcome: Outcome,
    ops: Vec<WriteOp>,
}

/// One chunk's rows: as many of `rows` as fit in one transaction with the
/// checkpoint, stopping before a row that touches a claim or contact an
/// earlier row of the chunk touches (the next chunk sees that row's result).
pub(super) fn plan_chunk(
    org_id: &OrgId,
    mode: DedupeMode,
    rows: &[&Parsed],
    first_index: usize,
    known: &mut Known,
    room: &mut Option<Room>,
    now: jiff::Timestamp,
) -> Result<Vec<PlannedRow>, ImportError> {
    let mut outcomes: Vec<PlannedRow> = Vec::new();
    let mut touched_claims: HashSet<Key> = HashSet::new();
    let mut touched_contacts: HashSet<ContactId> = HashSet::new();
    let mut counter_tags: HashSet<String> = HashSet::new();
    let mut ops_so_far = 0usize;
    for (offset, parsed_row) in rows.iter().enumerate() {
        // The spreadsheet row number (the header is row 1).
        let row_number = (first_index + offset) as u64 + 2;
        let outcome = match parsed_row {
            Err(errors) => Outcome::Fail(errors.clone()),
            Ok(c) => {
                let claims = claims_of(org_id, c);
                let mut owners: Vec<&ContactId> = claims.iter().filter_map(|k| known.owner_of.get(k)).collect();
                owners.sort();
                owners.dedup();
                if claims.iter().any(|k| touched_claims.contains(k))
                    || owners.iter().any(|id| touched_contacts.contains(*id))
                {
                    break;
                }
                let outcome = match owners.as_slice() {
                    [] => match room {
                        Some(Room { left: 0, allowed, plan }) => Outcome::Fail(vec![over_limit(*allowed, *plan)]),
                        _ => Outcome::Create(Arc::new(new_contact(org_id, c, now))),
                    },
                    [id] => match (mode, known.contacts.get(*id)) {
                        (DedupeMode::Skip, _) => Outcome::Skip,
                        (DedupeMode::Update, Some(before)) => match merged(before, c) {
                            Ok(after) if after == **before => Outcome::Skip,
                            Ok(mut after) => {
                                after.updated_at = now.to_string();
                                after.version = before.version + 1;
                                Outcome::Update(Arc::clone(before), Arc::new(after))
                            }
                            Err(errors) => Outcome::Fail(errors),
                        },
                        // The claim's contact vanished between the two reads: plan again.
                        (DedupeMode::Update, None) => return Err(ImportError::Store(StoreError::ConditionFailed)),
                    },
                    _ => Outcome::Fail(vec![FieldError::new(
                        "phone",
                        "matches_two_contacts",
                        "The email, phone or id of this row belong to different contacts.",
                    )]),
                };
                touched_claims.extend(claims);
                if let Outcome::Update(before, _) = &outcome {
                    touched_contacts.insert(before.id.clone());
                }
                outcome
            }
        };
        // Does it still fit in one transaction with the tag counters and the checkpoint?
        let (ops, tags) = match &outcome {
            Outcome::Create(after) => (contact_ops(None, after)?, changed_tags(None, after)),
            Outcome::Update(before, after) => (contact_ops(Some(before), after)?, changed_tags(Some(before), after)),
            Outcome::Skip | Outcome::Fail(_) => (Vec::new(), Vec::new()),
        };
        // A failed row writes its error item.
        let own_ops = if matches!(outcome, Outcome::Fail(_)) {
            1
        } else {
            ops.len()
        };
        let new_counters = tags.iter().filter(|t| !counter_tags.contains(*t)).count();
        // With the checkpoint and the contact counter.
        if ops_so_far + own_ops + new_counters + 2 > crate::ports::table::MAX_TRANSACTION_OPS {
            if outcomes.is_empty() {
                // Alone too big for a transaction: report it rather than stall.
                outcomes.push(PlannedRow {
                    row_number,
                    outcome: Outcome::Fail(vec![FieldError::new(
                        "email",
                        "too_many_values",
                        "This row changes too many emails, phones and tags at once.",
                    )]),
                    ops: Vec::new(),
                });
            }
            break;
        }
        ops_so_far += own_ops + new_counters;
        counter_tags.extend(tags);
        if let (Outcome::Create(_), Some(room)) = (&outcome, room.as_mut()) {
            room.left = room.left.saturating_sub(1);
        }
        match &outcome {
            Outcome::Create(after) | Outcome::Update(_, after) => known.planned(org_id, after),
            Outcome::Skip | Outcome::Fail(_) => {}
        }
        outcomes.push(PlannedRow {
            row_number,
            outcome,
            ops,
        });
    }
    Ok(outcomes)
}

/// The row error of a contact the plan has no room for.
fn over_limit(allowed: u64, plan: PlanName) -> FieldError {
    FieldError::new(
        "email",
        "plan_limit",
        format!(
            "The {} plan allows {allowed} contacts: this row would make one more. Upgrade under Settings → Billing, then import the rows that failed.",
            plan.as_str()
        ),
    )
}

/// One contact's change as the contacts core plans it, minus the tag and
/// contact counters, which the chunk sums over its rows (one update each).
pub(super) fn contact_ops(before: Option<&ContactRecord>, after: &ContactRecord) -> Result<Vec<WriteOp>, StoreError> {
    let mut ops = contacts::plan(&[(before, Some(after))], contacts::ALL_PARTS)?;
    let contacts_counter = contacts_counter_key(&after.org_id);
    let counter = |key: &Key| key.pk == contacts::tags_partition(&after.org_id) || *key == contacts_counter;
    ops.retain(|op| !matches!(op, WriteOp::Update { key, .. } if counter(key)));
    Ok(ops)
}

/// The tags whose count a change moves, with the direction.
pub(super) fn changed_tags(before: Option<&ContactRecord>, after: &ContactRecord) -> Vec<String> {
    let old: &[String] = before.map_or(&[], |b| &b.tags);
    let added = after.tags.iter().filter(|t| !old.contains(t));
    let removed = old.iter().filter(|t| !after.tags.contains(t));
    added.chain(removed).cloned().collect()
}

/// The chunk's transaction (contacts, tag counters, error rows, checkpoint)
/// and the import as it is once that commits.
pub(super) fn chunk_transaction(
    org_id: &OrgId,
    record: &ImportRecord,
    outcomes: Vec<PlannedRow>,
    now: jiff::Timestamp,
) -> (Vec<WriteOp>, ImportRecord) {
    let mut ops = Vec::new();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let (mut created, mut updated, mut skipped, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let rows = outcomes.len() as u64;
    for PlannedRow {
        row_number,
        outcome,
        ops: contact_ops,
    } in outcomes
    {
        ops.extend(contact_ops);
        match outcome {
            Outcome::Create(after) => {
                created += 1;
                for tag in &after.tags {
                    *counts.entry(tag.clone()).or_default() += 1;
                }
            }
            Outcome::Update(before, after) => {
                updated += 1;
                for tag in &before.tags {
                    *counts.entry(tag.clone()).or_default() -= 1;
                }
                for tag in &after.tags {
                    *counts.entry(tag.clone()).or_default() += 1;
                }
            }
            Outcome::Skip => skipped += 1,
            Outcome::Fail(errors) => {
                failed += 1;
                let errors: Vec<Value> = errors
                    .iter()
                    .map(|e| json!({ "field": e.field, "reason": e.code, "message": e.message }))
                    .collect();
                ops.push(WriteOp::Put {
                    item: crate::services::object(json!({
                        "pk": errors_partition(org_id, &record.id),
                        "sk": format!("{row_number:09}"),
                        "row": row_number,
                        "errors": errors,
                    })),
                    condition: None,
                });
            }
        }
    }
    ops.extend(
        counts
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|(tag, delta)| contacts::tag_count_op(org_id, tag, *delta)),
    );
    if created > 0 {
        ops.push(contact_count_op(org_id, created as i64));
    }

    let mut next = record.clone();
    next.rows_done = record.rows_done + rows;
    next.state = if next.rows_done >= record.rows_total {
        ImportState::Done
    } else {
        ImportState::Running
    };
    next.updated_at = now.to_string();
    next.created += created;
    next.updated += updated;
    next.skipped += skipped;
    next.failed += failed;
    let mut update = Update::default()
        .set("rows_done", next.rows_done)
        .set("state", serde_json::to_value(next.state).unwrap_or(Value::Null))
        .set("updated_at", now.to_string())
        .add("created", created as i64)
        .add("updated", updated as i64)
        .add("skipped", skipped as i64)
        .add("failed", failed as i64);
    if next.state == ImportState::Done {
        next.finished_at = Some(now.to_string());
        update = update.set("finished_at", now.to_string());
    }
    // The checkpoint: only from the value this chunk started at.
    ops.push(WriteOp::Update {
        key: import_key(org_id, &record.id),
        update,
        condition: Some(Condition::AttributeEquals {
            name: "rows_done".into(),
            value: record.rows_done.into(),
        }),
    });
    (ops, next)
}
