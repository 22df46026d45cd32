//! Public booking pages and appointments: slot requests, bookings,
//! cancellations and reschedules, and the messages they queue. Modelled on
//! `services::scheduling::bookings` (`public_context`, `book`, `cancel`,
//! `reschedule`, `contact::on_booked`, `notify::prepare`) and
//! `services::notifications::send_sms`; the reminders they plan go to
//! [`super::reminders`].

use jiff::Timestamp;
use konnecs::catalogue::throttles::{self, Limits};
use konnecs::domain::ids::UserId;
use konnecs::domain::ids::{BookingId, ContactId, EventTypeId};
use konnecs::ports::{Condition, Index, Item, Key, Update, WriteOp};
use konnecs::services::billing::{billing_key, usage};
use konnecs::services::contacts::{self, ALL_PARTS};
use konnecs::services::notifications::{self, BookingChange};
use konnecs::services::rate_limit::{self, Caller};
use konnecs::services::records::{member_key, org_key, slug_key, to_item};
use konnecs::services::scheduling::bookings::{BookingRecord, BookingStatus, StoredKey, bump_calendar};
use konnecs::services::scheduling::{
    booking_key, booking_uid_key, event_slug_key, event_type_key, host_calendar_key, host_calendar_partition,
    host_calendar_version_key, schedule_key,
};
use konnecs::services::sms;
use konnecs::services::{audit, reminders as reminder_items};
use serde_json::json;

use super::entities::{self, Person};
use super::meter::{Recorder, Retention, item_bytes};
use super::population::{self, ACTIVE_HOURS, APPOINTMENT_HOURS, APPOINTMENT_MINUTES, Org};
use super::reminders::{self, Due};
use super::rng::{Rng, Table};
use super::{Config, Sim};

/// The SMS sender (Twilio `From`) opt-outs are kept under.
pub const SMS_SENDER: &str = "+18885550100";
/// Bytes of records the flow only reads (all below one read unit).
const POINTER_BYTES: usize = 200;
const ORG_BYTES: usize = 600;
const EVENT_TYPE_BYTES: usize = 2_500;
const SCHEDULE_BYTES: usize = 1_500;
const MEMBER_BYTES: usize = 400;
const CALENDAR_ENTRY_BYTES: usize = 330;
const PEER_BYTES: usize = 300;
/// A webhook endpoint item (URL, events, sealed secret).
const WEBHOOK_ENDPOINT_BYTES: usize = 700;
/// The organization's billing record (plan, status, dates).
pub const BILLING_BYTES: usize = 500;
const CONTACT_BYTES: usize = 1_200;
/// A typical reminder text, for the size of the message item.
const SMS_BODY: &str = "Reminder: your appointment with Whitfield Dental is tomorrow at 10:00. Reply STOP to opt out.";

/// What the booking flow needs besides the recorder.
pub struct Cx<'a> {
    pub config: &'a Config,
    pub day0: Timestamp,
    pub rec: &'a mut Recorder,
    pub due: &'a mut Due,
}

impl Cx<'_> {
    pub fn at(&self, rel: i64) -> Timestamp {
        Timestamp::from_second(self.day0.as_second() + rel).unwrap_or(self.day0)
    }
    pub fn rel(&self, at: Timestamp) -> i64 {
        at.as_second() - self.day0.as_second()
    }
}

pub fn run(sim: &mut Sim) {
    let mut rng = sim.rng.fork(2);
    let mut due = Due::default();
    let hours = population::profile_table(&APPOINTMENT_HOURS);
    let minutes = population::profile_table(&APPOINTMENT_MINUTES);
    let active = population::profile_table(&ACTIVE_HOURS);
    let mut cx = Cx {
        config: &sim.config,
        day0: sim.day0,
        rec: &mut sim.rec,
        due: &mut due,
    };
    for org in &sim.orgs {
        let n = rng.round(org.bookings_per_day);
        for _ in 0..n {
            book(&mut cx, org, &mut rng, [&hours, &minutes, &active]);
        }
    }
    sim.tick = reminders::tick(&mut cx);
}

/// A start on the simulated date, local business hours, mostly on the hour.
fn appointment_start(org: &Org, rng: &mut Rng, hours: &Table, minutes: &Table) -> i64 {
    let hour = i64::from(APPOINTMENT_HOURS[hours.draw(rng)].0);
    let minute = i64::from(APPOINTMENT_MINUTES[minutes.draw(rng)].0);
    org.utc_second(hour * 3600 + minute * 60)
}

/// Days between booking and appointment: same day to two weeks.
const LEAD_DAYS: [f64; 15] = [
    15.0, 18.0, 12.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.5, 3.0, 3.0, 2.5, 2.0, 2.0,
];

fn host_calendar_items(config: &Config) -> usize {
    // The slot range (a week) plus the lookup margin either side (9 days).
    (config.bookings_per_host * 25.0).ceil() as usize
}

/// `GET …/slots` (and the reads a booking repeats): org slug, event slug,
/// one batch of org, event type, schedule and calendar version, one
/// consistent query of the host's calendar.
pub fn slot_reads(cx: &mut Cx, org: &Org, host: usize, event: usize, at: f64) {
    let host_id = &org.users[host].id;
    let event_type = &org.event_types[event];
    cx.rec.get(at, &slug_key(&org.slug), POINTER_BYTES);
    cx.rec
        .get(at, &event_slug_key(&org.id, &event_type.slug), POINTER_BYTES);
    cx.rec.batch_get(
        at,
        &[
            (org_key(&org.id), ORG_BYTES),
            (
                event_type_key(&org.id, &EventTypeId::from(&event_type.id)),
                EVENT_TYPE_BYTES,
            ),
            (schedule_key(&org.id, &org.schedule_id), SCHEDULE_BYTES),
            (
                host_calendar_version_key(&org.id, &UserId::from(host_id)),
                POINTER_BYTES,
            ),
        ],
    );
    let items = host_calendar_items(cx.config);
    cx.rec.query(
        at,
        Index::Primary,
        &host_calendar_partition(&org.id, &UserId::from(host_id)),
        items,
        CALENDAR_ENTRY_BYTES,
        1000,
    );
}

/// What announcing a committed change to webhooks reads
/// (`services::webhooks::publish`): the organization's endpoints, by their
/// prefix in its partition. The simulated organizations have none, so the
/// query returns nothing; deliveries themselves are the jobs worker's.
fn webhook_reads(cx: &mut Cx, org: &Org, at: f64) {
    let probe = konnecs::services::webhooks::endpoint_key(&org.id, &konnecs::domain::ids::WebhookEndpointId::new(""));
    cx.rec
        .query(at, Index::Primary, &probe.pk, 0, WEBHOOK_ENDPOINT_BYTES, 40);
}

/// The messages a booking change queues: emails go to the provider (no
/// store call); an SMS claims the booking's counter and reads the opt-out.
pub fn sms_claim(rec: &mut Recorder, at: f64, org: &Org, booking_id: &str, phone: &str) {
    let counter = notifications::sms_counter_key(&org.id, &BookingId::new(booking_id));
    rec.get(at, &counter, POINTER_BYTES);
    let item = entities::sized(&counter, &[("keys", "reminder/…"), ("count", "1"), ("version", "1")]);
    rec.write(
        at,
        &WriteOp::Put {
            item: item.clone(),
            condition: Some(Condition::NotExists),
        },
        0,
    );
    rec.keep_item(&item, Retention::Days(30.0), Retention::Once);
    rec.get(at, &notifications::sms_opt_out_key(SMS_SENDER, phone), 0);
    // The consent check: the contact with the number and its consent record
    // (a booking's contact has the booking's consent, so the notice is not read).
    rec.get(at, &contacts::phone_unique_key(&org.id, phone), POINTER_BYTES);
    rec.batch_get(
        at,
        &[(
            contacts::contact_key(&org.id, &ContactId::from(booking_id)),
            CONTACT_BYTES,
        )],
    );
    // The plan's texts of the month: the billing record, then one count.
    rec.get(at, &billing_key(&org.id), BILLING_BYTES);
    rec.write(
        at,
        &WriteOp::Update {
            key: usage::sms_month_key(&org.id, "2026-10"),
            update: Update::default().add("count", 1),
            condition: None,
        },
        POINTER_BYTES,
    );
    sms_sent(rec, at, org, booking_id, phone);
}

/// What a text the provider accepted writes (`sms::record_sent`): the
/// contact that has the number, the message item (kept 400 days for its
/// status callbacks) and the peer item that routes the customer's reply.
fn sms_sent(rec: &mut Recorder, at: f64, org: &Org, booking_id: &str, phone: &str) {
    rec.get(at, &contacts::phone_unique_key(&org.id, phone), POINTER_BYTES);
    let message = sms::message_key(&sms::message_id(&format!("booking/{booking_id}/sms/{at}")));
    let item = entities::sized(
        &message,
        &[
            ("org_id", org.id.as_str()),
            ("booking_id", booking_id),
            ("to", phone),
            ("body", SMS_BODY),
            ("status", "accepted"),
        ],
    );
    rec.write(
        at,
        &WriteOp::Put {
            item: item.clone(),
            condition: None,
        },
        0,
    );
    rec.keep_item(&item, Retention::Days(400.0), Retention::Once);
    let peer = sms::peer_key(SMS_SENDER, phone);
    rec.get(at, &peer, PEER_BYTES);
    let item = entities::sized(
        &peer,
        &[("org_id", org.id.as_str()), ("bookings", &format!("[{booking_id}]"))],
    );
    rec.write(
        at,
        &WriteOp::Put {
            item: item.clone(),
            condition: None,
        },
        0,
    );
    rec.keep_item(&item, Retention::Days(400.0), Retention::Once);
}

fn notice_reads(cx: &mut Cx, org: &Org, booking: &BookingRecord, at: f64, stored: usize) {
    cx.rec.batch_get(
        at,
        &[
            (org_key(&org.id), ORG_BYTES),
            (member_key(&org.id, &booking.host_user_id), MEMBER_BYTES),
            (notifications::notice_key(&org.id, &booking.id), stored),
        ],
    );
}

fn notice_put(org: &Org, booking: &BookingRecord, change: &BookingChange) -> Item {
    notifications::notice_item(&entities::notice(org, booking), change).unwrap_or_default()
}

/// The booking's reminders as `reminders::plan` makes them, each moved to
/// its due minute within the simulated day (steady state), and keyed in
/// the layout simulated.
fn planned_reminders(cx: &Cx, org: &Org, booking: &BookingRecord, now: Timestamp) -> Vec<Item> {
    let Ok(planned) = reminder_items::plan(
        &org.id,
        &booking.id,
        booking.start,
        &org.plan,
        booking.invitee.sms_allowed(),
        now,
    ) else {
        return Vec::new();
    };
    planned
        .ops
        .into_iter()
        .filter_map(|op| match op {
            WriteOp::Put { item, .. } => Some(item),
            _ => None,
        })
        .map(|mut item| {
            let due = item.get("due_at").and_then(|v| v.as_i64()).unwrap_or(0);
            let wrapped = cx.at(cx
                .rel(Timestamp::from_second(due).unwrap_or(cx.day0))
                .rem_euclid(86_400));
            let sk = item.get("sk").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let pk = reminders::partition_for(cx.config.layout, wrapped, &booking.id);
            item.insert("pk".into(), pk.into());
            item.insert("sk".into(), sk.into());
            item
        })
        .collect()
}

fn put(item: Item, condition: Option<Condition>) -> WriteOp {
    WriteOp::Put { item, condition }
}

/// The rate-limit layer in front of a public route (`inbound::http::rate_limit`,
/// budgets from `catalogue::throttles`): one atomic add on the visitor's IP
/// bucket and one on the page's (or link's), in the minute's window; on the
/// routes that take a secret, a read of the failure buckets first.
fn rate_limit_counts(cx: &mut Cx, route: &str, visitor: &str, target: &str, at: f64) {
    let Some(Limits::Layer(throttle)) = throttles::limits(route) else {
        panic!("{route} has no rate-limit layer");
    };
    let caller = Caller::new(Some(visitor), Some(target));
    let now = cx.at(at as i64).as_second();
    let minute = now.div_euclid(60);
    if throttle.failures.is_some() {
        // The failure buckets are read first (a success never writes them).
        let hour = now.div_euclid(3600);
        let reads: Vec<(Key, usize)> = caller
            .scopes()
            .map(|(scope, hashed)| (rate_limit::failure_key(throttle.family, scope, hashed, hour), 0))
            .collect();
        cx.rec.batch_get(at, &reads);
    }
    for (scope, hashed) in [("IP", caller.ip), ("T", caller.target)] {
        let Some(hashed) = hashed else { continue };
        let op = WriteOp::Update {
            key: rate_limit::request_key(throttle.family, scope, &hashed, minute),
            update: Update::default().add("hits", 1).set("expires_at", (minute + 2) * 60),
            condition: None,
        };
        cx.rec.write(at, &op, RATE_ITEM_BYTES);
    }
}

/// A rate-limit bucket: its key, a count and an expiry.
const RATE_ITEM_BYTES: usize = 120;

/// `bookings::book`: reads, then ONE transaction, then the messages.
fn book(cx: &mut Cx, org: &Org, rng: &mut Rng, [hours, minutes, active]: [&Table; 3]) {
    let host = rng.below(org.hosts as u64) as usize;
    let event = host % org.event_types.len();
    let start_rel = appointment_start(org, rng, hours, minutes);
    let lead_days = rng.weighted(&LEAD_DAYS) as i64;
    let mut create_rel = org.utc_second(population::local_second(rng, active, &ACTIVE_HOURS)) - lead_days * 86_400;
    // At least two hours' notice: otherwise booked the day before.
    if create_rel > start_rel - 7_200 {
        create_rel -= 86_400;
    }
    let who = entities::person(rng, cx.config.phone_share);
    let consent = rng.chance(cx.config.sms_consent_share);
    let returning = rng.chance(cx.config.returning_share);
    let views = rng.round(cx.config.slot_views_per_booking);
    let page = format!("{}/{}", org.slug, org.event_types[event].slug);
    for _ in 0..views {
        let at = (create_rel - 30 - rng.below(900) as i64) as f64;
        rate_limit_counts(cx, "public-booking-slots", &who.email, &page, at);
        slot_reads(cx, org, host, event, at);
    }

    let at = create_rel as f64;
    let now = cx.at(create_rel);
    let start = cx.at(start_rel);
    let duration = if rng.chance(0.7) { 30 } else { 60 };
    let mut booking = entities::booking(org, rng.id(), event, host, &who, consent, start, duration, now);
    rate_limit_counts(cx, "public-booking-create", &who.email, &page, at);
    slot_reads(cx, org, host, event, at);
    let mut claims = vec![(
        contacts::email_unique_key(&org.id, &who.email),
        usize::from(returning) * POINTER_BYTES,
    )];
    if let Some((e164, _)) = &who.phone {
        claims.push((
            contacts::phone_unique_key(&org.id, e164),
            usize::from(returning) * POINTER_BYTES,
        ));
    }
    cx.rec.batch_get(at, &claims);
    let contact_id = if returning { org.some_contact(rng) } else { rng.id() };
    let existing = entities::contact(
        org,
        contact_id.clone(),
        &who,
        cx.at(create_rel - 90 * 86_400),
        Vec::new(),
        None,
        booking.invitee.sms_consent,
    );
    if returning {
        cx.rec.get(
            at,
            &contacts::contact_key(&org.id, &ContactId::from(&contact_id)),
            1_200,
        );
    }
    notice_reads(cx, org, &booking, at, 0);

    let reminder_puts = planned_reminders(cx, org, &booking, now);
    booking.reminder_keys = reminder_puts
        .iter()
        .filter_map(Key::of)
        .map(|key| StoredKey::from(&key))
        .collect();
    booking.contact_id = Some(ContactId::from(&contact_id));
    let mut contact_after = existing.clone();
    contact_after.created_at = now.to_string();
    contact_after.created_ms = now.as_millisecond();
    let contact_ops = if returning {
        contact_after.version += 1;
        contacts::plan(&[(Some(&existing), Some(&contact_after))], ALL_PARTS)
    } else {
        // A new contact: the plan's contact limit first (the billing record
        // and the contact counter the plan's transaction moves).
        cx.rec.get(at, &billing_key(&org.id), BILLING_BYTES);
        cx.rec.get(at, &usage::contacts_counter_key(&org.id), POINTER_BYTES);
        contacts::plan(&[(None, Some(&contact_after))], ALL_PARTS)
    }
    .unwrap_or_default();
    let uid = to_item(
        &booking_uid_key(&booking.id),
        &json!({"org_id": org.id, "booking_id": booking.id, "token_hash": booking.token_hash}),
        &[],
    )
    .unwrap_or_default();
    let notice = notice_put(org, &booking, &BookingChange::Booked);
    let notice_bytes = item_bytes(&notice);
    let actor = audit::Actor {
        org_id: org.id.clone(),
        request_id: rng.id(),
        ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15".into()),
        ..Default::default()
    };
    let mut ops = vec![
        put(booking.item().unwrap_or_default(), Some(Condition::NotExists)),
        put(uid, Some(Condition::NotExists)),
        put(booking.calendar_entry(), Some(Condition::NotExists)),
        bump_calendar(&org.id, &booking.host_user_id, Some(1)),
    ];
    ops.extend(reminder_puts.iter().cloned().map(|item| put(item, None)));
    ops.extend(contact_ops.iter().cloned());
    ops.push(contacts::timeline_entry(
        &org.id,
        &ContactId::from(&contact_id),
        "booking.created",
        json!({"booking_id": booking.id}),
        now,
    ));
    ops.push(put(notice, None));
    ops.push(audit::entry(
        &actor,
        now,
        "booking.create",
        &format!("booking:{}", booking.id),
        json!({}),
    ));
    cx.rec.transact(at, &ops);
    keep_booking(cx.rec, &ops, returning);
    webhook_reads(cx, org, at + 2.0);
    super::google::event_job(cx.rec, at + 4.0, org, &booking, true);
    let phone = booking.invitee.phone.clone().filter(|_| booking.invitee.sms_consent);
    if let Some(phone) = &phone {
        sms_claim(cx.rec, at + 3.0, org, &booking.id, phone);
    }

    // Later the appointment may be cancelled or moved (before it starts).
    let change_rel = create_rel + (rng.unit() * (start_rel - create_rel) as f64) as i64;
    let (cancel_share, reschedule_share) = (cx.config.cancel_share, cx.config.reschedule_share);
    let change = rng.weighted(&[cancel_share, reschedule_share, 1.0 - cancel_share - reschedule_share]);
    let removed_at = match change {
        0 => {
            cancel(cx, org, &booking, change_rel, notice_bytes, rng);
            Some(change_rel)
        }
        1 => {
            let new_start = start_rel + 86_400 * (1 + rng.below(3) as i64);
            reschedule(cx, org, &booking, change_rel, new_start, notice_bytes, rng);
            Some(change_rel)
        }
        _ => None,
    };
    for item in &reminder_puts {
        reminders::due(
            cx,
            rng,
            org,
            &booking.id,
            item,
            notice_bytes,
            phone.as_deref(),
            removed_at,
        );
    }
}

/// Item collections of a booking's transaction.
fn keep_booking(rec: &mut Recorder, ops: &[WriteOp], returning: bool) {
    for op in ops {
        let WriteOp::Put { item, .. } = op else { continue };
        let pk = item.get("pk").and_then(|v| v.as_str()).unwrap_or_default();
        let sk = item.get("sk").and_then(|v| v.as_str()).unwrap_or_default();
        let table = if sk.starts_with("BOOKINGNOTICE#") {
            Retention::Days(45.0)
        } else if pk.starts_with("REMINDERS#") || pk.starts_with("BOOKING#") {
            Retention::Once
        } else if pk.contains("#CONTACT#") || pk.contains("#CEMAIL#") || pk.contains("#CPHONE#") {
            // A contact's own partitions: one entity.
            if returning { continue } else { Retention::Once }
        } else {
            Retention::Forever
        };
        rec.keep_item(item, table, Retention::Forever);
    }
}

/// The change's reads: the manage link's pointer and the booking, the
/// contact (for its timeline), the notice batch.
fn change_reads(cx: &mut Cx, org: &Org, booking: &BookingRecord, at: f64, notice_bytes: usize) {
    let booking_bytes = item_bytes(&booking.item().unwrap_or_default());
    // The invitee's own link, from their device (their booking id stands in for their IP).
    let uid = booking.id.to_string();
    rate_limit_counts(cx, "public-booking-cancel", &format!("device-{uid}"), &uid, at);
    cx.rec.get(at, &booking_uid_key(&booking.id), POINTER_BYTES);
    cx.rec.get(at, &booking_key(&org.id, &booking.id), booking_bytes);
    if let Some(contact_id) = &booking.contact_id {
        cx.rec.get(at, &contacts::contact_key(&org.id, contact_id), 1_200);
    }
    notice_reads(cx, org, booking, at, notice_bytes);
}

fn change_actor(org: &Org, rng: &mut Rng) -> audit::Actor {
    audit::Actor {
        org_id: org.id.clone(),
        request_id: rng.id(),
        ..Default::default()
    }
}

/// `bookings::cancel`: booking, calendar entry, reminders, timeline,
/// notice and audit in one transaction.
fn cancel(cx: &mut Cx, org: &Org, old: &BookingRecord, rel: i64, notice_bytes: usize, rng: &mut Rng) {
    let at = rel as f64;
    let now = cx.at(rel);
    change_reads(cx, org, old, at, notice_bytes);
    let mut booking = old.clone();
    booking.status = BookingStatus::Cancelled;
    booking.reminder_keys = Vec::new();
    booking.sequence += 1;
    booking.version += 1;
    let mut ops = vec![
        put(
            booking.item().unwrap_or_default(),
            Some(Condition::VersionEquals(old.version)),
        ),
        WriteOp::Delete {
            key: host_calendar_key(&org.id, &old.host_user_id, old.start.as_second(), &old.id),
            condition: None,
        },
    ];
    ops.extend(reminder_items::removal_ops(
        &old.reminder_keys
            .iter()
            .map(|k| Key::new(&k.pk, &k.sk))
            .collect::<Vec<_>>(),
    ));
    if let Some(contact_id) = &old.contact_id {
        ops.push(contacts::timeline_entry(
            &org.id,
            contact_id,
            "booking.cancelled",
            json!({}),
            now,
        ));
    }
    ops.push(put(
        notice_put(org, &booking, &BookingChange::Cancelled { reason: None }),
        None,
    ));
    ops.push(audit::entry(
        &change_actor(org, rng),
        now,
        "booking.cancel",
        "booking",
        json!({}),
    ));
    cx.rec.transact(at, &ops);
    webhook_reads(cx, org, at + 2.0);
    super::google::event_job(cx.rec, at + 4.0, org, &booking, false);
    if let Some(phone) = booking.invitee.phone.as_ref().filter(|_| booking.invitee.sms_consent) {
        sms_claim(cx.rec, at + 3.0, org, &booking.id, phone);
    }
}

/// `bookings::reschedule`: the new time checked against the host's
/// calendar, then old entry and reminders out, new ones in, one transaction.
fn reschedule(
    cx: &mut Cx,
    org: &Org,
    old: &BookingRecord,
    rel: i64,
    new_start_rel: i64,
    notice_bytes: usize,
    rng: &mut Rng,
) {
    let at = rel as f64;
    let now = cx.at(rel);
    change_reads(cx, org, old, at, notice_bytes);
    let host = org.users.iter().position(|u| u.id == old.host_user_id).unwrap_or(0);
    let event = host % org.event_types.len();
    slot_reads(cx, org, host, event, at);
    let mut booking = old.clone();
    booking.start = cx.at(new_start_rel);
    booking.end =
        Timestamp::from_second(booking.start.as_second() + i64::from(old.duration) * 60).unwrap_or(booking.start);
    booking.sequence += 1;
    booking.version += 1;
    let new_reminders = planned_reminders(cx, org, &booking, now);
    booking.reminder_keys = new_reminders
        .iter()
        .filter_map(Key::of)
        .map(|key| StoredKey::from(&key))
        .collect();
    let mut ops = vec![
        put(
            booking.item().unwrap_or_default(),
            Some(Condition::VersionEquals(old.version)),
        ),
        WriteOp::Delete {
            key: host_calendar_key(&org.id, &old.host_user_id, old.start.as_second(), &old.id),
            condition: None,
        },
        put(booking.calendar_entry(), Some(Condition::NotExists)),
        bump_calendar(&org.id, &booking.host_user_id, Some(2)),
    ];
    ops.extend(reminder_items::removal_ops(
        &old.reminder_keys
            .iter()
            .map(|k| Key::new(&k.pk, &k.sk))
            .collect::<Vec<_>>(),
    ));
    ops.extend(new_reminders.iter().cloned().map(|item| put(item, None)));
    if let Some(contact_id) = &old.contact_id {
        ops.push(contacts::timeline_entry(
            &org.id,
            contact_id,
            "booking.rescheduled",
            json!({}),
            now,
        ));
    }
    let change = BookingChange::Rescheduled {
        previous_starts_at: old.start.as_second(),
    };
    let notice = notice_put(org, &booking, &change);
    let notice_bytes = item_bytes(&notice);
    ops.push(put(notice, None));
    ops.push(audit::entry(
        &change_actor(org, rng),
        now,
        "booking.reschedule",
        "booking",
        json!({}),
    ));
    cx.rec.transact(at, &ops);
    keep_booking(cx.rec, &ops, true);
    webhook_reads(cx, org, at + 2.0);
    super::google::event_job(cx.rec, at + 4.0, org, &booking, false);
    let phone = booking.invitee.phone.clone().filter(|_| booking.invitee.sms_consent);
    if let Some(phone) = &phone {
        sms_claim(cx.rec, at + 3.0, org, &booking.id, phone);
    }
    for item in &new_reminders {
        reminders::due(cx, rng, org, &booking.id, item, notice_bytes, phone.as_deref(), None);
    }
}

/// A person as the CRM workloads use them (re-exported for them).
pub fn customer(rng: &mut Rng, config: &Config) -> Person {
    entities::person(rng, config.phone_share)
}
