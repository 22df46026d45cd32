//! The contact step of a booking: the invitee becomes a contact (new or
//! merged) with a timeline entry, as operations of the booking's own
//! transaction, so a booking that loses its race leaves no contact behind.

use crate::domain::ids::ContactId;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::BookingRecord;
use crate::domain::billing::Limit;
use crate::domain::contact::ContactRecord;
use crate::ports::{Condition, StoreError, WriteOp};
use crate::ports::{HasClock, HasConfig, HasTable};
use crate::services::audit::Actor;
use crate::services::billing::limits::{self, Room};
use crate::services::contacts::{self, ConsentInput, ConsentStatus, ContactError, EmailInput, NewContact, PhoneInput};
use crate::services::scheduling::SchedulingError;

/// What a booking does to the CRM inside its own transaction.
pub struct ContactStep {
    /// The invitee's contact (new or existing), when it could be planned.
    pub contact_id: Option<ContactId>,
    /// The contact as the booking makes it, when it makes one (rather
    /// than adding to one): what `contact.created` announces.
    pub created: Option<ContactRecord>,
    pub ops: Vec<WriteOp>,
}

/// Read phase: the invitee becomes a contact (created, or merged into the
/// contact that has their email: a phone and SMS consent fill its blanks)
/// with a `booking.created` timeline entry, all as operations of the
/// booking's own transaction. A booking that loses its race therefore
/// leaves no contact and no timeline entry behind, and a crash cannot
/// leave a booking without its contact.
///
/// A new contact past the plan's contact limit is not made: the booking is
/// the invitee's, and the business's plan must not cost them their
/// appointment (its notice still holds the phone and the SMS consent the
/// texts need). An invitee who is a contact already is merged as always.
/// `country` is the organization's, which the booking has read already
/// (the region the invitee's phone is read in).
pub async fn on_booked(
    state: &(impl HasTable + HasClock + HasConfig),
    booking: &BookingRecord,
    country: &str,
    actor: &Actor,
    now: Timestamp,
) -> Result<ContactStep, SchedulingError> {
    let caller = contacts::Caller {
        actor: actor.clone(),
        user_id: booking.host_user_id.clone(),
        is_admin: false,
    };
    let mut input = new_contact(booking);
    let planned = match contacts::plan_upsert(state, &caller, country, input.clone(), now).await {
        // The phone belongs to another contact: the booking is by email, so
        // the email's contact gets the booking and the phone stays where it is.
        Err(ContactError::Duplicate { field, .. }) if field == "phones" => {
            input.phones.clear();
            input.sms_consent = None;
            contacts::plan_upsert(state, &caller, country, input, now).await
        }
        other => other,
    };
    let planned = match planned {
        Ok(planned) => planned,
        Err(ContactError::Store(err)) => return Err(err.into()),
        // Someone changes that contact right now: the booking's retry plans again.
        Err(ContactError::Conflict(_)) => return Err(StoreError::ConditionFailed.into()),
        Err(err) => {
            // The booking was validated already; a contact the CRM refuses
            // (e.g. too many values once merged) must not cost the customer
            // their appointment.
            tracing::warn!(booking_id = %booking.id, error = %err, "booking kept without a contact");
            return Ok(ContactStep {
                contact_id: None,
                created: None,
                ops: Vec::new(),
            });
        }
    };
    if planned.created
        && let Some(Room { left: 0, allowed, .. }) = limits::room(state, &booking.org_id, Limit::Contacts).await?
    {
        tracing::info!(booking_id = %booking.id, allowed, "booking kept without a new contact: the plan's contact limit is reached");
        return Ok(ContactStep {
            contact_id: None,
            created: None,
            ops: Vec::new(),
        });
    }
    let contact_id = planned.contact.id.clone();
    let created = planned.created.then(|| planned.contact.clone());
    let mut ops = planned.ops;
    ops.push(contacts::timeline_entry(
        &booking.org_id,
        &contact_id,
        "booking.created",
        detail(booking),
        now,
    ));
    Ok(ContactStep {
        contact_id: Some(contact_id),
        created,
        ops,
    })
}

/// The contact step of a booking a member makes for a contact: the
/// booking is that contact's, with its timeline entry; the contact must
/// still exist when the transaction commits.
pub fn for_contact(booking: &BookingRecord, contact_id: &ContactId, now: Timestamp) -> ContactStep {
    ContactStep {
        contact_id: Some(contact_id.clone()),
        created: None,
        ops: vec![
            WriteOp::Check {
                key: contacts::contact_key(&booking.org_id, contact_id),
                condition: Condition::Exists,
            },
            contacts::timeline_entry(&booking.org_id, contact_id, "booking.created", detail(booking), now),
        ],
    }
}

pub(super) fn detail(booking: &BookingRecord) -> Value {
    json!({
        "booking_id": booking.id,
        "event_type_id": booking.event_type_id,
        "event_title": booking.event_title,
        "start": booking.start,
        "end": booking.end,
        "status": booking.status,
    })
}

pub(super) fn new_contact(booking: &BookingRecord) -> NewContact {
    let name = booking.invitee.name.trim();
    let (first, last) = match name.split_once(' ') {
        Some((first, last)) => (first.to_string(), Some(last.trim().to_string())),
        None => (name.to_string(), None),
    };
    NewContact {
        first_name: Some(first),
        last_name: last,
        emails: vec![EmailInput::Plain(booking.invitee.email.clone())],
        phones: booking.invitee.phone.iter().cloned().map(PhoneInput::Plain).collect(),
        source: Some("booking".into()),
        sms_consent: booking.invitee.sms_allowed().then(|| ConsentInput {
            status: ConsentStatus::Granted,
            source: "booking".into(),
            text: booking.invitee.sms_consent_text.clone(),
            ip: None,
            at: None,
        }),
        ..NewContact::default()
    }
}

/// The timeline entry of a later change (cancel, reschedule, ...), when
/// the contact still exists.
pub async fn on_changed(
    state: &impl HasTable,
    booking: &BookingRecord,
    kind: &str,
    now: Timestamp,
) -> Result<Vec<WriteOp>, SchedulingError> {
    let Some(contact_id) = &booking.contact_id else {
        return Ok(Vec::new());
    };
    if state
        .table()
        .get(&contacts::contact_key(&booking.org_id, contact_id))
        .await?
        .is_none()
    {
        return Ok(Vec::new());
    }
    let mut detail = detail(booking);
    detail["cancel_reason"] = json!(booking.cancel_reason);
    Ok(vec![contacts::timeline_entry(
        &booking.org_id,
        contact_id,
        kind,
        detail,
        now,
    )])
}
