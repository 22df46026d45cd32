//! Organizations, members, roles, invitations, the audit log and tenancy,
//! through the real router on a fresh embedded store.
//!
//! The tenancy walker at the end visits every session route of the catalogue:
//! a new route with a path parameter the walker cannot fill fails it, naming
//! the route — extend `foreign_ids()` with a producer of a foreign id.

use konnecs::domain::ids::OrgId;
use konnecs::domain::ids::UserId;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::ConnectInfo;
use futures::future::BoxFuture;
use http::{HeaderMap, Request, StatusCode};
use jiff::{SignedDuration, Timestamp};
use konnecs::catalogue::{self, Auth};
use konnecs::ports::{
    BatchOp, Clock, Condition, Item, Key, Page, Query, StoreError, Table, TestClock, Update, WriteOp,
};
use konnecs_tests::app::TestApp;
use konnecs_tests::local::{temp_state_with_clock, token_from_outbox};
use serde_json::{Value, json};

const PASSWORD: &str = "sturdy-lantern-harbor-42";
const CLIENT_IP: [u8; 4] = [203, 0, 113, 9];
const USER_AGENT: &str = "konnecs-org-tests/1.0";

/// The shared harness, with this file's people and request options.
struct App {
    base: TestApp,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.base
    }
}

#[derive(Debug, Clone)]
struct User {
    email: String,
    user_id: String,
    org_id: String,
    cookie: String,
    csrf: String,
}

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    #[track_caller]
    fn expect(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.body);
        self
    }

    #[track_caller]
    fn problem(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
    }

    /// `name=value` pairs of the `Set-Cookie` headers, as a `Cookie` header.
    fn cookie_header(&self) -> String {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What a request carries besides method, path and body.
#[derive(Default)]
struct Opts<'a> {
    user: Option<&'a User>,
    /// Overrides the user's CSRF token; `Some(None)` sends none.
    csrf: Option<Option<&'a str>>,
    request_id: Option<&'a str>,
    /// A `text/csv` body instead of the JSON one.
    csv: Option<&'a str>,
}

impl App {
    fn new() -> Self {
        Self::on(TestApp::new())
    }

    fn on(base: TestApp) -> Self {
        Self { base }
    }

    /// On a fresh embedded store whose clock is `clock`.
    fn with_clock(clock: &TestClock) -> Self {
        let (state, dir) = temp_state_with_clock(Arc::new(clock.clone()));
        Self::on(TestApp::with(state, clock.clone(), dir))
    }

    async fn send_with(&self, method: &str, path: &str, body: Option<Value>, opts: Opts<'_>) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("user-agent", USER_AGENT);
        if let Some(user) = opts.user {
            builder = builder.header("cookie", &user.cookie);
            let csrf = opts.csrf.unwrap_or(Some(user.csrf.as_str()));
            if let Some(csrf) = csrf {
                builder = builder.header("x-csrf-token", csrf);
            }
        }
        if let Some(id) = opts.request_id {
            builder = builder.header("x-request-id", id);
        }
        let body = match (body, opts.csv) {
            (_, Some(csv)) => {
                builder = builder.header("content-type", "text/csv");
                Body::from(csv.to_string())
            }
            (Some(value), None) => {
                builder = builder.header("content-type", "application/json");
                Body::from(value.to_string())
            }
            (None, None) => Body::empty(),
        };
        let mut request = builder.body(body).expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((CLIENT_IP, 41234))));
        let reply = self.base.request(request).await;
        Reply {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        }
    }

    async fn send(&self, user: Option<&User>, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.send_with(
            method,
            path,
            body,
            Opts {
                user,
                ..Opts::default()
            },
        )
        .await
    }

    async fn signup(&self, business: &str) -> User {
        let email = self.fresh_email("owner");
        let reply = self
            .send(
                None,
                "POST",
                "/auth/signup",
                Some(json!({"name": format!("Owner of {business}"), "email": email, "password": PASSWORD, "business_name": business})),
            )
            .await;
        reply.expect(StatusCode::CREATED);
        user_from(&reply, &email)
    }

    async fn invite(&self, inviter: &User, email: &str, role: &str) -> Reply {
        self.send(
            Some(inviter),
            "POST",
            "/org/invitations",
            Some(json!({"email": email, "role": role})),
        )
        .await
    }

    async fn invitation_token(&self, email: &str) -> String {
        token_from_outbox(&self.state, email, "/accept-invitation").await
    }

    async fn accept(&self, body: Value) -> Reply {
        self.send(None, "POST", "/invitations/accept", Some(body)).await
    }

    /// A new account invited into the inviter's organization as `role`.
    async fn join(&self, inviter: &User, role: &str) -> User {
        let email = self.fresh_email(role);
        self.invite(inviter, &email, role).await.expect(StatusCode::CREATED);
        let token = self.invitation_token(&email).await;
        let reply = self
            .accept(json!({"token": token, "name": format!("New {role}"), "password": PASSWORD}))
            .await;
        reply.expect(StatusCode::OK);
        user_from(&reply, &email)
    }

    async fn members(&self, user: &User) -> Vec<Value> {
        let reply = self.send(Some(user), "GET", "/org/members", None).await;
        reply.expect(StatusCode::OK);
        reply.body["members"].as_array().cloned().unwrap_or_default()
    }

    async fn role_of(&self, viewer: &User, user_id: &str) -> Option<String> {
        self.members(viewer)
            .await
            .iter()
            .find(|m| m["user_id"] == user_id)
            .and_then(|m| m["role"].as_str().map(str::to_string))
    }

    async fn set_role(&self, actor: &User, target: &str, role: &str) -> Reply {
        self.send(
            Some(actor),
            "PATCH",
            &format!("/org/members/{target}"),
            Some(json!({"role": role})),
        )
        .await
    }
}

fn user_from(reply: &Reply, email: &str) -> User {
    User {
        email: email.to_string(),
        user_id: reply.body["user_id"].as_str().expect("user_id").to_string(),
        org_id: reply.body["org_id"].as_str().expect("org_id").to_string(),
        cookie: reply.cookie_header(),
        csrf: reply.body["csrf_token"].as_str().expect("csrf_token").to_string(),
    }
}

// ---------------------------------------------------------------- the organization

#[tokio::test]
async fn owner_edits_the_organization_profile_with_normalized_zone_and_country() {
    let app = App::new();
    let owner = app.signup("Bright Smiles").await;
    let reply = app
        .send(
            Some(&owner),
            "PATCH",
            "/org",
            Some(json!({
                "name": "Bright Smiles Dental", "website": "https://brightsmiles.example",
                "industry": "Dentistry", "time_zone": "europe/berlin", "country": "de",
            })),
        )
        .await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["name"], "Bright Smiles Dental");
    assert_eq!(reply.body["time_zone"], "Europe/Berlin");
    assert_eq!(reply.body["country"], "DE");
    assert_eq!(reply.body["version"], 2);

    let shown = app.send(Some(&owner), "GET", "/org", None).await;
    shown.expect(StatusCode::OK);
    assert_eq!(shown.body, reply.body);
    assert_eq!(shown.body["id"], owner.org_id);

    let cleared = app
        .send(
            Some(&owner),
            "PATCH",
            "/org",
            Some(json!({"website": null, "industry": ""})),
        )
        .await;
    cleared.expect(StatusCode::OK);
    assert_eq!(cleared.body["website"], Value::Null);
    assert_eq!(cleared.body["industry"], Value::Null);
    assert_eq!(cleared.body["name"], "Bright Smiles Dental", "untouched fields stay");
}

#[tokio::test]
async fn a_taken_slug_is_a_conflict_and_a_changed_slug_frees_the_old_one() {
    let app = App::new();
    let a = app.signup("Alpha Dental").await;
    let b = app.signup("Beta Dental").await;
    app.send(Some(&a), "PATCH", "/org", Some(json!({"slug": "bright-smiles"})))
        .await
        .expect(StatusCode::OK);

    app.send(Some(&b), "PATCH", "/org", Some(json!({"slug": "bright-smiles"})))
        .await
        .problem(StatusCode::CONFLICT, "slug_taken");
    let b_org = app.send(Some(&b), "GET", "/org", None).await;
    assert_eq!(b_org.body["slug"], "beta-dental", "a refused change writes nothing");
    assert_eq!(b_org.body["version"], 1);

    app.send(Some(&a), "PATCH", "/org", Some(json!({"slug": "bright-smiles-dental"})))
        .await
        .expect(StatusCode::OK);
    let taken = app
        .send(Some(&b), "PATCH", "/org", Some(json!({"slug": "bright-smiles"})))
        .await;
    taken.expect(StatusCode::OK);
    assert_eq!(taken.body["slug"], "bright-smiles");

    let reserved = app
        .send(Some(&b), "PATCH", "/org", Some(json!({"slug": "admin"})))
        .await;
    reserved.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(reserved.body["errors"][0]["field"], "slug");
}

#[tokio::test]
async fn an_unknown_time_zone_or_country_is_a_field_error() {
    let app = App::new();
    let owner = app.signup("Gamma Dental").await;
    let reply = app
        .send(
            Some(&owner),
            "PATCH",
            "/org",
            Some(json!({"time_zone": "Mars/Olympus_Mons", "country": "XX", "name": "Renamed"})),
        )
        .await;
    reply.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let errors: Vec<(String, String)> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or_default().into(),
                e["code"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert!(
        errors.contains(&("time_zone".into(), "invalid_time_zone".into())),
        "{errors:?}"
    );
    assert!(
        errors.contains(&("country".into(), "invalid_country".into())),
        "{errors:?}"
    );
    let org = app.send(Some(&owner), "GET", "/org", None).await;
    assert_eq!(
        org.body["name"], "Gamma Dental",
        "nothing of an invalid change is applied"
    );
    assert_eq!(org.body["time_zone"], "UTC");
}

#[tokio::test]
async fn an_edit_based_on_a_stale_version_is_refused() {
    let app = App::new();
    let owner = app.signup("Delta Dental").await;
    app.send(
        Some(&owner),
        "PATCH",
        "/org",
        Some(json!({"name": "Delta One", "version": 1})),
    )
    .await
    .expect(StatusCode::OK);
    app.send(
        Some(&owner),
        "PATCH",
        "/org",
        Some(json!({"name": "Delta Two", "version": 1})),
    )
    .await
    .problem(StatusCode::PRECONDITION_FAILED, "stale_version");
    let org = app.send(Some(&owner), "GET", "/org", None).await;
    assert_eq!(org.body["name"], "Delta One");
    assert_eq!(org.body["version"], 2);
}

// ---------------------------------------------------------------- invitations

#[tokio::test]
async fn invited_person_accepts_with_a_new_account_and_is_listed_as_member() {
    let app = App::new();
    let owner = app.signup("Epsilon Dental").await;
    let email = app.fresh_email("newhire");
    let created = app.invite(&owner, &email, "member").await;
    created.expect(StatusCode::CREATED);
    assert_eq!(created.body["email"], email);
    assert!(created.body.get("token_hash").is_none(), "{}", created.body);
    let listed = app.send(Some(&owner), "GET", "/org/invitations", None).await;
    assert_eq!(listed.body["invitations"][0]["id"], created.body["id"]);

    let token = app.invitation_token(&email).await;
    let reply = app
        .accept(json!({"token": token, "name": "Noor Hire", "password": PASSWORD}))
        .await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["org_id"], owner.org_id);
    assert!(
        reply.cookie_header().contains("__Host-konnecs_session="),
        "a session cookie is set"
    );
    let hire = user_from(&reply, &email);

    let me = app.send(Some(&hire), "GET", "/me", None).await;
    me.expect(StatusCode::OK);
    assert_eq!(me.body["org_id"], owner.org_id);
    assert_eq!(me.body["role"], "member");
    assert_eq!(
        me.body["email_verified"], true,
        "the invitation link proved the address"
    );
    assert_eq!(app.role_of(&owner, &hire.user_id).await.as_deref(), Some("member"));
    let listed = app.send(Some(&owner), "GET", "/org/invitations", None).await;
    assert_eq!(listed.body["invitations"], json!([]), "an accepted invitation is gone");

    app.send(
        None,
        "POST",
        "/auth/login",
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await
    .expect(StatusCode::OK);
}

#[tokio::test]
async fn a_new_account_needs_a_name_and_an_acceptable_password_and_the_link_survives_the_error() {
    let app = App::new();
    let owner = app.signup("Zeta Dental").await;
    let email = app.fresh_email("hire");
    app.invite(&owner, &email, "member").await.expect(StatusCode::CREATED);
    let token = app.invitation_token(&email).await;
    let reply = app.accept(json!({"token": token, "password": "short"})).await;
    reply.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(fields.contains(&"name") && fields.contains(&"password"), "{fields:?}");
    app.accept(json!({"token": token, "name": "Zed", "password": PASSWORD}))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn an_invited_existing_account_is_linked_with_its_password() {
    let app = App::new();
    let owner = app.signup("Eta Dental").await;
    let other = app.signup("Theta Dental").await;
    app.invite(&owner, &other.email, "admin")
        .await
        .expect(StatusCode::CREATED);
    let token = app.invitation_token(&other.email).await;

    let missing = app.accept(json!({"token": token})).await;
    missing.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(missing.body["errors"][0]["field"], "password");
    app.accept(json!({"token": token, "password": "not-the-password-1"}))
        .await
        .problem(StatusCode::UNAUTHORIZED, "invalid_credentials");

    let reply = app.accept(json!({"token": token, "password": PASSWORD})).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["user_id"], other.user_id, "the same account, not a new one");
    let linked = user_from(&reply, &other.email);
    let me = app.send(Some(&linked), "GET", "/me", None).await;
    assert_eq!(me.body["org_id"], owner.org_id);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(app.role_of(&owner, &other.user_id).await.as_deref(), Some("admin"));

    // The account keeps its own organization and session there.
    let own = app.send(Some(&other), "GET", "/org", None).await;
    own.expect(StatusCode::OK);
    assert_eq!(own.body["id"], other.org_id);
}

#[tokio::test]
async fn a_signed_in_invitee_accepts_with_its_session_and_gets_a_new_one() {
    let app = App::new();
    let owner = app.signup("Iota Dental").await;
    let other = app.signup("Kappa Dental").await;
    app.invite(&owner, &other.email, "member")
        .await
        .expect(StatusCode::CREATED);
    let token = app.invitation_token(&other.email).await;
    let reply = app
        .send(
            Some(&other),
            "POST",
            "/invitations/accept",
            Some(json!({"token": token})),
        )
        .await;
    reply.expect(StatusCode::OK);
    let joined = user_from(&reply, &other.email);
    assert_ne!(joined.cookie, other.cookie, "a new session id");
    assert_eq!(
        app.send(Some(&joined), "GET", "/me", None).await.body["org_id"],
        owner.org_id
    );
    app.send(Some(&other), "GET", "/me", None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn a_session_without_its_csrf_token_does_not_stand_in_for_the_password() {
    let app = App::new();
    let owner = app.signup("Lambda Dental").await;
    let other = app.signup("Mu Dental").await;
    app.invite(&owner, &other.email, "member")
        .await
        .expect(StatusCode::CREATED);
    let token = app.invitation_token(&other.email).await;
    let reply = app
        .send_with(
            "POST",
            "/invitations/accept",
            Some(json!({"token": token})),
            Opts {
                user: Some(&other),
                csrf: Some(None),
                ..Opts::default()
            },
        )
        .await;
    reply.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(reply.body["errors"][0]["field"], "password");
}

#[tokio::test]
async fn an_invitation_works_only_once() {
    let app = App::new();
    let owner = app.signup("Nu Dental").await;
    let email = app.fresh_email("once");
    app.invite(&owner, &email, "member").await.expect(StatusCode::CREATED);
    let token = app.invitation_token(&email).await;
    let body = json!({"token": token, "name": "Once", "password": PASSWORD});
    app.accept(body.clone()).await.expect(StatusCode::OK);
    app.accept(body).await.problem(StatusCode::BAD_REQUEST, "invalid_token");
    app.accept(json!({"token": "made-up", "name": "X", "password": PASSWORD}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_token");
}

#[tokio::test]
async fn a_revoked_invitation_cannot_be_accepted() {
    let app = App::new();
    let owner = app.signup("Xi Dental").await;
    let email = app.fresh_email("revoked");
    let id = app.invite(&owner, &email, "member").await.body["id"]
        .as_str()
        .expect("id")
        .to_string();
    let token = app.invitation_token(&email).await;
    app.send(Some(&owner), "DELETE", &format!("/org/invitations/{id}"), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.send(Some(&owner), "DELETE", &format!("/org/invitations/{id}"), None)
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    let listed = app.send(Some(&owner), "GET", "/org/invitations", None).await;
    assert_eq!(listed.body["invitations"], json!([]));
    app.accept(json!({"token": token, "name": "R", "password": PASSWORD}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_token");
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_accepted() {
    let clock = TestClock::at(jiff::Timestamp::now());
    let app = App::with_clock(&clock);
    let owner = app.signup("Omicron Dental").await;
    let email = app.fresh_email("late");
    app.invite(&owner, &email, "member").await.expect(StatusCode::CREATED);
    let token = app.invitation_token(&email).await;
    clock.advance(jiff::SignedDuration::from_secs(7 * 24 * 3600 + 1));
    app.accept(json!({"token": token, "name": "Late", "password": PASSWORD}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_token");
}

#[tokio::test]
async fn inviting_a_current_member_is_a_conflict_and_a_bad_email_a_field_error() {
    let app = App::new();
    let owner = app.signup("Pi Dental").await;
    app.invite(&owner, &owner.email, "member")
        .await
        .problem(StatusCode::CONFLICT, "already_member");
    let bad = app.invite(&owner, "not-an-email", "member").await;
    bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(bad.body["errors"][0]["field"], "email");
}

// ---------------------------------------------------------------- roles

#[tokio::test]
async fn a_member_cannot_do_what_admins_do() {
    let app = App::new();
    let owner = app.signup("Rho Dental").await;
    let member = app.join(&owner, "member").await;
    let colleague = app.join(&owner, "member").await;
    let invitation = app.invite(&owner, &app.fresh_email("pending"), "member").await.body["id"]
        .as_str()
        .expect("id")
        .to_string();
    let forbidden: Vec<(&str, String, Option<Value>)> = vec![
        ("PATCH", "/org".into(), Some(json!({"name": "Hijacked"}))),
        (
            "POST",
            "/org/invitations".into(),
            Some(json!({"email": app.fresh_email("x"), "role": "member"})),
        ),
        ("GET", "/org/invitations".into(), None),
        ("DELETE", format!("/org/invitations/{invitation}"), None),
        (
            "PATCH",
            format!("/org/members/{}", colleague.user_id),
            Some(json!({"role": "admin"})),
        ),
        (
            "PATCH",
            format!("/org/members/{}", member.user_id),
            Some(json!({"role": "admin"})),
        ),
        ("DELETE", format!("/org/members/{}", colleague.user_id), None),
        ("GET", "/org/audit".into(), None),
    ];
    for (method, path, body) in forbidden {
        let reply = app.send(Some(&member), method, &path, body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", reply.body);
        assert_eq!(reply.body["code"], "insufficient_role", "{method} {path}");
    }
    app.send(Some(&member), "GET", "/org", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.members(&member).await.len(), 3);
    assert_eq!(app.role_of(&owner, &colleague.user_id).await.as_deref(), Some("member"));
    assert_eq!(app.role_of(&owner, &member.user_id).await.as_deref(), Some("member"));
    assert_eq!(
        app.send(Some(&owner), "GET", "/org", None).await.body["name"],
        "Rho Dental"
    );
}

#[tokio::test]
async fn an_admin_manages_members_and_admins_but_not_owners() {
    let app = App::new();
    let owner = app.signup("Sigma Dental").await;
    let admin = app.join(&owner, "admin").await;
    let member = app.join(&owner, "member").await;

    // What only an owner may do.
    app.set_role(&admin, &member.user_id, "owner")
        .await
        .problem(StatusCode::FORBIDDEN, "insufficient_role");
    app.set_role(&admin, &owner.user_id, "admin")
        .await
        .problem(StatusCode::FORBIDDEN, "insufficient_role");
    app.send(Some(&admin), "DELETE", &format!("/org/members/{}", owner.user_id), None)
        .await
        .problem(StatusCode::FORBIDDEN, "insufficient_role");
    app.invite(&admin, &app.fresh_email("boss"), "owner")
        .await
        .problem(StatusCode::FORBIDDEN, "insufficient_role");
    assert_eq!(app.role_of(&owner, &owner.user_id).await.as_deref(), Some("owner"));

    // What an admin may do.
    app.send(Some(&admin), "PATCH", "/org", Some(json!({"industry": "Orthodontics"})))
        .await
        .expect(StatusCode::OK);
    app.set_role(&admin, &member.user_id, "admin")
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.role_of(&owner, &member.user_id).await.as_deref(), Some("admin"));
    app.set_role(&admin, &member.user_id, "member")
        .await
        .expect(StatusCode::OK);
    let invited = app.invite(&admin, &app.fresh_email("helper"), "admin").await;
    invited.expect(StatusCode::CREATED);
    app.send(Some(&admin), "GET", "/org/invitations", None)
        .await
        .expect(StatusCode::OK);
    app.send(
        Some(&admin),
        "DELETE",
        &format!("/org/invitations/{}", invited.body["id"].as_str().expect("id")),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.send(Some(&admin), "GET", "/org/audit", None)
        .await
        .expect(StatusCode::OK);
    app.send(
        Some(&admin),
        "DELETE",
        &format!("/org/members/{}", member.user_id),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);

    // A role change applies to the very next request.
    app.set_role(&owner, &admin.user_id, "member")
        .await
        .expect(StatusCode::OK);
    app.send(Some(&admin), "PATCH", "/org", Some(json!({"industry": "Dentistry"})))
        .await
        .problem(StatusCode::FORBIDDEN, "insufficient_role");
}

#[tokio::test]
async fn an_owner_makes_and_unmakes_owners() {
    let app = App::new();
    let first = app.signup("Tau Dental").await;
    let second = app.join(&first, "admin").await;
    app.set_role(&first, &second.user_id, "owner")
        .await
        .expect(StatusCode::OK);
    app.set_role(&second, &first.user_id, "member")
        .await
        .expect(StatusCode::OK);
    assert_eq!(app.role_of(&second, &first.user_id).await.as_deref(), Some("member"));
    app.set_role(&second, &second.user_id, "admin")
        .await
        .problem(StatusCode::CONFLICT, "last_owner");
    let third = app.join(&second, "owner").await;
    assert_eq!(app.role_of(&second, &third.user_id).await.as_deref(), Some("owner"));
    app.set_role(&second, &second.user_id, "admin")
        .await
        .expect(StatusCode::OK);
    app.set_role(&third, &third.user_id, "admin")
        .await
        .problem(StatusCode::CONFLICT, "last_owner");
}

#[tokio::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted() {
    let app = App::new();
    let owner = app.signup("Upsilon Dental").await;
    app.send(Some(&owner), "DELETE", &format!("/org/members/{}", owner.user_id), None)
        .await
        .problem(StatusCode::CONFLICT, "last_owner");
    app.set_role(&owner, &owner.user_id, "admin")
        .await
        .problem(StatusCode::CONFLICT, "last_owner");
    assert_eq!(app.role_of(&owner, &owner.user_id).await.as_deref(), Some("owner"));
}

#[tokio::test]
async fn a_member_who_leaves_loses_access_at_once() {
    let app = App::new();
    let owner = app.signup("Phi Dental").await;
    let member = app.join(&owner, "member").await;
    app.send(
        Some(&member),
        "DELETE",
        &format!("/org/members/{}", member.user_id),
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.send(Some(&member), "GET", "/org", None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(app.role_of(&owner, &member.user_id).await, None);
}

#[tokio::test]
async fn a_removed_member_is_signed_out_of_that_organization_only() {
    let app = App::new();
    let owner = app.signup("Chi Dental").await;
    let other = app.signup("Psi Dental").await;
    app.invite(&owner, &other.email, "member")
        .await
        .expect(StatusCode::CREATED);
    let token = app.invitation_token(&other.email).await;
    let joined = user_from(
        app.accept(json!({"token": token, "password": PASSWORD}))
            .await
            .expect(StatusCode::OK),
        &other.email,
    );
    app.send(Some(&joined), "GET", "/org", None)
        .await
        .expect(StatusCode::OK);
    app.send(Some(&owner), "DELETE", &format!("/org/members/{}", other.user_id), None)
        .await
        .expect(StatusCode::NO_CONTENT);
    app.send(Some(&joined), "GET", "/me", None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let own = app.send(Some(&other), "GET", "/org", None).await;
    own.expect(StatusCode::OK);
    assert_eq!(
        own.body["id"], other.org_id,
        "the session in the user's own organization lives on"
    );
}

#[tokio::test]
async fn a_removed_members_kept_session_is_refused_because_membership_is_read_each_request() {
    let app = App::new();
    let owner = app.signup("Omega Dental").await;
    let member = app.join(&owner, "member").await;
    // Remove the membership behind the session's back (no session clean-up).
    app.state
        .table
        .delete(
            &konnecs::services::records::member_key(&OrgId::from(&owner.org_id), &UserId::from(&member.user_id)),
            None,
        )
        .await
        .expect("delete membership");
    app.send(Some(&member), "GET", "/org/members", None)
        .await
        .problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

/// A table that holds the first two transactions after arming until both
/// have arrived, so two requests read the same state before either writes.
struct RacingTable {
    inner: Arc<dyn Table>,
    armed: AtomicBool,
    arrived: AtomicUsize,
    barrier: tokio::sync::Barrier,
}

#[async_trait]
impl Table for RacingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> Result<Item, StoreError> {
        self.inner.update(key, update, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<Option<Item>, StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) && self.arrived.fetch_add(1, Ordering::SeqCst) < 2 {
            // Bounded: a request that never reaches its write must not hang the test.
            let _ = tokio::time::timeout(Duration::from_secs(10), self.barrier.wait()).await;
        }
        self.inner.transact(ops).await
    }
    async fn batch_write(&self, ops: Vec<BatchOp>) -> Result<(), StoreError> {
        self.inner.batch_write(ops).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

/// An app whose two owners (the returned users) are about to race.
async fn racing_owners() -> (App, Arc<RacingTable>, User, User) {
    let mut base = TestApp::new();
    let mut state = base.state.clone();
    let racing = Arc::new(RacingTable {
        inner: state.table.clone(),
        armed: AtomicBool::new(false),
        arrived: AtomicUsize::new(0),
        barrier: tokio::sync::Barrier::new(2),
    });
    state.table = racing.clone() as Arc<dyn Table>;
    base.replace_state(state);
    let app = App::on(base);
    let first = app.signup("Race Dental").await;
    let second = app.join(&first, "owner").await;
    assert_eq!(app.role_of(&first, &second.user_id).await.as_deref(), Some("owner"));
    (app, racing, first, second)
}

async fn owners(app: &App, viewer: &User) -> Vec<String> {
    app.members(viewer)
        .await
        .iter()
        .filter(|m| m["role"] == "owner")
        .filter_map(|m| m["user_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_self_demotions_of_the_only_two_owners_leave_one_owner() {
    let (app, racing, first, second) = racing_owners().await;
    racing.armed.store(true, Ordering::SeqCst);
    let (a, b) = tokio::join!(
        app.set_role(&first, &first.user_id, "admin"),
        app.set_role(&second, &second.user_id, "admin"),
    );
    assert_eq!(racing.arrived.load(Ordering::SeqCst), 2, "both wrote after both read");
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} / {}",
        a.body,
        b.body
    );
    let loser = if a.status == StatusCode::CONFLICT { &a } else { &b };
    assert_eq!(loser.body["code"], "last_owner");
    let viewer = if a.status == StatusCode::OK { &second } else { &first };
    assert_eq!(owners(&app, viewer).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_demoting_each_other_concurrently_leave_one_owner() {
    let (app, racing, first, second) = racing_owners().await;
    racing.armed.store(true, Ordering::SeqCst);
    let (a, b) = tokio::join!(
        app.set_role(&first, &second.user_id, "member"),
        app.set_role(&second, &first.user_id, "member"),
    );
    assert_eq!(racing.arrived.load(Ordering::SeqCst), 2, "both wrote after both read");
    let ok = [&a, &b].iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(ok, 1, "{} / {}", a.body, b.body);
    // The loser's write fails its condition; it reads again, finds itself a
    // member now, and a member may not change roles.
    let refused = if a.status == StatusCode::OK { &b } else { &a };
    refused.problem(StatusCode::FORBIDDEN, "insufficient_role");
    let remaining = owners(&app, &first).await;
    assert_eq!(remaining.len(), 1, "{remaining:?}");
}

// ---------------------------------------------------------------- audit

#[tokio::test]
async fn the_audit_log_lists_entries_newest_first_with_who_what_and_where() {
    let app = App::new();
    let owner = app.signup("Audit Dental").await;
    let email = app.fresh_email("audited");
    let invited = app
        .send_with(
            "POST",
            "/org/invitations",
            Some(json!({"email": email, "role": "member"})),
            Opts {
                user: Some(&owner),
                request_id: Some("req-invite"),
                ..Opts::default()
            },
        )
        .await;
    invited.expect(StatusCode::CREATED);
    app.send_with(
        "PATCH",
        "/org",
        Some(json!({"name": "Audit Dental Care"})),
        Opts {
            user: Some(&owner),
            request_id: Some("req-org"),
            ..Opts::default()
        },
    )
    .await
    .expect(StatusCode::OK);
    let token = app.invitation_token(&email).await;
    let joined = app
        .send_with(
            "POST",
            "/invitations/accept",
            Some(json!({"token": token, "name": "Audited", "password": PASSWORD})),
            Opts {
                request_id: Some("req-accept"),
                ..Opts::default()
            },
        )
        .await;
    joined.expect(StatusCode::OK);
    let hire = user_from(&joined, &email);
    app.send_with(
        "PATCH",
        &format!("/org/members/{}", hire.user_id),
        Some(json!({"role": "admin"})),
        Opts {
            user: Some(&owner),
            request_id: Some("req-role"),
            ..Opts::default()
        },
    )
    .await
    .expect(StatusCode::OK);

    let reply = app.send(Some(&owner), "GET", "/org/audit", None).await;
    reply.expect(StatusCode::OK);
    let entries = reply.body["entries"].as_array().expect("entries").clone();
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "member.role_changed",
            "invitation.accepted",
            "org.updated",
            "invitation.created",
            "account.signup"
        ]
    );
    let times: Vec<jiff::Timestamp> = entries
        .iter()
        .map(|e| e["at"].as_str().expect("at").parse().expect("timestamp"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    let role = &entries[0];
    assert_eq!(role["actor_user_id"], owner.user_id);
    assert_eq!(role["target"], format!("user:{}", hire.user_id));
    assert_eq!(role["detail"], json!({"from": "member", "to": "admin"}));
    assert_eq!(role["ip"], "203.0.113.9");
    assert_eq!(role["user_agent"], USER_AGENT);
    assert_eq!(role["request_id"], "req-role");
    let accepted = &entries[1];
    assert_eq!(accepted["actor_user_id"], hire.user_id, "the invitee accepted");
    assert_eq!(accepted["request_id"], "req-accept");
    assert_eq!(entries[2]["request_id"], "req-org");
    assert_eq!(
        entries[3]["target"],
        format!("invitation:{}", invited.body["id"].as_str().expect("id"))
    );
    assert_eq!(entries[3]["request_id"], "req-invite");

    // Paging walks the same entries, in the same order, without overlap.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/org/audit?limit=2&cursor={c}"),
            None => "/org/audit?limit=2".to_string(),
        };
        let page = app.send(Some(&owner), "GET", &path, None).await;
        page.expect(StatusCode::OK);
        let items = page.body["entries"].as_array().expect("entries");
        assert!(items.len() <= 2);
        paged.extend(items.iter().cloned());
        cursor = page.body["cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(paged, entries);
    app.send(Some(&owner), "GET", "/org/audit?limit=0", None)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn the_audit_log_never_shows_another_organizations_entries() {
    let app = App::new();
    let a = app.signup("Audit A").await;
    let b = app.signup("Audit B").await;
    for i in 0..3 {
        app.send_with(
            "PATCH",
            "/org",
            Some(json!({"industry": format!("Industry {i}")})),
            Opts {
                user: Some(&a),
                request_id: Some(&format!("a-change-{i}")),
                ..Opts::default()
            },
        )
        .await
        .expect(StatusCode::OK);
    }
    let b_log = app.send(Some(&b), "GET", "/org/audit", None).await;
    b_log.expect(StatusCode::OK);
    let b_entries = b_log.body["entries"].as_array().expect("entries");
    assert_eq!(b_entries.len(), 1, "only B's sign-up: {b_entries:?}");
    assert_eq!(b_entries[0]["actor_user_id"], b.user_id);
    assert!(!b_log.body.to_string().contains(&a.user_id));

    // A cursor from A's log does not open A's log to B.
    let a_page = app.send(Some(&a), "GET", "/org/audit?limit=1", None).await;
    let a_cursor = a_page.body["cursor"].as_str().expect("A has more entries").to_string();
    let reply = app
        .send(Some(&b), "GET", &format!("/org/audit?cursor={a_cursor}"), None)
        .await;
    assert!(
        !reply.body.to_string().contains("a-change-"),
        "A's entries leaked: {}",
        reply.body
    );
    reply.problem(StatusCode::BAD_REQUEST, "invalid_cursor");
}

#[tokio::test]
async fn revoked_invitations_removed_members_exports_and_failed_passwords_are_in_the_audit_log() {
    let app = App::new();
    let owner = app.signup("Audit Exports").await;
    let by_owner = |id| Opts {
        user: Some(&owner),
        request_id: Some(id),
        ..Opts::default()
    };
    let email = app.fresh_email("revoked");
    let invited = app
        .send_with(
            "POST",
            "/org/invitations",
            Some(json!({"email": email, "role": "member"})),
            by_owner("req-invite"),
        )
        .await;
    invited.expect(StatusCode::CREATED);
    let invitation_id = invited.body["id"].as_str().expect("invitation id").to_string();
    app.send_with(
        "DELETE",
        &format!("/org/invitations/{invitation_id}"),
        None,
        by_owner("req-revoke"),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let member = app.join(&owner, "member").await;
    app.send_with(
        "DELETE",
        &format!("/org/members/{}", member.user_id),
        None,
        by_owner("req-remove"),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    app.send_with(
        "GET",
        "/contacts/export?format=csv&tag=vip",
        None,
        by_owner("req-direct"),
    )
    .await
    .expect(StatusCode::OK);
    let started = app
        .send_with(
            "POST",
            "/contacts/exports",
            Some(json!({"format": "jsonl"})),
            by_owner("req-export"),
        )
        .await;
    started.expect(StatusCode::ACCEPTED);
    let export_id = started.body["id"].as_str().expect("export id").to_string();
    app.drain_jobs().await;
    app.send_with(
        "GET",
        &format!("/exports/{export_id}/download"),
        None,
        by_owner("req-download"),
    )
    .await
    .expect(StatusCode::OK);

    // Someone holding an invitation for an existing account guesses its password:
    // the account's own organization sees the failed sign-in.
    let other = app.signup("Other Practice").await;
    app.invite(&owner, &other.email, "member")
        .await
        .expect(StatusCode::CREATED);
    let token = app.invitation_token(&other.email).await;
    app.send_with(
        "POST",
        "/invitations/accept",
        Some(json!({"token": token, "password": "not-the-password-42"})),
        Opts {
            request_id: Some("req-accept-guess"),
            ..Opts::default()
        },
    )
    .await
    .problem(StatusCode::UNAUTHORIZED, "invalid_credentials");

    let log = app.send(Some(&owner), "GET", "/org/audit?limit=100", None).await;
    log.expect(StatusCode::OK);
    let entries = log.body["entries"].as_array().expect("entries").clone();
    let by_request = |id: &str| {
        let found: Vec<&Value> = entries.iter().filter(|e| e["request_id"] == id).collect();
        assert_eq!(found.len(), 1, "one entry for {id}: {entries:?}");
        let entry = found[0].clone();
        assert_eq!(entry["actor_user_id"], owner.user_id.as_str(), "{entry}");
        assert_eq!(entry["ip"], "203.0.113.9", "{entry}");
        assert_eq!(entry["user_agent"], USER_AGENT, "{entry}");
        entry
    };
    let revoked = by_request("req-revoke");
    assert_eq!(revoked["action"], "invitation.revoked");
    assert_eq!(revoked["target"], format!("invitation:{invitation_id}"));
    let removed = by_request("req-remove");
    assert_eq!(removed["action"], "member.removed");
    assert_eq!(removed["target"], format!("user:{}", member.user_id));
    let direct = by_request("req-direct");
    assert_eq!(direct["action"], "contacts.export");
    assert_eq!(direct["detail"]["direct"], true);
    assert_eq!(direct["detail"]["format"], "csv");
    assert_eq!(direct["detail"]["filter"]["contacts"]["tag"], "vip");
    let job = by_request("req-export");
    assert_eq!(job["action"], "contacts.export");
    assert_eq!(job["target"], format!("export:{export_id}"));
    assert_eq!(job["detail"]["format"], "jsonl");
    let downloaded = by_request("req-download");
    assert_eq!(downloaded["action"], "export.downloaded");
    assert_eq!(downloaded["target"], format!("export:{export_id}"));
    assert_eq!(downloaded["detail"]["file_name"], format!("contacts-{export_id}.jsonl"));
    assert!(
        !entries.iter().any(|e| e["request_id"] == "req-accept-guess"),
        "the inviting organization is not told"
    );

    let other_log = app.send(Some(&other), "GET", "/org/audit", None).await;
    let guessed: Vec<&Value> = other_log.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["request_id"] == "req-accept-guess")
        .collect();
    assert_eq!(guessed.len(), 1, "{}", other_log.body);
    assert_eq!(guessed[0]["action"], "auth.login_failed");
    assert_eq!(guessed[0]["actor_user_id"], Value::Null);
    assert_eq!(guessed[0]["target"], format!("user:{}", other.user_id));
    assert_eq!(guessed[0]["ip"], "203.0.113.9");
    assert!(!other_log.body.to_string().contains("not-the-password"));
}

// ---------------------------------------------------------------- tenancy walker

/// Org A (an owner and a plain member) and org B (its owner), on one app
/// whose clock only moves when a producer needs time to pass.
struct World {
    app: App,
    clock: TestClock,
    a_owner: User,
    a_member: User,
    b_owner: User,
}

/// Makes a real object in org B and returns its id, for one path parameter.
type ForeignId = for<'a> fn(&'a World) -> BoxFuture<'a, String>;

/// Producers of org-B ids, keyed by the collection segment and parameter
/// of the path (`members/{userId}` in `/org/members/{userId}`; a nested
/// `/contacts/{id}/notes/{noteId}` needs `contacts/{id}` and `notes/{noteId}`).
/// A session route with a parameter missing here fails the walker, naming
/// the route: add a producer that creates a real object in org B.
fn foreign_ids() -> HashMap<&'static str, ForeignId> {
    HashMap::from([
        ("members/{userId}", foreign_member as ForeignId),
        ("invitations/{invitationId}", foreign_invitation as ForeignId),
        ("contacts/{contactId}", foreign_contact as ForeignId),
        ("notes/{noteId}", foreign_note as ForeignId),
        ("tags/{tag}", foreign_tag as ForeignId),
        ("fields/{fieldId}", foreign_field as ForeignId),
        ("pipelines/{id}", foreign_pipeline as ForeignId),
        ("deals/{id}", foreign_deal as ForeignId),
        ("schedules/{id}", foreign_schedule as ForeignId),
        ("event-types/{id}", foreign_event_type as ForeignId),
        ("exports/{id}", foreign_export as ForeignId),
        ("appointments/{id}", foreign_booking as ForeignId),
        ("imports/{id}", foreign_import as ForeignId),
        ("views/{id}", foreign_view as ForeignId),
        ("webhooks/{endpointId}", foreign_webhook as ForeignId),
        ("deliveries/{deliveryId}", foreign_webhook_delivery as ForeignId),
        ("forms/{formId}", foreign_form as ForeignId),
        ("submissions/{submissionId}", foreign_submission as ForeignId),
    ])
}

/// Routes whose own-organization call succeeds only for an object in a
/// particular state: their producer makes one in that state.
fn foreign_id_for_route(name: &str) -> Option<ForeignId> {
    match name {
        "appointments-confirm" | "appointments-decline" => Some(foreign_pending_booking),
        "appointments-no-show" => Some(foreign_started_booking),
        "imports-append-part" => Some(foreign_uploading_import),
        _ => None,
    }
}

/// Org B's public booking page for an event type on a schedule open every
/// day from 09:00 to 17:00 UTC: returns the public path `/public/booking/<org>/<event>`.
async fn walker_booking_page(world: &World, requires_confirmation: bool) -> String {
    let day = json!([{"start": "09:00", "end": "17:00"}]);
    let weekly: serde_json::Map<String, Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .into_iter()
    .map(|d| (d.to_string(), day.clone()))
    .collect();
    let schedule = created_in_b(
        world,
        "/schedules",
        json!({"name": "Walker all week", "time_zone": "UTC", "weekly": weekly}),
    )
    .await;
    let slug = world
        .app
        .fresh_email("walker-visit")
        .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        .to_lowercase();
    let body = json!({"title": "Walker visit", "slug": slug, "durations": [30], "schedule_id": schedule["id"], "requires_confirmation": requires_confirmation});
    let event = created_in_b(world, "/event-types", body).await;
    let org = world.app.send(Some(&world.b_owner), "GET", "/org", None).await;
    org.expect(StatusCode::OK);
    format!(
        "/public/booking/{}/{}",
        org.body["slug"].as_str().expect("org slug"),
        event["slug"].as_str().expect("event slug")
    )
}

/// The first free start on a booking page, from its slots for the next two days.
async fn first_free_start(world: &World, page: &str) -> Timestamp {
    let now = world.clock.now();
    let day = |t: Timestamp| t.strftime("%Y-%m-%d").to_string();
    let later = now.checked_add(SignedDuration::from_hours(48)).expect("in range");
    let reply = world
        .app
        .send(
            None,
            "GET",
            &format!("{page}/slots?from={}&to={}&tz=UTC", day(now), day(later)),
            None,
        )
        .await;
    reply.expect(StatusCode::OK);
    let start = reply.body["days"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["slots"].as_array().cloned().unwrap_or_default())
        .filter_map(|slot| slot["start"].as_str().and_then(|s| s.parse::<Timestamp>().ok()))
        .next();
    start.unwrap_or_else(|| panic!("no free slot on {page}: {}", reply.body))
}

/// A booking of org B at the first free start of `page`: its id.
async fn walker_book(world: &World, page: &str) -> (String, Timestamp) {
    let start = first_free_start(world, page).await;
    let body = json!({"start": start.to_string(), "name": "Walker Guest", "email": "guest@tenant-b.example", "time_zone": "UTC"});
    let reply = world
        .app
        .send(None, "POST", &format!("{page}/bookings"), Some(body))
        .await;
    reply.expect(StatusCode::CREATED);
    let id = reply.body["booking"]["id"].as_str().expect("booking id").to_string();
    (id, start)
}

/// A confirmed upcoming booking of org B.
fn foreign_booking(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let page = walker_booking_page(world, false).await;
        walker_book(world, &page).await.0
    })
}

/// A booking of org B that waits for the host's confirmation.
fn foreign_pending_booking(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let page = walker_booking_page(world, true).await;
        walker_book(world, &page).await.0
    })
}

/// A confirmed booking of org B whose start has just passed.
fn foreign_started_booking(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let page = walker_booking_page(world, false).await;
        let (id, start) = walker_book(world, &page).await;
        world
            .clock
            .set(start.checked_add(SignedDuration::from_mins(1)).expect("in range"));
        id
    })
}

/// A finished import of org B with one invalid row (so it has an error report).
fn foreign_import(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let csv = "first_name,email\nWalker,walker-import@tenant-b.example\nBroken,not-an-email\n";
        let reply = world
            .app
            .send_with(
                "POST",
                "/imports/contacts",
                None,
                Opts {
                    user: Some(&world.b_owner),
                    csv: Some(csv),
                    ..Opts::default()
                },
            )
            .await;
        reply.expect(StatusCode::ACCEPTED);
        world.app.drain_jobs().await;
        reply.body["id"].as_str().expect("import id").to_string()
    })
}

/// An import of org B still taking parts.
fn foreign_uploading_import(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let reply = world
            .app
            .send_with(
                "POST",
                "/imports/contacts?more_parts=true",
                None,
                Opts {
                    user: Some(&world.b_owner),
                    csv: Some("first_name,email\nWalker,walker-part@tenant-b.example\n"),
                    ..Opts::default()
                },
            )
            .await;
        reply.expect(StatusCode::ACCEPTED);
        assert_eq!(reply.body["state"], "uploading", "{}", reply.body);
        reply.body["id"].as_str().expect("import id").to_string()
    })
}

/// A finished contacts export of org B (its job run), so its download exists.
fn foreign_export(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let reply = world
            .app
            .send(
                Some(&world.b_owner),
                "POST",
                "/contacts/exports",
                Some(json!({"format": "csv"})),
            )
            .await;
        reply.expect(StatusCode::ACCEPTED);
        world.app.drain_jobs().await;
        reply.body["id"].as_str().expect("export id").to_string()
    })
}

/// Makes something in org B with `body` and returns its id (and the whole reply body).
async fn created_in_b(world: &World, path: &str, body: Value) -> Value {
    let reply = world.app.send(Some(&world.b_owner), "POST", path, Some(body)).await;
    reply.expect(StatusCode::CREATED);
    reply.body
}

async fn walker_pipeline(world: &World) -> Value {
    let stages = json!([{"name": "Lead"}, {"name": "Won", "probability": 100}]);
    created_in_b(
        world,
        "/pipelines",
        json!({"name": "Walker pipeline", "stages": stages}),
    )
    .await
}

fn foreign_pipeline(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        walker_pipeline(world).await["id"]
            .as_str()
            .expect("pipeline id")
            .to_string()
    })
}

fn foreign_deal(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let contact = walker_contact(world).await;
        let pipeline = walker_pipeline(world).await;
        let body = json!({"title": "Walker deal", "contact_id": contact, "pipeline_id": pipeline["id"], "value": 1000, "currency": "EUR"});
        created_in_b(world, "/deals", body).await["id"]
            .as_str()
            .expect("deal id")
            .to_string()
    })
}

async fn walker_schedule(world: &World) -> String {
    let day = json!([{"start": "09:00", "end": "17:00"}]);
    let body = json!({"name": "Walker hours", "time_zone": "Europe/London", "weekly": {"monday": day, "tuesday": day}});
    created_in_b(world, "/schedules", body).await["id"]
        .as_str()
        .expect("schedule id")
        .to_string()
}

fn foreign_schedule(world: &World) -> BoxFuture<'_, String> {
    Box::pin(walker_schedule(world))
}

fn foreign_event_type(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let schedule = walker_schedule(world).await;
        let slug = world
            .app
            .fresh_email("walker")
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
            .to_lowercase();
        let body = json!({"title": "Walker visit", "slug": slug, "durations": [30], "schedule_id": schedule});
        created_in_b(world, "/event-types", body).await["id"]
            .as_str()
            .expect("event type id")
            .to_string()
    })
}

/// Org B's walker contact (made again if a walked route deleted it), so a
/// note and the contact it hangs on belong together.
async fn walker_contact(world: &World) -> String {
    let body = json!({"first_name": "Walker", "emails": ["walker@tenant-b.example"]});
    let reply = world
        .app
        .send(Some(&world.b_owner), "POST", "/contacts?upsert=true", Some(body))
        .await;
    assert!(reply.status.is_success(), "walker contact: {}", reply.body);
    reply.body["id"].as_str().expect("contact id").to_string()
}

fn foreign_contact(world: &World) -> BoxFuture<'_, String> {
    Box::pin(walker_contact(world))
}

fn foreign_note(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let contact = walker_contact(world).await;
        let reply = world
            .app
            .send(
                Some(&world.b_owner),
                "POST",
                &format!("/contacts/{contact}/notes"),
                Some(json!({"body": "walker"})),
            )
            .await;
        reply.expect(StatusCode::CREATED);
        reply.body["id"].as_str().expect("note id").to_string()
    })
}

/// A webhook endpoint of org B for new contacts, at a closed loopback port
/// (its deliveries fail at once, and are logged).
fn foreign_webhook(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let body = json!({"url": "http://127.0.0.1:9/walker", "events": ["contact.created"]});
        created_in_b(world, "/org/webhooks", body).await["id"]
            .as_str()
            .expect("endpoint id")
            .to_string()
    })
}

/// A logged delivery of org B's newest webhook endpoint (the one the
/// route's `webhooks/{endpointId}` producer just made): a new contact's.
fn foreign_webhook_delivery(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let listed = world.app.send(Some(&world.b_owner), "GET", "/org/webhooks", None).await;
        listed.expect(StatusCode::OK);
        let newest = listed.body["items"]
            .as_array()
            .and_then(|items| items.iter().filter_map(|e| e["id"].as_str()).max())
            .expect("org B has an endpoint")
            .to_string();
        let email = world.app.fresh_email("walker-hook");
        created_in_b(world, "/contacts", json!({"first_name": "Hook", "emails": [email]})).await;
        world.app.drain_jobs().await;
        let log = world
            .app
            .send(
                Some(&world.b_owner),
                "GET",
                &format!("/org/webhooks/{newest}/deliveries"),
                None,
            )
            .await;
        log.expect(StatusCode::OK);
        log.body["items"][0]["id"].as_str().expect("a delivery").to_string()
    })
}

/// A saved view of org B's owner (views are each member's own).
fn walker_form_body(title: &str) -> Value {
    json!({"title": title, "fields": [{"key": "email", "kind": "email", "label": "Email", "required": true}]})
}

fn foreign_form(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let form = created_in_b(world, "/forms", walker_form_body("Walker form")).await;
        form["id"].as_str().expect("form id").to_string()
    })
}

/// A submission to org B's newest form (the one the route's `formId` names:
/// the walker produces the form's id first).
fn foreign_submission(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        use konnecs::domain::ids::FormId;
        use konnecs::services::forms::{definitions, render_token};
        let listed = world.app.send(Some(&world.b_owner), "GET", "/forms", None).await;
        listed.expect(StatusCode::OK);
        let newest = listed.body["items"]
            .as_array()
            .and_then(|items| items.last())
            .expect("a form of org B")
            .clone();
        let form_id = FormId::from(newest["id"].as_str().expect("form id"));
        let record = definitions::get_record(
            world.app.state.table.as_ref(),
            &OrgId::from(world.b_owner.org_id.as_str()),
            &form_id,
        )
        .await
        .expect("the form");
        let now_ms = world.clock.now().as_millisecond();
        let rendered = render_token::stamp(&record.render_secret, &record.public_id, now_ms - 10_000);
        let body = json!({"answers": {"email": format!("walker-{}@tenant-b.example", uuid::Uuid::now_v7().simple())}, "rendered": rendered});
        let reply = world
            .app
            .send(
                None,
                "POST",
                &format!("/public/forms/{}/submissions", record.public_id),
                Some(body),
            )
            .await;
        reply.expect(StatusCode::CREATED);
        reply.body["submission_id"].as_str().expect("submission id").to_string()
    })
}

fn foreign_view(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let reply = world
            .app
            .send(
                Some(&world.b_owner),
                "POST",
                "/contacts/views",
                Some(json!({"name": format!("walker {}", uuid::Uuid::now_v7().simple()), "filters": {"tag": "vip"}})),
            )
            .await;
        reply.expect(StatusCode::CREATED);
        reply.body["id"].as_str().expect("view id").to_string()
    })
}

fn foreign_tag(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let contact = walker_contact(world).await;
        world
            .app
            .send(
                Some(&world.b_owner),
                "PATCH",
                &format!("/contacts/{contact}"),
                Some(json!({"add_tags": ["walker-tag"]})),
            )
            .await
            .expect(StatusCode::OK);
        "walker-tag".to_string()
    })
}

fn foreign_field(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let key = world
            .app
            .fresh_email("walker")
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let body = json!({"label": "Walker field", "key": key, "type": "text"});
        let reply = world
            .app
            .send(Some(&world.b_owner), "POST", "/fields", Some(body))
            .await;
        reply.expect(StatusCode::CREATED);
        reply.body["id"].as_str().expect("field id").to_string()
    })
}

fn foreign_member(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move { world.app.join(&world.b_owner, "member").await.user_id })
}

fn foreign_invitation(world: &World) -> BoxFuture<'_, String> {
    Box::pin(async move {
        let email = world.app.fresh_email("b-invitee");
        let reply = world.app.invite(&world.b_owner, &email, "member").await;
        reply.expect(StatusCode::CREATED);
        reply.body["id"].as_str().expect("invitation id").to_string()
    })
}

/// The body a route is called with by the walkers: valid apart from the ids.
fn sample_body(entry_name: &str) -> Option<Value> {
    match entry_name {
        "members-update" => Some(json!({"role": "member"})),
        "notes-create" | "notes-update" => Some(json!({"body": "walker note"})),
        "contacts-email" => Some(json!({"subject": "Walker", "body": "walker email"})),
        "tags-rename" => Some(json!({"name": "walker-renamed"})),
        "pipelines-update" => Some(json!({"name": "Walker pipeline, renamed"})),
        "deals-update" => Some(json!({"title": "Walker deal, renamed"})),
        "schedules-update" => Some(json!({"name": "Walker hours, renamed"})),
        "event-types-update" => Some(json!({"title": "Walker visit, renamed"})),
        "forms-update" => Some(walker_form_body("Walker form, renamed")),
        _ => Some(json!({})),
    }
}

/// The producer keys of a route path's parameters, e.g. `members/{userId}`.
fn param_keys(path: &str) -> Vec<String> {
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .filter(|(_, segment)| segment.starts_with('{'))
        .map(|(i, segment)| match i.checked_sub(1).and_then(|p| segments.get(p)) {
            Some(collection) => format!("{collection}/{segment}"),
            None => (*segment).to_string(),
        })
        .collect()
}

/// The JSON API's session routes. The staff app's pages (under `/app`, and
/// the sign-out button) answer as pages: a refusal is a page or a redirect
/// to the sign-in page, not a problem document; `tests/web_pages` holds
/// their session, CSRF and tenancy checks.
fn session_routes() -> Vec<(&'static str, &'static str, &'static str)> {
    catalogue::entries()
        .iter()
        .filter(|entry| entry.auth == Auth::Session)
        .filter(|entry| {
            !entry
                .http()
                .is_some_and(|(_, path)| path == "/app" || path.starts_with("/app/") || path == "/sign-out")
        })
        .filter_map(|entry| entry.http().map(|(method, path)| (entry.name, method.as_str(), path)))
        .collect()
}

fn body_for(method: &str, name: &str) -> Option<Value> {
    if method == "GET" { None } else { sample_body(name) }
}

/// What the walker sends a route once its path holds org B's id `id`.
enum Payload {
    Json(Option<Value>),
    Csv(&'static str),
}

async fn walker_payload(world: &World, name: &str, method: &str, concrete: &str) -> Payload {
    match name {
        // A CSV part, as uploads send them.
        "imports-append-part" => Payload::Csv("Walker,walker-second@tenant-b.example\n"),
        // A free start of the booking's own event type.
        "appointments-reschedule" => {
            let booking = concrete.trim_end_matches("/reschedule");
            let shown = world.app.send(Some(&world.b_owner), "GET", booking, None).await;
            shown.expect(StatusCode::OK);
            let event_type = shown.body["event_type_id"].as_str().expect("event type id");
            let event = world
                .app
                .send(Some(&world.b_owner), "GET", &format!("/event-types/{event_type}"), None)
                .await;
            let org = world.app.send(Some(&world.b_owner), "GET", "/org", None).await;
            let page = format!(
                "/public/booking/{}/{}",
                org.body["slug"].as_str().expect("org slug"),
                event.body["slug"].as_str().expect("event slug")
            );
            let start = first_free_start(world, &page).await;
            Payload::Json(Some(json!({"start": start.to_string()})))
        }
        _ => Payload::Json(body_for(method, name)),
    }
}

impl World {
    async fn send_payload(&self, caller: &User, method: &str, path: &str, payload: &Payload) -> Reply {
        let (body, csv) = match payload {
            Payload::Json(body) => (body.clone(), None),
            Payload::Csv(csv) => (None, Some(*csv)),
        };
        self.app
            .send_with(
                method,
                path,
                body,
                Opts {
                    user: Some(caller),
                    csv,
                    ..Opts::default()
                },
            )
            .await
    }
}

/// The path with every parameter replaced by a placeholder id.
fn with_placeholders(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "0193a6f2c1d87b3e9f4a52c6d8e1b7a0"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_session_route_answers_not_found_for_another_organizations_ids() {
    // Monday 2 March 2026, 08:00 UTC: org B's bookings fall on the days after.
    let clock = TestClock::at("2026-03-02T08:00:00Z".parse().expect("timestamp"));
    let app = App::with_clock(&clock);
    let a_owner = app.signup("Tenant A").await;
    let a_member = app.join(&a_owner, "member").await;
    let b_owner = app.signup("Tenant B").await;
    let world = World {
        app,
        clock,
        a_owner,
        a_member,
        b_owner,
    };
    let producers = foreign_ids();
    let mut walked = Vec::new();
    let mut unfillable = Vec::new();
    for (name, method, path) in session_routes() {
        let keys = param_keys(path);
        if keys.is_empty() {
            continue;
        }
        let missing: Vec<&String> = keys.iter().filter(|k| !producers.contains_key(k.as_str())).collect();
        if !missing.is_empty() {
            unfillable.push(format!("{name} ({method} {path}) needs {missing:?}"));
            continue;
        }
        // A fresh foreign object per route: earlier calls may have changed or removed one.
        let mut concrete = path.to_string();
        for key in &keys {
            let produce = match foreign_id_for_route(name) {
                Some(special) if keys.len() == 1 => special,
                _ => producers[key.as_str()],
            };
            let id = produce(&world).await;
            let param = key.rsplit('/').next().unwrap_or(key);
            concrete = concrete.replacen(param, &id, 1);
        }
        let payload = walker_payload(&world, name, method, &concrete).await;
        for caller in [&world.a_owner, &world.a_member] {
            let reply = world.send_payload(caller, method, &concrete, &payload).await;
            assert_eq!(
                (reply.status, reply.body["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found")),
                "{name}: {method} {concrete} as org A's {} must be a plain 404: {}",
                if caller.user_id == world.a_owner.user_id {
                    "owner"
                } else {
                    "member"
                },
                reply.body
            );
        }
        // The id is real: its own organization finds it.
        let own = world.send_payload(&world.b_owner, method, &concrete, &payload).await;
        // Email from Gmail needs a Google connection the walker does not
        // make: refused for the connection, the contact itself was found.
        let needs_google = name == "contacts-email" && own.body["code"] == "google_not_connected";
        assert!(
            own.status.is_success() || needs_google,
            "{name}: org B's owner must find its own id ({method} {concrete}): {} {}",
            own.status,
            own.body
        );
        walked.push(name);
    }
    for expected in [
        "members-update",
        "members-remove",
        "invitations-revoke",
        "contacts-get",
        "notes-update",
        "tags-rename",
        "fields-delete",
        "pipelines-get",
        "pipelines-update",
        "pipelines-board",
        "deals-get",
        "deals-delete",
        "schedules-update",
        "event-types-get",
        "event-types-delete",
        "exports-get",
        "exports-download",
        "appointments-get",
        "appointments-cancel",
        "appointments-reschedule",
        "appointments-confirm",
        "appointments-decline",
        "appointments-no-show",
        "imports-get",
        "imports-append-part",
        "imports-errors",
        "imports-errors-export",
        "contacts-views-delete",
        "webhooks-update",
        "webhooks-delete",
        "webhooks-rotate-secret",
        "webhooks-deliveries",
        "webhooks-redeliver",
        "forms-get",
        "forms-update",
        "forms-delete",
        "form-submissions-list",
        "form-submissions-get",
        "form-submissions-delete",
        "form-submissions-export",
    ] {
        assert!(walked.contains(&expected), "{expected} was not walked: {walked:?}");
    }
    assert!(
        unfillable.is_empty(),
        "the tenancy walker cannot fill these session routes' path parameters; add producers of \
         org-B ids to foreign_ids() in tests/api/org.rs:\n  {}",
        unfillable.join("\n  ")
    );
}

#[tokio::test]
async fn every_session_route_requires_a_session() {
    let app = App::new();
    let stale = User {
        email: "nobody@example.com".into(),
        user_id: String::new(),
        org_id: String::new(),
        cookie: "__Host-konnecs_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        csrf: "AAAA".into(),
    };
    let routes = session_routes();
    assert!(routes.len() >= 10, "{routes:?}");
    for (name, method, path) in routes {
        let path = with_placeholders(path);
        for user in [None, Some(&stale)] {
            let reply = app.send(user, method, &path, body_for(method, name)).await;
            assert_eq!(
                (reply.status, reply.body["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
                "{name}: {method} {path} with {}: {}",
                if user.is_some() {
                    "an unknown session cookie"
                } else {
                    "no cookie"
                },
                reply.body
            );
        }
    }
}

#[tokio::test]
async fn every_state_changing_session_route_requires_the_sessions_csrf_token() {
    let app = App::new();
    let owner = app.signup("Csrf Dental").await;
    let other = app.signup("Other Dental").await;
    let mut checked = 0;
    for (name, method, path) in session_routes() {
        if method == "GET" {
            continue;
        }
        let path = with_placeholders(path);
        for csrf in [None, Some(other.csrf.as_str()), Some("not-a-token")] {
            let reply = app
                .send_with(
                    method,
                    &path,
                    body_for(method, name),
                    Opts {
                        user: Some(&owner),
                        csrf: Some(csrf),
                        ..Opts::default()
                    },
                )
                .await;
            assert_eq!(
                (reply.status, reply.body["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("csrf_token_invalid")),
                "{name}: {method} {path} with CSRF token {csrf:?}: {}",
                reply.body
            );
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} state-changing session routes");
    // The session itself is unharmed (nothing was logged out or changed).
    app.send(Some(&owner), "GET", "/me", None).await.expect(StatusCode::OK);
    let org = app.send(Some(&owner), "GET", "/org", None).await;
    assert_eq!(org.body["version"], 1);
}
