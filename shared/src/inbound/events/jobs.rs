//! The job consumers (`services::jobs::Job`), one per queue (`Job::queue`):
//! `jobs-worker` runs the short jobs, `bulk-worker` the slices of long data
//! work. Each reports failures per message, so only those are delivered
//! again. Dispatch lives here, above the services it calls, so no service
//! imports another through the job list. Each consumer names only its own
//! queue's work, so its Lambda links none of the other's code.

use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{BatchOutcome, Message};
use crate::inbound::AppState;
use crate::ports::QueueName;
use crate::ports::mailer::MailError;
use crate::services::jobs::{Delivery, Job, JobError, enqueue};
use crate::services::notifications;

/// `jobs-worker`: email, SMS, webhook deliveries, form alerts, Google
/// Calendar work.
pub fn consume(state: AppState, messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
    consume_from(state, messages, QueueName::Jobs, run_short)
}

/// `bulk-worker`: imports, exports, the contact-order back-fill, purges.
pub fn consume_bulk(state: AppState, messages: Vec<Message>) -> BoxFuture<'static, BatchOutcome> {
    consume_from(state, messages, QueueName::Bulk, run_bulk)
}

/// What one queue's consumer does with a job of its queue.
type Work = for<'a> fn(&'a AppState, Job, &'a Delivery) -> BoxFuture<'a, Result<(), JobError>>;

fn consume_from(
    state: AppState,
    messages: Vec<Message>,
    queue: QueueName,
    work: Work,
) -> BoxFuture<'static, BatchOutcome> {
    async move {
        let mut outcome = BatchOutcome::default();
        let batch = Delivery::starting_now(false);
        for message in messages {
            let job: Job = match serde_json::from_str(&message.body) {
                Ok(job) => job,
                Err(err) => {
                    // Unreadable: let it reach the dead-letter queue (and its alarm) rather than vanish.
                    tracing::error!(message_id = %message.message_id, error = %err, "unreadable job");
                    outcome.failed.push(message.message_id);
                    continue;
                }
            };
            let delivery = Delivery {
                last_attempt: message.receive_count >= queue.max_receives(),
                ..batch
            };
            match run_on(&state, job, &delivery, queue, work).await {
                Ok(()) => {}
                Err(JobError::Permanent(reason)) => {
                    tracing::error!(message_id = %message.message_id, %reason, "job failed permanently; dropped");
                }
                Err(JobError::Retry(reason)) => {
                    tracing::warn!(message_id = %message.message_id, receive_count = message.receive_count, %reason, "job failed; will retry");
                    outcome.failed.push(message.message_id);
                }
            }
        }
        outcome
    }
    .boxed()
}

/// The least time worth starting a slice with; with less left in the batch,
/// the job is queued again to start a fresh one.
const MIN_SLICE_TIME: Duration = Duration::from_secs(2);

/// The least time a job needs left in its batch to start in it: a slice
/// its minimum, a webhook attempt the receiver's whole timeout, any other
/// job some time at all.
fn time_needed(job: &Job) -> Duration {
    match job {
        Job::ImportContacts { .. }
        | Job::Export { .. }
        | Job::BackfillContactOrder { .. }
        | Job::ImportGoogleContacts { .. }
        | Job::PurgeOrganization { .. } => MIN_SLICE_TIME,
        Job::DeliverWebhook(_) => crate::services::webhooks::ATTEMPT_TIME,
        _ => Duration::from_millis(1),
    }
}

/// Runs `job` as the consumer of its queue would: what the tests drive.
pub async fn run(state: &AppState, job: Job, delivery: &Delivery) -> Result<(), JobError> {
    match job.queue() {
        QueueName::Bulk => run_on(state, job, delivery, QueueName::Bulk, run_bulk).await,
        _ => run_on(state, job, delivery, QueueName::Jobs, run_short).await,
    }
}

/// `job` as delivered on `queue`: sent on to its own queue if it is not
/// this queue's work, queued again if too little of the batch is left,
/// dropped if its organization is closing, else done by `work`.
async fn run_on(state: &AppState, job: Job, delivery: &Delivery, queue: QueueName, work: Work) -> Result<(), JobError> {
    if job.queue() != queue {
        // Queued before its kind had a queue of its own (a deployment
        // drains the old queue's messages here): its own consumer runs it.
        return forward(state, job).await;
    }
    let left = delivery.deadline.saturating_duration_since(Instant::now());
    if left < time_needed(&job) {
        // Too little of the batch's time left: work started now could run
        // past the function's timeout, which would deliver the whole batch
        // again. A fresh copy starts a new batch at once; failing the
        // message instead would hold it for the visibility timeout and count
        // a try towards the dead-letter queue for what is no fault of the job.
        return forward(state, job).await;
    }
    if let Some(org_id) = job.organization() {
        // A deleted organization's customers hear nothing more from it, and
        // its imports, exports and webhooks stop (the purge removes them).
        match crate::services::records::org_closing(state.table.as_ref(), org_id).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!(%org_id, "organization closing; job dropped");
                return Ok(());
            }
            Err(err) => return Err(JobError::Retry(err.to_string())),
        }
    }
    work(state, job, delivery).await
}

/// The bulk queue's work.
fn run_bulk<'a>(state: &'a AppState, job: Job, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), JobError>> {
    async move {
        match job {
            Job::PurgeOrganization { org_id } => {
                crate::services::orgs::purge::run_job(state, &org_id, delivery.deadline, MIN_SLICE_TIME)
                    .await
                    .map(|_| ())
                    .map_err(|err| JobError::Retry(err.to_string()))
            }
            Job::ImportContacts { org_id, import_id } => {
                use crate::services::imports::{self, ImportError};
                match imports::run_job(state, &org_id, &import_id, delivery).await {
                    Ok(()) => Ok(()),
                    // The import is gone (deleted organization): nothing left to do.
                    Err(ImportError::NotFound) => Err(JobError::Permanent(format!("import {import_id} not found"))),
                    Err(err) => Err(JobError::Retry(err.to_string())),
                }
            }
            Job::ImportGoogleContacts { org_id, import_id } => {
                use crate::services::imports::ImportError;
                match crate::services::google::contacts::run_job(state, &org_id, &import_id, delivery).await {
                    Ok(()) => Ok(()),
                    Err(ImportError::NotFound) => Err(JobError::Permanent(format!("import {import_id} not found"))),
                    Err(err) => Err(JobError::Retry(err.to_string())),
                }
            }
            Job::Export { org_id, export_id } => {
                use crate::services::exports::job::{self, ExportError};
                match job::run_job(state, &org_id, &export_id, delivery).await {
                    Ok(()) => Ok(()),
                    // Expired or its organization deleted: nothing left to do.
                    Err(ExportError::NotFound) => Err(JobError::Permanent(format!("export {export_id} not found"))),
                    Err(err) => Err(JobError::Retry(err.to_string())),
                }
            }
            Job::BackfillContactOrder { org_id } => {
                use crate::services::contacts::order_backfill::{self, Slice};
                let deadline = delivery.deadline.min(Instant::now() + order_backfill::SLICE);
                match order_backfill::run_slice(state, &org_id, deadline).await {
                    Ok(Slice::More) => enqueue(state, &[Job::BackfillContactOrder { org_id }])
                        .await
                        .map_err(|err| JobError::Retry(err.to_string())),
                    Ok(Slice::Done | Slice::Yielded) => Ok(()),
                    Err(err) => Err(JobError::Retry(err.to_string())),
                }
            }
            // Not bulk work: run_on sent it to its own queue.
            job => forward(state, job).await,
        }
    }
    .boxed()
}

/// The jobs queue's work.
fn run_short<'a>(state: &'a AppState, job: Job, _: &'a Delivery) -> BoxFuture<'a, Result<(), JobError>> {
    async move {
        match job {
            Job::FormSubmitted {
                org_id,
                form_id,
                submission_id,
            } => {
                use crate::services::forms::notify::{AlertError, AlertOutcome};
                match crate::services::forms::send_alert(state, &org_id, &form_id, &submission_id).await {
                    Ok(AlertOutcome::Sent { payload } | AlertOutcome::AlreadySent { payload }) => {
                        // Published on every delivery, not only the one that sent
                        // the alert: a delivery that stopped in between must not
                        // lose the events, and their ids make a second publish
                        // deliver nothing new.
                        let events =
                            crate::services::forms::notify::submission_events(state, &org_id, &submission_id, payload)
                                .await
                                .map_err(|err| JobError::Retry(err.to_string()))?;
                        crate::services::webhooks::publish_all(state, &org_id, events)
                            .await
                            .map(|_| ())
                            .map_err(|err| match err {
                                // An event the endpoints can never take (too large): recorded, dropped.
                                crate::services::webhooks::WebhookError::Invalid(_) => {
                                    JobError::Permanent(err.to_string())
                                }
                                err => JobError::Retry(err.to_string()),
                            })
                    }
                    Ok(AlertOutcome::Gone) => Ok(()),
                    Err(AlertError::Mail(MailError::Rejected(reason))) => Err(JobError::Permanent(reason)),
                    Err(err) => Err(JobError::Retry(err.to_string())),
                }
            }
            Job::SendEmail { idempotency_key, email } => match state.mailer.send(&email, &idempotency_key).await {
                Ok(()) => Ok(()),
                Err(MailError::Unavailable(reason)) => Err(JobError::Retry(reason)),
                Err(MailError::Rejected(reason)) => Err(JobError::Permanent(reason)),
            },
            Job::PasswordReset {
                email,
                token,
                requested_at,
                request,
            } => {
                use crate::services::accounts::{self, PasswordResetError};
                match accounts::send_password_reset(state, &email, &token, requested_at, &request).await {
                    Ok(()) => Ok(()),
                    Err(PasswordResetError::Mail(MailError::Rejected(reason))) => Err(JobError::Permanent(reason)),
                    Err(err) => Err(JobError::Retry(err.to_string())),
                }
            }
            Job::DeliverWebhook(attempt) => crate::services::webhooks::run_attempt(state, attempt)
                .await
                .map_err(|crate::services::webhooks::RunError::Retry(reason)| JobError::Retry(reason)),
            Job::SendSms {
                idempotency_key,
                org_id,
                booking_id,
                to,
                body,
            } => {
                let request = notifications::SmsRequest {
                    idempotency_key,
                    org_id,
                    booking_id,
                    to,
                    body,
                };
                match notifications::send_sms(state, &request).await {
                    Ok(_) => Ok(()),
                    Err(notifications::SmsSendError::Retry(reason)) => Err(JobError::Retry(reason)),
                    Err(notifications::SmsSendError::Permanent(reason)) => Err(JobError::Permanent(reason)),
                }
            }
            Job::BookingCalendarEvent { org_id, booking_id } => {
                use crate::services::scheduling::bookings::sync_booking_event;
                match sync_booking_event(state, &org_id, &booking_id).await {
                    Ok(outcome) => {
                        tracing::info!(%booking_id, ?outcome, "booking's google event in step");
                        Ok(())
                    }
                    Err(err) => Err(google_job_error(err)),
                }
            }
            Job::CalendarSync { org_id, user_id } => {
                use crate::services::scheduling::bookings::sync_host_calendar;
                match sync_host_calendar(state, &org_id, &user_id).await {
                    Ok(outcome) => {
                        tracing::info!(%user_id, ?outcome, "google calendar synced");
                        Ok(())
                    }
                    Err(err) => Err(google_job_error(err)),
                }
            }
            Job::RevokeGoogleGrant {
                org_id,
                user_id,
                sealed_tokens,
            } => {
                use crate::ports::GoogleError;
                use crate::services::google::{self, GoogleConnectionError};
                match google::revoke_sealed(state, &org_id, &user_id, &sealed_tokens).await {
                    Ok(()) => Ok(()),
                    Err(GoogleConnectionError::Google(GoogleError::Unavailable(reason))) => {
                        Err(JobError::Retry(reason))
                    }
                    Err(GoogleConnectionError::Keys(crate::ports::KeyError::Unavailable(reason))) => {
                        Err(JobError::Retry(reason))
                    }
                    Err(err) => Err(JobError::Permanent(err.to_string())),
                }
            }
            // Not the jobs queue's work: run_on sent it to its own queue.
            job => forward(state, job).await,
        }
    }
    .boxed()
}

/// A job sent (again) to the queue whose consumer runs it.
async fn forward(state: &AppState, job: Job) -> Result<(), JobError> {
    enqueue(state, &[job])
        .await
        .map_err(|err| JobError::Retry(err.to_string()))
}

/// A Google refusal (a bad request, a calendar gone) will not pass on
/// another try; an outage, a rate limit or the store will.
fn google_job_error(err: crate::services::scheduling::bookings::GoogleEventError) -> JobError {
    use crate::ports::GoogleError;
    use crate::services::google::GoogleConnectionError;
    use crate::services::scheduling::bookings::GoogleEventError;
    match err {
        GoogleEventError::Google(GoogleError::Rejected(reason))
        | GoogleEventError::Connection(GoogleConnectionError::Google(GoogleError::Rejected(reason))) => {
            JobError::Permanent(reason)
        }
        err => JobError::Retry(err.to_string()),
    }
}
