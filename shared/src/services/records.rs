//! Stored records of accounts and organizations, and their keys in the one
//! table. Everything an organization owns lives under `ORG#<id>` partitions,
//! so export and purge are a bounded set of queries.
//!
//! | item | pk | sk | index |
//! |---|---|---|---|
//! | user | `USER#<id>` | `PROFILE` | |
//! | email → user (unique) | `EMAIL#<email>` | `USER` | |
//! | organization | `ORG#<id>` | `PROFILE` | |
//! | slug → org (unique) | `SLUG#<slug>` | `ORG` | |
//! | membership | `ORG#<id>` | `MEMBER#<user>` | gsi1: `USER#<user>#ORGS` / `ORG#<id>` |
//! | session | `SESSION#<sha256>` | `SESSION` | gsi1: `USER#<user>#SESSIONS` / created |
//! | one-time token | `TOKEN#<sha256>` | `<purpose>` | |
//! | invitation (TTL `expires_at`; its token is `TOKEN#<sha256>` / `INVITATION`, see `services::orgs`) | `ORG#<id>` | `INVITE#<id>` | |
//! | audit entry | `ORG#<id>#AUDIT` | `<ms>#<id>` | |
//! | schedule | `ORG#<id>` | `SCHEDULE#<id>` | |
//! | event type | `ORG#<id>` | `EVENTTYPE#<id>` | |
//! | event slug → event type (unique per org) | `ORG#<id>#EVENTSLUG#<slug>` | `EVENTTYPE` | |
//! | booking | `ORG#<id>` | `BOOKING#<id>` | gsi1: `ORG#<id>#HOST#<user>#BOOKINGS` / `<start s, 12 digits>#<id>` |
//! | booking uid → org, token hash (manage link) | `BOOKING#<id>` | `BOOKING` | |
//! | host calendar entry (live bookings) / version | `ORG#<id>#HOSTCAL#<user>` | `<start s, 12 digits>#<booking>` / `VERSION` | |
//! | pending reminder (see `services::reminders`; the unsharded `REMINDERS#<due minute UTC>` of earlier releases is still read) | `REMINDERS#<due minute UTC>#<shard>` | `<org>#<booking>#<offset>#<channel>` | |
//! | reminder tick cursor (see `services::reminder_dispatch`) | `REMINDERTICK` | `CURSOR` | |
//! | booking notice: what messages and reminders need (see `services::notifications`) | `ORG#<id>` | `BOOKINGNOTICE#<booking>` | |
//! | SMS allowance of a booking (≤ 3, conditional counter) | `ORG#<id>` | `SMSCOUNT#<booking>` | |
//! | SMS claim without a booking | `SMSKEY#<sha256 of key>` | `SMS` | |
//! | SMS opt-out (read before every SMS; STOP/START write it) | `SMSOPTOUT#<sender>#<recipient E.164>` | `OPTOUT` | |
//! | pipeline, stages inside (see `services::pipelines`) | `ORG#<id>` | `PIPELINE#<id>` | |
//! | deal | `ORG#<id>` | `DEAL#<id>` | gsi1: `ORG#<id>#PIPE#<pipeline>` / `STAGE#<stage>#<deal>`; gsi2: `ORG#<id>#CONTACT#<contact>#DEALS` / `<deal>` |
//! | contacts import, progress checkpoint (see `services::imports`) | `ORG#<id>` | `IMPORT#<id>` | |
//! | contacts export job, progress checkpoint (TTL `expires_at`, 7 days; see `services::exports::job`) | `ORG#<id>` | `EXPORT#<id>` | |
//! | contact (see `services::contacts`) | `ORG#<id>#CONTACT#<contact>` | `PROFILE` | gsi1: `ORG#<id>#CONTACTS` / `<created ms, 13 digits>#<contact>`; gsi2: `ORG#<id>#OWNER#<user>` / same; gsi3: `ORG#<id>#CONTACTS#BYUPDATE` / `<updated ms, 13 digits>#<contact>` |
//! | contact by name / the sort keys' back-fill marker (see `services::contacts::order_backfill`) | `ORG#<id>#CONTACTS#BYNAME` / `ORG#<id>#CONTACTS#BACKFILL` | `<folded name> #<contact>` / `ORDER` | |
//! | contact note / timeline entry | `ORG#<id>#CONTACT#<contact>` | `NOTE#<note>` / `TL#<ms, 13 digits>#<entry>` | |
//! | contact email / phone → contact (unique per org) | `ORG#<id>#CEMAIL#<email>` / `ORG#<id>#CPHONE#<E.164>` | `CONTACT` | |
//! | contact search key (name words, full name, emails, phone digits) | `ORG#<id>#SEARCH` | `<folded token>#<contact>` | |
//! | tag counter / contact by tag | `ORG#<id>#TAGS` / `ORG#<id>#TAG#<tag>` | `<tag>` / `<created ms>#<contact>` | |
//! | custom field / field key (unique) | `ORG#<id>#FIELDS` / `ORG#<id>#FIELDKEY#<key>` | `FIELD#<id>` / `FIELD` | |
//! | failed import row | `ORG#<id>#IMPORT#<import>#ERRORS` | `<row, 9 digits>` | |
//! | import pace: until when the organization's imports have reserved its write budget (DynamoDB only, TTL; see `services::imports`) | `ORG#<id>#IMPORTPACE` | `PACE` | |
//! | pipeline statistics: deals and values per stage and currency (see `services::pipelines`) | `ORG#<id>` | `PIPESTATS#<pipeline>` | |
//! | webhook endpoint, its signing secret sealed (see `services::webhooks`) | `ORG#<id>` | `WEBHOOK#<endpoint>` | |
//! | webhook delivery and its attempts (TTL `expires_at`, 30 days) / event → delivery claim (same TTL) | `ORG#<id>#WEBHOOK#<endpoint>` | `DELIVERY#<delivery>` / `EVENT#<event id>` | |
//! | usage counters for plan limits: contacts, texts of a month, the month's "texts used up" notice (see `services::billing::usage`) | `ORG#<id>#USAGE` | `CONTACTS` / `SMS#<YYYY-MM>` / `SMSLIMIT#<YYYY-MM>` | |
//! | a member's Google connection, tokens sealed by the key vault (see `services::google`) | `ORG#<id>` | `GOOGLE#<user>` | |
//! | a started Google connect, single use (TTL 10 minutes; see `services::google`) | `TOKEN#<sha256 of state>` | `GOOGLE_CONNECT` | |
//! | an organization being deleted, by when its purge may start (see `services::orgs::deletion`) | `ORGPURGE` | `<purge after s, 12 digits>#<org>` | |
//! | what is left of a purged organization: its id and dates, nothing personal | `ORG#<id>` | `PURGED` | |
//!
//! Objects (the `ObjectStore`, not the table): a profile photo is
//! `photos/<user id>/<photo id>`, a new key per upload, referenced by
//! `UserRecord.photo_key` (`services::photos`); an import's uploaded CSV is
//! `imports/<org>/<import>/part-<n, 5 digits>.csv` (`services::imports`); an
//! export job's file is `exports/<org>/<export>/contacts-<export>.<csv|jsonl>`
//! or `exports/<org>/<export>/import-<import>-errors.csv`, with
//! rows between parts in `exports/<org>/<export>/staging-<id>`
//! (`services::exports::job`; the bucket expires `exports/` after 7 days).

use crate::domain::ids::{OrgId, UserId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::role::Role;
use crate::ports::{Item, Key, StoreError, Table};

pub fn user_key(user_id: &UserId) -> Key {
    Key::new(format!("USER#{user_id}"), "PROFILE")
}
pub fn email_key(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), "USER")
}
pub fn org_key(org_id: &OrgId) -> Key {
    Key::new(format!("ORG#{org_id}"), "PROFILE")
}
pub fn slug_key(slug: &str) -> Key {
    Key::new(format!("SLUG#{slug}"), "ORG")
}
pub fn member_key(org_id: &OrgId, user_id: &UserId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("MEMBER#{user_id}"))
}
pub fn user_orgs_partition(user_id: &UserId) -> String {
    format!("USER#{user_id}#ORGS")
}
pub fn user_sessions_partition(user_id: &UserId) -> String {
    format!("USER#{user_id}#SESSIONS")
}
pub fn session_key(token_hash: &str) -> Key {
    Key::new(format!("SESSION#{token_hash}"), "SESSION")
}
pub fn token_key(token_hash: &str, purpose: TokenPurpose) -> Key {
    Key::new(format!("TOKEN#{token_hash}"), purpose.as_str())
}

/// Whether `id` could be one of ours ([`new_id`]'s hex, alphanumeric at any
/// rate): anything else names no item, and is not worth a store read.
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new id: UUIDv7 (time-ordered), without hyphens.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub email_verified: bool,
    #[serde(default)]
    pub pending_email: Option<String>,
    #[serde(default)]
    pub photo_key: Option<String>,
    /// The organization a new session opens in.
    #[serde(default)]
    pub last_org_id: Option<OrgId>,
    /// The IANA zone the member reads times in; `None` (or blank): the
    /// organization's.
    #[serde(default)]
    pub time_zone: Option<String>,
    pub created_at: String,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgRecord {
    pub id: OrgId,
    pub name: String,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    pub time_zone: String,
    /// ISO 3166-1 alpha-2; the default region for phone numbers.
    pub country: String,
    pub slug: String,
    /// Kept exact by conditional writes so the last owner can never leave.
    pub owner_count: i64,
    pub created_at: String,
    pub version: u64,
    /// Set while the organization is being deleted (`services::orgs::deletion`):
    /// nobody but an owner cancelling it reaches it any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<OrgDeletion>,
}

/// An owner's request to delete the organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgDeletion {
    pub requested_by: UserId,
    /// Unix seconds.
    pub requested_at: i64,
    /// Unix seconds: the end of the grace window, when the purge may start.
    pub purge_after: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub role: Role,
    pub name: String,
    pub email: String,
    pub joined_at: String,
    /// The organization is being deleted: only an owner may still act, and
    /// only to cancel it (set and cleared with `OrgRecord::deletion`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    VerifyEmail,
    PasswordReset,
    Invitation,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "VERIFY_EMAIL",
            TokenPurpose::PasswordReset => "PASSWORD_RESET",
            TokenPurpose::Invitation => "INVITATION",
        }
    }

    pub fn lifetime_seconds(self) -> i64 {
        match self {
            TokenPurpose::VerifyEmail => 48 * 3600,
            TokenPurpose::PasswordReset => 3600,
            TokenPurpose::Invitation => 7 * 24 * 3600,
        }
    }
}

/// A record with its table keys, ready to put.
pub fn to_item<T: Serialize>(key: &Key, record: &T, extra: &[(&str, serde_json::Value)]) -> Result<Item, StoreError> {
    let value = serde_json::to_value(record).map_err(|err| StoreError::Invalid(err.to_string()))?;
    let serde_json::Value::Object(mut item) = value else {
        return Err(StoreError::Invalid("record is not an object".into()));
    };
    item.insert("pk".into(), key.pk.clone().into());
    item.insert("sk".into(), key.sk.clone().into());
    for (name, value) in extra {
        item.insert((*name).to_string(), value.clone());
    }
    Ok(item)
}

/// Reads a record back; a stored item that no longer parses is a server fault.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::Object(item))
        .map_err(|err| StoreError::Invalid(format!("corrupt record: {err}")))
}

/// Whether the organization is gone or being deleted
/// (`services::orgs::deletion`): nothing is sent, shown or run for it any more.
pub async fn org_closing(table: &dyn Table, org_id: &OrgId) -> Result<bool, StoreError> {
    match table.get(&org_key(org_id)).await? {
        None => Ok(true),
        Some(item) => Ok(from_item::<OrgRecord>(item)?.deletion.is_some()),
    }
}
