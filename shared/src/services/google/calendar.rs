//! The member's Google calendars: which ones keep slots free (their busy
//! times, read through free/busy, never event titles) and which one
//! bookings are written into. Busy times feed the slot computation through
//! the `BusyTimes` port, cached for two minutes so a booking page's slot
//! requests do not each reach Google, and kept fifteen minutes to stand in
//! for a Google that does not answer.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | busy times of a member for one window (fresh 2 minutes, TTL 15) | `ORG#<id>#GBUSY#<user>` | `<from s>#<to s>` |

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ConnectionStatus, GoogleConnectionError, access_token, connection_key, read_connection};
use crate::domain::google::GoogleFeature;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::input::FieldError;
use crate::domain::slots::Busy;
use crate::ports::busy::{BusyError, BusyTimes};
use crate::ports::google::CalendarEntry;
use crate::ports::{Condition, HasClock, HasConfig, HasGoogle, HasJobs, HasKeys, HasTable, Key, Update, WriteOp};
use crate::services::audit::{self, Actor};
use crate::services::records::{from_item, to_item};

/// How long fetched busy times are reused.
const BUSY_CACHE_SECONDS: i64 = 120;
/// How long fetched busy times may stand in for a Google that does not
/// answer. Older than this, the lookup fails rather than guess: a host's
/// calendar fills up within the hour, and a double booking costs more than
/// a page that asks to try again in a minute.
const BUSY_STALE_SECONDS: i64 = 900;

fn busy_cache_key(org_id: &OrgId, user_id: &UserId, from: Timestamp, to: Timestamp) -> Key {
    Key::new(
        format!("ORG#{org_id}#GBUSY#{user_id}"),
        format!("{}#{}", from.as_second(), to.as_second()),
    )
}

#[derive(Serialize, Deserialize)]
struct CachedBusy {
    /// The connection's version the times were read under: a new calendar
    /// choice (a new version) does not reuse them.
    version: u64,
    busy: Vec<(i64, i64)>,
    /// Until when the times are reused without asking Google.
    #[serde(default)]
    fresh_until: i64,
    /// The store's expiry: until then they stand in for a Google that does not answer.
    expires_at: i64,
}

/// One calendar on the Integrations page, with the member's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarChoice {
    pub id: String,
    pub summary: String,
    pub primary: bool,
    pub writable: bool,
    /// Its busy times keep slots free.
    pub busy: bool,
    /// Bookings are written into it.
    pub write: bool,
}

fn chosen(id: &str, entry: &CalendarEntry, list: &[String]) -> bool {
    list.iter()
        .any(|c| c == id || (c == super::PRIMARY_CALENDAR && entry.primary))
}

/// The member's calendars and their choice. Only with Calendar access:
/// `NotConnected` otherwise.
pub async fn calendars(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig),
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Vec<CalendarChoice>, GoogleConnectionError> {
    let record = read_connection(state, org_id, user_id)
        .await?
        .ok_or(GoogleConnectionError::NotConnected)?;
    if !GoogleFeature::granted_in(&record.scopes).contains(&GoogleFeature::Calendar) {
        return Err(GoogleConnectionError::NotConnected);
    }
    let token = access_token(state, org_id, user_id).await?;
    let google = state.google().ok_or(GoogleConnectionError::Off)?;
    let entries = google.calendars(&token).await?;
    let write: Vec<String> = record.write_calendar.iter().cloned().collect();
    Ok(entries
        .iter()
        .map(|entry| CalendarChoice {
            id: entry.id.clone(),
            summary: entry.summary.clone(),
            primary: entry.primary,
            writable: entry.writable,
            busy: chosen(&entry.id, entry, &record.busy_calendars),
            write: chosen(&entry.id, entry, &write),
        })
        .collect())
}

/// Saves which calendars keep slots free and, when named, which one
/// bookings go into (otherwise it stays); every id must be one of the
/// member's calendars, the written one writable.
pub async fn choose_calendars(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig),
    actor: &Actor,
    user_id: &UserId,
    busy: &[String],
    write: Option<&str>,
) -> Result<(), GoogleConnectionError> {
    let choices = calendars(state, &actor.org_id, user_id).await?;
    let known = |id: &str| choices.iter().find(|c| c.id == id);
    let mut errors = Vec::new();
    if busy.iter().any(|id| known(id).is_none()) {
        errors.push(FieldError::new(
            "busy",
            "unknown_calendar",
            "Choose among your calendars.",
        ));
    }
    if let Some(id) = write
        && !known(id).is_some_and(|c| c.writable)
    {
        errors.push(FieldError::new(
            "write",
            "not_writable",
            "Choose one of your calendars Konnecs may add events to.",
        ));
    }
    if !errors.is_empty() {
        return Err(GoogleConnectionError::Invalid(errors));
    }
    let record = read_connection(state, &actor.org_id, user_id)
        .await?
        .ok_or(GoogleConnectionError::NotConnected)?;
    let mut update = Update::default()
        .set("busy_calendars", json!(busy))
        .set("version", record.version + 1);
    if let Some(write) = write
        && record.write_calendar.as_deref() != Some(write)
    {
        // Another calendar: its listing starts over. Bookings already
        // written stay where they are (each remembers its calendar).
        update = update.set("write_calendar", write).remove("events_sync");
    }
    let ops = vec![
        WriteOp::Update {
            key: connection_key(&actor.org_id, user_id),
            update,
            condition: Some(Condition::VersionEquals(record.version)),
        },
        audit::entry(
            actor,
            state.clock().now(),
            "google.calendars_chosen",
            &format!("user:{user_id}"),
            json!({"busy": busy.len(), "write": write.is_some()}),
        ),
    ];
    state.table().transact(ops).await?;
    Ok(())
}

/// What reading a member's Google calendars reaches: the connection and
/// its sealed tokens, a refresh (and the email if it breaks), Google.
pub trait CalendarReach: HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + Sync {}

impl<S: HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + Sync> CalendarReach for S {}

/// Busy times from the host's chosen Google calendars. A host without a
/// working Calendar connection has none. When Google does not answer, the
/// times read within the last fifteen minutes stand in; with none that
/// recent the lookup fails (a booking must not guess), which the API
/// answers with 503 `calendar_unavailable` and `Retry-After`.
pub struct GoogleBusyTimes<'a, S> {
    pub state: &'a S,
}

#[async_trait]
impl<S> BusyTimes for GoogleBusyTimes<'_, S>
where
    S: HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig + Sync,
{
    async fn busy(
        &self,
        org_id: &OrgId,
        host_user_id: &UserId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Busy>, BusyError> {
        let state = self.state;
        let unavailable = |err: &dyn std::fmt::Display| BusyError::Unavailable(err.to_string());
        if state.google().is_none() {
            return Ok(Vec::new());
        }
        let Some(record) = read_connection(state, org_id, host_user_id)
            .await
            .map_err(|err| unavailable(&err))?
        else {
            return Ok(Vec::new());
        };
        if record.status == ConnectionStatus::Broken
            || record.busy_calendars.is_empty()
            || !GoogleFeature::granted_in(&record.scopes).contains(&GoogleFeature::Calendar)
        {
            return Ok(Vec::new());
        }
        let key = busy_cache_key(org_id, host_user_id, from, to);
        let now = state.clock().now().as_second();
        let cached = match state.table().get(&key).await.map_err(|err| unavailable(&err))? {
            Some(item) => from_item::<CachedBusy>(item)
                .ok()
                .filter(|cached| cached.version == record.version),
            None => None,
        };
        if let Some(cached) = &cached
            && cached.fresh_until > now
        {
            return Ok(to_busy(&cached.busy));
        }
        let fetched = match access_token(state, org_id, host_user_id).await {
            Ok(token) => match state.google() {
                Some(google) => google
                    .free_busy(&token, &record.busy_calendars, from, to)
                    .await
                    .map_err(|err| unavailable(&err)),
                None => Err(BusyError::Unavailable("google is off".into())),
            },
            // Just broken (the member is told): no calendar to read any more.
            Err(GoogleConnectionError::Broken(_) | GoogleConnectionError::NotConnected) => return Ok(Vec::new()),
            Err(err) => Err(unavailable(&err)),
        };
        let intervals = match (fetched, cached) {
            (Ok(intervals), _) => intervals,
            // Google is down: times read within the stale limit (the store
            // hides older ones) still keep those slots free.
            (Err(err), Some(stale)) => {
                tracing::warn!(error = %err, "google did not answer; using busy times read earlier");
                return Ok(to_busy(&stale.busy));
            }
            (Err(err), None) => return Err(err),
        };
        let busy: Vec<(i64, i64)> = intervals.iter().map(|(s, e)| (s.as_second(), e.as_second())).collect();
        let cached = CachedBusy {
            version: record.version,
            busy: busy.clone(),
            fresh_until: now + BUSY_CACHE_SECONDS,
            expires_at: now + BUSY_STALE_SECONDS,
        };
        if let Ok(item) = to_item(&key, &cached, &[])
            && let Err(err) = state.table().put(item, None).await
        {
            tracing::warn!(error = %err, "busy times were not cached");
        }
        Ok(to_busy(&busy))
    }
}

fn to_busy(busy: &[(i64, i64)]) -> Vec<Busy> {
    busy.iter()
        .filter_map(|(start, end)| {
            Some(Busy {
                start: Timestamp::from_second(*start).ok()?,
                end: Timestamp::from_second(*end).ok()?,
            })
        })
        .collect()
}
