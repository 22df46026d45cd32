//! Notes on a contact. Each note is an item in the contact's partition plus a
//! `note` entry on its timeline, written (and edited, and deleted) together.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Caller, ContactError, contact_key, contact_partition, timeline_entry_with_id};
use crate::ports::{Condition, Key, Query, SortKey, Table, Update, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit;
use crate::services::records::{from_item, new_id, to_item};

pub const MAX_NOTE_CHARS: usize = 10_000;

pub fn note_key(org_id: &OrgId, contact_id: &ContactId, note_id: &str) -> Key {
    Key::new(contact_partition(org_id, contact_id), format!("NOTE#{note_id}"))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NoteRecord {
    pub id: String,
    pub contact_id: ContactId,
    pub author_id: UserId,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
    /// Sort key of the note's timeline entry.
    pub timeline_sk: String,
}

fn clean_body(raw: &str) -> Result<String, ContactError> {
    let body = raw.trim().to_string();
    if body.is_empty() || body.chars().count() > MAX_NOTE_CHARS {
        return Err(ContactError::field(
            "body",
            "invalid_length",
            format!("A note has 1 to {MAX_NOTE_CHARS} characters."),
        ));
    }
    Ok(body)
}

/// Notes of a contact, newest first (one query; the contact read makes a
/// foreign id a 404).
pub async fn list(
    table: &dyn Table,
    org_id: &OrgId,
    contact_id: &ContactId,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<NoteRecord>, Option<String>), ContactError> {
    let query = Query::partition(contact_partition(org_id, contact_id))
        .sort(SortKey::BeginsWith("NOTE#".into()))
        .reverse()
        .limit(limit.clamp(1, super::MAX_PAGE))
        .after(cursor);
    let key = contact_key(org_id, contact_id);
    let (contact, page) = futures::join!(table.get(&key), table.query(&query));
    if contact?.is_none() {
        return Err(ContactError::NotFound);
    }
    let page = page?;
    let mut out = Vec::new();
    for item in page.items {
        out.push(from_item::<NoteRecord>(item)?);
    }
    Ok((out, page.cursor))
}

pub async fn create(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    contact_id: &ContactId,
    body: &str,
) -> Result<NoteRecord, ContactError> {
    let body = clean_body(body)?;
    let now = state.clock().now();
    let org_id = caller.org_id();
    let id = new_id();
    let (timeline_sk, entry) = timeline_entry_with_id(
        org_id,
        contact_id,
        &id,
        "note",
        json!({ "note_id": id, "author_id": caller.user_id, "body": body }),
        now,
    );
    let note = NoteRecord {
        id: id.clone(),
        contact_id: contact_id.clone(),
        author_id: caller.user_id.clone(),
        body,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        timeline_sk,
    };
    let ops = vec![
        // The contact must exist (in this organization) when the note lands.
        WriteOp::Check {
            key: contact_key(org_id, contact_id),
            condition: Condition::Exists,
        },
        WriteOp::Put {
            item: to_item(&note_key(org_id, contact_id, &id), &note, &[])?,
            condition: Some(Condition::NotExists),
        },
        entry,
        audit::entry(
            &caller.actor,
            now,
            "note.created",
            &format!("contact:{contact_id}"),
            json!({ "note_id": id }),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(note),
        Err(err) if err.is_condition_failure() => Err(ContactError::NotFound),
        Err(err) => Err(err.into()),
    }
}

async fn get_own(
    table: &dyn Table,
    caller: &Caller,
    contact_id: &ContactId,
    note_id: &str,
) -> Result<NoteRecord, ContactError> {
    let item = table
        .get(&note_key(caller.org_id(), contact_id, note_id))
        .await?
        .ok_or(ContactError::NotFound)?;
    let note: NoteRecord = from_item(item)?;
    if note.author_id != caller.user_id && !caller.is_admin {
        return Err(ContactError::Forbidden);
    }
    Ok(note)
}

/// Only the author or an admin may edit.
pub async fn update(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    contact_id: &ContactId,
    note_id: &str,
    body: &str,
) -> Result<NoteRecord, ContactError> {
    let body = clean_body(body)?;
    let now = state.clock().now();
    let org_id = caller.org_id();
    let before = get_own(state.table().as_ref(), caller, contact_id, note_id).await?;
    let after = NoteRecord {
        body: body.clone(),
        updated_at: now.to_string(),
        ..before.clone()
    };
    let ops = vec![
        WriteOp::Put {
            item: to_item(&note_key(org_id, contact_id, note_id), &after, &[])?,
            condition: Some(Condition::AttributeEquals {
                name: "updated_at".into(),
                value: before.updated_at.clone().into(),
            }),
        },
        WriteOp::Update {
            key: Key::new(contact_partition(org_id, contact_id), before.timeline_sk.clone()),
            update: Update::default().set(
                "detail",
                json!({ "note_id": note_id, "author_id": before.author_id, "body": body, "edited_at": now.to_string() }),
            ),
            condition: Some(Condition::Exists),
        },
        audit::entry(
            &caller.actor,
            now,
            "note.updated",
            &format!("contact:{contact_id}"),
            json!({ "note_id": note_id }),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(after),
        Err(err) if err.is_condition_failure() => Err(ContactError::Conflict("note_changed")),
        Err(err) => Err(err.into()),
    }
}

/// Only the author or an admin may delete.
pub async fn delete(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    contact_id: &ContactId,
    note_id: &str,
) -> Result<(), ContactError> {
    let now = state.clock().now();
    let org_id = caller.org_id();
    let note = get_own(state.table().as_ref(), caller, contact_id, note_id).await?;
    let ops = vec![
        WriteOp::Delete {
            key: note_key(org_id, contact_id, note_id),
            condition: Some(Condition::Exists),
        },
        WriteOp::Delete {
            key: Key::new(contact_partition(org_id, contact_id), note.timeline_sk),
            condition: None,
        },
        audit::entry(
            &caller.actor,
            now,
            "note.deleted",
            &format!("contact:{contact_id}"),
            json!({ "note_id": note_id }),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(()),
        Err(err) if err.is_condition_failure() => Err(ContactError::NotFound),
        Err(err) => Err(err.into()),
    }
}
