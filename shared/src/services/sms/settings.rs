//! An organization's SMS settings: its quiet hours and the description its
//! HELP answer gives. Absent settings mean the defaults.

use crate::domain::ids::OrgId;
use jiff::civil::Time;
use serde_json::{Value, json};

use crate::domain::input::FieldError;
use crate::domain::sms::QuietHours;
use crate::ports::{HasClock, HasTable, Key, StoreError};
use crate::services::object;

/// Longest HELP description: the whole answer must stay a few SMS segments.
pub const MAX_HELP_TEXT: usize = 200;

pub fn settings_key(org_id: &OrgId) -> Key {
    Key::new(format!("ORG#{org_id}"), "SMSSETTINGS")
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmsSettings {
    pub quiet: QuietHours,
    /// What the texts are, in the business's words ("Appointment reminders
    /// from Whitfield Dental."); a default sentence otherwise.
    pub help_text: Option<String>,
}

impl SmsSettings {
    /// The HELP answer: always the business, what the messages are, how to
    /// opt out and the support address, whatever the business wrote.
    pub fn help_reply(&self, business: &str) -> String {
        let what = self
            .help_text
            .clone()
            .unwrap_or_else(|| "Appointment confirmations, reminders and schedule changes.".into());
        format!(
            "{business}: {what} Msg & data rates may apply. Reply STOP to opt out. Help: {}",
            super::SUPPORT_EMAIL
        )
    }
}

/// `HH:MM` (24-hour).
pub fn format_time(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

pub fn parse_time(raw: &str) -> Option<Time> {
    let (hour, minute) = raw.trim().split_once(':')?;
    let (hour, minute): (i8, i8) = (hour.parse().ok()?, minute.parse().ok()?);
    Time::new(hour, minute, 0, 0).ok()
}

pub async fn load_settings(state: &impl HasTable, org_id: &OrgId) -> Result<SmsSettings, StoreError> {
    let Some(item) = state.table().get(&settings_key(org_id)).await? else {
        return Ok(SmsSettings::default());
    };
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::to_owned);
    let default = QuietHours::default();
    Ok(SmsSettings {
        quiet: QuietHours {
            start: text("quiet_start")
                .and_then(|t| parse_time(&t))
                .unwrap_or(default.start),
            end: text("quiet_end").and_then(|t| parse_time(&t)).unwrap_or(default.end),
        },
        help_text: text("help_text").filter(|t| !t.is_empty()),
    })
}

/// Validates and stores the settings; field errors name `quiet_start`,
/// `quiet_end` or `help_text`.
pub async fn save_settings(
    state: &(impl HasTable + HasClock),
    org_id: &OrgId,
    quiet_start: &str,
    quiet_end: &str,
    help_text: &str,
) -> Result<SmsSettings, SaveSettingsError> {
    let mut errors = Vec::new();
    let start = parse_time(quiet_start);
    let end = parse_time(quiet_end);
    for (field, value) in [("quiet_start", start), ("quiet_end", end)] {
        if value.is_none() {
            errors.push(FieldError::new(field, "invalid", "Use a 24-hour time such as 21:00."));
        }
    }
    let help_text = help_text.trim();
    if help_text.chars().count() > MAX_HELP_TEXT {
        errors.push(FieldError::new("help_text", "too_long", "Use at most 200 characters."));
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Err(SaveSettingsError::Invalid(errors));
    };
    if !errors.is_empty() {
        return Err(SaveSettingsError::Invalid(errors));
    }
    let settings = SmsSettings {
        quiet: QuietHours { start, end },
        help_text: (!help_text.is_empty()).then(|| help_text.to_string()),
    };
    let key = settings_key(org_id);
    state
        .table()
        .put(
            object(json!({
                "pk": key.pk, "sk": key.sk,
                "quiet_start": format_time(start),
                "quiet_end": format_time(end),
                "help_text": settings.help_text,
                "updated_at": state.clock().unix_seconds(),
            })),
            None,
        )
        .await?;
    Ok(settings)
}

#[derive(Debug, thiserror::Error)]
pub enum SaveSettingsError {
    #[error("invalid sms settings")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}
