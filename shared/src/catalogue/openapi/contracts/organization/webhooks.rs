//! The outgoing-webhook endpoints and their delivery log (admins).

use serde_json::{Value, json};

use super::super::super::{Operation, Schemas};
use crate::inbound::http::webhooks::{
    DeliveriesQuery, DeliveryList, EndpointList, EndpointWithSecret, NewSecret, Redelivery,
};
use crate::services::webhooks::{EndpointInput, EndpointView};

const ENDPOINT_ID: &str = "01937c2e3f4a7b5c6d7e8f9a0b1c2d3e";
const DELIVERY_ID: &str = "01937c2f5a6b7c8d9e0f1a2b3c4d5e6f";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub(super) fn operation(name: &str, s: &mut Schemas) -> Option<Operation> {
    let endpoint = |operation: Operation| {
        operation
            .path("endpointId", "The webhook endpoint's id.", ENDPOINT_ID)
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
    };
    let operation = match name {
        "webhooks-list" => Operation::new()
            .json::<EndpointList>(
                s,
                200,
                "The organization's endpoints (never their secrets).",
                json!({"items": [endpoint_example()]}),
            )
            .problem(403, &["insufficient_role"]),
        "webhooks-create" => Operation::new()
            .json_body::<EndpointInput>(s, input_example())
            .json::<EndpointWithSecret>(
                s,
                201,
                "The endpoint with its signing secret: the one time the secret is shown.",
                with_secret(endpoint_example()),
            )
            .problem(403, &["insufficient_role"])
            .problem(409, &["too_many_webhook_endpoints", "conflict"]),
        "webhooks-update" => endpoint(Operation::new())
            .json_body::<EndpointInput>(
                s,
                json!({"events": ["booking.created", "booking.cancelled"], "enabled": true}),
            )
            .json::<EndpointView>(s, 200, "The endpoint as changed.", endpoint_example())
            .problem(409, &["conflict"]),
        "webhooks-delete" => {
            endpoint(Operation::new()).empty(204, "The endpoint is deleted; nothing more is sent to it.")
        }
        "webhooks-rotate-secret" => endpoint(Operation::new())
            .json::<NewSecret>(
                s,
                201,
                "A new signing secret, shown this once; the old one stops signing.",
                json!({"secret": SECRET}),
            )
            .problem(409, &["conflict"]),
        "webhooks-deliveries" => endpoint(Operation::new())
            .query::<DeliveriesQuery>(s)
            .json::<DeliveryList>(
                s,
                200,
                "The endpoint's deliveries, newest first, each with its attempts.",
                json!({"items": [delivery_example()]}),
            ),
        "webhooks-redeliver" => endpoint(Operation::new())
            .path("deliveryId", "The delivery's id, from the endpoint's log.", DELIVERY_ID)
            .json::<Redelivery>(
                s,
                202,
                "The delivery is queued again; the attempt shows in the log.",
                json!({"queued": true}),
            ),
        _ => return None,
    };
    Some(operation)
}

fn input_example() -> Value {
    json!({
        "url": "https://hooks.acme.example/konnecs",
        "events": ["booking.created", "contact.created"],
        "description": "Sync to the office system",
    })
}

fn endpoint_example() -> Value {
    json!({
        "id": ENDPOINT_ID,
        "url": "https://hooks.acme.example/konnecs",
        "events": ["booking.created", "contact.created"],
        "description": "Sync to the office system",
        "enabled": true,
        "disabled_reason": null,
        "failing_since": null,
        "consecutive_failures": 0,
        "created_at": "2026-03-02T10:00:00Z",
        "updated_at": "2026-03-02T10:00:00Z",
        "version": 1,
    })
}

fn with_secret(mut endpoint: Value) -> Value {
    endpoint["secret"] = json!(SECRET);
    endpoint
}

fn delivery_example() -> Value {
    json!({
        "id": DELIVERY_ID,
        "event_id": "evt_01937c2f4e5d7a6b8c9d0e1f2a3b4c5d",
        "event_type": "booking.created",
        "status": "succeeded",
        "created_at": "2026-03-02T10:05:00Z",
        "next_attempt_at": null,
        "attempts": [{
            "attempt": 1,
            "at": "2026-03-02T10:05:01Z",
            "status_code": 200,
            "duration_ms": 142,
            "error": null,
            "manual": false,
        }],
    })
}
