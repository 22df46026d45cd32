//! A text someone sent to Konnecs's number, as Twilio's webhook delivers it:
//! STOP (and its synonyms) opts the number out, START opts it back in, HELP
//! answers with who is texting and how to stop, anything else is a message
//! for the business, kept on the contact's timeline and shown to the host.
//!
//! Twilio retries a webhook that did not answer in time with the same
//! `MessageSid`: the first delivery claims the sid in the same transaction as
//! its effect, and a repeat answers nothing, so a STOP is confirmed once.

use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use serde_json::{Value, json};

use super::{
    KEEP_SECONDS, SmsServiceError, contact_with_phone, inbound_key, notification_op, opt_out_ops, peer_key,
    settings::load_settings, sms_opt_out_key,
};
use crate::domain::sms::Keyword;
use crate::ports::{Condition, HasClock, HasJobs, HasSms, HasTable, Item, StoreError, WriteOp};
use crate::services::contacts;
use crate::services::jobs::{self, Job};
use crate::services::notifications;
use crate::services::object;
use crate::services::records::{self, OrgRecord, org_key};
use crate::services::reminder_dispatch::{STATUS_DROPPED, STATUS_PENDING};
use crate::services::scheduling::bookings;

/// One inbound text: Twilio's `MessageSid`, `From` and `Body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    pub message_sid: String,
    pub from: String,
    pub body: String,
}

/// Who a reply is for: the organization that texted the number last.
struct Peer {
    org_id: OrgId,
    bookings: Vec<(OrgId, BookingId)>,
}

fn peer_of(item: &Item) -> Option<Peer> {
    let org_id = OrgId::from(item.get("org_id")?.as_str()?);
    let bookings = item
        .get("bookings")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|b| {
                    Some((
                        OrgId::from(b.get("org_id")?.as_str()?),
                        BookingId::from(b.get("booking_id")?.as_str()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Peer { org_id, bookings })
}

/// Handles one inbound text; returns the reply to send back in the
/// webhook's answer (none for a repeat or an ordinary message).
pub async fn receive(
    state: &(impl HasTable + HasClock + HasSms + HasJobs),
    sms: &InboundSms,
) -> Result<Option<String>, SmsServiceError> {
    let table = state.table().as_ref();
    let now = state.clock().now();
    let sender = state.sms().sender().to_string();
    let peer = table
        .get(&peer_key(&sender, &sms.from))
        .await?
        .as_ref()
        .and_then(peer_of);
    let org = match &peer {
        Some(peer) => table
            .get(&org_key(&peer.org_id))
            .await?
            .map(records::from_item::<OrgRecord>)
            .transpose()?,
        None => None,
    };
    let contact_id = match &org {
        Some(org) => contact_with_phone(table, &org.id, &sms.from).await?,
        None => None,
    };
    let keyword = Keyword::of(&sms.body);

    let marker = inbound_key(&sms.message_sid);
    let mut ops = vec![WriteOp::Put {
        item: object(json!({
            "pk": marker.pk, "sk": marker.sk,
            "from": sms.from,
            "keyword": keyword.map(|k| format!("{k:?}")),
            "at": now.as_second(),
            "expires_at": now.as_second() + KEEP_SECONDS,
        })),
        condition: Some(Condition::NotExists),
    }];
    let timeline = |kind: &str, detail: Value| {
        org.as_ref()
            .zip(contact_id.as_ref())
            .map(|(org, contact_id)| contacts::timeline_entry(&org.id, contact_id, kind, detail, now))
    };
    match keyword {
        Some(Keyword::OptOut) => {
            ops.extend(opt_out_ops(&sender, &sms.from, "keyword", sms.body.trim(), now));
            ops.extend(timeline(
                "sms.opted_out",
                json!({"from": sms.from, "keyword": sms.body.trim(), "message_sid": sms.message_sid}),
            ));
        }
        Some(Keyword::OptIn) => {
            ops.push(WriteOp::Delete {
                key: sms_opt_out_key(&sender, &sms.from),
                condition: None,
            });
            ops.extend(timeline(
                "sms.opted_in",
                json!({"from": sms.from, "keyword": sms.body.trim(), "message_sid": sms.message_sid}),
            ));
        }
        Some(Keyword::Help) => {}
        None => {
            ops.extend(timeline(
                "sms.received",
                json!({"from": sms.from, "body": sms.body, "message_sid": sms.message_sid}),
            ));
            if let Some(org) = &org {
                ops.push(notification_op(
                    &org.id,
                    "sms.received",
                    &format!("Text from {}: {}", sms.from, preview(&sms.body)),
                    contact_id.as_ref(),
                    now,
                ));
            }
        }
    }
    match table.transact(ops).await {
        Ok(()) => {}
        // Seen already (Twilio retried): its effect and its reply happened once.
        Err(StoreError::TransactionConditionFailed { index: 0 }) => return Ok(None),
        Err(err) => return Err(err.into()),
    }

    let business = org
        .as_ref()
        .map(|org| org.name.clone())
        .unwrap_or_else(|| "Konnecs".into());
    Ok(match keyword {
        Some(Keyword::OptOut) => {
            // The opt-out is committed and checked before every send: a
            // reminder left pending by a failure here is still never sent.
            if let Some(peer) = &peer
                && let Err(err) = cancel_sms_reminders(state, &peer.bookings).await
            {
                tracing::warn!(error = %err, "pending sms reminders not all cancelled");
            }
            Some(format!(
                "{business}: You are unsubscribed and will receive no further messages from this number. Reply START to resubscribe."
            ))
        }
        Some(Keyword::OptIn) => Some(format!(
            "{business}: You are resubscribed to appointment texts. Reply HELP for help, STOP to opt out."
        )),
        Some(Keyword::Help) => {
            let settings = match &org {
                Some(org) => load_settings(state, &org.id).await?,
                None => Default::default(),
            };
            Some(settings.help_reply(&business))
        }
        None => {
            // The reply is on the timeline and the home page already.
            if let Some(peer) = &peer
                && let Err(err) = notify_host_by_email(state, peer, &sms.message_sid, &sms.from, &sms.body).await
            {
                tracing::warn!(error = %err, "host not emailed about a text reply");
            }
            None
        }
    })
}

fn preview(body: &str) -> String {
    let mut text: String = body.chars().take(140).collect();
    if body.chars().count() > 140 {
        text.push('…');
    }
    text
}

/// Every pending SMS reminder of the number's recent bookings becomes
/// dropped (conditionally: one being sent right now keeps its course, and
/// the opt-out check right before the send stops it).
async fn cancel_sms_reminders(
    state: &(impl HasTable + HasClock),
    recent: &[(OrgId, BookingId)],
) -> Result<(), StoreError> {
    let table = state.table().as_ref();
    for (org_id, booking_id) in recent {
        let record = match bookings::get_record(table, org_id, booking_id).await {
            Ok(record) => record,
            Err(_) => continue,
        };
        for stored in record.reminder_keys.iter().filter(|key| key.sk.ends_with("#sms")) {
            let key = crate::ports::Key::new(stored.pk.clone(), stored.sk.clone());
            let update = crate::ports::Update::default()
                .set("status", STATUS_DROPPED)
                .set("dropped_why", "opted out")
                .set(format!("{STATUS_DROPPED}_at"), state.clock().unix_seconds());
            match table
                .update(
                    &key,
                    update,
                    Some(Condition::AttributeEquals {
                        name: "status".into(),
                        value: json!(STATUS_PENDING),
                    }),
                )
                .await
            {
                Ok(_) => {}
                Err(err) if err.is_condition_failure() => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}

/// An email to the host of the number's latest booking: a customer replied.
async fn notify_host_by_email(
    state: &(impl HasTable + HasJobs),
    peer: &Peer,
    message_sid: &str,
    from: &str,
    body: &str,
) -> Result<(), StoreError> {
    let Some((org_id, booking_id)) = peer.bookings.first() else {
        return Ok(());
    };
    let Some((notice, _)) = notifications::find_notice(state.table().as_ref(), org_id, booking_id).await? else {
        return Ok(());
    };
    let email = crate::ports::mailer::Email {
        to: notice.host_email.clone(),
        subject: format!("Text reply from {}", notice.customer_name),
        text: format!(
            "{} ({from}) replied to a text about {}:\n\n{body}\n\nThe reply is on their contact record in Konnecs.",
            notice.customer_name, notice.event_title
        ),
        html: None,
        attachments: Vec::new(),
        kind: "sms_reply".into(),
    };
    jobs::enqueue(
        state,
        &[Job::SendEmail {
            idempotency_key: format!("sms-reply/{message_sid}"),
            email,
        }],
    )
    .await
    .map_err(|err| StoreError::Unavailable(err.to_string()))
}
