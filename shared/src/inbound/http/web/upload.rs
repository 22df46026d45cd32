//! A file posted by a signed-in member from a plain form
//! (`multipart/form-data`, RFC 7578): the parts read from a body of at most
//! the pipeline's size, the CSRF token from the form's hidden `_csrf` part
//! (or htmx's header) checked by the same extractor as every form's.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, StatusCode};

use super::{FormData, SIGN_IN, Staff, error_page, see_other};
use crate::config::MAX_BODY_BYTES;
use crate::inbound::AppState;
use crate::inbound::http::session::{CSRF_HEADER, session_token};

/// Room for the form's other parts and the parts' headers beside a file of
/// `MAX_BODY_BYTES`.
const FORM_OVERHEAD: usize = 16 * 1024;

/// One part of a multipart form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Present for a file input (possibly empty: no file chosen).
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (key, value) = param.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim().trim_matches('"');
        (!value.is_empty() && value.len() <= 70).then(|| value.to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| at + from)
}

/// A parameter of a `Content-Disposition` header: `name="file"`.
fn disposition_param(header: &str, wanted: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(wanted)
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

/// The parts of a body, or `None` when it is not well formed.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    // With a line break in front, every delimiter reads the same.
    let mut data = Vec::with_capacity(body.len() + 2);
    data.extend_from_slice(b"\r\n");
    data.extend_from_slice(body);
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let mut at = find(&data, &delimiter, 0)? + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if data.get(at..at + 2) == Some(b"--") {
            return Some(parts);
        }
        // Transport padding, then the line break that ends the delimiter.
        while matches!(data.get(at), Some(b' ' | b'\t')) {
            at += 1;
        }
        if data.get(at..at + 2) != Some(b"\r\n") {
            return None;
        }
        at += 2;
        let headers_end = find(&data, b"\r\n\r\n", at)?;
        let headers = std::str::from_utf8(&data[at..headers_end]).ok()?;
        let content_start = headers_end + 4;
        let next = find(&data, &delimiter, content_start)?;
        let disposition = headers
            .split("\r\n")
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim()
                    .eq_ignore_ascii_case("content-disposition")
                    .then_some(value.trim())
            })
            .filter(|value| value.to_ascii_lowercase().starts_with("form-data"))?;
        parts.push(Part {
            name: disposition_param(disposition, "name")?,
            filename: disposition_param(disposition, "filename"),
            bytes: data[content_start..next].to_vec(),
        });
        at = next + delimiter.len();
    }
}

/// A form with a file, posted by a signed-in member.
pub struct StaffUpload {
    pub staff: Staff,
    /// The text parts, as a plain form's fields.
    pub form: FormData,
    /// The file parts.
    pub files: Vec<Part>,
}

impl StaffUpload {
    /// The chosen file of the input `name`, if one was chosen.
    pub fn file(&self, name: &str) -> Option<&Part> {
        self.files
            .iter()
            .find(|part| part.name == name && part.filename.as_deref().is_some_and(|f| !f.is_empty()))
    }
}

/// The form's hidden `_csrf` field as the header the session extractor
/// checks, unless htmx sent the header.
fn with_csrf(parts: &mut Parts, form: &FormData) {
    if !parts.headers.contains_key(CSRF_HEADER)
        && let Ok(value) = HeaderValue::from_str(&form.text("_csrf"))
    {
        parts.headers.insert(CSRF_HEADER, value);
    }
}

/// The text parts as a plain form's fields.
fn text_fields(fields: &[Part]) -> FormData {
    let mut encoded = url::form_urlencoded::Serializer::new(String::new());
    for field in fields {
        encoded.append_pair(&field.name, &String::from_utf8_lossy(&field.bytes));
    }
    FormData::parse(encoded.finish().as_bytes())
}

fn unreadable() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "That did not work",
        "Send the form from its page.",
    )
}

impl FromRequest<AppState> for StaffUpload {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        if session_token(&parts, &state.config).is_none() {
            return Err(see_other(SIGN_IN));
        }
        let boundary = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(boundary);
        let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES + FORM_OVERHEAD)
            .await
            .map_err(|_| {
                error_page(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The file is too large",
                    "Upload at most 1 MiB here: split a larger file, or send it through the API in parts.",
                )
            })?;
        let Some(boundary) = boundary else {
            // Not a file form: its token is still checked first, so a forged
            // post learns nothing, then it is refused.
            let form = FormData::parse(&bytes);
            with_csrf(&mut parts, &form);
            Staff::from_request_parts(&mut parts, state).await?;
            return Err(error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "That did not work",
                "Send the form from its page.",
            ));
        };
        let all = parse_multipart(&bytes, &boundary).ok_or_else(unreadable)?;
        let (files, fields): (Vec<Part>, Vec<Part>) = all.into_iter().partition(|part| part.filename.is_some());
        let form = text_fields(&fields);
        with_csrf(&mut parts, &form);
        let staff = Staff::from_request_parts(&mut parts, state).await?;
        Ok(StaffUpload { staff, form, files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundaryx7").as_deref(),
            Some("----WebKitFormBoundaryx7")
        );
        assert_eq!(
            boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn fields_and_files_are_read_with_their_bytes() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\nContent-Type: text/csv\r\n\r\nemail\r\na@b.example\r\n\r\n--XyZ--\r\n";
        let parts = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "_csrf");
        assert_eq!(parts[0].bytes, b"tok");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].filename.as_deref(), Some("c.csv"));
        // The file's own line breaks are kept; only the delimiter's is not.
        assert_eq!(parts[1].bytes, b"email\r\na@b.example\r\n");
    }

    #[test]
    fn a_truncated_or_foreign_body_is_refused() {
        assert_eq!(
            parse_multipart(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
                "XyZ"
            ),
            None
        );
        assert_eq!(parse_multipart(b"plain text", "XyZ"), None);
        assert_eq!(parse_multipart(b"--XyZ\r\nX-Other: 1\r\n\r\nv\r\n--XyZ--", "XyZ"), None);
    }
}
