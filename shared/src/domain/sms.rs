//! Text-message rules that need no I/O: the carrier keywords a reply may be,
//! Twilio's webhook signature, the TwiML answer, and quiet hours.

use base64::Engine;
use hmac::{Hmac, Mac};
use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use sha1::Sha1;

/// What an inbound text asks for, by Twilio's keyword lists (the whole
/// message, trimmed, any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
    Help,
}

/// Twilio's default opt-out keywords.
pub const OPT_OUT_KEYWORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
/// Twilio's default opt-in keywords.
pub const OPT_IN_KEYWORDS: [&str; 3] = ["START", "YES", "UNSTOP"];
/// Twilio's default help keywords.
pub const HELP_KEYWORDS: [&str; 2] = ["HELP", "INFO"];

impl Keyword {
    /// The keyword `body` is, if it is one: a keyword inside a sentence
    /// ("please stop by at 3") is an ordinary reply.
    pub fn of(body: &str) -> Option<Keyword> {
        let word = body.trim().to_ascii_uppercase();
        if OPT_OUT_KEYWORDS.contains(&word.as_str()) {
            Some(Keyword::OptOut)
        } else if OPT_IN_KEYWORDS.contains(&word.as_str()) {
            Some(Keyword::OptIn)
        } else if HELP_KEYWORDS.contains(&word.as_str()) {
            Some(Keyword::Help)
        } else {
            None
        }
    }
}

/// The id of the text sent under `idempotency_key`: the store's message
/// item and the status callback URL (`?m=`) both carry it, so a report finds
/// its message without the provider's own id. 32 hex digits, the length of
/// every other id, so one message's partition looks like any other's.
pub fn message_id(idempotency_key: &str) -> String {
    crate::domain::token::token_hash(idempotency_key)[..32].to_string()
}

/// Twilio's `X-Twilio-Signature` of a form-encoded request: base64 of the
/// HMAC-SHA1, keyed with the auth token, of the URL Twilio called followed
/// by every POST parameter as name then value, sorted by name (and by value
/// for a repeated name, as Twilio's own libraries do).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    base64::engine::general_purpose::STANDARD.encode(signing_mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `signature` is Twilio's for this request, compared in constant time.
pub fn twilio_signature_matches(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    signing_mac(auth_token, url, params).verify_slice(&expected).is_ok()
}

fn signing_mac(auth_token: &str, url: &str, params: &[(String, String)]) -> Hmac<Sha1> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    // An HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// A TwiML answer: one `<Message>` with `reply`, or an empty `<Response/>`
/// (Twilio then sends nothing).
pub fn twiml(reply: Option<&str>) -> String {
    match reply {
        Some(text) => format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            xml_escape(text)
        ),
        None => "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".to_string(),
    }
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The hours no reminder text should arrive in, in the recipient's zone:
/// from `start` in the evening to `end` the next morning (or within one
/// day when `start` < `end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

impl Default for QuietHours {
    /// 21:00 to 08:00.
    fn default() -> Self {
        Self {
            start: Time::constant(21, 0, 0, 0),
            end: Time::constant(8, 0, 0, 0),
        }
    }
}

/// When a reminder due at `due` should go out for a recipient in `zone`:
/// `Some(due)` outside quiet hours; the end of the quiet window when `due`
/// falls inside it and that end is still before `starts_at`; `None` (skip)
/// otherwise.
pub fn reminder_time(due: Timestamp, starts_at: Timestamp, zone: &TimeZone, quiet: QuietHours) -> Option<Timestamp> {
    if quiet.start == quiet.end {
        return Some(due);
    }
    let local = due.to_zoned(zone.clone());
    let time = local.time();
    let overnight = quiet.start > quiet.end;
    let inside = if overnight {
        time >= quiet.start || time < quiet.end
    } else {
        time >= quiet.start && time < quiet.end
    };
    if !inside {
        return Some(due);
    }
    // The window ends today (before its end time) or tomorrow (evening part).
    let end_day = if overnight && time >= quiet.start {
        local.date().tomorrow().ok()?
    } else {
        local.date()
    };
    let end = end_day.to_datetime(quiet.end).to_zoned(zone.clone()).ok()?.timestamp();
    (end < starts_at).then_some(end)
}

/// The length of a quiet window, for display ("11h").
pub fn quiet_length(quiet: QuietHours) -> SignedDuration {
    let start = quiet.start.duration_since(Time::midnight());
    let end = quiet.end.duration_since(Time::midnight());
    if end >= start {
        end - start
    } else {
        SignedDuration::from_hours(24) - (start - end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(n, v)| ((*n).to_string(), (*v).to_string())).collect()
    }

    /// The worked example of Twilio's request-validation documentation
    /// (twilio-php's `docs/usage/validation.rst`): auth token 12345.
    #[test]
    fn twilios_documented_example_reproduces() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(twilio_signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(twilio_signature_matches(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // The same example with the numbers of the current security page.
        let params = pairs(&[
            ("To", "+18005551212"),
            ("From", "+12349013030"),
            ("Digits", "1234"),
            ("Caller", "+12349013030"),
            ("CallSid", "CA1234567890ABCDE"),
        ]);
        assert_eq!(twilio_signature("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = pairs(&[("Body", "STOP"), ("From", "+14158675309")]);
        let good = twilio_signature("12345", url, &params);
        assert!(twilio_signature_matches("12345", url, &params, &good));
        assert!(!twilio_signature_matches("12346", url, &params, &good));
        assert!(!twilio_signature_matches(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &params,
            &good
        ));
        let changed = pairs(&[("Body", "START"), ("From", "+14158675309")]);
        assert!(!twilio_signature_matches("12345", url, &changed, &good));
        assert!(!twilio_signature_matches("12345", url, &params, "not base64!"));
        assert!(!twilio_signature_matches("12345", url, &params, ""));
    }

    #[test]
    fn keywords_are_whole_trimmed_messages_in_any_case() {
        for word in OPT_OUT_KEYWORDS {
            assert_eq!(Keyword::of(word), Some(Keyword::OptOut), "{word}");
        }
        assert_eq!(Keyword::of("  stop \n"), Some(Keyword::OptOut));
        assert_eq!(Keyword::of("Unsubscribe"), Some(Keyword::OptOut));
        assert_eq!(Keyword::of("start"), Some(Keyword::OptIn));
        assert_eq!(Keyword::of("Yes"), Some(Keyword::OptIn));
        assert_eq!(Keyword::of("UNSTOP"), Some(Keyword::OptIn));
        assert_eq!(Keyword::of("help"), Some(Keyword::Help));
        assert_eq!(Keyword::of("Info"), Some(Keyword::Help));
        assert_eq!(Keyword::of("please stop by at 3"), None);
        assert_eq!(Keyword::of("Running late, sorry"), None);
    }

    #[test]
    fn twiml_escapes_the_reply() {
        assert_eq!(
            twiml(Some("A & B <ok>")),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>A &amp; B &lt;ok&gt;</Message></Response>"
        );
        assert!(twiml(None).ends_with("<Response/>"));
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_reminder_in_quiet_hours_moves_to_their_end_or_is_skipped() {
        let london = TimeZone::get("Europe/London").unwrap();
        let quiet = QuietHours::default();
        let start = at("2026-12-02T10:00:00Z");
        // 15:00 the day before: not quiet.
        assert_eq!(
            reminder_time(at("2026-12-01T15:00:00Z"), start, &london, quiet),
            Some(at("2026-12-01T15:00:00Z"))
        );
        // 22:00 the evening before: moves to 08:00.
        assert_eq!(
            reminder_time(at("2026-12-01T22:00:00Z"), start, &london, quiet),
            Some(at("2026-12-02T08:00:00Z"))
        );
        // 06:00 the same morning: moves to 08:00.
        assert_eq!(
            reminder_time(at("2026-12-02T06:00:00Z"), start, &london, quiet),
            Some(at("2026-12-02T08:00:00Z"))
        );
        // An appointment at 07:30: 08:00 is too late, skipped.
        assert_eq!(
            reminder_time(at("2026-12-02T05:30:00Z"), at("2026-12-02T07:30:00Z"), &london, quiet),
            None
        );
        // In the recipient's zone: 22:00 UTC is 17:00 in New York.
        let new_york = TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            reminder_time(at("2026-12-01T22:00:00Z"), start, &new_york, quiet),
            Some(at("2026-12-01T22:00:00Z"))
        );
        assert_eq!(quiet_length(quiet), SignedDuration::from_hours(11));
    }
}
