//! CSV import: the file's records, the header's column mapping (detected,
//! and overridden as the upload's `mapping` does) and every row's contact.

use std::collections::BTreeMap;

use konnecs::domain::contact::{FieldDef, FieldType};
use konnecs::domain::email::Email;
use konnecs::services::imports::{ImportError, detect_target, read_file};

const REGIONS: [&str; 5] = ["US", "GB", "DE", "FR", "AU"];

fn def(key: &str, kind: FieldType, options: &[&str]) -> FieldDef {
    FieldDef {
        id: format!("fld-{key}"),
        key: key.to_string(),
        label: key.to_string(),
        kind,
        options: options.iter().map(|o| o.to_string()).collect(),
        created_at: "2026-01-01T00:00:00Z".into(),
        version: 1,
    }
}

/// One custom field of every kind, so `custom.<key>` columns reach each
/// value check.
fn custom_fields() -> Vec<FieldDef> {
    vec![
        def("notes", FieldType::Text, &[]),
        def("visits", FieldType::Number, &[]),
        def("birthday", FieldType::Date, &[]),
        def("plan", FieldType::SingleSelect, &["basic", "plus"]),
        def("interests", FieldType::MultiSelect, &["implants", "whitening"]),
        def("vip", FieldType::Checkbox, &[]),
        def("site", FieldType::Url, &[]),
    ]
}

/// Input: one byte choosing the organization's country, then optionally
/// `header=target&…` (the uploader's overrides, form-encoded) and a NUL,
/// then the CSV file.
pub fn csv_import(data: &[u8]) {
    let Some((region, rest)) = data.split_first() else {
        return;
    };
    let region = REGIONS[usize::from(*region) % REGIONS.len()];
    let (overrides, csv): (BTreeMap<String, String>, &[u8]) = match rest.iter().position(|b| *b == 0) {
        Some(at) => (
            form_urlencoded::parse(&rest[..at]).into_owned().collect(),
            &rest[at + 1..],
        ),
        None => (BTreeMap::new(), rest),
    };
    let defs = custom_fields();
    let keys: Vec<String> = defs.iter().map(|d| d.key.clone()).collect();
    match read_file(csv, &defs, &overrides, region) {
        Err(ImportError::Invalid(errors)) => assert!(!errors.is_empty(), "a refused file says why"),
        Err(other) => panic!("a file is only ever refused as invalid input, not {other:?}"),
        Ok((mapping, rows)) => {
            for (index, column) in mapping.iter().enumerate() {
                assert_eq!(column.column, index, "columns are mapped in file order");
                let overridden = overrides
                    .keys()
                    .any(|h| h.trim().eq_ignore_ascii_case(column.header.trim()));
                if !overridden {
                    assert_eq!(column.target, detect_target(&column.header, &keys));
                }
            }
            if !rows.is_empty() {
                assert!(
                    mapping
                        .iter()
                        .any(|c| ["email", "phone", "id"].contains(&c.target.as_str())),
                    "rows are read only with a column that identifies the contact"
                );
            }
            for row in rows {
                match row {
                    Err(errors) => assert!(!errors.is_empty(), "a failed row says why"),
                    Ok(contact) => {
                        assert!(contact.is_identifiable(), "an imported contact can be told apart");
                        for email in &contact.emails {
                            let again = Email::parse(&email.address).map(|e| e.as_str().to_string());
                            assert_eq!(
                                again.as_deref(),
                                Ok(email.address.as_str()),
                                "emails are stored normalized"
                            );
                        }
                        for phone in &contact.phones {
                            crate::normalise::assert_e164(&phone.e164);
                        }
                    }
                }
            }
        }
    }
}
