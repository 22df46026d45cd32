//! CSV cells that a spreadsheet would run as formulas (CSV injection).
//!
//! Excel, LibreOffice and Google Sheets evaluate a cell that starts with
//! `=`, `+`, `-` or `@` (and some treat a leading tab or carriage return the
//! same way), so a contact named `=HYPERLINK(...)` would run when a business
//! opens its export. Exports prefix such cells with `'`, which spreadsheets
//! show as text (OWASP's advice); the importer removes that prefix again, so
//! an export still imports as the same contacts. Plain numbers and phone
//! numbers (`+1 212 555 0100`, `-5`) cannot call anything and stay as they are.

use std::borrow::Cow;

const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn starts_like_a_formula(cell: &str) -> bool {
    cell.starts_with(TRIGGERS)
}

/// Digits with the punctuation of numbers and phone numbers only.
fn is_plain_number(cell: &str) -> bool {
    cell.chars().any(|c| c.is_ascii_digit())
        && cell
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.' | ','))
}

/// `'` followed by what a spreadsheet would run (after any more `'`): a
/// guard, or a value that would read as one.
fn looks_guarded(cell: &str) -> bool {
    cell.starts_with('\'') && starts_like_a_formula(cell.trim_start_matches('\''))
}

/// The cell as written to an exported CSV. A value that already looks
/// guarded gets one more `'`, so the importer gives it back unchanged.
pub fn escape_formula(cell: &str) -> Cow<'_, str> {
    if (starts_like_a_formula(cell) && !is_plain_number(cell)) || looks_guarded(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The cell as the importer reads it: an export's `'` guard removed.
pub fn unescape_formula(cell: &str) -> &str {
    if looks_guarded(cell) { &cell[1..] } else { cell }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_guarded_and_numbers_are_not() {
        for formula in [
            "=1+2",
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(A1:A2)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(escape_formula(formula), format!("'{formula}"), "{formula:?}");
            assert_eq!(unescape_formula(&escape_formula(formula)), formula);
        }
        for plain in [
            "+1 212 555 0100",
            "+442079460000",
            "-5",
            "-1.5",
            "Ann",
            "ann@example.com",
            "",
            "'quoted",
        ] {
            assert_eq!(escape_formula(plain), plain, "{plain:?}");
            assert_eq!(unescape_formula(plain), plain, "{plain:?}");
        }
        // A name that starts with an apostrophe is left alone on import.
        assert_eq!(unescape_formula("'Neill"), "'Neill");
        // A stored value that looks guarded already survives export and import.
        assert_eq!(escape_formula("'=1"), "''=1");
        assert_eq!(unescape_formula(&escape_formula("'=1")), "'=1");
    }
}
