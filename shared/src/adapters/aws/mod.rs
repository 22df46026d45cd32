//! AWS adapters: DynamoDB (`Table`), SQS (`Queue`), KMS (`KeyVault` data keys),
//! S3 (`ObjectStore`), Secrets Manager (`SecretStore`).

use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

pub mod dynamodb;
pub mod kms;
pub mod s3;
pub mod secrets_manager;
pub mod sqs;

/// The shared SDK configuration, loaded from the environment on first use
/// (credentials, region, `AWS_ENDPOINT_URL` and the per-service
/// `AWS_ENDPOINT_URL_<SERVICE>` overrides). Loading resolves credentials and
/// region providers, so a Lambda does it once per cold start, not per request.
pub async fn sdk_config() -> SdkConfig {
    static CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();
    CONFIG
        .get_or_init(|| {
            aws_config::defaults(BehaviorVersion::latest())
                .http_client(http_client())
                .load()
        })
        .await
        .clone()
}

/// The SDK's HTTPS client: rustls with ring, the crypto provider the rest of
/// the crate already links (reqwest), instead of the SDK's default aws-lc,
/// so a Lambda binary carries one crypto library. Connections and trust
/// roots are set up on the first request, not here.
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}

/// An SDK client built on its first call. Building one (its configuration,
/// endpoint resolver, retry and identity plugins) is work at cold start
/// whether or not an invocation ever reaches the service, and most functions
/// reach one or two of DynamoDB, SQS, KMS and S3. Clones share one client.
pub struct LazyClient<C>(Arc<Lazy<C>>);

struct Lazy<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// A client `build` makes on first use, at most once.
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self(Arc::new(Lazy {
            client: OnceLock::new(),
            build: Box::new(build),
        }))
    }

    /// The client, built now if this is its first use.
    pub fn get(&self) -> &C {
        self.0.client.get_or_init(|| (self.0.build)())
    }

    /// Whether the client has been built (tests check what init skipped).
    pub fn is_built(&self) -> bool {
        self.0.client.get().is_some()
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// A client built already (tests hand the adapters their emulator clients).
impl<C: Clone + Send + Sync + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        let built = OnceLock::new();
        let _ = built.set(client.clone());
        Self(Arc::new(Lazy {
            client: built,
            build: Box::new(move || client.clone()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_lazy_client_is_built_on_first_use_once_for_all_its_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let lazy = LazyClient::new(move || counter.fetch_add(1, Ordering::SeqCst) + 100);
        let clone = lazy.clone();
        assert_eq!(builds.load(Ordering::SeqCst), 0, "nothing built before the first use");
        assert!(!clone.is_built());
        assert_eq!(*clone.get(), 100);
        assert_eq!(*lazy.get(), 100);
        assert!(lazy.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 1, "one client for every clone");
    }

    #[test]
    fn a_client_handed_over_is_used_as_it_is() {
        let lazy = LazyClient::from(String::from("emulator"));
        assert!(lazy.is_built());
        assert_eq!(lazy.get(), "emulator");
    }
}
