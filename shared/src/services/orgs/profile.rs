//! The organization's profile: reading and validated changes.

use super::OrgError;
use crate::domain::country;
use crate::domain::ids::OrgId;
use crate::domain::input::FieldError;
use crate::domain::input::{optional_url, required_text};
use crate::domain::slug::Slug;
use crate::ports::{Condition, StoreError, Update, WriteOp};
use crate::ports::{HasClock, HasTable};
use crate::services::audit::{self, Actor};
use crate::services::records::{OrgRecord, from_item, org_key, slug_key, to_item};
use serde::Serialize;
use serde_json::json;

/// The organization as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub time_zone: String,
    pub country: String,
    pub slug: String,
    pub version: u64,
    pub created_at: String,
}

impl From<OrgRecord> for OrgView {
    fn from(org: OrgRecord) -> Self {
        Self {
            id: org.id,
            name: org.name,
            website: org.website,
            industry: org.industry,
            time_zone: org.time_zone,
            country: org.country,
            slug: org.slug,
            version: org.version,
            created_at: org.created_at,
        }
    }
}

pub async fn org(state: &impl HasTable, org_id: &OrgId) -> Result<OrgRecord, OrgError> {
    let item = state.table().get(&org_key(org_id)).await?.ok_or(OrgError::NotFound)?;
    Ok(from_item(item)?)
}

/// A change to the profile. `None` leaves a field as it is; for the optional
/// fields `Some(None)` (JSON null or "") clears it.
#[derive(Debug, Default)]
pub struct OrgChange {
    pub name: Option<String>,
    pub website: Option<Option<String>>,
    pub industry: Option<Option<String>>,
    pub time_zone: Option<String>,
    pub country: Option<String>,
    pub slug: Option<String>,
    /// The version the client read; a different current version is refused.
    pub version: Option<u64>,
}

/// The canonical IANA name of a time zone jiff knows, e.g. "europe/berlin" → "Europe/Berlin".
pub fn parse_time_zone(raw: &str) -> Option<String> {
    let name = raw.trim();
    if name.is_empty() {
        return None;
    }
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    Some(tz.iana_name().unwrap_or(name).to_string())
}

pub(super) struct ValidChange {
    name: Option<String>,
    website: Option<Option<String>>,
    industry: Option<Option<String>>,
    time_zone: Option<String>,
    country: Option<&'static str>,
    slug: Option<Slug>,
}

pub(super) fn validate(change: &OrgChange) -> Result<ValidChange, OrgError> {
    let mut errors = Vec::new();
    let name = change
        .name
        .as_deref()
        .map(|n| required_text("name", n, 100, &mut errors));
    let website = change
        .website
        .as_ref()
        .map(|w| optional_url("website", w.as_deref(), &mut errors));
    let industry = change.industry.as_ref().map(|i| {
        let text = i
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if text.as_ref().is_some_and(|t| t.chars().count() > 60) {
            errors.push(FieldError::new("industry", "too_long", "Use at most 60 characters."));
        }
        text
    });
    let time_zone = change.time_zone.as_deref().and_then(|raw| {
        let parsed = parse_time_zone(raw);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "time_zone",
                "invalid_time_zone",
                "Use an IANA time zone name, e.g. Europe/Berlin or America/New_York.",
            ));
        }
        parsed
    });
    let country = change.country.as_deref().and_then(|raw| {
        let parsed = country::parse(raw);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "country",
                "invalid_country",
                "Use an ISO 3166-1 alpha-2 country code, e.g. US or DE.",
            ));
        }
        parsed
    });
    let slug = change.slug.as_deref().and_then(|raw| match Slug::parse(raw) {
        Ok(slug) => Some(slug),
        Err(err) => {
            errors.push(FieldError::new("slug", err.code(), err.message()));
            None
        }
    });
    if !errors.is_empty() {
        return Err(OrgError::Invalid(errors));
    }
    Ok(ValidChange {
        name,
        website,
        industry,
        time_zone,
        country,
        slug,
    })
}

/// Edits the profile in one transaction: the org record (only if its version
/// is still the one read), the slug uniqueness items swapped, the audit entry.
/// The caller has checked `ManageSettings`.
pub async fn update_org(
    state: &(impl HasTable + HasClock),
    actor: &Actor,
    change: OrgChange,
) -> Result<OrgRecord, OrgError> {
    let valid = validate(&change)?;
    let current = org(state, &actor.org_id).await?;
    if change.version.is_some_and(|v| v != current.version) {
        return Err(OrgError::StaleVersion);
    }
    let mut update = Update::default();
    let mut changed: Vec<&str> = Vec::new();
    if let Some(name) = valid.name.filter(|n| *n != current.name) {
        update = update.set("name", name);
        changed.push("name");
    }
    for (attribute, value, now) in [
        ("website", valid.website, &current.website),
        ("industry", valid.industry, &current.industry),
    ] {
        match value {
            Some(new) if new != *now => {
                update = match new {
                    Some(text) => update.set(attribute, text),
                    None => update.remove(attribute),
                };
                changed.push(attribute);
            }
            _ => {}
        }
    }
    if let Some(tz) = valid.time_zone.filter(|tz| *tz != current.time_zone) {
        update = update.set("time_zone", tz);
        changed.push("time_zone");
    }
    if let Some(country) = valid.country.filter(|c| *c != current.country) {
        update = update.set("country", country);
        changed.push("country");
    }
    let new_slug = valid.slug.filter(|s| s.as_str() != current.slug);
    if let Some(slug) = &new_slug {
        update = update.set("slug", slug.as_str());
        changed.push("slug");
    }
    if changed.is_empty() {
        return Ok(current);
    }
    let now = state.clock().now();
    let mut ops = vec![WriteOp::Update {
        key: org_key(&current.id),
        update: update.add("version", 1),
        condition: Some(Condition::VersionEquals(current.version)),
    }];
    if let Some(slug) = &new_slug {
        ops.push(WriteOp::Put {
            item: to_item(&slug_key(slug.as_str()), &json!({"org_id": current.id}), &[])?,
            condition: Some(Condition::NotExists),
        });
        ops.push(WriteOp::Delete {
            key: slug_key(&current.slug),
            condition: None,
        });
    }
    ops.push(audit::entry(
        actor,
        now,
        "org.updated",
        &format!("org:{}", current.id),
        json!({"changed": changed}),
    ));
    match state.table().transact(ops).await {
        Ok(()) => org(state, &current.id).await,
        Err(StoreError::TransactionConditionFailed { index: 0 }) => Err(OrgError::StaleVersion),
        Err(StoreError::TransactionConditionFailed { index: 1 }) => Err(OrgError::SlugTaken),
        Err(err) => Err(err.into()),
    }
}
