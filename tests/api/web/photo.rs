//! The profile's photo form without JavaScript: a multipart post stores
//! the image (typed from its bytes), shows it on the profile, and removes
//! it; a file that is no image comes back beside the field; the CSRF
//! token is required as on every form.

use super::*;

const BOUNDARY: &str = "----konnecs-photo-7MA4YWxk";

/// The signature and header of a 1×1 PNG: what `infer` reads.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89,
];

impl Visitor {
    /// The photo form as a browser posts it: `_csrf`, the file, and the
    /// button's `action` when it has one.
    async fn post_photo(&mut self, app: &App, csrf: &str, file: Option<(&str, &[u8])>, action: Option<&str>) -> Page {
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n").as_bytes(),
        );
        let (filename, bytes) = file.unwrap_or(("", b""));
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
        if let Some(action) = action {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\n{action}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let request = Request::post("/app/profile/photo")
            .header("cookie", self.cookie_header())
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("host", "konnecs.test")
            .header("origin", "http://konnecs.test")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .expect("request");
        self.send(app, request).await
    }
}

#[tokio::test]
async fn a_profile_photo_is_uploaded_shown_and_removed_with_a_plain_form() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.get(&app, "/app/profile")
        .await
        .expect(StatusCode::OK)
        .contains("enctype=\"multipart/form-data\"")
        .contains("No photo yet.")
        .lacks("src=\"/me/photo\"");

    // Not an image: refused beside the field, nothing stored.
    anna.post_photo(&app, &csrf, Some(("notes.png", b"not an image at all")), None)
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("aria-describedby=\"photo-error\"")
        .contains("The file is not a PNG, JPEG or WebP image.");
    anna.post_photo(&app, &csrf, None, None)
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("Choose an image file.");
    // Without the token: refused.
    anna.post_photo(&app, "forged", Some(("me.png", PNG)), None)
        .await
        .expect(StatusCode::FORBIDDEN);
    assert_eq!(anna.get(&app, "/me/photo").await.status, StatusCode::NOT_FOUND);

    let saved = anna.post_photo(&app, &csrf, Some(("me.png", PNG)), None).await;
    saved.expect(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/app/profile?notice=photo-saved");
    anna.get(&app, saved.location())
        .await
        .contains("Your photo is saved.")
        .contains("<img class=\"avatar\" src=\"/me/photo\" alt=\"Your photo\"")
        .contains("value=\"remove\">Remove photo</button>");
    let served = anna.get(&app, "/me/photo").await;
    served.expect(StatusCode::OK);
    assert_eq!(served.header("content-type"), "image/png");

    let removed = anna.post_photo(&app, &csrf, None, Some("remove")).await;
    removed.expect(StatusCode::SEE_OTHER);
    assert_eq!(removed.location(), "/app/profile?notice=photo-removed");
    assert_eq!(anna.get(&app, "/me/photo").await.status, StatusCode::NOT_FOUND);
}
