//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) through
//! the same target bodies the libFuzzer entries run, on stable and without
//! libFuzzer: an input that once found a crash, or that reaches deep into a
//! parser, keeps being checked by tests/run after the fix.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use konnecs_fuzz_targets::TARGETS;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_corpus_input_keeps_every_invariant() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, body) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} holds no inputs", dir.display());
        for file in files {
            let data = std::fs::read(&file).expect("corpus file");
            if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
                failures.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs broke an invariant: {failures:#?}",
        failures.len()
    );
}

/// The replay would pass vacuously if a body did nothing: a corpus input
/// that breaks an invariant must fail it (a wrong normalization stands in).
#[test]
fn a_broken_invariant_is_caught() {
    let result = catch_unwind(|| konnecs_fuzz_targets::normalise::assert_e164("0123"));
    assert!(result.is_err());
}
