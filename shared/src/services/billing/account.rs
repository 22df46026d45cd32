//! The owner's side of billing: the overview (`GET /billing`), Checkout to
//! subscribe or change plan, and the Customer Portal to manage payment
//! methods, invoices and cancellation on Stripe's own pages.

use crate::domain::ids::{OrgId, UserId};
use serde::Serialize;
use serde_json::json;

use crate::domain::billing::{Limit, PlanName, SubscriptionStatus, entitlement};
use crate::domain::input::FieldError;
use crate::domain::role::{Permission, Role};
use crate::ports::payments::{CheckoutRequest, NewCustomer};
use crate::ports::{Condition, HasClock, HasConfig, HasPayments, HasTable, StoreError, WriteOp};
use crate::services::billing::limits::usage;
use crate::services::billing::{BillingError, BillingRecord, billing_key, customer_key, record};
use crate::services::records::{MemberRecord, from_item, member_key, new_id, to_item};

/// One limit of the plan in force, and how much of it is used.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct LimitUsage {
    pub limit: Limit,
    /// `None`: unlimited.
    pub allowed: Option<u64>,
    /// Counted up to the limit (or a bit past it for an unlimited one); not
    /// counted for SMS and workflows.
    pub used: Option<u64>,
}

/// `GET /billing`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct BillingOverview {
    /// The plan whose limits apply now.
    pub plan: PlanName,
    /// The plan paid for, when a subscription exists.
    pub subscribed_plan: Option<PlanName>,
    pub status: Option<SubscriptionStatus>,
    /// RFC 3339.
    pub current_period_end: Option<String>,
    pub trial_end: Option<String>,
    pub cancel_at_period_end: bool,
    pub last_invoice_status: Option<String>,
    /// Set while a payment has failed: when the grace period ends (RFC 3339).
    pub grace_until: Option<String>,
    /// The paid plan is suspended for an unpaid balance.
    pub downgraded: bool,
    pub payment_failed: bool,
    pub limits: Vec<LimitUsage>,
    /// The paid plans: each sold by its configured price, or else by the
    /// Stripe price with its lookup key.
    pub plans_offered: Vec<PlanName>,
    /// Whether Checkout may sell a plan: not while a subscription is live.
    pub checkout_allowed: bool,
}

fn rfc3339(seconds: Option<i64>) -> Option<String> {
    seconds
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
}

/// A subscription Stripe still bills (or retries): its plan changes in the portal.
fn has_live_subscription(record: &BillingRecord) -> bool {
    record.subscription_id.is_some()
        && matches!(
            record.status,
            Some(SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue)
        )
}

fn owner_only(role: Role) -> Result<(), BillingError> {
    if role.allows(Permission::ManageBilling) {
        Ok(())
    } else {
        Err(BillingError::InsufficientRole)
    }
}

/// What the organization pays for and uses. Any member may learn whether a
/// payment failed (the banner); the rest is for owners.
pub async fn overview(
    state: &(impl HasTable + HasClock + HasConfig),
    org_id: &OrgId,
    role: Role,
) -> Result<BillingOverview, BillingError> {
    owner_only(role)?;
    let Some(_) = state.config().stripe.as_ref() else {
        return Err(BillingError::Off);
    };
    let record = record(state, org_id).await?;
    let now = state.clock().unix_seconds();
    let entitled = entitlement(&record.standing(), state.config().plans.grace_days, now);
    let plan = state.config().plans.plan(entitled.plan);
    let mut limits = Vec::with_capacity(Limit::ALL.len());
    for limit in Limit::ALL {
        let allowed = plan.limits.of(limit);
        let used = match limit {
            Limit::Workflows => None,
            _ => Some(usage(state.table().as_ref(), org_id, limit, allowed.unwrap_or(10_000), now).await?),
        };
        limits.push(LimitUsage { limit, allowed, used });
    }
    Ok(BillingOverview {
        plan: entitled.plan,
        subscribed_plan: record.subscription_id.as_ref().and(record.plan),
        status: record.status,
        current_period_end: rfc3339(record.current_period_end),
        trial_end: rfc3339(record.trial_end),
        cancel_at_period_end: record.cancel_at_period_end,
        last_invoice_status: record.last_invoice_status.clone(),
        grace_until: rfc3339(entitled.grace_until),
        downgraded: entitled.downgraded,
        payment_failed: record.payment_failed_at.is_some(),
        limits,
        plans_offered: PlanName::PAID.to_vec(),
        checkout_allowed: !has_live_subscription(&record),
    })
}

/// Whether a payment of the organization has failed and is still unpaid:
/// the banner every member sees. Read from the record alone (one item), so
/// pages need no Stripe credentials; without billing there is no record.
pub async fn payment_failed(state: &impl HasTable, org_id: &OrgId) -> Result<bool, StoreError> {
    Ok(record(state, org_id).await?.payment_failed_at.is_some())
}

/// Opens a Checkout Session selling `plan` to the organization's customer
/// (made on the first call) and returns its URL.
pub async fn checkout(
    state: &(impl HasTable + HasClock + HasConfig + HasPayments),
    org_id: &OrgId,
    role: Role,
    user_id: &UserId,
    plan: &str,
) -> Result<String, BillingError> {
    owner_only(role)?;
    let payments = state.payments().ok_or(BillingError::Off)?.clone();
    let invalid = |message: &str| BillingError::Invalid(vec![FieldError::new("plan", "invalid_plan", message)]);
    let plan = PlanName::parse(plan).ok_or_else(|| invalid("Choose starter or pro."))?;
    if has_live_subscription(&record(state, org_id).await?) {
        return Err(BillingError::AlreadySubscribed);
    }
    if plan == PlanName::Free {
        return Err(invalid("The free plan needs no checkout; choose starter or pro."));
    }
    let price_id = match state.config().plans.plan(plan).price_id.clone() {
        Some(price_id) => price_id,
        None => payments
            .find_price(&plan.lookup_key())
            .await?
            .ok_or_else(|| invalid("This plan is not on sale."))?,
    };
    let owner: MemberRecord = match state.table().get(&member_key(org_id, user_id)).await? {
        Some(item) => from_item(item)?,
        None => return Err(BillingError::InsufficientRole),
    };
    let customer_id = ensure_customer(state, org_id, &owner.email).await?;
    let public_url = &state.config().public_url;
    let request = CheckoutRequest {
        customer_id,
        price_id,
        org_id: org_id.to_string(),
        success_url: format!("{public_url}/app/settings/billing?notice=checkout_done"),
        cancel_url: format!("{public_url}/app/settings/billing"),
    };
    // A fresh session per click; the key makes the adapter's retries one request.
    Ok(payments
        .create_checkout_session(&request, &format!("checkout/{org_id}/{}", new_id()))
        .await?)
}

/// Opens a Customer Portal session for the organization's customer.
pub async fn portal(
    state: &(impl HasTable + HasConfig + HasPayments),
    org_id: &OrgId,
    role: Role,
) -> Result<String, BillingError> {
    owner_only(role)?;
    let payments = state.payments().ok_or(BillingError::Off)?.clone();
    let customer_id = record(state, org_id)
        .await?
        .customer_id
        .ok_or(BillingError::NoCustomer)?;
    let return_url = format!("{}/app/settings/billing", state.config().public_url);
    Ok(payments
        .create_portal_session(&customer_id, &return_url, &format!("portal/{org_id}/{}", new_id()))
        .await?)
}

/// The organization's Stripe customer, created once: the idempotency key is
/// the organization's, so two racing first checkouts get the same customer
/// from Stripe, and the record keeps the first written.
async fn ensure_customer(
    state: &(impl HasTable + HasConfig + HasPayments),
    org_id: &OrgId,
    owner_email: &str,
) -> Result<String, BillingError> {
    let payments = state.payments().ok_or(BillingError::Off)?.clone();
    for _ in 0..3 {
        let before = record(state, org_id).await?;
        if let Some(customer_id) = before.customer_id.clone() {
            return Ok(customer_id);
        }
        let org = crate::services::orgs::org(state, org_id)
            .await
            .map_err(|err| BillingError::Store(StoreError::Unavailable(err.to_string())))?;
        let customer_id = payments
            .create_customer(
                &NewCustomer {
                    org_id: org_id.to_string(),
                    name: org.name,
                    email: owner_email.to_string(),
                },
                &format!("customer/{org_id}"),
            )
            .await?;
        let after = BillingRecord {
            org_id: org_id.clone(),
            customer_id: Some(customer_id.clone()),
            version: before.version + 1,
            ..before.clone()
        };
        let ops = vec![
            WriteOp::Put {
                item: to_item(&billing_key(org_id), &after, &[])?,
                condition: Some(if before.version == 0 {
                    Condition::NotExists
                } else {
                    Condition::VersionEquals(before.version)
                }),
            },
            WriteOp::Put {
                item: to_item(&customer_key(&customer_id), &json!({"org_id": org_id}), &[])?,
                condition: None,
            },
        ];
        match state.table().transact(ops).await {
            Ok(()) => return Ok(customer_id),
            Err(err) if err.is_condition_failure() || matches!(err, StoreError::Contention) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(BillingError::Contention)
}
