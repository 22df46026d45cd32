//! A contact's text conversation as the staff read it: every text sent (with
//! its current status), every reply, every opt-out and opt-in, oldest first;
//! the SMS consent on record; and whether each of the contact's numbers is
//! opted out now.

use crate::domain::ids::{ContactId, OrgId};
use serde_json::Value;

use super::{message_key, sms_opt_out_key};
use crate::ports::Table;
use crate::services::contacts::{self, Consent, ContactError};

/// Timeline pages read at most (of 100 entries) for one conversation.
const MAX_PAGES: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationLine {
    /// `sent`, `skipped` (not sent: no consent, opted out, a limit), `received`,
    /// `opted_out`, `opted_in`.
    pub kind: String,
    pub at: String,
    pub text: String,
    /// A sent text's latest status (and error code), from Twilio's reports.
    pub status: Option<String>,
    pub number: String,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub lines: Vec<ConversationLine>,
    pub consent: Option<Consent>,
    /// (number, opted out) for each of the contact's phones.
    pub numbers: Vec<(String, bool)>,
}

pub async fn conversation(
    table: &dyn Table,
    sender: &str,
    org_id: &OrgId,
    contact_id: &ContactId,
) -> Result<Conversation, ContactError> {
    let contact = contacts::get(table, org_id, contact_id).await?;
    let mut lines = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let (entries, next) = contacts::timeline(table, org_id, contact_id, 100, cursor).await?;
        for entry in entries
            .iter()
            .filter(|e| e.kind.starts_with("sms.") && e.kind != "sms.status")
        {
            let text = |name: &str| {
                entry
                    .detail
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let kind = entry.kind.trim_start_matches("sms.").to_string();
            let status = if kind == "sent" {
                let id = text("message_id");
                let message = table.get(&message_key(&id)).await?;
                let field = |name: &str| {
                    message
                        .as_ref()
                        .and_then(|m| m.get(name))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                field("status").map(|status| match field("error_code") {
                    Some(code) => format!("{status} (error {code})"),
                    None => status,
                })
            } else if kind == "skipped" {
                Some(format!("skipped: {}", text("reason").replace('_', " ")))
            } else {
                None
            };
            lines.push(ConversationLine {
                text: match kind.as_str() {
                    "opted_out" | "opted_in" => text("keyword"),
                    "skipped" => "(not sent)".to_string(),
                    _ => text("body"),
                },
                number: if matches!(kind.as_str(), "sent" | "skipped") {
                    text("to")
                } else {
                    text("from")
                },
                kind,
                at: entry.at.clone(),
                status,
            });
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    lines.reverse();
    let mut numbers = Vec::new();
    for phone in &contact.phones {
        let opted_out = table.get(&sms_opt_out_key(sender, &phone.e164)).await?.is_some();
        numbers.push((phone.e164.clone(), opted_out));
    }
    Ok(Conversation {
        lines,
        consent: contact.sms_consent.clone(),
        numbers,
    })
}
