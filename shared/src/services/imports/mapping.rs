//! Column mapping: which contact field each CSV header fills (detected from the
//! header, or chosen by the uploader), and reading the file's records.

use std::collections::BTreeMap;

use super::{ColumnMap, ImportError, invalid};
use crate::domain::input::FieldError;

pub(super) const ADDRESS_PARTS: [&str; 6] = ["line1", "line2", "city", "region", "postal_code", "country"];

/// Lower-case letters and digits only: `"E-mail Address"` → `"emailaddress"`.
pub(super) fn squash(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(|c| c.to_lowercase())
        .collect()
}

/// The target a header maps to by itself (`ignore` when nothing fits).
pub fn detect_target(header: &str, custom_keys: &[String]) -> String {
    let trimmed = header.trim();
    if let Some(key) = trimmed.strip_prefix("custom.")
        && custom_keys.iter().any(|k| k == key)
    {
        return format!("custom.{key}");
    }
    for key in custom_keys {
        if key.eq_ignore_ascii_case(trimmed) || squash(key) == squash(trimmed) {
            return format!("custom.{key}");
        }
    }
    let squashed = squash(trimmed);
    let target = match squashed.as_str() {
        "firstname" | "first" | "givenname" | "forename" | "fname" => "first_name",
        "lastname" | "last" | "surname" | "familyname" | "lname" => "last_name",
        "name" | "fullname" | "contactname" | "contact" | "displayname" => "name",
        "email" | "emailaddress" | "mail" | "emails" | "primaryemail" | "workemail" | "personalemail" | "email1"
        | "email2" | "otheremail" | "otheremails" => "email",
        "phone" | "phonenumber" | "phones" | "mobile" | "mobilephone" | "mobilenumber" | "cell" | "cellphone"
        | "telephone" | "tel" | "workphone" | "homephone" | "phone1" | "phone2" => "phone",
        "company" | "companyname" | "organization" | "organisation" | "business" | "account" | "employer" => "company",
        "tags" | "tag" | "labels" | "label" => "tags",
        "id" | "contactid" | "recordid" | "externalid" | "importkey" => "id",
        "source" | "leadsource" => "source",
        "address" | "address1" | "addressline1" | "street" | "streetaddress" | "addressline1street" => "address.line1",
        "address2" | "addressline2" => "address.line2",
        "city" | "town" | "addresscity" => "address.city",
        "state" | "region" | "province" | "county" | "addressregion" | "addressstate" => "address.region",
        "zip" | "zipcode" | "postalcode" | "postcode" | "addresspostalcode" => "address.postal_code",
        "country" | "addresscountry" => "address.country",
        _ => "ignore",
    };
    target.to_string()
}

pub(super) fn valid_target(target: &str, custom_keys: &[String]) -> bool {
    match target {
        "id" | "first_name" | "last_name" | "name" | "email" | "phone" | "company" | "tags" | "source" | "ignore" => {
            true
        }
        other => {
            if let Some(part) = other.strip_prefix("address.") {
                ADDRESS_PARTS.contains(&part)
            } else if let Some(key) = other.strip_prefix("custom.") {
                custom_keys.iter().any(|k| k == key)
            } else {
                false
            }
        }
    }
}

/// Auto-detected mapping of every column, with the caller's overrides
/// (header → target, header matched case-insensitively) applied.
pub(super) fn map_columns(
    headers: &[String],
    custom_keys: &[String],
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<ColumnMap>, ImportError> {
    let mut errors = Vec::new();
    let mut mapping: Vec<ColumnMap> = headers
        .iter()
        .enumerate()
        .map(|(column, header)| ColumnMap {
            column,
            header: header.clone(),
            target: detect_target(header, custom_keys),
        })
        .collect();
    for (header, target) in overrides {
        let target = target.trim();
        if !valid_target(target, custom_keys) {
            errors.push(FieldError::new(
                format!("mapping.{header}"),
                "unknown_target",
                "Map to id, first_name, last_name, name, email, phone, company, tags, source, address.<part>, custom.<key> or ignore.",
            ));
            continue;
        }
        let mut found = false;
        for column in mapping
            .iter_mut()
            .filter(|c| c.header.trim().eq_ignore_ascii_case(header.trim()))
        {
            column.target = target.to_string();
            found = true;
        }
        if !found {
            errors.push(FieldError::new(
                format!("mapping.{header}"),
                "unknown_column",
                "The file has no column with this header.",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    Ok(mapping)
}

/// As [`map_columns`], and at least one column must say which contact a
/// row is.
pub fn build_mapping(
    headers: &[String],
    custom_keys: &[String],
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<ColumnMap>, ImportError> {
    let mapping = map_columns(headers, custom_keys, overrides)?;
    if !mapping
        .iter()
        .any(|c| ["email", "phone", "id"].contains(&c.target.as_str()))
    {
        return Err(invalid(
            "mapping",
            "no_identity_column",
            "Map at least one column to email, phone or id: rows are matched to contacts by them.",
        ));
    }
    Ok(mapping)
}

// ---------------------------------------------------------------- CSV parts

pub(super) fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes)
}

/// Every record of a part (the header too, for part 0); unreadable CSV is a 422.
pub(super) fn parse_records(bytes: &[u8]) -> Result<Vec<csv::StringRecord>, ImportError> {
    let mut out = Vec::new();
    for (i, record) in reader(bytes).records().enumerate() {
        match record {
            Ok(record) => {
                if record.iter().all(str::is_empty) {
                    continue; // blank line
                }
                out.push(record);
            }
            Err(err) => {
                return Err(invalid(
                    "file",
                    "unreadable_csv",
                    format!("Record {} is not valid UTF-8 CSV: {err}", i + 1),
                ));
            }
        }
    }
    Ok(out)
}
