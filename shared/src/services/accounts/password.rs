//! Forgotten passwords: the reset email (alike for every address) and the reset.

use super::sign_in::{login_org, user_by_email};
use super::verification::take_token;
use super::{AccountError, send_after_commit, user};
use crate::domain::email::Email;
use crate::domain::password::check_new_password;
use crate::domain::token::token_hash;
use crate::ports::mailer;
use crate::ports::{Condition, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasMailer, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::jobs::{Job, RequestOrigin};
use crate::services::records::{TokenPurpose, token_key, user_key};
use crate::services::secrets::{self, new_token};
use crate::services::sessions;
use serde_json::json;

/// Always succeeds from the caller's point of view, so it reveals nothing
/// about which emails have accounts: known and unknown addresses get the
/// same work here (a fresh token and one queued `PasswordReset` job), and
/// only the job looks the account up, so neither the answer nor its timing
/// tells them apart.
pub async fn forgot_password(
    state: &(impl HasClock + HasJobs),
    raw_email: &str,
    meta: &Actor,
) -> Result<(), AccountError> {
    let Ok(email) = Email::parse(raw_email) else {
        return Err(AccountError::field(
            "email",
            "invalid_email",
            "This is not a valid email address.",
        ));
    };
    let job = Job::PasswordReset {
        email: email.as_str().to_string(),
        token: new_token(),
        requested_at: state.clock().unix_seconds(),
        request: RequestOrigin {
            request_id: meta.request_id.clone(),
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
        },
    };
    send_after_commit(state, &[job]).await;
    Ok(())
}

/// The `PasswordReset` job: when `email` has an account, stores the token
/// (expiring an hour after the request), records the request in the audit
/// log of the account's organization (anonymous, with the request's IP, user
/// agent and id) and sends the link. Idempotent: a marker written with the
/// token makes a redelivery send the same link again (the mailer drops the
/// copy) instead of reviving a token already used or logging twice.
pub async fn send_password_reset(
    state: &(impl HasTable + HasClock + HasMailer + HasConfig),
    email: &str,
    token: &str,
    requested_at: i64,
    request: &RequestOrigin,
) -> Result<(), PasswordResetError> {
    let expires_at = requested_at + TokenPurpose::PasswordReset.lifetime_seconds();
    if state.clock().unix_seconds() >= expires_at {
        return Ok(());
    }
    let Some(user) = user_by_email(state, email).await? else {
        return Ok(());
    };
    let hash = token_hash(token);
    let marker = crate::services::object(json!({
        "pk": format!("RESET_REQUEST#{hash}"), "sk": "RESET_REQUEST", "expires_at": expires_at,
    }));
    let key = token_key(&hash, TokenPurpose::PasswordReset);
    let token_item = crate::services::object(json!({
        "pk": key.pk, "sk": key.sk, "user_id": user.id, "email": user.email, "expires_at": expires_at,
    }));
    let mut ops = vec![
        WriteOp::Put {
            item: marker,
            condition: Some(Condition::NotExists),
        },
        WriteOp::Put {
            item: token_item,
            condition: Some(Condition::NotExists),
        },
    ];
    if let Some(org_id) = login_org(state, &user).await? {
        let actor = Actor {
            org_id,
            user_id: None,
            request_id: request.request_id.clone(),
            ip: request.ip.clone(),
            user_agent: request.user_agent.clone(),
        };
        let at = jiff::Timestamp::from_second(requested_at).unwrap_or_else(|_| state.clock().now());
        ops.push(audit::entry(
            &actor,
            at,
            "auth.password_reset_requested",
            &format!("user:{}", user.id),
            json!({}),
        ));
    }
    match state.table().transact(ops).await {
        // Stored now, or by an earlier delivery of this job.
        Ok(()) | Err(StoreError::TransactionConditionFailed { index: 0 }) => {}
        Err(err) => return Err(err.into()),
    }
    let link = format!("{}/reset-password?token={token}", state.config().public_url);
    let email = mailer::Email {
        to: user.email.clone(),
        subject: "Reset your Konnecs password".into(),
        text: format!(
            "Hi {},\n\nSomeone asked to reset the password of your Konnecs account. To choose a new password, open:\n\n{link}\n\nThe link works once and expires in one hour. If it was not you, ignore this email; your password stays as it is.\n",
            user.name
        ),
        html: None,
        attachments: Vec::new(),
        kind: "password_reset".into(),
    };
    state
        .mailer()
        .send(&email, &format!("password-reset/{hash}"))
        .await
        .map_err(PasswordResetError::Mail)
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordResetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(mailer::MailError),
}

/// Sets a new password from a reset link and signs the user out everywhere.
pub async fn reset_password(
    state: &(impl HasTable + HasClock),
    token: &str,
    password: String,
    meta: &Actor,
) -> Result<(), AccountError> {
    let (token_key, user_id, _) = take_token(state, token, TokenPurpose::PasswordReset).await?;
    let user = user(state, &user_id).await?;
    check_new_password(&password, &user.email)?;
    let hash = secrets::hash_password(password)
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))?;
    let now = state.clock().now();
    let actor = Actor {
        org_id: user.last_org_id.clone().unwrap_or_default(),
        user_id: Some(user_id.clone()),
        ..meta.clone()
    };
    let ops = vec![
        WriteOp::Delete {
            key: token_key,
            condition: Some(Condition::Exists),
        },
        WriteOp::Update {
            key: user_key(&user_id),
            update: Update::default().set("password_hash", hash).add("version", 1),
            condition: Some(Condition::Exists),
        },
        audit::entry(
            &actor,
            now,
            "auth.password_reset",
            &format!("user:{user_id}"),
            json!({}),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { index: 0 }) => return Err(AccountError::InvalidToken),
        Err(err) => return Err(err.into()),
    }
    sessions::revoke_all_recorded(
        state.table().as_ref(),
        &user_id,
        None,
        sessions::Revocation::PasswordReset,
        &actor,
        now,
    )
    .await?;
    Ok(())
}
