//! The nested stacks: the functions of one feature area ([`Area`]), each
//! with its trigger and its IAM policy, attached to the root stack's
//! resources through parameters. An area whose functions would pass
//! [`STACK_RESOURCE_BUDGET`] after the SAM transform continues in a second
//! part (`<area>-2.yaml`), and so on.

use konnecs::catalogue::{Area, Entry, Trigger};
use serde_json::{Map, Value, json};

use crate::{
    BILLING_PARAMETER, FUNCTION_MEMORY_MB, FUNCTION_TIMEOUT_SECONDS, HTTP_API_ID_PARAMETER, LOG_RETENTION_DAYS,
    OBJECTS_BUCKET_NAME_PARAMETER, PUBLIC_URL_PARAMETER, SQS_BATCH_SIZE, STACK_RESOURCE_BUDGET, STACKS_DIR,
    TABLE_NAME_PARAMETER, TOKEN_KEY_ID_PARAMETER, arn_parameter, function_id, get_att, pascal_case, queue_id,
    queue_url_parameter, reference, secret_id, shared_parameters, statements, sub,
};
use konnecs::catalogue::QueueName;

/// The functions crate, seen from a nested template in `infra/stacks/`:
/// `sam build` runs `cargo lambda build --bin <name>` there.
pub const FUNCTIONS_CODE_URI: &str = "../../functions";
/// SAM's own Rust build (cargo-lambda); `sam build --beta-features`.
pub const BUILD_METHOD: &str = "rust-cargolambda";
/// The log group every function of the stack writes to (one per stack
/// rather than one per function: a resource less per function).
pub const LOG_GROUP: &str = "LogGroup";

/// One nested stack: an area, or one part of a large area.
#[derive(Clone)]
pub struct StackPlan {
    pub area: Area,
    /// 1 for the area's first stack, 2 for its second, ...
    pub part: usize,
    pub entries: Vec<Entry>,
}

impl StackPlan {
    /// `contacts`, then `contacts-2`, ...
    pub fn stem(&self) -> String {
        match self.part {
            1 => self.area.as_str().to_owned(),
            n => format!("{}-{n}", self.area.as_str()),
        }
    }

    /// The nested stack's logical id in the root: `ContactsStack`, `Contacts2Stack`.
    pub fn logical_id(&self) -> String {
        format!("{}Stack", pascal_case(&self.stem()))
    }

    /// Its template, relative to the repository root (and to `template.yaml`).
    pub fn path(&self) -> String {
        format!("{STACKS_DIR}/{}.yaml", self.stem())
    }
}

/// What a stack holds besides its functions: its log group.
pub const STACK_OVERHEAD_RESOURCES: usize = 1;

/// The CloudFormation resources an entry becomes after the SAM transform:
/// the function and its role, plus its trigger's (route, integration and
/// invoke permission; rule and permission; event source mapping).
pub fn transformed_resources(entry: &Entry) -> usize {
    // A preflighted route adds its OPTIONS route and that route's permission.
    let preflight = if entry.answers_preflight() { 2 } else { 0 };
    2 + preflight
        + match entry.trigger {
            Trigger::Http { .. } => 3,
            Trigger::Schedule { .. } => 2,
            Trigger::Queue { .. } => 1,
        }
}

/// The stacks for these Lambda entries: areas in `Area` order, each split
/// into as few parts as keep every part within the budget.
pub fn plan(entries: &[Entry]) -> Vec<StackPlan> {
    let mut plans = Vec::new();
    for area in Area::ALL {
        let mut part = StackPlan {
            area,
            part: 1,
            entries: Vec::new(),
        };
        let mut count = STACK_OVERHEAD_RESOURCES;
        for entry in entries.iter().filter(|entry| entry.area == area) {
            let size = transformed_resources(entry);
            if count + size > STACK_RESOURCE_BUDGET && !part.entries.is_empty() {
                let next = part.part + 1;
                plans.push(std::mem::replace(
                    &mut part,
                    StackPlan {
                        area,
                        part: next,
                        entries: Vec::new(),
                    },
                ));
                count = STACK_OVERHEAD_RESOURCES;
            }
            part.entries.push(*entry);
            count += size;
        }
        if !part.entries.is_empty() {
            plans.push(part);
        }
    }
    plans
}

pub fn integration_id(name: &str) -> String {
    format!("{}Integration", pascal_case(name))
}

pub fn route_id(name: &str) -> String {
    format!("{}Route", pascal_case(name))
}

pub fn permission_id(name: &str) -> String {
    format!("{}Permission", pascal_case(name))
}

/// The `OPTIONS` route of an entry that answers its CORS preflight.
pub fn preflight_route_id(name: &str) -> String {
    format!("{}PreflightRoute", pascal_case(name))
}

pub fn preflight_permission_id(name: &str) -> String {
    format!("{}PreflightPermission", pascal_case(name))
}

/// Logical id of a queue consumer's event source mapping.
pub fn event_source_id(name: &str) -> String {
    format!("{}EventSource", pascal_case(name))
}

/// `/contacts/{contactId}/notes` → `/contacts/*/notes`: the resource part of
/// an execute-api ARN matches path parameters with wildcards.
fn arn_path(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { "*" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// An HTTP entry's route on the root's API: integration, route, and the
/// API's permission to invoke the function for that route only; for an
/// entry that answers its CORS preflight, the same for its `OPTIONS`.
fn route_resources(entry: &Entry, resources: &mut Map<String, Value>) {
    let Trigger::Http { method, path, .. } = entry.trigger else {
        return;
    };
    let function = function_id(entry.name);
    let integration = integration_id(entry.name);
    resources.insert(
        integration.clone(),
        json!({
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": reference(HTTP_API_ID_PARAMETER),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": get_att(&function, "Arn"),
                "PayloadFormatVersion": "2.0"
            }
        }),
    );
    let mut methods = vec![(method.as_str(), route_id(entry.name), permission_id(entry.name))];
    if entry.answers_preflight() {
        methods.push((
            "OPTIONS",
            preflight_route_id(entry.name),
            preflight_permission_id(entry.name),
        ));
    }
    for (method, route, permission) in methods {
        resources.insert(
            route,
            json!({
                "Type": "AWS::ApiGatewayV2::Route",
                "Properties": {
                    "ApiId": reference(HTTP_API_ID_PARAMETER),
                    "RouteKey": format!("{method} {path}"),
                    "Target": sub(&format!("integrations/${{{integration}}}"))
                }
            }),
        );
        resources.insert(
            permission,
            json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": reference(&function),
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": sub(&format!(
                        "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{HTTP_API_ID_PARAMETER}}}/*/{method}{}",
                        arn_path(path)
                    ))
                }
            }),
        );
    }
}

/// A queue consumer's trigger, declared as a plain event source mapping
/// rather than a SAM `SQS` event: for that event SAM attaches the managed
/// policy AWSLambdaSQSQueueExecutionRole (SQS actions on every queue), while
/// the mapping polls with the role's own `QueueConsume` statements.
pub fn event_source_mapping(entry: &Entry) -> Option<Value> {
    let Trigger::Queue { queue, .. } = entry.trigger else {
        return None;
    };
    Some(json!({
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": reference(&function_id(entry.name)),
            "EventSourceArn": reference(&arn_parameter(&queue_id(queue))),
            "BatchSize": SQS_BATCH_SIZE,
            "FunctionResponseTypes": ["ReportBatchItemFailures"]
        }
    }))
}

/// The function of an entry: built by SAM from the functions crate (its
/// binary of the same name), IAM from its access list, the ARNs (never the
/// values) of the secrets it declares.
pub fn function(entry: &Entry) -> Value {
    let mut properties = json!({
        "Description": entry.summary,
        "CodeUri": FUNCTIONS_CODE_URI,
    });
    // An EventBridge rule (not ScheduleV2/Scheduler): it delivers the
    // "Scheduled Event" envelope `lambda::handle_schedule` parses.
    if let Trigger::Schedule { every, .. } = entry.trigger {
        properties["Events"] = json!({ "Schedule": { "Type": "Schedule", "Properties": { "Schedule": every } } });
    }
    let statements = statements(&entry.effective_access());
    if !statements.is_empty() {
        properties["Policies"] = json!([{ "Version": "2012-10-17", "Statement": statements }]);
    }
    let secrets = entry.secrets();
    if !secrets.is_empty() {
        let variables: Map<String, Value> = secrets
            .iter()
            .map(|integration| {
                (
                    integration.secret_id_env().to_owned(),
                    reference(&arn_parameter(&secret_id(*integration))),
                )
            })
            .collect();
        properties["Environment"] = json!({ "Variables": variables });
    }
    json!({
        "Type": "AWS::Serverless::Function",
        "Metadata": {
            "BuildMethod": BUILD_METHOD,
            "BuildProperties": { "Binary": entry.name },
            "Source": format!("functions/src/bin/{}.rs", entry.name)
        },
        "Properties": properties
    })
}

/// What `AwsConfig::from_env` reads, for every function of the stack.
fn environment() -> Map<String, Value> {
    let mut variables = Map::new();
    variables.insert("TABLE_NAME".into(), reference(TABLE_NAME_PARAMETER));
    for queue in QueueName::ALL {
        variables.insert(queue.url_env().into(), reference(&queue_url_parameter(queue)));
    }
    variables.insert("TOKEN_KEY_ID".into(), reference(TOKEN_KEY_ID_PARAMETER));
    variables.insert("OBJECTS_BUCKET".into(), reference(OBJECTS_BUCKET_NAME_PARAMETER));
    // Not the API's own URL: that would make every function depend on the API
    // that depends on them (a cycle); a custom domain is the usual value anyway.
    variables.insert("KONNECS_PUBLIC_URL".into(), reference(PUBLIC_URL_PARAMETER));
    variables.insert("KONNECS_LOG".into(), json!("info"));
    // Not a secret: limits are checked by functions that hold no Stripe key.
    variables.insert("KONNECS_BILLING".into(), reference(BILLING_PARAMETER));
    variables
}

/// Every parameter name `value` refers to, by `Ref` or inside `Fn::Sub`.
fn referenced_names(value: &Value, names: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("Ref") {
                names.insert(name.clone());
            }
            if let Some(Value::String(text)) = map.get("Fn::Sub") {
                for piece in text.split("${").skip(1) {
                    if let Some((name, _)) = piece.split_once('}') {
                        names.insert(name.to_owned());
                    }
                }
            }
            map.values().for_each(|v| referenced_names(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| referenced_names(v, names)),
        _ => {}
    }
}

/// The nested template of one stack plan.
pub fn nested_template(plan: &StackPlan) -> Value {
    let mut resources = Map::new();
    resources.insert(
        LOG_GROUP.into(),
        json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                // Not under /aws/: Lambda cannot write to such a custom group.
                "LogGroupName": sub("/konnecs/${AWS::StackName}"),
                "RetentionInDays": LOG_RETENTION_DAYS
            }
        }),
    );
    for entry in &plan.entries {
        resources.insert(function_id(entry.name), function(entry));
        route_resources(entry, &mut resources);
        if let Some(mapping) = event_source_mapping(entry) {
            resources.insert(event_source_id(entry.name), mapping);
        }
    }
    let globals = json!({
        "Function": {
            "Runtime": "provided.al2023",
            "Architectures": ["arm64"],
            "Handler": "bootstrap",
            "MemorySize": FUNCTION_MEMORY_MB,
            "Timeout": FUNCTION_TIMEOUT_SECONDS,
            // One group per stack; Lambda names each stream after its function.
            "LoggingConfig": { "LogFormat": "JSON", "LogGroup": reference(LOG_GROUP) },
            "Environment": { "Variables": environment() }
        }
    });
    let mut used = std::collections::BTreeSet::new();
    referenced_names(&Value::Object(resources.clone()), &mut used);
    referenced_names(&globals, &mut used);
    let parameters: Map<String, Value> = shared_parameters()
        .into_iter()
        .filter(|(name, _, _)| used.contains(name))
        .map(|(name, _, description)| (name, json!({ "Type": "String", "Description": description })))
        .collect();
    let part = match plan.part {
        1 => String::new(),
        n => format!(" (part {n})"),
    };
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": format!(
            "Konnecs CRM, {} area{part}: its Lambdas, their triggers and least-privilege roles. Nested in template.yaml.",
            plan.area.as_str()
        ),
        "Parameters": parameters,
        "Globals": globals,
        "Resources": resources
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions;
    use konnecs::catalogue::{self, Access, Method};
    use konnecs::ports::secrets::Integration;

    fn accept_all(
        _: konnecs::app::AppState,
        _: Vec<konnecs::inbound::events::Message>,
    ) -> std::pin::Pin<Box<dyn Future<Output = konnecs::inbound::events::BatchOutcome> + Send>> {
        Box::pin(async { konnecs::inbound::events::BatchOutcome::default() })
    }

    fn health() -> Entry {
        *catalogue::find("health").expect("health is in the catalogue")
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
            ..health()
        };
        // A SAM `SQS` event would add AWSLambdaSQSQueueExecutionRole (Resource "*").
        assert!(function(&entry)["Properties"].get("Events").is_none());
        let mapping = event_source_mapping(&entry).expect("a queue entry has a mapping");
        assert_eq!(
            mapping["Properties"]["FunctionName"],
            reference("ContactsImportFunction")
        );
        assert_eq!(mapping["Properties"]["EventSourceArn"], reference("JobsQueueArn"));
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
    fn no_access_means_no_policies() {
        // A route without rate limits: limited routes count in the table.
        let entry = Entry {
            name: "unlimited-example",
            access: &[],
            ..health()
        };
        assert!(function(&entry)["Properties"].get("Policies").is_none());
    }

    #[test]
    fn a_route_attaches_to_the_root_api_and_may_invoke_only_its_function() {
        let Trigger::Http { route, .. } = health().trigger else {
            panic!("health is an HTTP route")
        };
        let entry = Entry {
            name: "notes-update",
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/contacts/{contactId}/notes/{noteId}",
                route,
            },
            ..health()
        };
        let mut resources = Map::new();
        route_resources(&entry, &mut resources);
        let route = &resources["NotesUpdateRoute"]["Properties"];
        assert_eq!(route["ApiId"], reference("HttpApiId"));
        assert_eq!(route["RouteKey"], "PATCH /contacts/{contactId}/notes/{noteId}");
        assert_eq!(route["Target"], sub("integrations/${NotesUpdateIntegration}"));
        let integration = &resources["NotesUpdateIntegration"]["Properties"];
        assert_eq!(integration["IntegrationUri"], get_att("NotesUpdateFunction", "Arn"));
        assert_eq!(integration["PayloadFormatVersion"], "2.0");
        let permission = &resources["NotesUpdatePermission"]["Properties"];
        assert_eq!(permission["FunctionName"], reference("NotesUpdateFunction"));
        assert_eq!(
            permission["SourceArn"],
            sub(
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApiId}/*/PATCH/contacts/*/notes/*"
            )
        );
        assert_eq!(resources.len(), transformed_resources(&entry) - 2);
    }

    #[test]
    fn a_function_names_its_declared_secrets_by_arn_only() {
        let worker = catalogue::find("jobs-worker").expect("in the catalogue");
        let variables = &function(worker)["Properties"]["Environment"]["Variables"];
        assert_eq!(variables["RESEND_SECRET_ARN"], reference("ResendSecretArn"));
        assert_eq!(variables["TWILIO_SECRET_ARN"], reference("TwilioSecretArn"));
        // Bookings' calendar events and the Contacts import run in it.
        assert_eq!(variables["GOOGLE_SECRET_ARN"], reference("GoogleSecretArn"));
        assert_eq!(variables.as_object().map(Map::len), Some(3));
        // A function without secrets has no environment of its own.
        assert!(function(&health())["Properties"].get("Environment").is_none());
    }

    /// `count` routes in one area, for sizing.
    fn routes(area: Area, count: usize) -> Vec<Entry> {
        (0..count)
            .map(|i| Entry {
                name: Box::leak(format!("{}-route-{i}", area.as_str()).into_boxed_str()),
                area,
                ..health()
            })
            .collect()
    }

    #[test]
    fn a_large_area_continues_in_parts_within_the_budget() {
        let mut entries = routes(Area::Contacts, 200);
        entries.extend(routes(Area::Deals, 3));
        let plans = plan(&entries);
        let stems: Vec<String> = plans.iter().map(StackPlan::stem).collect();
        assert_eq!(stems, ["contacts", "contacts-2", "contacts-3", "deals"]);
        assert_eq!(plans[1].logical_id(), "Contacts2Stack");
        assert_eq!(plans[1].path(), "infra/stacks/contacts-2.yaml");
        for plan in &plans {
            let size: usize = STACK_OVERHEAD_RESOURCES + plan.entries.iter().map(transformed_resources).sum::<usize>();
            assert!(size <= STACK_RESOURCE_BUDGET, "{} holds {size}", plan.stem());
        }
        // Every entry lands in exactly one part, in catalogue order.
        let placed: Vec<&str> = plans.iter().flat_map(|p| p.entries.iter().map(|e| e.name)).collect();
        let expected: Vec<&str> = entries.iter().map(|e| e.name).collect();
        assert_eq!(placed, expected);
    }

    #[test]
    fn a_stack_declares_the_parameters_it_uses_and_no_other() {
        let worker = *catalogue::find("jobs-worker").expect("in the catalogue");
        let template = nested_template(&StackPlan {
            area: Area::Platform,
            part: 1,
            entries: vec![worker],
        });
        let declared: Vec<&str> = template["Parameters"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        for needed in [
            "JobsQueueArn",
            "ResendSecretArn",
            "TwilioSecretArn",
            "TableArn",
            "PublicUrl",
        ] {
            assert!(declared.contains(&needed), "{needed} in {declared:?}");
        }
        // No route: no API id; no Stripe: no Stripe secret.
        assert!(!declared.contains(&"HttpApiId"));
        assert!(!declared.contains(&"StripeSecretArn"));
        assert_eq!(
            template["Globals"]["Function"]["LoggingConfig"]["LogGroup"],
            reference(LOG_GROUP)
        );
        let _ = Integration::ALL;
    }
}
