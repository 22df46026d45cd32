//! Embedded forms as pure rules: what a form definition may hold (its
//! fields and their checks) and how a visitor's answers are checked against
//! the version of the form they were shown. No I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::email::Email;
use crate::domain::ids::UserId;
use crate::domain::input::FieldError;
use crate::domain::phone::Phone;

pub const MAX_FIELDS: usize = 50;
pub const MAX_OPTIONS: usize = 100;
pub const MAX_RECIPIENTS: usize = 10;
pub const MAX_TAGS: usize = 20;
pub const MAX_ORIGINS: usize = 20;
const SHORT_TEXT_MAX: usize = 500;
const LONG_TEXT_MAX: usize = 5000;

/// The honeypot: a field hidden from people, which only bots fill in.
pub const HONEYPOT_FIELD: &str = "website_url";
/// The signed render time the page carries (minimum fill time).
pub const RENDERED_FIELD: &str = "rendered";
/// The page's marker of its embedded mode (`1` in the embed's frame).
pub const EMBED_FIELD: &str = "embed";
/// Where a submission came from, as kept with it and exported beside its
/// answers: the UTM tags, the referrer and the embedding page.
pub const ATTRIBUTION_FIELDS: [&str; 7] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "page_url",
];
/// The most characters of an attribution value a submission keeps.
pub const ATTRIBUTION_MAX: usize = 2000;

/// Whether the public submit reads `key` itself (spam defences, the embed
/// marker, attribution), so no field may take it.
pub fn reserved_key(key: &str) -> bool {
    ATTRIBUTION_FIELDS.contains(&key) || [HONEYPOT_FIELD, RENDERED_FIELD, EMBED_FIELD].contains(&key)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    ShortText,
    LongText,
    Email,
    Phone,
    Number,
    SingleSelect,
    MultiSelect,
    Checkbox,
    Date,
    Hidden,
    /// Agreement to receive SMS or email, recorded with the exact text shown.
    Consent,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::ShortText => "short_text",
            FieldKind::LongText => "long_text",
            FieldKind::Email => "email",
            FieldKind::Phone => "phone",
            FieldKind::Number => "number",
            FieldKind::SingleSelect => "single_select",
            FieldKind::MultiSelect => "multi_select",
            FieldKind::Checkbox => "checkbox",
            FieldKind::Date => "date",
            FieldKind::Hidden => "hidden",
            FieldKind::Consent => "consent",
        }
    }

    fn has_options(self) -> bool {
        matches!(self, FieldKind::SingleSelect | FieldKind::MultiSelect)
    }

    fn is_text(self) -> bool {
        matches!(self, FieldKind::ShortText | FieldKind::LongText)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentChannel {
    Sms,
    Email,
}

/// One field of a form, in the order shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The answer's name: `[a-z0-9_]`, unique in the form. `first_name`,
    /// `last_name`, `name` and `company` fill the contact's fields.
    pub key: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// A regular expression the whole text answer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_channel: Option<ConsentChannel>,
    /// The exact wording the visitor agrees to (consent fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_text: Option<String>,
    /// The value a hidden field carries unless the embedding page sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
}

/// What a form definition holds besides its identity: the input of create
/// and update, and (validated) part of every stored version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub fields: Vec<FormField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thank_you_message: Option<String>,
    /// Where the visitor goes after submitting (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<UserId>,
    /// Who gets the email alert of each submission.
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Sites allowed to post to the form from their own pages (CORS);
    /// empty allows any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

fn yes() -> bool {
    true
}

fn err(field: impl Into<String>, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

fn bounded(field: String, text: &Option<String>, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = text.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
    if text.chars().count() > max {
        errors.push(err(field, "too_long", format!("Use at most {max} characters.")));
    }
    Some(text.to_string())
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && key.as_bytes()[0].is_ascii_lowercase()
}

/// A pattern compiled to match the whole answer.
pub fn compile_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

/// An `https://` address with a host, or why not.
pub fn https_url(raw: &str) -> Result<String, &'static str> {
    let text = raw.trim();
    let parsed = url::Url::parse(text).map_err(|_| "invalid_url")?;
    if parsed.scheme() != "https" {
        return Err("https_required");
    }
    if parsed.host_str().is_none_or(str::is_empty) || text.len() > 2000 {
        return Err("invalid_url");
    }
    Ok(text.to_string())
}

/// An embedding site's origin, `https://host[:port]` (or `http://` for local
/// development pages), without a path.
fn origin(raw: &str) -> Option<String> {
    let parsed = url::Url::parse(raw.trim()).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return None;
    }
    let origin = parsed.origin().ascii_serialization();
    (origin.trim_end_matches('/') == raw.trim().trim_end_matches('/')).then_some(origin)
}

fn check_field(index: usize, field: &mut FormField, errors: &mut Vec<FieldError>) {
    let at = |name: &str| format!("fields[{index}].{name}");
    field.key = field.key.trim().to_string();
    if !valid_key(&field.key) {
        errors.push(err(
            at("key"),
            "invalid_key",
            "Use 1-40 lowercase letters, digits or _, starting with a letter.",
        ));
    } else if reserved_key(&field.key) {
        errors.push(err(at("key"), "reserved_key", "This name is used by the form itself."));
    }
    field.label = field.label.trim().to_string();
    if field.label.is_empty() && field.kind != FieldKind::Hidden {
        errors.push(err(at("label"), "required", "This field is required."));
    } else if field.label.chars().count() > 200 {
        errors.push(err(at("label"), "too_long", "Use at most 200 characters."));
    }
    field.help = bounded(at("help"), &field.help, 500, errors);
    field.placeholder = bounded(at("placeholder"), &field.placeholder, 200, errors);
    field.default_value = bounded(at("default_value"), &field.default_value, SHORT_TEXT_MAX, errors);
    if field.kind.has_options() {
        let mut seen = std::collections::BTreeSet::new();
        field.options = field.options.iter().map(|o| o.trim().to_string()).collect();
        if field.options.is_empty() {
            errors.push(err(at("options"), "required", "Give at least one option."));
        } else if field.options.len() > MAX_OPTIONS {
            errors.push(err(
                at("options"),
                "too_many",
                format!("Use at most {MAX_OPTIONS} options."),
            ));
        }
        for (i, option) in field.options.iter().enumerate() {
            if option.is_empty() || option.chars().count() > 200 {
                errors.push(err(
                    format!("fields[{index}].options[{i}]"),
                    "invalid_option",
                    "An option has 1-200 characters.",
                ));
            } else if !seen.insert(option.clone()) {
                errors.push(err(
                    format!("fields[{index}].options[{i}]"),
                    "duplicate_option",
                    "Each option appears once.",
                ));
            }
        }
    } else if !field.options.is_empty() {
        errors.push(err(at("options"), "not_allowed", "Only select fields have options."));
    }
    if let (Some(min), Some(max)) = (field.min_length, field.max_length)
        && min > max
    {
        errors.push(err(
            at("min_length"),
            "min_above_max",
            "The minimum is above the maximum.",
        ));
    }
    if (field.min_length.is_some() || field.max_length.is_some() || field.pattern.is_some()) && !field.kind.is_text() {
        errors.push(err(
            at("kind"),
            "checks_not_allowed",
            "Length and pattern checks apply to text fields.",
        ));
    }
    if let Some(pattern) = &field.pattern
        && (pattern.len() > 200 || compile_pattern(pattern).is_err())
    {
        errors.push(err(
            at("pattern"),
            "invalid_pattern",
            "Use a valid regular expression of at most 200 characters.",
        ));
    }
    if field.min.is_some() || field.max.is_some() {
        if field.kind != FieldKind::Number {
            errors.push(err(
                at("kind"),
                "checks_not_allowed",
                "Minimum and maximum apply to number fields.",
            ));
        }
        if field.min.zip(field.max).is_some_and(|(min, max)| min > max) {
            errors.push(err(at("min"), "min_above_max", "The minimum is above the maximum."));
        }
        if field.min.into_iter().chain(field.max).any(|v| !v.is_finite()) {
            errors.push(err(at("min"), "invalid", "Use finite numbers."));
        }
    }
    if field.kind == FieldKind::Consent {
        if field.consent_channel.is_none() {
            errors.push(err(at("consent_channel"), "required", "Choose sms or email."));
        }
        match bounded(at("consent_text"), &field.consent_text, 1000, errors) {
            None => errors.push(err(
                at("consent_text"),
                "required",
                "Write the exact consent wording visitors agree to.",
            )),
            Some(text) => field.consent_text = Some(text),
        }
    } else if field.consent_channel.is_some() || field.consent_text.is_some() {
        errors.push(err(
            at("consent_text"),
            "not_allowed",
            "Only consent fields carry consent text.",
        ));
    }
}

/// Checks and normalises a form definition.
pub fn validate_spec(mut spec: FormSpec) -> Result<FormSpec, Vec<FieldError>> {
    let mut errors = Vec::new();
    spec.title = spec.title.trim().to_string();
    if spec.title.is_empty() {
        errors.push(err("title", "required", "This field is required."));
    } else if spec.title.chars().count() > 200 {
        errors.push(err("title", "too_long", "Use at most 200 characters."));
    }
    if spec.fields.is_empty() {
        errors.push(err("fields", "required", "Add at least one field."));
    } else if spec.fields.len() > MAX_FIELDS {
        errors.push(err("fields", "too_many", format!("Use at most {MAX_FIELDS} fields.")));
    }
    let mut keys = std::collections::BTreeSet::new();
    for (index, field) in spec.fields.iter_mut().enumerate() {
        check_field(index, field, &mut errors);
        if !keys.insert(field.key.clone()) {
            errors.push(err(
                format!("fields[{index}].key"),
                "duplicate_key",
                "Each field has its own name.",
            ));
        }
    }
    spec.thank_you_message = bounded("thank_you_message".into(), &spec.thank_you_message, 2000, &mut errors);
    spec.redirect_url = match spec.redirect_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(raw) => match https_url(raw) {
            Ok(url) => Some(url),
            Err(code) => {
                errors.push(err("redirect_url", code, "Use a full https:// address."));
                None
            }
        },
    };
    let mut tags = Vec::new();
    for (i, tag) in spec.tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > 50 {
            errors.push(err(format!("tags[{i}]"), "invalid_tag", "A tag has 1-50 characters."));
        } else if !tags.iter().any(|t: &String| t.eq_ignore_ascii_case(tag)) {
            tags.push(tag.to_string());
        }
    }
    if tags.len() > MAX_TAGS {
        errors.push(err("tags", "too_many", format!("Use at most {MAX_TAGS} tags.")));
    }
    spec.tags = tags;
    let mut recipients = Vec::new();
    for (i, raw) in spec.recipients.iter().enumerate() {
        match Email::parse(raw) {
            Ok(email) => {
                if !recipients.contains(&email.as_str().to_string()) {
                    recipients.push(email.as_str().to_string());
                }
            }
            Err(e) => errors.push(err(format!("recipients[{i}]"), e.code(), e.message())),
        }
    }
    if recipients.len() > MAX_RECIPIENTS {
        errors.push(err(
            "recipients",
            "too_many",
            format!("Use at most {MAX_RECIPIENTS} recipients."),
        ));
    }
    spec.recipients = recipients;
    let mut origins = Vec::new();
    for (i, raw) in spec.allowed_origins.iter().enumerate() {
        match origin(raw) {
            Some(o) => origins.push(o),
            None => errors.push(err(
                format!("allowed_origins[{i}]"),
                "invalid_origin",
                "Use an origin like https://www.example.com (no path).",
            )),
        }
    }
    if origins.len() > MAX_ORIGINS {
        errors.push(err(
            "allowed_origins",
            "too_many",
            format!("Use at most {MAX_ORIGINS} origins."),
        ));
    }
    spec.allowed_origins = origins;
    if errors.is_empty() { Ok(spec) } else { Err(errors) }
}

/// Answers that passed the checks, and what the contact is made of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckedAnswers {
    /// By field key, in the types of their fields (text, number, bool, list).
    pub answers: BTreeMap<String, Value>,
    /// The first email field's address, normalised.
    pub email: Option<String>,
    /// The first phone field's number, E.164.
    pub phone: Option<String>,
    /// Consents given: the channel and the exact text shown.
    pub consents: Vec<(ConsentChannel, String)>,
}

/// A value as text: urlencoded posts carry every answer as a string.
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) if items.len() == 1 => as_text(&items[0]),
        _ => None,
    }
}

fn is_blank(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty() || a.iter().all(|v| is_blank(Some(v))),
        Some(Value::Bool(b)) => !b,
        _ => false,
    }
}

fn truthy(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Array(items) if items.len() == 1 => truthy(&items[0]),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Some(true),
            "off" | "false" | "no" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn check_text(field: &FormField, text: &str, default_max: usize) -> Result<Value, (&'static str, String)> {
    let count = text.chars().count();
    let max = field.max_length.map_or(default_max, |m| (m as usize).min(default_max));
    if count > max {
        return Err(("too_long", format!("Use at most {max} characters.")));
    }
    if let Some(min) = field.min_length
        && count < min as usize
    {
        return Err(("too_short", format!("Use at least {min} characters.")));
    }
    if let Some(pattern) = &field.pattern {
        // Checked when the form was saved; an unreadable one refuses rather than passes.
        if !compile_pattern(pattern).is_ok_and(|re| re.is_match(text)) {
            return Err(("pattern_mismatch", "This answer is not in the expected format.".into()));
        }
    }
    Ok(Value::String(text.to_string()))
}

fn check_one(
    field: &FormField,
    value: &Value,
    country: &str,
    out: &mut CheckedAnswers,
) -> Result<Value, (&'static str, String)> {
    let bad = |code: &'static str, message: &str| Err((code, message.to_string()));
    match field.kind {
        FieldKind::ShortText | FieldKind::Hidden => match as_text(value) {
            Some(text) => check_text(field, &text, SHORT_TEXT_MAX),
            None => bad("invalid", "Answer with text."),
        },
        FieldKind::LongText => match as_text(value) {
            Some(text) => check_text(field, &text, LONG_TEXT_MAX),
            None => bad("invalid", "Answer with text."),
        },
        FieldKind::Email => {
            let Some(text) = as_text(value) else {
                return bad("invalid_email", "Enter an email address.");
            };
            match Email::parse(&text) {
                Ok(email) => {
                    let email = email.as_str().to_string();
                    out.email.get_or_insert_with(|| email.clone());
                    Ok(Value::String(email))
                }
                Err(e) => Err((e.code(), e.message().to_string())),
            }
        }
        FieldKind::Phone => {
            let Some(text) = as_text(value) else {
                return bad("invalid_phone", "Enter a phone number.");
            };
            match Phone::parse(&text, country) {
                Ok(phone) => {
                    out.phone.get_or_insert_with(|| phone.e164.clone());
                    Ok(Value::String(phone.e164))
                }
                Err(e) => Err((e.code(), e.message().to_string())),
            }
        }
        FieldKind::Number => {
            let number = match value {
                Value::Number(n) => n.as_f64(),
                other => as_text(other).and_then(|t| t.parse::<f64>().ok()),
            };
            let Some(number) = number.filter(|n| n.is_finite()) else {
                return bad("not_a_number", "Enter a number.");
            };
            if field.min.is_some_and(|min| number < min) {
                return Err(("below_min", format!("Use at least {}.", field.min.unwrap_or_default())));
            }
            if field.max.is_some_and(|max| number > max) {
                return Err(("above_max", format!("Use at most {}.", field.max.unwrap_or_default())));
            }
            Ok(serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number))
        }
        FieldKind::SingleSelect => match as_text(value) {
            Some(choice) if field.options.contains(&choice) => Ok(Value::String(choice)),
            _ => bad("invalid_option", "Choose one of the options."),
        },
        FieldKind::MultiSelect => {
            let items: Vec<String> = match value {
                Value::Array(items) => items.iter().filter_map(as_text).collect(),
                other => as_text(other).into_iter().collect(),
            };
            let items: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).collect();
            if items.iter().all(|item| field.options.contains(item)) {
                let mut chosen: Vec<String> = Vec::new();
                for item in items {
                    if !chosen.contains(&item) {
                        chosen.push(item);
                    }
                }
                Ok(Value::from(chosen))
            } else {
                bad("invalid_option", "Choose among the options.")
            }
        }
        FieldKind::Checkbox => match truthy(value) {
            Some(b) => Ok(Value::Bool(b)),
            None => bad("invalid", "Tick or leave the box."),
        },
        FieldKind::Consent => match truthy(value) {
            Some(true) => {
                if let (Some(channel), Some(text)) = (field.consent_channel, &field.consent_text) {
                    out.consents.push((channel, text.clone()));
                }
                Ok(Value::Bool(true))
            }
            Some(false) => Ok(Value::Bool(false)),
            None => bad("invalid", "Tick or leave the box."),
        },
        FieldKind::Date => match as_text(value).and_then(|t| t.parse::<jiff::civil::Date>().ok()) {
            Some(date) => Ok(Value::String(date.to_string())),
            None => bad("invalid_date", "Use a date like 2026-03-10."),
        },
    }
}

/// Checks a visitor's answers against the fields of the form version they
/// were shown. Unknown names are refused (a form cannot be stuffed with
/// extra data); every error names its field by key.
pub fn check_answers(
    fields: &[FormField],
    raw: &BTreeMap<String, Value>,
    country: &str,
) -> Result<CheckedAnswers, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut out = CheckedAnswers::default();
    for key in raw.keys() {
        if !fields.iter().any(|f| &f.key == key) {
            errors.push(err(key.clone(), "unknown_field", "This form has no such field."));
        }
    }
    for field in fields {
        let value = raw.get(&field.key);
        let value = match (value, field.kind, &field.default_value) {
            (v, FieldKind::Hidden, Some(default)) if is_blank(v) => Some(Value::String(default.clone())),
            (v, _, _) => v.cloned(),
        };
        if is_blank(value.as_ref()) {
            if field.required {
                let code = if field.kind == FieldKind::Consent {
                    "consent_required"
                } else {
                    "required"
                };
                errors.push(err(field.key.clone(), code, "This field is required."));
            }
            continue;
        }
        let Some(value) = value else { continue };
        match check_one(field, &value, country, &mut out) {
            Ok(clean) => {
                out.answers.insert(field.key.clone(), clean);
            }
            Err((code, message)) => errors.push(err(field.key.clone(), code, message)),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// An answer as one line of text (alerts, CSV).
pub fn answer_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(items) => items.iter().map(answer_text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(value: Value) -> FormField {
        serde_json::from_value(value).expect("field")
    }

    fn spec(fields: Value) -> FormSpec {
        serde_json::from_value(json!({"title": "Contact us", "fields": fields})).expect("spec")
    }

    fn codes(errors: &[FieldError]) -> Vec<(String, String)> {
        errors.iter().map(|e| (e.field.clone(), e.code.clone())).collect()
    }

    #[test]
    fn a_spec_refuses_bad_keys_duplicates_reserved_names_and_plain_http_redirects() {
        let mut s = spec(json!([
            {"key": "Email", "kind": "email", "label": "Email"},
            {"key": "a", "kind": "short_text", "label": "A"},
            {"key": "a", "kind": "short_text", "label": "A again"},
            {"key": "utm_source", "kind": "hidden"},
            {"key": "pick", "kind": "single_select", "label": "Pick"},
            {"key": "sms", "kind": "consent", "label": "SMS", "consent_channel": "sms"},
            {"key": "code", "kind": "short_text", "label": "Code", "pattern": "("}
        ]));
        s.redirect_url = Some("http://example.com/thanks".into());
        let errors = validate_spec(s).expect_err("invalid");
        let codes = codes(&errors);
        for expected in [
            ("fields[0].key", "invalid_key"),
            ("fields[2].key", "duplicate_key"),
            ("fields[3].key", "reserved_key"),
            ("fields[4].options", "required"),
            ("fields[5].consent_text", "required"),
            ("fields[6].pattern", "invalid_pattern"),
            ("redirect_url", "https_required"),
        ] {
            assert!(
                codes.contains(&(expected.0.to_string(), expected.1.to_string())),
                "{expected:?} missing from {codes:?}"
            );
        }
    }

    #[test]
    fn a_valid_spec_is_normalised() {
        let mut s = spec(json!([{"key": "email", "kind": "email", "label": " Email ", "required": true}]));
        s.recipients = vec!["Sales@Example.com".into()];
        s.allowed_origins = vec!["https://www.example.com".into()];
        s.redirect_url = Some("https://example.com/thanks".into());
        let s = validate_spec(s).expect("valid");
        assert_eq!(s.fields[0].label, "Email");
        assert_eq!(s.recipients, vec!["sales@example.com"]);
        assert_eq!(s.allowed_origins, vec!["https://www.example.com"]);
    }

    #[test]
    fn answers_are_checked_by_kind_and_coerced_from_form_posts() {
        let fields = vec![
            field(json!({"key": "email", "kind": "email", "label": "Email", "required": true})),
            field(json!({"key": "age", "kind": "number", "label": "Age", "min": 18, "max": 99})),
            field(json!({"key": "zip", "kind": "short_text", "label": "Zip", "pattern": "[0-9]{5}"})),
            field(json!({"key": "topics", "kind": "multi_select", "label": "Topics", "options": ["a", "b"]})),
            field(
                json!({"key": "sms", "kind": "consent", "label": "Texts", "consent_channel": "sms", "consent_text": "I agree to texts."}),
            ),
            field(json!({"key": "src", "kind": "hidden", "default_value": "site"})),
            field(json!({"key": "day", "kind": "date", "label": "Day"})),
        ];
        let raw: BTreeMap<String, Value> = serde_json::from_value(json!({
            "email": "Ada@Example.com", "age": "42", "zip": "12345", "topics": ["a", "b", "a"], "sms": "on", "day": "2026-03-10"
        }))
        .expect("raw");
        let checked = check_answers(&fields, &raw, "US").expect("valid");
        assert_eq!(checked.email.as_deref(), Some("ada@example.com"));
        assert_eq!(checked.answers["age"], json!(42.0));
        assert_eq!(checked.answers["topics"], json!(["a", "b"]));
        assert_eq!(checked.answers["src"], json!("site"));
        assert_eq!(
            checked.consents,
            vec![(ConsentChannel::Sms, "I agree to texts.".to_string())]
        );

        let raw: BTreeMap<String, Value> = serde_json::from_value(json!({
            "age": "12", "zip": "1234x", "topics": "c", "sms": "maybe", "day": "10/03/2026", "extra": "x"
        }))
        .expect("raw");
        let errors = check_answers(&fields, &raw, "US").expect_err("invalid");
        let got = codes(&errors);
        for expected in [
            ("email", "required"),
            ("age", "below_min"),
            ("zip", "pattern_mismatch"),
            ("topics", "invalid_option"),
            ("sms", "invalid"),
            ("day", "invalid_date"),
            ("extra", "unknown_field"),
        ] {
            assert!(
                got.contains(&(expected.0.to_string(), expected.1.to_string())),
                "{expected:?} missing from {got:?}"
            );
        }
    }

    #[test]
    fn a_required_consent_must_be_given() {
        let fields = vec![field(
            json!({"key": "ok", "kind": "consent", "label": "Emails", "required": true, "consent_channel": "email", "consent_text": "Send me news."}),
        )];
        let errors = check_answers(&fields, &BTreeMap::new(), "US").expect_err("missing");
        assert_eq!(codes(&errors), vec![("ok".to_string(), "consent_required".to_string())]);
    }
}
