//! Key-distribution simulation: does any DynamoDB partition key get too hot?
//!
//! DynamoDB serves one partition key at about 1,000 write units and 3,000
//! read units per second. Nothing on one machine shows whether a key design
//! stays under that at internet scale, so this module pushes a synthetic day
//! through the real key builders of every access pattern and measures, per
//! partition key (table and index partitions alike), the busiest second and
//! the busiest minute of writes and reads, and the item collection.
//!
//! **The population** ([`Config::full`], seeded): 10,000 organizations whose
//! sizes follow Zipf's law (exponent 1: the largest has a tenth of all
//! traffic, the median about 20 bookings a day), in twelve time zones; 1
//! million bookings a day at local business hours, 60 % of them on the hour,
//! booked up to two weeks ahead during people's waking hours, each with the
//! organization's plan of 2 or 3 reminders (by email, and by SMS where the
//! invitee gave a phone and consent); cancellations and reschedules; contact
//! creation and edits, CSV imports (up to 100,000 rows) and exports; deals, notes;
//! email from members' Gmail and the five-minute reply poll;
//! sign-ups, sign-ins (with some failures), and the staff's API requests with
//! their sessions; audit entries with every change. [`Config::reduced`] is
//! the same model at a hundredth of the size, for the test suite.
//!
//! **The real key layout.** Every key comes from the function the services
//! use (`records::*_key`, `contacts::*`, `scheduling::*`, `reminders::plan`,
//! `reminder_dispatch::partitions_of_minute`, `throttle::*`, `idempotency::
//! record_key`, ...), and whole items from the real item builders where they
//! are pure (`BookingRecord::item`, `contacts::plan`, `notice_item`,
//! `audit::entry`, `sessions::new_session`, ...), so sizes and index keys are
//! the stored ones. A change of the key layout changes the figures, and a
//! change that makes a key hot fails the test. Which keys each use case
//! reads and writes, and in which order, is modelled here after the services
//! (each workload names the function it follows); `tests/key_distribution.rs`
//! checks that every key pattern the real public booking flow touches
//! (slots, booking, messages, reminder tick and consumer, cancel) is one the
//! simulation models.
//!
//! **Time** is one UTC day in steady state: every day is like this one, so an
//! event that falls before or after the day (a reminder due the day before
//! its appointment, an appointment of an organization east of UTC) is
//! wrapped into it, as its equal from the neighbouring day would be.
//!
//! **Units**: see [`meter`]. **Timing assumptions** (see [`Config`]): a page
//! of a query and all pages of one partition read fall in one second; the
//! reminder consumer sends a tick's reminders within
//! [`Config::consumer_drain_seconds`]; an import's chunk transactions take
//! [`Config::transaction_seconds`] each, paced as `imports::paced_seconds`
//! paces them on DynamoDB.

pub mod bookings;
pub mod crm;
pub mod entities;
pub mod gmail;
pub mod google;
pub mod meter;
pub mod people;
pub mod population;
pub mod reminders;
pub mod report;
pub mod rng;

use jiff::Timestamp;
use jiff::civil::Date;
use konnecs::config::AppConfig;

pub use meter::{BUDGET, KeyStats, PARTITION_READ_UNITS, PARTITION_WRITE_UNITS};
pub use report::{PatternStats, Report};

/// How reminders are keyed: the unsharded layout of earlier releases (one
/// partition per due minute, read by the old tick), this release's shards,
/// or (to choose their number) the same layout with another count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderLayout {
    Unsharded,
    Sharded,
    Shards(u32),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub orgs: usize,
    /// Exponent of the organizations' Zipf size distribution.
    pub zipf: f64,
    pub bookings_per_day: u64,
    /// An organization has one host per this many bookings a day.
    pub bookings_per_host: f64,
    /// The simulated day (UTC).
    pub date: Date,
    pub layout: ReminderLayout,
    /// Slot requests (`GET …/slots`) per booking made.
    pub slot_views_per_booking: f64,
    /// Bookings by someone already in the organization's contacts.
    pub returning_share: f64,
    /// Invitees who give a phone, and of those who consent to SMS.
    pub phone_share: f64,
    pub sms_consent_share: f64,
    pub cancel_share: f64,
    pub reschedule_share: f64,
    /// Contacts created one by one (API, forms), beyond bookings and imports.
    pub contacts_created_per_day: u64,
    pub imports_per_day: u64,
    /// Rows of an import: log-uniform between these.
    pub import_rows: (u64, u64),
    /// A `TransactWriteItems` round trip: an import's chunks follow each
    /// other at least this far apart (more when `imports::paced_seconds`
    /// spaces them further).
    pub transaction_seconds: f64,
    pub exports_per_day: u64,
    pub deals_per_day: u64,
    pub notes_per_day: u64,
    /// Contacts edited (`contacts::update`), a tenth of them renamed.
    pub contact_edits_per_day: u64,
    /// Organizations whose contacts are back-filled with their sort keys
    /// this day (`contacts::order_backfill`), the largest among them, every
    /// contact lacking them (the release day of the by-name and
    /// last-update orders).
    pub order_backfills_per_day: u64,
    pub sign_ups_per_day: u64,
    /// Sign-ins per staff member a day, and the share that fail.
    pub sign_ins_per_user: f64,
    pub failed_sign_in_share: f64,
    /// Authenticated API requests per staff member a day.
    pub requests_per_user: f64,
    /// The consumer works through a tick's reminders within this many seconds.
    pub consumer_drain_seconds: f64,
    /// Second of the minute the reminder tick runs at.
    pub tick_second: f64,
    /// Emails members send from their Gmail, and the share answered the same day.
    pub gmail_emails_per_day: u64,
    pub gmail_reply_share: f64,
}

impl Config {
    /// The internet-scale day of BENCHMARKS.md.
    pub fn full() -> Self {
        Self {
            seed: 0x6b65_7973_696d,
            orgs: 10_000,
            zipf: 1.0,
            bookings_per_day: 1_000_000,
            bookings_per_host: 8.0,
            date: jiff::civil::date(2026, 10, 13),
            layout: ReminderLayout::Sharded,
            slot_views_per_booking: 6.0,
            returning_share: 0.3,
            phone_share: 0.6,
            sms_consent_share: 0.7,
            cancel_share: 0.06,
            reschedule_share: 0.04,
            contacts_created_per_day: 100_000,
            imports_per_day: 100,
            import_rows: (100, 100_000),
            transaction_seconds: 0.03,
            exports_per_day: 20,
            deals_per_day: 50_000,
            notes_per_day: 100_000,
            contact_edits_per_day: 100_000,
            order_backfills_per_day: 100,
            sign_ups_per_day: 300,
            sign_ins_per_user: 1.2,
            failed_sign_in_share: 0.03,
            requests_per_user: 100.0,
            consumer_drain_seconds: 30.0,
            tick_second: 1.0,
            gmail_emails_per_day: 20_000,
            gmail_reply_share: 0.2,
        }
    }

    /// The same model at a hundredth of the size (the test suite's day).
    pub fn reduced() -> Self {
        let full = Self::full();
        Self {
            orgs: full.orgs / 100,
            bookings_per_day: full.bookings_per_day / 100,
            contacts_created_per_day: full.contacts_created_per_day / 100,
            imports_per_day: 3,
            import_rows: (100, 10_000),
            exports_per_day: 1,
            deals_per_day: full.deals_per_day / 100,
            notes_per_day: full.notes_per_day / 100,
            contact_edits_per_day: full.contact_edits_per_day / 100,
            order_backfills_per_day: 3,
            gmail_emails_per_day: full.gmail_emails_per_day / 100,
            sign_ups_per_day: 5,
            ..full
        }
    }

    /// A still smaller day, for the tests that run the simulation twice.
    pub fn tiny() -> Self {
        Self {
            orgs: 40,
            bookings_per_day: 2_000,
            contacts_created_per_day: 200,
            imports_per_day: 2,
            import_rows: (100, 2_000),
            deals_per_day: 100,
            notes_per_day: 200,
            contact_edits_per_day: 200,
            order_backfills_per_day: 2,
            gmail_emails_per_day: 40,
            sign_ups_per_day: 3,
            requests_per_user: 20.0,
            ..Self::reduced()
        }
    }
}

/// The simulation's state while the day is generated.
pub struct Sim {
    pub config: Config,
    /// Midnight UTC starting the simulated day.
    pub day0: Timestamp,
    pub app: AppConfig,
    pub rec: meter::Recorder,
    pub orgs: Vec<population::Org>,
    pub rng: rng::Rng,
    /// Store calls of the reminder ticks.
    pub tick: reminders::TickCalls,
}

impl Sim {
    /// The instant `rel` seconds after the day's start (any sign).
    pub fn at(&self, rel: i64) -> Timestamp {
        Timestamp::from_second(self.day0.as_second() + rel).unwrap_or(self.day0)
    }
}

/// About how many entries a day records (measured: a booking with its slot
/// views, messages and reminders makes some 60, a request 3, an imported row 5).
fn expected_ops(config: &Config) -> usize {
    let users = config.bookings_per_day as f64 / config.bookings_per_host * 1.1 + config.orgs as f64 * 1.5;
    let rows = config.imports_per_day as f64 * (config.import_rows.1 as f64 / 7.0);
    (config.bookings_per_day as f64 * 60.0 + users * config.requests_per_user * 3.0 + rows * 5.0) as usize
}

/// Runs the whole day and measures every key.
pub fn run(config: &Config) -> Report {
    let mut rng = rng::Rng::new(config.seed);
    let orgs = population::organizations(config, &mut rng);
    let mut rec = meter::Recorder::new();
    rec.reserve(expected_ops(config));
    let mut sim = Sim {
        config: config.clone(),
        day0: population::day_start(config),
        app: AppConfig::for_tests(),
        rec,
        orgs,
        rng,
        tick: reminders::TickCalls::default(),
    };
    let mut phases = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &'static str| {
        phases.push((name, clock.elapsed()));
        clock = std::time::Instant::now();
    };
    bookings::run(&mut sim);
    lap("bookings and reminders");
    crm::run(&mut sim);
    lap("contacts, imports, exports, deals, notes");
    gmail::run(&mut sim);
    lap("gmail sends and the reply poll");
    people::run(&mut sim);
    lap("sign-ups, sign-ins, requests");
    google::run(&mut sim);
    lap("google calendar");
    let mut report = Report::collect(config.clone(), sim.rec, sim.tick);
    lap("measuring the keys");
    report.phases = phases;
    report
}
