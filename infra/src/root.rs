//! The root stack (`template.yaml`): the resources every area shares and
//! one `AWS::Serverless::Application` per nested stack, handing each the
//! ids and ARNs it declares as parameters.

use konnecs::catalogue::QueueName;
use konnecs::integrations::placeholder;
use konnecs::ports::object_store::{ABANDONED_UPLOAD_DAYS, EXPIRY_RULES};
use konnecs::ports::secrets::Integration;
use konnecs::ports::table::{EXPIRES_AT, Index};
use serde_json::{Map, Value, json};

use crate::*;

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

/// The HTTP API every route of the nested stacks attaches to, and its
/// `$default` stage. A plain API Gateway v2 API rather than a SAM HttpApi:
/// SAM builds routes into an HttpApi's OpenAPI body from events in the same
/// template only, and re-importing such a body would drop routes other
/// stacks created.
fn http_api_resources(resources: &mut Map<String, Value>) {
    resources.insert(
        HTTP_API.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": sub("${AWS::StackName}"),
                "ProtocolType": "HTTP",
                "Description": "Konnecs CRM: every HTTP route of the route catalogue"
            }
        }),
    );
    resources.insert(
        HTTP_API_STAGE.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": { "ApiId": reference(HTTP_API), "StageName": "$default", "AutoDeploy": true }
        }),
    );
    // The optional custom domain (its certificate in ACM, same region).
    resources.insert(
        API_DOMAIN.into(),
        json!({
            "Type": "AWS::ApiGatewayV2::DomainName",
            "Condition": HAS_CUSTOM_DOMAIN,
            "Properties": {
                "DomainName": reference(DOMAIN_NAME_PARAMETER),
                "DomainNameConfigurations": [{
                    "CertificateArn": reference(CERTIFICATE_ARN_PARAMETER),
                    "EndpointType": "REGIONAL",
                    "SecurityPolicy": "TLS_1_2"
                }]
            }
        }),
    );
    resources.insert(
        format!("{API_DOMAIN}Mapping"),
        json!({
            "Type": "AWS::ApiGatewayV2::ApiMapping",
            "Condition": HAS_CUSTOM_DOMAIN,
            "Properties": {
                "ApiId": reference(HTTP_API),
                "DomainName": reference(API_DOMAIN),
                "Stage": reference(HTTP_API_STAGE)
            }
        }),
    );
}

/// One secret per integration, created with the placeholder (every field
/// empty: the integration is off). The operators put the real values with
/// `aws secretsmanager put-secret-value`; the template's placeholder never
/// changes, so later deployments leave those values alone.
fn secret(integration: Integration) -> Value {
    let fields: Vec<&str> = integration.fields().iter().map(|(name, _)| *name).collect();
    json!({
        "Type": "AWS::SecretsManager::Secret",
        // No fixed name: a deleted stack's secrets wait out their recovery
        // window, and a fixed name would block a stack of the same name
        // until then. The outputs name each secret by ARN.
        "Properties": {
            "Description": format!(
                "Konnecs {} credentials: a JSON object with {}; all empty means off (outbox).",
                integration.as_str(),
                fields.join(", ")
            ),
            "SecretString": placeholder(integration)
        }
    })
}

/// The root template: shared resources and one nested stack per area part.
pub fn root_template(plans: &[stacks::StackPlan]) -> Value {
    let mut resources = Map::new();
    http_api_resources(&mut resources);
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
        "ApiDomainTarget".into(),
        json!({
            "Condition": HAS_CUSTOM_DOMAIN,
            "Description": "Where the custom domain's DNS record (CNAME or alias) points",
            "Value": get_att(API_DOMAIN, "RegionalDomainName")
        }),
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
    for integration in Integration::ALL {
        let id = secret_id(integration);
        resources.insert(id.clone(), secret(integration));
        outputs.insert(
            arn_parameter(&id),
            json!({
                "Description": format!(
                    "The {} secret: put its values with aws secretsmanager put-secret-value --secret-id <this>",
                    integration.as_str()
                ),
                "Value": reference(&id)
            }),
        );
    }
    let shared = shared_parameters();
    for plan in plans {
        let nested = stacks::nested_template(plan);
        let declared = nested["Parameters"].as_object().cloned().unwrap_or_default();
        let parameters: Map<String, Value> = shared
            .iter()
            .filter(|(name, _, _)| declared.contains_key(name))
            .map(|(name, value, _)| (name.clone(), value.clone()))
            .collect();
        resources.insert(
            plan.logical_id(),
            json!({
                "Type": "AWS::Serverless::Application",
                "Properties": { "Location": plan.path(), "Parameters": parameters }
            }),
        );
    }

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": "Konnecs CRM: one DynamoDB table, SQS queues, KMS keys, integration secrets, an alerts topic, the HTTP API, and one nested stack of Lambdas per feature area.",
        "Parameters": {
            PUBLIC_URL_PARAMETER: {
                "Type": "String",
                "Description": "Public base URL of the app, used in links in emails, e.g. https://app.konnecs.com",
                "AllowedPattern": "^https://[^/]+(/.*)?$"
            },
            BILLING_PARAMETER: {
                "Type": "String",
                "Description": "on where plans and their limits apply (fill the Stripe secret too); off to sell nothing",
                "Default": "off",
                "AllowedValues": ["on", "off"]
            },
            ALERT_EMAIL_PARAMETER: {
                "Type": "String",
                "Description": "Email address told of alarms (a dead-letter queue holding messages); empty for none",
                "Default": "",
                "AllowedPattern": "^$|^[^@\\s]+@[^@\\s]+$"
            },
            DOMAIN_NAME_PARAMETER: {
                "Type": "String",
                "Description": "Custom domain of the HTTP API, e.g. app.konnecs.com; empty for none (then point DNS at the ApiDomainTarget output)",
                "Default": "",
                "AllowedPattern": "^$|^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"
            },
            CERTIFICATE_ARN_PARAMETER: {
                "Type": "String",
                "Description": "ARN of the ACM certificate of DomainName, in the stack's region; empty without a custom domain",
                "Default": "",
                "AllowedPattern": "^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$"
            }
        },
        "Rules": {
            "CustomDomainNeedsCertificate": {
                "RuleCondition": { "Fn::Not": [{ "Fn::Equals": [reference(DOMAIN_NAME_PARAMETER), ""] }] },
                "Assertions": [{
                    "Assert": { "Fn::Not": [{ "Fn::Equals": [reference(CERTIFICATE_ARN_PARAMETER), ""] }] },
                    "AssertDescription": "A custom domain needs the ARN of its ACM certificate (CertificateArn)."
                }]
            }
        },
        "Conditions": {
            HAS_ALERT_EMAIL: { "Fn::Not": [{ "Fn::Equals": [reference(ALERT_EMAIL_PARAMETER), ""] }] },
            // Both, though the rule above already ties them: linters then
            // know the certificate is set wherever the domain's resources are.
            HAS_CUSTOM_DOMAIN: { "Fn::And": [
                { "Fn::Not": [{ "Fn::Equals": [reference(DOMAIN_NAME_PARAMETER), ""] }] },
                { "Fn::Not": [{ "Fn::Equals": [reference(CERTIFICATE_ARN_PARAMETER), ""] }] }
            ] }
        },
        "Resources": resources,
        "Outputs": outputs
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        crate::catalogue_templates().remove(0).template
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

    #[test]
    fn every_nested_stack_gets_exactly_the_parameters_it_declares() {
        let templates = crate::catalogue_templates();
        let root = &templates[0].template;
        let shared: Map<String, Value> = shared_parameters()
            .into_iter()
            .map(|(name, value, _)| (name, value))
            .collect();
        for nested in &templates[1..] {
            let application = root["Resources"]
                .as_object()
                .and_then(|r| r.values().find(|r| r["Properties"]["Location"] == nested.path.as_str()))
                .unwrap_or_else(|| panic!("no application for {}", nested.path));
            assert_eq!(application["Type"], "AWS::Serverless::Application");
            let passed = application["Properties"]["Parameters"].as_object().expect("parameters");
            let declared = nested.template["Parameters"].as_object().expect("parameters");
            let passed_names: Vec<&String> = passed.keys().collect();
            let declared_names: Vec<&String> = declared.keys().collect();
            assert_eq!(passed_names, declared_names, "{}", nested.path);
            for (name, value) in passed {
                assert_eq!(Some(value), shared.get(name), "{name}");
            }
        }
    }

    #[test]
    fn each_integration_has_a_placeholder_secret_named_in_the_outputs() {
        let template = template();
        for integration in Integration::ALL {
            let id = secret_id(integration);
            let secret = &template["Resources"][&id];
            assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
            let placeholder: Value =
                serde_json::from_str(secret["Properties"]["SecretString"].as_str().expect("text")).expect("JSON");
            for (field, _) in integration.fields() {
                assert_eq!(placeholder[*field], "", "{field} is empty in the placeholder");
            }
            assert_eq!(template["Outputs"][format!("{id}Arn")]["Value"], json!({ "Ref": id }));
        }
    }

    #[test]
    fn the_custom_domain_is_optional_and_needs_a_certificate() {
        let template = template();
        for id in [API_DOMAIN.to_owned(), format!("{API_DOMAIN}Mapping")] {
            assert_eq!(template["Resources"][&id]["Condition"], HAS_CUSTOM_DOMAIN, "{id}");
        }
        assert_eq!(template["Parameters"][DOMAIN_NAME_PARAMETER]["Default"], "");
        assert_eq!(template["Parameters"][CERTIFICATE_ARN_PARAMETER]["Default"], "");
        let rule = &template["Rules"]["CustomDomainNeedsCertificate"];
        assert_eq!(
            rule["Assertions"][0]["Assert"]["Fn::Not"][0]["Fn::Equals"][0],
            json!({ "Ref": CERTIFICATE_ARN_PARAMETER })
        );
    }
}
