//! The public submit: spam defences (rate limits, honeypot, minimum fill
//! time), the answers checked against the form's current version, then the
//! submission and the contact it captures (upserted by email/phone, tags,
//! owner, consent, a timeline entry) in one transaction, and the alert
//! queued.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::definitions::by_public_id;
use super::{
    FormError, FormRecord, SubmissionRecord, contact_submissions_partition, count_key, rate, render_token,
    submission_key, submissions_partition,
};
use crate::domain::form::{
    ATTRIBUTION_FIELDS, ATTRIBUTION_MAX, CheckedAnswers, ConsentChannel, EMBED_FIELD, HONEYPOT_FIELD, RENDERED_FIELD,
    check_answers,
};
use crate::domain::ids::{ContactId, FormId, OrgId, SubmissionId, UserId};
use crate::ports::{Condition, HasClock, HasJobs, HasTable, StoreError, Update, WriteOp};
use crate::services::audit::Actor;
use crate::services::contacts::{self, ConsentInput, ConsentStatus, ContactError, EmailInput, NewContact, PhoneInput};
use crate::services::jobs::{self, Job};
use crate::services::records::{OrgRecord, from_item, new_id, org_key, to_item};

/// What the visitor's page sent, whatever its encoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubmitInput {
    pub answers: BTreeMap<String, Value>,
    /// The signed render stamp of the page.
    pub rendered: Option<String>,
    /// The honeypot's content (people leave it empty).
    pub honeypot: Option<String>,
    /// UTM parameters, referrer and page URL.
    pub attribution: Map<String, Value>,
}

impl SubmitInput {
    /// From `application/x-www-form-urlencoded` pairs: the form's own
    /// names are answers (a repeated name is a list), the reserved ones are
    /// the stamp, the honeypot and the attribution.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut input = SubmitInput::default();
        for (name, value) in pairs {
            if name == RENDERED_FIELD {
                input.rendered = Some(value);
            } else if name == HONEYPOT_FIELD {
                input.honeypot = Some(value);
            } else if ATTRIBUTION_FIELDS.contains(&name.as_str()) {
                input.attribution.insert(name, Value::String(value));
            } else if name == EMBED_FIELD {
                // The page's own marker of its embedded mode; not an answer.
            } else {
                match input.answers.get_mut(&name) {
                    Some(Value::Array(items)) => items.push(Value::String(value)),
                    Some(first) => {
                        let first = first.take();
                        input
                            .answers
                            .insert(name, Value::Array(vec![first, Value::String(value)]));
                    }
                    None => {
                        input.answers.insert(name, Value::String(value));
                    }
                }
            }
        }
        input
    }

    /// From a JSON object: `answers` holds the answers; `rendered`,
    /// `website_url` and the attribution names sit beside it.
    pub fn from_json(body: Map<String, Value>) -> Result<Self, FormError> {
        let mut input = SubmitInput::default();
        for (name, value) in body {
            match name.as_str() {
                "answers" => match value {
                    Value::Object(answers) => input.answers = answers.into_iter().collect(),
                    Value::Null => {}
                    _ => return Err(invalid("answers", "invalid", "Send the answers as an object.")),
                },
                n if n == RENDERED_FIELD => input.rendered = value.as_str().map(str::to_string),
                n if n == HONEYPOT_FIELD => input.honeypot = value.as_str().map(str::to_string),
                n if ATTRIBUTION_FIELDS.contains(&n) => {
                    if let Some(text) = value.as_str() {
                        input.attribution.insert(name, Value::String(text.to_string()));
                    }
                }
                _ => return Err(invalid(&name, "unknown_field", "Send answers inside `answers`.")),
            }
        }
        Ok(input)
    }
}

fn invalid(field: &str, code: &str, message: &str) -> FormError {
    FormError::Invalid(vec![crate::domain::input::FieldError::new(field, code, message)])
}

/// How a submit ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SubmitOutcome {
    pub submission_id: SubmissionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thank_you_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The contact captured (not shown to the visitor).
    #[serde(skip)]
    pub contact_id: Option<ContactId>,
    /// The honeypot caught it: answered like a success, nothing stored.
    #[serde(skip)]
    pub discarded: bool,
}

impl SubmitOutcome {
    fn of(form: &FormRecord, submission_id: SubmissionId, contact_id: Option<ContactId>, discarded: bool) -> Self {
        SubmitOutcome {
            submission_id,
            thank_you_message: Some(
                form.spec
                    .thank_you_message
                    .clone()
                    .unwrap_or_else(|| "Thank you! We received your answers.".into()),
            ),
            redirect_url: form.spec.redirect_url.clone(),
            contact_id,
            discarded,
        }
    }
}

/// The form a public page shows (active ones only).
pub async fn public_form(state: &impl HasTable, public_id: &str) -> Result<FormRecord, FormError> {
    let form = by_public_id(state.table().as_ref(), public_id).await?;
    if form.spec.active {
        Ok(form)
    } else {
        Err(FormError::NotFound)
    }
}

fn clean_attribution(raw: Map<String, Value>) -> Map<String, Value> {
    raw.into_iter()
        .filter_map(|(name, value)| {
            let text: String = value.as_str()?.trim().chars().take(ATTRIBUTION_MAX).collect();
            (!text.is_empty()).then_some((name, Value::String(text)))
        })
        .collect()
}

fn names(answers: &Map<String, Value>) -> (Option<String>, Option<String>) {
    let text = |key: &str| {
        answers
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match (text("first_name"), text("last_name"), text("name")) {
        (Some(first), last, _) => (Some(first), last),
        (None, last, Some(full)) => match full.split_once(' ') {
            Some((first, rest)) => (Some(first.to_string()), last.or(Some(rest.trim().to_string()))),
            None => (Some(full), last),
        },
        (None, last, None) => (None, last),
    }
}

fn new_contact(
    form: &FormRecord,
    checked: &CheckedAnswers,
    answers: &Map<String, Value>,
    actor: &Actor,
    at: &str,
) -> NewContact {
    let (first_name, last_name) = names(answers);
    let consent = |channel: ConsentChannel| {
        checked
            .consents
            .iter()
            .find(|(c, _)| *c == channel)
            .map(|(_, text)| ConsentInput {
                status: ConsentStatus::Granted,
                source: format!("form:{}", form.public_id),
                text: Some(text.clone()),
                ip: actor.ip.clone(),
                at: Some(at.to_string()),
            })
    };
    NewContact {
        first_name,
        last_name,
        emails: checked.email.iter().cloned().map(EmailInput::Plain).collect(),
        phones: checked.phone.iter().cloned().map(PhoneInput::Plain).collect(),
        company: answers.get("company").and_then(Value::as_str).map(str::to_string),
        source: Some("form".into()),
        owner_id: form.spec.owner_id.clone(),
        tags: form.spec.tags.clone(),
        sms_consent: if checked.phone.is_some() {
            consent(ConsentChannel::Sms)
        } else {
            None
        },
        email_consent: consent(ConsentChannel::Email),
        ..NewContact::default()
    }
}

/// The submission's contact: its id, whether the submission makes it (not
/// merges into it), and the operations of the submission's transaction.
struct PlannedContact {
    id: ContactId,
    created: bool,
    ops: Vec<WriteOp>,
}

/// The contact step, planned as operations of the submission's transaction.
async fn plan_contact(
    state: &impl HasTable,
    form: &FormRecord,
    country: &str,
    mut input: NewContact,
    actor: &Actor,
    now: jiff::Timestamp,
) -> Result<Option<PlannedContact>, FormError> {
    if input.emails.is_empty() && input.phones.is_empty() {
        return Ok(None);
    }
    let caller = contacts::Caller {
        actor: actor.clone(),
        user_id: form.spec.owner_id.clone().unwrap_or_else(|| form.created_by.clone()),
        is_admin: false,
    };
    let planned = match contacts::plan_upsert(state, &caller, country, input.clone(), now).await {
        // The phone is another contact's: the email decides, the phone stays where it is.
        Err(ContactError::Duplicate { field, .. }) if field == "phones" && !input.emails.is_empty() => {
            input.phones.clear();
            input.sms_consent = None;
            contacts::plan_upsert(state, &caller, country, input, now).await
        }
        other => other,
    };
    match planned {
        Ok(planned) => Ok(Some(PlannedContact {
            id: planned.contact.id.clone(),
            created: planned.created,
            ops: planned.ops,
        })),
        Err(ContactError::Store(err)) => Err(err.into()),
        Err(ContactError::Conflict(_)) => Err(StoreError::ConditionFailed.into()),
        Err(err) => {
            // The answers are valid; a contact the CRM refuses (a full plan,
            // too many values once merged) must not lose the submission.
            tracing::warn!(form_id = %form.id, error = %err, "submission kept without a contact");
            Ok(None)
        }
    }
}

const ATTEMPTS: usize = 4;

/// `POST /public/forms/{public_id}/submissions`.
pub async fn submit(
    state: &(impl HasTable + HasClock + HasJobs),
    public_id: &str,
    input: SubmitInput,
    meta: &Actor,
) -> Result<SubmitOutcome, FormError> {
    let form = public_form(state, public_id).await?;
    submit_to(state, &form, input, meta).await
}

/// The submit to a form already read (the caller checked its origin).
pub async fn submit_to(
    state: &(impl HasTable + HasClock + HasJobs),
    form: &FormRecord,
    input: SubmitInput,
    meta: &Actor,
) -> Result<SubmitOutcome, FormError> {
    let table = state.table().as_ref();
    let now = state.clock().now();
    if let Some(wait) = rate::check(table, meta.ip.as_deref(), &form.org_id, &form.id, now.as_second()).await? {
        return Err(FormError::RateLimited {
            retry_after_seconds: wait,
        });
    }
    if input.honeypot.as_deref().is_some_and(|h| !h.trim().is_empty()) {
        tracing::info!(form_id = %form.id, "honeypot filled; submission discarded");
        return Ok(SubmitOutcome::of(form, SubmissionId::new(new_id()), None, true));
    }
    let rendered = input
        .rendered
        .as_deref()
        .and_then(|stamp| render_token::verify(&form.render_secret, &form.public_id, stamp));
    if !rendered.is_some_and(|at| render_token::filled_in_time(at, now.as_millisecond())) {
        return Err(FormError::TooFast);
    }
    let org: OrgRecord = from_item(table.get(&org_key(&form.org_id)).await?.ok_or(FormError::NotFound)?)?;
    let checked = check_answers(&form.spec.fields, &input.answers, &org.country)?;
    let answers: Map<String, Value> = checked.answers.clone().into_iter().collect();
    let attribution = clean_attribution(input.attribution);
    let actor = Actor {
        org_id: form.org_id.clone(),
        user_id: None,
        ..meta.clone()
    };
    let id = SubmissionId::new(new_id());
    for attempt in 0..ATTEMPTS {
        let now = state.clock().now();
        let at = now.to_string();
        let consents: Vec<Value> = checked
            .consents
            .iter()
            .map(|(channel, text)| {
                json!({
                    "channel": channel, "text": text, "at": at, "ip": actor.ip,
                    "user_agent": actor.user_agent, "page_url": attribution.get("page_url"),
                })
            })
            .collect();
        let contact = new_contact(form, &checked, &answers, &actor, &at);
        let contact = match plan_contact(state, form, &org.country, contact, &actor, now).await {
            Err(FormError::Store(err)) if err.is_condition_failure() && attempt + 1 < ATTEMPTS => continue,
            other => other?,
        };
        let record = SubmissionRecord {
            id: id.clone(),
            org_id: form.org_id.clone(),
            form_id: form.id.clone(),
            form_version: form.version,
            answers: answers.clone(),
            contact_id: contact.as_ref().map(|c| c.id.clone()),
            contact_created: contact.as_ref().is_some_and(|c| c.created),
            attribution: attribution.clone(),
            ip: actor.ip.clone(),
            user_agent: actor.user_agent.clone(),
            consents: consents.clone(),
            submitted_at: at.clone(),
            notification: "pending".into(),
        };
        let ops = submission_ops(form, &record, contact, now)?;
        match table.transact(ops).await {
            Ok(()) => {
                queue_alert(state, &form.org_id, &form.id, &id).await;
                return Ok(SubmitOutcome::of(form, id, record.contact_id, false));
            }
            Err(err) if err.is_condition_failure() && attempt + 1 < ATTEMPTS => continue,
            Err(StoreError::Contention) if attempt + 1 < ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(10 * (attempt as u64 + 1))).await;
                continue;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Err(StoreError::Contention.into())
}

/// Milliseconds first, so index pages read newest first and filter by date.
pub fn index_sort(submitted_ms: i64, id: &SubmissionId) -> String {
    format!("{submitted_ms:013}#{id}")
}

fn submission_ops(
    form: &FormRecord,
    record: &SubmissionRecord,
    contact: Option<PlannedContact>,
    now: jiff::Timestamp,
) -> Result<Vec<WriteOp>, FormError> {
    let sort = index_sort(now.as_millisecond(), &record.id);
    let mut extra = vec![
        ("gsi1pk", Value::String(submissions_partition(&form.org_id, &form.id))),
        ("gsi1sk", Value::String(sort.clone())),
    ];
    if let Some(contact_id) = &record.contact_id {
        extra.push((
            "gsi2pk",
            Value::String(contact_submissions_partition(&form.org_id, contact_id)),
        ));
        extra.push(("gsi2sk", Value::String(sort)));
    }
    let mut ops = vec![
        WriteOp::Put {
            item: to_item(&submission_key(&form.org_id, &form.id, &record.id), record, &extra)?,
            condition: Some(Condition::NotExists),
        },
        WriteOp::Update {
            key: count_key(&form.org_id, &form.id),
            update: Update::default().add("submissions", 1),
            condition: None,
        },
    ];
    if let Some(contact) = contact {
        ops.extend(contact.ops);
        ops.push(contacts::timeline_entry(
            &form.org_id,
            &contact.id,
            "form.submitted",
            json!({
                "form_id": form.id,
                "form_title": form.spec.title,
                "form_version": form.version,
                "submission_id": record.id,
                "consents": record.consents,
                "page_url": record.attribution.get("page_url"),
            }),
            now,
        ));
    }
    Ok(ops)
}

/// Queues the recipients' alert; a queue outage is logged, the submission
/// is kept (it shows `notification: pending`).
async fn queue_alert(state: &impl HasJobs, org_id: &OrgId, form_id: &FormId, id: &SubmissionId) {
    let job = Job::FormSubmitted {
        org_id: org_id.clone(),
        form_id: form_id.clone(),
        submission_id: id.clone(),
    };
    if let Err(err) = jobs::enqueue(state, &[job]).await {
        tracing::error!(submission_id = %id, error = %err, "could not queue the form alert");
    }
}

/// The member a form's alert falls back to when it names no recipients.
pub fn alert_fallback(form: &FormRecord) -> UserId {
    form.spec.owner_id.clone().unwrap_or_else(|| form.created_by.clone())
}
