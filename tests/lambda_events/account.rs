//! Samples of the account, organization and page Lambdas.

use http::StatusCode;
use konnecs::catalogue;
use konnecs::services::jobs::Job;
use konnecs_tests::http::{Browser, SESSION_COOKIE};
use serde_json::{Value, json};

use super::{DANA_EMAIL, World, emails, sample_body};

/// The token the account samples carry (verify-email, reset-password, their pages).
const SAMPLE_TOKEN: &str = "l0ngRand0mT0kenFromTheEmailLink-Xy9Qe3vB7nM2kP4sR6tU8wZ";
/// The invitation token of `invitations-accept`.
const SAMPLE_INVITATION_TOKEN: &str = "q8Zr3kVx0bN1tY6uW2mP4sL7eJ9hC5aF0gD3iK8oR1E";
/// The member of `members-update` and `members-remove`.
const SAMPLE_MEMBER: &str = "0193a6f2c1d87b3e9f4a52c6d8e1b7a0";
/// The invitation of `invitations-revoke`.
const SAMPLE_INVITATION: &str = "0193a6f3d2e97c4fa05b63d7e9f2c8b1";
const PRIYA: &str = "priya@whitfield-dental.example";

/// A 1×1 PNG, as `me-photo-put` uploads it.
pub(super) fn sample_png() -> Vec<u8> {
    use base64::Engine;
    let event: Value = serde_json::from_str(&super::sample("me-photo-put.json")).expect("JSON");
    base64::engine::general_purpose::STANDARD
        .decode(event["body"].as_str().expect("body"))
        .expect("base64")
}

/// Dana as a browser with the given session (to see whether it still works).
fn with_session(session: &str) -> Browser {
    Browser {
        session: Some(session.to_string()),
        ..Browser::default()
    }
}

async fn me_status(w: &World, session: &str) -> StatusCode {
    with_session(session).send(&w.app, "GET", "/me", None).await.status
}

/// Priya invited by Dana (the `invitations-create` sample's request): the
/// invitation's id and the token emailed to her.
async fn invite_priya(w: &World) -> (String, String) {
    w.take_jobs().await;
    let invitation = w
        .api("POST", "/org/invitations", Some(sample_body("invitations-create")))
        .await;
    let token = w.emailed_token(PRIYA, "/accept-invitation").await;
    (invitation["id"].as_str().expect("id").to_string(), token)
}

/// Priya, invited and joined: her user id.
async fn priya_joined(w: &World) -> String {
    let (_, token) = invite_priya(w).await;
    let body = json!({"token": token, "name": "Priya Raman", "password": "enamel-bright-smile-77"});
    let reply = Browser::anonymous()
        .send(&w.app, "POST", "/invitations/accept", Some(&body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["user_id"].as_str().expect("user id").to_string()
}

async fn members(w: &World) -> Vec<Value> {
    w.api("GET", "/org/members", None).await["members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub async fn health_reports_store_queue_and_key_vault_ok(name: &str) {
    let w = World::empty().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["status"], "ok", "{}", reply.body);
    for component in ["store", "queue", "key_vault"] {
        assert_eq!(reply.body[component], "ok", "{component}: {}", reply.body);
    }
}

pub async fn openapi_describes_every_route(name: &str) {
    let w = World::empty().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["openapi"], "3.1.0");
    for other in catalogue::entries() {
        if let Some((method, path)) = other.http() {
            let operation = &reply.body["paths"][path][method.as_str().to_ascii_lowercase()];
            assert_eq!(
                operation["operationId"],
                other.name,
                "{} {path} missing from the document",
                method.as_str()
            );
        }
    }
}

pub async fn auth_signup_creates_the_account_signed_in_and_queues_its_verification_email(name: &str) {
    let w = World::empty().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    let session = reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let me = with_session(&session).send(&w.app, "GET", "/me", None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(
        (me.body["email"].as_str(), me.body["role"].as_str()),
        (Some(DANA_EMAIL), Some("owner"))
    );
    assert_eq!(me.body["org_id"], reply.body["org_id"]);
    assert_eq!(
        emails(&w.take_jobs().await),
        [(DANA_EMAIL.to_string(), "verify_email".to_string())]
    );
}

pub async fn auth_login_signs_the_account_in(name: &str) {
    let mut w = World::with_dana().await;
    w.dana = None; // the sample carries no session
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let cookie = reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    assert_eq!(me_status(&w, &cookie).await, StatusCode::OK);
    assert_eq!(reply.body["org_id"], w.org_id.as_str());
    assert!(reply.body["csrf_token"].is_string(), "{}", reply.body);
}

pub async fn auth_logout_ends_the_session(name: &str) {
    let w = World::with_dana().await;
    let session = w.dana().session.clone().expect("session");
    assert_eq!(me_status(&w, &session).await, StatusCode::OK);
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::NO_CONTENT);
    assert!(
        reply.header("set-cookie").starts_with(&format!("{SESSION_COOKIE}=;")),
        "the cookie is cleared: {:?}",
        reply.headers
    );
    assert_eq!(me_status(&w, &session).await, StatusCode::UNAUTHORIZED);
}

pub async fn auth_logout_all_ends_every_session_of_the_account(name: &str) {
    let mut w = World::with_dana().await;
    let first = w.dana().session.clone().expect("session");
    w.sign_in_again().await;
    let second = w.dana().session.clone().expect("session");
    w.http(name, &[]).await.expect(StatusCode::NO_CONTENT);
    for session in [first, second] {
        assert_eq!(me_status(&w, &session).await, StatusCode::UNAUTHORIZED);
    }
}

pub async fn auth_csrf_answers_the_sessions_token(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["csrf_token"].as_str(), w.dana().csrf.as_deref());
}

pub async fn auth_verify_email_verifies_with_the_emailed_token(name: &str) {
    let mut w = World::with_dana().await;
    let token = w.emailed_token(DANA_EMAIL, "/verify-email").await;
    let dana = w.dana.take();
    w.http(name, &[(SAMPLE_TOKEN, &token)])
        .await
        .expect(StatusCode::NO_CONTENT);
    w.dana = dana;
    assert_eq!(w.api("GET", "/me", None).await["email_verified"], true);
}

pub async fn auth_verify_email_resend_queues_a_new_link(name: &str) {
    let w = World::with_dana().await;
    w.take_jobs().await; // the sign-up's own
    w.http(name, &[]).await.expect(StatusCode::ACCEPTED);
    assert_eq!(
        emails(&w.take_jobs().await),
        [(DANA_EMAIL.to_string(), "verify_email".to_string())]
    );
}

pub async fn auth_password_forgot_queues_a_reset_link(name: &str) {
    let mut w = World::with_dana().await;
    w.take_jobs().await;
    w.dana = None;
    w.http(name, &[]).await.expect(StatusCode::ACCEPTED);
    // The request queues the same job for any address; the job looks the
    // account up and sends the link.
    let jobs = w.take_jobs().await;
    assert!(
        matches!(&jobs[..], [Job::PasswordReset { email, .. }] if email == DANA_EMAIL),
        "{jobs:?}"
    );
}

pub async fn auth_password_reset_sets_the_new_password_with_the_emailed_token(name: &str) {
    let mut w = World::with_dana().await;
    w.take_jobs().await;
    let forgot = json!({"email": DANA_EMAIL});
    let reply = Browser::anonymous()
        .send(&w.app, "POST", "/auth/password/forgot", Some(&forgot))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let token = w.emailed_token(DANA_EMAIL, "/reset-password").await;
    let old_session = w.dana.take().and_then(|d| d.session).expect("session");
    w.http(name, &[(SAMPLE_TOKEN, &token)])
        .await
        .expect(StatusCode::NO_CONTENT);
    let new_password = sample_body(name)["password"].as_str().expect("password").to_string();
    for (password, status) in [
        (new_password.as_str(), StatusCode::OK),
        (super::DANA_PASSWORD, StatusCode::UNAUTHORIZED),
    ] {
        let login = json!({"email": DANA_EMAIL, "password": password});
        let reply = Browser::anonymous()
            .send(&w.app, "POST", "/auth/login", Some(&login))
            .await;
        assert_eq!(reply.status, status, "{}", reply.body);
    }
    assert_eq!(
        me_status(&w, &old_session).await,
        StatusCode::UNAUTHORIZED,
        "the reset ended the old session"
    );
}

/// A page an emailed link opens: HTML, never cached, posting to `endpoint`.
/// A page of an email link: a form posting the link's token to `action`,
/// as a staff page (our own scripts only, no framing, no caching).
fn assert_link_page(reply: &super::HttpReply, action: &str, token: &str) {
    reply.expect(StatusCode::OK);
    assert!(reply.text.starts_with("<!doctype html>"), "{}", reply.text);
    assert!(reply.text.contains(&format!("action=\"{action}\"")), "{}", reply.text);
    assert!(
        reply.text.contains(&format!("name=\"token\" value=\"{token}\"")),
        "{}",
        reply.text
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.header("referrer-policy"), "no-referrer");
    assert!(reply.header("content-security-policy").contains("script-src 'self'"));
}

pub async fn page_verify_email_posts_the_links_token(name: &str) {
    let w = World::with_dana().await;
    let token = w.emailed_token(DANA_EMAIL, "/verify-email").await;
    let reply = w.http(name, &[(SAMPLE_TOKEN, &token)]).await;
    assert_link_page(&reply, "/verify-email", &token);
    // Opening the link confirms nothing by itself (mail scanners open links).
    assert_eq!(w.api("GET", "/me", None).await["email_verified"], false);
}

pub async fn page_reset_password_asks_for_the_new_password(name: &str) {
    let w = World::with_dana().await;
    w.take_jobs().await;
    let forgot = json!({"email": DANA_EMAIL});
    Browser::anonymous()
        .send(&w.app, "POST", "/auth/password/forgot", Some(&forgot))
        .await;
    let token = w.emailed_token(DANA_EMAIL, "/reset-password").await;
    let reply = w.http(name, &[(SAMPLE_TOKEN, &token)]).await;
    assert_link_page(&reply, "/reset-password", &token);
    assert!(reply.text.contains("type=\"password\""), "{}", reply.text);
}

pub async fn page_accept_invitation_asks_for_name_and_password(name: &str) {
    let w = World::with_dana().await;
    let (_, token) = invite_priya(&w).await;
    let reply = w.http(name, &[(SAMPLE_TOKEN, &token)]).await;
    assert_link_page(&reply, "/accept-invitation", &token);
    assert!(reply.text.contains("type=\"password\""), "{}", reply.text);
}

pub async fn page_verify_email_submit_verifies_the_address(name: &str) {
    let mut w = World::with_dana().await;
    let token = w.emailed_token(DANA_EMAIL, "/verify-email").await;
    let dana = w.dana.take();
    let reply = w.http(name, &[(SAMPLE_TOKEN, &token)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/verify-email?notice=email-verified");
    w.dana = dana;
    assert_eq!(w.api("GET", "/me", None).await["email_verified"], true);
}

pub async fn page_forgot_password_submit_queues_the_reset_link(name: &str) {
    let mut w = World::with_dana().await;
    w.take_jobs().await;
    w.dana = None;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/forgot-password?notice=reset-sent");
    let jobs = w.take_jobs().await;
    assert!(
        matches!(&jobs[..], [Job::PasswordReset { email, .. }] if email == DANA_EMAIL),
        "{jobs:?}"
    );
}

pub async fn page_reset_password_submit_sets_the_new_password(name: &str) {
    let mut w = World::with_dana().await;
    w.take_jobs().await;
    let forgot = json!({"email": DANA_EMAIL});
    Browser::anonymous()
        .send(&w.app, "POST", "/auth/password/forgot", Some(&forgot))
        .await;
    let token = w.emailed_token(DANA_EMAIL, "/reset-password").await;
    w.dana = None;
    let reply = w.http(name, &[(SAMPLE_TOKEN, &token)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/sign-in?notice=password-changed");
    for (password, status) in [
        ("enamel-shine-77-floss", StatusCode::OK),
        (super::DANA_PASSWORD, StatusCode::UNAUTHORIZED),
    ] {
        let login = json!({"email": DANA_EMAIL, "password": password});
        let reply = Browser::anonymous()
            .send(&w.app, "POST", "/auth/login", Some(&login))
            .await;
        assert_eq!(reply.status, status, "{}", reply.body);
    }
}

pub async fn page_accept_invitation_submit_joins_signed_in(name: &str) {
    let w = World::with_dana().await;
    let (_, token) = invite_priya(&w).await;
    let reply = w.http(name, &[(SAMPLE_TOKEN, &token)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app?notice=welcome");
    let session = reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .and_then(|rest| rest.split(';').next())
        .expect("a session cookie")
        .to_string();
    let me = with_session(&session).send(&w.app, "GET", "/me", None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["name"], "Priya Raman");
    assert_eq!(me.body["role"], "member");
}

pub async fn me_get_shows_the_signed_in_user(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["name"], "Dana Whitfield");
    assert_eq!(reply.body["email"], DANA_EMAIL);
    assert_eq!(reply.body["org_id"], w.org_id.as_str());
}

pub async fn me_update_renames_the_user(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["name"], "Dana W. Whitfield");
    assert_eq!(w.api("GET", "/me", None).await["name"], "Dana W. Whitfield");
}

pub async fn me_photo_put_stores_the_png(name: &str) {
    let w = World::with_dana().await;
    w.http(name, &[]).await.expect(StatusCode::OK);
    assert_eq!(w.api("GET", "/me", None).await["has_photo"], true);
    let photo = w.dana().send(&w.app, "GET", "/me/photo", None).await;
    assert_eq!(photo.bytes, sample_png());
}

pub async fn me_photo_get_serves_the_stored_photo(name: &str) {
    let w = World::with_dana().await;
    w.api_raw("PUT", "/me/photo", "image/png", sample_png()).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "image/png");
    assert_eq!(reply.bytes, sample_png());
}

pub async fn me_photo_delete_removes_the_photo(name: &str) {
    let w = World::with_dana().await;
    w.api_raw("PUT", "/me/photo", "image/png", sample_png()).await;
    w.http(name, &[]).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(w.api("GET", "/me", None).await["has_photo"], false);
}

pub async fn org_get_shows_the_organization(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["id"], w.org_id.as_str());
    assert_eq!(reply.body["name"], "Whitfield Dental");
    assert_eq!(reply.body["slug"], "whitfield-dental");
}

pub async fn org_update_changes_name_zone_and_slug(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let org = w.api("GET", "/org", None).await;
    assert_eq!(
        (&org["name"], &org["slug"], &org["time_zone"], &org["country"]),
        (
            &json!("Whitfield Family Dental"),
            &json!("whitfield-family-dental"),
            &json!("Europe/London"),
            &json!("GB")
        )
    );
}

pub async fn members_list_shows_the_owner(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let members = reply.body["members"].as_array().expect("members");
    assert_eq!(members.len(), 1, "{}", reply.body);
    assert_eq!(
        (&members[0]["email"], &members[0]["role"]),
        (&json!(DANA_EMAIL), &json!("owner"))
    );
}

pub async fn members_update_makes_the_member_an_admin(name: &str) {
    let w = World::with_dana().await;
    let priya = priya_joined(&w).await;
    let reply = w.http(name, &[(SAMPLE_MEMBER, &priya)]).await;
    reply.expect(StatusCode::OK);
    let roles: Vec<(String, String)> = members(&w)
        .await
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default().into(),
                m["role"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert!(roles.contains(&(PRIYA.into(), "admin".into())), "{roles:?}");
}

pub async fn members_remove_removes_the_member(name: &str) {
    let w = World::with_dana().await;
    let priya = priya_joined(&w).await;
    assert_eq!(members(&w).await.len(), 2);
    w.http(name, &[(SAMPLE_MEMBER, &priya)])
        .await
        .expect(StatusCode::NO_CONTENT);
    let left = members(&w).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["email"], DANA_EMAIL);
}

pub async fn invitations_create_invites_and_emails_the_link(name: &str) {
    let w = World::with_dana().await;
    w.take_jobs().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(
        (&reply.body["email"], &reply.body["role"]),
        (&json!(PRIYA), &json!("member"))
    );
    let jobs = w.take_jobs().await;
    assert_eq!(emails(&jobs).len(), 1, "{jobs:?}");
    assert!(
        matches!(&jobs[0], Job::SendEmail { email, .. } if email.to == PRIYA && email.text.contains("/accept-invitation?token=")),
        "{jobs:?}"
    );
}

pub async fn invitations_list_shows_the_pending_invitation(name: &str) {
    let w = World::with_dana().await;
    let (id, _) = invite_priya(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let invitations = reply.body["invitations"].as_array().expect("invitations");
    assert_eq!(invitations.len(), 1, "{}", reply.body);
    assert_eq!(
        (&invitations[0]["id"], &invitations[0]["email"]),
        (&json!(id), &json!(PRIYA))
    );
}

pub async fn invitations_revoke_withdraws_the_invitation(name: &str) {
    let w = World::with_dana().await;
    let (id, token) = invite_priya(&w).await;
    w.http(name, &[(SAMPLE_INVITATION, &id)])
        .await
        .expect(StatusCode::NO_CONTENT);
    let listed = w.api("GET", "/org/invitations", None).await;
    assert_eq!(listed["invitations"], json!([]));
    let body = json!({"token": token, "name": "Priya Raman", "password": "enamel-bright-smile-77"});
    let accept = Browser::anonymous()
        .send(&w.app, "POST", "/invitations/accept", Some(&body))
        .await;
    assert!(
        accept.status.is_client_error(),
        "a revoked invitation's link is dead: {}",
        accept.body
    );
}

pub async fn invitations_accept_joins_the_organization_with_the_emailed_token(name: &str) {
    let mut w = World::with_dana().await;
    let (_, token) = invite_priya(&w).await;
    let dana = w.dana.take();
    let reply = w.http(name, &[(SAMPLE_INVITATION_TOKEN, &token)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["org_id"], w.org_id.as_str());
    w.dana = dana;
    let joined: Vec<Value> = members(&w).await.into_iter().filter(|m| m["email"] == PRIYA).collect();
    assert_eq!(joined.len(), 1);
    assert_eq!(
        (&joined[0]["name"], &joined[0]["role"]),
        (&json!("Priya Raman"), &json!("member"))
    );
}

pub async fn audit_list_shows_what_the_account_did(name: &str) {
    let w = World::with_dana().await;
    w.api("PATCH", "/org", Some(json!({"name": "Whitfield Dental Care"})))
        .await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let actions: Vec<&str> = reply.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions.first(), Some(&"org.updated"), "newest first: {actions:?}");
    assert!(actions.contains(&"account.signup"), "{actions:?}");
}

pub async fn page_team_lists_members_and_invitations(name: &str) {
    let w = World::with_dana().await;
    invite_priya(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    for text in [DANA_EMAIL, PRIYA, "action=\"/app/settings/invitations\""] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_invite_invites_and_emails_the_link(name: &str) {
    let w = World::with_dana().await;
    w.take_jobs().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/settings/team?notice=invited");
    let jobs = w.take_jobs().await;
    assert!(
        matches!(&jobs[..], [Job::SendEmail { email, .. }] if email.to == PRIYA && email.text.contains("/accept-invitation?token=")),
        "{jobs:?}"
    );
}

pub async fn page_invitation_revoke_withdraws_the_invitation(name: &str) {
    let w = World::with_dana().await;
    let (invitation, token) = invite_priya(&w).await;
    let reply = w.http(name, &[(SAMPLE_INVITATION, &invitation)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    let listed = w.api("GET", "/org/invitations", None).await;
    assert_eq!(listed["invitations"], json!([]), "{listed}");
    let body = json!({"token": token, "name": "Priya Raman", "password": "enamel-bright-smile-77"});
    let accept = Browser::anonymous()
        .send(&w.app, "POST", "/invitations/accept", Some(&body))
        .await;
    assert_eq!(accept.status, StatusCode::BAD_REQUEST, "{}", accept.body);
}

pub async fn page_member_makes_the_member_an_admin(name: &str) {
    let w = World::with_dana().await;
    let priya = priya_joined(&w).await;
    let reply = w.http(name, &[(SAMPLE_MEMBER, &priya)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/settings/team?notice=role-changed");
    let role = members(&w)
        .await
        .iter()
        .find(|m| m["email"] == PRIYA)
        .map(|m| m["role"].clone());
    assert_eq!(role, Some(json!("admin")));
}

pub async fn page_audit_shows_the_filtered_entries(name: &str) {
    let w = World::with_dana().await;
    w.api("POST", "/contacts", Some(json!({"first_name": "Maria"}))).await;
    w.api("PATCH", "/me", Some(json!({"name": "Dana W."}))).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.text.contains("<td>contact.created</td>"), "{}", reply.text);
    assert!(
        !reply.text.contains("<td>account.profile_updated"),
        "filtered to contact actions: {}",
        reply.text
    );
}

pub async fn page_profile_shows_the_name_and_email(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    for text in [
        "value=\"Dana Whitfield\"",
        &format!("value=\"{DANA_EMAIL}\""),
        "Sign out everywhere",
    ] {
        assert!(reply.text.contains(text), "no {text:?} in {}", reply.text);
    }
}

pub async fn page_profile_save_renames_the_user(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/app/profile?notice=profile-saved");
    assert_eq!(w.api("GET", "/me", None).await["name"], "Dana Whitfield-Hart");
}

pub async fn page_sign_out_everywhere_ends_every_session(name: &str) {
    let mut w = World::with_dana().await;
    let first = w.dana().session.clone().expect("session");
    w.sign_in_again().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/sign-in?notice=signed-out-everywhere");
    let current = w.dana().session.clone().expect("session");
    for session in [first, current] {
        assert_eq!(me_status(&w, &session).await, StatusCode::UNAUTHORIZED);
    }
}

pub async fn org_deletion_get_shows_no_deletion_pending(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["deletion"], Value::Null, "{}", reply.body);
}

pub async fn org_deletion_request_schedules_the_purge_after_the_grace_window(name: &str) {
    // Dana signed up a moment ago: the sign-in is recent enough to stand for her password.
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::ACCEPTED);
    assert_eq!(reply.body["deletion"]["grace_days"], 7, "{}", reply.body);
    let status = w.api("GET", "/org/deletion", None).await;
    assert_eq!(status["deletion"], reply.body["deletion"]);
}

pub async fn org_deletion_cancel_restores_the_organization(name: &str) {
    let w = World::with_dana().await;
    w.api(
        "POST",
        "/org/deletion",
        Some(json!({"confirm_name": "Whitfield Dental"})),
    )
    .await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::NO_CONTENT);
    assert_eq!(w.api("GET", "/org/deletion", None).await["deletion"], Value::Null);
    assert_eq!(w.api("GET", "/org", None).await["name"], "Whitfield Dental");
}
