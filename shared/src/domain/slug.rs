//! Public slugs (organizations, event types, forms): lower-case, URL-safe.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Paths of our own that a slug must not shadow.
const RESERVED: &[&str] = &[
    "admin", "api", "app", "auth", "book", "booking", "bookings", "dev", "forms", "health", "help", "login", "logout",
    "me", "new", "openapi", "org", "public", "settings", "signup", "static", "support", "www",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugError {
    Length,
    Characters,
    Reserved,
}

impl SlugError {
    pub fn code(self) -> &'static str {
        match self {
            SlugError::Length => "slug_length",
            SlugError::Characters => "slug_characters",
            SlugError::Reserved => "slug_reserved",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            SlugError::Length => "Use 3 to 63 characters.",
            SlugError::Characters => "Use lower-case letters, digits and single hyphens, not at either end.",
            SlugError::Reserved => "This name is reserved.",
        }
    }
}

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        let slug = raw.trim();
        if !(3..=63).contains(&slug.len()) {
            return Err(SlugError::Length);
        }
        let valid_chars = slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_chars || slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
            return Err(SlugError::Characters);
        }
        if RESERVED.contains(&slug) {
            return Err(SlugError::Reserved);
        }
        Ok(Self(slug.to_string()))
    }

    /// A valid slug made from free text ("Café Olé, Ltd." → "cafe-ole-ltd"),
    /// padded when too short. Used to suggest a default.
    pub fn suggest(text: &str) -> Self {
        let mut out = String::new();
        for c in text.chars().flat_map(char::to_lowercase) {
            let mapped = match c {
                'a'..='z' | '0'..='9' => Some(c),
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => Some('a'),
                'ç' => Some('c'),
                'è' | 'é' | 'ê' | 'ë' => Some('e'),
                'ì' | 'í' | 'î' | 'ï' => Some('i'),
                'ñ' => Some('n'),
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => Some('o'),
                'ù' | 'ú' | 'û' | 'ü' => Some('u'),
                'ý' | 'ÿ' => Some('y'),
                'ß' => Some('s'),
                _ => None,
            };
            match mapped {
                Some(c) => out.push(c),
                None if !out.ends_with('-') && !out.is_empty() => out.push('-'),
                None => {}
            }
        }
        let mut slug: String = out.trim_matches('-').chars().take(50).collect();
        slug = slug.trim_end_matches('-').to_string();
        if slug.len() < 3 || RESERVED.contains(&slug.as_str()) {
            slug = if slug.is_empty() { "org".into() } else { slug };
            slug.push_str("-co");
        }
        Self(slug)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Slug::parse(&raw).map_err(|err| serde::de::Error::custom(err.message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lower_case_words_with_single_hyphens() {
        assert!(Slug::parse("acme-dental-2").is_ok());
        assert_eq!(Slug::parse("ab"), Err(SlugError::Length));
        assert_eq!(Slug::parse("Acme"), Err(SlugError::Characters));
        assert_eq!(Slug::parse("-acme"), Err(SlugError::Characters));
        assert_eq!(Slug::parse("ac--me"), Err(SlugError::Characters));
        assert_eq!(Slug::parse("admin"), Err(SlugError::Reserved));
    }

    #[test]
    fn suggested_slugs_are_always_valid() {
        for text in [
            "Café Olé, Ltd.",
            "A",
            "!!!",
            "Admin",
            "Zahnarztpraxis Dr. Müller & Söhne GmbH",
            "x".repeat(200).as_str(),
        ] {
            let slug = Slug::suggest(text);
            assert!(Slug::parse(slug.as_str()).is_ok(), "{text:?} → {slug}");
        }
        assert_eq!(Slug::suggest("Café Olé, Ltd.").as_str(), "cafe-ole-ltd");
    }
}
