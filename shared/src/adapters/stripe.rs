//! The production `Payments`: Stripe's API over reqwest (rustls).
//! https://docs.stripe.com/api
//!
//! Requests are form-encoded (`application/x-www-form-urlencoded`, nested
//! fields as `a[b][c]`), authenticated with the secret key as a bearer
//! token. Every POST carries an `Idempotency-Key`, so a retry after a rate
//! limit, a server fault or a lost answer returns the first result instead
//! of a second customer or session; retries are bounded with backoff.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::adapters::aws::LazyClient;
use crate::ports::payments::{CheckoutRequest, NewCustomer, Payments, PaymentsError};

/// Attempts per call, the first included.
const ATTEMPTS: u32 = 3;
/// The wait before the first retry; doubled before each next one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

pub struct StripePayments {
    /// Built on the first send: its TLS trust roots are parsed then, not at
    /// a cold start whose invocations may never reach the provider.
    http: LazyClient<reqwest::Client>,
    base_url: String,
    secret_key: SecretString,
}

impl std::fmt::Debug for StripePayments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret key never reaches a log line.
        f.debug_struct("StripePayments")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// Whether a Stripe answer is worth retrying: rate limits and server faults.
pub fn is_retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

#[derive(Deserialize)]
struct Created {
    id: Option<String>,
    url: Option<String>,
}

impl StripePayments {
    /// `base_url` is `https://api.stripe.com` in production; tests point it at a mock.
    pub fn new(http: impl Into<LazyClient<reqwest::Client>>, base_url: String, secret_key: SecretString) -> Self {
        Self {
            http: http.into(),
            base_url: base_url.trim_end_matches('/').to_string(),
            secret_key,
        }
    }

    /// POSTs `form` to `path` with the idempotency key, retrying what may
    /// succeed later. The same key on every attempt makes them one request.
    async fn post(&self, path: &str, form: &[(&str, &str)], idempotency_key: &str) -> Result<Created, PaymentsError> {
        self.send(reqwest::Method::POST, path, form, idempotency_key).await
    }

    /// `post` under any method (Stripe cancels a subscription with DELETE).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: &str,
    ) -> Result<Created, PaymentsError> {
        let url = format!("{}{path}", self.base_url);
        let mut backoff = FIRST_BACKOFF;
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let sent = self
                .http
                .get()
                .request(method.clone(), &url)
                .bearer_auth(self.secret_key.expose_secret())
                .header("Idempotency-Key", idempotency_key)
                .form(form)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(err) if err.is_builder() => {
                    return Err(PaymentsError::Rejected(format!(
                        "request not built: {}",
                        err.without_url()
                    )));
                }
                Err(err) => {
                    // Unreachable or no answer: the key makes a retry safe.
                    last_error = format!("no answer from stripe: {}", err.without_url());
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return response
                    .json::<Created>()
                    .await
                    .map_err(|err| PaymentsError::Unavailable(format!("unreadable stripe answer: {err}")));
            }
            // Stripe's error bodies name the error type and message, never the key.
            let detail = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect::<String>();
            if !is_retryable(status.as_u16()) {
                return Err(PaymentsError::Rejected(format!("stripe answered {status}: {detail}")));
            }
            last_error = format!("stripe answered {status}: {detail}");
        }
        Err(PaymentsError::Unavailable(last_error))
    }
}

fn required(field: Option<String>, what: &str) -> Result<String, PaymentsError> {
    field.ok_or_else(|| PaymentsError::Unavailable(format!("stripe's answer has no {what}")))
}

#[derive(Deserialize)]
struct PriceList {
    data: Vec<Created>,
}

#[async_trait]
impl Payments for StripePayments {
    async fn find_price(&self, lookup_key: &str) -> Result<Option<String>, PaymentsError> {
        let url = format!("{}/v1/prices", self.base_url);
        let query = [("lookup_keys[]", lookup_key), ("active", "true"), ("limit", "1")];
        let mut backoff = FIRST_BACKOFF;
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let sent = self
                .http
                .get()
                .get(&url)
                .bearer_auth(self.secret_key.expose_secret())
                .query(&query)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(err) => {
                    last_error = format!("no answer from stripe: {}", err.without_url());
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                let list = response
                    .json::<PriceList>()
                    .await
                    .map_err(|err| PaymentsError::Unavailable(format!("unreadable stripe answer: {err}")))?;
                return Ok(list.data.into_iter().find_map(|price| price.id));
            }
            if !is_retryable(status.as_u16()) {
                return Err(PaymentsError::Rejected(format!("stripe answered {status}")));
            }
            last_error = format!("stripe answered {status}");
        }
        Err(PaymentsError::Unavailable(last_error))
    }

    async fn create_customer(&self, customer: &NewCustomer, idempotency_key: &str) -> Result<String, PaymentsError> {
        let form = [
            ("name", customer.name.as_str()),
            ("email", customer.email.as_str()),
            ("metadata[org_id]", customer.org_id.as_str()),
        ];
        required(self.post("/v1/customers", &form, idempotency_key).await?.id, "id")
    }

    async fn create_checkout_session(
        &self,
        checkout: &CheckoutRequest,
        idempotency_key: &str,
    ) -> Result<String, PaymentsError> {
        let form = [
            ("mode", "subscription"),
            ("customer", checkout.customer_id.as_str()),
            ("line_items[0][price]", checkout.price_id.as_str()),
            ("line_items[0][quantity]", "1"),
            ("client_reference_id", checkout.org_id.as_str()),
            ("subscription_data[metadata][org_id]", checkout.org_id.as_str()),
            ("success_url", checkout.success_url.as_str()),
            ("cancel_url", checkout.cancel_url.as_str()),
        ];
        required(
            self.post("/v1/checkout/sessions", &form, idempotency_key).await?.url,
            "url",
        )
    }

    async fn cancel_subscription(&self, subscription_id: &str, idempotency_key: &str) -> Result<(), PaymentsError> {
        // Ids are Stripe's own (`sub_...`); anything else would change the path.
        if subscription_id.is_empty() || !subscription_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(PaymentsError::Rejected("not a subscription id".into()));
        }
        let path = format!("/v1/subscriptions/{subscription_id}");
        match self.send(reqwest::Method::DELETE, &path, &[], idempotency_key).await {
            Ok(_) => Ok(()),
            // Already gone (cancelled long ago, or deleted in the dashboard): done.
            Err(PaymentsError::Rejected(reason)) if reason.starts_with("stripe answered 404") => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn create_portal_session(
        &self,
        customer_id: &str,
        return_url: &str,
        idempotency_key: &str,
    ) -> Result<String, PaymentsError> {
        let form = [("customer", customer_id), ("return_url", return_url)];
        required(
            self.post("/v1/billing_portal/sessions", &form, idempotency_key)
                .await?
                .url,
            "url",
        )
    }
}
