//! Money: integer minor units in an ISO 4217 currency. No floats anywhere.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Active ISO 4217 currency codes (funds and precious metals left out), sorted.
const CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Largest amount one value may hold, in minor units (10^15: a quadrillion
/// cents). Keeps any sum of a million deals inside `i64`.
pub const MAX_MINOR_UNITS: i64 = 1_000_000_000_000_000;

/// An ISO 4217 code from the fixed list, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Currency(&'static str);

impl Currency {
    /// The code for `raw` (trimmed, any case), if it is on the list.
    pub fn parse(raw: &str) -> Option<Self> {
        let code = raw.trim().to_ascii_uppercase();
        CODES.binary_search(&code.as_str()).ok().map(|i| Currency(CODES[i]))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Currency::parse(&raw).ok_or_else(|| serde::de::Error::custom("not an ISO 4217 currency code"))
    }
}

/// A non-negative amount in minor units, at most [`MAX_MINOR_UNITS`].
pub fn valid_amount(minor_units: i64) -> bool {
    (0..=MAX_MINOR_UNITS).contains(&minor_units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_and_unique() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn parses_known_codes_in_any_case_and_rejects_others() {
        assert_eq!(Currency::parse(" eur ").map(|c| c.as_str()), Some("EUR"));
        assert_eq!(Currency::parse("USD").map(|c| c.as_str()), Some("USD"));
        for bad in ["", "EU", "EURO", "XXX", "ABC", "usd1"] {
            assert!(Currency::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_bounded_and_non_negative() {
        assert!(valid_amount(0));
        assert!(valid_amount(MAX_MINOR_UNITS));
        assert!(!valid_amount(-1));
        assert!(!valid_amount(MAX_MINOR_UNITS + 1));
    }
}
