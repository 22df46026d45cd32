//! The adapter of a service a Lambda function does not declare in its
//! catalogue entry: every call fails at once, as AWS would refuse it (the
//! function's IAM policy grants only its declared access). Wiring it instead
//! of the real adapter keeps that adapter, and its SDK client, out of the
//! function's binary.

use std::time::Duration;

use async_trait::async_trait;

use crate::ports::keys::{EncryptionContext, KeyError, KeyVault};
use crate::ports::object_store::{ObjectError, ObjectReader, ObjectStore, StoredObject, UploadedPart};

/// Refuses every call.
pub struct Undeclared;

impl Undeclared {
    fn objects(&self) -> ObjectError {
        ObjectError::Unavailable("this function declares no access to the objects bucket".into())
    }

    fn keys(&self) -> KeyError {
        KeyError::Unavailable("this function declares no access to the token key".into())
    }
}

#[async_trait]
impl ObjectStore for Undeclared {
    async fn put(&self, _: &str, _: Vec<u8>, _: &str) -> Result<(), ObjectError> {
        Err(self.objects())
    }

    async fn get(&self, _: &str) -> Result<Option<StoredObject>, ObjectError> {
        Err(self.objects())
    }

    async fn open(&self, _: &str) -> Result<Option<ObjectReader>, ObjectError> {
        Err(self.objects())
    }

    async fn exists(&self, _: &str) -> Result<bool, ObjectError> {
        Err(self.objects())
    }

    async fn delete(&self, _: &str) -> Result<(), ObjectError> {
        Err(self.objects())
    }

    async fn start_upload(&self, _: &str, _: &str) -> Result<String, ObjectError> {
        Err(self.objects())
    }

    async fn upload_part(&self, _: &str, _: &str, _: u32, _: Vec<u8>) -> Result<UploadedPart, ObjectError> {
        Err(self.objects())
    }

    async fn complete_upload(&self, _: &str, _: &str, _: &[UploadedPart]) -> Result<(), ObjectError> {
        Err(self.objects())
    }

    async fn abort_upload(&self, _: &str, _: &str) -> Result<(), ObjectError> {
        Err(self.objects())
    }

    async fn download_url(&self, _: &str, _: &str, _: Duration) -> Result<Option<String>, ObjectError> {
        Err(self.objects())
    }
}

#[async_trait]
impl KeyVault for Undeclared {
    async fn encrypt(&self, _: &[u8], _: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
        Err(self.keys())
    }

    async fn decrypt(&self, _: &[u8], _: &EncryptionContext) -> Result<Vec<u8>, KeyError> {
        Err(self.keys())
    }

    async fn ping(&self) -> Result<(), KeyError> {
        Err(self.keys())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_call_is_refused_naming_what_is_undeclared() {
        let err = Undeclared.put("a/b", vec![1], "image/png").await.unwrap_err();
        assert!(
            err.to_string().contains("declares no access to the objects bucket"),
            "{err}"
        );
        assert!(Undeclared.open("a/b").await.is_err());
        assert!(
            Undeclared
                .download_url("a/b", "b.csv", Duration::from_secs(60))
                .await
                .is_err()
        );
        let err = Undeclared.ping().await.unwrap_err();
        assert!(err.to_string().contains("declares no access to the token key"), "{err}");
    }
}
