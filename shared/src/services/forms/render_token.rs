//! The render stamp a form page carries: the time it was shown, signed with
//! the form's own secret, so the submit can tell how long the visitor took
//! (bots post at once) and a bot cannot forge an old stamp.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A person needs at least this long to fill in a form.
pub const MIN_FILL_SECONDS: i64 = 3;
/// A stamp older than this is refused like a missing one (a day-old page
/// is reloaded, not replayed).
pub const MAX_AGE_SECONDS: i64 = 24 * 3600;

fn mac(secret: &str, public_id: &str, at_ms: i64) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(format!("konnecs form render v1|{public_id}|{at_ms}").as_bytes());
    mac
}

/// The stamp of a page rendered at `at_ms`.
pub fn stamp(secret: &str, public_id: &str, at_ms: i64) -> String {
    let tag = mac(secret, public_id, at_ms).finalize().into_bytes();
    format!("{at_ms}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// The render time a stamp carries, when its signature holds (constant-time compare).
pub fn verify(secret: &str, public_id: &str, stamp: &str) -> Option<i64> {
    let (at, tag) = stamp.trim().split_once('.')?;
    let at_ms: i64 = at.parse().ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(secret, public_id, at_ms).verify_slice(&tag).ok()?;
    Some(at_ms)
}

/// Whether a page stamped at `rendered_ms` may be submitted at `now_ms`.
pub fn filled_in_time(rendered_ms: i64, now_ms: i64) -> bool {
    let age = now_ms - rendered_ms;
    (MIN_FILL_SECONDS * 1000..=MAX_AGE_SECONDS * 1000).contains(&age)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_verifies_only_with_its_secret_and_form() {
        let s = stamp("secret", "pub1", 1_000_000);
        assert_eq!(verify("secret", "pub1", &s), Some(1_000_000));
        assert_eq!(verify("other", "pub1", &s), None);
        assert_eq!(verify("secret", "pub2", &s), None);
        let forged = s.replacen("1000000", "999000", 1);
        assert_eq!(verify("secret", "pub1", &forged), None);
        assert_eq!(verify("secret", "pub1", "garbage"), None);
    }

    #[test]
    fn fill_time_must_be_human_and_recent() {
        assert!(!filled_in_time(0, 2_999));
        assert!(filled_in_time(0, 3_000));
        assert!(!filled_in_time(0, MAX_AGE_SECONDS * 1000 + 1));
        assert!(!filled_in_time(10_000, 0));
    }
}
