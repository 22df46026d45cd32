//! The synthetic population: organizations with a Zipf size skew, their
//! time zones, hosts, users, event types and reminder plans, and the daily
//! shapes of their activity (business hours, appointments on the hour).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use konnecs::domain::ids::OrgId;
use konnecs::services::reminders::{Channel, ReminderOffset};

use super::Config;
use super::rng::{Rng, Table};

/// Where the organizations are, and their share of them. Offsets are those
/// of the simulated date (a Tuesday in October: northern summer time still
/// on, Sydney already on daylight time).
pub const ZONES: [(&str, f64); 12] = [
    ("America/New_York", 0.28),
    ("America/Chicago", 0.14),
    ("America/Denver", 0.05),
    ("America/Los_Angeles", 0.13),
    ("America/Sao_Paulo", 0.03),
    ("Europe/London", 0.09),
    ("Europe/Berlin", 0.12),
    ("Europe/Paris", 0.05),
    ("Asia/Kolkata", 0.03),
    ("Asia/Tokyo", 0.02),
    ("Australia/Sydney", 0.04),
    ("Africa/Johannesburg", 0.02),
];

/// Appointment starts by local hour (08:00–17:59): mornings and early
/// afternoons are busiest.
pub const APPOINTMENT_HOURS: [(i8, f64); 10] = [
    (8, 3.0),
    (9, 10.0),
    (10, 14.0),
    (11, 14.0),
    (12, 8.0),
    (13, 11.0),
    (14, 14.0),
    (15, 13.0),
    (16, 9.0),
    (17, 4.0),
];

/// Minute of the hour an appointment starts at: most on the hour.
pub const APPOINTMENT_MINUTES: [(i8, f64); 4] = [(0, 0.60), (30, 0.25), (15, 0.075), (45, 0.075)];

/// When people act (book, sign in, work in the CRM), by local hour.
pub const ACTIVE_HOURS: [(i8, f64); 16] = [
    (7, 2.0),
    (8, 5.0),
    (9, 8.0),
    (10, 9.0),
    (11, 9.0),
    (12, 9.0),
    (13, 8.0),
    (14, 8.0),
    (15, 7.0),
    (16, 7.0),
    (17, 6.0),
    (18, 5.0),
    (19, 6.0),
    (20, 6.0),
    (21, 5.0),
    (22, 2.0),
];

/// Office hours (staff using the CRM), by local hour.
pub const OFFICE_HOURS: [(i8, f64); 10] = [
    (8, 6.0),
    (9, 10.0),
    (10, 11.0),
    (11, 11.0),
    (12, 7.0),
    (13, 10.0),
    (14, 11.0),
    (15, 11.0),
    (16, 10.0),
    (17, 6.0),
];

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct EventType {
    pub id: String,
    pub slug: String,
    pub host: usize,
}

#[derive(Debug, Clone)]
pub struct Org {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub zone: &'static str,
    /// Seconds east of UTC on the simulated date.
    pub offset: i64,
    /// This organization's share of all activity.
    pub weight: f64,
    pub bookings_per_day: f64,
    /// Members; the first `hosts` take appointments.
    pub users: Vec<User>,
    pub hosts: usize,
    pub event_types: Vec<EventType>,
    pub schedule_id: String,
    pub pipeline_id: String,
    pub stage_ids: Vec<String>,
    pub plan: Vec<ReminderOffset>,
    /// Contacts already stored (sizes of lists and exports).
    pub contacts: u64,
    /// Deals in the pipeline (half a year's).
    pub deals: u64,
}

impl Org {
    /// The id of the organization's `k`-th stored contact (the same id for
    /// the same `k`: reads of a contact hit one partition, as they do).
    pub fn contact_id(&self, k: u64) -> String {
        let mut rng = Rng::new(k ^ u64::from_str_radix(&self.id[..16], 16).unwrap_or(0));
        rng.id()
    }

    /// One of the stored contacts, drawn uniformly.
    pub fn some_contact(&self, rng: &mut Rng) -> String {
        self.contact_id(rng.below(self.contacts))
    }

    /// The session hash of a member's session today (one per member).
    pub fn session_hash(&self, user: usize) -> String {
        format!("{}{}", self.users[user].id, &self.id)
    }

    /// A local time of the simulated date as a second of the UTC day
    /// (possibly outside 0..86400: the caller wraps it).
    pub fn utc_second(&self, local_second: i64) -> i64 {
        local_second - self.offset
    }
}

/// Draws a local second of the day from an hour profile (uniform in the hour).
pub fn local_second(rng: &mut Rng, hours: &Table, profile: &[(i8, f64)]) -> i64 {
    let hour = i64::from(profile[hours.draw(rng)].0);
    hour * 3600 + rng.below(3600) as i64
}

pub fn profile_table(profile: &[(i8, f64)]) -> Table {
    Table::new(&profile.iter().map(|(_, w)| *w).collect::<Vec<_>>())
}

/// The reminder plans organizations use: two or three offsets, on the hour.
fn reminder_plan(rng: &mut Rng) -> Vec<ReminderOffset> {
    let both = || vec![Channel::Email, Channel::Sms];
    let email = || vec![Channel::Email];
    let offset = |minutes: u32, channels: Vec<Channel>| ReminderOffset {
        offset_minutes: minutes,
        channels,
    };
    match rng.weighted(&[0.5, 0.3, 0.2]) {
        0 => konnecs::services::reminders::default_plan(),
        1 => vec![offset(24 * 60, both()), offset(2 * 60, email())],
        _ => vec![offset(48 * 60, email()), offset(24 * 60, both()), offset(60, email())],
    }
}

/// The simulated date: midnight UTC starting it.
pub fn day_start(config: &Config) -> Timestamp {
    config
        .date
        .to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn offset_on(zone: &str, date: Date) -> i64 {
    let Ok(tz) = TimeZone::get(zone) else { return 0 };
    date.at(12, 0, 0, 0)
        .to_zoned(tz)
        .map(|z| i64::from(z.offset().seconds()))
        .unwrap_or(0)
}

pub fn organizations(config: &Config, rng: &mut Rng) -> Vec<Org> {
    let mut rng = rng.fork(1);
    let raw: Vec<f64> = (1..=config.orgs).map(|k| (k as f64).powf(-config.zipf)).collect();
    let total: f64 = raw.iter().sum();
    let zones = Table::new(&ZONES.iter().map(|(_, w)| *w).collect::<Vec<_>>());
    raw.iter()
        .enumerate()
        .map(|(rank, w)| {
            let weight = w / total;
            let bookings_per_day = weight * config.bookings_per_day as f64;
            let zone = ZONES[zones.draw(&mut rng)].0;
            let hosts = (bookings_per_day / config.bookings_per_host).ceil().max(1.0) as usize;
            // Hosts, plus one admin per ten hosts (at least one).
            let users = (0..hosts + hosts.div_ceil(10))
                .map(|i| User {
                    id: rng.id(),
                    email: format!("staff{i}@org{rank}.example"),
                })
                .collect();
            let event_types = (0..hosts.min(50))
                .map(|i| EventType {
                    id: rng.id(),
                    slug: format!("visit-{i}"),
                    host: i,
                })
                .collect();
            Org {
                id: OrgId::from(rng.id()),
                slug: format!("org-{rank}"),
                name: format!("Organization {rank}"),
                zone,
                offset: offset_on(zone, config.date),
                weight,
                bookings_per_day,
                users,
                hosts,
                event_types,
                schedule_id: rng.id(),
                pipeline_id: rng.id(),
                stage_ids: (0..5).map(|_| rng.id()).collect(),
                plan: reminder_plan(&mut rng),
                // About two months of distinct customers.
                contacts: (bookings_per_day * 45.0).ceil() as u64 + 50,
                deals: (weight * config.deals_per_day as f64 * 180.0).ceil() as u64,
            }
        })
        .collect()
}

/// Draws organizations by their weight.
pub fn org_table(orgs: &[Org]) -> Table {
    Table::new(&orgs.iter().map(|o| o.weight).collect::<Vec<_>>())
}
