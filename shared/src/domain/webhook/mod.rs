//! Outgoing webhooks: which events exist, which endpoint URLs are acceptable,
//! how a message is signed (Standard Webhooks) and when a failed delivery is
//! tried again. Pure rules; the service (`services::webhooks`) stores, queues
//! and sends.

pub mod address;
pub mod signature;

use jiff::SignedDuration;

use crate::domain::input::FieldError;
pub use address::{AddressClass, TargetPolicy, classify};

/// The event types an endpoint can subscribe to. Producers publish these
/// names; anything else is refused when an endpoint subscribes.
pub const EVENT_TYPES: [&str; 5] = [
    "form.submitted",
    "booking.created",
    "booking.rescheduled",
    "booking.cancelled",
    "contact.created",
];

/// One event as its producer publishes it: delivered to every enabled
/// endpoint subscribed to its type, under the same `webhook-id` (its `id`)
/// on every attempt, so receivers can drop repeats.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WebhookEvent {
    /// Stable for the event (the producer's own id, e.g. `booking.created:<id>`):
    /// publishing the same id again delivers nothing new.
    pub id: String,
    /// One of [`EVENT_TYPES`].
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened, RFC 3339 UTC.
    pub timestamp: String,
    pub data: serde_json::Value,
}

/// Longest event id; ids are ASCII letters, digits and `_ - . :`.
pub const MAX_EVENT_ID: usize = 100;
/// Largest serialized event a delivery carries.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Whether `id` may serve as an event id (and so as a `webhook-id` header).
pub fn valid_event_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_EVENT_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

/// Endpoints an organization may have: each event fans out to all of them.
pub const MAX_ENDPOINTS: usize = 20;
pub const MAX_URL: usize = 2000;
pub const MAX_DESCRIPTION: usize = 200;

/// How long a delivery is retried before it is given up.
pub const RETRY_WINDOW: SignedDuration = SignedDuration::from_hours(24);
/// The first retry's wait; each further one waits twice as long ...
const FIRST_RETRY: SignedDuration = SignedDuration::from_secs(30);
/// ... up to this.
const LONGEST_RETRY: SignedDuration = SignedDuration::from_hours(4);

/// The wait before attempt `attempt + 1` after attempt `attempt` (1-based)
/// failed, or `None` once the retry window that began at the delivery's
/// first attempt (`since_first` ago) is over. The last retry is made as
/// the window closes, so a delivery is tried for the whole 24 hours.
pub fn retry_after(attempt: u32, since_first: SignedDuration) -> Option<SignedDuration> {
    let doublings = attempt.saturating_sub(1).min(20);
    let wait = FIRST_RETRY
        .checked_mul(1_i32 << doublings)
        .unwrap_or(LONGEST_RETRY)
        .min(LONGEST_RETRY);
    let left = RETRY_WINDOW.checked_sub(since_first)?;
    (left > SignedDuration::ZERO).then(|| wait.min(left))
}

/// An endpoint's URL, checked: `https://` with a host (an `http://`
/// loopback URL only where the policy lets loopback through, as the
/// developer setup does), no credentials, and never a literal address the
/// policy refuses. Names that resolve are checked again at delivery.
pub fn validate_url(raw: &str, policy: TargetPolicy, errors: &mut Vec<FieldError>) -> Option<String> {
    let raw = raw.trim();
    let refuse = |errors: &mut Vec<FieldError>, code: &str, message: &str| {
        errors.push(FieldError::new("url", code, message));
        None
    };
    if raw.is_empty() {
        return refuse(errors, "required", "Enter the URL that receives the events.");
    }
    if raw.len() > MAX_URL {
        return refuse(errors, "too_long", "Use a URL of at most 2000 characters.");
    }
    let Ok(url) = url::Url::parse(raw) else {
        return refuse(
            errors,
            "invalid_url",
            "Enter a full URL such as https://example.com/hooks.",
        );
    };
    let Some(host) = url.host() else {
        return refuse(
            errors,
            "invalid_url",
            "Enter a full URL such as https://example.com/hooks.",
        );
    };
    let loopback = address::host_is_loopback(&host);
    let plain_local = url.scheme() == "http" && loopback && policy == TargetPolicy::AllowLoopback;
    if url.scheme() != "https" && !plain_local {
        return refuse(errors, "https_required", "Use an https:// URL.");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse(
            errors,
            "credentials_in_url",
            "Leave user names and passwords out of the URL.",
        );
    }
    if let Some(ip) = address::literal_ip(&host) {
        if !policy.allows(ip) {
            return refuse(
                errors,
                "private_address",
                "Use a public address: private, loopback and metadata addresses are refused.",
            );
        }
    } else if loopback && !policy.allows_loopback() {
        return refuse(
            errors,
            "private_address",
            "Use a public address: private, loopback and metadata addresses are refused.",
        );
    }
    Some(url.to_string())
}

/// The subscribed events: known names, at least one, each once.
pub fn validate_events(raw: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut events: Vec<String> = Vec::new();
    for event in raw {
        let event = event.trim();
        if !EVENT_TYPES.contains(&event) {
            errors.push(FieldError::new(
                "events",
                "unknown_event",
                format!("Choose among: {}.", EVENT_TYPES.join(", ")),
            ));
            return Vec::new();
        }
        if !events.iter().any(|known| known == event) {
            events.push(event.to_string());
        }
    }
    if events.is_empty() {
        errors.push(FieldError::new("events", "required", "Choose at least one event."));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, policy: TargetPolicy) -> Result<String, String> {
        let mut errors = Vec::new();
        match validate_url(raw, policy, &mut errors) {
            Some(url) => Ok(url),
            None => Err(errors[0].code.clone()),
        }
    }

    #[test]
    fn only_https_urls_with_public_hosts_are_accepted_in_production() {
        let strict = TargetPolicy::PublicOnly;
        assert_eq!(
            check("https://hooks.example.com/in", strict).as_deref(),
            Ok("https://hooks.example.com/in")
        );
        assert_eq!(
            check("http://hooks.example.com/in", strict),
            Err("https_required".into())
        );
        assert_eq!(
            check("ftp://hooks.example.com/in", strict),
            Err("https_required".into())
        );
        assert_eq!(check("hooks.example.com", strict), Err("invalid_url".into()));
        assert_eq!(check("", strict), Err("required".into()));
        assert_eq!(
            check("https://user:pw@hooks.example.com/", strict),
            Err("credentials_in_url".into())
        );
        for private in [
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://localhost/x",
            "https://192.168.0.10/x",
            "https://[::ffff:10.0.0.1]/x",
        ] {
            assert_eq!(check(private, strict), Err("private_address".into()), "{private}");
        }
    }

    #[test]
    fn the_developer_setup_may_target_loopback_but_nothing_else_private() {
        let local = TargetPolicy::AllowLoopback;
        assert!(check("http://127.0.0.1:8080/hook", local).is_ok());
        assert!(check("https://[::1]:8443/hook", local).is_ok());
        assert_eq!(
            check("http://hooks.example.com/in", local),
            Err("https_required".into())
        );
        assert_eq!(check("https://10.0.0.8/x", local), Err("private_address".into()));
        assert_eq!(check("https://169.254.169.254/x", local), Err("private_address".into()));
    }

    #[test]
    fn events_must_be_known_and_at_least_one() {
        let mut errors = Vec::new();
        let events = validate_events(
            &[
                "booking.created".into(),
                "booking.created".into(),
                "contact.created".into(),
            ],
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(events, ["booking.created", "contact.created"]);
        validate_events(&["booking.exploded".into()], &mut errors);
        assert_eq!(errors[0].code, "unknown_event");
        let mut errors = Vec::new();
        validate_events(&[], &mut errors);
        assert_eq!(errors[0].code, "required");
    }

    #[test]
    fn retries_double_from_thirty_seconds_and_stop_after_a_day() {
        let zero = SignedDuration::ZERO;
        assert_eq!(retry_after(1, zero), Some(SignedDuration::from_secs(30)));
        assert_eq!(retry_after(2, zero), Some(SignedDuration::from_secs(60)));
        assert_eq!(retry_after(3, zero), Some(SignedDuration::from_secs(120)));
        assert_eq!(retry_after(30, zero), Some(SignedDuration::from_hours(4)));
        // The last retry lands as the day ends, and then no more.
        assert_eq!(
            retry_after(12, SignedDuration::from_hours(21)),
            Some(SignedDuration::from_hours(3))
        );
        assert_eq!(retry_after(13, RETRY_WINDOW), None);
        // Walking the schedule: it fills the day exactly, and it ends.
        let (mut attempt, mut elapsed) = (1, zero);
        while let Some(wait) = retry_after(attempt, elapsed) {
            elapsed += wait;
            attempt += 1;
        }
        assert_eq!(elapsed, RETRY_WINDOW);
        assert!((10..20).contains(&attempt), "{attempt}");
    }
}
