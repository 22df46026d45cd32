//! A member's connection to their Google account: connect (authorization
//! code with PKCE and a single-use state), the stored tokens, refresh, the
//! broken state after `invalid_grant`, and disconnect.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | a member's Google connection, tokens sealed by the key vault | `ORG#<id>` | `GOOGLE#<user>` |
//! | a started connect, single use (TTL 10 minutes) | `TOKEN#<sha256 of state>` | `GOOGLE_CONNECT` |
//!
//! Tokens are never stored in the clear: both are one JSON object sealed
//! by the `KeyVault` (AES-256-GCM under a fresh data key, KMS-wrapped on
//! AWS) under the context {org, user, purpose}, so a sealed value copied to
//! another member's or organization's item does not open. A broken
//! connection makes no call to Google until the member connects again;
//! a disconnected one has no item, so nothing can call Google for it.

pub mod calendar;
pub mod calendar_sync;
pub mod contacts;
pub mod gmail;
pub mod gmail_replies;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::domain::google::{GoogleFeature, pkce_challenge, scope_list};
use crate::domain::ids::{OrgId, UserId};
use crate::domain::input::FieldError;
use crate::domain::token::token_hash;
use crate::ports::google::{AuthorizationRequest, GoogleError, GoogleOAuth, TokenGrant};
use crate::ports::{
    Condition, EncryptionContext, HasClock, HasConfig, HasGoogle, HasJobs, HasKeys, HasTable, Key, KeyError,
    QueueError, StoreError, Update, WriteOp,
};
use crate::services::audit::{self, Actor};
use crate::services::jobs::{self, Job};
use crate::services::records::{UserRecord, from_item, to_item, user_key};
use crate::services::secrets::new_token;

/// How long a started connect may take at Google's consent page.
const CONNECT_LIFETIME_SECONDS: i64 = 600;
/// An access token this close to its expiry is refreshed before use.
const EXPIRY_MARGIN_SECONDS: i64 = 60;
/// The callback Google sends the member back to.
pub const CALLBACK_PATH: &str = "/app/settings/integrations/google/callback";
/// Google's name for a member's main calendar.
pub const PRIMARY_CALENDAR: &str = "primary";
/// What the sealed tokens are for: part of their encryption context.
const TOKEN_PURPOSE: &str = "google-oauth-tokens";

pub fn connection_key(org_id: &OrgId, user_id: &UserId) -> Key {
    Key::new(format!("ORG#{org_id}"), format!("GOOGLE#{user_id}"))
}

fn connect_key(state: &str) -> Key {
    Key::new(format!("TOKEN#{}", token_hash(state)), "GOOGLE_CONNECT")
}

/// The encryption context of a member's sealed tokens.
pub fn token_context(org_id: &OrgId, user_id: &UserId) -> EncryptionContext {
    EncryptionContext::new()
        .with("org", org_id.as_str())
        .with("user", user_id.as_str())
        .with("purpose", TOKEN_PURPOSE)
}

#[derive(Debug, thiserror::Error)]
pub enum GoogleConnectionError {
    /// No Google client is configured here.
    #[error("google is not configured")]
    Off,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The callback's state is unknown, used, expired or another member's.
    #[error("unknown or used connect state")]
    UnknownState,
    /// The member declined at Google's consent page.
    #[error("access was not granted")]
    Declined,
    /// No connection for this member.
    #[error("not connected")]
    NotConnected,
    /// Google refused the stored grant; the member must connect again.
    #[error("the google connection is broken: {0}")]
    Broken(String),
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connected,
    /// Google refused the grant (`invalid_grant`): no calls until reconnected.
    Broken,
}

/// The stored connection. The tokens are only in `sealed_tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionRecord {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub status: ConnectionStatus,
    /// The Google account's address, from the ID token of the exchange.
    #[serde(default)]
    pub google_email: Option<String>,
    /// The scopes granted, space-separated.
    pub scopes: String,
    /// Base64 of the key vault's envelope of [`Tokens`] as JSON.
    pub sealed_tokens: String,
    /// Unix seconds when the access token expires.
    pub access_expires_at: i64,
    pub connected_at: String,
    #[serde(default)]
    pub broken_reason: Option<String>,
    #[serde(default)]
    pub broken_at: Option<String>,
    /// The calendars whose busy times keep slots free (`primary` at first).
    #[serde(default)]
    pub busy_calendars: Vec<String>,
    /// The calendar bookings are written into.
    #[serde(default)]
    pub write_calendar: Option<String>,
    /// Where the calendar sync's listing of the written calendar stands.
    /// Written without a version change (it is not the member's choice).
    #[serde(default)]
    pub events_sync: Option<calendar_sync::EventsSync>,
    pub version: u64,
}

/// The plaintext inside `sealed_tokens`; only ever in memory.
#[derive(Serialize, Deserialize)]
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
}

/// A started connect: who started it and the PKCE verifier of its code.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingConnect {
    org_id: OrgId,
    user_id: UserId,
    code_verifier: String,
    expires_at: i64,
}

/// The connection as the member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ConnectionView {
    /// `connected`, `broken` or `disconnected`.
    pub state: &'static str,
    pub google_email: Option<String>,
    /// The features whose scopes are granted.
    pub features: Vec<GoogleFeature>,
    pub connected_at: Option<String>,
    /// Why the connection is broken, in words for the member.
    pub broken_reason: Option<String>,
    /// Whether Google is configured here at all.
    pub available: bool,
}

fn google<S: HasGoogle>(state: &S) -> Result<&std::sync::Arc<dyn GoogleOAuth>, GoogleConnectionError> {
    state.google().ok_or(GoogleConnectionError::Off)
}

fn redirect_uri(state: &impl HasConfig) -> String {
    format!("{}{CALLBACK_PATH}", state.config().public_url.trim_end_matches('/'))
}

pub(crate) async fn read_connection(
    state: &impl HasTable,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Option<ConnectionRecord>, StoreError> {
    match state.table().get(&connection_key(org_id, user_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// The member's connection, for the Integrations page and `GET /integrations/google`.
pub async fn status(
    state: &(impl HasTable + HasGoogle),
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<ConnectionView, GoogleConnectionError> {
    let available = state.google().is_some();
    Ok(match read_connection(state, org_id, user_id).await? {
        None => ConnectionView {
            state: "disconnected",
            google_email: None,
            features: Vec::new(),
            connected_at: None,
            broken_reason: None,
            available,
        },
        Some(record) => ConnectionView {
            state: match record.status {
                ConnectionStatus::Connected => "connected",
                ConnectionStatus::Broken => "broken",
            },
            google_email: record.google_email,
            features: GoogleFeature::granted_in(&record.scopes),
            connected_at: Some(record.connected_at),
            broken_reason: record.broken_reason,
            available,
        },
    })
}

/// Parses feature names; at least one, each known.
pub fn parse_features(names: &[String]) -> Result<Vec<GoogleFeature>, GoogleConnectionError> {
    let mut features = Vec::new();
    for name in names {
        match GoogleFeature::parse(name.trim()) {
            Some(feature) if !features.contains(&feature) => features.push(feature),
            Some(_) => {}
            None => {
                return Err(GoogleConnectionError::Invalid(vec![FieldError::new(
                    "features",
                    "unknown_feature",
                    "Choose among calendar, gmail and contacts.",
                )]));
            }
        }
    }
    if features.is_empty() {
        return Err(GoogleConnectionError::Invalid(vec![FieldError::new(
            "features",
            "required",
            "Choose at least one feature to connect.",
        )]));
    }
    features.sort();
    Ok(features)
}

/// Starts connecting the member's Google account for `features`: records a
/// single-use state with the PKCE verifier and answers the URL of Google's
/// consent page. Only the features' scopes are asked for; those granted
/// before stay granted (`include_granted_scopes`).
pub async fn start_connect(
    state: &(impl HasTable + HasClock + HasConfig + HasGoogle),
    org_id: &OrgId,
    user_id: &UserId,
    features: &[GoogleFeature],
) -> Result<String, GoogleConnectionError> {
    let google = google(state)?;
    let oauth_state = new_token();
    let code_verifier = new_token();
    let now = state.clock().now().as_second();
    let pending = PendingConnect {
        org_id: org_id.clone(),
        user_id: user_id.clone(),
        code_verifier: code_verifier.clone(),
        expires_at: now + CONNECT_LIFETIME_SECONDS,
    };
    let item = to_item(&connect_key(&oauth_state), &pending, &[])?;
    state.table().put(item, Some(Condition::NotExists)).await?;
    let login_hint = match read_connection(state, org_id, user_id).await? {
        Some(record) => record.google_email,
        None => None,
    };
    Ok(google.authorization_url(&AuthorizationRequest {
        redirect_uri: redirect_uri(state),
        scope: scope_list(features),
        state: oauth_state,
        code_challenge: pkce_challenge(&code_verifier),
        login_hint,
        nonce: None,
        offline: true,
    }))
}

/// Google's answer on the callback: a code, or the error the member chose.
pub struct Callback {
    pub state: String,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// Finishes a connect: takes the single-use state (it must be this
/// member's), exchanges the code with its verifier, seals the tokens and
/// stores the connection with an audit entry. A refresh token kept from an
/// earlier connect stays when Google sends none (incremental consent).
pub async fn finish_connect(
    state: &(impl HasTable + HasClock + HasConfig + HasGoogle + HasKeys),
    actor: &Actor,
    user_id: &UserId,
    callback: Callback,
) -> Result<ConnectionView, GoogleConnectionError> {
    let google = google(state)?;
    if callback.state.is_empty() || callback.state.len() > 128 {
        return Err(GoogleConnectionError::UnknownState);
    }
    let taken = state
        .table()
        .delete(&connect_key(&callback.state), Some(Condition::Exists))
        .await;
    let pending: PendingConnect = match taken {
        Ok(Some(item)) => from_item(item)?,
        Ok(None) => return Err(GoogleConnectionError::UnknownState),
        Err(err) if err.is_condition_failure() => return Err(GoogleConnectionError::UnknownState),
        Err(err) => return Err(err.into()),
    };
    let now = state.clock().now();
    if pending.org_id != actor.org_id || &pending.user_id != user_id || pending.expires_at < now.as_second() {
        return Err(GoogleConnectionError::UnknownState);
    }
    if callback.error.is_some() {
        return Err(GoogleConnectionError::Declined);
    }
    let code = callback
        .code
        .filter(|c| !c.is_empty())
        .ok_or(GoogleConnectionError::Declined)?;
    let grant = google
        .exchange_code(&code, &pending.code_verifier, &redirect_uri(state))
        .await?;
    let existing = read_connection(state, &actor.org_id, user_id).await?;
    let kept_refresh = match (&grant.refresh_token, &existing) {
        (None, Some(record)) => open_tokens(state, record).await.ok().and_then(|t| t.refresh_token),
        _ => None,
    };
    let refresh_token = grant
        .refresh_token
        .as_ref()
        .map(|t| t.expose_secret().to_owned())
        .or(kept_refresh);
    let context = token_context(&actor.org_id, user_id);
    let sealed = seal(state, &grant.access_token, refresh_token, &context).await?;
    // Scopes granted before and not named again stay granted at Google.
    let mut scopes: Vec<String> = grant.scope.split_whitespace().map(str::to_owned).collect();
    if let Some(record) = &existing {
        for scope in record.scopes.split_whitespace() {
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
    }
    let record = ConnectionRecord {
        org_id: actor.org_id.clone(),
        user_id: user_id.clone(),
        status: ConnectionStatus::Connected,
        google_email: grant
            .id_token
            .as_deref()
            .and_then(id_token_email)
            .or(existing.as_ref().and_then(|r| r.google_email.clone())),
        scopes: scopes.join(" "),
        sealed_tokens: sealed,
        access_expires_at: now.as_second() + grant.expires_in,
        connected_at: now.to_string(),
        broken_reason: None,
        broken_at: None,
        // A reconnect keeps the member's calendar choice.
        busy_calendars: existing
            .as_ref()
            .map_or_else(|| vec![PRIMARY_CALENDAR.to_owned()], |r| r.busy_calendars.clone()),
        write_calendar: existing
            .as_ref()
            .map_or_else(|| Some(PRIMARY_CALENDAR.to_owned()), |r| r.write_calendar.clone()),
        // A new grant lists the calendar in full again.
        events_sync: None,
        version: existing.as_ref().map_or(1, |r| r.version + 1),
    };
    let condition = match &existing {
        Some(old) => Condition::VersionEquals(old.version),
        None => Condition::NotExists,
    };
    let features = GoogleFeature::granted_in(&record.scopes);
    let ops = vec![
        WriteOp::Put {
            item: to_item(
                &connection_key(&actor.org_id, user_id),
                &record,
                &calendar_sync::connections_index(&actor.org_id, user_id),
            )?,
            condition: Some(condition),
        },
        audit::entry(
            actor,
            now,
            "google.connected",
            &format!("user:{user_id}"),
            json!({"features": features}),
        ),
    ];
    state.table().transact(ops).await?;
    status(state, &actor.org_id, user_id).await
}

/// What a disconnect did at Google.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Disconnected {
    /// Whether Google confirmed the revocation; the tokens are deleted either way.
    pub revoked: bool,
}

/// Disconnects the member's Google account: revokes the grant at Google,
/// then deletes the stored tokens with an audit entry, before answering.
/// The tokens are deleted even when Google cannot be reached: the member
/// asked for Konnecs to stop, and nothing can call Google without them.
pub async fn disconnect(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys),
    actor: &Actor,
    user_id: &UserId,
) -> Result<Disconnected, GoogleConnectionError> {
    let record = read_connection(state, &actor.org_id, user_id)
        .await?
        .ok_or(GoogleConnectionError::NotConnected)?;
    let revoked = match (state.google(), open_tokens(state, &record).await) {
        (Some(google), Ok(tokens)) => {
            // The refresh token revokes the whole grant; the access token is
            // the only handle left when there is none.
            let token = SecretString::from(tokens.refresh_token.unwrap_or(tokens.access_token));
            match google.revoke(&token).await {
                Ok(()) => true,
                Err(err) => {
                    tracing::warn!(error = %err, "google did not confirm a revocation; the tokens are deleted anyway");
                    false
                }
            }
        }
        (_, Err(err)) => {
            tracing::warn!(error = %err, "sealed google tokens did not open; deleting them");
            false
        }
        (None, _) => false,
    };
    let ops = vec![
        WriteOp::Delete {
            key: connection_key(&actor.org_id, user_id),
            condition: None,
        },
        audit::entry(
            actor,
            state.clock().now(),
            "google.disconnected",
            &format!("user:{user_id}"),
            json!({"revoked": revoked}),
        ),
    ];
    state.table().transact(ops).await?;
    Ok(Disconnected { revoked })
}

/// The delete of a member's connection, for a transaction removing the member.
pub fn delete_connection_op(org_id: &OrgId, user_id: &UserId) -> WriteOp {
    WriteOp::Delete {
        key: connection_key(org_id, user_id),
        condition: None,
    }
}

/// The job that revokes the grant of a removed member's connection at
/// Google, once the transaction removing the member deleted its item; `None`
/// without a connection. It carries the tokens still sealed (only the token
/// key under the member's context opens them), so the item can go at once
/// and the removing request needs neither the key nor Google.
pub async fn revoke_after_removal(
    state: &impl HasTable,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Option<Job>, StoreError> {
    Ok(read_connection(state, org_id, user_id)
        .await?
        .map(|record| Job::RevokeGoogleGrant {
            org_id: org_id.clone(),
            user_id: user_id.clone(),
            sealed_tokens: record.sealed_tokens,
        }))
}

/// Revokes the grant of tokens sealed for the member (the job of
/// [`revoke_after_removal`]). A grant Google no longer knows counts as revoked.
pub async fn revoke_sealed(
    state: &(impl HasGoogle + HasKeys),
    org_id: &OrgId,
    user_id: &UserId,
    sealed_tokens: &str,
) -> Result<(), GoogleConnectionError> {
    let google = google(state)?;
    let tokens = open_sealed(state, org_id, user_id, sealed_tokens).await?;
    let token = SecretString::from(tokens.refresh_token.unwrap_or(tokens.access_token));
    match google.revoke(&token).await {
        Ok(()) | Err(GoogleError::InvalidGrant) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// A usable access token for the member's connection, refreshed first when
/// it expires within a minute. A broken connection answers `Broken` without
/// calling Google; Google's `invalid_grant` on refresh breaks it, and the
/// member is emailed once.
pub async fn access_token(
    state: &(impl HasTable + HasClock + HasGoogle + HasKeys + HasJobs + HasConfig),
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<SecretString, GoogleConnectionError> {
    let record = read_connection(state, org_id, user_id)
        .await?
        .ok_or(GoogleConnectionError::NotConnected)?;
    if record.status == ConnectionStatus::Broken {
        return Err(GoogleConnectionError::Broken(record.broken_reason.unwrap_or_default()));
    }
    let tokens = open_tokens(state, &record).await?;
    let now = state.clock().now();
    if record.access_expires_at - EXPIRY_MARGIN_SECONDS > now.as_second() {
        return Ok(SecretString::from(tokens.access_token));
    }
    let google = google(state)?;
    let Some(refresh_token) = tokens.refresh_token.clone() else {
        return Err(mark_broken(state, &record, now, "Google gave no offline access; connect again.").await?);
    };
    match google.refresh(&SecretString::from(refresh_token.clone())).await {
        Ok(grant) => {
            store_refreshed(state, &record, &grant, refresh_token, now).await?;
            Ok(grant.access_token)
        }
        Err(GoogleError::InvalidGrant) => Err(mark_broken(
            state,
            &record,
            now,
            "Google no longer accepts Konnecs's access (it was revoked, expired or the password changed). Connect again.",
        )
        .await?),
        Err(err) => Err(err.into()),
    }
}

async fn store_refreshed(
    state: &(impl HasTable + HasKeys),
    record: &ConnectionRecord,
    grant: &TokenGrant,
    refresh_token: String,
    now: Timestamp,
) -> Result<(), GoogleConnectionError> {
    let context = token_context(&record.org_id, &record.user_id);
    let sealed = seal(state, &grant.access_token, Some(refresh_token), &context).await?;
    let update = Update::default()
        .set("sealed_tokens", sealed)
        .set("access_expires_at", now.as_second() + grant.expires_in)
        .set("version", record.version + 1);
    // A connection disconnected meanwhile stays gone: the version names the
    // item this refresh started from, so the write cannot bring it back.
    match state
        .table()
        .update(
            &connection_key(&record.org_id, &record.user_id),
            update,
            Some(Condition::VersionEquals(record.version)),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(err) if err.is_condition_failure() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Marks the connection broken, once: only the writer that moves it from
/// connected emails the member and writes the audit entry.
async fn mark_broken(
    state: &(impl HasTable + HasJobs + HasConfig + HasClock),
    record: &ConnectionRecord,
    now: Timestamp,
    reason: &str,
) -> Result<GoogleConnectionError, GoogleConnectionError> {
    let key = connection_key(&record.org_id, &record.user_id);
    let actor = Actor {
        org_id: record.org_id.clone(),
        user_id: None,
        request_id: format!("google-refresh-{}", record.version),
        ip: None,
        user_agent: None,
    };
    let ops = vec![
        WriteOp::Update {
            key,
            update: Update::default()
                .set("status", json!(ConnectionStatus::Broken))
                .set("broken_reason", reason)
                .set("broken_at", now.to_string())
                .set("version", record.version + 1),
            condition: Some(Condition::VersionEquals(record.version)),
        },
        audit::entry(
            &actor,
            now,
            "google.broken",
            &format!("user:{}", record.user_id),
            json!({"reason": "invalid_grant"}),
        ),
    ];
    match state.table().transact(ops).await {
        Ok(()) => {
            if let Some(user) = state.table().get(&user_key(&record.user_id)).await? {
                let user: UserRecord = from_item(user)?;
                let email = crate::ports::mailer::Email {
                    to: user.email,
                    subject: "Your Google connection to Konnecs stopped working".into(),
                    text: format!(
                        "Hello {},\n\nGoogle no longer accepts Konnecs's access to your Google account, so \
                         Konnecs has stopped using it: no calendar, Gmail or contacts calls are made for \
                         it.\n\nTo use Google with Konnecs again, connect it in Settings → Integrations:\n\
                         {}/app/settings/integrations\n",
                        user.name,
                        state.config().public_url.trim_end_matches('/'),
                    ),
                    html: None,
                    attachments: Vec::new(),
                    kind: "google_connection_broken".into(),
                };
                jobs::enqueue(
                    state,
                    &[Job::SendEmail {
                        idempotency_key: format!(
                            "google-broken-{}-{}-{}",
                            record.org_id, record.user_id, record.version
                        ),
                        email,
                    }],
                )
                .await?;
            }
        }
        Err(err) if err.is_condition_failure() => {}
        Err(err) => return Err(err.into()),
    }
    Ok(GoogleConnectionError::Broken(reason.to_owned()))
}

async fn seal(
    state: &impl HasKeys,
    access_token: &SecretString,
    refresh_token: Option<String>,
    context: &EncryptionContext,
) -> Result<String, GoogleConnectionError> {
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(&Tokens {
            access_token: access_token.expose_secret().to_owned(),
            refresh_token,
        })
        .map_err(|err| StoreError::Invalid(err.to_string()))?,
    );
    let sealed = state.keys().encrypt(&plain, context).await?;
    Ok(STANDARD.encode(sealed))
}

async fn open_tokens(state: &impl HasKeys, record: &ConnectionRecord) -> Result<Tokens, GoogleConnectionError> {
    open_sealed(state, &record.org_id, &record.user_id, &record.sealed_tokens).await
}

async fn open_sealed(
    state: &impl HasKeys,
    org_id: &OrgId,
    user_id: &UserId,
    sealed_tokens: &str,
) -> Result<Tokens, GoogleConnectionError> {
    let sealed = STANDARD
        .decode(sealed_tokens)
        .map_err(|_| GoogleConnectionError::Keys(KeyError::Malformed))?;
    let context = token_context(org_id, user_id);
    let plain = zeroize::Zeroizing::new(state.keys().decrypt(&sealed, &context).await?);
    serde_json::from_slice(&plain).map_err(|_| GoogleConnectionError::Keys(KeyError::Malformed))
}

/// The `email` claim of an ID token received straight from Google's token
/// endpoint over TLS, where OpenID Connect (Core §3.1.3.7) lets the client
/// rely on the TLS server identity instead of the signature. Used only to
/// show which account is connected.
fn id_token_email(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("email")?.as_str().map(str::to_owned)
}
