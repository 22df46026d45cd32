//! The checks every contact writer applies: text lengths, tags, emails,
//! phones (one primary, no repeats, bounded lists), consent and address.

use super::{
    Address, BoundedList, Consent, ConsentInput, ContactEmail, ContactPhone, EmailInput, MAX_EMAILS, MAX_PHONES,
    PhoneInput,
};
use crate::domain::email::Email;
use crate::domain::input::FieldError;
use crate::domain::phone::Phone;

pub fn clean_text(field: &str, raw: Option<String>, max: usize, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = raw.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())?;
    if text.chars().count() > max {
        errors.push(FieldError::new(
            field.to_string(),
            "too_long",
            format!("Use at most {max} characters."),
        ));
    }
    Some(text)
}

/// A tag as stored: trimmed, lower-case, single spaces, 1..=50 characters, no `#`.
pub fn normalize_tag(raw: &str) -> Result<String, &'static str> {
    let tag = raw.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if tag.is_empty() {
        return Err("required");
    }
    if tag.chars().count() > 50 || tag.contains('#') {
        return Err("invalid_tag");
    }
    Ok(tag)
}

pub fn normalize_tags(field: &str, raw: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, tag) in raw.iter().enumerate() {
        match normalize_tag(tag) {
            Ok(tag) if !out.contains(&tag) => out.push(tag),
            Ok(_) => {}
            Err(code) => errors.push(FieldError::new(
                format!("{field}[{i}]"),
                code,
                "A tag has 1 to 50 characters and no '#'.",
            )),
        }
    }
    out
}

pub fn parse_emails(raw: &[EmailInput], errors: &mut Vec<FieldError>) -> Vec<ContactEmail> {
    let mut out: Vec<ContactEmail> = Vec::new();
    for (i, input) in raw.iter().enumerate() {
        let (address, primary) = match input {
            EmailInput::Plain(a) => (a.as_str(), false),
            EmailInput::Full { address, primary } => (address.as_str(), *primary),
        };
        match Email::parse(address) {
            Ok(email) => {
                if out.iter().any(|e| e.address == email.as_str()) {
                    continue;
                }
                out.push(ContactEmail {
                    address: email.as_str().to_string(),
                    primary,
                });
            }
            Err(err) => errors.push(FieldError::new(format!("emails[{i}]"), err.code(), err.message())),
        }
    }
    settle_primary("emails", &mut out, |e| &mut e.primary, errors);
    if out.len() > MAX_EMAILS {
        errors.push(FieldError::new(
            "emails",
            "too_many",
            format!("At most {MAX_EMAILS} emails."),
        ));
    }
    out
}

pub fn parse_phones(raw: &[PhoneInput], region: &str, errors: &mut Vec<FieldError>) -> Vec<ContactPhone> {
    let mut out: Vec<ContactPhone> = Vec::new();
    for (i, input) in raw.iter().enumerate() {
        let (number, primary) = match input {
            PhoneInput::Plain(n) => (n.as_str(), false),
            PhoneInput::Full { number, primary } => (number.as_str(), *primary),
        };
        match Phone::parse(number, region) {
            Ok(phone) => {
                if out.iter().any(|p| p.e164 == phone.e164) {
                    continue;
                }
                out.push(ContactPhone {
                    e164: phone.e164,
                    raw: phone.raw,
                    national_digits: phone.national_digits,
                    primary,
                });
            }
            Err(err) => errors.push(FieldError::new(format!("phones[{i}]"), err.code(), err.message())),
        }
    }
    settle_primary("phones", &mut out, |p| &mut p.primary, errors);
    if out.len() > MAX_PHONES {
        errors.push(FieldError::new(
            "phones",
            "too_many",
            format!("At most {MAX_PHONES} phones."),
        ));
    }
    out
}

/// Exactly one primary when the list is not empty: the first unless one is marked.
pub fn settle_primary<T>(
    field: &str,
    list: &mut [T],
    primary: impl Fn(&mut T) -> &mut bool,
    errors: &mut Vec<FieldError>,
) {
    let marked = list.iter_mut().filter_map(|item| primary(item).then_some(())).count();
    if marked > 1 {
        errors.push(FieldError::new(field, "one_primary", "Mark at most one as primary."));
    } else if marked == 0
        && let Some(first) = list.first_mut()
    {
        *primary(first) = true;
    }
}

pub fn consent(
    input: ConsentInput,
    field: &str,
    caller_ip: Option<&str>,
    now: jiff::Timestamp,
    errors: &mut Vec<FieldError>,
) -> Consent {
    let source = input.source.trim().to_string();
    if source.is_empty() || source.chars().count() > 200 {
        errors.push(FieldError::new(
            format!("{field}.source"),
            "required",
            "Say where consent was given (1 to 200 characters).",
        ));
    }
    let at = match input.at.as_deref() {
        None => now.to_string(),
        Some(at) => match at.parse::<jiff::Timestamp>() {
            Ok(at) => at.to_string(),
            Err(_) => {
                errors.push(FieldError::new(
                    format!("{field}.at"),
                    "invalid_time",
                    "Use an RFC 3339 time.",
                ));
                now.to_string()
            }
        },
    };
    let text = input.text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 5000) {
        errors.push(FieldError::new(
            format!("{field}.text"),
            "too_long",
            "Use at most 5000 characters.",
        ));
    }
    Consent {
        status: input.status,
        at,
        source,
        ip: input.ip.or_else(|| caller_ip.map(str::to_string)),
        text,
    }
}

pub fn clean_address(address: Option<Address>, errors: &mut Vec<FieldError>) -> Option<Address> {
    let address = address?;
    let mut clean = |name: &str, value: Option<String>| clean_text(&format!("address.{name}"), value, 200, errors);
    let out = Address {
        line1: clean("line1", address.line1),
        line2: clean("line2", address.line2),
        city: clean("city", address.city),
        region: clean("region", address.region),
        postal_code: clean("postal_code", address.postal_code),
        country: clean("country", address.country),
    };
    out.non_empty()
}

/// The error for a list over its bound, reported on `field`.
pub fn too_many(list: BoundedList, field: &str) -> FieldError {
    FieldError::new(field, "too_many", format!("At most {} {}.", list.max(), list.name()))
}
