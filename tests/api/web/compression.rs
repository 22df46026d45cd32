//! Responses are compressed when, and only when, the browser accepts it:
//! brotli or gzip from the shared router (so Lambda and the local server
//! alike), and identity for a client that asks for neither.

use std::io::Read;

use super::*;

async fn contacts_page(app: &App, anna: &Visitor, accept_encoding: Option<&str>) -> konnecs_tests::http::Reply {
    let mut request = Request::get("/app/contacts").header("cookie", anna.cookie_header());
    if let Some(accepted) = accept_encoding {
        request = request.header("accept-encoding", accepted);
    }
    send(&app.router, request.body(Body::empty()).expect("request")).await
}

fn header<'a>(reply: &'a konnecs_tests::http::Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_contacts_page_is_compressed_only_for_a_browser_that_accepts_it() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    for i in 0..20 {
        anna.post(
            &app,
            "/app/contacts",
            &[
                ("first_name", &format!("Person{i}")),
                ("email", &format!("p{i}@example.com")),
            ],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    }

    let plain = contacts_page(&app, &anna, None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(
        header(&plain, "content-encoding"),
        "",
        "identity without Accept-Encoding"
    );
    let html = String::from_utf8(plain.bytes.to_vec()).expect("plain HTML");
    assert!(html.contains("Person19"), "{html}");

    let gzipped = contacts_page(&app, &anna, Some("gzip")).await;
    assert_eq!(gzipped.status, StatusCode::OK);
    assert_eq!(header(&gzipped, "content-encoding"), "gzip");
    let vary: Vec<String> = gzipped
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_lowercase)
        .collect();
    assert!(vary.iter().any(|v| v.contains("accept-encoding")), "{vary:?}");
    assert!(vary.iter().any(|v| v.contains("hx-request")), "{vary:?}");
    assert!(
        gzipped.bytes.len() * 3 < html.len(),
        "{} of {}",
        gzipped.bytes.len(),
        html.len()
    );
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gzipped.bytes[..])
        .read_to_string(&mut unzipped)
        .expect("gzip");
    assert!(unzipped.contains("Person19"));

    let brotli = contacts_page(&app, &anna, Some("gzip, deflate, br")).await;
    assert_eq!(header(&brotli, "content-encoding"), "br");
    let mut unbrotli = String::new();
    brotli_decompressor::Decompressor::new(&brotli.bytes[..], 4096)
        .read_to_string(&mut unbrotli)
        .expect("brotli");
    assert!(unbrotli.contains("Person19"));

    // An encoding the server does not speak gets identity.
    let other = contacts_page(&app, &anna, Some("compress")).await;
    assert_eq!(header(&other, "content-encoding"), "");
    assert!(String::from_utf8_lossy(&other.bytes).contains("Person19"));
}
