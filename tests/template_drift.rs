//! The committed `template.yaml` against the route catalogue, in both
//! directions. The template is parsed here on its own and the expectations
//! are written out again rather than taken from the generator, so a bug in
//! the generator cannot hide itself; the last check then pins the file to
//! the generator's output so a catalogue edit without regenerating fails.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use konnecs::catalogue::{self, Access, Entry, QueueName, Runtime, Trigger};
use konnecs::ports::table::{EXPIRES_AT, Index};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed_text() -> String {
    let path = repo().join("template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn committed() -> Value {
    serde_yaml_ng::from_str(&committed_text()).unwrap_or_else(|e| panic!("template.yaml is not valid YAML: {e}"))
}

fn lambda_entries() -> Vec<&'static Entry> {
    catalogue::entries()
        .iter()
        .filter(|entry| entry.runtime == Runtime::Both)
        .collect()
}

fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn queue_id(queue: QueueName) -> String {
    format!("{}Queue", pascal(queue.as_str()))
}

fn get_att(id: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [id, attribute] })
}

/// (action, resource) pairs an access list must grant: resources are logical
/// ids for `Fn::GetAtt [id, Arn]`, or the `Fn::Sub` text.
fn expected_grants(access: &[Access]) -> BTreeSet<(String, String)> {
    let mut grants = BTreeSet::new();
    let mut grant = |actions: &[&str], resource: &str| {
        for action in actions {
            grants.insert((action.to_string(), resource.to_string()));
        }
    };
    for access in access {
        match *access {
            Access::TableRead => {
                let read = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"];
                grant(&read, "Table");
                grant(&read, "${Table.Arn}/index/*");
                // The table is encrypted with the customer-managed data key.
                grant(&["kms:Decrypt"], "DataKey");
            }
            Access::TableWrite => {
                grant(
                    &[
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                        "dynamodb:BatchWriteItem",
                        "dynamodb:ConditionCheckItem",
                    ],
                    "Table",
                );
                grant(&["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], "DataKey");
            }
            Access::QueueSend(queue) => {
                grant(&["sqs:SendMessage"], &queue_id(queue));
                grant(&["kms:GenerateDataKey", "kms:Decrypt"], "DataKey");
            }
            Access::QueueInspect(queue) => grant(&["sqs:GetQueueAttributes"], &queue_id(queue)),
            Access::QueueConsume(queue) => {
                grant(
                    &[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                    ],
                    &queue_id(queue),
                );
                grant(&["kms:Decrypt"], "DataKey");
            }
            Access::TokenKeyEncrypt => grant(&["kms:GenerateDataKey"], "TokenKey"),
            Access::TokenKeyDecrypt => grant(&["kms:Decrypt"], "TokenKey"),
            Access::TokenKeyDescribe => grant(&["kms:DescribeKey"], "TokenKey"),
            Access::ObjectRead => {
                grant(&["s3:GetObject"], "${ObjectsBucket.Arn}/*");
                grant(&["s3:ListBucket"], "ObjectsBucket");
                grant(&["kms:Decrypt"], "DataKey");
            }
            Access::ObjectWrite => {
                grant(&["s3:PutObject", "s3:DeleteObject"], "${ObjectsBucket.Arn}/*");
                grant(&["kms:GenerateDataKey", "kms:Decrypt"], "DataKey");
            }
            Access::ExportRead => {
                grant(&["s3:GetObject"], "${ObjectsBucket.Arn}/exports/*");
                grant(&["kms:Decrypt"], "DataKey");
            }
            Access::ExportWrite => {
                grant(
                    &["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    "${ObjectsBucket.Arn}/exports/*",
                );
                grant(&["kms:GenerateDataKey", "kms:Decrypt"], "DataKey");
            }
        }
    }
    grants
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The resource a statement names, as in `expected_grants`; wildcards and
/// anything unrecognised are reported.
fn resource_label(resource: &Value, problems: &mut Vec<String>, function: &str) -> Option<String> {
    // No let-chains: the workspace's rust-version is 1.85.
    if let Some([id, attribute]) = resource["Fn::GetAtt"].as_array().map(Vec::as_slice) {
        return match attribute.as_str() {
            Some("Arn") => id.as_str().map(str::to_owned),
            _ => {
                problems.push(format!("{function}: resource {resource} is not an ARN"));
                None
            }
        };
    }
    if let Some(text) = resource["Fn::Sub"].as_str() {
        return Some(text.to_owned());
    }
    problems.push(format!(
        "{function}: resource {resource} is not a resource of this stack"
    ));
    None
}

/// Every way the template disagrees with the catalogue and the repository.
fn problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let empty = serde_json::Map::new();
    let resources = template["Resources"].as_object().unwrap_or(&empty);

    if template["Transform"] != "AWS::Serverless-2016-10-31" {
        problems.push("Transform is not AWS::Serverless-2016-10-31".into());
    }

    // cfn-lint and sam validate accept a wrong architecture or runtime here.
    let globals = &template["Globals"]["Function"];
    if globals["Architectures"] != json!(["arm64"]) {
        problems.push(format!(
            "Globals Architectures is {}, not [arm64]",
            globals["Architectures"]
        ));
    }
    if globals["Runtime"] != "provided.al2023" {
        problems.push(format!(
            "Globals Runtime is {}, not provided.al2023",
            globals["Runtime"]
        ));
    }
    if globals["Handler"] != "bootstrap" {
        problems.push("Globals Handler is not bootstrap".into());
    }
    let variables = &globals["Environment"]["Variables"];
    // What `AwsConfig::from_env` requires, and the public URL of email links.
    let mut required_env = vec!["TABLE_NAME", "TOKEN_KEY_ID", "OBJECTS_BUCKET", "KONNECS_PUBLIC_URL"];
    required_env.extend(QueueName::ALL.map(QueueName::url_env));
    for name in required_env {
        if variables[name].is_null() {
            problems.push(format!(
                "Globals environment lacks {name} (AwsConfig::from_env requires it)"
            ));
        }
    }
    let timeout = globals["Timeout"].as_u64().unwrap_or(0);

    // Catalogue → template: one function per Lambda entry, with its trigger.
    let entries = lambda_entries();
    for entry in &entries {
        let id = format!("{}Function", pascal(entry.name));
        let Some(function) = resources.get(&id) else {
            problems.push(format!(
                "catalogue entry {} has no function {id} in template.yaml",
                entry.name
            ));
            continue;
        };
        let properties = &function["Properties"];
        if function["Type"] != "AWS::Serverless::Function" {
            problems.push(format!(
                "{id} is a {}, not an AWS::Serverless::Function",
                function["Type"]
            ));
        }
        if properties["CodeUri"] != format!("target/lambda/{}/", entry.name) {
            problems.push(format!(
                "{id}: CodeUri {} is not target/lambda/{}/",
                properties["CodeUri"], entry.name
            ));
        }
        if !properties["FunctionName"].is_null() {
            problems.push(format!("{id}: FunctionName is hard-coded"));
        }
        if !properties["Role"].is_null() || !properties["PermissionsBoundary"].is_null() {
            problems.push(format!("{id}: its role must come from Policies, derived from access"));
        }
        let events: Vec<&Value> = properties["Events"]
            .as_object()
            .map(|e| e.values().collect())
            .unwrap_or_default();
        // Every trigger: one SAM event, or for a queue one event source
        // mapping (a SAM SQS event would add a managed policy on all queues).
        let mappings: Vec<&Value> = resources
            .values()
            .filter(|r| {
                r["Type"] == "AWS::Lambda::EventSourceMapping"
                    && r["Properties"]["FunctionName"] == json!({ "Ref": id })
            })
            .collect();
        let triggered = match entry.trigger {
            Trigger::Http { method, path, .. } => {
                events.len() == 1
                    && mappings.is_empty()
                    && events[0]["Type"] == "HttpApi"
                    && events[0]["Properties"]["Method"] == method.as_str()
                    && events[0]["Properties"]["Path"] == path
                    && events[0]["Properties"]["ApiId"] == json!({ "Ref": "HttpApi" })
            }
            Trigger::Schedule { every, .. } => {
                let props = events.first().map(|e| &e["Properties"]);
                events.len() == 1
                    && mappings.is_empty()
                    && ((events[0]["Type"] == "Schedule" && props.is_some_and(|p| p["Schedule"] == every))
                        || (events[0]["Type"] == "ScheduleV2"
                            && props.is_some_and(|p| p["ScheduleExpression"] == every)))
            }
            Trigger::Queue { queue, .. } => {
                let props = mappings.first().map(|m| &m["Properties"]);
                events.is_empty()
                    && mappings.len() == 1
                    && props.is_some_and(|p| {
                        p["EventSourceArn"] == get_att(&queue_id(queue), "Arn")
                            && p["FunctionResponseTypes"] == json!(["ReportBatchItemFailures"])
                            && p["BatchSize"] == 10
                    })
            }
        };
        if !triggered {
            problems.push(format!(
                "{id}: its events ({} SAM events, {} event source mappings) do not match the catalogue trigger of {}",
                events.len(),
                mappings.len(),
                entry.name
            ));
        }
        if let Trigger::Queue { queue, .. } = entry.trigger {
            let visibility = resources
                .get(&queue_id(queue))
                .and_then(|q| q["Properties"]["VisibilityTimeout"].as_u64())
                .unwrap_or(0);
            if visibility < 6 * timeout {
                problems.push(format!(
                    "{}: visibility {visibility} s < 6 × consumer timeout {timeout} s",
                    queue_id(queue)
                ));
            }
        }

        // IAM: exactly the grants implied by access, nothing else.
        let mut granted = BTreeSet::new();
        for policy in as_list(&properties["Policies"]) {
            let Some(statements) = policy["Statement"].as_array() else {
                problems.push(format!("{id}: policy {policy} is not an inline policy document"));
                continue;
            };
            for statement in statements {
                if statement["Effect"] != "Allow"
                    || !statement["NotAction"].is_null()
                    || !statement["NotResource"].is_null()
                {
                    problems.push(format!("{id}: statement {statement} is not a plain Allow"));
                }
                let labels: Vec<String> = as_list(&statement["Resource"])
                    .iter()
                    .filter_map(|resource| resource_label(resource, &mut problems, &id))
                    .collect();
                for action in as_list(&statement["Action"]) {
                    let action = action.as_str().unwrap_or("?").to_owned();
                    if action.contains('*') {
                        problems.push(format!("{id}: wildcard action {action}"));
                    }
                    for label in &labels {
                        if label == "*" {
                            problems.push(format!("{id}: wildcard resource"));
                        }
                        granted.insert((action.clone(), label.clone()));
                    }
                }
            }
        }
        let expected = expected_grants(&entry.effective_access());
        for extra in granted.difference(&expected) {
            problems.push(format!("{id}: grants {extra:?}, which its access list does not imply"));
        }
        for missing in expected.difference(&granted) {
            problems.push(format!("{id}: lacks {missing:?}, which its access list implies"));
        }

        let log_group = resources.get(&format!("{}LogGroup", pascal(entry.name)));
        let log_name = json!({ "Fn::Sub": format!("/aws/lambda/${{{id}}}") });
        if !log_group.is_some_and(|g| g["Type"] == "AWS::Logs::LogGroup" && g["Properties"]["LogGroupName"] == log_name)
        {
            problems.push(format!("{id}: no log group /aws/lambda/${{{id}}}"));
        }
        if !log_group.is_some_and(|g| g["Properties"]["RetentionInDays"].is_u64()) {
            problems.push(format!("{id}: its log group has no retention"));
        }
    }

    // Template → catalogue: no function, role or policy beyond the entries.
    let expected_ids: BTreeSet<String> = entries.iter().map(|e| format!("{}Function", pascal(e.name))).collect();
    for (id, resource) in resources {
        match resource["Type"].as_str() {
            Some("AWS::Serverless::Function" | "AWS::Lambda::Function") if !expected_ids.contains(id) => problems.push(
                format!("function {id} in template.yaml is no Runtime::Both catalogue entry"),
            ),
            Some("AWS::Lambda::EventSourceMapping") => {
                let target = resource["Properties"]["FunctionName"]["Ref"].as_str().unwrap_or("?");
                let consumer = entries.iter().any(|e| {
                    matches!(e.trigger, Trigger::Queue { .. }) && format!("{}Function", pascal(e.name)) == target
                });
                if !consumer {
                    problems.push(format!("{id}: maps events to {target}, which consumes no queue"));
                }
            }
            Some(kind @ ("AWS::IAM::Role" | "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy")) => {
                problems.push(format!("{id}: a {kind} outside the access-derived function policies"))
            }
            _ => {}
        }
    }

    // Table: keys and indexes of the Table port, TTL, PITR, KMS encryption.
    let table = resources
        .values()
        .find(|r| r["Type"] == "AWS::DynamoDB::Table")
        .cloned()
        .unwrap_or(Value::Null);
    let table = &table["Properties"];
    let key_schema = |index: Index| {
        let (partition, sort) = index.key_attributes();
        json!([{ "AttributeName": partition, "KeyType": "HASH" }, { "AttributeName": sort, "KeyType": "RANGE" }])
    };
    if table["KeySchema"] != key_schema(Index::Primary) {
        problems.push("table key schema is not pk/sk".into());
    }
    for index in Index::SECONDARY {
        let found = as_list(&table["GlobalSecondaryIndexes"])
            .into_iter()
            .any(|gsi| gsi["IndexName"] == index.name().unwrap_or_default() && gsi["KeySchema"] == key_schema(index));
        if !found {
            problems.push(format!("table lacks GSI {index:?}"));
        }
    }
    if table["BillingMode"] != "PAY_PER_REQUEST" {
        problems.push("table is not on-demand".into());
    }
    if table["TimeToLiveSpecification"] != json!({ "AttributeName": EXPIRES_AT, "Enabled": true }) {
        problems.push(format!("table TTL is not on {EXPIRES_AT}"));
    }
    if table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] != true {
        problems.push("table has no point-in-time recovery".into());
    }
    let sse = &table["SSESpecification"];
    if sse["SSEEnabled"] != true || sse["SSEType"] != "KMS" || sse["KMSMasterKeyId"] != get_att("DataKey", "Arn") {
        problems.push("table is not encrypted with the customer-managed DataKey".into());
    }
    for key in ["DataKey", "TokenKey"] {
        let resource = resources.get(key).cloned().unwrap_or(Value::Null);
        if resource["Type"] != "AWS::KMS::Key" || resource["Properties"]["EnableKeyRotation"] != true {
            problems.push(format!("{key} is not a KMS key with rotation"));
        }
    }

    // Queues: each with an encrypted DLQ, redrive and an alarm on the DLQ.
    for queue in QueueName::ALL {
        let id = queue_id(queue);
        let Some(resource) = resources.get(&id).filter(|r| r["Type"] == "AWS::SQS::Queue") else {
            problems.push(format!("queue {} has no SQS queue {id}", queue.as_str()));
            continue;
        };
        let properties = &resource["Properties"];
        if properties["KmsMasterKeyId"].is_null() {
            problems.push(format!("{id} is not encrypted with KMS"));
        }
        if properties["VisibilityTimeout"].as_u64().unwrap_or(0) < queue.visibility_seconds() {
            problems.push(format!("{id}: visibility timeout below visibility_seconds()"));
        }
        let redrive = &properties["RedrivePolicy"];
        if redrive["maxReceiveCount"] != queue.max_receives() {
            problems.push(format!("{id}: maxReceiveCount is not {}", queue.max_receives()));
        }
        let dlq = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_default();
        let dlq_resource = resources.get(dlq).filter(|r| r["Type"] == "AWS::SQS::Queue");
        match dlq_resource {
            None => problems.push(format!("{id} has no dead-letter queue")),
            Some(dlq_resource) => {
                if dlq_resource["Properties"]["KmsMasterKeyId"].is_null() {
                    problems.push(format!("{dlq} is not encrypted with KMS"));
                }
                if dlq_resource["Properties"]["MessageRetentionPeriod"] != 14 * 24 * 3600 {
                    problems.push(format!("{dlq} does not keep messages 14 days"));
                }
            }
        }
        let alarmed = resources.values().any(|r| {
            let p = &r["Properties"];
            r["Type"] == "AWS::CloudWatch::Alarm"
                && p["MetricName"] == "ApproximateNumberOfMessagesVisible"
                && p["Dimensions"][0]["Value"] == get_att(dlq, "QueueName")
                && p["Threshold"] == 0
                && p["ComparisonOperator"] == "GreaterThanThreshold"
        });
        if !alarmed {
            problems.push(format!("{id}: no alarm on its dead-letter queue {dlq}"));
        }
    }
    problems
}

fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "template.yaml drifted from the catalogue:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn template_matches_the_catalogue_in_both_directions() {
    assert_no_problems(&problems(&committed()));
}

#[test]
fn every_lambda_entry_has_a_binary_and_every_binary_an_entry() {
    let dir = repo().join("functions/src/bin");
    let binaries: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_owned))
        .collect();
    let entries: BTreeSet<String> = lambda_entries().iter().map(|entry| entry.name.to_owned()).collect();
    assert_eq!(
        binaries, entries,
        "functions/src/bin/*.rs and the Runtime::Both catalogue entries differ"
    );
}

#[test]
fn committed_template_is_the_generators_output() {
    let generated = konnecs_infra::render().unwrap_or_else(|e| panic!("the generator failed: {e}"));
    assert!(
        committed_text() == generated,
        "template.yaml is stale: run `{}`",
        konnecs_infra::REGENERATE
    );
}

// The checks above must bite: each mutation of the committed template is caught.

fn mutated(mutate: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut template = committed();
    mutate(&mut template);
    problems(&template)
}

#[test]
fn a_deleted_function_is_drift() {
    let problems = mutated(|t| {
        t["Resources"].as_object_mut().map(|r| r.remove("HealthFunction"));
    });
    assert!(
        problems.iter().any(|p| p.contains("has no function HealthFunction")),
        "{problems:?}"
    );
}

#[test]
fn a_function_outside_the_catalogue_is_drift() {
    let problems = mutated(|t| t["Resources"]["StrayFunction"] = t["Resources"]["OpenapiFunction"].clone());
    assert!(problems.iter().any(|p| p.contains("StrayFunction")), "{problems:?}");
}

#[test]
fn an_extra_or_wildcard_action_is_drift() {
    let problems = mutated(|t| {
        if let Some(statements) =
            t["Resources"]["HealthFunction"]["Properties"]["Policies"][0]["Statement"].as_array_mut()
        {
            statements.push(
                json!({ "Effect": "Allow", "Action": ["dynamodb:PutItem"], "Resource": get_att("Table", "Arn") }),
            );
            statements.push(json!({ "Effect": "Allow", "Action": "s3:*", "Resource": "*" }));
        }
    });
    assert!(problems.iter().any(|p| p.contains("dynamodb:PutItem")), "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("wildcard action s3:*")),
        "{problems:?}"
    );
}

#[test]
fn a_wrong_architecture_is_drift() {
    let problems = mutated(|t| t["Globals"]["Function"]["Architectures"] = json!(["x86_64"]));
    assert!(problems.iter().any(|p| p.contains("Architectures")), "{problems:?}");
}

/// Export files live as long as their job records, and uploads a crashed
/// export left unfinished do not linger in the bucket.
#[test]
fn the_bucket_expires_exports_with_their_records_and_drops_unfinished_uploads() {
    let template = committed();
    let rules = template["Resources"]["ObjectsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_array()
        .expect("the objects bucket has lifecycle rules")
        .clone();
    let exports = rules
        .iter()
        .find(|rule| rule["Prefix"] == "exports/")
        .expect("a rule for exports/");
    assert_eq!(exports["Status"], "Enabled");
    assert_eq!(
        exports["ExpirationInDays"].as_i64(),
        Some(konnecs::services::exports::job::RETENTION_DAYS)
    );
    let unfinished = rules
        .iter()
        .find(|rule| rule.get("AbortIncompleteMultipartUpload").is_some())
        .expect("a rule for unfinished uploads");
    assert_eq!(unfinished["Status"], "Enabled");
    assert!(unfinished.get("Prefix").is_none(), "it covers the whole bucket");
    assert_eq!(unfinished["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"], 1);
}
