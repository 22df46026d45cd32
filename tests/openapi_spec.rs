//! `/openapi.json` is a valid OpenAPI 3.1 document: the document the server
//! serves (`catalogue::openapi::document`) is written to a file and checked
//! by openapi-spec-validator, which `infra/test-tools.sh` pins in the
//! project venv (`KONNECS_VENV`, default `.venv`). A missing venv fails the
//! test rather than skipping it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn validator() -> PathBuf {
    let venv = std::env::var_os("KONNECS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
    venv.join("bin/openapi-spec-validator")
}

/// Validates `document` as OpenAPI 3.1; the validator's verdict and output.
fn validate(document: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    let text = serde_json::to_vec_pretty(document).expect("the document serializes");
    std::fs::write(&file, text).expect("write the document");
    let output = Command::new(validator())
        .args(["--schema", "3.1", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (run infra/test-tools.sh or set KONNECS_VENV): {e}",
                validator().display()
            )
        });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), report)
}

#[test]
fn the_served_document_is_valid_openapi_3_1() {
    let document = konnecs::catalogue::openapi::document();
    assert_eq!(document["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true));
    let (valid, report) = validate(&document);
    assert!(valid, "openapi-spec-validator refused /openapi.json:\n{report}");
}

/// The check above can fail: the validator refuses the same document once
/// it breaks the specification (3.1 requires `info` with a title).
#[test]
fn the_validator_refuses_a_document_that_breaks_the_specification() {
    let mut document = konnecs::catalogue::openapi::document();
    let info = document["info"].as_object_mut().expect("the document has info");
    assert!(info.remove("title").is_some(), "info has a title");
    let (valid, report) = validate(&document);
    assert!(
        !valid,
        "openapi-spec-validator accepted info without a title:\n{report}"
    );
}
