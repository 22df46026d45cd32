//! The `GmailApi` port: the few Gmail API calls Konnecs makes with a
//! member's access token (https://developers.google.com/gmail/api/reference/rest):
//! send a message, read the mailbox's current history id, list the
//! messages added since a history id, and read the headers (never the
//! body) of a message or of a thread's messages.
//!
//! `GoogleOAuth` requires it, so the one Google client carries both.

use async_trait::async_trait;
use jiff::Timestamp;
use secrecy::SecretString;

/// What a Gmail API call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum GmailError {
    /// Gmail refused the request itself (an unusable address, a bad id);
    /// asking again will not help.
    #[error("gmail refused the request: {0}")]
    Rejected(String),
    /// Network, rate limit, an outage or an access token just refused:
    /// worth trying later.
    #[error("gmail unavailable: {0}")]
    Unavailable(String),
}

/// A message to send from the member's own address. The adapter builds
/// the RFC 5322 text (lettre) and sends it raw; every header is decided
/// here, so the caller knows the `Message-ID` it will be answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The member's Gmail address (Gmail rejects another one), and their name.
    pub from_address: String,
    pub from_name: Option<String>,
    pub to_address: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub date: Timestamp,
    /// `<...@...>`, angle brackets included.
    pub message_id: String,
    /// The `Message-ID` answered, for a reply (`In-Reply-To`).
    pub in_reply_to: Option<String>,
    /// The conversation's earlier `Message-ID`s, oldest first (`References`).
    pub references: Vec<String>,
    /// Gmail's thread the message joins (a reply keeps its conversation).
    pub thread_id: Option<String>,
}

/// Gmail's ids of a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub id: String,
    pub thread_id: String,
}

/// One message added to the mailbox, as the history names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedMessage {
    pub id: String,
    pub thread_id: String,
}

/// One page of `users.history.list` (`historyTypes=messageAdded`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    pub added: Vec<AddedMessage>,
    pub next_page_token: Option<String>,
    /// The mailbox's current history id, to start the next poll from.
    pub history_id: String,
}

/// A message's ids, labels and the headers asked for (`format=metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeaders {
    pub id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    /// (name, value) as Gmail gives them.
    pub headers: Vec<(String, String)>,
    /// When Gmail received it, Unix milliseconds.
    pub internal_date_ms: i64,
}

impl MessageHeaders {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The mailbox's address and current history id (`users.getProfile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxProfile {
    pub email_address: String,
    pub history_id: String,
}

#[async_trait]
pub trait GmailApi: Send + Sync {
    /// `users.messages.send` with the message as base64url `raw`.
    async fn send_message(
        &self,
        access_token: &SecretString,
        message: &OutgoingMessage,
    ) -> Result<SentMessage, GmailError>;

    /// `users.getProfile`.
    async fn mailbox_profile(&self, access_token: &SecretString) -> Result<MailboxProfile, GmailError>;

    /// `users.history.list` from `start_history_id`, messages added only.
    /// `Ok(None)` when Google no longer has history that old (404): the
    /// caller resyncs.
    async fn history(
        &self,
        access_token: &SecretString,
        start_history_id: &str,
        page_token: Option<&str>,
    ) -> Result<Option<HistoryPage>, GmailError>;

    /// `users.messages.get?format=metadata` with only `headers`.
    async fn message_headers(
        &self,
        access_token: &SecretString,
        message_id: &str,
        headers: &[&str],
    ) -> Result<Option<MessageHeaders>, GmailError>;

    /// `users.threads.get?format=metadata` with only `headers`: the
    /// thread's messages, `None` when the thread is gone.
    async fn thread_headers(
        &self,
        access_token: &SecretString,
        thread_id: &str,
        headers: &[&str],
    ) -> Result<Option<Vec<MessageHeaders>>, GmailError>;
}
