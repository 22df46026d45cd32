//! Delivery: one attempt per job, claimed before the call, its result
//! logged, the next attempt scheduled, and an endpoint that keeps failing
//! turned off with its owners told once.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::endpoints::{load, secret_context};
use super::{
    AttemptRecord, DeliveryRecord, DeliveryStatus, EndpointRecord, LOG_DAYS, MAX_ATTEMPTS_KEPT, WebhookError,
    delivery_key, endpoint_key, event_claim_key, plausible_id,
};
use crate::domain::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use crate::domain::role::Role;
use crate::domain::webhook::signature::{secret_key, sign};
use crate::domain::webhook::{RETRY_WINDOW, retry_after};
use crate::ports::mailer::Email;
use crate::ports::queue::MAX_DELAY;
use crate::ports::{
    Condition, HasClock, HasConfig, HasJobs, HasKeys, HasTable, HasWebhooks, OutgoingWebhook, StoreError,
    WebhookSendError, WriteOp,
};
use crate::services::audit::Actor;
use crate::services::jobs::{self, Job, WebhookAttempt};
use crate::services::orgs::list_members;
use crate::services::records::{from_item, to_item};

/// How long the receiver has to answer. The jobs worker starts an attempt
/// only with at least [`ATTEMPT_TIME`] left in its batch.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
/// What one attempt may take, the call and its bookkeeping.
pub const ATTEMPT_TIME: Duration = Duration::from_secs(9);
/// How long a claimed attempt is taken to be under way. One with no result
/// after this was lost (its process stopped during the call): a redelivery
/// of its job makes it again, under the same `webhook-id`. Well over
/// [`ATTEMPT_TIME`], so an attempt still under way is never made twice.
pub const ATTEMPT_LEASE: Duration = Duration::from_secs(60);
/// Longest error text kept in the log.
const MAX_ERROR: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store, queue or key vault failed: worth another delivery of the job.
    #[error("retry: {0}")]
    Retry(String),
}

impl From<WebhookError> for RunError {
    fn from(err: WebhookError) -> Self {
        RunError::Retry(err.to_string())
    }
}

impl From<StoreError> for RunError {
    fn from(err: StoreError) -> Self {
        RunError::Retry(err.to_string())
    }
}

fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// Sends `job` to come back `wait` from now (at most the queue's delay limit;
/// a longer wait comes back early and is sent again).
async fn send_later(state: &impl HasJobs, job: WebhookAttempt, wait: Duration) -> Result<(), RunError> {
    let body = serde_json::to_string(&Job::DeliverWebhook(job)).map_err(|err| RunError::Retry(err.to_string()))?;
    state
        .jobs()
        .send_delayed(body, wait.min(MAX_DELAY))
        .await
        .map_err(|err| RunError::Retry(err.to_string()))
}

/// Runs one attempt of a delivery. `Ok` whatever the receiver answered (the
/// answer is logged and the next attempt queued); `Err` only when the job
/// itself should be delivered again.
pub async fn run_attempt(
    state: &(impl HasTable + HasClock + HasJobs + HasKeys + HasWebhooks + HasConfig),
    job: WebhookAttempt,
) -> Result<(), RunError> {
    let now = state.clock().now();
    if job.due_at > ms(now) {
        let wait = Duration::from_millis(u64::try_from(job.due_at - ms(now)).unwrap_or(0));
        return send_later(state, job, wait).await;
    }
    let endpoint = match load(state, &job.org_id, &job.endpoint_id).await {
        Ok(endpoint) => endpoint,
        // Deleted (or its organization): nothing left to deliver to.
        Err(WebhookError::NotFound) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    if endpoint.notice_pending {
        tell_owners(state, &job.org_id, &endpoint).await?;
    }
    if let Some(event) = &job.event
        && !create_delivery(state, &job, event, now).await?
    {
        // The event already went to this endpoint under another delivery.
        return Ok(());
    }
    let key = delivery_key(&job.org_id, &job.endpoint_id, &job.delivery_id);
    let Some(item) = state.table().get(&key).await? else {
        return Ok(());
    };
    let delivery: DeliveryRecord = from_item(item)?;
    if !endpoint.enabled && !job.manual {
        if delivery.status == DeliveryStatus::Pending {
            finish_without_attempt(state, &key, &delivery).await?;
        }
        return Ok(());
    }
    // The claim: this attempt is made once, whatever the queue redelivers
    // (again only if its lease runs out with no result).
    let lease_until = ms(now) + ATTEMPT_LEASE.as_millis() as i64;
    let claimed = state
        .table()
        .update(
            &key,
            crate::ports::Update::default()
                .set("claimed_attempt", job.attempt)
                .set("lease_until", lease_until),
            Some(Condition::AttributeEquals {
                name: "claimed_attempt".into(),
                value: json!(job.attempt.saturating_sub(1)),
            }),
        )
        .await;
    match claimed {
        Ok(_) => {}
        Err(err) if err.is_condition_failure() => match lost_attempt(&job, &delivery, now) {
            LostAttempt::No => return resume_schedule(state, &job, &delivery).await,
            // Maybe still under way: this job comes back when the lease ends.
            LostAttempt::Leased(until) => {
                let wait = Duration::from_millis(u64::try_from(until - ms(now)).unwrap_or(0));
                return send_later(state, job, wait).await;
            }
            LostAttempt::Expired => {
                if !reclaim(state, &key, &delivery, lease_until).await? {
                    // Another delivery of this job took it over first.
                    return Ok(());
                }
            }
        },
        Err(err) => return Err(err.into()),
    }
    let outcome = attempt(state, &job.org_id, &endpoint, &delivery, now).await?;
    let succeeded = outcome.succeeded();
    let next = record_attempt(state, &job, &key, outcome, now).await?;
    track_endpoint(state, &job.org_id, &job.endpoint_id, succeeded, now).await?;
    if let Some(due_at) = next {
        let wait = Duration::from_millis(u64::try_from(due_at - ms(now)).unwrap_or(0));
        let follow_up = WebhookAttempt {
            attempt: job.attempt + 1,
            due_at,
            manual: false,
            event: None,
            ..job
        };
        send_later(state, follow_up, wait).await?;
    }
    Ok(())
}

/// Writes the delivery and the event's claim, unless the claim names
/// another delivery (`false`: the event was published twice).
async fn create_delivery(
    state: &(impl HasTable + HasClock),
    job: &WebhookAttempt,
    event: &crate::domain::webhook::WebhookEvent,
    now: Timestamp,
) -> Result<bool, RunError> {
    let claim_key = event_claim_key(&job.org_id, &job.endpoint_id, &event.id);
    let expires_at = now.as_second() + LOG_DAYS * 86_400;
    let body = serde_json::to_string(event).map_err(|err| RunError::Retry(err.to_string()))?;
    let delivery = DeliveryRecord {
        id: job.delivery_id.clone(),
        endpoint_id: job.endpoint_id.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        body,
        status: DeliveryStatus::Pending,
        claimed_attempt: 0,
        lease_until: None,
        first_attempt_at: ms(now),
        next_attempt_at: Some(ms(now)),
        attempts: Vec::new(),
        created_at: now.to_string(),
    };
    let ops = vec![
        WriteOp::Put {
            item: to_item(
                &claim_key,
                &json!({"delivery_id": job.delivery_id}),
                &[("expires_at", expires_at.into())],
            )?,
            condition: Some(Condition::NotExists),
        },
        WriteOp::Put {
            item: to_item(
                &delivery_key(&job.org_id, &job.endpoint_id, &job.delivery_id),
                &delivery,
                &[("expires_at", expires_at.into())],
            )?,
            condition: Some(Condition::NotExists),
        },
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(true),
        Err(err) if err.is_condition_failure() => {
            let owner = state.table().get(&claim_key).await?;
            let same = owner
                .as_ref()
                .and_then(|item| item.get("delivery_id"))
                .and_then(|id| id.as_str())
                == Some(job.delivery_id.as_str());
            Ok(same)
        }
        Err(err) => Err(err.into()),
    }
}

/// Whether a redelivered job's attempt was claimed and never finished.
enum LostAttempt {
    /// Not claimed by this job, or made (its result is in the log).
    No,
    /// Claimed with no result, and the lease (Unix ms) still runs.
    Leased(i64),
    /// Claimed with no result, and the lease ran out: it was lost.
    Expired,
}

fn lost_attempt(job: &WebhookAttempt, delivery: &DeliveryRecord, now: Timestamp) -> LostAttempt {
    let made = delivery.attempts.last().is_some_and(|a| a.attempt >= job.attempt);
    if delivery.claimed_attempt != job.attempt || made {
        return LostAttempt::No;
    }
    match delivery.lease_until {
        Some(until) if until > ms(now) => LostAttempt::Leased(until),
        _ => LostAttempt::Expired,
    }
}

/// Takes over a lost attempt: a new lease, on the condition that the one
/// seen is still the delivery's (every claim writes a later one), so of
/// several deliveries of the job one makes the attempt. `false`: another
/// took it.
async fn reclaim(
    state: &impl HasTable,
    key: &crate::ports::Key,
    delivery: &DeliveryRecord,
    lease_until: i64,
) -> Result<bool, RunError> {
    let condition = match delivery.lease_until {
        Some(seen) => Condition::AttributeEquals {
            name: "lease_until".into(),
            value: json!(seen),
        },
        // Claimed before leases were kept.
        None => Condition::AttributeEquals {
            name: "claimed_attempt".into(),
            value: json!(delivery.claimed_attempt),
        },
    };
    let update = crate::ports::Update::default().set("lease_until", lease_until);
    match state.table().update(key, update, Some(condition)).await {
        Ok(_) => Ok(true),
        Err(err) if err.is_condition_failure() => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// A redelivered job whose attempt was made already: if that attempt failed
/// and its follow-up may not have been queued (a crash in between), queue
/// it again; the follow-up's own claim drops a duplicate.
async fn resume_schedule(
    state: &impl HasJobs,
    job: &WebhookAttempt,
    delivery: &DeliveryRecord,
) -> Result<(), RunError> {
    let made = delivery.attempts.last().map(|a| a.attempt) == Some(job.attempt);
    match delivery.next_attempt_at {
        Some(due_at)
            if made && delivery.status == DeliveryStatus::Pending && delivery.claimed_attempt == job.attempt =>
        {
            let follow_up = WebhookAttempt {
                attempt: job.attempt + 1,
                due_at,
                manual: false,
                event: None,
                ..job.clone()
            };
            send_later(state, follow_up, Duration::ZERO).await
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone)]
struct Outcome {
    status_code: Option<u16>,
    duration: Duration,
    error: Option<String>,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|code| (200..300).contains(&code))
    }
}

/// Signs and sends the stored body once.
async fn attempt(
    state: &(impl HasKeys + HasWebhooks + HasConfig),
    org_id: &OrgId,
    endpoint: &EndpointRecord,
    delivery: &DeliveryRecord,
    now: Timestamp,
) -> Result<Outcome, RunError> {
    let sealed = STANDARD
        .decode(&endpoint.secret_envelope)
        .map_err(|_| RunError::Retry("endpoint secret unreadable".into()))?;
    let secret = state
        .keys()
        .decrypt(&sealed, &secret_context(org_id, &endpoint.id))
        .await
        .map_err(|err| RunError::Retry(err.to_string()))?;
    let key = std::str::from_utf8(&secret)
        .ok()
        .and_then(secret_key)
        .ok_or_else(|| RunError::Retry("endpoint secret unreadable".into()))?;
    let timestamp = now.as_second();
    let signature = sign(&key, &delivery.event_id, timestamp, delivery.body.as_bytes());
    let request = OutgoingWebhook {
        url: endpoint.url.clone(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), delivery.event_id.clone()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            ("webhook-signature".into(), signature),
        ],
        body: delivery.body.clone().into_bytes(),
        timeout: REQUEST_TIMEOUT,
        policy: state.config().webhook_targets,
    };
    Ok(match state.webhooks().post(&request).await {
        Ok(answer) => Outcome {
            status_code: Some(answer.status),
            duration: answer.elapsed,
            error: None,
        },
        Err(err) => {
            let duration = match err {
                WebhookSendError::TimedOut => REQUEST_TIMEOUT,
                _ => Duration::ZERO,
            };
            let mut error = err.to_string();
            if error.len() > MAX_ERROR {
                let mut cut = MAX_ERROR;
                while !error.is_char_boundary(cut) {
                    cut -= 1;
                }
                error.truncate(cut);
            }
            Outcome {
                status_code: None,
                duration,
                error: Some(error),
            }
        }
    })
}

/// Logs the attempt on the delivery and decides what comes next: the due
/// time of the next attempt, or `None` (succeeded, or given up).
async fn record_attempt(
    state: &impl HasTable,
    job: &WebhookAttempt,
    key: &crate::ports::Key,
    outcome: Outcome,
    now: Timestamp,
) -> Result<Option<i64>, RunError> {
    for _ in 0..5 {
        let Some(item) = state.table().get(key).await? else {
            return Ok(None);
        };
        let mut delivery: DeliveryRecord = from_item(item)?;
        let claimed = delivery.claimed_attempt;
        delivery.attempts.push(AttemptRecord {
            attempt: job.attempt,
            at: now.to_string(),
            status_code: outcome.status_code,
            duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
            error: outcome.error.clone(),
            manual: job.manual,
        });
        delivery.attempts.sort_by_key(|a| a.attempt);
        let excess = delivery.attempts.len().saturating_sub(MAX_ATTEMPTS_KEPT);
        delivery.attempts.drain(..excess);
        let next = if outcome.succeeded() {
            None
        } else {
            // The attempts so far in this delivery's schedule decide the wait.
            let since_first = SignedDuration::from_millis(ms(now) - delivery.first_attempt_at);
            retry_after(job.attempt, since_first).map(|wait| ms(now) + wait.as_millis() as i64)
        };
        // A later attempt (a member's redelivery) may have finished first:
        // the newest attempt decides the status.
        if delivery.attempts.last().map(|a| a.attempt) == Some(job.attempt) {
            delivery.status = match (outcome.succeeded(), next) {
                (true, _) => DeliveryStatus::Succeeded,
                (false, Some(_)) => DeliveryStatus::Pending,
                (false, None) => DeliveryStatus::Failed,
            };
            delivery.next_attempt_at = next;
        }
        let expires_at = now.as_second() + LOG_DAYS * 86_400;
        let item = to_item(key, &delivery, &[("expires_at", expires_at.into())])?;
        let written = state
            .table()
            .put(
                item,
                Some(Condition::AttributeEquals {
                    name: "claimed_attempt".into(),
                    value: json!(claimed),
                }),
            )
            .await;
        match written {
            Ok(()) => return Ok(next.filter(|_| claimed == job.attempt)),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(RunError::Retry("the delivery kept changing".into()))
}

/// A delivery whose endpoint was turned off: given up without a call.
async fn finish_without_attempt(
    state: &impl HasTable,
    key: &crate::ports::Key,
    delivery: &DeliveryRecord,
) -> Result<(), RunError> {
    let update = crate::ports::Update::default()
        .set("status", json!(DeliveryStatus::Failed))
        .set("next_attempt_at", serde_json::Value::Null);
    let condition = Condition::AttributeEquals {
        name: "claimed_attempt".into(),
        value: json!(delivery.claimed_attempt),
    };
    match state.table().update(key, update, Some(condition)).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Keeps the endpoint's failure streak; after 24 hours of nothing but
/// failures it turns the endpoint off and tells the owners.
async fn track_endpoint(
    state: &(impl HasTable + HasJobs + HasConfig),
    org_id: &OrgId,
    endpoint_id: &WebhookEndpointId,
    succeeded: bool,
    now: Timestamp,
) -> Result<(), RunError> {
    for _ in 0..5 {
        let mut endpoint = match load(state, org_id, endpoint_id).await {
            Ok(endpoint) => endpoint,
            Err(WebhookError::NotFound) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        let expected = endpoint.version;
        let mut disabling = false;
        if succeeded {
            if endpoint.failing_since.is_none() && endpoint.consecutive_failures == 0 {
                return Ok(());
            }
            endpoint.failing_since = None;
            endpoint.consecutive_failures = 0;
        } else {
            let since = *endpoint.failing_since.get_or_insert(ms(now));
            endpoint.consecutive_failures = endpoint.consecutive_failures.saturating_add(1);
            let failing_for = SignedDuration::from_millis(ms(now) - since);
            if endpoint.enabled && failing_for >= RETRY_WINDOW {
                endpoint.enabled = false;
                endpoint.disabled_reason = Some("failing".into());
                endpoint.notice_pending = true;
                disabling = true;
            }
        }
        endpoint.version += 1;
        let mut ops = vec![WriteOp::Put {
            item: to_item(&endpoint_key(org_id, endpoint_id), &endpoint, &[])?,
            condition: Some(Condition::VersionEquals(expected)),
        }];
        if disabling {
            let actor = Actor {
                org_id: org_id.clone(),
                ..Actor::default()
            };
            ops.push(crate::services::audit::entry(
                &actor,
                now,
                "webhook.disable",
                &format!("webhook:{endpoint_id}"),
                json!({"reason": "failing", "consecutive_failures": endpoint.consecutive_failures}),
            ));
        }
        match state.table().transact(ops).await {
            Ok(()) => {
                if disabling {
                    tracing::warn!(%org_id, %endpoint_id, "webhook endpoint turned off after 24 hours of failures");
                    tell_owners(state, org_id, &endpoint).await?;
                }
                return Ok(());
            }
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(RunError::Retry("the endpoint kept changing".into()))
}

/// Emails the organization's owners that the endpoint was turned off, then
/// clears the pending notice. Safe to repeat: each owner's email has one
/// idempotency key per time the endpoint was turned off.
async fn tell_owners(
    state: &(impl HasTable + HasJobs + HasConfig),
    org_id: &OrgId,
    endpoint: &EndpointRecord,
) -> Result<(), RunError> {
    let mut owners = Vec::new();
    let mut cursor = None;
    loop {
        let (members, next) = list_members(state, org_id, 100, cursor)
            .await
            .map_err(|err| RunError::Retry(err.to_string()))?;
        owners.extend(members.into_iter().filter(|m| m.role == Role::Owner));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let link = format!(
        "{}/app/settings/webhooks/{}",
        state.config().public_url.trim_end_matches('/'),
        endpoint.id
    );
    let text = format!(
        "Hi,\n\nKonnecs turned off the webhook endpoint {url}: every delivery to it failed for 24 hours.\n\n\
         Events are no longer sent to it. Once the receiver works again, turn the endpoint back on and \
         redeliver what it missed:\n{link}\n",
        url = endpoint.url
    );
    let streak = endpoint.failing_since.unwrap_or_default();
    let emails: Vec<Job> = owners
        .into_iter()
        .map(|owner| Job::SendEmail {
            idempotency_key: format!("webhook-disabled/{}/{streak}/{}", endpoint.id, owner.user_id),
            email: Email {
                to: owner.email,
                subject: "Konnecs turned off a webhook endpoint".into(),
                text: text.clone(),
                html: None,
                attachments: Vec::new(),
                kind: "webhook_disabled".into(),
            },
        })
        .collect();
    if !emails.is_empty() {
        jobs::enqueue(state, &emails)
            .await
            .map_err(|err| RunError::Retry(err.to_string()))?;
    }
    let cleared = state
        .table()
        .update(
            &endpoint_key(org_id, &endpoint.id),
            crate::ports::Update::default().set("notice_pending", false),
            Some(Condition::Exists),
        )
        .await;
    match cleared {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// A member's "redeliver": one more attempt of the delivery, now, even
/// while the endpoint is off.
pub async fn redeliver(
    state: &(impl HasTable + HasClock + HasJobs),
    org_id: &OrgId,
    endpoint_id: &WebhookEndpointId,
    delivery_id: &WebhookDeliveryId,
) -> Result<(), WebhookError> {
    load(state, org_id, endpoint_id).await?;
    if !plausible_id(delivery_id) {
        return Err(WebhookError::NotFound);
    }
    let item = state
        .table()
        .get(&delivery_key(org_id, endpoint_id, delivery_id))
        .await?
        .ok_or(WebhookError::NotFound)?;
    let delivery: DeliveryRecord = from_item(item)?;
    let job = Job::DeliverWebhook(WebhookAttempt {
        org_id: org_id.clone(),
        endpoint_id: endpoint_id.clone(),
        delivery_id: delivery_id.clone(),
        attempt: delivery.claimed_attempt + 1,
        due_at: ms(state.clock().now()),
        manual: true,
        event: None,
    });
    jobs::enqueue(state, &[job]).await?;
    Ok(())
}
