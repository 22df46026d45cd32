//! Narrow traits between the services and the outside world. Tests swap the
//! adapters; nothing else knows which one runs.
//!
//! Later ports (`Sms`, `GoogleApi`, `Payments`) go here beside these, one
//! file each.

pub mod busy;
pub mod clock;
pub mod counting;
pub mod gmail;
pub mod google;
pub mod keys;
pub mod mailer;
pub mod member_mailer;
pub mod object_store;
pub mod payments;
pub mod queue;
pub mod reach;
pub mod secrets;
pub mod sms;
pub mod sweep;
pub mod table;
pub mod webhook;

pub use clock::{Clock, SystemClock, TestClock};
pub use google::{GoogleError, GoogleOAuth};
pub use keys::{EncryptionContext, KeyError, KeyVault};
pub use mailer::{MailError, Mailer};
pub use object_store::{ObjectError, ObjectReader, ObjectStore, StoredObject, UploadedPart};
pub use payments::{Payments, PaymentsError};
pub use queue::{Queue, QueueError, QueueName, Received};
pub use reach::{
    HasClock, HasConfig, HasGoogle, HasJobs, HasKeys, HasMailer, HasObjects, HasPayments, HasReminders, HasSms,
    HasTable, HasWebhooks,
};
pub use secrets::{Integration, SecretError, SecretStore};
pub use sms::{Sms, SmsError};
pub use sweep::StoreSweeper;
pub use table::{
    BatchOp, Condition, Index, Item, Key, Page, PartialCommit, Query, SortKey, StoreError, Table, Update, WriteOp,
};
pub use webhook::{OutgoingWebhook, WebhookAnswer, WebhookSendError, WebhookTransport};
