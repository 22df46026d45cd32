//! KMS data keys for the shared envelope format: `EnvelopeVault<KmsDataKeys>`
//! is the AWS `KeyVault`. KMS wraps each data key under the encryption
//! context, so a wrapped key only unwraps for the same org and user.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use zeroize::Zeroize;

use crate::adapters::envelope::{DataKey, DataKeys};
use crate::ports::keys::{EncryptionContext, KeyError};

pub struct KmsDataKeys {
    client: super::LazyClient<Client>,
    key_id: String,
}

impl KmsDataKeys {
    pub fn new(client: impl Into<super::LazyClient<Client>>, key_id: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            key_id: key_id.into(),
        }
    }
}

#[async_trait]
impl DataKeys for KmsDataKeys {
    async fn generate(&self, context: &EncryptionContext) -> Result<(DataKey, Vec<u8>), KeyError> {
        let output = self
            .client
            .get()
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(kms_context(context))
            .send()
            .await
            .map_err(key_error)?;
        let wrapped = output
            .ciphertext_blob
            .ok_or(KeyError::Unavailable("KMS returned no wrapped key".into()))?
            .into_inner();
        let data_key = take_key(output.plaintext)?;
        Ok((data_key, wrapped))
    }

    async fn unwrap(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKey, KeyError> {
        let output = self
            .client
            .get()
            .decrypt()
            // Naming the key stops KMS from decrypting under any other key.
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(kms_context(context))
            .send()
            .await
            .map_err(key_error)?;
        take_key(output.plaintext)
    }

    async fn ping(&self) -> Result<(), KeyError> {
        self.client
            .get()
            .describe_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(key_error)?;
        Ok(())
    }
}

fn kms_context(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    let pairs = context.pairs();
    (!pairs.is_empty()).then(|| pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Moves the SDK's plaintext key into a `DataKey` and wipes the SDK's copy.
fn take_key(plaintext: Option<Blob>) -> Result<DataKey, KeyError> {
    let mut bytes = plaintext
        .ok_or(KeyError::Unavailable("KMS returned no plaintext key".into()))?
        .into_inner();
    let mut key = DataKey::new([0u8; 32]);
    let result = if bytes.len() == key.len() {
        key.copy_from_slice(&bytes);
        Ok(key)
    } else {
        Err(KeyError::Malformed)
    };
    bytes.zeroize();
    result
}

/// Keeps only KMS error codes; key material never reaches an error.
fn key_error<E, R>(err: SdkError<E, R>) -> KeyError
where
    E: ProvideErrorMetadata,
{
    match &err {
        SdkError::ServiceError(failure) => match failure.err().code() {
            Some("InvalidCiphertextException" | "IncorrectKeyException") => KeyError::Undecryptable,
            code => KeyError::Unavailable(format!("KMS error {}", code.unwrap_or("without code"))),
        },
        SdkError::TimeoutError(_) => KeyError::Unavailable("KMS timed out".into()),
        SdkError::DispatchFailure(_) => KeyError::Unavailable("KMS unreachable".into()),
        _ => KeyError::Unavailable("KMS request failed".into()),
    }
}
