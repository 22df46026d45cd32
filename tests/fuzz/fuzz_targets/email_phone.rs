#![no_main]
//! libFuzzer entry; the body and its invariants: konnecs_fuzz_targets::normalise::email_phone.
libfuzzer_sys::fuzz_target!(|data: &[u8]| konnecs_fuzz_targets::normalise::email_phone(data));
