//! Plan limits, checked where things are created or sent. Contacts and
//! texts are read from counters their writes keep (`usage`): one read.
//! Members and event types are few: counting stops at the limit, so a check
//! reads at most `allowed` entries. A create racing another may pass the
//! same check; the limit is a commercial bound, not an invariant, so one
//! over is tolerated.

use crate::domain::billing::{Limit, PlanName};
use crate::domain::ids::OrgId;
use crate::ports::table::is_expired;
use serde_json::json;

use crate::ports::{Condition, HasClock, HasConfig, HasTable, Index, Query, SortKey, StoreError, Table};
use crate::services::billing::{current_entitlement, usage};

/// Creating one more would pass the plan's limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {plan:?} plan allows {allowed} {}", limit.label())]
pub struct PlanLimitReached {
    pub limit: Limit,
    pub allowed: u64,
    pub plan: PlanName,
}

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(transparent)]
    Reached(#[from] PlanLimitReached),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How many of `limit`'s kind the organization's plan allows now, and the
/// plan: `None` where billing is off or the plan sets no such limit.
pub async fn allowance(
    state: &(impl HasTable + HasClock + HasConfig),
    org_id: &OrgId,
    limit: Limit,
) -> Result<Option<(u64, PlanName)>, StoreError> {
    let Some((_, entitled)) = current_entitlement(state, org_id).await? else {
        return Ok(None);
    };
    Ok(state
        .config()
        .plans
        .plan(entitled.plan)
        .limits
        .of(limit)
        .map(|allowed| (allowed, entitled.plan)))
}

/// Ok when the organization may create one more of `limit`'s kind.
pub async fn ensure_room(
    state: &(impl HasTable + HasClock + HasConfig),
    org_id: &OrgId,
    limit: Limit,
) -> Result<(), LimitError> {
    match room(state, org_id, limit).await? {
        Some(Room { left: 0, allowed, plan }) => Err(PlanLimitReached { limit, allowed, plan }.into()),
        _ => Ok(()),
    }
}

/// How many of `limit`'s kind the organization has, counted up to `cap`.
/// Members count their pending invitations: each may become a member.
/// Texts are those of the current calendar month (their counter); workflows
/// do not exist yet (0).
pub async fn usage(table: &dyn Table, org_id: &OrgId, limit: Limit, cap: u64, now: i64) -> Result<u64, StoreError> {
    match limit {
        Limit::Contacts => contacts_in_use(table, org_id, now).await,
        Limit::Members => {
            let members = count(table, org_prefix(org_id, "MEMBER#"), cap, now).await?;
            let invited = count(table, org_prefix(org_id, "INVITE#"), cap.saturating_sub(members), now).await?;
            Ok(members + invited)
        }
        Limit::EventTypes => count(table, org_prefix(org_id, "EVENTTYPE#"), cap, now).await,
        Limit::SmsPerMonth => {
            let month = jiff::Timestamp::from_second(now)
                .map(usage::month_of)
                .map_err(|err| StoreError::Invalid(err.to_string()))?;
            Ok(usage::count_of(
                table.get(&usage::sms_month_key(org_id, &month)).await?.as_ref(),
            ))
        }
        Limit::Workflows => Ok(0),
    }
}

/// The organization's contacts, from the counter their writes keep: one
/// read. A counter not seeded yet (contacts that predate it) is seeded once
/// from a full count of the contacts index, written only if no create or
/// delete moved the counter meanwhile (else counted again).
pub async fn contacts_in_use(table: &dyn Table, org_id: &OrgId, now: i64) -> Result<u64, StoreError> {
    let key = usage::contacts_counter_key(org_id);
    for _ in 0..5 {
        let current = table.get(&key).await?;
        if let Some(item) = current.as_ref().filter(|item| usage::is_seeded(item)) {
            return Ok(usage::count_of(Some(item)));
        }
        let counted = count_contacts(table, org_id, u64::MAX, now).await?;
        let condition = match current.as_ref().and_then(|item| item.get("count")) {
            Some(count) => Condition::AttributeEquals {
                name: "count".into(),
                value: count.clone(),
            },
            None if current.is_some() => Condition::Exists,
            None => Condition::NotExists,
        };
        let seeded = crate::services::object(json!({
            "pk": key.pk, "sk": key.sk, "count": counted, "seeded": true,
        }));
        match table.put(seeded, Some(condition)).await {
            Ok(()) => return Ok(counted),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}

/// Counts the organization's contacts on their creation index, up to `cap`:
/// the counter's repair path, and its check in tests.
pub async fn count_contacts(table: &dyn Table, org_id: &OrgId, cap: u64, now: i64) -> Result<u64, StoreError> {
    count(
        table,
        Query::partition(format!("ORG#{org_id}#CONTACTS")).on(Index::Gsi1),
        cap,
        now,
    )
    .await
}

/// Room left under a plan limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// How many more may be created.
    pub left: u64,
    pub allowed: u64,
    pub plan: PlanName,
}

/// How many more of `limit`'s kind the organization may create; `None`
/// where no limit applies.
pub async fn room(
    state: &(impl HasTable + HasClock + HasConfig),
    org_id: &OrgId,
    limit: Limit,
) -> Result<Option<Room>, StoreError> {
    let Some((allowed, plan)) = allowance(state, org_id, limit).await? else {
        return Ok(None);
    };
    let used = usage(
        state.table().as_ref(),
        org_id,
        limit,
        allowed,
        state.clock().unix_seconds(),
    )
    .await?;
    Ok(Some(Room {
        left: allowed.saturating_sub(used),
        allowed,
        plan,
    }))
}

fn org_prefix(org_id: &OrgId, prefix: &str) -> Query {
    Query::partition(format!("ORG#{org_id}")).sort(SortKey::BeginsWith(prefix.into()))
}

async fn count(table: &dyn Table, query: Query, cap: u64, now: i64) -> Result<u64, StoreError> {
    let mut counted = 0u64;
    let mut cursor = None;
    loop {
        let remaining = cap.saturating_sub(counted);
        if remaining == 0 {
            return Ok(counted);
        }
        let page = table
            .query(
                &query
                    .clone()
                    .limit(u32::try_from(remaining.min(1000)).unwrap_or(1000))
                    .after(cursor),
            )
            .await?;
        counted += page.items.iter().filter(|item| !is_expired(item, now)).count() as u64;
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(counted),
        }
    }
}
