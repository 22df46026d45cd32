//! The DynamoDB `Table`: one table, keys `pk`/`sk`, three sparse GSIs and a
//! TTL on `expires_at`.
//!
//! DynamoDB deletes expired items lazily (up to days later), so every read
//! filters them out and every condition treats them as absent, exactly like
//! the SQLite adapter.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CancellationReason, ConditionCheck, Delete, DeleteRequest,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem,
    WriteRequest,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};
use serde_json::Value;

use crate::ports::clock::Clock;
use crate::ports::table::{
    BatchOp, Condition, EXPIRES_AT, Index, Item, Key, PK, Page, Query, SK, SortKey, StoreError, Table, Update, VERSION,
    WriteOp, check_transaction, is_expired,
};

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
        let cursor = output.last_evaluated_key.map(|last| encode_cursor(&last)).transpose()?;
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

/// The condition of an update, and whether it lets the update create a missing item.
struct UpdateCondition {
    expression: String,
    absent_ok: bool,
}

/// Collects expression placeholders (`#n0`, `:v0`); DynamoDB rejects unused ones,
/// so names and values are only added when an expression uses them.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn string(&mut self, value: String) -> String {
        self.value(AttributeValue::S(value))
    }

    fn number(&mut self, value: impl ToString) -> String {
        self.value(AttributeValue::N(value.to_string()))
    }

    fn json(&mut self, value: &Value) -> Result<String, StoreError> {
        let value = to_attribute_value(value).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(self.value(value))
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<AttributeMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// The item has not expired (or has no TTL). True for absent items too,
    /// so it is combined with `attribute_exists` where presence matters.
    fn live(&mut self, now: i64) -> String {
        let exp = self.name(EXPIRES_AT);
        let now = self.number(now);
        format!("attribute_not_exists({exp}) OR {exp} > {now}")
    }

    fn exists_live(&mut self, now: i64) -> String {
        let pk = self.name(PK);
        let live = self.live(now);
        format!("attribute_exists({pk}) AND ({live})")
    }

    fn condition(&mut self, condition: &Condition, now: i64) -> Result<String, StoreError> {
        Ok(match condition {
            Condition::NotExists => {
                let pk = self.name(PK);
                let exp = self.name(EXPIRES_AT);
                let now = self.number(now);
                format!("attribute_not_exists({pk}) OR {exp} <= {now}")
            }
            Condition::Exists => self.exists_live(now),
            Condition::AttributeEquals { name, value } => {
                let live = self.exists_live(now);
                let name = self.name(name);
                let value = self.json(value)?;
                format!("({live}) AND {name} = {value}")
            }
            Condition::VersionEquals(version) => {
                let live = self.exists_live(now);
                let name = self.name(VERSION);
                let value = self.number(version);
                format!("({live}) AND {name} = {value}")
            }
        })
    }

    /// Update conditions that accept an absent item cannot express "or expired"
    /// and still merge into a fresh item, so they also require the stored item
    /// (if any) to be live; a failure caused by an expired item is then
    /// repaired by deleting it and retrying (`blocked_by_expired`).
    fn update_condition(&mut self, condition: Option<&Condition>, now: i64) -> Result<UpdateCondition, StoreError> {
        let (expression, absent_ok) = match condition {
            None => {
                let pk = self.name(PK);
                let live = self.live(now);
                (format!("attribute_not_exists({pk}) OR {live}"), true)
            }
            Some(Condition::NotExists) => {
                let pk = self.name(PK);
                (format!("attribute_not_exists({pk})"), true)
            }
            Some(other) => (self.condition(other, now)?, false),
        };
        Ok(UpdateCondition { expression, absent_ok })
    }

    /// `SET ... ADD ... REMOVE ...`. An empty update is invalid: a transaction
    /// item requires an expression, and single updates behave the same.
    fn update(&mut self, update: &Update) -> Result<String, StoreError> {
        if update.is_empty() {
            return Err(StoreError::Invalid("an update needs at least one change".into()));
        }
        let touched = update
            .set
            .iter()
            .map(|(n, _)| n)
            .chain(update.add.iter().map(|(n, _)| n))
            .chain(&update.remove);
        // Checked here, like the SQLite adapter, so both report the same error.
        let mut seen = HashSet::new();
        for name in touched {
            if name.is_empty() {
                return Err(StoreError::Invalid("empty attribute name in update".into()));
            }
            if name == PK || name == SK {
                return Err(StoreError::Invalid(format!("cannot update key attribute {name}")));
            }
            if !seen.insert(name.as_str()) {
                return Err(StoreError::Invalid(format!(
                    "attribute {name} appears twice in one update"
                )));
            }
        }
        for (name, value) in &update.set {
            if is_index_key(name) {
                check_index_value(name, value)?;
            }
        }
        if let Some((name, _)) = update.add.iter().find(|(name, _)| is_index_key(name)) {
            return Err(StoreError::Invalid(format!(
                "index key attribute {name} must be a non-empty string"
            )));
        }
        let mut clauses = Vec::new();
        if !update.set.is_empty() {
            let parts = update
                .set
                .iter()
                .map(|(name, value)| Ok(format!("{} = {}", self.name(name), self.json(value)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            clauses.push(format!("SET {}", parts.join(", ")));
        }
        if !update.add.is_empty() {
            let parts: Vec<_> = update
                .add
                .iter()
                .map(|(name, by)| format!("{} {}", self.name(name), self.number(by)))
                .collect();
            clauses.push(format!("ADD {}", parts.join(", ")));
        }
        if !update.remove.is_empty() {
            let parts: Vec<_> = update.remove.iter().map(|name| self.name(name)).collect();
            clauses.push(format!("REMOVE {}", parts.join(", ")));
        }
        Ok(clauses.join(" "))
    }
}

enum SortClause {
    /// No sort-key restriction.
    All,
    /// The condition matches nothing (e.g. an inverted range DynamoDB would reject).
    Nothing,
    Expression(String),
}

fn sort_condition(e: &mut Expr, attribute: &str, sort: Option<&SortKey>) -> SortClause {
    let Some(sort) = sort else {
        return SortClause::All;
    };
    let sk = e.name(attribute);
    let compare = |e: &mut Expr, op: &str, v: &str| format!("{sk} {op} {}", e.string(v.to_owned()));
    SortClause::Expression(match sort {
        // Every sort key begins with "", and DynamoDB rejects the empty operand.
        SortKey::BeginsWith(prefix) if prefix.is_empty() => return SortClause::All,
        SortKey::BeginsWith(prefix) => format!("begins_with({sk}, {})", e.string(prefix.clone())),
        SortKey::Between(low, high) if low > high => return SortClause::Nothing,
        SortKey::Between(low, high) => format!("{sk} BETWEEN {} AND {}", e.string(low.clone()), e.string(high.clone())),
        SortKey::Eq(v) => compare(e, "=", v),
        SortKey::Lt(v) => compare(e, "<", v),
        SortKey::Le(v) => compare(e, "<=", v),
        SortKey::Gt(v) => compare(e, ">", v),
        SortKey::Ge(v) => compare(e, ">=", v),
    })
}

/// The cursor is the LastEvaluatedKey (all string attributes) as a JSON object,
/// base64url-encoded.
fn encode_cursor(last: &AttributeMap) -> Result<String, StoreError> {
    let plain = last
        .iter()
        .map(|(name, value)| match value {
            AttributeValue::S(s) => Ok((name.as_str(), s.as_str())),
            _ => Err(StoreError::Unavailable("non-string key attribute".into())),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    let json = serde_json::to_vec(&plain).map_err(|_| undecodable())?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// Accepts only a cursor this query could have produced: the key attributes of
/// its index, on its partition.
fn decode_cursor(cursor: &str, query: &Query) -> Result<AttributeMap, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
    let plain: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let (pk_attr, sk_attr) = query.index.key_attributes();
    let mut expected: HashSet<&str> = [PK, SK, pk_attr, sk_attr].into_iter().collect();
    let keys_match = plain.len() == expected.len()
        && plain.keys().all(|k| expected.remove(k.as_str()))
        && plain.get(pk_attr) == Some(&query.partition);
    if !keys_match {
        return Err(StoreError::InvalidCursor);
    }
    Ok(plain.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

fn key_map(key: &Key) -> AttributeMap {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Checks locally what DynamoDB checks on a written item (non-empty string
/// keys, string index keys), so the error is the SQLite adapter's whatever
/// the endpoint validates.
fn require_key(item: &Item) -> Result<Key, StoreError> {
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

fn check_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("key attributes must not be empty".into()));
    }
    Ok(())
}

fn is_index_key(name: &str) -> bool {
    Index::SECONDARY.iter().any(|index| {
        let (pk, sk) = index.key_attributes();
        name == pk || name == sk
    })
}

fn check_index_value(name: &str, value: &Value) -> Result<(), StoreError> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(()),
        _ => Err(StoreError::Invalid(format!(
            "index key attribute {name} must be a non-empty string"
        ))),
    }
}

fn item_map(item: &Item) -> Result<AttributeMap, StoreError> {
    to_item(item).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Converts a stored item, hiding it when its TTL has passed.
fn live(raw: Option<AttributeMap>, now: i64) -> Result<Option<Item>, StoreError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let item: Item = from_item(raw).map_err(|_| undecodable())?;
    Ok((!is_expired(&item, now)).then_some(item))
}

fn undecodable() -> StoreError {
    StoreError::Unavailable("stored item could not be decoded".into())
}

/// Exponential backoff with full jitter: 50 ms, 100 ms, ... capped at 2 s.
async fn backoff(attempt: u32) {
    let ceiling = 50u64.saturating_mul(1 << attempt.min(6)).min(2_000);
    let millis = rand::random::<u64>() % ceiling + 1;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// Maps an SDK failure to the port's error. Only error codes and DynamoDB's
/// validation messages are kept: no request data, no credentials.
fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
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
