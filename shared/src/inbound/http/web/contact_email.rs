//! "Email from Gmail" on a contact's record: `POST /app/contacts/{id}/email`
//! sends the subject and message from the member's own Gmail, then back to
//! the record (post/redirect/get) where the email is on the timeline; a
//! refused one comes back in the form with its errors. The form's
//! `send_key` (new with every form shown) makes a double submit send once.
//! htmx swaps the compose part and the timeline in place.

use axum::extract::{Path, State};
use http::{HeaderMap, StatusCode};

use super::contact_record::{Refused, refused_page};
use super::{FieldErrors, PageError, PageResult, StaffForm, is_htmx, see_other};
use crate::domain::ids::ContactId;
use crate::inbound::AppState;
use crate::inbound::http::contacts::caller;
use crate::inbound::http::problem::ApiError;
use crate::services::google::gmail::{self, ContactEmailInput};

pub async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<ContactId>,
    StaffForm { staff, form }: StaffForm,
) -> PageResult {
    let caller = caller(&staff.auth)?;
    let input = ContactEmailInput {
        subject: form.text("subject"),
        body: form.text("body"),
        // Scoped to the form, so an API key cannot collide with it.
        send_key: format!("form:{}", form.text("send_key")),
    };
    if form.text("send_key").is_empty() {
        return refuse(&state, staff, &id, &headers, form, ApiError::from(gmail_invalid_key())).await;
    }
    let sent = match gmail::send_to_contact(&state, &caller, &id, &input).await {
        // A double submit while the first is on its way: that one sends.
        Err(gmail::GmailSendError::InProgress) => {
            return Ok(see_other(&format!("/app/contacts/{id}?notice=email-sending")));
        }
        other => other.map_err(ApiError::from),
    };
    match sent {
        Ok(_) => Ok(see_other(&format!("/app/contacts/{id}?notice=email-sent"))),
        Err(ApiError::NotFound) => Err(PageError(ApiError::NotFound)),
        Err(err @ (ApiError::Validation(_) | ApiError::Conflict { .. } | ApiError::Unavailable(_))) => {
            refuse(&state, staff, &id, &headers, form, err).await
        }
        Err(other) => Err(PageError(other)),
    }
}

fn gmail_invalid_key() -> gmail::GmailSendError {
    gmail::GmailSendError::Invalid(vec![crate::domain::input::FieldError::new(
        "send_key",
        "invalid",
        "Reload the page and write the email again.",
    )])
}

/// The record with the compose form as sent and its errors: for htmx a
/// 200 (it swaps only successes), else the error's status.
async fn refuse(
    state: &AppState,
    staff: super::Staff,
    id: &ContactId,
    headers: &HeaderMap,
    form: super::FormData,
    err: ApiError,
) -> PageResult {
    let status = if is_htmx(headers) {
        StatusCode::OK
    } else {
        StatusCode::from_u16(err.problem().status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
    };
    let refused = Refused {
        email_errors: FieldErrors::from_api(&err, |field| match field {
            "subject" => "email-subject",
            "body" => "email-body",
            "to" => "email-to",
            _ => "",
        }),
        email_form: form,
        ..Refused::default()
    };
    refused_page(state, staff, id, status, refused).await
}
