//! `GET /docs`: the API reference, drawn in the browser by the vendored
//! Redoc from this server's own `/openapi.json`. Nothing is loaded from
//! anywhere else: the viewer is one of the hashed static files.

use axum::response::{Html, IntoResponse, Response};
use http::header::CONTENT_SECURITY_POLICY;

use super::web::assets::redoc_script_url;

/// What Redoc needs beside this origin's scripts, data and images: the
/// `<style>` elements it injects as it draws (`'unsafe-inline'` styles; no
/// inline script is allowed) and its search worker, which it starts from a
/// `blob:` URL. No other origin appears, so no CDN can be reached.
pub const API_DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub async fn page() -> Response {
    // The script draws the `<redoc>` element when it runs, so it comes after it.
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Konnecs API reference</title></head>\
         <body><noscript>The reference needs JavaScript; the document itself is \
         <a href=\"/openapi.json\">/openapi.json</a>.</noscript>\
         <redoc spec-url=\"/openapi.json\"></redoc><script src=\"{}\"></script></body></html>",
        redoc_script_url()
    );
    ([(CONTENT_SECURITY_POLICY, API_DOCS_CSP)], Html(page)).into_response()
}
