//! Submit rate limits: fixed one-minute windows counted with atomic adds,
//! per client IP (across all forms) and per form, so one address cannot
//! flood a form and a botnet cannot flood one form past its budget.

use serde_json::Value;

use crate::domain::ids::{FormId, OrgId};
use crate::ports::{Key, StoreError, Table, Update};

/// Submissions one IP may make per minute, across every form.
pub const PER_IP_PER_MINUTE: i64 = 10;
/// Submissions one form accepts per minute.
pub const PER_FORM_PER_MINUTE: i64 = 120;

fn ip_key(ip: &str, minute: i64) -> Key {
    Key::new(format!("FORMRATE#IP#{ip}"), format!("MIN#{minute}"))
}

fn form_key(org_id: &OrgId, form_id: &FormId, minute: i64) -> Key {
    Key::new(format!("ORG#{org_id}#FORM#{form_id}#RATE"), format!("MIN#{minute}"))
}

async fn count(table: &dyn Table, key: &Key, minute: i64) -> Result<i64, StoreError> {
    let item = table
        .update(
            key,
            Update::default().add("hits", 1).set("expires_at", (minute + 2) * 60),
            None,
        )
        .await?;
    Ok(item.get("hits").and_then(Value::as_i64).unwrap_or(1))
}

/// Counts one attempt; `Some(seconds)` to wait when a budget is spent.
pub async fn check(
    table: &dyn Table,
    ip: Option<&str>,
    org_id: &OrgId,
    form_id: &FormId,
    now_seconds: i64,
) -> Result<Option<u64>, StoreError> {
    let minute = now_seconds.div_euclid(60);
    let wait = u64::try_from((minute + 1) * 60 - now_seconds).unwrap_or(60).max(1);
    if let Some(ip) = ip
        && count(table, &ip_key(ip, minute), minute).await? > PER_IP_PER_MINUTE
    {
        return Ok(Some(wait));
    }
    if count(table, &form_key(org_id, form_id, minute), minute).await? > PER_FORM_PER_MINUTE {
        return Ok(Some(wait));
    }
    Ok(None)
}
