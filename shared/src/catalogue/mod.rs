//! The route catalogue: every HTTP route, webhook, schedule and queue consumer
//! Konnecs has, in one list.
//!
//! - The local server mounts every entry (`local::serve`), the developer
//!   outbox only in developer mode (`run_mode`).
//! - `template.yaml` and the nested stacks in `infra/stacks/` (one per
//!   [`Area`]) declare exactly one Lambda per entry whose runtime includes
//!   AWS, with IAM built from `access` and nothing more; they are generated
//!   from this list (`cargo run --bin konnecs-template`) and
//!   `tests/template_drift.rs` fails on drift in either direction.
//! - `functions/src/bin/<name>.rs` is the Lambda main of each entry.
//! - `/openapi.json` describes every HTTP entry (`openapi`).

pub mod openapi;
pub mod throttles;

pub use crate::ports::QueueName;

use crate::inbound::events::{Consumer, Tick};
use axum::routing::{MethodFilter, MethodRouter};

use crate::inbound::AppState;
use crate::inbound::http::{HttpRoute, RouteFn};
use crate::ports::secrets::Integration;

/// Who may call an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Anyone; the handler validates what it is given.
    Public,
    /// A signed-in member (session cookie + CSRF token on writes).
    Session,
    /// A provider webhook whose signature the handler verifies.
    WebhookSigned,
    /// Invoked by AWS itself (EventBridge, SQS) or the local runtime.
    Internal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// The router's filter for this method.
    pub fn filter(self) -> MethodFilter {
        match self {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Patch => MethodFilter::PATCH,
            Method::Delete => MethodFilter::DELETE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// What an entry reaches in the store, queues and key vault. The template's
/// IAM policy for the function is derived from exactly this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// GetItem, BatchGetItem, Query (table and its indexes).
    TableRead,
    /// PutItem, UpdateItem, DeleteItem, BatchWriteItem, ConditionCheckItem.
    TableWrite,
    /// SendMessage.
    QueueSend(QueueName),
    /// GetQueueAttributes only (health probes).
    QueueInspect(QueueName),
    /// Receive/Delete/ChangeVisibility/GetQueueAttributes (event source mapping).
    QueueConsume(QueueName),
    /// GenerateDataKey on the OAuth-token key.
    TokenKeyEncrypt,
    /// Decrypt on the OAuth-token key.
    TokenKeyDecrypt,
    /// DescribeKey on the OAuth-token key (health probes).
    TokenKeyDescribe,
    /// GetObject in the objects bucket (photos, import files).
    ObjectRead,
    /// PutObject and DeleteObject in the objects bucket.
    ObjectWrite,
    /// GetObject under `exports/`: reading staged rows, and signing the
    /// presigned links of finished exports (a link grants what its signer may).
    ExportRead,
    /// PutObject, DeleteObject and AbortMultipartUpload under `exports/`:
    /// writing export files in parts.
    ExportWrite,
    /// GetSecretValue on the integration's secret, read once per cold start
    /// (`lambda::run`); a function reads no secret it does not declare.
    Secret(Integration),
}

/// The feature area an entry belongs to. Each area is deployed as its own
/// nested stack (`infra/stacks/<area>.yaml`), so the number of functions
/// never pushes one CloudFormation stack past its resource limit; a new
/// variant gets its stack from the template generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// Health, the API description, the background jobs worker.
    Platform,
    /// Sign-up, sign-in, sessions, the user's profile and account pages.
    Accounts,
    /// The organization, its members, invitations and audit log.
    Organization,
    /// Contacts, notes, tags and custom fields.
    Contacts,
    /// Pipelines and deals.
    Deals,
    /// Imports and exports of contacts.
    Transfers,
    /// Schedules, event types, appointments and their reminders.
    Scheduling,
    /// The public booking pages and API.
    Booking,
    /// Embedded forms: their definitions, hosted pages, submit and submissions.
    Forms,
}

impl Area {
    pub const ALL: [Area; 9] = [
        Area::Platform,
        Area::Accounts,
        Area::Organization,
        Area::Contacts,
        Area::Deals,
        Area::Transfers,
        Area::Scheduling,
        Area::Booking,
        Area::Forms,
    ];

    /// Stem of the area's stack file and logical ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Platform => "platform",
            Area::Accounts => "accounts",
            Area::Organization => "organization",
            Area::Contacts => "contacts",
            Area::Deals => "deals",
            Area::Transfers => "transfers",
            Area::Scheduling => "scheduling",
            Area::Booking => "booking",
            Area::Forms => "forms",
        }
    }
}

#[derive(Clone, Copy)]
pub enum Trigger {
    Http {
        method: Method,
        path: &'static str,
        route: RouteFn,
    },
    /// `every` is an EventBridge rate expression, e.g. `rate(1 minute)`;
    /// the local runtime runs the same tick on a tokio interval.
    Schedule {
        every: &'static str,
        tick: Tick,
    },
    Queue {
        queue: QueueName,
        consumer: Consumer,
    },
}

/// Where an entry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// A Lambda in AWS and mounted in the local server.
    Both,
    /// Only in the local server: work AWS does natively (e.g. DynamoDB TTL).
    LocalOnly,
    /// Only in the local server in developer mode (`run_mode`): the outbox,
    /// which would hand password-reset links to anyone who can reach it.
    LocalDevelopment,
}

#[derive(Clone, Copy)]
pub struct Entry {
    /// Lambda function name (kebab-case), binary name in `functions/src/bin/`.
    pub name: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub trigger: Trigger,
    pub access: &'static [Access],
    pub runtime: Runtime,
    /// The nested stack the entry's Lambda is deployed in.
    pub area: Area,
}

/// What calling Gmail as a member needs: the connection and what is
/// recorded, the sealed tokens opened and sealed again after a refresh,
/// the email to the member if the connection breaks, Google's client.
const GMAIL_SEND_ACCESS: [Access; 6] = [
    Access::TableRead,
    Access::TableWrite,
    Access::QueueSend(QueueName::Jobs),
    Access::TokenKeyEncrypt,
    Access::TokenKeyDecrypt,
    Access::Secret(Integration::Google),
];

/// What every POST route needs on top of its own access: the
/// `Idempotency-Key` layer (`inbound::http::idempotency`) claims and keeps
/// answers in the table, sealed with the key vault.
const IDEMPOTENT_POST_ACCESS: [Access; 4] = [
    Access::TableRead,
    Access::TableWrite,
    Access::TokenKeyEncrypt,
    Access::TokenKeyDecrypt,
];

/// HTTP entries that pages on other sites call with a CORS preflight (a
/// JSON post) which the function answers itself, because the origins it
/// allows are per record (a form's embedding sites): API Gateway routes
/// their `OPTIONS` to the same function, whose route answers it.
const PREFLIGHTED: &[&str] = &["public-form-submit"];

impl Entry {
    pub fn http(&self) -> Option<(Method, &'static str)> {
        match self.trigger {
            Trigger::Http { method, path, .. } => Some((method, path)),
            _ => None,
        }
    }

    /// Whether its route's `OPTIONS` (the CORS preflight) goes to this
    /// function too (see [`PREFLIGHTED`]).
    pub fn answers_preflight(&self) -> bool {
        self.http().is_some() && PREFLIGHTED.contains(&self.name)
    }

    /// The declared access plus what the shared HTTP layers of the entry's
    /// route need; the template's IAM policy is derived from this.
    pub fn effective_access(&self) -> Vec<Access> {
        let mut access = self.access.to_vec();
        // The rate-limit layer counts in the table (reads the failure
        // buckets, adds to the request buckets).
        if self.http().is_some() && matches!(throttles::limits(self.name), Some(throttles::Limits::Layer(_))) {
            for extra in [Access::TableRead, Access::TableWrite] {
                if !access.contains(&extra) {
                    access.push(extra);
                }
            }
        }
        if matches!(self.http(), Some((Method::Post, _))) {
            for extra in IDEMPOTENT_POST_ACCESS {
                if !access.contains(&extra) {
                    access.push(extra);
                }
            }
        }
        access
    }

    /// The integrations whose secrets the entry reads (declared in `access`).
    pub fn secrets(&self) -> Vec<Integration> {
        self.access
            .iter()
            .filter_map(|access| match access {
                Access::Secret(integration) => Some(*integration),
                _ => None,
            })
            .collect()
    }
}

impl HttpRoute for Entry {
    fn http_route(&self) -> Option<(&'static str, &'static str, MethodRouter<AppState>)> {
        match self.trigger {
            Trigger::Http { method, path, route } => Some((self.name, path, route(method.filter()))),
            _ => None,
        }
    }

    fn throttle(&self) -> Option<crate::services::rate_limit::Throttle> {
        match throttles::limits(self.name) {
            Some(throttles::Limits::Layer(throttle)) => Some(throttle),
            _ => None,
        }
    }
}

/// The `RouteFn` of a handler: mounted under whatever method its entry names.
macro_rules! handler {
    ($handler:path) => {
        |method: MethodFilter| axum::routing::on(method, $handler)
    };
}

/// Every entry, in one list: what the local server mounts, the templates
/// declare and `/openapi.json` describes.
pub fn entries() -> &'static [Entry] {
    ENTRIES
}

/// The entry named `name`, picked while compiling. A Lambda main holds its
/// entry in a `const` (`catalogue::entry(env!("CARGO_BIN_NAME"))`), so its
/// binary refers to that entry's handler alone and never to the list: fat
/// LTO then drops every other route, consumer and tick, which a lookup at
/// run time would keep (the list points at all of them). A name the
/// catalogue lacks fails the build.
pub const fn entry(name: &str) -> Entry {
    let mut index = 0;
    while index < ENTRIES.len() {
        if same_name(ENTRIES[index].name, name) {
            return ENTRIES[index];
        }
        index += 1;
    }
    panic!("no catalogue entry has this name (functions/src/bin/<name>.rs must match an entry)");
}

/// `a == b` for `&str`, usable in a `const fn`.
const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

/// The list itself, a `const` rather than a `static`: it exists in a binary
/// only where code uses it at run time (the local server, the generator,
/// tests), never in a Lambda main, which evaluates [`entry`] at compile time.
const ENTRIES: &[Entry] = {
    use crate::inbound::{events, http};
    use Access::*;
    &[
        Entry {
            name: "health",
            summary: "Reports whether the store, the queues and the key vault answer.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/health",
                route: handler!(http::health::check),
            },
            access: &[TableRead, QueueInspect(QueueName::Jobs), TokenKeyDescribe],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "openapi",
            summary: "The OpenAPI 3.1 document describing every HTTP route.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/openapi.json",
                route: handler!(openapi::document_json),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "api-docs",
            summary: "A readable API reference drawn from /openapi.json by the vendored Redoc (no CDN).",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/docs",
                route: handler!(http::api_docs::page),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "auth-signup",
            summary: "Creates an account, its organization (owned by the new user) and a session.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/signup",
                route: handler!(http::auth::signup),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-login",
            summary: "Signs in with email and password (throttled); sets a new session cookie.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/login",
                route: handler!(http::auth::login),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-logout",
            summary: "Ends the current session.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/logout",
                route: handler!(http::auth::logout),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-logout-all",
            summary: "Ends every session of the signed-in user.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/logout-all",
                route: handler!(http::auth::logout_all),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-csrf",
            summary: "The CSRF token of the current session.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/auth/csrf",
                route: handler!(http::auth::csrf),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-verify-email",
            summary: "Confirms an email address with the single-use token from the verification link.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/verify-email",
                route: handler!(http::auth::verify_email),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-verify-email-resend",
            summary: "Sends a new verification link to the account's unverified or pending email.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/verify-email/resend",
                route: handler!(http::auth::resend_verification),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-password-forgot",
            summary: "Emails a password-reset link if the account exists; answers the same either way.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/password/forgot",
                route: handler!(http::auth::forgot_password),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "auth-password-reset",
            summary: "Sets a new password with a reset token and signs the user out everywhere.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/password/reset",
                route: handler!(http::auth::reset_password),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "me-get",
            summary: "The signed-in user's profile, role and CSRF token.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/me",
                route: handler!(http::me::get_me),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "me-update",
            summary: "Changes the user's name, email (after re-verification), password (needs the current one) or own time zone (blank: the organization's).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/me",
                route: handler!(http::me::patch_me),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "me-photo-put",
            summary: "Uploads the user's profile photo: the raw PNG, JPEG or WebP image (at most 1 MiB), typed from its bytes.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Put,
                path: "/me/photo",
                route: handler!(http::photo::put_photo),
            },
            access: &[TableRead, TableWrite, ObjectWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "me-photo-get",
            summary: "The signed-in user's profile photo, with its image content type.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/me/photo",
                route: handler!(http::photo::get_photo),
            },
            access: &[TableRead, TableWrite, ObjectRead],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "me-photo-delete",
            summary: "Removes the user's profile photo (no photo is not an error).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/me/photo",
                route: handler!(http::photo::delete_photo),
            },
            access: &[TableRead, TableWrite, ObjectWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "org-get",
            summary: "The organization's profile: name, website, industry, time zone, country, public slug, version.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/org",
                route: handler!(http::org::get_org),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "org-update",
            summary: "Edits the organization's profile (admins and owners); the slug stays unique, the version guards concurrent edits.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/org",
                route: handler!(http::org::update_org),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "org-deletion-get",
            summary: "Owners: the organization's pending deletion and its timeline (when the purge starts, when everything is gone), or null.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/org/deletion",
                route: handler!(http::org_deletion::status),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "org-deletion-request",
            summary: "Owners: deletes the organization (its name typed, password or a recent sign-in): cancels the Stripe subscription, shuts members out, ends their sessions, revokes Google; purged after the grace window.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/org/deletion",
                route: handler!(http::org_deletion::request),
            },
            access: &[
                TableRead,
                TableWrite,
                // Opening the members' Google tokens to revoke them.
                TokenKeyDecrypt,
                Secret(Integration::Stripe),
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "org-deletion-cancel",
            summary: "Owners: cancels the organization's deletion within its grace window; members get their access back.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/org/deletion",
                route: handler!(http::org_deletion::cancel),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "org-purge-tick",
            summary: "Every hour: queues the purge of each deleted organization whose grace window has ended (again, if its slices stopped).",
            auth: Auth::Internal,
            trigger: Trigger::Schedule {
                every: "rate(1 hour)",
                tick: events::purge::tick,
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "members-list",
            summary: "The organization's members with their roles.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/org/members",
                route: handler!(http::org::list_members),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "members-update",
            summary: "Changes a member's role (admins manage members and admins, only owners manage owners; one owner always remains).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/org/members/{userId}",
                route: handler!(http::org::update_member),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "members-remove",
            summary: "Removes a member, or leaves the organization when it is oneself; the last owner cannot go. Their Google tokens are deleted with the membership and the grant revoked at Google by a job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/org/members/{userId}",
                route: handler!(http::org::remove_member),
            },
            // The removed member's Google grant is revoked by a job.
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "invitations-create",
            summary: "Invites someone by email with a role up to the inviter's own; emails a single-use link valid 7 days.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/org/invitations",
                route: handler!(http::invitations::create),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "invitations-list",
            summary: "The organization's open invitations (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/org/invitations",
                route: handler!(http::invitations::list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "invitations-revoke",
            summary: "Revokes an open invitation (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/org/invitations/{invitationId}",
                route: handler!(http::invitations::revoke),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "invitations-accept",
            summary: "Accepts an invitation: links the existing account (its password or session) or creates one; opens a session in the organization.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/invitations/accept",
                route: handler!(http::invitations::accept),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "audit-list",
            summary: "The organization's audit log, newest first, paged (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/org/audit",
                route: handler!(http::org::list_audit),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "webhooks-list",
            summary: "The organization's outgoing-webhook endpoints: URL, events, on or off and why, failure streak (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/org/webhooks",
                route: handler!(http::webhooks::list_endpoints),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "webhooks-create",
            summary: "Adds a webhook endpoint (https URL, events, description) and returns its signing secret, shown this once (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/org/webhooks",
                route: handler!(http::webhooks::create_endpoint),
            },
            access: &[TableRead, TableWrite, TokenKeyEncrypt],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "webhooks-update",
            summary: "Changes a webhook endpoint's URL, events, description or on/off; turning it on forgets its failures (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/org/webhooks/{endpointId}",
                route: handler!(http::webhooks::update_endpoint),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "webhooks-delete",
            summary: "Deletes a webhook endpoint; its queued deliveries stop (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/org/webhooks/{endpointId}",
                route: handler!(http::webhooks::delete_endpoint),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "webhooks-rotate-secret",
            summary: "Replaces a webhook endpoint's signing secret and returns the new one, shown this once (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/org/webhooks/{endpointId}/secret",
                route: handler!(http::webhooks::rotate_secret),
            },
            access: &[TableRead, TableWrite, TokenKeyEncrypt],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "webhooks-deliveries",
            summary: "A webhook endpoint's delivery log, newest first: event, status, and each attempt's time, response code and duration (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/org/webhooks/{endpointId}/deliveries",
                route: handler!(http::webhooks::list_deliveries),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "webhooks-redeliver",
            summary: "Queues one more attempt of a logged delivery, now, even while the endpoint is off (admins and owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/org/webhooks/{endpointId}/deliveries/{deliveryId}/redeliver",
                route: handler!(http::webhooks::redeliver),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "billing-get",
            summary: "The organization's plan, subscription status, period and trial end, cancel-at-period-end, last invoice status and usage against each limit (owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/billing",
                route: handler!(http::billing::overview),
            },
            access: &[TableRead, Secret(Integration::Stripe)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "billing-checkout",
            summary: "Opens a Stripe Checkout Session selling a plan to the organization's customer (created once) and returns its URL (owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/billing/checkout",
                route: handler!(http::billing::checkout),
            },
            access: &[TableRead, TableWrite, Secret(Integration::Stripe)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "billing-portal",
            summary: "Opens a Stripe Customer Portal session for the organization's customer and returns its URL (owners).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/billing/portal",
                route: handler!(http::billing::portal),
            },
            access: &[TableRead, Secret(Integration::Stripe)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "stripe-webhook",
            summary: "Stripe's webhook: verifies Stripe-Signature over the raw body, applies each event once and never to an older state; 404 where billing is off.",
            auth: Auth::WebhookSigned,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/webhooks/stripe",
                route: handler!(http::billing::stripe_webhook),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                Secret(Integration::Stripe),
            ],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "contacts-list",
            summary: "Contacts with cursor paging, by creation (default newest first), name or last update (`sort`: created, name, updated; a leading - reverses); filters by tag, owner and created range; `q` searches name, email or phone prefix. The first list by name or last update starts the organization's sort-key back-fill job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/contacts",
                route: handler!(http::contacts::list),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-create",
            summary: "Creates a contact (409 duplicate_contact with the existing id on a known email or phone; `?upsert=true` merges instead).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/contacts",
                route: handler!(http::contacts::create),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-get",
            summary: "One contact, with its version as ETag.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/contacts/{contactId}",
                route: handler!(http::contacts::show),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-update",
            summary: "Partially updates a contact; If-Match with a stale version answers 412.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/contacts/{contactId}",
                route: handler!(http::contacts::update),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-delete",
            summary: "Deletes a contact, its uniqueness claims, search keys, tags, notes and timeline.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/contacts/{contactId}",
                route: handler!(http::contacts::remove),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-merge",
            summary: "Merges one contact into another (the primary wins, the secondary fills blanks).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/contacts/merge",
                route: handler!(http::contacts::merge_contacts),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-tags-bulk",
            summary: "Adds and removes tags on up to 1,000 contacts.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/contacts/tags",
                route: handler!(http::contacts::bulk_tags),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-timeline",
            summary: "A contact's timeline (notes, tag changes, merges, bookings, ...), newest first.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/contacts/{contactId}/timeline",
                route: handler!(http::contacts::timeline),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "notes-list",
            summary: "A contact's notes, newest first.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/contacts/{contactId}/notes",
                route: handler!(http::contacts::notes_list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "notes-create",
            summary: "Adds a note to a contact (and its timeline).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/contacts/{contactId}/notes",
                route: handler!(http::contacts::note_create),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "notes-update",
            summary: "Edits a note (its author or an admin).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/contacts/{contactId}/notes/{noteId}",
                route: handler!(http::contacts::note_update),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "notes-delete",
            summary: "Deletes a note (its author or an admin).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/contacts/{contactId}/notes/{noteId}",
                route: handler!(http::contacts::note_delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "tags-list",
            summary: "Every tag in use with its number of contacts.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/tags",
                route: handler!(http::contacts::tags_list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "tags-rename",
            summary: "Renames a tag on every contact.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/tags/{tag}",
                route: handler!(http::contacts::tag_rename),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "tags-delete",
            summary: "Removes a tag from every contact.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/tags/{tag}",
                route: handler!(http::contacts::tag_delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "fields-list",
            summary: "The organization's custom contact fields.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/fields",
                route: handler!(http::contacts::fields_list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "fields-create",
            summary: "Defines a custom contact field (text, number, date, single/multi-select, checkbox, URL).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/fields",
                route: handler!(http::contacts::field_create),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "fields-update",
            summary: "Changes a custom field's label or options.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/fields/{fieldId}",
                route: handler!(http::contacts::field_update),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "fields-delete",
            summary: "Deletes a custom field definition.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/fields/{fieldId}",
                route: handler!(http::contacts::field_delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "pipelines-list",
            summary: "Every pipeline of the organization with its ordered stages.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/pipelines",
                route: handler!(http::pipelines::list_pipelines),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "pipelines-create",
            summary: "Creates a pipeline with ordered stages (name, win probability).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/pipelines",
                route: handler!(http::pipelines::create_pipeline),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "pipelines-get",
            summary: "One pipeline with its ordered stages, with its version as ETag.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/pipelines/{id}",
                route: handler!(http::pipelines::get_pipeline),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "pipelines-update",
            summary: "Renames a pipeline or reorders, renames, adds and removes stages; a removed stage with deals needs move_deals_to (409 otherwise).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/pipelines/{id}",
                route: handler!(http::pipelines::update_pipeline),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "pipelines-delete",
            summary: "Deletes a pipeline; one with deals needs a target pipeline and stage to move them to (409 otherwise).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/pipelines/{id}",
                route: handler!(http::pipelines::delete_pipeline),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "pipelines-board",
            summary: "The board: each stage with its deals, deal count and value totals per currency (queries only).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/pipelines/{id}/board",
                route: handler!(http::pipelines::board),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "deals-list",
            summary: "Deals newest first, or of one pipeline (and stage) or one contact; cursor-paged.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/deals",
                route: handler!(http::pipelines::list_deals),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "deals-create",
            summary: "Creates a deal for a contact of the organization: title, value in minor units and ISO 4217 currency, stage, status, expected close date, owner.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/deals",
                route: handler!(http::pipelines::create_deal),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "deals-get",
            summary: "One deal, with its version as ETag.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/deals/{id}",
                route: handler!(http::pipelines::get_deal),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "deals-update",
            summary: "Changes a deal (If-Match version; 412 when stale); a stage move writes a timeline entry on the contact in the same transaction.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/deals/{id}",
                route: handler!(http::pipelines::update_deal),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "deals-delete",
            summary: "Deletes a deal (If-Match version honoured).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/deals/{id}",
                route: handler!(http::pipelines::delete_deal),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "imports-create",
            summary: "Starts a contacts CSV import (raw text/csv or JSON; mapping auto-detected and overridable; dedupe mode update or skip; tags); stores the file and queues the job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/imports/contacts",
                route: handler!(http::imports::create_import),
            },
            access: &[TableRead, TableWrite, ObjectWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "imports-append-part",
            summary: "Appends the next part (at most 1 MiB of rows, no header) of a large import; last=true queues the job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/imports/{id}/parts",
                route: handler!(http::imports::append_part),
            },
            access: &[TableRead, TableWrite, ObjectWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "imports-get",
            summary: "Progress of an import: state, rows done of total, created, updated, skipped, failed.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/imports/{id}",
                route: handler!(http::imports::get_import),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "imports-errors",
            summary: "The rows an import rejected as CSV: row number, field, reason, message (on AWS what fits one Lambda response; larger reports through POST /imports/{id}/errors/exports).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/imports/{id}/errors.csv",
                route: handler!(http::imports::import_errors),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "contacts-export",
            summary: "All contacts, or those matching the list filters, as CSV (importable again) or JSON Lines in the response: streamed locally; on AWS what fits one Lambda response (5 MiB encoded), larger sets through POST /contacts/exports.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/contacts/export",
                route: handler!(http::exports::export_contacts),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "contacts-exports-create",
            summary: "Starts an export job of all contacts, or those matching the list filters, as CSV or JSON Lines (any size); answers 202 with the job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/contacts/exports",
                route: handler!(http::exports::create_export),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "imports-errors-export",
            summary: "Starts an export job of an import's error report (any size); answers 202 with the job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/imports/{id}/errors/exports",
                route: handler!(http::exports::export_import_errors),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "exports-get",
            summary: "An export job (contacts or an import's error report): state, rows and bytes written, and its download link once done (kept 7 days).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/exports/{id}",
                route: handler!(http::exports::get_export),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "exports-download",
            summary: "A finished export's file: a 303 to a 15-minute presigned S3 link on AWS, the file itself locally.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/exports/{id}/download",
                route: handler!(http::exports::download_export),
            },
            access: &[TableRead, TableWrite, ExportRead],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "page-verify-email",
            summary: "The page the verification link opens: a button that confirms the address.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/verify-email",
                route: handler!(http::web::account::verify_email_page),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-reset-password",
            summary: "The page the password-reset link opens: a form for the new password.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/reset-password",
                route: handler!(http::web::account::reset_password_page),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-accept-invitation",
            summary: "The page the invitation link opens: a form to join with a new or existing account.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/accept-invitation",
                route: handler!(http::web::account::accept_invitation_page),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "jobs-worker",
            summary: "Runs the short background jobs (email, SMS and webhook delivery, form alerts, bookings' Google Calendar events, the calendar sync, revoking a removed member's Google grant) from the jobs queue; reports failures per message.",
            auth: Auth::Internal,
            trigger: Trigger::Queue {
                queue: QueueName::Jobs,
                consumer: events::jobs::consume,
            },
            access: &[
                TableRead,
                TableWrite,
                QueueConsume(QueueName::Jobs),
                QueueSend(QueueName::Jobs),
                // Bulk work queued before it had its own queue is sent on there.
                QueueSend(QueueName::Bulk),
                // Webhook endpoints' signing secrets, and members' Google
                // tokens (bookings' events, the calendar sync).
                TokenKeyDecrypt,
                // A refreshed Google access token is sealed again.
                TokenKeyEncrypt,
                Secret(Integration::Resend),
                Secret(Integration::Twilio),
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "bulk-worker",
            summary: "Runs the slices of long data work (contact imports, CSV and the Google contacts a member started, exports, the contact-order back-fill, organization purges) from the bulk queue; reports failures per message.",
            auth: Auth::Internal,
            trigger: Trigger::Queue {
                queue: QueueName::Bulk,
                consumer: events::jobs::consume_bulk,
            },
            access: &[
                TableRead,
                TableWrite,
                QueueConsume(QueueName::Bulk),
                QueueSend(QueueName::Bulk),
                // The email to a member whose Google connection broke during
                // their Contacts import; short jobs queued here are sent on.
                QueueSend(QueueName::Jobs),
                ObjectRead,
                ObjectWrite,
                ExportRead,
                ExportWrite,
                // Members' Google tokens (the Contacts import they started),
                // sealed again after a refresh.
                TokenKeyDecrypt,
                TokenKeyEncrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "google-calendar-sync",
            summary: "Every five minutes: queues one calendar-sync job per member with a Google connection (from the sharded connections index); each job lists what changed in the member's booking calendar since its sync token and cancels or flags bookings whose event was deleted or moved in Google.",
            auth: Auth::Internal,
            trigger: Trigger::Schedule {
                every: "rate(5 minutes)",
                tick: events::calendar_sync::tick,
            },
            access: &[TableRead, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "reminders-tick",
            summary: "Every minute: queries the due-minute partitions since the last run and fans pending reminders out to the reminders queue.",
            auth: Auth::Internal,
            trigger: Trigger::Schedule {
                every: "rate(1 minute)",
                tick: events::reminders::tick,
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Reminders)],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "twilio-sms",
            summary: "Twilio's inbound-text webhook (signature-verified): STOP/START/HELP and replies for the business, answered in TwiML.",
            auth: Auth::WebhookSigned,
            trigger: Trigger::Http {
                method: Method::Post,
                path: http::twilio::SMS_PATH,
                route: handler!(http::twilio::inbound_sms),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                Secret(Integration::Twilio),
            ],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "twilio-status",
            summary: "Twilio's message status callback (signature-verified): the status and error code of a sent text, on its contact's timeline.",
            auth: Auth::WebhookSigned,
            trigger: Trigger::Http {
                method: Method::Post,
                path: http::twilio::STATUS_PATH,
                route: handler!(http::twilio::status_callback),
            },
            access: &[TableRead, TableWrite, Secret(Integration::Twilio)],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "reminders-send",
            summary: "Sends each due reminder once (pending → sent first); drops those whose appointment started; reports failures per message.",
            auth: Auth::Internal,
            trigger: Trigger::Queue {
                queue: QueueName::Reminders,
                consumer: events::reminders::consume,
            },
            access: &[
                TableRead,
                TableWrite,
                QueueConsume(QueueName::Reminders),
                Secret(Integration::Resend),
                Secret(Integration::Twilio),
            ],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "schedules-list",
            summary: "Lists the organization's schedules (named weekly availability in an IANA zone, with date overrides).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/schedules",
                route: handler!(http::scheduling::schedules_list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "schedules-create",
            summary: "Creates a schedule for a member (default: the caller); field errors for zones, overlapping or reversed intervals.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/schedules",
                route: handler!(http::scheduling::schedules_create),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "schedules-get",
            summary: "One schedule of the organization.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/schedules/{id}",
                route: handler!(http::scheduling::schedule_get),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "schedules-update",
            summary: "Changes a schedule (top-level fields replace); 409 on a concurrent change.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/schedules/{id}",
                route: handler!(http::scheduling::schedule_update),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "schedules-delete",
            summary: "Deletes a schedule no event type uses (409 schedule_in_use otherwise).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/schedules/{id}",
                route: handler!(http::scheduling::schedule_delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "event-types-list",
            summary: "Lists the organization's event types.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/event-types",
                route: handler!(http::scheduling::event_types_list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "event-types-create",
            summary: "Creates an event type: slug unique per organization, durations, location, host and schedule, slot rules, questions, reminder plan.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/event-types",
                route: handler!(http::scheduling::event_types_create),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "event-types-get",
            summary: "One event type of the organization.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/event-types/{id}",
                route: handler!(http::scheduling::event_type_get),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "event-types-update",
            summary: "Changes an event type (top-level fields replace; every field re-validated).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/event-types/{id}",
                route: handler!(http::scheduling::event_type_update),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "event-types-delete",
            summary: "Deletes an event type; its bookings stay.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/event-types/{id}",
                route: handler!(http::scheduling::event_type_delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "appointments-list",
            summary: "The host's bookings starting in ?from&to (default the caller's; ?host= another member's).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/appointments",
                route: handler!(http::scheduling::appointments_list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "appointments-get",
            summary: "One booking of the organization.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/appointments/{id}",
                route: handler!(http::scheduling::appointment_get),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "appointments-cancel",
            summary: "Cancels a booking with an optional reason; its pending reminders go in the same transaction.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/appointments/{id}/cancel",
                route: handler!(http::scheduling::appointment_cancel),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "appointments-reschedule",
            summary: "Moves a booking to another free start (no-double-booking commit); reminders replaced in the same transaction.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/appointments/{id}/reschedule",
                route: handler!(http::scheduling::appointment_reschedule),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "appointments-confirm",
            summary: "Confirms a booking that waits for the host; creates its reminders and notifies.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/appointments/{id}/confirm",
                route: handler!(http::scheduling::appointment_confirm),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "appointments-decline",
            summary: "Declines a booking that waits for the host and frees its time.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/appointments/{id}/decline",
                route: handler!(http::scheduling::appointment_decline),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "appointments-no-show",
            summary: "Marks a started booking as a no-show.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/appointments/{id}/no-show",
                route: handler!(http::scheduling::appointment_no_show),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "public-booking-event",
            summary: "Public: an active event type's booking info (title, durations, questions, zone).",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/public/booking/{org_slug}/{event_slug}",
                route: handler!(http::public_booking::event),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "public-booking-slots",
            summary: "Public: bookable starts in ?from&to, grouped by day in ?tz, for ?duration.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/public/booking/{org_slug}/{event_slug}/slots",
                route: handler!(http::public_booking::slots),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "public-booking-create",
            summary: "Public: books a start (409 slot_taken when gone); creates or updates the contact; returns the manage link.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/public/booking/{org_slug}/{event_slug}/bookings",
                route: handler!(http::public_booking::book),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "public-booking-show",
            summary: "Public: a booking by its uid and manage token (404 for a wrong token).",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/public/bookings/{uid}",
                route: handler!(http::public_booking::show),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "public-booking-cancel",
            summary: "Public: the invitee cancels with the manage token (body or query).",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/public/bookings/{uid}/cancel",
                route: handler!(http::public_booking::cancel),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "public-booking-reschedule",
            summary: "Public: the invitee moves the booking to another free start with the manage token.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/public/bookings/{uid}/reschedule",
                route: handler!(http::public_booking::reschedule),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "page-book",
            summary: "The public booking page of an active event type, rendered on the server (name, description, durations, location, host, Open Graph tags; 404 page for an unknown or inactive one), with one small script for the slot picker.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/book/{org_slug}/{event_slug}",
                route: handler!(http::pages::book),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "page-booking",
            summary: "The public page where a customer sees, cancels or reschedules a booking (token in the query), rendered on the server; 404 page for a wrong or missing token.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/booking/{uid}",
                route: handler!(http::pages::manage),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Booking,
        },
        Entry {
            name: "page-forms",
            summary: "The organization's forms with their submission counts, and the form that creates one.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/forms",
                route: handler!(http::web::forms::list),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "page-forms-create",
            summary: "Creates a form (a name and an email field to start) and opens its builder; a refused title comes back beside its field.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/forms",
                route: handler!(http::web::forms::create),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "page-form-builder",
            summary: "A form's builder: its fields (drag or Move buttons to reorder, edit, remove, add), settings, a preview drawn by the hosted page's template, and the embed snippets with copy buttons.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/forms/{formId}",
                route: handler!(http::web::forms::show),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "page-form-save",
            summary: "One change of the builder (settings, add, edit, remove, move, order) saved as a new version; refused input comes back beside its field.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/forms/{formId}",
                route: handler!(http::web::forms::save),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "page-form-submissions",
            summary: "A form's submissions, newest first, with their contacts linked and the CSV download.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/forms/{formId}/submissions",
                route: handler!(http::web::forms::submissions_page),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "forms-list",
            summary: "The organization's forms with their submission counts and embed snippets.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/forms",
                route: handler!(http::forms::list),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "forms-create",
            summary: "Creates a form (fields, thank-you message or https redirect, tags, owner, recipients, allowed origins) as version 1 with its public id.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/forms",
                route: handler!(http::forms::create),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "forms-get",
            summary: "One form: its current version, submission count, hosted address and embed snippets.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/forms/{formId}",
                route: handler!(http::forms::get),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "forms-update",
            summary: "Replaces a form's settings as a new version (If-Match refuses a lost update); older submissions keep their version.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Put,
                path: "/forms/{formId}",
                route: handler!(http::forms::update),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "forms-delete",
            summary: "Deletes a form with its public address, versions and submissions.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/forms/{formId}",
                route: handler!(http::forms::delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "form-submissions-list",
            summary: "A form's submissions, newest first, paged, optionally between ?from and ?to.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/forms/{formId}/submissions",
                route: handler!(http::forms::submissions_list),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "form-submissions-get",
            summary: "One submission with the fields of the form version it was made against.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/forms/{formId}/submissions/{submissionId}",
                route: handler!(http::forms::submission_get),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "form-submissions-delete",
            summary: "Erases one submission (answers, consent details, attribution).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/forms/{formId}/submissions/{submissionId}",
                route: handler!(http::forms::submission_delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "form-submissions-export",
            summary: "A form's submissions as CSV (one column per field, attribution columns), optionally between ?from and ?to.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/forms/{formId}/submissions.csv",
                route: handler!(http::forms::submissions_csv),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "public-form-submit",
            summary: "Public: submits answers to an active form (JSON or form post; honeypot, minimum fill time, per-IP and per-form rate limits, CORS for embedding sites); captures the contact and queues the alert.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/public/forms/{publicId}/submissions",
                route: |method: MethodFilter| {
                    axum::routing::on(method, http::public_forms::submit).options(http::public_forms::preflight)
                },
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "page-form",
            summary: "The hosted form page of an active form, rendered on the server (works without JavaScript, frameable by embedding sites; ?embed=1 for the iframe).",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/f/{publicId}",
                route: handler!(http::public_forms::page),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Forms,
        },
        Entry {
            name: "web-assets",
            summary: "The staff app's stylesheet and scripts (htmx; Redoc for /docs) under content-hashed names, cached for a year (immutable).",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/assets/{name}",
                route: handler!(http::web::assets::asset),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "page-root",
            summary: "The front door: the app for a signed-in member, the sign-in page for anyone else.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/",
                route: handler!(http::web::auth::root),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "page-sign-in",
            summary: "The sign-in page.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/sign-in",
                route: handler!(http::web::auth::sign_in_form),
            },
            // Whether Google's client is configured decides the Google button.
            access: &[Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-in-submit",
            summary: "The sign-in form's post: signs in and redirects into the app, or shows the form again with the error.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/sign-in",
                route: handler!(http::web::auth::sign_in),
            },
            access: &[TableRead, TableWrite, Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-in-google",
            summary: "Sign in with Google: records a single-use state (bound to the browser's CSRF cookie), nonce and PKCE verifier and redirects to Google's sign-in page.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/sign-in/google",
                route: handler!(http::web::google_sign_in::start),
            },
            access: &[TableWrite, Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-in-google-callback",
            summary: "Google's return from signing in: takes the browser's single-use state, exchanges the code with its PKCE verifier, verifies the ID token (signature by Google's published keys, issuer, audience, expiry, nonce, verified email) and signs in the account with that address, or asks a new one for its business name.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/sign-in/google/callback",
                route: handler!(http::web::google_sign_in::callback),
            },
            access: &[TableRead, TableWrite, Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-in-google-finish",
            summary: "Creates the account and organization of a verified Google identity that had none (the normal account creation, the address already verified) and signs it in, or shows the form again with its errors.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/sign-in/google/finish",
                route: handler!(http::web::google_sign_in::finish),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-up",
            summary: "The sign-up page: a new account and organization.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/sign-up",
                route: handler!(http::web::auth::sign_up_form),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-up-submit",
            summary: "The sign-up form's post: creates the account signed in and redirects into the app, or shows the form again with the field errors.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/sign-up",
                route: handler!(http::web::auth::sign_up),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-out",
            summary: "The sign-out button's post: ends the session and returns to the sign-in page.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/sign-out",
                route: handler!(http::web::auth::sign_out),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-home",
            summary: "The staff app's home: today's appointments, the next 7 days' count, recent contacts, open deals by stage with totals.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app",
                route: handler!(http::web::home::home),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Platform,
        },
        Entry {
            name: "page-contacts",
            summary: "The contacts table: search as you type, filters (tag, owner, stage, created), sortable by name, creation and last update, cursor paging, bulk tagging; to htmx only the rows. The first sort by name or last update starts the organization's sort-key back-fill job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts",
                route: handler!(http::web::contacts::table),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contacts-tag",
            summary: "The contacts table's bulk bar: adds a tag to the ticked contacts and returns to the table.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/tags",
                route: handler!(http::web::contacts::bulk_tag),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-new",
            summary: "The new-contact form.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts/new",
                route: handler!(http::web::contacts::new_contact),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-create",
            summary: "The new-contact form's post: creates the contact and opens its record, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts",
                route: handler!(http::web::contacts::create),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact",
            summary: "A contact's record: details, custom fields, tags, notes, timeline, deals, and the \"Email from Gmail\" form when the member can send.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts/{id}",
                route: handler!(http::web::contact_record::record),
            },
            // Whether Google is configured decides the "Email from Gmail" form.
            access: &[TableRead, Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-email",
            summary: "\"Email from Gmail\" on a contact's record: sends the subject and message from the member's own Gmail (once per form), logs it on the timeline with Gmail's message and thread ids, and returns to the record; or shows the form again with its errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/email",
                route: handler!(http::web::contact_email::send),
            },
            access: &GMAIL_SEND_ACCESS,
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-email",
            summary: "Emails a contact from the caller's own Gmail (raw RFC 5322 through the Gmail API, once per Idempotency-Key), logs it on the timeline with Gmail's message and thread ids, audited; 409 google_scope_missing without Gmail's send access.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/contacts/{contactId}/emails",
                route: handler!(http::gmail::send),
            },
            access: &GMAIL_SEND_ACCESS,
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "gmail-replies-tick",
            summary: "Every five minutes: reads each registered mailbox's Gmail history since its last history id, reads the headers of new messages in threads Konnecs sent in only, and puts each reply on its contact's timeline once; an expired history id resyncs the tracked threads.",
            auth: Auth::Internal,
            trigger: Trigger::Schedule {
                every: "rate(5 minutes)",
                tick: events::gmail::tick,
            },
            access: &GMAIL_SEND_ACCESS,
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-note-create",
            summary: "The record's note form: adds the note and returns to the record, or shows it again with the error.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/notes",
                route: handler!(http::web::contact_record::add_note),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-billing",
            summary: "Settings → Billing (owners): the plan in force and usage against each limit, the subscription, the last invoice, and the ways to Checkout and the Customer Portal.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/billing",
                route: handler!(http::web::billing::billing),
            },
            access: &[TableRead, Secret(Integration::Stripe)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-billing-action",
            summary: "The billing page's post (owners): opens Stripe Checkout for a plan or the Customer Portal and answers the link onward.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/billing",
                route: handler!(http::web::billing::billing_action),
            },
            access: &[TableRead, TableWrite, Secret(Integration::Stripe)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-settings",
            summary: "The organization's settings (admins): the profile form and the members.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings",
                route: handler!(http::web::settings::settings),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-settings-save",
            summary: "The settings form's post (admins): saves the organization's profile, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings",
                route: handler!(http::web::settings::save_settings),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-org-deletion",
            summary: "Owners: the organization's deletion page: what happens when, the form (its name typed, the password), or the pending deletion with its cancel button.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/deletion",
                route: handler!(http::web::org_deletion::show),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-org-deletion-action",
            summary: "The deletion page's post (owners): deletes the organization (as POST /org/deletion) or cancels its deletion, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/deletion",
                route: handler!(http::web::org_deletion::submit),
            },
            access: &[
                TableRead,
                TableWrite,
                // Opening the members' Google tokens to revoke them.
                TokenKeyDecrypt,
                Secret(Integration::Stripe),
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "google-status",
            summary: "The member's own Google connection: connected, broken with the reason, or disconnected; the Google account and the features granted.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/integrations/google",
                route: handler!(http::google::status),
            },
            access: &[TableRead, Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "google-connect",
            summary: "Starts connecting the member's Google account for the features named (calendar, gmail, contacts): a single-use state and PKCE verifier are stored and the URL of Google's consent page (offline access, only those features' scopes) is answered.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/integrations/google/connect",
                route: handler!(http::google::connect),
            },
            access: &[TableRead, TableWrite, Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "google-disconnect",
            summary: "Disconnects the member's Google account: revokes the grant at Google and deletes the sealed tokens, with an audit entry, before answering.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/integrations/google",
                route: handler!(http::google::disconnect),
            },
            access: &[TableRead, TableWrite, TokenKeyDecrypt, Secret(Integration::Google)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "google-contacts-import",
            summary: "Starts the one-time import of the member's own Google contacts (names, emails, phones) into the organization's contacts, through the contacts importer's dedupe rules (409 without Contacts access); the job reads them from the People API. Answers the import, whose progress is at GET /imports/{id}.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/integrations/google/contacts/import",
                route: handler!(http::google::import_contacts),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Bulk),
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "google-callback",
            summary: "Google's return from its consent page: takes the member's single-use state, exchanges the code with its PKCE verifier, stores the tokens sealed under the token key (context: organization, user, purpose) with an audit entry, and redirects to Settings → Integrations.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/integrations/google/callback",
                route: handler!(http::web::integrations::callback),
            },
            access: &[
                TableRead,
                TableWrite,
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-integrations",
            summary: "Settings → Integrations (every member, their own): connect Google with each feature's access explained in plain words, the connection's state, the calendars checked for busy times (read from Google), and Disconnect.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/integrations",
                route: handler!(http::web::integrations::integrations),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-integrations-action",
            summary: "The Integrations page's post: connect (answers the link to Google's consent page for the features checked), the calendars to check for busy times, start the one-time Google contacts import (then its progress page), or disconnect (revokes and deletes the tokens before answering).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/integrations",
                route: handler!(http::web::integrations::integrations_action),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                // A Google Contacts import started here.
                QueueSend(QueueName::Bulk),
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-webhooks",
            summary: "The organization's webhook endpoints and the form to add one (admins).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/webhooks",
                route: handler!(http::web::webhooks::list),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-webhooks-create",
            summary: "The add-endpoint form's post (admins): adds the endpoint and shows its signing secret once, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/webhooks",
                route: handler!(http::web::webhooks::create),
            },
            access: &[TableRead, TableWrite, TokenKeyEncrypt],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-webhook",
            summary: "One webhook endpoint (admins): its settings, secret and delete actions, and its delivery log with a Redeliver button per delivery.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/webhooks/{id}",
                route: handler!(http::web::webhooks::show),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-webhook-action",
            summary: "A webhook endpoint's form posts (admins): save, make a new signing secret (shown once), delete, or redeliver one delivery.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/webhooks/{id}",
                route: handler!(http::web::webhooks::action),
            },
            access: &[TableRead, TableWrite, TokenKeyEncrypt, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-sms-settings",
            summary: "The organization's text-message settings (admins): the sender, quiet hours and the HELP answer.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/sms",
                route: handler!(http::web::sms::settings),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-sms-settings-save",
            summary: "The text-message settings form's post (admins): saves quiet hours and the HELP text, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/sms",
                route: handler!(http::web::sms::save_settings),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-contact-sms",
            summary: "A contact's text messages: texts sent with their status, replies, opt-outs and opt-ins, and the SMS consent on record.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts/{id}/sms",
                route: handler!(http::web::sms::conversation),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-verify-email-submit",
            summary: "The verification page's post: confirms the address with the link's token.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/verify-email",
                route: handler!(http::web::account::verify_email),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-forgot-password",
            summary: "The forgotten-password page: a form asking for the account's email.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/forgot-password",
                route: handler!(http::web::account::forgot_password_page),
            },
            access: &[],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-forgot-password-submit",
            summary: "The forgotten-password form's post: queues the reset link, answering alike for every address.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/forgot-password",
                route: handler!(http::web::account::forgot_password),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-reset-password-submit",
            summary: "The new-password form's post: sets the password with the link's token and signs every device out.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/reset-password",
                route: handler!(http::web::account::reset_password),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-accept-invitation-submit",
            summary: "The invitation form's post: joins the organization signed in and opens the app.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/accept-invitation",
                route: handler!(http::web::account::accept_invitation),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-contact-edit",
            summary: "A contact's edit form: fields, tags and every custom field.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts/{id}/edit",
                route: handler!(http::web::contact_edit::edit),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-update",
            summary: "The contact edit form's post: saves the contact and returns to its record, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}",
                route: handler!(http::web::contact_edit::update),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-delete",
            summary: "The record's confirmed delete: deletes the contact and returns to the table.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/delete",
                route: handler!(http::web::contact_edit::delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-book-form",
            summary: "Booking on a contact's behalf: the organization's event types with their hosts, and a week of free times from the public booking's slots, in the member's time zone.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts/{id}/book",
                route: handler!(http::web::contact_booking::book_form),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-contact-book",
            summary: "The booking form's post: books the chosen time for the contact (confirmation email as usual) and returns to the record, or shows the times again with the reason.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/book",
                route: handler!(http::web::contact_booking::book),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-note-update",
            summary: "A note's edit form: rewrites the note and returns to the record.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/notes/{note_id}",
                route: handler!(http::web::contact_edit::update_note),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-note-delete",
            summary: "A note's delete button: deletes the note and returns to the record.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/notes/{note_id}/delete",
                route: handler!(http::web::contact_edit::delete_note),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contacts-export",
            summary: "The contacts table's export button: starts a CSV export of the table's filters and opens its progress page.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/export",
                route: handler!(http::web::exports::export_contacts),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-export",
            summary: "An export's progress page, refreshed by htmx until the file is ready, then its download link.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/exports/{id}",
                route: handler!(http::web::exports::export_page),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "page-import-new",
            summary: "The import wizard's first step: the CSV upload form and the recent imports.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/imports/new",
                route: handler!(http::web::imports::new_import),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "page-import-upload",
            summary: "The import wizard's upload (a multipart form): stores the file as an import not started yet and opens its mapping.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/imports",
                route: handler!(http::web::imports::upload),
            },
            access: &[TableRead, TableWrite, ObjectWrite],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "page-import-map",
            summary: "The import wizard's preview of the file's first rows and a field for each column, offered as the member mapped last time.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/imports/{id}/map",
                route: handler!(http::web::imports::map),
            },
            access: &[TableRead, ObjectRead],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "page-import-start",
            summary: "The import wizard's start: the chosen mapping, mode and tags (remembered for the member), then the job.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/imports/{id}/start",
                route: handler!(http::web::imports::start),
            },
            access: &[
                TableRead,
                TableWrite,
                ObjectRead,
                ObjectWrite,
                QueueSend(QueueName::Bulk),
            ],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "page-import",
            summary: "An import's progress page, refreshed by htmx while it runs, then its counts and error report link.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/imports/{id}",
                route: handler!(http::web::imports::import_page),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Transfers,
        },
        Entry {
            name: "page-pipelines",
            summary: "Every pipeline, each opening its board, and the form for a new pipeline.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/pipelines",
                route: handler!(http::web::pipelines::pipelines_page),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "page-pipeline-create",
            summary: "The new-pipeline form's post: creates the pipeline with its stages and opens its board, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/pipelines",
                route: handler!(http::web::pipelines::create_pipeline),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "page-board",
            summary: "A pipeline's board: a column per stage with count and totals, deals as cards with a Move-to control, drag and drop.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/pipelines/{id}",
                route: handler!(http::web::pipelines::board),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "page-pipeline-edit",
            summary: "A pipeline's editor: its name, and its stages to rename, reorder, delete (moving their deals) or add.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/pipelines/{id}/edit",
                route: handler!(http::web::pipeline_edit::edit_page),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "page-pipeline-update",
            summary: "The pipeline editor's forms (rename, add, save, move up or down, delete a stage): changes the pipeline at the version shown and returns to the editor, or shows it again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/pipelines/{id}/edit",
                route: handler!(http::web::pipeline_edit::save),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "page-deal-move",
            summary: "A board card's Move-to form (and its drag): moves the deal to the chosen stage and returns to the board.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/deals/{id}/move",
                route: handler!(http::web::pipelines::move_deal),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "page-deal-create",
            summary: "The record's new-deal form: opens a deal for the contact and returns to the record.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/deals",
                route: handler!(http::web::pipelines::create_deal),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Deals,
        },
        Entry {
            name: "page-calendar",
            summary: "The member's week of appointments in the organization's zone, each with its status and actions.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/calendar",
                route: handler!(http::web::calendar::calendar),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-appointments",
            summary: "The member's appointments as a list, filtered by status and dates, each with its status and actions.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/appointments",
                route: handler!(http::web::appointments::list),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-appointment-action",
            summary: "An appointment's action forms (confirm, decline, reschedule, cancel, no-show): does it and returns to its week.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/appointments/{id}",
                route: handler!(http::web::appointment_actions::act),
            },
            access: &[
                TableRead,
                TableWrite,
                QueueSend(QueueName::Jobs),
                TokenKeyEncrypt,
                TokenKeyDecrypt,
                Secret(Integration::Google),
            ],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-scheduling",
            summary: "The member's event types with their public booking links and schedules with their weekly hours, and the forms that create them.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/scheduling",
                route: handler!(http::web::scheduling::scheduling),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-schedule-create",
            summary: "The new-schedule form's post: weekly hours (several intervals a day), date overrides, time zone; or the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/schedules",
                route: handler!(http::web::scheduling::create_schedule),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-event-type-create",
            summary: "The new-event-type form's post: creates the bookable event on a schedule; or the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/event-types",
                route: handler!(http::web::scheduling::create_event_type),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-schedule-edit",
            summary: "A schedule's editor: name, time zone, weekly hours (several intervals a day) and date overrides.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/schedules/{id}",
                route: handler!(http::web::scheduling_edit::schedule_editor),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-schedule-update",
            summary: "The schedule editor's post: saves the schedule and returns to scheduling, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/schedules/{id}",
                route: handler!(http::web::scheduling_edit::save_schedule),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-event-type-edit",
            summary: "An event type's editor: every setting of the event type, and its public booking link with a copy button.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/event-types/{id}",
                route: handler!(http::web::scheduling_edit::event_type_editor),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-event-type-update",
            summary: "The event type editor's post: saves every setting and returns to scheduling, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/event-types/{id}",
                route: handler!(http::web::scheduling_edit::save_event_type),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-schedule-delete",
            summary: "The schedule editor's confirmed delete: deletes the schedule, or shows the editor with the event types that still book on it.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/schedules/{id}/delete",
                route: handler!(http::web::scheduling_edit::delete_schedule),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-event-type-delete",
            summary: "The event type editor's confirmed delete: its link stops taking bookings; appointments already booked stay.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/event-types/{id}/delete",
                route: handler!(http::web::scheduling_edit::delete_event_type),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Scheduling,
        },
        Entry {
            name: "page-team",
            summary: "Members and invitations (admins): each member's role and removal, pending invitations and their revocation, the invite form.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/team",
                route: handler!(http::web::team::team),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-invite",
            summary: "The invite form's post (admins): invites by email with a role and emails the link, or shows the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/invitations",
                route: handler!(http::web::team::invite),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-invitation-revoke",
            summary: "A pending invitation's revoke button (admins).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/invitations/{id}/revoke",
                route: handler!(http::web::team::revoke),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-member",
            summary: "A member's role change or removal (admins, by the API's role rules).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/settings/members/{user_id}",
                route: handler!(http::web::team::member),
            },
            // A removed member's Google grant is revoked by a job.
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-audit",
            summary: "The audit log (admins), filtered by actor, action and date among the newest entries.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/settings/audit",
                route: handler!(http::web::team::audit_log),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Organization,
        },
        Entry {
            name: "page-profile",
            summary: "The member's profile: name and email, password, sign out everywhere.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/profile",
                route: handler!(http::web::profile::profile),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-profile-save",
            summary: "The profile forms' post: saves the name and email (a new email once verified) or the password (other devices signed out); or the form again with the field errors.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/profile",
                route: handler!(http::web::profile::save_profile),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-profile-photo",
            summary: "The profile's photo form (multipart): stores the chosen PNG, JPEG or WebP image, typed from its bytes, or removes the photo; or the page again with the field error.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/profile/photo",
                route: handler!(http::web::profile::save_photo),
            },
            access: &[TableRead, TableWrite, ObjectWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-sign-out-everywhere",
            summary: "The profile's sign-out-everywhere button: ends every session of the account.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/profile/sign-out-everywhere",
                route: handler!(http::web::profile::sign_out_everywhere),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Accounts,
        },
        Entry {
            name: "page-view-create",
            summary: "The contacts table's save-view form: saves its filters as the member's named view.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/views",
                route: handler!(http::web::contacts::save_view),
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Bulk)],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contacts-columns",
            summary: "The contacts table's column choice: the columns the member shows, remembered for them.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/columns",
                route: handler!(http::web::contacts::save_columns),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-merge-form",
            summary: "A contact's merge page: find the other contact, then both side by side with a choice per differing field.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts/{id}/merge",
                route: handler!(http::web::contact_merge::merge_form),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-merge",
            summary: "Merges the other contact into this one with the values chosen (the service of POST /contacts/merge).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/merge",
                route: handler!(http::web::contact_merge::merge_contacts),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-field",
            summary: "One field of a contact's record for htmx, shown or as its in-place form (without htmx: the edit page).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/app/contacts/{id}/fields/{field}",
                route: handler!(http::web::contact_field::field),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-contact-field-save",
            summary: "Saves one field of a contact edited in place (the service of PATCH /contacts/{id}); the field shown again or its form with the error.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/{id}/fields/{field}",
                route: handler!(http::web::contact_field::save_field),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "page-view-delete",
            summary: "A saved view's delete button.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/app/contacts/views/{id}/delete",
                route: handler!(http::web::contacts::delete_view),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-views-list",
            summary: "The caller's saved views of the contact list (named filter sets), oldest first.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/contacts/views",
                route: handler!(http::contacts::views_list),
            },
            access: &[TableRead],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-views-create",
            summary: "Saves a named filter set of the contact list (q, tag, owner_id, pipeline_id + stage_id, created_from, created_to) for the caller.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/contacts/views",
                route: handler!(http::contacts::view_create),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "contacts-views-delete",
            summary: "Deletes one of the caller's saved views.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Delete,
                path: "/contacts/views/{id}",
                route: handler!(http::contacts::view_delete),
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
            area: Area::Contacts,
        },
        Entry {
            name: "dev-outbox",
            summary: "Developer mode only: the messages the server would have sent, as an HTML list.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/dev/outbox",
                route: handler!(crate::dev_outbox::list_html),
            },
            access: &[],
            runtime: Runtime::LocalDevelopment,
            area: Area::Platform,
        },
        Entry {
            name: "dev-outbox-json",
            summary: "Developer mode only: the outbox as JSON, newest first.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/dev/outbox.json",
                route: handler!(crate::dev_outbox::list_json),
            },
            access: &[],
            runtime: Runtime::LocalDevelopment,
            area: Area::Platform,
        },
        Entry {
            name: "dev-outbox-message",
            summary: "Developer mode only: one outbox message with its MIME text.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/dev/outbox/{id}",
                route: handler!(crate::dev_outbox::show),
            },
            access: &[],
            runtime: Runtime::LocalDevelopment,
            area: Area::Platform,
        },
        Entry {
            name: "store-sweep",
            summary: "Physically removes expired items and old acknowledged messages from the embedded store, and expired objects (the bucket's lifecycle rules) from the object directory.",
            auth: Auth::Internal,
            trigger: Trigger::Schedule {
                every: "rate(1 hour)",
                tick: events::sweep::tick,
            },
            access: &[],
            runtime: Runtime::LocalOnly,
            area: Area::Platform,
        },
    ]
};

pub fn find(name: &str) -> Option<&'static Entry> {
    entries().iter().find(|entry| entry.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Evaluated by the compiler, as in a Lambda main.
    const HEALTH: Entry = entry("health");

    #[test]
    fn entry_picks_the_entry_of_that_name_for_every_name() {
        assert_eq!(HEALTH.name, "health");
        assert!(HEALTH.http().is_some_and(|(_, path)| path == "/health"));
        for listed in entries() {
            let picked = entry(listed.name);
            assert_eq!(picked.name, listed.name);
            assert_eq!(picked.summary, listed.summary, "{}", listed.name);
        }
    }

    #[test]
    #[should_panic(expected = "no catalogue entry has this name")]
    fn entry_refuses_a_name_the_catalogue_lacks() {
        let name = String::from("no-such-function");
        entry(&name);
    }
}
