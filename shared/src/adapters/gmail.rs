//! The Gmail half of the production Google client: the calls of the
//! `GmailApi` port over reqwest, under `gmail_base_url`
//! (`https://gmail.googleapis.com/gmail/v1`; tests put a mock there).
//! A message is built as RFC 5322 text by lettre and sent base64url `raw`.
//! Reads ask for metadata only, with a field mask: ids, labels, the date
//! and the named headers; never a body or a snippet.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lettre::message::{Mailbox, SinglePart};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::google::GoogleOAuthClient;
use crate::ports::gmail::{
    AddedMessage, GmailApi, GmailError, HistoryPage, MailboxProfile, MessageHeaders, OutgoingMessage, SentMessage,
};
use crate::ports::google::GoogleError;

/// The shared client's refusals in the Gmail port's words.
fn gmail_error(err: GoogleError) -> GmailError {
    match err {
        GoogleError::Rejected(detail) => GmailError::Rejected(detail),
        GoogleError::InvalidGrant => GmailError::Unavailable("the access token was refused".into()),
        GoogleError::Unavailable(detail) => GmailError::Unavailable(detail),
    }
}

async fn refusal(response: reqwest::Response) -> GmailError {
    gmail_error(super::google::api_refusal(response).await)
}

/// What a metadata read returns: nothing of the message's text.
const METADATA_FIELDS: &str = "id,threadId,labelIds,internalDate,payload/headers";

/// The message as RFC 5322 bytes: plain UTF-8 text (lettre picks the
/// transfer encoding), non-ASCII names and subject encoded (RFC 2047).
pub fn rfc5322(message: &OutgoingMessage) -> Result<Vec<u8>, GmailError> {
    let refused = |what: &str| GmailError::Rejected(format!("invalid {what}"));
    let from = Mailbox::new(
        message.from_name.clone(),
        message.from_address.parse().map_err(|_| refused("sender"))?,
    );
    let to = Mailbox::new(
        message.to_name.clone(),
        message.to_address.parse().map_err(|_| refused("recipient"))?,
    );
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(message.date.as_second().max(0).unsigned_abs());
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(message.subject.clone())
        .date(date)
        .message_id(Some(message.message_id.clone()));
    if let Some(parent) = &message.in_reply_to {
        builder = builder.in_reply_to(parent.clone());
    }
    if !message.references.is_empty() {
        builder = builder.references(message.references.join(" "));
    }
    let built = builder
        .singlepart(SinglePart::plain(message.text.clone()))
        .map_err(|err| GmailError::Rejected(err.to_string()))?;
    Ok(built.formatted())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentAnswer {
    id: String,
    thread_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileAnswer {
    email_address: String,
    history_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryAnswer {
    #[serde(default)]
    history: Vec<HistoryRecord>,
    #[serde(default)]
    next_page_token: Option<String>,
    history_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryRecord {
    #[serde(default)]
    messages_added: Vec<AddedRecord>,
}

#[derive(Deserialize)]
struct AddedRecord {
    message: MessageRef,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageRef {
    id: String,
    thread_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataAnswer {
    id: String,
    thread_id: String,
    #[serde(default)]
    label_ids: Vec<String>,
    #[serde(default)]
    internal_date: Option<String>,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    headers: Vec<Header>,
}

#[derive(Deserialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct ThreadAnswer {
    #[serde(default)]
    messages: Vec<MetadataAnswer>,
}

impl From<MetadataAnswer> for MessageHeaders {
    fn from(answer: MetadataAnswer) -> Self {
        MessageHeaders {
            id: answer.id,
            thread_id: answer.thread_id,
            label_ids: answer.label_ids,
            headers: answer
                .payload
                .map(|p| p.headers.into_iter().map(|h| (h.name, h.value)).collect())
                .unwrap_or_default(),
            internal_date_ms: answer.internal_date.and_then(|d| d.parse().ok()).unwrap_or_default(),
        }
    }
}

fn unreachable(err: reqwest::Error) -> GmailError {
    GmailError::Unavailable(format!("no answer from gmail: {}", err.without_url()))
}

async fn read<T: serde::de::DeserializeOwned>(response: reqwest::Response, what: &str) -> Result<T, GmailError> {
    response
        .json()
        .await
        .map_err(|err| GmailError::Unavailable(format!("unreadable {what}: {err}")))
}

impl GoogleOAuthClient {
    async fn gmail_get(
        &self,
        access_token: &SecretString,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<reqwest::Response, GmailError> {
        self.http_client()
            .get(format!("{}/users/me/{path}", self.gmail_base_url()))
            .query(query)
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(unreachable)
    }

    fn metadata_query<'a>(headers: &[&'a str]) -> Vec<(&'a str, &'a str)> {
        let mut query = vec![("format", "metadata"), ("fields", METADATA_FIELDS)];
        query.extend(headers.iter().map(|h| ("metadataHeaders", *h)));
        query
    }
}

#[async_trait]
impl GmailApi for GoogleOAuthClient {
    async fn send_message(
        &self,
        access_token: &SecretString,
        message: &OutgoingMessage,
    ) -> Result<SentMessage, GmailError> {
        let raw = URL_SAFE_NO_PAD.encode(rfc5322(message)?);
        let mut body = serde_json::json!({ "raw": raw });
        if let Some(thread_id) = &message.thread_id {
            body["threadId"] = serde_json::Value::String(thread_id.clone());
        }
        let response = self
            .http_client()
            .post(format!("{}/users/me/messages/send", self.gmail_base_url()))
            .bearer_auth(access_token.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let sent: SentAnswer = read(response, "send answer").await?;
        Ok(SentMessage {
            id: sent.id,
            thread_id: sent.thread_id,
        })
    }

    async fn mailbox_profile(&self, access_token: &SecretString) -> Result<MailboxProfile, GmailError> {
        let response = self.gmail_get(access_token, "profile", &[]).await?;
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let profile: ProfileAnswer = read(response, "profile").await?;
        Ok(MailboxProfile {
            email_address: profile.email_address,
            history_id: profile.history_id,
        })
    }

    async fn history(
        &self,
        access_token: &SecretString,
        start_history_id: &str,
        page_token: Option<&str>,
    ) -> Result<Option<HistoryPage>, GmailError> {
        let mut query = vec![
            ("startHistoryId", start_history_id),
            ("historyTypes", "messageAdded"),
            ("maxResults", "500"),
        ];
        if let Some(token) = page_token {
            query.push(("pageToken", token));
        }
        let response = self.gmail_get(access_token, "history", &query).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let answer: HistoryAnswer = read(response, "history").await?;
        Ok(Some(HistoryPage {
            added: answer
                .history
                .into_iter()
                .flat_map(|record| record.messages_added)
                .map(|added| AddedMessage {
                    id: added.message.id,
                    thread_id: added.message.thread_id,
                })
                .collect(),
            next_page_token: answer.next_page_token,
            history_id: answer.history_id,
        }))
    }

    async fn message_headers(
        &self,
        access_token: &SecretString,
        message_id: &str,
        headers: &[&str],
    ) -> Result<Option<MessageHeaders>, GmailError> {
        let query = Self::metadata_query(headers);
        let path = format!("messages/{}", urlencoding(message_id));
        let response = self.gmail_get(access_token, &path, &query).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let answer: MetadataAnswer = read(response, "message").await?;
        Ok(Some(answer.into()))
    }

    async fn thread_headers(
        &self,
        access_token: &SecretString,
        thread_id: &str,
        headers: &[&str],
    ) -> Result<Option<Vec<MessageHeaders>>, GmailError> {
        let mut query = Self::metadata_query(headers);
        // The thread's messages, each with the same field mask.
        let fields = format!("messages({METADATA_FIELDS})");
        query.retain(|(name, _)| *name != "fields");
        query.push(("fields", fields.as_str()));
        let path = format!("threads/{}", urlencoding(thread_id));
        let response = self.gmail_get(access_token, &path, &query).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(refusal(response).await);
        }
        let answer: ThreadAnswer = read(response, "thread").await?;
        Ok(Some(answer.messages.into_iter().map(MessageHeaders::from).collect()))
    }
}

/// A Gmail id as one path segment (they are hex, but nothing is assumed).
fn urlencoding(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}
