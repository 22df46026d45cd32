//! The operations of the staff pages of contacts (`/app/contacts...`). The
//! form posts read untyped pairs (`FormData`); their bodies list the fields
//! the page handler reads. A refused form is its page again, with the
//! refusal's status and the errors beside the fields.

use serde_json::{Value, json};

use super::super::super::{Operation, Schemas};
use super::{CONTACT_ID, NOTE_ID, OTHER_CONTACT_ID, VIEW_ID};
use crate::inbound::http::web::contact_field::FieldQuery;
use crate::inbound::http::web::contact_merge::MergeQuery;
use crate::inbound::http::web::contacts::{NoticeQuery, TableQuery};

const CSRF: &str = "d3b07384d113edec49eaa6238ad5ff00";

pub(super) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "page-contacts" => Operation::new()
            .query::<TableQuery>(schemas)
            .html(
                200,
                "The contacts table with its filters; to htmx (`HX-Request`), only the rows.",
                "<table class=\"contacts\"><tbody><tr><td><a href=\"/app/contacts/0192f1c4a8d37c2e9b5a1f0e6d4c3b2a\">Ada Lovelace</a></td>",
            )
            .html(
                422,
                "Filters it cannot apply (a date that is no date, a sort it does not know): the table with the errors.",
                "<p class=\"field-error\">Use a date such as 2026-01-31.</p>",
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"]),
        "page-contacts-tag" => form(
            json!({
                "ids": {"type": "array", "items": {"type": "string"}, "description": "The ticked contacts (repeated field)."},
                "tag": {"type": "string"},
                "back": {"type": "string", "description": "The table's URL to return to (under /app/contacts)."},
            }),
            json!({"_csrf": CSRF, "ids": CONTACT_ID, "tag": "newsletter", "back": "/app/contacts?tag=vip"}),
        )
        .redirect(303, "Tagged: back to the table.")
        .html(
            422,
            "No contact ticked or a tag it refuses: the table with the error beside the tag.",
            "<p class=\"field-error\">Tick at least one contact.</p>",
        )
        .problem(403, &["insufficient_role"])
        .problem(409, &["contact_changed", "conflict"]),
        "page-contact-new" => Operation::new()
            .html(200, "The new-contact form.", "<form method=\"post\" action=\"/app/contacts\">")
            .problem(403, &["insufficient_role"]),
        "page-contact-create" => form(
            contact_form_fields(),
            json!({"_csrf": CSRF, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0018", "company": "Analytical Engines Ltd", "tags": "vip, newsletter"}),
        )
        .redirect(303, "Created: to the contact's record.")
        .html(
            422,
            "Fields it refuses: the form again with the errors.",
            "<p class=\"field-error\">Not a valid email address.</p>",
        )
        .problem(402, &["plan_limit"])
        .problem(403, &["insufficient_role"])
        .problem(409, &["duplicate_contact", "contact_changed", "conflict"])
        .problem(400, &["invalid_form"]),
        "page-contact" => contact_path(Operation::new())
            .query::<NoticeQuery>(schemas)
            .html(
                200,
                "The contact's record: details, notes, timeline, deals, bookings and the email form.",
                "<h1>Ada Lovelace</h1>",
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-contact-email" => contact_path(form(
            json!({
                "subject": {"type": "string"},
                "body": {"type": "string"},
                "send_key": {"type": "string", "description": "The form's one-time key: a second post of the same form sends nothing again."},
            }),
            json!({"_csrf": CSRF, "subject": "Your spring order", "body": "Hello Ada,\n\nYour order ships on Monday.", "send_key": "0192f1e0a7c34b5d8e6f2a1b9c0d3e4f"}),
        ))
        .redirect(303, "Sent (or being sent by the same form's first post): back to the record.")
        .html(
            200,
            "To htmx, a refusal: the record with the email form and its errors (htmx swaps only successes).",
            "<p class=\"field-error\">This contact has no email address</p>",
        )
        .html(
            422,
            "A subject or body it refuses, or no email address to send to: the record with the form's errors.",
            "<p class=\"field-error\">This contact has no email address</p>",
        )
        .problem(403, &["insufficient_role"])
        .problem(404, &["not_found"])
        .problem(
            409,
            &[
                "google_not_connected",
                "google_scope_missing",
                "google_connection_broken",
                "conflict",
            ],
        )
        .problem(503, &["unavailable"]),
        "page-note-create" => contact_path(form(
            json!({"body": {"type": "string"}}),
            json!({"_csrf": CSRF, "body": "Called about the spring order."}),
        ))
        .redirect(303, "Added: back to the record.")
        .html(
            422,
            "An empty or too long note: the record with the draft and the error.",
            "<p class=\"field-error\">A note has 1 to 10000 characters.</p>",
        )
        .problem(403, &["insufficient_role"])
        .problem(404, &["not_found"])
        .problem(409, &["conflict"]),
        "page-contact-sms" => contact_path(Operation::new())
            .html(
                200,
                "The text messages with the contact, and their SMS consent.",
                "<h1>Text messages with Ada Lovelace</h1>",
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-contact-edit" => contact_path(Operation::new())
            .html(200, "The contact's edit form.", "<h1>Edit Ada Lovelace</h1>")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-contact-update" => {
            let mut fields = contact_form_fields();
            if let Some(fields) = fields.as_object_mut() {
                fields.insert(
                    "version".into(),
                    json!({"type": "string", "description": "The version the form was shown with."}),
                );
            }
            contact_path(form(
                fields,
                json!({"_csrf": CSRF, "version": "3", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "", "company": "Babbage & Co", "tags": "vip", "cf-shirt_size": "M"}),
            ))
            .redirect(303, "Saved: back to the record.")
            .html(
                422,
                "Fields it refuses: the form again with the errors.",
                "<p class=\"field-error\">Not a valid email address.</p>",
            )
            .problem(400, &["invalid_form"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["duplicate_contact", "contact_changed", "conflict"])
            .problem(412, &["stale_version"])
        }
        "page-contact-delete" => contact_path(form(
            json!({"version": {"type": "string", "description": "The version the record was shown with."}}),
            json!({"_csrf": CSRF, "version": "3"}),
        ))
        .redirect(303, "Deleted: to the table.")
        .problem(403, &["insufficient_role"])
        .problem(404, &["not_found"])
        .problem(409, &["contact_changed", "conflict"])
        .problem(412, &["stale_version"]),
        "page-note-update" => note_path(contact_path(form(
            json!({"body": {"type": "string"}}),
            json!({"_csrf": CSRF, "body": "Called about the spring order: 40 units."}),
        )))
        .redirect(303, "Saved: back to the record.")
        .html(
            422,
            "An empty or too long note: the record with the edit and the error.",
            "<p class=\"field-error\">A note has 1 to 10000 characters.</p>",
        )
        .problem(403, &["insufficient_role", "not_author"])
        .problem(404, &["not_found"])
        .problem(409, &["note_changed", "conflict"]),
        "page-note-delete" => note_path(contact_path(form(json!({}), json!({"_csrf": CSRF}))))
            .redirect(303, "Deleted: back to the record.")
            .problem(403, &["insufficient_role", "not_author"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "page-contacts-export" => form(
            filter_fields(),
            json!({"_csrf": CSRF, "tag": "vip", "created_from": "2026-01-01"}),
        )
        .redirect(303, "Started: to the export's progress page.")
        .html(
            422,
            "Filters it cannot apply: the table with the errors.",
            "<p class=\"field-error\">Use a date such as 2026-01-31.</p>",
        )
        .problem(403, &["insufficient_role"])
        .problem(409, &["too_many_exports_running", "conflict"]),
        "page-view-create" => {
            let mut fields = filter_fields();
            if let Some(fields) = fields.as_object_mut() {
                fields.insert("name".into(), json!({"type": "string"}));
            }
            form(
                fields,
                json!({"_csrf": CSRF, "name": "VIP this year", "tag": "vip", "created_from": "2026-01-01"}),
            )
            .redirect(303, "Saved: back to the table with the view's filters.")
            .html(
                422,
                "A name or filter it refuses: the table with the error beside the name.",
                "<p class=\"field-error\">Give the view a name.</p>",
            )
            .problem(403, &["insufficient_role"])
            .problem(409, &["conflict"])
        }
        "page-contacts-columns" => form(
            json!({
                "columns": {"type": "array", "items": {"type": "string", "enum": ["email", "phone", "company", "tags", "created", "updated"]}, "description": "The columns to show, in order (repeated field)."},
                "back": {"type": "string", "description": "The table's URL to return to (under /app/contacts)."},
            }),
            json!({"_csrf": CSRF, "columns": "email", "back": "/app/contacts"}),
        )
        .redirect(303, "Remembered: back to the table.")
        .problem(403, &["insufficient_role"])
        .problem(422, &["validation_failed"]),
        "page-contact-merge-form" => contact_path(Operation::new())
            .query::<MergeQuery>(schemas)
            .html(
                200,
                "Find the other contact, then both side by side with a choice per field.",
                "<h1>Merge into Ada Lovelace</h1>",
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-contact-merge" => contact_path(form(
            json!({
                "other_id": {"type": "string", "description": "The contact merged into this one (and deleted)."},
            }),
            json!({"_csrf": CSRF, "other_id": OTHER_CONTACT_ID, "pick-company": "other"}),
        ))
        .redirect(303, "Merged: back to this contact's record.")
        .html(
            422,
            "A merge it refuses (the same contact twice, too many values): the comparison with the error.",
            "<h1>Merge into Ada Lovelace</h1>",
        )
        .problem(403, &["insufficient_role"])
        .problem(404, &["not_found"])
        .problem(409, &["contact_changed", "conflict"]),
        "page-contact-field" => field_path(contact_path(Operation::new()))
            .query::<FieldQuery>(schemas)
            .html(
                200,
                "To htmx, the one field (`?edit=1`: its inline form).",
                "<form hx-post=\"/app/contacts/0192f1c4a8d37c2e9b5a1f0e6d4c3b2a/fields/company\">",
            )
            .redirect(303, "Without htmx: to the contact's edit page.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-contact-field-save" => field_path(contact_path(form(
            json!({
                "version": {"type": "string", "description": "The version the field was shown with."},
                "value": {"type": "string", "description": "The new value; blank clears it."},
            }),
            json!({"_csrf": CSRF, "version": "3", "value": "Babbage & Co"}),
        )))
        .html(
            200,
            "To htmx, the field as saved, or its form with the error.",
            "<span class=\"field-value\">Babbage &amp; Co</span>",
        )
        .redirect(303, "Without htmx, saved: back to the record.")
        .html(
            422,
            "Without htmx, a value it refuses: the field's form with the error.",
            "<p class=\"field-error\">Not a valid URL.</p>",
        )
        .problem(403, &["insufficient_role"])
        .problem(404, &["not_found"])
        .problem(409, &["duplicate_contact", "contact_changed", "conflict"]),
        "page-view-delete" => form(json!({}), json!({"_csrf": CSRF}))
            .path("id", "A saved view's id.", VIEW_ID)
            .redirect(303, "Deleted: back to the table.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        _ => return None,
    };
    Some(operation)
}

/// A form post with `fields` (plus the CSRF token every staff form carries);
/// a body that is not a form, or too large, is refused before the handler.
fn form(fields: Value, example: Value) -> Operation {
    let mut properties = json!({
        "_csrf": {"type": "string", "description": "The session's CSRF token (or the X-CSRF-Token header)."},
    });
    if let (Some(all), Some(given)) = (properties.as_object_mut(), fields.as_object()) {
        all.extend(given.clone());
    }
    Operation::new()
        .body(
            "application/x-www-form-urlencoded",
            json!({"type": "object", "properties": properties}),
            example,
        )
        .problem(413, &["payload_too_large"])
        .problem(415, &["unsupported_media_type"])
}

/// The fields of the new-contact and edit forms; the edit form adds one
/// `cf-<key>` per custom field.
fn contact_form_fields() -> Value {
    json!({
        "first_name": {"type": "string"},
        "last_name": {"type": "string"},
        "email": {"type": "string"},
        "phone": {"type": "string"},
        "company": {"type": "string"},
        "tags": {"type": "string", "description": "Comma-separated."},
    })
}

/// The table's filters as its forms post them.
fn filter_fields() -> Value {
    json!({
        "q": {"type": "string"},
        "tag": {"type": "string"},
        "owner": {"type": "string"},
        "stage": {"type": "string", "description": "`pipeline_id/stage_id`."},
        "created_from": {"type": "string", "description": "YYYY-MM-DD"},
        "created_to": {"type": "string", "description": "YYYY-MM-DD"},
    })
}

fn contact_path(operation: Operation) -> Operation {
    operation.path("id", "A contact's id.", CONTACT_ID)
}

fn note_path(operation: Operation) -> Operation {
    operation.path("note_id", "A note's id.", NOTE_ID)
}

fn field_path(operation: Operation) -> Operation {
    operation.path(
        "field",
        "A field of the contact: first_name, last_name, company or custom.<key>.",
        "company",
    )
}
