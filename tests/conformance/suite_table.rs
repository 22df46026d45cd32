//! `Table` conformance cases: DynamoDB semantics, checked on every backend.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use konnecs::ports::table::{MAX_TRANSACTION_OPS, check_transaction};
use konnecs::ports::{
    BatchOp, Clock, Condition, Index, Item, Key, Query, SortKey, StoreError, Table, TestClock, Update, WriteOp,
};
use serde_json::{Value, json};

use crate::Keep;

pub struct TableEnv {
    pub table: Arc<dyn Table>,
    /// The clock the table filters expiry by; cases move it.
    pub clock: TestClock,
    pub _keep: Keep,
}

impl TableEnv {
    fn now(&self) -> i64 {
        self.clock.unix_seconds()
    }
}

/// A partition name no other case (or earlier run on a shared table) uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}#{}", uuid::Uuid::new_v4().simple())
}

fn item(pk: &str, sk: &str, extra: Value) -> Item {
    let mut item = match extra {
        Value::Object(map) => map,
        _ => Item::new(),
    };
    item.insert("pk".into(), pk.into());
    item.insert("sk".into(), sk.into());
    item
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["sk"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every item of a query, following cursors (bounded, so a cursor loop fails the test).
async fn all_pages(table: &dyn Table, query: Query) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = table.query(&query.clone().after(cursor)).await.unwrap();
        if let Some(limit) = query.limit {
            assert!(page.items.len() <= limit as usize, "page larger than its limit");
        }
        items.extend(page.items);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
    panic!("query did not finish within 1000 pages");
}

fn assert_condition_failed<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::ConditionFailed)),
        "expected ConditionFailed, got {result:?}"
    );
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Invalid(_))),
        "expected Invalid, got {result:?}"
    );
}

// ---- conditions ----------------------------------------------------------

pub async fn conditional_put_on_existing_item_conflicts(env: &TableEnv) {
    let pk = unique("c");
    env.table
        .put(item(&pk, "a", json!({"n": 1})), Some(Condition::NotExists))
        .await
        .unwrap();
    assert_condition_failed(
        env.table
            .put(item(&pk, "a", json!({"n": 2})), Some(Condition::NotExists))
            .await,
    );
    let stored = env.table.get(&Key::new(&pk, "a")).await.unwrap().unwrap();
    assert_eq!(stored["n"], 1, "a failed put must not write");
    // Without a condition a put replaces the whole item.
    env.table.put(item(&pk, "a", json!({"m": 3})), None).await.unwrap();
    let stored = env.table.get(&Key::new(&pk, "a")).await.unwrap().unwrap();
    assert_eq!(stored, item(&pk, "a", json!({"m": 3})));
}

pub async fn put_without_string_keys_is_invalid(env: &TableEnv) {
    let mut no_sk = Item::new();
    no_sk.insert("pk".into(), unique("c").into());
    assert_invalid(env.table.put(no_sk, None).await);
    let mut numeric_sk = Item::new();
    numeric_sk.insert("pk".into(), unique("c").into());
    numeric_sk.insert("sk".into(), 5.into());
    assert_invalid(env.table.put(numeric_sk, None).await);
}

pub async fn not_exists_put_over_expired_item_succeeds(env: &TableEnv) {
    let pk = unique("c");
    let past = env.now() - 60;
    env.table
        .put(item(&pk, "a", json!({"expires_at": past, "old": true})), None)
        .await
        .unwrap();
    env.table
        .put(item(&pk, "a", json!({"new": true})), Some(Condition::NotExists))
        .await
        .unwrap();
    assert_eq!(
        env.table.get(&Key::new(&pk, "a")).await.unwrap(),
        Some(item(&pk, "a", json!({"new": true})))
    );
}

pub async fn version_equals_holds_and_fails(env: &TableEnv) {
    let pk = unique("c");
    let key = Key::new(&pk, "a");
    assert_condition_failed(
        env.table
            .update(&key, Update::default().set("x", 1), Some(Condition::VersionEquals(0)))
            .await,
    );
    env.table
        .put(item(&pk, "a", json!({"version": 1})), None)
        .await
        .unwrap();
    assert_condition_failed(
        env.table
            .put(item(&pk, "a", json!({"version": 9})), Some(Condition::VersionEquals(2)))
            .await,
    );
    let after = env
        .table
        .update(
            &key,
            Update::default().set("version", 2).set("x", "y"),
            Some(Condition::VersionEquals(1)),
        )
        .await
        .unwrap();
    assert_eq!(after["version"], 2);
    assert_condition_failed(env.table.delete(&key, Some(Condition::VersionEquals(1))).await);
    assert!(
        env.table
            .delete(&key, Some(Condition::VersionEquals(2)))
            .await
            .unwrap()
            .is_some()
    );
    // An item without a version attribute never matches.
    env.table.put(item(&pk, "b", json!({})), None).await.unwrap();
    assert_condition_failed(
        env.table
            .put(item(&pk, "b", json!({})), Some(Condition::VersionEquals(0)))
            .await,
    );
    // An expired item counts as absent.
    env.table
        .put(item(&pk, "c", json!({"version": 1, "expires_at": env.now() - 1})), None)
        .await
        .unwrap();
    assert_condition_failed(
        env.table
            .put(item(&pk, "c", json!({})), Some(Condition::VersionEquals(1)))
            .await,
    );
}

pub async fn attribute_equals_holds_and_fails(env: &TableEnv) {
    let pk = unique("c");
    let key = Key::new(&pk, "r");
    let is = |value: Value| {
        Some(Condition::AttributeEquals {
            name: "status".into(),
            value,
        })
    };
    assert_condition_failed(
        env.table
            .update(&key, Update::default().set("status", "sent"), is(json!("pending")))
            .await,
    );
    env.table
        .put(item(&pk, "r", json!({"status": "pending", "tries": 2})), None)
        .await
        .unwrap();
    assert_condition_failed(
        env.table
            .update(&key, Update::default().set("status", "sent"), is(json!("sent")))
            .await,
    );
    let after = env
        .table
        .update(&key, Update::default().set("status", "sent"), is(json!("pending")))
        .await
        .unwrap();
    assert_eq!(after["status"], "sent");
    // Numbers and missing attributes.
    let tries = |value: Value| {
        Some(Condition::AttributeEquals {
            name: "tries".into(),
            value,
        })
    };
    env.table
        .put(item(&pk, "r", json!({"status": "x", "tries": 2})), tries(json!(2)))
        .await
        .unwrap();
    assert_condition_failed(env.table.put(item(&pk, "r", json!({})), tries(json!(3))).await);
    assert_condition_failed(
        env.table
            .put(
                item(&pk, "r", json!({})),
                Some(Condition::AttributeEquals {
                    name: "absent".into(),
                    value: json!("x"),
                }),
            )
            .await,
    );
}

pub async fn exists_condition_needs_a_live_item(env: &TableEnv) {
    let pk = unique("c");
    assert_condition_failed(env.table.put(item(&pk, "a", json!({})), Some(Condition::Exists)).await);
    assert!(env.table.get(&Key::new(&pk, "a")).await.unwrap().is_none());
    env.table.put(item(&pk, "a", json!({"n": 1})), None).await.unwrap();
    env.table
        .put(item(&pk, "a", json!({"n": 2})), Some(Condition::Exists))
        .await
        .unwrap();
    env.table
        .put(item(&pk, "e", json!({"expires_at": env.now() - 5})), None)
        .await
        .unwrap();
    assert_condition_failed(env.table.delete(&Key::new(&pk, "e"), Some(Condition::Exists)).await);
}

// ---- update and delete ---------------------------------------------------

pub async fn update_sets_adds_and_removes_and_upserts(env: &TableEnv) {
    let pk = unique("u");
    let key = Key::new(&pk, "counter");
    // Upsert: the item is created from the key; `add` on a missing attribute starts at 0.
    let created = env
        .table
        .update(&key, Update::default().set("name", "x").add("hits", 5), None)
        .await
        .unwrap();
    assert_eq!(created, item(&pk, "counter", json!({"name": "x", "hits": 5})));
    let after = env
        .table
        .update(
            &key,
            Update::default()
                .add("hits", -2)
                .set("tags", json!(["a", "b"]))
                .remove("name"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(after, item(&pk, "counter", json!({"hits": 3, "tags": ["a", "b"]})));
    assert_eq!(env.table.get(&key).await.unwrap(), Some(after));
    // Removing an attribute that is not there is fine.
    env.table
        .update(&key, Update::default().remove("nothing"), Some(Condition::Exists))
        .await
        .unwrap();
    // Adding to a non-number is rejected.
    assert_invalid(env.table.update(&key, Update::default().add("tags", 1), None).await);
}

pub async fn update_with_failing_condition_on_missing_item_creates_nothing(env: &TableEnv) {
    let pk = unique("u");
    let key = Key::new(&pk, "a");
    assert_condition_failed(
        env.table
            .update(&key, Update::default().set("x", 1), Some(Condition::Exists))
            .await,
    );
    assert!(env.table.get(&key).await.unwrap().is_none());
    // NotExists makes update a create-once.
    env.table
        .update(&key, Update::default().set("x", 1), Some(Condition::NotExists))
        .await
        .unwrap();
    assert_condition_failed(
        env.table
            .update(&key, Update::default().set("x", 2), Some(Condition::NotExists))
            .await,
    );
    assert_eq!(env.table.get(&key).await.unwrap().unwrap()["x"], 1);
}

pub async fn update_cannot_change_key_attributes(env: &TableEnv) {
    let pk = unique("u");
    let key = Key::new(&pk, "a");
    env.table.put(item(&pk, "a", json!({})), None).await.unwrap();
    assert_invalid(env.table.update(&key, Update::default().set("pk", "other"), None).await);
    assert_invalid(env.table.update(&key, Update::default().set("sk", "other"), None).await);
    assert_invalid(env.table.update(&key, Update::default().remove("sk"), None).await);
    assert_eq!(env.table.get(&key).await.unwrap(), Some(item(&pk, "a", json!({}))));
}

pub async fn gsi_key_attributes_must_be_strings(env: &TableEnv) {
    let pk = unique("g");
    assert_invalid(
        env.table
            .put(item(&pk, "a", json!({"gsi1pk": 5, "gsi1sk": "x"})), None)
            .await,
    );
    assert_invalid(
        env.table
            .put(item(&pk, "a", json!({"gsi2pk": "p", "gsi2sk": true})), None)
            .await,
    );
    env.table
        .put(item(&pk, "a", json!({"gsi1pk": "p", "gsi1sk": "s"})), None)
        .await
        .unwrap();
    assert_invalid(
        env.table
            .update(&Key::new(&pk, "a"), Update::default().set("gsi1sk", 7), None)
            .await,
    );
    assert_eq!(
        env.table.get(&Key::new(&pk, "a")).await.unwrap().unwrap()["gsi1sk"],
        "s"
    );
}

pub async fn delete_returns_the_old_item(env: &TableEnv) {
    let pk = unique("d");
    let key = Key::new(&pk, "a");
    let stored = item(&pk, "a", json!({"name": "Ada"}));
    env.table.put(stored.clone(), None).await.unwrap();
    assert_eq!(env.table.delete(&key, None).await.unwrap(), Some(stored));
    assert_eq!(env.table.delete(&key, None).await.unwrap(), None);
    assert!(env.table.get(&key).await.unwrap().is_none());
}

pub async fn delete_with_failing_condition_keeps_the_item(env: &TableEnv) {
    let pk = unique("d");
    let key = Key::new(&pk, "a");
    env.table
        .put(item(&pk, "a", json!({"status": "sent"})), None)
        .await
        .unwrap();
    let pending = Condition::AttributeEquals {
        name: "status".into(),
        value: json!("pending"),
    };
    assert_condition_failed(env.table.delete(&key, Some(pending)).await);
    assert!(env.table.get(&key).await.unwrap().is_some());
}

// ---- transactions --------------------------------------------------------

pub async fn transaction_applies_every_operation(env: &TableEnv) {
    let pk = unique("t");
    env.table
        .put(item(&pk, "b", json!({"version": 1, "n": 1})), None)
        .await
        .unwrap();
    env.table.put(item(&pk, "c", json!({})), None).await.unwrap();
    env.table.put(item(&pk, "d", json!({})), None).await.unwrap();
    env.table
        .transact(vec![
            WriteOp::Put {
                item: item(&pk, "a", json!({"new": true})),
                condition: Some(Condition::NotExists),
            },
            WriteOp::Update {
                key: Key::new(&pk, "b"),
                update: Update::default().set("version", 2).add("n", 1),
                condition: Some(Condition::VersionEquals(1)),
            },
            WriteOp::Check {
                key: Key::new(&pk, "c"),
                condition: Condition::Exists,
            },
            WriteOp::Delete {
                key: Key::new(&pk, "d"),
                condition: Some(Condition::Exists),
            },
        ])
        .await
        .unwrap();
    let page = env.table.query(&Query::partition(&pk)).await.unwrap();
    assert_eq!(sks(&page.items), ["a", "b", "c"]);
    assert_eq!(page.items[1], item(&pk, "b", json!({"version": 2, "n": 2})));
}

pub async fn transaction_with_one_failing_condition_writes_nothing(env: &TableEnv) {
    let pk = unique("t");
    env.table
        .put(item(&pk, "b", json!({"version": 1})), None)
        .await
        .unwrap();
    env.table.put(item(&pk, "d", json!({})), None).await.unwrap();
    let result = env
        .table
        .transact(vec![
            WriteOp::Put {
                item: item(&pk, "a", json!({})),
                condition: Some(Condition::NotExists),
            },
            WriteOp::Update {
                key: Key::new(&pk, "b"),
                update: Update::default().set("version", 2),
                condition: Some(Condition::VersionEquals(1)),
            },
            WriteOp::Check {
                key: Key::new(&pk, "c"),
                condition: Condition::Exists,
            },
            WriteOp::Delete {
                key: Key::new(&pk, "d"),
                condition: None,
            },
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::TransactionConditionFailed { index: 2 })),
        "expected the check at index 2 to fail, got {result:?}"
    );
    assert!(result.as_ref().is_err_and(StoreError::is_condition_failure));
    let page = env.table.query(&Query::partition(&pk)).await.unwrap();
    assert_eq!(sks(&page.items), ["b", "d"], "nothing may be written");
    assert_eq!(page.items[0]["version"], 1);
}

pub async fn transaction_touching_one_key_twice_is_invalid(env: &TableEnv) {
    let pk = unique("t");
    let ops = vec![
        WriteOp::Put {
            item: item(&pk, "a", json!({})),
            condition: None,
        },
        WriteOp::Check {
            key: Key::new(&pk, "a"),
            condition: Condition::NotExists,
        },
    ];
    assert_invalid(check_transaction(&ops));
    assert_invalid(env.table.transact(ops).await);
    assert!(env.table.get(&Key::new(&pk, "a")).await.unwrap().is_none());
}

pub async fn transaction_of_101_operations_is_invalid(env: &TableEnv) {
    let pk = unique("t");
    let ops: Vec<WriteOp> = (0..=MAX_TRANSACTION_OPS)
        .map(|i| WriteOp::Put {
            item: item(&pk, &format!("{i:03}"), json!({})),
            condition: None,
        })
        .collect();
    assert_eq!(ops.len(), 101);
    assert_invalid(env.table.transact(ops).await);
    assert_invalid(env.table.transact(Vec::new()).await);
    assert!(env.table.query(&Query::partition(&pk)).await.unwrap().items.is_empty());
}

pub async fn transaction_of_100_operations_commits(env: &TableEnv) {
    let pk = unique("t");
    let ops: Vec<WriteOp> = (0..MAX_TRANSACTION_OPS)
        .map(|i| WriteOp::Put {
            item: item(&pk, &format!("{i:03}"), json!({})),
            condition: Some(Condition::NotExists),
        })
        .collect();
    env.table.transact(ops).await.unwrap();
    assert_eq!(
        all_pages(env.table.as_ref(), Query::partition(&pk)).await.len(),
        MAX_TRANSACTION_OPS
    );
}

/// A chain like the importer's: each transaction writes its rows and moves a
/// checkpoint from the value the one before left.
fn checkpointed(pk: &str, step: u64, rows: std::ops::Range<u64>) -> Vec<WriteOp> {
    let mut ops: Vec<WriteOp> = rows
        .map(|row| WriteOp::Put {
            item: item(pk, &format!("row{row:03}"), json!({})),
            condition: Some(Condition::NotExists),
        })
        .collect();
    ops.push(WriteOp::Update {
        key: Key::new(pk, "checkpoint"),
        update: Update::default().set("step", step + 1),
        condition: Some(Condition::AttributeEquals {
            name: "step".into(),
            value: step.into(),
        }),
    });
    ops
}

pub async fn transactions_in_order_commit_a_prefix_and_stop_at_the_first_failure(env: &TableEnv) {
    let pk = unique("t");
    env.table
        .put(item(&pk, "checkpoint", json!({"step": 0})), None)
        .await
        .unwrap();
    // Row 7 is taken already, so the third transaction (rows 6..9) fails on
    // its second op; the fourth would pass on its own but must not run.
    env.table.put(item(&pk, "row007", json!({})), None).await.unwrap();
    let chain = vec![
        checkpointed(&pk, 0, 0..3),
        checkpointed(&pk, 1, 3..6),
        checkpointed(&pk, 2, 6..9),
        checkpointed(&pk, 3, 9..12),
    ];
    let failure = env.table.transact_in_order(chain).await.unwrap_err();
    assert_eq!(failure.committed, 2, "{failure:?}");
    assert!(
        matches!(failure.error, StoreError::TransactionConditionFailed { index: 1 }),
        "{failure:?}"
    );
    let stored = all_pages(env.table.as_ref(), Query::partition(&pk)).await;
    assert_eq!(
        sks(&stored),
        [
            "checkpoint",
            "row000",
            "row001",
            "row002",
            "row003",
            "row004",
            "row005",
            "row007"
        ],
        "the first two transactions and nothing of the others"
    );
    assert_eq!(stored[0]["step"], 2);

    // The rest of the chain, re-planned from the checkpoint, then succeeds as a whole.
    env.table.delete(&Key::new(&pk, "row007"), None).await.unwrap();
    env.table
        .transact_in_order(vec![checkpointed(&pk, 2, 6..9), checkpointed(&pk, 3, 9..12)])
        .await
        .unwrap();
    let stored = all_pages(env.table.as_ref(), Query::partition(&pk)).await;
    assert_eq!(stored.len(), 13);
    assert_eq!(stored[0]["step"], 4);
    env.table.transact_in_order(Vec::new()).await.unwrap();
}

pub async fn transactions_in_order_with_a_malformed_one_write_nothing(env: &TableEnv) {
    let pk = unique("t");
    let too_big: Vec<WriteOp> = (0..=MAX_TRANSACTION_OPS)
        .map(|i| WriteOp::Put {
            item: item(&pk, &format!("big{i:03}"), json!({})),
            condition: None,
        })
        .collect();
    let chain = vec![
        vec![WriteOp::Put {
            item: item(&pk, "first", json!({})),
            condition: None,
        }],
        too_big,
    ];
    let failure = env.table.transact_in_order(chain).await.unwrap_err();
    assert_eq!(failure.committed, 0);
    assert!(matches!(failure.error, StoreError::Invalid(_)), "{failure:?}");
    assert!(env.table.query(&Query::partition(&pk)).await.unwrap().items.is_empty());

    // Malformed after a transaction whose condition fails: still nothing is
    // written, and the answer is the malformed one, not the condition.
    let duplicate_keys = vec![
        WriteOp::Put {
            item: item(&pk, "twice", json!({})),
            condition: None,
        },
        WriteOp::Put {
            item: item(&pk, "twice", json!({})),
            condition: None,
        },
    ];
    let chain = vec![
        vec![WriteOp::Put {
            item: item(&pk, "first", json!({})),
            condition: None,
        }],
        vec![WriteOp::Check {
            key: Key::new(&pk, "absent"),
            condition: Condition::Exists,
        }],
        duplicate_keys,
    ];
    let failure = env.table.transact_in_order(chain).await.unwrap_err();
    assert_eq!(failure.committed, 0);
    assert!(matches!(failure.error, StoreError::Invalid(_)), "{failure:?}");
    assert!(env.table.query(&Query::partition(&pk)).await.unwrap().items.is_empty());
}

pub async fn concurrent_version_checked_increments_end_at_exact_count(env: &TableEnv) {
    const WRITERS: u64 = 200;
    const MAX_ATTEMPTS: u32 = 2000;
    let pk = unique("v");
    let key = Key::new(&pk, "counter");
    env.table
        .put(
            item(&pk, "counter", json!({"version": 0, "count": 0})),
            Some(Condition::NotExists),
        )
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (table, key) = (Arc::clone(&env.table), key.clone());
        tasks.spawn(async move {
            for attempt in 0..MAX_ATTEMPTS {
                let current = table.get(&key).await.unwrap().unwrap();
                let version = current["version"].as_u64().unwrap();
                let update = Update::default().set("version", version + 1).add("count", 1);
                match table
                    .update(&key, update, Some(Condition::VersionEquals(version)))
                    .await
                {
                    Ok(_) => return attempt,
                    Err(StoreError::ConditionFailed | StoreError::Contention) => {
                        // Jittered back-off so slow backends are not swamped by losers.
                        let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 8);
                        tokio::time::sleep(Duration::from_millis(jitter * u64::from(attempt.min(8)))).await;
                    }
                    Err(other) => panic!("unexpected error: {other:?}"),
                }
            }
            panic!("no success within {MAX_ATTEMPTS} attempts");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let stored = env.table.get(&key).await.unwrap().unwrap();
    assert_eq!(stored["count"], WRITERS);
    assert_eq!(stored["version"], WRITERS);
}

// ---- queries -------------------------------------------------------------

async fn put_all(table: &dyn Table, pk: &str, sort_keys: &[&str]) {
    let ops = sort_keys
        .iter()
        .map(|sk| BatchOp::Put(item(pk, sk, json!({}))))
        .collect();
    table.batch_write(ops).await.unwrap();
}

pub async fn query_sort_key_conditions_forward_and_reverse(env: &TableEnv) {
    let pk = unique("q");
    put_all(env.table.as_ref(), &pk, &["a", "b", "ba", "bb", "c", "d", "é"]).await;
    // Another partition must never leak in.
    put_all(env.table.as_ref(), &unique("q"), &["a", "b", "c"]).await;
    let cases: Vec<(SortKey, Vec<&str>)> = vec![
        (SortKey::Eq("b".into()), vec!["b"]),
        (SortKey::Eq("bz".into()), vec![]),
        (SortKey::BeginsWith("b".into()), vec!["b", "ba", "bb"]),
        (SortKey::Between("b".into(), "c".into()), vec!["b", "ba", "bb", "c"]),
        (SortKey::Lt("c".into()), vec!["a", "b", "ba", "bb"]),
        (SortKey::Le("c".into()), vec!["a", "b", "ba", "bb", "c"]),
        (SortKey::Gt("c".into()), vec!["d", "é"]),
        (SortKey::Ge("c".into()), vec!["c", "d", "é"]),
        // UTF-8 byte order: "é" (0xC3 0xA9) sorts after every ASCII letter.
        (SortKey::Gt("z".into()), vec!["é"]),
    ];
    for (sort, expected) in cases {
        let forward = env
            .table
            .query(&Query::partition(&pk).sort(sort.clone()))
            .await
            .unwrap();
        assert_eq!(sks(&forward.items), expected, "{sort:?} forward");
        assert_eq!(forward.cursor, None, "{sort:?}: an unlimited small query is one page");
        let reverse = env
            .table
            .query(&Query::partition(&pk).sort(sort.clone()).reverse())
            .await
            .unwrap();
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(sks(&reverse.items), reversed, "{sort:?} reverse");
    }
    let everything = env.table.query(&Query::partition(&pk)).await.unwrap();
    assert_eq!(sks(&everything.items), ["a", "b", "ba", "bb", "c", "d", "é"]);
}

pub async fn begins_with_treats_wildcards_and_multibyte_literally(env: &TableEnv) {
    let pk = unique("q");
    let keys = [
        "é%_",
        "é%_1",
        "é%_2",
        "é%a",
        "é%x_",
        "éa_",
        "e%_",
        "ê%_",
        "日本",
        "日本語",
        "日朝",
        "100%",
        "100%_x",
        "1000",
    ];
    put_all(env.table.as_ref(), &pk, &keys).await;
    let cases: [(&str, &[&str]); 5] = [
        ("é%_", &["é%_", "é%_1", "é%_2"]),
        ("é%", &["é%_", "é%_1", "é%_2", "é%a", "é%x_"]),
        ("日本", &["日本", "日本語"]),
        ("100%", &["100%", "100%_x"]),
        ("100%_", &["100%_x"]),
    ];
    for (prefix, expected) in cases {
        let page = env
            .table
            .query(&Query::partition(&pk).sort(SortKey::BeginsWith(prefix.into())))
            .await
            .unwrap();
        assert_eq!(sks(&page.items), expected, "begins_with {prefix:?}");
        let page = env
            .table
            .query(&Query::partition(&pk).sort(SortKey::BeginsWith(prefix.into())).reverse())
            .await
            .unwrap();
        let mut reversed = expected.to_vec();
        reversed.reverse();
        assert_eq!(sks(&page.items), reversed, "begins_with {prefix:?} reverse");
    }
}

pub async fn query_pages_through_a_partition_with_a_small_limit(env: &TableEnv) {
    let pk = unique("q");
    let keys: Vec<String> = (0..23).map(|i| format!("item#{i:02}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    put_all(env.table.as_ref(), &pk, &refs).await;
    let forward = all_pages(env.table.as_ref(), Query::partition(&pk).limit(5)).await;
    assert_eq!(sks(&forward), keys);
    let reverse = all_pages(env.table.as_ref(), Query::partition(&pk).reverse().limit(4)).await;
    let mut reversed = keys.clone();
    reversed.reverse();
    assert_eq!(sks(&reverse), reversed);
    let first = env.table.query(&Query::partition(&pk).limit(5)).await.unwrap();
    assert_eq!(first.items.len(), 5);
    assert!(first.cursor.is_some());
    let bounded = all_pages(
        env.table.as_ref(),
        Query::partition(&pk)
            .sort(SortKey::Between("item#05".into(), "item#14".into()))
            .limit(3),
    )
    .await;
    assert_eq!(sks(&bounded), keys[5..=14]);
}

pub async fn gsi_query_pages_return_every_item_once_including_equal_sort_keys(env: &TableEnv) {
    let pk_a = unique("g");
    let pk_b = unique("g");
    let index_pk = unique("org");
    let mut ops = Vec::new();
    let mut expected = BTreeSet::new();
    for i in 0..25 {
        // Three distinct GSI sort keys: long runs of ties, spread over two table partitions.
        let pk = if i % 2 == 0 { &pk_a } else { &pk_b };
        let sk = format!("c#{i:02}");
        let gsi1sk = format!("stage#{}", i % 3);
        ops.push(BatchOp::Put(item(
            pk,
            &sk,
            json!({"gsi1pk": index_pk, "gsi1sk": gsi1sk}),
        )));
        expected.insert((pk.clone(), sk));
    }
    env.table.batch_write(ops).await.unwrap();
    for forward in [true, false] {
        for limit in [1, 4, 7] {
            let mut query = Query::partition(&index_pk).on(Index::Gsi1).limit(limit);
            if !forward {
                query = query.reverse();
            }
            let items = all_pages(env.table.as_ref(), query).await;
            let keys: Vec<(String, String)> = items
                .iter()
                .map(|i| {
                    (
                        i["pk"].as_str().unwrap().to_owned(),
                        i["sk"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let distinct: BTreeSet<_> = keys.iter().cloned().collect();
            assert_eq!(
                keys.len(),
                25,
                "forward={forward} limit={limit}: every item exactly once"
            );
            assert_eq!(distinct, expected, "forward={forward} limit={limit}");
            let index_sks: Vec<&str> = items.iter().map(|i| i["gsi1sk"].as_str().unwrap()).collect();
            let mut sorted = index_sks.clone();
            sorted.sort_unstable();
            if !forward {
                sorted.reverse();
            }
            assert_eq!(index_sks, sorted, "forward={forward}: ordered by the index sort key");
        }
    }
    let stage1 = all_pages(
        env.table.as_ref(),
        Query::partition(&index_pk)
            .on(Index::Gsi1)
            .sort(SortKey::Eq("stage#1".into()))
            .limit(2),
    )
    .await;
    assert_eq!(stage1.len(), 8);
}

pub async fn gsi_is_sparse(env: &TableEnv) {
    let pk = unique("g");
    let index_pk = unique("tag");
    env.table
        .batch_write(vec![
            BatchOp::Put(item(&pk, "both", json!({"gsi2pk": index_pk, "gsi2sk": "x"}))),
            BatchOp::Put(item(&pk, "pk-only", json!({"gsi2pk": index_pk}))),
            BatchOp::Put(item(&pk, "neither", json!({}))),
            BatchOp::Put(item(&pk, "other-index", json!({"gsi3pk": index_pk, "gsi3sk": "x"}))),
        ])
        .await
        .unwrap();
    let page = env
        .table
        .query(&Query::partition(&index_pk).on(Index::Gsi2))
        .await
        .unwrap();
    assert_eq!(sks(&page.items), ["both"]);
    let page = env
        .table
        .query(&Query::partition(&index_pk).on(Index::Gsi3))
        .await
        .unwrap();
    assert_eq!(sks(&page.items), ["other-index"]);
    assert!(
        env.table
            .query(&Query::partition(&index_pk).on(Index::Gsi1))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // Removing the index keys takes the item out of the index.
    env.table
        .update(&Key::new(&pk, "both"), Update::default().remove("gsi2sk"), None)
        .await
        .unwrap();
    assert!(
        env.table
            .query(&Query::partition(&index_pk).on(Index::Gsi2))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn invalid_cursor_is_rejected(env: &TableEnv) {
    let pk = unique("q");
    put_all(env.table.as_ref(), &pk, &["a", "b", "c"]).await;
    for cursor in ["not a cursor!", "e30", "AAAA"] {
        for index in [Index::Primary, Index::Gsi1] {
            let result = env
                .table
                .query(&Query::partition(&pk).on(index).after(Some(cursor.into())))
                .await;
            assert!(
                matches!(result, Err(StoreError::InvalidCursor)),
                "{cursor:?} on {index:?}: {result:?}"
            );
        }
    }
    // A primary-index cursor does not fit a GSI query.
    let first = env.table.query(&Query::partition(&pk).limit(1)).await.unwrap();
    let result = env
        .table
        .query(&Query::partition(&pk).on(Index::Gsi1).after(first.cursor))
        .await;
    assert!(matches!(result, Err(StoreError::InvalidCursor)), "{result:?}");
}

/// A cursor resumes only the query that issued it: another sort-key
/// condition, direction or index on the same partition would start another
/// list in the middle, or skip or repeat items.
pub async fn cursor_of_one_query_is_rejected_by_another_on_the_same_partition(env: &TableEnv) {
    let pk = unique("q");
    put_all(env.table.as_ref(), &pk, &["CONTACT#1", "CONTACT#2", "DEAL#1", "DEAL#2"]).await;
    let contacts = Query::partition(&pk).sort(SortKey::BeginsWith("CONTACT#".into()));
    let first = env.table.query(&contacts.clone().limit(1)).await.unwrap();
    assert_eq!(sks(&first.items), ["CONTACT#1"]);
    let cursor = first.cursor.clone().expect("a second page");
    // The query that issued it resumes, whatever the page size.
    let next = env
        .table
        .query(&contacts.clone().after(Some(cursor.clone())))
        .await
        .unwrap();
    assert_eq!(sks(&next.items), ["CONTACT#2"]);
    let others = [
        Query::partition(&pk).sort(SortKey::BeginsWith("DEAL#".into())),
        Query::partition(&pk),
        contacts.clone().reverse(),
        Query::partition(&pk).sort(SortKey::Gt("CONTACT#".into())),
        Query::partition(&pk).sort(SortKey::Between("CONTACT#1".into(), "DEAL#2".into())),
    ];
    for other in others {
        let result = env
            .table
            .query(&other.clone().limit(1).after(Some(cursor.clone())))
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor)),
            "{other:?}: {result:?}"
        );
    }

    // The same on a secondary index.
    let index_pk = unique("qi");
    for (sk, index_sk) in [("a", "NOTE#1"), ("b", "NOTE#2"), ("c", "TL#1"), ("d", "TL#2")] {
        let indexed = item(&pk, sk, json!({"gsi1pk": index_pk, "gsi1sk": index_sk}));
        env.table.put(indexed, None).await.unwrap();
    }
    let notes = Query::partition(&index_pk)
        .on(Index::Gsi1)
        .sort(SortKey::BeginsWith("NOTE#".into()));
    let first = env.table.query(&notes.clone().limit(1)).await.unwrap();
    assert_eq!(sks(&first.items), ["a"]);
    let cursor = first.cursor.expect("a second page");
    let next = env
        .table
        .query(&notes.clone().after(Some(cursor.clone())))
        .await
        .unwrap();
    assert_eq!(sks(&next.items), ["b"]);
    let timeline = Query::partition(&index_pk)
        .on(Index::Gsi1)
        .sort(SortKey::BeginsWith("TL#".into()));
    let result = env.table.query(&timeline.after(Some(cursor))).await;
    assert!(matches!(result, Err(StoreError::InvalidCursor)), "{result:?}");
}

// ---- expiry --------------------------------------------------------------

pub async fn expired_item_is_invisible_to_get_batch_get_and_query(env: &TableEnv) {
    let pk = unique("x");
    let index_pk = unique("xi");
    let index = json!({"gsi1pk": index_pk, "gsi1sk": "s"});
    let mut expired = item(&pk, "gone", index.clone());
    expired.insert("expires_at".into(), (env.now() - 1).into());
    let mut live = item(&pk, "live", index);
    live.insert("expires_at".into(), (env.now() + 3600).into());
    env.table.put(expired, None).await.unwrap();
    env.table.put(live.clone(), None).await.unwrap();
    assert!(env.table.get(&Key::new(&pk, "gone")).await.unwrap().is_none());
    assert_eq!(env.table.get(&Key::new(&pk, "live")).await.unwrap(), Some(live));
    let got = env
        .table
        .batch_get(&[Key::new(&pk, "gone"), Key::new(&pk, "live")])
        .await
        .unwrap();
    assert_eq!(sks(&got), ["live"]);
    assert_eq!(
        sks(&all_pages(env.table.as_ref(), Query::partition(&pk)).await),
        ["live"]
    );
    assert_eq!(
        sks(&all_pages(env.table.as_ref(), Query::partition(&index_pk).on(Index::Gsi1)).await),
        ["live"]
    );
    assert_eq!(
        env.table.delete(&Key::new(&pk, "gone"), None).await.unwrap(),
        None,
        "delete returns only a live item"
    );
}

pub async fn item_becomes_invisible_when_clock_passes_expiry(env: &TableEnv) {
    let pk = unique("x");
    let key = Key::new(&pk, "session");
    env.table
        .put(item(&pk, "session", json!({"expires_at": env.now() + 60})), None)
        .await
        .unwrap();
    assert!(env.table.get(&key).await.unwrap().is_some());
    env.clock.advance(SignedDuration::from_secs(59));
    assert!(
        env.table.get(&key).await.unwrap().is_some(),
        "still live before its expiry"
    );
    env.clock.advance(SignedDuration::from_secs(1));
    assert!(
        env.table.get(&key).await.unwrap().is_none(),
        "expires_at <= now is expired"
    );
    assert!(
        env.table
            .batch_get(std::slice::from_ref(&key))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(env.table.query(&Query::partition(&pk)).await.unwrap().items.is_empty());
    assert_condition_failed(
        env.table
            .update(&key, Update::default().set("x", 1), Some(Condition::Exists))
            .await,
    );
}

// ---- batches -------------------------------------------------------------

pub async fn batch_write_puts_then_deletes_sixty_items(env: &TableEnv) {
    let pk = unique("b");
    let keys: Vec<Key> = (0..60).map(|i| Key::new(&pk, format!("{i:02}"))).collect();
    let puts = keys
        .iter()
        .map(|k| BatchOp::Put(item(&k.pk, &k.sk, json!({"n": k.sk}))))
        .collect();
    env.table.batch_write(puts).await.unwrap();
    let stored = all_pages(env.table.as_ref(), Query::partition(&pk)).await;
    assert_eq!(stored.len(), 60);
    let mut got = Vec::new();
    for chunk in keys.chunks(100) {
        got.extend(env.table.batch_get(chunk).await.unwrap());
    }
    assert_eq!(got.len(), 60);
    env.table
        .batch_write(keys.iter().cloned().map(BatchOp::Delete).collect())
        .await
        .unwrap();
    assert!(all_pages(env.table.as_ref(), Query::partition(&pk)).await.is_empty());
    env.table.batch_write(Vec::new()).await.unwrap();
}

pub async fn batch_get_of_missing_keys_returns_only_present_items(env: &TableEnv) {
    let pk = unique("b");
    env.table.put(item(&pk, "here", json!({"v": 1})), None).await.unwrap();
    let keys: Vec<Key> = ["missing-1", "here", "missing-2"]
        .iter()
        .map(|sk| Key::new(&pk, *sk))
        .collect();
    let got = env.table.batch_get(&keys).await.unwrap();
    assert_eq!(got, vec![item(&pk, "here", json!({"v": 1}))]);
    let none = env
        .table
        .batch_get(&[Key::new(&pk, "a"), Key::new(unique("b"), "b")])
        .await
        .unwrap();
    assert!(none.is_empty());
    assert!(env.table.batch_get(&[]).await.unwrap().is_empty());
}

pub async fn batch_get_of_more_than_100_keys_is_invalid(env: &TableEnv) {
    let pk = unique("b");
    let keys: Vec<Key> = (0..101).map(|i| Key::new(&pk, format!("{i}"))).collect();
    assert_invalid(env.table.batch_get(&keys).await);
    let distinct: HashSet<&Key> = keys[..100].iter().collect();
    assert_eq!(distinct.len(), 100);
    assert!(env.table.batch_get(&keys[..100]).await.unwrap().is_empty());
}

pub async fn update_over_expired_item_starts_from_a_fresh_item(env: &TableEnv) {
    let (table, now) = (env.table.as_ref(), env.now());
    let pk = unique("x");
    table
        .put(
            item(&pk, "a", json!({"hits": 40, "old": true, "expires_at": now - 1})),
            None,
        )
        .await
        .unwrap();
    let after = table
        .update(&Key::new(&pk, "a"), Update::default().add("hits", 2), None)
        .await
        .unwrap();
    assert_eq!(after, item(&pk, "a", json!({"hits": 2})));
    table
        .put(item(&pk, "b", json!({"expires_at": now - 1})), None)
        .await
        .unwrap();
    let created = table
        .update(
            &Key::new(&pk, "b"),
            Update::default().set("n", 1),
            Some(Condition::NotExists),
        )
        .await
        .unwrap();
    assert_eq!(created, item(&pk, "b", json!({"n": 1})));
    // Only a live item blocks a create-once update.
    let again = table
        .update(
            &Key::new(&pk, "b"),
            Update::default().set("n", 2),
            Some(Condition::NotExists),
        )
        .await;
    assert!(matches!(again, Err(StoreError::ConditionFailed)), "{again:?}");
}

pub async fn transaction_update_over_expired_item_starts_from_a_fresh_item(env: &TableEnv) {
    let (table, now) = (env.table.as_ref(), env.now());
    let pk = unique("t");
    table
        .put(item(&pk, "a", json!({"hits": 40, "expires_at": now - 1})), None)
        .await
        .unwrap();
    table
        .put(item(&pk, "b", json!({"old": true, "expires_at": now - 1})), None)
        .await
        .unwrap();
    table
        .transact(vec![
            WriteOp::Update {
                key: Key::new(&pk, "a"),
                update: Update::default().add("hits", 1),
                condition: None,
            },
            WriteOp::Update {
                key: Key::new(&pk, "b"),
                update: Update::default().set("n", 1),
                condition: Some(Condition::NotExists),
            },
        ])
        .await
        .unwrap();
    assert_eq!(
        table.get(&Key::new(&pk, "a")).await.unwrap(),
        Some(item(&pk, "a", json!({"hits": 1})))
    );
    assert_eq!(
        table.get(&Key::new(&pk, "b")).await.unwrap(),
        Some(item(&pk, "b", json!({"n": 1})))
    );
    let result = table
        .transact(vec![
            WriteOp::Update {
                key: Key::new(&pk, "c"),
                update: Update::default().set("n", 1),
                condition: None,
            },
            WriteOp::Update {
                key: Key::new(&pk, "b"),
                update: Update::default().set("n", 2),
                condition: Some(Condition::NotExists),
            },
        ])
        .await;
    assert!(
        matches!(result, Err(StoreError::TransactionConditionFailed { index: 1 })),
        "{result:?}"
    );
    assert!(table.get(&Key::new(&pk, "c")).await.unwrap().is_none());
}

pub async fn empty_update_is_invalid(env: &TableEnv) {
    let pk = unique("e");
    let result = env.table.update(&Key::new(&pk, "a"), Update::default(), None).await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    assert!(env.table.get(&Key::new(&pk, "a")).await.unwrap().is_none());
}

pub async fn batch_write_applies_repeated_keys_in_order(env: &TableEnv) {
    let pk = unique("b");
    let key = Key::new(&pk, "a");
    env.table
        .batch_write(vec![
            BatchOp::Put(item(&pk, "a", json!({"n": 1}))),
            BatchOp::Delete(key.clone()),
            BatchOp::Put(item(&pk, "a", json!({"n": 3}))),
        ])
        .await
        .unwrap();
    assert_eq!(
        env.table.get(&key).await.unwrap(),
        Some(item(&pk, "a", json!({"n": 3})))
    );
}
