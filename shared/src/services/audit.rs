//! The audit log: who did what, when, from where. Entries are written in the
//! same transaction as the change they record, and only ever read within the
//! organization they belong to.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde::Serialize;
use serde_json::{Value, json};

use crate::ports::{Item, Query, StoreError, Table, WriteOp};

/// Who is acting and through which request. Built by the HTTP layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub org_id: OrgId,
    /// None for actions of anonymous visitors (e.g. a public booking).
    pub user_id: Option<UserId>,
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

pub fn partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#AUDIT")
}

/// The audit entry of `action` on `target`, as one more operation of the
/// caller's transaction.
pub fn entry(actor: &Actor, now: jiff::Timestamp, action: &str, target: &str, detail: Value) -> WriteOp {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let item = json!({
        "pk": partition(&actor.org_id),
        // Millisecond time first: the partition reads newest first; the id breaks ties.
        "sk": format!("{:013}#{id}", now.as_millisecond()),
        "id": id,
        "org_id": actor.org_id,
        "actor_user_id": actor.user_id,
        "action": action,
        "target": target,
        "detail": detail,
        "ip": actor.ip,
        "user_agent": actor.user_agent,
        "request_id": actor.request_id,
        "at": now.to_string(),
    });
    WriteOp::Put {
        item: super::object(item),
        condition: None,
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor_user_id: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: String,
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_string)
}

impl AuditEntry {
    fn from_item(item: &Item) -> Self {
        Self {
            id: text(item, "id").unwrap_or_default(),
            at: text(item, "at").unwrap_or_default(),
            actor_user_id: text(item, "actor_user_id"),
            action: text(item, "action").unwrap_or_default(),
            target: text(item, "target").unwrap_or_default(),
            detail: item.get("detail").cloned().unwrap_or(Value::Null),
            ip: text(item, "ip"),
            user_agent: text(item, "user_agent"),
            request_id: text(item, "request_id").unwrap_or_default(),
        }
    }
}

/// One page of an organization's audit log, newest first: one query.
pub async fn list(
    table: &dyn Table,
    org_id: &OrgId,
    limit: u32,
    cursor: Option<String>,
) -> Result<(Vec<AuditEntry>, Option<String>), StoreError> {
    let page = table
        .query(&Query::partition(partition(org_id)).reverse().limit(limit).after(cursor))
        .await?;
    Ok((page.items.iter().map(AuditEntry::from_item).collect(), page.cursor))
}
