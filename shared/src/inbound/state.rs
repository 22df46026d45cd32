//! The state every handler and consumer receives: the ports, wired to one
//! runtime's adapters by the composition root (`app`). Handlers hand it to
//! use cases, which name in their signatures the ports they reach
//! (`ports::reach`).

use std::sync::Arc;

use crate::config::AppConfig;
use crate::ports::{
    Clock, GoogleOAuth, HasClock, HasConfig, HasGoogle, HasJobs, HasKeys, HasMailer, HasObjects, HasPayments,
    HasReminders, HasSms, HasTable, HasWebhooks, KeyVault, Mailer, ObjectStore, Payments, Queue, QueueName, Sms,
    StoreSweeper, Table, WebhookTransport,
};

#[derive(Clone)]
pub struct AppState {
    pub table: Arc<dyn Table>,
    /// Short background jobs (`services::jobs::Job::queue`).
    pub jobs: Arc<dyn Queue>,
    /// Long data work in slices: imports, exports, back-fills, purges.
    pub bulk: Arc<dyn Queue>,
    /// Due reminders, fanned out by `reminders-tick` to `reminders-send`.
    pub reminders: Arc<dyn Queue>,
    /// Envelope encryption for OAuth tokens.
    pub keys: Arc<dyn KeyVault>,
    pub clock: Arc<dyn Clock>,
    pub mailer: Arc<dyn Mailer>,
    /// Transactional SMS: Twilio when configured, else the outbox.
    pub sms: Arc<dyn Sms>,
    /// Profile photos and exports.
    pub objects: Arc<dyn ObjectStore>,
    pub config: Arc<AppConfig>,
    /// Stripe where billing is configured; `None` turns billing off.
    pub payments: Option<Arc<dyn Payments>>,
    /// Outgoing webhooks (HTTPS to customers' endpoints, SSRF-guarded).
    pub webhooks: Arc<dyn WebhookTransport>,
    /// Google's OAuth endpoints where a Google client is configured.
    pub google: Option<Arc<dyn GoogleOAuth>>,
    /// Physical clean-up that AWS does by itself (DynamoDB TTL, SQS
    /// retention, S3 lifecycle): only the local runtime has any.
    pub sweepers: Vec<Arc<dyn StoreSweeper>>,
}

impl AppState {
    pub fn queue(&self, name: QueueName) -> Arc<dyn Queue> {
        match name {
            QueueName::Jobs => self.jobs.clone(),
            QueueName::Bulk => self.bulk.clone(),
            QueueName::Reminders => self.reminders.clone(),
        }
    }
}

impl HasTable for AppState {
    fn table(&self) -> &Arc<dyn Table> {
        &self.table
    }
}

impl HasClock for AppState {
    fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

impl HasJobs for AppState {
    fn jobs(&self) -> &Arc<dyn Queue> {
        &self.jobs
    }

    fn bulk(&self) -> &Arc<dyn Queue> {
        &self.bulk
    }
}

impl HasReminders for AppState {
    fn reminders(&self) -> &Arc<dyn Queue> {
        &self.reminders
    }
}

impl HasKeys for AppState {
    fn keys(&self) -> &Arc<dyn KeyVault> {
        &self.keys
    }
}

impl HasMailer for AppState {
    fn mailer(&self) -> &Arc<dyn Mailer> {
        &self.mailer
    }
}

impl HasSms for AppState {
    fn sms(&self) -> &Arc<dyn Sms> {
        &self.sms
    }
}

impl HasObjects for AppState {
    fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }
}

impl HasConfig for AppState {
    fn config(&self) -> &AppConfig {
        &self.config
    }
}

impl HasPayments for AppState {
    fn payments(&self) -> Option<&Arc<dyn Payments>> {
        self.payments.as_ref()
    }
}

impl HasWebhooks for AppState {
    fn webhooks(&self) -> &Arc<dyn WebhookTransport> {
        &self.webhooks
    }
}

impl HasGoogle for AppState {
    fn google(&self) -> Option<&Arc<dyn GoogleOAuth>> {
        self.google.as_ref()
    }
}
