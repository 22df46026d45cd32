//! Records of the synthetic population, built as the services build them
//! (the real record types, so the real item builders can size and key them).

use jiff::Timestamp;
use konnecs::domain::ids::UserId;
use konnecs::domain::ids::{BookingId, ContactId, EventTypeId};
use konnecs::ports::Item;
use konnecs::services::contacts::{Consent, ConsentStatus, ContactEmail, ContactPhone, ContactRecord};
use konnecs::services::notifications::BookingNotice;
use konnecs::services::scheduling::bookings::{BookingRecord, BookingStatus, Invitee, StoredKey};
use konnecs::services::scheduling::event_types::Location;
use serde_json::Map;

use super::population::Org;
use super::rng::Rng;

const FIRST: [&str; 24] = [
    "Ann", "James", "Maria", "Liam", "Sofia", "Noah", "Emma", "Lucas", "Olivia", "Mateo", "Ava", "Ethan", "Mia",
    "Leon", "Chloe", "Arjun", "Yuki", "Zanele", "Fatima", "Oliver", "Grace", "Diego", "Hana", "Samuel",
];
const LAST: [&str; 24] = [
    "Lee", "Smith", "Garcia", "Müller", "Brown", "Rossi", "Nguyen", "Kim", "Patel", "Martin", "Silva", "Wilson",
    "Tanaka", "Dubois", "Khumalo", "Jones", "Taylor", "Schmidt", "Lopez", "Novak", "Cohen", "Okafor", "Singh",
    "Moreau",
];

pub struct Person {
    pub first: String,
    pub last: String,
    pub email: String,
    /// E.164, national digits.
    pub phone: Option<(String, String)>,
}

/// A customer: a name from common ones, a unique email, perhaps a phone.
pub fn person(rng: &mut Rng, phone_share: f64) -> Person {
    let first = FIRST[rng.below(FIRST.len() as u64) as usize];
    let last = LAST[rng.below(LAST.len() as u64) as usize];
    let n = rng.below(1 << 40);
    let phone = rng.chance(phone_share).then(|| {
        let national = format!("{}{:09}", 2 + rng.below(8), rng.below(1_000_000_000));
        (format!("+1{national}"), national)
    });
    Person {
        first: first.into(),
        last: last.into(),
        email: format!("{}.{}{n}@example.com", first.to_lowercase(), last.to_lowercase()),
        phone,
    }
}

pub fn contact(
    org: &Org,
    id: String,
    who: &Person,
    at: Timestamp,
    tags: Vec<String>,
    owner_id: Option<String>,
    sms_consent: bool,
) -> ContactRecord {
    let consent = |source: &str| Consent {
        status: ConsentStatus::Granted,
        at: at.to_string(),
        source: source.into(),
        ip: None,
        text: Some("I agree to receive appointment texts.".into()),
    };
    ContactRecord {
        id: ContactId::new(id),
        org_id: org.id.clone(),
        first_name: Some(who.first.clone()),
        last_name: Some(who.last.clone()),
        emails: vec![ContactEmail {
            address: who.email.clone(),
            primary: true,
        }],
        phones: who
            .phone
            .iter()
            .map(|(e164, national)| ContactPhone {
                e164: e164.clone(),
                raw: national.clone(),
                national_digits: national.clone(),
                primary: true,
            })
            .collect(),
        company: None,
        address: None,
        source: Some("booking".into()),
        owner_id: owner_id.map(UserId::from),
        custom_fields: Map::new(),
        tags,
        import_keys: Vec::new(),
        sms_consent: sms_consent.then(|| consent("booking")),
        email_consent: None,
        created_at: at.to_string(),
        updated_at: at.to_string(),
        created_ms: at.as_millisecond(),
        version: 1,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn booking(
    org: &Org,
    id: String,
    event: usize,
    host: usize,
    who: &Person,
    sms_consent: bool,
    start: Timestamp,
    duration_minutes: u32,
    now: Timestamp,
) -> BookingRecord {
    let event_type = &org.event_types[event];
    let host = &org.users[host];
    BookingRecord {
        id: BookingId::new(id),
        org_id: org.id.clone(),
        event_type_id: EventTypeId::from(&event_type.id),
        event_title: format!("Visit {event}"),
        host_user_id: UserId::from(host.id.clone()),
        start,
        end: Timestamp::from_second(start.as_second() + i64::from(duration_minutes) * 60).unwrap_or(start),
        duration: duration_minutes,
        buffer_before: 0,
        buffer_after: 10,
        host_time_zone: org.zone.into(),
        status: BookingStatus::Confirmed,
        no_show: false,
        location: Some(Location::InPerson {
            address: "12 High Street, Springfield".into(),
        }),
        invitee: Invitee {
            name: format!("{} {}", who.first, who.last),
            email: who.email.clone(),
            phone: who.phone.as_ref().map(|(e164, _)| e164.clone()),
            sms_consent: sms_consent && who.phone.is_some(),
            sms_consent_text: (sms_consent && who.phone.is_some()).then(|| "I agree to appointment texts.".into()),
            time_zone: org.zone.into(),
        },
        answers: Default::default(),
        contact_id: None,
        token_hash: "5f".repeat(32),
        reminder_keys: Vec::<StoredKey>::new(),
        sequence: 0,
        cancel_reason: None,
        cancelled_by: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
        google_event: None,
    }
}

/// The notice the booking's transaction stores (what reminders read).
pub fn notice(org: &Org, booking: &BookingRecord) -> BookingNotice {
    let host = org.users.iter().find(|u| u.id == booking.host_user_id);
    BookingNotice {
        org_id: org.id.clone(),
        booking_id: booking.id.clone(),
        org_name: org.name.clone(),
        event_title: booking.event_title.clone(),
        location: Some("12 High Street, Springfield".into()),
        host_name: "Dana Whitfield".into(),
        host_email: host.map(|h| h.email.clone()).unwrap_or_default(),
        host_time_zone: org.zone.into(),
        customer_name: booking.invitee.name.clone(),
        customer_email: booking.invitee.email.clone(),
        customer_phone: booking.invitee.phone.clone(),
        sms_consent: booking.invitee.sms_consent,
        customer_time_zone: org.zone.into(),
        starts_at: booking.start.as_second(),
        ends_at: booking.end.as_second(),
        sequence: booking.sequence,
        manage_url: Some(format!(
            "https://app.konnecs.com/booking/{}?token={}",
            booking.id,
            "t".repeat(43)
        )),
    }
}

/// An item as `records::to_item` stores a record (for sizes of records the
/// simulation only reads).
pub fn sized(key: &konnecs::ports::Key, fields: &[(&str, &str)]) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), key.pk.clone().into());
    item.insert("sk".into(), key.sk.clone().into());
    for (name, value) in fields {
        item.insert((*name).into(), (*value).into());
    }
    item
}
