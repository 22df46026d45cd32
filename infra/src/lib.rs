//! The AWS SAM template (`template.yaml`), generated from the route catalogue
//! so every Lambda, its trigger and its IAM policy follow the code: one
//! function per `Runtime::Both` entry, IAM derived from `Entry::access` only.
//!
//! Intrinsics are written in long form (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`,
//! `{"Fn::Sub": ..}`) so the output is plain YAML any parser reads.

use konnecs::catalogue::{self, Access, Entry, QueueName, Runtime, Trigger};
use konnecs::ports::object_store::{ABANDONED_UPLOAD_DAYS, EXPIRY_RULES};
use konnecs::ports::table::{EXPIRES_AT, Index};
use serde_json::{Map, Value, json};

/// The command that regenerates `template.yaml`, quoted in its header.
pub const REGENERATE: &str = "cargo run -p konnecs-infra --bin konnecs-template > template.yaml";

/// Every function's timeout. API Gateway HTTP APIs give up after 30 s, so an
/// HTTP handler slower than this is a bug rather than a reason to raise it.
pub const FUNCTION_TIMEOUT_SECONDS: u64 = 15;
/// Rust on arm64 needs little memory, but CPU scales with it: 256 MB keeps
/// cold starts (TLS + SDK set-up) short.
pub const FUNCTION_MEMORY_MB: u64 = 256;
pub const LOG_RETENTION_DAYS: u64 = 30;
/// SQS's maximum, so a poisoned message can be inspected long after it failed.
pub const DLQ_RETENTION_SECONDS: u64 = 14 * 24 * 60 * 60;
pub const SQS_BATCH_SIZE: u64 = 10;
/// AWS recommends a queue visibility timeout of at least six times the
/// consumer's timeout, so retries inside a batch never race redelivery.
pub const VISIBILITY_TIMEOUT_FACTOR: u64 = 6;
/// Directory `cargo lambda build --lambda-dir` writes one folder per binary to.
pub const LAMBDA_DIR: &str = "target/lambda";

pub const TABLE: &str = "Table";
/// Encrypts the table and the queues at rest (privacy policy §14).
pub const DATA_KEY: &str = "DataKey";
/// Wraps the data keys of Google OAuth tokens (privacy policy §2).
pub const TOKEN_KEY: &str = "TokenKey";
pub const HTTP_API: &str = "HttpApi";
/// Private objects: profile photos and data exports.
pub const OBJECTS_BUCKET: &str = "ObjectsBucket";
/// Stack parameter: the public base URL of links in emails.
pub const PUBLIC_URL_PARAMETER: &str = "PublicUrl";
/// Where the operators' alarms (dead-letter queues) are published.
pub const ALERTS_TOPIC: &str = "OperatorAlerts";
/// Stack parameter: an email address subscribed to the alerts (optional).
pub const ALERT_EMAIL_PARAMETER: &str = "AlertEmail";
const HAS_ALERT_EMAIL: &str = "HasAlertEmail";

/// The entries deployed as Lambdas.
pub fn lambda_entries() -> impl Iterator<Item = &'static Entry> {
    catalogue::entries()
        .iter()
        .filter(|entry| entry.runtime == Runtime::Both)
}

/// `store-sweep` → `StoreSweep`.
pub fn pascal_case(name: &str) -> String {
    name.split(['-', '_'])
        .filter_map(|part| {
            let mut chars = part.chars();
            let first = chars.next()?;
            Some(first.to_ascii_uppercase().to_string() + chars.as_str())
        })
        .collect()
}

/// Logical id of an entry's function: `health` → `HealthFunction`.
pub fn function_id(name: &str) -> String {
    format!("{}Function", pascal_case(name))
}

pub fn log_group_id(name: &str) -> String {
    format!("{}LogGroup", pascal_case(name))
}

pub fn queue_id(queue: QueueName) -> String {
    format!("{}Queue", pascal_case(queue.as_str()))
}

pub fn dead_letter_queue_id(queue: QueueName) -> String {
    format!("{}DeadLetterQueue", pascal_case(queue.as_str()))
}

pub fn dead_letter_alarm_id(queue: QueueName) -> String {
    format!("{}DeadLetterAlarm", pascal_case(queue.as_str()))
}

fn reference(id: &str) -> Value {
    json!({ "Ref": id })
}

fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

fn statement(sid: &str, actions: &[&str], resource: Value) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource })
}

/// A data-key statement usable only through `service` (DynamoDB or SQS
/// encrypting on the caller's behalf), never by calling KMS directly.
fn data_key_statement(sid: &str, actions: &[&str], service: &str) -> Value {
    let mut statement = statement(sid, actions, get_att(DATA_KEY, "Arn"));
    statement["Condition"] =
        json!({ "StringEquals": { "kms:ViaService": sub(&format!("{service}.${{AWS::Region}}.amazonaws.com")) } });
    statement
}

/// The IAM statements a function with this access list gets, and nothing
/// more: each statement names one resource of this stack, no wildcards
/// except the table's own indexes.
pub fn statements(access: &[Access]) -> Vec<Value> {
    let mut statements = Vec::new();
    for access in access {
        match *access {
            Access::TableRead => {
                statements.push(statement(
                    "TableRead",
                    &["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
                    json!([get_att(TABLE, "Arn"), sub("${Table.Arn}/index/*")]),
                ));
                // The table is encrypted with a customer-managed key: DynamoDB
                // uses it with the caller's permissions.
                statements.push(data_key_statement("TableReadDataKey", &["kms:Decrypt"], "dynamodb"));
            }
            Access::TableWrite => {
                statements.push(statement(
                    "TableWrite",
                    &[
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem",
                        "dynamodb:ConditionCheckItem",
                    ],
                    get_att(TABLE, "Arn"),
                ));
                statements.push(data_key_statement(
                    "TableWriteDataKey",
                    &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    "dynamodb",
                ));
            }
            Access::QueueSend(queue) => {
                let sid = format!("QueueSend{}", pascal_case(queue.as_str()));
                statements.push(statement(&sid, &["sqs:SendMessage"], get_att(&queue_id(queue), "Arn")));
                // Queues are encrypted with the data key: a sender needs a data key.
                statements.push(data_key_statement(
                    &format!("{sid}DataKey"),
                    &["kms:GenerateDataKey", "kms:Decrypt"],
                    "sqs",
                ));
            }
            Access::QueueInspect(queue) => {
                let sid = format!("QueueInspect{}", pascal_case(queue.as_str()));
                statements.push(statement(
                    &sid,
                    &["sqs:GetQueueAttributes"],
                    get_att(&queue_id(queue), "Arn"),
                ));
            }
            Access::QueueConsume(queue) => {
                let sid = format!("QueueConsume{}", pascal_case(queue.as_str()));
                statements.push(statement(
                    &sid,
                    &[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    get_att(&queue_id(queue), "Arn"),
                ));
                statements.push(data_key_statement(&format!("{sid}DataKey"), &["kms:Decrypt"], "sqs"));
            }
            Access::TokenKeyEncrypt => statements.push(statement(
                "TokenKeyEncrypt",
                &["kms:GenerateDataKey"],
                get_att(TOKEN_KEY, "Arn"),
            )),
            Access::TokenKeyDecrypt => statements.push(statement(
                "TokenKeyDecrypt",
                &["kms:Decrypt"],
                get_att(TOKEN_KEY, "Arn"),
            )),
            Access::TokenKeyDescribe => statements.push(statement(
                "TokenKeyDescribe",
                &["kms:DescribeKey"],
                get_att(TOKEN_KEY, "Arn"),
            )),
            Access::ObjectRead => {
                statements.push(statement(
                    "ObjectRead",
                    &["s3:GetObject"],
                    sub("${ObjectsBucket.Arn}/*"),
                ));
                // Without ListBucket, S3 answers a missing key with 403 instead of 404.
                statements.push(statement(
                    "ObjectReadList",
                    &["s3:ListBucket"],
                    get_att(OBJECTS_BUCKET, "Arn"),
                ));
                // Objects are encrypted with the data key (bucket key): reading needs Decrypt via S3.
                statements.push(data_key_statement("ObjectReadDataKey", &["kms:Decrypt"], "s3"));
            }
            Access::ObjectWrite => {
                statements.push(statement(
                    "ObjectWrite",
                    &["s3:PutObject", "s3:DeleteObject"],
                    sub("${ObjectsBucket.Arn}/*"),
                ));
                statements.push(data_key_statement(
                    "ObjectWriteDataKey",
                    &["kms:GenerateDataKey", "kms:Decrypt"],
                    "s3",
                ));
            }
            Access::ExportRead => {
                statements.push(statement(
                    "ExportRead",
                    &["s3:GetObject"],
                    sub("${ObjectsBucket.Arn}/exports/*"),
                ));
                statements.push(data_key_statement("ExportReadDataKey", &["kms:Decrypt"], "s3"));
            }
            Access::ExportWrite => {
                statements.push(statement(
                    "ExportWrite",
                    // PutObject also covers the parts and completion of a multipart upload.
                    &["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    sub("${ObjectsBucket.Arn}/exports/*"),
                ));
                statements.push(data_key_statement(
                    "ExportWriteDataKey",
                    &["kms:GenerateDataKey", "kms:Decrypt"],
                    "s3",
                ));
            }
        }
    }
    statements
}

/// The IAM actions of an access list, e.g. for tests and reviews.
pub fn actions(access: &[Access]) -> std::collections::BTreeSet<String> {
    statements(access)
        .iter()
        .filter_map(|statement| statement["Action"].as_array())
        .flatten()
        .filter_map(|action| action.as_str().map(str::to_owned))
        .collect()
}

/// Visibility timeout of a queue: long enough for its consumer's retries.
pub fn visibility_timeout(queue: QueueName) -> u64 {
    (VISIBILITY_TIMEOUT_FACTOR * FUNCTION_TIMEOUT_SECONDS).max(queue.visibility_seconds())
}

/// The SAM event of HTTP and schedule entries. Queue entries have none: see
/// [`event_source_mapping`].
fn event(entry: &Entry) -> Option<(&'static str, Value)> {
    match entry.trigger {
        Trigger::Http { method, path, .. } => Some((
            "Api",
            json!({
                "Type": "HttpApi",
                "Properties": { "ApiId": reference(HTTP_API), "Method": method.as_str(), "Path": path }
            }),
        )),
        // An EventBridge rule (not ScheduleV2/Scheduler): it delivers the
        // "Scheduled Event" envelope `lambda::handle_schedule` parses.
        Trigger::Schedule { every, .. } => Some((
            "Schedule",
            json!({ "Type": "Schedule", "Properties": { "Schedule": every } }),
        )),
        Trigger::Queue { .. } => None,
    }
}

/// Logical id of a queue consumer's event source mapping.
pub fn event_source_id(name: &str) -> String {
    format!("{}EventSource", pascal_case(name))
}

/// A queue consumer's trigger, declared as a plain event source mapping
/// rather than a SAM `SQS` event: for that event SAM attaches the managed
/// policy AWSLambdaSQSQueueExecutionRole (SQS actions on every queue), while
/// the mapping polls with the role's own `QueueConsume` statements.
fn event_source_mapping(entry: &Entry) -> Option<Value> {
    let Trigger::Queue { queue, .. } = entry.trigger else {
        return None;
    };
    Some(json!({
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": reference(&function_id(entry.name)),
            "EventSourceArn": get_att(&queue_id(queue), "Arn"),
            "BatchSize": SQS_BATCH_SIZE,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]
        }
    }))
}

fn function(entry: &Entry) -> Value {
    let mut properties = json!({
        "Description": entry.summary,
        "CodeUri": format!("{LAMBDA_DIR}/{}/", entry.name),
    });
    if let Some((name, event)) = event(entry) {
        properties["Events"] = json!({ name: event });
    }
    let statements = statements(&entry.effective_access());
    if !statements.is_empty() {
        properties["Policies"] = json!([{ "Version": "2012-10-17", "Statement": statements }]);
    }
    json!({
        "Type": "AWS::Serverless::Function",
        "Metadata": {
            "Binary": entry.name,
            "Source": format!("functions/src/bin/{}.rs", entry.name),
            "BuildCommand": format!("cargo lambda build --release --arm64 --lambda-dir {LAMBDA_DIR}")
        },
        "Properties": properties
    })
}

fn log_group(entry: &Entry) -> Value {
    json!({
        "Type": "AWS::Logs::LogGroup",
        "Properties": {
            "LogGroupName": sub(&format!("/aws/lambda/${{{}}}", function_id(entry.name))),
            "RetentionInDays": LOG_RETENTION_DAYS
        }
    })
}

fn table() -> Value {
    let mut attributes = Vec::new();
    let mut indexes = Vec::new();
    let key_schema = |index: Index| {
        let (partition, sort) = index.key_attributes();
        json!([
            { "AttributeName": partition, "KeyType": "HASH" },
            { "AttributeName": sort, "KeyType": "RANGE" }
        ])
    };
    for index in [Index::Primary].into_iter().chain(Index::SECONDARY) {
        let (partition, sort) = index.key_attributes();
        for attribute in [partition, sort] {
            attributes.push(json!({ "AttributeName": attribute, "AttributeType": "S" }));
        }
        if let Some(name) = index.name() {
            indexes.push(json!({
                "IndexName": name,
                "KeySchema": key_schema(index),
                "Projection": { "ProjectionType": "ALL" }
            }));
        }
    }
    json!({
        "Type": "AWS::DynamoDB::Table",
        // Deleting the stack must not delete customer data.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": attributes,
            "KeySchema": key_schema(Index::Primary),
            "GlobalSecondaryIndexes": indexes,
            "TimeToLiveSpecification": { "AttributeName": EXPIRES_AT, "Enabled": true },
            "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": true },
            "SSESpecification": { "SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": get_att(DATA_KEY, "Arn") }
        }
    })
}

/// Private, KMS-encrypted with the data key, reachable over TLS only.
fn objects_bucket() -> Value {
    json!({
        "Type": "AWS::S3::Bucket",
        // Deleting the stack must not delete customer files.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{
                    "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": get_att(DATA_KEY, "Arn") },
                    // One data key per bucket rather than per object: far fewer KMS calls.
                    "BucketKeyEnabled": true
                }]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true
            },
            "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
            "LifecycleConfiguration": { "Rules": lifecycle_rules() }
        }
    })
}

/// The object store's expiry rules (`ports::object_store`), which the local
/// directory store applies in its own sweep.
fn lifecycle_rules() -> Value {
    let mut rules: Vec<Value> = EXPIRY_RULES
        .iter()
        .map(|rule| {
            json!({
                "Id": format!("Expire{}", pascal_case(rule.prefix.trim_end_matches('/'))),
                "Status": "Enabled",
                "Prefix": rule.prefix,
                "ExpirationInDays": rule.days
            })
        })
        .collect();
    rules.push(json!({
        "Id": "AbortAbandonedUploads",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": ABANDONED_UPLOAD_DAYS }
    }));
    Value::Array(rules)
}

fn objects_bucket_policy() -> Value {
    json!({
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": reference(OBJECTS_BUCKET),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [get_att(OBJECTS_BUCKET, "Arn"), sub("${ObjectsBucket.Arn}/*")],
                    "Condition": { "Bool": { "aws:SecureTransport": "false" } }
                }]
            }
        }
    })
}

/// A symmetric key with rotation whose policy delegates to IAM (account
/// root): who may use it is then exactly what the function policies say.
fn kms_key(description: &str) -> Value {
    kms_key_with(description, Vec::new())
}

/// A key whose policy, besides the account's IAM, grants `extra` statements.
fn kms_key_with(description: &str, extra: Vec<Value>) -> Value {
    let mut statements = vec![json!({
        "Sid": "AccountRootDelegatesToIam",
        "Effect": "Allow",
        "Principal": { "AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
        "Action": "kms:*",
        "Resource": "*"
    })];
    statements.extend(extra);
    json!({
        "Type": "AWS::KMS::Key",
        // Retained data stays readable only while its key exists.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": description,
            "EnableKeyRotation": true,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": statements
            }
        }
    })
}

fn queue_resources(queue: QueueName, resources: &mut Map<String, Value>) {
    let dlq = dead_letter_queue_id(queue);
    resources.insert(
        dlq.clone(),
        json!({
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                "KmsMasterKeyId": reference(DATA_KEY)
            }
        }),
    );
    resources.insert(
        queue_id(queue),
        json!({
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": visibility_timeout(queue),
                "KmsMasterKeyId": reference(DATA_KEY),
                "RedrivePolicy": {
                    "deadLetterTargetArn": get_att(&dlq, "Arn"),
                    "maxReceiveCount": queue.max_receives()
                }
            }
        }),
    );
    resources.insert(
        dead_letter_alarm_id(queue),
        json!({
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": format!("Messages of the {} queue failed {} times and wait in its dead-letter queue.", queue.as_str(), queue.max_receives()),
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{ "Name": "QueueName", "Value": get_att(&dlq, "QueueName") }],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [reference(ALERTS_TOPIC)],
                "OKActions": [reference(ALERTS_TOPIC)]
            }
        }),
    );
}

/// The alerts topic, encrypted with the data key (alarm texts name queues,
/// not people, but nothing leaves unencrypted), and its optional email
/// subscription.
fn alerts_resources(resources: &mut Map<String, Value>) {
    resources.insert(
        ALERTS_TOPIC.into(),
        json!({
            "Type": "AWS::SNS::Topic",
            "Properties": { "KmsMasterKeyId": reference(DATA_KEY) }
        }),
    );
    resources.insert(
        format!("{ALERTS_TOPIC}Email"),
        json!({
            "Type": "AWS::SNS::Subscription",
            "Condition": HAS_ALERT_EMAIL,
            "Properties": {
                "TopicArn": reference(ALERTS_TOPIC),
                "Protocol": "email",
                "Endpoint": reference(ALERT_EMAIL_PARAMETER)
            }
        }),
    );
}

/// CloudWatch publishes alarms to the encrypted alerts topic only with the
/// data key; this account's alarms may use it for that and nothing else.
fn alarms_use_the_data_key() -> Value {
    json!({
        "Sid": "CloudWatchAlarmsPublishToTheAlertsTopic",
        "Effect": "Allow",
        "Principal": { "Service": "cloudwatch.amazonaws.com" },
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": { "aws:SourceAccount": reference("AWS::AccountId") },
            "ArnLike": { "aws:SourceArn": sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*") }
        }
    })
}

/// The whole SAM template.
pub fn template() -> Value {
    let mut variables = Map::new();
    variables.insert("TABLE_NAME".into(), reference(TABLE));
    for queue in QueueName::ALL {
        variables.insert(queue.url_env().into(), reference(&queue_id(queue)));
    }
    variables.insert("TOKEN_KEY_ID".into(), reference(TOKEN_KEY));
    variables.insert("OBJECTS_BUCKET".into(), reference(OBJECTS_BUCKET));
    // Not the API's own URL: that would make every function depend on the API
    // that depends on them (a cycle); a custom domain is the usual value anyway.
    variables.insert("KONNECS_PUBLIC_URL".into(), reference(PUBLIC_URL_PARAMETER));
    variables.insert("KONNECS_LOG".into(), json!("info"));

    let mut resources = Map::new();
    resources.insert(
        HTTP_API.into(),
        json!({ "Type": "AWS::Serverless::HttpApi", "Properties": {} }),
    );
    resources.insert(TABLE.into(), table());
    resources.insert(OBJECTS_BUCKET.into(), objects_bucket());
    resources.insert(format!("{OBJECTS_BUCKET}Policy"), objects_bucket_policy());
    resources.insert(
        DATA_KEY.into(),
        kms_key_with(
            "Konnecs data key: encrypts the table, the queues and the alerts topic at rest.",
            vec![alarms_use_the_data_key()],
        ),
    );
    alerts_resources(&mut resources);
    resources.insert(
        TOKEN_KEY.into(),
        kms_key("Konnecs token key: wraps the data keys of Google OAuth tokens."),
    );
    let mut outputs = Map::new();
    outputs.insert(
        "ApiUrl".into(),
        json!({ "Description": "Base URL of the HTTP API", "Value": sub("https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/") }),
    );
    outputs.insert(
        "TableName".into(),
        json!({ "Description": "DynamoDB table", "Value": reference(TABLE) }),
    );
    outputs.insert(
        "ObjectsBucketName".into(),
        json!({ "Description": "S3 bucket of private objects", "Value": reference(OBJECTS_BUCKET) }),
    );
    outputs.insert(
        "OperatorAlertsTopicArn".into(),
        json!({ "Description": "SNS topic of the operators' alarms (subscribe to it)", "Value": reference(ALERTS_TOPIC) }),
    );
    for queue in QueueName::ALL {
        queue_resources(queue, &mut resources);
        let stem = pascal_case(queue.as_str());
        outputs.insert(
            format!("{stem}QueueUrl"),
            json!({ "Description": format!("SQS queue {}", queue.as_str()), "Value": reference(&queue_id(queue)) }),
        );
        outputs.insert(
            format!("{stem}DeadLetterQueueUrl"),
            json!({ "Description": format!("Dead-letter queue of {}", queue.as_str()), "Value": reference(&dead_letter_queue_id(queue)) }),
        );
    }
    for entry in lambda_entries() {
        resources.insert(function_id(entry.name), function(entry));
        resources.insert(log_group_id(entry.name), log_group(entry));
        if let Some(mapping) = event_source_mapping(entry) {
            resources.insert(event_source_id(entry.name), mapping);
        }
    }

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "Konnecs CRM: one Lambda per route-catalogue entry, one DynamoDB table, SQS queues, KMS keys, an alerts topic.",
        "Parameters": {
            PUBLIC_URL_PARAMETER: {
                "Type": "String",
                "Description": "Public base URL of the app, used in links in emails, e.g. https://app.konnecs.com",
                "AllowedPattern": "^https://[^/]+(/.*)?$"
            },
            ALERT_EMAIL_PARAMETER: {
                "Type": "String",
                "Description": "Email address told of alarms (a dead-letter queue holding messages); empty for none",
                "Default": "",
                "AllowedPattern": "^$|^[^@\\s]+@[^@\\s]+$"
            }
        },
        "Conditions": {
            HAS_ALERT_EMAIL: { "Fn::Not": [{ "Fn::Equals": [reference(ALERT_EMAIL_PARAMETER), ""] }] }
        },
        "Globals": {
            "Function": {
                "Runtime": "provided.al2023",
                "Architectures": ["arm64"],
                "Handler": "bootstrap",
                "MemorySize": FUNCTION_MEMORY_MB,
                "Timeout": FUNCTION_TIMEOUT_SECONDS,
                "LoggingConfig": { "LogFormat": "JSON" },
                "Environment": { "Variables": variables }
            }
        },
        "Resources": resources,
        "Outputs": outputs
    })
}

/// `template.yaml` as committed: a header naming its source, then the template.
pub fn render() -> Result<String, serde_yaml_ng::Error> {
    let body = quote_dates(&serde_yaml_ng::to_string(&template())?);
    Ok(format!(
        "# Generated by `{REGENERATE}`\n\
         # from shared/src/catalogue.rs. Do not edit: tests/template_drift.rs fails\n\
         # when this file and the generator disagree.\n{body}"
    ))
}

/// Quotes plain scalars that look like `2012-10-17`: YAML 1.1 parsers (PyYAML
/// in SAM CLI and cfn-lint) read them as dates, while serde_yaml_ng, a YAML
/// 1.2 emitter, leaves them bare. Both read the quoted form as a string.
fn quote_dates(yaml: &str) -> String {
    let is_date = |text: &str| {
        let bytes = text.as_bytes();
        bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    let mut out = String::with_capacity(yaml.len());
    for line in yaml.lines() {
        match line.rsplit_once(": ").or_else(|| line.rsplit_once("- ")) {
            Some((head, value)) if is_date(value) => {
                let separator = &line[head.len()..line.len() - value.len()];
                out.push_str(&format!("{head}{separator}'{value}'"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_actions(template: &Value) -> Vec<String> {
        let mut found = Vec::new();
        for resource in template["Resources"].as_object().into_iter().flat_map(|r| r.values()) {
            for policy in resource["Properties"]["Policies"].as_array().into_iter().flatten() {
                for statement in policy["Statement"].as_array().into_iter().flatten() {
                    for action in statement["Action"].as_array().into_iter().flatten() {
                        found.push(action.as_str().unwrap_or_default().to_owned());
                    }
                }
            }
        }
        found
    }

    #[test]
    fn names_become_pascal_case_logical_ids() {
        assert_eq!(pascal_case("store-sweep"), "StoreSweep");
        assert_eq!(function_id("health"), "HealthFunction");
        assert_eq!(queue_id(QueueName::Jobs), "JobsQueue");
    }

    #[test]
    fn table_read_grants_no_write_actions() {
        let actions = actions(&[Access::TableRead]);
        assert!(actions.contains("dynamodb:Query"));
        for action in &actions {
            assert!(
                !["Put", "Update", "Delete", "Write", "Encrypt", "GenerateDataKey", "sqs:"]
                    .iter()
                    .any(|word| action.contains(word)),
                "{action} is not a read action"
            );
        }
    }

    #[test]
    fn table_read_covers_the_indexes() {
        let statements = statements(&[Access::TableRead]);
        assert_eq!(statements[0]["Resource"][1], sub("${Table.Arn}/index/*"));
    }

    #[test]
    fn no_access_means_no_policies() {
        assert!(statements(&[]).is_empty());
        let entry = Entry {
            access: &[],
            ..*catalogue::find("openapi").expect("openapi is in the catalogue")
        };
        assert!(function(&entry)["Properties"].get("Policies").is_none());
    }

    #[test]
    fn queue_access_includes_the_data_key_via_sqs_only() {
        let statements = statements(&[Access::QueueSend(QueueName::Jobs)]);
        assert_eq!(statements[1]["Action"], json!(["kms:GenerateDataKey", "kms:Decrypt"]));
        assert_eq!(statements[1]["Resource"], get_att(DATA_KEY, "Arn"));
        assert_eq!(
            statements[1]["Condition"]["StringEquals"]["kms:ViaService"],
            sub("sqs.${AWS::Region}.amazonaws.com")
        );
    }

    #[test]
    fn token_key_actions_are_separate() {
        assert_eq!(
            actions(&[Access::TokenKeyDescribe]),
            ["kms:DescribeKey".to_owned()].into()
        );
        assert_eq!(actions(&[Access::TokenKeyDecrypt]), ["kms:Decrypt".to_owned()].into());
        assert_eq!(
            actions(&[Access::TokenKeyEncrypt]),
            ["kms:GenerateDataKey".to_owned()].into()
        );
    }

    #[test]
    fn no_wildcard_actions_in_function_policies() {
        let template = template();
        let actions = all_actions(&template);
        assert!(!actions.is_empty());
        assert!(actions.iter().all(|action| !action.contains('*')), "{actions:?}");
    }

    #[test]
    fn one_function_and_log_group_per_lambda_entry() {
        let template = template();
        let resources = template["Resources"].as_object().expect("resources");
        let functions = resources
            .values()
            .filter(|r| r["Type"] == "AWS::Serverless::Function")
            .count();
        assert_eq!(functions, lambda_entries().count());
        for entry in lambda_entries() {
            let function = &resources[&function_id(entry.name)];
            assert_eq!(
                function["Properties"]["CodeUri"],
                format!("target/lambda/{}/", entry.name)
            );
            assert_eq!(resources[&log_group_id(entry.name)]["Type"], "AWS::Logs::LogGroup");
        }
        // Local-only work (the embedded store's sweep) is no Lambda.
        assert!(!resources.contains_key("StoreSweepFunction"));
    }

    #[test]
    fn queues_outlast_their_consumers_and_have_a_watched_dlq() {
        let template = template();
        for queue in QueueName::ALL {
            let properties = &template["Resources"][queue_id(queue)]["Properties"];
            let visibility = properties["VisibilityTimeout"].as_u64().unwrap_or_default();
            assert!(visibility >= VISIBILITY_TIMEOUT_FACTOR * FUNCTION_TIMEOUT_SECONDS);
            assert!(visibility >= queue.visibility_seconds());
            assert_eq!(properties["RedrivePolicy"]["maxReceiveCount"], queue.max_receives());
            assert_eq!(
                template["Resources"][dead_letter_alarm_id(queue)]["Type"],
                "AWS::CloudWatch::Alarm"
            );
        }
    }

    #[test]
    fn dead_letter_alarms_tell_the_operators_through_an_encrypted_topic() {
        let template = template();
        let resources = &template["Resources"];
        for queue in QueueName::ALL {
            let alarm = &resources[dead_letter_alarm_id(queue)]["Properties"];
            assert_eq!(alarm["AlarmActions"], json!([{ "Ref": ALERTS_TOPIC }]));
            assert_eq!(alarm["OKActions"], json!([{ "Ref": ALERTS_TOPIC }]));
        }
        let topic = &resources[ALERTS_TOPIC];
        assert_eq!(topic["Type"], "AWS::SNS::Topic");
        assert_eq!(topic["Properties"]["KmsMasterKeyId"], json!({ "Ref": DATA_KEY }));
        // CloudWatch can publish there only if the key lets it, and only
        // this account's alarms.
        let statements = template["Resources"][DATA_KEY]["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let cloudwatch: Vec<_> = statements
            .iter()
            .filter(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com")
            .collect();
        assert_eq!(cloudwatch.len(), 1);
        assert_eq!(cloudwatch[0]["Action"], json!(["kms:Decrypt", "kms:GenerateDataKey*"]));
        assert_eq!(
            cloudwatch[0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            json!({ "Ref": "AWS::AccountId" })
        );
        // The token key stays for tokens alone.
        let token_statements = &template["Resources"][TOKEN_KEY]["Properties"]["KeyPolicy"]["Statement"];
        assert_eq!(token_statements.as_array().map(Vec::len), Some(1));
        // The email subscription exists only when an address was given.
        let email = &resources[format!("{ALERTS_TOPIC}Email")];
        assert_eq!(email["Condition"], HAS_ALERT_EMAIL);
        assert_eq!(email["Properties"]["Endpoint"], json!({ "Ref": ALERT_EMAIL_PARAMETER }));
        assert_eq!(template["Parameters"][ALERT_EMAIL_PARAMETER]["Default"], "");
        assert!(template["Conditions"][HAS_ALERT_EMAIL].is_object());
    }

    fn accept_all(
        _: konnecs::app::AppState,
        _: Vec<konnecs::inbound::events::Message>,
    ) -> std::pin::Pin<Box<dyn Future<Output = konnecs::inbound::events::BatchOutcome> + Send>> {
        Box::pin(async { konnecs::inbound::events::BatchOutcome::default() })
    }

    #[test]
    fn a_queue_consumer_polls_through_its_own_role_not_a_managed_policy() {
        let entry = Entry {
            name: "contacts-import",
            trigger: Trigger::Queue {
                queue: QueueName::Jobs,
                consumer: accept_all,
            },
            access: &[Access::QueueConsume(QueueName::Jobs), Access::TableWrite],
            ..*catalogue::find("health").expect("health is in the catalogue")
        };
        // A SAM `SQS` event would add AWSLambdaSQSQueueExecutionRole (Resource "*").
        assert!(function(&entry)["Properties"].get("Events").is_none());
        let mapping = event_source_mapping(&entry).expect("a queue entry has a mapping");
        assert_eq!(
            mapping["Properties"]["FunctionName"],
            reference("ContactsImportFunction")
        );
        assert_eq!(mapping["Properties"]["EventSourceArn"], get_att("JobsQueue", "Arn"));
        assert_eq!(mapping["Properties"]["BatchSize"], SQS_BATCH_SIZE);
        assert_eq!(
            mapping["Properties"]["FunctionResponseTypes"],
            json!(["ReportBatchItemFailures"])
        );
        let actions = actions(&entry.effective_access());
        for needed in [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
            "kms:Decrypt",
        ] {
            assert!(actions.contains(needed), "{needed}");
        }
    }

    #[test]
    fn date_like_versions_are_quoted() {
        assert_eq!(
            quote_dates("A: 2010-09-09\n  Version: 2012-10-17\n- 2012-10-17\nB: 2012-10-177\n"),
            "A: '2010-09-09'\n  Version: '2012-10-17'\n- '2012-10-17'\nB: 2012-10-177\n"
        );
    }

    #[test]
    fn rendered_yaml_parses_back_to_the_template() {
        let yaml = render().expect("renders");
        assert!(yaml.starts_with("# Generated by"));
        let parsed: Value = serde_yaml_ng::from_str(&yaml).expect("parses");
        assert_eq!(parsed, template());
    }
}
