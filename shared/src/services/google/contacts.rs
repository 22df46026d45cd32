//! The one-time import of a member's Google contacts (names, email
//! addresses, phone numbers) into the organization's contacts, started by
//! the member and by nothing else.
//!
//! It is a contacts import like a CSV one (`services::imports`), with the
//! same record, progress, dedupe rules, checkpointed chunks and error
//! report; only where its rows come from differs. Instead of an upload, the
//! job reads the member's contacts from the People API a page at a time and
//! stores each page as the import's next part (in the importer's CSV form,
//! with a fixed column mapping), the page token of the next page on the
//! import record. A redelivered job reads the page at the stored token
//! again, so a part is written before the record moves past its page and
//! every page lands exactly once. Once the last page is read, the import is
//! queued and its rows processed like any other, from the checkpoint.
//!
//! No sync token is asked for and none is kept: after the import nothing
//! can read the member's contacts again except another import they start.
//! A broken or disconnected connection (or one without Contacts access)
//! stops the import with the reason, without calling Google.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{ConnectionStatus, GoogleConnectionError, access_token, read_connection};
use crate::domain::google::GoogleFeature;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::spreadsheet::escape_formula;
use crate::ports::google::GooglePerson;
use crate::ports::{
    Condition, HasClock, HasConfig, HasGoogle, HasJobs, HasKeys, HasObjects, HasTable, Update, WriteOp,
};
use crate::services::audit::{self, Actor};
use crate::services::imports::{
    self, Budget, ColumnMap, DedupeMode, GoogleSource, ImportError, ImportRecord, ImportState, MAX_ROWS, import_key,
    part_object_key,
};
use crate::services::jobs::{self, Delivery, Job};
use crate::services::records::{new_id, to_item};

/// People per page asked of the People API (its largest is 1,000): a page
/// is one part of the import, read and stored well inside a slice.
pub const PAGE_SIZE: u32 = 500;
/// How long one delivery works, as a CSV import's slice does.
const SLICE: Duration = Duration::from_secs(8);
/// The least time left in which another page is read.
const PAGE_TIME: Duration = Duration::from_secs(3);
/// What the import notes as each contact's source.
pub const SOURCE: &str = "Google Contacts";
/// The columns of a page as the importer reads it.
const COLUMNS: [&str; 7] = ["id", "first_name", "last_name", "name", "email", "phone", "source"];

#[derive(Debug, thiserror::Error)]
pub enum GoogleImportError {
    /// The member has no connection with Contacts access, or it is broken.
    #[error("google contacts access is not enabled: {0}")]
    ContactsNotEnabled(String),
    /// The member's earlier Google contacts import is still going.
    #[error("a google contacts import is already running")]
    AlreadyRunning(String),
    #[error(transparent)]
    Connection(#[from] GoogleConnectionError),
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// The importer's column mapping of a page: every column to its own field.
fn mapping() -> Vec<ColumnMap> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(column, name)| ColumnMap {
            column,
            header: (*name).to_owned(),
            target: (*name).to_owned(),
        })
        .collect()
}

/// The import key of a Google contact: the member's own (Google's
/// resource names are per account), so a re-import finds the contacts an
/// earlier one made even when they have neither email nor phone.
fn import_key_of(user_id: &UserId, person: &GooglePerson) -> String {
    format!("google:{user_id}/{}", person.resource_name)
}

/// A page as the importer's CSV: a header on the first part only, cells
/// guarded like an export's so that the importer reads back each value.
pub fn page_csv(user_id: &UserId, people: &[GooglePerson], with_header: bool) -> Result<Vec<u8>, ImportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |err: csv::Error| ImportError::Objects(format!("a page could not be written: {err}"));
    if with_header {
        writer.write_record(COLUMNS).map_err(failed)?;
    }
    for person in people {
        let cells = [
            import_key_of(user_id, person),
            person.given_name.clone().unwrap_or_default(),
            person.family_name.clone().unwrap_or_default(),
            // The whole name only fills in when Google has no parts of it.
            if person.given_name.is_none() && person.family_name.is_none() {
                person.display_name.clone().unwrap_or_default()
            } else {
                String::new()
            },
            person.emails.join(";"),
            person.phones.join(";"),
            SOURCE.to_owned(),
        ];
        writer
            .write_record(cells.iter().map(|cell| escape_formula(cell).into_owned()))
            .map_err(failed)?;
    }
    writer
        .into_inner()
        .map_err(|err| ImportError::Objects(format!("a page could not be written: {err}")))
}

/// Whether the member's connection is usable for contacts, without calling Google.
async fn contacts_enabled(
    state: &impl HasTable,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Result<(), String>, GoogleImportError> {
    let connection = read_connection(state, org_id, user_id)
        .await
        .map_err(GoogleConnectionError::from)?;
    Ok(match connection {
        None => Err("Connect Google with Google Contacts switched on in Settings → Integrations, then start the import.".into()),
        Some(record) if record.status == ConnectionStatus::Broken => Err(format!(
            "Your Google connection stopped working: {} Connect it again in Settings → Integrations.",
            record.broken_reason.unwrap_or_default()
        )),
        Some(record) if !GoogleFeature::granted_in(&record.scopes).contains(&GoogleFeature::Contacts) => Err(
            "Konnecs may not read your Google contacts: switch Google Contacts on in Settings → Integrations and connect again.".into(),
        ),
        Some(_) => Ok(()),
    })
}

/// Starts importing the member's Google contacts: the import record (its
/// rows to come from Google) with an audit entry, and the job. Nothing is
/// read from Google here; the job does it.
pub async fn start_import(
    state: &(impl HasTable + HasClock + HasJobs + HasGoogle),
    actor: &Actor,
    user_id: &UserId,
    mode: DedupeMode,
) -> Result<ImportRecord, GoogleImportError> {
    if state.google().is_none() {
        return Err(GoogleConnectionError::Off.into());
    }
    let org_id = &actor.org_id;
    if let Err(reason) = contacts_enabled(state, org_id, user_id).await? {
        return Err(GoogleImportError::ContactsNotEnabled(reason));
    }
    // One at a time per member: a second press of the button finds the first.
    let running = imports::recent(state, org_id, 20).await?.into_iter().find(|r| {
        r.google.as_ref().is_some_and(|g| &g.user_id == user_id)
            && matches!(
                r.state,
                ImportState::Uploading | ImportState::Queued | ImportState::Running
            )
    });
    if let Some(running) = running {
        return Err(GoogleImportError::AlreadyRunning(running.id));
    }
    let now = state.clock().now();
    let id = new_id();
    let record = ImportRecord {
        id: id.clone(),
        state: ImportState::Uploading,
        mode,
        tags: Vec::new(),
        mapping: mapping(),
        parts: 0,
        rows_total: 0,
        rows_done: 0,
        created: 0,
        updated: 0,
        skipped: 0,
        failed: 0,
        created_at: now.to_string(),
        updated_at: now.to_string(),
        finished_at: None,
        error: None,
        created_by: Some(user_id.clone()),
        google: Some(GoogleSource {
            user_id: user_id.clone(),
            next_page_token: None,
            pages_read: 0,
        }),
        finish_audited: false,
    };
    state
        .table()
        .transact(vec![
            WriteOp::Put {
                item: to_item(&import_key(org_id, &id), &record, &[]).map_err(ImportError::from)?,
                condition: Some(Condition::NotExists),
            },
            audit::entry(
                actor,
                now,
                "google.contacts_import.started",
                &format!("import:{id}"),
                json!({ "user_id": user_id, "mode": mode }),
            ),
        ])
        .await
        .map_err(ImportError::from)?;
    queue(state, org_id, &id).await?;
    Ok(record)
}

async fn queue(state: &impl HasJobs, org_id: &OrgId, import_id: &str) -> Result<(), ImportError> {
    jobs::enqueue(
        state,
        &[Job::ImportGoogleContacts {
            org_id: org_id.clone(),
            import_id: import_id.to_owned(),
        }],
    )
    .await
    .map_err(|err| ImportError::Queue(err.to_string()))
}

/// Why reading the next page stopped.
enum PageOutcome {
    /// The record as it now is.
    Read(Box<ImportRecord>),
    /// The import cannot go on: it is failed with this reason for the member.
    Stop(String),
}

/// Reads the page at the stored token, stores it as the next part and moves
/// the record past it (only from the part count it started at: a second
/// delivery reading the same page loses and re-reads the record).
async fn read_next_page(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + HasObjects),
    org_id: &OrgId,
    record: &ImportRecord,
    source: &GoogleSource,
) -> Result<PageOutcome, ImportError> {
    if let Err(reason) = contacts_enabled(state, org_id, &source.user_id)
        .await
        .map_err(into_import_error)?
    {
        return Ok(PageOutcome::Stop(reason));
    }
    let token = match access_token(state, org_id, &source.user_id).await {
        Ok(token) => token,
        Err(
            err @ (GoogleConnectionError::Broken(_) | GoogleConnectionError::NotConnected | GoogleConnectionError::Off),
        ) => {
            return Ok(PageOutcome::Stop(format!(
                "Konnecs could no longer use your Google connection ({err}). Connect it again in Settings → Integrations."
            )));
        }
        Err(err) => return Err(into_import_error(err.into())),
    };
    let Some(google) = state.google() else {
        return Ok(PageOutcome::Stop("Google is not set up on this Konnecs server.".into()));
    };
    let page = google
        .contacts_page(&token, source.next_page_token.as_deref(), PAGE_SIZE)
        .await
        .map_err(|err| ImportError::Queue(format!("google contacts: {err}")))?;
    let total = record.rows_total + page.people.len() as u64;
    if total > MAX_ROWS {
        return Ok(PageOutcome::Stop(format!(
            "You have more than {MAX_ROWS} Google contacts; Konnecs imports at most that many at once."
        )));
    }
    let bytes = page_csv(&source.user_id, &page.people, record.parts == 0)?;
    state
        .objects()
        .put(&part_object_key(org_id, &record.id, record.parts), bytes, "text/csv")
        .await
        .map_err(|err| ImportError::Objects(err.to_string()))?;
    let now = state.clock().now();
    let next_state = match (&page.next_page_token, total) {
        (Some(_), _) => ImportState::Uploading,
        (None, 0) => ImportState::Done,
        (None, _) => ImportState::Queued,
    };
    let source = GoogleSource {
        user_id: source.user_id.clone(),
        next_page_token: page.next_page_token,
        pages_read: source.pages_read + 1,
    };
    let mut update = Update::default()
        .set("parts", record.parts + 1)
        .set("rows_total", total)
        .set("state", serde_json::to_value(next_state).unwrap_or_default())
        .set("google", serde_json::to_value(&source).unwrap_or_default())
        .set("updated_at", now.to_string());
    if next_state == ImportState::Done {
        update = update.set("finished_at", now.to_string());
    }
    let moved = state
        .table()
        .update(
            &import_key(org_id, &record.id),
            update,
            Some(Condition::AttributeEquals {
                name: "parts".into(),
                value: record.parts.into(),
            }),
        )
        .await;
    match moved {
        Ok(_) => {}
        Err(err) if err.is_condition_failure() => {}
        Err(err) => return Err(err.into()),
    }
    Ok(PageOutcome::Read(Box::new(
        imports::get(state, org_id, &record.id).await?,
    )))
}

fn into_import_error(err: GoogleImportError) -> ImportError {
    match err {
        GoogleImportError::Import(err) => err,
        GoogleImportError::Connection(GoogleConnectionError::Store(err)) => ImportError::Store(err),
        other => ImportError::Queue(other.to_string()),
    }
}

/// One delivery of the job: the next pages while the slice lasts, then the
/// rows, then a fresh message if anything is left; the end is audited once.
pub async fn run_job(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + HasObjects),
    org_id: &OrgId,
    import_id: &str,
    delivery: &Delivery,
) -> Result<(), ImportError> {
    let deadline = delivery.deadline.min(Instant::now() + SLICE);
    let result = step(state, org_id, import_id, deadline).await;
    match result {
        Err(err) if delivery.last_attempt && !matches!(err, ImportError::NotFound) => {
            // The queue's last try: an import still reading pages stops too.
            let record = imports::get(state, org_id, import_id).await?;
            if record.state == ImportState::Uploading {
                imports::fail(
                    state,
                    org_id,
                    &record,
                    "Google's contacts could not be read; try the import again later.",
                )
                .await?;
            } else {
                imports::give_up(state, org_id, import_id, &err).await?;
            }
            audit_finish(state, org_id, import_id).await?;
            Err(err)
        }
        other => other,
    }
}

async fn step(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + HasObjects),
    org_id: &OrgId,
    import_id: &str,
    deadline: Instant,
) -> Result<(), ImportError> {
    let mut record = imports::get(state, org_id, import_id).await?;
    let Some(mut source) = record.google.clone() else {
        return Err(ImportError::NotFound);
    };
    while record.state == ImportState::Uploading {
        if Instant::now() + PAGE_TIME > deadline && record.parts > 0 {
            break;
        }
        match read_next_page(state, org_id, &record, &source).await? {
            PageOutcome::Read(next) => record = *next,
            PageOutcome::Stop(reason) => {
                record = imports::fail(state, org_id, &record, &reason).await?;
            }
        }
        source = record.google.clone().ok_or(ImportError::NotFound)?;
    }
    if matches!(record.state, ImportState::Queued | ImportState::Running) {
        let budget = Budget {
            max_rows: None,
            deadline: Some(deadline),
        };
        record = imports::process(state, org_id, import_id, budget).await?;
    }
    match record.state {
        ImportState::Uploading | ImportState::Queued | ImportState::Running => queue(state, org_id, import_id).await,
        ImportState::Done | ImportState::Failed => {
            if record.state == ImportState::Done {
                imports::discard_file(state, org_id, &record).await?;
            }
            audit_finish(state, org_id, import_id).await
        }
    }
}

/// The audit entry of an import's end, once: written with the flag that
/// says it is, from the import still without it.
async fn audit_finish(state: &(impl HasTable + HasClock), org_id: &OrgId, import_id: &str) -> Result<(), ImportError> {
    let record = imports::get(state, org_id, import_id).await?;
    if record.finish_audited || !matches!(record.state, ImportState::Done | ImportState::Failed) {
        return Ok(());
    }
    let actor = Actor {
        org_id: org_id.clone(),
        user_id: record.google.as_ref().map(|g| g.user_id.clone()),
        request_id: format!("google-contacts-import-{import_id}"),
        ip: None,
        user_agent: None,
    };
    let written = state
        .table()
        .transact(vec![
            WriteOp::Update {
                key: import_key(org_id, import_id),
                update: Update::default().set("finish_audited", true),
                condition: Some(Condition::AttributeEquals {
                    name: "finish_audited".into(),
                    value: false.into(),
                }),
            },
            audit::entry(
                &actor,
                state.clock().now(),
                "google.contacts_import.finished",
                &format!("import:{import_id}"),
                json!({
                    "state": record.state,
                    "rows": record.rows_total,
                    "created": record.created,
                    "updated": record.updated,
                    "skipped": record.skipped,
                    "failed": record.failed,
                    "error": record.error,
                }),
            ),
        ])
        .await;
    match written {
        Ok(()) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err.into()),
    }
}
