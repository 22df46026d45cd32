//! Billing (owners, and Stripe's webhook) and the member's Google
//! connection: what the organization connects to outside Konnecs.

use serde_json::{Value, json};

use super::super::super::{Operation, Schemas};
use crate::inbound::http::billing::{CheckoutBody, StripeReceipt, StripeUrl};
use crate::inbound::http::google::{ConnectBody, ConsentUrl, ContactsImportBody, Disconnection};
use crate::services::billing::account::BillingOverview;
use crate::services::google::ConnectionView;

pub(super) fn operation(name: &str, s: &mut Schemas) -> Option<Operation> {
    // Billing is owners' business, and absent (404) where Stripe is not configured.
    let billing = |operation: Operation| {
        operation
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
    };
    let operation = match name {
        "billing-get" => billing(Operation::new()).json::<BillingOverview>(
            s,
            200,
            "The plan in force, the subscription and how much of each limit is used.",
            overview_example(),
        ),
        "billing-checkout" => billing(Operation::new())
            .json_body::<CheckoutBody>(s, json!({"plan": "starter"}))
            .json::<StripeUrl>(
                s,
                201,
                "A Stripe Checkout session: send the owner's browser to `url`.",
                json!({"url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"}),
            )
            .problem(409, &["already_subscribed"]),
        "billing-portal" => billing(Operation::new())
            .json::<StripeUrl>(
                s,
                201,
                "A Stripe customer portal session: send the owner's browser to `url`.",
                json!({"url": "https://billing.stripe.com/p/session/test_a1b2c3"}),
            )
            .problem(409, &["no_subscription"]),
        "stripe-webhook" => Operation::new()
            .header(
                "Stripe-Signature",
                true,
                "Stripe's signature over the exact body (`t=...,v1=...`), checked against the endpoint secret.",
            )
            .raw_body(
                "application/json",
                json!({"type": "object", "description": "A Stripe event, read as Stripe signed it."}),
                json!({
                    "id": "evt_1Nq2b3C4d5E6f7G8",
                    "object": "event",
                    "type": "customer.subscription.updated",
                    "created": 1772445600,
                    "data": {"object": {"id": "sub_1Nq2b3C4d5E6f7G8", "object": "subscription", "status": "active", "customer": "cus_Q1w2E3r4T5y6"}},
                }),
            )
            .json::<StripeReceipt>(
                s,
                200,
                "The event is received: applied, a repeat of one already applied, or of a type billing ignores.",
                json!({"received": true, "outcome": "applied"}),
            )
            .problem(400, &["invalid_signature", "invalid_event"])
            .problem(404, &["not_found"]),
        "google-status" => Operation::new().json::<ConnectionView>(
            s,
            200,
            "The caller's own Google connection (`available` is false where Google is not configured).",
            json!({
                "state": "connected",
                "google_email": "sam@acme.example",
                "features": ["calendar", "gmail"],
                "connected_at": "2026-03-02T10:00:00Z",
                "broken_reason": null,
                "available": true,
            }),
        ),
        "google-connect" => Operation::new()
            .json_body::<ConnectBody>(s, json!({"features": ["calendar", "contacts"]}))
            .json::<ConsentUrl>(
                s,
                201,
                "Google's consent page for the features asked: send the member's browser to `url`; \
                 Google sends it back to the integrations page.",
                json!({"url": "https://accounts.google.com/o/oauth2/v2/auth?client_id=konnecs&state=a1b2c3"}),
            )
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "google-disconnect" => Operation::new()
            .json::<Disconnection>(
                s,
                200,
                "The connection and its tokens are gone; `revoked` says whether Google confirmed revoking the grant.",
                json!({"disconnected": true, "revoked": true}),
            )
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "google-contacts-import" => Operation::new()
            .json_body::<ContactsImportBody>(s, json!({"mode": "skip"}))
            .answer(
                202,
                "The import is started; its progress is at `GET /imports/{id}`.",
                "application/json",
                import_schema(),
                Some(import_example()),
            )
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(
                409,
                &[
                    "google_contacts_not_enabled",
                    "google_import_running",
                    "google_connection_broken",
                    "conflict",
                ],
            ),
        _ => return None,
    };
    Some(operation)
}

fn overview_example() -> Value {
    json!({
        "plan": "starter",
        "subscribed_plan": "starter",
        "status": "active",
        "current_period_end": "2026-04-02T10:00:00Z",
        "trial_end": null,
        "cancel_at_period_end": false,
        "last_invoice_status": "paid",
        "grace_until": null,
        "downgraded": false,
        "payment_failed": false,
        "limits": [
            {"limit": "contacts", "allowed": 5000, "used": 1210},
            {"limit": "members", "allowed": 5, "used": 3},
            {"limit": "sms_per_month", "allowed": 500, "used": null},
        ],
        "plans_offered": ["starter", "pro"],
        "checkout_allowed": false,
    })
}

/// The import as `GET /imports/{id}` shows it. Its handler builds the JSON
/// by hand (the imports area owns it), so the shape is told here.
fn import_schema() -> Value {
    let count = json!({"type": "integer", "minimum": 0});
    let text_or_null = json!({"type": ["string", "null"]});
    json!({
        "type": "object",
        "required": ["id", "source", "state", "mode", "created_at", "errors_url"],
        "properties": {
            "id": {"type": "string"},
            "source": {"enum": ["csv", "google_contacts"]},
            "google_pages_read": {"type": ["integer", "null"], "minimum": 0},
            "state": {"enum": ["uploading", "queued", "running", "done", "failed"]},
            "rows_done": count, "rows_total": count,
            "created": count, "updated": count, "skipped": count, "failed": count,
            "mode": {"enum": ["skip", "update"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "mapping": {"type": "array"},
            "parts": count,
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "finished_at": text_or_null,
            "error": text_or_null,
            "errors_url": {"type": "string"},
        },
    })
}

fn import_example() -> Value {
    json!({
        "id": "01937d3a4b5c7d6e8f9a0b1c2d3e4f5a",
        "source": "google_contacts",
        "google_pages_read": 0,
        "state": "queued",
        "rows_done": 0, "rows_total": 0,
        "created": 0, "updated": 0, "skipped": 0, "failed": 0,
        "mode": "skip",
        "tags": [],
        "mapping": [],
        "parts": 0,
        "created_at": "2026-03-02T10:00:00Z",
        "updated_at": "2026-03-02T10:00:00Z",
        "finished_at": null,
        "error": null,
        "errors_url": "/imports/01937d3a4b5c7d6e8f9a0b1c2d3e4f5a/errors.csv",
    })
}
