//! The `GoogleOAuth` port: Google's OAuth 2.0 endpoints for web server
//! applications (authorization, token, revocation, the ID tokens' keys),
//! https://developers.google.com/identity/protocols/oauth2/web-server, and
//! the Calendar API calls made with a member's access token.

use std::collections::BTreeMap;

use async_trait::async_trait;
use jiff::Timestamp;
use secrecy::SecretString;

#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    /// `invalid_grant`: the code or refresh token is expired, revoked or
    /// was never valid. Asking again with it will not help.
    #[error("google refused the grant (invalid_grant)")]
    InvalidGrant,
    /// Any other refusal (a bad request, an unknown client).
    #[error("google refused the request: {0}")]
    Rejected(String),
    /// Network, rate limit or an outage: worth trying later.
    #[error("google unavailable: {0}")]
    Unavailable(String),
}

/// What the authorization request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub redirect_uri: String,
    /// Space-separated scopes.
    pub scope: String,
    pub state: String,
    /// The PKCE `S256` challenge.
    pub code_challenge: String,
    /// The address of the account to preselect, when known.
    pub login_hint: Option<String>,
    /// OpenID Connect's nonce, echoed in the ID token (sign-in only).
    pub nonce: Option<String>,
    /// Whether to ask for a refresh token (`access_type=offline`): for
    /// connecting features, not for signing in.
    pub offline: bool,
}

/// One of Google's RSA signing keys for ID tokens, as its JWK set gives it
/// (`n` and `e` base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub n: String,
    pub e: String,
}

/// Google's answer from the token endpoint. `Debug` shows no token.
pub struct TokenGrant {
    pub access_token: SecretString,
    /// Only on a code exchange that granted offline access (never on a refresh).
    pub refresh_token: Option<SecretString>,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The OpenID Connect ID token, when `openid` was asked for.
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// One of the member's calendars, as their calendar list names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEntry {
    pub id: String,
    pub summary: String,
    pub primary: bool,
    /// Whether Konnecs could write events into it (owner or writer).
    pub writable: bool,
}

/// One of the member's Google contacts (People API `Person`), with only
/// the fields Konnecs asks for: names, email addresses, phone numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GooglePerson {
    /// Google's stable name of the contact, `people/c…`.
    pub resource_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The whole name, for a contact with no given or family name.
    pub display_name: Option<String>,
    pub emails: Vec<String>,
    /// Each number as Google has it in E.164 (`canonicalForm`) when it
    /// could tell, as typed otherwise.
    pub phones: Vec<String>,
}

/// One page of `people.connections.list`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactsPage {
    pub people: Vec<GooglePerson>,
    /// The token of the next page; `None` on the last.
    pub next_page_token: Option<String>,
}

/// Google's OAuth endpoints; the Calendar API's events ([`CalendarEvents`])
/// and the Gmail calls travel with the same client and tokens.
#[async_trait]
pub trait GoogleOAuth: CalendarEvents + super::gmail::GmailApi + Send + Sync {
    /// The consent page's URL: authorization code with PKCE, offline
    /// access, scopes granted earlier kept.
    fn authorization_url(&self, request: &AuthorizationRequest) -> String;

    /// Exchanges an authorization code (with its PKCE verifier).
    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenGrant, GoogleError>;

    /// A fresh access token for a refresh token.
    async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenGrant, GoogleError>;

    /// The signing key `kid` of Google's published JWK set: from the
    /// cached set, fetched again when the key is unknown (keys rotate) or
    /// the cache is stale. `None` when Google does not publish it.
    async fn signing_key(&self, kid: &str) -> Result<Option<SigningKey>, GoogleError>;

    /// Revokes the grant a token belongs to (a refresh token revokes it all).
    /// A token Google no longer knows counts as revoked.
    async fn revoke(&self, token: &SecretString) -> Result<(), GoogleError>;

    /// The member's calendars (Calendar API `calendarList.list`).
    async fn calendars(&self, access_token: &SecretString) -> Result<Vec<CalendarEntry>, GoogleError>;

    /// Busy intervals of `calendars` meeting `[from, to)` (Calendar API
    /// `freebusy.query`): times only, never what the events are.
    async fn free_busy(
        &self,
        access_token: &SecretString,
        calendars: &[String],
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<Vec<(jiff::Timestamp, jiff::Timestamp)>, GoogleError>;

    /// One page of the member's contacts (People API
    /// `people.connections.list`, `personFields=names,emailAddresses,phoneNumbers`):
    /// the first without `page_token`, at most `page_size` people.
    async fn contacts_page(
        &self,
        access_token: &SecretString,
        page_token: Option<&str>,
        page_size: u32,
    ) -> Result<ContactsPage, GoogleError>;
}

// ---------------------------------------------------------------------------
// The Calendar API's events, as Konnecs writes and watches its own:
// `events.get`, `insert`, `patch`, `delete` and `list` (with sync tokens),
// https://developers.google.com/calendar/api/v3/reference/events. Every call
// is made with a member's access token on one of their calendars.

/// An event as Google answers it: only what Konnecs looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    pub id: String,
    /// `confirmed`, `tentative` or `cancelled` (deleted).
    pub status: String,
    /// Timed events only; an all-day event has neither.
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    /// `extendedProperties.private`: visible only to the app that set them.
    pub private: BTreeMap<String, String>,
}

impl CalendarEvent {
    pub fn is_cancelled(&self) -> bool {
        self.status == "cancelled"
    }
}

/// What Konnecs writes into an event it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventWrite {
    /// Chosen by Konnecs (base32hex, 5 to 1024 characters), so a second
    /// insert of the same event is refused rather than duplicated.
    pub id: String,
    pub summary: String,
    pub description: String,
    pub location: Option<String>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// `extendedProperties.private`.
    pub private: BTreeMap<String, String>,
}

/// What `insert` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// Google already holds an event with this id (409): a repeated insert.
    AlreadyExists,
}

/// Where a listing starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListFrom {
    /// A full listing (deleted events included), from its first page.
    Start,
    /// The next page of the listing in progress (`full`: a full listing,
    /// else an incremental one).
    Page { token: String, full: bool },
    /// Only what changed since the listing that gave this sync token.
    Changes(String),
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsPage {
    pub events: Vec<CalendarEvent>,
    pub next_page_token: Option<String>,
    /// On the last page only: where the next incremental listing starts.
    pub next_sync_token: Option<String>,
}

/// What a listing answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Page(EventsPage),
    /// 410 GONE: the sync token is no longer valid; list in full again.
    SyncTokenExpired,
}

#[async_trait]
pub trait CalendarEvents: Send + Sync {
    /// The event, deleted ones included (status `cancelled`); `None` when
    /// Google knows no event of that id.
    async fn get_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<Option<CalendarEvent>, GoogleError>;

    async fn insert_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<Inserted, GoogleError>;

    /// Changes the event's summary, description, location, times and
    /// private properties; its other fields (attendees, reminders, colour
    /// the member set) stay.
    async fn patch_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event: &EventWrite,
    ) -> Result<(), GoogleError>;

    /// Deletes the event; one already gone counts as deleted.
    async fn delete_event(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<(), GoogleError>;

    async fn list_events(
        &self,
        access_token: &SecretString,
        calendar_id: &str,
        from: &ListFrom,
    ) -> Result<Listing, GoogleError>;
}
