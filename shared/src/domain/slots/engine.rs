//! The computation. Everything runs on whole Unix seconds (`i64`): slot
//! boundaries come from whole-minute wall times, so nothing is lost, and
//! integer comparisons keep the sweep cheap. Sub-second inputs are rounded
//! towards "less available" (blockers widened, bounds rounded up).

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::model::{
    Booked, BookingWindow, DayEnd, DaySlots, Slot, SlotInputs, SlotQueryError, SlotRejection, WallInterval,
};

/// Longest range one `compute_slots` call accepts. The booking page asks for
/// a month at a time; this only stops a caller from asking for centuries.
pub const MAX_RANGE_DAYS: u32 = 400;

const DAY: i64 = 86_400;

/// A half-open span `[start, end)` of Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    start: i64,
    end: i64,
}

/// Bookings of this event type at one exact `[start, end)`: a seated event's
/// attendees share it.
#[derive(Debug, Clone, Copy)]
struct Group {
    start: i64,
    end: i64,
    padded: Span,
    seats_taken: u32,
}

/// Blockers sorted once, so each candidate costs two binary searches.
struct Prepared<'a> {
    inputs: SlotInputs<'a>,
    tz: &'a TimeZone,
    duration: i64,
    step: i64,
    before: i64,
    after: i64,
    earliest: i64,
    /// Dates of the schedule zone on which slots may start.
    window: (Date, Date),
    /// Union of every blocker: busy times and all bookings with buffers.
    all: Vec<Span>,
    /// Union of the blockers a seated slot cannot share: busy times and other
    /// event types' bookings.
    hard: Vec<Span>,
    /// This event type's bookings, grouped by exact span, sorted by padded start.
    groups: Vec<Group>,
    /// Running maximum of `groups[..=i].padded.end`, to stop backward scans.
    groups_reach: Vec<i64>,
    /// Index into `groups` by exact `(start, end)`.
    group_at: HashMap<(i64, i64), usize>,
    daily: HashMap<Date, u32>,
    weekly: HashMap<(i16, i8), u32>,
}

fn floor_second(ts: Timestamp) -> i64 {
    i64::try_from(ts.as_nanosecond().div_euclid(1_000_000_000)).unwrap_or(i64::MIN)
}

fn ceil_second(ts: Timestamp) -> i64 {
    let nanos = ts.as_nanosecond();
    let floor = nanos.div_euclid(1_000_000_000);
    let ceil = if nanos.rem_euclid(1_000_000_000) == 0 {
        floor
    } else {
        floor + 1
    };
    i64::try_from(ceil).unwrap_or(i64::MAX)
}

fn minutes(m: u32) -> i64 {
    i64::from(m) * 60
}

fn timestamp(second: i64) -> Option<Timestamp> {
    Timestamp::from_second(second).ok()
}

/// Sorted, merged union of spans; empty spans vanish.
fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.retain(|s| s.start < s.end);
    spans.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// Whether `[start, end)` meets a sorted, merged union.
fn meets(spans: &[Span], start: i64, end: i64) -> bool {
    let i = spans.partition_point(|s| s.end <= start);
    spans.get(i).is_some_and(|s| s.start < end)
}

/// A booking's span widened by its own buffers; a reversed one is taken as
/// its two ends in order rather than dropped (a blocker errs on blocking).
fn padded(booked: &Booked) -> Span {
    let (a, b) = (floor_second(booked.start), ceil_second(booked.end));
    Span {
        start: a.min(b).saturating_sub(minutes(booked.buffer_before)),
        end: a.max(b).saturating_add(minutes(booked.buffer_after)),
    }
}

/// The instant a wall-clock time of the schedule zone stands for: the first
/// instant whose wall clock reads that time or later. So a time skipped by a
/// spring-forward gap is the instant the gap ends (02:30 on a New York
/// spring-forward day is 03:00 EDT), and a time repeated by a fall-back
/// overlap is its earlier occurrence (01:30 on a New York fall-back day is
/// 01:30 EDT).
pub(super) fn resolve(tz: &TimeZone, wall: DateTime) -> Option<i64> {
    let ambiguous = tz.to_ambiguous_timestamp(wall);
    let ts = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(wall).ok()?,
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(wall).ok()?,
        AmbiguousOffset::Gap { before, after } => {
            // Read with the later offset, the wall time lands inside the gap,
            // before the transition; the next transition is the gap's end.
            let inside = after.to_timestamp(wall).ok()?;
            match tz.following(inside).next() {
                Some(transition) => transition.timestamp(),
                None => before.to_timestamp(wall).ok()?,
            }
        }
    };
    Some(floor_second(ts))
}

/// One date's availability as instants, joined where intervals touch.
fn day_spans(tz: &TimeZone, date: Date, intervals: &[WallInterval]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::with_capacity(intervals.len());
    for interval in intervals {
        let Some(start) = resolve(tz, date.to_datetime(interval.start)) else {
            continue;
        };
        let end_wall = match interval.end {
            DayEnd::At(time) => date.to_datetime(time),
            DayEnd::EndOfDay => match date.tomorrow() {
                Ok(next) => next.to_datetime(Time::midnight()),
                Err(_) => continue,
            },
        };
        let Some(end) = resolve(tz, end_wall) else { continue };
        // Wholly inside a gap, an interval resolves to nothing.
        if start >= end {
            continue;
        }
        match spans.last_mut() {
            Some(last) if start <= last.end => last.end = last.end.max(end),
            _ => spans.push(Span { start, end }),
        }
    }
    spans
}

fn iso_week(date: Date) -> (i16, i8) {
    let week = date.iso_week_date();
    (week.year(), week.week())
}

impl<'a> Prepared<'a> {
    fn new(inputs: SlotInputs<'a>) -> Self {
        let rules = inputs.rules;
        let tz = inputs.schedule.time_zone();
        let mut all = Vec::with_capacity(inputs.bookings.len() + inputs.busy.len());
        let mut hard = Vec::with_capacity(all.capacity());
        for busy in inputs.busy {
            let (a, b) = (floor_second(busy.start), ceil_second(busy.end));
            let span = Span {
                start: a.min(b),
                end: a.max(b),
            };
            all.push(span);
            hard.push(span);
        }
        let mut same: HashMap<(i64, i64), Group> = HashMap::new();
        for booked in inputs.bookings {
            let span = padded(booked);
            all.push(span);
            if !booked.same_event_type {
                hard.push(span);
                continue;
            }
            let key = (floor_second(booked.start), ceil_second(booked.end));
            let group = same.entry(key).or_insert(Group {
                start: key.0,
                end: key.1,
                padded: span,
                seats_taken: 0,
            });
            group.seats_taken = group.seats_taken.saturating_add(booked.seats_taken);
            // Attendees may carry different buffers; the widest one counts.
            group.padded.start = group.padded.start.min(span.start);
            group.padded.end = group.padded.end.max(span.end);
        }
        let mut groups: Vec<Group> = same.into_values().collect();
        groups.sort_unstable_by_key(|g| (g.padded.start, g.start, g.end));
        let group_at = groups.iter().enumerate().map(|(i, g)| ((g.start, g.end), i)).collect();
        let mut groups_reach = Vec::with_capacity(groups.len());
        let mut reach = i64::MIN;
        for group in &groups {
            reach = reach.max(group.padded.end);
            groups_reach.push(reach);
        }

        // Limits count occurrences (distinct starts) of this event type, by
        // the schedule-zone date of their start.
        let mut starts: Vec<i64> = groups.iter().map(|g| g.start).collect();
        starts.sort_unstable();
        starts.dedup();
        let mut daily: HashMap<Date, u32> = HashMap::new();
        let mut weekly: HashMap<(i16, i8), u32> = HashMap::new();
        for start in starts.into_iter().filter_map(timestamp) {
            let date = tz.to_datetime(start).date();
            let day = daily.entry(date).or_insert(0);
            *day = day.saturating_add(1);
            let week = weekly.entry(iso_week(date)).or_insert(0);
            *week = week.saturating_add(1);
        }

        let earliest = ceil_second(inputs.now).saturating_add(minutes(rules.minimum_notice_minutes()));
        let window = match rules.window() {
            BookingWindow::Rolling { days } => {
                let today = tz.to_datetime(inputs.now).date();
                let last = today
                    .checked_add(jiff::Span::new().days(i64::from(days)))
                    .unwrap_or(Date::MAX);
                (today, last)
            }
            BookingWindow::DateRange { start, end } => (start, end),
        };
        Prepared {
            inputs,
            tz,
            duration: minutes(rules.duration_minutes()),
            // Validated ≥ 1 minute; the max keeps a zero step impossible anyway.
            step: minutes(rules.slot_interval_minutes()).max(60),
            before: minutes(rules.buffer_before_minutes()),
            after: minutes(rules.buffer_after_minutes()),
            earliest,
            window,
            all: union(all),
            hard: union(hard),
            groups,
            groups_reach,
            group_at,
            daily,
            weekly,
        }
    }

    /// Every rule except availability, for a start on the grid of `date`.
    /// Returns the seats left.
    fn check(&self, start: i64, end: i64, date: Date) -> Result<u32, SlotRejection> {
        if start < self.earliest {
            return Err(SlotRejection::TooSoon);
        }
        if date < self.window.0 || date > self.window.1 {
            return Err(SlotRejection::OutsideWindow);
        }
        let seats = self.inputs.rules.seats();
        let (lo, hi) = (start.saturating_sub(self.before), end.saturating_add(self.after));
        let seats_left = if !meets(&self.all, lo, hi) {
            seats
        } else {
            // Something is in the way: acceptable only if it is this event
            // type's own occurrence at exactly this time, with a seat left.
            let Some(&own) = self.group_at.get(&(start, end)) else {
                return Err(SlotRejection::Conflicts);
            };
            if meets(&self.hard, lo, hi) || self.other_group_meets(own, lo, hi) {
                return Err(SlotRejection::Conflicts);
            }
            let left = seats.saturating_sub(self.groups[own].seats_taken);
            if left == 0 {
                return Err(SlotRejection::NoSeatsLeft);
            }
            // Joining an occurrence that is already counted adds nothing to
            // the limits.
            return Ok(left);
        };
        let over = |count: Option<&u32>, limit: Option<u32>| limit.is_some_and(|l| count.copied().unwrap_or(0) >= l);
        if over(self.daily.get(&date), self.inputs.rules.daily_limit())
            || over(self.weekly.get(&iso_week(date)), self.inputs.rules.weekly_limit())
        {
            return Err(SlotRejection::LimitReached);
        }
        Ok(seats_left)
    }

    /// Whether a group other than `own` meets `[lo, hi)`: scan back from the
    /// last group starting before `hi` while the running reach says one could.
    fn other_group_meets(&self, own: usize, lo: i64, hi: i64) -> bool {
        let mut i = self.groups.partition_point(|g| g.padded.start < hi);
        while i > 0 {
            i -= 1;
            if self.groups_reach[i] <= lo {
                return false;
            }
            if i != own && self.groups[i].padded.end > lo {
                return true;
            }
        }
        false
    }

    /// The grid-aligned candidates of one availability span that start in
    /// `[lo, hi)`, each passed to `visit`.
    fn candidates(&self, span: Span, lo: i64, hi: i64, mut visit: impl FnMut(i64, i64)) {
        let skip = if lo > span.start {
            (lo - span.start + self.step - 1) / self.step
        } else {
            0
        };
        let mut start = span.start.saturating_add(skip.saturating_mul(self.step));
        while start < hi {
            let end = start.saturating_add(self.duration);
            if end > span.end {
                break;
            }
            visit(start, end);
            start = start.saturating_add(self.step);
        }
    }

    fn spans_on(&self, date: Date) -> Vec<Span> {
        day_spans(self.tz, date, self.inputs.schedule.intervals_on(date))
    }
}

/// Bookable slots starting in `[from, to)`, grouped by the invitee's local
/// date. See the module documentation for the rules.
pub fn compute_slots(
    inputs: SlotInputs<'_>,
    from: Timestamp,
    to: Timestamp,
    invitee_zone: &TimeZone,
) -> Result<Vec<DaySlots>, SlotQueryError> {
    let (from_s, to_s) = (ceil_second(from), ceil_second(to));
    if to_s.saturating_sub(from_s) > i64::from(MAX_RANGE_DAYS) * DAY {
        return Err(SlotQueryError::RangeTooLong {
            max_days: MAX_RANGE_DAYS,
        });
    }
    let prepared = Prepared::new(inputs);
    let lo = from_s.max(prepared.earliest);
    if lo >= to_s {
        return Ok(Vec::new());
    }
    let (Some(lo_ts), Some(hi_ts)) = (timestamp(lo), timestamp(to_s)) else {
        return Ok(Vec::new());
    };
    // The date before `lo`'s too: its 24:00 end is a start of day in the zone.
    let first = prepared.tz.to_datetime(lo_ts).date();
    let first = first.yesterday().unwrap_or(first).max(prepared.window.0);
    // And the date after `to`'s: across a fall-back at midnight an earlier
    // instant can carry a later date.
    let last = prepared.tz.to_datetime(hi_ts).date();
    let last = last.tomorrow().unwrap_or(last).min(prepared.window.1);

    let mut slots: Vec<(i64, i64, u32)> = Vec::new();
    let mut date = first;
    while date <= last {
        for span in prepared.spans_on(date) {
            prepared.candidates(span, lo, to_s, |start, end| {
                if let Ok(seats_left) = prepared.check(start, end, date) {
                    slots.push((start, end, seats_left));
                }
            });
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    // Dates are visited in order, but a fall-back overlap can make two dates'
    // spans interleave: sort, then drop repeated starts.
    slots.sort_by_key(|s| s.0);
    slots.dedup_by_key(|s| s.0);

    let mut days: Vec<DaySlots> = Vec::new();
    for (start, end, seats_left) in slots {
        let (Some(start), Some(end)) = (timestamp(start), timestamp(end)) else {
            continue;
        };
        let slot = Slot { start, end, seats_left };
        let local = invitee_zone.to_datetime(start).date();
        match days.last_mut() {
            Some(day) if day.date == local => day.slots.push(slot),
            _ => days.push(DaySlots {
                date: local,
                slots: vec![slot],
            }),
        }
    }
    Ok(days)
}

/// Checks one requested start against the same rules as [`compute_slots`]
/// (the booking service calls it at commit time). `Ok` exactly when
/// `compute_slots` over a range containing `start` would offer it.
pub fn is_bookable(inputs: SlotInputs<'_>, start: Timestamp) -> Result<(), SlotRejection> {
    if start.subsec_nanosecond() != 0 {
        return Err(SlotRejection::OutsideAvailability);
    }
    let prepared = Prepared::new(inputs);
    let start_s = floor_second(start);
    let end_s = start_s.saturating_add(prepared.duration);
    let date = prepared.tz.to_datetime(start).date();
    // A start belongs to its own date's grid, or (around a fall-back at
    // midnight) to a neighbour's: try each, as `compute_slots` does.
    let dates = [date.yesterday().ok(), Some(date), date.tomorrow().ok()];
    let mut first_error = None;
    for day in dates.into_iter().flatten() {
        for span in prepared.spans_on(day) {
            let on_grid = start_s >= span.start && end_s <= span.end && (start_s - span.start) % prepared.step == 0;
            if !on_grid {
                continue;
            }
            match prepared.check(start_s, end_s, day) {
                Ok(_) => return Ok(()),
                Err(reason) => {
                    first_error.get_or_insert(reason);
                }
            }
        }
    }
    Err(first_error.unwrap_or(SlotRejection::OutsideAvailability))
}

/// The instants whose bookings and busy times can affect slots starting in
/// `[from, to)`: limits count whole ISO weeks and buffers reach a day out, so
/// nine days either side is always enough.
pub fn lookup_range(from: Timestamp, to: Timestamp) -> (Timestamp, Timestamp) {
    let margin = jiff::SignedDuration::from_hours(9 * 24);
    (
        from.checked_sub(margin).unwrap_or(Timestamp::MIN),
        to.checked_add(margin).unwrap_or(Timestamp::MAX),
    )
}
