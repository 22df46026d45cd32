//! The operations of the forms area's HTTP entries: form definitions and
//! their submissions (staff), the hosted page and the public submit, and
//! the builder's pages.

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use crate::domain::form::{ATTRIBUTION_FIELDS, EMBED_FIELD, FormSpec};
use crate::inbound::http::forms::{FormJson, FormList, SubmissionsQuery};
use crate::inbound::http::web::forms::{NoticeQuery, PageQuery};
use crate::services::forms::submissions::{SubmissionPage, SubmissionView};
use crate::services::forms::submit::SubmitOutcome;

const FORM_ID: &str = "0193b5f5e6f7a8b98c0d1e2f3a4b5c6d";
const PUBLIC_ID: &str = "q7Xk2mVb9RtW";
const SUBMISSION_ID: &str = "0193b5f7a8b9c0d18e2f3a4b5c6d7e8f";

fn spec_example() -> Value {
    json!({
        "title": "Request a quote",
        "fields": [
            {"key": "name", "kind": "short_text", "label": "Your name", "required": true},
            {"key": "email", "kind": "email", "label": "Email", "required": true},
            {"key": "service", "kind": "single_select", "label": "Service", "required": false, "options": ["Cleaning", "Whitening"]},
            {"key": "texts", "kind": "consent", "label": "Texts", "required": false, "consent_channel": "sms",
             "consent_text": "I agree to receive appointment texts from Whitfield Dental."}
        ],
        "thank_you_message": "Thanks, we will call you.",
        "tags": ["web lead"],
        "recipients": ["frontdesk@whitfield-dental.example"],
        "active": true,
        "allowed_origins": ["https://whitfield-dental.example"]
    })
}

fn form_example(count: Option<i64>) -> Value {
    let mut form = spec_example();
    let base = "https://app.konnecs.com";
    let extra = json!({
        "id": FORM_ID,
        "public_id": PUBLIC_ID,
        "version": 3,
        "created_by": "0193b5c0aa117c2d8e3f4a5b6c7d8e9f",
        "created_at": "2026-03-01T10:00:00Z",
        "updated_at": "2026-03-02T08:00:00Z",
        "embed": {
            "hosted_url": format!("{base}/f/{PUBLIC_ID}"),
            "iframe": format!("<iframe src=\"{base}/f/{PUBLIC_ID}?embed=1\" title=\"Request a quote\" style=\"width:100%;border:0;height:640px\" loading=\"lazy\"></iframe>"),
            "script": format!("<script src=\"{base}/assets/form-embed.js\" data-form=\"{PUBLIC_ID}\" data-title=\"Request a quote\" async></script>")
        }
    });
    if let (Some(form), Some(extra)) = (form.as_object_mut(), extra.as_object()) {
        form.extend(extra.clone());
        if let Some(count) = count {
            form.insert("submission_count".into(), json!(count));
        }
    }
    form
}

fn submission_example() -> Value {
    json!({
        "id": SUBMISSION_ID,
        "org_id": "0193b5c0a0117c2d8e3f4a5b6c7d8e00",
        "form_id": FORM_ID,
        "form_version": 3,
        "answers": {"name": "Ada Lovelace", "email": "ada@example.com", "service": "Cleaning", "texts": true},
        "contact_id": "0193b5d9a0b17c2d8e3f4a5b6c7d8e9f",
        "contact_created": true,
        "attribution": {"utm_source": "newsletter", "page_url": "https://whitfield-dental.example/contact"},
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "consents": [{"channel": "sms", "text": "I agree to receive appointment texts from Whitfield Dental.", "at": "2026-03-02T08:00:00Z", "ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "page_url": "https://whitfield-dental.example/contact"}],
        "submitted_at": "2026-03-02T08:00:00Z",
        "notification": "sent"
    })
}

const IF_MATCH: &str = "The version an earlier read returned (its ETag, e.g. \"3\"); the change is refused with 409 `form_changed` when the form moved on.";

fn form_path(operation: Operation) -> Operation {
    operation.path("formId", "The form's id.", FORM_ID)
}

fn submission_path(operation: Operation) -> Operation {
    form_path(operation).path("submissionId", "The submission's id.", SUBMISSION_ID)
}

/// A query parameter the handler reads by name (it takes the raw pairs).
fn raw_query(mut operation: Operation, name: &str, description: &str) -> Operation {
    operation.parameters.push(json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": description,
        "schema": {"type": "string"},
    }));
    operation
}

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "forms-list" => Operation::new()
            .json::<FormList>(
                schemas,
                200,
                "The organization's forms with their submission counts and embed snippets.",
                json!({"items": [form_example(Some(12))]}),
            )
            .problem(403, &["insufficient_role"]),
        "forms-create" => Operation::new()
            .json_body::<FormSpec>(schemas, spec_example())
            .json::<FormJson>(schemas, 201, "The new form; `ETag` is its version.", form_example(Some(0)))
            .problem(403, &["insufficient_role"])
            .problem(409, &["conflict"]),
        "forms-get" => form_path(Operation::new())
            .json::<FormJson>(schemas, 200, "The form; `ETag` is its version.", form_example(Some(12)))
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "forms-update" => form_path(Operation::new())
            .header("If-Match", false, IF_MATCH)
            .json_body::<FormSpec>(schemas, spec_example())
            .json::<FormJson>(
                schemas,
                200,
                "The form as changed (a new version; earlier submissions keep theirs).",
                form_example(None),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["form_changed", "conflict"]),
        "forms-delete" => form_path(Operation::new())
            .empty(204, "Deleted, with its submissions.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["form_changed", "conflict"]),
        "form-submissions-list" => form_path(Operation::new())
            .query::<SubmissionsQuery>(schemas)
            .json::<SubmissionPage>(
                schemas,
                200,
                "One page of submissions, newest first.",
                json!({"items": [submission_example()], "next_cursor": null}),
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(422, &["validation_failed"]),
        "form-submissions-get" => submission_path(Operation::new())
            .json::<SubmissionView>(schemas, 200, "The submission with the fields of its form's version.", {
                let mut view = submission_example();
                view["fields"] = json!([{"key": "name", "kind": "short_text", "label": "Your name", "required": true}]);
                view
            })
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "form-submissions-delete" => submission_path(Operation::new())
            .empty(204, "Erased.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "form-submissions-export" => form_path(Operation::new())
            .query::<SubmissionsQuery>(schemas)
            .answer(
                200,
                "The submissions as CSV: one column per field of the form, then the time, contact and attribution.",
                "text/csv",
                json!({"type": "string"}),
                Some(json!("submitted_at,name,email,service\n2026-03-02T08:00:00Z,Ada Lovelace,ada@example.com,Cleaning\n")),
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(422, &["validation_failed"]),
        "public-form-submit" => with_form_post(Operation::new()
            .path("publicId", "The form's public id, as its embed snippet names it.", PUBLIC_ID)
            .header(
                "Origin",
                false,
                "The embedding page's origin: refused unless the form allows it. The preflight (`OPTIONS`) answers 204 with the CORS headers for an allowed origin.",
            )
            .body("application/json", submit_json_schema(), json!({
                "answers": {"name": "Ada Lovelace", "email": "ada@example.com", "service": "Cleaning", "texts": true},
                "rendered": "1772438400000.3f9a0c",
                "utm_source": "newsletter",
                "page_url": "https://whitfield-dental.example/contact"
            }))
            .json::<SubmitOutcome>(
                schemas,
                201,
                "Received.",
                json!({"submission_id": SUBMISSION_ID, "thank_you_message": "Thanks, we will call you."}),
            )
            .redirect(
                303,
                "A browser's form post (`Accept: text/html`) was received: to the thank-you page or the form's redirect address.",
            )
            .html(
                422,
                "A browser's form post with a mistake: the form again, the errors beside their fields.",
                "<p class=\"field-error\" id=\"e-name\">",
            )
            .problem(400, &["too_fast"])
            .problem(403, &["origin_not_allowed"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"])
            .problem(429, &["rate_limited"])),
        _ => return pages(name, schemas),
    };
    Some(operation)
}

/// The submit's JSON body: the handler reads it as an object (so that an
/// unknown name is a field error, not a parse failure), hence no Rust type.
/// A browser's form post (`application/x-www-form-urlencoded`) carries the
/// answers by their keys beside the same reserved names.
fn submit_json_schema() -> Value {
    let text = json!({"type": "string"});
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "answers": {"type": "object", "description": "The answers by field key: text, number, boolean, or a list for multi-select."},
            "rendered": {"type": "string", "description": "The signed stamp of when the form was shown (the hosted page and the embed script carry it)."},
            "website_url": {"type": "string", "description": "A honeypot: people leave it empty."},
            "utm_source": text, "utm_medium": text, "utm_campaign": text, "utm_term": text, "utm_content": text,
            "referrer": text, "page_url": text
        }
    })
}

/// The submit as a browser's plain form post: the answers by their keys,
/// beside the same reserved names as the JSON body.
fn with_form_post(mut operation: Operation) -> Operation {
    if let Some(content) = operation
        .request_body
        .as_mut()
        .and_then(|body| body.get_mut("content"))
        .and_then(Value::as_object_mut)
    {
        content.insert(
            "application/x-www-form-urlencoded".into(),
            json!({
                "schema": {"type": "object", "additionalProperties": {"type": "string"}},
                "example": {"name": "Ada Lovelace", "email": "ada@example.com", "service": "Cleaning", "rendered": "1772438400000.3f9a0c"}
            }),
        );
    }
    operation
}

/// The staff pages and the hosted form. The builder's posts are read as
/// untyped pairs (`FormData`): the body schemas list the fields the page
/// handlers read.
fn pages(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "page-forms" => Operation::new()
            .query::<NoticeQuery>(schemas)
            .html(
                200,
                "The organization's forms with their submission counts, and the form that creates one.",
                "<h1>Forms</h1>",
            )
            .problem(403, &["insufficient_role"]),
        "page-forms-create" => Operation::new()
            .body(
                "application/x-www-form-urlencoded",
                json!({"type": "object", "properties": {"title": {"type": "string"}}}),
                json!({"title": "Request a quote"}),
            )
            .redirect(303, "Created (with a name and an email field): to its builder.")
            .problem(403, &["insufficient_role"])
            // A body that is not a form post is refused before the handler.
            .problem(415, &["unsupported_media_type"])
            .problem(422, &["validation_failed"]),
        "page-form-builder" => form_path(Operation::new())
            .query::<NoticeQuery>(schemas)
            .html(
                200,
                "The form's builder: settings, fields and a live preview.",
                "<h1>Request a quote</h1>",
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-form-save" => form_path(Operation::new())
            .body(
                "application/x-www-form-urlencoded",
                builder_schema(),
                json!({
                    "action": "add", "version": "3", "key": "company", "kind": "short_text", "label": "Company"
                }),
            )
            .html(
                200,
                "With `preview=1`: the preview of the change, nothing saved.",
                "<form class=\"preview\">",
            )
            .redirect(303, "Saved as a new version: back to the builder.")
            .problem(400, &["invalid_action"])
            .problem(403, &["insufficient_role"])
            // A body that is not a form post is refused before the handler.
            .problem(415, &["unsupported_media_type"])
            .problem(404, &["not_found"])
            .problem(409, &["form_changed", "conflict"])
            .problem(422, &["validation_failed"]),
        "page-form-submissions" => form_path(Operation::new())
            .query::<PageQuery>(schemas)
            .html(
                200,
                "The form's submissions, newest first, with their contacts linked.",
                "<h1>Submissions</h1>",
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-form" => {
            let operation = Operation::new()
                .path("publicId", "The form's public id.", PUBLIC_ID)
                .html(
                    200,
                    "The hosted form (works without JavaScript; frameable by the sites the form allows).",
                    "<form method=\"post\"",
                )
                .html(404, "No such form, or it takes no answers.", "<h1>Form not found</h1>")
                // The rate limit in front of the page answers a problem
                // document, not a page.
                .answer(
                    429,
                    "Too many requests from this address or for this form.",
                    "application/problem+json",
                    json!({"$ref": "#/components/schemas/Problem"}),
                    None,
                );
            let operation = raw_query(operation, EMBED_FIELD, "`1`: the page shown in the embed's frame.");
            let operation = raw_query(operation, "submitted", "`1`: the thank-you page.");
            ATTRIBUTION_FIELDS.into_iter().fold(operation, |operation, name| {
                raw_query(operation, name, "Attribution sent with the answers.")
            })
        }
        _ => return None,
    };
    Some(operation)
}

/// The builder's post: an action and the fields it reads.
fn builder_schema() -> Value {
    let text = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["settings", "add", "edit", "remove", "up", "down", "order"]},
            "field": {"type": "string", "description": "The key of the field the action is about (edit, remove, up, down)."},
            "version": {"type": "string", "description": "The version the builder showed."},
            "preview": {"type": "string", "description": "`1`: answer the preview of the change and save nothing."},
            "title": text, "thank_you_message": text, "redirect_url": text,
            "tags": {"type": "string", "description": "Comma-separated."},
            "recipients": {"type": "string", "description": "Comma-separated."},
            "allowed_origins": {"type": "string", "description": "Comma-separated."},
            "owner_id": text,
            "active": {"type": "string", "description": "Present (any value) when the form is active."},
            "order": {"type": "string", "description": "Every field's key, comma-separated, in the new order."},
            "key": text, "kind": text, "label": text, "help": text, "placeholder": text,
            "required": {"type": "string", "description": "Present when the field is required."},
            "min_length": text, "max_length": text, "pattern": text, "min": text, "max": text,
            "options": {"type": "string", "description": "One option per line."},
            "consent_channel": {"type": "string", "enum": ["sms", "email"]},
            "consent_text": text, "default_value": text
        }
    })
}
