//! Use cases that orchestrate ports and own transaction boundaries.

pub mod accounts;
pub mod audit;
pub mod billing;
pub mod contacts;
pub mod exports;
pub mod forms;
pub mod google;
pub mod health;
pub mod imports;
pub mod jobs;
pub mod notifications;
pub mod orgs;
pub mod photos;
pub mod pipelines;
pub mod rate_limit;
pub mod records;
pub mod reminder_dispatch;
pub mod reminders;
pub mod scheduling;
pub mod secrets;
pub mod sessions;
pub mod sms;
pub mod throttle;
pub mod webhooks;

/// A `json!` object as a store item (non-objects become an empty item, which
/// every backend rejects for lacking keys).
pub fn object(value: serde_json::Value) -> crate::ports::Item {
    match value {
        serde_json::Value::Object(item) => item,
        _ => crate::ports::Item::new(),
    }
}
