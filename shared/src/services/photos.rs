//! Profile photos: PNG, JPEG or WebP up to 1 MiB, typed from their bytes,
//! kept in the `ObjectStore` under `photos/<user id>/<photo id>`.
//!
//! A new photo gets a new key, so a replacement never overwrites the object a
//! committed record points to: the object is written first, the user record
//! then points to it (version-checked, audited, one transaction), and only
//! after the commit is the previous object deleted (best effort: a leftover
//! object is unreferenced, never served).

use crate::domain::ids::UserId;
use serde::Serialize;
use serde_json::json;

use super::audit::{self, Actor};
use super::records::{UserRecord, from_item, new_id, user_key};
use crate::ports::object_store::ObjectError;
use crate::ports::{Condition, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasObjects, HasTable};

/// Largest photo accepted, in bytes (equal to the request body limit).
pub const MAX_PHOTO_BYTES: usize = crate::config::MAX_BODY_BYTES;

/// Version-checked writes retried this many times when a concurrent change
/// (a profile edit, another upload) bumped the user record's version.
const ATTEMPTS: usize = 3;

/// The image formats a profile photo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoType {
    Png,
    Jpeg,
    Webp,
}

impl PhotoType {
    pub const ALL: [PhotoType; 3] = [PhotoType::Png, PhotoType::Jpeg, PhotoType::Webp];

    pub fn mime(self) -> &'static str {
        match self {
            PhotoType::Png => "image/png",
            PhotoType::Jpeg => "image/jpeg",
            PhotoType::Webp => "image/webp",
        }
    }

    /// The type a `Content-Type` value declares (parameters and case ignored;
    /// `image/jpg` is a common misspelling of `image/jpeg`).
    pub fn from_content_type(value: &str) -> Option<Self> {
        let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/png" => Some(PhotoType::Png),
            "image/jpeg" | "image/jpg" => Some(PhotoType::Jpeg),
            "image/webp" => Some(PhotoType::Webp),
            _ => None,
        }
    }

    /// The real type of the bytes, by their signature (`infer`); `None` for
    /// anything that is not PNG, JPEG or WebP.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        let kind = infer::get(bytes)?;
        match kind.mime_type() {
            "image/png" => Some(PhotoType::Png),
            "image/jpeg" => Some(PhotoType::Jpeg),
            // `infer` only looks at bytes 8..12 for WebP; the container must be RIFF too.
            "image/webp" if bytes.starts_with(b"RIFF") => Some(PhotoType::Webp),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("empty photo")]
    Empty,
    #[error("photo larger than {MAX_PHOTO_BYTES} bytes")]
    TooLarge,
    /// The request's `Content-Type` is missing or not PNG/JPEG/WebP.
    #[error("declared content type is not an accepted image type")]
    UnsupportedDeclaredType,
    /// The bytes are not a PNG, JPEG or WebP image, whatever was declared.
    #[error("bytes are not PNG, JPEG or WebP")]
    NotAnAcceptedImage,
    #[error("bytes are {actual:?}, declared {declared:?}")]
    TypeMismatch { declared: PhotoType, actual: PhotoType },
    /// No photo (or no user).
    #[error("no photo")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Objects(#[from] ObjectError),
}

/// What an upload stored.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SavedPhoto {
    pub content_type: &'static str,
    pub size: usize,
}

/// A photo to serve.
#[derive(Debug, Clone)]
pub struct Photo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// The type of an upload: the declared type must be accepted and agree with
/// the bytes. Checked before anything is stored.
pub fn check_upload(declared: Option<&str>, bytes: &[u8]) -> Result<PhotoType, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge);
    }
    let actual = PhotoType::sniff(bytes).ok_or(PhotoError::NotAnAcceptedImage)?;
    let declared = declared
        .and_then(PhotoType::from_content_type)
        .ok_or(PhotoError::UnsupportedDeclaredType)?;
    if declared != actual {
        return Err(PhotoError::TypeMismatch { declared, actual });
    }
    Ok(actual)
}

/// `photos/<user id>/<new photo id>`.
pub fn new_photo_key(user_id: &UserId) -> String {
    format!("photos/{user_id}/{}", new_id())
}

async fn load_user(state: &impl HasTable, user_id: &UserId) -> Result<UserRecord, PhotoError> {
    let item = state
        .table()
        .get(&user_key(user_id))
        .await?
        .ok_or(PhotoError::NotFound)?;
    Ok(from_item(item)?)
}

/// Deletes an object no record points to any more; failures are logged only.
async fn discard(state: &impl HasObjects, key: &str) {
    if let Err(err) = state.objects().delete(key).await {
        tracing::warn!(error = %err, "could not delete an unreferenced photo object");
    }
}

/// Points the user record at `photo_key` (or at none), version-checked and
/// audited in one transaction; retried when a concurrent change won the race.
/// Returns the key it replaced. `None` with `photo_key == None` and no
/// current photo means there was nothing to do.
async fn set_photo_key(
    state: &(impl HasTable + HasClock),
    user_id: &UserId,
    photo_key: Option<&str>,
    actor: &Actor,
    action: &str,
    detail: serde_json::Value,
) -> Result<Option<String>, PhotoError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let user = load_user(state, user_id).await?;
        if photo_key.is_none() && user.photo_key.is_none() {
            return Ok(None);
        }
        let update = match photo_key {
            Some(key) => Update::default().set("photo_key", key),
            None => Update::default().remove("photo_key"),
        }
        .add("version", 1);
        let ops = vec![
            WriteOp::Update {
                key: user_key(user_id),
                update,
                condition: Some(Condition::VersionEquals(user.version)),
            },
            audit::entry(
                actor,
                state.clock().now(),
                action,
                &format!("user:{user_id}"),
                detail.clone(),
            ),
        ];
        match state.table().transact(ops).await {
            Ok(()) => return Ok(user.photo_key),
            Err(StoreError::TransactionConditionFailed { index: 0 }) if attempt < ATTEMPTS => continue,
            Err(err) => return Err(err.into()),
        }
    }
}

/// Stores a new photo for the user and drops the previous one.
pub async fn replace(
    state: &(impl HasTable + HasClock + HasObjects),
    user_id: &UserId,
    declared: Option<&str>,
    bytes: Vec<u8>,
    actor: &Actor,
) -> Result<SavedPhoto, PhotoError> {
    let kind = check_upload(declared, &bytes)?;
    let size = bytes.len();
    let key = new_photo_key(user_id);
    state.objects().put(&key, bytes, kind.mime()).await?;
    let detail = json!({"content_type": kind.mime(), "size": size});
    let previous = match set_photo_key(state, user_id, Some(&key), actor, "account.photo_updated", detail).await {
        Ok(previous) => previous,
        Err(err) => {
            // Nothing points at the new object: do not leave it behind.
            discard(state, &key).await;
            return Err(err);
        }
    };
    if let Some(previous) = previous.filter(|previous| *previous != key) {
        discard(state, &previous).await;
    }
    Ok(SavedPhoto {
        content_type: kind.mime(),
        size,
    })
}

/// The user's photo. Served with the type of its bytes, never a stored label.
pub async fn get(state: &(impl HasTable + HasObjects), user_id: &UserId) -> Result<Photo, PhotoError> {
    let user = load_user(state, user_id).await?;
    let key = user.photo_key.ok_or(PhotoError::NotFound)?;
    let Some(object) = state.objects().get(&key).await? else {
        tracing::warn!("a user record points at a missing photo object");
        return Err(PhotoError::NotFound);
    };
    let Some(kind) = PhotoType::sniff(&object.bytes) else {
        tracing::error!("a stored photo is not an accepted image type; not served");
        return Err(PhotoError::NotFound);
    };
    Ok(Photo {
        bytes: object.bytes,
        content_type: kind.mime(),
    })
}

/// Removes the user's photo; removing when there is none is not an error.
pub async fn remove(
    state: &(impl HasTable + HasClock + HasObjects),
    user_id: &UserId,
    actor: &Actor,
) -> Result<(), PhotoError> {
    let previous = set_photo_key(state, user_id, None, actor, "account.photo_removed", json!({})).await?;
    if let Some(previous) = previous {
        discard(state, &previous).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG_HEAD: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";
    const WEBP_HEAD: &[u8] = b"RIFF\x1a\0\0\0WEBPVP8L";

    #[test]
    fn declared_and_real_types_must_agree() {
        assert_eq!(check_upload(Some("image/png"), PNG_HEAD).ok(), Some(PhotoType::Png));
        assert_eq!(
            check_upload(Some("IMAGE/JPEG; charset=binary"), JPEG_HEAD).ok(),
            Some(PhotoType::Jpeg)
        );
        assert_eq!(check_upload(Some("image/jpg"), JPEG_HEAD).ok(), Some(PhotoType::Jpeg));
        assert_eq!(check_upload(Some("image/webp"), WEBP_HEAD).ok(), Some(PhotoType::Webp));
        assert!(matches!(
            check_upload(Some("image/png"), JPEG_HEAD),
            Err(PhotoError::TypeMismatch {
                declared: PhotoType::Png,
                actual: PhotoType::Jpeg
            })
        ));
        assert!(matches!(
            check_upload(Some("application/octet-stream"), PNG_HEAD),
            Err(PhotoError::UnsupportedDeclaredType)
        ));
        assert!(matches!(
            check_upload(None, PNG_HEAD),
            Err(PhotoError::UnsupportedDeclaredType)
        ));
        assert!(matches!(
            check_upload(Some("image/png"), b"GIF89a\x01\0\x01\0"),
            Err(PhotoError::NotAnAcceptedImage)
        ));
        // "WEBP" at offset 8 is not enough without the RIFF container.
        assert!(matches!(
            check_upload(Some("image/webp"), b"hello, WEBP world"),
            Err(PhotoError::NotAnAcceptedImage)
        ));
        assert!(matches!(check_upload(Some("image/png"), b""), Err(PhotoError::Empty)));
        let mut big = PNG_HEAD.to_vec();
        big.resize(MAX_PHOTO_BYTES + 1, 0);
        assert!(matches!(
            check_upload(Some("image/png"), &big),
            Err(PhotoError::TooLarge)
        ));
        big.truncate(MAX_PHOTO_BYTES);
        assert!(check_upload(Some("image/png"), &big).is_ok());
    }

    #[test]
    fn photo_keys_are_valid_object_keys_and_unique() {
        let a = new_photo_key(&UserId::new("0192f0c4a1b27c3d8e9f00112233aabb"));
        let b = new_photo_key(&UserId::new("0192f0c4a1b27c3d8e9f00112233aabb"));
        assert!(crate::ports::object_store::is_valid_key(&a), "{a}");
        assert!(a.starts_with("photos/0192f0c4a1b27c3d8e9f00112233aabb/"));
        assert_ne!(a, b);
    }
}
