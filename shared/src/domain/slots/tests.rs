//! Behaviour of the slot engine. Every expected instant is written by hand as
//! an RFC 3339 UTC literal, worked out from the published offsets, never from
//! the code under test.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

use super::*;

const ALL_DAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn date(text: &str) -> Date {
    text.parse().unwrap()
}

fn iv(start: &str, end: &str) -> WallInterval {
    let end = if end == "24:00" {
        DayEnd::EndOfDay
    } else {
        DayEnd::At(end.parse::<Time>().unwrap())
    };
    WallInterval::new(start.parse().unwrap(), end)
}

fn schedule_on(zone: &str, days: &[Weekday], hours: &[(&str, &str)]) -> WeeklySchedule {
    let intervals: Vec<WallInterval> = hours.iter().map(|(s, e)| iv(s, e)).collect();
    WeeklySchedule::new(ScheduleSpec {
        time_zone: zone.into(),
        weekly: WeeklyHours::on(days, &intervals),
        overrides: BTreeMap::new(),
    })
    .unwrap()
}

fn every_day(zone: &str, hours: &[(&str, &str)]) -> WeeklySchedule {
    schedule_on(zone, &ALL_DAYS, hours)
}

fn rules(duration: u32, edit: impl FnOnce(&mut SlotRulesSpec)) -> SlotRules {
    let mut spec = SlotRulesSpec::with_duration(duration);
    spec.window = BookingWindow::DateRange {
        start: date("2020-01-01"),
        end: date("2030-12-31"),
    };
    edit(&mut spec);
    SlotRules::new(spec).unwrap()
}

fn booked(start: &str, end: &str) -> Booked {
    Booked {
        start: ts(start),
        end: ts(end),
        buffer_before: 0,
        buffer_after: 0,
        same_event_type: false,
        seats_taken: 1,
    }
}

fn own(start: &str, end: &str, seats_taken: u32) -> Booked {
    Booked {
        same_event_type: true,
        seats_taken,
        ..booked(start, end)
    }
}

/// Far enough in the past that notice and rolling windows never interfere.
const LONG_AGO: &str = "2020-01-01T00:00:00Z";

struct Case {
    schedule: WeeklySchedule,
    rules: SlotRules,
    bookings: Vec<Booked>,
    busy: Vec<Busy>,
    now: Timestamp,
}

impl Case {
    fn new(schedule: WeeklySchedule, rules: SlotRules) -> Self {
        Self {
            schedule,
            rules,
            bookings: Vec::new(),
            busy: Vec::new(),
            now: ts(LONG_AGO),
        }
    }

    fn inputs(&self) -> SlotInputs<'_> {
        SlotInputs {
            schedule: &self.schedule,
            rules: &self.rules,
            bookings: &self.bookings,
            busy: &self.busy,
            now: self.now,
        }
    }

    fn days(&self, from: &str, to: &str, zone: &str) -> Vec<DaySlots> {
        compute_slots(self.inputs(), ts(from), ts(to), &TimeZone::get(zone).unwrap()).unwrap()
    }

    /// Every slot start in `[from, to)`, as UTC RFC 3339 text.
    fn starts(&self, from: &str, to: &str) -> Vec<String> {
        self.days(from, to, "UTC")
            .iter()
            .flat_map(|d| d.slots.iter().map(|s| s.start.to_string()))
            .collect()
    }

    fn check(&self, start: &str) -> Result<(), SlotRejection> {
        is_bookable(self.inputs(), ts(start))
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// --- DST and odd offsets -------------------------------------------------

#[test]
fn new_york_day_after_spring_forward_starts_at_13_utc() {
    // 2026-03-09 is the first full EDT weekday: 09:00 EDT (UTC−4) = 13:00Z.
    let case = Case::new(every_day("America/New_York", &[("09:00", "12:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-03-09T04:00:00Z", "2026-03-10T04:00:00Z");
    assert_eq!(
        starts,
        strings(&["2026-03-09T13:00:00Z", "2026-03-09T14:00:00Z", "2026-03-09T15:00:00Z"])
    );
}

#[test]
fn new_york_spring_forward_day_loses_the_skipped_hour() {
    // 2026-03-08: 00:00 EST = 05:00Z, clocks jump 02:00 EST → 03:00 EDT at
    // 07:00Z, 06:00 EDT = 10:00Z. Six wall hours are five real ones.
    let case = Case::new(every_day("America/New_York", &[("00:00", "06:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-03-08T05:00:00Z", "2026-03-08T12:00:00Z");
    assert_eq!(
        starts,
        strings(&[
            "2026-03-08T05:00:00Z",
            "2026-03-08T06:00:00Z",
            "2026-03-08T07:00:00Z",
            "2026-03-08T08:00:00Z",
            "2026-03-08T09:00:00Z",
        ])
    );
}

#[test]
fn new_york_wall_time_inside_the_gap_starts_when_the_gap_ends() {
    // 02:30 does not exist on 2026-03-08; availability starts at 03:00 EDT =
    // 07:00Z and runs to 04:00 EDT = 08:00Z.
    let case = Case::new(every_day("America/New_York", &[("02:30", "04:00")]), rules(30, |_| {}));
    let starts = case.starts("2026-03-08T05:00:00Z", "2026-03-08T12:00:00Z");
    assert_eq!(starts, strings(&["2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"]));
}

#[test]
fn new_york_day_after_fall_back_starts_at_14_utc() {
    // 2026-11-02: 09:00 EST (UTC−5) = 14:00Z.
    let case = Case::new(every_day("America/New_York", &[("09:00", "12:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-11-02T05:00:00Z", "2026-11-03T05:00:00Z");
    assert_eq!(
        starts,
        strings(&["2026-11-02T14:00:00Z", "2026-11-02T15:00:00Z", "2026-11-02T16:00:00Z"])
    );
}

#[test]
fn new_york_fall_back_day_gains_the_repeated_hour() {
    // 2026-11-01: 00:00 EDT = 04:00Z, clocks fall 02:00 EDT → 01:00 EST at
    // 06:00Z, 06:00 EST = 11:00Z. Six wall hours are seven real ones.
    let case = Case::new(every_day("America/New_York", &[("00:00", "06:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-11-01T04:00:00Z", "2026-11-01T12:00:00Z");
    assert_eq!(starts.len(), 7);
    assert_eq!(starts.first().map(String::as_str), Some("2026-11-01T04:00:00Z"));
    assert_eq!(starts.last().map(String::as_str), Some("2026-11-01T10:00:00Z"));
}

#[test]
fn new_york_repeated_wall_time_means_its_earlier_occurrence() {
    // 01:30 happens twice on 2026-11-01; the first is 01:30 EDT = 05:30Z.
    // 03:00 EST = 08:00Z, so 2.5 hours hold five 30-minute slots.
    let case = Case::new(every_day("America/New_York", &[("01:30", "03:00")]), rules(30, |_| {}));
    let starts = case.starts("2026-11-01T04:00:00Z", "2026-11-01T12:00:00Z");
    assert_eq!(
        starts,
        strings(&[
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:30:00Z",
            "2026-11-01T07:00:00Z",
            "2026-11-01T07:30:00Z",
        ])
    );
}

#[test]
fn london_spring_forward_day_and_the_day_after() {
    // 2026-03-29: 00:00 GMT = 00:00Z, 01:00 GMT → 02:00 BST at 01:00Z,
    // 04:00 BST = 03:00Z. 2026-03-30: 09:00 BST = 08:00Z.
    let case = Case::new(every_day("Europe/London", &[("00:00", "04:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-03-29T00:00:00Z", "2026-03-29T12:00:00Z");
    assert_eq!(
        starts,
        strings(&["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"])
    );

    let case = Case::new(every_day("Europe/London", &[("09:00", "12:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-03-30T00:00:00Z", "2026-03-30T23:00:00Z");
    assert_eq!(starts.first().map(String::as_str), Some("2026-03-30T08:00:00Z"));
}

#[test]
fn london_fall_back_day_and_the_day_after() {
    // 2026-10-25: 00:00 BST = 2026-10-24T23:00Z, 02:00 BST → 01:00 GMT at
    // 01:00Z, 04:00 GMT = 04:00Z: five hours. 2026-10-26: 09:00 GMT = 09:00Z.
    let case = Case::new(every_day("Europe/London", &[("00:00", "04:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-10-24T22:00:00Z", "2026-10-25T12:00:00Z");
    assert_eq!(
        starts,
        strings(&[
            "2026-10-24T23:00:00Z",
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T03:00:00Z",
        ])
    );

    let case = Case::new(every_day("Europe/London", &[("09:00", "12:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-10-26T00:00:00Z", "2026-10-26T23:00:00Z");
    assert_eq!(starts.first().map(String::as_str), Some("2026-10-26T09:00:00Z"));
}

#[test]
fn lord_howe_half_hour_fall_back_adds_thirty_minutes() {
    // 2026-04-05: 00:00 LHDT (UTC+11) = 2026-04-04T13:00Z; 02:00 LHDT → 01:30
    // LHST (UTC+10:30) at 15:00Z; 04:00 LHST = 17:30Z. 4.5 h = nine 30-min slots.
    let case = Case::new(
        every_day("Australia/Lord_Howe", &[("00:00", "04:00")]),
        rules(30, |_| {}),
    );
    let starts = case.starts("2026-04-04T12:00:00Z", "2026-04-04T20:00:00Z");
    assert_eq!(starts.len(), 9);
    assert_eq!(starts.first().map(String::as_str), Some("2026-04-04T13:00:00Z"));
    assert_eq!(starts.last().map(String::as_str), Some("2026-04-04T17:00:00Z"));

    // 2026-04-06: 09:00 LHST = 2026-04-05T22:30Z.
    let case = Case::new(
        every_day("Australia/Lord_Howe", &[("09:00", "12:00")]),
        rules(30, |_| {}),
    );
    let starts = case.starts("2026-04-05T20:00:00Z", "2026-04-06T06:00:00Z");
    assert_eq!(starts.first().map(String::as_str), Some("2026-04-05T22:30:00Z"));
}

#[test]
fn lord_howe_half_hour_spring_forward_loses_thirty_minutes() {
    // 2026-10-04: 00:00 LHST (UTC+10:30) = 2026-10-03T13:30Z; 02:00 LHST →
    // 02:30 LHDT (UTC+11) at 15:30Z; 04:00 LHDT = 17:00Z. 3.5 h = seven slots.
    let case = Case::new(
        every_day("Australia/Lord_Howe", &[("00:00", "04:00")]),
        rules(30, |_| {}),
    );
    let starts = case.starts("2026-10-03T12:00:00Z", "2026-10-03T20:00:00Z");
    assert_eq!(starts.len(), 7);
    assert_eq!(starts.first().map(String::as_str), Some("2026-10-03T13:30:00Z"));
    assert_eq!(starts.last().map(String::as_str), Some("2026-10-03T16:30:00Z"));

    // 02:15 is skipped: availability starts at the gap's end, 15:30Z, and
    // ends at 03:00 LHDT = 16:00Z.
    let case = Case::new(
        every_day("Australia/Lord_Howe", &[("02:15", "03:00")]),
        rules(30, |_| {}),
    );
    let starts = case.starts("2026-10-03T12:00:00Z", "2026-10-03T20:00:00Z");
    assert_eq!(starts, strings(&["2026-10-03T15:30:00Z"]));

    // 2026-10-05: 09:00 LHDT = 2026-10-04T22:00Z.
    let case = Case::new(
        every_day("Australia/Lord_Howe", &[("09:00", "12:00")]),
        rules(30, |_| {}),
    );
    let starts = case.starts("2026-10-04T20:00:00Z", "2026-10-05T06:00:00Z");
    assert_eq!(starts.first().map(String::as_str), Some("2026-10-04T22:00:00Z"));
}

#[test]
fn interval_wholly_inside_a_gap_offers_nothing() {
    // Lord Howe skips 02:00–02:30 on 2026-10-04.
    let case = Case::new(
        every_day("Australia/Lord_Howe", &[("02:00", "02:30")]),
        rules(15, |_| {}),
    );
    assert!(case.starts("2026-10-03T12:00:00Z", "2026-10-03T20:00:00Z").is_empty());
}

#[test]
fn kolkata_half_hour_offset_places_nine_am_at_03_30_utc() {
    // IST is UTC+05:30 all year: 09:00 = 03:30Z.
    let case = Case::new(every_day("Asia/Kolkata", &[("09:00", "12:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-15T12:00:00Z");
    assert_eq!(
        starts,
        strings(&["2026-06-15T03:30:00Z", "2026-06-15T04:30:00Z", "2026-06-15T05:30:00Z"])
    );
}

#[test]
fn slots_are_grouped_by_the_invitees_local_date() {
    // Kolkata 04:00–08:00 on 2026-06-15 is 2026-06-14T22:30Z–2026-06-15T02:30Z.
    let case = Case::new(
        schedule_on("Asia/Kolkata", &[Weekday::Monday], &[("04:00", "08:00")]),
        rules(30, |_| {}),
    );
    let utc = case.days("2026-06-14T00:00:00Z", "2026-06-16T00:00:00Z", "UTC");
    let shape: Vec<(Date, usize)> = utc.iter().map(|d| (d.date, d.slots.len())).collect();
    assert_eq!(shape, vec![(date("2026-06-14"), 3), (date("2026-06-15"), 5)]);
    assert_eq!(utc[0].slots[0].start, ts("2026-06-14T22:30:00Z"));
    assert_eq!(utc[1].slots[0].start, ts("2026-06-15T00:00:00Z"));

    // In Los Angeles (UTC−7 in June) all of it is the evening of June 14th.
    let la = case.days("2026-06-14T00:00:00Z", "2026-06-16T00:00:00Z", "America/Los_Angeles");
    let shape: Vec<(Date, usize)> = la.iter().map(|d| (d.date, d.slots.len())).collect();
    assert_eq!(shape, vec![(date("2026-06-14"), 8)]);
}

#[test]
fn end_of_day_interval_runs_to_midnight() {
    let case = Case::new(every_day("UTC", &[("22:00", "24:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    assert_eq!(starts, strings(&["2026-06-15T22:00:00Z", "2026-06-15T23:00:00Z"]));
}

#[test]
fn touching_intervals_join_into_one() {
    // 09:00–09:30 and 09:30–10:00 make room for one 60-minute slot.
    let case = Case::new(
        every_day("UTC", &[("09:30", "10:00"), ("09:00", "09:30")]),
        rules(60, |_| {}),
    );
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    assert_eq!(starts, strings(&["2026-06-15T09:00:00Z"]));
}

// --- Conflicts and buffers -----------------------------------------------

#[test]
fn buffers_of_both_sides_keep_slots_away_from_a_booking() {
    // Own buffers 15/15; the booking 12:00–13:00 carries 30/30, so it blocks
    // 11:30–13:30. A 60-minute slot needs start+75 ≤ 11:30 or start−15 ≥ 13:30.
    let mut case = Case::new(
        every_day("UTC", &[("09:00", "17:00")]),
        rules(60, |r| {
            r.slot_interval = Some(30);
            r.buffer_before = 15;
            r.buffer_after = 15;
        }),
    );
    case.bookings.push(Booked {
        buffer_before: 30,
        buffer_after: 30,
        ..booked("2026-06-15T12:00:00Z", "2026-06-15T13:00:00Z")
    });
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    assert_eq!(
        starts,
        strings(&[
            "2026-06-15T09:00:00Z",
            "2026-06-15T09:30:00Z",
            "2026-06-15T10:00:00Z",
            "2026-06-15T14:00:00Z",
            "2026-06-15T14:30:00Z",
            "2026-06-15T15:00:00Z",
            "2026-06-15T15:30:00Z",
            "2026-06-15T16:00:00Z",
        ])
    );
    assert_eq!(case.check("2026-06-15T10:30:00Z"), Err(SlotRejection::Conflicts));
    assert_eq!(case.check("2026-06-15T13:30:00Z"), Err(SlotRejection::Conflicts));
    assert_eq!(case.check("2026-06-15T14:00:00Z"), Ok(()));
}

#[test]
fn back_to_back_without_buffers_is_allowed() {
    let mut case = Case::new(every_day("UTC", &[("09:00", "12:00")]), rules(60, |_| {}));
    case.bookings
        .push(booked("2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z"));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    assert_eq!(starts, strings(&["2026-06-15T09:00:00Z", "2026-06-15T11:00:00Z"]));
}

#[test]
fn busy_intervals_block_with_the_event_buffers() {
    let mut case = Case::new(
        every_day("UTC", &[("09:00", "12:00")]),
        rules(30, |r| {
            r.buffer_after = 10;
        }),
    );
    case.busy
        .push(Busy::from((ts("2026-06-15T10:00:00Z"), ts("2026-06-15T10:30:00Z"))));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    // 09:30 would end at 10:00 but its 10-minute buffer runs into the busy time.
    assert_eq!(
        starts,
        strings(&[
            "2026-06-15T09:00:00Z",
            "2026-06-15T10:30:00Z",
            "2026-06-15T11:00:00Z",
            "2026-06-15T11:30:00Z"
        ])
    );
}

// --- Notice and window ---------------------------------------------------

#[test]
fn minimum_notice_hides_slots_starting_too_soon() {
    let mut case = Case::new(
        every_day("UTC", &[("09:00", "12:00")]),
        rules(30, |r| {
            r.minimum_notice = 60;
        }),
    );
    case.now = ts("2026-06-15T09:10:00Z");
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    // now + 60 min = 10:10, and the grid stays anchored at 09:00.
    assert_eq!(starts.first().map(String::as_str), Some("2026-06-15T10:30:00Z"));
    assert_eq!(case.check("2026-06-15T10:00:00Z"), Err(SlotRejection::TooSoon));
    assert_eq!(case.check("2026-06-15T10:30:00Z"), Ok(()));
}

#[test]
fn rolling_window_covers_today_and_the_next_n_days() {
    let mut case = Case::new(
        every_day("UTC", &[("09:00", "10:00")]),
        rules(60, |r| {
            r.window = BookingWindow::Rolling { days: 2 };
        }),
    );
    case.now = ts("2026-06-01T08:00:00Z");
    let starts = case.starts("2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z");
    assert_eq!(
        starts,
        strings(&["2026-06-01T09:00:00Z", "2026-06-02T09:00:00Z", "2026-06-03T09:00:00Z"])
    );
    assert_eq!(case.check("2026-06-04T09:00:00Z"), Err(SlotRejection::OutsideWindow));
}

#[test]
fn rolling_window_counts_dates_in_the_schedule_zone() {
    // 2026-06-01T20:00Z is already June 2nd in Tokyo (UTC+9), so "today" is
    // June 2nd and a 1-day window ends on June 3rd.
    let mut case = Case::new(
        every_day("Asia/Tokyo", &[("09:00", "10:00")]),
        rules(60, |r| {
            r.window = BookingWindow::Rolling { days: 1 };
        }),
    );
    case.now = ts("2026-06-01T20:00:00Z");
    let starts = case.starts("2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z");
    // 09:00 JST = 00:00Z the same date.
    assert_eq!(starts, strings(&["2026-06-02T00:00:00Z", "2026-06-03T00:00:00Z"]));
}

#[test]
fn date_range_window_offers_only_its_dates() {
    let case = Case::new(
        every_day("UTC", &[("09:00", "10:00")]),
        rules(60, |r| {
            r.window = BookingWindow::DateRange {
                start: date("2026-06-03"),
                end: date("2026-06-04"),
            };
        }),
    );
    let starts = case.starts("2026-06-01T00:00:00Z", "2026-06-08T00:00:00Z");
    assert_eq!(starts, strings(&["2026-06-03T09:00:00Z", "2026-06-04T09:00:00Z"]));
    assert_eq!(case.check("2026-06-05T09:00:00Z"), Err(SlotRejection::OutsideWindow));
}

// --- Limits ----------------------------------------------------------------

#[test]
fn daily_limit_counts_this_event_types_bookings_of_the_day() {
    let mut case = Case::new(
        every_day("UTC", &[("09:00", "17:00")]),
        rules(60, |r| {
            r.daily_limit = Some(2);
        }),
    );
    case.bookings
        .push(own("2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z", 1));
    // Another event type's booking does not count towards this limit.
    case.bookings
        .push(booked("2026-06-16T09:00:00Z", "2026-06-16T10:00:00Z"));
    let monday = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    assert_eq!(
        monday.len(),
        7,
        "one booked, one left under the limit of 2: all free hours offered"
    );

    case.bookings
        .push(own("2026-06-15T11:00:00Z", "2026-06-15T12:00:00Z", 1));
    assert!(case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z").is_empty());
    assert_eq!(case.check("2026-06-15T14:00:00Z"), Err(SlotRejection::LimitReached));
    assert_eq!(case.starts("2026-06-16T00:00:00Z", "2026-06-17T00:00:00Z").len(), 7);
}

#[test]
fn daily_limit_uses_the_schedule_zones_date() {
    // A booking at 2026-06-15T23:00Z is June 16th in Tokyo (08:00 JST).
    let mut case = Case::new(
        every_day("Asia/Tokyo", &[("09:00", "12:00")]),
        rules(60, |r| {
            r.daily_limit = Some(1);
        }),
    );
    case.bookings
        .push(own("2026-06-15T23:00:00Z", "2026-06-16T00:00:00Z", 1));
    // June 16th 09:00–12:00 JST = 2026-06-16T00:00Z–03:00Z: limit reached.
    assert!(case.starts("2026-06-16T00:00:00Z", "2026-06-16T03:00:00Z").is_empty());
    // June 15th JST = 2026-06-15T00:00Z–03:00Z: untouched.
    assert_eq!(case.starts("2026-06-15T00:00:00Z", "2026-06-15T03:00:00Z").len(), 3);
}

#[test]
fn weekly_limit_counts_the_iso_week() {
    // 2026-06-15 is a Monday; its ISO week runs to Sunday 2026-06-21.
    let mut case = Case::new(
        every_day("UTC", &[("09:00", "10:00")]),
        rules(60, |r| {
            r.weekly_limit = Some(2);
        }),
    );
    case.bookings
        .push(own("2026-06-15T09:00:00Z", "2026-06-15T10:00:00Z", 1));
    case.bookings
        .push(own("2026-06-17T09:00:00Z", "2026-06-17T10:00:00Z", 1));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-24T00:00:00Z");
    assert_eq!(
        starts,
        strings(&["2026-06-22T09:00:00Z", "2026-06-23T09:00:00Z"]),
        "nothing left in the booked week, the next week is open"
    );
    assert_eq!(case.check("2026-06-21T09:00:00Z"), Err(SlotRejection::LimitReached));
}

// --- Seats -----------------------------------------------------------------

#[test]
fn seats_two_of_three_taken_leaves_one() {
    let mut case = Case::new(
        every_day("UTC", &[("10:00", "12:00")]),
        rules(60, |r| {
            r.seats = 3;
        }),
    );
    case.bookings
        .push(own("2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z", 1));
    case.bookings
        .push(own("2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z", 1));
    let days = case.days("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z", "UTC");
    let slots: Vec<(String, u32)> = days[0]
        .slots
        .iter()
        .map(|s| (s.start.to_string(), s.seats_left))
        .collect();
    assert_eq!(
        slots,
        vec![
            ("2026-06-15T10:00:00Z".to_string(), 1),
            ("2026-06-15T11:00:00Z".to_string(), 3)
        ]
    );
    assert_eq!(case.check("2026-06-15T10:00:00Z"), Ok(()));
}

#[test]
fn seats_all_taken_removes_the_slot() {
    let mut case = Case::new(
        every_day("UTC", &[("10:00", "12:00")]),
        rules(60, |r| {
            r.seats = 3;
        }),
    );
    case.bookings
        .push(own("2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z", 3));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    assert_eq!(starts, strings(&["2026-06-15T11:00:00Z"]));
    assert_eq!(case.check("2026-06-15T10:00:00Z"), Err(SlotRejection::NoSeatsLeft));
}

#[test]
fn seated_occurrence_blocks_other_starts_and_other_event_types() {
    // A seated occurrence at 10:00 can be joined at 10:00 only; 10:30 overlaps it.
    let mut case = Case::new(
        every_day("UTC", &[("10:00", "12:00")]),
        rules(60, |r| {
            r.seats = 3;
            r.slot_interval = Some(30);
        }),
    );
    case.bookings
        .push(own("2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z", 1));
    assert_eq!(case.check("2026-06-15T10:30:00Z"), Err(SlotRejection::Conflicts));
    // A busy time over the occurrence makes joining it a conflict too.
    case.busy
        .push(Busy::from((ts("2026-06-15T10:15:00Z"), ts("2026-06-15T10:20:00Z"))));
    assert_eq!(case.check("2026-06-15T10:00:00Z"), Err(SlotRejection::Conflicts));
}

#[test]
fn joining_a_seated_occurrence_is_not_limited() {
    // The occurrence is already counted: the day is at its limit, yet a seat
    // of that same occurrence is still offered.
    let mut case = Case::new(
        every_day("UTC", &[("10:00", "12:00")]),
        rules(60, |r| {
            r.seats = 2;
            r.daily_limit = Some(1);
        }),
    );
    case.bookings
        .push(own("2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z", 1));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-16T00:00:00Z");
    assert_eq!(starts, strings(&["2026-06-15T10:00:00Z"]));
}

// --- Overrides -------------------------------------------------------------

#[test]
fn override_marks_a_date_unavailable() {
    let mut spec = every_day("UTC", &[("09:00", "10:00")]).spec().clone();
    spec.overrides.insert(date("2026-06-16"), DayOverride::Unavailable);
    let case = Case::new(WeeklySchedule::new(spec).unwrap(), rules(60, |_| {}));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-18T00:00:00Z");
    assert_eq!(starts, strings(&["2026-06-15T09:00:00Z", "2026-06-17T09:00:00Z"]));
    assert_eq!(
        case.check("2026-06-16T09:00:00Z"),
        Err(SlotRejection::OutsideAvailability)
    );
}

#[test]
fn override_replaces_a_dates_hours() {
    // Sunday has no weekly hours; the override opens 14:00–15:00 on one Sunday.
    let mut spec = schedule_on("UTC", &[Weekday::Monday], &[("09:00", "10:00")])
        .spec()
        .clone();
    spec.overrides.insert(
        date("2026-06-21"),
        DayOverride::Hours {
            intervals: vec![iv("14:00", "15:00")],
        },
    );
    spec.overrides.insert(
        date("2026-06-22"),
        DayOverride::Hours {
            intervals: vec![iv("16:00", "17:00")],
        },
    );
    let case = Case::new(WeeklySchedule::new(spec).unwrap(), rules(60, |_| {}));
    let starts = case.starts("2026-06-15T00:00:00Z", "2026-06-23T00:00:00Z");
    assert_eq!(
        starts,
        strings(&["2026-06-15T09:00:00Z", "2026-06-21T14:00:00Z", "2026-06-22T16:00:00Z"])
    );
}

// --- is_bookable -------------------------------------------------------------

#[test]
fn is_bookable_rejects_starts_off_the_grid_or_outside_hours() {
    let case = Case::new(
        every_day("UTC", &[("09:00", "12:00")]),
        rules(60, |r| {
            r.slot_interval = Some(30);
        }),
    );
    assert_eq!(case.check("2026-06-15T09:30:00Z"), Ok(()));
    assert_eq!(
        case.check("2026-06-15T09:15:00Z"),
        Err(SlotRejection::OutsideAvailability)
    );
    assert_eq!(
        case.check("2026-06-15T11:30:00Z"),
        Err(SlotRejection::OutsideAvailability),
        "would end after 12:00"
    );
    assert_eq!(
        case.check("2026-06-15T08:00:00Z"),
        Err(SlotRejection::OutsideAvailability)
    );
    assert_eq!(
        case.check("2026-06-15T09:30:00.5Z"),
        Err(SlotRejection::OutsideAvailability)
    );
}

#[test]
fn rejection_codes_are_stable() {
    let codes: Vec<&str> = [
        SlotRejection::OutsideAvailability,
        SlotRejection::TooSoon,
        SlotRejection::OutsideWindow,
        SlotRejection::Conflicts,
        SlotRejection::LimitReached,
        SlotRejection::NoSeatsLeft,
    ]
    .iter()
    .map(|r| r.code())
    .collect();
    assert_eq!(
        codes,
        [
            "outside_availability",
            "too_soon",
            "outside_window",
            "conflicts",
            "limit_reached",
            "no_seats_left"
        ]
    );
    assert_eq!(
        serde_json::to_string(&SlotRejection::NoSeatsLeft).unwrap(),
        "\"no_seats_left\""
    );
}

// --- Ranges ----------------------------------------------------------------

#[test]
fn empty_or_reversed_range_offers_nothing() {
    let case = Case::new(every_day("UTC", &[("09:00", "12:00")]), rules(60, |_| {}));
    assert!(case.starts("2026-06-15T10:00:00Z", "2026-06-15T10:00:00Z").is_empty());
    assert!(case.starts("2026-06-16T00:00:00Z", "2026-06-15T00:00:00Z").is_empty());
}

#[test]
fn range_longer_than_the_maximum_is_refused() {
    let case = Case::new(every_day("UTC", &[("09:00", "12:00")]), rules(60, |_| {}));
    let result = compute_slots(
        case.inputs(),
        ts("2026-01-01T00:00:00Z"),
        ts("2028-01-01T00:00:00Z"),
        &TimeZone::UTC,
    );
    assert_eq!(
        result,
        Err(SlotQueryError::RangeTooLong {
            max_days: MAX_RANGE_DAYS
        })
    );
}

#[test]
fn range_bounds_are_start_inclusive_end_exclusive() {
    let case = Case::new(every_day("UTC", &[("09:00", "12:00")]), rules(60, |_| {}));
    let starts = case.starts("2026-06-15T10:00:00Z", "2026-06-15T11:00:00Z");
    assert_eq!(starts, strings(&["2026-06-15T10:00:00Z"]));
}

#[test]
fn extreme_timestamps_do_not_panic() {
    let mut case = Case::new(every_day("Pacific/Kiritimati", &[("00:00", "24:00")]), rules(1, |_| {}));
    case.now = Timestamp::MIN;
    case.bookings.push(Booked {
        start: Timestamp::MAX,
        end: Timestamp::MIN,
        buffer_before: u32::MAX,
        buffer_after: u32::MAX,
        same_event_type: true,
        seats_taken: u32::MAX,
    });
    case.busy.push(Busy {
        start: Timestamp::MIN,
        end: Timestamp::MIN,
    });
    let tz = TimeZone::UTC;
    for (from, to) in [
        (Timestamp::MIN, Timestamp::MAX),
        (Timestamp::MAX, Timestamp::MIN),
        (Timestamp::MIN, ts("-009999-01-03T00:00:00Z")),
        (ts("9999-12-29T00:00:00Z"), Timestamp::MAX),
    ] {
        let _ = compute_slots(case.inputs(), from, to, &tz);
    }
    let _ = is_bookable(case.inputs(), Timestamp::MAX);
    let _ = is_bookable(case.inputs(), Timestamp::MIN);
}

// --- Validation and storage ------------------------------------------------

#[test]
fn schedule_rejects_unknown_zone_reversed_and_overlapping_intervals() {
    let weekly = WeeklyHours {
        monday: vec![iv("09:00", "12:00"), iv("11:00", "13:00")],
        tuesday: vec![iv("12:00", "09:00")],
        wednesday: vec![iv("09:00", "09:00")],
        ..WeeklyHours::default()
    };
    let error = WeeklySchedule::new(ScheduleSpec {
        time_zone: "Mars/Olympus_Mons".into(),
        weekly,
        overrides: BTreeMap::from([(
            date("2026-06-15"),
            DayOverride::Hours {
                intervals: vec![iv("08:00", "18:00"), iv("09:00", "10:00"), iv("11:00", "12:00")],
            },
        )]),
    })
    .unwrap_err();
    let found: Vec<(&str, &str)> = error.0.iter().map(|f| (f.field.as_str(), f.code.as_str())).collect();
    assert_eq!(
        found,
        vec![
            ("time_zone", "unknown_time_zone"),
            ("weekly.monday[1]", "overlapping_intervals"),
            ("weekly.tuesday[0].end", "end_not_after_start"),
            ("weekly.wednesday[0].end", "end_not_after_start"),
            ("overrides.2026-06-15.intervals[1]", "overlapping_intervals"),
            ("overrides.2026-06-15.intervals[2]", "overlapping_intervals"),
        ]
    );
}

#[test]
fn schedule_rejects_seconds_and_accepts_touching_intervals() {
    let weekly = WeeklyHours {
        friday: vec![iv("09:00:30", "10:00"), iv("10:00", "11:00")],
        ..WeeklyHours::default()
    };
    let error = WeeklySchedule::new(ScheduleSpec {
        time_zone: "UTC".into(),
        weekly,
        overrides: BTreeMap::new(),
    })
    .unwrap_err();
    let found: Vec<(&str, &str)> = error.0.iter().map(|f| (f.field.as_str(), f.code.as_str())).collect();
    assert_eq!(found, vec![("weekly.friday[0]", "not_whole_minute")]);
}

#[test]
fn slot_rules_reject_out_of_range_values() {
    let mut spec = SlotRulesSpec::with_duration(0);
    spec.slot_interval = Some(0);
    spec.seats = 0;
    spec.daily_limit = Some(0);
    spec.buffer_after = MAX_DURATION_MINUTES + 1;
    spec.window = BookingWindow::DateRange {
        start: date("2026-06-02"),
        end: date("2026-06-01"),
    };
    let error = SlotRules::new(spec).unwrap_err();
    let fields: Vec<&str> = error.0.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "duration",
            "slot_interval",
            "buffer_after",
            "window.end",
            "daily_limit",
            "seats"
        ]
    );
}

#[test]
fn schedule_and_rules_round_trip_through_json() {
    let json = r#"{
        "time_zone": "Europe/London",
        "weekly": {"monday": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "12:00"}],
                   "friday": [{"start": "20:00", "end": "24:00"}]},
        "overrides": {"2026-12-25": {"kind": "unavailable"},
                      "2026-12-24": {"kind": "hours", "intervals": [{"start": "09:00", "end": "11:00"}]}}
    }"#;
    let schedule: WeeklySchedule = serde_json::from_str(json).unwrap();
    assert_eq!(schedule.time_zone().iana_name(), Some("Europe/London"));
    assert_eq!(
        schedule.intervals_on(date("2026-06-15")),
        &[iv("09:00", "12:00"), iv("13:00", "17:00")]
    );
    assert_eq!(schedule.intervals_on(date("2026-06-19")), &[iv("20:00", "24:00")]);
    assert!(schedule.intervals_on(date("2026-12-25")).is_empty());
    let again: WeeklySchedule = serde_json::from_value(serde_json::to_value(&schedule).unwrap()).unwrap();
    assert_eq!(again, schedule);
    assert!(serde_json::to_string(&schedule).unwrap().contains(r#""end":"24:00""#));

    let lower: WeeklySchedule = serde_json::from_str(&json.replace("Europe/London", "europe/london")).unwrap();
    assert_eq!(lower.time_zone_name(), "Europe/London", "stored in canonical spelling");
    let fixed = json.replace("Europe/London", "+05:30");
    assert!(
        serde_json::from_str::<WeeklySchedule>(&fixed).is_err(),
        "offsets are not zones"
    );
    let bad = json.replace("Europe/London", "Europe/Atlantis");
    assert!(serde_json::from_str::<WeeklySchedule>(&bad).is_err());

    let rules: SlotRules = serde_json::from_str(
        r#"{"duration": 30, "slot_interval": 15, "window": {"kind": "rolling", "days": 30}, "seats": 3}"#,
    )
    .unwrap();
    assert_eq!(rules.slot_interval_minutes(), 15);
    assert_eq!(rules.seats(), 3);
    let again: SlotRules = serde_json::from_value(serde_json::to_value(&rules).unwrap()).unwrap();
    assert_eq!(again, rules);
    assert!(
        serde_json::from_str::<SlotRules>(r#"{"duration": 0, "window": {"kind": "rolling", "days": 30}}"#).is_err()
    );
}

#[test]
fn slot_interval_defaults_to_the_duration() {
    let rules = rules(45, |_| {});
    assert_eq!(rules.slot_interval_minutes(), 45);
}
