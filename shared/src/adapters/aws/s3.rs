//! The AWS `ObjectStore`: one private S3 bucket (SSE-KMS, set in the template).

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;

use crate::ports::object_store::{ObjectError, ObjectStore, StoredObject, is_valid_key};

pub struct S3ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        Self { client, bucket }
    }
}

fn unavailable(err: impl ProvideErrorMetadata) -> ObjectError {
    ObjectError::Unavailable(format!("s3: {}", err.code().unwrap_or("unknown error")))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ObjectError> {
        if !is_valid_key(key) {
            return Err(ObjectError::InvalidKey);
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| unavailable(err.into_service_error()))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, ObjectError> {
        if !is_valid_key(key) {
            return Err(ObjectError::InvalidKey);
        }
        let output = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => output,
            Err(err) => {
                let err = err.into_service_error();
                if err.is_no_such_key() {
                    return Ok(None);
                }
                return Err(unavailable(err));
            }
        };
        let content_type = output.content_type().unwrap_or("application/octet-stream").to_string();
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| ObjectError::Unavailable(err.to_string()))?
            .into_bytes();
        Ok(Some(StoredObject {
            bytes: bytes.to_vec(),
            content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        if !is_valid_key(key) {
            return Err(ObjectError::InvalidKey);
        }
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| unavailable(err.into_service_error()))?;
        Ok(())
    }
}
