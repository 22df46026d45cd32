//! `PUT`, `GET` and `DELETE /me/photo`: the signed-in user's profile photo.
//! The upload is the raw image as the body (`Content-Type: image/png`,
//! `image/jpeg` or `image/webp`, at most 1 MiB); the rules live in
//! `services::photos`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::problem::ApiError;
use super::session::Authenticated;
use crate::inbound::AppState;
use crate::services::photos;

/// A body the pipeline cut off at the limit is 413; anything else unreadable is 400.
fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest {
            code: "unreadable_body",
            field: Some("photo".into()),
            detail: "The photo could not be read.".into(),
        }
    }
}

pub async fn put_photo(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> impl IntoResponse {
    let body = body.map_err(body_rejection)?;
    let declared = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let saved = photos::replace(&state, &auth.user_id, declared, body.to_vec(), &auth.actor).await?;
    Ok::<_, ApiError>(Json(saved))
}

pub async fn get_photo(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    let photo = photos::get(&state, &auth.user_id).await?;
    let mut response = photo.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(photo.content_type));
    // Personal data behind a cookie: in no cache at all, so it neither
    // outlives the session on a shared computer nor goes stale when the
    // same URL serves the next photo after a replacement.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok::<Response, ApiError>(response)
}

pub async fn delete_photo(State(state): State<AppState>, auth: Authenticated) -> impl IntoResponse {
    photos::remove(&state, &auth.user_id, &auth.actor).await?;
    Ok::<_, ApiError>(StatusCode::NO_CONTENT)
}
