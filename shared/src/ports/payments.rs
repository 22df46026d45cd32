//! The `Payments` port: the few calls Konnecs makes to its payment provider
//! (Stripe). Card details never pass through Konnecs: people enter them on
//! the provider's hosted Checkout and Customer Portal pages.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    /// The provider refused the request; repeating it will not help.
    #[error("payment provider refused the request: {0}")]
    Rejected(String),
    /// Network, rate limit or provider outage, after the retries.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// A customer to create for an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    pub org_id: String,
    pub name: String,
    pub email: String,
}

/// A hosted Checkout page selling one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    pub customer_id: String,
    pub price_id: String,
    pub org_id: String,
    pub success_url: String,
    pub cancel_url: String,
}

#[async_trait]
pub trait Payments: Send + Sync {
    /// Creates a customer; the same `idempotency_key` yields the same one.
    async fn create_customer(&self, customer: &NewCustomer, idempotency_key: &str) -> Result<String, PaymentsError>;

    /// The active price with this `lookup_key`, if Stripe has one.
    async fn find_price(&self, lookup_key: &str) -> Result<Option<String>, PaymentsError>;

    /// Opens a Checkout Session and returns its URL.
    async fn create_checkout_session(
        &self,
        checkout: &CheckoutRequest,
        idempotency_key: &str,
    ) -> Result<String, PaymentsError>;

    /// Opens a Customer Portal session and returns its URL.
    async fn create_portal_session(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, PaymentsError>;

    /// Cancels a subscription at once (no proration, no further invoices);
    /// one already gone counts as cancelled, and the same `idempotency_key`
    /// makes a repeat one request.
    async fn cancel_subscription(&self, subscription_id: &str, idempotency_key: &str) -> Result<(), PaymentsError>;
}
