//! One Konnecs app for the HTTP targets, built once per process: the real
//! router and pipeline over the embedded store in a temporary directory,
//! with a test clock, Stripe and Twilio configured, and two organizations
//! (so every answer can be checked for the other one's data).
//!
//! The clock moves a minute before every request: the per-minute rate
//! limits of the public routes then never answer a fuzzer's thousands of
//! requests with 429 alone, and the code behind them is what gets tested.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use jiff::{SignedDuration, Timestamp};
use konnecs::config::{LocalConfig, StripeConfig, TwilioConfig};
use konnecs::ports::TestClock;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const STRIPE_SECRET: &str = "whsec_fuzz_signing_secret";
pub const TWILIO_TOKEN: &str = "twilio-fuzz-auth-token";
const PASSWORD: &str = "harbour-physio-42-knee";
const SESSION_COOKIE: &str = "__Host-konnecs_session";
const START: &str = "2026-11-17T09:00:00Z";

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// No 5xx, and every 4xx is problem+json: what any input must get.
    pub fn assert_client_error_or_success(&self, what: &str) {
        assert!(self.status.as_u16() < 500, "{what}: {} {}", self.status, self.text());
        if self.status.is_client_error() && self.status != StatusCode::METHOD_NOT_ALLOWED {
            let content_type = self
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                content_type.starts_with("application/problem+json"),
                "{what}: {} answered {content_type:?}: {}",
                self.status,
                self.text()
            );
        }
    }
}

/// A signed-in member: the session cookie and the CSRF token.
#[derive(Clone)]
pub struct Session {
    pub email: String,
    pub cookie: String,
    pub csrf: String,
}

/// What the second organization owns: none of it may show in the first's answers.
pub struct Other {
    pub session: Mutex<Session>,
    pub markers: Vec<String>,
    pub contact_id: String,
    pub form_id: String,
}

pub struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: Router,
    clock: TestClock,
    peer: Mutex<u32>,
    pub host: Mutex<Session>,
    pub org_slug: String,
    pub event_slug: String,
    pub contact_id: String,
    pub form_id: String,
    pub form_public_id: String,
    pub other: Other,
    _dir: tempfile::TempDir,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

/// The process's app, set up on first use.
pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(Fixture::new)
}

fn field(value: &Value, name: &str) -> String {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("fixture: no {name} in {value}"))
        .to_string()
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = LocalConfig::for_tests(dir.path().to_path_buf());
        config.app.stripe = Some(StripeConfig {
            secret_key: "sk_test_fuzz".to_string().into(),
            webhook_signing_secret: STRIPE_SECRET.to_string().into(),
        });
        config.app.twilio = Some(TwilioConfig {
            account_sid: "AC00000000000000000000000000000000".into(),
            auth_token: TWILIO_TOKEN.to_string().into(),
            from: "+15005550006".into(),
        });
        let clock = TestClock::at(START.parse::<Timestamp>().expect("start"));
        let state = konnecs::app::local_state(&config, Arc::new(clock.clone())).expect("local state");
        let router = konnecs::inbound::http::router(state, konnecs::catalogue::entries());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut fixture = Self {
            runtime,
            router,
            clock,
            peer: Mutex::new(0),
            host: Mutex::new(Session {
                email: String::new(),
                cookie: String::new(),
                csrf: String::new(),
            }),
            org_slug: "harbour-physio".into(),
            event_slug: String::new(),
            contact_id: String::new(),
            form_id: String::new(),
            form_public_id: String::new(),
            other: Other {
                session: Mutex::new(Session {
                    email: String::new(),
                    cookie: String::new(),
                    csrf: String::new(),
                }),
                markers: Vec::new(),
                contact_id: String::new(),
                form_id: String::new(),
            },
            _dir: dir,
        };
        fixture.populate();
        fixture
    }

    /// Two organizations, each with a schedule, an event type, a form and
    /// contacts (so every list has pages and cursors).
    fn populate(&mut self) {
        let (host, host_ids) = self.sign_up("morgan@harbour-physio.example", "Harbour Physio");
        *self.host.lock().expect("host") = host.clone();
        let (event_slug, form_id, public_id, contact_id) = self.furnish(&host, "harbour");
        self.event_slug = event_slug;
        self.form_id = form_id;
        self.form_public_id = public_id;
        self.contact_id = contact_id;

        let (other, other_ids) = self.sign_up("riley@other-clinic.example", "Other Clinic");
        let (_, other_form, other_public, other_contact) = self.furnish(&other, "other");
        *self.other.session.lock().expect("other") = other;
        self.other.contact_id = other_contact.clone();
        self.other.form_id = other_form.clone();
        self.other.markers = vec![
            field(&other_ids, "org_id"),
            field(&other_ids, "user_id"),
            other_contact,
            other_form,
            other_public,
            "other-clinic.example".into(),
        ];
        let _ = host_ids;
    }

    fn sign_up(&self, email: &str, business: &str) -> (Session, Value) {
        let body = json!({"name": "Morgan Hale", "email": email, "password": PASSWORD, "business_name": business});
        let reply = self.send(None, "POST", "/auth/signup", Some(&body));
        assert_eq!(reply.status, StatusCode::CREATED, "fixture sign-up: {}", reply.text());
        (session_of(&reply, email), reply.json())
    }

    /// A schedule, an event type, a form and three contacts for `who`.
    fn furnish(&self, who: &Session, stem: &str) -> (String, String, String, String) {
        let day = json!([{"start": "09:00", "end": "17:00"}]);
        let week = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day});
        let schedule = self.ok(
            who,
            "POST",
            "/schedules",
            json!({"name": "Clinic hours", "time_zone": "Europe/London", "weekly": week}),
        );
        let event = self.ok(
            who,
            "POST",
            "/event-types",
            json!({"title": "Assessment", "slug": "assessment", "durations": [30, 60],
                   "schedule_id": field(&schedule, "id")}),
        );
        let form = self.ok(
            who,
            "POST",
            "/forms",
            json!({
                "title": "Request a quote",
                "fields": [
                    {"key": "name", "kind": "short_text", "label": "Your name", "required": true},
                    {"key": "email", "kind": "email", "label": "Email", "required": true},
                    {"key": "phone", "kind": "phone", "label": "Mobile"},
                    {"key": "service", "kind": "single_select", "label": "Service", "options": ["Cleaning", "Whitening"]},
                    {"key": "texts", "kind": "consent", "label": "Texts", "consent_channel": "sms",
                     "consent_text": "I agree to receive appointment texts."},
                    {"key": "campaign", "kind": "hidden", "default_value": "spring"}
                ],
                "thank_you_message": "Thanks.",
                "tags": ["web lead"]
            }),
        );
        let mut first_contact = String::new();
        for n in 0..3 {
            let contact = self.ok(
                who,
                "POST",
                "/contacts",
                json!({"first_name": format!("{stem}{n}"), "emails": [format!("{stem}{n}@{stem}-patients.example")],
                       "tags": ["vip"]}),
            );
            if first_contact.is_empty() {
                first_contact = field(&contact, "id");
            }
        }
        (
            field(&event, "slug"),
            field(&form, "id"),
            field(&form, "public_id"),
            first_contact,
        )
    }

    fn ok(&self, who: &Session, method: &str, path: &str, body: Value) -> Value {
        let reply = self.send(Some(who), method, path, Some(&body));
        assert!(
            reply.status.is_success(),
            "fixture {method} {path}: {} {}",
            reply.status,
            reply.text()
        );
        reply.json()
    }

    /// A JSON request as `who` (or nobody).
    pub fn send(&self, who: Option<&Session>, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(who) = who {
            builder = builder
                .header("cookie", format!("{SESSION_COOKIE}={}", who.cookie))
                .header("x-csrf-token", &who.csrf);
        }
        let body = match body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.request(builder.body(body).expect("request"))
    }

    /// As `session` (signed in again when the session lapsed as the clock moved).
    pub fn send_as(&self, session: &Mutex<Session>, build: impl Fn(&Session) -> Request<Body>) -> Reply {
        let current = session.lock().expect("session").clone();
        let reply = self.request(build(&current));
        if reply.status != StatusCode::UNAUTHORIZED {
            return reply;
        }
        let body = json!({"email": current.email, "password": PASSWORD});
        let login = self.send(None, "POST", "/auth/login", Some(&body));
        assert_eq!(login.status, StatusCode::OK, "fixture sign-in: {}", login.text());
        let fresh = session_of(&login, &current.email);
        *session.lock().expect("session") = fresh.clone();
        self.request(build(&fresh))
    }

    /// Any request, from a loopback peer, a minute after the previous one.
    pub fn request(&self, mut request: Request<Body>) -> Reply {
        self.clock.advance(SignedDuration::from_mins(1));
        let peer = {
            let mut n = self.peer.lock().expect("peer");
            *n = n.wrapping_add(1);
            *n
        };
        // Peers vary too, as a crowd's would.
        let octets = peer.to_be_bytes();
        let addr = SocketAddr::from(([10, octets[1], octets[2], octets[3]], 40000));
        request.extensions_mut().insert(ConnectInfo(addr));
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.expect("infallible router");
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            Reply { status, headers, body }
        })
    }

    pub fn now(&self) -> Timestamp {
        konnecs::ports::Clock::now(&self.clock)
    }
}

/// A request with a cookie and CSRF header as `who`.
pub fn authed(who: &Session, method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("cookie", format!("{SESSION_COOKIE}={}", who.cookie))
        .header("x-csrf-token", &who.csrf)
        .body(Body::empty())
        .expect("request")
}

fn session_of(reply: &Reply, email: &str) -> Session {
    let cookie = reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("fixture: no session cookie: {}", reply.text()))
        .to_string();
    Session {
        email: email.to_string(),
        cookie,
        csrf: field(&reply.json(), "csrf_token"),
    }
}
