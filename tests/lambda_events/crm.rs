//! Samples of the CRM Lambdas: contacts, notes, tags, fields, pipelines and
//! deals, imports and exports.

use http::StatusCode;
use konnecs::domain::ids::OrgId;
use konnecs::services::jobs::Job;
use serde_json::{Value, json};

use super::{World, sample_body};

/// The contact most CRM samples name (Maria González).
const SAMPLE_CONTACT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";
/// The duplicate `contacts-merge` merges into her.
const SAMPLE_DUPLICATE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5e";
const SAMPLE_NOTE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c6e";
const SAMPLE_FIELD: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";
const SAMPLE_PIPELINE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";
/// The pipeline `deals-create` opens its deal in.
const SAMPLE_DEAL_PIPELINE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c99";
/// The stage `deals-update` moves its deal to.
const SAMPLE_STAGE: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c77";
const SAMPLE_DEAL: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";
const SAMPLE_IMPORT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5d";
const SAMPLE_EXPORT: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4c5e";

fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

/// Maria González, as `contacts-create` makes her.
async fn maria(w: &World) -> String {
    id_of(&w.api("POST", "/contacts", Some(sample_body("contacts-create"))).await)
}

async fn contact(w: &World, body: Value) -> String {
    id_of(&w.api("POST", "/contacts", Some(body)).await)
}

/// The "New patients" pipeline of `pipelines-create`.
async fn pipeline(w: &World) -> Value {
    w.api("POST", "/pipelines", Some(sample_body("pipelines-create"))).await
}

/// Maria's deal in the "New patients" pipeline, as `deals-create` opens it:
/// (deal, pipeline).
async fn deal(w: &World) -> (Value, Value) {
    let maria = maria(w).await;
    let pipeline = pipeline(w).await;
    let mut body = sample_body("deals-create");
    body["contact_id"] = json!(maria);
    body["pipeline_id"] = pipeline["id"].clone();
    (w.api("POST", "/deals", Some(body)).await, pipeline)
}

/// An import of `csv` with `query`, run to its end by the jobs worker.
async fn finished_import(w: &World, query: &str, csv: &str) -> Value {
    let reply = w
        .api_raw(
            "POST",
            &format!("/imports/contacts{query}"),
            "text/csv",
            csv.as_bytes().to_vec(),
        )
        .await;
    w.run_jobs().await;
    w.api("GET", &format!("/imports/{}", id_of(&reply.body)), None).await
}

/// A spring-recall import with one row that is not a person (no name, no email).
async fn import_with_a_rejected_row(w: &World) -> Value {
    let csv = "first_name,last_name,email,phone,tags\nAisha,Khan,aisha.khan@example.com,+44 20 7946 0958,recall\n,,not-an-email,,\n";
    let import = finished_import(w, "?tags=spring-recall", csv).await;
    assert_eq!(
        (&import["state"], &import["created"], &import["failed"]),
        (&json!("done"), &json!(1), &json!(1)),
        "{import}"
    );
    import
}

pub async fn contacts_create_makes_the_contact_with_an_e164_phone(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    let shown = w.api("GET", &format!("/contacts/{}", id_of(&reply.body)), None).await;
    assert_eq!(
        (&shown["first_name"], &shown["last_name"]),
        (&json!("Maria"), &json!("González"))
    );
    assert_eq!(shown["phones"][0]["e164"], "+14155552671");
    assert_eq!(shown["emails"][0]["address"], "maria.gonzalez@example.com");
    assert_eq!(shown["tags"], json!(["new-patient"]));
}

pub async fn contacts_list_filters_by_the_tag(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    contact(&w, json!({"first_name": "Tom", "tags": ["recall"]})).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let ids: Vec<&str> = reply.body["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [maria.as_str()]);
}

pub async fn contacts_get_shows_the_contact(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &maria)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["id"], &reply.body["first_name"]),
        (&json!(maria), &json!("Maria"))
    );
}

pub async fn contacts_update_changes_the_company_and_adds_the_tag(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &maria)]).await;
    reply.expect(StatusCode::OK);
    let shown = w.api("GET", &format!("/contacts/{maria}"), None).await;
    assert_eq!(shown["company"], "Bay Orthodontics");
    assert_eq!(shown["tags"], json!(["new-patient", "vip"]));
    assert_eq!(shown["version"], 2);
}

pub async fn contacts_delete_deletes_the_contact(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    w.http(name, &[(SAMPLE_CONTACT, &maria)])
        .await
        .expect(StatusCode::NO_CONTENT);
    let gone = w.dana().send(&w.app, "GET", &format!("/contacts/{maria}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn contacts_timeline_lists_the_contacts_entries(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    w.api(
        "POST",
        &format!("/contacts/{maria}/notes"),
        Some(sample_body("notes-create")),
    )
    .await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &maria)]).await;
    reply.expect(StatusCode::OK);
    let kinds: Vec<&str> = reply.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"note"), "newest first: {kinds:?}");
}

pub async fn contacts_merge_merges_the_duplicate_into_the_contact(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    let duplicate = contact(
        &w,
        json!({"first_name": "María", "emails": ["maria@bay-ortho.example"], "tags": ["implants"]}),
    )
    .await;
    let reply = w
        .http(name, &[(SAMPLE_CONTACT, &maria), (SAMPLE_DUPLICATE, &duplicate)])
        .await;
    reply.expect(StatusCode::OK);
    let merged = w.api("GET", &format!("/contacts/{maria}"), None).await;
    assert_eq!(merged["first_name"], "Maria", "the primary's values win");
    assert_eq!(merged["tags"], json!(["new-patient", "implants"]));
    let addresses: Vec<&str> = merged["emails"]
        .as_array()
        .expect("emails")
        .iter()
        .filter_map(|e| e["address"].as_str())
        .collect();
    assert_eq!(addresses, ["maria.gonzalez@example.com", "maria@bay-ortho.example"]);
    let gone = w
        .dana()
        .send(&w.app, "GET", &format!("/contacts/{duplicate}"), None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn contacts_tags_bulk_tags_the_contact(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &maria)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body, json!({"updated": 1, "unchanged": 0, "not_found": []}));
    let shown = w.api("GET", &format!("/contacts/{maria}"), None).await;
    assert_eq!(shown["tags"], json!(["new-patient", "recall-2026"]));
}

pub async fn contacts_export_streams_the_tagged_contacts_as_json_lines(name: &str) {
    let w = World::with_dana().await;
    maria(&w).await;
    let tom = contact(
        &w,
        json!({"first_name": "Tom", "last_name": "Baker", "tags": ["recall"]}),
    )
    .await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/x-ndjson");
    let lines: Vec<Value> = reply
        .text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", reply.text);
    assert_eq!((&lines[0]["id"], &lines[0]["first_name"]), (&json!(tom), &json!("Tom")));
}

pub async fn contacts_exports_create_queues_the_export_job(name: &str) {
    let w = World::with_dana().await;
    w.take_jobs().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::ACCEPTED);
    assert_eq!(reply.body["filter"]["tag"], "spring-recall");
    let jobs = w.take_jobs().await;
    assert_eq!(
        jobs,
        [Job::Export {
            org_id: OrgId::from(w.org_id.clone()),
            export_id: id_of(&reply.body)
        }]
    );
}

/// The spring-recall export of `contacts-exports-create`, run by the bulk worker.
async fn finished_export(w: &World) -> String {
    contact(
        w,
        json!({"first_name": "Tom", "last_name": "Baker", "tags": ["spring-recall"]}),
    )
    .await;
    let export = w
        .api(
            "POST",
            "/contacts/exports",
            Some(sample_body("contacts-exports-create")),
        )
        .await;
    w.run_jobs().await;
    id_of(&export)
}

/// The organization and export of the `bulk-worker` sample.
const SAMPLE_EXPORT_ORG: &str = "0193a4c2e6f07b1d9e8a2c4f6b8d0e2a";

pub async fn bulk_worker_writes_the_queued_export_once(name: &str) {
    let w = World::with_dana().await;
    contact(
        &w,
        json!({"first_name": "Tom", "last_name": "Baker", "tags": ["spring-recall"]}),
    )
    .await;
    w.take_jobs().await;
    let export = w
        .api(
            "POST",
            "/contacts/exports",
            Some(sample_body("contacts-exports-create")),
        )
        .await;
    let export = id_of(&export);
    let org = OrgId::from(w.org_id.clone());
    // The route queued the job the sample is a copy of, on the bulk queue.
    let queued = w
        .state
        .bulk
        .receive(10, std::time::Duration::from_secs(600))
        .await
        .expect("receive");
    let bodies: Vec<Job> = queued
        .iter()
        .map(|m| serde_json::from_str(&m.body).expect("a job"))
        .collect();
    assert_eq!(
        bodies,
        [Job::Export {
            org_id: org.clone(),
            export_id: export.clone()
        }]
    );
    assert!(w.take_jobs().await.is_empty(), "nothing on the short jobs' queue");
    for delivery in 1..=2 {
        let response = w
            .sqs(name, &[(SAMPLE_EXPORT_ORG, &w.org_id), (SAMPLE_EXPORT, &export)])
            .await;
        assert!(response.batch_item_failures.is_empty(), "delivery {delivery}");
    }
    let done = w.api("GET", &format!("/exports/{export}"), None).await;
    assert_eq!(
        (&done["state"], &done["rows_done"]),
        (&json!("done"), &json!(1)),
        "written once, however often delivered: {done}"
    );
}

pub async fn exports_get_shows_the_finished_export(name: &str) {
    let w = World::with_dana().await;
    let export = finished_export(&w).await;
    let reply = w.http(name, &[(SAMPLE_EXPORT, &export)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["state"], &reply.body["rows_done"]),
        (&json!("done"), &json!(1))
    );
    assert_eq!(reply.body["download_url"], format!("/exports/{export}/download"));
}

pub async fn exports_download_redirects_to_the_file_in_the_bucket(name: &str) {
    let w = World::with_dana().await;
    let export = finished_export(&w).await;
    let reply = w.http(name, &[(SAMPLE_EXPORT, &export)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    let link = reply.header("location").to_string();
    let file = reqwest::get(&link).await.expect("the link answers");
    assert!(file.status().is_success(), "{link}: {}", file.status());
    let csv = file.text().await.expect("text");
    assert!(csv.starts_with("id,") || csv.contains("first_name"), "{csv}");
    assert!(csv.contains("Tom") && csv.contains("Baker"), "{csv}");
}

pub async fn fields_create_defines_the_select_field(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(
        (&reply.body["label"], &reply.body["type"], &reply.body["options"]),
        (
            &json!("Insurance provider"),
            &json!("single_select"),
            &json!(["Delta", "Aetna", "Cigna"])
        )
    );
}

async fn field(w: &World) -> String {
    id_of(&w.api("POST", "/fields", Some(sample_body("fields-create"))).await)
}

async fn fields(w: &World) -> Vec<Value> {
    w.api("GET", "/fields", None).await["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub async fn fields_list_shows_the_field(name: &str) {
    let w = World::with_dana().await;
    let id = field(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let listed = reply.body["fields"].as_array().expect("fields");
    assert_eq!(listed.len(), 1, "{}", reply.body);
    assert_eq!(listed[0]["id"], id.as_str());
}

pub async fn fields_update_relabels_the_field(name: &str) {
    let w = World::with_dana().await;
    let id = field(&w).await;
    let reply = w.http(name, &[(SAMPLE_FIELD, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(fields(&w).await[0]["label"], "Insurer");
}

pub async fn fields_delete_deletes_the_field(name: &str) {
    let w = World::with_dana().await;
    let id = field(&w).await;
    w.http(name, &[(SAMPLE_FIELD, &id)])
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(fields(&w).await.is_empty());
}

/// Maria with the note of `notes-create`: (contact, note).
async fn maria_with_a_note(w: &World) -> (String, String) {
    let maria = maria(w).await;
    let note = w
        .api(
            "POST",
            &format!("/contacts/{maria}/notes"),
            Some(sample_body("notes-create")),
        )
        .await;
    (maria, id_of(&note))
}

async fn notes(w: &World, contact: &str) -> Vec<Value> {
    w.api("GET", &format!("/contacts/{contact}/notes"), None).await["notes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub async fn notes_list_shows_the_contacts_note(name: &str) {
    let w = World::with_dana().await;
    let (maria, note) = maria_with_a_note(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &maria)]).await;
    reply.expect(StatusCode::OK);
    let listed = reply.body["notes"].as_array().expect("notes");
    assert_eq!(listed.len(), 1, "{}", reply.body);
    assert_eq!(
        (&listed[0]["id"], &listed[0]["body"]),
        (&json!(note), &json!("Called to confirm the cleaning on Tuesday."))
    );
}

pub async fn notes_create_adds_the_note(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    let reply = w.http(name, &[(SAMPLE_CONTACT, &maria)]).await;
    reply.expect(StatusCode::CREATED);
    let listed = notes(&w, &maria).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id_of(&reply.body).as_str());
}

pub async fn notes_update_rewrites_the_note(name: &str) {
    let w = World::with_dana().await;
    let (maria, note) = maria_with_a_note(&w).await;
    w.http(name, &[(SAMPLE_CONTACT, &maria), (SAMPLE_NOTE, &note)])
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        notes(&w, &maria).await[0]["body"],
        "Called to confirm the cleaning on Wednesday."
    );
}

pub async fn notes_delete_deletes_the_note(name: &str) {
    let w = World::with_dana().await;
    let (maria, note) = maria_with_a_note(&w).await;
    w.http(name, &[(SAMPLE_CONTACT, &maria), (SAMPLE_NOTE, &note)])
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(notes(&w, &maria).await.is_empty());
}

/// Maria and Tom, both tagged `vip`.
async fn two_vips(w: &World) -> [String; 2] {
    let maria = maria(w).await;
    w.api(
        "PATCH",
        &format!("/contacts/{maria}"),
        Some(json!({"add_tags": ["vip"]})),
    )
    .await;
    let tom = contact(w, json!({"first_name": "Tom", "tags": ["vip"]})).await;
    [maria, tom]
}

pub async fn tags_list_counts_the_tag(name: &str) {
    let w = World::with_dana().await;
    two_vips(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        reply.body["tags"],
        json!([{"tag": "new-patient", "count": 1}, {"tag": "vip", "count": 2}])
    );
}

pub async fn tags_rename_renames_the_tag_on_its_contacts(name: &str) {
    let w = World::with_dana().await;
    let [maria, tom] = two_vips(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["contacts_changed"], 2);
    for id in [&maria, &tom] {
        let tags = w.api("GET", &format!("/contacts/{id}"), None).await["tags"].clone();
        assert!(
            tags.as_array().expect("tags").contains(&json!("very important")),
            "{tags}"
        );
    }
}

pub async fn tags_delete_removes_the_tag_from_its_contacts(name: &str) {
    let w = World::with_dana().await;
    let [maria, tom] = two_vips(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["contacts_changed"], 2);
    assert_eq!(
        w.api("GET", &format!("/contacts/{maria}"), None).await["tags"],
        json!(["new-patient"])
    );
    assert_eq!(w.api("GET", &format!("/contacts/{tom}"), None).await["tags"], json!([]));
}

pub async fn pipelines_create_makes_the_pipeline_with_its_stages(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    let stages: Vec<&str> = reply.body["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        stages,
        ["Enquiry", "Consultation booked", "Treatment plan accepted", "Completed"]
    );
}

pub async fn pipelines_list_shows_the_pipeline(name: &str) {
    let w = World::with_dana().await;
    let pipeline = pipeline(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let ids: Vec<&Value> = reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(ids, [&pipeline["id"]]);
}

pub async fn pipelines_get_shows_the_pipeline_with_its_stages(name: &str) {
    let w = World::with_dana().await;
    let pipeline = pipeline(&w).await;
    let reply = w.http(name, &[(SAMPLE_PIPELINE, &id_of(&pipeline))]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["id"], pipeline["id"]);
    assert_eq!(reply.body["stages"], pipeline["stages"]);
}

pub async fn pipelines_update_renames_the_pipeline(name: &str) {
    let w = World::with_dana().await;
    let id = id_of(&pipeline(&w).await);
    let reply = w.http(name, &[(SAMPLE_PIPELINE, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["name"], "Implant patients");
}

pub async fn pipelines_delete_deletes_the_pipeline(name: &str) {
    let w = World::with_dana().await;
    let id = id_of(&pipeline(&w).await);
    w.http(name, &[(SAMPLE_PIPELINE, &id)])
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(w.api("GET", "/pipelines", None).await["items"], json!([]));
}

pub async fn pipelines_board_shows_the_deal_in_its_stage(name: &str) {
    let w = World::with_dana().await;
    let (deal, pipeline) = deal(&w).await;
    let reply = w.http(name, &[(SAMPLE_PIPELINE, &id_of(&pipeline))]).await;
    reply.expect(StatusCode::OK);
    let first = &reply.body["stages"][0];
    assert_eq!(
        (&first["name"], &first["count"]),
        (&json!("Enquiry"), &json!(1)),
        "{}",
        reply.body
    );
    assert_eq!(first["deals"][0]["id"], deal["id"]);
    assert_eq!(first["totals"], json!([{"currency": "GBP", "value": 1_250_000}]));
}

pub async fn deals_create_opens_the_deal_for_the_contact(name: &str) {
    let w = World::with_dana().await;
    let maria = maria(&w).await;
    let pipeline = id_of(&pipeline(&w).await);
    let reply = w
        .http(name, &[(SAMPLE_CONTACT, &maria), (SAMPLE_DEAL_PIPELINE, &pipeline)])
        .await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(
        (&reply.body["title"], &reply.body["contact_id"], &reply.body["status"]),
        (&json!("Full-arch implants"), &json!(maria), &json!("open"))
    );
    assert_eq!(
        (&reply.body["value"], &reply.body["currency"]),
        (&json!(1_250_000), &json!("GBP"))
    );
}

pub async fn deals_list_shows_the_deal(name: &str) {
    let w = World::with_dana().await;
    let (deal, _) = deal(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    let ids: Vec<&Value> = reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| &d["id"])
        .collect();
    assert_eq!(ids, [&deal["id"]]);
}

pub async fn deals_get_shows_the_deal(name: &str) {
    let w = World::with_dana().await;
    let (deal, _) = deal(&w).await;
    let reply = w.http(name, &[(SAMPLE_DEAL, &id_of(&deal))]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["id"], &reply.body["title"]),
        (&deal["id"], &json!("Full-arch implants"))
    );
}

pub async fn deals_update_wins_the_deal_in_the_last_stage(name: &str) {
    let w = World::with_dana().await;
    let (deal, pipeline) = deal(&w).await;
    let completed = pipeline["stages"][3]["id"].as_str().expect("stage id").to_string();
    let reply = w
        .http(name, &[(SAMPLE_DEAL, &id_of(&deal)), (SAMPLE_STAGE, &completed)])
        .await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["stage_id"], &reply.body["status"]),
        (&json!(completed), &json!("won"))
    );
}

pub async fn deals_delete_deletes_the_deal(name: &str) {
    let w = World::with_dana().await;
    let (deal, _) = deal(&w).await;
    w.http(name, &[(SAMPLE_DEAL, &id_of(&deal))])
        .await
        .expect(StatusCode::NO_CONTENT);
    assert_eq!(w.api("GET", "/deals", None).await["items"], json!([]));
}

pub async fn imports_create_accepts_the_csv_and_queues_the_import(name: &str) {
    let w = World::with_dana().await;
    w.take_jobs().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::ACCEPTED);
    assert_eq!(
        (&reply.body["state"], &reply.body["rows_total"]),
        (&json!("queued"), &json!(2))
    );
    assert_eq!(
        w.take_jobs().await,
        [Job::ImportContacts {
            org_id: OrgId::from(w.org_id.clone()),
            import_id: id_of(&reply.body)
        }]
    );
}

pub async fn imports_append_part_adds_the_last_part_and_queues_the_import(name: &str) {
    let w = World::with_dana().await;
    let first = "first_name,last_name,email,phone,tags\nAisha,Khan,aisha.khan@example.com,+44 20 7946 0958,recall\n";
    let started = w
        .api_raw(
            "POST",
            "/imports/contacts?more_parts=true",
            "text/csv",
            first.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(started.body["state"], "uploading", "{}", started.body);
    let id = id_of(&started.body);
    w.take_jobs().await;
    let reply = w.http(name, &[(SAMPLE_IMPORT, &id)]).await;
    reply.expect(StatusCode::ACCEPTED);
    assert_eq!(
        (&reply.body["state"], &reply.body["parts"], &reply.body["rows_total"]),
        (&json!("queued"), &json!(2), &json!(2))
    );
    assert_eq!(
        w.take_jobs().await,
        [Job::ImportContacts {
            org_id: OrgId::from(w.org_id.clone()),
            import_id: id
        }]
    );
}

pub async fn imports_get_shows_the_finished_import(name: &str) {
    let w = World::with_dana().await;
    let event: Value = serde_json::from_str(&super::sample("imports-create.json")).expect("JSON");
    let csv = event["body"].as_str().expect("body");
    let import = finished_import(&w, "?mode=update&tags=spring-recall", csv).await;
    let reply = w.http(name, &[(SAMPLE_IMPORT, &id_of(&import))]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(
        (&reply.body["state"], &reply.body["created"], &reply.body["failed"]),
        (&json!("done"), &json!(2), &json!(0))
    );
}

pub async fn imports_errors_lists_the_rejected_row_as_csv(name: &str) {
    let w = World::with_dana().await;
    let import = import_with_a_rejected_row(&w).await;
    let reply = w.http(name, &[(SAMPLE_IMPORT, &id_of(&import))]).await;
    reply.expect(StatusCode::OK);
    assert!(
        reply.header("content-type").starts_with("text/csv"),
        "{:?}",
        reply.headers
    );
    let lines: Vec<&str> = reply.text.lines().collect();
    assert_eq!(lines[0], "row,field,reason,message", "{}", reply.text);
    assert!(
        lines.len() >= 2 && lines[1..].iter().all(|l| l.starts_with("3,")),
        "{}",
        reply.text
    );
}

pub async fn imports_errors_export_queues_the_error_report(name: &str) {
    let w = World::with_dana().await;
    let import = import_with_a_rejected_row(&w).await;
    let reply = w.http(name, &[(SAMPLE_IMPORT, &id_of(&import))]).await;
    reply.expect(StatusCode::ACCEPTED);
    assert_eq!(
        (&reply.body["kind"], &reply.body["import_id"]),
        (&json!("import_errors"), &import["id"])
    );
    assert_eq!(
        w.take_jobs().await,
        [Job::Export {
            org_id: OrgId::from(w.org_id.clone()),
            export_id: id_of(&reply.body)
        }]
    );
}

/// The saved view of `contacts-views-delete`.
const SAMPLE_VIEW: &str = "0193c5d6e7f80912a3b4c5d6e7f80912";

/// Dana's "VIP patients" view, as `contacts-views-create` saves it.
async fn vip_view(w: &World) -> Value {
    w.api("POST", "/contacts/views", Some(sample_body("contacts-views-create")))
        .await
}

pub async fn contacts_views_list_shows_the_callers_view(name: &str) {
    let w = World::with_dana().await;
    vip_view(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["views"][0]["name"], "VIP patients", "{}", reply.body);
    assert_eq!(
        reply.body["views"][0]["filters"],
        json!({"tag": "vip", "created_from": "2026-01-01"})
    );
}

pub async fn contacts_views_create_saves_the_named_filters(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(reply.body["name"], "VIP patients");
    let listed = w.api("GET", "/contacts/views", None).await;
    assert_eq!(listed["views"].as_array().map(Vec::len), Some(1), "{listed}");
}

pub async fn contacts_views_delete_deletes_the_view(name: &str) {
    let w = World::with_dana().await;
    let view = vip_view(&w).await;
    w.http(name, &[(SAMPLE_VIEW, &id_of(&view))])
        .await
        .expect(StatusCode::NO_CONTENT);
    let listed = w.api("GET", "/contacts/views", None).await;
    assert_eq!(listed["views"], json!([]), "{listed}");
}
