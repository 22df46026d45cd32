//! Email verification: the one-time token taken once, and sending it again.

use super::{AccountError, one_time_token, send_after_commit, user, verification_email};
use crate::domain::ids::UserId;
use crate::domain::token::token_hash;
use crate::ports::{Condition, Key, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::records::{TokenPurpose, email_key, to_item, token_key, user_key};
use serde_json::json;

/// Consumes a one-time token: it works once, then never again.
pub(super) async fn take_token(
    state: &impl HasTable,
    token: &str,
    purpose: TokenPurpose,
) -> Result<(Key, UserId, String), AccountError> {
    let key = token_key(&token_hash(token.trim()), purpose);
    let item = state.table().get(&key).await?.ok_or(AccountError::InvalidToken)?;
    let user_id = item
        .get("user_id")
        .and_then(|v| v.as_str())
        .map(UserId::from)
        .ok_or(AccountError::InvalidToken)?;
    let email = item
        .get("email")
        .and_then(|v| v.as_str())
        .ok_or(AccountError::InvalidToken)?
        .to_string();
    Ok((key, user_id, email))
}

/// Verifies the address a token was sent to: the account's email, or a
/// pending new email, which then replaces the old one.
pub async fn verify_email(state: &(impl HasTable + HasClock), token: &str, meta: &Actor) -> Result<(), AccountError> {
    let (token_key, user_id, email) = take_token(state, token, TokenPurpose::VerifyEmail).await?;
    let user = user(state, &user_id).await?;
    let now = state.clock().now();
    let org_id = user.last_org_id.clone().unwrap_or_default();
    let actor = Actor {
        org_id,
        user_id: Some(user_id.clone()),
        ..meta.clone()
    };
    let mut ops = vec![WriteOp::Delete {
        key: token_key,
        condition: Some(Condition::Exists),
    }];
    let user_update;
    let previous_email = user.email.clone();
    if user.email == email {
        user_update = Update::default().set("email_verified", true).add("version", 1);
        ops.push(audit::entry(
            &actor,
            now,
            "account.email_verified",
            &format!("user:{user_id}"),
            json!({}),
        ));
    } else if user.pending_email.as_deref() == Some(email.as_str()) {
        user_update = Update::default()
            .set("email", email.clone())
            .set("email_verified", true)
            .remove("pending_email")
            .add("version", 1);
        ops.push(WriteOp::Delete {
            key: email_key(&user.email),
            condition: None,
        });
        ops.push(WriteOp::Put {
            item: to_item(&email_key(&email), &json!({"user_id": user_id}), &[])?,
            condition: Some(Condition::NotExists),
        });
        ops.push(audit::entry(
            &actor,
            now,
            "account.email_changed",
            &format!("user:{user_id}"),
            json!({"from": previous_email, "to": email}),
        ));
    } else {
        // The account moved on to another address since this link was sent.
        return Err(AccountError::InvalidToken);
    }
    ops.push(WriteOp::Update {
        key: user_key(&user_id),
        update: user_update,
        condition: Some(Condition::VersionEquals(user.version)),
    });
    match state.table().transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(AccountError::InvalidToken),
        Err(StoreError::TransactionConditionFailed { .. }) if user.email != email => Err(AccountError::EmailTaken),
        Err(err) => Err(err.into()),
    }
}

/// Sends a new verification link for the account's current (or pending) email.
pub async fn resend_verification(
    state: &(impl HasTable + HasClock + HasJobs + HasConfig),
    user_id: &UserId,
) -> Result<(), AccountError> {
    let user = user(state, user_id).await?;
    let to = match (&user.pending_email, user.email_verified) {
        (Some(pending), _) => pending.clone(),
        (None, false) => user.email.clone(),
        (None, true) => return Ok(()),
    };
    let (token, put) = one_time_token(TokenPurpose::VerifyEmail, user_id, &to, state.clock().unix_seconds());
    state.table().transact(vec![put]).await?;
    send_after_commit(state, &[verification_email(state, &to, &user.name, &token)]).await;
    Ok(())
}
