//! AWS adapters: DynamoDB (`Table`), SQS (`Queue`), KMS (`KeyVault` data keys),
//! S3 (`ObjectStore`), Secrets Manager (`SecretStore`).

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
        .get_or_init(|| aws_config::load_defaults(BehaviorVersion::latest()))
        .await
        .clone()
}
