//! Pure types and rules: no I/O, no async. Ids, validated newtypes, slot
//! computation, keyword classification and form validation live here.

pub mod email;
pub mod password;
pub mod role;
pub mod schedule;
pub mod slots;
pub mod slug;
