//! Property tests: random schedules (in DST and odd-offset zones, around
//! transition days), rules, bookings and busy times. Each property is checked
//! with code independent of the engine: plain overlap tests and a brute-force
//! minute scan for "the first instant whose wall clock reaches this time".

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

const ZONES: [&str; 7] = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "UTC",
];

/// Days around this year's transitions, and one quiet day.
const BASE_DAYS: [&str; 7] = [
    "2026-03-07",
    "2026-03-28",
    "2026-04-04",
    "2026-10-03",
    "2026-10-24",
    "2026-10-31",
    "2026-06-15",
];

#[derive(Debug, Clone)]
struct World {
    schedule: WeeklySchedule,
    rules: SlotRules,
    bookings: Vec<Booked>,
    busy: Vec<Busy>,
    now: Timestamp,
    from: Timestamp,
    to: Timestamp,
    invitee: &'static str,
}

impl World {
    fn inputs(&self) -> SlotInputs<'_> {
        SlotInputs {
            schedule: &self.schedule,
            rules: &self.rules,
            bookings: &self.bookings,
            busy: &self.busy,
            now: self.now,
        }
    }

    fn slots(&self) -> Vec<DaySlots> {
        compute_slots(self.inputs(), self.from, self.to, &TimeZone::get(self.invitee).unwrap()).unwrap()
    }
}

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

/// Non-overlapping intervals of one day from cut points on a 15-minute grid.
fn day_hours() -> impl Strategy<Value = Vec<WallInterval>> {
    prop::collection::vec(0u32..=96, 2..=6).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts.dedup();
        cuts.chunks_exact(2)
            .map(|pair| {
                let time = |q: u32| Time::new((q / 4) as i8, ((q % 4) * 15) as i8, 0, 0).unwrap();
                let end = if pair[1] == 96 {
                    DayEnd::EndOfDay
                } else {
                    DayEnd::At(time(pair[1]))
                };
                WallInterval::new(time(pair[0]), end)
            })
            .collect()
    })
}

fn world() -> impl Strategy<Value = World> {
    let schedule = (
        prop::sample::select(ZONES.as_slice()),
        prop::collection::vec(day_hours(), 7),
        prop::option::of((0i64..4, prop::option::of(day_hours()))),
    );
    let rules = (
        prop::sample::select(vec![15u32, 30, 45, 60, 90]),
        prop::option::of(prop::sample::select(vec![10u32, 15, 30, 60])),
        (0u32..=6, 0u32..=6),
        0u32..=600,
        prop_oneof![
            3 => (0u32..=10).prop_map(|days| (true, days)),
            1 => (0u32..=4).prop_map(|days| (false, days))
        ],
        (prop::option::of(1u32..=4), prop::option::of(1u32..=6)),
        1u32..=3,
    );
    // A booking without a length takes the event's duration, so seated
    // occurrences line up with slots often enough to be exercised.
    let booking = (
        0i64..(5 * 96),
        prop::option::of(1i64..=8),
        0u32..=6,
        0u32..=6,
        any::<bool>(),
        1u32..=3,
    );
    let world = (
        prop::sample::select(BASE_DAYS.as_slice()),
        0i64..2,
        1i64..=3,
        -2880i64..=720,
        prop::collection::vec(booking, 0..=10),
        prop::collection::vec((0i64..(5 * 96), 1i64..=6), 0..=4),
        prop::sample::select(ZONES.as_slice()),
    );
    (schedule, rules, world).prop_map(|(schedule, rules, world)| {
        let (zone, week, override_day) = schedule;
        let (duration, interval, (before, after), notice, (rolling, days), (daily_limit, weekly_limit), seats) = rules;
        let (base, offset_days, length_days, now_minutes, bookings, busy, invitee) = world;

        let base: Date = base.parse().unwrap();
        let first = base.checked_add(jiff::Span::new().days(offset_days)).unwrap();
        let mut weekly = WeeklyHours::default();
        let weekdays = [
            jiff::civil::Weekday::Monday,
            jiff::civil::Weekday::Tuesday,
            jiff::civil::Weekday::Wednesday,
            jiff::civil::Weekday::Thursday,
            jiff::civil::Weekday::Friday,
            jiff::civil::Weekday::Saturday,
            jiff::civil::Weekday::Sunday,
        ];
        for (day, hours) in weekdays.into_iter().zip(week) {
            *weekly.day_mut(day) = hours;
        }
        let mut overrides = BTreeMap::new();
        if let Some((day, hours)) = override_day {
            let date = first.checked_add(jiff::Span::new().days(day)).unwrap();
            let value = match hours {
                None => DayOverride::Unavailable,
                Some(intervals) => DayOverride::Hours { intervals },
            };
            overrides.insert(date, value);
        }
        let schedule = WeeklySchedule::new(ScheduleSpec {
            time_zone: zone.into(),
            weekly,
            overrides,
        })
        .unwrap();

        let window = if rolling {
            BookingWindow::Rolling { days }
        } else {
            let start = first.checked_add(jiff::Span::new().days(i64::from(days) / 2)).unwrap();
            BookingWindow::DateRange {
                start,
                end: start.checked_add(jiff::Span::new().days(i64::from(days))).unwrap(),
            }
        };
        let rules = SlotRules::new(SlotRulesSpec {
            duration,
            slot_interval: interval,
            buffer_before: before * 5,
            buffer_after: after * 5,
            minimum_notice: notice,
            window,
            daily_limit,
            weekly_limit,
            seats,
        })
        .unwrap();

        // The range starts at UTC midnight of `first`; everything else hangs off it.
        let from = first
            .to_datetime(Time::midnight())
            .to_zoned(TimeZone::UTC)
            .unwrap()
            .timestamp();
        let to = from + SignedDuration::from_hours(24 * length_days);
        let origin = from - SignedDuration::from_hours(24);
        let bookings = bookings
            .into_iter()
            .map(|(start, length, before, after, same, seats_taken)| {
                let start = origin + minutes(start * 15);
                let length = length.map_or(i64::from(duration), |quarters| quarters * 15);
                Booked {
                    start,
                    end: start + minutes(length),
                    buffer_before: before * 5,
                    buffer_after: after * 5,
                    same_event_type: same,
                    seats_taken,
                }
            })
            .collect();
        let busy = busy
            .into_iter()
            .map(|(start, length)| {
                let start = origin + minutes(start * 15);
                Busy {
                    start,
                    end: start + minutes(length * 15),
                }
            })
            .collect();
        World {
            schedule,
            rules,
            bookings,
            busy,
            now: from + minutes(now_minutes),
            from,
            to,
            invitee,
        }
    })
}

/// Brute force: the first instant (on a minute) whose wall clock in `tz`
/// reads `wall` or later.
fn first_reaching(tz: &TimeZone, wall: DateTime, memo: &mut HashMap<DateTime, Timestamp>) -> Timestamp {
    *memo.entry(wall).or_insert_with(|| {
        let naive = wall.to_zoned(TimeZone::UTC).unwrap().timestamp();
        let mut t = naive - SignedDuration::from_hours(15);
        while tz.to_datetime(t) < wall {
            t += SignedDuration::from_mins(1);
        }
        t
    })
}

/// Availability of one date as instants, by the brute-force oracle, with
/// touching wall intervals joined.
fn oracle_spans(
    schedule: &WeeklySchedule,
    date: Date,
    memo: &mut HashMap<DateTime, Timestamp>,
) -> Vec<(Timestamp, Timestamp)> {
    let mut joined: Vec<(Time, DayEnd)> = Vec::new();
    for interval in schedule.intervals_on(date) {
        match joined.last_mut() {
            Some(last) if last.1 == DayEnd::At(interval.start) => last.1 = interval.end,
            _ => joined.push((interval.start, interval.end)),
        }
    }
    let tz = schedule.time_zone();
    joined
        .into_iter()
        .map(|(start, end)| {
            let end = match end {
                DayEnd::At(time) => date.to_datetime(time),
                DayEnd::EndOfDay => date.tomorrow().unwrap().to_datetime(Time::midnight()),
            };
            (
                first_reaching(tz, date.to_datetime(start), memo),
                first_reaching(tz, end, memo),
            )
        })
        .collect()
}

fn overlaps(a: (Timestamp, Timestamp), b: (Timestamp, Timestamp)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn flat(days: &[DaySlots]) -> Vec<Slot> {
    days.iter().flat_map(|d| d.slots.iter().copied()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn no_slot_meets_a_booking_or_busy_time_with_buffers(world in world()) {
        let rules = &world.rules;
        let before = minutes(i64::from(rules.buffer_before_minutes()));
        let after = minutes(i64::from(rules.buffer_after_minutes()));
        for slot in flat(&world.slots()) {
            let padded = (slot.start - before, slot.end + after);
            for busy in &world.busy {
                prop_assert!(!overlaps(padded, (busy.start, busy.end)), "{slot:?} meets busy {busy:?}");
            }
            let mut shared_seats = 0;
            for b in &world.bookings {
                let blocked = (
                    b.start - minutes(i64::from(b.buffer_before)),
                    b.end + minutes(i64::from(b.buffer_after)),
                );
                if b.same_event_type && b.start == slot.start && b.end == slot.end {
                    shared_seats += b.seats_taken;
                    continue;
                }
                prop_assert!(!overlaps(padded, blocked), "{slot:?} meets booking {b:?}");
            }
            prop_assert_eq!(slot.seats_left, rules.seats().saturating_sub(shared_seats));
            prop_assert!(slot.seats_left >= 1);
        }
    }

    #[test]
    fn every_slot_lies_inside_availability(world in world()) {
        let tz = world.schedule.time_zone();
        let duration = minutes(i64::from(world.rules.duration_minutes()));
        let mut memo = HashMap::new();
        for slot in flat(&world.slots()) {
            prop_assert_eq!(slot.end, slot.start + duration);
            let date = tz.to_datetime(slot.start).date();
            let inside = [date.yesterday().unwrap(), date, date.tomorrow().unwrap()].into_iter().any(|day| {
                oracle_spans(&world.schedule, day, &mut memo)
                    .into_iter()
                    .any(|(start, end)| start <= slot.start && slot.end <= end)
            });
            prop_assert!(inside, "{slot:?} is outside the availability of {date}");
        }
    }

    #[test]
    fn no_slot_starts_before_now_plus_notice_or_outside_the_range(world in world()) {
        let earliest = world.now + minutes(i64::from(world.rules.minimum_notice_minutes()));
        for slot in flat(&world.slots()) {
            prop_assert!(slot.start >= earliest, "{slot:?} is before {earliest}");
            prop_assert!(slot.start >= world.from && slot.start < world.to);
        }
    }

    #[test]
    fn slots_are_sorted_unique_and_grouped_by_invitee_date(world in world()) {
        let invitee = TimeZone::get(world.invitee).unwrap();
        let days = world.slots();
        for pair in days.windows(2) {
            prop_assert!(pair[0].date < pair[1].date);
        }
        for day in &days {
            prop_assert!(!day.slots.is_empty());
            for slot in &day.slots {
                prop_assert_eq!(invitee.to_datetime(slot.start).date(), day.date);
            }
        }
        let slots = flat(&days);
        for pair in slots.windows(2) {
            prop_assert!(pair[0].start < pair[1].start);
        }
    }
}

proptest! {
    // Each case asks `is_bookable` about every 5-minute start of the range.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn is_bookable_agrees_with_the_slot_list(world in world()) {
        let offered: Vec<Timestamp> = flat(&world.slots()).iter().map(|s| s.start).collect();
        for start in &offered {
            prop_assert_eq!(is_bookable(world.inputs(), *start), Ok(()), "offered {} is refused", start);
        }
        // Every grid in these worlds is on 5-minute marks, so this visits
        // every candidate start of the range.
        let mut t = world.from;
        while t < world.to {
            let accepted = is_bookable(world.inputs(), t).is_ok();
            prop_assert_eq!(accepted, offered.binary_search(&t).is_ok(), "disagreement at {}", t);
            t += minutes(5);
        }
    }
}
