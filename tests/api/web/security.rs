//! What every staff page carries: CSRF on every signed-in form, the CSP, no framing, hashed immutable assets.

use super::*;

#[tokio::test]
async fn every_signed_in_form_needs_the_sessions_csrf_token() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let fields = [("first_name", "Maya")];
    anna.post(&app, "/app/contacts", &fields, Csrf::None)
        .await
        .expect(StatusCode::FORBIDDEN)
        .contains("This form has expired");
    anna.post(&app, "/app/contacts", &fields, Csrf::Field("forged-token"))
        .await
        .expect(StatusCode::FORBIDDEN);
    anna.post(&app, "/sign-out", &[], Csrf::None)
        .await
        .expect(StatusCode::FORBIDDEN);
    // Another session's token is no good either.
    let mut other = Visitor::default();
    let other_csrf = other
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    anna.post(&app, "/app/contacts", &fields, Csrf::Field(&other_csrf))
        .await
        .expect(StatusCode::FORBIDDEN);
    let listed = anna.get(&app, "/app/contacts").await;
    listed.contains("No contacts yet");
    // htmx sends the token as a header.
    anna.post(&app, "/app/contacts", &fields, Csrf::Header(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
    anna.post(&app, "/app/contacts", &[("first_name", "Tom")], Csrf::Field(&csrf))
        .await
        .expect(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn staff_pages_allow_only_our_own_scripts_and_styles_and_no_framing() {
    let app = App::new();
    let mut anna = Visitor::default();
    anna.sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    for path in [
        "/sign-in",
        "/sign-up",
        "/app",
        "/app/contacts",
        "/app/contacts/new",
        "/app/settings",
    ] {
        let page = anna.get(&app, path).await;
        page.expect(StatusCode::OK);
        let csp = page.header("content-security-policy");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        // No inline script or style: every <script> has a src, no style attributes.
        for script in page.html.split("<script").skip(1) {
            assert!(script.trim_start().starts_with("src="), "{path}: inline script");
        }
        assert!(!page.html.contains("<style"), "{path}: inline style element");
        assert!(!page.html.contains(" style="), "{path}: style attribute");
        assert!(page.html.contains("\"includeIndicatorStyles\":false"), "{path}");
    }
    // Every signed-in form carries the token, and htmx gets it as a header.
    let home = anna.get(&app, "/app").await;
    let csrf = home.csrf_field();
    assert!(
        home.html
            .contains(&format!("hx-headers='{{\"x-csrf-token\": \"{csrf}\"}}'"))
    );
    for path in ["/app/contacts/new", "/app/settings"] {
        let page = anna.get(&app, path).await;
        let forms = page.html.matches("method=\"post\"").count();
        let tokens = page.html.matches(&format!("name=\"_csrf\" value=\"{csrf}\"")).count();
        assert_eq!(forms, tokens, "{path}: every post form has the token");
    }
}

#[tokio::test]
async fn assets_are_served_under_their_hash_for_a_year() {
    let app = App::new();
    let mut visitor = Visitor::default();
    let page = visitor.get(&app, "/sign-in").await;
    for (marker, content_type) in [
        ("href=\"/assets/app-", "text/css"),
        ("src=\"/assets/htmx-2.0.11-", "text/javascript"),
    ] {
        let start = page
            .html
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in {}", page.html))
            + marker.find('/').unwrap_or(0);
        let url: String = page.html[start..]
            .chars()
            .skip_while(|c| *c != '/')
            .take_while(|c| *c != '"')
            .collect();
        let asset = visitor.get(&app, &url).await;
        asset.expect(StatusCode::OK);
        assert!(asset.header("content-type").starts_with(content_type), "{url}");
        assert_eq!(
            asset.header("cache-control"),
            "public, max-age=31536000, immutable",
            "{url}"
        );
    }
    visitor
        .get(&app, "/assets/app-000000000000.css")
        .await
        .expect(StatusCode::NOT_FOUND);
}

/// The staff app's pages among the catalogue's session routes.
fn page_routes() -> Vec<(&'static str, &'static str, &'static str)> {
    catalogue::entries()
        .iter()
        .filter(|e| e.auth == catalogue::Auth::Session)
        .filter_map(|e| e.http().map(|(method, path)| (e.name, method.as_str(), path)))
        .filter(|(_, _, path)| *path == "/app" || path.starts_with("/app/") || *path == "/sign-out")
        .collect()
}

#[tokio::test]
async fn every_state_changing_page_needs_the_sessions_csrf_token() {
    let app = App::new();
    let mut anna = Visitor::default();
    anna.sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let mut sam = Visitor::default();
    let sams = sam
        .sign_up(&app, "Sam Ortiz", "sam@ortiz.example", "Ortiz Studio")
        .await;
    let mut checked = 0;
    for (name, method, path) in page_routes() {
        if method == "GET" {
            continue;
        }
        let path = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    "0193a6f2c1d87b3e9f4a52c6d8e1b7a0"
                } else {
                    s
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for csrf in [
            Csrf::None,
            Csrf::Field(&sams),
            Csrf::Field("not-a-token"),
            Csrf::Header("not-a-token"),
        ] {
            let page = anna.post(&app, &path, &[("name", "x")], csrf).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}: POST {path}: {}", page.html);
            assert!(page.html.contains("This form has expired"), "{name}: {}", page.html);
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} page forms");
    // Nothing happened: Anna is still signed in, with no contact made.
    anna.get(&app, "/app/contacts")
        .await
        .expect(StatusCode::OK)
        .contains("No contacts yet");
}

/// A page naming another organization's id: (entry, method, path, form fields).
type ForeignPage = (&'static str, &'static str, String, Vec<(&'static str, String)>);

#[tokio::test]
async fn every_page_with_an_id_answers_not_found_for_another_organizations_ids() {
    use konnecs::ports::TestClock;
    use konnecs_tests::practice::{Practice, booking_id, guest};

    let clock = TestClock::at("2026-03-02T08:00:00Z".parse().expect("time"));
    let (state, dir) = konnecs_tests::local::temp_state_with_clock(std::sync::Arc::new(clock.clone()));
    // Organization B: a practice with one of everything.
    let b = Practice::open(&state, json!({})).await;
    let app = TestApp::with(state.clone(), clock.clone(), dir);
    let api = |method: &'static str, path: String, body: serde_json::Value| {
        let b = &b;
        async move {
            let reply = b.host.send(&b.app, method, &path, Some(&body)).await;
            assert!(reply.status.is_success(), "{method} {path}: {}", reply.body);
            reply.body
        }
    };
    let id = |v: &serde_json::Value| v["id"].as_str().expect("id").to_string();
    let contact = id(&api("POST", "/contacts".into(), json!({"first_name": "Bea"})).await);
    let note = id(&api("POST", format!("/contacts/{contact}/notes"), json!({"body": "B's"})).await);
    let pipeline = api(
        "POST",
        "/pipelines".into(),
        json!({"name": "B", "stages": [{"name": "One"}, {"name": "Two"}]}),
    )
    .await;
    let deal = id(&api(
        "POST",
        "/deals".into(),
        json!({"title": "B deal", "contact_id": contact, "pipeline_id": pipeline["id"], "currency": "EUR"}),
    )
    .await);
    let export = id(&api("POST", "/contacts/exports".into(), json!({})).await);
    let view = id(&api(
        "POST",
        "/contacts/views".into(),
        json!({"name": "B view", "filters": {}}),
    )
    .await);
    let invitation = id(&api(
        "POST",
        "/org/invitations".into(),
        json!({"email": "cy@b.example", "role": "member"}),
    )
    .await);
    let booking = booking_id(
        &b.book("2026-03-03T10:00:00Z", &guest("Di", "di@example.com", "Europe/London"))
            .await,
    );
    let b_user = b.host.send(&b.app, "GET", "/me", None).await.body["id"]
        .as_str()
        .expect("user id")
        .to_string();
    let stage = pipeline["stages"][1]["id"].as_str().expect("stage").to_string();
    let event_type = b.event_type_id.clone();
    let schedule = api("GET", format!("/event-types/{event_type}"), json!({})).await["schedule_id"]
        .as_str()
        .expect("schedule")
        .to_string();
    let import = id(&api(
        "POST",
        "/imports/contacts".into(),
        json!({"csv": "email\nbea@b.example\n", "more_parts": true}),
    )
    .await);
    let webhook = id(&api(
        "POST",
        "/org/webhooks".into(),
        json!({"url": "https://hooks.b.example/in", "events": ["contact.created"]}),
    )
    .await);

    let form = id(&api(
        "POST",
        "/forms".into(),
        json!({"title": "B form", "fields": [{"key": "email", "kind": "email", "label": "Email"}]}),
    )
    .await);

    // Organization A's owner tries every page that names an id.
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let cases: Vec<ForeignPage> = vec![
        ("page-contact", "GET", format!("/app/contacts/{contact}"), vec![]),
        (
            "page-contact-sms",
            "GET",
            format!("/app/contacts/{contact}/sms"),
            vec![],
        ),
        (
            "page-contact-edit",
            "GET",
            format!("/app/contacts/{contact}/edit"),
            vec![],
        ),
        (
            "page-contact-update",
            "POST",
            format!("/app/contacts/{contact}"),
            vec![("first_name", "Mine".into())],
        ),
        (
            "page-contact-delete",
            "POST",
            format!("/app/contacts/{contact}/delete"),
            vec![],
        ),
        (
            "page-note-create",
            "POST",
            format!("/app/contacts/{contact}/notes"),
            vec![("body", "Mine".into())],
        ),
        (
            "page-contact-email",
            "POST",
            format!("/app/contacts/{contact}/email"),
            vec![
                ("subject", "Hello".into()),
                ("body", "Mine".into()),
                ("send_key", "a-form-key".into()),
            ],
        ),
        (
            "page-note-update",
            "POST",
            format!("/app/contacts/{contact}/notes/{note}"),
            vec![("body", "Mine".into())],
        ),
        (
            "page-note-delete",
            "POST",
            format!("/app/contacts/{contact}/notes/{note}/delete"),
            vec![],
        ),
        (
            "page-deal-create",
            "POST",
            format!("/app/contacts/{contact}/deals"),
            vec![
                ("title", "Mine".into()),
                ("pipeline_id", id(&pipeline)),
                ("currency", "EUR".into()),
            ],
        ),
        ("page-board", "GET", format!("/app/pipelines/{}", id(&pipeline)), vec![]),
        (
            "page-pipeline-edit",
            "GET",
            format!("/app/pipelines/{}/edit", id(&pipeline)),
            vec![],
        ),
        (
            "page-pipeline-update",
            "POST",
            format!("/app/pipelines/{}/edit", id(&pipeline)),
            vec![("op", "rename".into()), ("name", "Mine".into())],
        ),
        (
            "page-deal-move",
            "POST",
            format!("/app/deals/{deal}/move"),
            vec![("stage_id", stage.clone())],
        ),
        (
            "page-schedule-edit",
            "GET",
            format!("/app/schedules/{schedule}"),
            vec![],
        ),
        (
            "page-schedule-update",
            "POST",
            format!("/app/schedules/{schedule}"),
            vec![("name", "Mine".into()), ("time_zone", "Europe/London".into())],
        ),
        (
            "page-event-type-edit",
            "GET",
            format!("/app/event-types/{event_type}"),
            vec![],
        ),
        (
            "page-event-type-update",
            "POST",
            format!("/app/event-types/{event_type}"),
            vec![("title", "Mine".into()), ("durations", "30".into())],
        ),
        ("page-export", "GET", format!("/app/exports/{export}"), vec![]),
        (
            "page-view-delete",
            "POST",
            format!("/app/contacts/views/{view}/delete"),
            vec![],
        ),
        (
            "page-invitation-revoke",
            "POST",
            format!("/app/settings/invitations/{invitation}/revoke"),
            vec![],
        ),
        (
            "page-member",
            "POST",
            format!("/app/settings/members/{b_user}"),
            vec![("action", "remove".into())],
        ),
        (
            "page-appointment-action",
            "POST",
            format!("/app/appointments/{booking}"),
            vec![("action", "cancel".into())],
        ),
        (
            "page-contact-field",
            "GET",
            format!("/app/contacts/{contact}/fields/company"),
            vec![],
        ),
        (
            "page-contact-field-save",
            "POST",
            format!("/app/contacts/{contact}/fields/company"),
            vec![("value", "Mine".into())],
        ),
        (
            "page-contact-merge-form",
            "GET",
            format!("/app/contacts/{contact}/merge"),
            vec![],
        ),
        (
            "page-contact-merge",
            "POST",
            format!("/app/contacts/{contact}/merge"),
            vec![("other_id", contact.clone())],
        ),
        ("page-import-map", "GET", format!("/app/imports/{import}/map"), vec![]),
        (
            "page-import-start",
            "POST",
            format!("/app/imports/{import}/start"),
            vec![("col-0", "email".into())],
        ),
        ("page-import", "GET", format!("/app/imports/{import}"), vec![]),
        ("page-form-builder", "GET", format!("/app/forms/{form}"), vec![]),
        (
            "page-form-save",
            "POST",
            format!("/app/forms/{form}"),
            vec![("action", "remove".into()), ("field", "email".into())],
        ),
        (
            "page-form-submissions",
            "GET",
            format!("/app/forms/{form}/submissions"),
            vec![],
        ),
        (
            "page-webhook",
            "GET",
            format!("/app/settings/webhooks/{webhook}"),
            vec![],
        ),
        (
            "page-webhook-action",
            "POST",
            format!("/app/settings/webhooks/{webhook}"),
            vec![("action", "delete".into())],
        ),
        (
            "page-contact-book-form",
            "GET",
            format!("/app/contacts/{contact}/book?event_type={event_type}"),
            vec![],
        ),
        (
            "page-contact-book",
            "POST",
            format!("/app/contacts/{contact}/book"),
            vec![
                ("event_type", event_type.clone()),
                ("start", "2026-03-03T11:00:00Z".into()),
            ],
        ),
        (
            "page-schedule-delete",
            "POST",
            format!("/app/schedules/{schedule}/delete"),
            vec![],
        ),
        (
            "page-event-type-delete",
            "POST",
            format!("/app/event-types/{event_type}/delete"),
            vec![],
        ),
        (
            "page-contacts-tag",
            "POST",
            "/app/contacts/tags".into(),
            vec![("ids", contact.clone()), ("tag", "mine".into())],
        ),
    ];
    let with_ids: Vec<&str> = page_routes()
        .into_iter()
        .filter(|(_, _, path)| path.contains('{'))
        .map(|(name, _, _)| name)
        .collect();
    for name in &with_ids {
        assert!(cases.iter().any(|(case, ..)| case == name), "{name} is not walked");
    }
    for (name, method, path, fields) in &cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = if *method == "GET" {
            anna.get(&app, path).await
        } else {
            anna.post(&app, path, &fields, Csrf::Field(&csrf)).await
        };
        if *name == "page-contacts-tag" {
            // As `POST /contacts/tags`: ids the organization does not have are
            // passed over (B's contact stays untagged, checked below).
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{name}: {}", page.html);
            continue;
        }
        assert_eq!(
            page.status,
            StatusCode::NOT_FOUND,
            "{name}: {method} {path}: {}",
            page.html
        );
        assert!(page.html.contains("<h1>Not found</h1>"), "{name}: {}", page.html);
    }
    // B's things are untouched, and B finds each of them.
    for path in [
        format!("/contacts/{contact}"),
        format!("/deals/{deal}"),
        format!("/exports/{export}"),
        format!("/appointments/{booking}"),
        format!("/event-types/{event_type}"),
        format!("/schedules/{schedule}"),
    ] {
        let reply = b.host.send(&b.app, "GET", &path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
    let contact_b = b.host.send(&b.app, "GET", &format!("/contacts/{contact}"), None).await;
    assert_eq!(contact_b.body["first_name"], "Bea");
    assert_eq!(contact_b.body["tags"], json!([]));
    let notes = b
        .host
        .send(&b.app, "GET", &format!("/contacts/{contact}/notes"), None)
        .await;
    assert_eq!(notes.body["notes"][0]["body"], "B's");
    let deals = b
        .host
        .send(&b.app, "GET", &format!("/deals?contact_id={contact}"), None)
        .await;
    assert_eq!(deals.body["items"].as_array().map(Vec::len), Some(1), "{}", deals.body);
    let members = b.host.send(&b.app, "GET", "/org/members", None).await;
    assert_eq!(members.body["members"].as_array().map(Vec::len), Some(1));
}
