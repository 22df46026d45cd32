//! Organizations: the profile (name, website, industry, time zone, country,
//! public slug), members and their roles, and invitations. The rules of who
//! may do what live in `domain::membership`; this module owns the
//! transactions that enforce them, each with its audit entry inside.
//!
//! Every lookup is under the caller's `ORG#<id>` partition, so an id from
//! another organization is simply not found.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::accounts::{SignedIn, record_failed_sign_in};
use super::audit::{self, Actor};
use super::jobs::{self, Job};
use super::records::{
    MemberRecord, OrgRecord, TokenPurpose, UserRecord, email_key, from_item, member_key, new_id, org_key, slug_key,
    to_item, token_key, user_key, user_orgs_partition, user_sessions_partition,
};
use super::secrets::{self, new_token};
use super::sessions;
use super::throttle;
use crate::domain::country;
use crate::domain::email::Email;
use crate::domain::input::{optional_url, required_text};
use crate::domain::membership::{self, RuleViolation};
use crate::domain::password::check_new_password;
use crate::domain::role::Role;
use crate::domain::slug::Slug;
use crate::domain::token::token_hash;
use crate::ports::mailer;
use crate::ports::{BatchOp, Condition, Index, Key, Query, SortKey, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasConfig, HasJobs, HasTable};

/// How often a membership change re-reads and retries after losing a race.
const ATTEMPTS: usize = 3;

type FieldErrors = Vec<(&'static str, &'static str, String)>;

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// Missing, or another organization's: never says which.
    #[error("not found")]
    NotFound,
    #[error("insufficient role")]
    InsufficientRole,
    #[error("the organization must keep at least one owner")]
    LastOwner,
    #[error("slug taken")]
    SlugTaken,
    #[error("stale version")]
    StaleVersion,
    #[error("already a member")]
    AlreadyMember,
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid or expired token")]
    InvalidToken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("locked for {retry_after_seconds}s")]
    Locked { retry_after_seconds: i64 },
    /// Lost a race too often; the caller may retry.
    #[error("concurrent change")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<RuleViolation> for OrgError {
    fn from(violation: RuleViolation) -> Self {
        match violation {
            RuleViolation::InsufficientRole => OrgError::InsufficientRole,
            RuleViolation::LastOwner => OrgError::LastOwner,
        }
    }
}

fn field(field: &'static str, code: &'static str, message: impl Into<String>) -> OrgError {
    OrgError::Invalid(vec![(field, code, message.into())])
}

// ---------------------------------------------------------------- profile

/// The organization as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub time_zone: String,
    pub country: String,
    pub slug: String,
    pub version: u64,
    pub created_at: String,
}

impl From<OrgRecord> for OrgView {
    fn from(org: OrgRecord) -> Self {
        Self {
            id: org.id,
            name: org.name,
            website: org.website,
            industry: org.industry,
            time_zone: org.time_zone,
            country: org.country,
            slug: org.slug,
            version: org.version,
            created_at: org.created_at,
        }
    }
}

pub async fn org(state: &impl HasTable, org_id: &str) -> Result<OrgRecord, OrgError> {
    let item = state.table().get(&org_key(org_id)).await?.ok_or(OrgError::NotFound)?;
    Ok(from_item(item)?)
}

/// A change to the profile. `None` leaves a field as it is; for the optional
/// fields `Some(None)` (JSON null or "") clears it.
#[derive(Debug, Default)]
pub struct OrgChange {
    pub name: Option<String>,
    pub website: Option<Option<String>>,
    pub industry: Option<Option<String>>,
    pub time_zone: Option<String>,
    pub country: Option<String>,
    pub slug: Option<String>,
    /// The version the client read; a different current version is refused.
    pub version: Option<u64>,
}

/// The canonical IANA name of a time zone jiff knows, e.g. "europe/berlin" → "Europe/Berlin".
pub fn parse_time_zone(raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() {
        return None;
    }
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    Some(tz.iana_name().unwrap_or(name).to_string())
}

struct ValidChange {
    name: Option<String>,
    website: Option<Option<String>>,
    industry: Option<Option<String>>,
    time_zone: Option<String>,
    country: Option<&'static str>,
    slug: Option<Slug>,
}

fn validate(change: &OrgChange) -> Result<ValidChange, OrgError> {
    let mut errors = Vec::new();
    let name = change
        .name
        .as_deref()
        .map(|n| required_text("name", n, 100, &mut errors));
    let website = change
        .website
        .as_ref()
        .map(|w| optional_url("website", w.as_deref(), &mut errors));
    let industry = change.industry.as_ref().map(|i| {
        let text = i
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if text.as_ref().is_some_and(|t| t.chars().count() > 60) {
            errors.push(("industry", "too_long", "Use at most 60 characters.".into()));
        }
        text
    });
    let time_zone = change.time_zone.as_deref().and_then(|raw| {
        let parsed = parse_time_zone(raw);
        if parsed.is_none() {
            errors.push((
                "time_zone",
                "invalid_time_zone",
                "Use an IANA time zone name, e.g. Europe/Berlin or America/New_York.".into(),
            ));
        }
        parsed
    });
    let country = change.country.as_deref().and_then(|raw| {
        let parsed = country::parse(raw);
        if parsed.is_none() {
            errors.push((
                "country",
                "invalid_country",
                "Use an ISO 3166-1 alpha-2 country code, e.g. US or DE.".into(),
            ));
        }
        parsed
    });
    let slug = change.slug.as_deref().and_then(|raw| match Slug::parse(raw) {
        Ok(slug) => Some(slug),
        Err(err) => {
            errors.push(("slug", err.code(), err.message().into()));
            None
        }
    });
    if !errors.is_empty() {
        return Err(OrgError::Invalid(errors));
    }
    Ok(ValidChange {
        name,
        website,
        industry,
        time_zone,
        country,
        slug,
    })
}

/// Edits the profile in one transaction: the org record (only if its version
/// is still the one read), the slug uniqueness items swapped, the audit entry.
/// The caller has checked `ManageSettings`.
pub async fn update_org(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    change: OrgChange,
) -> Result<OrgRecord, OrgError> {
    let valid = validate(&change)?;
    let current = org(state, &actor.org_id).await?;
    if change.version.is_some_and(|v| v != current.version) {
        return Err(OrgError::StaleVersion);
    }
    let mut update = Update::default();
    let mut changed: Vec<&str> = Vec::new();
    if let Some(name) = valid.name.filter(|n| *n != current.name) {
        update = update.set("name", name);
        changed.push("name");
    }
    for (attribute, value, now) in [
        ("website", valid.website, &current.website),
        ("industry", valid.industry, &current.industry),
    ] {
        match value {
            Some(new) if new != *now => {
                update = match new {
                    Some(text) => update.set(attribute, text),
                    None => update.remove(attribute),
                };
                changed.push(attribute);
            }
            _ => {}
        }
    }
    if let Some(tz) = valid.time_zone.filter(|tz| *tz != current.time_zone) {
        update = update.set("time_zone", tz);
        changed.push("time_zone");
    }
    if let Some(country) = valid.country.filter(|c| *c != current.country) {
        update = update.set("country", country);
        changed.push("country");
    }
    let new_slug = valid.slug.filter(|s| s.as_str() != current.slug);
    if let Some(slug) = &new_slug {
        update = update.set("slug", slug.as_str());
        changed.push("slug");
    }
    if changed.is_empty() {
        return Ok(current);
    }
    let now = state.clock().now();
    let mut ops = vec![WriteOp::Update {
        key: org_key(&current.id),
        update: update.add("version", 1),
        condition: Some(Condition::VersionEquals(current.version)),
    }];
    if let Some(slug) = &new_slug {
        ops.push(WriteOp::Put {
            item: to_item(&slug_key(slug.as_str()), &json!({"org_id": current.id}), &[])?,
            condition: Some(Condition::NotExists),
        });
        ops.push(WriteOp::Delete {
            key: slug_key(&current.slug),
            condition: None,
        });
    }
    ops.push(audit::entry(
        actor,
        now,
        "org.updated",
        &format!("org:{}", current.id),
        json!({"changed": changed}),
    ));
    match state.table().transact(ops).await {
        Ok(()) => org(state, &current.id).await,
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(OrgError::StaleVersion),
        Err(StoreError::TransactionConditionFailed { index: 1 }) => Err(OrgError::SlugTaken),
        Err(err) => Err(err.into()),
    }
}

// ---------------------------------------------------------------- members

async fn member(state: &impl HasTable, org_id: &str, user_id: &str) -> Result<Option<MemberRecord>, OrgError> {
    match state.table().get(&member_key(org_id, user_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// One page of the organization's members, by user id.
pub async fn list_members(
    state: &impl HasTable,
    org_id: &str,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<MemberRecord>, Option<String>), OrgError> {
    let page = state
        .table()
        .query(
            &Query::partition(format!("ORG#{org_id}"))
                .sort(SortKey::BeginsWith("MEMBER#".into()))
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let members = page
        .items
        .into_iter()
        .map(from_item)
        .collect::<Result<Vec<MemberRecord>, _>>()?;
    Ok((members, page.cursor))
}

/// What a membership change reads before deciding: the target, the actor's
/// own membership (re-read, so a concurrent demotion of the actor counts) and
/// the org's owner count.
struct Snapshot {
    target: MemberRecord,
    actor_role: Role,
    owners: i64,
}

async fn snapshot(state: &impl HasTable, actor: &Actor, target_user_id: &str) -> Result<Snapshot, OrgError> {
    let actor_id = actor.user_id.as_deref().unwrap_or_default();
    // The target first: another organization's id is a 404 whatever the caller's role.
    let target = member(state, &actor.org_id, target_user_id)
        .await?
        .ok_or(OrgError::NotFound)?;
    let actor_role = if target.user_id == actor_id {
        target.role
    } else {
        member(state, &actor.org_id, actor_id)
            .await?
            .ok_or(OrgError::InsufficientRole)?
            .role
    };
    let owners = org(state, &actor.org_id).await?.owner_count;
    Ok(Snapshot {
        target,
        actor_role,
        owners,
    })
}

/// The conditions every membership change commits under: the target and the
/// actor still hold the roles read, and the owner count is still the one read.
fn guarded_ops(actor: &Actor, snap: &Snapshot, target_op: WriteOp, delta: i64) -> Vec<WriteOp> {
    let mut ops = vec![target_op];
    let actor_id = actor.user_id.as_deref().unwrap_or_default();
    if snap.target.user_id != actor_id {
        ops.push(WriteOp::Check {
            key: member_key(&actor.org_id, actor_id),
            condition: Condition::AttributeEquals {
                name: "role".into(),
                value: json!(snap.actor_role),
            },
        });
    }
    if delta != 0 {
        ops.push(WriteOp::Update {
            key: org_key(&actor.org_id),
            update: Update::default().add("owner_count", delta),
            condition: Some(Condition::AttributeEquals {
                name: "owner_count".into(),
                value: json!(snap.owners),
            }),
        });
    }
    ops
}

/// Changes a member's role. Two concurrent changes that would each leave one
/// owner cannot both commit: the owner count is checked-and-set in the same
/// transaction; the loser re-reads and is refused by the rules.
pub async fn change_role(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    target_user_id: &str,
    role: Role,
) -> Result<MemberRecord, OrgError> {
    for _ in 0..ATTEMPTS {
        let snap = snapshot(state, actor, target_user_id).await?;
        membership::check_role_change(snap.actor_role, snap.target.role, role, snap.owners)?;
        if snap.target.role == role {
            return Ok(snap.target);
        }
        let target_op = WriteOp::Update {
            key: member_key(&actor.org_id, target_user_id),
            update: Update::default().set("role", json!(role)),
            condition: Some(Condition::AttributeEquals {
                name: "role".into(),
                value: json!(snap.target.role),
            }),
        };
        let mut ops = guarded_ops(
            actor,
            &snap,
            target_op,
            membership::owner_delta(snap.target.role, Some(role)),
        );
        ops.push(audit::entry(
            actor,
            state.clock().now(),
            "member.role_changed",
            &format!("user:{target_user_id}"),
            json!({"from": snap.target.role, "to": role}),
        ));
        match state.table().transact(ops).await {
            Ok(()) => {
                return Ok(MemberRecord { role, ..snap.target });
            }
            Err(err) if err.is_condition_failure() || matches!(err, StoreError::Contention) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(OrgError::Conflict)
}

/// Removes a member; removing yourself is leaving. The removed user's
/// sessions in this organization are deleted after the commit (and would
/// fail anyway: every request re-reads the membership).
pub async fn remove_member(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    target_user_id: &str,
) -> Result<(), OrgError> {
    let is_self = actor.user_id.as_deref() == Some(target_user_id);
    for _ in 0..ATTEMPTS {
        let snap = snapshot(state, actor, target_user_id).await?;
        membership::check_removal(snap.actor_role, is_self, snap.target.role, snap.owners)?;
        let target_op = WriteOp::Delete {
            key: member_key(&actor.org_id, target_user_id),
            condition: Some(Condition::AttributeEquals {
                name: "role".into(),
                value: json!(snap.target.role),
            }),
        };
        let mut ops = guarded_ops(actor, &snap, target_op, membership::owner_delta(snap.target.role, None));
        ops.push(audit::entry(
            actor,
            state.clock().now(),
            if is_self { "member.left" } else { "member.removed" },
            &format!("user:{target_user_id}"),
            json!({"role": snap.target.role}),
        ));
        match state.table().transact(ops).await {
            Ok(()) => {
                if let Err(err) = delete_org_sessions(state, target_user_id, &actor.org_id).await {
                    tracing::warn!(error = %err, "could not delete the sessions of a removed member");
                }
                return Ok(());
            }
            Err(err) if err.is_condition_failure() || matches!(err, StoreError::Contention) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(OrgError::Conflict)
}

/// Deletes the user's sessions that act in `org_id`.
async fn delete_org_sessions(state: &impl HasTable, user_id: &str, org_id: &str) -> Result<(), StoreError> {
    let mut cursor = None;
    let mut deletes = Vec::new();
    loop {
        let page = state
            .table()
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
                .filter(|item| item.get("org_id").and_then(|v| v.as_str()) == Some(org_id))
                .filter_map(Key::of)
                .map(BatchOp::Delete),
        );
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    if !deletes.is_empty() {
        state.table().batch_write(deletes).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- invitations

pub fn invitation_key(org_id: &str, invitation_id: &str) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("INVITE#{invitation_id}"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationRecord {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: String,
    /// Unix seconds; also the TTL, so an expired invitation disappears.
    pub expires_at: i64,
    /// Hash of the emailed token, to delete the token on revocation.
    pub token_hash: String,
}

/// An invitation as the API shows it (never the token or its hash).
#[derive(Debug, Clone, Serialize)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
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
    if let Err(err) = jobs::enqueue(state.jobs().as_ref(), &[job]).await {
        tracing::error!(error = %err, "could not queue the invitation email; it can be sent again");
    }
    Ok(record.into())
}

/// One page of the organization's open invitations (expired ones are gone).
pub async fn list_invitations(
    state: &impl HasTable,
    actor_role: Role,
    org_id: &str,
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
    pub session: Option<(String, String)>,
}

struct InvitationToken {
    key: Key,
    org_id: String,
    invitation_id: String,
    email: String,
    role: Role,
}

async fn read_invitation_token(state: &impl HasTable, token: &str) -> Result<InvitationToken, OrgError> {
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
    let invite_key = invitation_key(&invitation.org_id, &invitation.invitation_id);
    if state.table().get(&invite_key).await?.is_none() {
        return Err(OrgError::InvalidToken);
    }
    let org = match org(state, &invitation.org_id).await {
        Ok(org) => org,
        Err(OrgError::NotFound) => return Err(OrgError::InvalidToken),
        Err(err) => return Err(err),
    };
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
                errors.push(("password", "required", "Choose a password.".into()));
            } else if let Err(err) = check_new_password(&password, &invitation.email) {
                errors.push(("password", err.code(), err.message().into()));
            }
            if !errors.is_empty() {
                return Err(OrgError::Invalid(errors));
            }
            let password_hash = secrets::hash_password(password)
                .await
                .map_err(|e| OrgError::Internal(e.to_string()))?;
            let user_id = new_id();
            let user = UserRecord {
                id: user_id.clone(),
                email: invitation.email.clone(),
                name: name.clone(),
                password_hash,
                email_verified: true,
                pending_email: None,
                photo_key: None,
                last_org_id: Some(org.id.clone()),
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
    if invitation.role == Role::Owner {
        // An increment never breaks the one-owner invariant; ADD is atomic.
        ops.push(WriteOp::Update {
            key: org_key(&org.id),
            update: Update::default().add("owner_count", 1),
            condition: Some(Condition::Exists),
        });
    }
    let session = sessions::new_session(&state.config(), &user_id, &org.id, now_s);
    ops.push(session.put.clone());
    if let Some((session_user, old_token)) = &input.session
        && *session_user == user_id
    {
        // A new session id when the signed-in user joins; the old one ends.
        ops.push(WriteOp::Delete {
            key: super::records::session_key(&token_hash(old_token)),
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
        Err(StoreError::TransactionConditionFailed { index: 2 }) if new_account => Err(OrgError::EmailTaken),
        Err(err) => Err(err.into()),
    }
}

/// The password check of login, with its throttling, for linking an existing account.
async fn verify_existing_password(
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
