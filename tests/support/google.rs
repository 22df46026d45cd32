//! A local stand-in for Google's OAuth 2.0 endpoints (wiremock on
//! 127.0.0.1), answering in the shapes Google documents
//! (https://developers.google.com/identity/protocols/oauth2/web-server):
//! `POST /token` for the code exchange and refresh, `POST /revoke`.
//! The consent page itself is not served: a test reads the state and PKCE
//! challenge from the authorization URL and comes back with a code, as
//! Google's redirect would.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use konnecs::app::AppState;
use konnecs::config::GoogleOAuthConfig;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const CLIENT_ID: &str = "1234567890-konnecs.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-konnecs-test-secret";
/// What the mock hands out on a code exchange.
pub const ACCESS_TOKEN: &str = "ya29.a0AfB_byC-first-access-token";
pub const REFRESH_TOKEN: &str = "1//0gKonnecsRefreshToken-xyz";
/// What the mock hands out on a refresh.
pub const REFRESHED_ACCESS_TOKEN: &str = "ya29.a0AfB_byC-refreshed-access-token";
pub const GOOGLE_EMAIL: &str = "dana.whitfield@gmail.com";
/// Where the mock publishes its JWK set.
pub const CERTS_PATH: &str = "/oauth2/v3/certs";
/// The key ids of the two test keys (`google_keys`).
pub const KID_1: &str = "f5f4bf46e52b31d9b6249f7309ad0338400680cd";
pub const KID_2: &str = "2c8a2a6b7b9a4e0d1f3c5e7a9b1d3f5a7c9e1b3d";

pub struct MockGoogle {
    pub server: MockServer,
}

/// An unsigned ID token carrying `email` (only its payload is read here:
/// it comes straight from the token endpoint).
pub fn id_token(email: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        json!({"iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "1100", "email": email, "email_verified": true})
            .to_string(),
    );
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

impl MockGoogle {
    /// Google granting `scope` on a code exchange, refreshing with
    /// `refresh` (an answer), and revoking anything.
    pub async fn start(scope: &str, refresh: ResponseTemplate) -> Self {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": ACCESS_TOKEN,
                "expires_in": 3599,
                "refresh_token": REFRESH_TOKEN,
                "scope": scope,
                "token_type": "Bearer",
                "id_token": id_token(GOOGLE_EMAIL),
            })))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=refresh_token"))
            .respond_with(refresh)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/revoke"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        Self { server }
    }

    /// A successful refresh answer (no new refresh token, as Google does).
    pub fn refreshed(scope: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": REFRESHED_ACCESS_TOKEN,
            "expires_in": 3599,
            "scope": scope,
            "token_type": "Bearer",
        }))
    }

    /// Google's answer for a revoked or expired refresh token.
    pub fn invalid_grant() -> ResponseTemplate {
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "Token has been expired or revoked.",
        }))
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Every request the mock received so far.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// The form fields of the requests to `path`, in order.
    pub async fn forms(&self, at: &str) -> Vec<Vec<(String, String)>> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.url.path() == at)
            .map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect())
            .collect()
    }
}

/// `state` with Google's OAuth client configured and both base URLs at `base`.
pub fn with_google(state: &AppState, base: &str) -> AppState {
    let mut config = (*state.config).clone();
    config.google_oauth = Some(GoogleOAuthConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.to_string().into(),
    });
    config.google_accounts_base_url = base.to_string();
    config.google_oauth_base_url = base.to_string();
    config.google_certs_url = format!("{base}{CERTS_PATH}");
    config.google_calendar_base_url = format!("{base}{CALENDAR_PREFIX}");
    config.google_gmail_base_url = format!("{base}{}", crate::gmail::GMAIL_PREFIX);
    config.google_people_base_url = format!("{base}{PEOPLE_PREFIX}");
    AppState {
        google: konnecs::app::google(&config),
        config: Arc::new(config),
        ..state.clone()
    }
}

/// The query parameters of a URL.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

pub fn param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A JSON value's text, for "contains no plaintext" checks.
pub fn text_of(value: &Value) -> String {
    value.to_string()
}

/// An ID token signed RS256 by test key `key` (1 or 2) under `kid`.
pub fn signed_id_token(key: u8, kid: &str, claims: &Value) -> String {
    use base64::engine::general_purpose::STANDARD;
    let der = match key {
        1 => crate::google_keys::KEY1_PKCS1_DER_BASE64,
        _ => crate::google_keys::KEY2_PKCS1_DER_BASE64,
    };
    let der = STANDARD.decode(der).expect("test key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_rsa_der(&der)).expect("signed")
}

/// Claims as Google's ID token has them, for `email`, valid an hour from `now`.
pub fn id_claims(email: &str, nonce: &str, now: i64) -> Value {
    json!({
        "iss": "https://accounts.google.com",
        "azp": CLIENT_ID,
        "aud": CLIENT_ID,
        "sub": "110169484474386276334",
        "email": email,
        "email_verified": true,
        "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q",
        "nonce": nonce,
        "name": "Dana Whitfield",
        "given_name": "Dana",
        "family_name": "Whitfield",
        "iat": now,
        "exp": now + 3600,
    })
}

impl MockGoogle {
    /// Publishes the JWK set of the test keys named (`(key, kid)`), as
    /// Google's certs endpoint does (with a `max-age`).
    pub async fn publish_keys(&self, keys: &[(u8, &str)]) {
        let jwks: Vec<Value> = keys
            .iter()
            .map(|(key, kid)| {
                let n = match key {
                    1 => crate::google_keys::KEY1_N,
                    _ => crate::google_keys::KEY2_N,
                };
                json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": crate::google_keys::E})
            })
            .collect();
        Mock::given(method("GET"))
            .and(path(CERTS_PATH))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("cache-control", "public, max-age=19845, must-revalidate, no-transform")
                    .set_body_json(json!({"keys": jwks})),
            )
            // A later set (more keys: a rotation) takes precedence.
            .with_priority(5u8.saturating_sub(keys.len() as u8).max(1))
            .mount(&self.server)
            .await;
    }

    /// The next code exchange answers `id_token` (a sign-in's answer: no
    /// refresh token, as without offline access).
    pub async fn answer_next_exchange(&self, id_token: &str) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "ya29.a0AfB_sign-in-access-token",
                "expires_in": 3599,
                "scope": "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
                "token_type": "Bearer",
                "id_token": id_token,
            })))
            .with_priority(1)
            .up_to_n_times(1)
            .mount(&self.server)
            .await;
    }

    /// How many times the JWK set was fetched.
    pub async fn key_fetches(&self) -> usize {
        self.requests()
            .await
            .iter()
            .filter(|r| r.url.path() == CERTS_PATH)
            .count()
    }
}

/// The Calendar API's path prefix on the mock (`GOOGLE_CALENDAR_BASE_URL`).
pub const CALENDAR_PREFIX: &str = "/calendar/v3";
/// The member's main calendar and a shared one they only read.
pub const PRIMARY_ID: &str = "dana.whitfield@gmail.com";
pub const HOLIDAYS_ID: &str = "en.uk#holiday@group.v.calendar.google.com";

impl MockGoogle {
    /// Serves the member's calendar list, and free/busy answering `busy`
    /// (RFC 3339 pairs) for every calendar asked about.
    pub async fn serve_calendars(&self, busy: &[(&str, &str)]) {
        Mock::given(method("GET"))
            .and(path(format!("{CALENDAR_PREFIX}/users/me/calendarList")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "kind": "calendar#calendarList",
                "etag": "\"p33c9fhh6vqqu80o\"",
                "items": [
                    {"kind": "calendar#calendarListEntry", "id": PRIMARY_ID, "summary": PRIMARY_ID,
                     "timeZone": "Europe/London", "accessRole": "owner", "primary": true},
                    {"kind": "calendar#calendarListEntry", "id": HOLIDAYS_ID, "summary": "Holidays in United Kingdom",
                     "timeZone": "Europe/London", "accessRole": "reader"},
                ],
            })))
            .mount(&self.server)
            .await;
        let intervals: Vec<Value> = busy.iter().map(|(s, e)| json!({"start": s, "end": e})).collect();
        let busy = intervals.clone();
        Mock::given(method("POST"))
            .and(path(format!("{CALENDAR_PREFIX}/freeBusy")))
            .respond_with(move |request: &Request| {
                let asked: Value = serde_json::from_slice(&request.body).unwrap_or_default();
                let mut calendars = serde_json::Map::new();
                for item in asked["items"].as_array().cloned().unwrap_or_default() {
                    if let Some(id) = item["id"].as_str() {
                        calendars.insert(id.to_string(), json!({"busy": busy}));
                    }
                }
                ResponseTemplate::new(200).set_body_json(json!({
                    "kind": "calendar#freeBusy",
                    "timeMin": asked["timeMin"],
                    "timeMax": asked["timeMax"],
                    "calendars": calendars,
                }))
            })
            .mount(&self.server)
            .await;
    }

    /// The bodies of the free/busy queries, in order.
    pub async fn free_busy_queries(&self) -> Vec<Value> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.url.path() == format!("{CALENDAR_PREFIX}/freeBusy"))
            .map(|r| serde_json::from_slice(&r.body).unwrap_or_default())
            .collect()
    }
}

/// The People API's base on the mock (`GOOGLE_PEOPLE_BASE_URL`), and the
/// path of `people.connections.list` under it.
pub const PEOPLE_PREFIX: &str = "/v1";
pub const CONNECTIONS_PATH: &str = "/v1/people/me/connections";

/// A contact as `people.connections.list` returns it with
/// `personFields=names,emailAddresses,phoneNumbers`: `phones` are
/// (`value` as typed, `canonicalForm` when Google could tell).
pub fn person(resource: &str, names: Option<(&str, &str)>, emails: &[&str], phones: &[(&str, Option<&str>)]) -> Value {
    let source = json!({"type": "CONTACT", "id": resource.trim_start_matches("people/c")});
    let mut person = json!({
        "resourceName": resource,
        "etag": format!("%EgUBAgMuNxoEAQIFByIMK{}", resource.len()),
    });
    if let Some((given, family)) = names {
        let display = [given, family]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let mut name = json!({
            "metadata": {"primary": true, "source": source},
            "displayName": display,
            "displayNameLastFirst": format!("{family}, {given}"),
            "unstructuredName": display,
        });
        if !given.is_empty() {
            name["givenName"] = json!(given);
        }
        if !family.is_empty() {
            name["familyName"] = json!(family);
        }
        person["names"] = json!([name]);
    }
    if !emails.is_empty() {
        person["emailAddresses"] = emails
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"metadata": {"primary": i == 0, "source": source}, "value": e, "type": "home", "formattedType": "Home"}))
            .collect();
    }
    if !phones.is_empty() {
        person["phoneNumbers"] = phones
            .iter()
            .enumerate()
            .map(|(i, (value, canonical))| {
                let mut phone = json!({"metadata": {"primary": i == 0, "source": source}, "value": value, "type": "mobile", "formattedType": "Mobile"});
                if let Some(canonical) = canonical {
                    phone["canonicalForm"] = json!(canonical);
                }
                phone
            })
            .collect();
    }
    person
}

impl MockGoogle {
    /// Serves the member's contacts as `people.connections.list` pages
    /// them: the first page without a `pageToken`, each page with the
    /// `nextPageToken` of the next (`page-<n>`) but the last, which has
    /// none; `totalPeople`/`totalItems` as Google adds them. An unknown
    /// token is Google's 400.
    pub async fn serve_people(&self, pages: Vec<Vec<Value>>) {
        let total: usize = pages.iter().map(Vec::len).sum();
        Mock::given(method("GET"))
            .and(path(CONNECTIONS_PATH))
            .respond_with(move |request: &Request| {
                let token = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "pageToken")
                    .map(|(_, v)| v.into_owned());
                let at = match token.as_deref().map(|t| t.strip_prefix("page-").and_then(|n| n.parse::<usize>().ok())) {
                    None => Some(0),
                    Some(found) => found,
                };
                let Some(page) = at.and_then(|at| pages.get(at)) else {
                    return ResponseTemplate::new(400).set_body_json(json!({"error": {
                        "code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}}));
                };
                let at = at.unwrap_or_default();
                let mut body = json!({"totalPeople": total, "totalItems": total});
                if !page.is_empty() {
                    body["connections"] = json!(page);
                }
                if at + 1 < pages.len() {
                    body["nextPageToken"] = json!(format!("page-{}", at + 1));
                }
                ResponseTemplate::new(200).set_body_json(body)
            })
            .mount(&self.server)
            .await;
    }

    /// The People API requests the mock received, in order.
    pub async fn people_requests(&self) -> Vec<Request> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.url.path().starts_with(PEOPLE_PREFIX))
            .collect()
    }
}
