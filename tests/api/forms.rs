//! Embedded forms through the router: definitions (validated, versioned,
//! tenant-scoped), the hosted page, the public submit with its spam
//! defences, CORS and no-JS path, contact capture with its timeline entry,
//! the once-only alert, and the submissions API with erasure and CSV.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{Request, StatusCode};
use jiff::SignedDuration;
use konnecs::domain::ids::{FormId, OrgId, SubmissionId};
use konnecs::services::jobs::{self, Job};
use konnecs_tests::app::{Member, Store, TestApp, expect, field_errors, problem};
use konnecs_tests::http::Reply;
use serde_json::{Value, json};

const NOW: &str = "2026-03-02T08:00:00Z";

konnecs_tests::on_both_stores!(
    a_submission_captures_the_contact_with_consent_and_timeline_and_alerts_the_recipients_once,
    a_submission_sends_one_signed_form_submitted_webhook_however_often_its_job_is_delivered,
    a_contact_made_by_a_submission_is_announced_once_as_contact_created_and_a_merged_one_not_at_all,
);

fn form_body() -> Value {
    json!({
        "title": "Request a quote",
        "fields": [
            {"key": "name", "kind": "short_text", "label": "Your name", "required": true},
            {"key": "email", "kind": "email", "label": "Email", "required": true},
            {"key": "phone", "kind": "phone", "label": "Mobile"},
            {"key": "service", "kind": "single_select", "label": "Service", "options": ["Cleaning", "Whitening"]},
            {"key": "texts", "kind": "consent", "label": "Texts", "consent_channel": "sms",
             "consent_text": "I agree to receive appointment texts from Whitfield Dental."},
            {"key": "campaign", "kind": "hidden", "default_value": "spring"}
        ],
        "thank_you_message": "Thanks, we will call you.",
        "tags": ["web lead"],
        "recipients": ["frontdesk@whitfield-dental.example"]
    })
}

async fn create_form(app: &TestApp, member: &Member, body: &Value) -> Value {
    let reply = app.send(&member.browser, "POST", "/forms", Some(body)).await;
    expect(&reply, StatusCode::CREATED);
    reply.body
}

/// A request from `ip` (as the local server records the peer).
fn from_ip(mut request: Request<Body>, ip: &str) -> Request<Body> {
    let addr: SocketAddr = format!("{ip}:40000").parse().expect("addr");
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

fn post(path: &str, content_type: &str, accept: &str, body: String) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", content_type)
        .header("accept", accept)
        .body(Body::from(body))
        .expect("request")
}

/// The hosted page's render stamp (`rendered` hidden field).
async fn stamp(app: &TestApp, public_id: &str) -> String {
    let reply = app.send_anonymous("GET", &format!("/f/{public_id}"), None).await;
    expect(&reply, StatusCode::OK);
    let html = String::from_utf8_lossy(&reply.bytes).to_string();
    let needle = "name=\"rendered\" value=\"";
    let start = html.find(needle).expect("the page carries a render stamp") + needle.len();
    html[start..].split('"').next().expect("stamp").to_string()
}

async fn submit_json(app: &TestApp, public_id: &str, ip: &str, body: &Value) -> Reply {
    let request = post(
        &format!("/public/forms/{public_id}/submissions"),
        "application/json",
        "application/json",
        body.to_string(),
    );
    app.request(from_ip(request, ip)).await
}

fn answers() -> Value {
    json!({
        "name": "Maria Gonzalez", "email": "Maria@Example.com", "phone": "+14155550123",
        "service": "Whitening", "texts": true
    })
}

async fn a_submission_captures_the_contact_with_consent_and_timeline_and_alerts_the_recipients_once(store: Store) {
    let app = TestApp::on(store, NOW).await;
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let form_id = form["id"].as_str().expect("id").to_string();
    assert_eq!(form["version"], 1);

    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(8));
    let body = json!({"answers": answers(), "rendered": rendered, "utm_source": "newsletter",
                      "page_url": "https://www.whitfield-dental.example/quote", "referrer": "https://search.example/"});
    let reply = submit_json(&app, &public_id, "198.51.100.7", &body).await;
    expect(&reply, StatusCode::CREATED);
    assert_eq!(reply.body["thank_you_message"], "Thanks, we will call you.");
    let submission_id = reply.body["submission_id"].as_str().expect("submission id").to_string();

    // The submission: its version, answers, hidden default and attribution.
    let got = app
        .send(
            &dana.browser,
            "GET",
            &format!("/forms/{form_id}/submissions/{submission_id}"),
            None,
        )
        .await;
    expect(&got, StatusCode::OK);
    assert_eq!(got.body["form_version"], 1);
    assert_eq!(got.body["answers"]["email"], "maria@example.com");
    assert_eq!(got.body["answers"]["campaign"], "spring");
    assert_eq!(got.body["attribution"]["utm_source"], "newsletter");
    assert_eq!(got.body["consents"][0]["ip"], "198.51.100.7");
    assert_eq!(
        got.body["consents"][0]["text"],
        "I agree to receive appointment texts from Whitfield Dental."
    );
    let contact_id = got.body["contact_id"].as_str().expect("contact captured").to_string();

    // The contact: tags, SMS consent with the exact text, and the timeline entry.
    let contact = app
        .send(&dana.browser, "GET", &format!("/contacts/{contact_id}"), None)
        .await;
    expect(&contact, StatusCode::OK);
    assert_eq!(contact.body["tags"], json!(["web lead"]), "{}", contact.body);
    assert_eq!(contact.body["first_name"], "Maria");
    assert_eq!(contact.body["sms_consent"]["status"], "granted", "{}", contact.body);
    assert_eq!(
        contact.body["sms_consent"]["text"],
        "I agree to receive appointment texts from Whitfield Dental."
    );
    let timeline = app
        .send(&dana.browser, "GET", &format!("/contacts/{contact_id}/timeline"), None)
        .await;
    expect(&timeline, StatusCode::OK);
    let kinds: Vec<&str> = timeline.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"form.submitted"), "{}", timeline.body);

    // The alert: once, to the recipient, listing the answers.
    let alerts =
        |outbox: Vec<Value>| -> Vec<Value> { outbox.into_iter().filter(|m| m["kind"] == "form_submission").collect() };
    let sent = alerts(app.outbox().await);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["to"], "frontdesk@whitfield-dental.example");
    assert_eq!(sent[0]["subject"], "New submission: Request a quote");
    let text = sent[0]["text"].as_str().expect("text");
    assert!(
        text.contains("Service: Whitening") && text.contains("Email: maria@example.com"),
        "{text}"
    );

    // The queue delivers the job again: no second alert.
    let again = Job::FormSubmitted {
        org_id: OrgId::from(dana.org_id.as_str()),
        form_id: FormId::from(form_id.as_str()),
        submission_id: SubmissionId::from(submission_id.as_str()),
    };
    jobs::enqueue(&app.state, &[again]).await.expect("enqueue");
    assert_eq!(alerts(app.outbox().await).len(), 1);

    // Editing makes version 2; the old submission keeps its version's labels.
    let mut edited = form_body();
    edited["fields"][3]["label"] = json!("Treatment");
    let mut request = dana.browser.request("PUT", &format!("/forms/{form_id}"), Some(&edited));
    request
        .headers_mut()
        .insert("if-match", "\"1\"".parse().expect("header"));
    let updated = app.request(request).await;
    expect(&updated, StatusCode::OK);
    assert_eq!(updated.body["version"], 2);
    let got = app
        .send(
            &dana.browser,
            "GET",
            &format!("/forms/{form_id}/submissions/{submission_id}"),
            None,
        )
        .await;
    assert_eq!(got.body["fields"][3]["label"], "Service", "{}", got.body);
    let listed = app.send(&dana.browser, "GET", "/forms", None).await;
    assert_eq!(listed.body["items"][0]["submission_count"], 1, "{}", listed.body);
}

async fn a_submission_sends_one_signed_form_submitted_webhook_however_often_its_job_is_delivered(store: Store) {
    use super::webhooks::{Receiver, add_endpoint, signature_is_valid};
    let app = TestApp::on(store, NOW).await;
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let receiver = Receiver::start(&[], 200).await;
    let (_, secret) = add_endpoint(&app, &dana, &receiver.url, &["form.submitted"]).await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let form_id = form["id"].as_str().expect("id").to_string();
    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(8));
    let reply = submit_json(
        &app,
        &public_id,
        "198.51.100.7",
        &json!({"answers": answers(), "rendered": rendered}),
    )
    .await;
    expect(&reply, StatusCode::CREATED);
    let submission_id = reply.body["submission_id"].as_str().expect("submission id").to_string();
    app.drain_jobs().await;

    let calls = receiver.calls();
    assert_eq!(calls.len(), 1, "one webhook for the submission");
    assert!(
        signature_is_valid(&secret, &calls[0]),
        "the receiver verifies the signature"
    );
    assert_eq!(calls[0].header("webhook-id"), format!("form.submitted:{submission_id}"));
    let body = calls[0].json();
    assert_eq!(body["type"], "form.submitted");
    assert_eq!(body["data"]["submission_id"], submission_id.as_str());
    assert_eq!(body["data"]["form_id"], form_id.as_str());
    assert_eq!(body["data"]["answers"]["service"], "Whitening");

    // The queue delivers the submission's job again: no second alert, no second webhook.
    let again = Job::FormSubmitted {
        org_id: OrgId::from(dana.org_id.as_str()),
        form_id: FormId::from(form_id.as_str()),
        submission_id: SubmissionId::from(submission_id.as_str()),
    };
    jobs::enqueue(&app.state, &[again]).await.expect("enqueue");
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1, "a redelivered job sends no second webhook");
    let alerts = app
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["kind"] == "form_submission")
        .count();
    assert_eq!(alerts, 1, "nor a second alert");
}

/// A `form.submitted` job whose payload has no readable `submitted_at` (a
/// job queued by an older release, or altered) still announces a time that
/// happened: the clock's, not the Unix epoch.
#[tokio::test]
async fn a_submission_event_without_a_readable_submitted_at_carries_the_clocks_time() {
    use konnecs::ports::Clock as _;
    use konnecs::services::forms::notify::submission_events;
    let app = TestApp::at(NOW);
    app.advance(SignedDuration::from_hours(77));
    let now = app.clock.now().to_string();
    assert_ne!(now, NOW, "the clock moved off the start");
    let org_id = OrgId::from("0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4");
    let submission_id = SubmissionId::from("0190a1b2c3d4e5f6a7b8c9d0e1f2a3b5");
    let base = json!({"form_id": "f1", "submission_id": submission_id.as_str(), "contact_created": false});
    for submitted_at in [None, Some(json!("")), Some(json!("last tuesday")), Some(json!(12))] {
        let mut payload = base.clone();
        if let Some(at) = &submitted_at {
            payload["submitted_at"] = at.clone();
        }
        let events = submission_events(&app.state, &org_id, &submission_id, payload)
            .await
            .expect("events");
        assert_eq!(events.len(), 1, "{submitted_at:?}");
        assert_eq!(events[0].event_type, "form.submitted");
        assert_eq!(events[0].timestamp, now, "submitted_at {submitted_at:?}");
    }
    // A readable one is kept as it is.
    let mut payload = base;
    payload["submitted_at"] = json!(NOW);
    let events = submission_events(&app.state, &org_id, &submission_id, payload)
        .await
        .expect("events");
    assert_eq!(events[0].timestamp, NOW);
}

async fn a_contact_made_by_a_submission_is_announced_once_as_contact_created_and_a_merged_one_not_at_all(store: Store) {
    use super::webhooks::{Receiver, add_endpoint, signature_is_valid};
    let app = TestApp::on(store, NOW).await;
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let receiver = Receiver::start(&[], 200).await;
    let (_, secret) = add_endpoint(&app, &dana, &receiver.url, &["contact.created"]).await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let form_id = form["id"].as_str().expect("id").to_string();
    let send = |ip: &'static str| {
        let (app, dana, public_id, form_id) = (&app, &dana, public_id.clone(), form_id.clone());
        async move {
            let rendered = stamp(app, &public_id).await;
            app.advance(SignedDuration::from_secs(8));
            let reply = submit_json(
                app,
                &public_id,
                ip,
                &json!({"answers": answers(), "rendered": rendered}),
            )
            .await;
            expect(&reply, StatusCode::CREATED);
            let id = reply.body["submission_id"].as_str().expect("submission id").to_string();
            let got = app
                .send(
                    &dana.browser,
                    "GET",
                    &format!("/forms/{form_id}/submissions/{id}"),
                    None,
                )
                .await;
            expect(&got, StatusCode::OK);
            (id, got.body["contact_id"].as_str().expect("contact id").to_string())
        }
    };
    let (first, contact_id) = send("198.51.100.7").await;
    app.drain_jobs().await;
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1, "the new contact is announced");
    assert!(signature_is_valid(&secret, &calls[0]));
    assert_eq!(calls[0].header("webhook-id"), format!("contact.created:{contact_id}"));
    let body = calls[0].json();
    assert_eq!(body["type"], "contact.created");
    assert_eq!(body["data"]["id"], contact_id.as_str());
    assert!(
        body["data"]["emails"][0]["address"]
            .as_str()
            .is_some_and(|a| a.eq_ignore_ascii_case("maria@example.com")),
        "{body}"
    );

    // The queue delivers the submission's job again: nothing new.
    let again = Job::FormSubmitted {
        org_id: OrgId::from(dana.org_id.as_str()),
        form_id: FormId::from(form_id.as_str()),
        submission_id: SubmissionId::from(first.as_str()),
    };
    jobs::enqueue(&app.state, &[again]).await.expect("enqueue");
    app.drain_jobs().await;
    assert_eq!(receiver.calls().len(), 1, "a redelivered job announces nothing again");

    // The same visitor again: merged into that contact, which is not new.
    let (_, merged_into) = send("198.51.100.8").await;
    assert_eq!(merged_into, contact_id);
    app.drain_jobs().await;
    assert_eq!(
        receiver.calls().len(),
        1,
        "a merged contact is not announced as created"
    );
}

#[tokio::test]
async fn form_definitions_are_validated_versioned_and_invisible_to_other_organizations() {
    let app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let bad = json!({"title": "", "fields": [
        {"key": "Email", "kind": "email", "label": "Email"},
        {"key": "pick", "kind": "single_select", "label": "Pick"}
    ], "redirect_url": "http://example.com/thanks"});
    let reply = app.send(&dana.browser, "POST", "/forms", Some(&bad)).await;
    problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let errors = field_errors(&reply);
    for expected in [
        ("title", "required"),
        ("fields[0].key", "invalid_key"),
        ("fields[1].options", "required"),
        ("redirect_url", "https_required"),
    ] {
        assert!(
            errors.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {errors:?}"
        );
    }

    let form = create_form(&app, &dana, &form_body()).await;
    let form_id = form["id"].as_str().expect("id");
    let public_id = form["public_id"].as_str().expect("public id");
    assert_eq!(public_id.len(), 32);
    assert!(
        form["embed"]["iframe"]
            .as_str()
            .expect("iframe")
            .contains(&format!("/f/{public_id}?embed=1")),
        "{form}"
    );
    let script = form["embed"]["script"].as_str().expect("script");
    assert!(
        script.contains("/assets/form-embed-") && script.contains(public_id),
        "{script}"
    );
    // The embed script is a served asset.
    let src = script
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("src");
    let path = src.find("/assets/").map(|i| &src[i..]).expect("asset path");
    let asset = app.send_anonymous("GET", path, None).await;
    expect(&asset, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&asset.bytes).contains("postMessage")
            || String::from_utf8_lossy(&asset.bytes).contains("message")
    );

    // A stale If-Match loses; an edit without one is version 2.
    let mut request = dana
        .browser
        .request("PUT", &format!("/forms/{form_id}"), Some(&form_body()));
    request
        .headers_mut()
        .insert("if-match", "\"7\"".parse().expect("header"));
    problem(&app.request(request).await, StatusCode::CONFLICT, "form_changed");

    // Another organization sees none of it.
    let other = app.sign_up("owner@other-clinic.example", "Other Clinic").await;
    for (method, path) in [
        ("GET", format!("/forms/{form_id}")),
        ("DELETE", format!("/forms/{form_id}")),
        ("GET", format!("/forms/{form_id}/submissions")),
        ("GET", format!("/forms/{form_id}/submissions.csv")),
    ] {
        let reply = app.send(&other.browser, method, &path, None).await;
        problem(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    let list = app.send(&other.browser, "GET", "/forms", None).await;
    assert_eq!(list.body["items"], json!([]));

    // An inactive form has no public page and takes no submissions.
    let mut inactive = form_body();
    inactive["active"] = json!(false);
    let reply = app
        .send(&dana.browser, "PUT", &format!("/forms/{form_id}"), Some(&inactive))
        .await;
    expect(&reply, StatusCode::OK);
    let page = app.send_anonymous("GET", &format!("/f/{public_id}"), None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let reply = submit_json(&app, public_id, "198.51.100.7", &json!({"answers": answers()})).await;
    problem(&reply, StatusCode::NOT_FOUND, "not_found");

    // Deleting removes it and its public address.
    let reply = app
        .send(&dana.browser, "DELETE", &format!("/forms/{form_id}"), None)
        .await;
    expect(&reply, StatusCode::NO_CONTENT);
    let reply = app.send(&dana.browser, "GET", &format!("/forms/{form_id}"), None).await;
    problem(&reply, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn spam_defences_refuse_bots_and_floods_with_retry_after() {
    let app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let form_id = form["id"].as_str().expect("id").to_string();

    // No stamp, a forged stamp, and a stamp filled in under the minimum time.
    let reply = submit_json(&app, &public_id, "198.51.100.1", &json!({"answers": answers()})).await;
    problem(&reply, StatusCode::BAD_REQUEST, "too_fast");
    let forged = format!("{}.AAAA", app.now().as_millisecond() - 60_000);
    let reply = submit_json(
        &app,
        &public_id,
        "198.51.100.1",
        &json!({"answers": answers(), "rendered": forged}),
    )
    .await;
    problem(&reply, StatusCode::BAD_REQUEST, "too_fast");
    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(1));
    let reply = submit_json(
        &app,
        &public_id,
        "198.51.100.1",
        &json!({"answers": answers(), "rendered": rendered}),
    )
    .await;
    problem(&reply, StatusCode::BAD_REQUEST, "too_fast");

    // The honeypot: answered like a success, nothing kept.
    app.advance(SignedDuration::from_secs(5));
    let reply = submit_json(
        &app,
        &public_id,
        "198.51.100.1",
        &json!({"answers": answers(), "rendered": rendered, "website_url": "http://spam.example"}),
    )
    .await;
    expect(&reply, StatusCode::CREATED);
    let listed = app
        .send(&dana.browser, "GET", &format!("/forms/{form_id}/submissions"), None)
        .await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.body);

    // Field errors name the field with a stable code.
    let reply = submit_json(
        &app,
        &public_id,
        "198.51.100.2",
        &json!({"answers": {"email": "not-an-email", "service": "Braces", "extra": 1}, "rendered": rendered}),
    )
    .await;
    problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let errors = field_errors(&reply);
    for expected in [
        ("name", "required"),
        ("email", "invalid_email"),
        ("service", "invalid_option"),
        ("extra", "unknown_field"),
    ] {
        assert!(
            errors.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {errors:?}"
        );
    }

    // One address: 10 a minute, then 429 with Retry-After until the minute ends.
    app.set_clock("2026-03-02T09:00:10Z");
    let bot = json!({"answers": answers(), "website_url": "x"});
    for _ in 0..10 {
        expect(
            &submit_json(&app, &public_id, "203.0.113.9", &bot).await,
            StatusCode::CREATED,
        );
    }
    let limited = submit_json(&app, &public_id, "203.0.113.9", &bot).await;
    problem(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert_eq!(
        limited.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("50")
    );
    app.set_clock("2026-03-02T09:01:00Z");
    expect(
        &submit_json(&app, &public_id, "203.0.113.9", &bot).await,
        StatusCode::CREATED,
    );

    // One form: 120 a minute from any number of addresses.
    app.set_clock("2026-03-02T09:05:00Z");
    for i in 0..120 {
        let ip = format!("10.0.{}.{}", i / 200, i % 200 + 1);
        expect(&submit_json(&app, &public_id, &ip, &bot).await, StatusCode::CREATED);
    }
    let limited = submit_json(&app, &public_id, "10.9.9.9", &bot).await;
    problem(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // Bodies over the limit are refused before anything is read.
    app.set_clock("2026-03-02T09:10:00Z");
    let huge = json!({"answers": {"name": "x".repeat(70_000)}});
    let reply = submit_json(&app, &public_id, "198.51.100.3", &huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.body);
}

/// A form with a redirect address: the hosted page (no JavaScript) is sent
/// there by the submit's see-other; in a frame, where a see-other would
/// only move the frame, the thanks page links the top window there and the
/// frame and embed scripts carry it to the embedding page.
#[tokio::test]
async fn a_form_with_a_redirect_address_sends_the_hosted_page_there_and_a_framed_one_to_its_top_window() {
    let app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let mut body = form_body();
    body["redirect_url"] = json!("https://www.whitfield-dental.example/thanks");
    body["thank_you_message"] = Value::Null;
    let form = create_form(&app, &dana, &body).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(6));
    let send = |embed: &str, ip: &str| {
        let body = format!(
            "rendered={}&name=Maria+Gonzalez&email=maria%40example.com&service=Cleaning{embed}",
            urlencode(&rendered)
        );
        let request = post(
            &format!("/public/forms/{public_id}/submissions"),
            "application/x-www-form-urlencoded",
            "text/html",
            body,
        );
        app.request(from_ip(request, ip))
    };

    // The hosted page, no JavaScript: see-other to the form's address.
    let reply = send("", "198.51.100.40").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers["location"].to_str().expect("location"),
        "https://www.whitfield-dental.example/thanks"
    );
    // The hosted thanks page (reached without a send) has no top-window link.
    let hosted = app
        .send_anonymous("GET", &format!("/f/{public_id}?submitted=1"), None)
        .await;
    assert!(!String::from_utf8_lossy(&hosted.bytes).contains("form-continue"));

    // In a frame: the frame's thanks page, linking the top window onwards.
    let reply = send("&embed=1", "198.51.100.41").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let location = reply.headers["location"].to_str().expect("location").to_string();
    assert_eq!(location, format!("/f/{public_id}?submitted=1&embed=1"));
    let thanks = app.send_anonymous("GET", &location, None).await;
    expect(&thanks, StatusCode::OK);
    let html = String::from_utf8_lossy(&thanks.bytes).to_string();
    assert!(
        html.contains(
            "<a class=\"button primary\" id=\"form-continue\" href=\"https://www.whitfield-dental.example/thanks\" target=\"_top\">Continue</a>"
        ),
        "{html}"
    );
    // The frame script that passes it to the embed script is the page's own
    // (no inline script under its CSP), and it posts the link's address.
    assert!(!html.contains("<script>"), "{html}");
    let frame_script = html
        .split("<script src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the frame script")
        .to_string();
    let script = app.send_anonymous("GET", &frame_script, None).await;
    expect(&script, StatusCode::OK);
    let script = String::from_utf8_lossy(&script.bytes).to_string();
    assert!(
        script.contains("getElementById(\"form-continue\")") && script.contains("redirect: link.href"),
        "{script}"
    );
}

#[tokio::test]
async fn the_hosted_page_works_without_javascript_and_may_be_framed() {
    let app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let form_id = form["id"].as_str().expect("id").to_string();

    let page = app
        .send_anonymous("GET", &format!("/f/{public_id}?embed=1&utm_campaign=spring-sale"), None)
        .await;
    expect(&page, StatusCode::OK);
    let csp = page.headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors *"),
        "{csp}"
    );
    assert!(page.headers.get("x-frame-options").is_none());
    let html = String::from_utf8_lossy(&page.bytes).to_string();
    assert!(html.contains("<label for=\"f-email\">Email"), "labels: {html}");
    assert!(html.contains("name=\"utm_campaign\" value=\"spring-sale\""), "{html}");
    assert!(!html.contains("<script>"), "no inline script");

    // A plain form post with a mistake: the page again, the error beside its field.
    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(6));
    let form_post = |body: String| {
        post(
            &format!("/public/forms/{public_id}/submissions"),
            "application/x-www-form-urlencoded",
            "text/html",
            body,
        )
    };
    let body = format!(
        "rendered={}&name=&email=maria%40example.com&embed=1&utm_campaign=spring-sale",
        urlencode(&rendered)
    );
    let reply = app.request(from_ip(form_post(body), "198.51.100.5")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8_lossy(&reply.bytes).to_string();
    assert!(html.contains("id=\"e-name\""), "{html}");
    assert!(html.contains("aria-invalid=\"true\""), "{html}");
    assert!(html.contains("value=\"maria@example.com\""), "answers kept: {html}");

    // Corrected: see-other to the thank-you page.
    let body = format!(
        "rendered={}&name=Maria+Gonzalez&email=maria%40example.com&service=Cleaning&embed=1&utm_campaign=spring-sale",
        urlencode(&rendered)
    );
    let reply = app.request(from_ip(form_post(body), "198.51.100.5")).await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let location = reply.headers["location"].to_str().expect("location").to_string();
    assert_eq!(location, format!("/f/{public_id}?submitted=1&embed=1"));
    let thanks = app.send_anonymous("GET", &location, None).await;
    assert!(String::from_utf8_lossy(&thanks.bytes).contains("Thanks, we will call you."));

    // The same post from a script asking for JSON gets problem+json.
    let request = post(
        &format!("/public/forms/{public_id}/submissions"),
        "application/x-www-form-urlencoded",
        "application/json",
        format!("rendered={}&email=nope", urlencode(&rendered)),
    );
    let reply = app.request(from_ip(request, "198.51.100.6")).await;
    problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(field_errors(&reply).contains(&("email".into(), "invalid_email".into())));

    let listed = app
        .send(&dana.browser, "GET", &format!("/forms/{form_id}/submissions"), None)
        .await;
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["attribution"]["utm_campaign"], "spring-sale");
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn embedding_sites_post_across_origins_only_when_the_form_allows_them() {
    let app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let mut body = form_body();
    body["allowed_origins"] = json!(["https://www.whitfield-dental.example"]);
    let form = create_form(&app, &dana, &body).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let path = format!("/public/forms/{public_id}/submissions");

    let preflight = Request::builder()
        .method("OPTIONS")
        .uri(&path)
        .header("origin", "https://www.whitfield-dental.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .expect("request");
    let reply = app.request(preflight).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://www.whitfield-dental.example"
    );

    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(6));
    let mut request = post(
        &path,
        "application/json",
        "application/json",
        json!({"answers": answers(), "rendered": rendered}).to_string(),
    );
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().expect("h"));
    let reply = app.request(from_ip(request, "198.51.100.8")).await;
    problem(&reply, StatusCode::FORBIDDEN, "origin_not_allowed");
    assert!(reply.headers.get("access-control-allow-origin").is_none());

    let mut request = post(
        &path,
        "application/json",
        "application/json",
        json!({"answers": answers(), "rendered": rendered}).to_string(),
    );
    request
        .headers_mut()
        .insert("origin", "https://www.whitfield-dental.example".parse().expect("h"));
    let reply = app.request(from_ip(request, "198.51.100.8")).await;
    expect(&reply, StatusCode::CREATED);
    assert_eq!(
        reply.headers["access-control-allow-origin"],
        "https://www.whitfield-dental.example"
    );
    let page = app.send_anonymous("GET", &format!("/f/{public_id}"), None).await;
    let csp = page.headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("frame-ancestors 'self' https://www.whitfield-dental.example"),
        "{csp}"
    );
}

#[tokio::test]
async fn submissions_are_listed_newest_first_filtered_exported_and_erased_with_their_contact() {
    let app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let form_id = form["id"].as_str().expect("id").to_string();
    let mut ids = Vec::new();
    for (i, (day, email)) in [
        ("2026-03-02", "a@example.com"),
        ("2026-03-03", "b@example.com"),
        ("2026-03-04", "c@example.com"),
    ]
    .iter()
    .enumerate()
    {
        app.set_clock(&format!("{day}T10:00:00Z"));
        let rendered = stamp(&app, &public_id).await;
        app.advance(SignedDuration::from_secs(10));
        let body = json!({"answers": {"name": format!("Person {i}"), "email": email, "service": "Cleaning"}, "rendered": rendered});
        let reply = submit_json(&app, &public_id, &format!("198.51.100.{}", i + 20), &body).await;
        expect(&reply, StatusCode::CREATED);
        ids.push(reply.body["submission_id"].as_str().expect("id").to_string());
    }
    // Days passed: a fresh session.
    let dana = app.sign_in("dana@whitfield-dental.example").await;
    let base = format!("/forms/{form_id}/submissions");
    let all = app.send(&dana.browser, "GET", &base, None).await;
    expect(&all, StatusCode::OK);
    let order: Vec<&str> = all.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(order, vec![ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);
    let page = app.send(&dana.browser, "GET", &format!("{base}?limit=2"), None).await;
    assert_eq!(page.body["items"].as_array().expect("items").len(), 2);
    let cursor = page.body["next_cursor"].as_str().expect("cursor").to_string();
    let rest = app
        .send(
            &dana.browser,
            "GET",
            &format!("{base}?limit=2&cursor={}", urlencode(&cursor)),
            None,
        )
        .await;
    assert_eq!(rest.body["items"][0]["id"], ids[0].as_str());
    let day = app
        .send(
            &dana.browser,
            "GET",
            &format!("{base}?from=2026-03-03&to=2026-03-03"),
            None,
        )
        .await;
    let only: Vec<&str> = day.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(only, vec![ids[1].as_str()]);
    let bad = app
        .send(&dana.browser, "GET", &format!("{base}?from=yesterday"), None)
        .await;
    problem(&bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let csv = app
        .send(&dana.browser, "GET", &format!("/forms/{form_id}/submissions.csv"), None)
        .await;
    expect(&csv, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/csv")
    );
    let text = String::from_utf8_lossy(&csv.bytes).to_string();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let email_at = header.iter().position(|h| h == "email").expect("email column");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[0][email_at], "c@example.com");

    // Erase one submission.
    let reply = app
        .send(&dana.browser, "DELETE", &format!("{base}/{}", ids[2]), None)
        .await;
    expect(&reply, StatusCode::NO_CONTENT);
    let gone = app
        .send(&dana.browser, "GET", &format!("{base}/{}", ids[2]), None)
        .await;
    problem(&gone, StatusCode::NOT_FOUND, "not_found");

    // Deleting a contact erases their submissions.
    let first = app
        .send(&dana.browser, "GET", &format!("{base}/{}", ids[0]), None)
        .await;
    let contact_id = first.body["contact_id"].as_str().expect("contact").to_string();
    let reply = app
        .send(&dana.browser, "DELETE", &format!("/contacts/{contact_id}"), None)
        .await;
    expect(&reply, StatusCode::NO_CONTENT);
    let gone = app
        .send(&dana.browser, "GET", &format!("{base}/{}", ids[0]), None)
        .await;
    problem(&gone, StatusCode::NOT_FOUND, "not_found");
    let left = app.send(&dana.browser, "GET", &base, None).await;
    let left: Vec<&str> = left.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(left, vec![ids[1].as_str()]);
    let count = app.send(&dana.browser, "GET", &format!("/forms/{form_id}"), None).await;
    assert_eq!(count.body["submission_count"], 1);
}

/// Store round trips of one public submit through the router (BENCHMARKS.md
/// "Forms: public submit"): a new visitor, then the same visitor again.
#[tokio::test]
async fn a_submission_costs_a_bounded_number_of_store_round_trips_and_one_transaction() {
    use konnecs::ports::counting::CountingTable;
    use std::sync::Arc;
    let mut app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(10));
    let counting = Arc::new(CountingTable::new(app.state.table.clone()));
    let counts = counting.counts();
    let mut state = app.state.clone();
    state.table = counting;
    app.replace_state(state);
    let mut seen = Vec::new();
    for ip in ["198.51.100.30", "198.51.100.31"] {
        let before = counts.snapshot();
        let reply = submit_json(
            &app,
            &public_id,
            ip,
            &json!({"answers": answers(), "rendered": rendered}),
        )
        .await;
        expect(&reply, StatusCode::CREATED);
        let after = counts.snapshot();
        let by_kind = (
            after.get - before.get,
            after.batch_get - before.batch_get,
            after.query - before.query,
            after.update - before.update,
            after.transact - before.transact,
            after.put - before.put,
        );
        println!(
            "submit round trips (get, batch_get, query, update, transact, put): {by_kind:?}, total {}",
            after.total() - before.total()
        );
        seen.push((by_kind, after.total() - before.total()));
    }
    // Exactly one transaction each: the submission and the contact together.
    assert!(
        seen.iter()
            .all(|((_, _, _, _, transact, put), _)| *transact == 1 && *put == 0),
        "{seen:?}"
    );
    assert_eq!(seen[0].1, EXPECTED_NEW, "{seen:?}");
    assert_eq!(seen[1].1, EXPECTED_RETURNING, "{seen:?}");
}

const EXPECTED_NEW: u64 = 7;
const EXPECTED_RETURNING: u64 = 8;

#[tokio::test]
async fn a_merged_contacts_submissions_follow_it_and_go_when_it_is_erased() {
    let app = TestApp::at(NOW);
    let dana = app.sign_up("dana@whitfield-dental.example", "Whitfield Dental").await;
    let form = create_form(&app, &dana, &form_body()).await;
    let public_id = form["public_id"].as_str().expect("public id").to_string();
    let form_id = form["id"].as_str().expect("id").to_string();
    let rendered = stamp(&app, &public_id).await;
    app.advance(SignedDuration::from_secs(10));
    let mut made = Vec::new();
    for (ip, email) in [
        ("198.51.100.40", "ann@example.com"),
        ("198.51.100.41", "ann.work@example.com"),
    ] {
        let body = json!({"answers": {"name": "Ann Lee", "email": email}, "rendered": rendered});
        let reply = submit_json(&app, &public_id, ip, &body).await;
        expect(&reply, StatusCode::CREATED);
        let id = reply.body["submission_id"].as_str().expect("id").to_string();
        let got = app
            .send(
                &dana.browser,
                "GET",
                &format!("/forms/{form_id}/submissions/{id}"),
                None,
            )
            .await;
        made.push((id, got.body["contact_id"].as_str().expect("contact").to_string()));
    }
    assert_ne!(made[0].1, made[1].1);
    let merge = json!({"primary_id": made[0].1, "secondary_id": made[1].1});
    let reply = app.send(&dana.browser, "POST", "/contacts/merge", Some(&merge)).await;
    expect(&reply, StatusCode::OK);
    let moved = app
        .send(
            &dana.browser,
            "GET",
            &format!("/forms/{form_id}/submissions/{}", made[1].0),
            None,
        )
        .await;
    assert_eq!(moved.body["contact_id"], made[0].1.as_str());
    let reply = app
        .send(&dana.browser, "DELETE", &format!("/contacts/{}", made[0].1), None)
        .await;
    expect(&reply, StatusCode::NO_CONTENT);
    for (id, _) in &made {
        let gone = app
            .send(
                &dana.browser,
                "GET",
                &format!("/forms/{form_id}/submissions/{id}"),
                None,
            )
            .await;
        problem(&gone, StatusCode::NOT_FOUND, "not_found");
    }
}
