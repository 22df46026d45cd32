//! Twilio's webhooks: inbound texts (`/webhooks/twilio/sms`, answered in
//! TwiML) and message status callbacks (`/webhooks/twilio/status`). Both
//! are form-encoded POSTs signed with `X-Twilio-Signature` over the URL
//! Twilio called: `KONNECS_PUBLIC_URL` + path + query, which is exactly the
//! URL to configure in Twilio (behind API Gateway the request's own host is
//! not necessarily the public one). A bad or missing signature is 403.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri};
use secrecy::ExposeSecret;

use crate::domain::sms::{twilio_signature_matches, twiml};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;
use crate::services::sms::{self, InboundSms, StatusReport};

pub const SMS_PATH: &str = "/webhooks/twilio/sms";
pub const STATUS_PATH: &str = "/webhooks/twilio/status";
const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The form parameters of a request Twilio signed, or 403.
fn verified_params(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let forbidden = ApiError::Forbidden {
        code: "invalid_signature",
    };
    let Some(twilio) = &state.config.twilio else {
        // Without the auth token nothing can be verified, so nothing is trusted.
        tracing::warn!("a twilio webhook arrived but twilio is not configured");
        return Err(forbidden);
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let url = signed_url(&state.config.public_url, uri);
    if twilio_signature_matches(twilio.auth_token.expose_secret(), &url, &params, signature) {
        Ok(params)
    } else {
        tracing::warn!(%url, "twilio webhook with a bad signature refused");
        Err(forbidden)
    }
}

/// The URL Twilio signed: the public base, then the path and query as received.
pub fn signed_url(public_url: &str, uri: &Uri) -> String {
    let path_and_query = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or(uri.path());
    format!("{}{path_and_query}", public_url.trim_end_matches('/'))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn required(params: &[(String, String)], name: &'static str) -> Result<String, ApiError> {
    param(params, name)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::BadRequest {
            code: "missing_parameter",
            field: Some(name.into()),
            detail: format!("Twilio's {name} parameter is missing."),
        })
}

/// `POST /webhooks/twilio/sms`: a text to Konnecs's number.
pub async fn inbound_sms(State(state): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = verified_params(&state, &uri, &headers, &body)?;
        let sms = InboundSms {
            message_sid: required(&params, "MessageSid")?,
            from: required(&params, "From")?,
            body: param(&params, "Body").unwrap_or_default().to_string(),
        };
        let reply = sms::receive(&state, &sms).await?;
        Ok::<_, ApiError>(twiml(reply.as_deref()))
    }
    .await;
    match result {
        Ok(xml) => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}

/// `POST /webhooks/twilio/status?m=<message id>`: a message's status.
pub async fn status_callback(State(state): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params = verified_params(&state, &uri, &headers, &body)?;
        let message_id = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .find(|(name, _)| name == "m")
            .map(|(_, value)| value.into_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::BadRequest {
                code: "missing_parameter",
                field: Some("m".into()),
                detail: "The callback URL names no message.".into(),
            })?;
        let report = StatusReport {
            message_id,
            message_sid: required(&params, "MessageSid")?,
            status: required(&params, "MessageStatus")?,
            error_code: param(&params, "ErrorCode").filter(|c| !c.is_empty()).map(str::to_owned),
        };
        sms::record_status(&state, &report).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => err.into_response(),
    }
}
