//! Phone numbers: parsed with libphonenumber's metadata (the `phonenumber`
//! crate) against a default region, stored as E.164, raw input kept for display.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// `+` and digits, e.g. `+14155550123`: the identity of the number.
    pub e164: String,
    /// What the person typed, trimmed, for display.
    pub raw: String,
    /// Digits of the national format (e.g. `4155550123`, `02079460000`), so a
    /// search by the digits people dial at home finds it.
    pub national_digits: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    TooLong,
    Invalid,
}

impl PhoneError {
    pub fn code(self) -> &'static str {
        match self {
            PhoneError::Empty => "required",
            PhoneError::TooLong => "too_long",
            PhoneError::Invalid => "invalid_phone",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            PhoneError::Empty => "A phone number is required.",
            PhoneError::TooLong => "The phone number is longer than 40 characters.",
            PhoneError::Invalid => {
                "This is not a valid phone number for the organization's country or in +<country code> form."
            }
        }
    }
}

impl Phone {
    /// Parses `raw` as dialled in `region` (ISO 3166-1 alpha-2; numbers
    /// starting with `+` carry their own country code).
    pub fn parse(raw: &str, region: &str) -> Result<Self, PhoneError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if trimmed.chars().count() > 40 {
            return Err(PhoneError::TooLong);
        }
        // A number written with `+` names its own country. The default
        // region is then left out: given one, the parser refused valid
        // numbers of other countries (`+5511912345678` from `US`), so a
        // stored E.164 number could not be read back in every organization.
        let country = if trimmed.starts_with('+') {
            None
        } else {
            region
                .trim()
                .to_ascii_uppercase()
                .parse::<phonenumber::country::Id>()
                .ok()
        };
        let number = phonenumber::parse(country, trimmed).map_err(|_| PhoneError::Invalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        // What the crate's E.164 formatter writes, without the national
        // format lookup it makes for every mode.
        let e164 = format!("+{}{}", number.code().value(), number.national());
        // E.164 allows 15 digits at most; the metadata passes some longer
        // German numbers (`+4930123030123456`) that no carrier would take.
        if e164.len() > 16 {
            return Err(PhoneError::Invalid);
        }
        let national_digits = digits(&number.format().mode(phonenumber::Mode::National).to_string());
        Ok(Self {
            e164,
            raw: trimmed.to_string(),
            national_digits,
        })
    }

    /// The E.164 digits without the `+`.
    pub fn e164_digits(&self) -> String {
        digits(&self.e164)
    }
}

/// Only the ASCII digits of `text`.
pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_with_its_country_code_is_read_alike_from_every_region() {
        for region in ["US", "GB", "BR", "DE", ""] {
            let p = Phone::parse("+5511912345678", region).unwrap_or_else(|e| panic!("{region:?}: {e:?}"));
            assert_eq!(p.e164, "+5511912345678", "{region:?}");
            assert_eq!(p.national_digits, "11912345678");
        }
    }

    #[test]
    fn numbers_longer_than_e164_allows_are_refused() {
        assert_eq!(Phone::parse("+4930123030123456", "DE"), Err(PhoneError::Invalid));
        assert_eq!(
            Phone::parse("+442079460018", "DE").map(|p| p.e164),
            Ok("+442079460018".to_string())
        );
    }

    #[test]
    fn national_numbers_use_the_default_region() {
        let p = Phone::parse(" (415) 555-2671 ", "US").unwrap();
        assert_eq!(p.e164, "+14155552671");
        assert_eq!(p.raw, "(415) 555-2671");
        assert_eq!(p.national_digits, "4155552671");
        let uk = Phone::parse("020 7946 0018", "gb").unwrap();
        assert_eq!(uk.e164, "+442079460018");
    }

    #[test]
    fn international_numbers_ignore_the_region() {
        assert_eq!(Phone::parse("+44 20 7946 0018", "US").unwrap().e164, "+442079460018");
    }

    /// E.164 is written from the parts; a national number's leading zero
    /// (Italy's fixed lines) must survive, as the crate's formatter keeps it.
    #[test]
    fn a_leading_zero_of_the_national_number_is_kept() {
        let rome = Phone::parse("06 6982 4321", "IT").unwrap();
        assert_eq!(rome.e164, "+390669824321");
        let parsed = phonenumber::parse(None, "+39 06 6982 4321").unwrap();
        assert_eq!(rome.e164, parsed.format().mode(phonenumber::Mode::E164).to_string());
    }

    #[test]
    fn nonsense_is_rejected() {
        for bad in ["", "abc", "123", "+999 1234"] {
            assert!(Phone::parse(bad, "US").is_err(), "{bad:?}");
        }
    }
}
