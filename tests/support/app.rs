//! `TestApp`: the one harness every HTTP-level test drives Konnecs through.
//!
//! It is the real router and pipeline over a fresh store (embedded, or
//! DynamoDB on the emulator) with a test clock, and knows how a person uses
//! it: sign up, join an organization with a role (invited and accepting,
//! exactly as staff do), send requests with the session cookie and the CSRF
//! header, run the queues dry through the real consumers, and move the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use jiff::{SignedDuration, Timestamp};
use konnecs::app::AppState;
use konnecs::catalogue;
use konnecs::domain::role::Role;
use konnecs::ports::TestClock;
use serde_json::{Value, json};

use crate::http::{Browser, Reply};

/// Every test account's password.
pub const PASSWORD: &str = "molar-crown-42-bridge";

/// Where the test clock starts unless a test says otherwise: a Tuesday
/// morning in November 2026, UTC.
pub const START: &str = "2026-11-17T09:00:00Z";

/// The store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The embedded store, in a fresh temporary directory.
    Sqlite,
    /// DynamoDB on the emulator (`KONNECS_TEST_AWS_ENDPOINT`), a fresh
    /// table; the queues and objects stay embedded, so queue timing follows
    /// the test clock.
    Dynamodb,
    /// Every AWS adapter on the emulator: DynamoDB, SQS, KMS and S3, as a
    /// deployed function has them.
    Aws,
}

/// One `#[tokio::test]` per case and store, `sqlite::<case>` and
/// `dynamodb::<case>`, each calling `<case>(Store::…)`: for the behaviour
/// that must hold on both backends.
#[macro_export]
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                super::$case($crate::app::Store::Sqlite).await
            })*
        }
        mod dynamodb {
            $(#[tokio::test]
            async fn $case() {
                super::$case($crate::app::Store::Dynamodb).await
            })*
        }
    };
}

/// A signed-in person: their browser (session cookie and CSRF token) and ids.
#[derive(Debug, Clone)]
pub struct Member {
    pub browser: Browser,
    pub user_id: String,
    pub org_id: String,
    pub email: String,
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub clock: TestClock,
    emails: AtomicUsize,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// On the embedded store, the clock at [`START`].
    pub fn new() -> Self {
        Self::at(START)
    }

    /// On the embedded store, the clock at `at` (RFC 3339).
    pub fn at(at: &str) -> Self {
        let clock = TestClock::at(timestamp(at));
        let (state, dir) = crate::local::temp_state_with_clock(Arc::new(clock.clone()));
        Self::with(state, clock, dir)
    }

    /// On `store`, the clock at `at` (RFC 3339).
    pub async fn on(store: Store, at: &str) -> Self {
        match store {
            Store::Sqlite => Self::at(at),
            Store::Dynamodb => {
                let clock = TestClock::at(timestamp(at));
                let (state, dir) = crate::aws::dynamodb_state_with_clock(Arc::new(clock.clone())).await;
                Self::with(state, clock, dir)
            }
            Store::Aws => {
                let clock = TestClock::at(timestamp(at));
                let state = crate::aws::app_state_with_clock(Arc::new(clock.clone())).await;
                Self::with(state, clock, tempfile::tempdir().expect("temp dir"))
            }
        }
    }

    /// Around a state a test built itself (its clock must be `clock`).
    pub fn with(state: AppState, clock: TestClock, dir: tempfile::TempDir) -> Self {
        Self {
            router: konnecs::inbound::http::router(state.clone(), catalogue::entries()),
            state,
            clock,
            emails: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    /// The same store and clock seen through another state (a wrapped
    /// adapter, a failing provider): the router is rebuilt over it.
    pub fn replace_state(&mut self, state: AppState) {
        self.router = konnecs::inbound::http::router(state.clone(), catalogue::entries());
        self.state = state;
    }

    /// The store's directory (the embedded store's files and objects).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// An address no other account of this app has: `stem<n>@example.com`.
    pub fn fresh_email(&self, stem: &str) -> String {
        format!("{stem}{}@example.com", self.emails.fetch_add(1, Ordering::SeqCst))
    }

    /// `method path` as `who` (cookie and CSRF header), with a JSON body.
    pub async fn send(&self, who: &Browser, method: &str, path: &str, body: Option<&Value>) -> Reply {
        who.send(&self.router, method, path, body).await
    }

    /// `method path` with no session.
    pub async fn send_anonymous(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.send(&Browser::anonymous(), method, path, body).await
    }

    /// A request the test built itself.
    pub async fn request(&self, request: Request<Body>) -> Reply {
        crate::http::send(&self.router, request).await
    }

    /// Signs `email` up with a new organization `business` (`POST /auth/signup`).
    pub async fn sign_up(&self, email: &str, business: &str) -> Member {
        let body = json!({"name": "Dana Whitfield", "email": email, "password": PASSWORD, "business_name": business});
        let reply = self.send_anonymous("POST", "/auth/signup", Some(&body)).await;
        expect(&reply, StatusCode::CREATED);
        member_from(&reply, email)
    }

    /// Signs `email` in (`POST /auth/login`) into their default organization.
    pub async fn sign_in(&self, email: &str) -> Member {
        let body = json!({"email": email, "password": PASSWORD});
        let reply = self.send_anonymous("POST", "/auth/login", Some(&body)).await;
        expect(&reply, StatusCode::OK);
        member_from(&reply, email)
    }

    /// A new account for `email` in `inviter`'s organization with `role`: the
    /// inviter invites, the invitation email arrives, the person accepts.
    pub async fn join(&self, inviter: &Member, email: &str, role: Role) -> Member {
        let invite = json!({"email": email, "role": role.as_str()});
        let reply = self
            .send(&inviter.browser, "POST", "/org/invitations", Some(&invite))
            .await;
        expect(&reply, StatusCode::CREATED);
        let token = self.token_from_outbox(email, "/accept-invitation").await;
        let accept = json!({"token": token, "name": "Sam Taylor", "password": PASSWORD});
        let reply = self.send_anonymous("POST", "/invitations/accept", Some(&accept)).await;
        expect(&reply, StatusCode::OK);
        member_from(&reply, email)
    }

    /// Runs the jobs queue dry through the real consumer.
    pub async fn drain_jobs(&self) {
        crate::local::drain_jobs(&self.state).await;
    }

    /// Runs the reminders queue dry through the real consumer.
    pub async fn drain_reminders(&self) {
        crate::local::drain_reminders(&self.state).await;
    }

    /// Every outbox message, newest first, after running the jobs queue dry.
    pub async fn outbox(&self) -> Vec<Value> {
        crate::local::outbox(&self.state).await
    }

    /// The token of the newest email to `to` with a link to `path`.
    pub async fn token_from_outbox(&self, to: &str, path: &str) -> String {
        crate::local::token_from_outbox(&self.state, to, path).await
    }

    pub fn now(&self) -> Timestamp {
        konnecs::ports::Clock::now(&self.clock)
    }

    /// Moves the clock to `at` (RFC 3339).
    pub fn set_clock(&self, at: &str) {
        self.clock.set(timestamp(at));
    }

    pub fn advance(&self, by: SignedDuration) {
        self.clock.advance(by);
    }
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

fn timestamp(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 timestamp")
}

/// The person a sign-up, login or acceptance reply signed in.
pub fn member_from(reply: &Reply, email: &str) -> Member {
    Member {
        browser: Browser::from_reply(reply),
        user_id: reply.body["user_id"].as_str().expect("user_id").to_string(),
        org_id: reply.body["org_id"].as_str().expect("org_id").to_string(),
        email: email.to_string(),
    }
}

/// The reply has `status` (its body in the message otherwise).
#[track_caller]
pub fn expect(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
}

/// The reply is a problem document with `status` and the stable `code`.
#[track_caller]
pub fn problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(
        reply.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{}",
        reply.body
    );
    assert_eq!(reply.body["code"], code, "{}", reply.body);
}

/// A problem's field errors as (field, code).
pub fn field_errors(reply: &Reply) -> Vec<(String, String)> {
    reply.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or_default().to_string(),
                        e["code"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
