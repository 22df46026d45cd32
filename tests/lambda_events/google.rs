//! Samples of the Google connection Lambdas, with Google's OAuth client
//! configured and its endpoints on a mock (`konnecs_tests::google`). The
//! tokens are sealed by KMS on the emulator, as in a deployed function.

use http::StatusCode;
use konnecs::domain::ids::{OrgId, UserId};
use konnecs::ports::Clock;
use konnecs::services::google::connection_key;
use konnecs_tests::google::{GOOGLE_EMAIL, MockGoogle, REFRESH_TOKEN, param, person, query_of, with_google};
use serde_json::{Value, json};

use super::World;

const GRANTED: &str =
    "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/calendar.events";

async fn world_with_google(google: &MockGoogle) -> World {
    let mut world = World::with_dana().await;
    world.state = with_google(&world.state, &google.uri());
    world.app = konnecs::inbound::http::router(world.state.clone(), konnecs::catalogue::entries());
    world
}

/// Dana starts connecting Google Calendar through the API: the state.
async fn started(world: &World) -> String {
    let answer = world
        .api(
            "POST",
            "/integrations/google/connect",
            Some(json!({"features": ["calendar"]})),
        )
        .await;
    param(&query_of(answer["url"].as_str().expect("url")), "state").expect("state")
}

/// Dana has connected Google Calendar.
async fn connected(world: &World) {
    connected_for(world, json!(["calendar"])).await;
}

/// Dana has connected Google for `features`.
async fn connected_for(world: &World, features: Value) {
    let answer = world
        .api(
            "POST",
            "/integrations/google/connect",
            Some(json!({ "features": features })),
        )
        .await;
    let state = param(&query_of(answer["url"].as_str().expect("url")), "state").expect("state");
    let path = format!("/app/settings/integrations/google/callback?state={state}&code=4%2F0AeanS0bcode");
    let reply = world.dana().send(&world.app, "GET", &path, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
}

async fn stored(world: &World) -> Option<Value> {
    let dana = world.api("GET", "/me", None).await;
    let user = dana["id"].as_str().expect("user id").to_string();
    world
        .state
        .table
        .get(&connection_key(
            &OrgId::from(world.org_id.as_str()),
            &UserId::from(user),
        ))
        .await
        .expect("get")
        .map(Value::Object)
}

pub async fn google_status_shows_the_connected_account_and_features(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let world = world_with_google(&google).await;
    connected(&world).await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["state"], "connected");
    assert_eq!(reply.body["google_email"], GOOGLE_EMAIL);
    assert_eq!(reply.body["features"], json!(["calendar"]));
}

pub async fn google_connect_answers_googles_consent_url_for_the_calendar(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let world = world_with_google(&google).await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    let url = reply.body["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("{}/o/oauth2/v2/auth?", google.uri())), "{url}");
    let params = query_of(url);
    assert_eq!(param(&params, "access_type").as_deref(), Some("offline"));
    assert_eq!(param(&params, "code_challenge_method").as_deref(), Some("S256"));
    assert!(param(&params, "scope").expect("scope").contains("calendar.events"));
}

pub async fn google_callback_stores_the_tokens_sealed_by_kms(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let world = world_with_google(&google).await;
    let state = started(&world).await;
    let reply = world.http(name, &[("OAUTH_STATE", &state)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        reply.header("location"),
        "/app/settings/integrations?notice=google-connected"
    );
    let exchange = google.forms("/token").await;
    assert_eq!(exchange.len(), 1);
    assert_eq!(
        param(&exchange[0], "code").as_deref(),
        Some("4/0AeanS0bW7hXqZkQ3c9tGvYd2Lr8mPnJ1xKfE5uIoA6sBwHzC")
    );
    let item = stored(&world).await.expect("connection stored");
    assert_eq!(item["status"], "connected");
    assert!(!item.to_string().contains(REFRESH_TOKEN), "no plaintext token");
}

pub async fn google_disconnect_revokes_and_deletes_the_tokens(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let world = world_with_google(&google).await;
    connected(&world).await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["revoked"], true);
    let revokes = google.forms("/revoke").await;
    assert_eq!(revokes.len(), 1);
    assert_eq!(param(&revokes[0], "token").as_deref(), Some(REFRESH_TOKEN));
    assert!(stored(&world).await.is_none());
}

pub async fn page_integrations_explains_each_features_access(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let world = world_with_google(&google).await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.header("content-security-policy").contains("script-src 'self'"));
    for words in [
        "Google Calendar",
        "never changes or deletes events it did not create",
        "Gmail",
        "once, when you start an import",
        "Not connected",
    ] {
        assert!(reply.text.contains(words), "no {words:?} in {}", reply.text);
    }
}

pub async fn page_integrations_action_links_on_to_googles_consent_page(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let world = world_with_google(&google).await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let marker = "id=\"continue-to-google\"";
    assert!(reply.text.contains(marker), "{}", reply.text);
    let start = reply
        .text
        .find(&format!("{}/o/oauth2/v2/auth?", google.uri()))
        .expect("link");
    let link: String = reply.text[start..].chars().take_while(|c| *c != '"').collect();
    // The link as the browser reads the attribute: HTML entities decoded.
    let link = link.replace("&#38;", "&").replace("&amp;", "&").replace("&#43;", "+");
    let scope = param(&query_of(&link), "scope").unwrap_or_else(|| panic!("no scope in {link}"));
    assert!(
        scope.contains("calendar.events") && scope.contains("gmail.send"),
        "{scope}"
    );
    assert!(!scope.contains("contacts"), "{scope}");
}

// ---------------------------------------------------------- sign in with Google

const CSRF_COOKIE: &str = "__Host-konnecs_csrf";

/// A sign-in started in a browser through the API router: the browser's
/// binding, the state and the nonce.
async fn sign_in_started(world: &World) -> (String, String, String) {
    let request = http::Request::get("/sign-in/google")
        .body(axum::body::Body::empty())
        .expect("request");
    let reply = konnecs_tests::http::send(&world.app, request).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let params = query_of(reply.headers["location"].to_str().expect("location"));
    (
        reply.cookie(CSRF_COOKIE).expect("binding"),
        param(&params, "state").expect("state"),
        param(&params, "nonce").expect("nonce"),
    )
}

async fn google_answers_for(world: &World, google: &MockGoogle, email: &str, nonce: &str) {
    let now = world.clock.now().as_second();
    let token = konnecs_tests::google::signed_id_token(
        1,
        konnecs_tests::google::KID_1,
        &konnecs_tests::google::id_claims(email, nonce, now),
    );
    google.answer_next_exchange(&token).await;
}

pub async fn page_sign_in_google_redirects_to_googles_sign_in_page(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let world = world_with_google(&google).await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    let location = reply.header("location");
    assert!(
        location.starts_with(&format!("{}/o/oauth2/v2/auth?", google.uri())),
        "{location}"
    );
    let params = query_of(location);
    assert!(param(&params, "nonce").is_some() && param(&params, "state").is_some());
    assert_eq!(param(&params, "code_challenge_method").as_deref(), Some("S256"));
    assert!(
        reply.header("set-cookie").starts_with(CSRF_COOKIE),
        "the browser is bound"
    );
}

pub async fn page_sign_in_google_callback_signs_dana_in_by_her_verified_address(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.publish_keys(&[(1, konnecs_tests::google::KID_1)]).await;
    let world = world_with_google(&google).await;
    let (binding, state, nonce) = sign_in_started(&world).await;
    google_answers_for(&world, &google, super::DANA_EMAIL, &nonce).await;
    let reply = world
        .http(name, &[("OAUTH_STATE", &state), ("BROWSER_BINDING", &binding)])
        .await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app");
    let cookies: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-konnecs_session=")),
        "{cookies:?}"
    );
}

pub async fn page_sign_in_google_finish_creates_the_account_and_organization(name: &str) {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.publish_keys(&[(1, konnecs_tests::google::KID_1)]).await;
    let world = world_with_google(&google).await;
    let (binding, state, nonce) = sign_in_started(&world).await;
    google_answers_for(&world, &google, "dana.whitfield.new@gmail.com", &nonce).await;
    let request = http::Request::get(format!("/sign-in/google/callback?state={state}&code=c"))
        .header("cookie", format!("{CSRF_COOKIE}={binding}"))
        .body(axum::body::Body::empty())
        .expect("request");
    let page = konnecs_tests::http::send(&world.app, request).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.bytes).into_owned();
    let marker = "name=\"token\" value=\"";
    let at = html.find(marker).expect("token") + marker.len();
    let token: String = html[at..].chars().take_while(|c| *c != '"').collect();
    let reply = world
        .http(name, &[("SIGN_UP_TOKEN", &token), ("BROWSER_BINDING", &binding)])
        .await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app?notice=welcome");
}

pub async fn google_calendar_sync_queues_a_sync_job_per_connected_member(name: &str) {
    use aws_lambda_events::eventbridge::EventBridgeEvent;
    use konnecs::catalogue::Trigger;
    use konnecs_tests::google_events::MockCalendarEvents;

    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    let _events = MockCalendarEvents::mount(&google).await;
    let world = world_with_google(&google).await;
    connected(&world).await;
    let text = super::sample(&format!("{name}.json"));
    let event: EventBridgeEvent<Value> = serde_json::from_str(&text).expect("an EventBridge event");
    let Trigger::Schedule { tick, .. } = super::entry(name).trigger else {
        panic!("{name} is not a scheduled Lambda");
    };
    let report = konnecs::lambda::handle_schedule(world.state.clone(), name, tick, event)
        .await
        .unwrap_or_else(|e| panic!("{name}: tick failed: {e}"));
    assert_eq!(report.processed, 1, "one job for Dana's connection");
    // Her job lists her booking calendar in full, the first time.
    world.run_jobs().await;
    let listings: Vec<_> = google
        .requests()
        .await
        .into_iter()
        .filter(|r| r.url.path().ends_with("/calendars/primary/events"))
        .collect();
    assert_eq!(listings.len(), 1, "{listings:?}");
    assert!(!listings[0].url.query().unwrap_or_default().contains("syncToken"));
}

pub async fn google_contacts_import_reads_danas_google_contacts_in_the_job(name: &str) {
    const WITH_CONTACTS: &str =
        "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/contacts.readonly";
    let google = MockGoogle::start(WITH_CONTACTS, MockGoogle::refreshed(WITH_CONTACTS)).await;
    google
        .serve_people(vec![vec![person(
            "people/c7001",
            Some(("Hana", "Mori")),
            &["hana.mori@example.com"],
            &[("020 7946 0456", Some("+442079460456"))],
        )]])
        .await;
    let world = world_with_google(&google).await;
    connected_for(&world, json!(["contacts"])).await;
    let reply = world.http(name, &[]).await;
    reply.expect(StatusCode::ACCEPTED);
    assert_eq!(reply.body["source"], "google_contacts");
    assert!(google.people_requests().await.is_empty(), "the job reads them");
    world.run_jobs().await;
    let id = reply.body["id"].as_str().expect("id");
    let import = world.api("GET", &format!("/imports/{id}"), None).await;
    assert_eq!(
        (&import["state"], &import["created"]),
        (&json!("done"), &json!(1)),
        "{import}"
    );
    assert_eq!(google.people_requests().await.len(), 1);
    let found = world.api("GET", "/contacts?q=hana", None).await;
    assert_eq!(found["contacts"][0]["source"], "Google Contacts", "{found}");
}
