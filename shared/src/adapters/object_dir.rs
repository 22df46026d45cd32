//! The local `ObjectStore`: files under `<data dir>/objects`, written
//! atomically (temp file + rename), content type in a sidecar file.
//!
//! Key `a/b` is the file `a/b~object` (content type in `a/b~content-type`).
//! `~` never occurs in a key, so a file never has the name of a directory
//! made for a longer key: `a` and `a/b` coexist, as on S3.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::ports::object_store::{ObjectError, ObjectStore, StoredObject, is_valid_key};

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
}

fn unavailable(err: std::io::Error) -> ObjectError {
    ObjectError::Unavailable(err.to_string())
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ObjectError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(unavailable)?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!("~tmp-{}", uuid::Uuid::new_v4().simple()));
    let temp = PathBuf::from(temp);
    tokio::fs::write(&temp, bytes).await.map_err(unavailable)?;
    tokio::fs::rename(&temp, path).await.map_err(unavailable)
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
        let content_type = tokio::fs::read_to_string(&meta)
            .await
            .unwrap_or_else(|_| "application/octet-stream".into());
        Ok(Some(StoredObject { bytes, content_type }))
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
}
