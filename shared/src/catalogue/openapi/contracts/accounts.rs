//! The operations of the accounts area's HTTP entries: the JSON `/auth/*`
//! and `/me` routes, and the browser's sign-in, sign-up, email-link and
//! profile pages (in [`pages`]).

mod pages;

use serde_json::{Value, json};

use super::super::{Operation, Schemas};
use crate::inbound::http::auth::{CsrfToken, ForgotBody, LoginBody, ResetBody, SessionStarted, SignupBody, TokenBody};
use crate::inbound::http::me::{MeBody, PatchMe};
use crate::services::photos::SavedPhoto;

/// What a cleared session cookie looks like in `Set-Cookie`.
const CLEARED_COOKIE: &str = "__Host-konnecs_session=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0";

/// Every answer names its request, for quoting in a report.
const REQUEST_ID: &str = "The request's id, as the logs record it.";
const REQUEST_ID_EXAMPLE: &str = "01JBQ7Y4D2K8M3N5P6Q7R8S9T0";

/// The image types a photo is accepted and served as.
const PHOTO_TYPES: [&str; 3] = ["image/png", "image/jpeg", "image/webp"];

pub(in crate::catalogue::openapi) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "auth-signup" => Operation::new()
            .json_body::<SignupBody>(
                schemas,
                json!({"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery", "business_name": "Lovelace Tutoring", "website": "https://lovelace.example", "industry": "education"}),
            )
            .json::<SessionStarted>(
                schemas,
                201,
                "The account and its organization exist; the session cookies are set.",
                session_example(),
            )
            .problem(409, &["email_taken"]),
        "auth-login" => Operation::new()
            .json_body::<LoginBody>(
                schemas,
                json!({"email": "ada@example.com", "password": "correct horse battery"}),
            )
            .json::<SessionStarted>(schemas, 200, "Signed in; the session cookies are set.", session_example())
            // Too many wrong passwords lock the address and the IP for a while.
            .problem(401, &["invalid_credentials"])
            .problem(429, &["rate_limited"]),
        "auth-logout" => Operation::new()
            .empty(204, "This session is over; its cookies are cleared.")
            .answer_header(204, "Set-Cookie", "The session cookies, cleared.", CLEARED_COOKIE),
        "auth-logout-all" => Operation::new()
            .empty(204, "Every session of this user is over; the cookies are cleared.")
            .answer_header(204, "Set-Cookie", "The session cookies, cleared.", CLEARED_COOKIE),
        "auth-csrf" => Operation::new().json::<CsrfToken>(
            schemas,
            200,
            "The session's CSRF token.",
            json!({"csrf_token": "3q2-7w8JxV0b1kHf4yZ9cA"}),
        ),
        "auth-verify-email" => Operation::new()
            .json_body::<TokenBody>(schemas, json!({"token": "kq3X0v9w2Zr8bL5mN1pQ7sT4"}))
            .empty(204, "The address is confirmed.")
            .problem(400, &["invalid_token"])
            // Confirming a changed address another account took meanwhile.
            .problem(409, &["email_taken"]),
        "auth-verify-email-resend" => Operation::new()
            .empty(202, "A new link is on its way (nothing is sent when the address is confirmed already).")
            .answer_header(202, "X-Request-Id", REQUEST_ID, REQUEST_ID_EXAMPLE)
            .problem(404, &["not_found"]),
        "auth-password-forgot" => Operation::new()
            .json_body::<ForgotBody>(schemas, json!({"email": "ada@example.com"}))
            .empty(
                202,
                "If the address has an account, a link to choose a new password is on its way; the answer is the same either way.",
            ),
        "auth-password-reset" => Operation::new()
            .json_body::<ResetBody>(
                schemas,
                json!({"token": "kq3X0v9w2Zr8bL5mN1pQ7sT4", "password": "a new long passphrase"}),
            )
            .empty(204, "The password is changed and every session of the account is over.")
            .problem(400, &["invalid_token"]),
        "me-get" => Operation::new().json::<MeBody>(schemas, 200, "The signed-in user.", me_example()),
        "me-update" => Operation::new()
            .json_body::<PatchMe>(
                schemas,
                json!({"name": "Ada King", "time_zone": "Europe/London"}),
            )
            .json::<MeBody>(schemas, 200, "The user as changed.", me_example())
            .problem(409, &["email_taken", "conflict"])
            .problem(404, &["not_found"]),
        "me-photo-put" => photo_put(schemas),
        "me-photo-get" => photo_get(),
        "me-photo-delete" => Operation::new()
            .empty(204, "The photo is gone (or there was none).")
            .answer_header(204, "X-Request-Id", REQUEST_ID, REQUEST_ID_EXAMPLE),
        _ => return pages::operation(name, schemas),
    };
    Some(operation)
}

fn session_example() -> Value {
    json!({"user_id": "01JBQ6ZK3V9Y8W7T5R4P2N1M0A", "org_id": "01JBQ6ZK3W0A1B2C3D4E5F6G7H", "csrf_token": "3q2-7w8JxV0b1kHf4yZ9cA"})
}

fn me_example() -> Value {
    json!({
        "id": "01JBQ6ZK3V9Y8W7T5R4P2N1M0A",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "email_verified": true,
        "pending_email": null,
        "has_photo": false,
        "org_id": "01JBQ6ZK3W0A1B2C3D4E5F6G7H",
        "role": "owner",
        "time_zone": "Europe/London",
        "csrf_token": "3q2-7w8JxV0b1kHf4yZ9cA"
    })
}

/// The same schema under every image type a photo may have.
fn image_content() -> Value {
    let mut content = serde_json::Map::new();
    for media_type in PHOTO_TYPES {
        let media = json!({"schema": {"type": "string", "contentMediaType": media_type}});
        content.insert(media_type.into(), media);
    }
    Value::Object(content)
}

fn photo_put(schemas: &mut Schemas) -> Operation {
    let mut operation = Operation::new()
        .json::<SavedPhoto>(
            schemas,
            200,
            "The photo is stored; it replaces the previous one.",
            json!({"content_type": "image/png", "size": 48213}),
        )
        .problem(400, &["unreadable_body"])
        .problem(413, &["payload_too_large"])
        // Empty, not an accepted image, or not the type `Content-Type` says.
        .problem(422, &["validation_failed"]);
    operation.request_body = Some(json!({
        "required": true,
        "description": "The image itself (PNG, JPEG or WebP, at most 1 MiB), its type in Content-Type.",
        "content": image_content(),
    }));
    operation
}

fn photo_get() -> Operation {
    let mut operation = Operation::new()
        .empty(200, "The photo, as stored; never cached.")
        .problem(404, &["not_found"]);
    if let Some(response) = operation.responses.get_mut(&200) {
        response["content"] = image_content();
    }
    // The body is binary, which no JSON or YAML example can carry: the
    // example is the type the answer names.
    operation.answer_header(200, "Content-Type", "The stored image's type.", "image/png")
}
