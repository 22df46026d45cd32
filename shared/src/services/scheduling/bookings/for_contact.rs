//! A member books an event type of their organization for one of its
//! contacts (a customer who called): the contact is the invitee as the CRM
//! holds them (name, primary email and phone, SMS consent), the start is
//! checked against the same slots the public page offers, and the booking
//! commits in the public booking's one transaction, so the host's calendar
//! guard, the reminders, the timeline entry and the confirmation email are
//! the same.

use crate::domain::ids::{ContactId, EventTypeId};

use super::NewBooking;
use super::book::{Booker, BookingRequest, Questions, commit, validate_request};
use super::public::member_context;
use crate::domain::contact::ConsentStatus;
use crate::services::contacts::{self, ContactError};
use crate::services::google::calendar::CalendarReach;
use crate::services::scheduling::{Caller, SchedulingError, invalid};

/// What the member chose: the event type, a start the slots listed (RFC
/// 3339) and a duration (the event's default when absent).
#[derive(Debug, Clone)]
pub struct ContactBooking {
    pub event_type_id: EventTypeId,
    pub start: String,
    pub duration: Option<u32>,
}

/// Books `request` for the contact `contact_id` of the caller's
/// organization. Unknown or foreign contacts and event types are not found;
/// a contact without an email is refused at `contact` (the confirmation and
/// the manage link go there).
pub async fn book_for_contact(
    state: &impl CalendarReach,
    caller: &Caller,
    contact_id: &ContactId,
    request: ContactBooking,
) -> Result<NewBooking, SchedulingError> {
    let table = state.table();
    let contact = match contacts::get(table.as_ref(), &caller.org_id, contact_id).await {
        Ok(contact) => contact,
        Err(ContactError::Store(err)) => return Err(err.into()),
        Err(_) => return Err(SchedulingError::NotFound),
    };
    let (p, ctx) = member_context(table.as_ref(), &caller.org_id, &request.event_type_id).await?;
    let Some(email) = contact.primary_email() else {
        return Err(SchedulingError::Invalid(vec![invalid(
            "contact",
            "no_email",
            "Add an email address to this contact first: the confirmation is sent there.",
        )]));
    };
    let consent = contact
        .sms_consent
        .as_ref()
        .filter(|consent| consent.status == ConsentStatus::Granted);
    let invitee = BookingRequest {
        start: request.start,
        duration: request.duration,
        name: Some(contact.display_name())
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| email.to_string()),
        email: email.to_string(),
        phone: contact.primary_phone().map(str::to_string),
        sms_consent: consent.is_some() && contact.primary_phone().is_some(),
        sms_consent_text: consent
            .and_then(|c| c.text.clone())
            .or_else(|| consent.map(|c| format!("Consent recorded on the contact ({}).", c.source))),
        time_zone: None,
        answers: Default::default(),
    };
    let valid = validate_request(&ctx, &invitee, Questions::NotAsked)?;
    commit(state, &p, ctx, valid, &caller.actor, Booker::Member { contact_id }).await
}
