//! Replies to email Konnecs sent from a member's Gmail: a scheduled poll
//! of each registered mailbox's history (messages added since the last
//! history id) that looks only at messages in threads Konnecs sent in,
//! reads only their headers, and puts "Reply received" on the contact's
//! timeline, once per Gmail message. A history id Google no longer keeps
//! (404) is a bounded resync: the current history id first, then the
//! tracked threads' messages. Nothing else of the mailbox is read into
//! the store; a broken, disconnected or read-less connection makes no call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::gmail::{READ_SCOPE, THREAD_WATCH_SECONDS, TrackedThread, gmail_partition, mailbox_key, thread_key};
use super::{ConnectionStatus, GoogleConnectionError, access_token, read_connection};
use crate::domain::ids::{ContactId, OrgId, UserId};
use crate::ports::gmail::{GmailError, MessageHeaders};
use crate::ports::google::GoogleOAuth;
use crate::ports::{
    Condition, HasClock, HasConfig, HasGoogle, HasJobs, HasKeys, HasTable, Key, Query, SortKey, StoreError, Update,
    WriteOp,
};
use crate::services::contacts;
use crate::services::object;
use crate::services::records::from_item;

/// The headers read of a reply: who, what about, when, and its place in
/// the conversation.
pub const REPLY_HEADERS: [&str; 6] = ["From", "Subject", "Date", "Message-ID", "In-Reply-To", "References"];
/// History pages read per mailbox per poll; the rest waits for the next.
const MAX_HISTORY_PAGES: usize = 10;
/// Threads read by a resync: the most recently sent in.
const MAX_RESYNC_THREADS: u32 = 50;
/// Mailboxes read per registry shard page.
const REGISTRY_PAGE: u32 = 100;

pub fn reply_key(org_id: &OrgId, user_id: &UserId, message_id: &str) -> Key {
    Key::new(gmail_partition(org_id, user_id), format!("REPLY#{message_id}"))
}

/// A reply noticed in a thread Konnecs sent in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedReply {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub contact_id: ContactId,
    pub gmail_message_id: String,
    pub gmail_thread_id: String,
    pub from: String,
    pub subject: String,
    pub rfc_message_id: Option<String>,
    pub received_at: Timestamp,
}

/// Told of each reply before it is recorded (sequences will stop on it).
/// At least once per Gmail message: a failure leaves the reply unrecorded,
/// so the next poll tells again; implementations key on the message id.
#[async_trait]
pub trait ReplyHook: Send + Sync {
    async fn reply_received(&self, reply: &ReceivedReply) -> Result<(), StoreError>;
}

/// Nothing listens yet beyond the timeline.
pub struct TimelineOnly;

#[async_trait]
impl ReplyHook for TimelineOnly {
    async fn reply_received(&self, _reply: &ReceivedReply) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A registered mailbox and where its history was read to.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Mailbox {
    org_id: OrgId,
    user_id: UserId,
    #[serde(default)]
    history_id: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    pub mailboxes: usize,
    /// Mailboxes left alone: broken, without read access, or gone.
    pub skipped: usize,
    pub replies: usize,
    pub resyncs: usize,
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Gmail(#[from] GmailError),
    #[error(transparent)]
    Connection(#[from] GoogleConnectionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the poll reaches: the registry, the connections and their sealed
/// tokens (a refresh, the email if one breaks), Google.
pub trait PollReach: HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + Sync {}

impl<S: HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + Sync> PollReach for S {}

/// Polls every registered mailbox; one failing does not stop the others.
/// The registry's shards are polled side by side, each one's mailboxes in
/// turn, so a poll's length grows with the largest shard, not the total.
pub async fn poll(state: &impl PollReach, hook: &dyn ReplyHook) -> Result<PollSummary, StoreError> {
    let Some(google) = state.google() else {
        return Ok(PollSummary::default());
    };
    let shards = (0..super::gmail::MAILBOX_SHARDS).map(|shard| poll_shard(state, google.as_ref(), hook, shard));
    let mut summary = PollSummary::default();
    for shard in futures::future::join_all(shards).await {
        let shard = shard?;
        summary.mailboxes += shard.mailboxes;
        summary.skipped += shard.skipped;
        summary.replies += shard.replies;
        summary.resyncs += shard.resyncs;
        summary.failed += shard.failed;
    }
    Ok(summary)
}

async fn poll_shard(
    state: &impl PollReach,
    google: &dyn GoogleOAuth,
    hook: &dyn ReplyHook,
    shard: u32,
) -> Result<PollSummary, StoreError> {
    let mut summary = PollSummary::default();
    let mut cursor = None;
    loop {
        let query = Query::partition(format!("GMAILBOXES#{shard}"))
            .limit(REGISTRY_PAGE)
            .after(cursor);
        let page = state.table().query(&query).await?;
        for item in page.items {
            let Ok(mailbox) = from_item::<Mailbox>(item) else {
                continue;
            };
            summary.mailboxes += 1;
            match poll_mailbox(state, google, hook, &mailbox).await {
                Ok(Polled::Skipped) => summary.skipped += 1,
                Ok(Polled::Read { replies, resynced }) => {
                    summary.replies += replies;
                    summary.resyncs += usize::from(resynced);
                }
                Err(err) => {
                    summary.failed += 1;
                    tracing::warn!(error = %err, "a mailbox's replies were not read; next poll tries again");
                }
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(summary);
        }
    }
}

enum Polled {
    Skipped,
    Read { replies: usize, resynced: bool },
}

/// One member's mailbox: the history since the stored id, or a resync.
async fn poll_mailbox(
    state: &impl PollReach,
    google: &dyn GoogleOAuth,
    hook: &dyn ReplyHook,
    mailbox: &Mailbox,
) -> Result<Polled, PollError> {
    let (org_id, user_id) = (&mailbox.org_id, &mailbox.user_id);
    let Some(record) = read_connection(state, org_id, user_id).await? else {
        // Disconnected (or the member removed): nothing to read, ever.
        state.table().delete(&mailbox_key(org_id, user_id), None).await?;
        return Ok(Polled::Skipped);
    };
    if record.status == ConnectionStatus::Broken || !record.scopes.split_whitespace().any(|s| s == READ_SCOPE) {
        return Ok(Polled::Skipped);
    }
    let token = match access_token(state, org_id, user_id).await {
        Ok(token) => token,
        Err(GoogleConnectionError::Broken(_) | GoogleConnectionError::NotConnected) => return Ok(Polled::Skipped),
        Err(err) => return Err(err.into()),
    };
    let mut threads = Threads {
        known: BTreeMap::new(),
        now: state.clock().now().as_second(),
    };
    let mut replies = 0;
    let Some(start) = mailbox.history_id.clone() else {
        let replies = resync(state, google, hook, &token, mailbox, &mut threads).await?;
        return Ok(Polled::Read {
            replies,
            resynced: true,
        });
    };
    let mut page_token: Option<String> = None;
    let mut latest = start.clone();
    for _ in 0..MAX_HISTORY_PAGES {
        let Some(page) = google.history(&token, &start, page_token.as_deref()).await? else {
            let replies = resync(state, google, hook, &token, mailbox, &mut threads).await?;
            return Ok(Polled::Read {
                replies,
                resynced: true,
            });
        };
        for added in &page.added {
            let Some(thread) = threads.get(state, org_id, user_id, &added.thread_id).await? else {
                continue;
            };
            if thread.sent_ids.contains(&added.id) || seen(state, org_id, user_id, &added.id).await? {
                continue;
            }
            if let Some(headers) = google.message_headers(&token, &added.id, &REPLY_HEADERS).await?
                && record_reply(state, hook, mailbox, &thread, &headers).await?
            {
                replies += 1;
            }
        }
        latest = page.history_id;
        page_token = page.next_page_token;
        if page_token.is_none() {
            break;
        }
    }
    // With pages left, the next poll starts again from the same id (the
    // replies already recorded are not recorded twice).
    if page_token.is_none() {
        save_history_id(state, mailbox, &latest).await?;
    }
    Ok(Polled::Read {
        replies,
        resynced: false,
    })
}

/// The mailbox's current history id first (so nothing after it is missed),
/// then the messages of the threads sent in most recently.
async fn resync(
    state: &impl PollReach,
    google: &dyn GoogleOAuth,
    hook: &dyn ReplyHook,
    token: &SecretString,
    mailbox: &Mailbox,
    threads: &mut Threads,
) -> Result<usize, PollError> {
    let (org_id, user_id) = (&mailbox.org_id, &mailbox.user_id);
    let profile = google.mailbox_profile(token).await?;
    let now = state.clock().now().as_second();
    let query = Query::partition(gmail_partition(org_id, user_id)).sort(SortKey::BeginsWith("THREAD#".into()));
    let mut tracked: Vec<TrackedThread> = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.table().query(&query.clone().after(cursor)).await?;
        tracked.extend(
            page.items
                .into_iter()
                .filter_map(|item| from_item::<TrackedThread>(item).ok())
                .filter(|t| t.expires_at > now),
        );
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    tracked.sort_by_key(|t| std::cmp::Reverse(t.last_sent_at));
    tracked.truncate(MAX_RESYNC_THREADS as usize);
    let mut replies = 0;
    for thread in tracked {
        threads.known.insert(thread.thread_id.clone(), Some(thread.clone()));
        let Some(messages) = google.thread_headers(token, &thread.thread_id, &REPLY_HEADERS).await? else {
            continue;
        };
        for headers in messages {
            if thread.sent_ids.contains(&headers.id) || seen(state, org_id, user_id, &headers.id).await? {
                continue;
            }
            if record_reply(state, hook, mailbox, &thread, &headers).await? {
                replies += 1;
            }
        }
    }
    save_history_id(state, mailbox, &profile.history_id).await?;
    Ok(replies)
}

async fn save_history_id(state: &impl HasTable, mailbox: &Mailbox, history_id: &str) -> Result<(), StoreError> {
    let update = Update::default().set("history_id", history_id);
    // A mailbox removed meanwhile (a disconnect) stays removed.
    match state
        .table()
        .update(
            &mailbox_key(&mailbox.org_id, &mailbox.user_id),
            update,
            Some(Condition::Exists),
        )
        .await
    {
        Err(err) if !err.is_condition_failure() => Err(err),
        _ => Ok(()),
    }
}

async fn seen(state: &impl HasTable, org_id: &OrgId, user_id: &UserId, message_id: &str) -> Result<bool, StoreError> {
    Ok(state
        .table()
        .get(&reply_key(org_id, user_id, message_id))
        .await?
        .is_some())
}

/// The tracked threads met in one poll, read once each.
struct Threads {
    known: BTreeMap<String, Option<TrackedThread>>,
    /// Unix seconds: a thread watched until before then is not tracked.
    now: i64,
}

impl Threads {
    async fn get(
        &mut self,
        state: &impl HasTable,
        org_id: &OrgId,
        user_id: &UserId,
        thread_id: &str,
    ) -> Result<Option<TrackedThread>, StoreError> {
        if let Some(known) = self.known.get(thread_id) {
            return Ok(known.clone());
        }
        let now = self.now;
        let thread = match state.table().get(&thread_key(org_id, user_id, thread_id)).await? {
            Some(item) => from_item::<TrackedThread>(item).ok().filter(|t| t.expires_at > now),
            None => None,
        };
        self.known.insert(thread_id.to_owned(), thread.clone());
        Ok(thread)
    }
}

/// Records a reply once: the seen marker (conditional) and the timeline
/// entry in one transaction, after the hook. `false` when it is not a
/// reply (the member's own message or a draft) or was recorded already.
async fn record_reply(
    state: &impl PollReach,
    hook: &dyn ReplyHook,
    mailbox: &Mailbox,
    thread: &TrackedThread,
    headers: &MessageHeaders,
) -> Result<bool, PollError> {
    if headers.label_ids.iter().any(|l| l == "SENT" || l == "DRAFT") {
        return Ok(false);
    }
    let received_at = Timestamp::from_millisecond(headers.internal_date_ms).unwrap_or_else(|_| state.clock().now());
    let reply = ReceivedReply {
        org_id: mailbox.org_id.clone(),
        user_id: mailbox.user_id.clone(),
        contact_id: thread.contact_id.clone(),
        gmail_message_id: headers.id.clone(),
        gmail_thread_id: headers.thread_id.clone(),
        from: headers.header("From").unwrap_or_default().chars().take(320).collect(),
        subject: headers
            .header("Subject")
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect(),
        rfc_message_id: headers.header("Message-ID").map(str::to_owned),
        received_at,
    };
    hook.reply_received(&reply).await?;
    let now = state.clock().now();
    let key = reply_key(&mailbox.org_id, &mailbox.user_id, &headers.id);
    let mut ops = vec![WriteOp::Put {
        item: object(json!({
            "pk": key.pk, "sk": key.sk,
            "thread_id": headers.thread_id,
            "contact_id": thread.contact_id,
            "expires_at": now.as_second() + THREAD_WATCH_SECONDS,
        })),
        condition: Some(Condition::NotExists),
    }];
    // A contact deleted since has no timeline to write to.
    if contacts::exists(state.table().as_ref(), &mailbox.org_id, &thread.contact_id).await? {
        ops.push(contacts::timeline_entry(
            &mailbox.org_id,
            &thread.contact_id,
            "email.reply_received",
            json!({
                "gmail_message_id": reply.gmail_message_id,
                "gmail_thread_id": reply.gmail_thread_id,
                "from": reply.from,
                "subject": reply.subject,
                "received_at": reply.received_at.to_string(),
                "member": mailbox.user_id,
            }),
            now,
        ));
    }
    match state.table().transact(ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Ok(false),
        Err(err) if err.is_condition_failure() => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// The reply's words for the timeline: who wrote back, about what.
pub fn summary(detail: &Value) -> String {
    let from = detail.get("from").and_then(Value::as_str).unwrap_or_default();
    let subject = detail.get("subject").and_then(Value::as_str).unwrap_or_default();
    match (from.is_empty(), subject.is_empty()) {
        (false, false) => format!("{from}: {subject}"),
        (false, true) => from.to_owned(),
        (true, _) => subject.to_owned(),
    }
}
