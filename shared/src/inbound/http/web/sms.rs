//! Text messages in the staff app: a contact's conversation
//! (`/app/contacts/{id}/sms`: texts sent with their status, replies, opt-outs
//! and opt-ins, the SMS consent on record) and the organization's SMS
//! settings (`/app/settings/sms`: the sender, quiet hours, the HELP answer).

use crate::domain::ids::ContactId;
use askama::Template;
use axum::extract::{Path, Query, State};
use http::StatusCode;

use super::contacts::{NoticeQuery, Row};
use super::{Chrome, FieldErrors, FormData, PageError, PageResult, Staff, StaffForm, notice_text, render, see_other};
use crate::domain::role::Permission;
use crate::inbound::AppState;
use crate::inbound::http::contacts::caller;
use crate::inbound::http::problem::ApiError;
use crate::services::contacts;
use crate::services::orgs;
use crate::services::sms::settings::{SaveSettingsError, format_time};
use crate::services::sms::{self, ConversationLine};

pub struct ConsentView {
    pub status: String,
    pub at: String,
    pub source: String,
    pub ip: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "staff/contact_sms.html")]
struct ConversationPage {
    title: String,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    contact: Row,
    lines: Vec<ConversationLine>,
    consent: Option<ConsentView>,
    numbers: Vec<(String, bool)>,
}

/// `GET /app/contacts/{id}/sms`: the contact's text conversation and consent.
pub async fn conversation(State(state): State<AppState>, staff: Staff, Path(id): Path<ContactId>) -> PageResult {
    let caller = caller(&staff.auth)?;
    let table = state.table.as_ref();
    let contact = contacts::get(table, caller.org_id(), &id)
        .await
        .map_err(ApiError::from)?;
    let talk = sms::conversation(table, state.sms.sender(), caller.org_id(), &id)
        .await
        .map_err(ApiError::from)?;
    let row = Row::of(&contact);
    let zone = staff.time_zone.clone();
    let staff = staff.in_section("contacts");
    Ok(render(
        StatusCode::OK,
        &ConversationPage {
            title: format!("Text messages with {}", row.name),
            chrome: Some(staff.chrome),
            notice: None,
            contact: row,
            lines: talk
                .lines
                .into_iter()
                .map(|line| ConversationLine {
                    at: super::local_time(&line.at, &zone),
                    ..line
                })
                .collect(),
            consent: talk.consent.map(|c| ConsentView {
                status: format!("{:?}", c.status).to_lowercase(),
                at: super::local_time(&c.at, &zone),
                source: c.source,
                ip: c.ip.unwrap_or_default(),
                text: c.text.unwrap_or_default(),
            }),
            numbers: talk.numbers,
        },
    ))
}

#[derive(Template)]
#[template(path = "staff/sms_settings.html")]
struct SettingsPage {
    title: &'static str,
    chrome: Option<Chrome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: FormData,
    sender: String,
    help_reply: String,
}

async fn settings_page(
    state: &AppState,
    staff: Staff,
    notice: Option<&'static str>,
    errors: FieldErrors,
    form: Option<FormData>,
) -> Result<SettingsPage, PageError> {
    let org = orgs::org(state, &staff.auth.org_id).await?;
    let settings = sms::load_settings(state, &org.id).await.map_err(ApiError::from)?;
    let form = form.unwrap_or_else(|| {
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("quiet_start", format_time(settings.quiet.start)),
                ("quiet_end", format_time(settings.quiet.end)),
                ("help_text", settings.help_text.clone().unwrap_or_default()),
            ])
            .finish();
        FormData::parse(encoded.as_bytes())
    });
    let staff = staff.in_section("settings");
    Ok(SettingsPage {
        title: "Text messages",
        chrome: Some(staff.chrome),
        notice,
        errors,
        form,
        sender: state.sms.sender().to_string(),
        help_reply: settings.help_reply(&org.name),
    })
}

/// `GET /app/settings/sms`.
pub async fn settings(State(state): State<AppState>, staff: Staff, Query(query): Query<NoticeQuery>) -> PageResult {
    staff.auth.require(Permission::ManageSettings)?;
    let page = settings_page(
        &state,
        staff,
        notice_text(query.notice.as_deref()),
        FieldErrors::default(),
        None,
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

/// `POST /app/settings/sms`: saves quiet hours and the HELP text.
pub async fn save_settings(State(state): State<AppState>, StaffForm { staff, form }: StaffForm) -> PageResult {
    staff.auth.require(Permission::ManageSettings)?;
    let saved = sms::save_settings(
        &state,
        &staff.auth.org_id,
        &form.text("quiet_start"),
        &form.text("quiet_end"),
        &form.text("help_text"),
    )
    .await;
    match saved {
        Ok(_) => Ok(see_other("/app/settings/sms?notice=sms-settings-saved")),
        Err(SaveSettingsError::Invalid(fields)) => {
            let err = ApiError::fields(fields);
            let errors = FieldErrors::from_api(&err, |field| field);
            let page = settings_page(&state, staff, None, errors, Some(form)).await?;
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(SaveSettingsError::Store(err)) => Err(PageError(err.into())),
    }
}
