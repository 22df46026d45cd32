//! Building DynamoDB expressions from the port's conditions, updates and sort-key
//! clauses, with every name and value as a placeholder.

use super::AttributeMap;
use super::items::{check_index_value, is_index_key};
use crate::ports::table::{Condition, EXPIRES_AT, PK, SK, SortKey, StoreError, Update, VERSION};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The condition of an update, and whether it lets the update create a missing item.
pub(super) struct UpdateCondition {
    pub(super) expression: String,
    pub(super) absent_ok: bool,
}

/// Collects expression placeholders (`#n0`, `:v0`); DynamoDB rejects unused ones,
/// so names and values are only added when an expression uses them.
#[derive(Default)]
pub(super) struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub(super) fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| *a == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    pub(super) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(super) fn string(&mut self, value: String) -> String {
        self.value(AttributeValue::S(value))
    }

    pub(super) fn number(&mut self, value: impl ToString) -> String {
        self.value(AttributeValue::N(value.to_string()))
    }

    pub(super) fn json(&mut self, value: &Value) -> Result<String, StoreError> {
        let value = to_attribute_value(value).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(self.value(value))
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<AttributeMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// The item has not expired (or has no TTL). True for absent items too,
    /// so it is combined with `attribute_exists` where presence matters.
    pub(super) fn live(&mut self, now: i64) -> String {
        let exp = self.name(EXPIRES_AT);
        let now = self.number(now);
        format!("attribute_not_exists({exp}) OR {exp} > {now}")
    }

    pub(super) fn exists_live(&mut self, now: i64) -> String {
        let pk = self.name(PK);
        let live = self.live(now);
        format!("attribute_exists({pk}) AND ({live})")
    }

    pub(super) fn condition(&mut self, condition: &Condition, now: i64) -> Result<String, StoreError> {
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
    pub(super) fn update_condition(
        &mut self,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<UpdateCondition, StoreError> {
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
    pub(super) fn update(&mut self, update: &Update) -> Result<String, StoreError> {
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

pub(super) enum SortClause {
    /// No sort-key restriction.
    All,
    /// The condition matches nothing (e.g. an inverted range DynamoDB would reject).
    Nothing,
    Expression(String),
}

pub(super) fn sort_condition(e: &mut Expr, attribute: &str, sort: Option<&SortKey>) -> SortClause {
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
