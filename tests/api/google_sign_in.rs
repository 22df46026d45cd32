//! Sign in with Google against a mock Google: the OpenID Connect request
//! (code + PKCE S256 + state + nonce), the ID token verified against the
//! published keys (cached, fetched again for an unknown key), its issuer,
//! audience, expiry, nonce and `email_verified`; an existing account linked
//! only by its verified address; a new one made by the normal account
//! creation; the state bound to the browser that started it.

use axum::body::Body;
use http::{Request, StatusCode};
use konnecs::domain::google::pkce_challenge;
use konnecs_tests::app::{START, TestApp};
use konnecs_tests::google::{KID_1, KID_2, MockGoogle, id_claims, param, query_of, signed_id_token, with_google};
use konnecs_tests::http::{Reply, SESSION_COOKIE};
use serde_json::Value;

const CSRF_COOKIE: &str = "__Host-konnecs_csrf";
const GRANTED: &str = "openid email";

async fn app_with_google(google: &MockGoogle) -> TestApp {
    let mut app = TestApp::at(START);
    let state = with_google(&app.state, &google.uri());
    app.replace_state(state);
    app
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path).header("user-agent", "konnecs-tests");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    builder.body(Body::empty()).expect("request")
}

/// A started sign-in: the browser's cookie and the authorization URL's parameters.
struct Started {
    cookie: String,
    params: Vec<(String, String)>,
}

impl Started {
    fn state(&self) -> String {
        param(&self.params, "state").expect("state")
    }
    fn nonce(&self) -> String {
        param(&self.params, "nonce").expect("nonce")
    }
}

async fn start(app: &TestApp, google: &MockGoogle) -> Started {
    let reply = app.request(get("/sign-in/google", None)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let location = reply.headers["location"].to_str().expect("location").to_string();
    assert!(
        location.starts_with(&format!("{}/o/oauth2/v2/auth?", google.uri())),
        "{location}"
    );
    let binding = reply.cookie(CSRF_COOKIE).expect("the browser's binding cookie");
    Started {
        cookie: format!("{CSRF_COOKIE}={binding}"),
        params: query_of(&location),
    }
}

async fn come_back(app: &TestApp, started: &Started, cookie: Option<&str>) -> Reply {
    let path = format!(
        "/sign-in/google/callback?state={}&code=4%2F0AeanS0bSignIn&scope=email",
        started.state()
    );
    app.request(get(&path, cookie.or(Some(&started.cookie)))).await
}

fn now(app: &TestApp) -> i64 {
    app.state.clock.now().as_second()
}

async fn me(app: &TestApp, reply: &Reply) -> Value {
    let session = reply.cookie(SESSION_COOKIE).expect("signed in");
    let me = app
        .request(get("/me", Some(&format!("{SESSION_COOKIE}={session}"))))
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    me.body
}

#[tokio::test]
async fn sign_in_with_google_signs_in_the_account_with_that_verified_address() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.publish_keys(&[(1, KID_1)]).await;
    let app = app_with_google(&google).await;
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;

    let page = app.request(get("/sign-in", None)).await;
    assert!(String::from_utf8_lossy(&page.bytes).contains("Sign in with Google"));

    let started = start(&app, &google).await;
    assert_eq!(param(&started.params, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&started.params, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&started.params, "scope").as_deref(), Some("openid email profile"));
    assert_eq!(
        param(&started.params, "access_type"),
        None,
        "sign-in asks for no offline access"
    );
    assert!(started.nonce().len() >= 43);
    let token = signed_id_token(
        1,
        KID_1,
        &id_claims("Dana@Whitfield-Dental.example", &started.nonce(), now(&app)),
    );
    google.answer_next_exchange(&token).await;

    let reply = come_back(&app, &started, None).await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    assert_eq!(reply.headers["location"], "/app");
    let me = me(&app, &reply).await;
    assert_eq!(me["id"], dana.user_id.as_str());
    assert_eq!(me["org_id"], dana.org_id.as_str());
    let exchange = google.forms("/token").await;
    let verifier = param(&exchange[0], "code_verifier").expect("verifier");
    assert_eq!(
        Some(pkce_challenge(&verifier)),
        param(&started.params, "code_challenge")
    );

    // A second sign-in uses the cached keys.
    let again = start(&app, &google).await;
    let token = signed_id_token(
        1,
        KID_1,
        &id_claims("dana@whitfield-dental.example", &again.nonce(), now(&app)),
    );
    google.answer_next_exchange(&token).await;
    assert_eq!(come_back(&app, &again, None).await.status, StatusCode::SEE_OTHER);
    assert_eq!(google.key_fetches().await, 1, "the key set is cached");

    // Google rotated its keys: a token under a new key id fetches the set again.
    google.publish_keys(&[(1, KID_1), (2, KID_2)]).await;
    let rotated = start(&app, &google).await;
    let token = signed_id_token(
        2,
        KID_2,
        &id_claims("dana@whitfield-dental.example", &rotated.nonce(), now(&app)),
    );
    google.answer_next_exchange(&token).await;
    assert_eq!(come_back(&app, &rotated, None).await.status, StatusCode::SEE_OTHER);
    assert_eq!(google.key_fetches().await, 2);
}

#[tokio::test]
async fn a_new_address_creates_the_account_and_organization_once_the_business_is_named() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.publish_keys(&[(1, KID_1)]).await;
    let app = app_with_google(&google).await;
    let started = start(&app, &google).await;
    let token = signed_id_token(1, KID_1, &id_claims("new.owner@gmail.com", &started.nonce(), now(&app)));
    google.answer_next_exchange(&token).await;
    let reply = come_back(&app, &started, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&reply.bytes).into_owned();
    assert!(
        html.contains("new.owner@gmail.com") && html.contains("Business name"),
        "{html}"
    );
    assert!(
        reply.cookie(SESSION_COOKIE).is_none(),
        "not signed in before the organization exists"
    );
    let marker = "name=\"token\" value=\"";
    let at = html.find(marker).expect("token field") + marker.len();
    let sign_up_token: String = html[at..].chars().take_while(|c| *c != '"').collect();

    let post = |fields: Vec<(&'static str, String)>| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        Request::post("/sign-in/google/finish")
            .header("cookie", started.cookie.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .expect("request")
    };
    // A missing business name comes back beside its field; the token stays good.
    let missing = app
        .request(post(vec![
            ("token", sign_up_token.clone()),
            ("name", "Ava Stone".into()),
            ("business_name", "".into()),
        ]))
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&missing.bytes).contains("business_name-error"));
    // Another browser cannot use the token.
    let mut stolen = post(vec![
        ("token", sign_up_token.clone()),
        ("name", "Mallory".into()),
        ("business_name", "Mallory Ltd".into()),
    ]);
    stolen.headers_mut().insert(
        "cookie",
        format!("{CSRF_COOKIE}=another-browser").parse().expect("header"),
    );
    assert_eq!(app.request(stolen).await.status, StatusCode::BAD_REQUEST);

    let created = app
        .request(post(vec![
            ("token", sign_up_token.clone()),
            ("name", "Ava Stone".into()),
            ("business_name", "Stone Physio".into()),
        ]))
        .await;
    assert_eq!(
        created.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&created.bytes)
    );
    assert_eq!(created.headers["location"], "/app?notice=welcome");
    let me = me(&app, &created).await;
    assert_eq!(me["email"], "new.owner@gmail.com");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["role"], "owner");
    // No verification email: Google verified the address.
    let outbox = app.outbox().await;
    assert!(
        !outbox.iter().any(|m| m.to_string().contains("new.owner@gmail.com")),
        "{outbox:?}"
    );
    // Spent.
    let replay = app
        .request(post(vec![
            ("token", sign_up_token),
            ("name", "Ava".into()),
            ("business_name", "Again".into()),
        ]))
        .await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn id_tokens_failing_a_check_sign_nobody_in() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.publish_keys(&[(1, KID_1)]).await;
    let app = app_with_google(&google).await;
    app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    type Tamper = fn(&mut Value);
    let cases: [(&str, u8, &str, Tamper); 8] = [
        ("wrong nonce", 1, KID_1, |c| c["nonce"] = "another-nonce".into()),
        ("wrong audience", 1, KID_1, |c| {
            c["aud"] = "someone-else.apps.googleusercontent.com".into()
        }),
        ("wrong issuer", 1, KID_1, |c| {
            c["iss"] = "https://accounts.example.com".into()
        }),
        ("expired", 1, KID_1, |c| {
            c["exp"] = (c["iat"].as_i64().unwrap_or_default() - 600).into();
        }),
        ("unverified email", 1, KID_1, |c| c["email_verified"] = false.into()),
        ("no nonce", 1, KID_1, |c| {
            c.as_object_mut().map(|o| o.remove("nonce"));
        }),
        ("signed by another key", 2, KID_1, |_| {}),
        ("key never published", 2, KID_2, |_| {}),
    ];
    for (case, key, kid, tamper) in cases {
        let started = start(&app, &google).await;
        let mut claims = id_claims("dana@whitfield-dental.example", &started.nonce(), now(&app));
        tamper(&mut claims);
        google.answer_next_exchange(&signed_id_token(key, kid, &claims)).await;
        let reply = come_back(&app, &started, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{case}");
        assert!(reply.cookie(SESSION_COOKIE).is_none(), "{case}: signed in");
    }
}

#[tokio::test]
async fn the_state_is_single_use_and_bound_to_the_browser_that_started_it() {
    let google = MockGoogle::start(GRANTED, MockGoogle::refreshed(GRANTED)).await;
    google.publish_keys(&[(1, KID_1)]).await;
    let app = app_with_google(&google).await;
    app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;

    // A sign-in link finished in another browser (login CSRF) is refused.
    let started = start(&app, &google).await;
    let elsewhere = come_back(&app, &started, Some(&format!("{CSRF_COOKIE}=victims-browser"))).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    let no_cookie = app
        .request(get(
            &format!("/sign-in/google/callback?state={}&code=x", started.state()),
            None,
        ))
        .await;
    assert_eq!(no_cookie.status, StatusCode::BAD_REQUEST);

    let started = start(&app, &google).await;
    let token = signed_id_token(
        1,
        KID_1,
        &id_claims("dana@whitfield-dental.example", &started.nonce(), now(&app)),
    );
    google.answer_next_exchange(&token).await;
    assert_eq!(come_back(&app, &started, None).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        come_back(&app, &started, None).await.status,
        StatusCode::BAD_REQUEST,
        "replayed"
    );
    // Only the good one reached Google's token endpoint.
    assert_eq!(google.forms("/token").await.len(), 1);
}

#[tokio::test]
async fn without_a_google_client_there_is_no_google_sign_in() {
    let app = TestApp::new();
    let page = app.request(get("/sign-in", None)).await;
    assert!(!String::from_utf8_lossy(&page.bytes).contains("Sign in with Google"));
    assert_eq!(
        app.request(get("/sign-in/google", None)).await.status,
        StatusCode::NOT_FOUND
    );
}
