//! Contact use cases: get, create, upsert, update and delete, each one
//! transaction with its audit and timeline entries.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::model::{build_new, check_owner, org_region, require_identity};
use super::{
    ALL_PARTS, Caller, ContactError, ContactPatch, ContactRecord, Errors, NewContact, commit, contact_key,
    contact_partition, email_unique_key, phone_unique_key, plan, timeline_entry,
};
use super::{fields, merge};
use crate::domain::billing::Limit;
use crate::domain::contact::{
    BoundedList, clean_address, clean_text, consent, normalize_tags, parse_emails, parse_phones, too_many,
};
use crate::ports::{Condition, Key, Query, StoreError, Table, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasSms, HasTable, SortKey};
use crate::services::audit::{self};
use crate::services::records::from_item;
use crate::services::sms::{SmsTraces, erase_contact_texts};

// ---------------------------------------------------------------- use cases

/// Reads one contact of the organization.
pub async fn get(table: &dyn Table, org_id: &OrgId, contact_id: &ContactId) -> Result<ContactRecord, ContactError> {
    let item = table
        .get(&contact_key(org_id, contact_id))
        .await?
        .ok_or(ContactError::NotFound)?;
    Ok(from_item(item)?)
}

/// Whether the contact exists in this organization (a foreign id does not).
pub async fn exists(table: &dyn Table, org_id: &OrgId, contact_id: &ContactId) -> Result<bool, StoreError> {
    if contact_id.is_empty() || contact_id.contains('#') {
        return Ok(false);
    }
    Ok(table.get(&contact_key(org_id, contact_id)).await?.is_some())
}

/// Reads many contacts (any count; 100 per round trip), in the order given;
/// unknown ids are left out.
pub async fn get_many(table: &dyn Table, org_id: &OrgId, ids: &[ContactId]) -> Result<Vec<ContactRecord>, StoreError> {
    let mut found: BTreeMap<ContactId, ContactRecord> = BTreeMap::new();
    let unique: Vec<&ContactId> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
    for chunk in unique.chunks(100) {
        let keys: Vec<Key> = chunk.iter().map(|id| contact_key(org_id, id)).collect();
        for item in table.batch_get(&keys).await? {
            let record: ContactRecord = from_item(item)?;
            found.insert(record.id.clone(), record);
        }
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for id in ids {
        if seen.insert(id)
            && let Some(record) = found.remove(id)
        {
            out.push(record);
        }
    }
    Ok(out)
}

/// What [`create`]/[`upsert`] did.
#[derive(Debug, Clone)]
pub struct Saved {
    pub contact: ContactRecord,
    /// true when a new contact was made; false when merged into an existing one.
    pub created: bool,
}

/// Creates a contact; an email or phone another contact has → `Duplicate`.
/// One transaction (plus the org read when phones are given, the member read
/// when an owner is given, and the field definitions when custom fields are).
pub async fn create(
    state: &(impl HasTable + HasClock + HasConfig + HasJobs),
    caller: &Caller,
    input: NewContact,
) -> Result<ContactRecord, ContactError> {
    crate::services::billing::limits::ensure_room(state, caller.org_id(), Limit::Contacts).await?;
    let now = state.clock().now();
    let record = build_new(state, caller, input, now, None).await?;
    insert(state.table().as_ref(), caller, &record, now).await?;
    announce_created(state, &record, now).await;
    Ok(record)
}

/// A committed new contact as a webhook event (`contact.created`).
pub fn created_event(record: &ContactRecord, now: jiff::Timestamp) -> crate::domain::webhook::WebhookEvent {
    let data = serde_json::to_value(record).unwrap_or_default();
    let event_id = format!("contact.created:{}", record.id);
    crate::services::webhooks::event("contact.created", &event_id, now, data)
}

/// Announces a committed new contact to the organization's webhook
/// endpoints; a failure is logged, the contact stands.
pub async fn announce_created(state: &(impl HasTable + HasJobs), record: &ContactRecord, now: jiff::Timestamp) {
    crate::services::webhooks::announce(state, &record.org_id, vec![created_event(record, now)]).await;
}

pub(super) async fn insert(
    table: &dyn Table,
    caller: &Caller,
    record: &ContactRecord,
    now: jiff::Timestamp,
) -> Result<(), ContactError> {
    let mut ops = plan(&[(None, Some(record))], ALL_PARTS)?;
    ops.push(audit::entry(
        &caller.actor,
        now,
        "contact.created",
        &format!("contact:{}", record.id),
        json!({ "email": record.primary_email(), "phone": record.primary_phone() }),
    ));
    commit(table, ops).await
}

/// A create-or-merge planned for a transaction the caller commits (a booking
/// puts its invitee's contact in the booking's own transaction).
#[derive(Debug, Clone)]
pub struct PlannedUpsert {
    /// The contact as it is once the operations commit.
    pub contact: ContactRecord,
    /// true when a new contact is made; false when merged into an existing one.
    pub created: bool,
    /// Every operation carries a condition (not-exists claims, the contact's
    /// version), so a concurrent writer makes the caller's transaction fail
    /// rather than be overwritten; the caller plans again.
    pub ops: Vec<WriteOp>,
}

/// Plans [`upsert`] without committing: reads the claims of the input's emails
/// and phones (one batch read) and the contact that holds them. One email or
/// phone held by a contact → merge into it (existing values win, the new ones
/// fill blanks; emails, phones and tags are united); held by two different
/// contacts → `Duplicate` naming the second.
///
/// `country` is the caller's organization's (the region its phone numbers
/// are read in): the caller has read the organization already (a form's
/// submit, a booking), so the plan does not read it again.
pub async fn plan_upsert(
    state: &impl HasTable,
    caller: &Caller,
    country: &str,
    input: NewContact,
    now: jiff::Timestamp,
) -> Result<PlannedUpsert, ContactError> {
    let table = state.table().as_ref();
    let incoming = build_new(state, caller, input, now, Some(country)).await?;
    let org_id = caller.org_id();
    let claims: Vec<(Key, &'static str)> = incoming
        .emails
        .iter()
        .map(|e| (email_unique_key(org_id, &e.address), "emails"))
        .chain(
            incoming
                .phones
                .iter()
                .map(|p| (phone_unique_key(org_id, &p.e164), "phones")),
        )
        .collect();
    let keys: Vec<Key> = claims.iter().map(|(key, _)| key.clone()).collect();
    let held: BTreeMap<Key, ContactId> = table
        .batch_get(&keys)
        .await?
        .into_iter()
        .filter_map(|item| Some((Key::of(&item)?, ContactId::new(item.get("contact_id")?.as_str()?))))
        .collect();
    // In input order, so the primary email's contact is the one merged into.
    let mut holder: Option<&ContactId> = None;
    for (key, field) in &claims {
        match (holder, held.get(key)) {
            (None, Some(id)) => holder = Some(id),
            (Some(first), Some(id)) if first != id => {
                return Err(ContactError::Duplicate {
                    existing_id: id.to_string(),
                    field: (*field).into(),
                });
            }
            _ => {}
        }
    }
    let Some(existing_id) = holder else {
        let mut ops = plan(&[(None, Some(&incoming))], ALL_PARTS)?;
        ops.push(audit::entry(
            &caller.actor,
            now,
            "contact.created",
            &format!("contact:{}", incoming.id),
            json!({ "email": incoming.primary_email(), "phone": incoming.primary_phone() }),
        ));
        return Ok(PlannedUpsert {
            contact: incoming,
            created: true,
            ops,
        });
    };
    let existing = match get(table, org_id, existing_id).await {
        Ok(existing) => existing,
        // The claim outlived its contact for a moment (a delete in flight): plan again.
        Err(ContactError::NotFound) => return Err(ContactError::Conflict("contact_changed")),
        Err(err) => return Err(err),
    };
    let mut merged = merge::merge_records(&existing, &incoming);
    if merged == existing {
        // Nothing new: only make sure the contact is still this version.
        return Ok(PlannedUpsert {
            ops: vec![WriteOp::Check {
                key: contact_key(org_id, &existing.id),
                condition: Condition::VersionEquals(existing.version),
            }],
            contact: existing,
            created: false,
        });
    }
    merged.updated_at = now.to_string();
    merged.version = existing.version + 1;
    if !merged.lists_over_limit().is_empty() {
        return Err(ContactError::field(
            "body",
            "too_many_values",
            "Merged, the contact would have too many emails, phones or tags.",
        ));
    }
    let mut ops = plan(&[(Some(&existing), Some(&merged))], ALL_PARTS)?;
    ops.extend(tag_timeline(&existing, &merged, now));
    ops.push(audit::entry(
        &caller.actor,
        now,
        "contact.upserted",
        &format!("contact:{}", merged.id),
        json!({ "email": incoming.primary_email(), "phone": incoming.primary_phone() }),
    ));
    Ok(PlannedUpsert {
        contact: merged,
        created: false,
        ops,
    })
}

/// Creates the contact, or — when one of its emails or phones already belongs
/// to a contact — merges it into that contact (see [`plan_upsert`]). A race
/// with another writer of the same contact is planned again, up to 3 times.
pub async fn upsert(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    input: NewContact,
) -> Result<Saved, ContactError> {
    let now = state.clock().now();
    // Read once for every round (only phones need it).
    let country = if input.phones.is_empty() {
        String::new()
    } else {
        org_region(state.table().as_ref(), caller.org_id()).await?
    };
    for _ in 0..3 {
        let planned = plan_upsert(state, caller, &country, input.clone(), now).await?;
        match commit(state.table().as_ref(), planned.ops).await {
            Ok(()) => {
                return Ok(Saved {
                    contact: planned.contact,
                    created: planned.created,
                });
            }
            Err(ContactError::StaleVersion | ContactError::Duplicate { .. } | ContactError::Conflict(_)) => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ContactError::Conflict("contact_changed"))
}

/// A timeline entry when the tags changed between two versions.
pub(super) fn tag_timeline(before: &ContactRecord, after: &ContactRecord, now: jiff::Timestamp) -> Option<WriteOp> {
    let added: Vec<&String> = after.tags.iter().filter(|t| !before.tags.contains(t)).collect();
    let removed: Vec<&String> = before.tags.iter().filter(|t| !after.tags.contains(t)).collect();
    (!added.is_empty() || !removed.is_empty()).then(|| {
        timeline_entry(
            &after.org_id,
            &after.id,
            "tags.changed",
            json!({ "added": added, "removed": removed }),
            now,
        )
    })
}

/// Applies a partial update. `if_match`: the version the caller read; a
/// different current version → `StaleVersion`. Without it the update applies
/// to the latest version (retried on a concurrent write).
pub async fn update(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    contact_id: &ContactId,
    patch: ContactPatch,
    if_match: Option<u64>,
) -> Result<ContactRecord, ContactError> {
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    let region = if patch.phones.as_ref().is_some_and(|p| !p.is_empty()) {
        org_region(table, org_id).await?
    } else {
        String::new()
    };
    let defs = match &patch.custom_fields {
        Some(values) if !values.is_empty() => Some(fields::list(table, org_id).await?),
        _ => None,
    };
    let mut owner_checked = false;
    for _ in 0..3 {
        let now = state.clock().now();
        let before = get(table, org_id, contact_id).await?;
        if if_match.is_some_and(|v| v != before.version) {
            return Err(ContactError::StaleVersion);
        }
        let mut after = before.clone();
        let mut errors = Errors::new();
        let p = patch.clone();
        if let Some(v) = p.first_name {
            after.first_name = clean_text("first_name", v, 100, &mut errors);
        }
        if let Some(v) = p.last_name {
            after.last_name = clean_text("last_name", v, 100, &mut errors);
        }
        if let Some(v) = p.company {
            after.company = clean_text("company", v, 200, &mut errors);
        }
        if let Some(v) = p.source {
            after.source = clean_text("source", v, 100, &mut errors);
        }
        if let Some(v) = p.address {
            after.address = clean_address(v, &mut errors);
        }
        if let Some(v) = p.emails {
            after.emails = parse_emails(&v, &mut errors);
        }
        if let Some(v) = p.phones {
            after.phones = parse_phones(&v, &region, &mut errors);
        }
        if let Some(v) = p.owner_id {
            after.owner_id = v
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .map(UserId::from);
            if !owner_checked && after.owner_id != before.owner_id {
                check_owner(table, org_id, after.owner_id.as_deref(), &mut errors).await?;
                owner_checked = errors.is_empty();
            }
        }
        if let (Some(values), Some(defs)) = (&p.custom_fields, &defs) {
            after.custom_fields = fields::apply_values(defs, &before.custom_fields, values, &mut errors);
        }
        if let Some(tags) = &p.tags {
            after.tags = normalize_tags("tags", tags, &mut errors);
        }
        for tag in normalize_tags("add_tags", &p.add_tags, &mut errors) {
            if !after.tags.contains(&tag) {
                after.tags.push(tag);
            }
        }
        let remove = normalize_tags("remove_tags", &p.remove_tags, &mut errors);
        after.tags.retain(|t| !remove.contains(t));
        if after.tags.len() > BoundedList::Tags.max() {
            errors.push(too_many(BoundedList::Tags, "tags"));
        }
        if let Some(v) = p.sms_consent {
            after.sms_consent = v.map(|c| consent(c, "sms_consent", caller.actor.ip.as_deref(), now, &mut errors));
        }
        if let Some(v) = p.email_consent {
            after.email_consent = v.map(|c| consent(c, "email_consent", caller.actor.ip.as_deref(), now, &mut errors));
        }
        require_identity(&after, &mut errors);
        if !errors.is_empty() {
            return Err(ContactError::Invalid(errors));
        }
        if after == before {
            return Ok(before);
        }
        after.updated_at = now.to_string();
        after.version = before.version + 1;
        let mut ops = plan(&[(Some(&before), Some(&after))], ALL_PARTS)?;
        ops.extend(tag_timeline(&before, &after, now));
        ops.push(audit::entry(
            &caller.actor,
            now,
            "contact.updated",
            &format!("contact:{contact_id}"),
            json!({ "version": after.version, "changed": changed_fields(&before, &after) }),
        ));
        match commit(table, ops).await {
            Ok(()) => return Ok(after),
            Err(ContactError::StaleVersion) if if_match.is_none() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ContactError::Conflict("contact_changed"))
}

pub(super) fn changed_fields(before: &ContactRecord, after: &ContactRecord) -> Vec<String> {
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    a.iter()
        .filter(|(k, v)| !matches!(k.as_str(), "version" | "updated_at") && b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Deletes a contact with its uniqueness claims, search keys and tag index
/// items (one transaction), then its notes and timeline (bounded batches).
/// What its texts left outside its partition (messages, peer items, inbound
/// markers, staff notifications: numbers and words) is erased first, so a
/// deletion that fails half-way and is retried still finds it.
pub async fn delete(
    state: &(impl HasTable + HasClock + HasSms),
    caller: &Caller,
    contact_id: &ContactId,
    if_match: Option<u64>,
) -> Result<(), ContactError> {
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    for _ in 0..3 {
        let now = state.clock().now();
        let before = get(table, org_id, contact_id).await?;
        if if_match.is_some_and(|v| v != before.version) {
            return Err(ContactError::StaleVersion);
        }
        erase_texts(state, org_id, contact_id, &before).await?;
        let mut ops = plan(&[(Some(&before), None)], ALL_PARTS)?;
        ops.push(audit::entry(
            &caller.actor,
            now,
            "contact.deleted",
            &format!("contact:{contact_id}"),
            json!({ "email": before.primary_email(), "name": before.display_name() }),
        ));
        match commit(table, ops).await {
            Ok(()) => {
                purge_partition(table, org_id, contact_id).await?;
                return Ok(());
            }
            Err(ContactError::StaleVersion) if if_match.is_none() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(ContactError::Conflict("contact_changed"))
}

/// Erases what the contact's texts left outside its partition (see
/// `sms::erase`): the message and inbound items its timeline names, and the
/// peer items of its numbers that no other contact of the organization holds.
async fn erase_texts(
    state: &(impl HasTable + HasSms),
    org_id: &OrgId,
    contact_id: &ContactId,
    contact: &ContactRecord,
) -> Result<(), StoreError> {
    let table = state.table().as_ref();
    let mut traces = SmsTraces::default();
    for phone in &contact.phones {
        traces.note_number(&phone.e164);
    }
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(contact_partition(org_id, contact_id))
                    .sort(SortKey::BeginsWith("TL#".into()))
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        page.items.iter().for_each(|item| traces.note(item));
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut still_held = BTreeSet::new();
    for number in &traces.numbers {
        let holder = table.get(&super::phone_unique_key(org_id, number)).await?;
        let holder = holder
            .as_ref()
            .and_then(|item| item.get("contact_id"))
            .and_then(Value::as_str);
        if holder.is_some_and(|holder| holder != contact_id.as_str()) {
            still_held.insert(number.clone());
        }
    }
    erase_contact_texts(table, state.sms().sender(), org_id, contact_id, &traces, &still_held).await
}

/// Removes what is left in a deleted contact's partition (notes, timeline).
pub(crate) async fn purge_partition(
    table: &dyn Table,
    org_id: &OrgId,
    contact_id: &ContactId,
) -> Result<(), StoreError> {
    loop {
        let page = table
            .query(&Query::partition(contact_partition(org_id, contact_id)).limit(100))
            .await?;
        let keys: Vec<crate::ports::BatchOp> = page
            .items
            .iter()
            .filter_map(Key::of)
            .filter(|k| k.sk != "PROFILE")
            .map(crate::ports::BatchOp::Delete)
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        table.batch_write(keys).await?;
    }
}

/// Deletes a contact of an organization being purged, and everything it
/// left anywhere: its texts' traces, notes and timeline, then its index
/// items and, last, its profile, so a purge stopped half-way finds the
/// contact again and finishes it. No audit entry or counter change: the
/// organization's log and counters go too. `false` when it was gone.
pub async fn purge(
    state: &(impl HasTable + HasSms),
    org_id: &OrgId,
    contact_id: &ContactId,
) -> Result<bool, StoreError> {
    let table = state.table().as_ref();
    let before = match get(table, org_id, contact_id).await {
        Ok(record) => record,
        Err(ContactError::NotFound) => return Ok(false),
        Err(ContactError::Store(err)) => return Err(err),
        Err(err) => return Err(StoreError::Invalid(err.to_string())),
    };
    erase_texts(state, org_id, contact_id, &before).await?;
    purge_partition(table, org_id, contact_id).await?;
    let derived: Vec<crate::ports::BatchOp> = super::store::derived(&before)
        .into_keys()
        .map(crate::ports::BatchOp::Delete)
        .collect();
    if !derived.is_empty() {
        table.batch_write(derived).await?;
    }
    table.delete(&contact_key(org_id, contact_id), None).await?;
    Ok(true)
}
