//! The staff web app over HTTP, as a browser without JavaScript uses it:
//! plain form posts answered with a redirect (post → redirect → get), field
//! errors re-rendered beside the fields with a 4xx, the CSRF token required
//! on every signed-in form, admin-only settings refused to a member with 403
//! (and not offered to them), and the headers every staff page carries.
//! In process, on the embedded store.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use konnecs::app::AppState;
use konnecs::catalogue;
use konnecs_tests::http::{Browser, send};
use konnecs_tests::local::{temp_state, token_from_outbox};
use serde_json::json;

const PASSWORD: &str = "molar-crown-42-bridge";

struct App {
    state: AppState,
    router: Router,
    _dir: tempfile::TempDir,
}

impl App {
    fn new() -> Self {
        let (state, dir) = temp_state();
        Self {
            router: konnecs::inbound::http::router(state.clone(), catalogue::entries()),
            state,
            _dir: dir,
        }
    }
}

/// One answer, with the body as text.
struct Page {
    status: StatusCode,
    headers: http::HeaderMap,
    html: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn location(&self) -> &str {
        self.header("location")
    }

    #[track_caller]
    fn expect(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "{}", self.html);
        self
    }

    #[track_caller]
    fn contains(&self, text: &str) -> &Self {
        assert!(self.html.contains(text), "no {text:?} in {}", self.html);
        self
    }

    #[track_caller]
    fn lacks(&self, text: &str) -> &Self {
        assert!(!self.html.contains(text), "{text:?} should not be in {}", self.html);
        self
    }

    /// The value of the first hidden `_csrf` field.
    fn csrf_field(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self
            .html
            .find(marker)
            .unwrap_or_else(|| panic!("no _csrf field in {}", self.html))
            + marker.len();
        self.html[start..].chars().take_while(|c| *c != '"').collect()
    }
}

/// A browser with JavaScript off: a cookie jar, forms posted as
/// `application/x-www-form-urlencoded`.
#[derive(Default, Clone)]
struct Visitor {
    cookies: Vec<(String, String)>,
}

enum Csrf<'a> {
    /// The page's hidden field, as a real form sends it.
    Field(&'a str),
    /// htmx's header.
    Header(&'a str),
    None,
}

impl Visitor {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, headers: &http::HeaderMap) {
        for value in headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.retain(|(k, _)| k != name);
                if !value.is_empty() {
                    self.cookies.push((name.to_string(), value.to_string()));
                }
            }
        }
    }

    async fn send(&mut self, app: &App, request: Request<Body>) -> Page {
        let reply = send(&app.router, request).await;
        self.keep_cookies(&reply.headers);
        Page {
            status: reply.status,
            headers: reply.headers,
            html: String::from_utf8_lossy(&reply.bytes).into_owned(),
        }
    }

    async fn get(&mut self, app: &App, path: &str) -> Page {
        let request = Request::get(path)
            .header("cookie", self.cookie_header())
            .body(Body::empty())
            .expect("request");
        self.send(app, request).await
    }

    /// A GET as htmx sends it (only the changed part comes back).
    async fn get_htmx(&mut self, app: &App, path: &str) -> Page {
        let request = Request::get(path)
            .header("cookie", self.cookie_header())
            .header("hx-request", "true")
            .body(Body::empty())
            .expect("request");
        self.send(app, request).await
    }

    async fn post(&mut self, app: &App, path: &str, fields: &[(&str, &str)], csrf: Csrf<'_>) -> Page {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        if let Csrf::Field(token) = csrf {
            form.append_pair("_csrf", token);
        }
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        let mut builder = Request::post(path)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("host", "konnecs.test")
            .header("origin", "http://konnecs.test")
            .header("sec-fetch-site", "same-origin");
        if let Csrf::Header(token) = csrf {
            builder = builder.header("x-csrf-token", token);
        }
        self.send(app, builder.body(Body::from(form.finish())).expect("request"))
            .await
    }

    /// Signs up through the form; returns the app page's CSRF token.
    async fn sign_up(&mut self, app: &App, name: &str, email: &str, business: &str) -> String {
        let page = self
            .post(
                app,
                "/sign-up",
                &[
                    ("name", name),
                    ("business_name", business),
                    ("email", email),
                    ("password", PASSWORD),
                ],
                Csrf::None,
            )
            .await;
        page.expect(StatusCode::SEE_OTHER);
        assert_eq!(page.location(), "/app?notice=welcome");
        let home = self.get(app, "/app?notice=welcome").await;
        home.expect(StatusCode::OK)
            .contains(business)
            .contains("Welcome to Konnecs.");
        home.csrf_field()
    }
}

/// The id in `/app/contacts/{id}?…`.
fn contact_id(location: &str) -> String {
    location
        .trim_start_matches("/app/contacts/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------- front door and auth

#[tokio::test]
async fn the_front_door_leads_to_sign_in_then_to_the_app() {
    let app = App::new();
    let mut anna = Visitor::default();
    let root = anna.get(&app, "/").await;
    root.expect(StatusCode::SEE_OTHER);
    assert_eq!(root.location(), "/sign-in");
    // A page of the app asks for sign-in and comes back after it.
    let contacts = anna.get(&app, "/app/contacts?q=lee").await;
    contacts.expect(StatusCode::SEE_OTHER);
    assert_eq!(contacts.location(), "/sign-in?next=%2Fapp%2Fcontacts%3Fq%3Dlee");
    anna.get(&app, "/sign-in")
        .await
        .expect(StatusCode::OK)
        .contains("action=\"/sign-in\"");

    anna.sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let root = anna.get(&app, "/").await;
    assert_eq!(root.location(), "/app");

    // Signed out through the button's form, then in again through the form.
    let csrf = anna.get(&app, "/app").await.csrf_field();
    let out = anna.post(&app, "/sign-out", &[], Csrf::Field(&csrf)).await;
    out.expect(StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/sign-in?notice=signed-out");
    assert_eq!(anna.get(&app, "/app").await.status, StatusCode::SEE_OTHER);

    let wrong = anna
        .post(
            &app,
            "/sign-in",
            &[("email", "anna@lee-physio.example"), ("password", "not-her-password")],
            Csrf::None,
        )
        .await;
    wrong
        .expect(StatusCode::UNAUTHORIZED)
        .contains("The email or password is wrong.")
        .contains("value=\"anna@lee-physio.example\"")
        .lacks("not-her-password");
    let right = anna
        .post(
            &app,
            "/sign-in",
            &[
                ("email", "anna@lee-physio.example"),
                ("password", PASSWORD),
                ("next", "/app/contacts?q=lee"),
            ],
            Csrf::None,
        )
        .await;
    right.expect(StatusCode::SEE_OTHER);
    assert_eq!(right.location(), "/app/contacts?q=lee");
    anna.get(&app, "/app").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn sign_in_never_sends_anyone_to_another_site() {
    let app = App::new();
    let mut anna = Visitor::default();
    anna.sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let mut again = Visitor::default();
    let page = again
        .post(
            &app,
            "/sign-in",
            &[
                ("email", "anna@lee-physio.example"),
                ("password", PASSWORD),
                ("next", "//evil.example/app"),
            ],
            Csrf::None,
        )
        .await;
    assert_eq!(page.location(), "/app");
}

#[tokio::test]
async fn a_bad_sign_up_comes_back_with_errors_beside_the_fields() {
    let app = App::new();
    let mut visitor = Visitor::default();
    let page = visitor
        .post(
            &app,
            "/sign-up",
            &[
                ("name", "Sam <b>Ortiz</b>"),
                ("business_name", "Ortiz Studio"),
                ("email", "not-an-email"),
                ("password", "short"),
            ],
            Csrf::None,
        )
        .await;
    page.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"email-error\"")
        .contains("aria-describedby=\"email-error\"")
        .contains("href=\"#email\"")
        // What was typed stays (escaped), the password never comes back.
        .contains("value=\"Sam &#60;b&#62;Ortiz&#60;/b&#62;\"")
        .lacks("<b>Ortiz")
        .lacks("value=\"short\"");
    let page = visitor
        .post(
            &app,
            "/sign-up",
            &[
                ("name", "Sam Ortiz"),
                ("business_name", "Ortiz Studio"),
                ("email", "sam@ortiz.example"),
                ("password", "short"),
            ],
            Csrf::None,
        )
        .await;
    page.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"password-error\"")
        .contains("aria-describedby=\"password-error\"")
        .lacks("value=\"short\"");
    assert!(visitor.cookies.is_empty(), "no session for a refused sign-up");
}

#[tokio::test]
async fn a_cross_site_sign_in_post_is_refused() {
    let app = App::new();
    let request = Request::post("/sign-in")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "konnecs.test")
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(Body::from("email=a%40b.example&password=whatever-long"))
        .expect("request");
    let page = Visitor::default().send(&app, request).await;
    page.expect(StatusCode::FORBIDDEN);
    // An older browser without fetch metadata: its Origin names the other site.
    let request = Request::post("/sign-in")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "konnecs.test")
        .header("origin", "https://evil.example")
        .body(Body::from("email=a%40b.example&password=whatever-long"))
        .expect("request");
    Visitor::default()
        .send(&app, request)
        .await
        .expect(StatusCode::FORBIDDEN);
    // Our own page under `Referrer-Policy: no-referrer`: `Origin: null`, same-origin fetch.
    let request = Request::post("/sign-in")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "konnecs.test")
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from("email=a%40b.example&password=whatever-long"))
        .expect("request");
    Visitor::default()
        .send(&app, request)
        .await
        .expect(StatusCode::UNAUTHORIZED)
        .contains("The email or password is wrong.");
}

// ---------------------------------------------------------------- contacts

#[tokio::test]
async fn contacts_are_created_listed_filtered_and_noted_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;

    // The empty table says what it is for.
    anna.get(&app, "/app/contacts")
        .await
        .expect(StatusCode::OK)
        .contains("No contacts yet");

    let created = anna
        .post(
            &app,
            "/app/contacts",
            &[
                ("first_name", "Maya"),
                ("last_name", "Okafor"),
                ("email", "maya@example.com"),
                ("phone", "+44 20 7946 0958"),
                ("tags", "new-patient, vip"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    created.expect(StatusCode::SEE_OTHER);
    assert!(
        created.location().ends_with("?notice=contact-created"),
        "{}",
        created.location()
    );
    let maya = contact_id(created.location());
    anna.post(
        &app,
        "/app/contacts",
        &[
            ("first_name", "Tom"),
            ("last_name", "Berg"),
            ("email", "tom@example.com"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);

    let record = anna.get(&app, created.location()).await;
    record
        .expect(StatusCode::OK)
        .contains("<h1>Maya Okafor</h1>")
        .contains("Contact created.")
        .contains("maya@example.com")
        .contains("+442079460958")
        .contains("<span class=\"tag\">vip</span>");

    // The table, searched and filtered, as a full page and as htmx's fragment.
    let all = anna.get(&app, "/app/contacts").await;
    all.expect(StatusCode::OK).contains("Maya Okafor").contains("Tom Berg");
    let searched = anna.get_htmx(&app, "/app/contacts?q=oka").await;
    searched
        .expect(StatusCode::OK)
        .contains("Maya Okafor")
        .lacks("Tom Berg")
        .lacks("<html");
    assert!(
        searched
            .html
            .trim_start()
            .starts_with("<section id=\"contact-results\"")
    );
    anna.get(&app, "/app/contacts?tag=vip")
        .await
        .expect(StatusCode::OK)
        .contains("Maya Okafor")
        .lacks("Tom Berg")
        .contains("<option value=\"vip\" selected>");
    anna.get(&app, "/app/contacts?tag=nobody-has-this")
        .await
        .contains("No contacts match these filters.");
    let bad_date = anna.get(&app, "/app/contacts?created_from=last+week").await;
    bad_date
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("Use a date such as 2026-01-31.");

    // A note through the record's form.
    let noted = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/notes"),
            &[("body", "Prefers <morning> appointments.")],
            Csrf::Field(&csrf),
        )
        .await;
    noted.expect(StatusCode::SEE_OTHER);
    assert_eq!(noted.location(), format!("/app/contacts/{maya}?notice=note-added"));
    anna.get(&app, noted.location())
        .await
        .expect(StatusCode::OK)
        .contains("Note added.")
        .contains("Prefers &#60;morning&#62; appointments.");
    let empty = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/notes"),
            &[("body", "  ")],
            Csrf::Field(&csrf),
        )
        .await;
    empty
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"body-error\"")
        .contains("aria-invalid=\"true\"");

    // Bulk tag through the table's form.
    let tom = anna.get(&app, "/app/contacts?q=berg").await;
    let tom_id = tom
        .html
        .split("name=\"ids\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("Tom's checkbox")
        .to_string();
    let tagged = anna
        .post(
            &app,
            "/app/contacts/tags",
            &[("ids", &tom_id), ("ids", &maya), ("tag", "recall-due")],
            Csrf::Field(&csrf),
        )
        .await;
    tagged.expect(StatusCode::SEE_OTHER);
    anna.get(&app, "/app/contacts?tag=recall-due")
        .await
        .contains("Maya Okafor")
        .contains("Tom Berg");
}

#[tokio::test]
async fn a_bad_contact_comes_back_with_the_error_beside_its_field() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let page = anna
        .post(
            &app,
            "/app/contacts",
            &[("first_name", "Maya"), ("email", "maya-at-example")],
            Csrf::Field(&csrf),
        )
        .await;
    page.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"email-error\"")
        .contains("value=\"maya-at-example\"")
        .contains("value=\"Maya\"");
    // A duplicate email is named at its field.
    anna.post(
        &app,
        "/app/contacts",
        &[("email", "maya@example.com")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    anna.post(
        &app,
        "/app/contacts",
        &[("email", "maya@example.com")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::CONFLICT)
    .contains("id=\"email-error\"");
}

#[tokio::test]
async fn every_signed_in_form_needs_the_sessions_csrf_token() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let fields = [("first_name", "Maya")];
    anna.post(&app, "/app/contacts", &fields, Csrf::None)
        .await
        .expect(StatusCode::FORBIDDEN)
        .contains("This form has expired");
    anna.post(&app, "/app/contacts", &fields, Csrf::Field("forged-token"))
        .await
        .expect(StatusCode::FORBIDDEN);
    anna.post(&app, "/sign-out", &[], Csrf::None)
        .await
        .expect(StatusCode::FORBIDDEN);
    // Another session's token is no good either.
    let mut other = Visitor::default();
    let other_csrf = other
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    anna.post(&app, "/app/contacts", &fields, Csrf::Field(&other_csrf))
        .await
        .expect(StatusCode::FORBIDDEN);
    let listed = anna.get(&app, "/app/contacts").await;
    listed.contains("No contacts yet");
    // htmx sends the token as a header.
    anna.post(&app, "/app/contacts", &fields, Csrf::Header(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
    anna.post(&app, "/app/contacts", &[("first_name", "Tom")], Csrf::Field(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn another_organizations_contact_is_not_found() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let created = anna
        .post(&app, "/app/contacts", &[("first_name", "Maya")], Csrf::Field(&csrf))
        .await;
    let maya = contact_id(created.location());
    let mut sam = Visitor::default();
    let sam_csrf = sam
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    sam.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .expect(StatusCode::NOT_FOUND)
        .lacks("Maya");
    sam.post(
        &app,
        &format!("/app/contacts/{maya}/notes"),
        &[("body", "not mine")],
        Csrf::Field(&sam_csrf),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- roles

#[tokio::test]
async fn a_member_is_not_offered_and_is_refused_the_admin_settings() {
    let app = App::new();
    let mut owner = Visitor::default();
    owner
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let settings = owner.get(&app, "/app/settings").await;
    settings.expect(StatusCode::OK).contains("value=\"Lee Physio\"");
    owner.get(&app, "/app").await.contains("href=\"/app/settings\"");

    // Invite a member through the API, accept through the API.
    let owner_session = owner
        .cookies
        .iter()
        .find(|(k, _)| k.ends_with("konnecs_session"))
        .map(|(_, v)| v.clone());
    let owner_api = Browser {
        session: owner_session,
        csrf: Some(settings.csrf_field()),
        ip: None,
    };
    let invited = owner_api
        .send(
            &app.router,
            "POST",
            "/org/invitations",
            Some(&json!({"email": "ben@lee-physio.example", "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    let token = token_from_outbox(&app.state, "ben@lee-physio.example", "/accept-invitation").await;
    let accepted = Browser::anonymous()
        .send(
            &app.router,
            "POST",
            "/invitations/accept",
            Some(&json!({"token": token, "name": "Ben Hart", "password": PASSWORD})),
        )
        .await;
    assert!(accepted.status.is_success(), "{}", accepted.body);

    let mut ben = Visitor::default();
    ben.post(
        &app,
        "/sign-in",
        &[("email", "ben@lee-physio.example"), ("password", PASSWORD)],
        Csrf::None,
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let home = ben.get(&app, "/app").await;
    home.expect(StatusCode::OK).lacks("/app/settings");
    let ben_csrf = home.csrf_field();
    ben.get(&app, "/app/settings")
        .await
        .expect(StatusCode::FORBIDDEN)
        .lacks("value=\"Lee Physio\"");
    ben.post(
        &app,
        "/app/settings",
        &[
            ("name", "Ben's Physio"),
            ("time_zone", "Europe/London"),
            ("country", "GB"),
            ("slug", "bens-physio"),
        ],
        Csrf::Field(&ben_csrf),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    owner.get(&app, "/app/settings").await.contains("value=\"Lee Physio\"");
    // The member does the everyday work.
    ben.post(&app, "/app/contacts", &[("first_name", "Maya")], Csrf::Field(&ben_csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn an_admin_saves_the_settings_and_a_bad_zone_comes_back_with_its_error() {
    let app = App::new();
    let mut owner = Visitor::default();
    let csrf = owner
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let page = owner.get(&app, "/app/settings").await;
    let version: String = page
        .html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("version field")
        .to_string();
    let bad = owner
        .post(
            &app,
            "/app/settings",
            &[
                ("version", &version),
                ("name", "Lee Physio & Rehab"),
                ("time_zone", "Mars/Olympus"),
                ("country", "GB"),
                ("slug", "lee-physio"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    bad.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"time_zone-error\"")
        .contains("value=\"Mars/Olympus\"");
    let saved = owner
        .post(
            &app,
            "/app/settings",
            &[
                ("version", &version),
                ("name", "Lee Physio & Rehab"),
                ("time_zone", "Europe/London"),
                ("country", "GB"),
                ("slug", "lee-physio"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    owner
        .get(&app, saved.location())
        .await
        .contains("Settings saved.")
        .contains("value=\"Lee Physio &#38; Rehab\"");
}

// ---------------------------------------------------------------- headers and assets

#[tokio::test]
async fn staff_pages_allow_only_our_own_scripts_and_styles_and_no_framing() {
    let app = App::new();
    let mut anna = Visitor::default();
    anna.sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    for path in [
        "/sign-in",
        "/sign-up",
        "/app",
        "/app/contacts",
        "/app/contacts/new",
        "/app/settings",
    ] {
        let page = anna.get(&app, path).await;
        page.expect(StatusCode::OK);
        let csp = page.header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        // No inline script or style: every <script> has a src, no style attributes.
        for script in page.html.split("<script").skip(1) {
            assert!(script.trim_start().starts_with("src="), "{path}: inline script");
        }
        assert!(!page.html.contains("<style"), "{path}: inline style element");
        assert!(!page.html.contains(" style="), "{path}: style attribute");
        assert!(page.html.contains("\"includeIndicatorStyles\":false"), "{path}");
    }
    // Every signed-in form carries the token, and htmx gets it as a header.
    let home = anna.get(&app, "/app").await;
    let csrf = home.csrf_field();
    assert!(
        home.html
            .contains(&format!("hx-headers='{{\"x-csrf-token\": \"{csrf}\"}}'"))
    );
    for path in ["/app/contacts/new", "/app/settings"] {
        let page = anna.get(&app, path).await;
        let forms = page.html.matches("method=\"post\"").count();
        let tokens = page.html.matches(&format!("name=\"_csrf\" value=\"{csrf}\"")).count();
        assert_eq!(forms, tokens, "{path}: every post form has the token");
    }
}

#[tokio::test]
async fn assets_are_served_under_their_hash_for_a_year() {
    let app = App::new();
    let mut visitor = Visitor::default();
    let page = visitor.get(&app, "/sign-in").await;
    for (marker, content_type) in [
        ("href=\"/assets/app-", "text/css"),
        ("src=\"/assets/htmx-2.0.11-", "text/javascript"),
    ] {
        let start = page
            .html
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in {}", page.html))
            + marker.find('/').unwrap_or(0);
        let url: String = page.html[start..]
            .chars()
            .skip_while(|c| *c != '/')
            .take_while(|c| *c != '"')
            .collect();
        let asset = visitor.get(&app, &url).await;
        asset.expect(StatusCode::OK);
        assert!(asset.header("content-type").starts_with(content_type), "{url}");
        assert_eq!(
            asset.header("cache-control"),
            "public, max-age=31536000, immutable",
            "{url}"
        );
    }
    visitor
        .get(&app, "/assets/app-000000000000.css")
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_emailed_link_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    anna.sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let mut visitor = Visitor::default();
    visitor
        .get(&app, "/forgot-password")
        .await
        .expect(StatusCode::OK)
        .contains("action=\"/forgot-password\"");
    let sent = visitor
        .post(
            &app,
            "/forgot-password",
            &[("email", "anna@lee-physio.example")],
            Csrf::None,
        )
        .await;
    sent.expect(StatusCode::SEE_OTHER);
    visitor
        .get(&app, sent.location())
        .await
        .contains("a link to choose a new password is on its way");
    let token = token_from_outbox(&app.state, "anna@lee-physio.example", "/reset-password").await;
    visitor
        .get(&app, &format!("/reset-password?token={token}"))
        .await
        .expect(StatusCode::OK)
        .contains(&format!("name=\"token\" value=\"{token}\""));
    visitor
        .post(
            &app,
            "/reset-password",
            &[("token", &token), ("password", "short")],
            Csrf::None,
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"password-error\"");
    visitor
        .post(
            &app,
            "/reset-password",
            &[("token", "not-the-token"), ("password", "a-long-new-password-1")],
            Csrf::None,
        )
        .await
        .expect(StatusCode::BAD_REQUEST)
        .contains("The link is invalid, already used or expired.");
    let done = visitor
        .post(
            &app,
            "/reset-password",
            &[("token", &token), ("password", "a-long-new-password-1")],
            Csrf::None,
        )
        .await;
    done.expect(StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/sign-in?notice=password-changed");
    // The old session is gone; the new password signs in.
    assert_eq!(anna.get(&app, "/app").await.status, StatusCode::SEE_OTHER);
    visitor
        .post(
            &app,
            "/sign-in",
            &[
                ("email", "anna@lee-physio.example"),
                ("password", "a-long-new-password-1"),
            ],
            Csrf::None,
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    visitor.get(&app, "/app").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn the_verification_link_confirms_only_when_its_button_is_pressed() {
    let app = App::new();
    let mut anna = Visitor::default();
    anna.sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let token = token_from_outbox(&app.state, "anna@lee-physio.example", "/verify-email").await;
    let mut reader = Visitor::default();
    reader
        .get(&app, &format!("/verify-email?token={token}"))
        .await
        .expect(StatusCode::OK)
        .contains("Confirm my email");
    let done = reader
        .post(&app, "/verify-email", &[("token", &token)], Csrf::None)
        .await;
    done.expect(StatusCode::SEE_OTHER);
    reader
        .get(&app, done.location())
        .await
        .contains("Your email address is confirmed.")
        .lacks("Confirm my email");
    reader
        .post(&app, "/verify-email", &[("token", &token)], Csrf::None)
        .await
        .expect(StatusCode::BAD_REQUEST)
        .contains("The link is invalid, already used or expired.");
}

#[tokio::test]
async fn a_contact_is_edited_with_its_custom_fields_noted_and_deleted_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    // A custom field, defined through the API.
    let session = anna
        .cookies
        .iter()
        .find(|(k, _)| k.ends_with("konnecs_session"))
        .map(|(_, v)| v.clone());
    let api = Browser {
        session,
        csrf: Some(csrf.clone()),
        ip: None,
    };
    let field = api
        .send(
            &app.router,
            "POST",
            "/fields",
            Some(&json!({"label": "Sessions left", "key": "sessions_left", "type": "number"})),
        )
        .await;
    assert_eq!(field.status, StatusCode::CREATED, "{}", field.body);

    let created = anna
        .post(
            &app,
            "/app/contacts",
            &[("first_name", "Maya"), ("email", "maya@example.com")],
            Csrf::Field(&csrf),
        )
        .await;
    let maya = contact_id(created.location());
    let edit = anna.get(&app, &format!("/app/contacts/{maya}/edit")).await;
    edit.expect(StatusCode::OK)
        .contains("value=\"maya@example.com\"")
        .contains("id=\"cf-sessions_left\"");
    let version: String = edit
        .html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("version")
        .to_string();
    let fields = |sessions: &'static str| {
        vec![
            ("version", version.clone()),
            ("first_name", "Maya".to_string()),
            ("last_name", "Okafor".to_string()),
            ("email", "maya@example.com".to_string()),
            ("company", "Harbour Rowing".to_string()),
            ("tags", "vip".to_string()),
            ("cf-sessions_left", sessions.to_string()),
        ]
    };
    let bad = fields("lots");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    anna.post(&app, &format!("/app/contacts/{maya}"), &bad, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"cf-sessions_left-error\"")
        .contains("value=\"Harbour Rowing\"");
    let good = fields("6");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = anna
        .post(&app, &format!("/app/contacts/{maya}"), &good, Csrf::Field(&csrf))
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    anna.get(&app, saved.location())
        .await
        .contains("Contact saved.")
        .contains("<h1>Maya Okafor</h1>")
        .contains("Harbour Rowing")
        .contains("<dt>Sessions left</dt><dd>6</dd>");
    // The same form again, with the version it was read at: someone else's change wins.
    anna.post(&app, &format!("/app/contacts/{maya}"), &good, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::PRECONDITION_FAILED)
        .contains("reload the page");

    // A note, rewritten and deleted.
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/notes"),
        &[("body", "First visit.")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let record = anna.get(&app, &format!("/app/contacts/{maya}")).await;
    let note_action = record
        .html
        .split(&format!("action=\"/app/contacts/{maya}/notes/"))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the note's form")
        .to_string();
    let note = note_action.trim_end_matches("/delete").to_string();
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/notes/{note}"),
        &[("body", "First visit went well.")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .contains("First visit went well.");
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/notes/{note}/delete"),
        &[],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .lacks("First visit went well.")
        .contains("No notes yet.");

    // The delete names what goes, and needs the token.
    let record = anna.get(&app, &format!("/app/contacts/{maya}")).await;
    record.contains("also deletes their notes and timeline");
    let version: String = record
        .html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("version")
        .to_string();
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/delete"),
        &[("version", &version)],
        Csrf::None,
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let deleted = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/delete"),
            &[("version", &version)],
            Csrf::Field(&csrf),
        )
        .await;
    deleted.expect(StatusCode::SEE_OTHER);
    anna.get(&app, deleted.location())
        .await
        .contains("Contact deleted.")
        .lacks("Maya");
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn export_these_exports_the_tables_filters_and_shows_the_progress_until_done() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    for (first, tags) in [("Maya", "vip"), ("Tom", ""), ("Vera", "vip")] {
        anna.post(
            &app,
            "/app/contacts",
            &[("first_name", first), ("tags", tags)],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    }
    let table = anna.get(&app, "/app/contacts?tag=vip").await;
    table
        .contains("action=\"/app/contacts/export\"")
        .contains("<input type=\"hidden\" name=\"tag\" value=\"vip\">");
    let started = anna
        .post(&app, "/app/contacts/export", &[("tag", "vip")], Csrf::Field(&csrf))
        .await;
    started.expect(StatusCode::SEE_OTHER);
    assert!(
        started.location().starts_with("/app/exports/"),
        "{}",
        started.location()
    );
    // Queued: the progress part asks htmx to refresh it.
    let waiting = anna.get_htmx(&app, started.location()).await;
    waiting
        .expect(StatusCode::OK)
        .contains("hx-trigger=\"every 1s\"")
        .contains("<progress")
        .lacks("<html");
    // Home lists it while it runs, and no more once it is done.
    anna.get(&app, "/app")
        .await
        .contains("Contact export: 0 rows so far")
        .contains(&format!("href=\"{}\"", started.location()));
    // An import too, with its rows counted.
    let session = anna
        .cookies
        .iter()
        .find(|(k, _)| k.ends_with("konnecs_session"))
        .map(|(_, v)| v.clone());
    let api = Browser {
        session,
        csrf: Some(csrf.clone()),
        ip: None,
    };
    let mut upload = api.request("POST", "/imports/contacts", None);
    upload
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/csv"));
    *upload.body_mut() = Body::from("First Name,Email\nAda,ada@example.com\nBo,bo@example.com\n");
    let queued = send(&app.router, upload).await;
    assert!(queued.status.is_success(), "{}", queued.body);
    anna.get(&app, "/app").await.contains("Contact import: 0 of 2 rows");
    konnecs_tests::local::drain_jobs(&app.state).await;
    anna.get(&app, "/app")
        .await
        .contains("Nothing running.")
        .lacks("Contact export:")
        .lacks("Contact import:");
    let done = anna.get(&app, started.location()).await;
    done.expect(StatusCode::OK)
        .contains("Done: 2 contacts exported.")
        .lacks("hx-trigger");
    let id = started.location().trim_start_matches("/app/exports/");
    let download = anna.get(&app, &format!("/exports/{id}/download")).await;
    download
        .expect(StatusCode::OK)
        .contains("Maya")
        .contains("Vera")
        .lacks("Tom");
}

#[tokio::test]
async fn deals_are_opened_from_the_record_and_moved_on_the_board_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.get(&app, "/app/pipelines")
        .await
        .expect(StatusCode::OK)
        .contains("No pipelines yet.");
    anna.post(
        &app,
        "/app/pipelines",
        &[("name", "Rehab"), ("stages", "")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("id=\"stages-error\"")
    .contains("value=\"Rehab\"");
    let created = anna
        .post(
            &app,
            "/app/pipelines",
            &[("name", "Rehab"), ("stages", "Assessment, Plan agreed, Done")],
            Csrf::Field(&csrf),
        )
        .await;
    created.expect(StatusCode::SEE_OTHER);
    let board_path = created.location().split('?').next().unwrap_or_default().to_string();
    let pipeline_id = board_path.trim_start_matches("/app/pipelines/").to_string();

    let maya = anna
        .post(&app, "/app/contacts", &[("first_name", "Maya")], Csrf::Field(&csrf))
        .await;
    let maya = contact_id(maya.location());
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .contains(&format!("<option value=\"{pipeline_id}\">Rehab</option>"));
    let opened = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/deals"),
            &[
                ("title", "Knee programme"),
                ("pipeline_id", &pipeline_id),
                ("value", "1,200.50"),
                ("currency", "gbp"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    opened.expect(StatusCode::SEE_OTHER);
    anna.get(&app, opened.location())
        .await
        .contains("Deal created.")
        .contains("Knee programme · 1200.50 GBP · open");

    let board = anna.get(&app, &board_path).await;
    board
        .expect(StatusCode::OK)
        .contains("Knee programme")
        .contains("1 deal · 1200.50 GBP")
        .contains("<a href=\"/app/contacts/")
        .contains("src=\"/assets/board-");
    let form_start = board.html.find("action=\"/app/deals/").expect("a move form");
    let deal_id: String = board.html[form_start + "action=\"/app/deals/".len()..]
        .chars()
        .take_while(|c| *c != '/')
        .collect();
    let version: String = board.html[form_start..]
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("version")
        .to_string();
    let plan_stage: String = board
        .html
        .split("data-stage-column=\"")
        .nth(2)
        .and_then(|rest| rest.split('"').next())
        .expect("the second column")
        .to_string();
    let moved = anna
        .post(
            &app,
            &format!("/app/deals/{deal_id}/move"),
            &[("version", &version), ("stage_id", &plan_stage)],
            Csrf::Field(&csrf),
        )
        .await;
    moved.expect(StatusCode::SEE_OTHER);
    assert_eq!(moved.location(), format!("{board_path}?notice=deal-moved"));
    let after = anna.get(&app, moved.location()).await;
    after.contains("Deal moved.");
    let second_column = after.html.split("data-stage-column=\"").nth(2).expect("column");
    assert!(second_column.contains("Knee programme"), "moved to the second column");
    // The same move again with the old version: someone moved it meanwhile.
    anna.post(
        &app,
        &format!("/app/deals/{deal_id}/move"),
        &[("version", &version), ("stage_id", &plan_stage)],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    // Without the token, nothing moves.
    anna.post(
        &app,
        &format!("/app/deals/{deal_id}/move"),
        &[("stage_id", &plan_stage)],
        Csrf::None,
    )
    .await
    .expect(StatusCode::FORBIDDEN);
}

// ---------------------------------------------------------------- calendar

#[tokio::test]
async fn the_week_calendar_shows_appointments_and_their_actions_work_without_js() {
    use konnecs::ports::TestClock;
    use konnecs_tests::practice::{Practice, booking_id, guest};

    // Wednesday 4 March 2026, 08:00 UTC (London is on GMT).
    let clock = TestClock::at("2026-03-04T08:00:00Z".parse().expect("time"));
    let (state, dir) = konnecs_tests::local::temp_state_with_clock(std::sync::Arc::new(clock.clone()));
    let practice = Practice::open(&state, json!({})).await;
    let app = App {
        router: practice.app.clone(),
        state: state.clone(),
        _dir: dir,
    };
    let mut dana = Visitor {
        cookies: vec![(
            konnecs_tests::http::SESSION_COOKIE.to_string(),
            practice.host.session.clone().expect("session"),
        )],
    };
    let london = json!({"time_zone": "Europe/London"});
    let org = practice.host.send(&app.router, "PATCH", "/org", Some(&london)).await;
    assert_eq!(org.status, StatusCode::OK, "{}", org.body);
    let ann = booking_id(
        &practice
            .book(
                "2026-03-04T10:00:00Z",
                &guest("Ann Lee", "ann@example.com", "Europe/London"),
            )
            .await,
    );
    let bo = booking_id(
        &practice
            .book(
                "2026-03-04T14:00:00Z",
                &guest("Bo Chen", "bo@example.com", "Europe/London"),
            )
            .await,
    );

    let week = dana.get(&app, "/app/calendar").await;
    week.expect(StatusCode::OK)
        .contains("Week of 2026-03-02")
        .contains("times in Europe/London")
        .contains("Wednesday 4 March")
        .contains("10:00–10:30")
        .contains("Ann Lee")
        .contains("<span class=\"status-confirmed\">Confirmed</span>")
        .lacks("Mark as no-show");
    let csrf = week.csrf_field();
    dana.get(&app, "/app/calendar?week=2026-03-09")
        .await
        .contains("0 appointments");
    dana.get(&app, "/app/calendar?week=soon")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);

    // Rescheduled to 11:00 London, as the datetime-local field sends it.
    let moved = dana
        .post(
            &app,
            &format!("/app/appointments/{ann}"),
            &[
                ("week", "2026-03-02"),
                ("action", "reschedule"),
                ("start", "2026-03-04T11:00"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    moved.expect(StatusCode::SEE_OTHER);
    assert_eq!(
        moved.location(),
        "/app/calendar?week=2026-03-02&notice=appointment-rescheduled"
    );
    assert_eq!(practice.record(&ann).await.start.to_string(), "2026-03-04T11:00:00Z");
    dana.get(&app, moved.location())
        .await
        .contains("Appointment rescheduled.")
        .contains("11:00–11:30");

    // Cancelled with a reason.
    dana.post(
        &app,
        &format!("/app/appointments/{bo}"),
        &[
            ("week", "2026-03-02"),
            ("action", "cancel"),
            ("reason", "The surgery is closed."),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let record = practice.record(&bo).await;
    assert_eq!(record.cancel_reason.as_deref(), Some("The surgery is closed."));
    dana.get(&app, "/app/calendar")
        .await
        .contains("<span class=\"status-cancelled\">Cancelled</span>");

    // Once it has started, Ann can be marked as a no-show.
    clock.set("2026-03-04T11:10:00Z".parse().expect("time"));
    let started = dana.get(&app, "/app/calendar").await;
    started.contains("Mark as no-show");
    dana.post(
        &app,
        &format!("/app/appointments/{ann}"),
        &[("action", "no_show")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    assert!(practice.record(&ann).await.no_show);
    dana.get(&app, "/app/calendar").await.contains("No-show");

    // An unknown action, or none of the token, does nothing.
    dana.post(
        &app,
        &format!("/app/appointments/{ann}"),
        &[("action", "teleport")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    dana.post(
        &app,
        &format!("/app/appointments/{bo}"),
        &[("action", "cancel")],
        Csrf::None,
    )
    .await
    .expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn availability_and_an_event_type_are_set_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let empty = anna.get(&app, "/app/scheduling").await;
    empty
        .expect(StatusCode::OK)
        .contains("No schedules yet.")
        .lacks("action=\"/app/event-types\"");
    let bad = anna
        .post(
            &app,
            "/app/schedules",
            &[
                ("name", "Clinic hours"),
                ("time_zone", "Europe/London"),
                ("monday", "09:00-25:00"),
                ("tuesday", "09:00-17:00"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    bad.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"monday-error\"")
        .contains("value=\"09:00-25:00\"")
        .contains("value=\"Clinic hours\"");
    anna.post(
        &app,
        "/app/schedules",
        &[
            ("name", "Clinic hours"),
            ("time_zone", "Europe/London"),
            ("monday", "09:00-12:30, 13:30-17:00"),
            ("tuesday", "09:00-17:00"),
            ("overrides", "2026-12-25: closed"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let page = anna.get(&app, "/app/scheduling?notice=schedule-created").await;
    page.contains("Schedule created.")
        .contains("<dt>Monday</dt><dd>09:00–12:30, 13:30–17:00</dd>")
        .contains("<dt>Wednesday</dt><dd>closed</dd>")
        .contains("1 date override")
        .contains("action=\"/app/event-types\"");
    let schedule_id: String = page
        .html
        .split("<option value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the schedule option")
        .to_string();
    let event = |durations: &'static str| {
        vec![
            ("title", "Assessment".to_string()),
            ("slug", "assessment".to_string()),
            ("durations", durations.to_string()),
            ("schedule_id", schedule_id.clone()),
            ("location_kind", "in_person".to_string()),
            ("location_detail", "4 Mill Lane, York".to_string()),
        ]
    };
    let bad = event("forty");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    anna.post(&app, "/app/event-types", &bad, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"durations-error\"")
        .contains("value=\"Assessment\"");
    let good = event("45");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    anna.post(&app, "/app/event-types", &good, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
    let listed = anna.get(&app, "/app/scheduling").await;
    listed
        .contains("<strong>Assessment</strong> · 45 min")
        .contains("/book/lee-physio/assessment");
    // The link is the public booking page of that event.
    let public = anna.get(&app, "/book/lee-physio/assessment").await;
    public.expect(StatusCode::OK).contains("Assessment");
    // The same link name again is refused at its field.
    anna.post(&app, "/app/event-types", &good, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"slug-error\"");
}

#[tokio::test]
async fn admins_invite_change_roles_and_read_the_audit_log_and_members_are_refused_all_of_it() {
    let app = App::new();
    let mut owner = Visitor::default();
    let csrf = owner
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    owner
        .get(&app, "/app/settings/team")
        .await
        .expect(StatusCode::OK)
        .contains("No pending invitations.");
    owner
        .post(
            &app,
            "/app/settings/invitations",
            &[("email", "not-an-email"), ("role", "member")],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"email-error\"");
    let invited = owner
        .post(
            &app,
            "/app/settings/invitations",
            &[("email", "ben@lee-physio.example"), ("role", "member")],
            Csrf::Field(&csrf),
        )
        .await;
    invited.expect(StatusCode::SEE_OTHER);
    owner
        .get(&app, invited.location())
        .await
        .contains("Invitation sent.")
        .contains("ben@lee-physio.example · member");

    // Ben joins through the invitation page's form.
    let token = token_from_outbox(&app.state, "ben@lee-physio.example", "/accept-invitation").await;
    let mut ben = Visitor::default();
    ben.get(&app, &format!("/accept-invitation?token={token}"))
        .await
        .expect(StatusCode::OK)
        .contains("Join your team on Konnecs");
    let joined = ben
        .post(
            &app,
            "/accept-invitation",
            &[("token", &token), ("name", "Ben Hart"), ("password", PASSWORD)],
            Csrf::None,
        )
        .await;
    joined.expect(StatusCode::SEE_OTHER);
    assert_eq!(joined.location(), "/app?notice=welcome");
    let ben_home = ben.get(&app, "/app").await;
    ben_home
        .expect(StatusCode::OK)
        .contains("Lee Physio")
        .lacks("/app/settings");
    let ben_csrf = ben_home.csrf_field();

    // Every admin page and form refuses a member.
    for path in ["/app/settings", "/app/settings/team", "/app/settings/audit"] {
        ben.get(&app, path).await.expect(StatusCode::FORBIDDEN);
    }
    ben.post(
        &app,
        "/app/settings/invitations",
        &[("email", "eve@example.com"), ("role", "admin")],
        Csrf::Field(&ben_csrf),
    )
    .await
    .expect(StatusCode::FORBIDDEN);

    // The owner makes Ben an admin; now he reads the audit log.
    let team = owner.get(&app, "/app/settings/team").await;
    let ben_id: String = team
        .html
        .split("action=\"/app/settings/members/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("Ben's form")
        .to_string();
    owner
        .post(
            &app,
            &format!("/app/settings/members/{ben_id}"),
            &[("action", "role"), ("role", "admin")],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    owner
        .get(&app, "/app/settings/team")
        .await
        .contains("Ben Hart</strong> <span class=\"muted\">ben@lee-physio.example</span> · admin");
    let audit = ben.get(&app, "/app/settings/audit?action=member").await;
    audit
        .expect(StatusCode::OK)
        .contains("Anna Lee")
        .lacks("<td>account.signup</td>");
    assert!(audit.html.contains("<td>member."), "{}", audit.html);
    ben.get(&app, "/app/settings/audit?date=yesterday")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);

    // Removed, Ben is out at once.
    owner
        .post(
            &app,
            &format!("/app/settings/members/{ben_id}"),
            &[("action", "remove")],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    assert_eq!(ben.get(&app, "/app").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_profile_changes_name_and_password_and_signs_out_everywhere() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let mut phone = Visitor::default();
    phone
        .post(
            &app,
            "/sign-in",
            &[("email", "anna@lee-physio.example"), ("password", PASSWORD)],
            Csrf::None,
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    anna.get(&app, "/app/profile")
        .await
        .expect(StatusCode::OK)
        .contains("value=\"Anna Lee\"");
    let renamed = anna
        .post(
            &app,
            "/app/profile",
            &[("name", "Anna Lee-Park"), ("email", "anna@lee-physio.example")],
            Csrf::Field(&csrf),
        )
        .await;
    renamed.expect(StatusCode::SEE_OTHER);
    anna.get(&app, renamed.location())
        .await
        .contains("Your details are saved.")
        .contains(">Anna Lee-Park</a>");
    anna.post(
        &app,
        "/app/profile",
        &[
            ("current_password", "wrong-password-1"),
            ("new_password", "a-brand-new-password"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("id=\"current_password-error\"");
    anna.post(
        &app,
        "/app/profile",
        &[("current_password", PASSWORD), ("new_password", "a-brand-new-password")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    // The other device is out; this one stays.
    assert_eq!(phone.get(&app, "/app").await.status, StatusCode::SEE_OTHER);
    anna.get(&app, "/app").await.expect(StatusCode::OK);
    let out = anna
        .post(&app, "/app/profile/sign-out-everywhere", &[], Csrf::Field(&csrf))
        .await;
    out.expect(StatusCode::SEE_OTHER);
    assert_eq!(anna.get(&app, "/app").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn saved_views_are_each_members_own_named_filters_shown_as_tabs() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    for (first, tags) in [("Maya", "vip"), ("Tom", "")] {
        anna.post(
            &app,
            "/app/contacts",
            &[("first_name", first), ("tags", tags)],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    }
    anna.get(&app, "/app/contacts")
        .await
        .contains("Filter the table, then save");
    let filtered = anna.get(&app, "/app/contacts?tag=vip").await;
    filtered.contains("action=\"/app/contacts/views\"");
    let saved = anna
        .post(
            &app,
            "/app/contacts/views",
            &[("tag", "vip"), ("name", "VIP patients")],
            Csrf::Field(&csrf),
        )
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/app/contacts?tag=vip&notice=view-saved");
    let tab = anna.get(&app, saved.location()).await;
    tab.contains("View saved.")
        .contains("<a href=\"/app/contacts?tag=vip\" aria-current=\"page\">VIP patients</a>")
        .contains("Maya")
        .lacks("Tom");
    anna.get(&app, "/app/contacts")
        .await
        .contains("<a href=\"/app/contacts\" aria-current=\"page\">All contacts</a>")
        .contains("<a href=\"/app/contacts?tag=vip\">VIP patients</a>");
    // The same name twice is refused; another member sees none of Anna's views.
    anna.post(
        &app,
        "/app/contacts/views",
        &[("tag", "vip"), ("name", "vip PATIENTS")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let mut sam = Visitor::default();
    sam.sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    sam.get(&app, "/app/contacts").await.lacks("VIP patients");
    // Deleted through its button.
    let page = anna.get(&app, "/app/contacts").await;
    let delete: String = page
        .html
        .split("action=\"/app/contacts/views/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the delete form")
        .to_string();
    anna.post(&app, &format!("/app/contacts/views/{delete}"), &[], Csrf::Field(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
    anna.get(&app, "/app/contacts").await.lacks("VIP patients");
}
