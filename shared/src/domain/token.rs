//! How a secret token (session, email link, invitation, manage link) is
//! stored and looked up: by its hex SHA-256, never as itself.

use sha2::{Digest, Sha256};

/// A 256-bit random token needs no salt or slow hash: a leaked table reveals
/// no usable token, and the lookup stays one key.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::token_hash;

    #[test]
    fn a_token_is_stored_as_its_hex_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
