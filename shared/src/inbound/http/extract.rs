//! Extractors whose rejections are problems with a stable code.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::inbound::http::problem::ApiError;

/// `axum::Json` with problem rejections: 413 over the body limit, 415 without
/// a JSON content type, 400 for syntax, 422 naming the field that failed.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest {
                    code: "unreadable_body",
                    field: Some("body".into()),
                    detail: rejection.body_text(),
                }
            }
        })?;
        not_an_object(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json` or any `application/*+json`, parameters aside (the
/// rule `axum::Json` applies).
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some(("application", subtype)) = essence.split_once('/') else {
        return false;
    };
    subtype == "json" || subtype.ends_with("+json")
}

/// Every JSON body the API takes is one object. serde would read an array
/// into a struct field by field and blame element `[0]`, or even accept it,
/// so valid JSON of any other shape is refused as a whole, naming the body.
fn not_an_object(bytes: &[u8]) -> Result<(), ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') || serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() {
        // An object, or not JSON at all (reported as malformed by the parse).
        return Ok(());
    }
    let found = match first {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    };
    Err(ApiError::Validation(vec![super::problem::FieldError::new(
        "body",
        "not_an_object",
        format!("The body must be a JSON object, not {found}."),
    )]))
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(err) => {
            // serde's message names the path, e.g. "email: invalid type: ..." from the inner error.
            let detail = std::error::Error::source(&err)
                .map(ToString::to_string)
                .unwrap_or_else(|| err.body_text());
            let field = detail
                .split_once(':')
                .map(|(path, _)| path.trim().to_string())
                .filter(|p| !p.contains(' '));
            ApiError::Validation(vec![super::problem::FieldError::new(
                field.unwrap_or_else(|| "body".into()),
                "invalid",
                detail,
            )])
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::BadRequest {
            code: "malformed_json",
            field: Some("body".into()),
            detail: "The body is not valid JSON.".into(),
        },
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        other => ApiError::BadRequest {
            code: "unreadable_body",
            field: Some("body".into()),
            detail: other.body_text(),
        },
    }
}

/// `axum::extract::Query` with a problem rejection: a query string `T`
/// cannot read (`?limit=AAA`) is 400 `invalid_query` naming `query`, the
/// same code every JSON route documents, never the router's bare 400.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        query(Query::<T>::from_request_parts(parts, state).await).map(ApiQuery)
    }
}

/// A query string with a problem rejection: 400 `invalid_query`.
pub fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        field: Some("query".into()),
        detail: rejection.body_text(),
    })
}
