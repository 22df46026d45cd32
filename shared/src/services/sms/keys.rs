//! The keys of the items texts leave outside the recipient's contact (see
//! the table in the parent module). A leaf: erasing a contact's texts
//! (`erase`) needs them without the rest of the SMS service.

use crate::domain::ids::OrgId;
use crate::ports::Key;

pub fn peer_key(sender: &str, recipient: &str) -> Key {
    Key::new(format!("SMSPEER#{sender}#{recipient}"), "PEER")
}

pub fn message_key(message_id: &str) -> Key {
    Key::new(format!("SMSMSG#{message_id}"), "MESSAGE")
}

pub fn inbound_key(message_sid: &str) -> Key {
    Key::new(format!("SMSIN#{message_sid}"), "INBOUND")
}

pub fn notifications_partition(org_id: &OrgId) -> String {
    format!("ORG#{org_id}#NOTIFY")
}
