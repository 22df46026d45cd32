//! Signing in with email and password, and what a failed attempt records.

use super::{AccountError, SignedIn};
use crate::domain::email::Email;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::ports::{HasClock, HasConfig, HasTable};
use crate::ports::{Index, Query, StoreError};
use crate::services::audit::{self, Actor};
use crate::services::records::{
    MemberRecord, UserRecord, email_key, from_item, member_key, user_key, user_orgs_partition,
};
use crate::services::secrets;
use crate::services::sessions;
use crate::services::throttle;
use serde_json::json;

pub(super) async fn user_by_email(state: &impl HasTable, email: &str) -> Result<Option<UserRecord>, StoreError> {
    let Some(pointer) = state.table().get(&email_key(email)).await? else {
        return Ok(None);
    };
    let Some(user_id) = pointer.get("user_id").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    match state.table().get(&user_key(&UserId::from(user_id))).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

pub async fn user(state: &impl HasTable, user_id: &UserId) -> Result<UserRecord, AccountError> {
    let item = state
        .table()
        .get(&user_key(user_id))
        .await?
        .ok_or(AccountError::NotFound)?;
    Ok(from_item(item)?)
}

/// The organization a login opens in: the last one used if still a member,
/// else the user's first membership. An organization being deleted opens
/// only for its owners (to cancel the deletion), and only when the user has
/// no other.
pub(super) async fn login_org(state: &impl HasTable, user: &UserRecord) -> Result<Option<OrgId>, StoreError> {
    if let Some(org_id) = &user.last_org_id
        && let Some(item) = state.table().get(&member_key(org_id, &user.id)).await?
        && !from_item::<MemberRecord>(item)?.closing
    {
        return Ok(Some(org_id.clone()));
    }
    let page = state
        .table()
        .query(
            &Query::partition(user_orgs_partition(&user.id))
                .on(Index::Gsi1)
                .limit(20),
        )
        .await?;
    let memberships: Vec<MemberRecord> = page.items.into_iter().filter_map(|item| from_item(item).ok()).collect();
    let open = memberships.iter().find(|member| !member.closing);
    let closing_owned = memberships
        .iter()
        .find(|member| member.closing && member.role == crate::domain::role::Role::Owner);
    Ok(open.or(closing_owned).map(|member| member.org_id.clone()))
}

/// Checks credentials with throttling. Unknown emails, wrong passwords and
/// accounts without an organization all fail the same way, in comparable time.
pub async fn login(
    state: &(impl HasTable + HasClock + HasConfig),
    raw_email: &str,
    password: String,
    meta: &Actor,
) -> Result<SignedIn, AccountError> {
    let throttle_email = raw_email.trim().to_lowercase();
    let now = state.clock().now();
    let now_s = now.as_second();
    if let Some(wait) = throttle::locked_for(state.table().as_ref(), &throttle_email, meta.ip.as_deref(), now_s).await?
    {
        return Err(AccountError::Locked {
            retry_after_seconds: wait,
        });
    }
    let user = match Email::parse(raw_email) {
        Ok(email) => user_by_email(state, email.as_str()).await?,
        Err(_) => None,
    };
    let verified = secrets::verify_password(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let org_id = match (&user, verified) {
        (Some(user), true) => login_org(state, user).await?,
        _ => None,
    };
    let (user, org_id) = match (user, org_id) {
        (Some(user), Some(org_id)) => (user, org_id),
        (user, _) => {
            let failure =
                throttle::record_failure(state.table().as_ref(), &throttle_email, meta.ip.as_deref(), now_s).await?;
            if let Some(user) = &user {
                record_failed_sign_in(state, user, failure, meta).await?;
            }
            return Err(AccountError::InvalidCredentials);
        }
    };
    throttle::clear(state.table().as_ref(), &throttle_email).await?;
    let session = sessions::new_session(state.config(), &user.id, &org_id, now_s);
    let actor = Actor {
        org_id: org_id.clone(),
        user_id: Some(user.id.clone()),
        ..meta.clone()
    };
    state
        .table()
        .transact(vec![
            session.put.clone(),
            audit::entry(&actor, now, "auth.login", &format!("user:{}", user.id), json!({})),
        ])
        .await?;
    Ok(SignedIn {
        session,
        user_id: user.id,
        org_id,
    })
}

/// Records a failed sign-in to a known account (never the password typed)
/// and the lockout it starts, if any, in one transaction, in the
/// organization the sign-in would have opened. The actor is whoever typed
/// it: no user, but the request's IP, user agent and id. Unknown emails leave
/// no entry: there is no organization to tell.
pub async fn record_failed_sign_in(
    state: &(impl HasTable + HasClock),
    user: &UserRecord,
    failure: throttle::Failure,
    meta: &Actor,
) -> Result<(), StoreError> {
    let Some(org_id) = login_org(state, user).await? else {
        return Ok(());
    };
    let now = state.clock().now();
    let actor = Actor {
        org_id,
        user_id: None,
        ..meta.clone()
    };
    let target = format!("user:{}", user.id);
    let mut ops = vec![audit::entry(
        &actor,
        now,
        "auth.login_failed",
        &target,
        json!({"failures": failure.failures}),
    )];
    if failure.lockout_seconds > 0 {
        let until = jiff::Timestamp::from_second(now.as_second() + failure.lockout_seconds).unwrap_or(now);
        ops.push(audit::entry(
            &actor,
            now,
            "auth.locked",
            &target,
            json!({"seconds": failure.lockout_seconds, "until": until.to_string(), "failures": failure.failures}),
        ));
    }
    state.table().transact(ops).await
}
