//! The operations of the organization area's HTTP entries: the organization
//! itself, its members, invitations, audit log and deletion here; webhook
//! endpoints, billing and the Google connection, and the settings pages, in
//! the child modules.

mod integrations;
mod pages;
mod webhooks;

use serde_json::json;

use super::super::{Operation, Schemas};
use crate::inbound::http::invitations::{AcceptBody, AcceptedInvitation, InvitationsPage, InviteBody};
use crate::inbound::http::org::{AuditPage, MemberView, MembersPage, PageQuery, PatchMember, PatchOrg};
use crate::inbound::http::org_deletion::{DeletionAnswer, DeletionRequest};
use crate::services::orgs::{InvitationView, OrgView};

/// Ids as the API issues them (a UUIDv7 in hex), for the examples.
const USER_ID: &str = "01936f5e8a2b7c3d9e4f5a6b7c8d9e0f";
const ORG_ID: &str = "01936f5e7d1a7b2c8d3e4f5a6b7c8d9e";
const INVITATION_ID: &str = "01937a0c4e5f7a8b9c0d1e2f3a4b5c6d";

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let s = schemas;
    let operation = match name {
        "org-get" => Operation::new().json::<OrgView>(s, 200, "The caller's organization.", org_example()),
        "org-update" => Operation::new()
            .json_body::<PatchOrg>(
                s,
                json!({"name": "Acme Plumbing Ltd", "website": "https://acme.example", "time_zone": "Europe/London", "version": 3}),
            )
            .json::<OrgView>(s, 200, "The organization as changed.", org_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["slug_taken", "conflict"])
            .problem(412, &["stale_version"]),
        "org-deletion-get" => Operation::new()
            .json::<DeletionAnswer>(s, 200, "The pending deletion, or `null`.", json!({"deletion": null}))
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "org-deletion-request" => Operation::new()
            .json_body::<DeletionRequest>(
                s,
                json!({"confirm_name": "Acme Plumbing", "password": "correct horse battery staple"}),
            )
            .json::<DeletionAnswer>(
                s,
                202,
                "The deletion is scheduled (asking again answers the same one): every session of the \
                 organization ends except the owner's, who can still cancel it until `purge_after`.",
                json!({"deletion": deletion_example()}),
            )
            .problem(401, &["invalid_credentials"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["conflict"]),
        "org-deletion-cancel" => Operation::new()
            .empty(204, "The deletion is cancelled; the organization works again.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["purge_started", "conflict"])
            .answer_header(
                204,
                "X-Request-Id",
                "The request's id (every answer carries one), to quote when reporting a problem.",
                "01937b1d2e3f7a4b5c6d7e8f9a0b1c2e",
            ),
        "members-list" => Operation::new()
            .query::<PageQuery>(s)
            .json::<MembersPage>(
                s,
                200,
                "One page of members, by user id.",
                json!({"members": [member_example()], "cursor": null}),
            )
            .problem(400, &["invalid_cursor"])
            .problem(422, &["validation_failed"]),
        "members-update" => Operation::new()
            .path("userId", "The member's user id.", USER_ID)
            .json_body::<PatchMember>(s, json!({"role": "admin"}))
            .json::<MemberView>(s, 200, "The member with the new role.", member_example())
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["last_owner", "conflict"]),
        "members-remove" => Operation::new()
            .path("userId", "The member's user id.", USER_ID)
            .empty(204, "The member is removed and their sessions in the organization end.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["last_owner", "conflict"]),
        "invitations-create" => Operation::new()
            .json_body::<InviteBody>(s, json!({"email": "sam@acme.example", "role": "member"}))
            .json::<InvitationView>(
                s,
                201,
                "The invitation; its link is emailed to the invitee.",
                invitation_example(),
            )
            .problem(402, &["plan_limit"])
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"])
            .problem(409, &["already_member", "conflict"]),
        "invitations-list" => Operation::new()
            .query::<PageQuery>(s)
            .json::<InvitationsPage>(
                s,
                200,
                "One page of pending invitations.",
                json!({"invitations": [invitation_example()], "cursor": null}),
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(422, &["validation_failed"]),
        "invitations-revoke" => Operation::new()
            .path("invitationId", "The invitation's id.", INVITATION_ID)
            .empty(204, "The invitation is revoked; its link no longer works.")
            .problem(403, &["insufficient_role"])
            .problem(404, &["not_found"]),
        "invitations-accept" => Operation::new()
            .header(
                "X-CSRF-Token",
                false,
                "With the session cookie of a signed-in account whose email was invited: joins that \
                 account without a password.",
            )
            .json_body::<AcceptBody>(
                s,
                json!({"token": "inv_3q2-7wEk9sYh0bXo1VjK4mZtRcLpA5uN", "name": "Sam Taylor", "password": "correct horse battery staple"}),
            )
            .json::<AcceptedInvitation>(
                s,
                200,
                "Joined and signed in: the session cookie is set, and `csrf_token` goes in \
                 `X-CSRF-Token` on every call that changes something.",
                json!({"user_id": USER_ID, "org_id": ORG_ID, "csrf_token": "b3JnLWNzcmYtdG9rZW4tZXhhbXBsZQ"}),
            )
            .problem(400, &["invalid_token"])
            .problem(401, &["invalid_credentials"])
            .problem(409, &["already_member", "email_taken", "conflict"])
            .problem(429, &["rate_limited"]),
        "audit-list" => Operation::new()
            .query::<PageQuery>(s)
            .json::<AuditPage>(
                s,
                200,
                "One page of the audit log, newest first.",
                json!({"entries": [audit_example()], "cursor": null}),
            )
            .problem(400, &["invalid_cursor"])
            .problem(403, &["insufficient_role"])
            .problem(422, &["validation_failed"]),
        _ => return webhooks::operation(name, s)
            .or_else(|| integrations::operation(name, s))
            .or_else(|| pages::operation(name, s)),
    };
    Some(operation)
}

fn org_example() -> serde_json::Value {
    json!({
        "id": ORG_ID,
        "name": "Acme Plumbing",
        "website": "https://acme.example",
        "industry": "Plumbing",
        "time_zone": "Europe/London",
        "country": "GB",
        "slug": "acme-plumbing",
        "version": 3,
        "created_at": "2026-01-05T09:30:00Z",
    })
}

fn deletion_example() -> serde_json::Value {
    json!({
        "requested_at": "2026-03-02T10:00:00Z",
        "requested_by": USER_ID,
        "purge_after": "2026-03-16T10:00:00Z",
        "purged_by": "2026-04-01T10:00:00Z",
        "grace_days": 14,
    })
}

fn member_example() -> serde_json::Value {
    json!({
        "user_id": USER_ID,
        "name": "Sam Taylor",
        "email": "sam@acme.example",
        "role": "admin",
        "joined_at": "2026-01-05T09:30:00Z",
    })
}

fn invitation_example() -> serde_json::Value {
    json!({
        "id": INVITATION_ID,
        "email": "sam@acme.example",
        "role": "member",
        "invited_by": USER_ID,
        "created_at": "2026-03-02T10:00:00Z",
        "expires_at": "2026-03-09T10:00:00Z",
    })
}

fn audit_example() -> serde_json::Value {
    json!({
        "id": "01937b1d2e3f7a4b5c6d7e8f9a0b1c2d",
        "at": "2026-03-02T10:00:00Z",
        "actor_user_id": USER_ID,
        "action": "member.role_changed",
        "target": format!("user:{USER_ID}"),
        "detail": {"from": "member", "to": "admin"},
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "request_id": "01937b1d2e3f7a4b5c6d7e8f9a0b1c2e",
    })
}
