//! What the scheduled calendar sync needs of a member's connection: the
//! members to sync (a sparse index of the connections, sharded), a working
//! Calendar access (none for a broken, disconnected or calendar-less
//! connection, so no call is made for it), and where the listing of the
//! written calendar stands (its sync token).
//!
//! | item | index pk | index sk |
//! |---|---|---|
//! | a member's Google connection | gsi2 `GOOGLE#<shard>` | `<org>#<user>` |

use std::sync::Arc;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ConnectionRecord, ConnectionStatus, GoogleConnectionError, access_token, connection_key, read_connection};
use crate::domain::google::GoogleFeature;
use crate::domain::ids::{OrgId, UserId};
use crate::ports::{Condition, GoogleOAuth, HasTable, Index, Query, StoreError, Update};
use crate::services::google::calendar::CalendarReach;

/// Shards of the connections index: a tick reads them all, and no one
/// partition holds every connection.
pub const CONNECTION_SHARDS: u32 = 8;
/// Connections read per index page.
const PAGE: u32 = 500;

/// Where the listing of the written calendar stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsSync {
    /// The calendar listed (a new write calendar starts over).
    pub calendar_id: String,
    /// From the last page of the last full or incremental listing.
    #[serde(default)]
    pub sync_token: Option<String>,
    /// A full listing in progress continues from this page next time.
    #[serde(default)]
    pub page_token: Option<String>,
}

fn shard_of(org_id: &OrgId, user_id: &UserId) -> u32 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = format!("{org_id}#{user_id}")
        .bytes()
        .fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(PRIME));
    (hash % u64::from(CONNECTION_SHARDS)) as u32
}

pub fn connections_partition(shard: u32) -> String {
    format!("GOOGLE#{shard}")
}

/// The index attributes of a member's connection item.
pub fn connections_index(org_id: &OrgId, user_id: &UserId) -> [(&'static str, serde_json::Value); 2] {
    [
        ("gsi2pk", json!(connections_partition(shard_of(org_id, user_id)))),
        ("gsi2sk", json!(format!("{org_id}#{user_id}"))),
    ]
}

/// Every member with a Google connection (connected or broken), from the
/// connections index.
pub async fn connected_members(state: &impl HasTable) -> Result<Vec<(OrgId, UserId)>, StoreError> {
    let mut members = Vec::new();
    for shard in 0..CONNECTION_SHARDS {
        let mut cursor = None;
        loop {
            let page = state
                .table()
                .query(
                    &Query::partition(connections_partition(shard))
                        .on(Index::Gsi2)
                        .limit(PAGE)
                        .after(cursor),
                )
                .await?;
            for item in &page.items {
                let org = item.get("org_id").and_then(|v| v.as_str());
                let user = item.get("user_id").and_then(|v| v.as_str());
                if let (Some(org), Some(user)) = (org, user) {
                    members.push((OrgId::from(org), UserId::from(user)));
                }
            }
            cursor = page.cursor;
            if cursor.is_none() {
                break;
            }
        }
    }
    Ok(members)
}

/// A working Calendar access of a member: Google, a fresh token and the
/// connection.
pub struct CalendarAccess {
    pub google: Arc<dyn GoogleOAuth>,
    pub token: SecretString,
    pub record: ConnectionRecord,
}

/// The member's Calendar access, or `None` when nothing may be called for
/// them: Google not configured, no connection, a broken one (also one
/// that breaks on this refresh), or one without Calendar access.
pub async fn calendar_access(
    state: &impl CalendarReach,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Option<CalendarAccess>, GoogleConnectionError> {
    let Some(google) = state.google().cloned() else {
        return Ok(None);
    };
    let Some(record) = read_connection(state, org_id, user_id).await? else {
        return Ok(None);
    };
    if record.status == ConnectionStatus::Broken
        || !GoogleFeature::granted_in(&record.scopes).contains(&GoogleFeature::Calendar)
    {
        return Ok(None);
    }
    match access_token(state, org_id, user_id).await {
        Ok(token) => Ok(Some(CalendarAccess { google, token, record })),
        Err(GoogleConnectionError::Broken(_) | GoogleConnectionError::NotConnected) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Whether the member's bookings are written into a Google calendar now:
/// a working connection with Calendar access and a calendar chosen. Read
/// before queueing a booking's event job, so bookings of the many hosts
/// without Google queue nothing.
pub async fn writes_bookings(state: &impl HasTable, org_id: &OrgId, user_id: &UserId) -> Result<bool, StoreError> {
    Ok(read_connection(state, org_id, user_id).await?.is_some_and(|record| {
        record.status == ConnectionStatus::Connected
            && record.write_calendar.is_some()
            && GoogleFeature::granted_in(&record.scopes).contains(&GoogleFeature::Calendar)
    }))
}

/// Stores where the listing stands, only on a connection that still
/// exists (a disconnect meanwhile stays a disconnect).
pub async fn save_events_sync(
    state: &impl HasTable,
    org_id: &OrgId,
    user_id: &UserId,
    sync: &EventsSync,
) -> Result<(), StoreError> {
    let update = Update::default().set("events_sync", json!(sync));
    match state
        .table()
        .update(&connection_key(org_id, user_id), update, Some(Condition::Exists))
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_spread_over_every_shard() {
        let org = OrgId::from("org_01");
        let mut seen = std::collections::BTreeSet::new();
        for n in 0..200 {
            seen.insert(shard_of(&org, &UserId::from(format!("usr_{n}"))));
        }
        assert_eq!(seen.len(), CONNECTION_SHARDS as usize);
    }
}
