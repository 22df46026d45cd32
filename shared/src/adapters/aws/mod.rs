//! AWS adapters: DynamoDB (`Table`), SQS (`Queue`), KMS (`KeyVault` data keys),
//! S3 (`ObjectStore`), Secrets Manager (`SecretStore`).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, ConfigBag, Credentials, IdentityCache, Region, SharedCredentialsProvider,
};
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_types::SdkConfig;

pub mod dynamodb;
pub mod kms;
pub mod s3;
pub mod secrets_manager;
pub mod sqs;

/// How long the SDK waits for a connection: `aws-config`'s default.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The shared SDK configuration, read from the process environment on first
/// use and kept for the process (a Lambda reads it once per cold start).
pub fn sdk_config() -> SdkConfig {
    static CONFIG: OnceLock<SdkConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| sdk_config_from(|name| std::env::var(name).ok()))
        .clone()
}

/// The SDK configuration `env` gives: the region (`AWS_REGION`, else
/// `AWS_DEFAULT_REGION`), the credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and `AWS_ENDPOINT_URL` (the
/// emulator, in tests and benchmarks), with `aws-config`'s defaults for
/// retries, timeouts and the identity cache.
///
/// Read here rather than through `aws-config`'s default provider chain: a
/// Lambda's runtime puts its role's credentials and its region in exactly
/// these variables, so the chain's other sources (profile files, SSO, web
/// identity through STS, container and instance metadata) are never what a
/// function's credentials come from. They still cost every binary an STS
/// client and the chain's code, and every cold start the profile files'
/// lookups (BENCHMARKS.md). Without the variables there are no
/// credentials, and a call fails at once, as the chain's would.
pub fn sdk_config_from(env: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let var = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard())
        .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build())
        .identity_cache(IdentityCache::lazy().build());
    builder.set_sleep_impl(default_async_sleep());
    builder.set_region(var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new));
    if let (Some(key_id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(key_id, secret, var("AWS_SESSION_TOKEN"), None, "environment");
        builder.set_credentials_provider(Some(SharedCredentialsProvider::new(credentials)));
    }
    builder.set_endpoint_url(var("AWS_ENDPOINT_URL"));
    builder.build()
}

/// The SDK's HTTPS client: rustls with ring, the crypto provider the rest of
/// the crate already links (reqwest), instead of the SDK's default aws-lc,
/// so a Lambda binary carries one crypto library. Connections and trust
/// roots are set up with the first connection, not here (see
/// [`RootsOnFirstConnection`]).
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    SharedHttpClient::new(RootsOnFirstConnection(client))
}

/// The SDK's client minus one eager step. The stock client builds a
/// connector, which reads and parses every trust root of the system (a
/// 200 KB bundle plus, where there is one, a directory of certificates),
/// as soon as an SDK configuration or client is set up
/// (`validate_base_client_config`): at every cold start, whether or not an
/// invocation ever opens a connection. Here the connector, and the roots
/// with it, are built for the first request instead (`http_connector`,
/// cached by the inner client), so a function that never calls AWS never
/// reads them and one that does reads them once, on its first call.
#[derive(Debug)]
struct RootsOnFirstConnection(SharedHttpClient);

impl HttpClient for RootsOnFirstConnection {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_final_config(&self, components: &RuntimeComponents, cfg: &ConfigBag) -> Result<(), BoxError> {
        self.0.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
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

#[cfg(test)]
mod roots_tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A client that counts what the SDK asks of it while a service client
    /// is set up.
    #[derive(Debug, Default)]
    struct Counting {
        validations: Arc<AtomicUsize>,
    }

    impl HttpClient for Counting {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            panic!("a connector was built while setting up a client, before any request");
        }

        fn validate_base_client_config(
            &self,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            // The stock client builds its connector, trust roots and all, here.
            self.validations.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn dynamodb_client(http: SharedHttpClient) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .http_client(http)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    #[test]
    fn setting_up_a_client_leaves_the_connector_and_its_roots_to_the_first_request() {
        let stock = Counting::default();
        let asked = stock.validations.clone();
        let _client = dynamodb_client(SharedHttpClient::new(stock));
        assert_eq!(asked.load(Ordering::SeqCst), 1, "the SDK asks a bare client at set-up");

        let inner = Counting::default();
        let asked = inner.validations.clone();
        let _client = dynamodb_client(SharedHttpClient::new(RootsOnFirstConnection(SharedHttpClient::new(
            inner,
        ))));
        assert_eq!(
            asked.load(Ordering::SeqCst),
            0,
            "the wrapper defers it to the first request"
        );
    }
}

#[cfg(test)]
mod environment_tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::ProvideCredentials;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> SdkConfig {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        sdk_config_from(|name| vars.get(name).cloned())
    }

    #[tokio::test]
    async fn a_lambda_environment_gives_the_region_credentials_and_endpoint() {
        let sdk = config(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
            ("AWS_SESSION_TOKEN", "session-token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]);
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"), "AWS_REGION wins");
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        let credentials = sdk
            .credentials_provider()
            .expect("credentials from the environment")
            .provide_credentials()
            .await
            .expect("static credentials resolve");
        assert_eq!(credentials.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "wJalrXUtnFEMI");
        assert_eq!(credentials.session_token(), Some("session-token"));
        assert_eq!(sdk.retry_config().map(|r| r.max_attempts()), Some(3));
        assert_eq!(
            sdk.timeout_config().and_then(|t| t.connect_timeout()),
            Some(CONNECT_TIMEOUT)
        );
        assert!(sdk.sleep_impl().is_some(), "retries can wait");
        assert!(sdk.identity_cache().is_some());
    }

    #[test]
    fn the_default_region_stands_in_and_blank_values_count_as_unset() {
        let sdk = config(&[
            ("AWS_REGION", " "),
            ("AWS_DEFAULT_REGION", "us-west-2"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_ENDPOINT_URL", ""),
        ]);
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-west-2"));
        assert!(
            sdk.credentials_provider().is_none(),
            "a key id without its secret is no credential"
        );
        assert_eq!(sdk.endpoint_url(), None, "the real endpoints");
    }

    #[test]
    fn an_empty_environment_has_no_region_and_no_credentials() {
        let sdk = config(&[]);
        assert!(sdk.region().is_none());
        assert!(sdk.credentials_provider().is_none());
        assert_eq!(sdk.endpoint_url(), None);
    }
}
