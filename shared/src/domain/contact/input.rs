//! A contact as the API and the pages take it: new contacts, partial
//! updates, and the shapes an email, a phone or a consent may be given in.

use crate::domain::ids::UserId;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Address, ConsentStatus};

/// An email as given: `"a@b.co"` or `{"address": "a@b.co", "primary": true}`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum EmailInput {
    Plain(String),
    Full {
        address: String,
        #[serde(default)]
        primary: bool,
    },
}

/// A phone as given: `"415 555 0123"` or `{"number": "...", "primary": true}`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PhoneInput {
    Plain(String),
    Full {
        number: String,
        #[serde(default)]
        primary: bool,
    },
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub status: ConsentStatus,
    pub source: String,
    #[serde(default)]
    pub text: Option<String>,
    /// Defaults to the caller's IP.
    #[serde(default)]
    pub ip: Option<String>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    pub at: Option<String>,
}

/// A new contact.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub emails: Vec<EmailInput>,
    #[serde(default)]
    pub phones: Vec<PhoneInput>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub address: Option<Address>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub owner_id: Option<UserId>,
    #[serde(default)]
    pub custom_fields: Map<String, Value>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub sms_consent: Option<ConsentInput>,
    #[serde(default)]
    pub email_consent: Option<ConsentInput>,
}

/// `Some(None)` for an explicit `null` (clear), `None` when absent.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A partial update (PATCH): absent fields stay, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default, deserialize_with = "nullable")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub last_name: Option<Option<String>>,
    /// Replaces the list.
    #[serde(default)]
    pub emails: Option<Vec<EmailInput>>,
    #[serde(default)]
    pub phones: Option<Vec<PhoneInput>>,
    #[serde(default, deserialize_with = "nullable")]
    pub company: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub address: Option<Option<Address>>,
    #[serde(default, deserialize_with = "nullable")]
    pub source: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub owner_id: Option<Option<String>>,
    /// Merged key by key; a `null` value removes the key.
    #[serde(default)]
    pub custom_fields: Option<Map<String, Value>>,
    /// Replaces the tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    #[serde(default)]
    pub remove_tags: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub sms_consent: Option<Option<ConsentInput>>,
    #[serde(default, deserialize_with = "nullable")]
    pub email_consent: Option<Option<ConsentInput>>,
}
