//! Who calls the contact use cases, and the checks of a new contact that
//! need the store (the organization's country for phones, the owner's
//! membership, the custom field definitions). The record and its pure rules
//! are `domain::contact`.

use crate::domain::ids::ContactId;
use crate::domain::ids::OrgId;
use crate::domain::ids::UserId;
use serde_json::Map;

use super::fields;
use super::{ContactError, Errors};
use crate::domain::contact::{
    BoundedList, ContactRecord, NewContact, clean_address, clean_text, consent, normalize_tags, parse_emails,
    parse_phones, too_many,
};
use crate::domain::input::FieldError;
use crate::ports::HasTable;
use crate::ports::{StoreError, Table};
use crate::services::audit::Actor;
use crate::services::records::{OrgRecord, from_item, member_key, new_id, org_key};

/// Who acts and from where; `role` decides admin-only actions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub user_id: UserId,
    pub is_admin: bool,
}

impl Caller {
    pub fn org_id(&self) -> &OrgId {
        &self.actor.org_id
    }
}

pub(super) async fn org_region(table: &dyn Table, org_id: &OrgId) -> Result<String, ContactError> {
    let org: OrgRecord = from_item(table.get(&org_key(org_id)).await?.ok_or(ContactError::NotFound)?)?;
    Ok(org.country)
}

pub(super) async fn check_owner(
    table: &dyn Table,
    org_id: &OrgId,
    owner: Option<&str>,
    errors: &mut Errors,
) -> Result<(), StoreError> {
    if let Some(owner) = owner
        && table.get(&member_key(org_id, &UserId::from(owner))).await?.is_none()
    {
        errors.push(FieldError::new(
            "owner_id",
            "not_a_member",
            "The owner must be a member of the organization.",
        ));
    }
    Ok(())
}

/// A contact must name or reach someone.
pub(super) fn require_identity(record: &ContactRecord, errors: &mut Errors) {
    if !record.is_identifiable() {
        errors.push(ContactRecord::identity_error());
    }
}

/// Builds (but does not store) a contact from input, validated. `country`
/// is the organization's (the region its phone numbers are read in) when
/// the caller has the organization already; `None` reads it if phones are
/// given.
pub(super) async fn build_new(
    state: &impl HasTable,
    caller: &Caller,
    input: NewContact,
    now: jiff::Timestamp,
    country: Option<&str>,
) -> Result<ContactRecord, ContactError> {
    let table = state.table().as_ref();
    let org_id = caller.org_id();
    let mut errors = Errors::new();
    let region = match country {
        _ if input.phones.is_empty() => String::new(),
        Some(country) => country.to_string(),
        None => org_region(table, org_id).await?,
    };
    let emails = parse_emails(&input.emails, &mut errors);
    let phones = parse_phones(&input.phones, &region, &mut errors);
    let tags = normalize_tags("tags", &input.tags, &mut errors);
    if tags.len() > BoundedList::Tags.max() {
        errors.push(too_many(BoundedList::Tags, "tags"));
    }
    let owner_id = input
        .owner_id
        .map(|o| o.trim().to_string())
        .filter(|o| !o.is_empty())
        .map(UserId::from);
    check_owner(table, org_id, owner_id.as_deref(), &mut errors).await?;
    let custom_fields = if input.custom_fields.is_empty() {
        Map::new()
    } else {
        let defs = fields::list(table, org_id).await?;
        fields::apply_values(&defs, &Map::new(), &input.custom_fields, &mut errors)
    };
    let record = ContactRecord {
        id: ContactId::new(new_id()),
        org_id: OrgId::from(org_id.to_string()),
        first_name: clean_text("first_name", input.first_name, 100, &mut errors),
        last_name: clean_text("last_name", input.last_name, 100, &mut errors),
        emails,
        phones,
        company: clean_text("company", input.company, 200, &mut errors),
        address: clean_address(input.address, &mut errors),
        source: clean_text("source", input.source, 100, &mut errors),
        owner_id,
        custom_fields,
        tags,
        sms_consent: input
            .sms_consent
            .map(|c| consent(c, "sms_consent", caller.actor.ip.as_deref(), now, &mut errors)),
        email_consent: input
            .email_consent
            .map(|c| consent(c, "email_consent", caller.actor.ip.as_deref(), now, &mut errors)),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        created_ms: now.as_millisecond(),
        version: 1,
        import_keys: Vec::new(),
    };
    require_identity(&record, &mut errors);
    if errors.is_empty() {
        Ok(record)
    } else {
        Err(ContactError::Invalid(errors))
    }
}
