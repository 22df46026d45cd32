//! Invitations: inviting by email, listing, revoking, and accepting (by a
//! new or an existing user).

use super::members::member;
use super::{OrgError, field, org};
use crate::domain::billing::Limit;
use crate::domain::email::Email;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::input::FieldError;
use crate::domain::input::required_text;
use crate::domain::membership;
use crate::domain::password::check_new_password;
use crate::domain::role::Role;
use crate::domain::token::token_hash;
use crate::ports::mailer;
use crate::ports::{Condition, Key, Query, SortKey, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasTable};
use crate::services::accounts::{SignedIn, record_failed_sign_in};
use crate::services::audit::{self, Actor};
use crate::services::jobs::{self, Job};
use crate::services::records::{
    MemberRecord, TokenPurpose, UserRecord, email_key, from_item, member_key, new_id, org_key, to_item, token_key,
    user_key, user_orgs_partition,
};
use crate::services::secrets::{self, new_token};
use crate::services::sessions;
use crate::services::throttle;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn invitation_key(org_id: &OrgId, invitation_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("INVITE#{invitation_id}"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationRecord {
    pub id: String,
    pub org_id: OrgId,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub created_at: String,
    /// Unix seconds; also the TTL, so an expired invitation disappears.
    pub expires_at: i64,
    /// Hash of the emailed token, to delete the token on revocation.
    pub token_hash: String,
}

/// An invitation as the API shows it (never the token or its hash).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: UserId,
    pub created_at: String,
    pub expires_at: String,
}

impl From<InvitationRecord> for InvitationView {
    fn from(record: InvitationRecord) -> Self {
        let expires_at = jiff::Timestamp::from_second(record.expires_at)
            .map(|t| t.to_string())
            .unwrap_or_default();
        Self {
            id: record.id,
            email: record.email,
            role: record.role,
            invited_by: record.invited_by,
            created_at: record.created_at,
            expires_at,
        }
    }
}

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

/// Invites `email` as `role` (at most the inviter's role) and emails a
/// single-use link that expires in 7 days.
pub async fn invite(
    state: &(impl HasTable + HasClock + HasJobs + HasConfig),
    actor: &Actor,
    inviter_role: Role,
    raw_email: &str,
    role: Role,
) -> Result<InvitationView, OrgError> {
    membership::check_invitation(inviter_role, role)?;
    let email = Email::parse(raw_email).map_err(|err| field("email", err.code(), err.message()))?;
    if let Some(user) = user_by_email(state, email.as_str()).await?
        && member(state, &actor.org_id, &user.id).await?.is_some()
    {
        return Err(OrgError::AlreadyMember);
    }
    crate::services::billing::limits::ensure_room(state, &actor.org_id, Limit::Members).await?;
    let org = org(state, &actor.org_id).await?;
    let inviter_id = actor.user_id.clone().unwrap_or_default();
    let inviter_name = member(state, &actor.org_id, &inviter_id)
        .await?
        .map(|m| m.name)
        .unwrap_or_else(|| "A colleague".into());
    let now = state.clock().now();
    let expires_at = now.as_second() + TokenPurpose::Invitation.lifetime_seconds();
    let token = new_token();
    let hash = token_hash(&token);
    let record = InvitationRecord {
        id: new_id(),
        org_id: org.id.clone(),
        email: email.as_str().into(),
        role,
        invited_by: inviter_id,
        created_at: now.to_string(),
        expires_at,
        token_hash: hash.clone(),
    };
    let tkey = token_key(&hash, TokenPurpose::Invitation);
    let ops = vec![
        WriteOp::Put {
            item: to_item(&invitation_key(&org.id, &record.id), &record, &[])?,
            condition: Some(Condition::NotExists),
        },
        WriteOp::Put {
            item: to_item(
                &tkey,
                &json!({
                    "org_id": org.id, "invitation_id": record.id, "email": record.email,
                    "role": role, "expires_at": expires_at,
                }),
                &[],
            )?,
            condition: Some(Condition::NotExists),
        },
        audit::entry(
            actor,
            now,
            "invitation.created",
            &format!("invitation:{}", record.id),
            json!({"email": record.email, "role": role}),
        ),
    ];
    state.table().transact(ops).await?;
    let link = format!("{}/accept-invitation?token={token}", state.config().public_url);
    let job = Job::SendEmail {
        idempotency_key: format!("invitation/{hash}"),
        email: mailer::Email {
            to: record.email.clone(),
            subject: format!("{inviter_name} invited you to {} on Konnecs", org.name),
            text: format!(
                "Hi,\n\n{inviter_name} invited you to join {} on Konnecs as {}. To accept, open:\n\n{link}\n\nThe link works once and expires in 7 days. If you did not expect this invitation, ignore this email.\n",
                org.name,
                role.as_str()
            ),
            html: None,
            attachments: Vec::new(),
            kind: "invitation".into(),
        },
    };
    if let Err(err) = jobs::enqueue(state, &[job]).await {
        tracing::error!(error = %err, "could not queue the invitation email; it can be sent again");
    }
    Ok(record.into())
}

/// One page of the organization's open invitations (expired ones are gone).
pub async fn list_invitations(
    state: &impl HasTable,
    actor_role: Role,
    org_id: &OrgId,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<InvitationView>, Option<String>), OrgError> {
    membership::check_manage_invitations(actor_role)?;
    let page = state
        .table()
        .query(
            &Query::partition(format!("ORG#{org_id}"))
                .sort(SortKey::BeginsWith("INVITE#".into()))
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let invitations = page
        .items
        .into_iter()
        .map(|item| from_item::<InvitationRecord>(item).map(InvitationView::from))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((invitations, page.cursor))
}

/// Revokes an open invitation: the invitation and its token go together.
pub async fn revoke_invitation(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    actor_role: Role,
    invitation_id: &str,
) -> Result<(), OrgError> {
    let key = invitation_key(&actor.org_id, invitation_id);
    let item = state.table().get(&key).await?.ok_or(OrgError::NotFound)?;
    membership::check_manage_invitations(actor_role)?;
    let record: InvitationRecord = from_item(item)?;
    let ops = vec![
        WriteOp::Delete {
            key,
            condition: Some(Condition::Exists),
        },
        WriteOp::Delete {
            key: token_key(&record.token_hash, TokenPurpose::Invitation),
            condition: None,
        },
        audit::entry(
            actor,
            state.clock().now(),
            "invitation.revoked",
            &format!("invitation:{invitation_id}"),
            json!({"email": record.email, "role": record.role}),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(OrgError::NotFound),
        Err(err) => Err(err.into()),
    }
}

pub struct Acceptance {
    pub token: String,
    pub name: Option<String>,
    pub password: Option<String>,
    /// The caller's live session (user id, session token), when the request
    /// carried one with a valid CSRF token.
    pub session: Option<(UserId, String)>,
}

pub(super) struct InvitationToken {
    key: Key,
    org_id: String,
    invitation_id: String,
    email: String,
    role: Role,
}

pub(super) async fn read_invitation_token(state: &impl HasTable, token: &str) -> Result<InvitationToken, OrgError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(OrgError::InvalidToken);
    }
    let key = token_key(&token_hash(token), TokenPurpose::Invitation);
    let item = state.table().get(&key).await?.ok_or(OrgError::InvalidToken)?;
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or(OrgError::InvalidToken)
    };
    let role: Role = item
        .get("role")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(OrgError::InvalidToken)?;
    Ok(InvitationToken {
        org_id: text("org_id")?,
        invitation_id: text("invitation_id")?,
        email: text("email")?,
        role,
        key,
    })
}

/// Accepts an invitation. An existing account for the invited email proves
/// itself with its password (or a session of that same user) and is linked;
/// otherwise a new account is created, its email verified by the link. The
/// membership, the consumed invitation and token, a new session in the
/// invited organization and the audit entry commit together, once.
pub async fn accept_invitation(
    state: &(impl HasTable + HasClock + HasConfig),
    input: Acceptance,
    meta: &Actor,
) -> Result<SignedIn, OrgError> {
    let invitation = read_invitation_token(state, &input.token).await?;
    let invite_key = invitation_key(&OrgId::from(&invitation.org_id), &invitation.invitation_id);
    if state.table().get(&invite_key).await?.is_none() {
        return Err(OrgError::InvalidToken);
    }
    let org = match org(state, &OrgId::from(&invitation.org_id)).await {
        Ok(org) => org,
        Err(OrgError::NotFound) => return Err(OrgError::InvalidToken),
        Err(err) => return Err(err),
    };
    // An organization being deleted takes nobody in.
    if org.deletion.is_some() {
        return Err(OrgError::InvalidToken);
    }
    let now = state.clock().now();
    let now_s = now.as_second();
    let mut ops = vec![
        WriteOp::Delete {
            key: invitation.key.clone(),
            condition: Some(Condition::Exists),
        },
        WriteOp::Delete {
            key: invite_key,
            condition: Some(Condition::Exists),
        },
    ];
    let existing = user_by_email(state, &invitation.email).await?;
    let new_account = existing.is_none();
    let (user_id, name, email) = match existing {
        Some(user) => {
            let same_session = input.session.as_ref().is_some_and(|(id, _)| *id == user.id);
            if !same_session {
                verify_existing_password(state, &user, input.password.clone(), meta).await?;
            }
            if member(state, &org.id, &user.id).await?.is_some() {
                return Err(OrgError::AlreadyMember);
            }
            let mut update = Update::default().set("last_org_id", org.id.clone()).add("version", 1);
            if user.email == invitation.email && !user.email_verified {
                update = update.set("email_verified", true);
            }
            ops.push(WriteOp::Update {
                key: user_key(&user.id),
                update,
                condition: Some(Condition::Exists),
            });
            (user.id, user.name, user.email)
        }
        None => {
            let mut errors = Vec::new();
            let name = required_text("name", input.name.as_deref().unwrap_or_default(), 100, &mut errors);
            let password = input.password.clone().unwrap_or_default();
            if password.is_empty() {
                errors.push(FieldError::new("password", "required", "Choose a password."));
            } else if let Err(err) = check_new_password(&password, &invitation.email) {
                errors.push(FieldError::new("password", err.code(), err.message()));
            }
            if !errors.is_empty() {
                return Err(OrgError::Invalid(errors));
            }
            let password_hash = secrets::hash_password(password)
                .await
                .map_err(|e| OrgError::Internal(e.to_string()))?;
            let user_id = UserId::new(new_id());
            let user = UserRecord {
                id: user_id.clone(),
                email: invitation.email.clone(),
                name: name.clone(),
                password_hash,
                email_verified: true,
                pending_email: None,
                photo_key: None,
                last_org_id: Some(org.id.clone()),
                time_zone: None,
                created_at: now.to_string(),
                version: 1,
            };
            ops.push(WriteOp::Put {
                item: to_item(&email_key(&invitation.email), &json!({"user_id": user_id}), &[])?,
                condition: Some(Condition::NotExists),
            });
            ops.push(WriteOp::Put {
                item: to_item(&user_key(&user_id), &user, &[])?,
                condition: Some(Condition::NotExists),
            });
            (user_id, name, invitation.email.clone())
        }
    };
    let member_index = ops.len();
    let member = MemberRecord {
        org_id: org.id.clone(),
        user_id: user_id.clone(),
        role: invitation.role,
        name,
        email,
        joined_at: now.to_string(),
        closing: false,
    };
    ops.push(WriteOp::Put {
        item: to_item(
            &member_key(&org.id, &user_id),
            &member,
            &[
                ("gsi1pk", user_orgs_partition(&user_id).into()),
                ("gsi1sk", format!("ORG#{}", org.id).into()),
            ],
        )?,
        condition: Some(Condition::NotExists),
    });
    // The organization as read (a deletion request bumps its version), so a
    // deletion committed meanwhile refuses the new member.
    let org_index = ops.len();
    if invitation.role == Role::Owner {
        // An increment never breaks the one-owner invariant; ADD is atomic.
        ops.push(WriteOp::Update {
            key: org_key(&org.id),
            update: Update::default().add("owner_count", 1),
            condition: Some(Condition::VersionEquals(org.version)),
        });
    } else {
        ops.push(WriteOp::Check {
            key: org_key(&org.id),
            condition: Condition::VersionEquals(org.version),
        });
    }
    let session = sessions::new_session(state.config(), &user_id, &org.id, now_s);
    ops.push(session.put.clone());
    if let Some((session_user, old_token)) = &input.session
        && *session_user == user_id
    {
        // A new session id when the signed-in user joins; the old one ends.
        ops.push(WriteOp::Delete {
            key: crate::services::records::session_key(&token_hash(old_token)),
            condition: None,
        });
    }
    let actor = Actor {
        org_id: org.id.clone(),
        user_id: Some(user_id.clone()),
        ..meta.clone()
    };
    ops.push(audit::entry(
        &actor,
        now,
        "invitation.accepted",
        &format!("invitation:{}", invitation.invitation_id),
        json!({"user_id": user_id, "role": invitation.role, "new_account": new_account}),
    ));
    match state.table().transact(ops).await {
        Ok(()) => Ok(SignedIn {
            session,
            user_id,
            org_id: org.id,
        }),
        Err(StoreError::TransactionConditionFailed { index: 0 | 1 }) => Err(OrgError::InvalidToken),
        Err(StoreError::TransactionConditionFailed { index }) if index == member_index => Err(OrgError::AlreadyMember),
        Err(StoreError::TransactionConditionFailed { index }) if index == org_index => Err(OrgError::Conflict),
        Err(StoreError::TransactionConditionFailed { index: 2 }) if new_account => Err(OrgError::EmailTaken),
        Err(err) => Err(err.into()),
    }
}

/// The password check of login, with its throttling, for linking an existing account.
pub(super) async fn verify_existing_password(
    state: &(impl HasTable + HasClock),
    user: &UserRecord,
    password: Option<String>,
    meta: &Actor,
) -> Result<(), OrgError> {
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(field(
            "password",
            "required",
            "An account with this email exists: enter its password.",
        ));
    };
    let now = state.clock().unix_seconds();
    if let Some(wait) = throttle::locked_for(state.table().as_ref(), &user.email, meta.ip.as_deref(), now).await? {
        return Err(OrgError::Locked {
            retry_after_seconds: wait,
        });
    }
    if secrets::verify_password(password, Some(user.password_hash.clone())).await {
        throttle::clear(state.table().as_ref(), &user.email).await?;
        Ok(())
    } else {
        let failure = throttle::record_failure(state.table().as_ref(), &user.email, meta.ip.as_deref(), now).await?;
        record_failed_sign_in(state, user, failure, meta).await?;
        Err(OrgError::InvalidCredentials)
    }
}
