//! One field of a record edited in place: htmx gets the field's form and,
//! after the post, the field shown again (or the form with its error);
//! without htmx the links lead to the edit page and a post redirects.

use super::*;

impl Visitor {
    /// A form post as htmx sends it (the token in its header).
    async fn post_htmx(&mut self, app: &App, path: &str, fields: &[(&str, &str)], csrf: &str) -> Page {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        let request = Request::post(path)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("hx-request", "true")
            .header("x-csrf-token", csrf)
            .body(Body::from(form.finish()))
            .expect("request");
        self.send(app, request).await
    }
}

#[tokio::test]
async fn a_field_is_edited_in_place_and_its_error_shown_in_place() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
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
    let maya = anna
        .post(
            &app,
            "/app/contacts",
            &[("first_name", "Maya"), ("company", "Okafor Ltd")],
            Csrf::Field(&csrf),
        )
        .await;
    let maya = contact_id(maya.location());

    let record = anna.get(&app, &format!("/app/contacts/{maya}")).await;
    record
        .contains("<div class=\"inline-field\" id=\"field-company\">")
        .contains(&format!("hx-get=\"/app/contacts/{maya}/fields/company?edit=1\""))
        .contains(&format!("<a class=\"inline-edit\" href=\"/app/contacts/{maya}/edit\""))
        .contains("id=\"field-custom-sessions_left\"");
    // Without htmx the field's link is the edit page.
    let plain = anna
        .get(&app, &format!("/app/contacts/{maya}/fields/company?edit=1"))
        .await;
    plain.expect(StatusCode::SEE_OTHER);
    assert_eq!(plain.location(), format!("/app/contacts/{maya}/edit"));

    let form = anna
        .get_htmx(&app, &format!("/app/contacts/{maya}/fields/company?edit=1"))
        .await;
    form.expect(StatusCode::OK)
        .lacks("<html")
        .contains("name=\"value\" type=\"text\" value=\"Okafor Ltd\"")
        .contains("name=\"version\" value=\"1\"");
    let saved = anna
        .post_htmx(
            &app,
            &format!("/app/contacts/{maya}/fields/company"),
            &[("version", "1"), ("value", "Okafor & Reid")],
            &csrf,
        )
        .await;
    saved
        .expect(StatusCode::OK)
        .lacks("<form")
        .contains("<span>Okafor &#38; Reid</span>");

    // A number field refused in place, with the words kept; nothing saved.
    let refused = anna
        .post_htmx(
            &app,
            &format!("/app/contacts/{maya}/fields/custom.sessions_left"),
            &[("version", "2"), ("value", "lots")],
            &csrf,
        )
        .await;
    refused
        .expect(StatusCode::OK)
        .contains("id=\"field-custom-sessions_left-error\"")
        .contains("aria-invalid=\"true\"")
        .contains("value=\"lots\"");
    // A stale version: someone else's change is not overwritten.
    anna.post_htmx(
        &app,
        &format!("/app/contacts/{maya}/fields/first_name"),
        &[("version", "1"), ("value", "May")],
        &csrf,
    )
    .await
    .expect(StatusCode::OK)
    .contains("reload the page");
    // The same refusal without htmx answers its status.
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/fields/custom.sessions_left"),
        &[("version", "2"), ("value", "lots")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let ok = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/fields/custom.sessions_left"),
            &[("version", "2"), ("value", "6")],
            Csrf::Field(&csrf),
        )
        .await;
    ok.expect(StatusCode::SEE_OTHER);
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .contains("<h1>Maya</h1>")
        .contains("<span>Okafor &#38; Reid</span>")
        .contains("<span>6</span>");
    // A field that is not edited in place (emails) is not found.
    anna.get_htmx(&app, &format!("/app/contacts/{maya}/fields/emails?edit=1"))
        .await
        .expect(StatusCode::NOT_FOUND);
}
