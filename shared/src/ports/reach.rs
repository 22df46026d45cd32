//! What a use case reaches, named in its signature.
//!
//! A service function takes `state: &(impl HasTable + HasClock)` rather than
//! the whole application state, so its signature says which ports it touches
//! and a test can hand it only those. The runtime's state (`inbound::AppState`)
//! implements every trait; each returns the shared handle, so a use case can
//! still clone one into a task or stream.

use std::sync::Arc;

use crate::config::AppConfig;
use crate::ports::{Clock, GoogleOAuth, KeyVault, Mailer, ObjectStore, Payments, Queue, Sms, Table, WebhookTransport};

/// The single table (DynamoDB or the embedded store).
pub trait HasTable {
    fn table(&self) -> &Arc<dyn Table>;
}

/// A use case that reaches only the table can be handed just the table.
impl HasTable for Arc<dyn Table> {
    fn table(&self) -> &Arc<dyn Table> {
        self
    }
}

/// The time: the system clock in production, a stepped one in tests.
pub trait HasClock {
    fn clock(&self) -> &Arc<dyn Clock>;
}

/// The background-job queues (`services::jobs::enqueue` picks one per job).
pub trait HasJobs {
    /// Short jobs: email, SMS, webhook deliveries, alerts, calendar work.
    fn jobs(&self) -> &Arc<dyn Queue>;
    /// Long data work in slices: imports, exports, back-fills, purges.
    fn bulk(&self) -> &Arc<dyn Queue>;
}

/// The queue of due reminders (`reminders-tick` → `reminders-send`).
pub trait HasReminders {
    fn reminders(&self) -> &Arc<dyn Queue>;
}

/// Envelope encryption (OAuth tokens, kept idempotent answers).
pub trait HasKeys {
    fn keys(&self) -> &Arc<dyn KeyVault>;
}

/// Transactional email: the provider, or the outbox.
pub trait HasMailer {
    fn mailer(&self) -> &Arc<dyn Mailer>;
}

/// Transactional SMS: the provider, or the outbox.
pub trait HasSms {
    fn sms(&self) -> &Arc<dyn Sms>;
}

/// Profile photos, import files and exports.
pub trait HasObjects {
    fn objects(&self) -> &Arc<dyn ObjectStore>;
}

/// The settings read at start-up (public URL, sender, session limits).
pub trait HasConfig {
    fn config(&self) -> &AppConfig;
}

/// The payment provider: `None` where billing is not configured.
pub trait HasPayments {
    fn payments(&self) -> Option<&Arc<dyn Payments>>;
}

/// Outgoing webhooks to customers' endpoints, through the SSRF guard.
pub trait HasWebhooks {
    fn webhooks(&self) -> &Arc<dyn WebhookTransport>;
}

/// Google's OAuth endpoints: `None` where no Google client is configured.
pub trait HasGoogle {
    fn google(&self) -> Option<&Arc<dyn GoogleOAuth>>;
}
