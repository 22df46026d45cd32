//! The conformance suite against DynamoDB, SQS and KMS as emulated by moto on
//! loopback (`KONNECS_TEST_AWS_ENDPOINT`; the tests fail when it is unset).
//! Test paths read `aws::dynamodb::...`, `aws::sqs::...`, `aws::kms::...`.

use std::sync::Arc;

use konnecs::adapters::aws::dynamodb::DynamoTable;
use konnecs::adapters::aws::kms::KmsDataKeys;
use konnecs::adapters::aws::sqs::SqsQueue;
use konnecs::adapters::envelope::EnvelopeVault;
use konnecs::ports::Clock;
use konnecs_tests::aws;

use crate::{KeysFixture, QueueFixture, TableFixture};

async fn table(clock: Arc<dyn Clock>) -> TableFixture {
    let (client, name) = aws::unique_table().await;
    TableFixture {
        table: Arc::new(DynamoTable::new(client, name, clock)),
        keep: Box::new(()),
    }
}

async fn queue(max_receives: u32) -> QueueFixture {
    let (client, url, dlq_url) = aws::unique_queue(max_receives).await;
    QueueFixture {
        queue: Arc::new(SqsQueue::new(client.clone(), url)),
        dead_letters: Arc::new(SqsQueue::new(client, dlq_url)),
        keep: Box::new(()),
    }
}

async fn keys() -> KeysFixture {
    let (client, key_id) = aws::unique_kms_key().await;
    KeysFixture {
        vault: Arc::new(EnvelopeVault::new(KmsDataKeys::new(client, key_id))),
        keep: Box::new(()),
    }
}

mod dynamodb {
    table_suite!(super::table);

    // DynamoDB-specific paths of the adapter, beyond the shared suite:
    // expired items still stored on DynamoDB must behave as absent on writes.

    use std::sync::Arc;

    use konnecs::ports::{BatchOp, Clock, Condition, Key, StoreError, TestClock, Update, WriteOp};
    use serde_json::{Value, json};

    fn item(pk: &str, sk: &str, extra: Value) -> konnecs::ports::Item {
        let mut item = extra.as_object().cloned().unwrap_or_default();
        item.insert("pk".into(), pk.into());
        item.insert("sk".into(), sk.into());
        item
    }

    async fn fresh() -> (Arc<dyn konnecs::ports::Table>, i64) {
        let clock = TestClock::at(jiff::Timestamp::now());
        let now = clock.unix_seconds();
        (super::table(Arc::new(clock)).await.table, now)
    }

    #[tokio::test]
    async fn update_over_expired_item_starts_from_a_fresh_item() {
        let (table, now) = fresh().await;
        let key = Key::new("x", "a");
        table
            .put(
                item("x", "a", json!({"hits": 40, "old": true, "expires_at": now - 1})),
                None,
            )
            .await
            .unwrap();
        let after = table
            .update(&key, Update::default().add("hits", 2), None)
            .await
            .unwrap();
        assert_eq!(after, item("x", "a", json!({"hits": 2})));
        table
            .put(item("x", "b", json!({"expires_at": now - 1})), None)
            .await
            .unwrap();
        let created = table
            .update(
                &Key::new("x", "b"),
                Update::default().set("n", 1),
                Some(Condition::NotExists),
            )
            .await
            .unwrap();
        assert_eq!(created, item("x", "b", json!({"n": 1})));
        // Only a live item blocks a create-once update.
        let again = table
            .update(
                &Key::new("x", "b"),
                Update::default().set("n", 2),
                Some(Condition::NotExists),
            )
            .await;
        assert!(matches!(again, Err(StoreError::ConditionFailed)), "{again:?}");
    }

    #[tokio::test]
    async fn transaction_update_over_expired_item_starts_from_a_fresh_item() {
        let (table, now) = fresh().await;
        table
            .put(item("t", "a", json!({"hits": 40, "expires_at": now - 1})), None)
            .await
            .unwrap();
        table
            .put(item("t", "b", json!({"old": true, "expires_at": now - 1})), None)
            .await
            .unwrap();
        table
            .transact(vec![
                WriteOp::Update {
                    key: Key::new("t", "a"),
                    update: Update::default().add("hits", 1),
                    condition: None,
                },
                WriteOp::Update {
                    key: Key::new("t", "b"),
                    update: Update::default().set("n", 1),
                    condition: Some(Condition::NotExists),
                },
            ])
            .await
            .unwrap();
        assert_eq!(
            table.get(&Key::new("t", "a")).await.unwrap(),
            Some(item("t", "a", json!({"hits": 1})))
        );
        assert_eq!(
            table.get(&Key::new("t", "b")).await.unwrap(),
            Some(item("t", "b", json!({"n": 1})))
        );
        // A genuine failure is still reported at its index.
        let result = table
            .transact(vec![
                WriteOp::Update {
                    key: Key::new("t", "c"),
                    update: Update::default().set("n", 1),
                    condition: None,
                },
                WriteOp::Update {
                    key: Key::new("t", "b"),
                    update: Update::default().set("n", 2),
                    condition: Some(Condition::NotExists),
                },
            ])
            .await;
        assert!(
            matches!(result, Err(StoreError::TransactionConditionFailed { index: 1 })),
            "{result:?}"
        );
        assert!(table.get(&Key::new("t", "c")).await.unwrap().is_none());
    }

    /// Deviation from SQLite (which accepts it): DynamoDB transactions need an
    /// update expression, so the adapter rejects empty updates everywhere.
    #[tokio::test]
    async fn empty_update_is_invalid() {
        let (table, _) = fresh().await;
        let result = table.update(&Key::new("e", "a"), Update::default(), None).await;
        assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
        assert!(table.get(&Key::new("e", "a")).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn batch_write_applies_repeated_keys_in_order() {
        let (table, _) = fresh().await;
        let key = Key::new("b", "a");
        table
            .batch_write(vec![
                BatchOp::Put(item("b", "a", json!({"n": 1}))),
                BatchOp::Delete(key.clone()),
                BatchOp::Put(item("b", "a", json!({"n": 3}))),
            ])
            .await
            .unwrap();
        assert_eq!(table.get(&key).await.unwrap(), Some(item("b", "a", json!({"n": 3}))));
    }
}

mod sqs {
    queue_suite!(super::queue);
}

mod kms {
    keys_suite!(super::keys);
}
