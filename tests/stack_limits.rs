//! Deployment at any product size: every generated stack, transformed by
//! aws-sam-translator (`infra/stack_limits.py`), stays within 400 resources,
//! 1 MB, 200 parameters and 200 outputs — for today's catalogue and for a
//! projected catalogue of 300 functions. CloudFormation would refuse a stack
//! over its limits only at deploy time; these fail first.
//!
//! The script runs in the project venv (`KONNECS_VENV`, default `.venv`;
//! `infra/test-tools.sh` installs the translator there). A missing venv
//! fails the tests rather than skipping them.

use std::path::{Path, PathBuf};
use std::process::Command;

use konnecs::catalogue::{self, Access, Area, Entry, QueueName, Runtime, Trigger};
use konnecs::ports::secrets::Integration;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    let venv = std::env::var_os("KONNECS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv"));
    venv.join("bin/python")
}

/// Runs the limit check on the templates under `root`; returns its summary.
fn check_limits(root: &Path) -> (bool, Value, String) {
    let output = Command::new(python())
        .arg(repo().join("infra/stack_limits.py"))
        .arg(root)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (run infra/test-tools.sh or set KONNECS_VENV): {e}",
                python().display()
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str::<Value>(line).ok())
        .unwrap_or_else(|| panic!("stack_limits.py printed no summary:\n{stdout}\n{stderr}"));
    (output.status.success(), summary, format!("{stdout}{stderr}"))
}

fn sum(summary: &Value, key: &str) -> u64 {
    summary["stacks"]
        .as_array()
        .map(|stacks| stacks.iter().filter_map(|s| s[key].as_u64()).sum())
        .unwrap_or(0)
}

#[test]
fn todays_templates_fit_every_cloudformation_limit() {
    let (ok, summary, report) = check_limits(&repo());
    // The figures, for BENCHMARKS.md (`--nocapture`).
    println!("{report}");
    assert!(ok, "a committed stack is over CloudFormation's limits:\n{report}");
    let lambdas = catalogue::entries()
        .iter()
        .filter(|e| e.runtime == Runtime::Both)
        .count() as u64;
    // Every function was transformed, and none of them in the root stack.
    assert_eq!(sum(&summary, "functions"), lambdas, "{report}");
    assert_eq!(summary["stacks"][0]["functions"], 0, "{report}");
}

/// The kinds of function the product keeps adding: mostly routes with the
/// widest access (the largest policies), some consumers and schedules.
fn synthetic(index: usize, area: Area) -> Entry {
    const WIDE: &[Access] = &[
        Access::TableRead,
        Access::TableWrite,
        Access::QueueSend(QueueName::Jobs),
        Access::QueueSend(QueueName::Reminders),
        Access::ObjectRead,
        Access::ObjectWrite,
        Access::ExportRead,
        Access::ExportWrite,
        Access::TokenKeyEncrypt,
        Access::TokenKeyDecrypt,
        Access::Secret(Integration::Resend),
        Access::Secret(Integration::Twilio),
        Access::Secret(Integration::Stripe),
        Access::Secret(Integration::Google),
    ];
    let template = |name: &str| *catalogue::find(name).unwrap_or_else(|| panic!("{name} is in the catalogue"));
    let base = match index % 20 {
        0 => template("jobs-worker"),
        1 => template("reminders-tick"),
        _ => template("contacts-create"),
    };
    let path: &'static str = Box::leak(format!("/projected/{index}/{{id}}/items").into_boxed_str());
    let trigger = match base.trigger {
        Trigger::Http { method, route, .. } => Trigger::Http { method, path, route },
        other => other,
    };
    Entry {
        name: Box::leak(format!("projected-{index}").into_boxed_str()),
        summary: "A projected function of the finished product, at its widest access.",
        trigger,
        access: WIDE,
        runtime: Runtime::Both,
        area,
        ..base
    }
}

/// Today's catalogue grown to 300 Lambdas: one area twice the size a stack
/// holds, the rest spread over every area.
fn projected_catalogue() -> Vec<Entry> {
    let mut entries: Vec<Entry> = catalogue::entries().to_vec();
    let today = entries.iter().filter(|e| e.runtime == Runtime::Both).count();
    for index in 0..(300 - today) {
        let area = if index < 160 {
            Area::Contacts
        } else {
            Area::ALL[index % Area::ALL.len()]
        };
        entries.push(synthetic(index, area));
    }
    entries
}

#[test]
fn a_300_function_product_fits_every_cloudformation_limit() {
    let entries = projected_catalogue();
    assert_eq!(entries.iter().filter(|e| e.runtime == Runtime::Both).count(), 300);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join(konnecs_infra::STACKS_DIR)).expect("stacks dir");
    for (path, yaml) in konnecs_infra::render_all(&entries).expect("renders") {
        std::fs::write(dir.path().join(path), yaml).expect("writes");
    }
    let (ok, summary, report) = check_limits(dir.path());
    println!("{report}");
    assert!(
        ok,
        "the 300-function projection is over CloudFormation's limits:\n{report}"
    );
    assert_eq!(sum(&summary, "functions"), 300, "{report}");
    // The big area was split, and the root holds the nested stacks only.
    let stacks = summary["stacks"].as_array().cloned().unwrap_or_default();
    assert!(
        stacks
            .iter()
            .any(|s| s["path"].as_str().is_some_and(|p| p.ends_with("contacts-2.yaml"))),
        "{report}"
    );
    assert_eq!(
        stacks[0]["nested_stacks"].as_u64(),
        Some(stacks.len() as u64 - 1),
        "{report}"
    );
}

/// The check itself bites: one stack with every function of the projection
/// (no nested-stack split) is over the resource limit.
#[test]
fn the_check_fails_a_template_over_the_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lambdas: Vec<Entry> = projected_catalogue()
        .into_iter()
        .filter(|e| e.runtime == Runtime::Both)
        .collect();
    let all_in_one = konnecs_infra::stacks::StackPlan {
        area: Area::Platform,
        part: 1,
        entries: lambdas,
    };
    let yaml = konnecs_infra::render(&konnecs_infra::stacks::nested_template(&all_in_one)).expect("renders");
    std::fs::write(dir.path().join("template.yaml"), yaml).expect("writes");
    let (ok, summary, report) = check_limits(dir.path());
    assert!(!ok, "{report}");
    let problems = summary["stacks"][0]["problems"].to_string();
    assert!(problems.contains("resources > 400"), "{report}");
}
