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

/// An event as [`publish_all`] takes it:
/// - `event_type`: one of `domain::webhook::EVENT_TYPES`;
/// - `event_id`: stable for the event (letters, digits, `_ - . :`, at most
///   100), e.g. `form.submitted:<submission id>`; republishing it delivers
///   nothing twice to one endpoint;
/// - `occurred_at`: when it happened (the record's own time);
/// - `data`: the event's JSON, sent as the body's `data` (≤ 64 KB in all).
pub fn event(event_type: &str, event_id: &str, occurred_at: jiff::Timestamp, data: Value) -> WebhookEvent {
    WebhookEvent {
        id: event_id.to_string(),
        event_type: event_type.to_string(),
        timestamp: occurred_at.to_string(),
        data,
    }
}

fn check(event: &WebhookEvent) -> Result<(), WebhookError> {
    let refuse = |field: &str, code: &'static str, message: String| {
        Err(WebhookError::Invalid(vec![FieldError::new(field, code, message)]))
    };
    if !EVENT_TYPES.contains(&event.event_type.as_str()) {
        return refuse(
            "event_type",
            "unknown_event",
            format!("Not an event type: {}.", event.event_type),
        );
    }
    if !valid_event_id(&event.id) {
        return refuse(
            "event_id",
            "invalid",
            "Use at most 100 letters, digits and _ - . :".into(),
        );
    }
    if event.timestamp.parse::<jiff::Timestamp>().is_err() {
        return refuse("timestamp", "invalid", "Use an RFC 3339 time.".into());
    }
    let size = serde_json::to_vec(event).map(|body| body.len()).unwrap_or(usize::MAX);
    if size > MAX_EVENT_BYTES {
        return refuse("data", "too_large", "An event carries at most 64 KB.".into());
    }
    Ok(())
}

/// Queues one delivery of the event per enabled endpoint of `org_id`
/// subscribed to `event_type`, and returns how many it queued (see
/// [`event`] for the arguments).
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
    publish_all(state, org_id, vec![event(event_type, event_id, occurred_at, data)]).await
}

/// [`publish`] for several events of one organization (a booking that also
/// made a contact): one query of the endpoints for all of them.
pub async fn publish_all(
    state: &(impl HasTable + HasJobs),
    org_id: &OrgId,
    events: Vec<WebhookEvent>,
) -> Result<usize, WebhookError> {
    for event in &events {
        check(event)?;
    }
    if events.is_empty() {
        return Ok(0);
    }
    let endpoints = load_all(state, org_id).await?;
    let mut queued = Vec::new();
    for event in &events {
        let due_at = event
            .timestamp
            .parse::<jiff::Timestamp>()
            .map(|at| at.as_millisecond())
            .unwrap_or_default();
        for endpoint in &endpoints {
            if endpoint.enabled && endpoint.events.contains(&event.event_type) {
                queued.push(Job::DeliverWebhook(WebhookAttempt {
                    org_id: org_id.clone(),
                    endpoint_id: endpoint.id.clone(),
                    delivery_id: WebhookDeliveryId::new(new_id()),
                    attempt: 1,
                    due_at,
                    manual: false,
                    event: Some(event.clone()),
                }));
            }
        }
    }
    if queued.is_empty() {
        return Ok(0);
    }
    jobs::enqueue(state, &queued).await?;
    Ok(queued.len())
}

/// [`publish_all`] for a producer whose write has committed and must stand
/// whatever happens to its announcement: a failure is logged, not returned.
pub async fn announce(state: &(impl HasTable + HasJobs), org_id: &OrgId, events: Vec<WebhookEvent>) {
    if let Err(err) = publish_all(state, org_id, events).await {
        tracing::error!(%org_id, error = %err, "could not queue the events' webhooks");
    }
}
