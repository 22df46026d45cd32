//! Members and roles: listing, role changes and removal, never leaving an
//! organization without an owner.

use super::{ATTEMPTS, OrgError, org};
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use crate::domain::membership;
use crate::domain::role::Role;
use crate::ports::{BatchOp, Condition, Index, Key, Query, SortKey, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasJobs, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::records::{MemberRecord, from_item, member_key, org_key, user_sessions_partition};
use serde_json::json;

pub(super) async fn member(
    state: &impl HasTable,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Option<MemberRecord>, OrgError> {
    match state.table().get(&member_key(org_id, user_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// One page of the organization's members, by user id.
pub async fn list_members(
    state: &impl HasTable,
    org_id: &OrgId,
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
pub(super) struct Snapshot {
    target: MemberRecord,
    actor_role: Role,
    owners: i64,
}

pub(super) async fn snapshot(
    state: &impl HasTable,
    actor: &Actor,
    target_user_id: &UserId,
) -> Result<Snapshot, OrgError> {
    let actor_id = actor.user_id.as_deref().unwrap_or_default();
    // The target first: another organization's id is a 404 whatever the caller's role.
    let target = member(state, &actor.org_id, target_user_id)
        .await?
        .ok_or(OrgError::NotFound)?;
    let actor_role = if target.user_id == actor_id {
        target.role
    } else {
        member(state, &actor.org_id, &UserId::from(actor_id))
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
pub(super) fn guarded_ops(actor: &Actor, snap: &Snapshot, target_op: WriteOp, delta: i64) -> Vec<WriteOp> {
    let mut ops = vec![target_op];
    let actor_id = actor.user_id.as_deref().unwrap_or_default();
    if snap.target.user_id != actor_id {
        ops.push(WriteOp::Check {
            key: member_key(&actor.org_id, &UserId::from(actor_id)),
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
    target_user_id: &UserId,
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
    state: &(impl HasTable + HasClock + HasJobs),
    actor: &Actor,
    target_user_id: &UserId,
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
        // The member's Google tokens go with the membership they were granted under.
        ops.push(crate::services::google::delete_connection_op(
            &actor.org_id,
            target_user_id,
        ));
        ops.push(audit::entry(
            actor,
            state.clock().now(),
            if is_self { "member.left" } else { "member.removed" },
            &format!("user:{target_user_id}"),
            json!({"role": snap.target.role}),
        ));
        // Read before the transaction deletes it: the grant is revoked at
        // Google by a job once the removal committed.
        let revoke = crate::services::google::revoke_after_removal(state, &actor.org_id, target_user_id).await?;
        match state.table().transact(ops).await {
            Ok(()) => {
                if let Err(err) = delete_org_sessions(state, target_user_id, &actor.org_id).await {
                    tracing::warn!(error = %err, "could not delete the sessions of a removed member");
                }
                if let Err(err) =
                    super::purge::delete_member_leftovers(state.table().as_ref(), &actor.org_id, target_user_id).await
                {
                    tracing::warn!(error = %err, "could not delete a removed member's views and mailbox traces");
                }
                if let Some(job) = revoke
                    && let Err(err) = crate::services::jobs::enqueue(state, &[job]).await
                {
                    tracing::error!(error = %err, "could not queue the revocation of a removed member's google grant");
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
pub(super) async fn delete_org_sessions(
    state: &impl HasTable,
    user_id: &UserId,
    org_id: &OrgId,
) -> Result<(), StoreError> {
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
