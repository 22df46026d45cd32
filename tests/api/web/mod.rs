//! The staff web app over HTTP, as a browser without JavaScript uses it:
//! plain form posts answered with a redirect (post → redirect → get), field
//! errors re-rendered beside the fields with a 4xx, the CSRF token required
//! on every signed-in form, admin-only settings refused to a member with 403
//! (and not offered to them), and the headers every staff page carries.
//! In process, on the embedded store, through the shared harness.

mod appointments;
mod auth;
mod booking;
mod compression;
mod contacts;
mod editors;
mod form_builder;
mod forms;
mod imports;
mod inline;
mod merge;
mod photo;
mod scheduling_delete;
mod security;
mod settings;
mod table;
mod webhooks;
mod work;

use axum::body::Body;
use http::{Request, StatusCode};
use konnecs::catalogue;
use konnecs_tests::app::TestApp;
use konnecs_tests::http::{Browser, send};
use konnecs_tests::local::token_from_outbox;
use serde_json::json;

const PASSWORD: &str = "molar-crown-42-bridge";

/// The shared harness: the router over a fresh store, with a test clock.
type App = TestApp;

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
