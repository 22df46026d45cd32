//! A contact, validated the same way whoever writes it: the API and the
//! pages (create, update), the CSV importer, a merge of two contacts and a
//! booking's invitee. Pure: storage lives in `services::contacts`.

mod custom_fields;
mod input;
mod record;
mod rules;

pub use custom_fields::{FieldDef, FieldType, apply_values, check_value};
pub use input::{ConsentInput, ContactPatch, EmailInput, NewContact, PhoneInput, nullable};
pub use record::{Address, BoundedList, Consent, ConsentStatus, ContactEmail, ContactPhone, ContactRecord};
pub use rules::{
    clean_address, clean_text, consent, normalize_tag, normalize_tags, parse_emails, parse_phones, settle_primary,
    too_many,
};

pub const MAX_EMAILS: usize = 10;
pub const MAX_PHONES: usize = 10;
pub const MAX_TAGS: usize = 20;
