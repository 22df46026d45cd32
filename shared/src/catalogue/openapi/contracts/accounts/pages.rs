//! The accounts area's pages: sign-in and sign-up (with Google too), the
//! pages an email link opens, and the profile. Their forms are read as
//! untyped pairs (`FormData`), so each body lists the fields its handler
//! reads; a refused form comes back as its page with the field errors, at
//! the status the JSON API would answer.

use serde_json::{Value, json};

use super::super::super::{Operation, Schemas};
use crate::inbound::http::web::account::LinkQuery;
use crate::inbound::http::web::auth::SignInQuery;
use crate::inbound::http::web::contacts::NoticeQuery;
use crate::inbound::http::web::google_sign_in::CallbackQuery;

const FORM: &str = "application/x-www-form-urlencoded";

pub(super) fn operation(name: &str, schemas: &mut Schemas) -> Option<Operation> {
    let operation = match name {
        "page-sign-in" => page_query::<SignInQuery>(schemas)
            .html(200, "The sign-in form.", "<form method=\"post\" action=\"/sign-in\">"),
        "page-sign-up" => Operation::new().html(
            200,
            "The sign-up form.",
            "<form method=\"post\" action=\"/sign-up\">",
        ),
        "page-forgot-password" => page_query::<LinkQuery>(schemas).html(
            200,
            "The form asking for the account's email address.",
            "<h1>Forgot your password?</h1>",
        ),
        "page-verify-email" => page_query::<LinkQuery>(schemas).html(
            200,
            "The button confirming the address (a click, so a mail scanner confirms nothing).",
            "<h1>Confirm your email</h1>",
        ),
        "page-reset-password" => page_query::<LinkQuery>(schemas).html(
            200,
            "The form choosing a new password.",
            "<h1>Choose a new password</h1>",
        ),
        "page-accept-invitation" => page_query::<LinkQuery>(schemas).html(
            200,
            "The form joining the team.",
            "<h1>Join your team on Konnecs</h1>",
        ),
        "page-sign-in-submit" => public_form(
            fields(
                json!({
                    "email": {"type": "string"},
                    "password": {"type": "string"},
                    "next": {"type": "string", "description": "An app page to open once signed in (`/app…` only)."},
                }),
                &["email", "password"],
            ),
            json!({"email": "ada@example.com", "password": "correct horse battery", "next": "/app/contacts"}),
        )
        .redirect(303, "Signed in: to `next` or the app, with the session cookies.")
        .problem(401, &["invalid_credentials"])
        .problem(429, &["rate_limited"]),
        "page-sign-up-submit" => public_form(
            fields(
                json!({
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                    "password": {"type": "string"},
                    "business_name": {"type": "string"},
                }),
                &["name", "email", "password", "business_name"],
            ),
            json!({"name": "Ada Lovelace", "email": "ada@example.com", "password": "correct horse battery", "business_name": "Lovelace Tutoring"}),
        )
        .redirect(303, "Signed up and in: to the app, with the session cookies.")
        .problem(409, &["email_taken"])
        .problem(422, &["validation_failed"]),
        "page-verify-email-submit" => public_form(
            fields(json!({"token": {"type": "string"}}), &["token"]),
            json!({"token": "kq3X0v9w2Zr8bL5mN1pQ7sT4"}),
        )
        .redirect(303, "Confirmed: to the page saying so.")
        .problem(400, &["invalid_token"])
        .problem(409, &["email_taken"]),
        "page-forgot-password-submit" => public_form(
            fields(json!({"email": {"type": "string"}}), &["email"]),
            json!({"email": "ada@example.com"}),
        )
        .redirect(
            303,
            "To the form saying a link is on its way, whether or not the address has an account.",
        )
        .problem(422, &["validation_failed"]),
        "page-reset-password-submit" => public_form(
            fields(
                json!({"token": {"type": "string"}, "password": {"type": "string"}}),
                &["token", "password"],
            ),
            json!({"token": "kq3X0v9w2Zr8bL5mN1pQ7sT4", "password": "a new long passphrase"}),
        )
        .redirect(303, "Changed: to the sign-in page (every session of the account is over).")
        .problem(400, &["invalid_token"])
        .problem(422, &["validation_failed"]),
        "page-accept-invitation-submit" => public_form(
            fields(
                json!({
                    "token": {"type": "string"},
                    "name": {"type": "string", "description": "A new account's name."},
                    "password": {"type": "string", "description": "A new account's password, or the existing account's."},
                }),
                &["token"],
            ),
            json!({"token": "kq3X0v9w2Zr8bL5mN1pQ7sT4", "name": "Grace Hopper", "password": "correct horse battery"}),
        )
        .redirect(303, "Joined and signed in: to the app, with the session cookies.")
        .problem(400, &["invalid_token"])
        .problem(401, &["invalid_credentials"])
        .problem(409, &["already_member", "email_taken", "conflict"])
        .problem(422, &["validation_failed"])
        .problem(429, &["rate_limited"]),
        "page-sign-in-google" => Operation::new()
            .redirect_to(
                303,
                "On to Google's sign-in page (the browser's CSRF cookie binds the sign-in to it).",
                "https://accounts.google.com/o/oauth2/v2/auth?client_id=…&state=…",
            )
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        "page-sign-in-google-callback" => page_query::<CallbackQuery>(schemas)
            .html(
                200,
                "A new Google identity: the form asking for the business's name.",
                "<h1>Create your account</h1>",
            )
            .redirect(303, "Signed in: to the app (or, declined at Google, back to the sign-in page).")
            .problem(400, &["invalid_state", "invalid_id_token", "email_not_verified"])
            // A known identity whose account belongs to no organization.
            .problem(401, &["invalid_credentials"])
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        "page-sign-in-google-finish" => public_form(
            fields(
                json!({
                    "token": {"type": "string", "description": "The pending sign-up the callback handed to the form."},
                    "name": {"type": "string"},
                    "business_name": {"type": "string"},
                }),
                &["token", "business_name"],
            ),
            json!({"token": "kq3X0v9w2Zr8bL5mN1pQ7sT4", "name": "Ada Lovelace", "business_name": "Lovelace Tutoring"}),
        )
        .redirect(303, "Signed up and in: to the app, with the session cookies.")
        .problem(400, &["invalid_state"])
        .problem(404, &["not_found"])
        .problem(409, &["email_taken"])
        .problem(422, &["validation_failed"]),
        "page-sign-out" => staff_form(fields(json!({}), &[]), json!({"_csrf": "3q2-7w8JxV0b1kHf4yZ9cA"}))
            .redirect(303, "Signed out: to the sign-in page, the cookies cleared."),
        "page-sign-out-everywhere" => staff_form(fields(json!({}), &[]), json!({"_csrf": "3q2-7w8JxV0b1kHf4yZ9cA"}))
            .redirect(303, "Every session is over: to the sign-in page, the cookies cleared."),
        "page-profile" => page_query::<NoticeQuery>(schemas)
            .html(200, "The profile: name, email, password, time zone, photo.", "<h1>Profile</h1>")
            .problem(404, &["not_found"])
            .problem(503, &["unavailable"]),
        "page-profile-save" => staff_form(
            fields(
                json!({
                    "form": {"type": "string", "description": "`time_zone` saves only the time zone."},
                    "name": {"type": "string"},
                    "email": {"type": "string"},
                    "time_zone": {"type": "string"},
                    "current_password": {"type": "string", "description": "Needed to change the email or the password."},
                    "new_password": {"type": "string", "description": "When given, only the password changes."},
                }),
                &[],
            ),
            json!({"_csrf": "3q2-7w8JxV0b1kHf4yZ9cA", "name": "Ada King", "email": "ada@example.com"}),
        )
        .redirect(303, "Saved: back to the profile, saying what was saved.")
        .problem(404, &["not_found"])
        .problem(409, &["email_taken", "conflict"])
        .problem(422, &["validation_failed"]),
        "page-profile-photo" => photo_form(),
        _ => return None,
    };
    Some(operation)
}

/// A page reading its query with axum's own extractor, whose refusal (a
/// field given twice, say) is a bare 400.
fn page_query<T: schemars::JsonSchema>(schemas: &mut Schemas) -> Operation {
    Operation::new().query::<T>(schemas).problem(400, &["bad_request"])
}

/// A form's fields, each a string (the handlers read the first value of each).
fn fields(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

/// A form posted before there is a session: refused from another site, or
/// sent as anything but a form, or too large.
fn public_form(schema: Value, example: Value) -> Operation {
    Operation::new()
        .body(FORM, schema, example)
        .html(
            403,
            "Posted from another site (`Sec-Fetch-Site` or `Origin`): refused.",
            "<h1>This form has expired</h1>",
        )
        .problem(413, &["payload_too_large"])
        .problem(415, &["unsupported_media_type"])
        .problem(503, &["unavailable"])
}

/// A form posted by a signed-in member, with the CSRF token in `_csrf`
/// (or the `X-CSRF-Token` header).
fn staff_form(mut schema: Value, example: Value) -> Operation {
    schema["properties"]["_csrf"] = json!({"type": "string", "description": "The session's CSRF token."});
    Operation::new()
        .body(FORM, schema, example)
        .redirect(303, "Not signed in: to the sign-in page.")
        .problem(413, &["payload_too_large"])
        .problem(415, &["unsupported_media_type"])
        .problem(503, &["unavailable"])
}

fn photo_form() -> Operation {
    let schema = json!({
        "type": "object",
        "properties": {
            "_csrf": {"type": "string", "description": "The session's CSRF token."},
            "action": {"type": "string", "description": "`remove` removes the photo; anything else stores `photo`."},
            "photo": {"type": "string", "contentMediaType": "application/octet-stream", "description": "A PNG, JPEG or WebP image of at most 1 MiB."},
        },
    });
    Operation::new()
        .body(
            "multipart/form-data",
            schema,
            json!({"_csrf": "3q2-7w8JxV0b1kHf4yZ9cA", "action": "remove"}),
        )
        .redirect(303, "Stored or removed: back to the profile, saying which.")
        .problem(404, &["not_found"])
        .problem(413, &["payload_too_large"])
        .problem(415, &["unsupported_media_type"])
        .problem(422, &["validation_failed"])
        .problem(503, &["unavailable"])
}
