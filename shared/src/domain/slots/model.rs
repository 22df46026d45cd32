//! Input and output types of the slot engine. Inputs are stored as JSON, so
//! the validated types (`WeeklySchedule`, `SlotRules`) deserialize through
//! their specs and can never hold an invalid value.

use std::collections::BTreeMap;
use std::fmt;

use crate::domain::input::FieldError;
use jiff::Timestamp;
use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest slot duration, interval and buffer, in minutes: one day. A slot
/// must fit inside one day's availability, so anything longer is a typo.
pub const MAX_DURATION_MINUTES: u32 = 24 * 60;
/// Longest minimum notice, in minutes (one year).
pub const MAX_NOTICE_MINUTES: u32 = 366 * 24 * 60;
/// Longest rolling window and date-range window, in days (ten years).
pub const MAX_WINDOW_DAYS: u32 = 3_660;
/// Most intervals per day; keeps a stored schedule small.
pub const MAX_INTERVALS_PER_DAY: usize = 48;

/// Every problem found in one input, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", describe(.0))]
pub struct InvalidFields(pub Vec<FieldError>);

fn describe(fields: &[FieldError]) -> String {
    let parts: Vec<String> = fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect();
    parts.join("; ")
}

/// The end of a wall-clock interval: a time of day, or the end of the day
/// (written `24:00`), which is the start of the next date in the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DayEnd {
    At(Time),
    EndOfDay,
}

impl fmt::Display for DayEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DayEnd::At(time) => write!(f, "{}", time.strftime("%H:%M")),
            DayEnd::EndOfDay => f.write_str("24:00"),
        }
    }
}

impl Serialize for DayEnd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DayEnd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "24:00" || text == "24:00:00" {
            return Ok(DayEnd::EndOfDay);
        }
        text.parse::<Time>().map(DayEnd::At).map_err(serde::de::Error::custom)
    }
}

/// A wall-clock interval `[start, end)` of one day, e.g. 09:00–12:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WallInterval {
    /// `HH:MM`.
    #[serde(with = "hh_mm")]
    #[schemars(with = "String", regex(pattern = r"^\d{2}:\d{2}$"))]
    pub start: Time,
    /// `HH:MM`, or `24:00` for the end of the day.
    #[schemars(with = "String", regex(pattern = r"^\d{2}:\d{2}(:\d{2})?$"))]
    pub end: DayEnd,
}

impl WallInterval {
    pub fn new(start: Time, end: DayEnd) -> Self {
        Self { start, end }
    }
}

/// `HH:MM` for start times: schedules are whole minutes, and that is what
/// people type.
mod hh_mm {
    use jiff::civil::Time;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &Time, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&time.strftime("%H:%M"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Time, D::Error> {
        String::deserialize(deserializer)?
            .parse::<Time>()
            .map_err(serde::de::Error::custom)
    }
}

/// Weekly hours, one list per weekday (empty = not available that day).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WeeklyHours {
    pub monday: Vec<WallInterval>,
    pub tuesday: Vec<WallInterval>,
    pub wednesday: Vec<WallInterval>,
    pub thursday: Vec<WallInterval>,
    pub friday: Vec<WallInterval>,
    pub saturday: Vec<WallInterval>,
    pub sunday: Vec<WallInterval>,
}

impl WeeklyHours {
    pub fn day(&self, weekday: Weekday) -> &[WallInterval] {
        match weekday {
            Weekday::Monday => &self.monday,
            Weekday::Tuesday => &self.tuesday,
            Weekday::Wednesday => &self.wednesday,
            Weekday::Thursday => &self.thursday,
            Weekday::Friday => &self.friday,
            Weekday::Saturday => &self.saturday,
            Weekday::Sunday => &self.sunday,
        }
    }

    pub fn day_mut(&mut self, weekday: Weekday) -> &mut Vec<WallInterval> {
        match weekday {
            Weekday::Monday => &mut self.monday,
            Weekday::Tuesday => &mut self.tuesday,
            Weekday::Wednesday => &mut self.wednesday,
            Weekday::Thursday => &mut self.thursday,
            Weekday::Friday => &mut self.friday,
            Weekday::Saturday => &mut self.saturday,
            Weekday::Sunday => &mut self.sunday,
        }
    }

    /// The same hours on each of the given days.
    pub fn on(days: &[Weekday], intervals: &[WallInterval]) -> Self {
        let mut hours = Self::default();
        for day in days {
            hours.day_mut(*day).extend_from_slice(intervals);
        }
        hours
    }
}

/// What one civil date looks like instead of its weekday's hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DayOverride {
    Unavailable,
    Hours { intervals: Vec<WallInterval> },
}

/// The stored (and unvalidated) form of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// IANA time zone name, e.g. `Europe/London`.
    pub time_zone: String,
    #[serde(default)]
    pub weekly: WeeklyHours,
    #[serde(default)]
    pub overrides: BTreeMap<Date, DayOverride>,
}

/// Weekly availability in an IANA zone with date overrides, validated: the
/// zone exists, every interval ends after it starts, is whole minutes, and
/// no two intervals of a day overlap. Intervals are kept sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleSpec", into = "ScheduleSpec")]
pub struct WeeklySchedule {
    spec: ScheduleSpec,
    tz: TimeZone,
}

impl WeeklySchedule {
    pub fn new(mut spec: ScheduleSpec) -> Result<Self, InvalidFields> {
        let mut errors = Vec::new();
        // Only IANA names (a fixed offset would ignore DST). Lookup is
        // case-insensitive; the canonical spelling is what gets stored.
        let tz = TimeZone::get(&spec.time_zone).ok().and_then(|tz| {
            let name = tz.iana_name()?.to_owned();
            Some((tz, name))
        });
        let tz = match tz {
            Some((tz, name)) => {
                spec.time_zone = name;
                Some(tz)
            }
            None => {
                errors.push(FieldError::new(
                    "time_zone",
                    "unknown_time_zone",
                    format!("`{}` is not an IANA time zone name.", spec.time_zone),
                ));
                None
            }
        };
        for weekday in WEEKDAYS {
            let field = format!("weekly.{}", weekday_name(weekday));
            check_day(&field, spec.weekly.day_mut(weekday), &mut errors);
        }
        for (date, day) in spec.overrides.iter_mut() {
            if let DayOverride::Hours { intervals } = day {
                check_day(&format!("overrides.{date}.intervals"), intervals, &mut errors);
            }
        }
        match tz {
            Some(tz) if errors.is_empty() => Ok(Self { spec, tz }),
            _ => Err(InvalidFields(errors)),
        }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn time_zone_name(&self) -> &str {
        &self.spec.time_zone
    }

    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    /// The wall-clock intervals of one civil date: its override if any,
    /// otherwise its weekday's hours. Sorted, non-overlapping.
    pub fn intervals_on(&self, date: Date) -> &[WallInterval] {
        match self.spec.overrides.get(&date) {
            Some(DayOverride::Unavailable) => &[],
            Some(DayOverride::Hours { intervals }) => intervals,
            None => self.spec.weekly.day(date.weekday()),
        }
    }
}

impl TryFrom<ScheduleSpec> for WeeklySchedule {
    type Error = InvalidFields;
    fn try_from(spec: ScheduleSpec) -> Result<Self, Self::Error> {
        Self::new(spec)
    }
}

impl From<WeeklySchedule> for ScheduleSpec {
    fn from(schedule: WeeklySchedule) -> Self {
        schedule.spec
    }
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "monday",
        Weekday::Tuesday => "tuesday",
        Weekday::Wednesday => "wednesday",
        Weekday::Thursday => "thursday",
        Weekday::Friday => "friday",
        Weekday::Saturday => "saturday",
        Weekday::Sunday => "sunday",
    }
}

fn whole_minute(time: Time) -> bool {
    time.second() == 0 && time.subsec_nanosecond() == 0
}

/// Validates one day's intervals and sorts them. Errors name the index the
/// caller sent, not the sorted position.
fn check_day(field: &str, intervals: &mut [WallInterval], errors: &mut Vec<FieldError>) {
    if intervals.len() > MAX_INTERVALS_PER_DAY {
        errors.push(FieldError::new(
            field,
            "too_many_intervals",
            format!("At most {MAX_INTERVALS_PER_DAY} intervals per day."),
        ));
        return;
    }
    for (index, interval) in intervals.iter().enumerate() {
        let at = format!("{field}[{index}]");
        let end_whole = match interval.end {
            DayEnd::At(time) => whole_minute(time),
            DayEnd::EndOfDay => true,
        };
        if !whole_minute(interval.start) || !end_whole {
            errors.push(FieldError::new(
                at.clone(),
                "not_whole_minute",
                "Times must be whole minutes (HH:MM).",
            ));
        }
        if interval.end <= DayEnd::At(interval.start) {
            errors.push(FieldError::new(
                format!("{at}.end"),
                "end_not_after_start",
                format!(
                    "The end ({}) must be after the start ({}).",
                    interval.end,
                    DayEnd::At(interval.start)
                ),
            ));
        }
    }
    let mut order: Vec<usize> = (0..intervals.len()).collect();
    order.sort_by_key(|&i| (intervals[i].start, intervals[i].end));
    // The earlier interval reaching furthest: one long interval may cover
    // several later ones, not only its neighbour.
    let mut reach: Option<usize> = None;
    for &i in &order {
        let b = intervals[i];
        if let Some(r) = reach {
            // Touching (12:00 end, 12:00 start) is fine; the engine joins them.
            if DayEnd::At(b.start) < intervals[r].end {
                errors.push(FieldError::new(
                    format!("{field}[{i}]"),
                    "overlapping_intervals",
                    format!("This interval overlaps the one at index {r}."),
                ));
            }
        }
        let valid = b.end > DayEnd::At(b.start);
        if valid && reach.is_none_or(|r| b.end > intervals[r].end) {
            reach = Some(i);
        }
    }
    intervals.sort_by_key(|i| (i.start, i.end));
}

/// How far ahead invitees may book, in civil dates of the schedule's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BookingWindow {
    /// Today and the next `days` dates (as Cal.com's "N calendar days into
    /// the future"): with `days = 30` on June 1st, June 1st–July 1st.
    Rolling { days: u32 },
    /// From `start` to `end`, both included.
    DateRange { start: Date, end: Date },
}

/// The stored (and unvalidated) form of an event type's slot rules. Every
/// duration is in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotRulesSpec {
    pub duration: u32,
    /// Step between candidate starts; `None` means the duration.
    #[serde(default)]
    pub slot_interval: Option<u32>,
    #[serde(default)]
    pub buffer_before: u32,
    #[serde(default)]
    pub buffer_after: u32,
    #[serde(default)]
    pub minimum_notice: u32,
    pub window: BookingWindow,
    #[serde(default)]
    pub daily_limit: Option<u32>,
    #[serde(default)]
    pub weekly_limit: Option<u32>,
    #[serde(default = "one_seat")]
    pub seats: u32,
}

fn one_seat() -> u32 {
    1
}

impl SlotRulesSpec {
    /// A duration with every other rule at its default and a 60-day rolling window.
    pub fn with_duration(minutes: u32) -> Self {
        Self {
            duration: minutes,
            slot_interval: None,
            buffer_before: 0,
            buffer_after: 0,
            minimum_notice: 0,
            window: BookingWindow::Rolling { days: 60 },
            daily_limit: None,
            weekly_limit: None,
            seats: 1,
        }
    }
}

/// Validated slot rules of an event type (minutes, bounded; seats ≥ 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SlotRulesSpec", into = "SlotRulesSpec")]
pub struct SlotRules {
    spec: SlotRulesSpec,
}

impl SlotRules {
    pub fn new(spec: SlotRulesSpec) -> Result<Self, InvalidFields> {
        let mut errors = Vec::new();
        let mut minutes = |field: &str, value: u32, min: u32, max: u32| {
            if value < min || value > max {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    format!("Must be between {min} and {max} minutes."),
                ));
            }
        };
        minutes("duration", spec.duration, 1, MAX_DURATION_MINUTES);
        if let Some(interval) = spec.slot_interval {
            minutes("slot_interval", interval, 1, MAX_DURATION_MINUTES);
        }
        minutes("buffer_before", spec.buffer_before, 0, MAX_DURATION_MINUTES);
        minutes("buffer_after", spec.buffer_after, 0, MAX_DURATION_MINUTES);
        minutes("minimum_notice", spec.minimum_notice, 0, MAX_NOTICE_MINUTES);
        match spec.window {
            BookingWindow::Rolling { days } if days > MAX_WINDOW_DAYS => errors.push(FieldError::new(
                "window.days",
                "out_of_range",
                format!("At most {MAX_WINDOW_DAYS} days."),
            )),
            BookingWindow::DateRange { start, end } if end < start => errors.push(FieldError::new(
                "window.end",
                "end_before_start",
                "The last date must not be before the first.",
            )),
            _ => {}
        }
        for (field, limit) in [("daily_limit", spec.daily_limit), ("weekly_limit", spec.weekly_limit)] {
            if limit == Some(0) {
                errors.push(FieldError::new(
                    field,
                    "out_of_range",
                    "A limit must be at least 1 (omit it for none).",
                ));
            }
        }
        if spec.seats == 0 {
            errors.push(FieldError::new("seats", "out_of_range", "At least one seat."));
        }
        if errors.is_empty() {
            Ok(Self { spec })
        } else {
            Err(InvalidFields(errors))
        }
    }

    pub fn spec(&self) -> &SlotRulesSpec {
        &self.spec
    }
    pub fn duration_minutes(&self) -> u32 {
        self.spec.duration
    }
    /// The step between candidate starts (the duration unless set).
    pub fn slot_interval_minutes(&self) -> u32 {
        self.spec.slot_interval.unwrap_or(self.spec.duration)
    }
    pub fn buffer_before_minutes(&self) -> u32 {
        self.spec.buffer_before
    }
    pub fn buffer_after_minutes(&self) -> u32 {
        self.spec.buffer_after
    }
    pub fn minimum_notice_minutes(&self) -> u32 {
        self.spec.minimum_notice
    }
    pub fn window(&self) -> BookingWindow {
        self.spec.window
    }
    pub fn daily_limit(&self) -> Option<u32> {
        self.spec.daily_limit
    }
    pub fn weekly_limit(&self) -> Option<u32> {
        self.spec.weekly_limit
    }
    pub fn seats(&self) -> u32 {
        self.spec.seats
    }
}

impl TryFrom<SlotRulesSpec> for SlotRules {
    type Error = InvalidFields;
    fn try_from(spec: SlotRulesSpec) -> Result<Self, Self::Error> {
        Self::new(spec)
    }
}

impl From<SlotRules> for SlotRulesSpec {
    fn from(rules: SlotRules) -> Self {
        rules.spec
    }
}

/// An existing (not cancelled) booking of the host, with the buffers of its
/// own event type in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booked {
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(default)]
    pub buffer_before: u32,
    #[serde(default)]
    pub buffer_after: u32,
    /// Booked through the event type whose slots are being computed.
    pub same_event_type: bool,
    /// Attendees of this booking in a seated event (1 for a normal one).
    #[serde(default = "one_seat")]
    pub seats_taken: u32,
}

/// An external busy interval `[start, end)` (e.g. Google Calendar).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl From<(Timestamp, Timestamp)> for Busy {
    fn from((start, end): (Timestamp, Timestamp)) -> Self {
        Self { start, end }
    }
}

/// One bookable time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
    pub seats_left: u32,
}

/// The slots starting on one date of the invitee's zone, sorted by start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySlots {
    pub date: Date,
    pub slots: Vec<Slot>,
}

/// Everything the engine knows about the host at one moment.
#[derive(Debug, Clone, Copy)]
pub struct SlotInputs<'a> {
    pub schedule: &'a WeeklySchedule,
    pub rules: &'a SlotRules,
    /// The host's bookings; for limits, include those of the ISO weeks
    /// touching the range (see [`super::lookup_range`]).
    pub bookings: &'a [Booked],
    pub busy: &'a [Busy],
    pub now: Timestamp,
}

/// Why one requested start cannot be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum SlotRejection {
    #[error("this time is not offered by the schedule")]
    OutsideAvailability,
    #[error("this time is sooner than the minimum notice")]
    TooSoon,
    #[error("this time is outside the booking window")]
    OutsideWindow,
    #[error("this time conflicts with another booking or busy time")]
    Conflicts,
    #[error("the daily or weekly booking limit is reached")]
    LimitReached,
    #[error("every seat of this time is taken")]
    NoSeatsLeft,
}

impl SlotRejection {
    /// Stable machine code, for problem+json.
    pub fn code(self) -> &'static str {
        match self {
            SlotRejection::OutsideAvailability => "outside_availability",
            SlotRejection::TooSoon => "too_soon",
            SlotRejection::OutsideWindow => "outside_window",
            SlotRejection::Conflicts => "conflicts",
            SlotRejection::LimitReached => "limit_reached",
            SlotRejection::NoSeatsLeft => "no_seats_left",
        }
    }
}

/// A slot request the engine refuses to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlotQueryError {
    #[error("the requested range is longer than {max_days} days")]
    RangeTooLong { max_days: u32 },
}

impl SlotQueryError {
    pub fn code(self) -> &'static str {
        match self {
            SlotQueryError::RangeTooLong { .. } => "range_too_long",
        }
    }
}
