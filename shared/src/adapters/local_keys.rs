//! Local data keys: a 32-byte master key in a file only its owner can read
//! (created 0600 on first run) wraps each data key with AES-256-GCM.
//! `EnvelopeVault<LocalDataKeys>` is the local `KeyVault`, producing the
//! same envelope format as KMS.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use rand::RngCore;
use zeroize::Zeroizing;

use super::envelope::{DataKey, DataKeys, EnvelopeVault};
use crate::ports::keys::{EncryptionContext, KeyError};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// nonce || AES-GCM(data key) || tag
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// The local `KeyVault`.
pub type LocalKeyVault = EnvelopeVault<LocalDataKeys>;

pub struct LocalDataKeys {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for LocalDataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalDataKeys(..)")
    }
}

impl LocalDataKeys {
    /// Reads the master key file, creating it (mode 0600) when it does not exist.
    /// Refuses a key file that group or others may access.
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let master = match read_key_file(path) {
            Ok(key) => key,
            Err(ReadError::Missing) => create_key_file(path)?,
            Err(ReadError::Key(e)) => return Err(e),
        };
        Ok(Self::from_master(&master))
    }

    /// A vault over a master key file: see [`LocalDataKeys::open_or_create`].
    pub fn vault(path: impl AsRef<Path>) -> Result<LocalKeyVault, KeyError> {
        Self::open_or_create(path).map(EnvelopeVault::new)
    }

    fn from_master(master: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(master.into()),
        }
    }
}

enum ReadError {
    Missing,
    Key(KeyError),
}

fn unavailable(path: &Path, what: impl std::fmt::Display) -> KeyError {
    KeyError::Unavailable(format!("master key file {}: {what}", path.display()))
}

fn read_key_file(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, ReadError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Key(unavailable(path, e))),
    };
    // Check the opened file itself, not the path, so a swap cannot slip past.
    let meta = file.metadata().map_err(|e| ReadError::Key(unavailable(path, e)))?;
    if !meta.is_file() {
        return Err(ReadError::Key(unavailable(path, "not a regular file")));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ReadError::Key(unavailable(
            path,
            format!(
                "mode {mode:03o} lets group or others access the key; refusing to use it \
                 (run `chmod 600 {}` and consider the key compromised if others could read it)",
                path.display()
            ),
        )));
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
    // Read one byte more than a key so an oversized file is detected.
    (&mut file)
        .take(KEY_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Key(unavailable(path, e)))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(ReadError::Key(unavailable(
            path,
            format!(
                "expected exactly {KEY_LEN} bytes, found {}{}",
                bytes.len().min(KEY_LEN),
                if bytes.len() > KEY_LEN { "+" } else { "" }
            ),
        )));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Creates the key file atomically: the key is written and synced to a
/// private temp file, then hard-linked into place. The link fails if another
/// process created the file first, in which case its key wins, so two
/// processes starting together never end up with different keys.
fn create_key_file(path: &Path) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| unavailable(path, "not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let tmp = dir.join(tmp_name);

    let result = write_private(&tmp, key.as_slice()).and_then(|()| match fs::hard_link(&tmp, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(unavailable(path, e)),
    });
    // The temp name is ours alone; failing to remove it leaves only litter.
    let _ = fs::remove_file(&tmp);
    if !result? {
        return match read_key_file(path) {
            Ok(existing) => Ok(existing),
            Err(ReadError::Missing) => Err(unavailable(path, "vanished while being created")),
            Err(ReadError::Key(e)) => Err(e),
        };
    }
    // Make the new directory entry durable before any data is encrypted under it.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(key)
}

fn write_private(tmp: &Path, key: &[u8]) -> Result<(), KeyError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)
        .map_err(|e| unavailable(tmp, e))?;
    file.write_all(key).map_err(|e| unavailable(tmp, e))?;
    file.sync_all().map_err(|e| unavailable(tmp, e))
}

#[async_trait]
impl DataKeys for LocalDataKeys {
    async fn generate(&self, context: &EncryptionContext) -> Result<(DataKey, Vec<u8>), KeyError> {
        let mut data_key: DataKey = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(data_key.as_mut_slice());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = context.canonical_bytes();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: data_key.as_slice(),
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Unavailable("data key wrapping failed".into()))?;
        let mut wrapped = Vec::with_capacity(WRAPPED_LEN);
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok((data_key, wrapped))
    }

    async fn unwrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKey, KeyError> {
        // A foreign (e.g. KMS-wrapped) key has another length: not ours to open.
        if wrapped.len() != WRAPPED_LEN {
            return Err(KeyError::Undecryptable);
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let aad = context.canonical_bytes();
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
                .map_err(|_| KeyError::Undecryptable)?,
        );
        let mut data_key: DataKey = Zeroizing::new([0u8; KEY_LEN]);
        if plain.len() != KEY_LEN {
            return Err(KeyError::Undecryptable);
        }
        data_key.copy_from_slice(&plain);
        Ok(data_key)
    }

    async fn ping(&self) -> Result<(), KeyError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::keys::KeyVault;

    fn context() -> EncryptionContext {
        EncryptionContext::new().with("org", "o1").with("user", "u1")
    }

    #[test]
    fn key_file_is_created_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        LocalDataKeys::open_or_create(&path).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), KEY_LEN as u64);
        // No temp files left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn second_open_reads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = LocalDataKeys::vault(&path).unwrap();
        let envelope = first.encrypt(b"refresh-token", &context()).await.unwrap();
        let second = LocalDataKeys::vault(&path).unwrap();
        assert_eq!(second.decrypt(&envelope, &context()).await.unwrap(), b"refresh-token");
    }

    #[tokio::test]
    async fn wrong_context_fails() {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalDataKeys::vault(dir.path().join("k")).unwrap();
        let envelope = vault.encrypt(b"secret", &context()).await.unwrap();
        let other = EncryptionContext::new().with("org", "o2").with("user", "u1");
        assert!(matches!(
            vault.decrypt(&envelope, &other).await,
            Err(KeyError::Undecryptable)
        ));
    }

    #[tokio::test]
    async fn two_encryptions_of_the_same_plaintext_differ() {
        let dir = tempfile::tempdir().unwrap();
        let vault = LocalDataKeys::vault(dir.path().join("k")).unwrap();
        let a = vault.encrypt(b"same", &context()).await.unwrap();
        let b = vault.encrypt(b"same", &context()).await.unwrap();
        assert_ne!(a, b);
        assert_eq!(vault.decrypt(&a, &context()).await.unwrap(), b"same");
        assert_eq!(vault.decrypt(&b, &context()).await.unwrap(), b"same");
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        LocalDataKeys::open_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = LocalDataKeys::open_or_create(&path).unwrap_err();
        assert!(
            matches!(&err, KeyError::Unavailable(m) if m.contains("chmod 600")),
            "{err}"
        );
    }

    #[test]
    fn key_file_of_the_wrong_length_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        write_private(&path, b"short").unwrap();
        assert!(matches!(
            LocalDataKeys::open_or_create(&path),
            Err(KeyError::Unavailable(_))
        ));
    }
}
