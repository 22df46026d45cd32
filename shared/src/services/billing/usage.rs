//! Usage counters an organization's writes keep, so a plan check is one
//! read instead of a count of the records.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | texts sent in a calendar month (UTC; TTL a year later) | `ORG#<id>#USAGE` | `SMS#<YYYY-MM>` |
//! | a month's "texts used up" notification, once (TTL as above) | `ORG#<id>#USAGE` | `SMSLIMIT#<YYYY-MM>` |
//! | contacts the organization has (`count`; `seeded` once counted whole) | `ORG#<id>#USAGE` | `CONTACTS` |
//!
//! A leaf (keys and ports only): the contacts and notification services
//! keep these counters, and the plan checks read them.

use jiff::Timestamp;
use serde_json::Value;

use crate::domain::ids::OrgId;
use crate::ports::{Item, Key, Update, WriteOp};

/// How long a month's counter is kept after the month: the billing page
/// shows the current month only; a year leaves room for support questions.
pub const KEEP_MONTH_SECONDS: i64 = 400 * 24 * 3600;

pub fn usage_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#USAGE")
}

/// The calendar month (UTC) `at` falls in: `2026-12`.
pub fn month_of(at: Timestamp) -> String {
    at.strftime("%Y-%m").to_string()
}

/// The organization's texts of `month`.
pub fn sms_month_key(org_id: &OrgId, month: &str) -> Key {
    Key::new(usage_partition(org_id), format!("SMS#{month}"))
}

/// Marks that the staff were told `month`'s texts are used up.
pub fn sms_limit_notice_key(org_id: &OrgId, month: &str) -> Key {
    Key::new(usage_partition(org_id), format!("SMSLIMIT#{month}"))
}

/// The `count` of a counter item (0 without one).
pub fn count_of(item: Option<&Item>) -> u64 {
    item.and_then(|item| item.get("count"))
        .and_then(Value::as_i64)
        .map_or(0, |count| count.max(0) as u64)
}

/// The organization's contact counter. Every transaction that creates or
/// deletes contacts moves it by [`contact_count_op`] (a merge deletes one);
/// the first plan check of an organization whose contacts predate the
/// counter counts them once and marks it `seeded` (`limits::contacts_in_use`).
pub fn contacts_counter_key(org_id: &OrgId) -> Key {
    Key::new(usage_partition(org_id), "CONTACTS")
}

/// Moves the contact counter by `delta`, inside the transaction that creates
/// or deletes the contacts (an atomic add: concurrent writers never conflict
/// on it).
pub fn contact_count_op(org_id: &OrgId, delta: i64) -> WriteOp {
    WriteOp::Update {
        key: contacts_counter_key(org_id),
        update: Update::default().add("count", delta),
        condition: None,
    }
}

/// Whether a counter was seeded from a full count (see [`contacts_counter_key`]).
pub fn is_seeded(item: &Item) -> bool {
    item.get("seeded").and_then(Value::as_bool) == Some(true)
}
