//! The Gmail API on the mock Google, in the shapes Gmail documents
//! (https://developers.google.com/gmail/api/reference/rest):
//! `users.messages.send`, `users.getProfile`, `users.history.list`
//! (`404` for a history id too old), `users.messages.get` and
//! `users.threads.get` with `format=metadata`. A test sets up the
//! mailbox's state and reads back what Konnecs asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::google::{GOOGLE_EMAIL, MockGoogle};

/// The Gmail API's path prefix on the mock (`GOOGLE_GMAIL_BASE_URL`).
pub const GMAIL_PREFIX: &str = "/gmail/v1";
/// The history id `users.getProfile` answers.
pub const PROFILE_HISTORY_ID: &str = "9001";

/// The Gmail id of the `n`th message the mock accepted (from 1).
pub fn sent_id(n: usize) -> String {
    format!("18c5f0a1b2c3d{n:03x}")
}

/// Gmail's error body for an unknown or expired resource.
pub fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "errors": [{"message": "Requested entity was not found.", "domain": "global", "reason": "notFound"}],
            "status": "NOT_FOUND",
        }
    }))
}

/// A message's metadata as `format=metadata` gives it (no body).
pub fn metadata(id: &str, thread_id: &str, labels: &[&str], headers: &[(&str, &str)], internal_ms: i64) -> Value {
    json!({
        "id": id,
        "threadId": thread_id,
        "labelIds": labels,
        "internalDate": internal_ms.to_string(),
        "payload": {
            "mimeType": "multipart/alternative",
            "headers": headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        },
    })
}

impl MockGoogle {
    /// Accepts every `messages.send`: a new message id each time, in the
    /// thread asked for or a new one (named after the message).
    pub async fn accept_sends(&self) {
        let count = Arc::new(AtomicUsize::new(0));
        Mock::given(method("POST"))
            .and(path(format!("{GMAIL_PREFIX}/users/me/messages/send")))
            .respond_with(move |request: &Request| {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                let asked: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                let id = sent_id(n);
                let thread = asked["threadId"].as_str().map_or_else(|| id.clone(), str::to_owned);
                ResponseTemplate::new(200).set_body_json(json!({"id": id, "threadId": thread, "labelIds": ["SENT"]}))
            })
            .mount(&self.server)
            .await;
    }

    /// `users.getProfile` of the connected account.
    pub async fn serve_profile(&self) {
        Mock::given(method("GET"))
            .and(path(format!("{GMAIL_PREFIX}/users/me/profile")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "emailAddress": GOOGLE_EMAIL,
                "messagesTotal": 4182,
                "threadsTotal": 2710,
                "historyId": PROFILE_HISTORY_ID,
            })))
            .mount(&self.server)
            .await;
    }

    /// `users.history.list` from `start`: `answer` (a history list body, or
    /// [`not_found`] for an id Gmail no longer keeps).
    pub async fn serve_history(&self, start: &str, answer: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(format!("{GMAIL_PREFIX}/users/me/history")))
            .and(query_param("startHistoryId", start))
            .respond_with(answer)
            .mount(&self.server)
            .await;
    }

    /// `users.messages.get` of `id`: its metadata.
    pub async fn serve_message(&self, id: &str, metadata: Value) {
        Mock::given(method("GET"))
            .and(path(format!("{GMAIL_PREFIX}/users/me/messages/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(metadata))
            .mount(&self.server)
            .await;
    }

    /// `users.threads.get` of `id`: its messages' metadata.
    pub async fn serve_thread(&self, id: &str, messages: Vec<Value>) {
        Mock::given(method("GET"))
            .and(path(format!("{GMAIL_PREFIX}/users/me/threads/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id,
                "historyId": "8990",
                "messages": messages,
            })))
            .mount(&self.server)
            .await;
    }

    /// Every Gmail API request received so far.
    pub async fn gmail_requests(&self) -> Vec<Request> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.url.path().starts_with(GMAIL_PREFIX))
            .collect()
    }

    /// The paths (after the prefix) of the `GET`s of single messages.
    pub async fn message_gets(&self) -> Vec<String> {
        self.gmail_requests()
            .await
            .into_iter()
            .filter(|r| r.method.as_str() == "GET")
            .filter_map(|r| {
                r.url
                    .path()
                    .strip_prefix(&format!("{GMAIL_PREFIX}/users/me/messages/"))
                    .map(str::to_owned)
            })
            .collect()
    }

    /// The raw RFC 5322 texts of the messages sent, decoded, with the
    /// request's `threadId`.
    pub async fn sent_raw(&self) -> Vec<(String, Option<String>)> {
        self.gmail_requests()
            .await
            .into_iter()
            .filter(|r| r.url.path().ends_with("/messages/send"))
            .map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let raw = body["raw"].as_str().unwrap_or_default();
                let bytes = URL_SAFE_NO_PAD.decode(raw).expect("raw is base64url without padding");
                (
                    String::from_utf8(bytes).expect("the message is text"),
                    body["threadId"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }
}

/// An RFC 5322 message read back: unfolded headers with their encoded
/// words (RFC 2047) decoded, and the text body decoded from its transfer
/// encoding. Enough for a single-part text message, which is what is sent.
pub struct ReadMessage {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ReadMessage {
    pub fn parse(raw: &str) -> Self {
        let (head, body) = raw.split_once("\r\n\r\n").expect("a blank line ends the headers");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(name, value)| (name, decode_words(&value)))
            .collect();
        let encoding = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Transfer-Encoding"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        let bytes = match encoding.as_str() {
            "base64" => base64::engine::general_purpose::STANDARD
                .decode(body.split_whitespace().collect::<String>())
                .expect("base64 body"),
            "quoted-printable" => quoted_printable(body),
            _ => body.as_bytes().to_vec(),
        };
        Self {
            headers,
            body: String::from_utf8(bytes).expect("UTF-8 body").replace("\r\n", "\n"),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = text.replace("=\r\n", "").into_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())]).unwrap_or_default();
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes `=?charset?b|q?text?=` words (UTF-8 only), dropping the
/// whitespace between adjacent ones as RFC 2047 says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let word = &rest[start + 2..];
        let mut parts = word.splitn(3, '?');
        let (Some(_charset), Some(kind), Some(tail)) = (parts.next(), parts.next(), parts.next()) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let Some(end) = tail.find("?=") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = &tail[..end];
        let bytes = if kind.eq_ignore_ascii_case("b") {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("encoded word")
        } else {
            quoted_printable(&text.replace('_', " "))
        };
        out.push_str(&String::from_utf8(bytes).expect("UTF-8 word"));
        rest = &tail[end + 2..];
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

impl MockGoogle {
    /// The thread as it is now (a message arrived): answers before the
    /// earlier [`MockGoogle::serve_thread`].
    pub async fn reset_thread(&self, id: &str, messages: Vec<Value>) {
        Mock::given(method("GET"))
            .and(path(format!("{GMAIL_PREFIX}/users/me/threads/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": id,
                "historyId": "9100",
                "messages": messages,
            })))
            .with_priority(1)
            .mount(&self.server)
            .await;
    }
}
