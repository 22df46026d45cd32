//! Signing up, in and out, the email-link and password pages, and the front door.

use super::*;

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
