//! The purge of a deleted organization, after its grace window (see
//! `deletion`): every item it owns, reached from its id through its
//! partitions and indexes (never a Scan), in bounded slices on the jobs
//! queue.
//!
//! A slice walks the families below in order and deletes a page of the
//! first that still has items, then the next page, until its budget is
//! spent. Every page is read afresh from the start of its partition, so a
//! slice delivered twice, run twice at once or stopped half-way leaves
//! nothing a later slice cannot find: the items that lead to others (a
//! contact's profile, a form, a booking, a membership) are deleted after
//! what they lead to. The hourly tick queues the purge again if its slices
//! stopped (a crash, a lost message), so a purge always finishes.
//!
//! | family | found from |
//! |---|---|
//! | contacts, their notes, timeline, texts' traces (messages, inbound markers, peers), unique and search keys, tag index | `ORG#<org>#CONTACTS` (gsi1), then each contact |
//! | forms, versions, count, submissions, rate windows, public id | `ORG#<org>` / `FORM#`, then `ORG#<org>#FORM#<form>[#RATE]` |
//! | bookings, their pending reminders, uid lookup, host calendar entry, notice, SMS allowance | `ORG#<org>` / `BOOKING#` |
//! | event types and their slugs | `ORG#<org>` / `EVENTTYPE#` |
//! | imports, their error rows and uploaded files | `ORG#<org>` / `IMPORT#` |
//! | exports and their files | `ORG#<org>` / `EXPORT#` |
//! | webhook endpoints, their deliveries | `ORG#<org>` / `WEBHOOK#` |
//! | custom fields and their keys | `ORG#<org>#FIELDS` |
//! | tags: counters and what is left of their indexes | `ORG#<org>#TAGS` |
//! | members: saved views, import mapping, host calendars, Google busy cache and tokens, Gmail threads and the reply poll's entry, sessions; a user left without an organization: profile, email, photo, every session | `ORG#<org>` / `MEMBER#` |
//! | audit log, search keys, usage counters, staff notifications, import pace, name order and its back-fill marker | their `ORG#<org>#…` partitions |
//! | the rest of `ORG#<org>` (pipelines, deals, statistics, schedules, invitations and their tokens, SMS settings, notices) | `ORG#<org>` |
//! | billing and its Stripe customer lookup; the public slug; the profile | last |
//!
//! Load: a slice deletes at most about [`SLICE_ITEMS`] items, pages of at
//! most 100 per partition, and paces itself to half a DynamoDB partition's
//! write capacity ([`pace`]), so even an organization whose items all sat in
//! one partition is deleted under the key limits; one organization's purge
//! is one chain of slices (a redelivered copy at most doubles it, still
//! within the limit). Nothing here needs the key-distribution model.
//!
//! Kept: `ORG#<org>` / `PURGED` (the id and dates, nothing personal: proof
//! the purge ran) and SMS opt-outs (`SMSOPTOUT#…`): they belong to the
//! phone number, not the organization, and carriers require a STOP to hold.
//! Items with a short TTL expire on their own well within the 30 days
//! (sign-in throttles, idempotency records, one-time tokens, SMS claims,
//! Stripe event ids).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::domain::ids::{BookingId, ContactId, OrgId, UserId, WebhookEndpointId};
use crate::ports::{
    BatchOp, Condition, HasClock, HasJobs, HasObjects, HasSms, HasTable, Index, Item, Key, Query, SortKey, StoreError,
    Table,
};
use crate::services::jobs::{Job, enqueue};
use crate::services::records::{OrgRecord, from_item, org_key, slug_key, user_key, user_orgs_partition};

use super::deletion::{PURGE_DUE_PARTITION, end_sessions, purge_due_key};

/// Items a slice deletes at most (about): a few seconds of work, far under
/// a partition's write capacity.
pub const SLICE_ITEMS: usize = 400;
/// Items read per page.
const PAGE: u32 = 100;
/// Contacts per page: each takes its own reads and writes.
const CONTACTS_PAGE: u32 = 20;
/// A purge whose last queueing is older than this is queued again by the tick.
pub const REQUEUE_AFTER_SECONDS: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("objects: {0}")]
    Objects(String),
    #[error("queue: {0}")]
    Queue(String),
}

/// What one slice did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// Deleted this many items; more are left.
    More(usize),
    /// Nothing of the organization is left but its tombstone.
    Done,
    /// Not (or no longer) to be purged: never deleted, cancelled, or still in its grace window.
    NotDue,
}

/// The tombstone of a purged organization.
pub fn tombstone_key(org_id: &OrgId) -> Key {
    Key::new(format!("ORG#{org_id}"), "PURGED")
}

/// Queues the purge of every organization whose grace window has ended and
/// whose purge is not already under way. Returns how many it queued.
pub async fn tick(state: &(impl HasTable + HasClock + HasJobs)) -> Result<u64, PurgeError> {
    let now = state.clock().unix_seconds();
    let table = state.table().as_ref();
    let mut queued = 0;
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(PURGE_DUE_PARTITION)
                    .sort(SortKey::Lt(format!("{:012}", now + 1)))
                    .limit(PAGE)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            let (Some(key), Some(org_id)) = (Key::of(item), item.get("org_id").and_then(Value::as_str)) else {
                continue;
            };
            let last = item.get("queued_at").and_then(Value::as_i64);
            if last.is_some_and(|last| now.saturating_sub(last) < REQUEUE_AFTER_SECONDS) {
                continue;
            }
            // Claimed before queueing: two ticks at once queue it once.
            let claim = table
                .update(
                    &key,
                    crate::ports::Update::default().set("queued_at", now),
                    Some(match item.get("queued_at") {
                        Some(previous) => Condition::AttributeEquals {
                            name: "queued_at".into(),
                            value: previous.clone(),
                        },
                        None => Condition::Exists,
                    }),
                )
                .await;
            match claim {
                Ok(_) => {}
                Err(StoreError::ConditionFailed) => continue,
                Err(err) => return Err(err.into()),
            }
            enqueue(
                state,
                &[Job::PurgeOrganization {
                    org_id: OrgId::from(org_id.to_string()),
                }],
            )
            .await
            .map_err(|err| PurgeError::Queue(err.to_string()))?;
            queued += 1;
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(queued);
        }
    }
}

/// Marks the purge as queued now, so the tick (which starts a purge whose
/// last queueing is older than `REQUEUE_AFTER_SECONDS`, the sign of a chain
/// that died) leaves a living chain alone however long it runs.
async fn keep_claim(state: &(impl HasTable + HasClock), org_id: &OrgId) -> Result<(), PurgeError> {
    let table = state.table().as_ref();
    let Some(item) = table.get(&org_key(org_id)).await? else {
        return Ok(());
    };
    let org: OrgRecord = from_item(item)?;
    let Some(deletion) = &org.deletion else {
        return Ok(());
    };
    let renewed = table
        .update(
            &purge_due_key(org_id, deletion.purge_after),
            crate::ports::Update::default().set("queued_at", state.clock().unix_seconds()),
            Some(Condition::Exists),
        )
        .await;
    match renewed {
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Runs slices until the purge is done or `deadline` is near; queues the
/// rest as a new job. Safe to run twice at once or again after a crash.
pub async fn run_job(
    state: &(impl HasTable + HasClock + HasJobs + HasObjects + HasSms),
    org_id: &OrgId,
    deadline: Instant,
    slice_time: Duration,
) -> Result<Slice, PurgeError> {
    loop {
        let outcome = slice(state, org_id, SLICE_ITEMS).await?;
        match outcome {
            Slice::More(_) => {
                if deadline.saturating_duration_since(Instant::now()) < slice_time {
                    if let Err(err) = keep_claim(state, org_id).await {
                        // The tick may then start a second chain: slower
                        // neighbours for a while, nothing deleted twice.
                        tracing::warn!(%org_id, error = %err, "could not renew the purge's claim");
                    }
                    enqueue(state, &[Job::PurgeOrganization { org_id: org_id.clone() }])
                        .await
                        .map_err(|err| PurgeError::Queue(err.to_string()))?;
                    return Ok(outcome);
                }
            }
            done => return Ok(done),
        }
    }
}

/// One slice: deletes up to about `budget` items of the organization.
pub async fn slice(
    state: &(impl HasTable + HasClock + HasObjects + HasSms),
    org_id: &OrgId,
    budget: usize,
) -> Result<Slice, PurgeError> {
    let table = state.table().as_ref();
    let org: OrgRecord = match table.get(&org_key(org_id)).await? {
        Some(item) => from_item(item)?,
        // Finished (or finishing: the profile goes just before the due item).
        None => return finish_after_profile(table, org_id).await,
    };
    let Some(deletion) = &org.deletion else {
        return Ok(Slice::NotDue);
    };
    if state.clock().unix_seconds() < deletion.purge_after {
        return Ok(Slice::NotDue);
    }
    let mut deleted = 0;
    for family in FAMILIES {
        loop {
            let n = purge_family(state, *family, org_id).await?;
            if n == 0 {
                break;
            }
            pace(table, n).await;
            deleted += n;
            if deleted >= budget {
                return Ok(Slice::More(deleted));
            }
        }
    }
    if deleted > 0 {
        return Ok(Slice::More(deleted));
    }
    // Everything else is gone: the last items, tombstone first.
    let tombstone = crate::services::object(json!({
        "pk": tombstone_key(org_id).pk, "sk": tombstone_key(org_id).sk,
        "org_id": org_id,
        "deletion_requested_at": deletion.requested_at,
        "purged_at": state.clock().unix_seconds(),
        "purge_after": deletion.purge_after,
    }));
    table.put(tombstone, None).await?;
    table
        .delete(
            &slug_key(&org.slug),
            Some(Condition::AttributeEquals {
                name: "org_id".into(),
                value: json!(org_id),
            }),
        )
        .await
        .or_else(ignore_condition)?;
    table.delete(&org_key(org_id), None).await?;
    table.delete(&purge_due_key(org_id, deletion.purge_after), None).await?;
    Ok(Slice::Done)
}

/// Waits long enough that `deleted` items, were they all in one partition,
/// used at most half of its write capacity (DynamoDB; the embedded store has
/// no per-key limit): a purge never throttles the organization's neighbours
/// on a shared partition, nor a second copy of its own slice.
async fn pace(table: &dyn Table, deleted: usize) {
    if let Some(units) = table.partition_write_units().filter(|units| *units > 0) {
        let seconds = deleted as f64 / (f64::from(units) / 2.0);
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    }
}

fn ignore_condition(err: StoreError) -> Result<Option<Item>, StoreError> {
    match err {
        StoreError::ConditionFailed => Ok(None),
        err => Err(err),
    }
}

/// The profile is gone: the purge stopped between it and its due item.
async fn finish_after_profile(table: &dyn Table, org_id: &OrgId) -> Result<Slice, PurgeError> {
    let Some(tombstone) = table.get(&tombstone_key(org_id)).await? else {
        return Ok(Slice::NotDue);
    };
    if let Some(purge_after) = tombstone.get("purge_after").and_then(Value::as_i64) {
        table.delete(&purge_due_key(org_id, purge_after), None).await?;
    }
    Ok(Slice::Done)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Contacts,
    Forms,
    Bookings,
    EventTypes,
    Imports,
    Exports,
    Webhooks,
    Fields,
    Tags,
    Members,
    Partitions,
    Rest,
    Billing,
}

/// In the order they go: what leads to other items goes after them.
const FAMILIES: &[Family] = &[
    Family::Contacts,
    Family::Forms,
    Family::Bookings,
    Family::EventTypes,
    Family::Imports,
    Family::Exports,
    Family::Webhooks,
    Family::Fields,
    Family::Tags,
    Family::Members,
    Family::Partitions,
    Family::Rest,
    Family::Billing,
];

fn org_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}")
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Value::as_str)
}

/// Deletes keys in batches; returns how many.
async fn delete_keys(table: &dyn Table, keys: Vec<Key>) -> Result<usize, StoreError> {
    let count = keys.len();
    for chunk in keys.chunks(25) {
        table
            .batch_write(chunk.iter().cloned().map(BatchOp::Delete).collect())
            .await?;
    }
    Ok(count)
}

/// Deletes the first page of a partition (minus `keep`); returns how many.
async fn delete_page(table: &dyn Table, query: Query, keep: &[&str]) -> Result<usize, StoreError> {
    let mut cursor = None;
    loop {
        let page = table.query(&query.clone().after(cursor)).await?;
        let keys: Vec<Key> = page
            .items
            .iter()
            .filter_map(Key::of)
            .filter(|key| !keep.contains(&key.sk.as_str()))
            .collect();
        if !keys.is_empty() || page.cursor.is_none() {
            return delete_keys(table, keys).await;
        }
        // A page of kept items only: the next one may hold some to delete.
        cursor = page.cursor;
    }
}

/// Deletes every item of a partition; returns how many.
async fn delete_partition(table: &dyn Table, partition: String) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = delete_page(table, Query::partition(partition.clone()).limit(PAGE), &[]).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// The first page of `ORG#<org>` items whose sort key starts with `prefix`.
async fn owned(table: &dyn Table, org_id: &OrgId, prefix: &str, limit: u32) -> Result<Vec<Item>, StoreError> {
    Ok(table
        .query(
            &Query::partition(org_partition(org_id))
                .sort(SortKey::BeginsWith(prefix.into()))
                .limit(limit),
        )
        .await?
        .items)
}

/// One page of one family; returns how many items went (0: none left).
async fn purge_family(
    state: &(impl HasTable + HasClock + HasObjects + HasSms),
    family: Family,
    org_id: &OrgId,
) -> Result<usize, PurgeError> {
    let table = state.table().as_ref();
    Ok(match family {
        Family::Contacts => purge_contacts(state, org_id).await?,
        Family::Forms => {
            let mut n = 0;
            for form in owned(table, org_id, "FORM#", 10).await? {
                let Some(key) = Key::of(&form) else { continue };
                let form_partition = format!("{}#{}", key.pk, key.sk);
                n += delete_partition(table, format!("{form_partition}#RATE")).await?;
                n += delete_partition(table, form_partition).await?;
                if let Some(public_id) = text(&form, "public_id") {
                    n += delete_keys(table, vec![crate::services::forms::public_key(public_id)]).await?;
                }
                n += delete_keys(table, vec![key]).await?;
            }
            n
        }
        Family::Bookings => {
            let mut keys = Vec::new();
            let bookings = owned(table, org_id, "BOOKING#", PAGE).await?;
            for booking in &bookings {
                keys.extend(booking_satellites(org_id, booking));
            }
            let n = delete_keys(table, keys).await?;
            n + delete_keys(table, bookings.iter().filter_map(Key::of).collect()).await?
        }
        Family::EventTypes => {
            let mut keys = Vec::new();
            for event_type in owned(table, org_id, "EVENTTYPE#", PAGE).await? {
                if let Some(slug) = text(&event_type, "slug") {
                    keys.push(crate::services::scheduling::event_slug_key(org_id, slug));
                }
                keys.extend(Key::of(&event_type));
            }
            delete_keys(table, keys).await?
        }
        Family::Imports => {
            let mut n = 0;
            for import in owned(table, org_id, "IMPORT#", 10).await? {
                let Some(key) = Key::of(&import) else { continue };
                let import_id = key.sk.trim_start_matches("IMPORT#").to_string();
                n += delete_partition(table, crate::services::imports::errors_partition(org_id, &import_id)).await?;
                let parts = import.get("parts").and_then(Value::as_u64).unwrap_or(0);
                for part in 0..u32::try_from(parts).unwrap_or(u32::MAX) {
                    state
                        .objects()
                        .delete(&crate::services::imports::part_object_key(org_id, &import_id, part))
                        .await
                        .map_err(|err| PurgeError::Objects(err.to_string()))?;
                }
                n += delete_keys(table, vec![key]).await?;
            }
            n
        }
        Family::Exports => {
            let mut keys = Vec::new();
            for export in owned(table, org_id, "EXPORT#", 10).await? {
                for object in crate::services::exports::job::object_keys(org_id, &export) {
                    state
                        .objects()
                        .delete(&object)
                        .await
                        .map_err(|err| PurgeError::Objects(err.to_string()))?;
                }
                keys.extend(Key::of(&export));
            }
            delete_keys(table, keys).await?
        }
        Family::Webhooks => {
            let mut n = 0;
            for endpoint in owned(table, org_id, "WEBHOOK#", 10).await? {
                let Some(key) = Key::of(&endpoint) else { continue };
                let endpoint_id = WebhookEndpointId::from(key.sk.trim_start_matches("WEBHOOK#").to_string());
                n += delete_partition(table, crate::services::webhooks::log_partition(org_id, &endpoint_id)).await?;
                n += delete_keys(table, vec![key]).await?;
            }
            n
        }
        Family::Fields => {
            let page = table
                .query(&Query::partition(format!("ORG#{org_id}#FIELDS")).limit(PAGE))
                .await?;
            let mut keys = Vec::new();
            for field in &page.items {
                if let Some(name) = text(field, "key") {
                    keys.push(crate::services::contacts::fields::field_name_key(org_id, name));
                }
                keys.extend(Key::of(field));
            }
            delete_keys(table, keys).await?
        }
        Family::Tags => {
            let page = table
                .query(&Query::partition(format!("ORG#{org_id}#TAGS")).limit(PAGE))
                .await?;
            let mut n = 0;
            for counter in &page.items {
                let Some(key) = Key::of(counter) else { continue };
                n += delete_partition(table, format!("ORG#{org_id}#TAG#{}", key.sk)).await?;
                n += delete_keys(table, vec![key]).await?;
            }
            n
        }
        Family::Members => {
            let mut n = 0;
            for member in owned(table, org_id, "MEMBER#", 10).await? {
                let Some(key) = Key::of(&member) else { continue };
                let user_id = UserId::from(key.sk.trim_start_matches("MEMBER#").to_string());
                n += purge_member(state, org_id, &user_id).await?;
                // The user before the membership that leads to them.
                n += purge_user_if_orphaned(state, org_id, &user_id).await?;
                n += delete_keys(table, vec![key]).await?;
            }
            n
        }
        Family::Partitions => {
            let mut n = 0;
            for suffix in [
                "AUDIT",
                "SEARCH",
                "USAGE",
                "NOTIFY",
                "IMPORTPACE",
                // The contacts' name order and its back-fill marker.
                "CONTACTS#BYNAME",
                "CONTACTS#BACKFILL",
            ] {
                n += delete_page(
                    table,
                    Query::partition(format!("ORG#{org_id}#{suffix}")).limit(PAGE),
                    &[],
                )
                .await?;
            }
            n
        }
        Family::Rest => {
            let mut cursor = None;
            loop {
                let page = table
                    .query(&Query::partition(org_partition(org_id)).limit(PAGE).after(cursor))
                    .await?;
                let mut keys = Vec::new();
                for item in &page.items {
                    let Some(key) = Key::of(item) else { continue };
                    if matches!(key.sk.as_str(), "PROFILE" | "BILLING" | "PURGED") {
                        continue;
                    }
                    // An invitation's emailed token lives under its own key.
                    if key.sk.starts_with("INVITE#")
                        && let Some(hash) = text(item, "token_hash")
                    {
                        keys.push(crate::services::records::token_key(
                            hash,
                            crate::services::records::TokenPurpose::Invitation,
                        ));
                    }
                    keys.push(key);
                }
                // A page of kept items only: the next one may hold some to delete.
                if !keys.is_empty() || page.cursor.is_none() {
                    break delete_keys(table, keys).await?;
                }
                cursor = page.cursor;
            }
        }
        Family::Billing => {
            let Some(billing) = table.get(&crate::services::billing::billing_key(org_id)).await? else {
                return Ok(0);
            };
            let mut keys = Vec::new();
            if let Some(customer) = text(&billing, "customer_id") {
                keys.push(crate::services::billing::customer_key(customer));
            }
            keys.push(crate::services::billing::billing_key(org_id));
            delete_keys(table, keys).await?
        }
    })
}

/// A page of the organization's contacts, each purged with all it left.
async fn purge_contacts(state: &(impl HasTable + HasSms), org_id: &OrgId) -> Result<usize, StoreError> {
    let table = state.table().as_ref();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(crate::services::contacts::contacts_index_partition(org_id))
                    .on(Index::Gsi1)
                    .limit(CONTACTS_PAGE)
                    .after(cursor),
            )
            .await?;
        let mut purged = 0;
        for item in &page.items {
            let Some(id) = text(item, "id") else { continue };
            if crate::services::contacts::purge(state, org_id, &ContactId::from(id.to_string())).await? {
                purged += 1;
            }
        }
        // An index that still lists contacts already gone (eventually
        // consistent) must not end the family early: read on.
        if purged > 0 || page.cursor.is_none() {
            return Ok(purged);
        }
        cursor = page.cursor;
    }
}

/// What a booking leads to outside its own item.
fn booking_satellites(org_id: &OrgId, booking: &Item) -> Vec<Key> {
    let mut keys = Vec::new();
    let Some(id) = text(booking, "id") else {
        return keys;
    };
    let booking_id = BookingId::from(id.to_string());
    if let Some(reminders) = booking.get("reminder_keys").and_then(Value::as_array) {
        for reminder in reminders {
            if let (Some(pk), Some(sk)) = (
                reminder.get("pk").and_then(Value::as_str),
                reminder.get("sk").and_then(Value::as_str),
            ) {
                keys.push(Key::new(pk, sk));
            }
        }
    }
    keys.push(Key::new(format!("BOOKING#{booking_id}"), "BOOKING"));
    keys.push(crate::services::notifications::notice_key(org_id, &booking_id));
    keys.push(crate::services::notifications::sms_counter_key(org_id, &booking_id));
    if let Some(host) = text(booking, "host_user_id") {
        let host = UserId::from(host.to_string());
        if let Some(start) = text(booking, "start").and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
            keys.push(crate::services::scheduling::host_calendar_key(
                org_id,
                &host,
                start.as_second(),
                &booking_id,
            ));
        }
        keys.push(crate::services::scheduling::host_calendar_version_key(org_id, &host));
    }
    keys
}

/// What a member has in the organization beside the membership.
async fn purge_member(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<usize, StoreError> {
    let table = state.table().as_ref();
    let mut n = delete_partition(
        table,
        crate::services::scheduling::host_calendar_partition(org_id, user_id),
    )
    .await?;
    n += delete_member_leftovers(table, org_id, user_id).await?;
    // Tokens revoked when the deletion was asked; whatever is left goes.
    n += delete_keys(table, vec![crate::services::google::connection_key(org_id, user_id)]).await?;
    n += end_sessions(table, user_id, org_id, None).await?;
    Ok(n)
}

/// What only a member's own work in the organization used: saved views,
/// import mapping, busy-time cache, the Gmail threads Konnecs sent in (send
/// keys, replies seen) and the reply poll's entry. Removing a member deletes
/// them, as the purge does; a member removed earlier leaves nothing the purge
/// could no longer reach through a membership.
pub async fn delete_member_leftovers(table: &dyn Table, org_id: &OrgId, user_id: &UserId) -> Result<usize, StoreError> {
    let mut n = 0;
    for partition in [
        format!("ORG#{org_id}#MEMBER#{user_id}#VIEWS"),
        format!("ORG#{org_id}#MEMBER#{user_id}#IMPORTMAP"),
        format!("ORG#{org_id}#GBUSY#{user_id}"),
        crate::services::google::gmail::gmail_partition(org_id, user_id),
    ] {
        n += delete_partition(table, partition).await?;
    }
    n += delete_keys(
        table,
        vec![crate::services::google::gmail::mailbox_key(org_id, user_id)],
    )
    .await?;
    Ok(n)
}

/// A user whose only organization this was goes with it: profile, email
/// (their sign-in, password or Google), photo and every session.
async fn purge_user_if_orphaned(
    state: &(impl HasTable + HasObjects),
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<usize, PurgeError> {
    let table = state.table().as_ref();
    let others = table
        .query(&Query::partition(user_orgs_partition(user_id)).on(Index::Gsi1).limit(10))
        .await?;
    // The index may still list the membership just deleted.
    let member_elsewhere = others
        .items
        .iter()
        .any(|item| text(item, "org_id").is_some_and(|other| other != org_id.as_str()));
    if member_elsewhere {
        // They keep their account; it no longer points at this organization.
        let forget = table
            .update(
                &user_key(user_id),
                crate::ports::Update::default().remove("last_org_id"),
                Some(Condition::AttributeEquals {
                    name: "last_org_id".into(),
                    value: json!(org_id),
                }),
            )
            .await;
        return match forget {
            Ok(_) => Ok(1),
            Err(StoreError::ConditionFailed) => Ok(0),
            Err(err) => Err(err.into()),
        };
    }
    let Some(user) = table.get(&user_key(user_id)).await? else {
        return Ok(0);
    };
    let mut n = crate::services::sessions::revoke_all(table, user_id, None).await?;
    if let Some(photo) = text(&user, "photo_key") {
        state
            .objects()
            .delete(photo)
            .await
            .map_err(|err| PurgeError::Objects(err.to_string()))?;
    }
    let mut keys = Vec::new();
    for email in [text(&user, "email"), text(&user, "pending_email")]
        .into_iter()
        .flatten()
    {
        let email_key = crate::services::records::email_key(email);
        // Only the user's own claim: a pending address may be someone else's.
        match table
            .delete(
                &email_key,
                Some(Condition::AttributeEquals {
                    name: "user_id".into(),
                    value: json!(user_id),
                }),
            )
            .await
        {
            Ok(_) => n += 1,
            Err(StoreError::ConditionFailed) => {}
            Err(err) => return Err(err.into()),
        }
    }
    keys.push(user_key(user_id));
    n += delete_keys(table, keys).await?;
    Ok(n)
}
