//! Deleting an organization (the privacy policy: "If you delete your
//! account, we will remove your personal data and organization data within
//! 30 days"; Google data and tokens alike).
//!
//! Timeline:
//! - **At once**, when an owner asks (typing the organization's name, and
//!   re-authenticating by password or a sign-in of the last
//!   [`RECENT_SIGN_IN_SECONDS`]): the Stripe subscription is cancelled (the
//!   request fails, changing nothing, while Stripe cannot be reached); the
//!   organization is marked closing; every member's sessions in it end
//!   (the requester's own stays, to see the timeline and cancel), and no
//!   member but an owner cancelling can act in it any more; its public
//!   booking pages and forms answer 404; no reminder, text, email, webhook
//!   or import/export job runs for it; every Google grant in it is revoked
//!   at Google and its tokens deleted.
//! - **Within [`GRACE_DAYS`] days**: an owner may cancel; access comes back
//!   (the subscription does not: subscribe again).
//! - **After the grace window**: `org-purge-tick` (hourly) starts the purge
//!   (`purge`), which deletes every item of the organization in bounded
//!   slices on the bulk queue, normally within the hour. Backups may keep
//!   copies up to 90 more days, as the policy says.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

use super::OrgError;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::input::FieldError;
use crate::domain::role::Role;
use crate::domain::token::token_hash;
use crate::ports::{
    BatchOp, Condition, HasClock, HasGoogle, HasKeys, HasPayments, HasTable, Index, Key, Query, SortKey, StoreError,
    Table, Update, WriteOp,
};
use crate::services::audit::{self, Actor};
use crate::services::records::{
    MemberRecord, OrgDeletion, from_item, org_key, session_key, to_item, user_key, user_sessions_partition,
};
use crate::services::sessions::SessionRecord;

/// The days an owner has to change their mind.
pub const GRACE_DAYS: i64 = 7;
/// A sign-in this recent re-authenticates the owner without a password
/// (accounts made with Google have none).
pub const RECENT_SIGN_IN_SECONDS: i64 = 10 * 60;

/// The partition of organizations waiting for their purge, by its start.
pub const PURGE_DUE_PARTITION: &str = "ORGPURGE";

pub fn purge_due_key(org_id: &OrgId, purge_after: i64) -> Key {
    Key::new(PURGE_DUE_PARTITION, format!("{purge_after:012}#{org_id}"))
}

/// The deletion as the API and the settings page show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct DeletionView {
    pub requested_at: String,
    pub requested_by: UserId,
    /// When the purge starts; cancelling is possible until then.
    pub purge_after: String,
    /// The latest the purge has removed everything (the policy's 30 days).
    pub purged_by: String,
    pub grace_days: i64,
}

impl DeletionView {
    pub fn of(deletion: &OrgDeletion) -> Self {
        let at = |s: i64| Timestamp::from_second(s).map(|t| t.to_string()).unwrap_or_default();
        DeletionView {
            requested_at: at(deletion.requested_at),
            requested_by: deletion.requested_by.clone(),
            purge_after: at(deletion.purge_after),
            purged_by: at(deletion.requested_at + 30 * 86_400),
            grace_days: GRACE_DAYS,
        }
    }
}

/// How the owner proves it is them again.
pub struct Reauthentication {
    pub password: Option<String>,
    /// The cookie token of the request's session (never logged).
    pub session_token: String,
}

/// The organization's pending deletion, if any.
pub async fn status(state: &impl HasTable, org_id: &OrgId) -> Result<Option<DeletionView>, OrgError> {
    let org = super::org(state, org_id).await?;
    Ok(org.deletion.as_ref().map(DeletionView::of))
}

fn field(name: &str, code: &str, message: &str) -> OrgError {
    OrgError::Invalid(vec![FieldError::new(name, code, message)])
}

/// An owner asks to delete the organization. Asking again while it is
/// closing repeats what must hold (members shut out, sessions ended,
/// Google revoked) and answers the same deletion.
pub async fn request(
    state: &(impl HasTable + HasClock + HasPayments + HasGoogle + HasKeys),
    actor: &Actor,
    role: Role,
    confirm_name: &str,
    reauth: Reauthentication,
) -> Result<DeletionView, OrgError> {
    if role != Role::Owner {
        return Err(OrgError::InsufficientRole);
    }
    let user_id = actor.user_id.clone().ok_or(OrgError::InsufficientRole)?;
    let org = super::org(state, &actor.org_id).await?;
    if let Some(deletion) = &org.deletion {
        shut_out(state, actor, &reauth.session_token).await?;
        return Ok(DeletionView::of(deletion));
    }
    if confirm_name.trim() != org.name.trim() {
        return Err(field(
            "confirm_name",
            "mismatch",
            "Type the organization's name exactly as shown.",
        ));
    }
    reauthenticate(state, &user_id, &reauth).await?;
    let now = state.clock().now();
    cancel_subscription(state, &actor.org_id).await?;
    let deletion = OrgDeletion {
        requested_by: user_id,
        requested_at: now.as_second(),
        purge_after: now.as_second() + GRACE_DAYS * 86_400,
    };
    let due = purge_due_key(&actor.org_id, deletion.purge_after);
    let ops = vec![
        WriteOp::Update {
            key: org_key(&actor.org_id),
            update: Update::default()
                .set(
                    "deletion",
                    serde_json::to_value(&deletion).map_err(|e| OrgError::Internal(e.to_string()))?,
                )
                .add("version", 1),
            condition: Some(Condition::VersionEquals(org.version)),
        },
        WriteOp::Put {
            item: to_item(&due, &json!({"org_id": actor.org_id}), &[])?,
            condition: None,
        },
        audit::entry(
            actor,
            now,
            "org.deletion_requested",
            &format!("org:{}", actor.org_id),
            json!({"purge_after": DeletionView::of(&deletion).purge_after}),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => {}
        Err(err) if err.is_condition_failure() => return Err(OrgError::Conflict),
        Err(err) => return Err(err.into()),
    }
    shut_out(state, actor, &reauth.session_token).await?;
    Ok(DeletionView::of(&deletion))
}

async fn reauthenticate(
    state: &(impl HasTable + HasClock),
    user_id: &UserId,
    reauth: &Reauthentication,
) -> Result<(), OrgError> {
    if let Some(password) = reauth.password.clone().filter(|p| !p.is_empty()) {
        let user: crate::services::records::UserRecord = match state.table().get(&user_key(user_id)).await? {
            Some(item) => from_item(item)?,
            None => return Err(OrgError::InvalidCredentials),
        };
        return if crate::services::secrets::verify_password(password, Some(user.password_hash)).await {
            Ok(())
        } else {
            Err(field("password", "invalid", "That is not your password."))
        };
    }
    let session: Option<SessionRecord> = match state
        .table()
        .get(&session_key(&token_hash(&reauth.session_token)))
        .await?
    {
        Some(item) => Some(from_item(item)?),
        None => None,
    };
    let recent = session.is_some_and(|s| state.clock().unix_seconds() - s.created_at <= RECENT_SIGN_IN_SECONDS);
    if recent {
        Ok(())
    } else {
        Err(field(
            "password",
            "required",
            "Enter your password (or sign in again) to delete the organization.",
        ))
    }
}

/// Cancels the organization's Stripe subscription, once however often it
/// is asked (the idempotency key names the subscription).
async fn cancel_subscription(state: &(impl HasTable + HasPayments), org_id: &OrgId) -> Result<(), OrgError> {
    let Some(payments) = state.payments() else {
        return Ok(());
    };
    let billing = crate::services::billing::record(state, org_id).await?;
    let Some(subscription_id) = billing.subscription_id else {
        return Ok(());
    };
    if billing.status == Some(crate::domain::billing::SubscriptionStatus::Canceled) {
        return Ok(());
    }
    payments
        .cancel_subscription(&subscription_id, &format!("org-deletion:{org_id}:{subscription_id}"))
        .await
        .map_err(|err| OrgError::Unavailable(err.to_string()))
}

/// The organization's memberships, all of them (a bounded number: plan limits).
pub(super) async fn members(table: &dyn Table, org_id: &OrgId) -> Result<Vec<MemberRecord>, StoreError> {
    let mut members = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(format!("ORG#{org_id}"))
                    .sort(SortKey::BeginsWith("MEMBER#".into()))
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            members.push(from_item(item)?);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(members);
        }
    }
}

/// Marks every membership closing, ends every session in the organization
/// but `keep_token`'s, and revokes every Google grant made in it.
async fn shut_out(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys),
    actor: &Actor,
    keep_token: &str,
) -> Result<(), OrgError> {
    let table = state.table().as_ref();
    let org_id = &actor.org_id;
    let keep = session_key(&token_hash(keep_token));
    for member in members(table, org_id).await? {
        if !member.closing {
            match table
                .update(
                    &crate::services::records::member_key(org_id, &member.user_id),
                    Update::default().set("closing", true),
                    Some(Condition::Exists),
                )
                .await
            {
                Ok(_) | Err(StoreError::ConditionFailed) => {}
                Err(err) => return Err(err.into()),
            }
        }
        end_sessions(table, &member.user_id, org_id, Some(&keep)).await?;
    }
    revoke_google(state, actor).await?;
    Ok(())
}

/// Deletes the user's sessions opened in `org_id`, all but `keep`.
pub(super) async fn end_sessions(
    table: &dyn Table,
    user_id: &UserId,
    org_id: &OrgId,
    keep: Option<&Key>,
) -> Result<usize, StoreError> {
    let mut deletes = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(user_sessions_partition(user_id))
                    .on(Index::Gsi1)
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        deletes.extend(
            page.items
                .iter()
                .filter(|item| item.get("org_id").and_then(|v| v.as_str()) == Some(org_id.as_str()))
                .filter_map(Key::of)
                .filter(|key| Some(key) != keep)
                .map(BatchOp::Delete),
        );
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    let count = deletes.len();
    if count > 0 {
        table.batch_write(deletes).await?;
    }
    Ok(count)
}

/// Revokes every Google connection of the organization and deletes its
/// tokens (each with its `google.disconnected` audit entry).
pub(super) async fn revoke_google(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys),
    actor: &Actor,
) -> Result<(), OrgError> {
    let page = state
        .table()
        .query(
            &Query::partition(format!("ORG#{}", actor.org_id))
                .sort(SortKey::BeginsWith("GOOGLE#".into()))
                .limit(1000),
        )
        .await?;
    for item in page.items {
        let Some(user) = item
            .get("sk")
            .and_then(|v| v.as_str())
            .and_then(|sk| sk.strip_prefix("GOOGLE#"))
        else {
            continue;
        };
        let user_id = UserId::from(user.to_string());
        match crate::services::google::disconnect(state, actor, &user_id).await {
            Ok(_) => {}
            Err(crate::services::google::GoogleConnectionError::NotConnected) => {}
            Err(err) => {
                tracing::warn!(error = %err, "a google connection of a closing organization was not revoked; deleting it");
                state
                    .table()
                    .delete(&crate::services::google::connection_key(&actor.org_id, &user_id), None)
                    .await?;
            }
        }
    }
    Ok(())
}

/// An owner cancels the deletion within the grace window: the organization
/// and its members' access come back.
pub async fn cancel(state: &(impl HasTable + HasClock), actor: &Actor, role: Role) -> Result<(), OrgError> {
    if role != Role::Owner {
        return Err(OrgError::InsufficientRole);
    }
    let org = super::org(state, &actor.org_id).await?;
    let Some(deletion) = org.deletion else {
        return Err(OrgError::NotFound);
    };
    let now = state.clock().now();
    if now.as_second() >= deletion.purge_after {
        return Err(OrgError::PurgeStarted);
    }
    let ops = vec![
        WriteOp::Update {
            key: org_key(&actor.org_id),
            update: Update::default().remove("deletion").add("version", 1),
            condition: Some(Condition::VersionEquals(org.version)),
        },
        WriteOp::Delete {
            key: purge_due_key(&actor.org_id, deletion.purge_after),
            condition: None,
        },
        audit::entry(
            actor,
            now,
            "org.deletion_cancelled",
            &format!("org:{}", actor.org_id),
            json!({}),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => {}
        Err(err) if err.is_condition_failure() => return Err(OrgError::Conflict),
        Err(err) => return Err(err.into()),
    }
    let table = state.table().as_ref();
    for member in members(table, &actor.org_id).await? {
        if member.closing {
            match table
                .update(
                    &crate::services::records::member_key(&actor.org_id, &member.user_id),
                    Update::default().remove("closing"),
                    Some(Condition::Exists),
                )
                .await
            {
                Ok(_) | Err(StoreError::ConditionFailed) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(())
}
