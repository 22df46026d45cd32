//! The alert of a submission to the form's recipients, run by the jobs
//! worker: sent once per submission however often the queue delivers it
//! (the submission's `notification` moves `pending → sent` after the send,
//! and the mailer drops a second copy with the same idempotency key should
//! a delivery stop between the two).

use serde_json::{Value, json};

use super::definitions::{get_record, get_version};
use super::submit::alert_fallback;
use super::{FormError, FormRecord, SubmissionRecord, submission_key};
use crate::domain::form::answer_text;
use crate::domain::ids::{ContactId, FormId, OrgId, SubmissionId};
use crate::domain::webhook::WebhookEvent;
use crate::ports::mailer::{Email, MailError};
use crate::ports::{Condition, HasClock, HasConfig, HasMailer, HasTable, StoreError, Update};
use crate::services::contacts::{self, ContactError};
use crate::services::records::{MemberRecord, from_item, member_key};
use crate::services::webhooks;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// What one delivery of the alert job did.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertOutcome {
    /// This delivery sent the alert; `payload` is the `form.submitted` event.
    Sent { payload: Value },
    /// An earlier delivery sent it already. The event comes back all the
    /// same: that delivery may have stopped before publishing it, and
    /// publishing is idempotent by the submission's event id.
    AlreadySent { payload: Value },
    /// The submission or its form was erased meanwhile.
    Gone,
}

/// The `form.submitted` event's body, as outgoing webhooks deliver it.
pub fn form_submitted_payload(form: &FormRecord, submission: &SubmissionRecord) -> Value {
    json!({
        "form_id": form.id,
        "public_id": form.public_id,
        "version": submission.form_version,
        "submission_id": submission.id,
        "answers": submission.answers,
        "contact_id": submission.contact_id,
        "contact_created": submission.contact_created,
        "submitted_at": submission.submitted_at,
    })
}

/// The webhook events of a submission, from its `form.submitted` payload:
/// that event, and `contact.created` when the submission made its contact
/// (one read of the contact; none if it is gone meanwhile). Both ids are
/// stable (`form.submitted:<submission>`, `contact.created:<contact>`, as a
/// contact made through the API announces itself), so publishing them on
/// every delivery of the job delivers each once per endpoint. A payload
/// without a readable `submitted_at` (an older job, a hand-made one) takes
/// the clock's time, never the Unix epoch: an event that claims to have
/// happened in 1970 sorts and alerts wrongly at every receiver.
pub async fn submission_events(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    submission_id: &SubmissionId,
    payload: Value,
) -> Result<Vec<WebhookEvent>, StoreError> {
    let occurred_at = |at: &Value| at.as_str().and_then(|at| at.parse::<jiff::Timestamp>().ok());
    let submitted_at = occurred_at(&payload["submitted_at"]).unwrap_or_else(|| state.clock().now());
    let mut events = Vec::new();
    if payload["contact_created"] == Value::Bool(true)
        && let Some(contact_id) = payload["contact_id"].as_str()
    {
        match contacts::get(state.table().as_ref(), org_id, &ContactId::from(contact_id)).await {
            Ok(contact) => {
                let created_at = occurred_at(&Value::String(contact.created_at.clone())).unwrap_or(submitted_at);
                events.push(contacts::created_event(&contact, created_at));
            }
            Err(ContactError::NotFound) => {}
            Err(ContactError::Store(err)) => return Err(err),
            Err(err) => return Err(StoreError::Unavailable(err.to_string())),
        }
    }
    let event_id = format!("form.submitted:{submission_id}");
    events.insert(0, webhooks::event("form.submitted", &event_id, submitted_at, payload));
    Ok(events)
}

/// The alert's subject and body: the answers, labelled as the visitor saw
/// them. Nothing else (no IP, no consent details, no links with tokens).
pub fn alert_text(
    title: &str,
    labels: &[(String, String)],
    submission: &SubmissionRecord,
    contact_url: Option<String>,
) -> (String, String) {
    let subject = format!("New submission: {title}");
    let mut body = format!(
        "A new submission of \"{title}\" arrived at {}.\n\n",
        submission.submitted_at
    );
    for (key, label) in labels {
        if let Some(value) = submission.answers.get(key) {
            body.push_str(&format!("{label}: {}\n", answer_text(value)));
        }
    }
    if let Some(url) = contact_url {
        body.push_str(&format!("\nContact: {url}\n"));
    }
    (subject, body)
}

pub async fn send_alert(
    state: &(impl HasTable + HasMailer + HasConfig),
    org_id: &OrgId,
    form_id: &FormId,
    submission_id: &SubmissionId,
) -> Result<AlertOutcome, AlertError> {
    let table = state.table().as_ref();
    let key = submission_key(org_id, form_id, submission_id);
    let Some(item) = table.get(&key).await? else {
        return Ok(AlertOutcome::Gone);
    };
    let submission: SubmissionRecord = from_item(item)?;
    let form = match get_record(table, org_id, form_id).await {
        Ok(form) => form,
        Err(FormError::NotFound) => return Ok(AlertOutcome::Gone),
        Err(err) => return Err(err.into()),
    };
    if submission.notification == "sent" {
        return Ok(AlertOutcome::AlreadySent {
            payload: form_submitted_payload(&form, &submission),
        });
    }
    // The labels of the version the visitor answered.
    let spec = match get_version(state, org_id, form_id, submission.form_version).await {
        Ok(version) => version.spec,
        Err(FormError::NotFound) => form.spec.clone(),
        Err(err) => return Err(err.into()),
    };
    let labels: Vec<(String, String)> = spec
        .fields
        .iter()
        .map(|f| {
            (
                f.key.clone(),
                if f.label.is_empty() {
                    f.key.clone()
                } else {
                    f.label.clone()
                },
            )
        })
        .collect();
    let base = state.config().public_url.trim_end_matches('/').to_string();
    let contact_url = submission
        .contact_id
        .as_ref()
        .map(|id| format!("{base}/app/contacts/{id}"));
    let (subject, text) = alert_text(&spec.title, &labels, &submission, contact_url);
    let mut recipients = spec.recipients.clone();
    if recipients.is_empty()
        && let Some(member) = table.get(&member_key(org_id, &alert_fallback(&form))).await?
    {
        let member: MemberRecord = from_item(member)?;
        recipients.push(member.email);
    }
    for to in &recipients {
        let email = Email {
            to: to.clone(),
            subject: subject.clone(),
            text: text.clone(),
            html: None,
            attachments: Vec::new(),
            kind: "form_submission".into(),
        };
        state
            .mailer()
            .send(&email, &format!("form-submission/{submission_id}/{to}"))
            .await?;
    }
    match table
        .update(
            &key,
            Update::default().set("notification", "sent"),
            Some(Condition::AttributeEquals {
                name: "notification".into(),
                value: Value::String("pending".into()),
            }),
        )
        .await
    {
        Ok(_) => Ok(AlertOutcome::Sent {
            payload: form_submitted_payload(&form, &submission),
        }),
        // A concurrent delivery marked it (or it was erased meanwhile).
        Err(StoreError::ConditionFailed) => Ok(AlertOutcome::AlreadySent {
            payload: form_submitted_payload(&form, &submission),
        }),
        Err(err) => Err(err.into()),
    }
}
