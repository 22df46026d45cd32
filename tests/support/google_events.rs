//! The Calendar API's events on the mock Google, with state: events are
//! kept per calendar, in the shapes Google documents
//! (https://developers.google.com/calendar/api/v3/reference/events):
//! `get`, `insert` (409 for an id already used, deleted events included),
//! `patch`, `delete` (the event stays, `status: cancelled`, as Google keeps
//! deleted events for incremental sync) and `list` (full, or what changed
//! since a sync token; 410 GONE for a token expired by the test).
//! Tests change events "in Google" (the host moving or deleting one, an
//! event Konnecs did not write) through the helpers here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::google::{CALENDAR_PREFIX, MockGoogle};

#[derive(Default)]
struct Calendars {
    /// (calendar, event id) → the event and the change number it was last changed at.
    events: BTreeMap<(String, String), (Value, u64)>,
    changes: u64,
    /// Sync tokens name the generation they were handed out in; those of
    /// earlier generations are expired (their listing answers 410).
    generation: u64,
}

#[derive(Clone, Default)]
pub struct MockCalendarEvents {
    state: Arc<Mutex<Calendars>>,
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The calendar and event id of an events URL.
fn ids(request: &Request) -> (String, Option<String>) {
    let rest = request
        .url
        .path()
        .trim_start_matches(CALENDAR_PREFIX)
        .trim_start_matches("/calendars/");
    let mut parts = rest.split('/');
    let calendar = decode(parts.next().unwrap_or_default());
    let _events = parts.next();
    (calendar, parts.next().map(decode))
}

fn error(code: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": {"code": code, "message": message, "errors": [{"domain": "global", "reason": message, "message": message}]}
    }))
}

impl MockCalendarEvents {
    /// Serves the events API on `google`'s mock server.
    pub async fn mount(google: &MockGoogle) -> Self {
        let mock = Self::default();
        let events_path = format!("^{CALENDAR_PREFIX}/calendars/[^/]+/events$");
        let event_path = format!("^{CALENDAR_PREFIX}/calendars/[^/]+/events/[^/]+$");
        let this = mock.clone();
        Mock::given(method("GET"))
            .and(path_regex(event_path.clone()))
            .respond_with(move |request: &Request| this.get(request))
            .mount(&google.server)
            .await;
        let this = mock.clone();
        Mock::given(method("POST"))
            .and(path_regex(events_path.clone()))
            .respond_with(move |request: &Request| this.insert(request))
            .mount(&google.server)
            .await;
        let this = mock.clone();
        Mock::given(method("PATCH"))
            .and(path_regex(event_path.clone()))
            .respond_with(move |request: &Request| this.patch(request))
            .mount(&google.server)
            .await;
        let this = mock.clone();
        Mock::given(method("DELETE"))
            .and(path_regex(event_path))
            .respond_with(move |request: &Request| this.delete(request))
            .mount(&google.server)
            .await;
        let this = mock.clone();
        Mock::given(method("GET"))
            .and(path_regex(events_path))
            .respond_with(move |request: &Request| this.list(request))
            .mount(&google.server)
            .await;
        mock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Calendars> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, request: &Request) -> ResponseTemplate {
        let (calendar, Some(id)) = ids(request) else {
            return error(404, "notFound");
        };
        match self.lock().events.get(&(calendar, id)) {
            Some((event, _)) => ResponseTemplate::new(200).set_body_json(event),
            None => error(404, "Not Found"),
        }
    }

    fn insert(&self, request: &Request) -> ResponseTemplate {
        let (calendar, _) = ids(request);
        let Ok(mut event) = serde_json::from_slice::<Value>(&request.body) else {
            return error(400, "Bad Request");
        };
        let id = event["id"].as_str().unwrap_or_default().to_string();
        // Google's rule for client-chosen ids: base32hex, 5 to 1024 characters.
        let valid = (5..=1024).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'v'));
        if !valid {
            return error(400, "Invalid resource id value.");
        }
        let mut state = self.lock();
        if state.events.contains_key(&(calendar.clone(), id.clone())) {
            return error(409, "The requested identifier already exists.");
        }
        state.changes += 1;
        event["kind"] = json!("calendar#event");
        event["status"] = json!("confirmed");
        event["etag"] = json!(format!("\"{}\"", state.changes));
        let change = state.changes;
        state.events.insert((calendar, id), (event.clone(), change));
        ResponseTemplate::new(200).set_body_json(event)
    }

    fn patch(&self, request: &Request) -> ResponseTemplate {
        let (calendar, Some(id)) = ids(request) else {
            return error(404, "notFound");
        };
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&request.body) else {
            return error(400, "Bad Request");
        };
        let mut state = self.lock();
        state.changes += 1;
        let change = state.changes;
        let Some((event, changed)) = state.events.get_mut(&(calendar, id)) else {
            return error(404, "Not Found");
        };
        for (name, value) in fields {
            event[name.as_str()] = value;
        }
        *changed = change;
        ResponseTemplate::new(200).set_body_json(event.clone())
    }

    fn delete(&self, request: &Request) -> ResponseTemplate {
        let (calendar, Some(id)) = ids(request) else {
            return error(404, "notFound");
        };
        let mut state = self.lock();
        state.changes += 1;
        let change = state.changes;
        match state.events.get_mut(&(calendar, id)) {
            Some((event, _)) if event["status"] == "cancelled" => error(410, "Resource has been deleted"),
            Some((event, changed)) => {
                event["status"] = json!("cancelled");
                *changed = change;
                ResponseTemplate::new(204)
            }
            None => error(404, "Not Found"),
        }
    }

    fn list(&self, request: &Request) -> ResponseTemplate {
        let (calendar, _) = ids(request);
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let state = self.lock();
        let since = match param("syncToken") {
            Some(token) => {
                let parsed = token
                    .strip_prefix("sync-")
                    .and_then(|rest| rest.split_once('-'))
                    .and_then(|(generation, n)| Some((generation.parse::<u64>().ok()?, n.parse::<u64>().ok()?)));
                match parsed {
                    Some((generation, _)) if generation < state.generation => {
                        return error(410, "Sync token is no longer valid, a full sync is required.");
                    }
                    Some((_, n)) => Some(n),
                    None => return error(400, "Invalid sync token value."),
                }
            }
            None => None,
        };
        let show_deleted = since.is_some() || param("showDeleted").as_deref() == Some("true");
        let items: Vec<Value> = state
            .events
            .iter()
            .filter(|((cal, _), (event, changed))| {
                cal == &calendar
                    && since.is_none_or(|n| *changed > n)
                    && (show_deleted || event["status"] != "cancelled")
            })
            .map(|(_, (event, _))| event.clone())
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "kind": "calendar#events",
            "summary": calendar,
            "items": items,
            "nextSyncToken": format!("sync-{}-{}", state.generation, state.changes),
        }))
    }

    /// The event `id` of `calendar` as Google holds it.
    pub fn event(&self, calendar: &str, id: &str) -> Option<Value> {
        self.lock()
            .events
            .get(&(calendar.to_string(), id.to_string()))
            .map(|(event, _)| event.clone())
    }

    /// Every event of `calendar`, deleted ones included.
    pub fn events(&self, calendar: &str) -> Vec<Value> {
        self.lock()
            .events
            .iter()
            .filter(|((cal, _), _)| cal == calendar)
            .map(|(_, (event, _))| event.clone())
            .collect()
    }

    /// Someone changes (or creates) the event in Google: `change` is merged in.
    pub fn change_in_google(&self, calendar: &str, id: &str, change: Value) {
        let mut state = self.lock();
        state.changes += 1;
        let counter = state.changes;
        let entry = state
            .events
            .entry((calendar.to_string(), id.to_string()))
            .or_insert_with(|| (json!({"kind": "calendar#event", "id": id, "status": "confirmed"}), 0));
        if let (Value::Object(event), Value::Object(change)) = (&mut entry.0, change) {
            event.extend(change);
        }
        entry.1 = counter;
    }

    /// Google expires every sync token it handed out so far.
    pub fn expire_sync_tokens(&self) {
        self.lock().generation += 1;
    }
}
