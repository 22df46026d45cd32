//! Two-way SMS: what a reply does (STOP, START, HELP or a message for the
//! business), what Twilio reports about a sent message, and the record of
//! each text on the recipient's contact. Sending itself goes through
//! [`crate::services::notifications::send_sms`], which consults the opt-outs
//! written here before every send.
//!
//! Konnecs texts from one sender (number or messaging service) for every
//! organization, so a reply names no organization: the last organization
//! that texted the number (the *peer* item) receives it.
//!
//! Items written here:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | opt-out of (sender, recipient) | `SMSOPTOUT#<sender>#<recipient>` | `OPTOUT` |
//! | who last texted a number | `SMSPEER#<sender>#<recipient>` | `PEER` |
//! | one sent (or skipped, with the reason) message (status, contact) | `SMSMSG#<message id>` | `MESSAGE` |
//! | an inbound message seen (Twilio retries) | `SMSIN#<MessageSid>` | `INBOUND` |
//! | a notification for the staff's home page | `ORG#<org>#NOTIFY` | `N#<ms>#<id>` |
//! | the organization's SMS settings | `ORG#<org>` | `SMSSETTINGS` |

use crate::domain::ids::{ContactId, OrgId};
use serde_json::{Value, json};

use crate::ports::{Item, Query, StoreError, Table, WriteOp};
use crate::services::object;
use crate::services::records::new_id;

pub mod conversation;
pub mod erase;
pub mod inbound;
pub mod keys;
pub mod outbound;
pub mod settings;
pub mod status;

pub use crate::services::notifications::sms_opt_out_key;
pub use conversation::{Conversation, ConversationLine, conversation};
pub use erase::{SmsTraces, erase_contact_texts};
pub use inbound::{InboundSms, receive};
pub use keys::{inbound_key, message_key, notifications_partition, peer_key};
pub use outbound::{opt_out_ops, record_sent, record_skipped};
pub use settings::{SmsSettings, load_settings, save_settings};
pub use status::{StatusReport, record_status};

/// The support address every HELP answer names (privacy policy §6).
pub const SUPPORT_EMAIL: &str = "hello@konnecs.com";
/// Twilio's error code for a send to a number that replied STOP.
pub const TWILIO_UNSUBSCRIBED: &str = "21610";
/// How long a sent message and a seen inbound message are kept.
pub const KEEP_SECONDS: i64 = 400 * 24 * 3600;
/// How many recent bookings the peer item remembers (for STOP to find
/// their pending reminders).
pub const PEER_BOOKINGS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum SmsServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub use crate::domain::sms::message_id;

/// The contact that has `phone` in `org_id`, if any.
pub async fn contact_with_phone(
    table: &dyn Table,
    org_id: &OrgId,
    phone: &str,
) -> Result<Option<ContactId>, StoreError> {
    let item = table
        .get(&crate::services::contacts::phone_unique_key(org_id, phone))
        .await?;
    Ok(item
        .as_ref()
        .and_then(|item| item.get("contact_id"))
        .and_then(Value::as_str)
        .map(ContactId::from))
}

/// A notification for the organization's staff (shown on the home page).
pub fn notification_op(
    org_id: &OrgId,
    kind: &str,
    text: &str,
    contact_id: Option<&ContactId>,
    now: jiff::Timestamp,
) -> WriteOp {
    let id = new_id();
    WriteOp::Put {
        item: object(json!({
            "pk": notifications_partition(org_id),
            "sk": format!("N#{:013}#{id}", now.as_millisecond()),
            "id": id,
            "kind": kind,
            "text": text,
            "contact_id": contact_id,
            "at": now.to_string(),
            "expires_at": now.as_second() + KEEP_SECONDS,
        })),
        condition: None,
    }
}

/// One staff notification as the home page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StaffNotification {
    pub kind: String,
    pub text: String,
    pub contact_id: Option<ContactId>,
    pub at: String,
}

/// The newest notifications of an organization.
pub async fn recent_notifications(
    table: &dyn Table,
    org_id: &OrgId,
    limit: u32,
) -> Result<Vec<StaffNotification>, StoreError> {
    let page = table
        .query(&Query::partition(notifications_partition(org_id)).reverse().limit(limit))
        .await?;
    Ok(page.items.iter().map(notification_of).collect())
}

fn notification_of(item: &Item) -> StaffNotification {
    let text = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    StaffNotification {
        kind: text("kind"),
        text: text("text"),
        contact_id: item.get("contact_id").and_then(Value::as_str).map(ContactId::from),
        at: text("at"),
    }
}
