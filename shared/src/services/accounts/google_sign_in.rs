//! Sign in with Google: OpenID Connect's authorization code flow with PKCE
//! (S256), a single-use state bound to the browser that started it, and a
//! nonce. The ID token's signature is checked against Google's published
//! keys, then its issuer, audience, expiry (by the clock port), nonce and
//! `email_verified`.
//!
//! A verified address that belongs to an account signs that account in;
//! nothing else links an account. An unknown address goes through the
//! normal creation of an account and its organization, with the business
//! name asked for first; such an account has no password until one is reset.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | a started sign-in, single use (TTL 10 minutes) | `TOKEN#<sha256 of state>` | `GOOGLE_SIGN_IN` |
//! | a verified Google identity waiting for its business name (TTL 30 minutes) | `TOKEN#<sha256 of token>` | `GOOGLE_SIGN_UP` |

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::signup::{NewAccount, create_account};
use super::{AccountError, SignedIn};
use crate::domain::email::Email;
use crate::domain::google::pkce_challenge;
use crate::domain::input::{FieldError, required_text};
use crate::domain::token::token_hash;
use crate::ports::google::{AuthorizationRequest, GoogleError};
use crate::ports::{Condition, HasClock, HasConfig, HasGoogle, HasJobs, HasTable, Key, StoreError};
use crate::services::audit::{self, Actor};
use crate::services::records::{from_item, to_item};
use crate::services::secrets::new_token;
use crate::services::sessions;

/// Where Google sends the browser back after signing in.
pub const SIGN_IN_CALLBACK_PATH: &str = "/sign-in/google/callback";
const SIGN_IN_LIFETIME_SECONDS: i64 = 600;
const SIGN_UP_LIFETIME_SECONDS: i64 = 1800;
/// Google's two spellings of its issuer.
const ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];
/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECONDS: i64 = 60;
/// An account made by signing in with Google: no password matches it.
const NO_PASSWORD: &str = "!google-sign-in";

#[derive(Debug, thiserror::Error)]
pub enum GoogleSignInError {
    /// No Google client is configured here.
    #[error("google sign-in is not configured")]
    Off,
    /// Unknown, used or expired state, or one another browser started.
    #[error("unknown or used sign-in state")]
    UnknownState,
    #[error("the person did not sign in at google")]
    Declined,
    /// The ID token failed a check; says which, never the token.
    #[error("the ID token is not acceptable: {0}")]
    InvalidIdToken(&'static str),
    /// Google has not verified the address: it links and creates nothing.
    #[error("google has not verified this email address")]
    UnverifiedEmail,
    #[error("the account has no organization to open")]
    NoOrganization,
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn sign_in_key(state: &str) -> Key {
    Key::new(format!("TOKEN#{}", token_hash(state)), "GOOGLE_SIGN_IN")
}

fn sign_up_key(token: &str) -> Key {
    Key::new(format!("TOKEN#{}", token_hash(token)), "GOOGLE_SIGN_UP")
}

#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    nonce: String,
    code_verifier: String,
    /// SHA-256 of the browser's binding (its CSRF cookie).
    browser: String,
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct PendingSignUp {
    email: String,
    name: String,
    browser: String,
    expires_at: i64,
}

/// The claims read from a verified ID token.
#[derive(Debug, Deserialize)]
struct IdClaims {
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    name: Option<String>,
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn redirect_uri(state: &impl HasConfig) -> String {
    format!(
        "{}{SIGN_IN_CALLBACK_PATH}",
        state.config().public_url.trim_end_matches('/')
    )
}

/// Starts a sign-in for the browser bound by `browser` (a secret only that
/// browser holds): answers the URL of Google's sign-in page.
pub async fn start_google_sign_in(
    state: &(impl HasTable + HasClock + HasConfig + HasGoogle),
    browser: &str,
) -> Result<String, GoogleSignInError> {
    let google = state.google().ok_or(GoogleSignInError::Off)?;
    let oauth_state = new_token();
    let nonce = new_token();
    let code_verifier = new_token();
    let pending = PendingSignIn {
        nonce: nonce.clone(),
        code_verifier: code_verifier.clone(),
        browser: token_hash(browser),
        expires_at: state.clock().now().as_second() + SIGN_IN_LIFETIME_SECONDS,
    };
    let item = to_item(&sign_in_key(&oauth_state), &pending, &[])?;
    state.table().put(item, Some(Condition::NotExists)).await?;
    Ok(google.authorization_url(&AuthorizationRequest {
        redirect_uri: redirect_uri(state),
        scope: "openid email profile".into(),
        state: oauth_state,
        code_challenge: pkce_challenge(&code_verifier),
        login_hint: None,
        nonce: Some(nonce),
        offline: false,
    }))
}

/// What a finished sign-in leads to.
pub enum GoogleSignIn {
    /// The verified address's account, signed in.
    SignedIn(SignedIn),
    /// No account has the address: the business name is asked for next,
    /// with this single-use token.
    NewAccount { token: String, name: String, email: String },
}

/// Google's answer on the callback.
pub struct SignInCallback {
    pub state: String,
    pub code: Option<String>,
    pub error: Option<String>,
}

/// Finishes a sign-in: takes the single-use state (started by this
/// browser), exchanges the code with its verifier, verifies the ID token,
/// and signs in the account with that verified address, or asks for the
/// organization of a new one.
pub async fn finish_google_sign_in(
    state: &(impl HasTable + HasClock + HasConfig + HasGoogle),
    browser: &str,
    callback: SignInCallback,
    meta: &Actor,
) -> Result<GoogleSignIn, GoogleSignInError> {
    let google = state.google().ok_or(GoogleSignInError::Off)?;
    if callback.state.is_empty() || callback.state.len() > 128 {
        return Err(GoogleSignInError::UnknownState);
    }
    let pending: PendingSignIn = match state
        .table()
        .delete(&sign_in_key(&callback.state), Some(Condition::Exists))
        .await
    {
        Ok(Some(item)) => from_item(item)?,
        Ok(None) => return Err(GoogleSignInError::UnknownState),
        Err(err) if err.is_condition_failure() => return Err(GoogleSignInError::UnknownState),
        Err(err) => return Err(err.into()),
    };
    let now = state.clock().now().as_second();
    if !same(&pending.browser, &token_hash(browser)) || pending.expires_at < now {
        return Err(GoogleSignInError::UnknownState);
    }
    if callback.error.is_some() {
        return Err(GoogleSignInError::Declined);
    }
    let code = callback
        .code
        .filter(|code| !code.is_empty())
        .ok_or(GoogleSignInError::Declined)?;
    let grant = google
        .exchange_code(&code, &pending.code_verifier, &redirect_uri(state))
        .await?;
    let id_token = grant
        .id_token
        .ok_or(GoogleSignInError::InvalidIdToken("no ID token in the answer"))?;
    let client_id = state
        .config()
        .google_oauth
        .as_ref()
        .map(|client| client.client_id.clone())
        .ok_or(GoogleSignInError::Off)?;
    let claims = verify_id_token(state, &id_token, &client_id, &pending.nonce, now).await?;
    if claims.email_verified != Some(true) {
        return Err(GoogleSignInError::UnverifiedEmail);
    }
    let raw_email = claims
        .email
        .ok_or(GoogleSignInError::InvalidIdToken("no email claim"))?;
    let email = Email::parse(&raw_email).map_err(|_| GoogleSignInError::InvalidIdToken("unusable email claim"))?;
    match super::sign_in::user_by_email(state, email.as_str()).await? {
        Some(user) => {
            let org_id = super::sign_in::login_org(state, &user)
                .await?
                .ok_or(GoogleSignInError::NoOrganization)?;
            let session = sessions::new_session(state.config(), &user.id, &org_id, now);
            let actor = Actor {
                org_id: org_id.clone(),
                user_id: Some(user.id.clone()),
                ..meta.clone()
            };
            state
                .table()
                .transact(vec![
                    session.put.clone(),
                    audit::entry(
                        &actor,
                        state.clock().now(),
                        "auth.login",
                        &format!("user:{}", user.id),
                        json!({"via": "google"}),
                    ),
                ])
                .await?;
            Ok(GoogleSignIn::SignedIn(SignedIn {
                session,
                user_id: user.id,
                org_id,
            }))
        }
        None => {
            let token = new_token();
            let name = claims.name.unwrap_or_default().chars().take(100).collect::<String>();
            let pending = PendingSignUp {
                email: email.as_str().to_owned(),
                name: name.clone(),
                browser: token_hash(browser),
                expires_at: now + SIGN_UP_LIFETIME_SECONDS,
            };
            let item = to_item(&sign_up_key(&token), &pending, &[])?;
            state.table().put(item, Some(Condition::NotExists)).await?;
            Ok(GoogleSignIn::NewAccount {
                token,
                name,
                email: email.as_str().to_owned(),
            })
        }
    }
}

/// Creates the account and organization of a verified Google identity
/// that had none, by the normal account creation (the address counts as
/// verified), and signs it in. The token is spent only on success.
pub async fn finish_google_sign_up(
    state: &(impl HasTable + HasClock + HasConfig + HasJobs),
    browser: &str,
    token: &str,
    name: &str,
    business_name: &str,
    meta: &Actor,
) -> Result<SignedIn, GoogleSignInError> {
    if token.is_empty() || token.len() > 128 {
        return Err(GoogleSignInError::UnknownState);
    }
    let key = sign_up_key(token);
    let pending: PendingSignUp = match state.table().get(&key).await? {
        Some(item) => from_item(item)?,
        None => return Err(GoogleSignInError::UnknownState),
    };
    if !same(&pending.browser, &token_hash(browser)) || pending.expires_at < state.clock().now().as_second() {
        return Err(GoogleSignInError::UnknownState);
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let name = required_text("name", name, 100, &mut errors);
    let business_name = required_text("business_name", business_name, 100, &mut errors);
    let email = Email::parse(&pending.email).map_err(|_| GoogleSignInError::UnknownState)?;
    if !errors.is_empty() {
        return Err(AccountError::Invalid(errors).into());
    }
    let signed = create_account(
        state,
        NewAccount {
            name,
            email,
            password_hash: NO_PASSWORD.into(),
            email_verified: true,
            business_name,
            website: None,
            industry: None,
        },
        meta,
    )
    .await?;
    if let Err(err) = state.table().delete(&key, None).await {
        tracing::warn!(error = %err, "a spent Google sign-up token was not deleted; it expires by itself");
    }
    Ok(signed)
}

/// The ID token's claims once its signature (RS256, by the published key
/// it names), issuer, audience, expiry and nonce hold.
async fn verify_id_token(
    state: &impl HasGoogle,
    id_token: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<IdClaims, GoogleSignInError> {
    let google = state.google().ok_or(GoogleSignInError::Off)?;
    let header =
        jsonwebtoken::decode_header(id_token).map_err(|_| GoogleSignInError::InvalidIdToken("unreadable header"))?;
    if header.alg != Algorithm::RS256 {
        return Err(GoogleSignInError::InvalidIdToken("not signed with RS256"));
    }
    let kid = header.kid.ok_or(GoogleSignInError::InvalidIdToken("no key id"))?;
    let key = google
        .signing_key(&kid)
        .await?
        .ok_or(GoogleSignInError::InvalidIdToken(
            "signed by a key Google does not publish",
        ))?;
    let decoding = DecodingKey::from_rsa_components(&key.n, &key.e)
        .map_err(|_| GoogleSignInError::InvalidIdToken("unusable signing key"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&ISSUERS);
    // Time is the clock port's, checked below.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let data = jsonwebtoken::decode::<IdClaims>(id_token, &decoding, &validation).map_err(|err| {
        use jsonwebtoken::errors::ErrorKind;
        GoogleSignInError::InvalidIdToken(match err.kind() {
            ErrorKind::InvalidSignature => "bad signature",
            ErrorKind::InvalidIssuer => "wrong issuer",
            ErrorKind::InvalidAudience => "wrong audience",
            ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
            _ => "not a valid token",
        })
    })?;
    let claims = data.claims;
    if claims.exp + LEEWAY_SECONDS < now {
        return Err(GoogleSignInError::InvalidIdToken("expired"));
    }
    if claims.iat.is_some_and(|iat| iat - LEEWAY_SECONDS > now) {
        return Err(GoogleSignInError::InvalidIdToken("issued in the future"));
    }
    match &claims.nonce {
        Some(claimed) if same(claimed, nonce) => Ok(claims),
        _ => Err(GoogleSignInError::InvalidIdToken("wrong nonce")),
    }
}
