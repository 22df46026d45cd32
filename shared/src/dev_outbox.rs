//! `/dev/outbox`: every email and SMS the local server would have sent, as an
//! HTML list, a message view, and JSON. It stands beside the composition
//! root, not among the handlers, because it reads the outbox adapter's own
//! items, which no handler may know of. Mounted by the local server in
//! developer mode only (`run_mode`), and answered only for a loopback `Host`:
//! a web page whose own name resolves to 127.0.0.1 (DNS rebinding) cannot
//! read it from the developer's browser.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse};
use http::HeaderMap;
use http::header::HOST;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::adapters::outbox;
use crate::domain::host::{host_of_authority, is_loopback_host};
use crate::inbound::AppState;
use crate::inbound::http::problem::ApiError;

/// Not found unless the request names this machine. A request without a
/// `Host` (HTTP/1.0, tools) is no browser's, so it passes.
fn require_loopback_host(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(host) = headers.get(HOST) else {
        return Ok(());
    };
    let named = host.to_str().ok().and_then(host_of_authority);
    if named.is_some_and(is_loopback_host) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct Paging {
    cursor: Option<String>,
    limit: Option<u32>,
}

/// A page of the outbox, newest first: each message as the outbox adapter
/// stored it (its fields vary by kind: email or SMS).
#[derive(Serialize, schemars::JsonSchema)]
pub struct OutboxPage {
    pub messages: Vec<Value>,
    /// Where the next page starts; `null` on the last.
    pub cursor: Option<String>,
}

/// The outbox pages' own policy: their one inline stylesheet, nothing else.
const OUTBOX_CSP: (http::HeaderName, &str) = (
    http::header::CONTENT_SECURITY_POLICY,
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
);

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn field<'a>(item: &'a serde_json::Map<String, Value>, name: &str) -> &'a str {
    item.get(name).and_then(Value::as_str).unwrap_or_default()
}

pub async fn list_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(paging): Query<Paging>,
) -> impl IntoResponse {
    require_loopback_host(&headers)?;
    let limit = paging.limit.unwrap_or(50).clamp(1, 200);
    let (items, cursor) = outbox::list(state.table.as_ref(), limit, paging.cursor).await?;
    let messages: Vec<Value> = items
        .into_iter()
        .map(|mut item| {
            item.remove("pk");
            item.remove("sk");
            Value::Object(item)
        })
        .collect();
    Ok::<_, ApiError>(Json(OutboxPage { messages, cursor }))
}

pub async fn list_html(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    require_loopback_host(&headers)?;
    let (items, _) = outbox::list(state.table.as_ref(), 100, None).await?;
    let rows: String = items
        .iter()
        .map(|item| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><a href=\"/dev/outbox/{}\">{}</a></td><td>{}</td></tr>",
                escape(field(item, "created_at")),
                escape(field(item, "to")),
                escape(field(item, "id")),
                escape(field(item, "subject")),
                escape(field(item, "kind")),
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Outbox · Konnecs</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}</style></head>\
         <body><h1>Outbox</h1><p>Messages the local server would have sent ({} shown, newest first).</p>\
         <table><thead><tr><th>When</th><th>To</th><th>Subject</th><th>Kind</th></tr></thead><tbody>{rows}</tbody></table></body></html>",
        items.len()
    );
    Ok::<_, ApiError>(([OUTBOX_CSP], Html(page)))
}

pub async fn show(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> impl IntoResponse {
    require_loopback_host(&headers)?;
    let item = outbox::find(state.table.as_ref(), &id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let attachments: String = item
        .get("attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|a| {
                    format!(
                        "<li>{} ({})</li>",
                        escape(a["filename"].as_str().unwrap_or_default()),
                        escape(a["content_type"].as_str().unwrap_or_default())
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{subject} · Outbox</title>\
     <style>body{{font-family:system-ui,sans-serif;margin:2rem;}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}</style></head>\
     <body><p><a href=\"/dev/outbox\">← Outbox</a></p><h1>{subject}</h1><p>To: {to}<br>From: {from}<br>Sent: {at}</p>\
     <h2>Text</h2><pre>{text}</pre><h2>Attachments</h2><ul>{attachments}</ul><h2>MIME</h2><pre>{mime}</pre></body></html>",
        subject = escape(field(&item, "subject")),
        to = escape(field(&item, "to")),
        from = escape(field(&item, "from")),
        at = escape(field(&item, "created_at")),
        text = escape(field(&item, "text")),
        mime = escape(field(&item, "mime")),
    );
    Ok::<_, ApiError>(([OUTBOX_CSP], Html(page)).into_response())
}
