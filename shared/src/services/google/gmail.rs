//! Email from a member's own Gmail: the `MemberMailer` over the Gmail API
//! ([`GmailMemberMailer`]) and the contact record's "Email from Gmail"
//! ([`send_to_contact`]), which logs the message on the contact's timeline
//! with Gmail's message and thread ids and remembers the thread, so
//! replies in it are noticed (`gmail_replies`).
//!
//! | item | pk | sk |
//! |---|---|---|
//! | a send, claimed once per send key (TTL 1 day) | `ORG#<id>#GMAIL#<user>` | `SEND#<sha256 of key>` |
//! | a thread Konnecs sent in (TTL 180 days after the last send) | `ORG#<id>#GMAIL#<user>` | `THREAD#<thread id>` |
//! | a reply already on the timeline (TTL 180 days) | `ORG#<id>#GMAIL#<user>` | `REPLY#<message id>` |
//! | a mailbox to poll for replies | `GMAILBOXES#<shard>` | `<org>#<user>` |

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ConnectionStatus, GoogleConnectionError, access_token, read_connection};
use crate::domain::ids::{ContactId, OrgId, UserId};
use crate::domain::input::FieldError;
use crate::domain::token::token_hash;
use crate::ports::gmail::{GmailError, OutgoingMessage};
use crate::ports::google::GoogleError;
use crate::ports::member_mailer::{MemberEmail, MemberMailError, MemberMailer, SentAsMember};
use crate::ports::{
    Condition, HasClock, HasConfig, HasGoogle, HasJobs, HasKeys, HasTable, Key, StoreError, Update, WriteOp,
};
use crate::services::audit;
use crate::services::contacts::{self, Caller, ContactError};
use crate::services::object;
use crate::services::records::{UserRecord, from_item, user_key};
use crate::services::secrets::new_token;

/// The scope that lets Konnecs send as the member.
pub const SEND_SCOPE: &str = "https://www.googleapis.com/auth/gmail.send";
/// The scope that lets Konnecs read the history and replies' headers.
pub const READ_SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";
/// How long a sent thread is watched for replies after its last send.
pub const THREAD_WATCH_SECONDS: i64 = 180 * 24 * 3600;
/// How long a send key answers with its first send.
const SEND_KEY_SECONDS: i64 = 24 * 3600;
/// A claim older than this without a result is a send that crashed midway.
const STALE_CLAIM_SECONDS: i64 = 120;
/// Mailbox registry shards: the poll reads them all; no shard is hot.
pub const MAILBOX_SHARDS: u32 = 8;
pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 20_000;

pub fn gmail_partition(org_id: &OrgId, user_id: &UserId) -> String {
    format!("ORG#{org_id}#GMAIL#{user_id}")
}

pub fn thread_key(org_id: &OrgId, user_id: &UserId, thread_id: &str) -> Key {
    Key::new(gmail_partition(org_id, user_id), format!("THREAD#{thread_id}"))
}

pub fn send_key(org_id: &OrgId, user_id: &UserId, key: &str) -> Key {
    Key::new(gmail_partition(org_id, user_id), format!("SEND#{}", token_hash(key)))
}

pub fn mailbox_shard(org_id: &OrgId, user_id: &UserId) -> u32 {
    let digest = token_hash(&format!("{org_id}#{user_id}"));
    u32::from_str_radix(&digest[..4], 16).unwrap_or_default() % MAILBOX_SHARDS
}

pub fn mailbox_key(org_id: &OrgId, user_id: &UserId) -> Key {
    Key::new(
        format!("GMAILBOXES#{}", mailbox_shard(org_id, user_id)),
        format!("{org_id}#{user_id}"),
    )
}

/// A thread Konnecs sent in, and whom it is with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackedThread {
    pub thread_id: String,
    pub contact_id: ContactId,
    /// Gmail ids of the messages Konnecs sent in it (not replies).
    pub sent_ids: Vec<String>,
    /// Their `Message-ID`s, oldest first (a later reply's `References`).
    pub rfc_message_ids: Vec<String>,
    pub last_sent_at: i64,
    pub expires_at: i64,
}

/// Sends through the member's Gmail: only with the `gmail.send` scope on
/// a working connection; a broken or missing one makes no call.
pub struct GmailMemberMailer<'a, S> {
    pub state: &'a S,
}

fn from_google(err: GoogleError) -> MemberMailError {
    match err {
        GoogleError::InvalidGrant => MemberMailError::Broken("Google refused the stored access.".into()),
        GoogleError::Rejected(detail) => MemberMailError::Rejected(detail),
        GoogleError::Unavailable(detail) => MemberMailError::Unavailable(detail),
    }
}

fn from_gmail(err: GmailError) -> MemberMailError {
    match err {
        GmailError::Rejected(detail) => MemberMailError::Rejected(detail),
        GmailError::Unavailable(detail) => MemberMailError::Unavailable(detail),
    }
}

fn from_connection(err: GoogleConnectionError) -> MemberMailError {
    match err {
        GoogleConnectionError::Off | GoogleConnectionError::NotConnected => MemberMailError::NotConnected,
        GoogleConnectionError::Broken(reason) => MemberMailError::Broken(reason),
        GoogleConnectionError::Google(err) => from_google(err),
        other => MemberMailError::Unavailable(other.to_string()),
    }
}

/// A `Message-ID` of Konnecs's own making, under the sender's domain.
fn new_message_id(from_address: &str) -> String {
    let domain = from_address.rsplit_once('@').map_or("konnecs.invalid", |(_, d)| d);
    format!("<{}@{domain}>", new_token())
}

#[async_trait]
impl<S> MemberMailer for GmailMemberMailer<'_, S>
where
    S: HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + Sync,
{
    async fn send_as(
        &self,
        org_id: &OrgId,
        user_id: &UserId,
        email: &MemberEmail,
    ) -> Result<SentAsMember, MemberMailError> {
        let state = self.state;
        let unavailable = |err: StoreError| MemberMailError::Unavailable(err.to_string());
        let google = state.google().ok_or(MemberMailError::NotConnected)?;
        let record = read_connection(state, org_id, user_id)
            .await
            .map_err(unavailable)?
            .ok_or(MemberMailError::NotConnected)?;
        if record.status == ConnectionStatus::Broken {
            return Err(MemberMailError::Broken(record.broken_reason.unwrap_or_default()));
        }
        if !record.scopes.split_whitespace().any(|s| s == SEND_SCOPE) {
            return Err(MemberMailError::ScopeMissing);
        }
        let token = access_token(state, org_id, user_id).await.map_err(from_connection)?;
        let from_address = match record.google_email {
            Some(address) => address,
            None => google.mailbox_profile(&token).await.map_err(from_gmail)?.email_address,
        };
        let from_name = match state.table().get(&user_key(user_id)).await.map_err(unavailable)? {
            Some(item) => from_item::<UserRecord>(item).ok().map(|user| user.name),
            None => None,
        };
        let (in_reply_to, references, thread_id) = match &email.reply_to {
            Some(parent) => {
                let mut references = parent.references.clone();
                if !references.contains(&parent.message_id) {
                    references.push(parent.message_id.clone());
                }
                (
                    Some(parent.message_id.clone()),
                    references,
                    Some(parent.thread_id.clone()),
                )
            }
            None => (None, Vec::new(), None),
        };
        let message = OutgoingMessage {
            message_id: new_message_id(&from_address),
            from_address: from_address.clone(),
            from_name: from_name.filter(|n| !n.trim().is_empty()),
            to_address: email.to_address.clone(),
            to_name: email.to_name.clone().filter(|n| !n.trim().is_empty()),
            subject: email.subject.clone(),
            text: email.text.clone(),
            date: state.clock().now(),
            in_reply_to,
            references,
            thread_id,
        };
        let sent = google.send_message(&token, &message).await.map_err(from_gmail)?;
        Ok(SentAsMember {
            message_id: sent.id,
            thread_id: sent.thread_id,
            rfc_message_id: message.message_id,
            from_address,
        })
    }
}

/// Whether the member can email from their Gmail now, for the record page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendReadiness {
    /// Google is not configured here.
    Off,
    NotConnected,
    /// Google refused the grant; connect again.
    Broken,
    /// Connected, but without Gmail's sending scope.
    ScopeMissing,
    /// Sends from this address.
    Ready {
        from: String,
    },
}

pub async fn readiness(
    state: &(impl HasTable + HasGoogle),
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<SendReadiness, StoreError> {
    if state.google().is_none() {
        return Ok(SendReadiness::Off);
    }
    Ok(match read_connection(state, org_id, user_id).await? {
        None => SendReadiness::NotConnected,
        Some(record) if record.status == ConnectionStatus::Broken => SendReadiness::Broken,
        Some(record) if !record.scopes.split_whitespace().any(|s| s == SEND_SCOPE) => SendReadiness::ScopeMissing,
        Some(record) => SendReadiness::Ready {
            from: record.google_email.unwrap_or_default(),
        },
    })
}

/// What the member wrote.
#[derive(Debug, Clone, Default)]
pub struct ContactEmailInput {
    pub subject: String,
    pub body: String,
    /// The form's token or the API's idempotency key: a repeat with it
    /// answers the first send instead of sending again.
    pub send_key: String,
}

/// A message sent to a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SentEmail {
    pub contact_id: ContactId,
    pub gmail_message_id: String,
    pub gmail_thread_id: String,
    pub rfc_message_id: String,
    pub from: String,
    pub to: String,
    pub sent_at: String,
    /// An earlier answer given again (the same send key).
    #[serde(default)]
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GmailSendError {
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    /// The same send key is being sent right now.
    #[error("this email is being sent")]
    InProgress,
    #[error(transparent)]
    Mail(#[from] MemberMailError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ContactError> for GmailSendError {
    fn from(err: ContactError) -> Self {
        match err {
            ContactError::NotFound => GmailSendError::NotFound,
            ContactError::Store(err) => GmailSendError::Store(err),
            other => GmailSendError::Store(StoreError::Invalid(other.to_string())),
        }
    }
}

fn validate(input: &ContactEmailInput) -> Result<(String, String), GmailSendError> {
    let subject = input.subject.trim().to_string();
    let body = input.body.trim_end().to_string();
    let mut errors = Vec::new();
    if subject.is_empty() {
        errors.push(FieldError::new("subject", "required", "Write a subject."));
    } else if subject.chars().count() > MAX_SUBJECT_CHARS {
        errors.push(FieldError::new(
            "subject",
            "too_long",
            format!("Keep the subject under {MAX_SUBJECT_CHARS} characters."),
        ));
    } else if subject.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "subject",
            "invalid",
            "The subject is one line of text.",
        ));
    }
    if body.trim().is_empty() {
        errors.push(FieldError::new("body", "required", "Write the message."));
    } else if body.chars().count() > MAX_BODY_CHARS {
        errors.push(FieldError::new(
            "body",
            "too_long",
            format!("Keep the message under {MAX_BODY_CHARS} characters."),
        ));
    }
    let key = input.send_key.trim();
    if key.is_empty() || key.len() > 255 {
        errors.push(FieldError::new(
            "send_key",
            "invalid",
            "Reload the page and write the email again.",
        ));
    }
    if errors.is_empty() {
        Ok((subject, body))
    } else {
        Err(GmailSendError::Invalid(errors))
    }
}

#[derive(Serialize, Deserialize)]
struct SendClaim {
    /// `sending` until Gmail answered, then `sent` with the result.
    status: String,
    claimed_at: i64,
    #[serde(default)]
    sent: Option<SentEmail>,
    expires_at: i64,
}

/// Claims the send key; answers the first send's result when it has one.
async fn claim(state: &impl HasTable, key: &Key, now: Timestamp) -> Result<Option<SentEmail>, GmailSendError> {
    let claim = SendClaim {
        status: "sending".into(),
        claimed_at: now.as_second(),
        sent: None,
        expires_at: now.as_second() + SEND_KEY_SECONDS,
    };
    let item = crate::services::records::to_item(key, &claim, &[])?;
    match state.table().put(item.clone(), Some(Condition::NotExists)).await {
        Ok(()) => return Ok(None),
        Err(err) if err.is_condition_failure() => {}
        Err(err) => return Err(err.into()),
    }
    let Some(existing) = state.table().get(key).await? else {
        // Expired between the two reads: claim it afresh.
        state.table().put(item, Some(Condition::NotExists)).await?;
        return Ok(None);
    };
    let existing: SendClaim = from_item(existing)?;
    if let Some(mut sent) = existing.sent {
        sent.replayed = true;
        return Ok(Some(sent));
    }
    if existing.claimed_at + STALE_CLAIM_SECONDS > now.as_second() {
        return Err(GmailSendError::InProgress);
    }
    // A send that crashed before recording anything: this one takes over.
    state.table().put(item, None).await?;
    Ok(None)
}

/// Emails a contact from the caller's own Gmail and logs it on the
/// contact's timeline with Gmail's ids, with an audit entry. Once per
/// send key: a double submit answers the first send. A foreign or unknown
/// contact is `NotFound`; one without an email address is a field error.
pub async fn send_to_contact(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + Sync),
    caller: &Caller,
    contact_id: &ContactId,
    input: &ContactEmailInput,
) -> Result<SentEmail, GmailSendError> {
    let (subject, body) = validate(input)?;
    let org_id = caller.org_id();
    let contact = contacts::get(state.table().as_ref(), org_id, contact_id).await?;
    let Some(to) = contact.primary_email().map(str::to_owned) else {
        return Err(GmailSendError::Invalid(vec![FieldError::new(
            "to",
            "no_email",
            "This contact has no email address: add one to their details first.",
        )]));
    };
    let now = state.clock().now();
    let claim_key = send_key(org_id, &caller.user_id, &input.send_key);
    if let Some(first) = claim(state, &claim_key, now).await? {
        return Ok(first);
    }
    let name = contact.display_name();
    let email = MemberEmail {
        to_address: to.clone(),
        to_name: (!name.is_empty()).then_some(name),
        subject: subject.clone(),
        text: body.clone(),
        reply_to: None,
    };
    let mailer = GmailMemberMailer { state };
    let sent = match mailer.send_as(org_id, &caller.user_id, &email).await {
        Ok(sent) => sent,
        Err(err) => {
            // Nothing went out: the member may correct and send again.
            if let Err(release) = state.table().delete(&claim_key, None).await {
                tracing::warn!(error = %release, "a failed send's claim stays until it goes stale");
            }
            return Err(err.into());
        }
    };
    let result = SentEmail {
        contact_id: contact_id.clone(),
        gmail_message_id: sent.message_id.clone(),
        gmail_thread_id: sent.thread_id.clone(),
        rfc_message_id: sent.rfc_message_id.clone(),
        from: sent.from_address.clone(),
        to: to.clone(),
        sent_at: now.to_string(),
        replayed: false,
    };
    record_sent(state, caller, &claim_key, &result, &subject, &body, now).await?;
    Ok(result)
}

/// The sent message on the timeline, its thread watched for replies, the
/// claim holding the result, the audit entry: one transaction. Then the
/// mailbox is registered for the reply poll.
async fn record_sent(
    state: &impl HasTable,
    caller: &Caller,
    claim_key: &Key,
    sent: &SentEmail,
    subject: &str,
    body: &str,
    now: Timestamp,
) -> Result<(), GmailSendError> {
    let org_id = caller.org_id();
    let user_id = &caller.user_id;
    let key = thread_key(org_id, user_id, &sent.gmail_thread_id);
    let mut thread = match state.table().get(&key).await? {
        Some(item) => from_item::<TrackedThread>(item)?,
        None => TrackedThread {
            thread_id: sent.gmail_thread_id.clone(),
            contact_id: sent.contact_id.clone(),
            sent_ids: Vec::new(),
            rfc_message_ids: Vec::new(),
            last_sent_at: 0,
            expires_at: 0,
        },
    };
    thread.sent_ids.push(sent.gmail_message_id.clone());
    thread.rfc_message_ids.push(sent.rfc_message_id.clone());
    thread.last_sent_at = now.as_second();
    thread.expires_at = now.as_second() + THREAD_WATCH_SECONDS;
    let ops = vec![
        WriteOp::Update {
            key: claim_key.clone(),
            update: Update::default().set("status", "sent").set("sent", json!(sent)),
            condition: None,
        },
        WriteOp::Put {
            item: crate::services::records::to_item(&key, &thread, &[])?,
            condition: None,
        },
        contacts::timeline_entry(
            org_id,
            &sent.contact_id,
            "email.sent",
            json!({
                "gmail_message_id": sent.gmail_message_id,
                "gmail_thread_id": sent.gmail_thread_id,
                "from": sent.from,
                "to": sent.to,
                "subject": subject,
                "body": body,
                "by": user_id,
            }),
            now,
        ),
        audit::entry(
            &caller.actor,
            now,
            "contact.email_sent",
            &format!("contact:{}", sent.contact_id),
            json!({"gmail_message_id": sent.gmail_message_id, "gmail_thread_id": sent.gmail_thread_id}),
        ),
    ];
    state.table().transact(ops).await?;
    register_mailbox(state, org_id, user_id, now).await?;
    Ok(())
}

/// A mailbox in the reply poll's registry, once. It starts without a
/// history id: the first poll reads the tracked threads, then follows the
/// history from Gmail's current id.
async fn register_mailbox(
    state: &impl HasTable,
    org_id: &OrgId,
    user_id: &UserId,
    now: Timestamp,
) -> Result<(), StoreError> {
    let key = mailbox_key(org_id, user_id);
    let item = object(json!({
        "pk": key.pk, "sk": key.sk,
        "org_id": org_id, "user_id": user_id,
        "registered_at": now.as_second(),
    }));
    match state.table().put(item, Some(Condition::NotExists)).await {
        Err(err) if !err.is_condition_failure() => Err(err),
        _ => Ok(()),
    }
}
