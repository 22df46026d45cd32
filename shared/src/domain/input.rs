//! Checks of free-text input that every form shares: required text of a
//! bounded length, and an optional web address.

use serde::{Deserialize, Serialize};

/// One input field that failed a check, in every layer the same: the path of
/// the input (`email`, `phones[1]`, `weekly.monday[0].end`), a stable
/// machine code (`required`, `invalid_email`) and a message for a person.
/// The HTTP layer shows these as the problem document's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Trimmed text of 1..=max characters, or a field error.
pub fn required_text(field: &'static str, raw: &str, max: usize, errors: &mut Vec<FieldError>) -> String {
    let text = raw.trim();
    if text.is_empty() {
        errors.push(FieldError::new(field, "required", "This field is required."));
    } else if text.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("Use at most {max} characters."),
        ));
    }
    text.to_string()
}

/// An optional http(s) URL of at most 2,000 characters.
pub fn optional_url(field: &'static str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = raw.map(str::trim).filter(|t| !t.is_empty())?;
    let scheme_ok = text.starts_with("https://") || text.starts_with("http://");
    let host_ok = text.split("://").nth(1).is_some_and(|rest| {
        rest.split('/')
            .next()
            .is_some_and(|h| h.contains('.') && !h.contains(' '))
    });
    if !scheme_ok || !host_ok || text.len() > 2000 {
        errors.push(FieldError::new(
            field,
            "invalid_url",
            "Use a full http(s) address, e.g. https://example.com.",
        ));
    }
    Some(text.to_string())
}
