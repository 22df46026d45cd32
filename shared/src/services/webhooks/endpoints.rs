//! An organization's webhook endpoints: create (the secret shown once),
//! list, read, change, delete, rotate the secret, and read the delivery log.
//! Every change is audited in its own transaction.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    AttemptRecord, DeliveryRecord, DeliveryStatus, EndpointRecord, WebhookError, endpoint_key, log_partition,
    plausible_id,
};
use crate::domain::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use crate::domain::input::FieldError;
use crate::domain::webhook::signature::{SECRET_BYTES, encode_secret};
use crate::domain::webhook::{MAX_DESCRIPTION, MAX_ENDPOINTS, validate_events, validate_url};
use crate::ports::{Condition, EncryptionContext, HasClock, HasConfig, HasKeys, HasTable, Query, SortKey, WriteOp};
use crate::services::audit::{self, Actor};
use crate::services::records::{from_item, new_id, to_item};

/// What a member sends to create an endpoint, or (fields present) to change one.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// An endpoint as members see it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct EndpointView {
    pub id: WebhookEndpointId,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// RFC 3339: failing without a success since then.
    pub failing_since: Option<String>,
    pub consecutive_failures: u32,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl EndpointView {
    fn of(record: &EndpointRecord) -> Self {
        EndpointView {
            id: record.id.clone(),
            url: record.url.clone(),
            events: record.events.clone(),
            description: record.description.clone(),
            enabled: record.enabled,
            disabled_reason: record.disabled_reason.clone(),
            failing_since: record
                .failing_since
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(|at| at.to_string()),
            consecutive_failures: record.consecutive_failures,
            created_at: record.created_at.clone(),
            updated_at: record.updated_at.clone(),
            version: record.version,
        }
    }
}

/// A new endpoint and its signing secret: the one time the secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedEndpoint {
    pub endpoint: EndpointView,
    pub secret: String,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DeliveryView {
    pub id: WebhookDeliveryId,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub created_at: String,
    /// RFC 3339, while a retry is scheduled.
    pub next_attempt_at: Option<String>,
    /// Newest first.
    pub attempts: Vec<AttemptRecord>,
}

pub(super) fn secret_context(org_id: &OrgId, endpoint_id: &WebhookEndpointId) -> EncryptionContext {
    EncryptionContext::new()
        .with("purpose", "webhook-secret")
        .with("org", org_id.as_str())
        .with("endpoint", endpoint_id.as_str())
}

/// A fresh `whsec_` secret and its envelope (base64), sealed to the endpoint.
async fn new_secret(
    state: &impl HasKeys,
    org_id: &OrgId,
    endpoint_id: &WebhookEndpointId,
) -> Result<(String, String), WebhookError> {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = encode_secret(&bytes);
    let sealed = state
        .keys()
        .encrypt(secret.as_bytes(), &secret_context(org_id, endpoint_id))
        .await?;
    Ok((secret, STANDARD.encode(sealed)))
}

fn description(raw: &str, errors: &mut Vec<FieldError>) -> String {
    let text = raw.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        errors.push(FieldError::new(
            "description",
            "too_long",
            "Use at most 200 characters.",
        ));
    }
    text.to_string()
}

pub(super) async fn load(
    state: &impl HasTable,
    org_id: &OrgId,
    endpoint_id: &WebhookEndpointId,
) -> Result<EndpointRecord, WebhookError> {
    if !plausible_id(endpoint_id) {
        return Err(WebhookError::NotFound);
    }
    let item = state
        .table()
        .get(&endpoint_key(org_id, endpoint_id))
        .await?
        .ok_or(WebhookError::NotFound)?;
    Ok(from_item(item)?)
}

/// Every endpoint of the organization (at most [`MAX_ENDPOINTS`]).
pub(super) async fn load_all(state: &impl HasTable, org_id: &OrgId) -> Result<Vec<EndpointRecord>, WebhookError> {
    let page = state
        .table()
        .query(
            &Query::partition(format!("ORG#{org_id}"))
                .sort(SortKey::BeginsWith("WEBHOOK#".into()))
                .limit(u32::try_from(MAX_ENDPOINTS * 2).unwrap_or(u32::MAX)),
        )
        .await?;
    page.items
        .into_iter()
        .map(|item| from_item(item).map_err(WebhookError::from))
        .collect()
}

pub async fn list_endpoints(state: &impl HasTable, org_id: &OrgId) -> Result<Vec<EndpointView>, WebhookError> {
    Ok(load_all(state, org_id).await?.iter().map(EndpointView::of).collect())
}

pub async fn get_endpoint(
    state: &impl HasTable,
    org_id: &OrgId,
    endpoint_id: &WebhookEndpointId,
) -> Result<EndpointView, WebhookError> {
    Ok(EndpointView::of(&load(state, org_id, endpoint_id).await?))
}

pub async fn create_endpoint(
    state: &(impl HasTable + HasClock + HasKeys + HasConfig),
    actor: &Actor,
    input: EndpointInput,
) -> Result<CreatedEndpoint, WebhookError> {
    let mut errors = Vec::new();
    let url = validate_url(
        input.url.as_deref().unwrap_or_default(),
        state.config().webhook_targets,
        &mut errors,
    );
    let events = validate_events(input.events.as_deref().unwrap_or_default(), &mut errors);
    let description = description(input.description.as_deref().unwrap_or_default(), &mut errors);
    let Some(url) = url.filter(|_| errors.is_empty()) else {
        return Err(WebhookError::Invalid(errors));
    };
    if load_all(state, &actor.org_id).await?.len() >= MAX_ENDPOINTS {
        return Err(WebhookError::TooMany);
    }
    let id = WebhookEndpointId::new(new_id());
    let (secret, secret_envelope) = new_secret(state, &actor.org_id, &id).await?;
    let now = state.clock().now();
    let record = EndpointRecord {
        id: id.clone(),
        url,
        events,
        description,
        enabled: input.enabled.unwrap_or(true),
        secret_envelope,
        failing_since: None,
        consecutive_failures: 0,
        disabled_reason: None,
        notice_pending: false,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
    };
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&endpoint_key(&actor.org_id, &id), &record, &[])?,
                condition: Some(Condition::NotExists),
            },
            audit::entry(
                actor,
                now,
                "webhook.create",
                &format!("webhook:{id}"),
                json!({"url": record.url, "events": record.events, "enabled": record.enabled}),
            ),
        ])
        .await?;
    Ok(CreatedEndpoint {
        endpoint: EndpointView::of(&record),
        secret,
    })
}

/// Changes the fields present. Turning an endpoint on again forgets its
/// failures (a fresh 24 hours before it could be turned off again).
pub async fn update_endpoint(
    state: &(impl HasTable + HasClock + HasConfig),
    actor: &Actor,
    endpoint_id: &WebhookEndpointId,
    input: EndpointInput,
) -> Result<EndpointView, WebhookError> {
    let mut record = load(state, &actor.org_id, endpoint_id).await?;
    let mut errors = Vec::new();
    let mut changed = Vec::new();
    if let Some(raw) = &input.url
        && let Some(url) = validate_url(raw, state.config().webhook_targets, &mut errors)
    {
        record.url = url;
        changed.push("url");
    }
    if let Some(raw) = &input.events {
        record.events = validate_events(raw, &mut errors);
        changed.push("events");
    }
    if let Some(raw) = &input.description {
        record.description = description(raw, &mut errors);
        changed.push("description");
    }
    if !errors.is_empty() {
        return Err(WebhookError::Invalid(errors));
    }
    if let Some(enabled) = input.enabled {
        if enabled && !record.enabled {
            record.failing_since = None;
            record.consecutive_failures = 0;
            record.disabled_reason = None;
            record.notice_pending = false;
        }
        record.enabled = enabled;
        changed.push("enabled");
    }
    let now = state.clock().now();
    let expected = record.version;
    record.version += 1;
    record.updated_at = now.to_string();
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&endpoint_key(&actor.org_id, endpoint_id), &record, &[])?,
                condition: Some(Condition::VersionEquals(expected)),
            },
            audit::entry(
                actor,
                now,
                "webhook.update",
                &format!("webhook:{endpoint_id}"),
                json!({"changed": changed, "url": record.url, "enabled": record.enabled}),
            ),
        ])
        .await?;
    Ok(EndpointView::of(&record))
}

pub async fn delete_endpoint(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    endpoint_id: &WebhookEndpointId,
) -> Result<(), WebhookError> {
    let record = load(state, &actor.org_id, endpoint_id).await?;
    let now = state.clock().now();
    // Its log expires by itself; queued attempts find no endpoint and stop.
    state
        .table()
        .transact(vec![
            WriteOp::Delete {
                key: endpoint_key(&actor.org_id, endpoint_id),
                condition: Some(Condition::Exists),
            },
            audit::entry(
                actor,
                now,
                "webhook.delete",
                &format!("webhook:{endpoint_id}"),
                json!({"url": record.url}),
            ),
        ])
        .await?;
    Ok(())
}

/// Replaces the signing secret and returns the new one: shown this once.
pub async fn rotate_secret(
    state: &(impl HasTable + HasClock + HasKeys),
    actor: &Actor,
    endpoint_id: &WebhookEndpointId,
) -> Result<String, WebhookError> {
    let mut record = load(state, &actor.org_id, endpoint_id).await?;
    let (secret, envelope) = new_secret(state, &actor.org_id, endpoint_id).await?;
    let now = state.clock().now();
    let expected = record.version;
    record.secret_envelope = envelope;
    record.version += 1;
    record.updated_at = now.to_string();
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&endpoint_key(&actor.org_id, endpoint_id), &record, &[])?,
                condition: Some(Condition::VersionEquals(expected)),
            },
            audit::entry(
                actor,
                now,
                "webhook.rotate_secret",
                &format!("webhook:{endpoint_id}"),
                json!({}),
            ),
        ])
        .await?;
    Ok(secret)
}

/// The endpoint's newest deliveries (the log keeps 30 days).
pub async fn list_deliveries(
    state: &impl HasTable,
    org_id: &OrgId,
    endpoint_id: &WebhookEndpointId,
    limit: u32,
) -> Result<Vec<DeliveryView>, WebhookError> {
    load(state, org_id, endpoint_id).await?;
    let page = state
        .table()
        .query(
            &Query::partition(log_partition(org_id, endpoint_id))
                .sort(SortKey::BeginsWith("DELIVERY#".into()))
                .reverse()
                .limit(limit.clamp(1, 100)),
        )
        .await?;
    let mut views = Vec::with_capacity(page.items.len());
    for item in page.items {
        let record: DeliveryRecord = from_item(item)?;
        let mut attempts = record.attempts;
        attempts.reverse();
        views.push(DeliveryView {
            id: record.id,
            event_id: record.event_id,
            event_type: record.event_type,
            status: record.status,
            created_at: record.created_at,
            next_attempt_at: record
                .next_attempt_at
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(|at| at.to_string()),
            attempts,
        });
    }
    Ok(views)
}
