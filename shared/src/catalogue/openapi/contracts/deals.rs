//! The operations of the deals area's HTTP entries: pipelines with their
//! stages, the board, deals, and the staff pages that show and edit them.

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use crate::inbound::http::pipelines::{
    BoardQuery, DealPage, DealsQuery, DeletePipelineQuery, NewPipelineBody, PipelineList,
};
use crate::inbound::http::web::contacts::NoticeQuery;
use crate::services::pipelines::{Board, DealChange, DealRecord, NewDeal, PipelineChange, PipelineRecord};

const PIPELINE_ID: &str = "0193b5e0c1a27f3e9d4c6b2a1f0e8d7c";
const DEAL_ID: &str = "0193b5e2d4f87a1b8c3d5e6f7a8b9c0d";
const CONTACT_ID: &str = "0193b5d9a0b17c2d8e3f4a5b6c7d8e9f";

fn pipeline_example() -> Value {
    json!({
        "id": PIPELINE_ID,
        "name": "Sales",
        "stages": [
            {"id": "s1", "name": "Lead", "position": 0, "probability": 10},
            {"id": "s2", "name": "Proposal", "position": 1, "probability": 50},
            {"id": "s3", "name": "Won", "position": 2, "probability": 100}
        ],
        "created_at": "2026-03-10T09:00:00Z",
        "updated_at": "2026-03-10T09:00:00Z",
        "version": 1
    })
}

fn deal_example() -> Value {
    json!({
        "id": DEAL_ID,
        "pipeline_id": PIPELINE_ID,
        "stage_id": "s2",
        "title": "Website redesign",
        "contact_id": CONTACT_ID,
        "value": 480000,
        "currency": "EUR",
        "status": "open",
        "expected_close_date": "2026-04-30",
        "owner_id": "0193b5c0aa117c2d8e3f4a5b6c7d8e9f",
        "created_at": "2026-03-10T09:05:00Z",
        "updated_at": "2026-03-11T14:20:00Z",
        "version": 2
    })
}

const IF_MATCH: &str = "The version an earlier read returned (its ETag, e.g. \"3\"); the change is refused with 412 when the resource moved on.";

fn pipeline_path(operation: Operation) -> Operation {
    operation.path("id", "The pipeline's id.", PIPELINE_ID)
}

fn deal_path(operation: Operation) -> Operation {
    operation.path("id", "The deal's id.", DEAL_ID)
}

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "pipelines-list" => Operation::new()
            .json::<PipelineList>(schemas, 200, "The organization's pipelines, oldest first.", json!({"items": [pipeline_example()]}))
            .problem(403, &["insufficient_role"]),
        "pipelines-create" => Operation::new()
            .json_body::<NewPipelineBody>(
                schemas,
                json!({"name": "Sales", "stages": [{"name": "Lead", "probability": 10}, {"name": "Proposal", "probability": 50}, {"name": "Won", "probability": 100}]}),
            )
            .json::<PipelineRecord>(schemas, 201, "The new pipeline; `ETag` is its version.", pipeline_example())
            .problem(403, &["insufficient_role"]),
        "pipelines-get" => pipeline_path(Operation::new())
            .json::<PipelineRecord>(schemas, 200, "The pipeline; `ETag` is its version.", pipeline_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "pipelines-update" => pipeline_path(Operation::new())
            .header("If-Match", false, IF_MATCH)
            .json_body::<PipelineChange>(
                schemas,
                json!({"name": "Sales EU", "stages": [{"id": "s1", "name": "Lead"}, {"id": "s2", "name": "Proposal", "probability": 60}, {"name": "Negotiation", "probability": 80}], "move_deals_to": "s2"}),
            )
            .json::<PipelineRecord>(schemas, 200, "The pipeline as changed; `ETag` is its new version.", pipeline_example())
            .problem(400, &["invalid_if_match"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["stage_has_deals", "conflict"])
            .problem(412, &["stale_version"]),
        "pipelines-delete" => pipeline_path(Operation::new())
            .query::<DeletePipelineQuery>(schemas)
            .empty(204, "Deleted (its deals moved to the named stage, when any).")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["pipeline_has_deals", "conflict"])
            .problem(422, &["validation_failed"]),
        "pipelines-board" => pipeline_path(Operation::new())
            .query::<BoardQuery>(schemas)
            .json::<Board>(
                schemas,
                200,
                "The pipeline's stages, each with its deal count, totals per currency and first deals.",
                json!({
                    "pipeline": pipeline_example(),
                    "stages": [{"id": "s2", "name": "Proposal", "position": 1, "probability": 50, "count": 1, "totals": [{"currency": "EUR", "value": 480000}], "deals": [deal_example()]}]
                }),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "deals-list" => Operation::new()
            .query::<DealsQuery>(schemas)
            .json::<DealPage>(schemas, 200, "One page of deals, newest first.", json!({"items": [deal_example()], "cursor": null}))
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(422, &["validation_failed"]),
        "deals-create" => Operation::new()
            .json_body::<NewDeal>(
                schemas,
                json!({"title": "Website redesign", "contact_id": CONTACT_ID, "pipeline_id": PIPELINE_ID, "value": 480000, "currency": "EUR", "expected_close_date": "2026-04-30"}),
            )
            .json::<DealRecord>(schemas, 201, "The new deal; `ETag` is its version.", deal_example())
            .problem(403, &["insufficient_role"])
            .problem(409, &["conflict"]),
        "deals-get" => deal_path(Operation::new())
            .json::<DealRecord>(schemas, 200, "The deal; `ETag` is its version.", deal_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "deals-update" => deal_path(Operation::new())
            .header("If-Match", false, IF_MATCH)
            .json_body::<DealChange>(schemas, json!({"stage_id": "s3", "status": "won", "expected_close_date": null}))
            .json::<DealRecord>(schemas, 200, "The deal as changed; `ETag` is its new version.", deal_example())
            .problem(400, &["invalid_if_match"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"])
            .problem(412, &["stale_version"]),
        "deals-delete" => deal_path(Operation::new())
            .header("If-Match", false, IF_MATCH)
            .empty(204, "Deleted.")
            .problem(400, &["invalid_if_match"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"])
            .problem(412, &["stale_version"]),
        _ => return pages(name, schemas),
    };
    Some(operation)
}

/// The staff pages. Their form posts are read as untyped pairs
/// (`FormData`): the body schemas list the fields the page handlers read.
fn pages(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "page-pipelines" => Operation::new()
            .query::<NoticeQuery>(schemas)
            .html(200, "Every pipeline, and the form that creates one.", "<h1>Pipelines</h1>")
            .problem(403, &["insufficient_role"]),
        "page-pipeline-create" => Operation::new()
            .body(
                "application/x-www-form-urlencoded",
                json!({"type": "object", "properties": {
                    "name": {"type": "string"},
                    "stages": {"type": "string", "description": "The stage names, one per line or separated by commas."}
                }}),
                json!({"name": "Sales", "stages": "Lead\nProposal\nWon"}),
            )
            .redirect(303, "Created: to its board.")
            .problem(403, &["insufficient_role"])
            // A body that is not a form post is refused before the handler.
            .problem(415, &["unsupported_media_type"])
            .problem(422, &["validation_failed"]),
        "page-board" => pipeline_path(Operation::new())
            .query::<NoticeQuery>(schemas)
            .html(200, "The pipeline's board: a column per stage with its deals.", "<h1>Sales</h1>")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-pipeline-edit" => pipeline_path(Operation::new())
            .query::<NoticeQuery>(schemas)
            .html(200, "The pipeline's editor: its name and stages.", "<h1>Edit Sales</h1>")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-pipeline-update" => pipeline_path(Operation::new())
            .body(
                "application/x-www-form-urlencoded",
                json!({"type": "object", "properties": {
                    "op": {"type": "string", "enum": ["rename", "add_stage", "save_stage", "up", "down", "delete_stage"], "description": "What the editor's button does."},
                    "version": {"type": "string", "description": "The version the editor showed."},
                    "name": {"type": "string", "description": "The pipeline's new name (`rename`)."},
                    "stage_id": {"type": "string", "description": "The stage a stage button acts on."},
                    "new_stage_name": {"type": "string"},
                    "new_stage_probability": {"type": "string"}
                }, "patternProperties": {
                    "^name-": {"type": "string", "description": "`name-<stage id>`: the stage's new name (`save_stage`)."},
                    "^probability-": {"type": "string", "description": "`probability-<stage id>`: 0 to 100 (`save_stage`)."},
                    "^move-": {"type": "string", "description": "`move-<stage id>`: where a deleted stage's deals go."}
                }}),
                json!({"op": "rename", "version": "1", "name": "Sales EU"}),
            )
            .redirect(303, "Saved: back to the editor.")
            .problem(403, &["insufficient_role"])
            // A body that is not a form post is refused before the handler.
            .problem(415, &["unsupported_media_type"])
            .problem(404, &["not_found"])
            .problem(409, &["stage_has_deals", "conflict"])
            .problem(412, &["stale_version"])
            .problem(422, &["validation_failed"]),
        "page-deal-move" => deal_path(Operation::new())
            .body(
                "application/x-www-form-urlencoded",
                json!({"type": "object", "properties": {
                    "stage_id": {"type": "string"},
                    "version": {"type": "string", "description": "The version the card showed."}
                }}),
                json!({"stage_id": "s3", "version": "2"}),
            )
            .redirect(303, "Moved: back to the board.")
            .problem(403, &["insufficient_role"])
            // A body that is not a form post is refused before the handler.
            .problem(415, &["unsupported_media_type"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"])
            .problem(412, &["stale_version"])
            .problem(422, &["validation_failed"]),
        "page-deal-create" => Operation::new()
            .path("id", "The contact's id.", CONTACT_ID)
            .body(
                "application/x-www-form-urlencoded",
                json!({"type": "object", "properties": {
                    "title": {"type": "string"},
                    "pipeline_id": {"type": "string"},
                    "value": {"type": "string", "description": "An amount in major units, e.g. 1200.50."},
                    "currency": {"type": "string"}
                }}),
                json!({"title": "Website redesign", "pipeline_id": PIPELINE_ID, "value": "4800", "currency": "EUR"}),
            )
            .redirect(303, "Created: back to the contact.")
            .problem(403, &["insufficient_role"])
            // A body that is not a form post is refused before the handler.
            .problem(415, &["unsupported_media_type"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"])
            .problem(422, &["validation_failed"]),
        _ => return None,
    };
    Some(operation)
}
