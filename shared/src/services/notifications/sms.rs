//! Sending one booking text at most once, at most a few per appointment, never
//! to a number that opted out: a per-booking counter claimed before the send.

use super::monthly;
use super::{COUNTER_ATTEMPTS, KEEP_AFTER_END_SECONDS, MAX_SMS_PER_BOOKING, sms_counter_key, sms_opt_out_key};
use crate::domain::contact::ConsentStatus;
use crate::domain::ids::BookingId;
use crate::domain::ids::OrgId;
use crate::ports::{Condition, Key, SmsError, StoreError, Table};
use crate::ports::{HasClock, HasConfig, HasSms, HasTable};
use crate::services::object;
use crate::services::sms::{self, outbound::SentSms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One SMS to send once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsRequest {
    pub idempotency_key: String,
    pub org_id: OrgId,
    /// Counts against the booking's SMS limit when set.
    pub booking_id: Option<BookingId>,
    pub to: String,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsOutcome {
    Sent,
    /// This key was sent (or is being sent) already.
    AlreadySent,
    /// The recipient opted out (STOP) of this sender.
    OptedOut,
    /// The appointment used up its SMS allowance.
    LimitReached,
    /// No consent to texts is recorded for the number.
    NoConsent,
    /// The organization's plan allows no more texts this calendar month.
    PlanLimit,
}

impl SmsOutcome {
    /// Why a text was not sent, as recorded on its message item (`reason`).
    pub fn skip_reason(self) -> Option<&'static str> {
        match self {
            SmsOutcome::Sent | SmsOutcome::AlreadySent => None,
            SmsOutcome::OptedOut => Some("opted_out"),
            SmsOutcome::LimitReached => Some("appointment_limit"),
            SmsOutcome::NoConsent => Some("no_consent"),
            SmsOutcome::PlanLimit => Some("plan_limit"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmsSendError {
    /// Worth retrying (provider down, store busy); the claim was released.
    #[error("retry: {0}")]
    Retry(String),
    /// Will never succeed.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<StoreError> for SmsSendError {
    fn from(err: StoreError) -> Self {
        SmsSendError::Retry(err.to_string())
    }
}

/// What [`claim`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Claim {
    New,
    Already,
    Exhausted,
}

pub(super) fn counter_state(item: Option<&crate::ports::Item>) -> (i64, Vec<String>, u64) {
    let Some(item) = item else {
        return (0, Vec::new(), 0);
    };
    let count = item.get("count").and_then(Value::as_i64).unwrap_or(0);
    let keys = item
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let version = item.get("version").and_then(Value::as_u64).unwrap_or(0);
    (count, keys, version)
}

/// Claims one of `limit` sends on the counter item for `idempotency_key`,
/// by a conditional write on the item's version (optimistic, retried).
pub(super) async fn claim(
    table: &dyn Table,
    key: &Key,
    idempotency_key: &str,
    limit: i64,
    expires_at: i64,
) -> Result<Claim, StoreError> {
    for _ in 0..COUNTER_ATTEMPTS {
        let current = table.get(key).await?;
        let (count, mut keys, version) = counter_state(current.as_ref());
        if keys.iter().any(|k| k == idempotency_key) {
            return Ok(Claim::Already);
        }
        if count >= limit {
            return Ok(Claim::Exhausted);
        }
        keys.push(idempotency_key.to_string());
        let item = object(json!({
            "pk": key.pk, "sk": key.sk,
            "count": count + 1, "keys": keys, "version": version + 1,
            "expires_at": expires_at,
        }));
        let condition = if current.is_some() {
            Condition::VersionEquals(version)
        } else {
            Condition::NotExists
        };
        match table.put(item, Some(condition)).await {
            Ok(()) => return Ok(Claim::New),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}

/// Gives a claim back (the message was not delivered).
pub(super) async fn release(table: &dyn Table, key: &Key, idempotency_key: &str) -> Result<(), StoreError> {
    for _ in 0..COUNTER_ATTEMPTS {
        let Some(current) = table.get(key).await? else {
            return Ok(());
        };
        let (count, keys, version) = counter_state(Some(&current));
        if !keys.iter().any(|k| k == idempotency_key) {
            return Ok(());
        }
        let keys: Vec<String> = keys.into_iter().filter(|k| k != idempotency_key).collect();
        let mut item = current.clone();
        item.insert("count".into(), json!((count - 1).max(0)));
        item.insert("keys".into(), json!(keys));
        item.insert("version".into(), json!(version + 1));
        match table.put(item, Some(Condition::VersionEquals(version))).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_condition_failure() => continue,
            Err(err) => return Err(err),
        }
    }
    Err(StoreError::Contention)
}

/// Sends one SMS at most once: claims the key (and one of the booking's
/// [`MAX_SMS_PER_BOOKING`]) in the store, then checks, right before sending,
/// the opt-out, the consent and the plan's texts of the month, and releases
/// the claim when the message did not go out. A text not sent for one of
/// those reasons is recorded as skipped, with the reason.
pub async fn send_sms(
    state: &(impl HasTable + HasClock + HasSms + HasConfig),
    request: &SmsRequest,
) -> Result<SmsOutcome, SmsSendError> {
    let outcome = send_checked(state, request).await?;
    if let Some(reason) = outcome.skip_reason() {
        let sender = state.sms().sender().to_string();
        let skipped = SentSms {
            idempotency_key: &request.idempotency_key,
            org_id: &request.org_id,
            booking_id: request.booking_id.as_ref(),
            sender: &sender,
            to: &request.to,
            body: &request.body,
        };
        // The outcome stands even when its record fails.
        if let Err(err) = sms::record_skipped(state.table().as_ref(), &skipped, reason, state.clock().now()).await {
            tracing::warn!(org_id = %request.org_id, error = %err, "skipped sms not recorded");
        }
    }
    Ok(outcome)
}

async fn send_checked(
    state: &(impl HasTable + HasClock + HasSms + HasConfig),
    request: &SmsRequest,
) -> Result<SmsOutcome, SmsSendError> {
    let table = state.table().as_ref();
    let now = state.clock().unix_seconds();
    let (counter, limit) = match &request.booking_id {
        Some(booking_id) => (sms_counter_key(&request.org_id, booking_id), MAX_SMS_PER_BOOKING),
        None => (
            Key::new(
                format!("SMSKEY#{}", crate::domain::token::token_hash(&request.idempotency_key)),
                "SMS",
            ),
            1,
        ),
    };
    match claim(
        table,
        &counter,
        &request.idempotency_key,
        limit,
        now + KEEP_AFTER_END_SECONDS * 12,
    )
    .await?
    {
        Claim::Already => return Ok(SmsOutcome::AlreadySent),
        Claim::Exhausted => {
            tracing::info!(org_id = %request.org_id, "sms limit of the appointment reached; not sent");
            return Ok(SmsOutcome::LimitReached);
        }
        Claim::New => {}
    }
    let sender = state.sms().sender().to_string();
    if table.get(&sms_opt_out_key(&sender, &request.to)).await?.is_some() {
        release(table, &counter, &request.idempotency_key).await?;
        tracing::info!(org_id = %request.org_id, "recipient opted out of sms; not sent");
        return Ok(SmsOutcome::OptedOut);
    }
    if !has_consent(table, request).await? {
        release(table, &counter, &request.idempotency_key).await?;
        tracing::info!(org_id = %request.org_id, "no sms consent recorded for the number; not sent");
        return Ok(SmsOutcome::NoConsent);
    }
    let month = match monthly::take(state, &request.org_id).await? {
        monthly::Taken::Within(month) => month,
        monthly::Taken::OverLimit => {
            release(table, &counter, &request.idempotency_key).await?;
            tracing::info!(org_id = %request.org_id, "the plan's texts of the month are used up; not sent");
            return Ok(SmsOutcome::PlanLimit);
        }
    };
    let result = deliver(state, request, &counter, &sender).await;
    // A text that did not go out does not count against the month.
    if !matches!(result, Ok(SmsOutcome::Sent) | Err(SmsSendError::Permanent(_)))
        && let Some(month) = month
    {
        monthly::give_back(state, &request.org_id, &month).await?;
    }
    result
}

/// Whether the number agreed to texts: the organization's contact with this
/// number has an SMS consent record that is granted, or the booking the text
/// is about recorded the invitee's consent for exactly this number and the
/// contact records no refusal. A consent the staff recorded as revoked or
/// denied wins over a booking's tick box: the safer reading of a
/// withdrawal (the person can ask the business to record it again).
///
/// Every text Konnecs sends through here is transactional (confirmation,
/// reminder, reschedule or cancellation notice), and privacy policy §6
/// promises those only to people who gave their number *and* consent: so
/// none is exempt, a cancellation included. The only texts that go without
/// a consent record are the answers to STOP, START and HELP, which carriers
/// require and which are the webhook's own reply to the person's text, not
/// a send through here.
async fn has_consent(table: &dyn Table, request: &SmsRequest) -> Result<bool, StoreError> {
    let contact_consent = match sms::contact_with_phone(table, &request.org_id, &request.to).await? {
        Some(contact_id) => crate::services::contacts::get_many(table, &request.org_id, &[contact_id])
            .await?
            .into_iter()
            .next()
            .and_then(|contact| contact.sms_consent)
            .map(|consent| consent.status),
        None => None,
    };
    match contact_consent {
        Some(ConsentStatus::Granted) => return Ok(true),
        Some(ConsentStatus::Denied | ConsentStatus::Revoked) => return Ok(false),
        None => {}
    }
    let Some(booking_id) = &request.booking_id else {
        return Ok(false);
    };
    Ok(super::find_notice(table, &request.org_id, booking_id)
        .await?
        .is_some_and(|(notice, _)| notice.sms_phone() == Some(request.to.as_str())))
}

/// Hands the text to the provider and records the outcome.
async fn deliver(
    state: &(impl HasTable + HasClock + HasSms),
    request: &SmsRequest,
    counter: &Key,
    sender: &str,
) -> Result<SmsOutcome, SmsSendError> {
    let table = state.table().as_ref();
    let sender = sender.to_string();
    match state
        .sms()
        .send(&request.to, &request.body, &request.idempotency_key)
        .await
    {
        Ok(()) => {
            let sent = SentSms {
                idempotency_key: &request.idempotency_key,
                org_id: &request.org_id,
                booking_id: request.booking_id.as_ref(),
                sender: &sender,
                to: &request.to,
                body: &request.body,
            };
            // The text is out: a failure to record it must not send it again.
            if let Err(err) = sms::record_sent(table, &sent, state.clock().now()).await {
                tracing::warn!(org_id = %request.org_id, error = %err, "sent sms not recorded");
            }
            Ok(SmsOutcome::Sent)
        }
        // The number replied STOP at Twilio (before we heard of it): recorded
        // as an opt-out here too, and never retried.
        Err(SmsError::Unsubscribed(reason)) => {
            release(table, counter, &request.idempotency_key).await?;
            let now = state.clock().now();
            table
                .transact(sms::opt_out_ops(
                    &sender,
                    &request.to,
                    "provider",
                    "twilio error 21610",
                    now,
                ))
                .await?;
            tracing::info!(org_id = %request.org_id, %reason, "recipient unsubscribed at the provider; opt-out recorded");
            Ok(SmsOutcome::OptedOut)
        }
        // Perhaps delivered: the claim stays, so it is never sent twice (at
        // most once when the provider's answer is lost).
        Err(SmsError::Unknown(reason)) => {
            tracing::warn!(org_id = %request.org_id, %reason, "sms outcome unknown; not retried");
            Err(SmsSendError::Permanent(reason))
        }
        Err(err) => {
            // Not delivered: the allowance and the key are free again.
            release(table, counter, &request.idempotency_key).await?;
            match err {
                SmsError::Unavailable(reason) => Err(SmsSendError::Retry(reason)),
                SmsError::Rejected(reason) | SmsError::Unknown(reason) | SmsError::Unsubscribed(reason) => {
                    Err(SmsSendError::Permanent(reason))
                }
            }
        }
    }
}
