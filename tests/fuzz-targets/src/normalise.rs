//! Email and phone normalization: what every form, booking, import and API
//! write reduces an address or a number to, and dedupes contacts by.

use konnecs::domain::email::Email;
use konnecs::domain::phone::{Phone, digits};

const REGIONS: [&str; 7] = ["US", "GB", "DE", "FR", "IN", "BR", ""];

/// `+` and 2 to 15 digits, not starting with 0.
pub fn assert_e164(e164: &str) {
    let rest = e164
        .strip_prefix('+')
        .unwrap_or_else(|| panic!("{e164:?} has no leading +"));
    assert!(
        (2..=15).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_digit()) && !rest.starts_with('0'),
        "{e164:?} is not E.164"
    );
}

/// Input: one byte choosing the default region, then the text typed.
pub fn email_phone(data: &[u8]) {
    let Some((region, rest)) = data.split_first() else {
        return;
    };
    let region = REGIONS[usize::from(*region) % REGIONS.len()];
    let text = String::from_utf8_lossy(rest);

    if let Ok(email) = Email::parse(&text) {
        // Normalizing is idempotent, so a stored address finds itself again.
        assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
        assert!(email.as_str().len() <= 254);
        assert_eq!(email.as_str(), email.as_str().trim());
        assert_eq!(email.as_str(), email.as_str().to_lowercase());
        assert!(!email.domain().is_empty());
    }

    assert!(digits(&text).bytes().all(|b| b.is_ascii_digit()));
    if let Ok(phone) = Phone::parse(&text, region) {
        assert_e164(&phone.e164);
        assert!(phone.national_digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(phone.raw, phone.raw.trim());
        // The stored number parses to itself from anywhere, and so does what
        // was typed: the same person is never two contacts.
        for other in [region, "US", "GB"] {
            let again = Phone::parse(&phone.e164, other).map(|p| p.e164);
            assert_eq!(
                again.as_deref(),
                Ok(phone.e164.as_str()),
                "{:?} from {other:?}",
                phone.e164
            );
        }
        let retyped = Phone::parse(&phone.raw, region).map(|p| p.e164);
        assert_eq!(retyped.as_deref(), Ok(phone.e164.as_str()));
    }
}
