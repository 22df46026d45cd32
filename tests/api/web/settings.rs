//! Admin settings and roles: what a member is not shown and is refused.

use super::*;

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
    home.expect(StatusCode::OK)
        .lacks("href=\"/app/settings\"")
        .lacks("/app/settings/team");
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
        .lacks("href=\"/app/settings\"")
        .lacks("/app/settings/team");
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

/// An existing account accepting an invitation while failed sign-ins have
/// locked it: the page answers 429 and says when to come back, as the API
/// and the sign-in page do (the OpenAPI document promises `Retry-After` on
/// every 429).
#[tokio::test]
async fn a_locked_account_accepting_an_invitation_is_told_when_to_come_back() {
    let app = App::new();
    let owner = app.sign_up("owner@lee-physio.example", "Lee Physio").await;
    app.sign_up("ben@hart-dental.example", "Hart Dental").await;
    let invite = json!({"email": "ben@hart-dental.example", "role": "member"});
    let invited = app
        .send(&owner.browser, "POST", "/org/invitations", Some(&invite))
        .await;
    assert!(invited.status.is_success(), "{}", invited.body);
    let token = token_from_outbox(&app.state, "ben@hart-dental.example", "/accept-invitation").await;
    for n in 0..5 {
        app.advance(jiff::SignedDuration::from_secs(1));
        let guess = json!({"email": "ben@hart-dental.example", "password": format!("guess-{n}-wrong-password")});
        let reply = app
            .send(&Browser::anonymous(), "POST", "/auth/login", Some(&guess))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }
    let mut ben = Visitor::default();
    let page = ben
        .post(
            &app,
            "/accept-invitation",
            &[("token", &token), ("password", PASSWORD)],
            Csrf::None,
        )
        .await;
    page.expect(StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = page
        .header("retry-after")
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(wait > 0, "a locked account waits");
}
