//! The Calendar API's events on the production Google client: the
//! requests and answers in the shapes Google documents
//! (https://developers.google.com/calendar/api/v3/reference/events).

use std::collections::BTreeMap;

use async_trait::async_trait;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{GoogleOAuthClient, api_refusal};
use crate::ports::google::GoogleError;
use crate::ports::google::{CalendarEvent, CalendarEvents, EventWrite, EventsPage, Inserted, ListFrom, Listing};

/// Events per page of a listing (Google's maximum is 2500).
const PAGE_SIZE: &str = "250";

fn unreachable_google(err: reqwest::Error) -> GoogleError {
    GoogleError::Unavailable(format!("no answer from google: {}", err.without_url()))
}

impl GoogleOAuthClient {
    /// `…/calendars/<id>/events[/<event>]`, ids percent-encoded (calendar
    /// ids hold `@` and `#`).
    fn events_url(&self, calendar_id: &str, event_id: Option<&str>) -> String {
        let calendar = utf8_percent_encode(calendar_id, NON_ALPHANUMERIC);
        match event_id {
            Some(event) => format!(
                "{}/calendars/{calendar}/events/{}",
                self.calendar_base_url,
                utf8_percent_encode(event, NON_ALPHANUMERIC)
            ),
            None => format!("{}/calendars/{calendar}/events", self.calendar_base_url),
        }
    }
}

/// The JSON body of an insert or patch.
fn body(event: &EventWrite) -> Value {
    json!({
        "id": event.id,
        "summary": event.summary,
        "description": event.description,
        "location": event.location,
        "start": {"dateTime": event.start.to_string()},
        "end": {"dateTime": event.end.to_string()},
        "extendedProperties": {"private": event.private},
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventAnswer {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    start: Option<EventTime>,
    #[serde(default)]
    end: Option<EventTime>,
    #[serde(default)]
    extended_properties: Option<ExtendedProperties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventTime {
    #[serde(default)]
    date_time: Option<String>,
}

#[derive(Deserialize)]
struct ExtendedProperties {
    #[serde(default)]
    private: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListAnswer {
    #[serde(default)]
    items: Vec<EventAnswer>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    next_sync_token: Option<String>,
}

impl From<EventAnswer> for CalendarEvent {
    fn from(answer: EventAnswer) -> Self {
        let at = |time: Option<EventTime>| time.and_then(|t| t.date_time).and_then(|t| t.parse().ok());
        CalendarEvent {
            id: answer.id,
            status: answer.status.unwrap_or_else(|| "confirmed".into()),
            start: at(answer.start),
            end: at(answer.end),
            private: answer.extended_properties.map(|p| p.private).unwrap_or_default(),
        }
    }
}

#[async_trait]
impl CalendarEvents for GoogleOAuthClient {
    async fn get_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<Option<CalendarEvent>, GoogleError> {
        let response = self
            .http
            .get()
            .get(self.events_url(calendar_id, Some(event_id)))
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(unreachable_google)?;
        // 410: deleted long enough ago that Google forgot it.
        if matches!(response.status().as_u16(), 404 | 410) {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(api_refusal(response).await);
        }
        let answer: EventAnswer = response
            .json()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("unreadable event: {err}")))?;
        Ok(Some(answer.into()))
    }

    async fn insert_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<Inserted, GoogleError> {
        let response = self
            .http
            .get()
            .post(self.events_url(calendar_id, None))
            // The invitee is told by Konnecs's own messages, not Google's.
            .query(&[("sendUpdates", "none")])
            .bearer_auth(access_token.expose_secret())
            .json(&body(event))
            .send()
            .await
            .map_err(unreachable_google)?;
        if response.status().as_u16() == 409 {
            return Ok(Inserted::AlreadyExists);
        }
        if !response.status().is_success() {
            return Err(api_refusal(response).await);
        }
        Ok(Inserted::Created)
    }

    async fn patch_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<(), GoogleError> {
        let mut body = body(event);
        if let Some(fields) = body.as_object_mut() {
            fields.remove("id");
        }
        let response = self
            .http
            .get()
            .patch(self.events_url(calendar_id, Some(&event.id)))
            .query(&[("sendUpdates", "none")])
            .bearer_auth(access_token.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(unreachable_google)?;
        if !response.status().is_success() {
            return Err(api_refusal(response).await);
        }
        Ok(())
    }

    async fn delete_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<(), GoogleError> {
        let response = self
            .http
            .get()
            .delete(self.events_url(calendar_id, Some(event_id)))
            .query(&[("sendUpdates", "none")])
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(unreachable_google)?;
        if response.status().is_success() || matches!(response.status().as_u16(), 404 | 410) {
            return Ok(());
        }
        Err(api_refusal(response).await)
    }

    async fn list_events(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        from: &ListFrom,
    ) -> Result<Listing, GoogleError> {
        let mut query: Vec<(&str, &str)> = vec![("maxResults", PAGE_SIZE)];
        match from {
            // Deleted events too: a full resync must see what was deleted.
            ListFrom::Start => query.push(("showDeleted", "true")),
            ListFrom::Page { token, full } => {
                if *full {
                    query.push(("showDeleted", "true"));
                }
                query.push(("pageToken", token));
            }
            // Google refuses filters beside a sync token; deletions always come.
            ListFrom::Changes(token) => query.push(("syncToken", token)),
        }
        let response = self
            .http
            .get()
            .get(self.events_url(calendar_id, None))
            .query(&query)
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(unreachable_google)?;
        if response.status().as_u16() == 410 {
            return Ok(Listing::SyncTokenExpired);
        }
        if !response.status().is_success() {
            return Err(api_refusal(response).await);
        }
        let answer: ListAnswer = response
            .json()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("unreadable event list: {err}")))?;
        Ok(Listing::Page(EventsPage {
            events: answer.items.into_iter().map(CalendarEvent::from).collect(),
            next_page_token: answer.next_page_token,
            next_sync_token: answer.next_sync_token,
        }))
    }
}
