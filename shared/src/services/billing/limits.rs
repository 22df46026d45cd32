//! Plan limits, checked where things are created. Counting stops at the
//! limit: a check reads at most `allowed` index entries, never the whole
//! collection. A create racing another may pass the same check; the limit
//! is a commercial bound, not an invariant, so one over is tolerated.

use crate::domain::billing::{Limit, PlanName};
use crate::domain::ids::OrgId;
use crate::ports::table::is_expired;
use crate::ports::{HasClock, HasConfig, HasTable, Index, Query, SortKey, StoreError, Table};
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
    let Some((allowed, plan)) = allowance(state, org_id, limit).await? else {
        return Ok(());
    };
    let used = usage(
        state.table().as_ref(),
        org_id,
        limit,
        allowed,
        state.clock().unix_seconds(),
    )
    .await?;
    if used >= allowed {
        return Err(PlanLimitReached { limit, allowed, plan }.into());
    }
    Ok(())
}

/// How many of `limit`'s kind the organization has, counted up to `cap`.
/// Members count their pending invitations: each may become a member.
/// Texts are those of the current calendar month (their counter); workflows
/// do not exist yet (0).
pub async fn usage(table: &dyn Table, org_id: &OrgId, limit: Limit, cap: u64, now: i64) -> Result<u64, StoreError> {
    match limit {
        Limit::Contacts => {
            count(
                table,
                Query::partition(format!("ORG#{org_id}#CONTACTS")).on(Index::Gsi1),
                cap,
                now,
            )
            .await
        }
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
