//! The `ObjectStore` port: binary objects such as profile photos and exports.
//! S3 in AWS; a directory under the data directory locally.

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid object key")]
    InvalidKey,
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments (see
    /// [`is_valid_key`]); an invalid key is `InvalidKey` before any I/O.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ObjectError>;
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ObjectError>;
    /// Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), ObjectError>;
}

/// Longest key segment: a file name on the directory backend, with room for
/// its suffix within the usual 255-byte limit.
pub const MAX_KEY_SEGMENT: usize = 200;

/// Whether a key is safe on every backend (no `..`, no absolute paths, no
/// empty segments, at most 512 bytes in segments of at most 200).
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment.len() <= MAX_KEY_SEGMENT
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        })
}
