//! The single table's schema: keys, the three sparse indexes, on-demand
//! billing and TTL.

use super::items::store_error;
use crate::ports::table::{EXPIRES_AT, Index, PK, SK, StoreError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use std::time::Duration;

/// Creates the single table: `pk`/`sk`, GSIs `gsi1`..`gsi3` (string keys,
/// projection ALL), on-demand billing, TTL on `expires_at`. Waits until the
/// table is active, since TTL cannot be configured before.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(e.to_string());
    let key_schema = |pk: &str, sk: &str| -> Result<Vec<KeySchemaElement>, StoreError> {
        Ok(vec![
            KeySchemaElement::builder()
                .attribute_name(pk)
                .key_type(KeyType::Hash)
                .build()
                .map_err(invalid)?,
            KeySchemaElement::builder()
                .attribute_name(sk)
                .key_type(KeyType::Range)
                .build()
                .map_err(invalid)?,
        ])
    };
    let mut definitions = Vec::new();
    for index in [Index::Primary].into_iter().chain(Index::SECONDARY) {
        let (pk, sk) = index.key_attributes();
        for attribute in [pk, sk] {
            definitions.push(
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(invalid)?,
            );
        }
    }
    let mut secondary = Vec::new();
    for index in Index::SECONDARY {
        let (pk, sk) = index.key_attributes();
        let index_name = index
            .name()
            .ok_or_else(|| StoreError::Invalid("secondary index without a name".into()))?;
        secondary.push(
            GlobalSecondaryIndex::builder()
                .index_name(index_name)
                .set_key_schema(Some(key_schema(pk, sk)?))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(invalid)?,
        );
    }
    client
        .create_table()
        .table_name(name)
        .set_key_schema(Some(key_schema(PK, SK)?))
        .set_attribute_definitions(Some(definitions))
        .set_global_secondary_indexes(Some(secondary))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(store_error)?;
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(300))
        .await
        .map_err(|_| StoreError::Unavailable("table did not become active".into()))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(invalid)?,
        )
        .send()
        .await
        .map_err(store_error)?;
    Ok(())
}
