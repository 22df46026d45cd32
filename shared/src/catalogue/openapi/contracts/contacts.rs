//! The operations of the contacts area's HTTP entries: the JSON API here,
//! the staff pages in `pages`.

mod pages;

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use crate::domain::contact::{ContactPatch, ContactRecord, FieldDef, NewContact};
use crate::inbound::http::contacts::{
    BulkTagsBody, ContactPage, CreateParams, FieldList, ListParams, MergeBody, NoteBody, NotePage, PageParams,
    RenameBody, TagList, TagRemoved, TagRenamed, TimelinePage, ViewList,
};
use crate::inbound::http::gmail::EmailBody;
use crate::services::contacts::fields::{FieldPatch, NewField};
use crate::services::contacts::notes::NoteRecord;
use crate::services::contacts::tags::BulkOutcome;
use crate::services::contacts::views::{NewView, SavedView};
use crate::services::google::gmail::SentEmail;

const CONTACT_ID: &str = "0192f1c4a8d37c2e9b5a1f0e6d4c3b2a";
const OTHER_CONTACT_ID: &str = "0192f1c4b1e07a4c8d2f6e5b3a190c7d";
const NOTE_ID: &str = "0192f1d20c6b7e1fa3d85c4b2e9f0a61";
const FIELD_ID: &str = "0192f0aa5e3c7d21b8f4a6c9e2d1b073";
const VIEW_ID: &str = "0192f2b7d4a17c3e8f5b2a6d9c0e1f48";
const USER_ID: &str = "0192ef0c3b5a7d4e9f1c2b8a6d0e3f57";

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    if let Some(operation) = pages::operation(name, schemas) {
        return Some(operation);
    }
    let operation = match name {
        "contacts-list" => Operation::new()
            .query::<ListParams>(schemas)
            .json::<ContactPage>(
                schemas,
                200,
                "One page of the organization's contacts; `cursor` asks for the next.",
                json!({"contacts": [contact_example()], "cursor": null}),
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(422, &["validation_failed"]),
        "contacts-create" => Operation::new()
            .query::<CreateParams>(schemas)
            .json_body::<NewContact>(
                schemas,
                json!({
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "emails": ["ada@example.com"],
                    "phones": [{"number": "+44 20 7946 0018", "primary": true}],
                    "company": "Analytical Engines Ltd",
                    "tags": ["vip"],
                    "email_consent": {"status": "granted", "source": "web form"}
                }),
            )
            .json::<ContactRecord>(schemas, 201, "Created; `ETag` is its version.", contact_example())
            .json::<ContactRecord>(
                schemas,
                200,
                "With `upsert=true`: merged into the contact that has this email or phone.",
                contact_example(),
            )
            .problem(402, &["plan_limit"])
            .problem(403, &["insufficient_role"])
            .problem(409, &["duplicate_contact", "contact_changed", "conflict"]),
        "contacts-get" => contact_path(Operation::new())
            .json::<ContactRecord>(schemas, 200, "The contact; `ETag` is its version.", contact_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "contacts-update" => contact_path(Operation::new())
            .header(
                "If-Match",
                false,
                "The version read (`ETag`); the update is refused if the contact changed since.",
            )
            .json_body::<ContactPatch>(
                schemas,
                json!({"company": "Babbage & Co", "add_tags": ["customer"], "source": null}),
            )
            .json::<ContactRecord>(schemas, 200, "Updated; `ETag` is its new version.", contact_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["duplicate_contact", "contact_changed", "conflict"])
            .problem(412, &["stale_version"]),
        "contacts-delete" => contact_path(Operation::new())
            .header(
                "If-Match",
                false,
                "The version read (`ETag`); the deletion is refused if the contact changed since.",
            )
            .empty(204, "Deleted, with its notes, timeline and form submissions.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["contact_changed", "conflict"])
            .problem(412, &["stale_version"]),
        "contacts-merge" => Operation::new()
            .json_body::<MergeBody>(
                schemas,
                json!({"primary_id": CONTACT_ID, "secondary_id": OTHER_CONTACT_ID}),
            )
            .json::<ContactRecord>(
                schemas,
                200,
                "The primary contact with the secondary's details merged in; the secondary is gone.",
                contact_example(),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["contact_changed", "conflict"]),
        "contacts-tags-bulk" => Operation::new()
            .json_body::<BulkTagsBody>(
                schemas,
                json!({"ids": [CONTACT_ID, OTHER_CONTACT_ID], "add": ["newsletter"], "remove": ["lead"]}),
            )
            .json::<BulkOutcome>(
                schemas,
                200,
                "How many contacts changed, and the ids that are no contacts of the organization.",
                json!({"updated": 2, "unchanged": 0, "not_found": []}),
            )
            .problem(403, &["insufficient_role"])
            .problem(409, &["contact_changed", "conflict"]),
        "contacts-timeline" => contact_path(Operation::new())
            .query::<PageParams>(schemas)
            .json::<TimelinePage>(
                schemas,
                200,
                "One page of the contact's timeline, newest first.",
                json!({"entries": [{
                    "id": "0192f1d20c6b7e1fa3d85c4b2e9f0a62",
                    "kind": "note",
                    "at": "2026-03-02T10:15:00Z",
                    "detail": {"note_id": NOTE_ID, "author_id": USER_ID, "body": "Called about the spring order."}
                }], "cursor": null}),
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "notes-list" => contact_path(Operation::new())
            .query::<PageParams>(schemas)
            .json::<NotePage>(
                schemas,
                200,
                "One page of the contact's notes.",
                json!({"notes": [note_example()], "cursor": null}),
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "notes-create" => contact_path(Operation::new())
            .json_body::<NoteBody>(schemas, json!({"body": "Called about the spring order."}))
            .json::<NoteRecord>(schemas, 201, "The note, also on the timeline.", note_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "notes-update" => note_path(contact_path(Operation::new()))
            .json_body::<NoteBody>(schemas, json!({"body": "Called about the spring order: 40 units."}))
            .json::<NoteRecord>(schemas, 200, "The edited note.", note_example())
            .problem(403, &["insufficient_role", "not_author"])
            .problem(404, &["not_found"])
            .problem(409, &["note_changed", "conflict"]),
        "notes-delete" => note_path(contact_path(Operation::new()))
            .empty(204, "Deleted, with its timeline entry.")
            .problem(403, &["insufficient_role", "not_author"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "tags-list" => Operation::new()
            .json::<TagList>(
                schemas,
                200,
                "Every tag in use, with its number of contacts.",
                json!({"tags": [{"tag": "vip", "count": 12}, {"tag": "newsletter", "count": 140}]}),
            )
            .problem(403, &["insufficient_role"]),
        "tags-rename" => tag_path(Operation::new())
            .json_body::<RenameBody>(schemas, json!({"name": "key-account"}))
            .json::<TagRenamed>(
                schemas,
                200,
                "The tag's new name and how many contacts carry it now.",
                json!({"tag": "key-account", "contacts_changed": 12}),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["contact_changed", "conflict"]),
        "tags-delete" => tag_path(Operation::new())
            .json::<TagRemoved>(
                schemas,
                200,
                "The tag is taken off every contact.",
                json!({"contacts_changed": 12}),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["contact_changed", "conflict"])
            .problem(422, &["validation_failed"]),
        "fields-list" => Operation::new()
            .json::<FieldList>(
                schemas,
                200,
                "The organization's custom field definitions.",
                json!({"fields": [field_example()]}),
            )
            .problem(403, &["insufficient_role"]),
        "fields-create" => Operation::new()
            .json_body::<NewField>(
                schemas,
                json!({"label": "Shirt size", "type": "single_select", "options": ["S", "M", "L"]}),
            )
            .json::<FieldDef>(schemas, 201, "The definition; `key` names its values.", field_example())
            .problem(403, &["insufficient_role"])
            .problem(409, &["conflict"]),
        "fields-update" => field_path(Operation::new())
            .json_body::<FieldPatch>(
                schemas,
                json!({"label": "T-shirt size", "options": ["S", "M", "L", "XL"]}),
            )
            .json::<FieldDef>(schemas, 200, "The changed definition.", field_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(412, &["stale_version"]),
        "fields-delete" => field_path(Operation::new())
            .empty(204, "Deleted; contacts keep no value for it.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "contacts-email" => contact_path(Operation::new())
            .header(
                "Idempotency-Key",
                false,
                "Names the send: a repeat with the same key answers the first send and sends nothing again.",
            )
            .json_body::<EmailBody>(
                schemas,
                json!({"subject": "Your spring order", "body": "Hello Ada,\n\nYour order ships on Monday."}),
            )
            .json::<SentEmail>(
                schemas,
                201,
                "Sent from the caller's Gmail, and logged on the contact's timeline.",
                sent_email_example(false),
            )
            .json::<SentEmail>(
                schemas,
                200,
                "Sent before with this Idempotency-Key: the first send's answer.",
                sent_email_example(true),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(
                409,
                &[
                    "email_sending",
                    "google_not_connected",
                    "google_scope_missing",
                    "google_connection_broken",
                    "conflict",
                ],
            ),
        "contacts-views-list" => Operation::new()
            .json::<ViewList>(
                schemas,
                200,
                "The caller's saved views of the contact list.",
                json!({"views": [view_example()]}),
            )
            .problem(403, &["insufficient_role"]),
        "contacts-views-create" => Operation::new()
            .json_body::<NewView>(
                schemas,
                json!({"name": "VIP this year", "filters": {"tag": "vip", "created_from": "2026-01-01"}}),
            )
            .json::<SavedView>(schemas, 201, "The saved view.", view_example())
            .problem(403, &["insufficient_role"])
            .problem(409, &["conflict"]),
        "contacts-views-delete" => Operation::new()
            .path("id", "A saved view's id.", VIEW_ID)
            .empty(204, "Deleted.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        _ => return None,
    };
    Some(operation)
}

fn contact_path(operation: Operation) -> Operation {
    operation.path("contactId", "A contact's id.", CONTACT_ID)
}

fn note_path(operation: Operation) -> Operation {
    operation.path("noteId", "A note's id.", NOTE_ID)
}

fn tag_path(operation: Operation) -> Operation {
    operation.path("tag", "A tag, as the contacts carry it.", "vip")
}

fn field_path(operation: Operation) -> Operation {
    operation.path("fieldId", "A custom field's id.", FIELD_ID)
}

fn contact_example() -> Value {
    json!({
        "id": CONTACT_ID,
        "org_id": "0192ef0c2a417b6d8e3f5c1a9b7d0e24",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "emails": [{"address": "ada@example.com", "primary": true}],
        "phones": [{"e164": "+442079460018", "raw": "+44 20 7946 0018", "national_digits": "2079460018", "primary": true}],
        "company": "Analytical Engines Ltd",
        "address": null,
        "source": "api",
        "owner_id": USER_ID,
        "custom_fields": {"shirt_size": "M"},
        "tags": ["vip"],
        "sms_consent": null,
        "email_consent": {"status": "granted", "at": "2026-03-01T09:00:00Z", "source": "web form", "ip": "203.0.113.7", "text": null},
        "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z",
        "created_ms": 1_772_355_600_000_i64,
        "version": 1
    })
}

fn note_example() -> Value {
    json!({
        "id": NOTE_ID,
        "contact_id": CONTACT_ID,
        "author_id": USER_ID,
        "body": "Called about the spring order.",
        "created_at": "2026-03-02T10:15:00Z",
        "updated_at": "2026-03-02T10:15:00Z",
        "timeline_sk": "TL#1772446500000#0192f1d20c6b7e1fa3d85c4b2e9f0a62"
    })
}

fn field_example() -> Value {
    json!({
        "id": FIELD_ID,
        "key": "shirt_size",
        "label": "Shirt size",
        "type": "single_select",
        "options": ["S", "M", "L"],
        "created_at": "2026-02-20T08:00:00Z",
        "version": 1
    })
}

fn view_example() -> Value {
    json!({
        "id": VIEW_ID,
        "name": "VIP this year",
        "filters": {"tag": "vip", "created_from": "2026-01-01"},
        "created_at": "2026-03-03T12:00:00Z"
    })
}

fn sent_email_example(replayed: bool) -> Value {
    json!({
        "contact_id": CONTACT_ID,
        "gmail_message_id": "18e2f4a9c1b7d305",
        "gmail_thread_id": "18e2f4a9c1b7d305",
        "rfc_message_id": "<CAF3xk2-example@mail.gmail.com>",
        "from": "sam@acme.example",
        "to": "ada@example.com",
        "sent_at": "2026-03-04T15:30:00Z",
        "replayed": replayed
    })
}
