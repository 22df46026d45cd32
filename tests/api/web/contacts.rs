//! The contacts table, the record, its edits and notes, export these, saved views.

use super::*;

#[tokio::test]
async fn contacts_are_created_listed_filtered_and_noted_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;

    // The empty table says what it is for.
    anna.get(&app, "/app/contacts")
        .await
        .expect(StatusCode::OK)
        .contains("No contacts yet");

    let created = anna
        .post(
            &app,
            "/app/contacts",
            &[
                ("first_name", "Maya"),
                ("last_name", "Okafor"),
                ("email", "maya@example.com"),
                ("phone", "+44 20 7946 0958"),
                ("tags", "new-patient, vip"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    created.expect(StatusCode::SEE_OTHER);
    assert!(
        created.location().ends_with("?notice=contact-created"),
        "{}",
        created.location()
    );
    let maya = contact_id(created.location());
    anna.post(
        &app,
        "/app/contacts",
        &[
            ("first_name", "Tom"),
            ("last_name", "Berg"),
            ("email", "tom@example.com"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);

    let record = anna.get(&app, created.location()).await;
    record
        .expect(StatusCode::OK)
        .contains("<h1>Maya Okafor</h1>")
        .contains("Contact created.")
        .contains("maya@example.com")
        .contains("+442079460958")
        .contains("<span class=\"tag\">vip</span>");

    // The table, searched and filtered, as a full page and as htmx's fragment.
    let all = anna.get(&app, "/app/contacts").await;
    all.expect(StatusCode::OK).contains("Maya Okafor").contains("Tom Berg");
    let searched = anna.get_htmx(&app, "/app/contacts?q=oka").await;
    searched
        .expect(StatusCode::OK)
        .contains("Maya Okafor")
        .lacks("Tom Berg")
        .lacks("<html");
    assert!(
        searched
            .html
            .trim_start()
            .starts_with("<section id=\"contact-results\"")
    );
    anna.get(&app, "/app/contacts?tag=vip")
        .await
        .expect(StatusCode::OK)
        .contains("Maya Okafor")
        .lacks("Tom Berg")
        .contains("<option value=\"vip\" selected>");
    anna.get(&app, "/app/contacts?tag=nobody-has-this")
        .await
        .contains("No contacts match these filters.");
    let bad_date = anna.get(&app, "/app/contacts?created_from=last+week").await;
    bad_date
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("Use a date such as 2026-01-31.");

    // A note through the record's form.
    let noted = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/notes"),
            &[("body", "Prefers <morning> appointments.")],
            Csrf::Field(&csrf),
        )
        .await;
    noted.expect(StatusCode::SEE_OTHER);
    assert_eq!(noted.location(), format!("/app/contacts/{maya}?notice=note-added"));
    anna.get(&app, noted.location())
        .await
        .expect(StatusCode::OK)
        .contains("Note added.")
        .contains("Prefers &#60;morning&#62; appointments.");
    let empty = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/notes"),
            &[("body", "  ")],
            Csrf::Field(&csrf),
        )
        .await;
    empty
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"body-error\"")
        .contains("aria-invalid=\"true\"");

    // Bulk tag through the table's form.
    let tom = anna.get(&app, "/app/contacts?q=berg").await;
    let tom_id = tom
        .html
        .split("name=\"ids\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("Tom's checkbox")
        .to_string();
    let tagged = anna
        .post(
            &app,
            "/app/contacts/tags",
            &[("ids", &tom_id), ("ids", &maya), ("tag", "recall-due")],
            Csrf::Field(&csrf),
        )
        .await;
    tagged.expect(StatusCode::SEE_OTHER);
    anna.get(&app, "/app/contacts?tag=recall-due")
        .await
        .contains("Maya Okafor")
        .contains("Tom Berg");
}

#[tokio::test]
async fn a_bad_contact_comes_back_with_the_error_beside_its_field() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let page = anna
        .post(
            &app,
            "/app/contacts",
            &[("first_name", "Maya"), ("email", "maya-at-example")],
            Csrf::Field(&csrf),
        )
        .await;
    page.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"email-error\"")
        .contains("value=\"maya-at-example\"")
        .contains("value=\"Maya\"");
    // A duplicate email is named at its field.
    anna.post(
        &app,
        "/app/contacts",
        &[("email", "maya@example.com")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    anna.post(
        &app,
        "/app/contacts",
        &[("email", "maya@example.com")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::CONFLICT)
    .contains("id=\"email-error\"");
}

#[tokio::test]
async fn another_organizations_contact_is_not_found() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let created = anna
        .post(&app, "/app/contacts", &[("first_name", "Maya")], Csrf::Field(&csrf))
        .await;
    let maya = contact_id(created.location());
    let mut sam = Visitor::default();
    let sam_csrf = sam
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    sam.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .expect(StatusCode::NOT_FOUND)
        .lacks("Maya");
    sam.post(
        &app,
        &format!("/app/contacts/{maya}/notes"),
        &[("body", "not mine")],
        Csrf::Field(&sam_csrf),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_contact_is_edited_with_its_custom_fields_noted_and_deleted_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    // A custom field, defined through the API.
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

    let created = anna
        .post(
            &app,
            "/app/contacts",
            &[("first_name", "Maya"), ("email", "maya@example.com")],
            Csrf::Field(&csrf),
        )
        .await;
    let maya = contact_id(created.location());
    let edit = anna.get(&app, &format!("/app/contacts/{maya}/edit")).await;
    edit.expect(StatusCode::OK)
        .contains("value=\"maya@example.com\"")
        .contains("id=\"cf-sessions_left\"");
    let version: String = edit
        .html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("version")
        .to_string();
    let fields = |sessions: &'static str| {
        vec![
            ("version", version.clone()),
            ("first_name", "Maya".to_string()),
            ("last_name", "Okafor".to_string()),
            ("email", "maya@example.com".to_string()),
            ("company", "Harbour Rowing".to_string()),
            ("tags", "vip".to_string()),
            ("cf-sessions_left", sessions.to_string()),
        ]
    };
    let bad = fields("lots");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    anna.post(&app, &format!("/app/contacts/{maya}"), &bad, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"cf-sessions_left-error\"")
        .contains("value=\"Harbour Rowing\"");
    let good = fields("6");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = anna
        .post(&app, &format!("/app/contacts/{maya}"), &good, Csrf::Field(&csrf))
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    anna.get(&app, saved.location())
        .await
        .contains("Contact saved.")
        .contains("<h1>Maya Okafor</h1>")
        .contains("Harbour Rowing")
        .contains(
            "<dt>Sessions left</dt><dd><div class=\"inline-field\" id=\"field-custom-sessions_left\">\n<span>6</span>",
        );
    // The same form again, with the version it was read at: someone else's change wins.
    anna.post(&app, &format!("/app/contacts/{maya}"), &good, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::PRECONDITION_FAILED)
        .contains("reload the page");

    // A note, rewritten and deleted.
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/notes"),
        &[("body", "First visit.")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let record = anna.get(&app, &format!("/app/contacts/{maya}")).await;
    let note_action = record
        .html
        .split(&format!("action=\"/app/contacts/{maya}/notes/"))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the note's form")
        .to_string();
    let note = note_action.trim_end_matches("/delete").to_string();
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/notes/{note}"),
        &[("body", "First visit went well.")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .contains("First visit went well.");
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/notes/{note}/delete"),
        &[],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .lacks("First visit went well.")
        .contains("No notes yet.");

    // The delete names what goes, and needs the token.
    let record = anna.get(&app, &format!("/app/contacts/{maya}")).await;
    record.contains("also deletes their notes and timeline");
    let version: String = record
        .html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("version")
        .to_string();
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/delete"),
        &[("version", &version)],
        Csrf::None,
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let deleted = anna
        .post(
            &app,
            &format!("/app/contacts/{maya}/delete"),
            &[("version", &version)],
            Csrf::Field(&csrf),
        )
        .await;
    deleted.expect(StatusCode::SEE_OTHER);
    anna.get(&app, deleted.location())
        .await
        .contains("Contact deleted.")
        .lacks("Maya");
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn export_these_exports_the_tables_filters_and_shows_the_progress_until_done() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    for (first, tags) in [("Maya", "vip"), ("Tom", ""), ("Vera", "vip")] {
        anna.post(
            &app,
            "/app/contacts",
            &[("first_name", first), ("tags", tags)],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    }
    let table = anna.get(&app, "/app/contacts?tag=vip").await;
    table
        .contains("action=\"/app/contacts/export\"")
        .contains("<input type=\"hidden\" name=\"tag\" value=\"vip\">");
    let started = anna
        .post(&app, "/app/contacts/export", &[("tag", "vip")], Csrf::Field(&csrf))
        .await;
    started.expect(StatusCode::SEE_OTHER);
    assert!(
        started.location().starts_with("/app/exports/"),
        "{}",
        started.location()
    );
    // Queued: the progress part asks htmx to refresh it.
    let waiting = anna.get_htmx(&app, started.location()).await;
    waiting
        .expect(StatusCode::OK)
        .contains("hx-trigger=\"every 1s\"")
        .contains("<progress")
        .lacks("<html");
    // Home lists it while it runs, and no more once it is done.
    anna.get(&app, "/app")
        .await
        .contains("Contact export: 0 rows so far")
        .contains(&format!("href=\"{}\"", started.location()));
    // An import too, with its rows counted.
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
    let mut upload = api.request("POST", "/imports/contacts", None);
    upload
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/csv"));
    *upload.body_mut() = Body::from("First Name,Email\nAda,ada@example.com\nBo,bo@example.com\n");
    let queued = send(&app.router, upload).await;
    assert!(queued.status.is_success(), "{}", queued.body);
    anna.get(&app, "/app").await.contains("Contact import: 0 of 2 rows");
    konnecs_tests::local::drain_jobs(&app.state).await;
    anna.get(&app, "/app")
        .await
        .contains("Nothing running.")
        .lacks("Contact export:")
        .lacks("Contact import:");
    let done = anna.get(&app, started.location()).await;
    done.expect(StatusCode::OK)
        .contains("Done: 2 contacts exported.")
        .lacks("hx-trigger");
    let id = started.location().trim_start_matches("/app/exports/");
    let download = anna.get(&app, &format!("/exports/{id}/download")).await;
    download
        .expect(StatusCode::OK)
        .contains("Maya")
        .contains("Vera")
        .lacks("Tom");
}

#[tokio::test]
async fn saved_views_are_each_members_own_named_filters_shown_as_tabs() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    for (first, tags) in [("Maya", "vip"), ("Tom", "")] {
        anna.post(
            &app,
            "/app/contacts",
            &[("first_name", first), ("tags", tags)],
            Csrf::Field(&csrf),
        )
        .await
        .expect(StatusCode::SEE_OTHER);
    }
    anna.get(&app, "/app/contacts")
        .await
        .contains("Filter the table, then save");
    let filtered = anna.get(&app, "/app/contacts?tag=vip").await;
    filtered.contains("action=\"/app/contacts/views\"");
    let saved = anna
        .post(
            &app,
            "/app/contacts/views",
            &[("tag", "vip"), ("name", "VIP patients")],
            Csrf::Field(&csrf),
        )
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/app/contacts?tag=vip&notice=view-saved");
    let tab = anna.get(&app, saved.location()).await;
    tab.contains("View saved.")
        .contains("<a href=\"/app/contacts?tag=vip\" aria-current=\"page\">VIP patients</a>")
        .contains("Maya")
        .lacks("Tom");
    anna.get(&app, "/app/contacts")
        .await
        .contains("<a href=\"/app/contacts\" aria-current=\"page\">All contacts</a>")
        .contains("<a href=\"/app/contacts?tag=vip\">VIP patients</a>");
    // The same name twice is refused; another member sees none of Anna's views.
    anna.post(
        &app,
        "/app/contacts/views",
        &[("tag", "vip"), ("name", "vip PATIENTS")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let mut sam = Visitor::default();
    sam.sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    sam.get(&app, "/app/contacts").await.lacks("VIP patients");
    // Deleted through its button.
    let page = anna.get(&app, "/app/contacts").await;
    let delete: String = page
        .html
        .split("action=\"/app/contacts/views/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the delete form")
        .to_string();
    anna.post(&app, &format!("/app/contacts/views/{delete}"), &[], Csrf::Field(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
    anna.get(&app, "/app/contacts").await.lacks("VIP patients");
}
