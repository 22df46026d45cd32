//! The staff app's static files, compiled into the binary and served by one
//! route under content-hashed names (`app-1a2b3c4d5e6f.css`): a changed file
//! gets a new name, so each name can be cached for a year, immutable.
//!
//! htmx is vendored: `shared/assets/htmx-2.0.11.min.js` is `dist/htmx.min.js`
//! of the npm package `htmx.org` 2.0.11, sha256
//! d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717.
//! So is the API reference's viewer: `shared/assets/redoc-2.5.2.standalone.js`
//! is `bundles/redoc.standalone.js` of the npm package `redoc` 2.5.2, sha256
//! 6beb5aea23b71d09122ee35de8f326e38aec050e774f3bfba1f34e5c36608986.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use super::super::problem::ApiError;

const APP_CSS: &[u8] = include_bytes!("../../../../assets/app.css");
const HTMX_JS: &[u8] = include_bytes!("../../../../assets/htmx-2.0.11.min.js");
const BOARD_JS: &[u8] = include_bytes!("../../../../assets/board.js");
const COPY_JS: &[u8] = include_bytes!("../../../../assets/copy.js");
const FORM_EMBED_JS: &[u8] = include_bytes!("../../../../assets/form-embed.js");
const FORM_FRAME_JS: &[u8] = include_bytes!("../../../../assets/form-frame.js");
const FORM_BUILDER_JS: &[u8] = include_bytes!("../../../../assets/form-builder.js");
const REDOC_JS: &[u8] = include_bytes!("../../../../assets/redoc-2.5.2.standalone.js");

struct Asset {
    /// The hashed name the pages link to.
    name: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

fn hashed(stem: &str, extension: &str, bytes: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(bytes));
    format!("{stem}-{}.{extension}", &digest[..12])
}

static ASSETS: LazyLock<[Asset; 8]> = LazyLock::new(|| {
    [
        Asset {
            name: hashed("app", "css", APP_CSS),
            content_type: "text/css; charset=utf-8",
            bytes: APP_CSS,
        },
        Asset {
            name: hashed("htmx-2.0.11", "js", HTMX_JS),
            content_type: "text/javascript; charset=utf-8",
            bytes: HTMX_JS,
        },
        Asset {
            name: hashed("board", "js", BOARD_JS),
            content_type: "text/javascript; charset=utf-8",
            bytes: BOARD_JS,
        },
        Asset {
            name: hashed("copy", "js", COPY_JS),
            content_type: "text/javascript; charset=utf-8",
            bytes: COPY_JS,
        },
        Asset {
            name: hashed("form-embed", "js", FORM_EMBED_JS),
            content_type: "text/javascript; charset=utf-8",
            bytes: FORM_EMBED_JS,
        },
        Asset {
            name: hashed("form-frame", "js", FORM_FRAME_JS),
            content_type: "text/javascript; charset=utf-8",
            bytes: FORM_FRAME_JS,
        },
        Asset {
            name: hashed("form-builder", "js", FORM_BUILDER_JS),
            content_type: "text/javascript; charset=utf-8",
            bytes: FORM_BUILDER_JS,
        },
        Asset {
            name: hashed("redoc-2.5.2", "js", REDOC_JS),
            content_type: "text/javascript; charset=utf-8",
            bytes: REDOC_JS,
        },
    ]
});

/// The URL of the stylesheet, as pages link it.
pub fn stylesheet_url() -> String {
    format!("/assets/{}", ASSETS[0].name)
}

/// The URL of htmx, as pages load it.
pub fn htmx_url() -> String {
    format!("/assets/{}", ASSETS[1].name)
}

/// The URL of the board's drag-and-drop script.
pub fn board_script_url() -> String {
    format!("/assets/{}", ASSETS[2].name)
}

/// The URL of the copy buttons' script.
pub fn copy_script_url() -> String {
    format!("/assets/{}", ASSETS[3].name)
}

/// The URL of the one-line embed script embedding sites load.
pub fn form_embed_script_url() -> String {
    format!("/assets/{}", ASSETS[4].name)
}

/// The URL of the script inside a hosted form that reports its height.
pub fn form_frame_script_url() -> String {
    format!("/assets/{}", ASSETS[5].name)
}

/// The URL of the form builder's drag-and-drop script.
pub fn form_builder_script_url() -> String {
    format!("/assets/{}", ASSETS[6].name)
}

/// The URL of the API reference's viewer (Redoc), as `/docs` loads it.
pub fn redoc_script_url() -> String {
    format!("/assets/{}", ASSETS[7].name)
}

/// `GET /assets/{name}`: the file of that exact hashed name; a stale or
/// unknown name is a 404, so an old page never gets a newer file under an
/// old name.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return ApiError::NotFound.into_response();
    };
    let mut response = (StatusCode::OK, asset.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        assert_ne!(hashed("app", "css", b"a"), hashed("app", "css", b"b"));
        assert!(stylesheet_url().starts_with("/assets/app-"));
        assert!(htmx_url().starts_with("/assets/htmx-2.0.11-"));
    }

    #[test]
    fn the_vendored_htmx_is_the_pinned_release() {
        let digest = hex::encode(Sha256::digest(HTMX_JS));
        assert_eq!(
            digest,
            "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
        );
    }

    #[test]
    fn the_vendored_redoc_is_the_pinned_release() {
        let digest = hex::encode(Sha256::digest(REDOC_JS));
        assert_eq!(
            digest,
            "6beb5aea23b71d09122ee35de8f326e38aec050e774f3bfba1f34e5c36608986"
        );
        assert!(redoc_script_url().starts_with("/assets/redoc-2.5.2-"));
    }
}
