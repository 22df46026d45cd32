//! Accounts and sessions through the router on the embedded store: sign-up,
//! email verification, login, sessions, CSRF, throttling, password reset and
//! profile changes, with their documented problem codes.

use std::sync::Arc;

use axum::Router;
use http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use konnecs::app::AppState;
use konnecs::catalogue;
use konnecs::inbound::http::router;
use konnecs::ports::{Clock, TestClock};
use konnecs_tests::http::{Browser, Reply, SESSION_COOKIE};
use konnecs_tests::local::{drain_jobs, outbox, temp_state_with_clock, token_from_outbox};
use serde_json::{Value, json};

const PASSWORD: &str = "molar-crown-42-bridge";

struct World {
    app: Router,
    state: AppState,
    clock: TestClock,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let clock = TestClock::at(Timestamp::from_second(1_790_000_000).unwrap());
    let (state, dir) = temp_state_with_clock(Arc::new(clock.clone()));
    World {
        app: router(state.clone(), catalogue::entries()),
        state,
        clock,
        _dir: dir,
    }
}

fn signup_body(email: &str) -> Value {
    json!({"name": "Dana Whitfield", "email": email, "password": PASSWORD, "business_name": "Whitfield Dental"})
}

async fn signup(w: &World, email: &str) -> (Browser, Reply) {
    let reply = Browser::anonymous()
        .send(&w.app, "POST", "/auth/signup", Some(&signup_body(email)))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (Browser::from_reply(&reply), reply)
}

async fn login(w: &World, email: &str, password: &str) -> Reply {
    Browser::anonymous()
        .send(
            &w.app,
            "POST",
            "/auth/login",
            Some(&json!({"email": email, "password": password})),
        )
        .await
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], "application/problem+json");
    assert_eq!(reply.body["code"], code, "{}", reply.body);
}

fn field_codes(reply: &Reply) -> Vec<(String, String)> {
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

#[tokio::test]
async fn signup_creates_owner_session_with_secure_cookies_and_a_verification_email() {
    let w = world();
    let (browser, reply) = signup(&w, "  Dana@Whitfield-Dental.example ").await;
    let cookies = reply.set_cookies();
    let session = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("session cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{attribute} missing in {session}");
    }
    let token = browser.session.clone().unwrap();
    assert!(token.len() >= 43, "at least 256 bits, base64url");
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-konnecs_csrf=") && !c.contains("HttpOnly"))
    );

    let me = browser.send(&w.app, "GET", "/me", None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "dana@whitfield-dental.example", "normalized");
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["email_verified"], false);

    let mail = outbox(&w.state).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["to"], "dana@whitfield-dental.example");
    assert_eq!(mail[0]["kind"], "verify_email");
    assert!(
        mail[0]["mime"]
            .as_str()
            .unwrap()
            .contains("Subject: Confirm your email address")
    );
}

#[tokio::test]
async fn session_token_is_stored_only_as_a_hash() {
    let w = world();
    let (browser, _) = signup(&w, "dana@whitfield-dental.example").await;
    let token = browser.session.unwrap();
    let page = w
        .state
        .table
        .query(&konnecs::ports::Query::partition(format!(
            "SESSION#{}",
            konnecs::domain::token::token_hash(&token)
        )))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(
        !serde_json::to_string(&page.items).unwrap().contains(&token),
        "raw token stored"
    );
}

#[tokio::test]
async fn signup_rejections_name_the_failing_fields() {
    let w = world();
    let bad =
        json!({"name": " ", "email": "not-an-email", "password": "short", "business_name": "", "website": "ftp:/x"});
    let reply = Browser::anonymous()
        .send(&w.app, "POST", "/auth/signup", Some(&bad))
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let fields = field_codes(&reply);
    for expected in [
        ("name", "required"),
        ("email", "invalid_email"),
        ("business_name", "required"),
        ("website", "invalid_url"),
    ] {
        assert!(
            fields.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {fields:?}"
        );
    }

    for (password, code) in [
        ("short", "password_too_short"),
        ("Password123", "password_too_common"),
        ("dana@whitfield-dental.example", "password_equals_email"),
    ] {
        let body = json!({"name": "Dana", "email": "dana@whitfield-dental.example", "password": password, "business_name": "W"});
        let reply = Browser::anonymous()
            .send(&w.app, "POST", "/auth/signup", Some(&body))
            .await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(field_codes(&reply), vec![("password".to_string(), code.to_string())]);
    }
    assert!(
        outbox(&w.state).await.is_empty(),
        "nothing written for rejected sign-ups"
    );
}

#[tokio::test]
async fn one_account_per_email_case_insensitively() {
    let w = world();
    signup(&w, "dana@whitfield-dental.example").await;
    let reply = Browser::anonymous()
        .send(
            &w.app,
            "POST",
            "/auth/signup",
            Some(&signup_body("DANA@whitfield-dental.example")),
        )
        .await;
    assert_problem(&reply, StatusCode::CONFLICT, "email_taken");
}

#[tokio::test]
async fn verification_link_from_the_outbox_verifies_once() {
    let w = world();
    let (browser, _) = signup(&w, "dana@whitfield-dental.example").await;
    let token = token_from_outbox(&w.state, "dana@whitfield-dental.example", "/verify-email").await;
    let reply = Browser::anonymous()
        .send(&w.app, "POST", "/auth/verify-email", Some(&json!({"token": token})))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(
        browser.send(&w.app, "GET", "/me", None).await.body["email_verified"],
        true
    );

    let again = Browser::anonymous()
        .send(&w.app, "POST", "/auth/verify-email", Some(&json!({"token": token})))
        .await;
    assert_problem(&again, StatusCode::BAD_REQUEST, "invalid_token");
    assert_eq!(again.body["errors"][0]["field"], "token");
}

#[tokio::test]
async fn verification_link_expires_after_48_hours() {
    let w = world();
    signup(&w, "dana@whitfield-dental.example").await;
    let token = token_from_outbox(&w.state, "dana@whitfield-dental.example", "/verify-email").await;
    w.clock.advance(SignedDuration::from_hours(49));
    let reply = Browser::anonymous()
        .send(&w.app, "POST", "/auth/verify-email", Some(&json!({"token": token})))
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "invalid_token");
}

#[tokio::test]
async fn login_issues_a_new_session_id_each_time() {
    let w = world();
    let (first, _) = signup(&w, "dana@whitfield-dental.example").await;
    let second = login(&w, "dana@whitfield-dental.example", PASSWORD).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let second = Browser::from_reply(&second);
    let third = Browser::from_reply(&login(&w, "Dana@Whitfield-Dental.example", PASSWORD).await);
    assert_ne!(first.session, second.session);
    assert_ne!(second.session, third.session);
    for browser in [&first, &second, &third] {
        assert_eq!(browser.send(&w.app, "GET", "/me", None).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn unknown_and_known_emails_get_identical_login_failures() {
    let w = world();
    signup(&w, "dana@whitfield-dental.example").await;
    let known = login(&w, "dana@whitfield-dental.example", "wrong-password-123").await;
    let unknown = login(&w, "nobody@whitfield-dental.example", "wrong-password-123").await;
    assert_problem(&known, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(known.status, unknown.status);
    let strip = |mut body: Value| {
        body.as_object_mut().unwrap().remove("request_id");
        body
    };
    assert_eq!(
        strip(known.body.clone()),
        strip(unknown.body.clone()),
        "same body apart from the request id"
    );
    assert!(known.cookie(SESSION_COOKIE).is_none() && unknown.cookie(SESSION_COOKIE).is_none());
}

#[tokio::test]
async fn locked_account_is_refused_even_with_the_right_password_until_the_lockout_ends() {
    let w = world();
    signup(&w, "dana@whitfield-dental.example").await;
    for _ in 0..5 {
        assert_eq!(
            login(&w, "dana@whitfield-dental.example", "wrong-password-123")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = login(&w, "dana@whitfield-dental.example", PASSWORD).await;
    assert_problem(&locked, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(locked.headers["retry-after"], "30");

    // The same lockout for an email nobody registered: nothing to tell them apart.
    for _ in 0..5 {
        login(&w, "ghost@whitfield-dental.example", "wrong-password-123").await;
    }
    let ghost = login(&w, "ghost@whitfield-dental.example", PASSWORD).await;
    assert_problem(&ghost, StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    w.clock.advance(SignedDuration::from_secs(29));
    assert_eq!(
        login(&w, "dana@whitfield-dental.example", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    w.clock.advance(SignedDuration::from_secs(2));
    assert_eq!(
        login(&w, "dana@whitfield-dental.example", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn lockout_grows_exponentially_with_further_failures() {
    let w = world();
    signup(&w, "dana@whitfield-dental.example").await;
    for _ in 0..5 {
        login(&w, "dana@whitfield-dental.example", "wrong-password-123").await;
    }
    w.clock.advance(SignedDuration::from_secs(31));
    login(&w, "dana@whitfield-dental.example", "wrong-password-123").await; // sixth failure: 60 s
    let locked = login(&w, "dana@whitfield-dental.example", PASSWORD).await;
    assert_eq!(locked.headers["retry-after"], "60");
}

#[tokio::test]
async fn many_failures_from_one_ip_are_refused_across_accounts() {
    let w = world();
    let mut browser = Browser::anonymous();
    browser.ip = Some("198.51.100.7".into());
    for n in 0..100 {
        let body = json!({"email": format!("user{n}@example.com"), "password": "wrong-password-123"});
        browser.send(&w.app, "POST", "/auth/login", Some(&body)).await;
    }
    let body = json!({"email": "fresh@example.com", "password": "wrong-password-123"});
    let reply = browser.send(&w.app, "POST", "/auth/login", Some(&body)).await;
    assert_problem(&reply, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let mut other = Browser::anonymous();
    other.ip = Some("198.51.100.8".into());
    assert_eq!(
        other.send(&w.app, "POST", "/auth/login", Some(&body)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn state_changing_request_without_or_with_a_wrong_csrf_token_is_refused() {
    let w = world();
    let (browser, _) = signup(&w, "dana@whitfield-dental.example").await;
    let patch = json!({"name": "Dana W."});
    let mut without = browser.clone();
    without.csrf = None;
    assert_problem(
        &without.send(&w.app, "PATCH", "/me", Some(&patch)).await,
        StatusCode::FORBIDDEN,
        "csrf_token_invalid",
    );
    let mut wrong = browser.clone();
    wrong.csrf = Some(konnecs::services::secrets::csrf_token("another-session"));
    assert_problem(
        &wrong.send(&w.app, "PATCH", "/me", Some(&patch)).await,
        StatusCode::FORBIDDEN,
        "csrf_token_invalid",
    );
    assert_eq!(
        browser.send(&w.app, "GET", "/me", None).await.body["name"],
        "Dana Whitfield",
        "nothing changed"
    );
    let ok = browser.send(&w.app, "PATCH", "/me", Some(&patch)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["name"], "Dana W.");
    // The token is obtainable by the signed-in client.
    let csrf = without.send(&w.app, "GET", "/auth/csrf", None).await;
    assert_eq!(csrf.body["csrf_token"].as_str(), browser.csrf.as_deref());
}

#[tokio::test]
async fn session_ends_after_idle_timeout_and_absolute_timeout() {
    let w = world();
    let (browser, _) = signup(&w, "dana@whitfield-dental.example").await;
    w.clock.advance(SignedDuration::from_hours(7));
    assert_eq!(
        browser.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::OK,
        "used within the idle timeout"
    );
    w.clock.advance(SignedDuration::from_hours(7));
    assert_eq!(
        browser.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::OK,
        "activity renewed the idle window"
    );
    w.clock.advance(SignedDuration::from_hours(9));
    assert_problem(
        &browser.send(&w.app, "GET", "/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );

    let signed_in = login(&w, "dana@whitfield-dental.example", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let active = Browser::from_reply(&signed_in);
    assert!(active.session.is_some(), "the login set a session cookie");
    // Used every 7 hours (inside the idle timeout), it lasts into its 7th
    // day: 23 uses, the last 161 hours after the login.
    for use_number in 1..=23 {
        w.clock.advance(SignedDuration::from_hours(7));
        assert_eq!(
            active.send(&w.app, "GET", "/me", None).await.status,
            StatusCode::OK,
            "use {use_number}, {} hours after the login",
            use_number * 7
        );
    }
    // Seven days and a minute after the login, only 7 hours and a minute
    // after its last use: the absolute timeout ends it, not the idle one.
    w.clock
        .advance(SignedDuration::from_hours(7) + SignedDuration::from_mins(1));
    assert_problem(
        &active.send(&w.app, "GET", "/me", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn logout_ends_this_session_and_logout_all_ends_every_session() {
    let w = world();
    let (a, _) = signup(&w, "dana@whitfield-dental.example").await;
    let b = Browser::from_reply(&login(&w, "dana@whitfield-dental.example", PASSWORD).await);
    let c = Browser::from_reply(&login(&w, "dana@whitfield-dental.example", PASSWORD).await);
    let out = a.send(&w.app, "POST", "/auth/logout", None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(out.cookie(SESSION_COOKIE).as_deref(), Some(""), "cookie cleared");
    assert_eq!(
        a.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(b.send(&w.app, "GET", "/me", None).await.status, StatusCode::OK);
    assert_eq!(
        b.send(&w.app, "POST", "/auth/logout-all", None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        b.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn password_reset_revokes_every_session_and_the_link_works_once() {
    let w = world();
    let (a, _) = signup(&w, "dana@whitfield-dental.example").await;
    let b = Browser::from_reply(&login(&w, "dana@whitfield-dental.example", PASSWORD).await);
    let forgot = Browser::anonymous()
        .send(
            &w.app,
            "POST",
            "/auth/password/forgot",
            Some(&json!({"email": "dana@whitfield-dental.example"})),
        )
        .await;
    assert_eq!(forgot.status, StatusCode::ACCEPTED);
    let token = token_from_outbox(&w.state, "dana@whitfield-dental.example", "/reset-password").await;

    let weak = Browser::anonymous()
        .send(
            &w.app,
            "POST",
            "/auth/password/reset",
            Some(&json!({"token": token, "password": "short"})),
        )
        .await;
    assert_problem(&weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let reset = json!({"token": token, "password": "new-molar-crown-43-bridge"});
    assert_eq!(
        Browser::anonymous()
            .send(&w.app, "POST", "/auth/password/reset", Some(&reset))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        a.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        b.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&w, "dana@whitfield-dental.example", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&w, "dana@whitfield-dental.example", "new-molar-crown-43-bridge")
            .await
            .status,
        StatusCode::OK
    );
    let again = Browser::anonymous()
        .send(&w.app, "POST", "/auth/password/reset", Some(&reset))
        .await;
    assert_problem(&again, StatusCode::BAD_REQUEST, "invalid_token");
}

#[tokio::test]
async fn forgot_password_answers_the_same_for_unknown_emails_and_sends_nothing() {
    let w = world();
    let reply = Browser::anonymous()
        .send(
            &w.app,
            "POST",
            "/auth/password/forgot",
            Some(&json!({"email": "nobody@example.com"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert!(outbox(&w.state).await.is_empty());
}

/// The jobs queued since the last call, read off the queue and acknowledged.
async fn queued_jobs(w: &World) -> Vec<konnecs::services::jobs::Job> {
    let received = w
        .state
        .jobs
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .expect("receive");
    let mut jobs = Vec::new();
    for message in received {
        jobs.push(serde_json::from_str(&message.body).expect("a job"));
        w.state.jobs.ack(&message.receipt).await.expect("ack");
    }
    jobs
}

#[tokio::test]
async fn forgot_password_queues_the_same_job_for_known_and_unknown_emails() {
    use konnecs::services::jobs::Job;
    let w = world();
    signup(&w, "dana@whitfield-dental.example").await;
    drain_jobs(&w.state).await;
    let mut queued = Vec::new();
    let mut request_ids = Vec::new();
    let visitor = Browser {
        ip: Some("203.0.113.7".into()),
        ..Browser::anonymous()
    };
    for email in ["dana@whitfield-dental.example", "nobody@whitfield-dental.example"] {
        let reply = visitor
            .send(&w.app, "POST", "/auth/password/forgot", Some(&json!({"email": email})))
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert_eq!(reply.bytes, b"", "{email}: the same empty answer");
        request_ids.push(reply.headers["x-request-id"].to_str().expect("id").to_string());
        let jobs = queued_jobs(&w).await;
        assert_eq!(jobs.len(), 1, "{email}: one job, {jobs:?}");
        queued.push((email, jobs.into_iter().next().expect("job")));
    }
    // The same job but for the address, a fresh token and the request's
    // origin: the request did not look the account up, the job will.
    for ((email, job), request_id) in queued.iter().zip(&request_ids) {
        let Job::PasswordReset {
            email: queued_email,
            token,
            requested_at,
            request,
        } = job
        else {
            panic!("{email}: not a password-reset job: {job:?}");
        };
        assert_eq!(queued_email, email);
        assert!(token.len() >= 43, "a 256-bit token");
        assert_eq!(*requested_at, w.clock.now().as_second());
        assert_eq!(&request.request_id, request_id);
        assert_eq!(request.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(request.user_agent.as_deref(), Some("konnecs-tests"));
    }

    // Run, the job for the known address sends the link; the other sends nothing.
    for (_, job) in &queued {
        let body = serde_json::to_string(job).expect("json");
        w.state.jobs.send_batch(vec![body]).await.expect("send");
    }
    let messages = outbox(&w.state).await;
    let resets: Vec<_> = messages.iter().filter(|m| m["kind"] == "password_reset").collect();
    assert_eq!(resets.len(), 1, "{messages:?}");
    assert_eq!(resets[0]["to"], "dana@whitfield-dental.example");

    // A redelivered job sends nothing new and the link it sent still works once.
    let Job::PasswordReset { token, .. } = &queued[0].1 else {
        unreachable!()
    };
    let again = serde_json::to_string(&queued[0].1).expect("json");
    w.state.jobs.send_batch(vec![again]).await.expect("send");
    let messages = outbox(&w.state).await;
    assert_eq!(messages.iter().filter(|m| m["kind"] == "password_reset").count(), 1);
    let reset = json!({"token": token, "password": "new-molar-crown-43-bridge"});
    assert_eq!(
        Browser::anonymous()
            .send(&w.app, "POST", "/auth/password/reset", Some(&reset))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Delivered once more after the reset, the job does not bring the used token back.
    let late = serde_json::to_string(&queued[0].1).expect("json");
    w.state.jobs.send_batch(vec![late]).await.expect("send");
    drain_jobs(&w.state).await;
    let reuse = Browser::anonymous()
        .send(&w.app, "POST", "/auth/password/reset", Some(&reset))
        .await;
    assert_problem(&reuse, StatusCode::BAD_REQUEST, "invalid_token");

    // The known account's organization saw the request once, anonymous,
    // with where it came from; the unknown address left no trace.
    let owner = Browser::from_reply(&login(&w, "dana@whitfield-dental.example", "new-molar-crown-43-bridge").await);
    let audit = owner.send(&w.app, "GET", "/org/audit", None).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let requested: Vec<&Value> = audit.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "auth.password_reset_requested")
        .collect();
    assert_eq!(requested.len(), 1, "{}", audit.body);
    assert_eq!(requested[0]["actor_user_id"], Value::Null);
    assert_eq!(requested[0]["ip"], "203.0.113.7");
    assert_eq!(requested[0]["user_agent"], "konnecs-tests");
    assert_eq!(requested[0]["request_id"], request_ids[0].as_str());
}

#[tokio::test]
async fn password_change_needs_the_current_password_and_revokes_other_sessions() {
    let w = world();
    let (a, _) = signup(&w, "dana@whitfield-dental.example").await;
    let b = Browser::from_reply(&login(&w, "dana@whitfield-dental.example", PASSWORD).await);
    let wrong = a
        .send(
            &w.app,
            "PATCH",
            "/me",
            Some(&json!({"current_password": "nope-nope-nope", "new_password": "new-molar-crown-43-bridge"})),
        )
        .await;
    assert_problem(&wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        field_codes(&wrong),
        vec![("current_password".to_string(), "wrong_password".to_string())]
    );
    let missing = a
        .send(
            &w.app,
            "PATCH",
            "/me",
            Some(&json!({"new_password": "new-molar-crown-43-bridge"})),
        )
        .await;
    assert_eq!(
        field_codes(&missing),
        vec![("current_password".to_string(), "required".to_string())]
    );

    let ok = a
        .send(
            &w.app,
            "PATCH",
            "/me",
            Some(&json!({"current_password": PASSWORD, "new_password": "new-molar-crown-43-bridge"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(
        a.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        b.send(&w.app, "GET", "/me", None).await.status,
        StatusCode::UNAUTHORIZED,
        "others end"
    );
}

#[tokio::test]
async fn email_change_takes_effect_after_the_new_address_is_verified() {
    let w = world();
    let (a, _) = signup(&w, "dana@whitfield-dental.example").await;
    let change = a
        .send(
            &w.app,
            "PATCH",
            "/me",
            Some(&json!({"email": "dana@new-practice.example", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(change.status, StatusCode::OK, "{}", change.body);
    assert_eq!(change.body["email"], "dana@whitfield-dental.example");
    assert_eq!(change.body["pending_email"], "dana@new-practice.example");
    let token = token_from_outbox(&w.state, "dana@new-practice.example", "/verify-email").await;
    assert_eq!(
        Browser::anonymous()
            .send(&w.app, "POST", "/auth/verify-email", Some(&json!({"token": token})))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let me = a.send(&w.app, "GET", "/me", None).await;
    assert_eq!(me.body["email"], "dana@new-practice.example");
    assert_eq!(me.body["pending_email"], Value::Null);
    assert_eq!(
        login(&w, "dana@new-practice.example", PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        login(&w, "dana@whitfield-dental.example", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The old address is free again.
    assert_eq!(
        Browser::anonymous()
            .send(
                &w.app,
                "POST",
                "/auth/signup",
                Some(&signup_body("dana@whitfield-dental.example"))
            )
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn session_routes_answer_401_without_a_session() {
    let w = world();
    for entry in catalogue::entries()
        .iter()
        .filter(|e| e.auth == catalogue::Auth::Session)
    {
        let Some((method, path)) = entry.http() else { continue };
        let path = path.replace('{', "x").replace('}', "");
        let reply = Browser::anonymous()
            .send(&w.app, method.as_str(), &path, Some(&json!({})))
            .await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

#[tokio::test]
async fn a_sign_in_is_never_replayed_from_an_idempotency_key_so_no_session_is_stored() {
    let w = world();
    signup(&w, "dana@whitfield-dental.example").await;
    let body = json!({"email": "dana@whitfield-dental.example", "password": PASSWORD});
    let first = Browser::anonymous()
        .send_once(&w.app, "/auth/login", &body, "login-key-1")
        .await;
    let second = Browser::anonymous()
        .send_once(&w.app, "/auth/login", &body, "login-key-1")
        .await;
    assert_eq!((first.status, second.status), (StatusCode::OK, StatusCode::OK));
    assert!(second.headers.get("idempotent-replayed").is_none());
    let (a, b) = (first.cookie(SESSION_COOKIE), second.cookie(SESSION_COOKIE));
    assert!(a.is_some() && b.is_some() && a != b, "two sign-ins, two sessions");
}

// ---------------------------------------------------------------- audit log

/// `browser`'s request with the given request id.
async fn send_as(w: &World, browser: &Browser, method: &str, path: &str, body: Option<Value>, id: &str) -> Reply {
    let mut request = browser.request(method, path, body.as_ref());
    request
        .headers_mut()
        .insert("x-request-id", http::HeaderValue::from_str(id).expect("request id"));
    konnecs_tests::http::send(&w.app, request).await
}

/// The organization's audit log, newest first, as `reader` (an owner) sees it.
async fn audit_log(w: &World, reader: &Browser) -> Vec<Value> {
    let reply = reader.send(&w.app, "GET", "/org/audit?limit=100", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body["cursor"].is_null(), "one page holds the log");
    reply.body["entries"].as_array().expect("entries").clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().filter_map(|e| e["action"].as_str()).collect()
}

/// Who, from where and through which request an entry was written.
#[track_caller]
fn assert_source(entry: &Value, actor: Option<&str>, ip: &str, request_id: &str) {
    assert_eq!(entry["actor_user_id"].as_str(), actor, "{entry}");
    assert_eq!(entry["ip"], ip, "{entry}");
    assert_eq!(entry["user_agent"], "konnecs-tests", "{entry}");
    assert_eq!(entry["request_id"], request_id, "{entry}");
}

#[tokio::test]
async fn failed_sign_ins_the_lockout_and_a_log_out_everywhere_are_in_the_audit_log() {
    let w = world();
    let email = "dana@whitfield-dental.example";
    let (_, signed) = signup(&w, email).await;
    let user_id = signed.body["user_id"].as_str().expect("user id").to_string();
    let target = format!("user:{user_id}");

    let mut attacker = Browser::anonymous();
    attacker.ip = Some("198.51.100.7".into());
    let guess = |n: u32| json!({"email": email, "password": format!("guess-{n}-wrong-password")});
    for n in 1..=5 {
        w.clock.advance(SignedDuration::from_secs(1));
        let reply = send_as(
            &w,
            &attacker,
            "POST",
            "/auth/login",
            Some(guess(n)),
            &format!("guess-{n}"),
        )
        .await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let fifth_at = w.clock.now();
    // Refused while locked, before any password check: nothing more to record.
    w.clock.advance(SignedDuration::from_secs(1));
    let right = json!({"email": email, "password": PASSWORD});
    let refused = send_as(&w, &attacker, "POST", "/auth/login", Some(right.clone()), "guess-6").await;
    assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // An unknown email has no organization to tell.
    let ghost = json!({"email": "ghost@whitfield-dental.example", "password": "guess-7-wrong-password"});
    let unknown = send_as(&w, &attacker, "POST", "/auth/login", Some(ghost), "ghost-1").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);

    w.clock.advance(SignedDuration::from_secs(31));
    let mut owner = Browser::anonymous();
    owner.ip = Some("192.0.2.44".into());
    let signed_in = send_as(&w, &owner, "POST", "/auth/login", Some(right), "owner-login").await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    let owner = Browser {
        ip: owner.ip.clone(),
        ..Browser::from_reply(&signed_in)
    };
    w.clock.advance(SignedDuration::from_secs(1));
    let out = send_as(&w, &owner, "POST", "/auth/logout-all", None, "owner-logout-all").await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);

    w.clock.advance(SignedDuration::from_secs(1));
    let reader = Browser::from_reply(&login(&w, email, PASSWORD).await);
    let entries = audit_log(&w, &reader).await;
    assert_eq!(
        actions(&entries),
        [
            "auth.login",
            "auth.logout_all",
            "auth.login",
            "auth.locked",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "auth.login_failed",
            "account.signup",
        ]
    );
    // Newest first: the fifth failure, then the fourth, ... Anonymous actors,
    // the attacker's IP, user agent and request ids, the count so far.
    for (i, entry) in entries[4..9].iter().enumerate() {
        let n = 5 - i;
        assert_source(entry, None, "198.51.100.7", &format!("guess-{n}"));
        assert_eq!(entry["target"], target.as_str());
        assert_eq!(entry["detail"], json!({"failures": n}));
    }
    let locked = &entries[3];
    assert_source(locked, None, "198.51.100.7", "guess-5");
    assert_eq!(locked["target"], target.as_str());
    let until = Timestamp::from_second(fifth_at.as_second() + 30).unwrap().to_string();
    assert_eq!(locked["detail"], json!({"seconds": 30, "until": until, "failures": 5}));
    assert_source(&entries[2], Some(&user_id), "192.0.2.44", "owner-login");
    let everywhere = &entries[1];
    assert_source(everywhere, Some(&user_id), "192.0.2.44", "owner-logout-all");
    assert_eq!(everywhere["target"], target.as_str());
    assert_eq!(
        everywhere["detail"],
        json!({"sessions": 2}),
        "the sign-up's session and this one"
    );
    // What was typed never reaches the log.
    let text = Value::Array(entries).to_string();
    for secret in ["wrong-password", PASSWORD, "ghost@"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn password_and_email_changes_a_reset_revoked_sessions_and_a_logout_are_in_the_audit_log() {
    let w = world();
    let (first, signed) = signup(&w, "dana@whitfield-dental.example").await;
    let user_id = signed.body["user_id"].as_str().expect("user id").to_string();
    let tick = || w.clock.advance(SignedDuration::from_secs(1));
    let ip = |mut b: Browser| {
        b.ip = Some("192.0.2.44".into());
        b
    };
    let first = ip(first);
    let _other = Browser::from_reply(&login(&w, "dana@whitfield-dental.example", PASSWORD).await);

    tick();
    let change = json!({"current_password": PASSWORD, "new_password": "second-molar-crown-43"});
    let changed = send_as(&w, &first, "PATCH", "/me", Some(change), "change-password").await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    tick();
    let change = json!({"email": "dana@new-practice.example", "current_password": "second-molar-crown-43"});
    let changed = send_as(&w, &first, "PATCH", "/me", Some(change), "change-email").await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    tick();
    let token = token_from_outbox(&w.state, "dana@new-practice.example", "/verify-email").await;
    let verify = json!({"token": token});
    let verified = send_as(
        &w,
        &ip(Browser::anonymous()),
        "POST",
        "/auth/verify-email",
        Some(verify),
        "verify",
    )
    .await;
    assert_eq!(verified.status, StatusCode::NO_CONTENT);

    tick();
    let mut stranger = Browser::anonymous();
    stranger.ip = Some("198.51.100.9".into());
    let forgot = json!({"email": "dana@new-practice.example"});
    let asked = send_as(&w, &stranger, "POST", "/auth/password/forgot", Some(forgot), "forgot").await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    tick();
    let token = token_from_outbox(&w.state, "dana@new-practice.example", "/reset-password").await;
    let reset = json!({"token": token, "password": "third-molar-crown-44"});
    let done = send_as(&w, &stranger, "POST", "/auth/password/reset", Some(reset), "reset").await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);

    tick();
    let again = Browser::from_reply(&login(&w, "dana@new-practice.example", "third-molar-crown-44").await);
    let out = send_as(&w, &ip(again), "POST", "/auth/logout", None, "logout").await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    tick();
    let reader = Browser::from_reply(&login(&w, "dana@new-practice.example", "third-molar-crown-44").await);
    let entries = audit_log(&w, &reader).await;
    assert_eq!(
        actions(&entries),
        [
            "auth.login",
            "auth.logout",
            "auth.login",
            "auth.sessions_revoked",
            "auth.password_reset",
            "auth.password_reset_requested",
            "account.email_changed",
            "account.email_change_requested",
            "auth.sessions_revoked",
            "account.password_changed",
            "auth.login",
            "account.signup",
        ]
    );
    let user = Some(user_id.as_str());
    assert_source(&entries[1], user, "192.0.2.44", "logout");
    // The reset ended the one session left (the first; the change ended the other).
    assert_source(&entries[3], user, "198.51.100.9", "reset");
    assert_eq!(entries[3]["detail"], json!({"sessions": 1, "reason": "password_reset"}));
    assert_source(&entries[4], user, "198.51.100.9", "reset");
    assert_source(&entries[5], None, "198.51.100.9", "forgot");
    assert_source(&entries[6], user, "192.0.2.44", "verify");
    let moved = json!({"from": "dana@whitfield-dental.example", "to": "dana@new-practice.example"});
    assert_eq!(entries[6]["detail"], moved);
    assert_source(&entries[7], user, "192.0.2.44", "change-email");
    assert_eq!(entries[7]["detail"], moved);
    assert_source(&entries[8], user, "192.0.2.44", "change-password");
    assert_eq!(
        entries[8]["detail"],
        json!({"sessions": 1, "reason": "password_changed"})
    );
    assert_source(&entries[9], user, "192.0.2.44", "change-password");
    for entry in &entries {
        assert_eq!(entry["target"], format!("user:{user_id}").as_str(), "{entry}");
    }
    let text = Value::Array(entries).to_string();
    for secret in ["molar-crown", "token"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}
