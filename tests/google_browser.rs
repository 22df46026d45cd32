//! Google end to end in headless Chromium on a 375 px phone screen, against
//! the real `konnecs-local` binary and a mock Google on loopback (wiremock)
//! that answers in Google's documented shapes and plays its consent page:
//! `GET /o/oauth2/v2/auth` sends the browser straight back to the
//! `redirect_uri` with the `state` and a code, as Google does once the
//! person agrees; the token endpoint exchanges that code (an ID token signed
//! by a test key for sign-in, with the request's nonce, published in the
//! JWK set), and the Calendar, People and revocation endpoints answer.
//!
//! A new business signs in with Google (the ID token's verified address
//! creates the account), connects Google from Settings → Integrations for
//! the calendar and contacts, chooses the calendars checked for busy times,
//! imports the Google contacts and follows the progress to the end, then
//! disconnects: the page shows it disconnected, Google got the revocation,
//! and nothing calls Google afterwards. Every page fits the phone's width
//! and has no serious or critical axe-core violation.
//!
//! The server listens on a free port while its public URL (the one
//! redirect URIs are built on) is the default; the mock's consent page
//! therefore sends the browser to the redirect URI's path on the server
//! that asked, after checking the URI is the configured one.
//!
//! Every wait is for a condition, bounded; none is a fixed sleep.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fantoccini::Client;
use konnecs_tests::chrome::{ChromeDriver, phone_session};
use konnecs_tests::google::{
    CERTS_PATH, CLIENT_ID, CLIENT_SECRET, HOLIDAYS_ID, KID_1, MockGoogle, REFRESH_TOKEN, id_claims, person,
    signed_id_token,
};
use konnecs_tests::local::LocalServer;
use konnecs_tests::page::{PHONE_WIDTH, check_page, click, fill, wait_until};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

const DANA: &str = "dana.whitfield@gmail.com";
/// The public URL the server builds redirect URIs on (its default).
const PUBLIC_URL: &str = "http://127.0.0.1:3000";

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Plays Google's consent page and token endpoint for the browser: the code
/// carries what the request asked (scope and nonce), so the exchange can
/// answer what Google would for it.
async fn play_consent(google: &MockGoogle, server_base: String) {
    Mock::given(method("GET"))
        .and(path("/o/oauth2/v2/auth"))
        .respond_with(move |request: &Request| {
            let url = &request.url;
            let redirect = query(url, "redirect_uri").unwrap_or_default();
            let Some(callback) = redirect.strip_prefix(PUBLIC_URL) else {
                return ResponseTemplate::new(400).set_body_string("Error 400: redirect_uri_mismatch");
            };
            let ok = query(url, "client_id").as_deref() == Some(CLIENT_ID)
                && query(url, "response_type").as_deref() == Some("code")
                && query(url, "code_challenge_method").as_deref() == Some("S256")
                && query(url, "code_challenge").is_some_and(|c| c.len() == 43);
            if !ok {
                return ResponseTemplate::new(400).set_body_string("Error 400: invalid_request");
            }
            let asked = json!({"scope": query(url, "scope"), "nonce": query(url, "nonce")});
            let code = format!("4/0Ae{}", URL_SAFE_NO_PAD.encode(asked.to_string()));
            let mut back = url::Url::parse(&format!("{server_base}{callback}")).expect("callback URL");
            back.query_pairs_mut()
                .append_pair("state", &query(url, "state").unwrap_or_default())
                .append_pair("code", &code)
                .append_pair("scope", &query(url, "scope").unwrap_or_default());
            ResponseTemplate::new(302).insert_header("location", back.as_str())
        })
        .mount(&google.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(|request: &Request| {
            let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body).into_owned().collect();
            let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let asked: Value = field("code")
                .and_then(|c| c.strip_prefix("4/0Ae").map(str::to_owned))
                .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            if field("client_secret").as_deref() != Some(CLIENT_SECRET) || field("code_verifier").is_none() {
                return ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"}));
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default();
            let nonce = asked["nonce"].as_str().unwrap_or_default();
            let scope = asked["scope"].as_str().unwrap_or_default();
            let mut answer = json!({
                "access_token": "ya29.a0AfB_browser-access-token",
                "expires_in": 3599,
                "scope": scope,
                "token_type": "Bearer",
                "id_token": signed_id_token(1, KID_1, &id_claims(DANA, nonce, now)),
            });
            if !nonce.is_empty() {
                // Signing in asks no offline access: no refresh token.
            } else {
                answer["refresh_token"] = json!(REFRESH_TOKEN);
            }
            ResponseTemplate::new(200).set_body_json(answer)
        })
        .with_priority(1)
        .mount(&google.server)
        .await;
}

async fn wait_for_path(browser: &Client, path: &str) {
    let script = format!("return location.pathname === {path:?} && document.readyState === 'complete';");
    wait_until(browser, &format!("page {path}"), &script).await;
}

async fn page_says(browser: &Client, what: &str, words: &str) {
    let script = format!("return document.readyState === 'complete' && document.body.innerText.includes({words:?});");
    wait_until(browser, what, &script).await;
}

#[tokio::test]
async fn a_business_signs_in_with_google_connects_imports_its_contacts_and_disconnects_on_a_phone() {
    let google = MockGoogle::start("unused", MockGoogle::refreshed("unused")).await;
    google.publish_keys(&[(1, KID_1)]).await;
    google.serve_calendars(&[]).await;
    google
        .serve_people(vec![
            vec![
                person(
                    "people/c2001",
                    Some(("Maya", "Okafor")),
                    &["maya@example.com"],
                    &[("+44 20 7946 0301", Some("+442079460301"))],
                ),
                person("people/c2002", Some(("Tom", "Berg")), &["tom@example.com"], &[]),
            ],
            vec![person(
                "people/c2003",
                Some(("Lena", "Park")),
                &[],
                &[("+44 20 7946 0302", None)],
            )],
        ])
        .await;
    let g = google.uri();
    let data = tempfile::tempdir().expect("temp dir");
    let server = LocalServer::start_with_env(
        data.path(),
        &[
            ("GOOGLE_CLIENT_ID", CLIENT_ID),
            ("GOOGLE_CLIENT_SECRET", CLIENT_SECRET),
            ("GOOGLE_ACCOUNTS_BASE_URL", &g),
            ("GOOGLE_OAUTH_BASE_URL", &g),
            ("GOOGLE_CERTS_URL", &format!("{g}{CERTS_PATH}")),
            ("GOOGLE_CALENDAR_BASE_URL", &format!("{g}/calendar/v3")),
            ("GOOGLE_PEOPLE_BASE_URL", &format!("{g}/v1")),
        ],
    );
    let base = server.base_url.clone();
    play_consent(&google, base.clone()).await;
    let driver = ChromeDriver::start_in_zone("Europe/London");
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = phone_session(&driver, profile.path(), PHONE_WIDTH, 800).await;

    let result = async {
        // Sign in with Google: no account uses the address yet, so Google's
        // verified address starts one, with the business named here.
        browser.goto(&format!("{base}/sign-in")).await.expect("sign-in page");
        wait_for_path(&browser, "/sign-in").await;
        check_page(&browser, "sign-in with Google offered").await;
        click(&browser, "#sign-in-with-google").await;
        wait_for_path(&browser, "/sign-in/google/callback").await;
        page_says(&browser, "the address Google confirmed", DANA).await;
        check_page(&browser, "create the account").await;
        fill(&browser, "name", "Dana Whitfield").await;
        fill(&browser, "business_name", "Whitfield Dental").await;
        click(&browser, "form[action='/sign-in/google/finish'] button[type='submit']").await;
        wait_for_path(&browser, "/app").await;
        page_says(&browser, "the signed-in home", "Whitfield Dental").await;

        // Settings → Integrations: connect Google for the calendar and contacts.
        browser
            .goto(&format!("{base}/app/settings/integrations"))
            .await
            .expect("integrations");
        wait_for_path(&browser, "/app/settings/integrations").await;
        page_says(&browser, "not connected yet", "Not connected").await;
        check_page(&browser, "integrations, not connected").await;
        assert!(google.people_requests().await.is_empty());
        click(&browser, "#feature-calendar").await;
        click(&browser, "#feature-contacts").await;
        click(
            &browser,
            "form input[name='action'][value='connect'] ~ div.actions button",
        )
        .await;
        wait_until(
            &browser,
            "the link on to Google",
            "return !!document.getElementById('continue-to-google');",
        )
        .await;
        check_page(&browser, "continue to Google").await;
        click(&browser, "#continue-to-google").await;
        wait_until(
            &browser,
            "connected",
            "return location.search.includes('notice=google-connected') && document.readyState === 'complete';",
        )
        .await;
        page_says(&browser, "the connected account", DANA).await;
        page_says(&browser, "the calendars", "Holidays in United Kingdom").await;
        check_page(&browser, "integrations, connected").await;
        let asked = google
            .requests()
            .await
            .into_iter()
            .filter(|r| r.url.path() == "/o/oauth2/v2/auth")
            .last()
            .expect("the consent request");
        let scope = asked
            .url
            .query_pairs()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        assert!(
            scope.contains("calendar.events") && scope.contains("contacts.readonly") && !scope.contains("gmail"),
            "{scope}"
        );

        // The calendars checked for busy times: the holidays too.
        click(
            &browser,
            "input[name='busy'][value='en.uk#holiday@group.v.calendar.google.com']",
        )
        .await;
        click(
            &browser,
            "form input[name='action'][value='calendars'] ~ div.actions button",
        )
        .await;
        wait_until(
            &browser,
            "calendars saved",
            "return location.search.includes('notice=google-calendars-saved') && document.readyState === 'complete';",
        )
        .await;
        let checked = browser
            .execute(
                "return Array.from(document.querySelectorAll(\"input[name='busy']:checked\")).map(i => i.value);",
                vec![],
            )
            .await
            .expect("script");
        let checked: Vec<String> = serde_json::from_value(checked).expect("values");
        assert!(checked.iter().any(|c| c == HOLIDAYS_ID), "{checked:?}");
        assert_eq!(checked.len(), 2, "{checked:?}");
        assert!(
            google.people_requests().await.is_empty(),
            "no contacts read before the import"
        );

        // The Contacts import, its progress followed to the end.
        click(&browser, "#import-google-contacts").await;
        wait_until(
            &browser,
            "the import's page",
            "return location.pathname.startsWith('/app/imports/') && document.readyState === 'complete';",
        )
        .await;
        page_says(&browser, "the import's result", "Done: 3 Google contacts read.").await;
        page_says(&browser, "the contacts created", "3 created").await;
        check_page(&browser, "the import's result").await;
        assert_eq!(google.people_requests().await.len(), 2, "two pages, each read once");
        browser.goto(&format!("{base}/app/contacts")).await.expect("contacts");
        wait_for_path(&browser, "/app/contacts").await;
        page_says(&browser, "an imported contact", "Lena Park").await;
        page_says(&browser, "an imported contact", "Maya Okafor").await;

        // Disconnect: revoked at Google and shown disconnected before the page answers.
        browser
            .goto(&format!("{base}/app/settings/integrations"))
            .await
            .expect("integrations");
        wait_for_path(&browser, "/app/settings/integrations").await;
        page_says(&browser, "the last import", "Your last Google contacts import").await;
        check_page(&browser, "integrations, after the import").await;
        click(&browser, "button.danger").await;
        wait_until(
            &browser,
            "disconnected",
            "return location.search.includes('notice=google-disconnected') && document.readyState === 'complete';",
        )
        .await;
        page_says(&browser, "the state", "Not connected").await;
        check_page(&browser, "integrations, disconnected").await;
        let revokes: Vec<Vec<(String, String)>> = google.forms("/revoke").await;
        assert_eq!(revokes.len(), 1);
        assert!(revokes[0].iter().any(|(k, v)| k == "token" && v == REFRESH_TOKEN));

        // Nothing calls Google afterwards: pages opened, a refused import.
        let calls = google.requests().await.len();
        for path in ["/app/settings/integrations", "/app", "/app/contacts"] {
            browser.goto(&format!("{base}{path}")).await.expect("page");
            wait_for_path(&browser, path).await;
        }
        browser
            .goto(&format!("{base}/app/settings/integrations"))
            .await
            .expect("integrations");
        wait_for_path(&browser, "/app/settings/integrations").await;
        let offered = browser
            .execute("return !!document.getElementById('import-google-contacts');", vec![])
            .await
            .expect("script");
        assert_eq!(offered, Value::Bool(false), "no import offered when disconnected");
        assert_eq!(
            google.requests().await.len(),
            calls,
            "no call to Google after the disconnect"
        );
    }
    .await;
    let _ = browser.close().await;
    drop(server);
    result
}
