//! Samples of the embedded-forms Lambdas: definitions, submissions, the
//! public submit and the hosted page.

use http::StatusCode;
use jiff::SignedDuration;
use konnecs::services::jobs::Job;
use serde_json::{Value, json};

use super::{World, sample_body};

/// The form the samples name.
const SAMPLE_FORM: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4f01";
const SAMPLE_SUBMISSION: &str = "0193a4c2e1f07b5a9d3c6e8f1a2b4f02";
const SAMPLE_PUBLIC_ID: &str = "5f0c2b7e9a1d4c3b8e6f0a2d4c6e8a1b";

/// The "Request a quote" form of `forms-create`.
async fn quote_form(w: &World) -> Value {
    w.api("POST", "/forms", Some(sample_body("forms-create"))).await
}

fn text(value: &Value, name: &str) -> String {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {value}"))
        .to_string()
}

/// The hosted page's render stamp, and the clock moved past the minimum fill time.
async fn rendered(w: &World, public_id: &str) -> String {
    let reply = konnecs_tests::http::Browser::anonymous()
        .send(&w.app, "GET", &format!("/f/{public_id}"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&reply.bytes).to_string();
    let needle = "name=\"rendered\" value=\"";
    let start = html.find(needle).expect("stamp") + needle.len();
    let stamp = html[start..].split('"').next().expect("stamp").to_string();
    w.clock.advance(SignedDuration::from_secs(20));
    stamp
}

/// Maria's submission of the `public-form-submit` sample, through the API:
/// (form, submission id).
async fn submitted(w: &World) -> (Value, String) {
    let form = quote_form(w).await;
    let public_id = text(&form, "public_id");
    let mut body = sample_body("public-form-submit");
    body["rendered"] = json!(rendered(w, &public_id).await);
    let reply = konnecs_tests::http::Browser::anonymous()
        .send(
            &w.app,
            "POST",
            &format!("/public/forms/{public_id}/submissions"),
            Some(&body),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    (form, text(&reply.body, "submission_id"))
}

pub async fn forms_list_lists_the_form_with_its_count(name: &str) {
    let w = World::with_dana().await;
    let (form, _) = submitted(&w).await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["items"][0]["id"], form["id"]);
    assert_eq!(reply.body["items"][0]["submission_count"], 1);
}

pub async fn forms_create_creates_version_one_with_its_embed_snippets(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(reply.body["version"], 1);
    assert_eq!(reply.body["title"], "Request a quote");
    let public_id = text(&reply.body, "public_id");
    assert!(text(&reply.body["embed"], "script").contains(&public_id));
}

pub async fn forms_get_shows_the_form(name: &str) {
    let w = World::with_dana().await;
    let form = quote_form(&w).await;
    let id = text(&form, "id");
    let reply = w.http(name, &[(SAMPLE_FORM, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["public_id"], form["public_id"]);
    assert_eq!(reply.header("etag"), "\"1\"");
}

pub async fn forms_update_makes_version_two(name: &str) {
    let w = World::with_dana().await;
    let form = quote_form(&w).await;
    let id = text(&form, "id");
    let reply = w.http(name, &[(SAMPLE_FORM, &id)]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.body["fields"][3]["label"], "Treatment");
}

pub async fn forms_delete_deletes_the_form(name: &str) {
    let w = World::with_dana().await;
    let form = quote_form(&w).await;
    let id = text(&form, "id");
    w.http(name, &[(SAMPLE_FORM, &id)]).await.expect(StatusCode::NO_CONTENT);
    let gone = w.dana().send(&w.app, "GET", &format!("/forms/{id}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn form_submissions_list_lists_the_submission(name: &str) {
    let w = World::with_dana().await;
    let (form, submission) = submitted(&w).await;
    let reply = w.http(name, &[(SAMPLE_FORM, &text(&form, "id"))]).await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["items"][0]["id"], submission.as_str());
}

pub async fn form_submissions_get_shows_the_submission_with_its_fields(name: &str) {
    let w = World::with_dana().await;
    let (form, submission) = submitted(&w).await;
    let reply = w
        .http(
            name,
            &[(SAMPLE_FORM, &text(&form, "id")), (SAMPLE_SUBMISSION, &submission)],
        )
        .await;
    reply.expect(StatusCode::OK);
    assert_eq!(reply.body["answers"]["service"], "Whitening");
    assert_eq!(reply.body["fields"][3]["label"], "Service");
}

pub async fn form_submissions_delete_erases_the_submission(name: &str) {
    let w = World::with_dana().await;
    let (form, submission) = submitted(&w).await;
    let form_id = text(&form, "id");
    w.http(name, &[(SAMPLE_FORM, &form_id), (SAMPLE_SUBMISSION, &submission)])
        .await
        .expect(StatusCode::NO_CONTENT);
    let gone = w
        .dana()
        .send(
            &w.app,
            "GET",
            &format!("/forms/{form_id}/submissions/{submission}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

pub async fn form_submissions_export_answers_csv(name: &str) {
    let w = World::with_dana().await;
    let (form, submission) = submitted(&w).await;
    let reply = w.http(name, &[(SAMPLE_FORM, &text(&form, "id"))]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/csv"));
    assert!(
        reply.text.contains(&submission) && reply.text.contains("maria.gonzalez@example.com"),
        "{}",
        reply.text
    );
}

pub async fn public_form_submit_captures_the_contact_and_queues_the_alert(name: &str) {
    let w = World::with_dana().await;
    let form = quote_form(&w).await;
    let public_id = text(&form, "public_id");
    let stamp = rendered(&w, &public_id).await;
    w.take_jobs().await;
    let reply = w
        .http(name, &[(SAMPLE_PUBLIC_ID, &public_id), ("RENDER_STAMP", &stamp)])
        .await;
    reply.expect(StatusCode::CREATED);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        "https://www.whitfield-dental.example"
    );
    let submission = text(&reply.body, "submission_id");
    let jobs = w.take_jobs().await;
    assert!(
        jobs.iter()
            .any(|job| matches!(job, Job::FormSubmitted { submission_id, .. } if submission_id.as_str() == submission)),
        "{jobs:?}"
    );
    let got = w
        .api(
            "GET",
            &format!("/forms/{}/submissions/{submission}", text(&form, "id")),
            None,
        )
        .await;
    let contact = text(&got, "contact_id");
    let contact = w.api("GET", &format!("/contacts/{contact}"), None).await;
    assert_eq!(contact["emails"][0]["address"], "maria.gonzalez@example.com");
    assert_eq!(contact["tags"], json!(["web-lead"]));
}

/// The browser's preflight of the sample's cross-site JSON post, as API
/// Gateway hands it to the function over the template's `OPTIONS` route:
/// answered for the site the form names, and for no other.
pub async fn public_form_submit_answers_the_cors_preflight_for_the_forms_own_sites_only(name: &str) {
    assert!(konnecs::catalogue::entry(name).answers_preflight());
    let w = World::with_dana().await;
    let form = quote_form(&w).await;
    let public_id = text(&form, "public_id");
    let preflight = |origin: &str| {
        let mut event: Value =
            serde_json::from_str(&w.event_text(name, &[(SAMPLE_PUBLIC_ID, &public_id), ("RENDER_STAMP", "unused")]))
                .expect("JSON");
        event["routeKey"] = json!("OPTIONS /public/forms/{publicId}/submissions");
        event["requestContext"]["http"]["method"] = json!("OPTIONS");
        event["body"] = Value::Null;
        let headers = event["headers"].as_object_mut().expect("headers");
        headers.remove("content-type");
        headers.remove("content-length");
        headers.insert("origin".into(), json!(origin));
        headers.insert("access-control-request-method".into(), json!("POST"));
        headers.insert("access-control-request-headers".into(), json!("content-type"));
        event.to_string()
    };
    let site = "https://www.whitfield-dental.example";
    let reply = w.http_text(name, &preflight(site)).await;
    reply.expect(StatusCode::NO_CONTENT);
    assert_eq!(reply.header("access-control-allow-origin"), site);
    assert!(reply.header("access-control-allow-methods").contains("POST"));
    assert!(reply.header("access-control-allow-headers").contains("content-type"));

    let other = w.http_text(name, &preflight("https://elsewhere.example")).await;
    other.expect(StatusCode::NO_CONTENT);
    assert_eq!(other.header("access-control-allow-origin"), "");
    assert_eq!(other.header("access-control-allow-methods"), "");
}

pub async fn page_form_serves_the_hosted_form_frameable(name: &str) {
    let w = World::with_dana().await;
    let form = quote_form(&w).await;
    let public_id = text(&form, "public_id");
    let reply = w.http(name, &[(SAMPLE_PUBLIC_ID, &public_id)]).await;
    reply.expect(StatusCode::OK);
    assert!(reply.text.starts_with("<!doctype html>"), "{}", reply.text);
    assert!(
        reply.text.contains("name=\"utm_source\" value=\"newsletter\""),
        "{}",
        reply.text
    );
    let csp = reply.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'")
            && csp.contains("frame-ancestors 'self' https://www.whitfield-dental.example"),
        "{csp}"
    );
}

fn staff_page(reply: &super::HttpReply, contains: &str) {
    reply.expect(StatusCode::OK);
    assert!(reply.header("content-security-policy").contains("script-src 'self'"));
    assert_eq!(reply.header("x-frame-options"), "DENY");
    assert!(reply.text.contains(contains), "no {contains:?} in {}", reply.text);
}

pub async fn page_forms_lists_the_form_with_its_count(name: &str) {
    let w = World::with_dana().await;
    let (form, _) = submitted(&w).await;
    let reply = w.http(name, &[]).await;
    staff_page(&reply, &format!("href=\"/app/forms/{}\"", text(&form, "id")));
    assert!(
        reply.text.contains(">1<span class=\"visually-hidden\"> submissions"),
        "{}",
        reply.text
    );
}

pub async fn page_forms_create_makes_the_form_and_opens_its_builder(name: &str) {
    let w = World::with_dana().await;
    let reply = w.http(name, &[]).await;
    reply.expect(StatusCode::SEE_OTHER);
    assert!(
        reply.header("location").starts_with("/app/forms/"),
        "{}",
        reply.header("location")
    );
    let listed = w.api("GET", "/forms", None).await;
    assert_eq!(listed["items"][0]["title"], "Request a quote", "{listed}");
}

pub async fn page_form_builder_shows_fields_preview_and_snippets(name: &str) {
    let w = World::with_dana().await;
    let form = quote_form(&w).await;
    let reply = w.http(name, &[(SAMPLE_FORM, &text(&form, "id"))]).await;
    staff_page(&reply, "<li data-key=\"service\"");
    assert!(reply.text.contains("id=\"f-email\"") && reply.text.contains("data-copy=\"embed-script\""));
}

pub async fn page_form_save_adds_the_phone_field_as_version_two(name: &str) {
    let w = World::with_dana().await;
    let mut body = sample_body("forms-create");
    body["fields"].as_array_mut().expect("fields").remove(2);
    let form = w.api("POST", "/forms", Some(body)).await;
    let id = text(&form, "id");
    let reply = w.http(name, &[(SAMPLE_FORM, &id)]).await;
    reply.expect(StatusCode::SEE_OTHER);
    let saved = w.api("GET", &format!("/forms/{id}"), None).await;
    assert_eq!(saved["version"], 2);
    let keys: Vec<&str> = saved["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert_eq!(keys, ["name", "email", "service", "texts", "phone"]);
}

pub async fn page_form_submissions_links_the_contact(name: &str) {
    let w = World::with_dana().await;
    let (form, submission) = submitted(&w).await;
    let got = w
        .api(
            "GET",
            &format!("/forms/{}/submissions/{submission}", text(&form, "id")),
            None,
        )
        .await;
    let reply = w.http(name, &[(SAMPLE_FORM, &text(&form, "id"))]).await;
    staff_page(&reply, &format!("href=\"/app/contacts/{}\"", text(&got, "contact_id")));
}
