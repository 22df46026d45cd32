//! The import wizard with plain forms: upload a file, see its first rows,
//! choose the columns' fields (offered as last time), start it, follow its
//! progress to the result and the error report; refusals come back beside
//! their fields and start nothing.

use super::*;

const BOUNDARY: &str = "----konnecs-test-7MA4YWxk";

impl Visitor {
    /// A file form as a browser posts it (`multipart/form-data`).
    async fn post_file(&mut self, app: &App, path: &str, csrf: &str, filename: &str, file: &[u8]) -> Page {
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n").as_bytes(),
        );
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        let request = Request::post(path)
            .header("cookie", self.cookie_header())
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .header("host", "konnecs.test")
            .header("origin", "http://konnecs.test")
            .header("sec-fetch-site", "same-origin")
            .body(Body::from(body))
            .expect("request");
        self.send(app, request).await
    }
}

/// The import id in `/app/imports/{id}/map`.
fn import_id(location: &str) -> String {
    location
        .trim_start_matches("/app/imports/")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The value of the option marked selected in the select `id`.
fn selected(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("<select id=\"{id}\""))
        .unwrap_or_else(|| panic!("no select {id} in {html}"));
    let select = &html[start..];
    let select = &select[..select.find("</select>").unwrap_or(select.len())];
    let marker = select
        .find("\" selected>")
        .unwrap_or_else(|| panic!("nothing selected in {select}"));
    let value_start = select[..marker].rfind("value=\"").expect("an option") + "value=\"".len();
    select[value_start..marker].to_string()
}

const FILE: &str = "First name,Last name,E-mail Address,Handy,Notes\n\
Nora,Quinn,nora@example.com,+44 20 7946 0123,likes mornings\n\
Owen,Pike,owen@example.com,,\n\
Nobody,Atall,,,no email and no phone\n";

#[tokio::test]
async fn a_csv_is_uploaded_previewed_mapped_started_and_followed_to_its_result() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.get(&app, "/app/contacts")
        .await
        .contains("href=\"/app/imports/new\"");
    anna.get(&app, "/app/imports/new")
        .await
        .expect(StatusCode::OK)
        .contains("enctype=\"multipart/form-data\"")
        .contains("No imports yet.");

    let uploaded = anna
        .post_file(&app, "/app/imports", &csrf, "patients.csv", FILE.as_bytes())
        .await;
    uploaded.expect(StatusCode::SEE_OTHER);
    assert!(uploaded.location().ends_with("/map"), "{}", uploaded.location());
    let id = import_id(uploaded.location());

    // The first rows, and each column's field as its header says.
    let map = anna.get(&app, uploaded.location()).await;
    map.expect(StatusCode::OK)
        .contains("The file has 3 rows.")
        .contains("<th scope=\"col\">E-mail Address</th>")
        .contains("<td>nora@example.com</td>")
        .contains("<td>likes mornings</td>");
    assert_eq!(selected(&map.html, "col-0"), "first_name");
    assert_eq!(selected(&map.html, "col-2"), "email");
    assert_eq!(selected(&map.html, "col-3"), "ignore");
    // Nothing runs before it is started.
    anna.get(&app, &format!("/app/imports/{id}"))
        .await
        .contains("has not started");

    let started = anna
        .post(
            &app,
            &format!("/app/imports/{id}/start"),
            &[
                ("col-0", "first_name"),
                ("col-1", "last_name"),
                ("col-2", "email"),
                ("col-3", "phone"),
                ("col-4", "ignore"),
                ("mode", "skip"),
                ("tags", "imported, spring"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    started.expect(StatusCode::SEE_OTHER);
    assert_eq!(started.location(), format!("/app/imports/{id}"));

    // Queued: the bar, a refresh link without JavaScript, and htmx's poll.
    let waiting = anna.get(&app, started.location()).await;
    waiting
        .expect(StatusCode::OK)
        .contains("<progress id=\"import-bar\" max=\"3\" value=\"0\">")
        .contains(&format!("<a href=\"/app/imports/{id}\">Refresh</a>"))
        .contains("hx-trigger=\"every 1s\"");
    let fragment = anna.get_htmx(&app, started.location()).await;
    fragment
        .expect(StatusCode::OK)
        .lacks("<html")
        .contains("Importing: 0 of 3 rows");
    assert!(fragment.html.trim_start().starts_with("<div id=\"import-progress\""));
    // The map of a started import leads to its progress; starting again changes nothing.
    let again = anna.get(&app, &format!("/app/imports/{id}/map")).await;
    again.expect(StatusCode::SEE_OTHER);
    assert_eq!(again.location(), format!("/app/imports/{id}"));
    let twice = anna
        .post(
            &app,
            &format!("/app/imports/{id}/start"),
            &[("mode", "update")],
            Csrf::Field(&csrf),
        )
        .await;
    twice.expect(StatusCode::SEE_OTHER);

    app.drain_jobs().await;
    let done = anna.get_htmx(&app, started.location()).await;
    done.expect(StatusCode::OK)
        .contains("Done: 3 rows read.")
        .contains("<li>2 created</li>")
        .contains("<li>1 not imported</li>")
        .contains(&format!("href=\"/imports/{id}/errors.csv\""))
        .lacks("hx-trigger");
    let report = anna.get(&app, &format!("/imports/{id}/errors.csv")).await;
    report.expect(StatusCode::OK).contains("4,");
    anna.get(&app, "/app/contacts?tag=spring")
        .await
        .contains("Nora Quinn")
        .contains("Owen Pike")
        .contains("+442079460123")
        .lacks("Nobody");
    anna.get(&app, "/app/imports/new")
        .await
        .contains(&format!("href=\"/app/imports/{id}\""))
        .contains("3 rows · done");
}

#[tokio::test]
async fn the_next_file_is_offered_the_members_last_mapping() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let first = anna
        .post_file(&app, "/app/imports", &csrf, "a.csv", FILE.as_bytes())
        .await;
    let first = import_id(first.location());
    anna.post(
        &app,
        &format!("/app/imports/{first}/start"),
        // "Handy" is no header the detection knows; Anna says it is the phone,
        // and that the last name is the company (her choice, remembered too).
        &[("col-1", "company"), ("col-3", "phone")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);

    let second = anna
        .post_file(
            &app,
            "/app/imports",
            &csrf,
            "b.csv",
            b"HANDY,Last Name,email\n+44 20 7946 0999,Rowe,rae@example.com\n",
        )
        .await;
    let map = anna.get(&app, second.location()).await;
    map.expect(StatusCode::OK);
    assert_eq!(selected(&map.html, "col-0"), "phone");
    assert_eq!(selected(&map.html, "col-1"), "company");
    assert_eq!(selected(&map.html, "col-2"), "email");

    // Another member of another organization is offered only what the headers say.
    let mut sam = Visitor::default();
    let sams = sam
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    let theirs = sam
        .post_file(
            &app,
            "/app/imports",
            &sams,
            "c.csv",
            b"HANDY,Last Name\n+44 20 7946 0888,Stone\n",
        )
        .await;
    theirs.expect(StatusCode::SEE_OTHER);
    let map = sam.get(&app, theirs.location()).await;
    assert_eq!(selected(&map.html, "col-0"), "ignore");
    assert_eq!(selected(&map.html, "col-1"), "last_name");
    // And Anna's import is not found by Sam.
    sam.get(&app, &format!("/app/imports/{first}"))
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn refused_uploads_and_starts_come_back_beside_their_fields_and_start_nothing() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;

    // No file chosen (the browser sends the input with an empty name).
    let none = anna.post_file(&app, "/app/imports", &csrf, "", b"").await;
    none.expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"file-error\"")
        .contains("Choose a CSV file.")
        .contains("aria-describedby=\"file-error\"");
    // A file without even a header row.
    anna.post_file(&app, "/app/imports", &csrf, "empty.csv", b"")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"file-error\"")
        .contains("no header row");
    // A file that is not UTF-8 text.
    anna.post_file(&app, "/app/imports", &csrf, "photo.csv", b"name\n\xff\xfe\xfd\n")
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"file-error\"");
    // The wrong token: refused before anything is stored.
    anna.post_file(&app, "/app/imports", "not-a-token", "a.csv", FILE.as_bytes())
        .await
        .expect(StatusCode::FORBIDDEN);
    anna.get(&app, "/app/imports/new").await.contains("No imports yet.");

    let uploaded = anna
        .post_file(&app, "/app/imports", &csrf, "a.csv", FILE.as_bytes())
        .await;
    let id = import_id(uploaded.location());
    let refused = anna
        .post(
            &app,
            &format!("/app/imports/{id}/start"),
            &[
                ("col-2", "email"),
                ("col-4", "shoe_size"),
                ("mode", "update"),
                ("tags", "fine, #not-a-tag"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    refused
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"col-4-error\"")
        .contains("id=\"tags-error\"")
        .contains("value=\"fine, #not-a-tag\"")
        .contains("value=\"update\" checked")
        .contains("<td>nora@example.com</td>");
    // No column says which contact a row is: the form says so, over the fields.
    anna.post(
        &app,
        &format!("/app/imports/{id}/start"),
        &[("col-2", "ignore")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("Map at least one column to email, phone or id");
    anna.get(&app, &format!("/app/imports/{id}"))
        .await
        .contains("has not started");
    app.drain_jobs().await;
    anna.get(&app, "/app/contacts").await.contains("No contacts yet");
}
