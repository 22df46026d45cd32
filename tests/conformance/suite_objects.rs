//! `ObjectStore` conformance cases: S3 semantics (whole-object put/get,
//! overwrite, idempotent delete, a flat key space where `a` and `a/b` are
//! unrelated) and the key rules of `is_valid_key`, on every backend.

use konnecs::ports::{ObjectError, StoredObject};

use crate::ObjectsFixture;

fn stored(bytes: &[u8], content_type: &str) -> Option<StoredObject> {
    Some(StoredObject {
        bytes: bytes.to_vec(),
        content_type: content_type.into(),
    })
}

/// Every byte value, then a pattern over `len` bytes.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i / 251) as u8).collect()
}

pub async fn put_then_get_round_trips_bytes_and_content_type(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    let all_bytes: Vec<u8> = (0..=255).collect();
    store.put("photos/u1/p1", all_bytes.clone(), "image/png").await.unwrap();
    assert_eq!(
        store.get("photos/u1/p1").await.unwrap(),
        stored(&all_bytes, "image/png")
    );

    // A photo at the size limit, and an empty object.
    let large = binary(1024 * 1024);
    store.put("exports/e-1.csv", large.clone(), "text/csv").await.unwrap();
    assert_eq!(store.get("exports/e-1.csv").await.unwrap(), stored(&large, "text/csv"));
    store
        .put("empty", Vec::new(), "application/octet-stream")
        .await
        .unwrap();
    assert_eq!(
        store.get("empty").await.unwrap(),
        stored(b"", "application/octet-stream")
    );
    // Objects are independent of one another.
    assert_eq!(
        store.get("photos/u1/p1").await.unwrap(),
        stored(&all_bytes, "image/png")
    );
}

pub async fn overwrite_replaces_bytes_and_content_type(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    store
        .put("photos/u1/p", b"first version, longer".to_vec(), "image/png")
        .await
        .unwrap();
    store
        .put("photos/u1/p", b"second".to_vec(), "image/webp")
        .await
        .unwrap();
    assert_eq!(store.get("photos/u1/p").await.unwrap(), stored(b"second", "image/webp"));
}

pub async fn get_of_a_missing_key_is_none(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    assert_eq!(store.get("photos/nobody/none").await.unwrap(), None);
    store.put("photos/u1/p", b"x".to_vec(), "image/png").await.unwrap();
    // Neither a sibling nor a prefix of a stored key is an object.
    assert_eq!(store.get("photos/u1/q").await.unwrap(), None);
    assert_eq!(store.get("photos/u1").await.unwrap(), None);
    assert_eq!(store.get("photos").await.unwrap(), None);
}

pub async fn delete_is_idempotent(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    store.delete("photos/u1/never-stored").await.unwrap();
    store.put("photos/u1/p", b"x".to_vec(), "image/png").await.unwrap();
    store.put("photos/u1/keep", b"k".to_vec(), "image/png").await.unwrap();
    store.delete("photos/u1/p").await.unwrap();
    assert_eq!(store.get("photos/u1/p").await.unwrap(), None);
    store.delete("photos/u1/p").await.unwrap();
    assert_eq!(store.get("photos/u1/p").await.unwrap(), None);
    assert_eq!(store.get("photos/u1/keep").await.unwrap(), stored(b"k", "image/png"));
    // A deleted key can be written again.
    store.put("photos/u1/p", b"again".to_vec(), "image/jpeg").await.unwrap();
    assert_eq!(store.get("photos/u1/p").await.unwrap(), stored(b"again", "image/jpeg"));
}

/// S3's key space is flat: `a` and `a/b` are two unrelated objects.
pub async fn a_key_and_keys_under_it_coexist(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    store.put("p/a/b", b"child".to_vec(), "text/plain").await.unwrap();
    store.put("p/a", b"parent".to_vec(), "text/plain").await.unwrap();
    store.put("q/a", b"parent".to_vec(), "text/plain").await.unwrap();
    store.put("q/a/b", b"child".to_vec(), "text/plain").await.unwrap();
    for prefix in ["p", "q"] {
        assert_eq!(
            store.get(&format!("{prefix}/a")).await.unwrap(),
            stored(b"parent", "text/plain")
        );
        assert_eq!(
            store.get(&format!("{prefix}/a/b")).await.unwrap(),
            stored(b"child", "text/plain")
        );
    }
    store.delete("p/a").await.unwrap();
    assert_eq!(store.get("p/a").await.unwrap(), None);
    assert_eq!(store.get("p/a/b").await.unwrap(), stored(b"child", "text/plain"));
}

/// The longest valid key (512 characters, segments of up to 200) works everywhere.
pub async fn longest_valid_key_round_trips(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    let key = format!("{}/{}/{}", "a".repeat(200), "b".repeat(200), "c".repeat(110));
    assert_eq!(key.len(), 512);
    store.put(&key, b"long".to_vec(), "text/plain").await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), stored(b"long", "text/plain"));
    store.delete(&key).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
}

pub async fn invalid_keys_are_rejected_without_touching_storage(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    store.put("photos/u1/p", b"x".to_vec(), "image/png").await.unwrap();
    let before = (f.contents)().await;
    assert!(!before.is_empty(), "the fixture lists what the backend holds");
    let too_long = format!("{}/{}/{}", "a".repeat(200), "b".repeat(200), "c".repeat(111));
    let long_segment = "s".repeat(201);
    let invalid = [
        "../x",
        "photos/../../x",
        "/abs",
        "/etc/passwd",
        "",
        "a//b",
        "a/",
        "./a",
        "a/./b",
        "photos/u1/p/..",
        "a b",
        "a\\b",
        "a\0b",
        "ä",
        "~",
        too_long.as_str(),
        long_segment.as_str(),
    ];
    for key in invalid {
        let put = store.put(key, b"evil".to_vec(), "text/plain").await;
        assert!(matches!(put, Err(ObjectError::InvalidKey)), "put {key:?}: {put:?}");
        let get = store.get(key).await;
        assert!(matches!(get, Err(ObjectError::InvalidKey)), "get {key:?}: {get:?}");
        let delete = store.delete(key).await;
        assert!(
            matches!(delete, Err(ObjectError::InvalidKey)),
            "delete {key:?}: {delete:?}"
        );
    }
    assert_eq!((f.contents)().await, before, "an invalid key changed the storage");
    assert_eq!(store.get("photos/u1/p").await.unwrap(), stored(b"x", "image/png"));
}
