//! A user's own profile (name, email, password, time zone) and the `me` view.

use super::{AccountError, Me, email_field, one_time_token, send_after_commit, user, verification_email};
use crate::domain::email::Email;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::input::FieldError;
use crate::domain::input::required_text;
use crate::domain::password::check_new_password;
use crate::domain::role::Role;
use crate::ports::{Condition, Index, Key, Query, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::records::{TokenPurpose, email_key, user_key, user_orgs_partition};
use crate::services::secrets;
use crate::services::sessions;
use serde_json::json;

pub struct ProfileChange {
    pub name: Option<String>,
    pub email: Option<String>,
    pub current_password: Option<String>,
    pub new_password: Option<String>,
    /// An IANA zone such as `Europe/London`; blank goes back to the
    /// organization's.
    pub time_zone: Option<String>,
}

/// Name changes apply at once. An email change needs the current password and
/// takes effect when the new address is verified. A password change needs the
/// current password and signs out every other session.
pub async fn update_profile(
    state: &(impl HasTable + HasClock + HasJobs + HasConfig),
    user_id: &UserId,
    session_token: &str,
    change: ProfileChange,
    actor: &Actor,
) -> Result<(), AccountError> {
    let user = user(state, user_id).await?;
    let mut errors = Vec::new();
    let name = change
        .name
        .as_deref()
        .map(|n| required_text("name", n, 100, &mut errors));
    let new_email = match change.email.as_deref() {
        Some(raw) => email_field(raw, &mut errors).filter(|e| e.as_str() != user.email),
        None => None,
    };
    if let Some(password) = &change.new_password
        && let Err(err) = check_new_password(password, new_email.as_ref().map_or(user.email.as_str(), Email::as_str))
    {
        errors.push(FieldError::new("new_password", err.code(), err.message()));
    }
    let time_zone = change.time_zone.as_deref().map(str::trim);
    if let Some(zone) = time_zone
        && !zone.is_empty()
        && jiff::tz::TimeZone::get(zone).is_err()
    {
        errors.push(FieldError::new(
            "time_zone",
            "invalid_time_zone",
            "Use a time zone such as Europe/London or America/New_York.",
        ));
    }
    if !errors.is_empty() {
        return Err(AccountError::Invalid(errors));
    }
    let sensitive = new_email.is_some() || change.new_password.is_some();
    if sensitive {
        let Some(current) = change.current_password.clone() else {
            return Err(AccountError::field(
                "current_password",
                "required",
                "Enter your current password.",
            ));
        };
        if !secrets::verify_password(current, Some(user.password_hash.clone())).await {
            return Err(AccountError::WrongCurrentPassword);
        }
    }
    let now = state.clock().now();
    let target = format!("user:{user_id}");
    let mut update = Update::default().add("version", 1);
    let mut changed = Vec::new();
    let mut ops = Vec::new();
    if let Some(name) = &name {
        update = update.set("name", name.clone());
        changed.push("name");
        ops.push(audit::entry(
            actor,
            now,
            "account.profile_updated",
            &target,
            json!({"changed": ["name"]}),
        ));
    }
    if let Some(zone) = time_zone
        && Some(zone) != user.time_zone.as_deref().or(Some(""))
    {
        update = update.set("time_zone", zone);
        changed.push("time_zone");
        ops.push(audit::entry(
            actor,
            now,
            "account.profile_updated",
            &target,
            json!({"changed": ["time_zone"]}),
        ));
    }
    if let Some(password) = change.new_password.clone() {
        let hash = secrets::hash_password(password)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        update = update.set("password_hash", hash);
        changed.push("password");
        ops.push(audit::entry(actor, now, "account.password_changed", &target, json!({})));
    }
    let mut jobs_after = Vec::new();
    if let Some(email) = &new_email {
        if state.table().get(&email_key(email.as_str())).await?.is_some() {
            return Err(AccountError::EmailTaken);
        }
        update = update.set("pending_email", email.as_str());
        let (token, put) = one_time_token(TokenPurpose::VerifyEmail, user_id, email.as_str(), now.as_second());
        ops.push(put);
        jobs_after.push(verification_email(
            state,
            email.as_str(),
            name.as_deref().unwrap_or(&user.name),
            &token,
        ));
        changed.push("pending_email");
        // Effective once the new address is verified (`account.email_changed`).
        ops.push(audit::entry(
            actor,
            now,
            "account.email_change_requested",
            &target,
            json!({"from": user.email, "to": email.as_str()}),
        ));
    }
    if changed.is_empty() {
        return Ok(());
    }
    ops.push(WriteOp::Update {
        key: user_key(user_id),
        update,
        condition: Some(Condition::VersionEquals(user.version)),
    });
    match state.table().transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { .. }) => {
            return Err(AccountError::Store(StoreError::ConditionFailed));
        }
        Err(err) => return Err(err.into()),
    }
    if let Some(name) = &name {
        // Member listings show the name; they are copies, refreshed here.
        refresh_member_names(state, user_id, name).await?;
    }
    send_after_commit(state, &jobs_after).await;
    if change.new_password.is_some() {
        sessions::revoke_all_recorded(
            state.table().as_ref(),
            user_id,
            Some(session_token),
            sessions::Revocation::PasswordChanged,
            actor,
            now,
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn refresh_member_names(
    state: &impl HasTable,
    user_id: &UserId,
    name: &str,
) -> Result<(), StoreError> {
    let mut cursor = None;
    loop {
        let page = state
            .table()
            .query(
                &Query::partition(user_orgs_partition(user_id))
                    .on(Index::Gsi1)
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        for item in &page.items {
            if let Some(key) = Key::of(item) {
                state
                    .table()
                    .update(&key, Update::default().set("name", name), Some(Condition::Exists))
                    .await
                    .or_else(|e| {
                        if e.is_condition_failure() {
                            Ok(Default::default())
                        } else {
                            Err(e)
                        }
                    })?;
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(());
        }
    }
}

pub async fn me(state: &impl HasTable, user_id: &UserId, org_id: &OrgId, role: Role) -> Result<Me, AccountError> {
    let user = user(state, user_id).await?;
    Ok(Me {
        id: user.id,
        name: user.name,
        email: user.email,
        email_verified: user.email_verified,
        pending_email: user.pending_email,
        has_photo: user.photo_key.is_some(),
        org_id: org_id.into(),
        role,
        time_zone: user.time_zone.filter(|zone| !zone.is_empty()),
    })
}
