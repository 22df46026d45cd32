//! `ObjectStore` conformance cases: S3 semantics (whole-object put/get,
//! overwrite, idempotent delete, a flat key space where `a` and `a/b` are
//! unrelated) and the key rules of `is_valid_key`, on every backend.

use std::time::Duration;

use futures::TryStreamExt;
use konnecs::ports::object_store::MIN_PART_BYTES;
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

/// A call on an upload that has ended fails, as `NoSuchUpload` where the
/// backend names it (see `ObjectsFixture::names_ended_uploads`).
fn assert_ended(f: &ObjectsFixture, result: Result<(), ObjectError>) {
    if f.names_ended_uploads {
        assert!(matches!(result, Err(ObjectError::NoSuchUpload)), "{result:?}");
    } else {
        assert!(result.is_err(), "a call on an ended upload must fail");
    }
}

/// S3's multipart rules on every backend: nothing is visible until the
/// upload completes; the parts are then joined in order; a part number
/// uploaded again replaces the earlier bytes; the upload is gone afterwards.
pub async fn a_multipart_upload_joins_its_parts_in_order_and_shows_nothing_before(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    let key = "exports/o1/e1/contacts.csv";
    let upload = store.start_upload(key, "text/csv").await.unwrap();
    let first = binary(MIN_PART_BYTES);
    let second: Vec<u8> = binary(MIN_PART_BYTES + 7).into_iter().rev().collect();
    let tail = b"the last part may be small".to_vec();
    let p1 = store.upload_part(key, &upload, 1, first.clone()).await.unwrap();
    // A first version of part 2, then its replacement.
    store
        .upload_part(key, &upload, 2, vec![b'x'; MIN_PART_BYTES])
        .await
        .unwrap();
    let p2 = store.upload_part(key, &upload, 2, second.clone()).await.unwrap();
    let p3 = store.upload_part(key, &upload, 3, tail.clone()).await.unwrap();
    assert_eq!((p1.number, p2.number, p3.number), (1, 2, 3));
    assert_eq!(
        store.get(key).await.unwrap(),
        None,
        "nothing is visible before completion"
    );
    assert!(!store.exists(key).await.unwrap());

    store.complete_upload(key, &upload, &[p1, p2, p3]).await.unwrap();
    let whole = [first, second, tail].concat();
    assert_eq!(store.get(key).await.unwrap(), stored(&whole, "text/csv"));
    let late = store.upload_part(key, &upload, 4, b"late".to_vec()).await;
    assert_ended(f, late.map(|_| ()));
    store.delete(key).await.unwrap();
    assert_eq!((f.contents)().await, Vec::<String>::new(), "no parts are left behind");
}

/// A part replaced after its tag was taken is not joined silently.
pub async fn completing_with_a_part_replaced_since_is_refused(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    let key = "exports/o1/e2/contacts.jsonl";
    let upload = store.start_upload(key, "application/x-ndjson").await.unwrap();
    let stale = store
        .upload_part(key, &upload, 1, binary(MIN_PART_BYTES))
        .await
        .unwrap();
    let last = store.upload_part(key, &upload, 2, b"tail".to_vec()).await.unwrap();
    let fresh = store
        .upload_part(key, &upload, 1, vec![b'y'; MIN_PART_BYTES])
        .await
        .unwrap();
    assert_ne!(stale.etag, fresh.etag);
    assert!(matches!(
        store.complete_upload(key, &upload, &[stale, last.clone()]).await,
        Err(ObjectError::InvalidPart(_))
    ));
    assert_eq!(store.get(key).await.unwrap(), None);
    // The upload is still open: completing with the current tags works.
    store.complete_upload(key, &upload, &[fresh, last]).await.unwrap();
    let object = store.get(key).await.unwrap().unwrap();
    assert_eq!(object.bytes.len(), MIN_PART_BYTES + 4);
    assert!(object.bytes.ends_with(b"tail"));
}

pub async fn an_aborted_upload_leaves_nothing_and_takes_no_more_parts(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    let key = "exports/o1/e3/contacts.csv";
    let upload = store.start_upload(key, "text/csv").await.unwrap();
    let part = store.upload_part(key, &upload, 1, b"rows".to_vec()).await.unwrap();
    store.abort_upload(key, &upload).await.unwrap();
    store.abort_upload(key, &upload).await.unwrap();
    let late = store.upload_part(key, &upload, 2, b"more".to_vec()).await;
    assert_ended(f, late.map(|_| ()));
    assert_ended(f, store.complete_upload(key, &upload, &[part]).await);
    assert!(!store.exists(key).await.unwrap());
    assert_eq!(
        (f.contents)().await,
        Vec::<String>::new(),
        "an aborted upload leaves nothing behind"
    );
}

pub async fn open_streams_an_object_and_exists_tells_whether_there_is_one(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    let bytes = binary(300 * 1024);
    store
        .put("exports/o1/e4/contacts.csv", bytes.clone(), "text/csv")
        .await
        .unwrap();
    let reader = store.open("exports/o1/e4/contacts.csv").await.unwrap().expect("stored");
    assert_eq!(
        (reader.content_type.as_str(), reader.length),
        ("text/csv", bytes.len() as u64)
    );
    let chunks: Vec<_> = reader.chunks.try_collect().await.unwrap();
    assert!(chunks.len() > 1 || bytes.len() < 64 * 1024, "read in chunks, not whole");
    let joined: Vec<u8> = chunks.iter().flat_map(|chunk| chunk.iter().copied()).collect();
    assert_eq!(joined, bytes);
    assert!(store.exists("exports/o1/e4/contacts.csv").await.unwrap());
    assert!(!store.exists("exports/o1/e4").await.unwrap());
    assert!(store.open("exports/o1/none").await.unwrap().is_none());
    assert!(matches!(store.open("../x").await, Err(ObjectError::InvalidKey)));
}

/// S3 hands out presigned links that download the object under the given
/// name without credentials; the directory store has none (the app serves
/// its files itself).
pub async fn a_download_link_serves_the_object_as_a_named_attachment(f: &ObjectsFixture) {
    let store = f.store.as_ref();
    let key = "exports/o1/e5/contacts.csv";
    store.put(key, b"first_name\nAda\n".to_vec(), "text/csv").await.unwrap();
    let link = store
        .download_url(key, "contacts \"all\".csv", Duration::from_secs(60))
        .await
        .unwrap();
    if !f.direct_links {
        assert_eq!(link, None);
        return;
    }
    let url = link.expect("a presigned link");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"contacts__all_.csv\""
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"first_name\nAda\n");
}
