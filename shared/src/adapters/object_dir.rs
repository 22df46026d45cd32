//! The local `ObjectStore`: files under `<data dir>/objects`, written
//! atomically (temp file + rename), content type in a sidecar file.
//!
//! Key `a/b` is the file `a/b~object` (content type in `a/b~content-type`).
//! `~` never occurs in a key, so a file never has the name of a directory
//! made for a longer key: `a` and `a/b` coexist, as on S3. A multipart
//! upload keeps its parts in `~uploads/<upload id>/` until it completes.
//! The bucket's lifecycle rules (expiry by prefix, abandoned uploads) are
//! applied by this store's sweep.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ports::object_store::{
    ABANDONED_UPLOAD_DAYS, EXPIRY_RULES, ObjectError, ObjectReader, ObjectStore, StoredObject, UploadedPart,
    is_valid_key,
};
use crate::ports::{StoreError, StoreSweeper};

const UPLOADS: &str = "~uploads";
const READ_CHUNK: usize = 64 * 1024;

pub struct DirObjectStore {
    root: PathBuf,
}

impl DirObjectStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn paths(&self, key: &str) -> Result<(PathBuf, PathBuf), ObjectError> {
        if !is_valid_key(key) {
            return Err(ObjectError::InvalidKey);
        }
        let data = self.root.join(format!("{key}~object"));
        let meta = self.root.join(format!("{key}~content-type"));
        Ok((data, meta))
    }

    /// The directory of an upload; ids are ours (hex), anything else is unknown.
    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf, ObjectError> {
        if upload_id.is_empty() || upload_id.len() > 64 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ObjectError::NoSuchUpload);
        }
        Ok(self.root.join(UPLOADS).join(upload_id))
    }
}

fn unavailable(err: std::io::Error) -> ObjectError {
    ObjectError::Unavailable(err.to_string())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!("~tmp-{}", uuid::Uuid::new_v4().simple()));
    PathBuf::from(temp)
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ObjectError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(unavailable)?;
    }
    let temp = temp_path(path);
    tokio::fs::write(&temp, bytes).await.map_err(unavailable)?;
    tokio::fs::rename(&temp, path).await.map_err(unavailable)
}

async fn content_type_of(meta: &Path) -> String {
    tokio::fs::read_to_string(meta)
        .await
        .unwrap_or_else(|_| "application/octet-stream".into())
}

/// A part is stored under its number and tag. Tags are random, as S3's are
/// with KMS encryption: uploading a number again gives a new tag even for
/// the same bytes, so only the tag recorded last is joined.
fn part_path(dir: &Path, number: u32, etag: &str) -> PathBuf {
    dir.join(format!("part-{number:05}-{etag}"))
}

#[async_trait]
impl ObjectStore for DirObjectStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ObjectError> {
        let (data, meta) = self.paths(key)?;
        write_atomically(&meta, content_type.as_bytes()).await?;
        write_atomically(&data, &bytes).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ObjectError> {
        let (data, meta) = self.paths(key)?;
        let bytes = match tokio::fs::read(&data).await {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(unavailable(err)),
        };
        Ok(Some(StoredObject {
            bytes,
            content_type: content_type_of(&meta).await,
        }))
    }

    async fn open(&self, key: &str) -> Result<Option<ObjectReader>, ObjectError> {
        let (data, meta) = self.paths(key)?;
        let file = match tokio::fs::File::open(&data).await {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(unavailable(err)),
        };
        let length = file.metadata().await.map_err(unavailable)?.len();
        let chunks = futures::stream::try_unfold(file, |mut file| async move {
            let mut chunk = Vec::with_capacity(READ_CHUNK);
            let read = (&mut file)
                .take(READ_CHUNK as u64)
                .read_to_end(&mut chunk)
                .await
                .map_err(unavailable)?;
            Ok((read > 0).then(|| (bytes::Bytes::from(chunk), file)))
        });
        Ok(Some(ObjectReader {
            content_type: content_type_of(&meta).await,
            length,
            chunks: Box::pin(chunks),
        }))
    }

    async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        let (data, _) = self.paths(key)?;
        tokio::fs::try_exists(&data).await.map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let (data, meta) = self.paths(key)?;
        for path in [data, meta] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(unavailable(err)),
            }
        }
        Ok(())
    }

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, ObjectError> {
        self.paths(key)?;
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.upload_dir(&upload_id)?;
        tokio::fs::create_dir_all(&dir).await.map_err(unavailable)?;
        write_atomically(&dir.join("content-type"), content_type.as_bytes()).await?;
        write_atomically(&dir.join("key"), key.as_bytes()).await?;
        Ok(upload_id)
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<UploadedPart, ObjectError> {
        let dir = self.upload_of(key, upload_id).await?;
        if !(1..=10_000).contains(&number) {
            return Err(ObjectError::InvalidPart(format!(
                "part number {number} is outside 1..=10000"
            )));
        }
        let etag = uuid::Uuid::new_v4().simple().to_string();
        write_atomically(&part_path(&dir, number, &etag), &bytes).await?;
        // The number's earlier versions are replaced.
        let prefix = format!("part-{number:05}-");
        let mut entries = tokio::fs::read_dir(&dir).await.map_err(unavailable)?;
        while let Some(entry) = entries.next_entry().await.map_err(unavailable)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && !name.ends_with(&etag) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(UploadedPart { number, etag })
    }

    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[UploadedPart]) -> Result<(), ObjectError> {
        let dir = self.upload_of(key, upload_id).await?;
        if parts.is_empty() || parts.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(ObjectError::InvalidPart(
                "parts must be given in ascending order".into(),
            ));
        }
        let (data, meta) = self.paths(key)?;
        if let Some(parent) = data.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(unavailable)?;
        }
        let temp = temp_path(&data);
        let mut out = tokio::fs::File::create(&temp).await.map_err(unavailable)?;
        for part in parts {
            // A part replaced after its tag was recorded is not joined
            // silently: as on S3, its old tag names nothing any more.
            let valid_tag = !part.etag.is_empty() && part.etag.bytes().all(|b| b.is_ascii_hexdigit());
            let bytes = match tokio::fs::read(part_path(&dir, part.number, &part.etag)).await {
                Ok(bytes) if valid_tag => bytes,
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(unavailable(err)),
                _ => {
                    let _ = tokio::fs::remove_file(&temp).await;
                    return Err(ObjectError::InvalidPart(format!(
                        "part {} is not there under that tag",
                        part.number
                    )));
                }
            };
            out.write_all(&bytes).await.map_err(unavailable)?;
        }
        out.sync_all().await.map_err(unavailable)?;
        drop(out);
        let content_type = tokio::fs::read(dir.join("content-type")).await.map_err(unavailable)?;
        write_atomically(&meta, &content_type).await?;
        tokio::fs::rename(&temp, &data).await.map_err(unavailable)?;
        tokio::fs::remove_dir_all(&dir).await.map_err(unavailable)
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), ObjectError> {
        match self.upload_of(key, upload_id).await {
            Ok(dir) => tokio::fs::remove_dir_all(&dir).await.map_err(unavailable),
            Err(ObjectError::NoSuchUpload) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn download_url(&self, key: &str, _filename: &str, _ttl: Duration) -> Result<Option<String>, ObjectError> {
        self.paths(key)?;
        Ok(None)
    }
}

impl DirObjectStore {
    /// The upload's directory, if the upload is live and was started for `key`.
    async fn upload_of(&self, key: &str, upload_id: &str) -> Result<PathBuf, ObjectError> {
        self.paths(key)?;
        let dir = self.upload_dir(upload_id)?;
        match tokio::fs::read_to_string(dir.join("key")).await {
            Ok(started_for) if started_for == key => Ok(dir),
            Ok(_) => Err(ObjectError::NoSuchUpload),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(ObjectError::NoSuchUpload),
            Err(err) => Err(unavailable(err)),
        }
    }
}

/// The S3 lifecycle rules, applied by hand: objects under an expiring prefix
/// older than its days, and uploads nobody completed, are removed.
#[async_trait]
impl StoreSweeper for DirObjectStore {
    async fn sweep(&self, now_unix: i64) -> Result<u64, StoreError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || apply_lifecycle(&root, now_unix))
            .await
            .map_err(|err| StoreError::Unavailable(err.to_string()))?
            .map_err(|err| StoreError::Unavailable(format!("object sweep: {err}")))
    }
}

const DAY_SECONDS: i64 = 86_400;

fn modified_unix(path: &Path) -> std::io::Result<i64> {
    let modified = std::fs::metadata(path)?.modified()?;
    Ok(modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|age| age.as_secs() as i64)
        .unwrap_or(0))
}

fn apply_lifecycle(root: &Path, now_unix: i64) -> std::io::Result<u64> {
    let mut removed = 0;
    for rule in EXPIRY_RULES {
        let cutoff = now_unix - rule.days * DAY_SECONDS;
        removed += expire_under(&root.join(rule.prefix.trim_end_matches('/')), cutoff)?;
    }
    let uploads = root.join(UPLOADS);
    let cutoff = now_unix - ABANDONED_UPLOAD_DAYS * DAY_SECONDS;
    for entry in read_dir_or_empty(&uploads)? {
        let path = entry?.path();
        if modified_unix(&path.join("key")).unwrap_or(0) < cutoff {
            // Completed or aborted meanwhile: gone either way.
            match std::fs::remove_dir_all(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => removed += 1,
            }
        }
    }
    Ok(removed)
}

fn read_dir_or_empty(dir: &Path) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<std::fs::DirEntry>>>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(Box::new(entries)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Box::new(std::iter::empty())),
        Err(err) => Err(err),
    }
}

/// Removes the objects (data and content-type files) under `dir` last
/// written before `cutoff`, and the directories that leaves empty.
fn expire_under(dir: &Path, cutoff: i64) -> std::io::Result<u64> {
    let mut removed = 0;
    for entry in read_dir_or_empty(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            removed += expire_under(&path, cutoff)?;
            // Only succeeds when nothing is left in it.
            let _ = std::fs::remove_dir(&path);
            continue;
        }
        // Objects (data and content type) and temp files a crash left.
        let name = path.to_string_lossy();
        let object = name.ends_with("~object");
        if !(object || name.ends_with("~content-type") || name.contains("~tmp-")) {
            continue;
        }
        match modified_unix(&path) {
            Ok(modified) if modified < cutoff => match std::fs::remove_file(&path) {
                Ok(()) => removed += u64::from(object),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            },
            Ok(_) => {}
            // Removed meanwhile.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(removed)
}
