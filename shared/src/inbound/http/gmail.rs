//! `POST /contacts/{contactId}/emails`: emails a contact from the caller's own
//! Gmail. Thin: parse, call `services::google::gmail`, map. The
//! `Idempotency-Key` names the send: a repeat with it sends nothing again.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::contacts::caller;
use super::extract::ApiJson;
use super::idempotency::HEADER as IDEMPOTENCY_HEADER;
use super::session::Authenticated;
use crate::domain::ids::ContactId;
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::google::gmail::{self, ContactEmailInput};
use crate::services::secrets::new_token;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    subject: String,
    body: String,
}

pub async fn send(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<ContactId>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EmailBody>,
) -> impl IntoResponse {
    let caller = caller(&auth)?;
    // Without a key every request is a new email, as the caller asked.
    let send_key = headers
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| format!("api:{}", v.trim()))
        .unwrap_or_else(|| format!("api:{}", new_token()));
    let input = ContactEmailInput {
        subject: body.subject,
        body: body.body,
        send_key,
    };
    let sent = gmail::send_to_contact(&state, &caller, &id, &input).await?;
    let status = if sent.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok::<_, ApiError>((status, Json(sent)))
}
