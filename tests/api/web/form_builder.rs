//! The form pages without JavaScript: a form created, its fields added,
//! edited, moved by the Move buttons and by the drag's order post, removed,
//! its settings saved, each change a new version; the preview and embed
//! snippets on the builder; the forms list's counts and the submissions
//! table with its contact links.

use super::*;

fn form_keys(page: &Page) -> Vec<String> {
    page.html
        .split("<li data-key=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

fn version_of(page: &Page) -> String {
    page.html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a version field")
        .to_string()
}

#[tokio::test]
async fn a_form_is_built_reordered_by_buttons_and_by_drag_and_its_submissions_listed() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.get(&app, "/app").await.contains("href=\"/app/forms\"");
    let list = anna.get(&app, "/app/forms").await;
    list.expect(StatusCode::OK).contains("No forms yet");
    assert_eq!(list.header("x-frame-options"), "DENY");

    let refused = anna
        .post(&app, "/app/forms", &[("title", " ")], Csrf::Field(&csrf))
        .await;
    refused
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"new-title-error\"");
    let created = anna
        .post(&app, "/app/forms", &[("title", "Book a call back")], Csrf::Field(&csrf))
        .await;
    created.expect(StatusCode::SEE_OTHER);
    let path = created.location().split('?').next().unwrap_or_default().to_string();
    assert!(path.starts_with("/app/forms/"), "{path}");

    let builder = anna.get(&app, &path).await;
    builder
        .expect(StatusCode::OK)
        .contains("<h1>Book a call back</h1>")
        .contains("id=\"f-email\"")
        .contains("data-copy=\"embed-script\"")
        .contains("/assets/form-embed-")
        .contains("/assets/form-builder-");
    assert_eq!(form_keys(&builder), ["name", "email"]);

    // A choice field without options is refused beside its field.
    let v = version_of(&builder);
    let refused = anna
        .post(
            &app,
            &path,
            &[
                ("version", &v),
                ("action", "add"),
                ("kind", "single_select"),
                ("key", "topic"),
                ("label", "Topic"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    refused
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"add-options-error\"");
    let added = anna
        .post(
            &app,
            &path,
            &[
                ("version", &v),
                ("action", "add"),
                ("kind", "single_select"),
                ("key", "topic"),
                ("label", "Topic"),
                ("options", "Back pain\nSports injury"),
                ("required", "on"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    added.expect(StatusCode::SEE_OTHER);
    let builder = anna.get(&app, &path).await;
    assert_eq!(form_keys(&builder), ["name", "email", "topic"]);
    builder.contains("Sports injury");

    // Keyboard: Move up.
    let v = version_of(&builder);
    anna.post(
        &app,
        &path,
        &[("version", &v), ("action", "up"), ("field", "topic")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let builder = anna.get(&app, &path).await;
    assert_eq!(form_keys(&builder), ["name", "topic", "email"]);

    // Drag: the order post.
    let v = version_of(&builder);
    anna.post(
        &app,
        &path,
        &[("version", &v), ("action", "order"), ("order", "email,name,topic")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let builder = anna.get(&app, &path).await;
    assert_eq!(form_keys(&builder), ["email", "name", "topic"]);

    // A stale version is refused, not lost.
    let stale = anna
        .post(
            &app,
            &path,
            &[("version", "1"), ("action", "remove"), ("field", "name")],
            Csrf::Field(&csrf),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);

    // Edit, remove and settings.
    let v = version_of(&builder);
    anna.post(
        &app,
        &path,
        &[
            ("version", &v),
            ("action", "edit"),
            ("field", "email"),
            ("label", "Work email"),
            ("required", "on"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let builder = anna.get(&app, &path).await;
    builder.contains("<label for=\"f-email\">Work email");
    let v = version_of(&builder);
    anna.post(
        &app,
        &path,
        &[("version", &v), ("action", "remove"), ("field", "name")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let builder = anna.get(&app, &path).await;
    assert_eq!(form_keys(&builder), ["email", "topic"]);
    let v = version_of(&builder);
    let refused = anna
        .post(
            &app,
            &path,
            &[
                ("version", &v),
                ("action", "settings"),
                ("title", "Call back"),
                ("redirect_url", "http://lee-physio.example/thanks"),
                ("active", "on"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    refused
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"redirect_url-error\"");
    anna.post(
        &app,
        &path,
        &[
            ("version", &v),
            ("action", "settings"),
            ("title", "Call back"),
            ("tags", "web, call-back"),
            ("active", "on"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let builder = anna.get(&app, &path).await;
    builder
        .contains("<h1>Call back</h1>")
        .contains("value=\"web, call-back\"");

    // A visitor submits; the list counts it and the table links the contact.
    let hosted = builder
        .html
        .split("id=\"embed-link\" type=\"text\" readonly value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("hosted link")
        .to_string();
    let public_id = hosted.rsplit('/').next().expect("public id").to_string();
    let mut visitor = Visitor::default();
    let page = visitor.get(&app, &format!("/f/{public_id}")).await;
    page.expect(StatusCode::OK);
    let stamp = page
        .html
        .split("name=\"rendered\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("stamp")
        .to_string();
    app.advance(jiff::SignedDuration::from_secs(10));
    let sent = visitor
        .post(
            &app,
            &format!("/public/forms/{public_id}/submissions"),
            &[
                ("rendered", &stamp),
                ("email", "sam@example.com"),
                ("topic", "Back pain"),
            ],
            Csrf::None,
        )
        .await;
    sent.expect(StatusCode::CREATED);
    anna.get(&app, "/app/forms")
        .await
        .contains(">1<span class=\"visually-hidden\"> submissions of Call back");
    let table = anna.get(&app, &format!("{path}/submissions")).await;
    table
        .expect(StatusCode::OK)
        .contains("href=\"/app/contacts/")
        .contains("Back pain")
        .contains("submissions.csv");
}

/// The builder's live preview: a field's form posts each pause in typing
/// (htmx, debounced, no inline script) with `preview=1`, answered with the
/// preview alone, drawn from the change as typed, and nothing saved.
#[tokio::test]
async fn the_builder_previews_a_fields_settings_as_they_are_typed_without_saving_them() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let created = anna
        .post(&app, "/app/forms", &[("title", "Book a call back")], Csrf::Field(&csrf))
        .await;
    created.expect(StatusCode::SEE_OTHER);
    let path = created.location().split('?').next().unwrap_or_default().to_string();
    let builder = anna.get(&app, &path).await;
    builder
        .expect(StatusCode::OK)
        .contains(&format!(
            "hx-post=\"{path}\" hx-trigger=\"input delay:300ms\" hx-vals='{{\"preview\": \"1\"}}' hx-target=\"#preview\""
        ))
        .contains("<div class=\"form-preview\" id=\"preview\">");
    assert!(!builder.html.contains("<script>"), "no inline script");
    let v = version_of(&builder);

    let preview = anna
        .post(
            &app,
            &path,
            &[
                ("version", &v),
                ("action", "edit"),
                ("field", "email"),
                ("label", "Work email"),
                ("help", "We reply within a day"),
                ("required", "on"),
                ("preview", "1"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    preview
        .expect(StatusCode::OK)
        .contains("<div class=\"form-preview\" id=\"preview\">")
        .contains("<label for=\"f-email\">Work email")
        .contains("We reply within a day");
    assert!(!preview.html.contains("<h1>"), "the preview alone: {}", preview.html);
    let added = anna
        .post(
            &app,
            &path,
            &[
                ("version", &v),
                ("action", "add"),
                ("kind", "short_text"),
                ("label", "Your practice"),
                ("key", "practice"),
                ("preview", "1"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    added
        .expect(StatusCode::OK)
        .contains("<label for=\"f-practice\">Your practice");

    let builder = anna.get(&app, &path).await;
    assert_eq!(version_of(&builder), v, "nothing saved");
    assert_eq!(form_keys(&builder), ["name", "email"]);
    assert!(!builder.html.contains("Work email"), "{}", builder.html);
}
