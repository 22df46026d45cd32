//! `GET /health`: 200 when the store, queue and key vault answer, else 503.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::inbound::AppState;
use crate::services::health;

pub async fn check(State(state): State<AppState>) -> Response {
    let report = health::check(&state).await;
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(http::header::CACHE_CONTROL, "no-store")], Json(report)).into_response()
}
