//! The `BusyTimes` port: a host's busy intervals from outside Konnecs (Google
//! Calendar will fill it). The slot engine treats them like bookings without
//! buffers. Until a calendar is connected, [`NoBusyTimes`] answers nothing.

use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::slots::Busy;

#[derive(Debug, thiserror::Error)]
pub enum BusyError {
    /// The calendar provider did not answer; booking must not guess.
    #[error("busy times unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait BusyTimes: Send + Sync {
    /// Busy intervals of `host_user_id` (a member of `org_id`) meeting `[from, to)`.
    async fn busy(
        &self,
        org_id: &OrgId,
        host_user_id: &UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Busy>, BusyError>;
}

/// No external calendar: never busy.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoBusyTimes;

#[async_trait]
impl BusyTimes for NoBusyTimes {
    async fn busy(&self, _: &OrgId, _: &UserId, _: Timestamp, _: Timestamp) -> Result<Vec<Busy>, BusyError> {
        Ok(Vec::new())
    }
}
