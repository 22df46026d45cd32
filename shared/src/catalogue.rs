//! The route catalogue: every HTTP route, webhook, schedule and queue consumer
//! Konnecs has, in one list.
//!
//! - The local server mounts every entry (`local::serve`).
//! - `template.yaml` declares exactly one Lambda per entry whose runtime
//!   includes AWS, with IAM built from `access` and nothing more; it is
//!   generated from this list (`cargo run --bin konnecs-template`) and
//!   `tests/template_drift.rs` fails on drift in either direction.
//! - `functions/src/bin/<name>.rs` is the Lambda main of each entry.
//! - `/openapi.json` describes every HTTP entry.

use crate::inbound::events::{Consumer, Tick};
use crate::inbound::http::RouteFn;

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

/// Logical queues. Each is an SQS queue with a DLQ in AWS and a table-backed
/// queue in the embedded store locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// General background jobs.
    Jobs,
}

impl QueueName {
    pub const ALL: [QueueName; 1] = [QueueName::Jobs];

    /// Name in the embedded store and stem of the CloudFormation names.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Jobs => "jobs",
        }
    }

    /// Environment variable that holds the SQS queue URL in AWS.
    pub fn url_env(self) -> &'static str {
        match self {
            QueueName::Jobs => "JOBS_QUEUE_URL",
        }
    }

    /// Receives after which a message goes to the dead-letter queue.
    pub fn max_receives(self) -> u32 {
        5
    }

    /// How long a received message stays hidden before redelivery.
    pub fn visibility_seconds(self) -> u64 {
        60
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
    /// GetObject in the objects bucket (photos, exports).
    ObjectRead,
    /// PutObject and DeleteObject in the objects bucket.
    ObjectWrite,
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
}

impl Entry {
    pub fn http(&self) -> Option<(Method, &'static str)> {
        match self.trigger {
            Trigger::Http { method, path, .. } => Some((method, path)),
            _ => None,
        }
    }
}

/// Every entry, in one list.
pub fn entries() -> &'static [Entry] {
    use crate::inbound::{events, http};
    use Access::*;
    static ENTRIES: &[Entry] = &[
        Entry {
            name: "health",
            summary: "Reports whether the store, the queues and the key vault answer.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/health",
                route: http::health::route,
            },
            access: &[TableRead, QueueInspect(QueueName::Jobs), TokenKeyDescribe],
            runtime: Runtime::Both,
        },
        Entry {
            name: "openapi",
            summary: "The OpenAPI 3.1 document describing every HTTP route.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/openapi.json",
                route: http::openapi::route,
            },
            access: &[],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-signup",
            summary: "Creates an account, its organization (owned by the new user) and a session.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/signup",
                route: http::auth::signup,
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-login",
            summary: "Signs in with email and password (throttled); sets a new session cookie.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/login",
                route: http::auth::login,
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-logout",
            summary: "Ends the current session.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/logout",
                route: http::auth::logout,
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-logout-all",
            summary: "Ends every session of the signed-in user.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/logout-all",
                route: http::auth::logout_all,
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-csrf",
            summary: "The CSRF token of the current session.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/auth/csrf",
                route: http::auth::csrf,
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-verify-email",
            summary: "Confirms an email address with the single-use token from the verification link.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/verify-email",
                route: http::auth::verify_email,
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-verify-email-resend",
            summary: "Sends a new verification link to the account's unverified or pending email.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/verify-email/resend",
                route: http::auth::resend_verification,
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-password-forgot",
            summary: "Emails a password-reset link if the account exists; answers the same either way.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/password/forgot",
                route: http::auth::forgot_password,
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
        },
        Entry {
            name: "auth-password-reset",
            summary: "Sets a new password with a reset token and signs the user out everywhere.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Post,
                path: "/auth/password/reset",
                route: http::auth::reset_password,
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
        },
        Entry {
            name: "me-get",
            summary: "The signed-in user's profile, role and CSRF token.",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/me",
                route: http::me::get_me,
            },
            access: &[TableRead, TableWrite],
            runtime: Runtime::Both,
        },
        Entry {
            name: "me-update",
            summary: "Changes the user's name, email (after re-verification) or password (needs the current one).",
            auth: Auth::Session,
            trigger: Trigger::Http {
                method: Method::Patch,
                path: "/me",
                route: http::me::patch_me,
            },
            access: &[TableRead, TableWrite, QueueSend(QueueName::Jobs)],
            runtime: Runtime::Both,
        },
        Entry {
            name: "jobs-worker",
            summary: "Runs background jobs (email delivery) from the jobs queue; reports failures per message.",
            auth: Auth::Internal,
            trigger: Trigger::Queue {
                queue: QueueName::Jobs,
                consumer: events::jobs::consume,
            },
            access: &[TableRead, TableWrite, QueueConsume(QueueName::Jobs)],
            runtime: Runtime::Both,
        },
        Entry {
            name: "dev-outbox",
            summary: "Local only: the messages the server would have sent, as an HTML list.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/dev/outbox",
                route: http::dev_outbox::list_html,
            },
            access: &[],
            runtime: Runtime::LocalOnly,
        },
        Entry {
            name: "dev-outbox-json",
            summary: "Local only: the outbox as JSON, newest first.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/dev/outbox.json",
                route: http::dev_outbox::list_json,
            },
            access: &[],
            runtime: Runtime::LocalOnly,
        },
        Entry {
            name: "dev-outbox-message",
            summary: "Local only: one outbox message with its MIME text.",
            auth: Auth::Public,
            trigger: Trigger::Http {
                method: Method::Get,
                path: "/dev/outbox/{id}",
                route: http::dev_outbox::show,
            },
            access: &[],
            runtime: Runtime::LocalOnly,
        },
        Entry {
            name: "store-sweep",
            summary: "Physically removes expired items and old acknowledged messages from the embedded store.",
            auth: Auth::Internal,
            trigger: Trigger::Schedule {
                every: "rate(1 hour)",
                tick: events::sweep::tick,
            },
            access: &[],
            runtime: Runtime::LocalOnly,
        },
    ];
    ENTRIES
}

pub fn find(name: &str) -> Option<&'static Entry> {
    entries().iter().find(|entry| entry.name == name)
}
