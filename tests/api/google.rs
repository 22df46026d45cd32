//! Connecting a member's Google account against a mock Google: the
//! authorization request (code + PKCE S256 + single-use state, offline
//! access, only the switched-on features' scopes), tokens stored sealed
//! (the raw item holds no token), refresh on expiry, `invalid_grant`
//! breaking the connection once, disconnect revoking and deleting before
//! it answers, and a removed member's tokens deleted with them.

use http::StatusCode;
use jiff::SignedDuration;
use konnecs::adapters::envelope;
use konnecs::domain::google::pkce_challenge;
use konnecs::domain::ids::{OrgId, UserId};
use konnecs::domain::role::Role;
use konnecs::ports::KeyError;
use konnecs::services::google::{self, GoogleConnectionError, connection_key, token_context};
use konnecs_tests::app::{Member, START, Store, TestApp};
use konnecs_tests::google::{
    ACCESS_TOKEN, GOOGLE_EMAIL, MockGoogle, REFRESH_TOKEN, REFRESHED_ACCESS_TOKEN, param, query_of, with_google,
};
use konnecs_tests::http::Browser;
use konnecs_tests::on_both_stores;
use serde_json::{Value, json};

const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
const GRANTED: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events";

async fn google_app(store: Store, google: &MockGoogle) -> (TestApp, Member) {
    let mut app = TestApp::on(store, START).await;
    let state = with_google(&app.state, &google.uri());
    app.replace_state(state);
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    (app, owner)
}

/// Starts a connect for `features` and answers the authorization URL's parameters.
async fn start(app: &TestApp, who: &Member, features: Value) -> Vec<(String, String)> {
    let reply = app
        .send(
            &who.browser,
            "POST",
            "/integrations/google/connect",
            Some(&json!({"features": features})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    query_of(reply.body["url"].as_str().expect("url"))
}

/// Google's redirect back with a code for `state`.
async fn come_back(app: &TestApp, who: &Member, state: &str) -> konnecs_tests::http::Reply {
    let path = format!("/app/settings/integrations/google/callback?state={state}&code=4%2F0AeanS0bcode&scope=email");
    app.send(&who.browser, "GET", &path, None).await
}

async fn connect(app: &TestApp, who: &Member) {
    let params = start(app, who, json!(["calendar"])).await;
    let reply = come_back(app, who, &param(&params, "state").expect("state")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(
        reply.headers["location"],
        "/app/settings/integrations?notice=google-connected"
    );
}

async fn raw_item(app: &TestApp, who: &Member) -> Option<Value> {
    app.state
        .table
        .get(&connection_key(
            &OrgId::from(who.org_id.as_str()),
            &UserId::from(who.user_id.as_str()),
        ))
        .await
        .expect("get")
        .map(Value::Object)
}

async fn audit_actions(app: &TestApp, who: &Member) -> Vec<String> {
    let reply = app.send(&who.browser, "GET", "/org/audit", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn connect_asks_for_the_features_scopes_only_with_pkce_state_and_offline_access() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(Store::Sqlite, &google).await;
    let params = start(&app, &owner, json!(["calendar"])).await;
    assert_eq!(param(&params, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&params, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&params, "access_type").as_deref(), Some("offline"));
    assert_eq!(param(&params, "include_granted_scopes").as_deref(), Some("true"));
    assert_eq!(
        param(&params, "redirect_uri").as_deref(),
        Some("http://127.0.0.1:3000/app/settings/integrations/google/callback")
    );
    let scope = param(&params, "scope").expect("scope");
    assert!(scope.split(' ').any(|s| s == CALENDAR_SCOPE), "{scope}");
    assert!(!scope.contains("gmail") && !scope.contains("contacts"), "{scope}");
    let state = param(&params, "state").expect("state");
    assert!(state.len() >= 43, "a 256-bit state");
    let challenge = param(&params, "code_challenge").expect("challenge");
    // Nothing reaches Google before the member comes back with a code.
    assert!(google.requests().await.is_empty());

    let reply = come_back(&app, &owner, &state).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let exchanges = google.forms("/token").await;
    assert_eq!(exchanges.len(), 1);
    let form = &exchanges[0];
    assert_eq!(param(form, "grant_type").as_deref(), Some("authorization_code"));
    assert_eq!(param(form, "code").as_deref(), Some("4/0AeanS0bcode"));
    let verifier = param(form, "code_verifier").expect("verifier");
    assert_eq!(
        pkce_challenge(&verifier),
        challenge,
        "the verifier answers the challenge"
    );

    let status = app.send(&owner.browser, "GET", "/integrations/google", None).await;
    assert_eq!(status.body["state"], "connected", "{}", status.body);
    assert_eq!(status.body["features"], json!(["calendar"]));
    assert_eq!(status.body["google_email"], GOOGLE_EMAIL);
    assert!(
        audit_actions(&app, &owner)
            .await
            .contains(&"google.connected".to_string())
    );

    // Asking for Gmail later asks for Gmail's scopes alone.
    let params = start(&app, &owner, json!(["gmail"])).await;
    let scope = param(&params, "scope").expect("scope");
    assert!(
        scope.contains("gmail.send") && scope.contains("gmail.readonly"),
        "{scope}"
    );
    assert!(!scope.contains("calendar"), "{scope}");
}

#[tokio::test]
async fn the_state_is_single_use_and_only_for_the_member_who_started() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(Store::Sqlite, &google).await;
    let colleague = app.join(&owner, &app.fresh_email("colleague"), Role::Member).await;

    let state = param(&start(&app, &owner, json!(["calendar"])).await, "state").expect("state");
    let stolen = come_back(&app, &colleague, &state).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{}", stolen.body);

    let state = param(&start(&app, &owner, json!(["calendar"])).await, "state").expect("state");
    assert_eq!(come_back(&app, &owner, &state).await.status, StatusCode::SEE_OTHER);
    let replay = come_back(&app, &owner, &state).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    let unknown = come_back(&app, &owner, "not-a-state-we-made").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    // Only the one good callback reached Google's token endpoint.
    assert_eq!(google.forms("/token").await.len(), 1);
    let theirs = app.send(&colleague.browser, "GET", "/integrations/google", None).await;
    assert_eq!(
        theirs.body["state"], "disconnected",
        "another member sees only their own"
    );

    // An unknown feature is the caller's mistake, named.
    let reply = app
        .send(
            &owner.browser,
            "POST",
            "/integrations/google/connect",
            Some(&json!({"features": ["drive"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    assert!(reply.body.to_string().contains("features"));
}

#[tokio::test]
async fn a_declined_consent_connects_nothing() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(Store::Sqlite, &google).await;
    let state = param(&start(&app, &owner, json!(["calendar"])).await, "state").expect("state");
    let path = format!("/app/settings/integrations/google/callback?state={state}&error=access_denied");
    let reply = app.send(&owner.browser, "GET", &path, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers["location"],
        "/app/settings/integrations?notice=google-declined"
    );
    assert!(google.requests().await.is_empty());
    assert!(raw_item(&app, &owner).await.is_none());
}

async fn the_stored_item_holds_no_plaintext_token(store: Store) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(store, &google).await;
    connect(&app, &owner).await;
    let item = raw_item(&app, &owner).await.expect("stored");
    let text = item.to_string();
    for token in [ACCESS_TOKEN, REFRESH_TOKEN, "ya29.", "1//0g"] {
        assert!(!text.contains(token), "{token} in the raw item: {text}");
    }
    // The sealed value opens only under this member's context.
    let sealed = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        item["sealed_tokens"].as_str().expect("sealed"),
    )
    .expect("base64");
    assert!(
        !sealed
            .windows(REFRESH_TOKEN.len())
            .any(|w| w == REFRESH_TOKEN.as_bytes())
    );
    let org = OrgId::from(owner.org_id.as_str());
    let user = UserId::from(owner.user_id.as_str());
    let plain = app
        .state
        .keys
        .decrypt(&sealed, &token_context(&org, &user))
        .await
        .expect("opens");
    assert!(String::from_utf8_lossy(&plain).contains(REFRESH_TOKEN));
    let other_org = token_context(&OrgId::from("0000another0org"), &user);
    assert!(matches!(
        app.state.keys.decrypt(&sealed, &other_org).await,
        Err(KeyError::Undecryptable)
    ));
}

async fn disconnect_revokes_deletes_and_google_hears_nothing_after(store: Store) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(store, &google).await;
    connect(&app, &owner).await;
    let reply = app.send(&owner.browser, "DELETE", "/integrations/google", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["revoked"], true);
    // Revoked with the refresh token (the whole grant), before the answer.
    let revokes = google.forms("/revoke").await;
    assert_eq!(revokes.len(), 1);
    assert_eq!(param(&revokes[0], "token").as_deref(), Some(REFRESH_TOKEN));
    assert!(raw_item(&app, &owner).await.is_none(), "no token item left");
    assert!(
        audit_actions(&app, &owner)
            .await
            .contains(&"google.disconnected".to_string())
    );

    let seen = google.requests().await.len();
    app.clock.advance(SignedDuration::from_hours(3));
    let org = OrgId::from(owner.org_id.as_str());
    let user = UserId::from(owner.user_id.as_str());
    assert!(matches!(
        google::access_token(&app.state, &org, &user).await,
        Err(GoogleConnectionError::NotConnected)
    ));
    let status = app.send(&owner.browser, "GET", "/integrations/google", None).await;
    assert_eq!(status.body["state"], "disconnected");
    let again = app.send(&owner.browser, "DELETE", "/integrations/google", None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(
        google.requests().await.len(),
        seen,
        "nothing called Google after disconnect"
    );
}

async fn removing_a_member_deletes_their_token_item(store: Store) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(store, &google).await;
    let colleague = app.join(&owner, &app.fresh_email("colleague"), Role::Member).await;
    connect(&app, &colleague).await;
    assert!(raw_item(&app, &colleague).await.is_some());
    let view = app
        .send(
            &colleague.browser,
            "POST",
            "/contacts/views",
            Some(&json!({"name": "Mine", "filters": {"tag": "vip"}})),
        )
        .await;
    assert_eq!(view.status, StatusCode::CREATED, "{}", view.body);
    let views = || async {
        let partition = format!("ORG#{}#MEMBER#{}#VIEWS", colleague.org_id, colleague.user_id);
        let page = app
            .state
            .table
            .query(&konnecs::ports::Query::partition(partition))
            .await
            .expect("query");
        page.items.len()
    };
    assert_eq!(views().await, 1);
    let reply = app
        .send(
            &owner.browser,
            "DELETE",
            &format!("/org/members/{}", colleague.user_id),
            None,
        )
        .await;
    assert!(reply.status.is_success(), "{} {}", reply.status, reply.body);
    assert!(
        raw_item(&app, &colleague).await.is_none(),
        "the removed member's tokens are gone"
    );
    assert_eq!(views().await, 0, "their saved views went with the membership");
    // The grant goes at Google too, by its refresh token, once the job runs.
    assert!(google.forms("/revoke").await.is_empty());
    app.drain_jobs().await;
    let revoked = google.forms("/revoke").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(param(&revoked[0], "token").as_deref(), Some(REFRESH_TOKEN));
}

on_both_stores!(
    the_stored_item_holds_no_plaintext_token,
    disconnect_revokes_deletes_and_google_hears_nothing_after,
    removing_a_member_deletes_their_token_item,
);

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_and_then_reused() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(Store::Sqlite, &google).await;
    connect(&app, &owner).await;
    let org = OrgId::from(owner.org_id.as_str());
    let user = UserId::from(owner.user_id.as_str());
    let fresh = google::access_token(&app.state, &org, &user).await.expect("token");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&fresh), ACCESS_TOKEN);
    assert_eq!(google.forms("/token").await.len(), 1, "no refresh while it is valid");

    app.clock.advance(SignedDuration::from_mins(59));
    let refreshed = google::access_token(&app.state, &org, &user).await.expect("token");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&refreshed), REFRESHED_ACCESS_TOKEN);
    let forms = google.forms("/token").await;
    assert_eq!(forms.len(), 2);
    assert_eq!(param(&forms[1], "grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(param(&forms[1], "refresh_token").as_deref(), Some(REFRESH_TOKEN));

    let reused = google::access_token(&app.state, &org, &user).await.expect("token");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&reused), REFRESHED_ACCESS_TOKEN);
    assert_eq!(google.forms("/token").await.len(), 2, "the refreshed token is kept");
    let text = raw_item(&app, &owner).await.expect("item").to_string();
    assert!(!text.contains(REFRESHED_ACCESS_TOKEN));
}

#[tokio::test]
async fn invalid_grant_breaks_the_connection_stops_calls_and_emails_the_member_once() {
    let google = MockGoogle::start(GRANTED, MockGoogle::invalid_grant()).await;
    let (app, owner) = google_app(Store::Sqlite, &google).await;
    connect(&app, &owner).await;
    let org = OrgId::from(owner.org_id.as_str());
    let user = UserId::from(owner.user_id.as_str());
    app.clock.advance(SignedDuration::from_hours(2));
    let first = google::access_token(&app.state, &org, &user).await;
    assert!(matches!(first, Err(GoogleConnectionError::Broken(_))), "{first:?}");
    let seen = google.requests().await.len();
    for _ in 0..3 {
        let again = google::access_token(&app.state, &org, &user).await;
        assert!(matches!(again, Err(GoogleConnectionError::Broken(_))), "{again:?}");
    }
    assert_eq!(
        google.requests().await.len(),
        seen,
        "a broken connection calls Google no more"
    );

    let status = app.send(&owner.browser, "GET", "/integrations/google", None).await;
    assert_eq!(status.body["state"], "broken", "{}", status.body);
    assert!(
        status.body["broken_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("Connect again")
    );
    let emails: Vec<Value> = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m.to_string().contains("google_connection_broken"))
        .collect();
    assert_eq!(emails.len(), 1, "emailed once: {emails:?}");
    assert!(emails[0].to_string().contains(&owner.email));

    // Connecting again mends it.
    connect(&app, &owner).await;
    let status = app.send(&owner.browser, "GET", "/integrations/google", None).await;
    assert_eq!(status.body["state"], "connected");
}

#[tokio::test]
async fn google_routes_are_absent_where_google_is_not_configured() {
    let app = TestApp::new();
    let owner = app.sign_up(&app.fresh_email("owner"), "Whitfield Dental").await;
    let reply = app
        .send(
            &owner.browser,
            "POST",
            "/integrations/google/connect",
            Some(&json!({"features": ["calendar"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    let status = app.send(&owner.browser, "GET", "/integrations/google", None).await;
    assert_eq!(status.body["available"], false);
}

/// On the AWS path the envelope's data key is KMS's (`GenerateDataKey`
/// under the token key with the context), and KMS refuses to unwrap it for
/// another organization.
#[tokio::test]
async fn on_aws_the_tokens_are_sealed_with_a_kms_data_key_bound_to_org_and_user() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(Store::Aws, &google).await;
    connect(&app, &owner).await;
    let item = raw_item(&app, &owner).await.expect("stored");
    assert!(!item.to_string().contains(REFRESH_TOKEN));
    let sealed = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        item["sealed_tokens"].as_str().expect("sealed"),
    )
    .expect("base64");
    let parts = envelope::parse(&sealed).expect("envelope");
    // A local wrapped key is 60 bytes; KMS's ciphertext blob is longer.
    assert_ne!(parts.wrapped.len(), 60, "wrapped by KMS");
    let org = OrgId::from(owner.org_id.as_str());
    let user = UserId::from(owner.user_id.as_str());
    let plain = app
        .state
        .keys
        .decrypt(&sealed, &token_context(&org, &user))
        .await
        .expect("opens");
    assert!(String::from_utf8_lossy(&plain).contains(REFRESH_TOKEN));
    let foreign = token_context(&OrgId::from("0000another0org"), &user);
    assert!(matches!(
        app.state.keys.decrypt(&sealed, &foreign).await,
        Err(KeyError::Undecryptable)
    ));
}

// ------------------------------------------------------------ the page

/// A form post as a browser without JavaScript sends it (the hidden `_csrf`).
async fn post_form(app: &TestApp, who: &Member, path: &str, fields: &[(&str, &str)]) -> konnecs_tests::http::Reply {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("_csrf", who.browser.csrf.as_deref().unwrap_or_default());
    for (name, value) in fields {
        form.append_pair(name, value);
    }
    let mut request = Browser {
        csrf: None,
        ..who.browser.clone()
    }
    .request("POST", path, None);
    let headers = request.headers_mut();
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().expect("header"),
    );
    headers.insert("host", "konnecs.test".parse().expect("header"));
    headers.insert("origin", "http://konnecs.test".parse().expect("header"));
    headers.insert("sec-fetch-site", "same-origin".parse().expect("header"));
    *request.body_mut() = axum::body::Body::from(form.finish());
    app.request(request).await
}

fn html(reply: &konnecs_tests::http::Reply) -> String {
    String::from_utf8_lossy(&reply.bytes).into_owned()
}

#[tokio::test]
async fn the_integrations_page_explains_connects_shows_the_state_and_disconnects_before_answering() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let (app, owner) = google_app(Store::Sqlite, &google).await;
    // Every member manages their own connection, not only admins.
    let member = app.join(&owner, &app.fresh_email("member"), Role::Member).await;
    let page = app
        .send(&member.browser, "GET", "/app/settings/integrations", None)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let text = html(&page);
    for words in [
        "Not connected",
        "never changes or deletes events it did not create",
        "reads nothing else in your mailbox",
        "does not read them again unless you start another import",
        "calendar.events",
    ] {
        assert!(text.contains(words), "no {words:?} in {text}");
    }
    assert!(!text.contains("Disconnect Google"), "nothing to disconnect yet");
    assert!(
        !text.contains("/app/settings/billing"),
        "no admin settings offered to a member"
    );

    // No feature checked: the page says so, nothing is started.
    let none = post_form(&app, &member, "/app/settings/integrations", &[("action", "connect")]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(&none).contains("Choose at least one feature"));

    let continuing = post_form(
        &app,
        &member,
        "/app/settings/integrations",
        &[("action", "connect"), ("features", "calendar")],
    )
    .await;
    assert_eq!(continuing.status, StatusCode::OK);
    let text = html(&continuing);
    let start = text
        .find(&format!("{}/o/oauth2/v2/auth?", google.uri()))
        .expect("link to Google");
    let link: String = text[start..].chars().take_while(|c| *c != '"').collect();
    let link = link.replace("&#38;", "&").replace("&amp;", "&");
    let state = param(&query_of(&link), "state").expect("state");
    assert_eq!(come_back(&app, &member, &state).await.status, StatusCode::SEE_OTHER);

    let page = app
        .send(
            &member.browser,
            "GET",
            "/app/settings/integrations?notice=google-connected",
            None,
        )
        .await;
    let text = html(&page);
    assert!(
        text.contains("Google is connected.") && text.contains("Connected"),
        "{text}"
    );
    assert!(text.contains(GOOGLE_EMAIL) && text.contains("Disconnect Google"));

    let done = post_form(&app, &member, "/app/settings/integrations", &[("action", "disconnect")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    // Gone before the answer: revoked at Google and no token item left.
    assert_eq!(google.forms("/revoke").await.len(), 1);
    assert!(raw_item(&app, &member).await.is_none());
    let page = app
        .send(
            &member.browser,
            "GET",
            done.headers["location"].to_str().expect("location"),
            None,
        )
        .await;
    assert!(html(&page).contains("Google is disconnected"));
}

#[tokio::test]
async fn the_integrations_page_shows_a_broken_connection_with_its_reason() {
    let google = MockGoogle::start(GRANTED, MockGoogle::invalid_grant()).await;
    let (app, owner) = google_app(Store::Sqlite, &google).await;
    connect(&app, &owner).await;
    app.clock.advance(SignedDuration::from_hours(2));
    let org = OrgId::from(owner.org_id.as_str());
    let user = UserId::from(owner.user_id.as_str());
    assert!(google::access_token(&app.state, &org, &user).await.is_err());
    let page = app
        .send(&owner.browser, "GET", "/app/settings/integrations", None)
        .await;
    let text = html(&page);
    assert!(
        text.contains("Broken") && text.contains("Why it stopped") && text.contains("Connect again"),
        "{text}"
    );
}
