//! Samples of the staff app's page Lambdas: each page answers HTML with the
//! staff headers, each form post redirects (post → redirect → get) having
//! done what the matching JSON route does.

use http::StatusCode;
use serde_json::Value;

use super::{DANA_EMAIL, HttpReply, World, sample_body};

/// The contact the record samples name.
const SAMPLE_CONTACT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";

/// Maria González, as `contacts-create` makes her.
async fn maria(w: &World) -> String {
    w.api("POST", "/contacts", Some(sample_body("contacts-create"))).await["id"]
        .as_str()
        .expect("contact id")
        .to_string()
}

#[track_caller]
fn assert_staff_page(reply: &HttpReply, contains: &str) {
    reply.expect(StatusCode::OK);
    assert!(
        reply.header("content-type").starts_with("text/html"),
        "{}",
        reply.header("content-type")
    );
    assert!(reply.header("content-security-policy").contains("script-src 'self'"));
    assert_eq!(reply.header("x-frame-options"), "DENY");
    assert!(reply.text.contains(contains), "no {contains:?} in {}", reply.text);
}

#[track_caller]
fn assert_redirect(reply: &HttpReply, to: &str) {
    reply.expect(StatusCode::SEE_OTHER);
    assert!(
        reply.header("location").starts_with(to),
        "redirects to {}",
        reply.header("location")
    );
}

pub async fn web_assets_serves_the_stylesheet_immutable(name: &str) {
    let w = World::empty().await;
    let url = konnecs::inbound::http::web::assets::stylesheet_url();
    let hashed = url.trim_start_matches("/assets/");
    let reply = w.http(name, &[("app-0123456789ab.css", hashed)]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/css"));
    assert_eq!(reply.header("cache-control"), "public, max-age=31536000, immutable");
    assert!(reply.text.contains("prefers-color-scheme: dark"));
}

pub async fn api_docs_draws_the_served_document_with_the_vendored_viewer(name: &str) {
    let w = World::empty().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/html"));
    assert!(reply.text.contains("spec-url=\"/openapi.json\""), "{}", reply.text);
    assert!(
        reply.text.contains("/assets/redoc-"),
        "the vendored viewer: {}",
        reply.text
    );
    assert!(!reply.text.contains("https://"), "no other origin: {}", reply.text);
}

pub async fn page_root_sends_the_signed_in_member_to_the_app(name: &str) {
    let w = World::with_dana().await;
    assert_redirect(&w.http(name, &[]).await, "/app");
}

pub async fn page_sign_in_shows_the_form(name: &str) {
    let w = World::empty().await;
    assert_staff_page(&w.http(name, &[]).await, "action=\"/sign-in\"");
}

pub async fn page_sign_in_submit_signs_in_and_opens_the_app(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app");
    assert!(
        reply.header("set-cookie").contains("konnecs_session="),
        "no session cookie: {:?}",
        reply.headers
    );
}

pub async fn page_sign_up_shows_the_form(name: &str) {
    let w = World::empty().await;
    assert_staff_page(&w.http(name, &[]).await, "name=\"business_name\"");
}

pub async fn page_sign_up_submit_creates_the_account_and_queues_its_verification(name: &str) {
    let w = World::empty().await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app");
    assert!(reply.header("set-cookie").contains("konnecs_session="));
    let jobs = w.take_jobs().await;
    assert!(
        jobs.iter().any(|job| format!("{job:?}").contains(DANA_EMAIL)),
        "no job for the verification email: {jobs:?}"
    );
}

pub async fn page_sign_out_ends_the_session(name: &str) {
    let w = World::with_dana().await;
    assert_redirect(&w.http(name, &[]).await, "/sign-in");
    let me = w.dana().send(&w.app, "GET", "/me", None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{}", me.body);
}

pub async fn page_home_shows_the_organization_and_recent_contacts(name: &str) {
    let w = World::with_dana().await;
    maria(&w).await;
    let reply = w.http(name, &[]).await;
    assert_staff_page(&reply, "Whitfield Dental");
    assert!(reply.text.contains("Maria"), "{}", reply.text);
}

pub async fn page_contacts_lists_the_contact(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let reply = w.http(name, &[]).await;
    assert_staff_page(&reply, &format!("href=\"/app/contacts/{id}\""));
}

pub async fn page_contacts_tag_tags_the_ticked_contact(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    assert_redirect(&w.http(name, &[(SAMPLE_CONTACT, &id)]).await, "/app/contacts");
    let contact = w.api("GET", &format!("/contacts/{id}"), None).await;
    let tags: Vec<&str> = contact["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tags.contains(&"recall-due"), "{tags:?}");
}

pub async fn page_contact_new_shows_the_form(name: &str) {
    let w = World::with_dana().await;
    assert_staff_page(&w.http(name, &[]).await, "action=\"/app/contacts\"");
}

pub async fn page_contact_create_creates_the_contact_and_opens_it(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app/contacts/");
    let listed = w.api("GET", "/contacts?q=maya", None).await;
    let contacts = listed["contacts"].as_array().expect("contacts");
    assert_eq!(contacts.len(), 1, "{listed}");
    assert_eq!(contacts[0]["last_name"], "Okafor");
    let id = contacts[0]["id"].as_str().expect("id");
    assert!(reply.header("location").contains(id), "{}", reply.header("location"));
}

pub async fn page_contact_shows_the_record(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &id)]).await;
    assert_staff_page(&reply, "Maria");
    assert!(reply.text.contains(&format!("action=\"/app/contacts/{id}/notes\"")));
}

pub async fn page_note_create_adds_the_note(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    assert_redirect(
        &w.http(name, &[(SAMPLE_CONTACT, &id)]).await,
        &format!("/app/contacts/{id}"),
    );
    let notes = w.api("GET", &format!("/contacts/{id}/notes"), None).await;
    assert_eq!(notes["notes"][0]["body"], "Prefers morning appointments.", "{notes}");
}

pub async fn page_settings_shows_the_organizations_profile(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_staff_page(&reply, "value=\"Whitfield Dental\"");
    assert!(reply.text.contains(DANA_EMAIL), "members listed: {}", reply.text);
}

pub async fn page_settings_save_renames_the_organization(name: &str) {
    let w = World::with_dana().await;
    let version = w.api("GET", "/org", None).await["version"].to_string();
    let reply = w.http(name, &[("version=1", &format!("version={version}"))]).await;
    assert_redirect(&reply, "/app/settings");
    let org = w.api("GET", "/org", None).await;
    assert_eq!(org["name"], "Whitfield Family Dental", "{org}");
    assert_eq!(org["industry"], "Dentistry", "{org}");
}

pub async fn page_forgot_password_asks_for_the_email(name: &str) {
    let w = World::empty().await;
    let reply = w.http(name, &[]).await;
    assert_staff_page(&reply, "action=\"/forgot-password\"");
    assert!(reply.text.contains("type=\"email\""), "{}", reply.text);
}

/// The note the note samples name.
const SAMPLE_NOTE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c6e";

/// Maria with a note: (contact id, note id).
async fn maria_with_a_note(w: &World) -> (String, String) {
    let id = maria(w).await;
    let note = w
        .api(
            "POST",
            &format!("/contacts/{id}/notes"),
            Some(serde_json::json!({"body": "Prefers morning appointments."})),
        )
        .await;
    (id, note["id"].as_str().expect("note id").to_string())
}

pub async fn page_contact_edit_shows_the_filled_form(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &id)]).await;
    assert_staff_page(&reply, &format!("action=\"/app/contacts/{id}\""));
    assert!(
        reply.text.contains("value=\"maria.gonzalez@example.com\""),
        "{}",
        reply.text
    );
}

pub async fn page_contact_update_saves_the_contact(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let version = w.api("GET", &format!("/contacts/{id}"), None).await["version"].to_string();
    let reply = w
        .http(
            name,
            &[(SAMPLE_CONTACT, &id), ("version=1", &format!("version={version}"))],
        )
        .await;
    assert_redirect(&reply, &format!("/app/contacts/{id}"));
    let contact = w.api("GET", &format!("/contacts/{id}"), None).await;
    assert_eq!(contact["company"], "Harbour Physio", "{contact}");
    assert_eq!(contact["tags"], serde_json::json!(["vip"]), "{contact}");
    assert_eq!(contact["phones"], serde_json::json!([]), "{contact}");
}

pub async fn page_contact_delete_deletes_the_contact(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let version = w.api("GET", &format!("/contacts/{id}"), None).await["version"].to_string();
    let reply = w
        .http(
            name,
            &[(SAMPLE_CONTACT, &id), ("version=1", &format!("version={version}"))],
        )
        .await;
    assert_redirect(&reply, "/app/contacts?notice=contact-deleted");
    let gone = w.dana().send(&w.app, "GET", &format!("/contacts/{id}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn page_note_update_rewrites_the_note(name: &str) {
    let w = World::with_dana().await;
    let (id, note) = maria_with_a_note(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &id), (SAMPLE_NOTE, &note)]).await;
    assert_redirect(&reply, &format!("/app/contacts/{id}?notice=note-saved"));
    let notes = w.api("GET", &format!("/contacts/{id}/notes"), None).await;
    assert_eq!(notes["notes"][0]["body"], "Prefers afternoon appointments.", "{notes}");
}

pub async fn page_note_delete_deletes_the_note(name: &str) {
    let w = World::with_dana().await;
    let (id, note) = maria_with_a_note(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &id), (SAMPLE_NOTE, &note)]).await;
    assert_redirect(&reply, &format!("/app/contacts/{id}?notice=note-deleted"));
    let notes = w.api("GET", &format!("/contacts/{id}/notes"), None).await;
    assert_eq!(notes["notes"], serde_json::json!([]), "{notes}");
}

/// The export the export page sample names.
const SAMPLE_EXPORT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5e";

pub async fn page_contacts_export_exports_the_filtered_contacts(name: &str) {
    let w = World::with_dana().await;
    w.api(
        "POST",
        "/contacts",
        Some(serde_json::json!({"first_name": "Vera", "tags": ["vip"]})),
    )
    .await;
    maria(&w).await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app/exports/");
    let id = reply.header("location").trim_start_matches("/app/exports/").to_string();
    w.run_jobs().await;
    let export = w.api("GET", &format!("/exports/{id}"), None).await;
    assert_eq!(export["state"], "done", "{export}");
    assert_eq!(export["rows_done"], 1, "only the vip: {export}");
}

pub async fn page_export_shows_the_finished_exports_download(name: &str) {
    let w = World::with_dana().await;
    maria(&w).await;
    let export = w.api("POST", "/contacts/exports", Some(serde_json::json!({}))).await;
    let id = export["id"].as_str().expect("export id").to_string();
    w.run_jobs().await;
    let reply = w.http(name, &[(SAMPLE_EXPORT, &id)]).await;
    assert_staff_page(&reply, &format!("href=\"/exports/{id}/download\""));
    assert!(
        !reply.text.contains("hx-trigger"),
        "a finished export is not polled: {}",
        reply.text
    );
}

/// The pipeline, deal and stage the board samples name.
const SAMPLE_PIPELINE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c99";
const SAMPLE_DEAL: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5e";
const SAMPLE_STAGE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c77";

/// The "New patients" pipeline of `pipelines-create`, and Maria's deal in
/// its first stage: (pipeline, deal).
async fn maria_in_the_pipeline(w: &World) -> (Value, Value) {
    let maria = maria(w).await;
    let pipeline = w.api("POST", "/pipelines", Some(sample_body("pipelines-create"))).await;
    let mut body = sample_body("deals-create");
    body["contact_id"] = serde_json::json!(maria);
    body["pipeline_id"] = pipeline["id"].clone();
    (pipeline.clone(), w.api("POST", "/deals", Some(body)).await)
}

pub async fn page_pipelines_lists_the_pipelines(name: &str) {
    let w = World::with_dana().await;
    let (pipeline, _) = maria_in_the_pipeline(&w).await;
    let reply = w.http(name, &[]).await;
    assert_staff_page(
        &reply,
        &format!("href=\"/app/pipelines/{}\"", pipeline["id"].as_str().expect("id")),
    );
}

pub async fn page_pipeline_create_makes_the_pipeline_with_its_stages(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app/pipelines/");
    let listed = w.api("GET", "/pipelines", None).await;
    let pipeline = &listed["items"][0];
    assert_eq!(pipeline["name"], "New patients", "{listed}");
    let stages: Vec<&str> = pipeline["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(stages, ["Enquiry", "Consultation booked", "Treatment plan", "Won"]);
}

pub async fn page_board_shows_the_deal_in_its_stage_with_totals(name: &str) {
    let w = World::with_dana().await;
    let (pipeline, deal) = maria_in_the_pipeline(&w).await;
    let id = pipeline["id"].as_str().expect("id");
    let reply = w.http(name, &[(SAMPLE_PIPELINE, id)]).await;
    assert_staff_page(&reply, "Full-arch implants");
    assert!(reply.text.contains("12500.00 GBP"), "the stage's total: {}", reply.text);
    let deal_id = deal["id"].as_str().expect("deal id");
    assert!(reply.text.contains(&format!("action=\"/app/deals/{deal_id}/move\"")));
}

pub async fn page_deal_move_moves_the_deal(name: &str) {
    let w = World::with_dana().await;
    let (pipeline, deal) = maria_in_the_pipeline(&w).await;
    let stage = pipeline["stages"][2]["id"].as_str().expect("stage");
    let deal_id = deal["id"].as_str().expect("deal id");
    let version = format!("version={}", deal["version"]);
    let reply = w
        .http(
            name,
            &[(SAMPLE_DEAL, deal_id), (SAMPLE_STAGE, stage), ("version=1", &version)],
        )
        .await;
    assert_redirect(
        &reply,
        &format!("/app/pipelines/{}", pipeline["id"].as_str().expect("id")),
    );
    let moved = w.api("GET", &format!("/deals/{deal_id}"), None).await;
    assert_eq!(moved["stage_id"], stage, "{moved}");
}

pub async fn page_pipeline_edit_shows_the_stages_to_edit(name: &str) {
    let w = World::with_dana().await;
    let (pipeline, _) = maria_in_the_pipeline(&w).await;
    let id = pipeline["id"].as_str().expect("id");
    let reply = w.http(name, &[(SAMPLE_PIPELINE, id)]).await;
    assert_staff_page(&reply, "Add a stage");
    let first = pipeline["stages"][0]["name"].as_str().expect("a stage name");
    assert!(reply.text.contains(&format!("Save {first}")), "{}", reply.text);
}

pub async fn page_pipeline_update_renames_the_pipeline(name: &str) {
    let w = World::with_dana().await;
    let (pipeline, _) = maria_in_the_pipeline(&w).await;
    let id = pipeline["id"].as_str().expect("id");
    let version = format!("version={}", pipeline["version"]);
    let reply = w.http(name, &[(SAMPLE_PIPELINE, id), ("version=1", &version)]).await;
    assert_redirect(&reply, &format!("/app/pipelines/{id}/edit?notice=pipeline-saved"));
    let renamed = w.api("GET", &format!("/pipelines/{id}"), None).await;
    assert_eq!(renamed["name"], "Rehab", "{renamed}");
}

pub async fn page_deal_create_opens_the_deal_for_the_contact(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let pipeline = w.api("POST", "/pipelines", Some(sample_body("pipelines-create"))).await;
    let reply = w
        .http(
            name,
            &[
                (SAMPLE_CONTACT, &id),
                (SAMPLE_PIPELINE, pipeline["id"].as_str().expect("id")),
            ],
        )
        .await;
    assert_redirect(&reply, &format!("/app/contacts/{id}?notice=deal-created"));
    let deals = w.api("GET", &format!("/deals?contact_id={id}"), None).await;
    assert_eq!(deals["items"][0]["title"], "Invisalign treatment", "{deals}");
    assert_eq!(deals["items"][0]["value"], 320_000, "{deals}");
}

/// The view the view samples name.
const SAMPLE_VIEW: &str = "0193c5d6e7f80912a3b4c5d6e7f80912";

pub async fn page_view_create_saves_the_tables_filters(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app/contacts?tag=vip&notice=view-saved");
    let listed = w.api("GET", "/contacts/views", None).await;
    assert_eq!(listed["views"][0]["name"], "VIP patients", "{listed}");
    assert_eq!(listed["views"][0]["filters"], serde_json::json!({"tag": "vip"}));
}

pub async fn page_view_delete_deletes_the_view(name: &str) {
    let w = World::with_dana().await;
    let view = w
        .api(
            "POST",
            "/contacts/views",
            Some(serde_json::json!({"name": "VIP", "filters": {"tag": "vip"}})),
        )
        .await;
    let id = view["id"].as_str().expect("view id");
    assert_redirect(
        &w.http(name, &[(SAMPLE_VIEW, id)]).await,
        "/app/contacts?notice=view-deleted",
    );
    assert_eq!(
        w.api("GET", "/contacts/views", None).await["views"],
        serde_json::json!([])
    );
}

/// The import the wizard samples name.
const SAMPLE_IMPORT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c6a";

/// An import uploaded through the wizard's sample and not started yet: its id.
async fn uploaded_import(w: &World) -> String {
    let reply = w.http("page-import-upload", &[]).await;
    assert_redirect(&reply, "/app/imports/");
    reply
        .header("location")
        .trim_start_matches("/app/imports/")
        .trim_end_matches("/map")
        .to_string()
}

pub async fn page_import_new_shows_the_upload_form(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_staff_page(&reply, "enctype=\"multipart/form-data\"");
}

pub async fn page_import_upload_stores_the_file_without_starting_it(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app/imports/");
    let id = reply
        .header("location")
        .trim_start_matches("/app/imports/")
        .trim_end_matches("/map")
        .to_string();
    let import = w.api("GET", &format!("/imports/{id}"), None).await;
    assert_eq!(import["state"], "uploading", "{import}");
    assert_eq!(import["rows_total"], 2, "{import}");
}

pub async fn page_import_map_previews_the_first_rows(name: &str) {
    let w = World::with_dana().await;
    let id = uploaded_import(&w).await;
    let reply = w.http(name, &[(SAMPLE_IMPORT, &id)]).await;
    assert_staff_page(&reply, "<td>nora.quinn@example.com</td>");
}

pub async fn page_import_start_queues_the_import_and_it_runs(name: &str) {
    let w = World::with_dana().await;
    let id = uploaded_import(&w).await;
    let reply = w.http(name, &[(SAMPLE_IMPORT, &id)]).await;
    assert_redirect(&reply, &format!("/app/imports/{id}"));
    w.run_jobs().await;
    let import = w.api("GET", &format!("/imports/{id}"), None).await;
    assert_eq!(import["state"], "done", "{import}");
    assert_eq!(import["created"], 2, "{import}");
    assert_eq!(import["tags"][0], "imported", "{import}");
}

pub async fn page_import_shows_the_finished_imports_counts(name: &str) {
    let w = World::with_dana().await;
    let id = uploaded_import(&w).await;
    w.http("page-import-start", &[(SAMPLE_IMPORT, &id)]).await;
    w.run_jobs().await;
    let reply = w.http(name, &[(SAMPLE_IMPORT, &id)]).await;
    assert_staff_page(&reply, "<li>2 created</li>");
}

pub async fn page_contacts_columns_remembers_the_members_columns(name: &str) {
    let w = World::with_dana().await;
    maria(&w).await;
    assert_redirect(&w.http(name, &[]).await, "/app/contacts?tag=vip&notice=columns-saved");
    let table = w.http("page-contacts", &[]).await;
    assert_staff_page(&table, "<th scope=\"col\">Email</th>");
    assert!(!table.text.contains("<th scope=\"col\">Phone</th>"), "{}", table.text);
}

/// The other contact the merge samples name.
const SAMPLE_OTHER_CONTACT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c7b";

/// Maria, and a second record of her under another last name: (maria, other).
async fn maria_twice(w: &World) -> (String, String) {
    let maria = maria(w).await;
    let other = w
        .api(
            "POST",
            "/contacts",
            Some(
                serde_json::json!({"first_name": "Maria", "last_name": "González-Ruiz", "phones": ["+34 612 345 678"]}),
            ),
        )
        .await["id"]
        .as_str()
        .expect("contact id")
        .to_string();
    (maria, other)
}

pub async fn page_contact_merge_form_shows_both_contacts_side_by_side(name: &str) {
    let w = World::with_dana().await;
    let (maria, other) = maria_twice(&w).await;
    let reply = w
        .http(name, &[(SAMPLE_CONTACT, &maria), (SAMPLE_OTHER_CONTACT, &other)])
        .await;
    assert_staff_page(&reply, "González-Ruiz");
    assert!(
        reply.text.contains("name=\"pick-last_name\" value=\"other\""),
        "{}",
        reply.text
    );
}

pub async fn page_contact_merge_merges_with_the_chosen_values(name: &str) {
    let w = World::with_dana().await;
    let (maria, other) = maria_twice(&w).await;
    let reply = w
        .http(name, &[(SAMPLE_CONTACT, &maria), (SAMPLE_OTHER_CONTACT, &other)])
        .await;
    assert_redirect(&reply, &format!("/app/contacts/{maria}?notice=contacts-merged"));
    let merged = w.api("GET", &format!("/contacts/{maria}"), None).await;
    assert_eq!(merged["last_name"], "González-Ruiz", "{merged}");
    assert_eq!(
        merged["phones"].as_array().map(Vec::len),
        Some(2),
        "both phones: {merged}"
    );
    let gone = w.dana().send(&w.app, "GET", &format!("/contacts/{other}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn page_contact_field_gives_htmx_the_fields_form(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &id)]).await;
    reply.expect(StatusCode::OK);
    assert!(
        reply.text.contains("name=\"value\" type=\"text\" value=\"Bay Ortho\""),
        "{}",
        reply.text
    );
}

pub async fn page_contact_field_save_saves_the_one_field(name: &str) {
    let w = World::with_dana().await;
    let id = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &id)]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.text.contains("<span>Bay Orthodontics</span>"), "{}", reply.text);
    let maria = w.api("GET", &format!("/contacts/{id}"), None).await;
    assert_eq!(maria["company"], "Bay Orthodontics", "{maria}");
    assert_eq!(maria["last_name"], "González", "only the one field changes: {maria}");
}

pub async fn page_profile_photo_removes_the_photo(name: &str) {
    let w = World::with_dana().await;
    w.api_raw("PUT", "/me/photo", "image/png", super::account::sample_png())
        .await;
    assert_eq!(w.api("GET", "/me", None).await["has_photo"], true);
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app/profile?notice=photo-removed");
    let gone = w.dana().send(&w.app, "GET", "/me/photo", None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn page_org_deletion_explains_the_timeline_and_asks_for_the_name(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_staff_page(&reply, "name=\"confirm_name\"");
    assert!(reply.text.contains("For 7 days"), "the timeline: {}", reply.text);
}

pub async fn page_org_deletion_action_deletes_the_organization(name: &str) {
    // Dana signed up a moment ago: the sign-in stands for her password.
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    assert_redirect(&reply, "/app/settings/deletion");
    let status = w.api("GET", "/org/deletion", None).await;
    assert_eq!(status["deletion"]["grace_days"], 7, "{status}");
}
