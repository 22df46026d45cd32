//! What any function on the fixed stack carries before it does Konnecs's
//! work: the Lambda runtime, the SDK configuration from the environment,
//! its HTTPS client (rustls on ring, as the functions use) and a DynamoDB
//! client, reading one item per invocation. Baseline for memory and cold
//! start beside `hello` (BENCHMARKS.md); not deployed.
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("TABLE_NAME")?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let (dynamodb, table) = (dynamodb.clone(), table.clone());
        async move {
            let item = dynamodb
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S("floor".into()))
                .key("sk", AttributeValue::S("floor".into()))
                .send()
                .await?;
            Ok::<_, Error>(json!({"found": item.item().is_some()}))
        }
    }))
    .await
}
