//! The ids of the main entities, each its own type, so a contact id cannot
//! be passed where a booking id goes. Stored and sent as the plain string
//! (`serde(transparent)`); keys are built from the string (`Deref<Target = str>`).
//! New ids are made by the services (`records::new_id`), not here: the
//! domain does no I/O, and randomness is I/O.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> Self {
                Self(id.clone())
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }

        impl From<&$name> for serde_json::Value {
            fn from(id: &$name) -> serde_json::Value {
                serde_json::Value::String(id.0.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<&$name> for String {
            fn eq(&self, other: &&$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for serde_json::Value {
            fn from(id: $name) -> serde_json::Value {
                serde_json::Value::String(id.0)
            }
        }
    };
}

id_type!(
    /// An organization: the tenant every other item belongs to.
    OrgId
);
id_type!(
    /// A person's account (a member of one or more organizations).
    UserId
);
id_type!(
    /// A contact of an organization.
    ContactId
);
id_type!(
    /// An appointment booked on an event type.
    BookingId
);
id_type!(
    /// A bookable kind of meeting.
    EventTypeId
);
id_type!(
    /// A sales pipeline.
    PipelineId
);
id_type!(
    /// A deal in a pipeline.
    DealId
);
id_type!(
    /// An organization's outgoing-webhook endpoint.
    WebhookEndpointId
);
id_type!(
    /// One event's delivery to one webhook endpoint (all its attempts).
    WebhookDeliveryId
);
id_type!(
    /// An embedded form.
    FormId
);
id_type!(
    /// One submission of an embedded form.
    SubmissionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_stored_and_sent_as_its_plain_string() {
        let id = ContactId::new("0192abc");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"0192abc\"");
        let back: ContactId = serde_json::from_str("\"0192abc\"").unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string(), "0192abc");
        assert_eq!(id, "0192abc");
    }
}
