//! What the public booking pages render on the server, read by the same
//! rules as the public API: an active event type by its slugs
//! ([`super::bookings::public_event`]), and a booking by its uid and manage
//! token (here). Unknown, inactive and wrong-token all read as `NotFound`.

use super::bookings::{self, BookingView};
use super::event_types::EventTypeRecord;
use super::{SchedulingError, event_type_key};
use crate::domain::ids::BookingId;
use crate::ports::HasTable;
use crate::ports::Key;
use crate::services::records::{MemberRecord, OrgRecord, from_item, member_key, org_key};

/// The invitee's manage page: the booking and where it belongs.
#[derive(Debug, Clone)]
pub struct ManagedBooking {
    pub booking: BookingView,
    pub org_name: String,
    pub org_slug: String,
    /// The event type's slug while it takes bookings: where a reschedule
    /// finds free times. None once it is inactive or deleted.
    pub event_slug: Option<String>,
    /// Empty once the host left the organization.
    pub host_name: String,
}

/// The booking `uid` for the holder of its manage `token`: two reads (the
/// token check, then the booking, its organization, event type and host at
/// once).
pub async fn managed_booking(
    state: &impl HasTable,
    uid: &BookingId,
    token: &str,
) -> Result<ManagedBooking, SchedulingError> {
    let table = state.table().as_ref();
    let org_id = bookings::org_of_token(table, uid, token).await?;
    let booking = bookings::get_record(table, &org_id, uid).await?;
    let keys = [
        org_key(&org_id),
        event_type_key(&org_id, &booking.event_type_id),
        member_key(&org_id, &booking.host_user_id),
    ];
    let items = table.batch_get(&keys).await?;
    let find = |key: &Key| items.iter().find(|item| Key::of(item).as_ref() == Some(key)).cloned();
    let org: OrgRecord = from_item(find(&keys[0]).ok_or(SchedulingError::NotFound)?)?;
    let event: Option<EventTypeRecord> = find(&keys[1]).map(from_item).transpose()?;
    let host: Option<MemberRecord> = find(&keys[2]).map(from_item).transpose()?;
    Ok(ManagedBooking {
        booking: booking.view(),
        org_name: org.name,
        org_slug: org.slug,
        event_slug: event.filter(|e| e.active).map(|e| e.slug),
        host_name: host.map(|h| h.name).unwrap_or_default(),
    })
}
