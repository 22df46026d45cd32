//! The request budgets of every route that anyone may call without a
//! session: public, webhook-signed and developer-only entries. Each such
//! entry is named here exactly once, with budgets the rate-limit layer
//! applies (`inbound::http::rate_limit`), or the reason its use case
//! applies its own, or why it is exempt; a test fails on a public entry this
//! list forgets, so a new route cannot ship unlimited.
//!
//! Budgets are per minute (failures per hour) and sized for people: a
//! visitor paging through a booking calendar, someone mistyping a password,
//! a test suite on one machine, never a script.

pub use crate::inbound::http::rate_limit::Limits;
use crate::services::rate_limit::{Failures, Target, Throttle};

/// The secret-taking routes' failure budget: a person mistyping or opening
/// an old link a few times, never enough to guess a 128-bit token.
const SECRET_FAILURES: Option<Failures> = Some(Failures {
    per_ip_per_hour: 30,
    per_target_per_hour: 10,
});

/// Pages the same for everyone (sign-in form, assets, health): per IP only.
const fn pages(family: &'static str, per_ip_per_minute: i64) -> Limits {
    Limits::Layer(Throttle {
        family,
        per_ip_per_minute,
        target: Target::None,
        per_target_per_minute: 0,
        failures: None,
    })
}

const SIGN_UP: Limits = Limits::Layer(Throttle {
    family: "sign-up",
    per_ip_per_minute: 20,
    target: Target::Body("email"),
    per_target_per_minute: 5,
    failures: None,
});

/// Wrong passwords also lock the account out (`services::throttle`); this
/// bounds the requests themselves.
const SIGN_IN: Limits = Limits::Layer(Throttle {
    family: "sign-in",
    per_ip_per_minute: 30,
    target: Target::Body("email"),
    per_target_per_minute: 10,
    failures: None,
});

/// Each request mails the address: its budget keeps anyone from mail-bombing it.
const PASSWORD_FORGOT: Limits = Limits::Layer(Throttle {
    family: "password-forgot",
    per_ip_per_minute: 10,
    target: Target::Body("email"),
    per_target_per_minute: 3,
    failures: None,
});

const fn secret_in_body(family: &'static str) -> Limits {
    Limits::Layer(Throttle {
        family,
        per_ip_per_minute: 20,
        target: Target::Body("token"),
        per_target_per_minute: 10,
        failures: SECRET_FAILURES,
    })
}

/// The invitee's manage link: the uid is in the path, its token in the
/// query or body; failures count per IP and per booking.
const MANAGE_BOOKING: Limits = Limits::Layer(Throttle {
    family: "manage-booking",
    per_ip_per_minute: 60,
    target: Target::Path(&["uid"]),
    per_target_per_minute: 30,
    failures: SECRET_FAILURES,
});

/// A booking page and its slots: read by every visitor of a page that may
/// be linked from anywhere, so its per-page budget is generous.
const BOOKING_READ: Limits = Limits::Layer(Throttle {
    family: "booking-read",
    per_ip_per_minute: 120,
    target: Target::Path(&["org_slug", "event_slug"]),
    per_target_per_minute: 1_200,
    failures: None,
});

/// Per page: a class opening its sign-ups can see a few hundred people
/// booking within a minute.
const BOOKING_CREATE: Limits = Limits::Layer(Throttle {
    family: "booking-create",
    per_ip_per_minute: 10,
    target: Target::Path(&["org_slug", "event_slug"]),
    per_target_per_minute: 600,
    failures: None,
});

const FORM_PAGE: Limits = Limits::Layer(Throttle {
    family: "form-page",
    per_ip_per_minute: 60,
    target: Target::Path(&["publicId"]),
    per_target_per_minute: 1_200,
    failures: None,
});

/// Google's redirect back: `state` names the pending sign-in.
const GOOGLE_CALLBACK: Limits = Limits::Layer(Throttle {
    family: "google-callback",
    per_ip_per_minute: 20,
    target: Target::Query("state"),
    per_target_per_minute: 5,
    failures: None,
});

/// Provider webhooks are verified (constant-time) before any work. Twilio
/// does not retry a refused status or inbound-text callback, and a reminder
/// batch sends thousands a minute from few addresses, so the per-IP budget
/// is the most one bucket key may take (`MAX_TARGET_PER_MINUTE`): it only
/// bounds unsigned floods.
const WEBHOOK: Limits = pages("webhook", 3_000);

/// Every route anyone may call, by catalogue entry name, with its limits.
pub const THROTTLES: &[(&str, Limits)] = &[
    ("health", pages("health", 60)),
    ("openapi", pages("openapi", 60)),
    ("api-docs", pages("api-docs", 60)),
    ("auth-signup", SIGN_UP),
    ("page-sign-up-submit", SIGN_UP),
    ("auth-login", SIGN_IN),
    ("page-sign-in-submit", SIGN_IN),
    ("auth-password-forgot", PASSWORD_FORGOT),
    ("page-forgot-password-submit", PASSWORD_FORGOT),
    ("auth-password-reset", secret_in_body("password-reset")),
    ("page-reset-password-submit", secret_in_body("password-reset")),
    ("auth-verify-email", secret_in_body("verify-email")),
    ("page-verify-email-submit", secret_in_body("verify-email")),
    ("invitations-accept", secret_in_body("invitation-accept")),
    ("page-accept-invitation-submit", secret_in_body("invitation-accept")),
    ("page-verify-email", pages("account-pages", 120)),
    ("page-reset-password", pages("account-pages", 120)),
    ("page-accept-invitation", pages("account-pages", 120)),
    ("page-forgot-password", pages("account-pages", 120)),
    ("page-sign-in", pages("account-pages", 120)),
    ("page-sign-up", pages("account-pages", 120)),
    ("page-root", pages("account-pages", 120)),
    ("page-sign-in-google", pages("google-sign-in", 20)),
    ("page-sign-in-google-callback", GOOGLE_CALLBACK),
    ("page-sign-in-google-finish", pages("google-sign-in", 20)),
    ("public-booking-event", BOOKING_READ),
    ("public-booking-slots", BOOKING_READ),
    ("page-book", BOOKING_READ),
    ("public-booking-create", BOOKING_CREATE),
    ("public-booking-show", MANAGE_BOOKING),
    ("public-booking-cancel", MANAGE_BOOKING),
    ("public-booking-reschedule", MANAGE_BOOKING),
    ("page-booking", MANAGE_BOOKING),
    ("page-form", FORM_PAGE),
    (
        "public-form-submit",
        Limits::InService(
            "its budgets are per IP and per form, and the form is known only once its public id is read \
             (services::forms::rate: 10 a minute per IP, 120 per form)",
        ),
    ),
    ("web-assets", pages("assets", 600)),
    ("stripe-webhook", WEBHOOK),
    ("twilio-sms", WEBHOOK),
    ("twilio-status", WEBHOOK),
    (
        "dev-outbox",
        Limits::Exempt("mounted only in developer mode, on a developer's own machine"),
    ),
    (
        "dev-outbox-json",
        Limits::Exempt("mounted only in developer mode, on a developer's own machine"),
    ),
    (
        "dev-outbox-message",
        Limits::Exempt("mounted only in developer mode, on a developer's own machine"),
    ),
];

/// The limits declared for the entry `name`.
pub fn limits(name: &str) -> Option<Limits> {
    THROTTLES
        .iter()
        .find(|(entry, _)| *entry == name)
        .map(|(_, limits)| *limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Auth, Runtime, entries};
    use crate::services::rate_limit::MAX_TARGET_PER_MINUTE;

    /// Routes a caller reaches without a session.
    fn open_routes() -> Vec<&'static str> {
        entries()
            .iter()
            .filter(|entry| entry.http().is_some() && matches!(entry.auth, Auth::Public | Auth::WebhookSigned))
            .map(|entry| entry.name)
            .collect()
    }

    #[test]
    fn every_route_without_a_session_declares_its_limits() {
        let missing: Vec<_> = open_routes()
            .into_iter()
            .filter(|name| limits(name).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "public routes with no limits declared in catalogue/throttles.rs: {missing:?}"
        );
    }

    #[test]
    fn every_declaration_names_a_route_without_a_session_once() {
        let open = open_routes();
        for (i, (name, _)) in THROTTLES.iter().enumerate() {
            assert!(open.contains(name), "{name} is declared but is not a public route");
            assert!(
                !THROTTLES[..i].iter().any(|(other, _)| other == name),
                "{name} is declared twice"
            );
        }
    }

    #[test]
    fn only_developer_routes_are_exempt_and_budgets_are_sane() {
        for (name, limits) in THROTTLES {
            let entry = entries().iter().find(|entry| entry.name == *name);
            match limits {
                Limits::Exempt(_) => assert_eq!(
                    entry.map(|entry| entry.runtime),
                    Some(Runtime::LocalDevelopment),
                    "{name} is exempt but deployed"
                ),
                Limits::InService(reason) => assert!(!reason.is_empty()),
                Limits::Layer(throttle) => {
                    assert!(throttle.per_ip_per_minute > 0, "{name}");
                    assert_eq!(
                        throttle.target == Target::None,
                        throttle.per_target_per_minute == 0,
                        "{name}: a target needs a budget and a budget a target"
                    );
                    assert!(throttle.per_target_per_minute <= MAX_TARGET_PER_MINUTE, "{name}");
                }
            }
        }
    }

    #[test]
    fn a_routes_path_has_the_parameters_its_target_names() {
        for entry in entries() {
            let (Some((_, path)), Some(Limits::Layer(throttle))) = (entry.http(), limits(entry.name)) else {
                continue;
            };
            if let Target::Path(names) = throttle.target {
                for name in names {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{}: {path} has no {{{name}}}",
                        entry.name
                    );
                }
            }
        }
    }
}
