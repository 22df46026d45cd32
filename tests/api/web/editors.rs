//! The editors: a pipeline's name and stages, a schedule, an event type.

use super::*;

/// Every `name="stage_id" value="…"` of a page, in order (one per stage
/// form; the editor has two forms per stage once there are two stages).
fn stage_ids(page: &Page) -> Vec<String> {
    let mut ids: Vec<String> = page
        .html
        .split("name=\"stage_id\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect();
    ids.dedup();
    ids
}

/// The stage names in the editor's order, as their name fields show them.
fn stage_names(page: &Page) -> Vec<String> {
    stage_ids(page)
        .iter()
        .filter_map(|id| {
            let marker = format!("name=\"name-{id}\" type=\"text\" value=\"");
            let start = page.html.find(&marker)? + marker.len();
            Some(page.html[start..].chars().take_while(|c| *c != '"').collect())
        })
        .collect()
}

fn version(page: &Page) -> String {
    page.html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a version field")
        .to_string()
}

#[tokio::test]
async fn a_pipeline_is_renamed_and_its_stages_added_renamed_reordered_and_deleted_with_plain_forms() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    let created = anna
        .post(
            &app,
            "/app/pipelines",
            &[("name", "Rehab"), ("stages", "Assessment, Treatment, Done")],
            Csrf::Field(&csrf),
        )
        .await;
    let board_path = created.location().split('?').next().unwrap_or_default().to_string();
    let edit_path = format!("{board_path}/edit");
    anna.get(&app, &board_path)
        .await
        .contains(&format!("href=\"{edit_path}\""));
    let editor = anna.get(&app, &edit_path).await;
    editor.expect(StatusCode::OK).contains("<h1>Edit Rehab</h1>");
    assert_eq!(stage_names(&editor), ["Assessment", "Treatment", "Done"]);
    let ids = stage_ids(&editor);
    let (assessment, treatment) = (ids[0].clone(), ids[1].clone());

    // Rename: refused blank at its field, then saved.
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![("op", "rename".into()), ("name", " ".into())],
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("id=\"name-error\"");
    let renamed = submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![("op", "rename".into()), ("name", "Rehab plus".into())],
    )
    .await;
    renamed.expect(StatusCode::SEE_OTHER);
    assert_eq!(renamed.location(), format!("{edit_path}?notice=pipeline-saved"));
    anna.get(&app, renamed.location())
        .await
        .contains("Pipeline saved.")
        .contains("<h1>Edit Rehab plus</h1>");

    // Add: a second "Done" is refused next to the new stage's field.
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![("op", "add_stage".into()), ("new_stage_name", "done".into())],
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains("id=\"new_stage_name-error\">Two stages have this name.")
    .contains("value=\"done\"");
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![("op", "add_stage".into()), ("new_stage_name", "Review".into())],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let editor = anna.get(&app, &edit_path).await;
    assert_eq!(stage_names(&editor), ["Assessment", "Treatment", "Done", "Review"]);
    let review = stage_ids(&editor)[3].clone();

    // Reorder: Review up one place; the first stage has no "up".
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![("op", "up".into()), ("stage_id", review.clone())],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let editor = anna.get(&app, &edit_path).await;
    assert_eq!(stage_names(&editor), ["Assessment", "Treatment", "Review", "Done"]);
    editor.lacks("Move Assessment up").contains("Move Assessment down");

    // Rename a stage: a probability over 100 is refused at its field.
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![
            ("op", "save_stage".into()),
            ("stage_id", treatment.clone()),
            (leak(format!("name-{treatment}")), "Plan".into()),
            (leak(format!("probability-{treatment}")), "150".into()),
        ],
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY)
    .contains(&format!("id=\"probability-{treatment}-error\">Use 0 to 100."));
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![
            ("op", "save_stage".into()),
            ("stage_id", treatment.clone()),
            (leak(format!("name-{treatment}")), "Plan".into()),
            (leak(format!("probability-{treatment}")), "40".into()),
        ],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let editor = anna.get(&app, &edit_path).await;
    assert_eq!(stage_names(&editor), ["Assessment", "Plan", "Review", "Done"]);
    editor.contains(&format!(
        "name=\"probability-{treatment}\" type=\"number\" min=\"0\" max=\"100\" value=\"40\""
    ));

    // Delete a stage with a deal: refused until its deals have somewhere to go.
    let maya = anna
        .post(&app, "/app/contacts", &[("first_name", "Maya")], Csrf::Field(&csrf))
        .await;
    let maya = contact_id(maya.location());
    let pipeline_id = board_path.trim_start_matches("/app/pipelines/").to_string();
    anna.post(
        &app,
        &format!("/app/contacts/{maya}/deals"),
        &[
            ("title", "Knee programme"),
            ("pipeline_id", &pipeline_id),
            ("currency", "GBP"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![("op", "delete_stage".into()), ("stage_id", assessment.clone())],
    )
    .await
    .expect(StatusCode::CONFLICT)
    .contains(&format!("id=\"move-{assessment}-error\">This stage still has deals"));
    submit(
        &app,
        &mut anna,
        &edit_path,
        &csrf,
        vec![
            ("op", "delete_stage".into()),
            ("stage_id", assessment.clone()),
            (leak(format!("move-{assessment}")), treatment.clone()),
        ],
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let editor = anna.get(&app, &edit_path).await;
    assert_eq!(stage_names(&editor), ["Plan", "Review", "Done"]);
    let board = anna.get(&app, &board_path).await;
    let first_column = board.html.split("data-stage-column=\"").nth(1).expect("a column");
    assert!(first_column.starts_with(&treatment), "Plan is the first column");
    assert!(first_column.contains("Knee programme"), "the deal moved to Plan");

    // A form from before another change is refused, not applied over it.
    let stale = version(&anna.get(&app, &edit_path).await)
        .parse::<u64>()
        .expect("version")
        - 1;
    anna.post(
        &app,
        &edit_path,
        &[("op", "rename"), ("name", "Old"), ("version", &stale.to_string())],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    // Without the token nothing changes.
    anna.post(&app, &edit_path, &[("op", "rename"), ("name", "Old")], Csrf::None)
        .await
        .expect(StatusCode::FORBIDDEN);
    anna.get(&app, &edit_path).await.contains("<h1>Edit Rehab plus</h1>");
}

/// Posts one of the editor's forms at the version the editor shows now.
async fn submit(app: &App, anna: &mut Visitor, edit_path: &str, csrf: &str, fields: Vec<(&str, String)>) -> Page {
    let current = anna.get(app, edit_path).await;
    let mut fields = fields;
    fields.push(("version", version(&current)));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    anna.post(app, edit_path, &pairs, Csrf::Field(csrf)).await
}

/// A field name built at run time, for the `&'static str` pairs above.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// The id in the first `href="{prefix}…"` of a page.
fn linked_id(page: &Page, prefix: &str) -> String {
    let marker = format!("href=\"{prefix}");
    page.html
        .split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no link to {prefix} in {}", page.html))
        .to_string()
}

#[tokio::test]
async fn a_schedule_is_edited_with_several_intervals_a_day_date_overrides_and_its_time_zone() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.post(
        &app,
        "/app/schedules",
        &[
            ("name", "Clinic"),
            ("time_zone", "Europe/London"),
            ("monday", "09:00-12:00, 13:00-17:00"),
            ("overrides", "2026-12-25: closed"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let listing = anna.get(&app, "/app/scheduling").await;
    let id = linked_id(&listing, "/app/schedules/");
    let path = format!("/app/schedules/{id}");
    anna.get(&app, &path)
        .await
        .expect(StatusCode::OK)
        .contains("id=\"monday\" name=\"monday\" type=\"text\" value=\"09:00-12:00, 13:00-17:00\"")
        .contains("id=\"tuesday\" name=\"tuesday\" type=\"text\" value=\"\"")
        .contains("value=\"Europe/London\"")
        .contains(">2026-12-25: closed</textarea>");

    let mut fields = vec![
        ("name", "Clinic"),
        ("time_zone", "Mars/Olympus"),
        ("monday", "nine till noon"),
        ("overrides", ""),
    ];
    anna.post(&app, &path, &fields, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"monday-error\"")
        .contains("value=\"nine till noon\"");
    fields[2] = ("monday", "08:00-12:00, 12:30-16:00");
    anna.post(&app, &path, &fields, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"time_zone-error\"");
    let saved = anna
        .post(
            &app,
            &path,
            &[
                ("name", "Clinic hours"),
                ("time_zone", "America/New_York"),
                ("monday", "08:00-12:00, 12:30-16:00"),
                ("wednesday", "10:00-14:00"),
                ("overrides", "2026-12-24: 09:00-12:00"),
            ],
            Csrf::Field(&csrf),
        )
        .await;
    saved.expect(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/app/scheduling?notice=schedule-saved");
    anna.get(&app, saved.location())
        .await
        .contains("Schedule saved.")
        .contains("Clinic hours <span class=\"muted\">(America/New_York)</span>")
        .contains("<dt>Monday</dt><dd>08:00–12:00, 12:30–16:00</dd>")
        .contains("<dt>Tuesday</dt><dd>closed</dd>");
    // The override no longer listed is gone, the new one kept.
    anna.get(&app, &path)
        .await
        .contains(">2026-12-24: 09:00-12:00</textarea>")
        .lacks("2026-12-25: closed\n")
        .lacks(">2026-12-25: closed");
}

#[tokio::test]
async fn an_event_types_every_setting_is_edited_and_its_link_offered_to_copy() {
    let app = App::new();
    let mut anna = Visitor::default();
    let csrf = anna
        .sign_up(&app, "Anna Lee", "anna@lee-physio.example", "Lee Physio")
        .await;
    anna.post(
        &app,
        "/app/schedules",
        &[
            ("name", "Clinic"),
            ("time_zone", "Europe/London"),
            ("monday", "09:00-17:00"),
        ],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let schedule = linked_id(&anna.get(&app, "/app/scheduling").await, "/app/schedules/");
    anna.post(
        &app,
        "/app/event-types",
        &[("title", "Check-up"), ("durations", "30"), ("schedule_id", &schedule)],
        Csrf::Field(&csrf),
    )
    .await
    .expect(StatusCode::SEE_OTHER);
    let listing = anna.get(&app, "/app/scheduling").await;
    listing
        .contains("data-copy=\"link-1\" hidden>Copy link</button>")
        .contains("src=\"/assets/copy-");
    let event = linked_id(&listing, "/app/event-types/");
    let path = format!("/app/event-types/{event}");
    let editor = anna.get(&app, &path).await;
    editor
        .expect(StatusCode::OK)
        .contains("/check-up\">")
        .contains("id=\"public-link\" type=\"text\" readonly")
        .contains("name=\"active\" type=\"checkbox\" value=\"true\" checked");
    // The copy script is served, with the immutable caching of every asset.
    let script = format!(
        "/assets/{}",
        editor
            .html
            .split("src=\"/assets/")
            .find(|rest| rest.starts_with("copy-"))
            .and_then(|rest| rest.split('"').next())
            .expect("the copy script")
    );
    let served = anna.get(&app, &script).await;
    served.expect(StatusCode::OK).contains("data-copy");
    assert!(served.header("cache-control").contains("immutable"));

    let every = |seats: &'static str, default_duration: &'static str| {
        vec![
            ("title", "Check-up and clean"),
            ("slug", "check-up-and-clean"),
            ("description", "Scale and polish."),
            ("durations", "30, 45"),
            ("default_duration", default_duration),
            ("location_kind", "video"),
            ("location_detail", "https://meet.example/anna"),
            ("buffer_before", "5"),
            ("buffer_after", "10"),
            ("minimum_notice", "120"),
            ("window_kind", "rolling"),
            ("window_days", "45"),
            ("slot_interval", "15"),
            ("daily_limit", "6"),
            ("weekly_limit", "20"),
            ("seats", seats),
            ("requires_confirmation", "true"),
            (
                "questions",
                "reason | What brings you in? | select | required | Back; Knee",
            ),
            ("reminders", "1440: email\n60: email, sms"),
        ]
    };
    let mut fields = every("many", "45");
    fields.push(("schedule_id", &schedule));
    anna.post(&app, &path, &fields, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"seats-error\"")
        .contains("value=\"Check-up and clean\"");
    let mut fields = every("1", "60");
    fields.push(("schedule_id", &schedule));
    anna.post(&app, &path, &fields, Csrf::Field(&csrf))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .contains("id=\"durations-error\"");
    let mut fields = every("1", "45");
    fields.push(("schedule_id", &schedule));
    let saved = anna.post(&app, &path, &fields, Csrf::Field(&csrf)).await;
    saved.expect(StatusCode::SEE_OTHER);
    assert_eq!(saved.location(), "/app/scheduling?notice=event-type-saved");
    anna.get(&app, saved.location())
        .await
        .contains("Event type saved.")
        .contains("/check-up-and-clean\"")
        .contains("not taking bookings")
        .contains("you confirm each booking");
    let editor = anna.get(&app, &path).await;
    for (field, value) in [
        ("default_duration", "45"),
        ("buffer_before", "5"),
        ("buffer_after", "10"),
        ("minimum_notice", "120"),
        ("window_days", "45"),
        ("slot_interval", "15"),
        ("daily_limit", "6"),
        ("weekly_limit", "20"),
        ("location_detail", "https://meet.example/anna"),
    ] {
        editor.contains(&format!(
            "name=\"{field}\" type=\"{}\" value=\"{value}\"",
            if field == "location_detail" { "text" } else { "number" }
        ));
    }
    editor
        .contains("<option value=\"video\" selected>")
        .contains("reason | What brings you in? | select | required | Back; Knee</textarea>")
        .contains("1440: email\n60: email, sms</textarea>")
        .contains("name=\"active\" type=\"checkbox\" value=\"true\">")
        .contains("name=\"requires_confirmation\" type=\"checkbox\" value=\"true\" checked");
}
