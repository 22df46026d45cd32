//! Outgoing webhooks over reqwest (rustls), behind the SSRF guard.
//!
//! The guard sits in the client's resolver: every address a host name
//! resolves to is classified (`domain::webhook::address`) and the request
//! fails unless all are allowed, so the address checked is the address
//! connected to (no second lookup an attacker's DNS could answer
//! differently). Literal addresses skip resolvers, so they are checked
//! before the request. Redirects are not followed and proxies from the
//! environment are not used: either could carry the request past the guard.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::webhook::TargetPolicy;
use crate::domain::webhook::address::literal_ip;
use crate::ports::webhook::{OutgoingWebhook, WebhookAnswer, WebhookSendError, WebhookTransport};

/// A resolution that found an address the policy refuses.
#[derive(Debug)]
struct BlockedAddress(String);

impl std::fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for BlockedAddress {}

/// Resolves with the system resolver, then applies the policy to every address.
struct GuardedResolver {
    policy: TargetPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            if let Some(bad) = found.iter().find(|addr| !policy.allows(addr.ip())) {
                let blocked: Box<dyn std::error::Error + Send + Sync> = Box::new(BlockedAddress(format!(
                    "{host} resolves to {}, which is not public",
                    bad.ip()
                )));
                return Err(blocked);
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// One client per policy, built on its first use: every Lambda's state
/// holds this adapter, and only the jobs worker sends, so no other
/// function pays for a client (and its trust roots) at cold start.
pub struct HttpWebhooks {
    strict: std::sync::OnceLock<reqwest::Client>,
    loopback: std::sync::OnceLock<reqwest::Client>,
}

impl HttpWebhooks {
    pub fn new() -> Self {
        Self {
            strict: std::sync::OnceLock::new(),
            loopback: std::sync::OnceLock::new(),
        }
    }
}

impl Default for HttpWebhooks {
    fn default() -> Self {
        Self::new()
    }
}

fn client(policy: TargetPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent("Konnecs-Webhooks/1")
        .build()
        .unwrap_or_default()
}

/// Whether the guard refused the connection, somewhere in the error's causes.
fn blocked(err: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(blocked) = cause.downcast_ref::<BlockedAddress>() {
            return Some(blocked.0.clone());
        }
        source = cause.source();
    }
    None
}

#[async_trait]
impl WebhookTransport for HttpWebhooks {
    async fn post(&self, request: &OutgoingWebhook) -> Result<WebhookAnswer, WebhookSendError> {
        let url = reqwest::Url::parse(&request.url).map_err(|err| WebhookSendError::Network(err.to_string()))?;
        let host = url
            .host()
            .ok_or_else(|| WebhookSendError::Network("the URL has no host".into()))?;
        if let Some(ip) = literal_ip(&host)
            && !request.policy.allows(ip)
        {
            return Err(WebhookSendError::Refused(format!("{ip} is not a public address")));
        }
        let client = match request.policy {
            TargetPolicy::PublicOnly => self.strict.get_or_init(|| client(TargetPolicy::PublicOnly)),
            TargetPolicy::AllowLoopback => self.loopback.get_or_init(|| client(TargetPolicy::AllowLoopback)),
        };
        let mut builder = client.post(url).timeout(request.timeout).body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let started = Instant::now();
        match builder.send().await {
            Ok(response) => Ok(WebhookAnswer {
                status: response.status().as_u16(),
                elapsed: started.elapsed(),
            }),
            Err(err) if err.is_timeout() => Err(WebhookSendError::TimedOut),
            Err(err) => match blocked(&err) {
                Some(reason) => Err(WebhookSendError::Refused(reason)),
                None => Err(WebhookSendError::Network(err.to_string())),
            },
        }
    }
}
