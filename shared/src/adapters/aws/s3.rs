//! The AWS `ObjectStore`: one private S3 bucket (SSE-KMS, set in the template).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::ports::object_store::{
    ObjectError, ObjectReader, ObjectStore, StoredObject, UploadedPart, attachment_disposition, is_valid_key,
};

pub struct S3ObjectStore {
    client: super::LazyClient<aws_sdk_s3::Client>,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(client: impl Into<super::LazyClient<aws_sdk_s3::Client>>, bucket: String) -> Self {
        Self {
            client: client.into(),
            bucket,
        }
    }
}

fn unavailable(err: impl ProvideErrorMetadata) -> ObjectError {
    ObjectError::Unavailable(format!("s3: {}", err.code().unwrap_or("unknown error")))
}

/// The error of a call on an upload: a finished or unknown upload and a bad
/// part are the caller's to handle; anything else is the store being down.
fn upload_error(err: impl ProvideErrorMetadata) -> ObjectError {
    match err.code() {
        Some("NoSuchUpload") => ObjectError::NoSuchUpload,
        Some(code @ ("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall")) => ObjectError::InvalidPart(code.into()),
        _ => unavailable(err),
    }
}

fn checked(key: &str) -> Result<(), ObjectError> {
    if is_valid_key(key) {
        Ok(())
    } else {
        Err(ObjectError::InvalidKey)
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ObjectError> {
        checked(key)?;
        self.client
            .get()
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
        let Some(reader) = self.open(key).await? else {
            return Ok(None);
        };
        use futures::TryStreamExt;
        let chunks: Vec<bytes::Bytes> = reader.chunks.try_collect().await?;
        Ok(Some(StoredObject {
            bytes: chunks.concat(),
            content_type: reader.content_type,
        }))
    }

    async fn open(&self, key: &str) -> Result<Option<ObjectReader>, ObjectError> {
        checked(key)?;
        let output = match self
            .client
            .get()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
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
        let length = output.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        let chunks = futures::stream::try_unfold(output.body, |mut body| async move {
            match body.next().await {
                Some(Ok(chunk)) => Ok(Some((chunk, body))),
                Some(Err(err)) => Err(ObjectError::Unavailable(format!("s3: {err}"))),
                None => Ok(None),
            }
        });
        Ok(Some(ObjectReader {
            content_type,
            length,
            chunks: Box::pin(chunks),
        }))
    }

    async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        checked(key)?;
        match self
            .client
            .get()
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) => {
                let err = err.into_service_error();
                if err.is_not_found() {
                    Ok(false)
                } else {
                    Err(unavailable(err))
                }
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        checked(key)?;
        self.client
            .get()
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|err| unavailable(err.into_service_error()))?;
        Ok(())
    }

    async fn start_upload(&self, key: &str, content_type: &str) -> Result<String, ObjectError> {
        checked(key)?;
        let output = self
            .client
            .get()
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|err| unavailable(err.into_service_error()))?;
        output
            .upload_id()
            .map(str::to_string)
            .ok_or_else(|| ObjectError::Unavailable("s3: no upload id".into()))
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        bytes: Vec<u8>,
    ) -> Result<UploadedPart, ObjectError> {
        checked(key)?;
        let part_number =
            i32::try_from(number).map_err(|_| ObjectError::InvalidPart(format!("part number {number}")))?;
        let output = self
            .client
            .get()
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(part_number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| upload_error(err.into_service_error()))?;
        let etag = output
            .e_tag()
            .map(str::to_string)
            .ok_or_else(|| ObjectError::Unavailable("s3: no part tag".into()))?;
        Ok(UploadedPart { number, etag })
    }

    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[UploadedPart]) -> Result<(), ObjectError> {
        checked(key)?;
        let parts = parts
            .iter()
            .map(|part| {
                let number = i32::try_from(part.number)
                    .map_err(|_| ObjectError::InvalidPart(format!("part number {}", part.number)))?;
                Ok(CompletedPart::builder().part_number(number).e_tag(&part.etag).build())
            })
            .collect::<Result<Vec<_>, ObjectError>>()?;
        self.client
            .get()
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|err| upload_error(err.into_service_error()))?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<(), ObjectError> {
        checked(key)?;
        match self
            .client
            .get()
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => match upload_error(err.into_service_error()) {
                ObjectError::NoSuchUpload => Ok(()),
                other => Err(other),
            },
        }
    }

    /// A presigned GET. Signing is local (no request); the URL carries the
    /// function's temporary credentials, so it stops working when they
    /// expire even if `ttl` has not passed.
    async fn download_url(&self, key: &str, filename: &str, ttl: Duration) -> Result<Option<String>, ObjectError> {
        checked(key)?;
        let presigning = PresigningConfig::expires_in(ttl)
            .map_err(|err| ObjectError::Unavailable(format!("s3 presigning: {err}")))?;
        let request = self
            .client
            .get()
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(attachment_disposition(filename))
            .presigned(presigning)
            .await
            .map_err(|err| unavailable(err.into_service_error()))?;
        Ok(Some(request.uri().to_string()))
    }
}
