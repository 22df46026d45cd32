//! An organization's texts of the calendar month against its plan: every
//! send takes one from the month's counter (an atomic add, so concurrent
//! sends never wait on each other or lose a count), a send past the limit
//! gives it back and is refused, and the staff are told once a month.

use serde_json::json;

use crate::domain::billing::Limit;
use crate::domain::ids::OrgId;
use crate::ports::{Condition, HasClock, HasConfig, HasTable, StoreError, Update, WriteOp};
use crate::services::billing::limits::allowance;
use crate::services::billing::usage::{self, KEEP_MONTH_SECONDS};
use crate::services::object;
use crate::services::sms::notification_op;

/// What [`take`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Counted in this month (`None`: no limit applies, nothing counted).
    Within(Option<String>),
    /// The plan's texts of this month are used up; nothing counted.
    OverLimit,
}

/// Counts one text of the organization's current month, unless that passes
/// its plan's limit.
pub async fn take(state: &(impl HasTable + HasClock + HasConfig), org_id: &OrgId) -> Result<Taken, StoreError> {
    let Some((allowed, plan)) = allowance(state, org_id, Limit::SmsPerMonth).await? else {
        return Ok(Taken::Within(None));
    };
    let now = state.clock().now();
    let month = usage::month_of(now);
    let key = usage::sms_month_key(org_id, &month);
    let counted = state
        .table()
        .update(
            &key,
            Update::default()
                .add("count", 1)
                .set("expires_at", now.as_second() + KEEP_MONTH_SECONDS),
            None,
        )
        .await?;
    if usage::count_of(Some(&counted)) <= allowed {
        return Ok(Taken::Within(Some(month)));
    }
    give_back(state, org_id, &month).await?;
    tell_staff_once(state, org_id, &month, allowed, plan).await?;
    Ok(Taken::OverLimit)
}

/// Uncounts a text of `month` that did not go out.
pub async fn give_back(state: &impl HasTable, org_id: &OrgId, month: &str) -> Result<(), StoreError> {
    state
        .table()
        .update(
            &usage::sms_month_key(org_id, month),
            Update::default().add("count", -1),
            Some(Condition::Exists),
        )
        .await
        .map(|_| ())
        .or_else(|err| if err.is_condition_failure() { Ok(()) } else { Err(err) })
}

/// A home-page notification that texts stopped, the first time in `month`.
async fn tell_staff_once(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    month: &str,
    allowed: u64,
    plan: crate::domain::billing::PlanName,
) -> Result<(), StoreError> {
    let now = state.clock().now();
    let marker = usage::sms_limit_notice_key(org_id, month);
    let ops = vec![
        WriteOp::Put {
            item: object(json!({
                "pk": marker.pk, "sk": marker.sk,
                "at": now.to_string(),
                "expires_at": now.as_second() + KEEP_MONTH_SECONDS,
            })),
            condition: Some(Condition::NotExists),
        },
        notification_op(
            org_id,
            "sms.plan_limit",
            &format!(
                "Texts are paused until next month: the {} plan includes {allowed} texts a month. Upgrade under Settings → Billing to send more.",
                plan.as_str()
            ),
            None,
            now,
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err),
    }
}
