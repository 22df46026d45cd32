//! Random tokens (sessions, email links, invitations) and password hashes.
//! Tokens are handed out once and stored only as SHA-256 hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A fresh 256-bit token from the OS CSPRNG, base64url without padding.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The CSRF token of a session: HMAC-SHA256 keyed by the session token, so it
/// is bound to that session and needs no storage.
pub fn csrf_token(session_token: &str) -> String {
    let mut mac = csrf_mac(session_token);
    mac.update(b"konnecs csrf v1");
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn csrf_mac(session_token: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(session_token.as_bytes()).unwrap_or_else(|_| unreachable!())
}

/// Constant-time check of a presented CSRF token.
pub fn csrf_matches(session_token: &str, presented: &str) -> bool {
    let Ok(presented) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
        return false;
    };
    let mut mac = csrf_mac(session_token);
    mac.update(b"konnecs csrf v1");
    mac.verify_slice(&presented).is_ok()
}

/// Argon2id at the OWASP minimum (m = 19 MiB, t = 2, p = 1). The PHC string
/// stores the parameters, so they can be raised later without breaking old hashes.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes off the async runtime: Argon2 is CPU-bound by design.
pub async fn hash_password(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| HashError(e.to_string()))
    })
    .await
    .map_err(|e| HashError(e.to_string()))?
}

/// Verifies against a stored PHC string (its own parameters apply).
/// With `None`, verifies against a fixed dummy hash so an unknown account
/// costs the same time as a known one, and always answers false.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let (hash, real) = match stored {
            Some(hash) => (hash, true),
            None => (dummy_hash().to_string(), false),
        };
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        argon2().verify_password(password.as_bytes(), &parsed).is_ok() && real
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password with the current parameters, made once.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        argon2()
            .hash_password(new_token().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        use crate::domain::token::token_hash;
        let a = new_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, new_token());
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn csrf_token_is_bound_to_its_session() {
        let session = new_token();
        let csrf = csrf_token(&session);
        assert!(csrf_matches(&session, &csrf));
        assert!(!csrf_matches(&new_token(), &csrf));
        assert!(!csrf_matches(&session, "not-base64!"));
        assert!(!csrf_matches(&session, ""));
    }

    #[tokio::test]
    async fn argon2id_hash_records_owasp_parameters_and_verifies() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(!verify_password("correct horse battery".into(), None).await);
    }
}
