//! Signing up: the user, the organization and its owner membership in one
//! transaction, then the verification email.

use super::{AccountError, SignedIn, SignupInput, email_field, one_time_token, send_after_commit, verification_email};
use crate::domain::email::Email;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::input::FieldError;
use crate::domain::input::{optional_url, required_text};
use crate::domain::password::check_new_password;
use crate::domain::role::Role;
use crate::domain::slug::Slug;
use crate::ports::{Condition, StoreError, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::records::{
    MemberRecord, OrgRecord, TokenPurpose, UserRecord, email_key, member_key, new_id, org_key, slug_key, to_item,
    user_key, user_orgs_partition,
};
use crate::services::secrets;
use crate::services::sessions;
use serde_json::json;

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
        errors.push(FieldError::new("password", err.code(), err.message()));
    }
    let website = optional_url("website", input.website.as_deref(), &mut errors);
    let industry = input
        .industry
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if industry.as_ref().is_some_and(|i| i.chars().count() > 60) {
        errors.push(FieldError::new("industry", "too_long", "Use at most 60 characters."));
    }
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(AccountError::Invalid(errors));
    };

    let password_hash = secrets::hash_password(input.password)
        .await
        .map_err(|e| AccountError::Internal(e.to_string()))?;
    create_account(
        state,
        NewAccount {
            name,
            email,
            password_hash,
            email_verified: false,
            business_name,
            website,
            industry,
        },
        meta,
    )
    .await
}

/// A new account whose input is valid: who, and the organization they own.
pub(crate) struct NewAccount {
    pub name: String,
    pub email: Email,
    /// A PHC string, or a marker no password matches (an account made by
    /// signing in with Google has no password until one is reset).
    pub password_hash: String,
    /// Already proven (Google's verified address): no verification email.
    pub email_verified: bool,
    pub business_name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
}

/// Creates the user, the organization and the owner membership, a session
/// and the audit entry in one transaction; then the verification email,
/// unless the address is already verified.
pub(crate) async fn create_account(
    state: &(impl HasTable + HasClock + HasJobs + HasConfig),
    account: NewAccount,
    meta: &Actor,
) -> Result<SignedIn, AccountError> {
    let NewAccount {
        name,
        email,
        password_hash,
        email_verified,
        business_name,
        website,
        industry,
    } = account;
    let now = state.clock().now();
    let now_s = now.as_second();
    let user_id = UserId::new(new_id());
    let org_id = OrgId::new(new_id());
    let mut slug = Slug::suggest(&business_name).as_str().to_string();

    // Retries only when the suggested slug is taken: a random suffix makes it unique.
    for attempt in 0..4 {
        let user = UserRecord {
            id: user_id.clone(),
            email: email.as_str().into(),
            name: name.clone(),
            password_hash: password_hash.clone(),
            email_verified,
            pending_email: None,
            photo_key: None,
            last_org_id: Some(org_id.clone()),
            time_zone: None,
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
            deletion: None,
        };
        let member = MemberRecord {
            org_id: org_id.clone(),
            user_id: user_id.clone(),
            role: Role::Owner,
            name: name.clone(),
            email: email.as_str().into(),
            joined_at: now.to_string(),
            closing: false,
        };
        let session = sessions::new_session(state.config(), &user_id, &org_id, now_s);
        let (verify_token, verify_put) = one_time_token(TokenPurpose::VerifyEmail, &user_id, email.as_str(), now_s);
        let actor = Actor {
            org_id: org_id.clone(),
            user_id: Some(user_id.clone()),
            ..meta.clone()
        };
        let member_key = member_key(&org_id, &user_id);
        let mut ops = vec![
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
        ];
        if !email_verified {
            ops.push(verify_put);
        }
        ops.push(audit::entry(
            &actor,
            now,
            "account.signup",
            &format!("user:{user_id}"),
            if email_verified {
                json!({"org_id": org_id, "email_verified": true})
            } else {
                json!({"org_id": org_id})
            },
        ));
        match state.table().transact(ops).await {
            Ok(()) => {
                if !email_verified {
                    send_after_commit(
                        state,
                        &[verification_email(state, email.as_str(), &name, &verify_token)],
                    )
                    .await;
                }
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
