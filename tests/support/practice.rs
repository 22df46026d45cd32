//! A practice that takes bookings through the real router and scheduling
//! service, for tests of what a booking sets off (notifications, reminders):
//! they see exactly what bookings write, never a hand-built copy of it.
//!
//! Whitfield Dental (host Dana Whitfield, dana@whitfield-dental.example),
//! open every day from 08:00 to 18:00 London time, offers a 30-minute
//! "Cleaning" at 12 High St, Leeds; a test adds what its event type needs
//! (a reminder plan, seats).

use axum::Router;
use http::StatusCode;
use konnecs::app::AppState;
use konnecs::catalogue;
use konnecs::domain::ids::{BookingId, OrgId};
use konnecs::ports::Key;
use konnecs::services::scheduling::bookings::{self, BookingRecord};
use serde_json::{Value, json};

use crate::http::{Browser, Reply};

pub const HOST_EMAIL: &str = "dana@whitfield-dental.example";

pub struct Practice {
    pub app: Router,
    pub state: AppState,
    /// The host, signed in.
    pub host: Browser,
    pub org_id: OrgId,
    pub event_type_id: String,
    /// `/public/booking/<org>/<event>`.
    pub page: String,
}

/// Who books: `{"name", "email", "time_zone"}` and optionally `"phone"` and
/// `"sms_consent"`, as the public booking form sends them.
pub fn guest(name: &str, email: &str, time_zone: &str) -> Value {
    json!({"name": name, "email": email, "time_zone": time_zone})
}

/// `guest` with a phone and consent to texts about the appointment.
pub fn texting_guest(name: &str, email: &str, time_zone: &str, phone: &str) -> Value {
    json!({
        "name": name, "email": email, "time_zone": time_zone, "phone": phone, "sms_consent": true,
        "sms_consent_text": "Text me about this appointment (confirmation and reminders). Reply STOP to opt out.",
    })
}

#[track_caller]
fn expect(reply: &Reply, status: StatusCode, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
}

fn extend(base: &mut Value, extra: &Value) {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
}

impl Practice {
    /// Signs the practice up on `state` (at its clock's time) with an event
    /// type of `event_extra` fields on top of the defaults.
    pub async fn open(state: &AppState, event_extra: Value) -> Self {
        let app = konnecs::inbound::http::router(state.clone(), catalogue::entries());
        let signup = json!({"name": "Dana Whitfield", "email": HOST_EMAIL, "password": "molar-crown-42-bridge", "business_name": "Whitfield Dental"});
        let reply = Browser::anonymous()
            .send(&app, "POST", "/auth/signup", Some(&signup))
            .await;
        expect(&reply, StatusCode::CREATED, "sign-up");
        let host = Browser::from_reply(&reply);
        let org_id = OrgId::from(reply.body["org_id"].as_str().expect("org id"));
        let day = json!([{"start": "08:00", "end": "18:00"}]);
        let weekly: serde_json::Map<String, Value> = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .into_iter()
        .map(|d| (d.to_string(), day.clone()))
        .collect();
        let schedule = json!({"name": "Surgery hours", "time_zone": "Europe/London", "weekly": weekly});
        let schedule = host.send(&app, "POST", "/schedules", Some(&schedule)).await;
        expect(&schedule, StatusCode::CREATED, "schedule");
        let mut event = json!({
            "title": "Cleaning", "slug": "cleaning", "durations": [30], "schedule_id": schedule.body["id"],
            "location": {"kind": "in_person", "address": "12 High St, Leeds"},
        });
        extend(&mut event, &event_extra);
        let event = host.send(&app, "POST", "/event-types", Some(&event)).await;
        expect(&event, StatusCode::CREATED, "event type");
        let org = host.send(&app, "GET", "/org", None).await;
        expect(&org, StatusCode::OK, "organization");
        let page = format!(
            "/public/booking/{}/{}",
            org.body["slug"].as_str().expect("org slug"),
            event.body["slug"].as_str().expect("event slug")
        );
        Self {
            app,
            state: state.clone(),
            host,
            org_id,
            event_type_id: event.body["id"].as_str().expect("event type id").to_string(),
            page,
        }
    }

    /// Books `start` (RFC 3339) for `guest` through the public booking
    /// route: the reply's body (`booking`, `manage_url`, `manage_token`).
    pub async fn book(&self, start: &str, guest: &Value) -> Value {
        let mut body = json!({"start": start});
        extend(&mut body, guest);
        let reply = Browser::anonymous()
            .send(&self.app, "POST", &format!("{}/bookings", self.page), Some(&body))
            .await;
        expect(&reply, StatusCode::CREATED, "booking");
        reply.body
    }

    /// The host moves a booking to `start`.
    pub async fn reschedule(&self, booking_id: &str, start: &str) -> Value {
        let reply = self
            .host
            .send(
                &self.app,
                "POST",
                &format!("/appointments/{booking_id}/reschedule"),
                Some(&json!({"start": start})),
            )
            .await;
        expect(&reply, StatusCode::OK, "reschedule");
        reply.body
    }

    /// The host cancels a booking.
    pub async fn cancel(&self, booking_id: &str, reason: Option<&str>) -> Value {
        let reply = self
            .host
            .send(
                &self.app,
                "POST",
                &format!("/appointments/{booking_id}/cancel"),
                Some(&json!({"reason": reason})),
            )
            .await;
        expect(&reply, StatusCode::OK, "cancel");
        reply.body
    }

    /// The booking as stored.
    pub async fn record(&self, booking_id: &str) -> BookingRecord {
        bookings::get_record(self.state.table.as_ref(), &self.org_id, &BookingId::new(booking_id))
            .await
            .expect("the booking is stored")
    }

    /// A contact of the practice with `phone` and a granted SMS consent, as
    /// the front desk records one (texts need a consent record); its id.
    pub async fn contact_consenting_to_texts(&self, name: &str, phone: &str) -> String {
        let contact = json!({
            "first_name": name, "phones": [phone],
            "sms_consent": {"status": "granted", "source": "front desk", "text": "Text me about my appointments. Reply STOP to opt out."},
        });
        let reply = self.host.send(&self.app, "POST", "/contacts", Some(&contact)).await;
        expect(&reply, StatusCode::CREATED, "contact with sms consent");
        reply.body["id"].as_str().expect("contact id").to_string()
    }

    /// The keys of a booking's pending reminders, as the booking lists them.
    pub async fn reminder_keys(&self, booking_id: &str) -> Vec<Key> {
        self.record(booking_id)
            .await
            .reminder_keys
            .iter()
            .map(|k| Key::new(k.pk.clone(), k.sk.clone()))
            .collect()
    }
}

/// The id of a booking reply's booking.
pub fn booking_id(reply: &Value) -> String {
    reply["booking"]["id"].as_str().expect("booking id").to_string()
}
