//! [`publish`]: an event out to every subscribed endpoint (see the module
//! documentation for when and how producers call it).

use serde_json::Value;

use super::WebhookError;
use super::endpoints::load_all;
use crate::domain::ids::{OrgId, WebhookDeliveryId};
use crate::domain::input::FieldError;
use crate::domain::webhook::{EVENT_TYPES, MAX_EVENT_BYTES, WebhookEvent, valid_event_id};
use crate::ports::{HasJobs, HasTable};
use crate::services::jobs::{self, Job, WebhookAttempt};
use crate::services::records::new_id;

/// Queues one delivery of the event per enabled endpoint of `org_id`
/// subscribed to `event_type`, and returns how many it queued.
///
/// - `event_type`: one of `domain::webhook::EVENT_TYPES`;
/// - `event_id`: stable for the event (letters, digits, `_ - . :`, at most
///   100), e.g. `form.submitted:<submission id>`; republishing it delivers
///   nothing twice to one endpoint;
/// - `occurred_at`: when it happened (the record's own time);
/// - `data`: the event's JSON, sent as the body's `data` (≤ 64 KB in all).
///
/// Call after the write the event reports committed, never inside its
/// transaction. Reads one query, writes nothing, sends one queue batch.
pub async fn publish(
    state: &(impl HasTable + HasJobs),
    org_id: &OrgId,
    event_type: &str,
    event_id: &str,
    occurred_at: jiff::Timestamp,
    data: Value,
) -> Result<usize, WebhookError> {
    if !EVENT_TYPES.contains(&event_type) {
        return Err(WebhookError::Invalid(vec![FieldError::new(
            "event_type",
            "unknown_event",
            format!("Not an event type: {event_type}."),
        )]));
    }
    if !valid_event_id(event_id) {
        return Err(WebhookError::Invalid(vec![FieldError::new(
            "event_id",
            "invalid",
            "Use at most 100 letters, digits and _ - . :",
        )]));
    }
    let event = WebhookEvent {
        id: event_id.to_string(),
        event_type: event_type.to_string(),
        timestamp: occurred_at.to_string(),
        data,
    };
    let size = serde_json::to_vec(&event).map(|body| body.len()).unwrap_or(usize::MAX);
    if size > MAX_EVENT_BYTES {
        return Err(WebhookError::Invalid(vec![FieldError::new(
            "data",
            "too_large",
            "An event carries at most 64 KB.",
        )]));
    }
    let endpoints = load_all(state, org_id).await?;
    let due_at = occurred_at.as_millisecond();
    let queued: Vec<Job> = endpoints
        .into_iter()
        .filter(|endpoint| endpoint.enabled && endpoint.events.iter().any(|e| e == event_type))
        .map(|endpoint| {
            Job::DeliverWebhook(WebhookAttempt {
                org_id: org_id.clone(),
                endpoint_id: endpoint.id,
                delivery_id: WebhookDeliveryId::new(new_id()),
                attempt: 1,
                due_at,
                manual: false,
                event: Some(event.clone()),
            })
        })
        .collect();
    if queued.is_empty() {
        return Ok(0);
    }
    jobs::enqueue(state.jobs().as_ref(), &queued).await?;
    Ok(queued.len())
}

/// [`publish`] for a producer whose write has committed and must stand
/// whatever happens to its announcement: a failure is logged, not returned.
pub async fn announce(
    state: &(impl HasTable + HasJobs),
    org_id: &OrgId,
    event_type: &str,
    event_id: &str,
    occurred_at: jiff::Timestamp,
    data: Value,
) {
    if let Err(err) = publish(state, org_id, event_type, event_id, occurred_at, data).await {
        tracing::error!(%org_id, event_type, event_id, error = %err, "could not queue the event's webhooks");
    }
}
