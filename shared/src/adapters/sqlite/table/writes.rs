//! Writes: operations validated before a transaction starts, applied all or
//! nothing, and `transact_in_order`'s sequence of transactions in one commit.

use super::items::{Row, apply_update, check_condition, check_key, check_update, remove, row_of, store};
use crate::adapters::sqlite::map_err;
use crate::ports::table::{Condition, Item, Key, PartialCommit, StoreError, Update, WriteOp};
use rusqlite::{Connection, TransactionBehavior};

/// An operation validated before any transaction starts, so a malformed
/// request is `Invalid` rather than a half-evaluated transaction.
pub(super) enum Prepared {
    Put {
        row: Row,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    Check {
        key: Key,
        condition: Condition,
    },
}

pub(super) fn prepare(op: WriteOp) -> Result<Prepared, StoreError> {
    Ok(match op {
        WriteOp::Put { item, condition } => Prepared::Put {
            row: row_of(&item)?,
            condition,
        },
        WriteOp::Update { key, update, condition } => {
            check_key(&key)?;
            check_update(&update)?;
            Prepared::Update { key, update, condition }
        }
        WriteOp::Delete { key, condition } => {
            check_key(&key)?;
            Prepared::Delete { key, condition }
        }
        WriteOp::Check { key, condition } => {
            check_key(&key)?;
            Prepared::Check { key, condition }
        }
    })
}

/// Evaluates the op's condition: `Ok(None)` when it fails, else the live
/// item the write needs (see [`check_condition`]).
pub(super) fn check(conn: &Connection, op: &Prepared, now: i64) -> Result<Option<Option<Item>>, StoreError> {
    match op {
        // An unconditional put replaces whatever is there: no read needed.
        Prepared::Put { row, condition } => check_condition(conn, &row.key, condition.as_ref(), false, now),
        Prepared::Update { key, condition, .. } | Prepared::Delete { key, condition } => {
            check_condition(conn, key, condition.as_ref(), true, now)
        }
        Prepared::Check { key, condition } => check_condition(conn, key, Some(condition), false, now),
    }
}

/// Writes an op whose condition held; `current` is what [`check`] returned.
pub(super) fn write(conn: &Connection, op: &Prepared, current: Option<Item>) -> Result<Written, StoreError> {
    match op {
        Prepared::Put { row, .. } => {
            store(conn, row)?;
            Ok(Written::Nothing)
        }
        Prepared::Update { key, update, .. } => {
            let item = apply_update(key, current, update)?;
            store(conn, &row_of(&item)?)?;
            Ok(Written::Item(item))
        }
        Prepared::Delete { key, .. } => {
            remove(conn, key)?;
            Ok(Written::Previous(current))
        }
        Prepared::Check { .. } => Ok(Written::Nothing),
    }
}

/// One DynamoDB-style transaction: every condition is evaluated first, then
/// every op written. Its keys are distinct (`check_transaction`), so this is
/// what DynamoDB does, and a failed condition (`Ok(Err(index))`) has written
/// nothing: no savepoint to roll back to.
pub(super) fn apply(conn: &Connection, ops: &[Prepared], now: i64) -> Result<Result<(), usize>, StoreError> {
    let mut currents = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        match check(conn, op, now)? {
            Some(current) => currents.push(current),
            None => return Ok(Err(index)),
        }
    }
    for (op, current) in ops.iter().zip(currents) {
        write(conn, op, current)?;
    }
    Ok(Ok(()))
}

pub(super) enum Written {
    Nothing,
    Item(Item),
    Previous(Option<Item>),
}

/// Runs one conditional write in an immediate transaction.
pub(super) fn write_one(conn: &mut Connection, op: &Prepared, now: i64) -> Result<Written, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    // A failed condition wrote nothing; dropping the transaction ends it.
    let current = check(&tx, op, now)?.ok_or(StoreError::ConditionFailed)?;
    let written = write(&tx, op, current)?;
    tx.commit().map_err(map_err)?;
    Ok(written)
}

/// The transactions of [`Table::transact_in_order`] as they arrive encoded,
/// in one SQLite transaction: those before a failed condition commit.
pub(super) fn commit_in_order(
    conn: &mut Connection,
    received: std::sync::mpsc::Receiver<Result<Vec<Prepared>, StoreError>>,
    count: usize,
    now: i64,
) -> Result<Option<PartialCommit>, StoreError> {
    let none_committed = |error| PartialCommit { committed: 0, error };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let mut failure = None;
    let mut applied = 0;
    for (position, prepared) in received.iter().enumerate() {
        // Returning without commit drops (rolls back) the whole sequence.
        let ops: Vec<Prepared> = match prepared {
            Ok(ops) => ops,
            Err(error) => return Ok(Some(none_committed(error))),
        };
        if let Err(index) = apply(&tx, &ops, now)? {
            failure = Some(PartialCommit {
                committed: position,
                error: StoreError::TransactionConditionFailed { index },
            });
            break;
        }
        applied += 1;
    }
    if failure.is_none() && applied < count {
        return Err(StoreError::Unavailable("the encoding thread stopped early".into()));
    }
    tx.commit().map_err(map_err)?;
    Ok(failure)
}
