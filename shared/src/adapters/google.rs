//! The production `GoogleOAuth`: Google's OAuth 2.0 endpoints over reqwest
//! (rustls). https://developers.google.com/identity/protocols/oauth2/web-server
//!
//! Both base URLs are configurable so tests put a local mock in Google's
//! place: the consent page under `accounts_base_url`
//! (`/o/oauth2/v2/auth`), the token and revocation endpoints under
//! `oauth_base_url` (`/token`, `/revoke`); the ID tokens' signing keys at
//! `certs_url`, cached for the `max-age` Google sends and fetched again
//! when a token names a key the cache lacks (Google rotates them).

mod events;
mod people;

use async_trait::async_trait;

use crate::adapters::aws::LazyClient;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use std::time::{Duration, Instant};

use crate::ports::google::{
    AuthorizationRequest, CalendarEntry, ContactsPage, GoogleError, GoogleOAuth, SigningKey, TokenGrant,
};

/// How long the key set is kept when Google's answer names no `max-age`.
const DEFAULT_KEYS_MAX_AGE: Duration = Duration::from_secs(3600);

struct CachedKeys {
    keys: Vec<SigningKey>,
    fresh_until: Instant,
}

pub struct GoogleOAuthClient {
    /// Built on the first call (trust roots parsed then, not at cold start).
    http: LazyClient<reqwest::Client>,
    accounts_base_url: String,
    oauth_base_url: String,
    certs_url: String,
    calendar_base_url: String,
    gmail_base_url: String,
    people_base_url: String,
    client_id: String,
    client_secret: SecretString,
    keys: tokio::sync::Mutex<Option<CachedKeys>>,
}

impl std::fmt::Debug for GoogleOAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client secret never reaches a log line.
        f.debug_struct("GoogleOAuthClient")
            .field("oauth_base_url", &self.oauth_base_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl GoogleOAuthClient {
    pub fn new(
        http: impl Into<LazyClient<reqwest::Client>>,
        accounts_base_url: &str,
        oauth_base_url: &str,
        certs_url: &str,
        calendar_base_url: &str,
        client_id: String,
        client_secret: SecretString,
    ) -> Self {
        Self {
            http: http.into(),
            accounts_base_url: accounts_base_url.trim_end_matches('/').to_string(),
            oauth_base_url: oauth_base_url.trim_end_matches('/').to_string(),
            certs_url: certs_url.to_string(),
            calendar_base_url: calendar_base_url.trim_end_matches('/').to_string(),
            gmail_base_url: crate::config::GOOGLE_GMAIL_BASE_URL.to_string(),
            people_base_url: people::PEOPLE_BASE_URL.to_string(),
            client_id,
            client_secret,
            keys: tokio::sync::Mutex::new(None),
        }
    }

    /// Where the Gmail API is (`GmailApi`, in `adapters::gmail`).
    pub fn with_gmail_base_url(mut self, gmail_base_url: &str) -> Self {
        self.gmail_base_url = gmail_base_url.trim_end_matches('/').to_string();
        self
    }

    pub(super) fn gmail_base_url(&self) -> &str {
        &self.gmail_base_url
    }

    pub(super) fn http_client(&self) -> &reqwest::Client {
        self.http.get()
    }

    /// The People API somewhere else than Google's (a test's mock).
    pub fn with_people_base_url(mut self, people_base_url: &str) -> Self {
        self.people_base_url = people_base_url.trim_end_matches('/').to_string();
        self
    }

    /// Google's JWK set (RSA keys only) and how long it may be kept.
    async fn fetch_keys(&self) -> Result<CachedKeys, GoogleError> {
        let response = self
            .http
            .get()
            .get(&self.certs_url)
            .send()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("no answer from google: {}", err.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(GoogleError::Unavailable(format!("google's keys answered {status}")));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .split(',')
                    .find_map(|part| part.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            })
            .map_or(DEFAULT_KEYS_MAX_AGE, Duration::from_secs);
        let set: JwkSet = response
            .json()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("unreadable key set: {err}")))?;
        Ok(CachedKeys {
            keys: set
                .keys
                .into_iter()
                .filter(|key| key.kty == "RSA")
                .filter_map(|key| {
                    Some(SigningKey {
                        kid: key.kid?,
                        n: key.n?,
                        e: key.e?,
                    })
                })
                .collect(),
            fresh_until: Instant::now() + max_age,
        })
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenGrant, GoogleError> {
        let response = self
            .http
            .get()
            .post(format!("{}/token", self.oauth_base_url))
            .form(form)
            .send()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("no answer from google: {}", err.without_url())))?;
        let status = response.status();
        if status.is_success() {
            let answer: TokenAnswer = response
                .json()
                .await
                .map_err(|err| GoogleError::Unavailable(format!("unreadable token answer: {err}")))?;
            return Ok(TokenGrant {
                access_token: SecretString::from(answer.access_token),
                refresh_token: answer.refresh_token.map(SecretString::from),
                expires_in: answer.expires_in.unwrap_or(3600),
                scope: answer.scope.unwrap_or_default(),
                id_token: answer.id_token,
            });
        }
        Err(refusal(status, response.text().await.unwrap_or_default()))
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

#[derive(Deserialize)]
struct CalendarList {
    #[serde(default)]
    items: Vec<CalendarListEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CalendarListEntry {
    id: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    summary_override: Option<String>,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    access_role: Option<String>,
}

#[derive(Deserialize)]
struct FreeBusyAnswer {
    #[serde(default)]
    calendars: std::collections::BTreeMap<String, FreeBusyCalendar>,
}

#[derive(Deserialize)]
struct FreeBusyCalendar {
    #[serde(default)]
    busy: Vec<FreeBusyInterval>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct FreeBusyInterval {
    start: String,
    end: String,
}

/// A Calendar API error answer (`{"error": {"code", "message"}}`), kept short.
pub(super) async fn api_refusal(response: reqwest::Response) -> GoogleError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v["error"]["message"]
                .as_str()
                .map(|m| m.chars().take(200).collect::<String>())
        })
        .unwrap_or_default();
    let detail = format!("google api answered {status}: {message}");
    if status.as_u16() == 429 || status.is_server_error() {
        GoogleError::Unavailable(detail)
    } else if status.as_u16() == 401 {
        // The access token was refused; the next call refreshes it.
        GoogleError::Unavailable(detail)
    } else {
        GoogleError::Rejected(detail)
    }
}

/// Google's OAuth error body: `{"error": "...", "error_description": "..."}`.
#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Error bodies name the error, never a token; only the code and a short
/// description are kept.
fn refusal(status: reqwest::StatusCode, body: String) -> GoogleError {
    let parsed = serde_json::from_str::<ErrorAnswer>(&body).ok();
    if parsed.as_ref().is_some_and(|e| e.error == "invalid_grant") {
        return GoogleError::InvalidGrant;
    }
    let detail = match parsed {
        Some(e) => format!(
            "{} {}",
            e.error,
            e.error_description
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect::<String>()
        ),
        None => format!("status {status}"),
    };
    if status.as_u16() == 429 || status.is_server_error() {
        GoogleError::Unavailable(detail)
    } else {
        GoogleError::Rejected(detail)
    }
}

#[async_trait]
impl GoogleOAuth for GoogleOAuthClient {
    fn authorization_url(&self, request: &AuthorizationRequest) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &request.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &request.scope)
            .append_pair("state", &request.state)
            .append_pair("code_challenge", &request.code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("include_granted_scopes", "true");
        if request.offline {
            // Consent each time, so Google hands a refresh token back.
            query
                .append_pair("access_type", "offline")
                .append_pair("prompt", "consent");
        } else {
            query.append_pair("prompt", "select_account");
        }
        if let Some(nonce) = &request.nonce {
            query.append_pair("nonce", nonce);
        }
        if let Some(hint) = &request.login_hint {
            query.append_pair("login_hint", hint);
        }
        format!("{}/o/oauth2/v2/auth?{}", self.accounts_base_url, query.finish())
    }

    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenGrant, GoogleError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", code_verifier),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, GoogleError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("client_id", &self.client_id),
            ("client_secret", self.client_secret.expose_secret()),
        ])
        .await
    }

    async fn signing_key(&self, kid: &str) -> Result<Option<SigningKey>, GoogleError> {
        let mut cache = self.keys.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.fresh_until > Instant::now()
            && let Some(key) = cached.keys.iter().find(|key| key.kid == kid)
        {
            return Ok(Some(key.clone()));
        }
        let fetched = self.fetch_keys().await?;
        let key = fetched.keys.iter().find(|key| key.kid == kid).cloned();
        *cache = Some(fetched);
        Ok(key)
    }

    async fn calendars(&self, access_token: &SecretString) -> Result<Vec<CalendarEntry>, GoogleError> {
        let response = self
            .http
            .get()
            .get(format!("{}/users/me/calendarList", self.calendar_base_url))
            .query(&[("minAccessRole", "freeBusyReader"), ("maxResults", "250")])
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("no answer from google: {}", err.without_url())))?;
        if !response.status().is_success() {
            return Err(api_refusal(response).await);
        }
        let list: CalendarList = response
            .json()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("unreadable calendar list: {err}")))?;
        Ok(list
            .items
            .into_iter()
            .map(|entry| CalendarEntry {
                summary: entry
                    .summary_override
                    .or(entry.summary)
                    .unwrap_or_else(|| entry.id.clone()),
                writable: matches!(entry.access_role.as_deref(), Some("owner" | "writer")),
                primary: entry.primary,
                id: entry.id,
            })
            .collect())
    }

    async fn free_busy(
        &self,
        access_token: &SecretString,
        calendars: &[String],
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<(jiff::Timestamp, jiff::Timestamp)>, GoogleError> {
        let items: Vec<serde_json::Value> = calendars.iter().map(|id| serde_json::json!({ "id": id })).collect();
        let response = self
            .http
            .get()
            .post(format!("{}/freeBusy", self.calendar_base_url))
            .bearer_auth(access_token.expose_secret())
            .json(&serde_json::json!({
                "timeMin": from.to_string(),
                "timeMax": to.to_string(),
                "items": items,
            }))
            .send()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("no answer from google: {}", err.without_url())))?;
        if !response.status().is_success() {
            return Err(api_refusal(response).await);
        }
        let answer: FreeBusyAnswer = response
            .json()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("unreadable free/busy answer: {err}")))?;
        let mut busy = Vec::new();
        for (id, calendar) in answer.calendars {
            // A calendar Google could not read is unknown time, not free time.
            if !calendar.errors.is_empty() {
                return Err(GoogleError::Unavailable(format!("free/busy of calendar {id} failed")));
            }
            for interval in calendar.busy {
                let (Ok(start), Ok(end)) = (interval.start.parse(), interval.end.parse()) else {
                    return Err(GoogleError::Unavailable("unreadable busy interval".into()));
                };
                busy.push((start, end));
            }
        }
        busy.sort();
        Ok(busy)
    }

    async fn revoke(&self, token: &SecretString) -> Result<(), GoogleError> {
        let response = self
            .http
            .get()
            .post(format!("{}/revoke", self.oauth_base_url))
            .form(&[("token", token.expose_secret())])
            .send()
            .await
            .map_err(|err| GoogleError::Unavailable(format!("no answer from google: {}", err.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        // A token Google no longer knows has no grant left to revoke.
        if serde_json::from_str::<ErrorAnswer>(&body).is_ok_and(|e| e.error == "invalid_token") {
            return Ok(());
        }
        Err(refusal(status, body))
    }

    async fn contacts_page(
        &self,
        access_token: &SecretString,
        page_token: Option<&str>,
        page_size: u32,
    ) -> Result<ContactsPage, GoogleError> {
        people::contacts_page(
            self.http.get(),
            &self.people_base_url,
            access_token,
            page_token,
            page_size,
        )
        .await
    }
}
