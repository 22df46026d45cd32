//! The one envelope format shared by every `KeyVault` adapter.
//!
//! ```text
//! "KNX1" | u16 BE wrapped-key length | wrapped data key | 12-byte nonce | AES-256-GCM ciphertext+tag
//! ```
//! A fresh 256-bit data key and a fresh random 96-bit nonce are used for every
//! encryption; the encryption context is the AAD. Only how the data key is
//! wrapped differs between KMS and the local key file ([`DataKeys`]).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use rand::RngCore;

use crate::ports::keys::{EncryptionContext, KeyError, KeyVault};

const MAGIC: &[u8; 4] = b"KNX1";
const NONCE_LEN: usize = 12;

/// A 256-bit data key in the clear, wiped when dropped.
pub type DataKey = zeroize::Zeroizing<[u8; 32]>;

/// How an adapter makes and unwraps data keys (KMS or the local master key).
#[async_trait]
pub trait DataKeys: Send + Sync {
    /// A fresh data key, in the clear and wrapped under `context`.
    async fn generate(&self, context: &EncryptionContext) -> Result<(DataKey, Vec<u8>), KeyError>;
    async fn unwrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKey, KeyError>;
    async fn ping(&self) -> Result<(), KeyError>;
}

/// A `KeyVault` over any [`DataKeys`]: the envelope format lives only here.
pub struct EnvelopeVault<D> {
    keys: D,
}

impl<D: DataKeys> EnvelopeVault<D> {
    pub fn new(keys: D) -> Self {
        Self { keys }
    }
}

pub fn seal(
    data_key: &DataKey,
    wrapped: &[u8],
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Result<Vec<u8>, KeyError> {
    let wrapped_len = u16::try_from(wrapped.len()).map_err(|_| KeyError::Malformed)?;
    let cipher = Aes256Gcm::new_from_slice(data_key.as_slice()).map_err(|_| KeyError::Malformed)?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let aad = context.canonical_bytes();
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| KeyError::Malformed)?;
    let mut out = Vec::with_capacity(MAGIC.len() + 2 + wrapped.len() + NONCE_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&wrapped_len.to_be_bytes());
    out.extend_from_slice(wrapped);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The parts of an envelope, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct Sealed<'a> {
    /// The data key as the key service wrapped it.
    pub wrapped: &'a [u8],
    pub nonce: &'a [u8],
    /// Ciphertext with its tag.
    pub ciphertext: &'a [u8],
}

/// Splits an envelope into its wrapped key, nonce and ciphertext.
pub fn parse(envelope: &[u8]) -> Result<Sealed<'_>, KeyError> {
    let rest = envelope.strip_prefix(MAGIC.as_slice()).ok_or(KeyError::Malformed)?;
    let (len, rest) = rest.split_at_checked(2).ok_or(KeyError::Malformed)?;
    let wrapped_len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let (wrapped, rest) = rest.split_at_checked(wrapped_len).ok_or(KeyError::Malformed)?;
    let (nonce, sealed) = rest.split_at_checked(NONCE_LEN).ok_or(KeyError::Malformed)?;
    if sealed.len() < 16 {
        return Err(KeyError::Malformed);
    }
    Ok(Sealed {
        wrapped,
        nonce,
        ciphertext: sealed,
    })
}

pub fn open(data_key: &DataKey, nonce: &[u8], sealed: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
    let cipher = Aes256Gcm::new_from_slice(data_key.as_slice()).map_err(|_| KeyError::Malformed)?;
    let aad = context.canonical_bytes();
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
        .map_err(|_| KeyError::Undecryptable)
}

#[async_trait]
impl<D: DataKeys> KeyVault for EnvelopeVault<D> {
    async fn encrypt(&self, plaintext: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
        let (data_key, wrapped) = self.keys.generate(context).await?;
        seal(&data_key, &wrapped, plaintext, context)
    }

    async fn decrypt(&self, envelope: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
        let sealed = parse(envelope)?;
        let data_key = self.keys.unwrap(sealed.wrapped, context).await?;
        open(&data_key, sealed.nonce, sealed.ciphertext, context)
    }

    async fn ping(&self) -> Result<(), KeyError> {
        self.keys.ping().await
    }
}
