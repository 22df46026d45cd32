//! What Konnecs asks Google for, feature by feature, and the pure parts of
//! the OAuth flow (the PKCE challenge of a verifier).
//!
//! Scopes are requested incrementally: connecting asks only for the scopes
//! of the features the member switches on, and switching another on later
//! asks for its scopes alone (`include_granted_scopes`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A feature that needs access to the member's Google account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GoogleFeature {
    /// Appointments written into, and busy times read from, Google Calendar.
    Calendar,
    /// Email sent from the member's Gmail, and replies to it noticed.
    Gmail,
    /// A one-time import of the member's Google contacts.
    Contacts,
}

impl GoogleFeature {
    pub const ALL: [GoogleFeature; 3] = [GoogleFeature::Calendar, GoogleFeature::Gmail, GoogleFeature::Contacts];

    pub fn as_str(self) -> &'static str {
        match self {
            GoogleFeature::Calendar => "calendar",
            GoogleFeature::Gmail => "gmail",
            GoogleFeature::Contacts => "contacts",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|feature| feature.as_str() == name)
    }

    pub fn label(self) -> &'static str {
        match self {
            GoogleFeature::Calendar => "Google Calendar",
            GoogleFeature::Gmail => "Gmail",
            GoogleFeature::Contacts => "Google Contacts",
        }
    }

    /// The OAuth scopes the feature needs, and nothing more.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            GoogleFeature::Calendar => &["https://www.googleapis.com/auth/calendar.events"],
            GoogleFeature::Gmail => &[
                "https://www.googleapis.com/auth/gmail.readonly",
                "https://www.googleapis.com/auth/gmail.send",
            ],
            GoogleFeature::Contacts => &["https://www.googleapis.com/auth/contacts.readonly"],
        }
    }

    /// What the access is used for, in plain words, shown before connecting.
    pub fn explanation(self) -> &'static str {
        match self {
            GoogleFeature::Calendar => {
                "Konnecs adds your appointments to the calendar you choose and keeps them up to date. \
                 It reads when you are busy so nobody books you then. It never changes or deletes \
                 events it did not create."
            }
            GoogleFeature::Gmail => {
                "Konnecs sends the emails you write to contacts from your own Gmail address, and \
                 notices replies in those conversations. It reads nothing else in your mailbox."
            }
            GoogleFeature::Contacts => {
                "Konnecs imports the names, email addresses and phone numbers of your Google \
                 contacts once, when you start an import. It does not read them again unless you \
                 start another import."
            }
        }
    }

    /// The features whose every scope is in `granted` (a space-separated
    /// scope list, as Google's token answer gives it).
    pub fn granted_in(granted: &str) -> Vec<GoogleFeature> {
        let granted: Vec<&str> = granted.split_whitespace().collect();
        Self::ALL
            .into_iter()
            .filter(|feature| feature.scopes().iter().all(|scope| granted.contains(scope)))
            .collect()
    }
}

/// The scopes every connection asks for besides the features': who the
/// Google account is (shown on the Integrations page).
pub const IDENTITY_SCOPES: [&str; 2] = ["openid", "email"];

/// The space-separated scope list that asks for `features`.
pub fn scope_list(features: &[GoogleFeature]) -> String {
    let mut scopes: Vec<&str> = IDENTITY_SCOPES.to_vec();
    for feature in features {
        for scope in feature.scopes() {
            if !scopes.contains(scope) {
                scopes.push(scope);
            }
        }
    }
    scopes.join(" ")
}

/// The PKCE `S256` challenge of a code verifier (RFC 7636 §4.2):
/// base64url, unpadded, of the verifier's SHA-256.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn scopes_are_only_those_of_the_features_asked_for() {
        let list = scope_list(&[GoogleFeature::Calendar]);
        assert_eq!(list, "openid email https://www.googleapis.com/auth/calendar.events");
        assert!(!list.contains("gmail"));
        let both = scope_list(&[GoogleFeature::Gmail, GoogleFeature::Contacts]);
        assert!(both.contains("gmail.send") && both.contains("gmail.readonly") && both.contains("contacts.readonly"));
        assert!(!both.contains("calendar"));
    }

    #[test]
    fn a_feature_counts_as_granted_only_with_all_its_scopes() {
        let granted =
            "openid https://www.googleapis.com/auth/gmail.send https://www.googleapis.com/auth/calendar.events";
        assert_eq!(GoogleFeature::granted_in(granted), vec![GoogleFeature::Calendar]);
    }
}
