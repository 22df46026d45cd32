//! No secret value is a template parameter or a function's environment
//! variable: the committed templates (root and nested) are read here and
//! every parameter, environment variable and secret resource is checked.
//! Functions get the ARN of each secret they declare and read the value
//! from Secrets Manager at start (`konnecs::integrations`).

use std::path::{Path, PathBuf};

use konnecs::ports::secrets::Integration;
use serde_json::{Value, json};

/// (path, template), the root first.
type Templates = Vec<(String, Value)>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every committed template by its path: the root and `infra/stacks/*.yaml`.
fn committed() -> Templates {
    let mut paths = vec![repo().join("template.yaml")];
    let stacks = repo().join("infra/stacks");
    let mut nested: Vec<PathBuf> = std::fs::read_dir(&stacks)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", stacks.display()))
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    nested.sort();
    assert!(!nested.is_empty(), "no nested stacks in infra/stacks");
    paths.extend(nested);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let template = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), template)
        })
        .collect()
}

/// The local environment variables that hold secret values.
fn secret_variables() -> Vec<&'static str> {
    Integration::ALL
        .iter()
        .flat_map(|integration| integration.fields().iter().map(|(_, env)| *env))
        .collect()
}

fn all_strings<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => found.push(text),
        Value::Array(items) => items.iter().for_each(|v| all_strings(v, found)),
        Value::Object(map) => map.values().for_each(|v| all_strings(v, found)),
        _ => {}
    }
}

/// Every way the templates could carry a secret value.
fn problems(templates: &Templates) -> Vec<String> {
    let mut problems = Vec::new();
    let root = templates.first().map(|(_, t)| t.clone()).unwrap_or(Value::Null);
    let root_resources = root["Resources"].as_object().cloned().unwrap_or_default();
    let is_secret_resource = |id: &str| {
        root_resources
            .get(id)
            .is_some_and(|r| r["Type"] == "AWS::SecretsManager::Secret")
    };

    for (path, template) in templates {
        // Parameters: none hidden (NoEcho is how a secret parameter looks),
        // and any that names a secret carries its ARN, bound by the root to
        // the secret resource itself.
        for (name, parameter) in template["Parameters"].as_object().into_iter().flatten() {
            if parameter["NoEcho"] == true || parameter["NoEcho"] == "true" {
                problems.push(format!(
                    "{path}: parameter {name} is NoEcho (a secret value as parameter)"
                ));
            }
            let lower = name.to_lowercase();
            let secretish = ["secret", "password", "token", "apikey", "api_key", "auth"]
                .iter()
                .any(|word| lower.contains(word));
            if secretish && !(name.ends_with("Arn") || name.ends_with("Id")) {
                problems.push(format!("{path}: parameter {name} looks like a secret value"));
            }
            if name.ends_with("SecretArn") {
                let bound = root_resources.values().any(|application| {
                    application["Type"] == "AWS::Serverless::Application"
                        && application["Properties"]["Parameters"][name]["Ref"]
                            .as_str()
                            .is_some_and(is_secret_resource)
                });
                if !bound {
                    problems.push(format!("{path}: parameter {name} is not bound to a secret's ARN"));
                }
            }
        }
        // Environment: no variable of a secret value; names of secrets only.
        let mut environments = vec![(
            "Globals".to_owned(),
            template["Globals"]["Function"]["Environment"]["Variables"].clone(),
        )];
        for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
            environments.push((id.clone(), resource["Properties"]["Environment"]["Variables"].clone()));
        }
        for (owner, variables) in environments {
            for (name, value) in variables.as_object().into_iter().flatten() {
                if secret_variables().contains(&name.as_str()) {
                    problems.push(format!(
                        "{path}: {owner} sets {name}, a secret value, in its environment"
                    ));
                }
                let plain = value.is_string() && !name.ends_with("_SECRET_ARN");
                let parameter = value["Ref"].as_str().is_some_and(|p| {
                    template["Parameters"].get(p).is_some()
                        && (!name.ends_with("_SECRET_ARN") || p.ends_with("SecretArn"))
                });
                if !(plain || parameter) {
                    problems.push(format!(
                        "{path}: {owner} sets {name} to {value}, not a plain name or parameter"
                    ));
                }
            }
        }
        // Dynamic references resolve a secret into the property holding them.
        let mut strings = Vec::new();
        all_strings(template, &mut strings);
        for text in strings {
            if text.contains("{{resolve:secretsmanager") || text.contains("{{resolve:ssm-secure") {
                problems.push(format!(
                    "{path}: a dynamic reference resolves a secret into the template: {text}"
                ));
            }
        }
    }
    // The secrets the stack creates hold the placeholder only.
    for integration in Integration::ALL {
        let id = format!(
            "{}Secret",
            integration
                .as_str()
                .get(..1)
                .map(|first| first.to_uppercase() + &integration.as_str()[1..])
                .unwrap_or_default()
        );
        let text = root_resources
            .get(&id)
            .map(|secret| secret["Properties"]["SecretString"].clone());
        let placeholder: Value = text
            .as_ref()
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or(Value::Null);
        let all_empty = integration.fields().iter().all(|(field, _)| placeholder[*field] == "");
        if !all_empty || placeholder.as_object().map(|o| o.len()) != Some(integration.fields().len()) {
            problems.push(format!("root: {id} does not hold the empty placeholder ({text:?})"));
        }
    }
    problems
}

#[test]
fn no_secret_value_is_a_parameter_or_an_environment_variable() {
    let problems = problems(&committed());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn functions_that_declare_secrets_get_their_arns() {
    let templates = committed();
    let worker = templates
        .iter()
        .find_map(|(_, t)| t["Resources"].get("JobsWorkerFunction").cloned())
        .expect("the jobs worker is deployed");
    let variables = &worker["Properties"]["Environment"]["Variables"];
    assert_eq!(variables["RESEND_SECRET_ARN"], json!({ "Ref": "ResendSecretArn" }));
    assert_eq!(variables["TWILIO_SECRET_ARN"], json!({ "Ref": "TwilioSecretArn" }));
}

/// Only the billing functions (Stripe's API and webhook, the billing page)
/// and the organization's deletion (which cancels the subscription) hold
/// Stripe's keys. A function that checks a plan limit learns that
/// billing is on from `KONNECS_BILLING`, a plain setting every function
/// gets from the `Billing` parameter.
#[test]
fn only_the_billing_functions_read_the_stripe_secret() {
    let templates = committed();
    let mut holders = Vec::new();
    for (path, template) in &templates {
        for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
            if resource["Type"] != "AWS::Serverless::Function" {
                continue;
            }
            if resource["Properties"]["Environment"]["Variables"]
                .get("STRIPE_SECRET_ARN")
                .is_some()
            {
                holders.push(id.clone());
            }
        }
        if template["Resources"]
            .as_object()
            .is_some_and(|r| r.values().any(|v| v["Type"] == "AWS::Serverless::Function"))
        {
            assert_eq!(
                template["Globals"]["Function"]["Environment"]["Variables"]["KONNECS_BILLING"],
                json!({ "Ref": "Billing" }),
                "{path}"
            );
        }
    }
    holders.sort();
    assert_eq!(
        holders,
        [
            "BillingCheckoutFunction",
            "BillingGetFunction",
            "BillingPortalFunction",
            "OrgDeletionRequestFunction",
            "PageBillingActionFunction",
            "PageBillingFunction",
            "PageOrgDeletionActionFunction",
            "StripeWebhookFunction",
        ]
    );
    let (_, root) = templates
        .iter()
        .find(|(path, _)| path.ends_with("template.yaml"))
        .expect("root");
    assert_eq!(root["Parameters"]["Billing"]["Default"], "off");
}

// The checks bite: each way of leaking a secret into a template is caught.

fn mutated(mutate: impl FnOnce(&mut Templates)) -> Vec<String> {
    let mut templates = committed();
    mutate(&mut templates);
    problems(&templates)
}

fn nested_with<'a>(templates: &'a mut Templates, id: &str) -> &'a mut Value {
    templates
        .iter_mut()
        .map(|(_, t)| t)
        .find(|t| t["Resources"].get(id).is_some())
        .expect("found")
}

#[test]
fn a_secret_in_an_environment_variable_is_caught() {
    let problems = mutated(|templates| {
        nested_with(templates, "JobsWorkerFunction")["Resources"]["JobsWorkerFunction"]["Properties"]["Environment"]
            ["Variables"]["RESEND_API_KEY"] = json!("re_live_123");
    });
    assert!(problems.iter().any(|p| p.contains("RESEND_API_KEY")), "{problems:?}");
}

#[test]
fn a_secret_parameter_or_dynamic_reference_is_caught() {
    let problems = mutated(|templates| {
        let root = &mut templates[0].1;
        root["Parameters"]["TwilioAuthToken"] = json!({ "Type": "String", "NoEcho": true });
        nested_with(templates, "HealthFunction")["Globals"]["Function"]["Environment"]["Variables"]["STRIPE_KEY"] =
            json!("{{resolve:secretsmanager:konnecs/stripe:SecretString:secret_key}}");
    });
    assert!(
        problems
            .iter()
            .any(|p| p.contains("TwilioAuthToken") && p.contains("NoEcho")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.contains("dynamic reference")), "{problems:?}");
}

#[test]
fn a_real_value_in_a_created_secret_is_caught() {
    let problems = mutated(|templates| {
        let root = &mut templates[0].1;
        root["Resources"]["ResendSecret"]["Properties"]["SecretString"] = json!(r#"{"api_key":"re_live_123"}"#);
    });
    assert!(problems.iter().any(|p| p.contains("ResendSecret")), "{problems:?}");
}
