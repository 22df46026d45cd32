//! The `MemberMailer` port: email sent AS a member, from their own mailbox
//! (Gmail today), to one recipient. The contact record's "Email from
//! Gmail" uses it, and so will workflows and sequences. Unlike `Mailer`
//! (Konnecs's own transactional mail), the sender is a person, the message
//! lands in their Sent folder and replies come back to them.

use async_trait::async_trait;

use crate::domain::ids::{OrgId, UserId};

/// What to send, in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEmail {
    pub to_address: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    /// Answer an earlier message of the conversation (threading headers
    /// and Gmail's thread), or start a new one.
    pub reply_to: Option<ReplyContext>,
}

/// The message a reply answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyContext {
    /// Gmail's thread id.
    pub thread_id: String,
    /// Its `Message-ID`, angle brackets included.
    pub message_id: String,
    /// Its `References`, oldest first.
    pub references: Vec<String>,
}

/// The sent message's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentAsMember {
    /// The mailbox provider's message and thread ids.
    pub message_id: String,
    pub thread_id: String,
    /// The RFC 5322 `Message-ID` it went out with.
    pub rfc_message_id: String,
    /// The address it was sent from.
    pub from_address: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MemberMailError {
    /// The member has no mailbox connected.
    #[error("no mailbox is connected")]
    NotConnected,
    /// The connection lacks the permission to send (connected for other
    /// features only): the member must switch sending on.
    #[error("the connection may not send email")]
    ScopeMissing,
    /// The provider refused the grant; the member must connect again.
    #[error("the connection is broken: {0}")]
    Broken(String),
    /// The message itself is refused (an unusable address); do not retry.
    #[error("the message was refused: {0}")]
    Rejected(String),
    /// Network, outage, rate limit, storage: worth trying later.
    #[error("email could not be sent now: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait MemberMailer: Send + Sync {
    /// Sends `email` from `user_id`'s mailbox.
    async fn send_as(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        email: &MemberEmail,
    ) -> Result<SentAsMember, MemberMailError>;
}
