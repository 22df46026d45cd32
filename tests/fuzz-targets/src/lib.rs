//! The bodies of Konnecs's fuzz targets: every parser that reads outside
//! input, called through the production functions of the `konnecs` crate,
//! with the invariants each must keep. A body panics when an invariant
//! breaks, so the libFuzzer entries (`tests/fuzz/fuzz_targets`) report it as a
//! crash and the corpus replay (`tests/replay.rs`, run by tests/run on
//! stable) fails on it: both call these same functions.

pub mod app;
pub mod import;
pub mod lists;
pub mod normalise;
pub mod public;
pub mod webhooks;

/// A target's body: one input, panicking when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by the name of its libFuzzer entry and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("csv_import", import::csv_import),
    ("email_phone", normalise::email_phone),
    ("public_booking", public::booking),
    ("public_form", public::form_submission),
    ("list_queries", lists::list_queries),
    ("stripe_webhook", webhooks::stripe),
    ("twilio_webhook", webhooks::twilio),
];

/// The input cut at its first `\n`: (before, after). No newline: all before.
pub fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}
