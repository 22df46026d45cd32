//! Whether the store, the queues and the key vault answer.

use serde::Serialize;

use crate::ports::{HasJobs, HasKeys, HasTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Unavailable,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HealthReport {
    pub status: CheckStatus,
    pub store: CheckStatus,
    pub queue: CheckStatus,
    pub key_vault: CheckStatus,
}

impl HealthReport {
    pub fn is_healthy(&self) -> bool {
        self.status == CheckStatus::Ok
    }
}

fn status<T, E: std::fmt::Display>(component: &str, result: Result<T, E>) -> CheckStatus {
    match result {
        Ok(_) => CheckStatus::Ok,
        Err(err) => {
            tracing::warn!(component, error = %err, "health check failed");
            CheckStatus::Unavailable
        }
    }
}

/// Probes all three concurrently: one store read, one queue attribute read,
/// one key-vault probe.
pub async fn check(state: &(impl HasTable + HasJobs + HasKeys)) -> HealthReport {
    let (store, queue, keys) = tokio::join!(state.table().ping(), state.jobs().depth(), state.keys().ping());
    let store = status("store", store);
    let queue = status("queue", queue);
    let key_vault = status("key_vault", keys);
    let all_ok = [store, queue, key_vault].iter().all(|s| *s == CheckStatus::Ok);
    HealthReport {
        status: if all_ok {
            CheckStatus::Ok
        } else {
            CheckStatus::Unavailable
        },
        store,
        queue,
        key_vault,
    }
}
