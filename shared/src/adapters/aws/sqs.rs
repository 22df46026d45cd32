//! The SQS `Queue`: standard queue with a redrive policy to a dead-letter queue.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry};

use crate::ports::queue::{MAX_BATCH, MAX_DELAY, Queue, QueueError, Received};

/// SendMessageBatch calls made for one batch before giving up on failed entries.
const SEND_ATTEMPTS: u32 = 5;
/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECONDS: u64 = 43_200;

pub struct SqsQueue {
    client: super::LazyClient<Client>,
    url: String,
}

impl SqsQueue {
    pub fn new(client: impl Into<super::LazyClient<Client>>, url: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends up to ten bodies, resending the entries SQS reports as failed
    /// unless the failure is the sender's (retrying cannot help then).
    async fn send_chunk(&self, bodies: &[String]) -> Result<(), QueueError> {
        // Entry ids are the positions in this chunk, so failures map back to bodies.
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        for attempt in 0..SEND_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i])
                        .build()
                        .map_err(|e| QueueError::Invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .get()
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(queue_error)?;
            let mut failed = Vec::new();
            for entry in output.failed() {
                if entry.sender_fault() {
                    return Err(QueueError::Invalid(format!("SQS rejected a message: {}", entry.code())));
                }
                let index = entry
                    .id()
                    .parse::<usize>()
                    .map_err(|_| QueueError::Unavailable("unknown batch entry id".into()))?;
                failed.push(index);
            }
            if failed.is_empty() {
                return Ok(());
            }
            pending = failed;
        }
        Err(QueueError::Unavailable("messages still failing after retries".into()))
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        for chunk in bodies.chunks(MAX_BATCH) {
            self.send_chunk(chunk).await?;
        }
        Ok(())
    }

    async fn send_delayed(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        if delay > MAX_DELAY {
            return Err(QueueError::Invalid("delay longer than 15 minutes".into()));
        }
        // SQS counts whole seconds; rounding up never delivers early.
        let seconds = delay.as_secs().saturating_add(u64::from(delay.subsec_nanos() > 0));
        self.client
            .get()
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(i32::try_from(seconds).unwrap_or(900))
            .send()
            .await
            .map_err(queue_error)?;
        Ok(())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Received>, QueueError> {
        if max == 0 || max > MAX_BATCH {
            return Err(QueueError::Invalid(format!("receive takes 1 to {MAX_BATCH} messages")));
        }
        // SQS counts whole seconds; rounding up never shortens the promised hiding time.
        let seconds = visibility
            .as_secs()
            .saturating_add(u64::from(visibility.subsec_nanos() > 0));
        if seconds > MAX_VISIBILITY_SECONDS {
            return Err(QueueError::Invalid("visibility timeout above 12 hours".into()));
        }
        let output = self
            .client
            .get()
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(i32::try_from(seconds).unwrap_or(0))
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(queue_error)?;
        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let receive_count = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                match (message.message_id, message.receipt_handle) {
                    (Some(message_id), Some(receipt)) => Ok(Received {
                        message_id,
                        receipt,
                        body: message.body.unwrap_or_default(),
                        receive_count,
                    }),
                    _ => Err(QueueError::Unavailable(
                        "SQS message without id or receipt handle".into(),
                    )),
                }
            })
            .collect()
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let result = self
            .client
            .get()
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already deleted (or a stale handle): acknowledging is idempotent.
            Err(SdkError::ServiceError(failure))
                if matches!(failure.err(), DeleteMessageError::ReceiptHandleIsInvalid(_))
                    || failure.err().code() == Some("ReceiptHandleIsInvalid") =>
            {
                Ok(())
            }
            Err(other) => Err(queue_error(other)),
        }
    }

    async fn depth(&self) -> Result<u64, QueueError> {
        let output = self
            .client
            .get()
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(queue_error)?;
        let attributes = output.attributes.unwrap_or_default();
        let count = |name: &QueueAttributeName| -> Result<u64, QueueError> {
            attributes
                .get(name)
                .map(|v| v.parse::<u64>())
                .transpose()
                .map_err(|_| QueueError::Unavailable("unreadable queue depth".into()))
                .map(Option::unwrap_or_default)
        };
        Ok(count(&QueueAttributeName::ApproximateNumberOfMessages)?
            + count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?)
    }
}

/// Creates `<name>-dlq` and `<name>`, whose messages move to the dead-letter
/// queue after `max_receives` receives. Returns (queue URL, dead-letter queue URL).
pub async fn create_queue_with_dlq(
    client: &Client,
    name: &str,
    max_receives: u32,
) -> Result<(String, String), QueueError> {
    let dlq_url = create_queue(client, &format!("{name}-dlq"), HashMap::new()).await?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(queue_error)?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| QueueError::Unavailable("dead-letter queue without ARN".into()))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receives,
    });
    let attributes = HashMap::from([(QueueAttributeName::RedrivePolicy, redrive.to_string())]);
    let url = create_queue(client, name, attributes).await?;
    Ok((url, dlq_url))
}

async fn create_queue(
    client: &Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, QueueError> {
    client
        .create_queue()
        .queue_name(name)
        .set_attributes((!attributes.is_empty()).then_some(attributes))
        .send()
        .await
        .map_err(queue_error)?
        .queue_url
        .ok_or_else(|| QueueError::Unavailable("SQS returned no queue URL".into()))
}

/// Exponential backoff with full jitter: 50 ms, 100 ms, ... capped at 2 s.
async fn backoff(attempt: u32) {
    let ceiling = 50u64.saturating_mul(1 << attempt.min(6)).min(2_000);
    let millis = rand::random::<u64>() % ceiling + 1;
    tokio::time::sleep(Duration::from_millis(millis)).await;
}

/// Keeps only SQS error codes: messages could echo request data.
fn queue_error<E, R>(err: SdkError<E, R>) -> QueueError
where
    E: ProvideErrorMetadata,
{
    match &err {
        SdkError::ServiceError(failure) => {
            let code = failure.err().code().unwrap_or("without code");
            let sender_fault = [
                "BatchRequestTooLong",
                "InvalidMessageContents",
                "InvalidParameterValue",
                "MissingParameter",
                "TooManyEntriesInBatchRequest",
                "EmptyBatchRequest",
            ];
            if sender_fault.contains(&code) {
                QueueError::Invalid(format!("SQS rejected the request: {code}"))
            } else {
                QueueError::Unavailable(format!("SQS error {code}"))
            }
        }
        SdkError::TimeoutError(_) => QueueError::Unavailable("SQS timed out".into()),
        SdkError::DispatchFailure(_) => QueueError::Unavailable("SQS unreachable".into()),
        _ => QueueError::Unavailable("SQS request failed".into()),
    }
}
