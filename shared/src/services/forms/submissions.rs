//! Submissions of a form: a page of them newest first (optionally between
//! two dates), one with the fields of the version it was made against,
//! erasure of one, of a contact's all, and a CSV export.

use serde_json::{Value, json};

use super::definitions::{get_record, get_version};
use super::{
    Caller, FormError, SubmissionRecord, contact_submissions_partition, count_key, submission_key,
    submissions_partition,
};
use crate::domain::form::{ATTRIBUTION_FIELDS, FormField, answer_text};
use crate::domain::ids::{ContactId, FormId, OrgId, SubmissionId};
use crate::domain::spreadsheet::escape_formula;
use crate::ports::{BatchOp, HasClock, HasTable, Index, Key, Query, SortKey, StoreError, Table, Update, WriteOp};
use crate::services::audit;
use crate::services::records::{from_item, plausible_id};

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;
/// Rows a CSV export holds at most (a bigger one would not fit a response).
pub const MAX_EXPORT_ROWS: usize = 10_000;

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SubmissionPage {
    pub items: Vec<SubmissionRecord>,
    pub next_cursor: Option<String>,
}

fn range(query: &ListQuery) -> Option<SortKey> {
    let lo = query.from.map(|t| format!("{:013}", t.as_millisecond().max(0)));
    let hi = query.to.map(|t| format!("{:013}~", t.as_millisecond().max(0)));
    match (lo, hi) {
        (Some(lo), Some(hi)) => Some(SortKey::Between(lo, hi)),
        (Some(lo), None) => Some(SortKey::Ge(lo)),
        (None, Some(hi)) => Some(SortKey::Le(hi)),
        (None, None) => None,
    }
}

pub async fn list(
    state: &impl HasTable,
    caller: &Caller,
    form_id: &FormId,
    query: ListQuery,
) -> Result<SubmissionPage, FormError> {
    let table = state.table().as_ref();
    get_record(table, &caller.org_id, form_id).await?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let mut q = Query::partition(submissions_partition(&caller.org_id, form_id))
        .on(Index::Gsi1)
        .reverse()
        .limit(limit)
        .after(query.cursor.clone());
    if let Some(sort) = range(&query) {
        q = q.sort(sort);
    }
    let page = table.query(&q).await?;
    let items = page.items.into_iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
    Ok(SubmissionPage {
        items,
        next_cursor: page.cursor,
    })
}

/// A submission with the fields of its version.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SubmissionView {
    #[serde(flatten)]
    pub submission: SubmissionRecord,
    pub fields: Vec<FormField>,
}

async fn get_record_of(
    table: &dyn Table,
    org_id: &OrgId,
    form_id: &FormId,
    id: &SubmissionId,
) -> Result<SubmissionRecord, FormError> {
    if !plausible_id(id) || !plausible_id(form_id) {
        return Err(FormError::NotFound);
    }
    let item = table
        .get(&submission_key(org_id, form_id, id))
        .await?
        .ok_or(FormError::NotFound)?;
    Ok(from_item(item)?)
}

pub async fn get(
    state: &impl HasTable,
    caller: &Caller,
    form_id: &FormId,
    id: &SubmissionId,
) -> Result<SubmissionView, FormError> {
    let submission = get_record_of(state.table().as_ref(), &caller.org_id, form_id, id).await?;
    let fields = get_version(state, &caller.org_id, form_id, submission.form_version)
        .await
        .map(|v| v.spec.fields)
        .unwrap_or_default();
    Ok(SubmissionView { submission, fields })
}

fn erase_ops(submission: &SubmissionRecord) -> Vec<WriteOp> {
    vec![
        WriteOp::Delete {
            key: submission_key(&submission.org_id, &submission.form_id, &submission.id),
            condition: None,
        },
        WriteOp::Update {
            key: count_key(&submission.org_id, &submission.form_id),
            update: Update::default().add("submissions", -1),
            condition: None,
        },
    ]
}

/// Erases one submission (its answers, consent details and attribution).
pub async fn delete(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    form_id: &FormId,
    id: &SubmissionId,
) -> Result<(), FormError> {
    let table = state.table().as_ref();
    let submission = get_record_of(table, &caller.org_id, form_id, id).await?;
    let mut ops = erase_ops(&submission);
    ops.push(audit::entry(
        &caller.actor,
        state.clock().now(),
        "form_submission.delete",
        &format!("form_submission:{id}"),
        json!({"form_id": form_id}),
    ));
    table.transact(ops).await?;
    Ok(())
}

/// Erases every submission a contact made: part of deleting the contact.
pub async fn erase_for_contact(table: &dyn Table, org_id: &OrgId, contact_id: &ContactId) -> Result<usize, StoreError> {
    let mut erased = 0;
    loop {
        let page = table
            .query(
                &Query::partition(contact_submissions_partition(org_id, contact_id))
                    .on(Index::Gsi2)
                    .limit(25),
            )
            .await?;
        if page.items.is_empty() {
            return Ok(erased);
        }
        for item in page.items {
            let Ok(submission) = from_item::<SubmissionRecord>(item.clone()) else {
                if let Some(key) = Key::of(&item) {
                    table.batch_write(vec![BatchOp::Delete(key)]).await?;
                }
                continue;
            };
            table.transact(erase_ops(&submission)).await?;
            erased += 1;
        }
    }
}

/// Moves a merged-away contact's submissions to the contact it was merged
/// into, so they stay on a contact (and go with it when it is erased).
pub async fn reassign_contact(
    table: &dyn Table,
    org_id: &OrgId,
    from: &ContactId,
    to: &ContactId,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    loop {
        let page = table
            .query(
                &Query::partition(contact_submissions_partition(org_id, from))
                    .on(Index::Gsi2)
                    .limit(25),
            )
            .await?;
        if page.items.is_empty() {
            return Ok(moved);
        }
        for item in page.items {
            let Some(key) = Key::of(&item) else { continue };
            table
                .update(
                    &key,
                    Update::default()
                        .set("contact_id", to.to_string())
                        .set("gsi2pk", contact_submissions_partition(org_id, to)),
                    Some(crate::ports::Condition::Exists),
                )
                .await
                .or_else(|err| {
                    if err.is_condition_failure() {
                        Ok(Default::default())
                    } else {
                        Err(err)
                    }
                })?;
            moved += 1;
        }
    }
}

/// Every submission of a contact (for their data export).
pub async fn of_contact(
    table: &dyn Table,
    org_id: &OrgId,
    contact_id: &ContactId,
) -> Result<Vec<SubmissionRecord>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(contact_submissions_partition(org_id, contact_id))
                    .on(Index::Gsi2)
                    .reverse()
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            out.push(from_item(item)?);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(out);
        }
    }
}

/// The form's submissions as CSV, newest first: one column per field of
/// the current version (answers to removed fields in `other answers`).
pub async fn export_csv(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    form_id: &FormId,
    query: ListQuery,
) -> Result<Vec<u8>, FormError> {
    let table = state.table().as_ref();
    let form = get_record(table, &caller.org_id, form_id).await?;
    let fields = &form.spec.fields;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "submission_id".to_string(),
        "submitted_at".into(),
        "form_version".into(),
        "contact_id".into(),
    ];
    header.extend(fields.iter().map(|f| f.key.clone()));
    header.push("other answers".into());
    header.extend(ATTRIBUTION_FIELDS.map(String::from));
    let csv_err = |err: csv::Error| FormError::Internal(err.to_string());
    writer.write_record(&header).map_err(csv_err)?;
    let mut cursor = query.cursor.clone();
    let mut rows = 0;
    loop {
        let page = list(
            state,
            caller,
            form_id,
            ListQuery {
                limit: Some(MAX_PAGE),
                cursor,
                ..query.clone()
            },
        )
        .await?;
        for s in &page.items {
            let mut row = vec![
                s.id.to_string(),
                s.submitted_at.clone(),
                s.form_version.to_string(),
                s.contact_id.as_deref().unwrap_or_default().to_string(),
            ];
            row.extend(
                fields
                    .iter()
                    .map(|f| s.answers.get(&f.key).map(answer_text).unwrap_or_default()),
            );
            let other: serde_json::Map<String, Value> = s
                .answers
                .iter()
                .filter(|(k, _)| !fields.iter().any(|f| &f.key == *k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            row.push(if other.is_empty() {
                String::new()
            } else {
                Value::Object(other).to_string()
            });
            for name in ATTRIBUTION_FIELDS {
                row.push(
                    s.attribution
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                );
            }
            writer
                .write_record(row.iter().map(|cell| escape_formula(cell).into_owned()))
                .map_err(csv_err)?;
            rows += 1;
        }
        cursor = page.next_cursor;
        if cursor.is_none() || rows >= MAX_EXPORT_ROWS {
            break;
        }
    }
    audit_export(state, caller, form_id, rows).await?;
    writer.into_inner().map_err(|err| FormError::Internal(err.to_string()))
}

async fn audit_export(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    form_id: &FormId,
    rows: usize,
) -> Result<(), FormError> {
    let op = audit::entry(
        &caller.actor,
        state.clock().now(),
        "form_submission.export",
        &format!("form:{form_id}"),
        json!({"rows": rows}),
    );
    state.table().transact(vec![op]).await?;
    Ok(())
}
