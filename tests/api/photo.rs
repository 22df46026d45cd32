//! `PUT`, `GET` and `DELETE /me/photo` through the real router and pipeline on
//! the embedded store (directory object store), signed up through
//! `POST /auth/signup` like a browser.

use axum::body::Body;
use http::{Request, StatusCode};
use konnecs::domain::ids::UserId;
use konnecs::services::records::{UserRecord, from_item, user_key};
use konnecs_tests::app::TestApp;
use serde_json::{Value, json};

/// A 1×1 RGB PNG (IHDR, IDAT, IEND with valid CRCs).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x50, 0x5a, 0x55, 0x0e, 0x00, 0x02, 0x35, 0x01, 0x44, 0xa2, 0x8a, 0x4c, 0x69,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A 1×1 grayscale baseline JPEG: JFIF, a flat quantization table, one-code
/// Huffman tables and a single DC-only block.
fn jpeg() -> Vec<u8> {
    let mut jpeg = vec![0xff, 0xd8];
    jpeg.extend([
        0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
    ]);
    jpeg.extend([0xff, 0xdb, 0x00, 0x43, 0x00]);
    jpeg.extend([0x01; 64]);
    jpeg.extend([
        0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00,
    ]);
    for class in [0x00, 0x10] {
        jpeg.extend([0xff, 0xc4, 0x00, 0x14, class, 0x01]);
        jpeg.extend([0x00; 15]);
        jpeg.push(0x00);
    }
    jpeg.extend([0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00]);
    jpeg.extend([0x3f, 0xff, 0xd9]);
    jpeg
}

/// A 1×1 lossless WebP (RIFF/WEBP/VP8L).
const WEBP: &[u8] = &[
    0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c, 0x0d, 0x00, 0x00,
    0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00,
];

/// A 1×1 GIF89a.
const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x01, 0x44, 0x00, 0x3b,
];

const SESSION_COOKIE: &str = "__Host-konnecs_session";
const MIB: usize = 1024 * 1024;

type App = TestApp;

fn app() -> App {
    TestApp::new()
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// A problem with this status, top-level code and (when given) field error.
    fn assert_problem(&self, status: StatusCode, code: &str, field_code: Option<&str>) {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(body["code"], code, "{body}");
        if let Some(field_code) = field_code {
            assert_eq!(body["errors"][0]["field"], "photo", "{body}");
            assert_eq!(body["errors"][0]["code"], field_code, "{body}");
        }
    }
}

async fn send(app: &App, request: Request<Body>) -> Reply {
    let reply = app.request(request).await;
    Reply {
        status: reply.status,
        headers: reply.headers,
        bytes: reply.bytes,
    }
}

/// A signed-in browser.
struct User {
    id: String,
    session: String,
    csrf: String,
}

async fn sign_up(app: &App, email: &str) -> User {
    let member = app.sign_up(email, "Whitfield Dental").await;
    User {
        id: member.user_id,
        session: member.browser.session.expect("the session cookie is set"),
        csrf: member.browser.csrf.expect("a CSRF token"),
    }
}

fn request(user: &User, method: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri("/me/photo")
        .header("cookie", format!("{SESSION_COOKIE}={}", user.session))
        .header("x-csrf-token", &user.csrf)
}

async fn upload(app: &App, user: &User, content_type: &str, bytes: &[u8]) -> Reply {
    let request = request(user, "PUT")
        .header("content-type", content_type)
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    send(app, request).await
}

async fn photo(app: &App, user: &User) -> Reply {
    send(app, request(user, "GET").body(Body::empty()).unwrap()).await
}

async fn remove(app: &App, user: &User) -> Reply {
    send(app, request(user, "DELETE").body(Body::empty()).unwrap()).await
}

async fn record(app: &App, user: &User) -> UserRecord {
    from_item(
        app.state
            .table
            .get(&user_key(&UserId::from(&user.id)))
            .await
            .unwrap()
            .expect("user record"),
    )
    .unwrap()
}

/// Object files the directory store holds (named `<key>~object`).
fn object_files(app: &App) -> Vec<String> {
    let root = app.data_dir().join("objects");
    let mut files = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if let Some(key) = path.to_string_lossy().strip_suffix("~object") {
                files.push(
                    key.strip_prefix(&*root.to_string_lossy())
                        .unwrap_or(key)
                        .trim_start_matches('/')
                        .to_string(),
                );
            }
        }
    }
    files.sort();
    files
}

async fn audit_actions(app: &App, user: &User) -> Vec<String> {
    let org = record(app, user).await.last_org_id.expect("org");
    let (entries, _) = konnecs::services::audit::list(app.state.table.as_ref(), &org, 100, None)
        .await
        .unwrap();
    entries
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.contains("photo"))
        .collect()
}

#[tokio::test]
async fn png_jpeg_and_webp_are_stored_and_served_back_with_their_type() {
    let app = app();
    let user = sign_up(&app, "dana@whitfield-dental.example").await;
    let jpeg = jpeg();
    for (content_type, bytes) in [
        ("image/png", PNG),
        ("image/jpeg", jpeg.as_slice()),
        ("image/webp", WEBP),
    ] {
        let put = upload(&app, &user, content_type, bytes).await;
        assert_eq!(put.status, StatusCode::OK, "{content_type}: {}", put.json());
        assert_eq!(put.json(), json!({"content_type": content_type, "size": bytes.len()}));

        let got = photo(&app, &user).await;
        assert_eq!(got.status, StatusCode::OK, "{content_type}");
        assert_eq!(got.bytes, bytes, "{content_type}: the same bytes come back");
        assert_eq!(got.header("content-type"), content_type);
        assert!(
            got.header("cache-control").split(',').any(|d| d.trim() == "private"),
            "{:?}",
            got.headers
        );
        assert_eq!(got.header("x-content-type-options"), "nosniff");
        assert!(!got.header("x-request-id").is_empty());
    }
    let me = send(&app, request(&user, "GET").uri("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(me.json()["has_photo"], true, "{}", me.json());
    let key = record(&app, &user).await.photo_key.expect("photo key recorded");
    assert!(key.starts_with(&format!("photos/{}/", user.id)), "{key}");
}

#[tokio::test]
async fn a_gif_text_or_mislabelled_image_is_refused_and_nothing_is_stored() {
    let app = app();
    let user = sign_up(&app, "dana@whitfield-dental.example").await;
    let cases: [(&str, &[u8], &str); 7] = [
        ("image/png", GIF, "photo_type_unsupported"),
        ("image/gif", GIF, "photo_type_unsupported"),
        (
            "image/png",
            b"just some text, not an image at all",
            "photo_type_unsupported",
        ),
        ("image/jpeg", PNG, "photo_type_mismatch"),
        ("image/webp", PNG, "photo_type_mismatch"),
        ("text/plain", PNG, "photo_content_type_unsupported"),
        ("image/png", b"", "required"),
    ];
    for (content_type, bytes, field_code) in cases {
        let reply = upload(&app, &user, content_type, bytes).await;
        reply.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", Some(field_code));
    }
    // Without any Content-Type.
    let reply = send(&app, request(&user, "PUT").body(Body::from(PNG.to_vec())).unwrap()).await;
    reply.assert_problem(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        Some("photo_content_type_unsupported"),
    );
    assert_eq!(record(&app, &user).await.photo_key, None);
    assert_eq!(object_files(&app), Vec::<String>::new());
    assert_eq!(audit_actions(&app, &user).await, Vec::<String>::new());
    photo(&app, &user)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found", None);
}

#[tokio::test]
async fn a_body_over_1_mib_is_a_413_problem_and_exactly_1_mib_is_accepted() {
    let app = app();
    let user = sign_up(&app, "dana@whitfield-dental.example").await;
    let mut big = PNG.to_vec();
    big.resize(MIB + 1, 0);
    // Declared length: refused by the pipeline before the handler reads anything.
    let declared = request(&user, "PUT")
        .header("content-type", "image/png")
        .header("content-length", big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    send(&app, declared)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);
    // No length: cut off while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = request(&user, "PUT")
        .header("content-type", "image/png")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    send(&app, streamed)
        .await
        .assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None);
    assert_eq!(object_files(&app), Vec::<String>::new());

    big.truncate(MIB);
    let at_limit = upload(&app, &user, "image/png", &big).await;
    assert_eq!(at_limit.status, StatusCode::OK, "{}", at_limit.json());
    assert_eq!(photo(&app, &user).await.bytes.len(), MIB);
}

#[tokio::test]
async fn get_me_photo_is_always_the_callers_own() {
    let app = app();
    let dana = sign_up(&app, "dana@whitfield-dental.example").await;
    let omar = sign_up(&app, "omar@harbor-physio.example").await;
    assert_eq!(upload(&app, &dana, "image/png", PNG).await.status, StatusCode::OK);

    photo(&app, &omar)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found", None);
    assert_eq!(upload(&app, &omar, "image/webp", WEBP).await.status, StatusCode::OK);
    assert_eq!(photo(&app, &omar).await.bytes, WEBP);
    assert_eq!(photo(&app, &dana).await.bytes, PNG);
    // Removing one user's photo leaves the other's.
    assert_eq!(remove(&app, &omar).await.status, StatusCode::NO_CONTENT);
    assert_eq!(photo(&app, &dana).await.bytes, PNG);

    // Without a session there is no photo to ask for.
    let anonymous = send(&app, Request::get("/me/photo").body(Body::empty()).unwrap()).await;
    anonymous.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated", None);
}

#[tokio::test]
async fn uploads_and_removals_need_the_csrf_token() {
    let app = app();
    let user = sign_up(&app, "dana@whitfield-dental.example").await;
    for (method, body) in [("PUT", PNG.to_vec()), ("DELETE", Vec::new())] {
        let request = Request::builder()
            .method(method)
            .uri("/me/photo")
            .header("cookie", format!("{SESSION_COOKIE}={}", user.session))
            .header("content-type", "image/png")
            .body(Body::from(body))
            .unwrap();
        send(&app, request)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "csrf_token_invalid", None);
    }
    assert_eq!(object_files(&app), Vec::<String>::new());
}

#[tokio::test]
async fn replacing_the_photo_deletes_the_old_object_and_delete_removes_it() {
    let app = app();
    let user = sign_up(&app, "dana@whitfield-dental.example").await;
    let version_before = record(&app, &user).await.version;
    assert_eq!(upload(&app, &user, "image/png", PNG).await.status, StatusCode::OK);
    let first = record(&app, &user).await;
    let first_key = first.photo_key.clone().expect("first key");
    assert_eq!(first.version, version_before + 1, "the record update is versioned");
    assert!(app.state.objects.get(&first_key).await.unwrap().is_some());

    let jpeg = jpeg();
    assert_eq!(upload(&app, &user, "image/jpeg", &jpeg).await.status, StatusCode::OK);
    let second_key = record(&app, &user).await.photo_key.expect("second key");
    assert_ne!(second_key, first_key, "a replacement is a new object");
    assert_eq!(
        app.state.objects.get(&first_key).await.unwrap(),
        None,
        "old object deleted"
    );
    let stored = app.state.objects.get(&second_key).await.unwrap().expect("new object");
    assert_eq!(
        (stored.bytes, stored.content_type.as_str()),
        (jpeg.clone(), "image/jpeg")
    );
    assert_eq!(object_files(&app), vec![second_key.clone()]);

    assert_eq!(remove(&app, &user).await.status, StatusCode::NO_CONTENT);
    assert_eq!(record(&app, &user).await.photo_key, None);
    assert_eq!(app.state.objects.get(&second_key).await.unwrap(), None);
    assert_eq!(object_files(&app), Vec::<String>::new());
    photo(&app, &user)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found", None);
    // Removing again is fine and records nothing more.
    assert_eq!(remove(&app, &user).await.status, StatusCode::NO_CONTENT);
    let mut actions = audit_actions(&app, &user).await;
    actions.sort();
    assert_eq!(
        actions,
        [
            "account.photo_removed",
            "account.photo_updated",
            "account.photo_updated"
        ]
    );
}

#[tokio::test]
async fn without_a_photo_get_is_404() {
    let app = app();
    let user = sign_up(&app, "dana@whitfield-dental.example").await;
    photo(&app, &user)
        .await
        .assert_problem(StatusCode::NOT_FOUND, "not_found", None);
}

#[tokio::test]
async fn concurrent_uploads_leave_one_photo_and_no_orphans() {
    let app = std::sync::Arc::new(app());
    let user = std::sync::Arc::new(sign_up(&app, "dana@whitfield-dental.example").await);
    let jpeg = jpeg();
    let uploads = [
        ("image/png", PNG.to_vec()),
        ("image/jpeg", jpeg),
        ("image/webp", WEBP.to_vec()),
    ];
    let tasks: Vec<_> = uploads
        .iter()
        .cloned()
        .map(|(content_type, bytes)| {
            let (app, user) = (app.clone(), user.clone());
            tokio::spawn(async move { upload(&app, &user, content_type, &bytes).await.status })
        })
        .collect();
    for task in tasks {
        let status = task.await.unwrap();
        // A version conflict after the retries is a clean 409, never a 5xx.
        assert!(status == StatusCode::OK || status == StatusCode::CONFLICT, "{status}");
    }
    let key = record(&app, &user).await.photo_key.expect("one upload won");
    assert_eq!(object_files(&app), vec![key], "only the recorded object is left");
    let served = photo(&app, &user).await;
    assert!(uploads.iter().any(|(_, bytes)| *bytes == served.bytes));
}

/// `events/me-photo-put.json` carries a base64 PNG (`isBase64Encoded`), as API
/// Gateway sends binary bodies; `lambda_http` must hand the handler the bytes.
#[tokio::test]
async fn the_put_sample_event_decodes_to_the_png_it_carries() {
    let app = app();
    let user = sign_up(&app, "dana@whitfield-dental.example").await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/me-photo-put.json");
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace("SESSION_TOKEN", &user.session)
        .replace("CSRF_TOKEN", &user.csrf);
    let event: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(event["isBase64Encoded"], true);
    let request = lambda_http::request::from_str(&text).expect("an API Gateway event");
    let (parts, body) = request.into_parts();
    assert_eq!(body.to_vec(), PNG, "the decoded body is the PNG");
    let reply = send(&app, Request::from_parts(parts, Body::from(body.to_vec()))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.json());
    assert_eq!(photo(&app, &user).await.bytes, PNG);
}
