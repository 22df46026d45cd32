//! Sessions: 256-bit random tokens in a cookie, stored only as hashes, with
//! idle and absolute timeouts. A new token at every login; logout and
//! log-out-everywhere delete them.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, Actor};
use super::records::{new_id, session_key, user_sessions_partition};
use super::secrets::{csrf_token, new_token};
use crate::config::AppConfig;
use crate::domain::token::token_hash;
use crate::ports::{BatchOp, Condition, Index, Item, Key, Query, StoreError, Table, Update, WriteOp};

/// Sessions are touched at most this often, so idle tracking costs one write
/// per few minutes of activity rather than one per request.
pub const TOUCH_EVERY_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub absolute_expires_at: i64,
}

/// A session just created: the token goes into the cookie and nowhere else.
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub put: WriteOp,
}

fn expiry(config: &AppConfig, last_seen: i64, absolute: i64) -> i64 {
    (last_seen + config.session_idle_seconds).min(absolute)
}

/// A fresh session for `user_id` in `org_id`, as an operation of the caller's
/// transaction (sign-up, login, accepting an invitation).
pub fn new_session(config: &AppConfig, user_id: &UserId, org_id: &OrgId, now: i64) -> NewSession {
    let token = new_token();
    let hash = token_hash(&token);
    let absolute = now + config.session_absolute_seconds;
    let record = SessionRecord {
        id: new_id(),
        user_id: user_id.clone(),
        org_id: org_id.into(),
        created_at: now,
        last_seen_at: now,
        absolute_expires_at: absolute,
    };
    let key = session_key(&hash);
    let item = super::object(json!({
        "pk": key.pk, "sk": key.sk,
        "id": record.id, "user_id": record.user_id, "org_id": record.org_id,
        "created_at": record.created_at, "last_seen_at": record.last_seen_at,
        "absolute_expires_at": record.absolute_expires_at,
        "expires_at": expiry(config, now, absolute),
        "gsi1pk": user_sessions_partition(user_id),
        "gsi1sk": format!("{now:012}#{}", record.id),
    }));
    NewSession {
        csrf_token: csrf_token(&token),
        token,
        put: WriteOp::Put {
            item,
            condition: Some(Condition::NotExists),
        },
    }
}

/// The live session of a cookie token, touched if it has been idle a while.
/// Expired sessions are invisible (TTL), so a stale cookie resolves to None.
pub async fn resolve(
    table: &dyn Table,
    config: &AppConfig,
    token: &str,
    now: i64,
) -> Result<Option<SessionRecord>, StoreError> {
    let key = session_key(&token_hash(token));
    let Some(item) = table.get(&key).await? else {
        return Ok(None);
    };
    let record: SessionRecord = super::records::from_item(item)?;
    if now >= expiry(config, record.last_seen_at, record.absolute_expires_at) {
        return Ok(None);
    }
    if now - record.last_seen_at >= TOUCH_EVERY_SECONDS {
        let update = Update::default()
            .set("last_seen_at", now)
            .set("expires_at", expiry(config, now, record.absolute_expires_at));
        match table.update(&key, update, Some(Condition::Exists)).await {
            Ok(_) => {}
            // Logged out concurrently: the session is gone.
            Err(StoreError::ConditionFailed) => return Ok(None),
            Err(err) => return Err(err),
        }
    }
    Ok(Some(record))
}

/// Moves a session to another organization (after accepting an invitation).
pub async fn switch_org(table: &dyn Table, token: &str, org_id: &OrgId) -> Result<(), StoreError> {
    let key = session_key(&token_hash(token));
    table
        .update(&key, Update::default().set("org_id", org_id), Some(Condition::Exists))
        .await
        .map(|_| ())
}

/// Ends the session of `token` (logout), recorded in the audit log in the
/// same transaction.
pub async fn logout(table: &dyn Table, token: &str, actor: &Actor, now: jiff::Timestamp) -> Result<(), StoreError> {
    let user = actor.user_id.as_deref().unwrap_or_default();
    table
        .transact(vec![
            WriteOp::Delete {
                key: session_key(&token_hash(token)),
                condition: None,
            },
            audit::entry(actor, now, "auth.logout", &format!("user:{user}"), json!({})),
        ])
        .await
}

/// Every session key of a user (paged query on the user's session index).
async fn session_keys(table: &dyn Table, user_id: &UserId) -> Result<Vec<(Key, Item)>, StoreError> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let query = Query::partition(user_sessions_partition(user_id))
            .on(Index::Gsi1)
            .limit(100)
            .after(cursor);
        let page = table.query(&query).await?;
        keys.extend(page.items.into_iter().filter_map(|item| Some((Key::of(&item)?, item))));
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(keys);
        }
    }
}

/// Why a user's sessions end in bulk, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The user asked to be signed out everywhere (`auth.logout_all`).
    LogoutAll,
    /// A password change ends every other session (`auth.sessions_revoked`).
    PasswordChanged,
    /// A password reset ends every session (`auth.sessions_revoked`).
    PasswordReset,
}

/// Deletes every session of the user except the one whose token is `keep`,
/// then records how many ended and why. The deletes are batched (a user may
/// have more sessions than one transaction holds), so the entry follows
/// them; a log-out-everywhere is recorded even when no other session was
/// live, an automatic revocation only when it ended one.
pub async fn revoke_all_recorded(
    table: &dyn Table,
    user_id: &UserId,
    keep: Option<&str>,
    why: Revocation,
    actor: &Actor,
    now: jiff::Timestamp,
) -> Result<usize, StoreError> {
    let count = revoke_all(table, user_id, keep).await?;
    let target = format!("user:{user_id}");
    let entry = match why {
        Revocation::LogoutAll => audit::entry(actor, now, "auth.logout_all", &target, json!({"sessions": count})),
        _ if count == 0 => return Ok(0),
        Revocation::PasswordChanged | Revocation::PasswordReset => {
            let reason = if why == Revocation::PasswordReset {
                "password_reset"
            } else {
                "password_changed"
            };
            audit::entry(
                actor,
                now,
                "auth.sessions_revoked",
                &target,
                json!({"sessions": count, "reason": reason}),
            )
        }
    };
    table.transact(vec![entry]).await?;
    Ok(count)
}

/// Deletes every session of the user except the one whose token is `keep`.
pub async fn revoke_all(table: &dyn Table, user_id: &UserId, keep: Option<&str>) -> Result<usize, StoreError> {
    let keep_key = keep.map(|token| session_key(&token_hash(token)));
    let deletes: Vec<BatchOp> = session_keys(table, user_id)
        .await?
        .into_iter()
        .filter(|(key, _)| Some(key) != keep_key.as_ref())
        .map(|(key, _)| BatchOp::Delete(key))
        .collect();
    let count = deletes.len();
    if count > 0 {
        table.batch_write(deletes).await?;
    }
    Ok(count)
}
