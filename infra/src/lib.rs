//! The AWS SAM templates, generated from the route catalogue so every Lambda,
//! its trigger and its IAM policy follow the code:
//!
//! - `template.yaml`, the root stack: the shared resources (table, queues,
//!   KMS keys, bucket, integration secrets, alerts topic, HTTP API and its
//!   optional custom domain) and one nested stack per feature area;
//! - `infra/stacks/<area>.yaml` ([`stacks`]): one function per
//!   `Runtime::Both` entry of the area, its trigger (a route on the root's
//!   HTTP API, a schedule, a queue mapping) and an IAM policy derived from
//!   `Entry::access` only.
//!
//! CloudFormation refuses a stack of more than 500 resources, counted after
//! the SAM transform; an area that would pass [`STACK_RESOURCE_BUDGET`]
//! continues in `<area>-2.yaml`, so no product size reaches the limit.
//!
//! Intrinsics are written in long form (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`,
//! `{"Fn::Sub": ..}`) so the output is plain YAML any parser reads.

pub mod root;
pub mod stacks;

use konnecs::catalogue::{self, Access, Entry, QueueName, Runtime};
use konnecs::ports::secrets::Integration;
use serde_json::{Value, json};

/// The command that regenerates `template.yaml` and `infra/stacks/`, quoted
/// in their headers.
pub const REGENERATE: &str = "cargo run -p konnecs-infra --bin konnecs-template";
/// The root template, relative to the repository root.
pub const ROOT_TEMPLATE: &str = "template.yaml";
/// Where the nested stacks' templates live, relative to the repository root.
pub const STACKS_DIR: &str = "infra/stacks";

/// The most resources a generated stack may hold after the SAM transform:
/// CloudFormation's limit is 500, the rest is headroom for what SAM or a
/// later change adds.
pub const STACK_RESOURCE_BUDGET: usize = 400;

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

pub const TABLE: &str = "Table";
/// Encrypts the table and the queues at rest (privacy policy §14).
pub const DATA_KEY: &str = "DataKey";
/// Wraps the data keys of Google OAuth tokens (privacy policy §2).
pub const TOKEN_KEY: &str = "TokenKey";
pub const HTTP_API: &str = "HttpApi";
/// The HTTP API's `$default` stage, deployed on every route change.
pub const HTTP_API_STAGE: &str = "HttpApiStage";
/// Private objects: profile photos and data exports.
pub const OBJECTS_BUCKET: &str = "ObjectsBucket";
/// Stack parameter: the public base URL of links in emails.
pub const PUBLIC_URL_PARAMETER: &str = "PublicUrl";
/// Stack parameter: `on` where plans and their limits apply (set it with
/// the Stripe secret). Every function reads it as `KONNECS_BILLING`, so
/// checking a limit needs no Stripe key.
pub const BILLING_PARAMETER: &str = "Billing";
/// Where the operators' alarms (dead-letter queues) are published.
pub const ALERTS_TOPIC: &str = "OperatorAlerts";
/// Stack parameter: an email address subscribed to the alerts (optional).
pub const ALERT_EMAIL_PARAMETER: &str = "AlertEmail";
pub(crate) const HAS_ALERT_EMAIL: &str = "HasAlertEmail";
/// Stack parameters of the optional custom domain of the HTTP API.
pub const DOMAIN_NAME_PARAMETER: &str = "DomainName";
pub const CERTIFICATE_ARN_PARAMETER: &str = "CertificateArn";
pub(crate) const HAS_CUSTOM_DOMAIN: &str = "HasCustomDomain";
pub const API_DOMAIN: &str = "ApiDomain";

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

pub fn queue_id(queue: QueueName) -> String {
    format!("{}Queue", pascal_case(queue.as_str()))
}

pub fn dead_letter_queue_id(queue: QueueName) -> String {
    format!("{}DeadLetterQueue", pascal_case(queue.as_str()))
}

pub fn dead_letter_alarm_id(queue: QueueName) -> String {
    format!("{}DeadLetterAlarm", pascal_case(queue.as_str()))
}

/// Logical id of an integration's secret in the root stack: `ResendSecret`.
pub fn secret_id(integration: Integration) -> String {
    format!("{}Secret", pascal_case(integration.as_str()))
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

// What the root stack hands its nested stacks: each a parameter of the same
// name there, declared only by the stacks that use it.

pub const HTTP_API_ID_PARAMETER: &str = "HttpApiId";
pub const TABLE_NAME_PARAMETER: &str = "TableName";
pub const TOKEN_KEY_ID_PARAMETER: &str = "TokenKeyId";
pub const OBJECTS_BUCKET_NAME_PARAMETER: &str = "ObjectsBucketName";

/// Parameter carrying the ARN of a root resource: `Table` → `TableArn`.
pub fn arn_parameter(id: &str) -> String {
    format!("{id}Arn")
}

/// Parameter carrying a queue's URL: `JobsQueueUrl`.
pub fn queue_url_parameter(queue: QueueName) -> String {
    format!("{}Url", queue_id(queue))
}

/// Every parameter a nested stack may declare: its name, the root's value
/// for it and a description.
pub fn shared_parameters() -> Vec<(String, Value, String)> {
    let mut parameters = vec![
        (
            HTTP_API_ID_PARAMETER.to_owned(),
            reference(HTTP_API),
            "Id of the root stack's HTTP API".to_owned(),
        ),
        (
            PUBLIC_URL_PARAMETER.to_owned(),
            reference(PUBLIC_URL_PARAMETER),
            "Public base URL of links in emails".to_owned(),
        ),
        (
            BILLING_PARAMETER.to_owned(),
            reference(BILLING_PARAMETER),
            "on where plans and their limits apply".to_owned(),
        ),
        (
            TABLE_NAME_PARAMETER.to_owned(),
            reference(TABLE),
            "DynamoDB table".to_owned(),
        ),
        (
            arn_parameter(TABLE),
            get_att(TABLE, "Arn"),
            "ARN of the table".to_owned(),
        ),
        (
            arn_parameter(DATA_KEY),
            get_att(DATA_KEY, "Arn"),
            "ARN of the KMS key of the table, queues and bucket".to_owned(),
        ),
        (
            TOKEN_KEY_ID_PARAMETER.to_owned(),
            reference(TOKEN_KEY),
            "KMS key of OAuth-token envelopes".to_owned(),
        ),
        (
            arn_parameter(TOKEN_KEY),
            get_att(TOKEN_KEY, "Arn"),
            "ARN of the token key".to_owned(),
        ),
        (
            OBJECTS_BUCKET_NAME_PARAMETER.to_owned(),
            reference(OBJECTS_BUCKET),
            "S3 bucket of private objects".to_owned(),
        ),
        (
            arn_parameter(OBJECTS_BUCKET),
            get_att(OBJECTS_BUCKET, "Arn"),
            "ARN of the objects bucket".to_owned(),
        ),
    ];
    for queue in QueueName::ALL {
        parameters.push((
            queue_url_parameter(queue),
            reference(&queue_id(queue)),
            format!("URL of the {} queue", queue.as_str()),
        ));
        parameters.push((
            arn_parameter(&queue_id(queue)),
            get_att(&queue_id(queue), "Arn"),
            format!("ARN of the {} queue", queue.as_str()),
        ));
    }
    for integration in Integration::ALL {
        // `Ref` of a secret is its ARN: the id, never the value.
        parameters.push((
            arn_parameter(&secret_id(integration)),
            reference(&secret_id(integration)),
            format!("ARN of the {} secret (not its value)", integration.as_str()),
        ));
    }
    parameters
}

fn parameter(name: &str) -> Value {
    reference(name)
}

fn statement(sid: &str, actions: &[&str], resource: Value) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource })
}

/// A data-key statement usable only through `service` (DynamoDB, SQS or S3
/// encrypting on the caller's behalf), never by calling KMS directly.
fn data_key_statement(sid: &str, actions: &[&str], service: &str) -> Value {
    let mut statement = statement(sid, actions, parameter(&arn_parameter(DATA_KEY)));
    statement["Condition"] =
        json!({ "StringEquals": { "kms:ViaService": sub(&format!("{service}.${{AWS::Region}}.amazonaws.com")) } });
    statement
}

/// The IAM statements a function with this access list gets, and nothing
/// more: each statement names one resource of the root stack (through the
/// nested stack's parameters), no wildcards except the table's own indexes.
pub fn statements(access: &[Access]) -> Vec<Value> {
    let table_arn = arn_parameter(TABLE);
    let token_key_arn = arn_parameter(TOKEN_KEY);
    let bucket_arn = arn_parameter(OBJECTS_BUCKET);
    let mut statements = Vec::new();
    for access in access {
        match *access {
            Access::TableRead => {
                statements.push(statement(
                    "TableRead",
                    &["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
                    json!([parameter(&table_arn), sub(&format!("${{{table_arn}}}/index/*"))]),
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
                    parameter(&table_arn),
                ));
                statements.push(data_key_statement(
                    "TableWriteDataKey",
                    &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                    "dynamodb",
                ));
            }
            Access::QueueSend(queue) => {
                let sid = format!("QueueSend{}", pascal_case(queue.as_str()));
                statements.push(statement(
                    &sid,
                    &["sqs:SendMessage"],
                    parameter(&arn_parameter(&queue_id(queue))),
                ));
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
                    parameter(&arn_parameter(&queue_id(queue))),
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
                    parameter(&arn_parameter(&queue_id(queue))),
                ));
                statements.push(data_key_statement(&format!("{sid}DataKey"), &["kms:Decrypt"], "sqs"));
            }
            Access::TokenKeyEncrypt => statements.push(statement(
                "TokenKeyEncrypt",
                &["kms:GenerateDataKey"],
                parameter(&token_key_arn),
            )),
            Access::TokenKeyDecrypt => statements.push(statement(
                "TokenKeyDecrypt",
                &["kms:Decrypt"],
                parameter(&token_key_arn),
            )),
            Access::TokenKeyDescribe => statements.push(statement(
                "TokenKeyDescribe",
                &["kms:DescribeKey"],
                parameter(&token_key_arn),
            )),
            Access::ObjectRead => {
                statements.push(statement(
                    "ObjectRead",
                    &["s3:GetObject"],
                    sub(&format!("${{{bucket_arn}}}/*")),
                ));
                // Without ListBucket, S3 answers a missing key with 403 instead of 404.
                statements.push(statement("ObjectReadList", &["s3:ListBucket"], parameter(&bucket_arn)));
                // Objects are encrypted with the data key (bucket key): reading needs Decrypt via S3.
                statements.push(data_key_statement("ObjectReadDataKey", &["kms:Decrypt"], "s3"));
            }
            Access::ObjectWrite => {
                statements.push(statement(
                    "ObjectWrite",
                    &["s3:PutObject", "s3:DeleteObject"],
                    sub(&format!("${{{bucket_arn}}}/*")),
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
                    sub(&format!("${{{bucket_arn}}}/exports/*")),
                ));
                statements.push(data_key_statement("ExportReadDataKey", &["kms:Decrypt"], "s3"));
            }
            Access::ExportWrite => {
                statements.push(statement(
                    "ExportWrite",
                    // PutObject also covers the parts and completion of a multipart upload.
                    &["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    sub(&format!("${{{bucket_arn}}}/exports/*")),
                ));
                statements.push(data_key_statement(
                    "ExportWriteDataKey",
                    &["kms:GenerateDataKey", "kms:Decrypt"],
                    "s3",
                ));
            }
            Access::Secret(integration) => statements.push(statement(
                &format!("Secret{}", pascal_case(integration.as_str())),
                &["secretsmanager:GetSecretValue"],
                parameter(&arn_parameter(&secret_id(integration))),
            )),
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

/// One generated template: where it goes (relative to the repository root)
/// and its content.
pub struct Template {
    pub path: String,
    pub template: Value,
}

/// Every template for `entries` (the Lambda ones are picked here): the root
/// first, then the nested stacks in area order.
pub fn templates(entries: &[Entry]) -> Vec<Template> {
    let lambdas: Vec<Entry> = entries
        .iter()
        .filter(|entry| entry.runtime == Runtime::Both)
        .copied()
        .collect();
    let plans = stacks::plan(&lambdas);
    let mut templates = vec![Template {
        path: ROOT_TEMPLATE.to_owned(),
        template: root::root_template(&plans),
    }];
    templates.extend(plans.iter().map(|plan| Template {
        path: plan.path(),
        template: stacks::nested_template(plan),
    }));
    templates
}

/// The templates of today's catalogue.
pub fn catalogue_templates() -> Vec<Template> {
    templates(catalogue::entries())
}

/// A template as committed: a header naming its source, then the YAML.
pub fn render(template: &Value) -> Result<String, serde_yaml_ng::Error> {
    let body = quote_dates(&serde_yaml_ng::to_string(template)?);
    Ok(format!(
        "# Generated by `{REGENERATE}`\n\
         # from shared/src/catalogue/mod.rs. Do not edit: tests/template_drift.rs fails\n\
         # when this file and the generator disagree.\n{body}"
    ))
}

/// Every template of `entries`, rendered: (path, YAML).
pub fn render_all(entries: &[Entry]) -> Result<Vec<(String, String)>, serde_yaml_ng::Error> {
    templates(entries)
        .into_iter()
        .map(|template| Ok((template.path, render(&template.template)?)))
        .collect()
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
        assert_eq!(secret_id(Integration::Resend), "ResendSecret");
        assert_eq!(arn_parameter(&queue_id(QueueName::Jobs)), "JobsQueueArn");
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
        assert_eq!(statements[0]["Resource"][0], reference("TableArn"));
        assert_eq!(statements[0]["Resource"][1], sub("${TableArn}/index/*"));
    }

    #[test]
    fn queue_access_includes_the_data_key_via_sqs_only() {
        let statements = statements(&[Access::QueueSend(QueueName::Jobs)]);
        assert_eq!(statements[0]["Resource"], reference("JobsQueueArn"));
        assert_eq!(statements[1]["Action"], json!(["kms:GenerateDataKey", "kms:Decrypt"]));
        assert_eq!(statements[1]["Resource"], reference("DataKeyArn"));
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
    fn a_secret_grants_reading_that_secret_only() {
        let statements = statements(&[Access::Secret(Integration::Twilio)]);
        assert_eq!(statements.len(), 1);
        assert_eq!(statements[0]["Action"], json!(["secretsmanager:GetSecretValue"]));
        assert_eq!(statements[0]["Resource"], reference("TwilioSecretArn"));
    }

    #[test]
    fn no_wildcard_actions_in_function_policies() {
        let templates = catalogue_templates();
        let actions: Vec<String> = templates.iter().flat_map(|t| all_actions(&t.template)).collect();
        assert!(!actions.is_empty());
        assert!(actions.iter().all(|action| !action.contains('*')), "{actions:?}");
    }

    #[test]
    fn one_function_per_lambda_entry_across_the_nested_stacks() {
        let templates = catalogue_templates();
        assert_eq!(templates[0].path, ROOT_TEMPLATE);
        let mut found = Vec::new();
        for template in &templates[1..] {
            assert!(template.path.starts_with("infra/stacks/"), "{}", template.path);
            let resources = template.template["Resources"].as_object().expect("resources");
            for (id, resource) in resources {
                if resource["Type"] == "AWS::Serverless::Function" {
                    found.push(id.clone());
                    assert_eq!(resource["Properties"]["CodeUri"], "../../functions");
                    assert_eq!(resource["Metadata"]["BuildMethod"], "rust-cargolambda");
                }
            }
        }
        let mut expected: Vec<String> = lambda_entries().map(|entry| function_id(entry.name)).collect();
        found.sort();
        expected.sort();
        assert_eq!(found, expected);
        // Local-only work (the embedded store's sweep) is no Lambda.
        assert!(!found.contains(&"StoreSweepFunction".to_owned()));
        // And no function sits in the root stack.
        let root = templates[0].template["Resources"].as_object().expect("resources");
        assert!(root.values().all(|r| r["Type"] != "AWS::Serverless::Function"));
    }

    #[test]
    fn rendered_yaml_parses_back_to_the_templates() {
        for (template, (path, yaml)) in catalogue_templates()
            .iter()
            .zip(render_all(catalogue::entries()).expect("renders"))
        {
            assert_eq!(template.path, path);
            assert!(yaml.starts_with("# Generated by"));
            let parsed: Value = serde_yaml_ng::from_str(&yaml).expect("parses");
            assert_eq!(parsed, template.template, "{path}");
        }
    }

    #[test]
    fn date_like_versions_are_quoted() {
        assert_eq!(
            quote_dates("A: 2010-09-09\n  Version: 2012-10-17\n- 2012-10-17\nB: 2012-10-177\n"),
            "A: '2010-09-09'\n  Version: '2012-10-17'\n- '2012-10-17'\nB: 2012-10-177\n"
        );
    }
}
