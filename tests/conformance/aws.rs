//! The conformance suite against DynamoDB, SQS and KMS as emulated by moto on
//! loopback (`KONNECS_TEST_AWS_ENDPOINT`; the tests fail when it is unset).
//! Test paths read `aws::dynamodb::...`, `aws::sqs::...`, `aws::kms::...`,
//! `aws::s3::...`.

use std::sync::Arc;

use konnecs::adapters::aws::dynamodb::DynamoTable;
use konnecs::adapters::aws::kms::KmsDataKeys;
use konnecs::adapters::aws::s3::S3ObjectStore;
use konnecs::adapters::aws::sqs::SqsQueue;
use konnecs::adapters::envelope::EnvelopeVault;
use konnecs::ports::Clock;
use konnecs_tests::aws;

use crate::{KeysFixture, ObjectsFixture, QueueFixture, TableFixture};

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
        // SQS keeps its own time: the suite waits its timeouts out.
        clock: None,
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

/// The S3 store on a fresh bucket, path-style as the app configures it for
/// an overridden endpoint; `contents` lists the bucket's keys.
async fn objects() -> ObjectsFixture {
    let bucket = aws::unique_bucket().await;
    let sdk = aws::sdk_config().await;
    let config = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let lister = client.clone();
    let listed = bucket.clone();
    ObjectsFixture {
        store: Arc::new(S3ObjectStore::new(client, bucket)),
        contents: Box::new(move || {
            let client = lister.clone();
            let bucket = listed.clone();
            Box::pin(async move {
                let mut keys = Vec::new();
                let mut pages = client.list_objects_v2().bucket(bucket).into_paginator().send();
                while let Some(page) = pages.next().await {
                    let page = page.unwrap_or_else(|e| panic!("listing the bucket failed: {e:?}"));
                    keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
                }
                keys.sort();
                keys
            })
        }),
        direct_links: true,
        names_ended_uploads: false,
        keep: Box::new(()),
    }
}

mod dynamodb {
    table_suite!(super::table);
}

mod sqs {
    queue_suite!(super::queue);
}

mod kms {
    keys_suite!(super::keys);
}

mod s3 {
    objects_suite!(super::objects);
}
