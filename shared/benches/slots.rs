//! Slot computation for a month: a weekday 09:00–17:00 schedule with a lunch
//! gap, 30-minute slots every 15 minutes, 200 existing bookings and 100 busy
//! intervals. Target: under 1 ms per computation (BENCHMARKS.md).
//!
//! Run: `cargo bench -p konnecs --bench slots`

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use konnecs::domain::slots::{
    Booked, BookingWindow, Busy, DayEnd, ScheduleSpec, SlotInputs, SlotRules, SlotRulesSpec, WallInterval, WeeklyHours,
    WeeklySchedule, compute_slots, is_bookable,
};

const ZONE: &str = "America/New_York";

/// A fixed pseudo-random sequence, so every run measures the same input.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

struct Fixture {
    schedule: WeeklySchedule,
    rules: SlotRules,
    bookings: Vec<Booked>,
    busy: Vec<Busy>,
    now: Timestamp,
    from: Timestamp,
    to: Timestamp,
    invitee: TimeZone,
}

fn time(h: i8, m: i8) -> Time {
    Time::new(h, m, 0, 0).expect("valid time")
}

/// A random weekday instant of the month between 08:00 and 18:00 local time.
fn working_instant(rng: &mut Lcg, tz: &TimeZone, first: Date) -> Timestamp {
    loop {
        let day = first
            .checked_add(jiff::Span::new().days(rng.below(31) as i64))
            .expect("date");
        if matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            continue;
        }
        let quarter = rng.below(40) as i8;
        let wall = day.to_datetime(time(8 + quarter / 4, (quarter % 4) * 15));
        return wall.to_zoned(tz.clone()).expect("zoned").timestamp();
    }
}

fn fixture() -> Fixture {
    let hours = [
        WallInterval::new(time(9, 0), DayEnd::At(time(12, 0))),
        WallInterval::new(time(13, 0), DayEnd::At(time(17, 0))),
    ];
    let weekdays = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];
    let schedule = WeeklySchedule::new(ScheduleSpec {
        time_zone: ZONE.into(),
        weekly: WeeklyHours::on(&weekdays, &hours),
        overrides: BTreeMap::new(),
    })
    .expect("schedule");
    let rules = SlotRules::new(SlotRulesSpec {
        duration: 30,
        slot_interval: Some(15),
        buffer_before: 5,
        buffer_after: 10,
        minimum_notice: 120,
        window: BookingWindow::Rolling { days: 60 },
        daily_limit: Some(12),
        weekly_limit: None,
        seats: 1,
    })
    .expect("rules");

    let tz = TimeZone::get(ZONE).expect("zone");
    // March 2026 in New York, across the spring-forward of March 8th.
    let first: Date = "2026-03-01".parse().expect("date");
    let from = first
        .to_datetime(Time::midnight())
        .to_zoned(tz.clone())
        .expect("zoned")
        .timestamp();
    let to = from + SignedDuration::from_hours(31 * 24);
    let mut rng = Lcg(0x5107_5107);
    let bookings = (0..200)
        .map(|i| {
            let start = working_instant(&mut rng, &tz, first);
            let minutes = [30, 45, 60][rng.below(3) as usize];
            Booked {
                start,
                end: start + SignedDuration::from_mins(minutes),
                buffer_before: 5,
                buffer_after: 10,
                same_event_type: i % 2 == 0,
                seats_taken: 1,
            }
        })
        .collect();
    let busy = (0..100)
        .map(|_| {
            let start = working_instant(&mut rng, &tz, first);
            Busy {
                start,
                end: start + SignedDuration::from_mins(15 * (1 + rng.below(6) as i64)),
            }
        })
        .collect();
    Fixture {
        schedule,
        rules,
        bookings,
        busy,
        now: from - SignedDuration::from_hours(12),
        from,
        to,
        invitee: TimeZone::get("Europe/Berlin").expect("zone"),
    }
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let inputs = SlotInputs {
        schedule: &f.schedule,
        rules: &f.rules,
        bookings: &f.bookings,
        busy: &f.busy,
        now: f.now,
    };
    let days = compute_slots(inputs, f.from, f.to, &f.invitee).expect("slots");
    let count: usize = days.iter().map(|d| d.slots.len()).sum();
    eprintln!(
        "fixture: {} bookings, {} busy, {count} slots over {} invitee dates",
        f.bookings.len(),
        f.busy.len(),
        days.len()
    );

    c.bench_function("compute_slots 31 days, 200 bookings, 100 busy", |b| {
        b.iter(|| compute_slots(black_box(inputs), black_box(f.from), black_box(f.to), &f.invitee))
    });
    let start = days.last().and_then(|d| d.slots.last()).map_or(f.from, |s| s.start);
    c.bench_function("is_bookable one start, 200 bookings, 100 busy", |b| {
        b.iter(|| is_bookable(black_box(inputs), black_box(start)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
