//! Stripe's webhook events: verified over the raw body, applied once, and
//! never moving an organization's state backwards.
//!
//! - **Once**: the event id is claimed (`NotExists`) in the same transaction
//!   as the billing record it changes, so a redelivery writes nothing and
//!   answers 200.
//! - **Order**: Stripe does not deliver in order. The record keeps the
//!   `created` time of the event its subscription state (and, separately,
//!   its invoice state) came from; an older event is recorded as seen and
//!   changes nothing. Equal times apply in arrival order.
//! - **Picked fields**: only ids, statuses and dates are read from Stripe's
//!   objects into the record; the payload itself is never stored or logged.

use crate::domain::ids::OrgId;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::billing::{PlanName, SubscriptionStatus, verify_signature};
use crate::domain::role::Role;
use crate::ports::mailer::Email;
use crate::ports::{Condition, HasClock, HasConfig, HasJobs, HasTable, StoreError, WriteOp};
use crate::services::billing::{BillingError, BillingRecord, billing_key, customer_key, event_key, record};
use crate::services::jobs::{self, Job};
use crate::services::orgs::list_members;
use crate::services::records::{from_item, to_item};

/// How long a processed event id is remembered: beyond Stripe's three days
/// of retries, with room to spare.
const EVENT_MEMORY_SECONDS: i64 = 30 * 86_400;

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The event changed the organization's billing state.
    Applied,
    /// Seen before: nothing done again.
    Duplicate,
    /// Recorded, and nothing to change: an unknown type, an unknown
    /// customer, or older than the state already kept.
    Ignored,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: Value,
}

/// Verifies and applies one delivery. `signature` is the `Stripe-Signature`
/// header; `body` the bytes exactly as received.
pub async fn receive(
    state: &(impl HasTable + HasClock + HasConfig + HasJobs),
    signature: Option<&str>,
    body: &[u8],
) -> Result<Outcome, BillingError> {
    let Some(stripe) = state.config().stripe.as_ref() else {
        return Err(BillingError::Off);
    };
    let now = state.clock().unix_seconds();
    {
        use secrecy::ExposeSecret;
        verify_signature(
            signature.unwrap_or_default(),
            body,
            stripe.webhook_signing_secret.expose_secret(),
            now,
        )
        .map_err(BillingError::Signature)?;
    }
    let event: Event = serde_json::from_slice(body)
        // serde's message may quote the payload: only the position is kept.
        .map_err(|err| BillingError::MalformedEvent(format!("line {} column {}", err.line(), err.column())))?;
    if state.table().get(&event_key(&event.id)).await?.is_some() {
        return Ok(Outcome::Duplicate);
    }
    let object = &event.data.object;
    for _ in 0..3 {
        let org_id = match org_of(state, object).await? {
            Some(org_id) => org_id,
            None => return claim_only(state, &event, now).await,
        };
        let before = record(state, &org_id).await?;
        let Some(change) = apply(&before, &event, state) else {
            return claim_only(state, &event, now).await;
        };
        if let Some(notice) = change.notice {
            notify_owners(state, &org_id, &event.id, notice).await?;
        }
        let mut after = change.record;
        after.version = before.version + 1;
        let mut ops = vec![claim(&event, now)?, write_record(&before, &after)?];
        if let Some(customer) = after
            .customer_id
            .as_deref()
            .filter(|c| before.customer_id.as_deref() != Some(*c))
        {
            ops.push(WriteOp::Put {
                item: to_item(&customer_key(customer), &json!({"org_id": org_id}), &[])?,
                condition: None,
            });
        }
        match state.table().transact(ops).await {
            Ok(()) => {
                tracing::info!(event_id = %event.id, kind = %event.kind, org_id = %org_id, "stripe event applied");
                return Ok(Outcome::Applied);
            }
            Err(StoreError::TransactionConditionFailed { index: 0 }) => return Ok(Outcome::Duplicate),
            // Another event changed the record meanwhile: decide again on it.
            Err(StoreError::TransactionConditionFailed { .. } | StoreError::Contention) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(BillingError::Contention)
}

fn claim(event: &Event, now: i64) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put {
        item: to_item(
            &event_key(&event.id),
            &json!({"type": event.kind, "received_at": now, "expires_at": now + EVENT_MEMORY_SECONDS}),
            &[],
        )?,
        condition: Some(Condition::NotExists),
    })
}

async fn claim_only(state: &impl HasTable, event: &Event, now: i64) -> Result<Outcome, BillingError> {
    match state.table().transact(vec![claim(event, now)?]).await {
        Ok(()) => Ok(Outcome::Ignored),
        Err(StoreError::TransactionConditionFailed { .. }) => Ok(Outcome::Duplicate),
        Err(err) => Err(err.into()),
    }
}

fn write_record(before: &BillingRecord, after: &BillingRecord) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put {
        item: to_item(&billing_key(&after.org_id), after, &[])?,
        condition: Some(if before.version == 0 {
            Condition::NotExists
        } else {
            Condition::VersionEquals(before.version)
        }),
    })
}

/// A string field, or the `id` of an expanded object in its place.
fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn string(object: &Value, pointer: &str) -> Option<String> {
    object.pointer(pointer)?.as_str().map(str::to_owned)
}

/// The organization an object belongs to: by its customer (recorded when
/// Konnecs created it), else by the `org_id` Konnecs put in its metadata or
/// the Checkout Session's `client_reference_id`.
async fn org_of(state: &impl HasTable, object: &Value) -> Result<Option<OrgId>, StoreError> {
    if let Some(customer) = id_of(object.get("customer"))
        && let Some(item) = state.table().get(&customer_key(&customer)).await?
    {
        let mapped: Value = from_item(item)?;
        if let Some(org_id) = mapped.get("org_id").and_then(Value::as_str) {
            return Ok(Some(OrgId::from(org_id)));
        }
    }
    let claimed = string(object, "/metadata/org_id")
        .or_else(|| string(object, "/client_reference_id"))
        .map(OrgId::from);
    match claimed {
        Some(org_id) => {
            let exists = state
                .table()
                .get(&crate::services::records::org_key(&org_id))
                .await?
                .is_some();
            Ok(exists.then_some(org_id))
        }
        None => Ok(None),
    }
}

/// Whom an event warns, and about what.
#[derive(Debug, Clone, Copy)]
enum Notice {
    PaymentFailed,
    ActionRequired,
    TrialEnding,
}

struct Change {
    record: BillingRecord,
    notice: Option<Notice>,
}

/// The record after `event`, or `None` when it changes nothing (an unknown
/// type, or older than what the record holds).
fn apply(before: &BillingRecord, event: &Event, state: &impl HasConfig) -> Option<Change> {
    let object = &event.data.object;
    let mut after = before.clone();
    let notice = match event.kind.as_str() {
        "checkout.session.completed" => {
            after.customer_id = id_of(object.get("customer")).or(after.customer_id);
            if after.subscription_id.is_none() {
                after.subscription_id = id_of(object.get("subscription"));
            }
            None
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.trial_will_end" => {
            if before.subscription_as_of.is_some_and(|as_of| event.created < as_of) {
                return None;
            }
            let subscription_id = id_of(object.get("id"));
            // The end of a subscription other than the current one (after a
            // plan was bought again) leaves the current one alone.
            if event.kind == "customer.subscription.deleted"
                && before.subscription_id.is_some()
                && subscription_id != before.subscription_id
                && before.status != Some(SubscriptionStatus::Canceled)
            {
                return None;
            }
            let price_id = string(object, "/items/data/0/price/id");
            after.customer_id = id_of(object.get("customer")).or(after.customer_id);
            after.subscription_id = subscription_id;
            let lookup_key = string(object, "/items/data/0/price/lookup_key");
            after.plan = Some(
                price_id
                    .as_deref()
                    .and_then(|price| state.config().plans.by_price(price))
                    .or_else(|| lookup_key.as_deref().and_then(PlanName::from_lookup_key))
                    .unwrap_or_else(|| {
                        tracing::warn!(event_id = %event.id, "subscription to a price no plan sells: free limits apply");
                        PlanName::Free
                    }),
            );
            after.price_id = price_id;
            after.status = object
                .get("status")
                .and_then(Value::as_str)
                .map(SubscriptionStatus::parse);
            if event.kind == "customer.subscription.deleted" {
                after.status = Some(SubscriptionStatus::Canceled);
            }
            // Older API versions put the period on the subscription, newer on its items.
            after.current_period_end = object.get("current_period_end").and_then(Value::as_i64).or_else(|| {
                object
                    .pointer("/items/data/0/current_period_end")
                    .and_then(Value::as_i64)
            });
            after.trial_end = object.get("trial_end").and_then(Value::as_i64);
            after.cancel_at_period_end = object
                .get("cancel_at_period_end")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            after.subscription_as_of = Some(event.created);
            (event.kind == "customer.subscription.trial_will_end").then_some(Notice::TrialEnding)
        }
        "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
            if before.invoice_as_of.is_some_and(|as_of| event.created < as_of) {
                return None;
            }
            after.customer_id = id_of(object.get("customer")).or(after.customer_id);
            after.last_invoice_id = id_of(object.get("id"));
            after.invoice_as_of = Some(event.created);
            match event.kind.as_str() {
                "invoice.paid" => {
                    after.last_invoice_status = Some("paid".into());
                    after.payment_failed_at = None;
                    None
                }
                "invoice.payment_failed" => {
                    after.last_invoice_status = Some("payment_failed".into());
                    after.payment_failed_at = before.payment_failed_at.or(Some(event.created));
                    Some(Notice::PaymentFailed)
                }
                _ => {
                    after.last_invoice_status = Some("action_required".into());
                    after.payment_failed_at = before.payment_failed_at.or(Some(event.created));
                    Some(Notice::ActionRequired)
                }
            }
        }
        _ => return None,
    };
    Some(Change { record: after, notice })
}

/// Queues one email per owner, keyed by the event: a redelivery racing
/// this one, or this call repeated after a failed commit, sends no second
/// copy. Queued before the commit, so an event recorded as processed never
/// lost its email.
async fn notify_owners(
    state: &(impl HasTable + HasConfig + HasJobs),
    org_id: &OrgId,
    event_id: &str,
    notice: Notice,
) -> Result<(), BillingError> {
    let link = format!("{}/app/settings/billing", state.config().public_url);
    let (subject, text, kind) = match notice {
        Notice::PaymentFailed => (
            "Konnecs: your payment failed",
            format!(
                "Hi,\n\nThe latest payment for your Konnecs subscription failed. Stripe will retry the card; \
                 please update your payment method so your plan continues. If it stays unpaid for {} days, your \
                 organization falls to the free plan's limits (no data is deleted).\n\nManage billing: {link}\n",
                state.config().plans.grace_days
            ),
            "billing_payment_failed",
        ),
        Notice::ActionRequired => (
            "Konnecs: your payment needs confirmation",
            format!(
                "Hi,\n\nYour bank asks you to confirm the latest payment for your Konnecs subscription. \
                 Please confirm it so your plan continues.\n\nManage billing: {link}\n"
            ),
            "billing_action_required",
        ),
        Notice::TrialEnding => (
            "Konnecs: your trial ends soon",
            format!(
                "Hi,\n\nYour Konnecs trial ends in a few days. Add a payment method to keep your plan.\n\n\
                 Manage billing: {link}\n"
            ),
            "billing_trial_ending",
        ),
    };
    let mut owners = Vec::new();
    let mut cursor = None;
    loop {
        let (members, next) = list_members(state, org_id, 100, cursor)
            .await
            .map_err(|err| BillingError::Store(StoreError::Unavailable(err.to_string())))?;
        owners.extend(members.into_iter().filter(|m| m.role == Role::Owner));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let jobs: Vec<Job> = owners
        .into_iter()
        .map(|owner| Job::SendEmail {
            idempotency_key: format!("stripe/{event_id}/{}", owner.user_id),
            email: Email {
                to: owner.email,
                subject: subject.into(),
                text: text.clone(),
                html: None,
                attachments: Vec::new(),
                kind: kind.into(),
            },
        })
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
    jobs::enqueue(state, &jobs)
        .await
        .map_err(|err| BillingError::Store(StoreError::Unavailable(format!("could not queue the email: {err}"))))
}
