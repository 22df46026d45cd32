//! A contact's record: the details and custom fields, tags, notes (with
//! the form that adds one), the timeline and the deals (with the form that
//! opens one). The same services as `GET /contacts/{id}`, its notes,
//! timeline and deals; a refused note comes back with its error.

use crate::domain::ids::PipelineId;
use crate::domain::ids::{BookingId, ContactId};
use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use serde_json::Value;

use super::contact_field::{FieldPart, part as field_part};
use super::contacts::{NoticeQuery, Row};
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::inbound::AppState;
use crate::inbound::http::contacts::caller;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts::{self, notes};
use crate::services::google::gmail::{self, SendReadiness};
use crate::services::google::gmail_replies;
use crate::services::pipelines::{self, DealFilter};
use crate::services::scheduling::bookings;
use crate::services::secrets::new_token;
use jiff::tz::TimeZone;

use super::calendar::status_words;

/// An entry of the record's timeline, in words.
pub struct Moment {
    pub at: String,
    pub what: String,
    pub text: String,
}

fn moment(kind: &str, at: &str, detail: &Value, zone: &str) -> Moment {
    let what = match kind {
        "created" | "contact_created" => "Contact created".to_string(),
        "note_added" | "note" => "Note".to_string(),
        "sms.sent" => "Text sent".to_string(),
        "sms.received" => "Text received".to_string(),
        "sms.status" => format!(
            "Text {}",
            detail.get("status").and_then(Value::as_str).unwrap_or("status")
        ),
        "sms.opted_out" => "Opted out of texts".to_string(),
        "sms.opted_in" => "Opted back in to texts".to_string(),
        "email.sent" => format!(
            "Email sent: {}",
            detail.get("subject").and_then(Value::as_str).unwrap_or_default()
        ),
        "email.reply_received" => "Email reply received".to_string(),
        "form.submitted" => format!(
            "Form submitted: {}",
            detail.get("form_title").and_then(Value::as_str).unwrap_or("a form")
        ),
        other => {
            let mut words = other.replace('_', " ");
            if let Some(first) = words.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            words
        }
    };
    if kind == "email.reply_received" {
        return Moment {
            at: super::local_time(at, zone),
            what,
            text: gmail_replies::summary(detail),
        };
    }
    let text = detail
        .get("body")
        .or_else(|| detail.get("summary"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Moment {
        at: super::local_time(at, zone),
        what,
        text,
    }
}

pub struct NoteView {
    pub id: String,
    pub body: String,
    pub at: String,
}

/// One of the contact's appointments, in the member's zone.
pub struct AppointmentView {
    pub when: String,
    pub what: String,
    pub status: &'static str,
    pub status_class: &'static str,
    /// The calendar week it is on.
    pub week: String,
}

pub struct DealView {
    pub title: String,
    pub status: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "staff/contact.html")]
struct RecordPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    contact: Row,
    fields: Vec<(String, String)>,
    notes: Vec<NoteView>,
    timeline: Vec<Moment>,
    deals: Vec<DealView>,
    /// The contact's appointments, found through their timeline.
    appointments: Vec<AppointmentView>,
    errors: FieldErrors,
    note_draft: String,
    /// A refused note edit: the note's id and the words sent (its form
    /// opens with them and its error).
    note_edit: Option<(String, String)>,
    /// The new-deal form as sent, and its field errors (`deal-title`, …).
    deal_form: FormData,
    deal_errors: FieldErrors,
    /// The fields edited in place: (label, the field's part).
    inline: Vec<(String, FieldPart)>,
    /// The version the delete form confirms.
    version: u64,
    /// (id, name) of every pipeline, for the new-deal form.
    pipelines: Vec<(PipelineId, String)>,
    /// "Email from Gmail": whether the member can send, the form as sent
    /// (after a refusal), its errors, and the key this form sends once with.
    gmail: GmailCompose,
    email_form: FormData,
    email_errors: FieldErrors,
    send_key: String,
    email_sent: bool,
}

/// The compose form's state, in words for the member.
pub enum GmailCompose {
    /// Google is not configured here: no form.
    Hidden,
    Ready {
        from: String,
    },
    /// Why the member cannot send yet, and where to fix it.
    Blocked(&'static str),
}

/// What a refused form of the record brings back to it: the words sent
/// and the errors to show beside them.
#[derive(Default)]
pub struct Refused {
    /// The add-note form's errors (field `body`) and its draft.
    pub errors: FieldErrors,
    pub note_draft: String,
    /// An edited note's id and its words; its errors are at `note-<id>`.
    pub note_edit: Option<(String, String)>,
    pub deal_form: FormData,
    pub deal_errors: FieldErrors,
    /// The email form's words and errors (`email-subject`, `email-body`, …).
    pub email_form: FormData,
    pub email_errors: FieldErrors,
}

/// The record with a refused form in it, at `status`.
pub async fn refused_page(
    state: &AppState,
    staff: Staff,
    id: &ContactId,
    status: StatusCode,
    refused: Refused,
) -> PageResult {
    let page = record_page(state, staff, id, None, refused).await?;
    Ok(render(status, &page))
}

async fn record_page(
    state: &AppState,
    staff: Staff,
    id: &ContactId,
    notice: Option<&'static str>,
    refused: Refused,
) -> Result<RecordPage, PageError> {
    let Refused {
        errors,
        note_draft,
        note_edit,
        deal_form,
        deal_errors,
        email_form,
        email_errors,
    } = refused;
    let caller = caller(&staff.auth)?;
    let table = state.table.as_ref();
    let contact = contacts::get(table, caller.org_id(), id).await?;
    let (note_items, _) = notes::list(table, caller.org_id(), id, 50, None).await?;
    let (entries, _) = contacts::timeline(table, caller.org_id(), id, 50, None).await?;
    let deal_filter = DealFilter {
        contact_id: Some(id.clone()),
        ..DealFilter::default()
    };
    let (deals, _) = pipelines::list_deals(table, caller.org_id(), &deal_filter, 20, None).await?;
    let booked: Vec<BookingId> = entries
        .iter()
        .filter(|e| e.kind == "booking.created")
        .filter_map(|e| e.detail.get("booking_id").and_then(Value::as_str))
        .map(BookingId::from)
        .collect();
    let zone_of_member = TimeZone::get(&staff.time_zone).unwrap_or(TimeZone::UTC);
    let appointments = bookings::get_many(table, caller.org_id(), &booked)
        .await?
        .iter()
        .filter(|b| b.contact_id.as_ref() == Some(id))
        .map(|b| {
            let (status, status_class) = status_words(b.status, b.no_show);
            let start = b.start.to_zoned(zone_of_member.clone());
            AppointmentView {
                when: start.strftime("%a %-d %b %Y %H:%M").to_string(),
                what: b.event_title.clone(),
                status,
                status_class,
                week: start.date().to_string(),
            }
        })
        .collect();
    let mut fields: Vec<(String, String)> = Vec::new();
    if let Some(address) = &contact.address {
        let text = serde_json::to_value(address)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .map(|map| {
                map.values()
                    .filter_map(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        fields.push(("Address".into(), text));
    }
    if let Some(source) = &contact.source {
        fields.push(("Source".into(), source.clone()));
    }
    let defs = crate::services::contacts::fields::list(table, caller.org_id()).await?;
    let mut inline: Vec<(String, FieldPart)> = Vec::new();
    for field in ["first_name", "last_name", "company"] {
        if let Some(part) = field_part(&contact, field, &defs, &staff.chrome.csrf, false) {
            inline.push((part.label.clone(), part));
        }
    }
    for def in &defs {
        if let Some(part) = field_part(
            &contact,
            &format!("custom.{}", def.key),
            &defs,
            &staff.chrome.csrf,
            false,
        ) {
            inline.push((part.label.clone(), part));
        }
    }
    for (key, value) in &contact.custom_fields {
        if inline.iter().any(|(_, part)| part.field == format!("custom.{key}")) {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Bool(true) => "Yes".into(),
            Value::Bool(false) => "No".into(),
            Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string).unwrap_or_else(|| item.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => continue,
            other => other.to_string(),
        };
        let label = defs
            .iter()
            .find(|def| &def.key == key)
            .map(|def| def.label.clone())
            .unwrap_or_else(|| key.clone());
        fields.push((label, text));
    }
    let pipeline_choices = pipelines::list_pipelines(table, caller.org_id())
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let gmail = match gmail::readiness(state, caller.org_id(), &caller.user_id).await? {
        SendReadiness::Off => GmailCompose::Hidden,
        SendReadiness::Ready { from } => GmailCompose::Ready { from },
        SendReadiness::NotConnected => GmailCompose::Blocked("Connect your Google account with Gmail"),
        SendReadiness::ScopeMissing => GmailCompose::Blocked("Switch Gmail on for your Google connection"),
        SendReadiness::Broken => GmailCompose::Blocked("Connect your Google account again"),
    };
    let row = Row::of(&contact);
    let version = contact.version;
    let zone = staff.time_zone.clone();
    let staff = staff.in_section("contacts");
    Ok(RecordPage {
        title: row.name.clone(),
        chrome: Some(staff.chrome),
        notice,
        contact: row,
        fields,
        notes: note_items
            .into_iter()
            .map(|n| NoteView {
                id: n.id,
                body: n.body,
                at: super::local_time(&n.created_at, &zone),
            })
            .collect(),
        timeline: entries
            .iter()
            .map(|e| moment(&e.kind, &e.at, &e.detail, &zone))
            .collect(),
        deals: deals
            .into_iter()
            .map(|d| DealView {
                title: d.title,
                status: format!("{:?}", d.status).to_lowercase(),
                value: format!("{}.{:02} {}", d.value / 100, (d.value % 100).abs(), d.currency),
            })
            .collect(),
        appointments,
        errors,
        note_draft,
        note_edit,
        deal_form,
        deal_errors,
        inline,
        version,
        pipelines: pipeline_choices,
        gmail,
        email_form,
        email_errors,
        send_key: new_token(),
        email_sent: notice.is_some() && notice == notice_text(Some("email-sent")),
    })
}

/// `GET /app/contacts/{id}`: the contact record.
pub async fn record(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<ContactId>,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    let page = record_page(
        &state,
        staff,
        &id,
        notice_text(query.notice.as_deref()),
        Refused::default(),
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/contacts/{id}/notes`: adds a note, back to the record.
pub async fn add_note(
    State(state): State<AppState>,
    Path(id): Path<ContactId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let body = form.text("body");
    match notes::create(&state, &caller, &id, &body).await.map_err(ApiError::from) {
        Ok(_) => Ok(see_other(&format!("/app/contacts/{id}?notice=note-added"))),
        Err(err @ ApiError::Validation(_)) => {
            let refused = Refused {
                errors: FieldErrors::from_api(&err, |_| "body"),
                note_draft: body,
                ..Refused::default()
            };
            refused_page(&state, staff, &id, StatusCode::UNPROCESSABLE_ENTITY, refused).await
        }
        Err(other) => Err(PageError(other)),
    }
}
