//! Keys, items and cursors in DynamoDB's shape: the checks the port promises,
//! TTL hidden on read, and opaque base64url cursors; SDK errors mapped to the
//! port's.

use super::AttributeMap;
use crate::ports::table::{CursorKey, Index, Item, Key, PK, Query, SK, StoreError, is_expired};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// The cursor is the LastEvaluatedKey (all string attributes), bound to the
/// query that produced it (see [`Query::seal_cursor`]).
pub(super) fn encode_cursor(query: &Query, last: &AttributeMap) -> Result<String, StoreError> {
    let plain = last
        .iter()
        .map(|(name, value)| match value {
            AttributeValue::S(s) => Ok((name.clone(), s.clone())),
            _ => Err(StoreError::Unavailable("non-string key attribute".into())),
        })
        .collect::<Result<CursorKey, _>>()?;
    query.seal_cursor(plain)
}

/// The ExclusiveStartKey of a cursor this query issued.
pub(super) fn decode_cursor(cursor: &str, query: &Query) -> Result<AttributeMap, StoreError> {
    let plain = query.open_cursor(cursor)?;
    Ok(plain.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

pub(super) fn key_map(key: &Key) -> AttributeMap {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Checks locally what DynamoDB checks on a written item (non-empty string
/// keys, string index keys), so the error is the SQLite adapter's whatever
/// the endpoint validates.
pub(super) fn require_key(item: &Item) -> Result<Key, StoreError> {
    let key = Key::of(item).ok_or_else(|| StoreError::Invalid("item without string pk and sk".into()))?;
    check_key(&key)?;
    for index in Index::SECONDARY {
        let (pk, sk) = index.key_attributes();
        for name in [pk, sk] {
            if let Some(value) = item.get(name) {
                check_index_value(name, value)?;
            }
        }
    }
    Ok(key)
}

pub(super) fn check_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("key attributes must not be empty".into()));
    }
    Ok(())
}

pub(super) fn is_index_key(name: &str) -> bool {
    Index::SECONDARY.iter().any(|index| {
        let (pk, sk) = index.key_attributes();
        name == pk || name == sk
    })
}

pub(super) fn check_index_value(name: &str, value: &Value) -> Result<(), StoreError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(()),
        _ => Err(StoreError::Invalid(format!(
            "index key attribute {name} must be a non-empty string"
        ))),
    }
}

pub(super) fn item_map(item: &Item) -> Result<AttributeMap, StoreError> {
    to_item(item).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Converts a stored item, hiding it when its TTL has passed.
pub(super) fn live(raw: Option<AttributeMap>, now: i64) -> Result<Option<Item>, StoreError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let item: Item = from_item(raw).map_err(|_| undecodable())?;
    Ok((!is_expired(&item, now)).then_some(item))
}

pub(super) fn undecodable() -> StoreError {
    StoreError::Unavailable("stored item could not be decoded".into())
}

/// Exponential backoff with full jitter: 50 ms, 100 ms, ... capped at 2 s.
pub(super) async fn backoff(attempt: u32) {
    let ceiling = 50u64.saturating_mul(1 << attempt.min(6)).min(2_000);
    let millis = rand::random::<u64>() % ceiling + 1;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// Maps an SDK failure to the port's error. Only error codes and DynamoDB's
/// validation messages are kept: no request data, no credentials.
pub(super) fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    match &err {
        SdkError::ServiceError(failure) => {
            let e = failure.err();
            match e.code() {
                Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
                Some("TransactionConflictException") => StoreError::Contention,
                Some("ValidationException") => {
                    StoreError::Invalid(e.message().unwrap_or("validation error").to_owned())
                }
                code => StoreError::Unavailable(format!("DynamoDB error {}", code.unwrap_or("without code"))),
            }
        }
        SdkError::TimeoutError(_) => StoreError::Unavailable("DynamoDB timed out".into()),
        SdkError::DispatchFailure(_) => StoreError::Unavailable("DynamoDB unreachable".into()),
        SdkError::ResponseError(_) => StoreError::Unavailable("unreadable DynamoDB response".into()),
        SdkError::ConstructionFailure(_) => StoreError::Invalid("request could not be built".into()),
        _ => StoreError::Unavailable("DynamoDB request failed".into()),
    }
}
