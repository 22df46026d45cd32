//! Event types: what invitees book (title, public slug, durations, location,
//! host and schedule, the slot rules, questions and the reminder plan).

use crate::domain::ids::EventTypeId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::schedules::{self, ScheduleRecord};
use super::{
    Caller, SchedulingError, event_slug_key, event_type_key, invalid, is_member, merge_patch, parse_input, prefixed,
    required_text, schedule_key,
};
use crate::domain::billing::Limit;
use crate::domain::input::FieldError;
use crate::domain::slots::{BookingWindow, MAX_DURATION_MINUTES, SlotRules, SlotRulesSpec};
use crate::domain::slug::Slug;
use crate::ports::{Condition, StoreError, Table, Update, WriteOp};
use crate::ports::{HasClock, HasConfig, HasTable};
use crate::services::audit;
use crate::services::records::{from_item, new_id, to_item};
use crate::services::reminders::{Channel, ReminderOffset, default_plan};

pub const MAX_DURATIONS: usize = 8;
pub const MAX_QUESTIONS: usize = 20;
pub const MAX_REMINDERS: usize = 5;
/// SMS per appointment stay within 1–3: the confirmation plus at most two reminders.
pub const MAX_SMS_REMINDERS: usize = 2;
/// The longest reminder offset: 30 days.
pub const MAX_REMINDER_OFFSET_MINUTES: u32 = 30 * 24 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Location {
    InPerson {
        address: String,
    },
    /// The host calls the invitee (on the phone they give) or the invitee
    /// calls `number`.
    Phone {
        #[serde(default)]
        number: Option<String>,
    },
    /// Shared with the invitee once booked.
    Video {
        url: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    ShortText,
    LongText,
    Select,
    MultiSelect,
    Checkbox,
    Number,
    Phone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable key of the answer, e.g. `reason`.
    pub id: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: QuestionKind,
    #[serde(default)]
    pub required: bool,
    /// Choices of `select` and `multi_select`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

fn default_window() -> BookingWindow {
    BookingWindow::Rolling { days: 60 }
}
fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}

/// What a caller sends to create an event type (and what a PATCH overlays).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypeInput {
    #[serde(default)]
    pub title: String,
    /// Defaults to one made from the title.
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Offered durations in minutes.
    #[serde(default)]
    pub durations: Vec<u32>,
    /// One of `durations`; defaults to the first.
    #[serde(default)]
    pub default_duration: Option<u32>,
    #[serde(default)]
    pub location: Option<Location>,
    /// The member who hosts; defaults to the caller.
    #[serde(default)]
    pub host_user_id: Option<UserId>,
    #[serde(default)]
    pub schedule_id: String,
    #[serde(default)]
    pub buffer_before: u32,
    #[serde(default)]
    pub buffer_after: u32,
    #[serde(default)]
    pub minimum_notice: u32,
    #[serde(default = "default_window")]
    pub window: BookingWindow,
    #[serde(default)]
    pub slot_interval: Option<u32>,
    #[serde(default)]
    pub daily_limit: Option<u32>,
    #[serde(default)]
    pub weekly_limit: Option<u32>,
    #[serde(default = "one")]
    pub seats: u32,
    #[serde(default)]
    pub requires_confirmation: bool,
    #[serde(default)]
    pub questions: Vec<Question>,
    #[serde(default = "default_plan")]
    pub reminders: Vec<ReminderOffset>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventTypeRecord {
    pub id: EventTypeId,
    pub org_id: OrgId,
    pub title: String,
    pub slug: String,
    pub description: String,
    pub durations: Vec<u32>,
    pub default_duration: u32,
    pub location: Option<Location>,
    pub host_user_id: UserId,
    pub schedule_id: String,
    pub buffer_before: u32,
    pub buffer_after: u32,
    pub minimum_notice: u32,
    pub window: BookingWindow,
    pub slot_interval: Option<u32>,
    pub daily_limit: Option<u32>,
    pub weekly_limit: Option<u32>,
    pub seats: u32,
    pub requires_confirmation: bool,
    pub questions: Vec<Question>,
    pub reminders: Vec<ReminderOffset>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

impl EventTypeRecord {
    /// The slot rules for one of the offered durations.
    pub fn rules(&self, duration: u32) -> Result<SlotRules, SchedulingError> {
        if !self.durations.contains(&duration) {
            return Err(SchedulingError::field(
                "duration",
                "not_offered",
                format!("Choose one of {:?} minutes.", self.durations),
            ));
        }
        SlotRules::new(self.rules_spec(duration)).map_err(|e| SchedulingError::Internal(e.to_string()))
    }

    fn rules_spec(&self, duration: u32) -> SlotRulesSpec {
        SlotRulesSpec {
            duration,
            slot_interval: self.slot_interval,
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            minimum_notice: self.minimum_notice,
            window: self.window,
            daily_limit: self.daily_limit,
            weekly_limit: self.weekly_limit,
            seats: self.seats,
        }
    }

    fn input(&self) -> EventTypeInput {
        EventTypeInput {
            title: self.title.clone(),
            slug: Some(self.slug.clone()),
            description: self.description.clone(),
            durations: self.durations.clone(),
            default_duration: Some(self.default_duration),
            location: self.location.clone(),
            host_user_id: Some(self.host_user_id.clone()),
            schedule_id: self.schedule_id.clone(),
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            minimum_notice: self.minimum_notice,
            window: self.window,
            slot_interval: self.slot_interval,
            daily_limit: self.daily_limit,
            weekly_limit: self.weekly_limit,
            seats: self.seats,
            requires_confirmation: self.requires_confirmation,
            questions: self.questions.clone(),
            reminders: self.reminders.clone(),
            active: self.active,
        }
    }
}

/// The slug pointer: unique per org, and it carries what the public booking
/// path needs to read everything else in one batch.
fn slug_pointer(org_id: &OrgId, record: &EventTypeRecord) -> Result<WriteOp, StoreError> {
    let key = event_slug_key(org_id, &record.slug);
    Ok(WriteOp::Put {
        item: to_item(
            &key,
            &json!({
                "event_type_id": record.id,
                "host_user_id": record.host_user_id,
                "schedule_id": record.schedule_id,
            }),
            &[],
        )?,
        condition: None,
    })
}

fn check_location(location: &Option<Location>, errors: &mut Vec<FieldError>) -> Option<Location> {
    let location = location.clone()?;
    Some(match location {
        Location::InPerson { address } => Location::InPerson {
            address: required_text("location.address", &address, 300, errors),
        },
        Location::Phone { number } => Location::Phone {
            number: number.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()),
        },
        Location::Video { url } => {
            let url = url.trim().to_string();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 || url.contains(' ') {
                errors.push(invalid(
                    "location.url",
                    "invalid_url",
                    "Use a full http(s) address of the meeting room.",
                ));
            }
            Location::Video { url }
        }
    })
}

fn check_questions(questions: &[Question], errors: &mut Vec<FieldError>) -> Vec<Question> {
    if questions.len() > MAX_QUESTIONS {
        errors.push(invalid(
            "questions",
            "too_many",
            format!("At most {MAX_QUESTIONS} questions."),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(questions.len());
    for (i, q) in questions.iter().enumerate() {
        let at = format!("questions[{i}]");
        let id = q.id.trim().to_string();
        let id_ok = (1..=40).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !id_ok {
            errors.push(invalid(
                format!("{at}.id"),
                "invalid_id",
                "Use 1 to 40 lower-case letters, digits, '_' or '-'.",
            ));
        } else if !seen.insert(id.clone()) {
            errors.push(invalid(
                format!("{at}.id"),
                "duplicate",
                "Each question needs its own id.",
            ));
        }
        let label = required_text(&format!("{at}.label"), &q.label, 200, errors);
        let options: Vec<String> = q.options.iter().map(|o| o.trim().to_string()).collect();
        let is_select = matches!(q.kind, QuestionKind::Select | QuestionKind::MultiSelect);
        let options_ok =
            !options.is_empty() && options.len() <= 50 && options.iter().all(|o| !o.is_empty() && o.len() <= 200);
        if is_select && !options_ok {
            errors.push(invalid(
                format!("{at}.options"),
                "invalid_options",
                "Give 1 to 50 non-empty choices.",
            ));
        } else if !is_select && !options.is_empty() {
            errors.push(invalid(
                format!("{at}.options"),
                "unexpected",
                "Only select questions have choices.",
            ));
        }
        out.push(Question {
            id,
            label,
            kind: q.kind,
            required: q.required,
            options,
        });
    }
    out
}

fn check_reminders(plan: &[ReminderOffset], errors: &mut Vec<FieldError>) -> Vec<ReminderOffset> {
    if plan.len() > MAX_REMINDERS {
        errors.push(invalid(
            "reminders",
            "too_many",
            format!("At most {MAX_REMINDERS} reminders."),
        ));
    }
    let mut offsets = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(plan.len());
    for (i, r) in plan.iter().enumerate() {
        let at = format!("reminders[{i}]");
        if r.offset_minutes == 0 || r.offset_minutes > MAX_REMINDER_OFFSET_MINUTES {
            errors.push(invalid(
                format!("{at}.offset_minutes"),
                "out_of_range",
                format!("Between 1 and {MAX_REMINDER_OFFSET_MINUTES} minutes before the start."),
            ));
        } else if !offsets.insert(r.offset_minutes) {
            errors.push(invalid(
                format!("{at}.offset_minutes"),
                "duplicate",
                "Each reminder needs its own offset.",
            ));
        }
        let mut channels = r.channels.clone();
        channels.sort();
        channels.dedup();
        if channels.is_empty() {
            errors.push(invalid(
                format!("{at}.channels"),
                "required",
                "Choose email, SMS or both.",
            ));
        }
        out.push(ReminderOffset {
            offset_minutes: r.offset_minutes,
            channels,
        });
    }
    if out.iter().filter(|r| r.channels.contains(&Channel::Sms)).count() > MAX_SMS_REMINDERS {
        errors.push(invalid(
            "reminders",
            "too_many_sms",
            format!("At most {MAX_SMS_REMINDERS} SMS reminders: an appointment gets no more than 3 SMS."),
        ));
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.offset_minutes));
    out
}

struct Valid {
    record: EventTypeRecord,
    schedule: ScheduleRecord,
}

/// Checks every field and reads the host's membership and the schedule.
async fn validate(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    input: EventTypeInput,
    id: EventTypeId,
) -> Result<Valid, SchedulingError> {
    let mut errors = Vec::new();
    let title = required_text("title", &input.title, 120, &mut errors);
    let slug = match &input.slug {
        Some(raw) => match Slug::parse(raw) {
            Ok(slug) => slug.as_str().to_string(),
            Err(err) => {
                errors.push(invalid("slug", err.code(), err.message()));
                raw.clone()
            }
        },
        None => Slug::suggest(&title).as_str().to_string(),
    };
    let description = input.description.trim().to_string();
    if description.chars().count() > 5000 {
        errors.push(invalid("description", "too_long", "Use at most 5000 characters."));
    }
    let mut durations = input.durations.clone();
    if durations.is_empty() {
        errors.push(invalid("durations", "required", "Offer at least one duration."));
    }
    if durations.len() > MAX_DURATIONS {
        errors.push(invalid(
            "durations",
            "too_many",
            format!("At most {MAX_DURATIONS} durations."),
        ));
    }
    for (i, d) in durations.iter().enumerate() {
        if *d == 0 || *d > MAX_DURATION_MINUTES {
            errors.push(invalid(
                format!("durations[{i}]"),
                "out_of_range",
                format!("Must be between 1 and {MAX_DURATION_MINUTES} minutes."),
            ));
        }
    }
    let count = durations.len();
    durations.sort_unstable();
    durations.dedup();
    if durations.len() != count {
        errors.push(invalid("durations", "duplicate", "Each duration once."));
    }
    let default_duration = input
        .default_duration
        .or_else(|| input.durations.first().copied())
        .unwrap_or(0);
    if !durations.is_empty() && !durations.contains(&default_duration) {
        errors.push(invalid(
            "default_duration",
            "not_offered",
            "The default duration must be one of the durations.",
        ));
    }
    let location = check_location(&input.location, &mut errors);
    let questions = check_questions(&input.questions, &mut errors);
    let reminders = check_reminders(&input.reminders, &mut errors);

    let host_user_id = input.host_user_id.clone().unwrap_or_else(|| caller.user_id.clone());
    caller.may_manage_for(&host_user_id)?;
    let now = state.clock().now();
    let record = EventTypeRecord {
        id,
        org_id: caller.org_id.clone(),
        title,
        slug,
        description,
        durations,
        default_duration,
        location,
        host_user_id: host_user_id.clone(),
        schedule_id: input.schedule_id.trim().to_string(),
        buffer_before: input.buffer_before,
        buffer_after: input.buffer_after,
        minimum_notice: input.minimum_notice,
        window: input.window,
        slot_interval: input.slot_interval,
        daily_limit: input.daily_limit,
        weekly_limit: input.weekly_limit,
        seats: input.seats,
        requires_confirmation: input.requires_confirmation,
        questions,
        reminders,
        active: input.active,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        version: 1,
    };
    // The slot rules, checked once with the default duration (the other
    // durations were range-checked above).
    if let Err(fields) = SlotRules::new(record.rules_spec(default_duration.clamp(1, MAX_DURATION_MINUTES))) {
        errors.extend(prefixed("", fields.0).into_iter().filter(|f| f.field != "duration"));
    }
    if !is_member(state.table().as_ref(), &caller.org_id, &host_user_id).await? {
        errors.push(invalid(
            "host_user_id",
            "not_a_member",
            "The host must be a member of this organization.",
        ));
    }
    let schedule = if record.schedule_id.is_empty() {
        errors.push(invalid("schedule_id", "required", "Choose the host's schedule."));
        None
    } else {
        match schedules::get_record(state.table().as_ref(), &caller.org_id, &record.schedule_id).await {
            Ok(schedule) if schedule.owner_user_id == host_user_id => Some(schedule),
            Ok(_) => {
                errors.push(invalid(
                    "schedule_id",
                    "not_hosts_schedule",
                    "The schedule must belong to the host.",
                ));
                None
            }
            Err(SchedulingError::NotFound) => {
                errors.push(invalid("schedule_id", "not_found", "No such schedule."));
                None
            }
            Err(err) => return Err(err),
        }
    };
    match schedule {
        Some(schedule) if errors.is_empty() => Ok(Valid { record, schedule }),
        _ => Err(SchedulingError::Invalid(errors)),
    }
}

fn slug_taken() -> SchedulingError {
    SchedulingError::Invalid(vec![invalid(
        "slug",
        "slug_taken",
        "Another event type of this organization uses this address.",
    )])
}

fn schedule_gone() -> SchedulingError {
    SchedulingError::field("schedule_id", "not_found", "No such schedule.")
}

fn used_by(org_id: &OrgId, schedule_id: &str, by: i64, must_exist: bool) -> WriteOp {
    WriteOp::Update {
        key: schedule_key(org_id, schedule_id),
        update: Update::default().add("used_by", by),
        condition: must_exist.then_some(Condition::Exists),
    }
}

pub async fn create(
    state: &(impl HasTable + HasClock + HasConfig),
    caller: &Caller,
    input: EventTypeInput,
) -> Result<EventTypeRecord, SchedulingError> {
    crate::services::billing::limits::ensure_room(state, &caller.org_id, Limit::EventTypes).await?;
    let Valid { record, schedule } = validate(state, caller, input, EventTypeId::new(new_id())).await?;
    let now = state.clock().now();
    let ops = vec![
        WriteOp::Put {
            item: to_item(
                &event_slug_key(&caller.org_id, &record.slug),
                &json!({
                    "event_type_id": record.id,
                    "host_user_id": record.host_user_id,
                    "schedule_id": record.schedule_id,
                }),
                &[],
            )?,
            condition: Some(Condition::NotExists),
        },
        WriteOp::Put {
            item: to_item(&event_type_key(&caller.org_id, &record.id), &record, &[])?,
            condition: Some(Condition::NotExists),
        },
        used_by(&caller.org_id, &schedule.id, 1, true),
        audit::entry(
            &caller.actor,
            now,
            "event_type.create",
            &format!("event_type:{}", record.id),
            json!({"title": record.title, "slug": record.slug}),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(record),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(slug_taken()),
        Err(StoreError::TransactionConditionFailed { index: 2 }) => Err(schedule_gone()),
        Err(err) => Err(err.into()),
    }
}

pub async fn get_record(
    table: &dyn Table,
    org_id: &OrgId,
    id: &EventTypeId,
) -> Result<EventTypeRecord, SchedulingError> {
    let item = table
        .get(&event_type_key(org_id, id))
        .await?
        .ok_or(SchedulingError::NotFound)?;
    Ok(from_item(item)?)
}

pub async fn list(state: &impl HasTable, caller: &Caller) -> Result<Vec<EventTypeRecord>, SchedulingError> {
    super::list_in_org(state.table().as_ref(), &caller.org_id, "EVENTTYPE#").await
}

pub async fn update(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    id: &EventTypeId,
    patch: Value,
) -> Result<EventTypeRecord, SchedulingError> {
    let old = get_record(state.table().as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&old.host_user_id)?;
    let base = serde_json::to_value(old.input()).map_err(|e| SchedulingError::Internal(e.to_string()))?;
    let input: EventTypeInput = parse_input(merge_patch(base, patch)?)?;
    let Valid { mut record, schedule } = validate(state, caller, input, old.id.clone()).await?;
    let now = state.clock().now();
    record.created_at = old.created_at.clone();
    record.updated_at = now.to_string();
    record.version = old.version + 1;

    let mut ops = vec![WriteOp::Put {
        item: to_item(&event_type_key(&caller.org_id, id), &record, &[])?,
        condition: Some(Condition::VersionEquals(old.version)),
    }];
    let mut new_slug_at = None;
    if record.slug != old.slug {
        ops.push(WriteOp::Delete {
            key: event_slug_key(&caller.org_id, &old.slug),
            condition: None,
        });
        new_slug_at = Some(ops.len());
        let WriteOp::Put { item, .. } = slug_pointer(&caller.org_id, &record)? else {
            return Err(SchedulingError::Internal("slug pointer is a put".into()));
        };
        ops.push(WriteOp::Put {
            item,
            condition: Some(Condition::NotExists),
        });
    } else {
        ops.push(slug_pointer(&caller.org_id, &record)?);
    }
    let mut new_schedule_at = None;
    if schedule.id != old.schedule_id {
        ops.push(used_by(&caller.org_id, &old.schedule_id, -1, false));
        new_schedule_at = Some(ops.len());
        ops.push(used_by(&caller.org_id, &schedule.id, 1, true));
    }
    ops.push(audit::entry(
        &caller.actor,
        now,
        "event_type.update",
        &format!("event_type:{id}"),
        json!({"title": record.title, "slug": record.slug, "active": record.active}),
    ));
    match state.table().transact(ops).await {
        Ok(()) => Ok(record),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(SchedulingError::Conflict {
            code: "conflict",
            detail: "The event type changed concurrently; read it again.".into(),
        }),
        Err(StoreError::TransactionConditionFailed { index }) if Some(index) == new_slug_at => Err(slug_taken()),
        Err(StoreError::TransactionConditionFailed { index }) if Some(index) == new_schedule_at => Err(schedule_gone()),
        Err(err) => Err(err.into()),
    }
}

pub async fn delete(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    id: &EventTypeId,
) -> Result<(), SchedulingError> {
    let old = get_record(state.table().as_ref(), &caller.org_id, id).await?;
    caller.may_manage_for(&old.host_user_id)?;
    let now = state.clock().now();
    let ops = vec![
        WriteOp::Delete {
            key: event_type_key(&caller.org_id, id),
            condition: Some(Condition::VersionEquals(old.version)),
        },
        WriteOp::Delete {
            key: event_slug_key(&caller.org_id, &old.slug),
            condition: None,
        },
        used_by(&caller.org_id, &old.schedule_id, -1, false),
        audit::entry(
            &caller.actor,
            now,
            "event_type.delete",
            &format!("event_type:{id}"),
            json!({"title": old.title, "slug": old.slug}),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => Ok(()),
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(SchedulingError::Conflict {
            code: "conflict",
            detail: "The event type changed concurrently; read it again.".into(),
        }),
        Err(err) => Err(err.into()),
    }
}
