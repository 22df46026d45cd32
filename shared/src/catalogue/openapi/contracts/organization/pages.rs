//! The organization's settings pages: general settings, team and audit log,
//! billing, deletion, integrations, webhooks and text messages. The form
//! posts' handlers read untyped pairs (`FormData`), so each body below lists
//! the fields its page handler reads.

use serde_json::{Value, json};

use super::super::super::{Operation, Schemas};
use crate::inbound::http::web::contacts::NoticeQuery;
use crate::inbound::http::web::integrations::CallbackQuery;
use crate::inbound::http::web::team::AuditQuery;

const FORM: &str = "application/x-www-form-urlencoded";

/// A form body whose fields are all text, `required` naming those the
/// handler cannot do without.
fn form(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// A field sent once per ticked box (`events=a&events=b`).
fn repeated(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// What every form post of a signed-in member can also answer, from the
/// form extractor in front of its handler: no session goes to the sign-in
/// page, and a body that is not a form (or is too large) is refused.
fn posted(mut operation: Operation) -> Operation {
    operation
        .responses
        .entry(303)
        .or_insert_with(|| json!({"description": "Not signed in: to the sign-in page."}));
    operation
        .problem(413, &["payload_too_large"])
        .problem(415, &["unsupported_media_type"])
}

pub(super) fn operation(name: &str, s: &mut Schemas) -> Option<Operation> {
    let page = |s: &mut Schemas| Operation::new().query::<NoticeQuery>(s);
    let operation = match name {
        "page-settings" => page(s)
            .html(200, "The organization's settings form and its members.", "<h1>Settings</h1>")
            .problem(403, &["insufficient_role"]),
        "page-settings-save" => Operation::new()
            .body(
                FORM,
                form(
                    json!({
                        "name": text(), "website": text(), "industry": text(), "time_zone": text(),
                        "country": text(), "slug": text(),
                        "version": {"type": "string", "description": "The version the form was read at."},
                    }),
                    &["name", "time_zone", "country", "slug"],
                ),
                json!({"name": "Acme Plumbing", "website": "https://acme.example", "industry": "Plumbing", "time_zone": "Europe/London", "country": "GB", "slug": "acme-plumbing", "version": "3"}),
            )
            .redirect_to(303, "Saved: back to the settings.", "/app/settings?notice=settings-saved")
            .html(422, "The form again, with what to fix.", "<p class=\"field-error\">")
            .html(409, "The form again: the public address is taken, or the settings changed meanwhile.", "<p class=\"field-error\">")
            .html(412, "The form again: someone saved the settings since this form was read.", "<form")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-team" => page(s)
            .html(200, "Members, their roles and pending invitations.", "<h1>Team</h1>")
            .problem(403, &["insufficient_role"]),
        "page-invite" => Operation::new()
            .body(
                FORM,
                form(json!({"email": text(), "role": one_of(&["member", "admin", "owner"])}), &["email", "role"]),
                json!({"email": "sam@acme.example", "role": "member"}),
            )
            .redirect_to(303, "Invited: back to the team page.", "/app/settings/team?notice=invited")
            .html(422, "The team page again, with what to fix.", "<p class=\"field-error\">")
            .html(409, "The team page again: the person is a member already.", "<p class=\"field-error\">")
            .problem(402, &["plan_limit"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-invitation-revoke" => Operation::new()
            .path("id", "The invitation's id.", "01937a0c4e5f7a8b9c0d1e2f3a4b5c6d")
            .redirect(303, "Revoked: back to the team page.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-member" => Operation::new()
            .path("user_id", "The member's user id.", "01936f5e8a2b7c3d9e4f5a6b7c8d9e0f")
            .body(
                FORM,
                form(
                    json!({"action": one_of(&["role", "remove"]), "role": one_of(&["member", "admin", "owner"])}),
                    &["action"],
                ),
                json!({"action": "role", "role": "admin"}),
            )
            .redirect(303, "Changed or removed: back to the team page.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["last_owner", "conflict"])
            .problem(422, &["validation_failed"]),
        "page-audit" => Operation::new()
            .query::<AuditQuery>(s)
            .html(200, "The newest audit entries, filtered by actor, action and day.", "<h1>Audit log</h1>")
            .problem(403, &["insufficient_role"])
            .problem(422, &["validation_failed"]),
        "page-billing" => Operation::new()
            .html(200, "The plan, the subscription and the limits' use.", "<h1>Billing</h1>")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-billing-action" => Operation::new()
            .body(
                FORM,
                form(
                    json!({"action": one_of(&["checkout", "portal"]), "plan": one_of(&["starter", "pro"])}),
                    &["action"],
                ),
                json!({"action": "checkout", "plan": "starter"}),
            )
            .html(200, "A page that sends the browser on to Stripe.", "<a href=\"https://checkout.stripe.com/")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["already_subscribed", "no_subscription"])
            .problem(422, &["validation_failed"])
            .problem(503, &["unavailable"]),
        "page-org-deletion" => page(s)
            .html(200, "What deleting the organization does, and the pending deletion if any.", "<h1>Delete organization</h1>")
            .problem(403, &["insufficient_role"]),
        "page-org-deletion-action" => Operation::new()
            .body(
                FORM,
                form(
                    json!({
                        "action": {"type": "string", "description": "`cancel` cancels the pending deletion; anything else asks for one."},
                        "confirm_name": text(),
                        "password": text(),
                    }),
                    &[],
                ),
                json!({"confirm_name": "Acme Plumbing", "password": "correct horse battery staple"}),
            )
            .redirect_to(303, "Asked or cancelled: to the page that says so.", "/app/settings/deletion?notice=org-deletion-requested")
            .html(422, "The page again, with what to fix.", "<p class=\"field-error\">")
            .problem(401, &["invalid_credentials"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["purge_started", "conflict"])
            .problem(503, &["unavailable"]),
        "page-integrations" => page(s).html(
            200,
            "The member's Google connection, its features and calendars.",
            "<h1>Integrations</h1>",
        ),
        "page-integrations-action" => Operation::new()
            .body(
                FORM,
                form(
                    json!({
                        "action": one_of(&["connect", "calendars", "import_contacts", "disconnect"]),
                        "features": repeated(one_of(&["calendar", "gmail", "contacts"])),
                        "busy": repeated(text()),
                        "write": text(),
                        "mode": one_of(&["skip", "update"]),
                    }),
                    &["action"],
                ),
                json!({"action": "connect", "features": ["calendar"]}),
            )
            .html(200, "A page that sends the browser on to Google's consent page.", "<a href=\"https://accounts.google.com/")
            .redirect_to(303, "Saved, disconnected, or the import started: to the page that shows it.", "/app/settings/integrations?notice=google-disconnected")
            .html(409, "The integrations page again: the contacts feature is not granted.", "<p class=\"error\">")
            .html(422, "The integrations page again, with what to fix.", "<p class=\"error\">")
            .problem(404, &["not_found"])
            .problem(409, &["google_connection_broken", "conflict"])
            .problem(422, &["validation_failed"])
            .problem(503, &["unavailable"]),
        "google-callback" => Operation::new()
            .query::<CallbackQuery>(s)
            .redirect_to(
                303,
                "Connected, or declined at Google: back to the integrations page, which says so.",
                "/app/settings/integrations?notice=google-connected",
            )
            .problem(400, &["invalid_state"])
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        "page-webhooks" => page(s)
            .html(200, "The webhook endpoints and the form to add one.", "<h1>Webhooks</h1>")
            .problem(403, &["insufficient_role"]),
        "page-webhooks-create" => Operation::new()
            .body(FORM, endpoint_form(), json!({"url": "https://hooks.acme.example/konnecs", "events": ["booking.created"], "description": "Sync to the office system"}))
            .html(201, "The new endpoint's page, showing its signing secret this once.", "<code>whsec_")
            .html(422, "The list again, with what to fix.", "<p class=\"field-error\">")
            .problem(403, &["insufficient_role"])
            .problem(409, &["too_many_webhook_endpoints"]),
        "page-webhook" => page(s)
            .path("id", "The webhook endpoint's id.", "01937c2e3f4a7b5c6d7e8f9a0b1c2d3e")
            .html(200, "The endpoint's settings and its delivery log.", "<h1>Webhook endpoint</h1>")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "page-webhook-action" => {
            let mut fields = endpoint_form();
            fields["properties"]["action"] = one_of(&["save", "rotate", "delete", "redeliver"]);
            fields["properties"]["delivery_id"] = text();
            fields["required"] = json!(["action"]);
            Operation::new()
                .path("id", "The webhook endpoint's id.", "01937c2e3f4a7b5c6d7e8f9a0b1c2d3e")
                .body(FORM, fields, json!({"action": "rotate"}))
                .html(200, "The endpoint's page, showing its new signing secret this once.", "<code>whsec_")
                .redirect(303, "Saved, deleted or queued again: to the page that says so.")
                .html(422, "The endpoint's page again, with what to fix.", "<p class=\"field-error\">")
                .problem(403, &["insufficient_role"])
                .problem(404, &["not_found"])
                .problem(409, &["conflict"])
                .problem(422, &["validation_failed"])
        }
        "page-sms-settings" => page(s)
            .html(200, "Quiet hours and the HELP reply for text messages.", "<h1>Text messages</h1>")
            .problem(403, &["insufficient_role"]),
        "page-sms-settings-save" => Operation::new()
            .body(
                FORM,
                form(
                    json!({
                        "quiet_start": {"type": "string", "description": "`HH:MM`, local time."},
                        "quiet_end": {"type": "string", "description": "`HH:MM`, local time."},
                        "help_text": text(),
                    }),
                    &["quiet_start", "quiet_end"],
                ),
                json!({"quiet_start": "21:00", "quiet_end": "08:00", "help_text": "Call us on 020 7946 0000."}),
            )
            .redirect_to(303, "Saved: back to the settings.", "/app/settings/sms?notice=sms-settings-saved")
            .html(422, "The form again, with what to fix.", "<p class=\"field-error\">")
            .problem(403, &["insufficient_role"]),
        _ => return None,
    };
    let is_post = matches!(
        name,
        "page-settings-save"
            | "page-invite"
            | "page-invitation-revoke"
            | "page-member"
            | "page-billing-action"
            | "page-org-deletion-action"
            | "page-integrations-action"
            | "page-webhooks-create"
            | "page-webhook-action"
            | "page-sms-settings-save"
    );
    Some(if is_post { posted(operation) } else { operation })
}

/// The endpoint fields the webhook pages read; `enabled` is a checkbox
/// (`on` when ticked) read only when an endpoint is saved.
fn endpoint_form() -> Value {
    form(
        json!({
            "url": text(),
            "events": repeated(one_of(&["form.submitted", "booking.created", "booking.rescheduled", "booking.cancelled", "contact.created"])),
            "description": text(),
            "enabled": text(),
        }),
        &["url"],
    )
}
