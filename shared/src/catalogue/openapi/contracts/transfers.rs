//! The operations of the transfers area's HTTP entries: contact imports
//! (one file, or a file sent in parts), their error reports, exports
//! (direct or as jobs) with their downloads, and the staff pages around them.

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use crate::inbound::http::exports::{ExportParams, ExportView};
use crate::inbound::http::imports::{ImportView, JsonImport};

const IMPORT_ID: &str = "0193b5f1a2b37c4d8e5f6a7b8c9d0e1f";
const EXPORT_ID: &str = "0193b5f3c4d57e6f8a9b0c1d2e3f4a5b";

const CSV_EXAMPLE: &str = "email,first_name,last_name,company\nada@example.com,Ada,Lovelace,Analytical Engines\n";
const ERRORS_CSV_EXAMPLE: &str = "row,field,reason,message\n3,email,invalid_email,Not a valid email address.\n";

fn import_example() -> Value {
    json!({
        "id": IMPORT_ID,
        "source": "csv",
        "google_pages_read": null,
        "state": "done",
        "rows_done": 120,
        "rows_total": 120,
        "created": 112,
        "updated": 5,
        "skipped": 2,
        "failed": 1,
        "mode": "update",
        "tags": ["fair-2026"],
        "mapping": [
            {"column": 0, "header": "email", "target": "email"},
            {"column": 1, "header": "first_name", "target": "first_name"}
        ],
        "parts": 1,
        "created_at": "2026-03-10T09:00:00Z",
        "updated_at": "2026-03-10T09:00:04Z",
        "finished_at": "2026-03-10T09:00:04Z",
        "error": null,
        "errors_url": format!("/imports/{IMPORT_ID}/errors.csv")
    })
}

fn export_example() -> Value {
    json!({
        "id": EXPORT_ID,
        "kind": "contacts",
        "state": "done",
        "format": "csv",
        "filter": {"tag": "vip", "owner_id": null, "created_from": null, "created_to": null, "q": null, "pipeline_id": null, "stage_id": null},
        "import_id": null,
        "file_name": "contacts-2026-03-10.csv",
        "rows_done": 5400,
        "bytes": 812345,
        "created_at": "2026-03-10T09:00:00Z",
        "updated_at": "2026-03-10T09:00:09Z",
        "finished_at": "2026-03-10T09:00:09Z",
        "expires_at": "2026-03-17T09:00:00Z",
        "error": null,
        "download_url": format!("/exports/{EXPORT_ID}/download")
    })
}

fn csv_string() -> Value {
    json!({"type": "string"})
}

/// A query parameter the handler reads by name from the raw pairs (it takes
/// no typed query, since `map.<Header>` names are open).
fn raw_query(mut operation: Operation, name: &str, description: &str, schema: Value) -> Operation {
    operation.parameters.push(json!({
        "name": name,
        "in": "query",
        "required": false,
        "description": description,
        "schema": schema,
    }));
    operation
}

/// A file download (CSV or JSON Lines, as the export's format says).
fn file_answers(operation: Operation, status: u16, description: &str) -> Operation {
    let mut operation = operation.answer(status, description, "text/csv", csv_string(), Some(json!(CSV_EXAMPLE)));
    if let Some(content) = operation
        .responses
        .get_mut(&status)
        .and_then(|response| response.get_mut("content"))
        .and_then(Value::as_object_mut)
    {
        content.insert(
            "application/x-ndjson".into(),
            json!({"schema": {"type": "string"}, "example": "{\"id\":\"0193b5d9a0b17c2d8e3f4a5b6c7d8e9f\",\"email\":\"ada@example.com\"}\n"}),
        );
    }
    operation
}

fn import_path(operation: Operation) -> Operation {
    operation.path("id", "The import's id.", IMPORT_ID)
}

fn export_path(operation: Operation) -> Operation {
    operation.path("id", "The export's id.", EXPORT_ID)
}

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "imports-create" => {
            let json_body = schemas.input::<JsonImport>();
            let mut operation = Operation::new()
                .body(
                    "text/csv",
                    json!({"type": "string", "description": "The CSV file (or its first part). Its options are in the query; a column is mapped with `map.<Header>=<target>` (repeatable; targets such as `email`, `custom.<key>`, `ignore`), headers left out are matched by name."}),
                    json!(CSV_EXAMPLE),
                )
                .json::<ImportView>(
                    schemas,
                    202,
                    "Accepted: the import runs in the background (or waits for its parts); poll `GET /imports/{id}`.",
                    import_example(),
                );
            // The same import as JSON, its options beside the file.
            if let Some(content) = operation
                .request_body
                .as_mut()
                .and_then(|body| body.get_mut("content"))
                .and_then(Value::as_object_mut)
            {
                content.insert(
                    "application/json".into(),
                    json!({"schema": json_body, "example": {"csv": CSV_EXAMPLE, "mode": "update", "tags": ["fair-2026"], "mapping": {"company": "company"}, "more_parts": false}}),
                );
            }
            let operation = raw_query(
                operation,
                "mode",
                "With a CSV body: `update` (a row matching a contact updates it) or `skip`.",
                json!({"type": "string", "enum": ["update", "skip"]}),
            );
            let operation = raw_query(
                operation,
                "tags",
                "With a CSV body: tags for every imported contact, comma-separated.",
                json!({"type": "string"}),
            );
            let operation = raw_query(
                operation,
                "more_parts",
                "With a CSV body: more parts follow through `POST /imports/{id}/parts`.",
                json!({"type": "boolean"}),
            );
            operation.problem(403, &["insufficient_role"])
        }
        "imports-append-part" => {
            let operation = import_path(Operation::new())
                .body("text/csv", csv_string(), json!("grace@example.com,Grace,Hopper,Navy\n"))
                .json::<ImportView>(
                    schemas,
                    202,
                    "The part is stored; after the last, the import runs.",
                    import_example(),
                );
            raw_query(
                operation,
                "last",
                "This is the last part: the import starts.",
                json!({"type": "boolean"}),
            )
            .problem(400, &["unreadable_body"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["import_not_uploading", "part_out_of_order", "conflict"])
            .problem(413, &["payload_too_large"])
            .problem(415, &["unsupported_media_type"])
            .problem(422, &["validation_failed"])
        }
        "imports-get" => import_path(Operation::new())
            .json::<ImportView>(schemas, 200, "The import's state and counts.", import_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "imports-errors" => import_path(Operation::new())
            .answer(
                200,
                "The rows that failed, one line per problem: `row,field,reason,message`.",
                "text/csv",
                csv_string(),
                Some(json!(ERRORS_CSV_EXAMPLE)),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            // Where answers are buffered (Lambda), a report too large to
            // send inline points to `POST /imports/{id}/errors/exports`.
            .problem(422, &["error_report_too_large"]),
        "contacts-export" => file_answers(
            Operation::new().query::<ExportParams>(schemas),
            200,
            "The matching contacts as a file (CSV, or JSON Lines with `format=jsonl`).",
        )
        .problem(403, &["insufficient_role"])
        // `export_too_large` where answers are buffered (Lambda): use `POST /contacts/exports`.
        .problem(422, &["validation_failed", "export_too_large"]),
        "contacts-exports-create" => Operation::new()
            .json_body::<ExportParams>(schemas, json!({"format": "csv", "tag": "vip"}))
            .json::<ExportView>(
                schemas,
                202,
                "Accepted: the export runs in the background; `Location` is where to follow it.",
                export_example(),
            )
            .problem(403, &["insufficient_role"])
            .problem(409, &["too_many_exports_running"]),
        "imports-errors-export" => import_path(Operation::new())
            .json::<ExportView>(
                schemas,
                202,
                "Accepted: the import's error report is written as an export; `Location` is where to follow it.",
                json!({
                    "id": EXPORT_ID, "kind": "import_errors", "state": "queued", "format": "csv", "filter": null,
                    "import_id": IMPORT_ID, "file_name": "import-errors.csv", "rows_done": 0, "bytes": 0,
                    "created_at": "2026-03-10T09:00:00Z", "updated_at": "2026-03-10T09:00:00Z", "finished_at": null,
                    "expires_at": "2026-03-17T09:00:00Z", "error": null, "download_url": null
                }),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["too_many_exports_running"]),
        "exports-get" => export_path(Operation::new())
            .json::<ExportView>(
                schemas,
                200,
                "The export's state; `download_url` once it is done.",
                export_example(),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "exports-download" => file_answers(
            export_path(Operation::new()),
            200,
            "The finished file, where the store cannot give a link to it.",
        )
        .redirect(303, "To a short-lived link to the file (S3).")
        .problem(403, &["insufficient_role"])
        .problem(404, &["not_found"])
        .problem(409, &["export_not_ready"]),
        _ => return pages(name),
    };
    Some(operation)
}

/// The staff pages. Their form posts are read as untyped pairs
/// (`FormData`, or the text parts of a file form): the body schemas list
/// the fields the page handlers read.
fn pages(name: &str) -> Option<Operation> {
    let operation = match name {
        "page-export" => export_path(Operation::new())
            .html(200, "The export's progress, then its download link (to htmx, only the progress part).", "<h1>Export</h1>")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-import-new" => Operation::new()
            .html(200, "The form that uploads a CSV file.", "<h1>Import contacts</h1>")
            .problem(403, &["insufficient_role"]),
        "page-import-upload" => Operation::new()
            .body(
                "multipart/form-data",
                json!({"type": "object", "required": ["file"], "properties": {
                    "_csrf": {"type": "string", "description": "The page's CSRF token."},
                    "file": {"type": "string", "contentMediaType": "text/csv", "description": "The CSV file (at most 1 MiB here)."}
                }}),
                json!({"_csrf": "tok", "file": CSV_EXAMPLE}),
            )
            .redirect(303, "Stored: on to mapping its columns.")
            .problem(400, &["unreadable_body"])
            .problem(403, &["insufficient_role"])
            .problem(413, &["payload_too_large"])
            .problem(415, &["unsupported_media_type"])
            .problem(422, &["validation_failed"]),
        "page-import-map" => import_path(Operation::new())
            .html(200, "The mapping form: a target per column, the mode and tags.", "<h1>Map columns</h1>")
            .redirect(303, "The import is past mapping: to its progress.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-import-start" => import_path(Operation::new())
            .body(
                "application/x-www-form-urlencoded",
                json!({"type": "object", "properties": {
                    "mode": {"type": "string", "enum": ["update", "skip"]},
                    "tags": {"type": "string", "description": "Tags for every imported contact, comma-separated."}
                }, "patternProperties": {
                    "^col-[0-9]+$": {"type": "string", "description": "`col-<index>`: the target of that column."}
                }}),
                json!({"mode": "update", "tags": "fair-2026", "col-0": "email", "col-1": "first_name"}),
            )
            .redirect(303, "Started (or already past mapping): to its progress.")
            .problem(403, &["insufficient_role"])
            // A body that is not a form post is refused before the handler.
            .problem(415, &["unsupported_media_type"])
            .problem(404, &["not_found"])
            .problem(422, &["validation_failed"]),
        "page-import" => import_path(Operation::new())
            .html(200, "The import's progress, then its result (to htmx, only the progress part).", "<h1>Import</h1>")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        _ => return None,
    };
    Some(operation)
}
