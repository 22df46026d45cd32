//! The `GoogleOAuth` port: Google's OAuth 2.0 endpoints for web server
//! applications (authorization, token, revocation, the ID tokens' keys),
//! https://developers.google.com/identity/protocols/oauth2/web-server, and
//! the Calendar API calls made with a member's access token.

use async_trait::async_trait;
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

#[async_trait]
pub trait GoogleOAuth: Send + Sync {
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
