//! The committed templates (`template.yaml` and the nested stacks in
//! `infra/stacks/`) against the route catalogue, in both directions. The
//! templates are parsed here on their own and the expectations are written
//! out again rather than taken from the generator, so a bug in the generator
//! cannot hide itself; the last check then pins the files to the
//! generator's output so a catalogue edit without regenerating fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use konnecs::catalogue::{self, Access, Entry, QueueName, Runtime, Trigger};
use konnecs::ports::secrets::Integration;
use konnecs::ports::table::{EXPIRES_AT, Index};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The nested stack files present in `infra/stacks/`, as repository paths.
fn committed_stack_paths() -> Vec<String> {
    let dir = repo().join("infra/stacks");
    let mut paths: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok()?.file_name().to_str().map(str::to_owned))
        .filter(|name| name.ends_with(".yaml"))
        .map(|name| format!("infra/stacks/{name}"))
        .collect();
    paths.sort();
    paths
}

fn parse(relative: &str) -> Value {
    serde_yaml_ng::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative} is not valid YAML: {e}"))
}

/// The root template and every nested one, by repository path.
struct Templates {
    root: Value,
    nested: BTreeMap<String, Value>,
}

fn committed() -> Templates {
    Templates {
        root: parse("template.yaml"),
        nested: committed_stack_paths()
            .iter()
            .map(|path| (path.clone(), parse(path)))
            .collect(),
    }
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
            Access::Secret(integration) => {
                grant(
                    &["secretsmanager:GetSecretValue"],
                    &format!("{}Secret", pascal(integration.as_str())),
                );
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

/// What the root binds a nested stack's parameter to: its application's
/// `Parameters` entry. Nested stacks name root resources only this way.
fn binding<'a>(root: &'a Value, path: &str, parameter: &str) -> Option<&'a Value> {
    root["Resources"]
        .as_object()?
        .values()
        .find(|r| r["Type"] == "AWS::Serverless::Application" && r["Properties"]["Location"] == path)?
        ["Properties"]["Parameters"]
        .get(parameter)
}

/// The root resource a nested statement names, as in `expected_grants`:
/// `Ref P` where the root binds P to `GetAtt [X, Arn]` (or to `Ref X`, a
/// secret's ARN) is `X`; `Fn::Sub "${P}/x"` is `${X.Arn}/x`. Wildcards and
/// anything else are reported.
fn resource_label(
    root: &Value,
    path: &str,
    resource: &Value,
    problems: &mut Vec<String>,
    function: &str,
) -> Option<String> {
    let bound_arn = |parameter: &str| -> Option<String> {
        let value = binding(root, path, parameter)?;
        if let Some([id, attribute]) = value["Fn::GetAtt"].as_array().map(Vec::as_slice) {
            return (attribute == "Arn").then(|| id.as_str().map(str::to_owned)).flatten();
        }
        let id = value["Ref"].as_str()?;
        let secret = root["Resources"][id]["Type"] == "AWS::SecretsManager::Secret";
        secret.then(|| id.to_owned())
    };
    if let Some(parameter) = resource["Ref"].as_str() {
        let label = bound_arn(parameter);
        if label.is_none() {
            problems.push(format!(
                "{function}: resource Ref {parameter} is not bound to a root resource's ARN"
            ));
        }
        return label;
    }
    if let Some(text) = resource["Fn::Sub"].as_str() {
        let Some((parameter, rest)) = text.strip_prefix("${").and_then(|t| t.split_once('}')) else {
            problems.push(format!("{function}: resource {text} does not start with a parameter"));
            return None;
        };
        return match bound_arn(parameter) {
            Some(id) => Some(format!("${{{id}.Arn}}{rest}")),
            None => {
                problems.push(format!(
                    "{function}: {parameter} in {text} is not a root resource's ARN"
                ));
                None
            }
        };
    }
    problems.push(format!(
        "{function}: resource {resource} is not a resource of the root stack"
    ));
    None
}

/// The repository path of a nested stack's template for an area part.
fn area_of(path: &str) -> String {
    let stem = path.trim_start_matches("infra/stacks/").trim_end_matches(".yaml");
    // `contacts-2` is the second part of `contacts`.
    match stem.rsplit_once('-') {
        Some((area, part)) if part.chars().all(|c| c.is_ascii_digit()) => area.to_owned(),
        _ => stem.to_owned(),
    }
}

/// Every way the templates disagree with the catalogue and the repository.
fn problems(templates: &Templates) -> Vec<String> {
    let mut problems = Vec::new();
    let empty = serde_json::Map::new();
    let root = &templates.root;
    let root_resources = root["Resources"].as_object().unwrap_or(&empty);

    // Root: the SAM transform, one application per nested template, and
    // the API every route attaches to.
    if root["Transform"] != "AWS::Serverless-2016-10-31" {
        problems.push("template.yaml: Transform is not AWS::Serverless-2016-10-31".into());
    }
    let applications: Vec<String> = root_resources
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Application")
        .filter_map(|r| r["Properties"]["Location"].as_str().map(str::to_owned))
        .collect();
    let nested_paths: Vec<String> = templates.nested.keys().cloned().collect();
    let mut sorted_applications = applications.clone();
    sorted_applications.sort();
    if sorted_applications != nested_paths {
        problems.push(format!(
            "template.yaml nests {sorted_applications:?}, but infra/stacks holds {nested_paths:?}"
        ));
    }
    if root_resources.get("HttpApi").map(|r| &r["Type"]) != Some(&json!("AWS::ApiGatewayV2::Api")) {
        problems.push("template.yaml has no HttpApi (AWS::ApiGatewayV2::Api)".into());
    }

    // Catalogue → templates: each Lambda entry exactly once, in its area's stack.
    let entries = lambda_entries();
    let mut placed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, template) in &templates.nested {
        problems.extend(nested_problems(root, path, template, &entries, &mut placed));
    }
    for entry in &entries {
        let id = format!("{}Function", pascal(entry.name));
        match placed.get(&id).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "catalogue entry {} has no function {id} in any nested stack",
                entry.name
            )),
            Some([path]) if area_of(path) != entry.area.as_str() => problems.push(format!(
                "{id} is in {path}, not in a stack of its area {}",
                entry.area.as_str()
            )),
            Some([_]) => {}
            Some(paths) => problems.push(format!("{id} is deployed {} times: {paths:?}", paths.len())),
        }
    }

    // Template → catalogue: no function, role or policy beyond the entries.
    let resources = root_resources;
    for (id, resource) in resources {
        match resource["Type"].as_str() {
            Some("AWS::Serverless::Function" | "AWS::Lambda::Function") => {
                problems.push(format!("template.yaml: function {id} belongs in a nested stack"))
            }
            Some(kind @ ("AWS::IAM::Role" | "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy")) => problems.push(format!(
                "template.yaml: {id}: a {kind} outside the access-derived function policies"
            )),
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

/// The problems of one nested stack; records where each function sits.
fn nested_problems(
    root: &Value,
    path: &str,
    template: &Value,
    entries: &[&'static Entry],
    placed: &mut BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let empty = serde_json::Map::new();
    let resources = template["Resources"].as_object().unwrap_or(&empty);
    if template["Transform"] != "AWS::Serverless-2016-10-31" {
        problems.push(format!("{path}: Transform is not AWS::Serverless-2016-10-31"));
    }
    // Every parameter the stack declares is bound by the root, and no other.
    let declared: BTreeSet<&String> = template["Parameters"].as_object().unwrap_or(&empty).keys().collect();
    let bound: BTreeSet<&String> = root["Resources"]
        .as_object()
        .and_then(|r| r.values().find(|r| r["Properties"]["Location"] == path))
        .and_then(|a| a["Properties"]["Parameters"].as_object())
        .unwrap_or(&empty)
        .keys()
        .collect();
    if declared != bound {
        problems.push(format!(
            "{path}: declares parameters {declared:?}, the root binds {bound:?}"
        ));
    }

    // cfn-lint and sam validate accept a wrong architecture or runtime here.
    let globals = &template["Globals"]["Function"];
    if globals["Architectures"] != json!(["arm64"]) {
        problems.push(format!(
            "{path}: Globals Architectures is {}, not [arm64]",
            globals["Architectures"]
        ));
    }
    if globals["Runtime"] != "provided.al2023" {
        problems.push(format!(
            "{path}: Globals Runtime is {}, not provided.al2023",
            globals["Runtime"]
        ));
    }
    if globals["Handler"] != "bootstrap" {
        problems.push(format!("{path}: Globals Handler is not bootstrap"));
    }
    let variables = &globals["Environment"]["Variables"];
    // What `AwsConfig::from_env` requires, and the public URL of email links,
    // each bound by the root to the resource it names.
    let mut required_env = vec![
        ("TABLE_NAME", json!({ "Ref": "Table" })),
        ("TOKEN_KEY_ID", json!({ "Ref": "TokenKey" })),
        ("OBJECTS_BUCKET", json!({ "Ref": "ObjectsBucket" })),
        ("KONNECS_PUBLIC_URL", json!({ "Ref": "PublicUrl" })),
    ];
    for queue in QueueName::ALL {
        required_env.push((queue.url_env(), json!({ "Ref": queue_id(queue) })));
    }
    for (name, expected) in required_env {
        let bound = variables[name]["Ref"]
            .as_str()
            .and_then(|parameter| binding(root, path, parameter));
        if bound != Some(&expected) {
            problems.push(format!(
                "{path}: Globals environment {name} is not bound to {expected} (AwsConfig::from_env requires it)"
            ));
        }
    }
    // One log group for the stack, with a retention, that every function uses.
    let log_group = globals["LoggingConfig"]["LogGroup"]["Ref"]
        .as_str()
        .and_then(|id| resources.get(id));
    if !log_group.is_some_and(|g| g["Type"] == "AWS::Logs::LogGroup" && g["Properties"]["RetentionInDays"].is_u64()) {
        problems.push(format!(
            "{path}: functions log to no log group of the stack with a retention"
        ));
    }
    let timeout = globals["Timeout"].as_u64().unwrap_or(0);

    for entry in entries {
        let id = format!("{}Function", pascal(entry.name));
        let Some(function) = resources.get(&id) else {
            continue;
        };
        placed.entry(id.clone()).or_default().push(path.to_owned());
        let properties = &function["Properties"];
        if function["Type"] != "AWS::Serverless::Function" {
            problems.push(format!(
                "{id} is a {}, not an AWS::Serverless::Function",
                function["Type"]
            ));
        }
        // `sam build` compiles the entry's binary from the functions crate.
        if properties["CodeUri"] != "../../functions"
            || function["Metadata"]["BuildMethod"] != "rust-cargolambda"
            || function["Metadata"]["BuildProperties"]["Binary"] != entry.name
        {
            problems.push(format!(
                "{id}: not built by rust-cargolambda from ../../functions as binary {}",
                entry.name
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
        let of_function = |kind: &str, property: &str, expected: &Value| -> Vec<&Value> {
            resources
                .values()
                .filter(|r| r["Type"] == kind && &r["Properties"][property] == expected)
                .collect()
        };
        let mappings = of_function("AWS::Lambda::EventSourceMapping", "FunctionName", &json!({ "Ref": id }));
        let integrations = of_function("AWS::ApiGatewayV2::Integration", "IntegrationUri", &get_att(&id, "Arn"));
        let permissions = of_function("AWS::Lambda::Permission", "FunctionName", &json!({ "Ref": id }));
        let api_bound = |api: &Value| {
            api["Ref"].as_str().and_then(|parameter| binding(root, path, parameter))
                == Some(&json!({ "Ref": "HttpApi" }))
        };
        let triggered = match entry.trigger {
            Trigger::Http {
                method,
                path: route_path,
                ..
            } => {
                let integration_id = resources
                    .iter()
                    .find(|(_, r)| integrations.first().is_some_and(|i| std::ptr::eq(*i, *r)))
                    .map(|(key, _)| key.clone())
                    .unwrap_or_default();
                let routes: Vec<&Value> = resources
                    .values()
                    .filter(|r| {
                        r["Type"] == "AWS::ApiGatewayV2::Route"
                            && r["Properties"]["Target"]
                                == json!({ "Fn::Sub": format!("integrations/${{{integration_id}}}") })
                    })
                    .collect();
                events.is_empty()
                    && mappings.is_empty()
                    && integrations.len() == 1
                    && integrations[0]["Properties"]["IntegrationType"] == "AWS_PROXY"
                    && integrations[0]["Properties"]["PayloadFormatVersion"] == "2.0"
                    && api_bound(&integrations[0]["Properties"]["ApiId"])
                    && {
                        // Its method, and OPTIONS when it answers its own CORS preflight.
                        let mut expected = vec![method.as_str()];
                        if entry.answers_preflight() {
                            expected.push("OPTIONS");
                        }
                        let mut keys: Vec<String> = routes
                            .iter()
                            .filter(|r| api_bound(&r["Properties"]["ApiId"]))
                            .map(|r| r["Properties"]["RouteKey"].as_str().unwrap_or_default().to_string())
                            .collect();
                        keys.sort();
                        let mut wanted: Vec<String> = expected.iter().map(|m| format!("{m} {route_path}")).collect();
                        wanted.sort();
                        let mut granted: Vec<&str> = expected
                            .iter()
                            .copied()
                            .filter(|m| {
                                permissions.iter().any(|p| {
                                    p["Properties"]["Principal"] == "apigateway.amazonaws.com"
                                        && p["Properties"]["SourceArn"]["Fn::Sub"]
                                            .as_str()
                                            .is_some_and(|arn| arn.contains(&format!("/*/{m}/")))
                                })
                            })
                            .collect();
                        granted.dedup();
                        routes.len() == expected.len()
                            && keys == wanted
                            && permissions.len() == expected.len()
                            && granted.len() == expected.len()
                    }
            }
            Trigger::Schedule { every, .. } => {
                let props = events.first().map(|e| &e["Properties"]);
                events.len() == 1
                    && mappings.is_empty()
                    && integrations.is_empty()
                    && ((events[0]["Type"] == "Schedule" && props.is_some_and(|p| p["Schedule"] == every))
                        || (events[0]["Type"] == "ScheduleV2"
                            && props.is_some_and(|p| p["ScheduleExpression"] == every)))
            }
            Trigger::Queue { queue, .. } => {
                let props = mappings.first().map(|m| &m["Properties"]);
                events.is_empty()
                    && integrations.is_empty()
                    && mappings.len() == 1
                    && props.is_some_and(|p| {
                        p["EventSourceArn"]["Ref"]
                            .as_str()
                            .and_then(|parameter| binding(root, path, parameter))
                            == Some(&get_att(&queue_id(queue), "Arn"))
                            && p["FunctionResponseTypes"] == json!(["ReportBatchItemFailures"])
                            && p["BatchSize"] == 10
                    })
            }
        };
        if !triggered {
            problems.push(format!(
                "{id}: its events ({} SAM events, {} mappings, {} integrations) do not match the catalogue trigger of {}",
                events.len(),
                mappings.len(),
                integrations.len(),
                entry.name
            ));
        }
        if let Trigger::Queue { queue, .. } = entry.trigger {
            let visibility = root["Resources"][queue_id(queue)]["Properties"]["VisibilityTimeout"]
                .as_u64()
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
                    .filter_map(|resource| resource_label(root, path, resource, &mut problems, &id))
                    .collect();
                for action in as_list(&statement["Action"]) {
                    let action = action.as_str().unwrap_or("?").to_owned();
                    if action.contains('*') {
                        problems.push(format!("{id}: wildcard action {action}"));
                    }
                    for label in &labels {
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
        // The secrets it declares, by ARN (their values come from Secrets Manager).
        let own = &properties["Environment"]["Variables"];
        for integration in Integration::ALL {
            let name = integration.secret_id_env();
            let secret = format!("{}Secret", pascal(integration.as_str()));
            let bound = own[name]["Ref"]
                .as_str()
                .and_then(|parameter| binding(root, path, parameter));
            let declared = entry.secrets().contains(&integration);
            if declared != (bound == Some(&json!({ "Ref": secret }))) {
                problems.push(format!(
                    "{id}: {name} is {}, but the entry {} the {} secret",
                    own[name],
                    if declared { "declares" } else { "does not declare" },
                    integration.as_str()
                ));
            }
        }
    }

    // Template → catalogue: no function, mapping or role beyond the entries.
    let expected_ids: BTreeSet<String> = entries.iter().map(|e| format!("{}Function", pascal(e.name))).collect();
    for (id, resource) in resources {
        match resource["Type"].as_str() {
            Some("AWS::Serverless::Function" | "AWS::Lambda::Function") if !expected_ids.contains(id) => {
                problems.push(format!("{path}: function {id} is no Runtime::Both catalogue entry"))
            }
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
    problems
}

fn assert_no_problems(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "the templates drifted from the catalogue:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn templates_match_the_catalogue_in_both_directions() {
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
fn every_lambda_main_picks_its_own_entry_while_compiling() {
    // The entry comes from the binary's own name, in a `const`: a main cannot
    // run another function's entry (a name the catalogue lacks fails the
    // build), and nothing in the binary refers to the rest of the list, so
    // fat LTO drops every other handler (BENCHMARKS.md, package size).
    let pick = r#"const ENTRY: konnecs::catalogue::Entry = konnecs::catalogue::entry(env!("CARGO_BIN_NAME"));"#;
    let dir = repo().join("functions/src/bin");
    let mut checked = 0;
    for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let path = file.expect("a directory entry").path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("a UTF-8 file name")
            .to_owned();
        let main = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            main.contains(pick) && main.contains("konnecs::lambda::run(ENTRY)"),
            "functions/src/bin/{name}.rs must run `{pick}` (its own entry, picked at compile time)"
        );
        assert!(
            !main.contains("catalogue::find")
                && !main.contains("catalogue::entries")
                && main.matches("entry(").count() == 1,
            "functions/src/bin/{name}.rs looks an entry up another way"
        );
        let doc = format!("//! Lambda `{name}`:");
        assert!(
            main.starts_with(&doc),
            "functions/src/bin/{name}.rs must start with `{doc}`"
        );
        checked += 1;
    }
    assert_eq!(checked, lambda_entries().len(), "one main per deployed entry");
}

#[test]
fn committed_templates_are_the_generators_output() {
    let generated =
        konnecs_infra::render_all(catalogue::entries()).unwrap_or_else(|e| panic!("the generator failed: {e}"));
    for (path, yaml) in &generated {
        assert!(
            repo().join(path).exists() && read(path) == *yaml,
            "{path} is stale or missing: run `{}`",
            konnecs_infra::REGENERATE
        );
    }
    // No stack file the generator no longer writes.
    for path in committed_stack_paths() {
        assert!(
            generated.iter().any(|(generated, _)| *generated == path),
            "{path} is no longer generated: run `{}`",
            konnecs_infra::REGENERATE
        );
    }
}

// The checks above must bite: each mutation of the committed templates is caught.

fn mutated(mutate: impl FnOnce(&mut Templates)) -> Vec<String> {
    let mut templates = committed();
    mutate(&mut templates);
    problems(&templates)
}

/// The nested template holding a resource.
fn holding<'a>(templates: &'a mut Templates, id: &str) -> &'a mut Value {
    templates
        .nested
        .values_mut()
        .find(|t| t["Resources"].get(id).is_some())
        .unwrap_or_else(|| panic!("no nested stack holds {id}"))
}

#[test]
fn a_deleted_function_is_drift() {
    let problems = mutated(|t| {
        holding(t, "HealthFunction")["Resources"]
            .as_object_mut()
            .map(|r| r.remove("HealthFunction"));
    });
    assert!(
        problems.iter().any(|p| p.contains("has no function HealthFunction")),
        "{problems:?}"
    );
}

#[test]
fn a_function_outside_the_catalogue_or_its_area_is_drift() {
    let problems = mutated(|t| {
        let openapi = holding(t, "OpenapiFunction")["Resources"]["OpenapiFunction"].clone();
        holding(t, "HealthFunction")["Resources"]["StrayFunction"] = openapi;
        // A function moved to another area's stack.
        let list = holding(t, "ContactsListFunction")["Resources"]
            .as_object_mut()
            .and_then(|r| r.remove("ContactsListFunction"))
            .expect("present");
        holding(t, "DealsListFunction")["Resources"]["ContactsListFunction"] = list;
    });
    assert!(problems.iter().any(|p| p.contains("StrayFunction")), "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("ContactsListFunction is in") && p.contains("contacts")),
        "{problems:?}"
    );
}

#[test]
fn an_extra_or_wildcard_action_is_drift() {
    let problems = mutated(|t| {
        let stack = holding(t, "HealthFunction");
        if let Some(statements) =
            stack["Resources"]["HealthFunction"]["Properties"]["Policies"][0]["Statement"].as_array_mut()
        {
            statements.push(
                json!({ "Effect": "Allow", "Action": ["dynamodb:DeleteTable"], "Resource": { "Ref": "TableArn" } }),
            );
            statements.push(json!({ "Effect": "Allow", "Action": "s3:*", "Resource": "*" }));
        }
    });
    assert!(
        problems.iter().any(|p| p.contains("dynamodb:DeleteTable")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("wildcard action s3:*")),
        "{problems:?}"
    );
}

#[test]
fn a_wrong_architecture_is_drift() {
    let problems =
        mutated(|t| holding(t, "HealthFunction")["Globals"]["Function"]["Architectures"] = json!(["x86_64"]));
    assert!(problems.iter().any(|p| p.contains("Architectures")), "{problems:?}");
}

#[test]
fn a_route_on_the_wrong_path_or_api_is_drift() {
    let problems = mutated(|t| {
        let stack = holding(t, "ContactsGetRoute");
        stack["Resources"]["ContactsGetRoute"]["Properties"]["RouteKey"] = json!("GET /contacts");
        stack["Resources"]["ContactsUpdateRoute"]["Properties"]["ApiId"] = json!("abc123");
    });
    assert!(
        problems.iter().any(|p| p.contains("ContactsGetFunction")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("ContactsUpdateFunction")),
        "{problems:?}"
    );
}

#[test]
fn a_missing_or_unpermitted_preflight_route_is_drift() {
    // The public submit answers its CORS preflight: without its OPTIONS
    // route a cross-site JSON post fails on AWS (it works locally).
    let problems = mutated(|t| {
        let stack = holding(t, "PublicFormSubmitPreflightRoute");
        if let Some(resources) = stack["Resources"].as_object_mut() {
            resources.remove("PublicFormSubmitPreflightRoute");
        }
    });
    assert!(
        problems.iter().any(|p| p.contains("PublicFormSubmitFunction")),
        "{problems:?}"
    );
    let problems = mutated(|t| {
        let stack = holding(t, "PublicFormSubmitPreflightPermission");
        if let Some(resources) = stack["Resources"].as_object_mut() {
            resources.remove("PublicFormSubmitPreflightPermission");
        }
    });
    assert!(
        problems.iter().any(|p| p.contains("PublicFormSubmitFunction")),
        "{problems:?}"
    );
}

#[test]
fn a_wrongly_bound_parameter_or_undeclared_secret_is_drift() {
    let problems = mutated(|t| {
        // The jobs queue's ARN bound to the reminders queue.
        let location = t
            .nested
            .iter()
            .find(|(_, n)| n["Resources"].get("JobsWorkerFunction").is_some())
            .map(|(path, _)| path.clone())
            .expect("held");
        if let Some(application) = t.root["Resources"].as_object_mut().and_then(|r| {
            r.values_mut()
                .find(|a| a["Properties"]["Location"] == location.as_str())
        }) {
            application["Properties"]["Parameters"]["JobsQueueArn"] = get_att("RemindersQueue", "Arn");
        }
        // A function that declares no secret given one.
        holding(t, "HealthFunction")["Resources"]["HealthFunction"]["Properties"]["Environment"] =
            json!({ "Variables": { "RESEND_SECRET_ARN": { "Ref": "ResendSecretArn" } } });
    });
    assert!(
        problems
            .iter()
            .any(|p| p.contains("JobsWorkerFunction") && p.contains("RemindersQueue")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("HealthFunction: RESEND_SECRET_ARN")),
        "{problems:?}"
    );
}

/// Export files live as long as their job records, and uploads a crashed
/// export left unfinished do not linger in the bucket.
#[test]
fn the_bucket_expires_exports_with_their_records_and_drops_unfinished_uploads() {
    let template = committed().root;
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
