//! Extractors whose rejections are problems with a stable code.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, Query, Request};
use http::StatusCode;
use serde::de::DeserializeOwned;

use super::problem::ApiError;

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
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
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

/// A query string with a problem rejection: 400 `invalid_query`.
pub fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(q)| q).map_err(|rejection| ApiError::BadRequest {
        code: "invalid_query",
        field: Some("query".into()),
        detail: rejection.body_text(),
    })
}
