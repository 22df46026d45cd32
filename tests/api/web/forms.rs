//! Refused forms come back as the page they were posted from, at a 4xx,
//! with the error beside the field and the words sent kept, and nothing
//! is written.

use super::*;

/// Signs Anna up with one contact and one pipeline: (csrf, contact id, pipeline id).
async fn anna_with_maya(app: &App, anna: &mut Visitor) -> (String, String, String) {
    let csrf = anna
        .sign_up(app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let created = anna
        .post(
            app,
            "/app/pipelines",
            &[("name", "Rehab"), ("stages", "Assessment, Done")],
            Csrf::Field(&csrf),
        )
        .await;
    created.expect(StatusCode::SEE_OTHER);
    let pipeline = created
        .location()
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_start_matches("/app/pipelines/")
        .to_string();
    let maya = anna
        .post(
            app,
            "/app/contacts",
            &[("first_name", "Maya"), ("tags", "vip")],
            Csrf::Field(&csrf),
        )
        .await;
    maya.expect(StatusCode::SEE_OTHER);
    (csrf, contact_id(maya.location()), pipeline)
}

#[tokio::test]
async fn a_refused_deal_comes_back_on_the_record_beside_its_fields() {
    let app = App::new();
    let mut anna = Visitor::default();
    let (csrf, maya, pipeline) = anna_with_maya(&app, &mut anna).await;
    let deals = format!("/app/contacts/{maya}/deals");

    let blank_title = anna
        .post(
            &app,
            &deals,
            &[
                ("title", " "),
                ("pipeline_id", &pipeline),
                ("value", "80"),
                ("currency", "gbp"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    blank_title
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("<h1>Maya</h1>")
        .contains("id=\"deal-title-error\"")
        .contains("aria-describedby=\"deal-title-error\"")
        .contains("value=\"80\"")
        .contains(&format!("<option value=\"{pipeline}\" selected>Rehab</option>"))
        .contains("<details open>");

    let bad_value = anna
        .post(
            &app,
            &deals,
            &[
                ("title", "Knee programme"),
                ("pipeline_id", &pipeline),
                ("value", "lots"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    bad_value
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"deal-value-error\"")
        .contains("Use an amount such as 1200 or 1200.50.")
        .contains("value=\"Knee programme\"")
        .lacks("id=\"deal-title-error\"");

    let bad_currency = anna
        .post(
            &app,
            &deals,
            &[
                ("title", "Knee programme"),
                ("pipeline_id", &pipeline),
                ("currency", "pounds"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    bad_currency
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"deal-currency-error\"")
        .contains("value=\"pounds\"");

    // Nothing was opened: the record and the board show no deal.
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .expect(StatusCode::OK)
        .contains("No deals.")
        .lacks("Knee programme");
    anna.get(&app, &format!("/app/pipelines/{pipeline}"))
        .await
        .expect(StatusCode::OK)
        .lacks("Knee programme");
}

#[tokio::test]
async fn a_refused_note_edit_comes_back_open_with_its_error_and_the_note_unchanged() {
    let app = App::new();
    let mut anna = Visitor::default();
    let (csrf, maya, _) = anna_with_maya(&app, &mut anna).await;
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/notes"),
        &[("body", "First visit.")],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let record = anna.get(&app, &format!("/app/contacts/{maya}")).await;
    let note = record
        .html
        .split(&format!("action=\"/app/contacts/{maya}/notes/"))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the note's form")
        .trim_end_matches("/delete")
        .to_string();

    let too_long = "x".repeat(20_001);
    for body in ["   ", too_long.as_str()] {
        let refused = anna
            .post(
                &app,
                &format!("/app/contacts/{maya}/notes/{note}"),
                &[("body", body)],
                Csrf::Field(&csrf),
            )
            .await;
        refused
            .expect(StatusCode::UNPROCESSABLE_ENTITY)
            .contains(&format!("id=\"note-{note}-error\""))
            .contains(&format!("aria-describedby=\"note-{note}-error\""))
            .contains(&format!("<a href=\"#note-{note}\">"))
            .contains("<details open>");
    }

    let after = anna.get(&app, &format!("/app/contacts/{maya}")).await;
    after
        .expect(StatusCode::OK)
        .contains("<p class=\"note-body\">First visit.</p>")
        .lacks("field-error");
}

#[tokio::test]
async fn a_refused_view_or_bulk_tag_comes_back_on_the_table_with_its_error() {
    let app = App::new();
    let mut anna = Visitor::default();
    let (csrf, maya, _) = anna_with_maya(&app, &mut anna).await;

    // A view without a name: the filtered table, the form open with its error.
    let unnamed = anna
        .post(
            &app,
            "/app/contacts/views",
            &[("tag", "vip"), ("name", "  ")],
            Csrf::Field(&csrf),
        )
        .await;
    unnamed
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"view-name-error\"")
        .contains("aria-describedby=\"view-name-error\"")
        .contains("<option value=\"vip\" selected>")
        .contains("Maya");
    // A view of impossible dates: the error named, nothing saved.
    let bad_dates = anna
        .post(
            &app,
            "/app/contacts/views",
            &[("created_from", "last week"), ("name", "Recent")],
            Csrf::Field(&csrf),
        )
        .await;
    bad_dates
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("Use a date such as 2026-01-31.")
        .contains("value=\"Recent\"");
    anna.get(&app, "/app/contacts")
        .await
        .expect(StatusCode::OK)
        .lacks(">Recent</a>")
        .lacks("Delete the view");

    // Bulk tag with nothing ticked, then with a tag that is not one.
    let back = "/app/contacts?tag=vip";
    let nothing_ticked = anna
        .post(
            &app,
            "/app/contacts/tags",
            &[("tag", "follow-up"), ("back", back)],
            Csrf::Field(&csrf),
        )
        .await;
    nothing_ticked
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"bulk-tag-error\"")
        .contains("Tick at least one contact.")
        .contains("<option value=\"vip\" selected>")
        .contains("value=\"follow-up\"");
    let bad_tag = anna
        .post(
            &app,
            "/app/contacts/tags",
            &[("ids", &maya), ("tag", "  "), ("back", back)],
            Csrf::Field(&csrf),
        )
        .await;
    bad_tag
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"bulk-tag-error\"");
    anna.get(&app, &format!("/app/contacts/{maya}"))
        .await
        .contains("<span class=\"tag\">vip</span>")
        .lacks("follow-up");

    // The table's bulk form says where it comes back to.
    anna.get(&app, back)
        .await
        .contains("name=\"back\" value=\"/app/contacts?tag=vip\"");

    // Export these with a filter that is not a date: the table with the error, no job.
    let export = anna
        .post(
            &app,
            "/app/contacts/export",
            &[("created_to", "soon")],
            Csrf::Field(&csrf),
        )
        .await;
    export
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("Use a date such as 2026-01-31.")
        .contains("<h1>Contacts</h1>");
}
