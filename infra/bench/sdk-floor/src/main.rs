//! What any function on the fixed stack carries before it does Konnecs's
//! work: the Lambda runtime, the SDK configuration from the environment and
//! its HTTPS client, both exactly as the functions build them
//! (`konnecs::adapters::aws::sdk_config`), and a DynamoDB client, reading one
//! item per invocation. Baseline for memory and cold start beside `hello`
//! (BENCHMARKS.md); not deployed.
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&konnecs::adapters::aws::sdk_config());
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
