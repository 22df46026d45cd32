//! What each HTTP entry reads and answers, one file per catalogue area. Each
//! file maps an entry's name to its [`Operation`](super::Operation), built
//! from the request and response types its handler uses.

pub(super) mod accounts;
pub(super) mod booking;
pub(super) mod contacts;
pub(super) mod deals;
pub(super) mod forms;
pub(super) mod organization;
pub(super) mod platform;
pub(super) mod scheduling;
pub(super) mod transfers;
