//! The `KeyVault` port: envelope encryption for secrets at rest (OAuth tokens).
//!
//! Both adapters (KMS and the local key file) produce the same envelope format,
//! defined in `adapters::envelope`: AES-256-GCM under a fresh data key, a fresh
//! random 96-bit nonce per encryption, and the encryption context bound as AAD.

use std::collections::BTreeMap;

use async_trait::async_trait;

/// Names what a ciphertext belongs to, e.g. `{org: "...", user: "..."}`.
/// Decrypting under any other context fails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Canonical bytes used as AAD: sorted pairs as a JSON object.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Wrong context, tampered or foreign ciphertext.
    #[error("ciphertext cannot be decrypted under this context")]
    Undecryptable,
    #[error("malformed envelope")]
    Malformed,
    #[error("key service unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait KeyVault: Send + Sync {
    async fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError>;
    async fn decrypt(&self, envelope: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError>;
    /// Cheap probe for `/health`.
    async fn ping(&self) -> Result<(), KeyError>;
}
