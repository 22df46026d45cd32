//! Checks of free-text input that every form shares: required text of a
//! bounded length, and an optional web address.

/// A field that failed: (field, stable code, message for a person).
pub type FieldProblem = (&'static str, &'static str, String);

/// Trimmed text of 1..=max characters, or a field error.
pub fn required_text(field: &'static str, raw: &str, max: usize, errors: &mut Vec<FieldProblem>) -> String {
    let text = raw.trim();
    if text.is_empty() {
        errors.push((field, "required", "This field is required.".into()));
    } else if text.chars().count() > max {
        errors.push((field, "too_long", format!("Use at most {max} characters.")));
    }
    text.to_string()
}

/// An optional http(s) URL of at most 2,000 characters.
pub fn optional_url(field: &'static str, raw: Option<&str>, errors: &mut Vec<FieldProblem>) -> Option<String> {
    let text = raw.map(str::trim).filter(|t| !t.is_empty())?;
    let scheme_ok = text.starts_with("https://") || text.starts_with("http://");
    let host_ok = text.split("://").nth(1).is_some_and(|rest| {
        rest.split('/')
            .next()
            .is_some_and(|h| h.contains('.') && !h.contains(' '))
    });
    if !scheme_ok || !host_ok || text.len() > 2000 {
        errors.push((
            field,
            "invalid_url",
            "Use a full http(s) address, e.g. https://example.com.".into(),
        ));
    }
    Some(text.to_string())
}
