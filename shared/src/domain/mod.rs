//! Pure types and rules: no I/O, no async. Ids, validated newtypes, slot
//! computation, keyword classification and form validation live here.

pub mod billing;
pub mod contact;
pub mod country;
pub mod email;
pub mod fold;
pub mod form;
pub mod google;
pub mod host;
pub mod ids;
pub mod input;
pub mod membership;
pub mod money;
pub mod password;
pub mod phone;
pub mod role;
pub mod schedule;
pub mod slots;
pub mod slug;
pub mod sms;
pub mod spreadsheet;
pub mod token;
pub mod webhook;
