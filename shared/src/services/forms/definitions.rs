//! Form definitions: create, read, list (with submission counts), edit (a
//! new version each time) and delete, each audited and in one transaction.

use serde_json::{Value, json};

use super::{
    Caller, FormError, FormRecord, FormVersion, count_key, form_key, form_partition, org_partition, public_key,
    version_key,
};
use crate::domain::form::{FormSpec, validate_spec};
use crate::domain::ids::{FormId, OrgId};
use crate::domain::input::FieldError;
use crate::ports::{BatchOp, Condition, HasClock, HasTable, Key, Query, SortKey, StoreError, Table, WriteOp};
use crate::services::audit;
use crate::services::records::{from_item, member_key, new_id, plausible_id, to_item};
use crate::services::secrets::new_token;

/// A form with how many submissions it has.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FormSummary {
    #[serde(flatten)]
    pub form: FormView,
    pub submission_count: i64,
}

/// A form as the API shows it (without its render secret).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct FormView {
    pub id: FormId,
    pub public_id: String,
    pub version: u64,
    #[serde(flatten)]
    pub spec: FormSpec,
    pub created_by: crate::domain::ids::UserId,
    pub created_at: String,
    pub updated_at: String,
}

impl FormRecord {
    pub fn view(&self) -> FormView {
        FormView {
            id: self.id.clone(),
            public_id: self.public_id.clone(),
            version: self.version,
            spec: self.spec.clone(),
            created_by: self.created_by.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// The owner named must be a member of the organization.
async fn check_owner(table: &dyn Table, org_id: &OrgId, spec: &FormSpec) -> Result<(), FormError> {
    if let Some(owner) = &spec.owner_id
        && (!plausible_id(owner) || table.get(&member_key(org_id, owner)).await?.is_none())
    {
        return Err(FormError::Invalid(vec![FieldError::new(
            "owner_id",
            "unknown_member",
            "The owner must be a member of the organization.",
        )]));
    }
    Ok(())
}

fn version_put(record: &FormRecord) -> Result<WriteOp, StoreError> {
    let version = FormVersion {
        form_id: record.id.clone(),
        version: record.version,
        spec: record.spec.clone(),
        created_at: record.updated_at.clone(),
    };
    Ok(WriteOp::Put {
        item: to_item(&version_key(&record.org_id, &record.id, record.version), &version, &[])?,
        condition: Some(Condition::NotExists),
    })
}

pub async fn create(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    spec: FormSpec,
) -> Result<FormView, FormError> {
    let spec = validate_spec(spec)?;
    let table = state.table().as_ref();
    check_owner(table, &caller.org_id, &spec).await?;
    let now = state.clock().now().to_string();
    let record = FormRecord {
        id: FormId::new(new_id()),
        org_id: caller.org_id.clone(),
        // 128 random bits: the address reveals nothing and cannot be guessed.
        public_id: uuid::Uuid::new_v4().simple().to_string(),
        version: 1,
        spec,
        created_by: caller.user_id.clone(),
        created_at: now.clone(),
        updated_at: now,
        render_secret: new_token(),
    };
    let ops = vec![
        WriteOp::Put {
            item: to_item(&form_key(&caller.org_id, &record.id), &record, &[])?,
            condition: Some(Condition::NotExists),
        },
        WriteOp::Put {
            item: to_item(
                &public_key(&record.public_id),
                &json!({"org_id": record.org_id, "form_id": record.id}),
                &[],
            )?,
            condition: Some(Condition::NotExists),
        },
        version_put(&record)?,
        audit::entry(
            &caller.actor,
            state.clock().now(),
            "form.create",
            &format!("form:{}", record.id),
            json!({"title": record.spec.title, "version": 1}),
        ),
    ];
    table.transact(ops).await?;
    Ok(record.view())
}

pub async fn get_record(table: &dyn Table, org_id: &OrgId, id: &FormId) -> Result<FormRecord, FormError> {
    if !plausible_id(id) {
        return Err(FormError::NotFound);
    }
    let item = table.get(&form_key(org_id, id)).await?.ok_or(FormError::NotFound)?;
    Ok(from_item(item)?)
}

pub async fn get(state: &impl HasTable, caller: &Caller, id: &FormId) -> Result<FormSummary, FormError> {
    let table = state.table().as_ref();
    let record = get_record(table, &caller.org_id, id).await?;
    let submission_count = count(table, &caller.org_id, id).await?;
    Ok(FormSummary {
        form: record.view(),
        submission_count,
    })
}

/// The settings of one version of a form (a submission renders against its own).
pub async fn get_version(
    state: &impl HasTable,
    org_id: &OrgId,
    id: &FormId,
    version: u64,
) -> Result<FormVersion, FormError> {
    let item = state
        .table()
        .get(&version_key(org_id, id, version))
        .await?
        .ok_or(FormError::NotFound)?;
    Ok(from_item(item)?)
}

async fn count(table: &dyn Table, org_id: &OrgId, id: &FormId) -> Result<i64, StoreError> {
    Ok(table
        .get(&count_key(org_id, id))
        .await?
        .and_then(|item| item.get("submissions").and_then(Value::as_i64))
        .unwrap_or(0)
        .max(0))
}

/// The organization's forms, oldest first, with their submission counts.
pub async fn list(state: &impl HasTable, caller: &Caller) -> Result<Vec<FormSummary>, FormError> {
    let table = state.table().as_ref();
    let mut records: Vec<FormRecord> = Vec::new();
    let mut cursor = None;
    loop {
        let page = table
            .query(
                &Query::partition(org_partition(&caller.org_id))
                    .sort(SortKey::BeginsWith("FORM#".into()))
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        for item in page.items {
            records.push(from_item(item)?);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    let keys: Vec<Key> = records.iter().map(|r| count_key(&caller.org_id, &r.id)).collect();
    let mut counts = std::collections::BTreeMap::new();
    for chunk in keys.chunks(100) {
        for item in table.batch_get(chunk).await? {
            if let (Some(key), Some(n)) = (Key::of(&item), item.get("submissions").and_then(Value::as_i64)) {
                counts.insert(key.pk, n.max(0));
            }
        }
    }
    Ok(records
        .into_iter()
        .map(|record| FormSummary {
            submission_count: counts
                .get(&form_partition(&caller.org_id, &record.id))
                .copied()
                .unwrap_or(0),
            form: record.view(),
        })
        .collect())
}

/// Replaces the form's settings with `spec` as a new version; `expected`
/// (the version the editor read) refuses a lost update.
pub async fn update(
    state: &(impl HasTable + HasClock),
    caller: &Caller,
    id: &FormId,
    spec: FormSpec,
    expected: Option<u64>,
) -> Result<FormView, FormError> {
    let spec = validate_spec(spec)?;
    let table = state.table().as_ref();
    let old = get_record(table, &caller.org_id, id).await?;
    if expected.is_some_and(|v| v != old.version) {
        return Err(FormError::Conflict);
    }
    check_owner(table, &caller.org_id, &spec).await?;
    let now = state.clock().now();
    let record = FormRecord {
        version: old.version + 1,
        spec,
        updated_at: now.to_string(),
        ..old.clone()
    };
    let ops = vec![
        WriteOp::Put {
            item: to_item(&form_key(&caller.org_id, id), &record, &[])?,
            condition: Some(Condition::VersionEquals(old.version)),
        },
        version_put(&record)?,
        audit::entry(
            &caller.actor,
            now,
            "form.update",
            &format!("form:{id}"),
            json!({"title": record.spec.title, "version": record.version, "active": record.spec.active}),
        ),
    ];
    match table.transact(ops).await {
        Ok(()) => Ok(record.view()),
        Err(StoreError::TransactionConditionFailed { .. }) => Err(FormError::Conflict),
        Err(err) => Err(err.into()),
    }
}

/// Deletes a form, its public address, its versions and its submissions.
pub async fn delete(state: &(impl HasTable + HasClock), caller: &Caller, id: &FormId) -> Result<(), FormError> {
    let table = state.table().as_ref();
    let old = get_record(table, &caller.org_id, id).await?;
    let ops = vec![
        WriteOp::Delete {
            key: form_key(&caller.org_id, id),
            condition: Some(Condition::VersionEquals(old.version)),
        },
        WriteOp::Delete {
            key: public_key(&old.public_id),
            condition: None,
        },
        audit::entry(
            &caller.actor,
            state.clock().now(),
            "form.delete",
            &format!("form:{id}"),
            json!({"title": old.spec.title}),
        ),
    ];
    match table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::TransactionConditionFailed { .. }) => return Err(FormError::Conflict),
        Err(err) => return Err(err.into()),
    }
    // The public address is gone, so nothing adds to the partition any more.
    loop {
        let page = table
            .query(&Query::partition(form_partition(&caller.org_id, id)).limit(100))
            .await?;
        let ops: Vec<BatchOp> = page.items.iter().filter_map(Key::of).map(BatchOp::Delete).collect();
        if ops.is_empty() {
            return Ok(());
        }
        table.batch_write(ops).await?;
    }
}

/// The form behind a public id, if it exists.
pub async fn by_public_id(table: &dyn Table, public_id: &str) -> Result<FormRecord, FormError> {
    if !plausible_id(public_id) {
        return Err(FormError::NotFound);
    }
    let pointer = table.get(&public_key(public_id)).await?.ok_or(FormError::NotFound)?;
    let org_id = pointer
        .get("org_id")
        .and_then(Value::as_str)
        .ok_or(FormError::NotFound)?;
    let form_id = pointer
        .get("form_id")
        .and_then(Value::as_str)
        .ok_or(FormError::NotFound)?;
    let (org_id, form_id) = (OrgId::from(org_id), FormId::from(form_id));
    if !plausible_id(&form_id) {
        return Err(FormError::NotFound);
    }
    // The organization with the form, in the same round trip: a deleted
    // organization's forms are gone for the public at once.
    let keys = [form_key(&org_id, &form_id), crate::services::records::org_key(&org_id)];
    let items = table.batch_get(&keys).await?;
    let find = |key: &crate::ports::Key| {
        items
            .iter()
            .find(|item| crate::ports::Key::of(item).as_ref() == Some(key))
            .cloned()
    };
    let org: crate::services::records::OrgRecord = from_item(find(&keys[1]).ok_or(FormError::NotFound)?)?;
    if org.deletion.is_some() {
        return Err(FormError::NotFound);
    }
    Ok(from_item(find(&keys[0]).ok_or(FormError::NotFound)?)?)
}
