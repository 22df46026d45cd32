//! Appointment slots: pure computation, no I/O.
//!
//! From a [`WeeklySchedule`] (wall-clock hours in an IANA zone, with date
//! overrides), the event type's [`SlotRules`], the host's existing
//! [`Booked`] appointments and external [`Busy`] times, [`compute_slots`]
//! lists the bookable starts of a range grouped by the invitee's local date,
//! and [`is_bookable`] checks one start against the same rules at commit time.
//!
//! Rules, in the order [`is_bookable`] reports them:
//!
//! 1. **Availability.** Each interval of each schedule-zone date is turned
//!    into instants with jiff. A wall time stands for the *first instant whose
//!    wall clock reads that time or later*: a time skipped by a spring-forward
//!    gap is the instant the gap ends (New York, 2026-03-08: 02:30 → 03:00 EDT),
//!    a time repeated by a fall-back overlap is its earlier occurrence
//!    (2026-11-01: 01:30 → 01:30 EDT), and `24:00` is the start of the next
//!    date. Intervals that touch are joined. Candidate starts step by the
//!    slot interval in absolute time from each interval's start, and the whole
//!    slot `[start, start + duration]` must lie inside the interval.
//! 2. **Notice.** `start ≥ now + minimum_notice`.
//! 3. **Window.** The start's schedule-zone date is inside the window.
//! 4. **Conflicts and seats.** `[start − buffer_before, end + buffer_after)`
//!    meets no busy interval and no booking's `[start − its buffer_before,
//!    end + its buffer_after)` (half-open: back-to-back is fine). The one
//!    exception is this event type's own bookings at exactly the same start
//!    and end — a seated occurrence — which the slot joins while seats are
//!    left (`seats_left = seats − seats taken`).
//! 5. **Limits.** The daily (weekly) limit counts this event type's
//!    occurrences — distinct starts — on the slot's schedule-zone date (ISO
//!    week). Joining an existing seated occurrence is never limited: it adds
//!    no occurrence.

mod engine;
mod model;

pub use engine::{MAX_RANGE_DAYS, compute_slots, is_bookable, lookup_range};
pub use model::{
    Booked, BookingWindow, Busy, DayEnd, DayOverride, DaySlots, InvalidField, InvalidFields, MAX_DURATION_MINUTES,
    MAX_INTERVALS_PER_DAY, MAX_NOTICE_MINUTES, MAX_WINDOW_DAYS, ScheduleSpec, Slot, SlotInputs, SlotQueryError,
    SlotRejection, SlotRules, SlotRulesSpec, WallInterval, WeeklyHours, WeeklySchedule,
};

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
