//! The `ObjectStore` port: binary objects such as profile photos, import
//! files and exports. S3 in AWS; a directory under the data directory locally.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// An object read chunk by chunk, never whole in memory.
pub struct ObjectReader {
    pub content_type: String,
    pub length: u64,
    pub chunks: Pin<Box<dyn Stream<Item = Result<Bytes, ObjectError>> + Send>>,
}

/// A part of a multipart upload as the store acknowledged it; completing the
/// upload names every part with its tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    /// 1-based, in object order.
    pub number: u32,
    pub etag: String,
}

/// Objects the store deletes by age: on S3 the bucket's lifecycle
/// configuration (written into the template by `infra`), locally the
/// directory store's sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryRule {
    pub prefix: &'static str,
    pub days: i64,
}

/// Export files are kept as long as their job records
/// (`services::exports::job::RETENTION_DAYS`).
pub const EXPORTS_EXPIRY: ExpiryRule = ExpiryRule {
    prefix: "exports/",
    days: 7,
};
pub const EXPIRY_RULES: [ExpiryRule; 1] = [EXPORTS_EXPIRY];
/// Multipart uploads nobody completed (a crashed export) are dropped after this.
pub const ABANDONED_UPLOAD_DAYS: i64 = 1;

/// S3's smallest part except the last; callers of [`ObjectStore::upload_part`]
/// keep to it on every backend so a local run behaves as AWS does.
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid object key")]
    InvalidKey,
    /// The upload was completed or aborted already, or never started.
    #[error("no such upload")]
    NoSuchUpload,
    /// A part named on completion is missing or was replaced since.
    #[error("invalid part: {0}")]
    InvalidPart(String),
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Keys are `/`-separated paths of `[A-Za-z0-9._-]` segments (see
    /// [`is_valid_key`]); an invalid key is `InvalidKey` before any I/O.
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ObjectError>;
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ObjectError>;
    /// The object as a stream of chunks.
    async fn open(&self, key: &str) -> Result<Option<ObjectReader>, ObjectError>;
    async fn exists(&self, key: &str) -> Result<bool, ObjectError>;
    /// Deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), ObjectError>;

    /// Starts an object written in parts; returns the upload id. Nothing is
    /// visible under `key` until [`ObjectStore::complete_upload`].
    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, ObjectError>;
    /// Stores part `number` (1-based); uploading a number again replaces it.
    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<UploadedPart, ObjectError>;
    /// Joins `parts` in order into the object and ends the upload.
    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[UploadedPart]) -> Result<(), ObjectError>;
    /// Drops an upload and its parts; an unknown upload is not an error.
    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), ObjectError>;

    /// A URL the client downloads the object from directly, valid for `ttl`
    /// and named `filename` (S3: a presigned GET). `None` when the store has
    /// no such URLs and the app serves the object itself ([`ObjectStore::open`]).
    async fn download_url(&self, key: &str, filename: &str, ttl: Duration) -> Result<Option<String>, ObjectError>;
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

/// The `Content-Disposition` of a downloaded file: `attachment` under
/// `filename`, anything outside safe file-name characters replaced so the
/// header cannot be broken out of.
pub fn attachment_disposition(filename: &str) -> String {
    let safe: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{safe}\"")
}
