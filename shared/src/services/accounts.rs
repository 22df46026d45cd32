//! Accounts: sign-up, login, email verification, password reset and the
//! signed-in user's profile.

use serde::Serialize;
use serde_json::json;

use super::audit::{self, Actor};
use super::jobs::{self, Job, RequestOrigin};
use super::records::{
    MemberRecord, OrgRecord, TokenPurpose, UserRecord, email_key, from_item, member_key, new_id, org_key, slug_key,
    to_item, token_key, user_key, user_orgs_partition,
};
use super::secrets::{self, new_token};
use super::sessions::{self, NewSession};
use super::throttle;
use crate::domain::email::Email;
use crate::domain::input::{optional_url, required_text};
use crate::domain::password::{PasswordError, check_new_password};
use crate::domain::role::Role;
use crate::domain::slug::Slug;
use crate::domain::token::token_hash;
use crate::ports::mailer;
use crate::ports::{Condition, Index, Key, Query, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasMailer, HasTable};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("invalid input")]
    Invalid(Vec<(&'static str, &'static str, String)>),
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("locked for {retry_after_seconds}s")]
    Locked { retry_after_seconds: i64 },
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("current password is wrong")]
    WrongCurrentPassword,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl AccountError {
    fn field(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        AccountError::Invalid(vec![(field, code, message.into())])
    }
}

impl From<PasswordError> for AccountError {
    fn from(err: PasswordError) -> Self {
        AccountError::field("password", err.code(), err.message())
    }
}

pub struct SignupInput {
    pub name: String,
    pub email: String,
    pub password: String,
    pub business_name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Me {
    pub id: String,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub pending_email: Option<String>,
    pub has_photo: bool,
    pub org_id: String,
    pub role: Role,
}

/// What a successful sign-up or login hands to the HTTP layer.
pub struct SignedIn {
    pub session: NewSession,
    pub user_id: String,
    pub org_id: String,
}

fn email_field(raw: &str, errors: &mut Vec<(&'static str, &'static str, String)>) -> Option<Email> {
    match Email::parse(raw) {
        Ok(email) => Some(email),
        Err(err) => {
            errors.push(("email", err.code(), err.message().into()));
            None
        }
    }
}

/// The token item of a one-time link, as an operation of the caller's transaction.
fn one_time_token(purpose: TokenPurpose, user_id: &str, email: &str, now: i64) -> (String, WriteOp) {
    let token = new_token();
    let key = token_key(&token_hash(&token), purpose);
    let item = super::object(json!({
        "pk": key.pk, "sk": key.sk, "user_id": user_id, "email": email,
        "expires_at": now + purpose.lifetime_seconds(),
    }));
    (
        token,
        WriteOp::Put {
            item,
            condition: Some(Condition::NotExists),
        },
    )
}

fn verification_email(state: &impl HasConfig, to: &str, name: &str, token: &str) -> Job {
    let link = format!("{}/verify-email?token={token}", state.config().public_url);
    Job::SendEmail {
        idempotency_key: format!("verify-email/{}", token_hash(token)),
        email: mailer::Email {
            to: to.into(),
            subject: "Confirm your email address for Konnecs".into(),
            text: format!(
                "Hi {name},\n\nConfirm your email address by opening this link:\n\n{link}\n\nThe link works once and expires in 48 hours. If you did not sign up for Konnecs, ignore this email.\n"
            ),
            html: None,
            attachments: Vec::new(),
            kind: "verify_email".into(),
        },
    }
}

/// Queues emails after a commit. A queue failure does not undo the change:
/// the user can ask for the email again; the failure is logged.
async fn send_after_commit(state: &impl HasJobs, jobs: &[Job]) {
    if let Err(err) = jobs::enqueue(state.jobs().as_ref(), jobs).await {
        tracing::error!(error = %err, "could not queue email; the user can request it again");
    }
}

pub async fn signup(
    state: &(impl HasTable + HasClock + HasJobs + HasConfig),
    input: SignupInput,
    meta: &Actor,
) -> Result<SignedIn, AccountError> {
    let mut errors = Vec::new();
    let name = required_text("name", &input.name, 100, &mut errors);
    let business_name = required_text("business_name", &input.business_name, 100, &mut errors);
    let email = email_field(&input.email, &mut errors);
    if let Some(email) = &email
        && let Err(err) = check_new_password(&input.password, email.as_str())
    {
        errors.push(("password", err.code(), err.message().into()));
    }
    let website = optional_url("website", input.website.as_deref(), &mut errors);
    let industry = input
        .industry
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if industry.as_ref().is_some_and(|i| i.chars().count() > 60) {
        errors.push(("industry", "too_long", "Use at most 60 characters.".into()));
    }
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(AccountError::Invalid(errors));
    };

    let password_hash = secrets::hash_password(input.password)
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))?;
    let now = state.clock().now();
    let now_s = now.as_second();
    let user_id = new_id();
    let org_id = new_id();
    let mut slug = Slug::suggest(&business_name).as_str().to_string();

    // Retries only when the suggested slug is taken: a random suffix makes it unique.
    for attempt in 0..4 {
        let user = UserRecord {
            id: user_id.clone(),
            email: email.as_str().into(),
            name: name.clone(),
            password_hash: password_hash.clone(),
            email_verified: false,
            pending_email: None,
            photo_key: None,
            last_org_id: Some(org_id.clone()),
            created_at: now.to_string(),
            version: 1,
        };
        let org = OrgRecord {
            id: org_id.clone(),
            name: business_name.clone(),
            website: website.clone(),
            industry: industry.clone(),
            time_zone: "UTC".into(),
            country: "US".into(),
            slug: slug.clone(),
            owner_count: 1,
            created_at: now.to_string(),
            version: 1,
        };
        let member = MemberRecord {
            org_id: org_id.clone(),
            user_id: user_id.clone(),
            role: Role::Owner,
            name: name.clone(),
            email: email.as_str().into(),
            joined_at: now.to_string(),
        };
        let session = sessions::new_session(&state.config(), &user_id, &org_id, now_s);
        let (verify_token, verify_put) = one_time_token(TokenPurpose::VerifyEmail, &user_id, email.as_str(), now_s);
        let actor = Actor {
            org_id: org_id.clone(),
            user_id: Some(user_id.clone()),
            ..meta.clone()
        };
        let member_key = member_key(&org_id, &user_id);
        let ops = vec![
            WriteOp::Put {
                item: to_item(&email_key(email.as_str()), &json!({"user_id": user_id}), &[])?,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: to_item(&slug_key(&slug), &json!({"org_id": org_id}), &[])?,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: to_item(&user_key(&user_id), &user, &[])?,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: to_item(&org_key(&org_id), &org, &[])?,
                condition: Some(Condition::NotExists),
            },
            WriteOp::Put {
                item: to_item(
                    &member_key,
                    &member,
                    &[
                        ("gsi1pk", user_orgs_partition(&user_id).into()),
                        ("gsi1sk", format!("ORG#{org_id}").into()),
                    ],
                )?,
                condition: Some(Condition::NotExists),
            },
            session.put.clone(),
            verify_put,
            audit::entry(
                &actor,
                now,
                "account.signup",
                &format!("user:{user_id}"),
                json!({"org_id": org_id}),
            ),
        ];
        match state.table().transact(ops).await {
            Ok(()) => {
                send_after_commit(
                    state,
                    &[verification_email(state, email.as_str(), &name, &verify_token)],
                )
                .await;
                return Ok(SignedIn {
                    session,
                    user_id,
                    org_id,
                });
            }
            Err(StoreError::TransactionConditionFailed { index: 0 }) => return Err(AccountError::EmailTaken),
            Err(StoreError::TransactionConditionFailed { index: 1 }) if attempt < 3 => {
                slug = format!("{}-{}", slug.chars().take(50).collect::<String>(), &new_id()[24..]);
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(AccountError::Internal("could not find a free slug".into()))
}

async fn user_by_email(state: &impl HasTable, email: &str) -> Result<Option<UserRecord>, StoreError> {
    let Some(pointer) = state.table().get(&email_key(email)).await? else {
        return Ok(None);
    };
    let Some(user_id) = pointer.get("user_id").and_then(|v| v.as_str()) else {
        return Ok(None);
    };
    match state.table().get(&user_key(user_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

pub async fn user(state: &impl HasTable, user_id: &str) -> Result<UserRecord, AccountError> {
    let item = state
        .table()
        .get(&user_key(user_id))
        .await?
        .ok_or(AccountError::NotFound)?;
    Ok(from_item(item)?)
}

/// The organization a login opens in: the last one used if still a member,
/// else the user's first membership.
async fn login_org(state: &impl HasTable, user: &UserRecord) -> Result<Option<String>, StoreError> {
    if let Some(org_id) = &user.last_org_id
        && state.table().get(&member_key(org_id, &user.id)).await?.is_some()
    {
        return Ok(Some(org_id.clone()));
    }
    let page = state
        .table()
        .query(&Query::partition(user_orgs_partition(&user.id)).on(Index::Gsi1).limit(1))
        .await?;
    Ok(page
        .items
        .first()
        .and_then(|item| item.get("org_id"))
        .and_then(|v| v.as_str())
        .map(str::to_string))
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
    let session = sessions::new_session(&state.config(), &user.id, &org_id, now_s);
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

/// Consumes a one-time token: it works once, then never again.
async fn take_token(
    state: &impl HasTable,
    token: &str,
    purpose: TokenPurpose,
) -> Result<(Key, String, String), AccountError> {
    let key = token_key(&token_hash(token.trim()), purpose);
    let item = state.table().get(&key).await?.ok_or(AccountError::InvalidToken)?;
    let user_id = item
        .get("user_id")
        .and_then(|v| v.as_str())
        .ok_or(AccountError::InvalidToken)?
        .to_string();
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
    user_id: &str,
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
    let marker = super::object(json!({
        "pk": format!("RESET_REQUEST#{hash}"), "sk": "RESET_REQUEST", "expires_at": expires_at,
    }));
    let key = token_key(&hash, TokenPurpose::PasswordReset);
    let token_item = super::object(json!({
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

pub struct ProfileChange {
    pub name: Option<String>,
    pub email: Option<String>,
    pub current_password: Option<String>,
    pub new_password: Option<String>,
}

/// Name changes apply at once. An email change needs the current password and
/// takes effect when the new address is verified. A password change needs the
/// current password and signs out every other session.
pub async fn update_profile(
    state: &(impl HasTable + HasClock + HasJobs + HasConfig),
    user_id: &str,
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
        errors.push(("new_password", err.code(), err.message().into()));
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

async fn refresh_member_names(state: &impl HasTable, user_id: &str, name: &str) -> Result<(), StoreError> {
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

pub async fn me(state: &impl HasTable, user_id: &str, org_id: &str, role: Role) -> Result<Me, AccountError> {
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
    })
}
