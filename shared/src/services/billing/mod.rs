//! Billing: an organization's subscription as Stripe reports it, what it
//! entitles the organization to, and the calls that open Stripe's hosted
//! Checkout and Customer Portal. Konnecs never sees a card: only the fields
//! picked in [`BillingRecord`] are kept from Stripe's objects.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | the organization's billing state | `ORG#<id>` | `BILLING` |
//! | Stripe customer → organization | `STRIPECUSTOMER#<cus_…>` | `ORG` |
//! | processed webhook event (TTL 30 days) | `STRIPEEVENT#<evt_…>` | `EVENT` |
//!
//! Dunning is evaluated lazily, by the clock, wherever the plan matters
//! (`domain::billing::entitlement`): a failed payment starts a grace period
//! and past it the free plan's limits apply to new records, until an invoice
//! is paid. No scheduled job is needed, and nothing is deleted.

pub mod account;
pub mod limits;
pub mod usage;
pub mod webhook;

use crate::domain::ids::OrgId;
use serde::{Deserialize, Serialize};

use crate::domain::billing::{Entitlement, PlanName, Standing, SubscriptionStatus, entitlement};
use crate::domain::input::FieldError;
use crate::ports::payments::PaymentsError;
use crate::ports::{HasClock, HasConfig, HasTable, Key, StoreError};
use crate::services::records::from_item;

pub use limits::PlanLimitReached;

pub fn billing_key(org_id: &OrgId) -> Key {
    Key::new(format!("ORG#{org_id}"), "BILLING")
}

pub fn customer_key(customer_id: &str) -> Key {
    Key::new(format!("STRIPECUSTOMER#{customer_id}"), "ORG")
}

pub fn event_key(event_id: &str) -> Key {
    Key::new(format!("STRIPEEVENT#{event_id}"), "EVENT")
}

/// What Konnecs keeps of an organization's Stripe state: ids, status and
/// dates, never anything about the payment method.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingRecord {
    pub org_id: OrgId,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub price_id: Option<String>,
    /// The plan the subscription's price sells (`Free` without one).
    pub plan: Option<PlanName>,
    pub status: Option<SubscriptionStatus>,
    /// Unix seconds.
    pub current_period_end: Option<i64>,
    pub trial_end: Option<i64>,
    pub cancel_at_period_end: bool,
    /// `created` of the event whose subscription state is kept: an older
    /// event arriving later never replaces it.
    pub subscription_as_of: Option<i64>,
    pub last_invoice_id: Option<String>,
    /// `paid`, `payment_failed` or `action_required`.
    pub last_invoice_status: Option<String>,
    /// `created` of the event whose invoice state is kept.
    pub invoice_as_of: Option<i64>,
    /// When the first unpaid invoice failed (Unix seconds); cleared when one is paid.
    pub payment_failed_at: Option<i64>,
    pub version: u64,
}

impl BillingRecord {
    pub fn standing(&self) -> Standing {
        Standing {
            plan: self.plan.unwrap_or(PlanName::Free),
            status: self.status,
            payment_failed_at: self.payment_failed_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// Stripe is not configured here: billing does not exist.
    #[error("billing is off")]
    Off,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("insufficient role")]
    InsufficientRole,
    /// The Customer Portal needs a customer, made by a first checkout.
    #[error("no customer yet")]
    NoCustomer,
    /// A live subscription changes plan in the Customer Portal, never by a
    /// second subscription.
    #[error("already subscribed")]
    AlreadySubscribed,
    #[error("webhook signature refused: {0}")]
    Signature(crate::domain::billing::SignatureError),
    #[error("unreadable webhook event: {0}")]
    MalformedEvent(String),
    #[error(transparent)]
    Payments(#[from] PaymentsError),
    #[error("concurrent change")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The organization's billing record (a default one before any).
pub async fn record(state: &impl HasTable, org_id: &OrgId) -> Result<BillingRecord, StoreError> {
    match state.table().get(&billing_key(org_id)).await? {
        Some(item) => from_item(item),
        None => Ok(BillingRecord {
            org_id: org_id.clone(),
            ..BillingRecord::default()
        }),
    }
}

/// The plan whose limits apply now, or `None` where billing is off (no
/// limits: a self-hosted server without Stripe sells nothing).
pub async fn current_entitlement(
    state: &(impl HasTable + HasClock + HasConfig),
    org_id: &OrgId,
) -> Result<Option<(BillingRecord, Entitlement)>, StoreError> {
    if !state.config().billing_enabled() {
        return Ok(None);
    }
    let record = record(state, org_id).await?;
    let entitled = entitlement(
        &record.standing(),
        state.config().plans.grace_days,
        state.clock().unix_seconds(),
    );
    Ok(Some((record, entitled)))
}
