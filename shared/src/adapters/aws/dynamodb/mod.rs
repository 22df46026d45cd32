//! The DynamoDB `Table`: one table, keys `pk`/`sk`, three sparse GSIs and a
//! TTL on `expires_at`.
//!
//! DynamoDB deletes expired items lazily (up to days later), so every read
//! filters them out and every condition treats them as absent, exactly like
//! the SQLite adapter.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest,
    ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, WriteRequest,
};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use crate::ports::clock::Clock;
use crate::ports::table::{
    BatchOp, Condition, EXPIRES_AT, Index, Item, Key, Page, Query, StoreError, Table, Update, WriteOp,
    check_transaction, is_expired,
};

use expr::{Expr, SortClause, sort_condition};
use items::{
    backoff, check_key, decode_cursor, encode_cursor, item_map, key_map, live, require_key, store_error, undecodable,
};

mod expr;
mod items;
mod schema;

pub use schema::create_table;

type AttributeMap = HashMap<String, AttributeValue>;

/// DynamoDB's limits per BatchWriteItem and BatchGetItem call.
const BATCH_WRITE_MAX: usize = 25;
const BATCH_GET_MAX: usize = 100;
/// Calls made for one batch before giving up on unprocessed items.
const BATCH_ATTEMPTS: u32 = 8;
/// Times an update or transaction deletes an expired item in its way and retries.
const EXPIRED_RETRIES: u32 = 3;
/// Key read by `ping`; it never exists, the round trip is what counts.
const PING_KEY: &str = "__ping__";
/// Write units per second DynamoDB serves one partition key.
pub const PARTITION_WRITE_UNITS: u32 = 1_000;

pub struct DynamoTable {
    client: super::LazyClient<Client>,
    table_name: String,
    clock: Arc<dyn Clock>,
}

impl DynamoTable {
    pub fn new(
        client: impl Into<super::LazyClient<Client>>,
        table_name: impl Into<String>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client: client.into(),
            table_name: table_name.into(),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.unix_seconds()
    }

    /// Deletes the item at `key` only if it is still expired, so an update or
    /// transaction can treat it as absent. Losing that race is fine.
    async fn delete_expired(&self, key: AttributeMap, now: i64) -> Result<(), StoreError> {
        let mut e = Expr::default();
        let condition = format!("{} <= {}", e.name(EXPIRES_AT), e.number(now));
        let result = self
            .client
            .get()
            .delete_item()
            .table_name(&self.table_name)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match result.map_err(store_error) {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// Writes one chunk of distinct keys, retrying what DynamoDB leaves unprocessed.
    async fn write_chunk(&self, mut requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let output = self
                .client
                .get()
                .batch_write_item()
                .request_items(&self.table_name, requests)
                .send()
                .await
                .map_err(store_error)?;
            requests = output
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.table_name))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "batch write left items unprocessed after retries".into(),
        ))
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get()
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        live(output.item, self.now())
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > BATCH_GET_MAX {
            return Err(StoreError::Invalid(format!(
                "a batch get reads at most {BATCH_GET_MAX} keys"
            )));
        }
        // DynamoDB rejects duplicate keys in one request; each item is returned once anyway.
        let unique: HashSet<&Key> = keys.iter().collect();
        let mut pending: Vec<AttributeMap> = unique.into_iter().map(key_map).collect();
        let now = self.now();
        let mut items = Vec::with_capacity(pending.len());
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt == BATCH_ATTEMPTS {
                return Err(StoreError::Unavailable(
                    "batch get left keys unprocessed after retries".into(),
                ));
            }
            if attempt > 0 {
                backoff(attempt).await;
            }
            attempt += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let output = self
                .client
                .get()
                .batch_get_item()
                .request_items(&self.table_name, request)
                .send()
                .await
                .map_err(store_error)?;
            for raw in output
                .responses
                .and_then(|mut r| r.remove(&self.table_name))
                .unwrap_or_default()
            {
                if let Some(item) = live(Some(raw), now)? {
                    items.push(item);
                }
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut left| left.remove(&self.table_name))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        Ok(items)
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        require_key(&item)?;
        let mut e = Expr::default();
        let condition = condition.map(|c| e.condition(&c, self.now())).transpose()?;
        self.client
            .get()
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item_map(&item)?))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        check_key(key)?;
        let now = self.now();
        let mut e = Expr::default();
        let expression = e.update(&update)?;
        let condition = e.update_condition(condition.as_ref(), now)?;
        let (names, values) = (e.names(), e.values());
        for _ in 0..=EXPIRED_RETRIES {
            let result = self
                .client
                .get()
                .update_item()
                .table_name(&self.table_name)
                .set_key(Some(key_map(key)))
                .update_expression(expression.clone())
                .condition_expression(condition.expression.clone())
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match result {
                Ok(output) => {
                    let attributes = output.attributes.unwrap_or_default();
                    return from_item(attributes).map_err(|_| undecodable());
                }
                Err(SdkError::ServiceError(failure)) => {
                    if let UpdateItemError::ConditionalCheckFailedException(check) = failure.err() {
                        if blocked_by_expired(condition.absent_ok, check.item(), now)? {
                            self.delete_expired(key_map(key), now).await?;
                            continue;
                        }
                        return Err(StoreError::ConditionFailed);
                    }
                    return Err(store_error(SdkError::ServiceError(failure)));
                }
                Err(other) => return Err(store_error(other)),
            }
        }
        Err(StoreError::Contention)
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        check_key(key)?;
        let now = self.now();
        let mut e = Expr::default();
        let condition = condition.map(|c| e.condition(&c, now)).transpose()?;
        let output = self
            .client
            .get()
            .delete_item()
            .table_name(&self.table_name)
            .set_key(Some(key_map(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(store_error)?;
        live(output.attributes, now)
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        // Rejected here as the SQLite adapter does; DynamoDB would reject them too.
        if query.partition.is_empty() {
            return Err(StoreError::Invalid("query partition must not be empty".into()));
        }
        if query.limit == Some(0) {
            return Err(StoreError::Invalid("query limit must be at least 1".into()));
        }
        let (pk_attr, sk_attr) = query.index.key_attributes();
        let mut e = Expr::default();
        let mut key_condition = format!("{} = {}", e.name(pk_attr), e.string(query.partition.clone()));
        match sort_condition(&mut e, sk_attr, query.sort.as_ref()) {
            SortClause::All => {}
            SortClause::Nothing => return Ok(Page::default()),
            SortClause::Expression(sort) => {
                key_condition.push_str(" AND ");
                key_condition.push_str(&sort);
            }
        }
        let filter = e.live(self.now());
        let limit = query
            .limit
            .map(|l| i32::try_from(l).map_err(|_| StoreError::Invalid("limit too large".into())))
            .transpose()?;
        let start = query.cursor.as_deref().map(|c| decode_cursor(c, query)).transpose()?;
        let output = self
            .client
            .get()
            .query()
            .table_name(&self.table_name)
            .set_index_name(query.index.name().map(str::to_owned))
            // GSIs only support eventually consistent reads.
            .consistent_read(query.index == Index::Primary)
            .key_condition_expression(key_condition)
            .filter_expression(filter)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(query.forward)
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(store_error)?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|raw| from_item(raw).map_err(|_| undecodable()))
            .collect::<Result<Vec<Item>, _>>()?;
        let cursor = output
            .last_evaluated_key
            .map(|last| encode_cursor(query, &last))
            .transpose()?;
        Ok(Page { items, cursor })
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        check_transaction(&ops)?;
        let now = self.now();
        // For each operation, the key an expired item could block (see `blocked_by_expired`).
        let mut may_meet_expired = Vec::with_capacity(ops.len());
        let mut items = Vec::with_capacity(ops.len());
        for op in &ops {
            let (item, absent_ok_key) = self.transact_item(op, now)?;
            items.push(item);
            may_meet_expired.push(absent_ok_key);
        }
        for _ in 0..=EXPIRED_RETRIES {
            let result = self
                .client
                .get()
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let failure = match result {
                Ok(_) => return Ok(()),
                Err(SdkError::ServiceError(failure)) => failure,
                Err(other) => return Err(store_error(other)),
            };
            let TransactWriteItemsError::TransactionCanceledException(cancelled) = failure.err() else {
                return Err(store_error(SdkError::ServiceError(failure)));
            };
            let expired = cancellation_outcome(cancelled.cancellation_reasons(), &may_meet_expired, now)?;
            for key in expired {
                self.delete_expired(key_map(key), now).await?;
            }
        }
        Err(StoreError::Contention)
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        // Validate everything first so a malformed op writes nothing.
        let mut keyed = Vec::with_capacity(ops.len());
        for op in ops {
            let (key, request) = match op {
                BatchOp::Put(item) => {
                    let key = require_key(&item)?;
                    let put = PutRequest::builder()
                        .set_item(Some(item_map(&item)?))
                        .build()
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    (key, WriteRequest::builder().put_request(put).build())
                }
                BatchOp::Delete(key) => {
                    check_key(&key)?;
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key_map(&key)))
                        .build()
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    (key, WriteRequest::builder().delete_request(delete).build())
                }
            };
            keyed.push((key, request));
        }
        // A key repeated within one call is rejected by DynamoDB; starting a new
        // chunk there keeps "later op wins", as applying them in order would.
        let mut chunk = Vec::new();
        let mut seen = HashSet::new();
        for (key, request) in keyed {
            if chunk.len() == BATCH_WRITE_MAX || seen.contains(&key) {
                self.write_chunk(std::mem::take(&mut chunk)).await?;
                seen.clear();
            }
            seen.insert(key);
            chunk.push(request);
        }
        if !chunk.is_empty() {
            self.write_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get()
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(key_map(&Key::new(PING_KEY, PING_KEY))))
            .send()
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// DynamoDB serves one partition key about 1,000 write units a second.
    fn partition_write_units(&self) -> Option<u32> {
        Some(PARTITION_WRITE_UNITS)
    }
}

impl DynamoTable {
    /// One transaction item, plus its key when an expired item there would
    /// wrongly fail its condition.
    fn transact_item(&self, op: &WriteOp, now: i64) -> Result<(TransactWriteItem, Option<Key>), StoreError> {
        match op {
            WriteOp::Put { item, .. } => require_key(item).map(drop)?,
            WriteOp::Update { key, .. } | WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } => check_key(key)?,
        }
        let mut e = Expr::default();
        let invalid = |err: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(err.to_string());
        let built = match op {
            WriteOp::Put { item, condition } => {
                let condition = condition.as_ref().map(|c| e.condition(c, now)).transpose()?;
                let put = Put::builder()
                    .table_name(&self.table_name)
                    .set_item(Some(item_map(item)?))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(invalid)?;
                (TransactWriteItem::builder().put(put).build(), None)
            }
            WriteOp::Update { key, update, condition } => {
                let expression = e.update(update)?;
                let condition = e.update_condition(condition.as_ref(), now)?;
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_map(key)))
                    .update_expression(expression)
                    .condition_expression(condition.expression.clone())
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(invalid)?;
                let item = TransactWriteItem::builder().update(update).build();
                (item, condition.absent_ok.then(|| key.clone()))
            }
            WriteOp::Delete { key, condition } => {
                let condition = condition.as_ref().map(|c| e.condition(c, now)).transpose()?;
                let delete = Delete::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(invalid)?;
                (TransactWriteItem::builder().delete(delete).build(), None)
            }
            WriteOp::Check { key, condition } => {
                let condition = e.condition(condition, now)?;
                let check = ConditionCheck::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(key_map(key)))
                    .condition_expression(condition)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .map_err(invalid)?;
                (TransactWriteItem::builder().condition_check(check).build(), None)
            }
        };
        Ok(built)
    }
}

/// Decides what a cancelled transaction means. Returns the keys of expired
/// items that alone blocked it (delete them and retry), or the error to report.
fn cancellation_outcome<'k>(
    reasons: &[CancellationReason],
    may_meet_expired: &'k [Option<Key>],
    now: i64,
) -> Result<Vec<&'k Key>, StoreError> {
    let mut expired = Vec::new();
    for (index, reason) in reasons.iter().enumerate() {
        if reason.code() != Some("ConditionalCheckFailed") {
            continue;
        }
        match may_meet_expired.get(index).and_then(Option::as_ref) {
            Some(key) if blocked_by_expired(true, reason.item(), now)? => expired.push(key),
            _ => return Err(StoreError::TransactionConditionFailed { index }),
        }
    }
    if !expired.is_empty() {
        return Ok(expired);
    }
    let code = |wanted: &str| reasons.iter().any(|r| r.code() == Some(wanted));
    if code("TransactionConflict") {
        return Err(StoreError::Contention);
    }
    if let Some(invalid) = reasons.iter().find(|r| r.code() == Some("ValidationError")) {
        return Err(StoreError::Invalid(
            invalid.message().unwrap_or("validation error").to_owned(),
        ));
    }
    Err(StoreError::Unavailable("transaction cancelled by DynamoDB".into()))
}

/// True when an update whose condition accepts an absent item failed only
/// because an expired (hence logically absent) item is still stored.
fn blocked_by_expired(absent_ok: bool, old: Option<&AttributeMap>, now: i64) -> Result<bool, StoreError> {
    let Some(old) = old.filter(|_| absent_ok) else {
        return Ok(false);
    };
    let item: Item = from_item(old.clone()).map_err(|_| undecodable())?;
    Ok(is_expired(&item, now))
}
