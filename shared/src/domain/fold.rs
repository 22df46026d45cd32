//! Case- and accent-insensitive text for search keys: Unicode NFKD, combining
//! marks stripped, lower-cased, whitespace collapsed.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `"  Zoë  O'BRIEN "` → `"zoe o'brien"`.
pub fn fold(text: &str) -> String {
    let folded: String = text
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a search query is a phone number: digits with the usual
/// punctuation, and at least one digit.
pub fn is_phone_query(query: &str) -> bool {
    query.chars().any(|c| c.is_ascii_digit()) && query.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_and_case_fold_away() {
        assert_eq!(fold("  Zoë   Ångström "), "zoe angstrom");
        assert_eq!(fold("JOSÉ"), "jose");
        assert_eq!(fold("ﬁnn"), "finn");
    }

    #[test]
    fn phone_queries_are_digits_and_punctuation() {
        assert!(is_phone_query("+1 (415) 555"));
        assert!(!is_phone_query("ann"));
        assert!(!is_phone_query("()"));
    }
}
