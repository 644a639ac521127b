//! The AWS side of the seams: a DynamoDB table ([`DynamoDbTable`]) and an SQS dead-letter queue
//! ([`SqsDeadLetters`]). The clients are built once (in `main`) and shared.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata as _, SdkError};
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use crate::{
    BatchWriteResult, DeadLetterMessage, DeadLetters, Item, Table, WriteOutcome, WriterError,
};

type DynamoItem = HashMap<String, AttributeValue>;

/// A DynamoDB table written with `BatchWriteItem`.
#[derive(Debug, Clone)]
pub struct DynamoDbTable {
    client: aws_sdk_dynamodb::Client,
    table_name: String,
}

impl DynamoDbTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        DynamoDbTable {
            client,
            table_name: table_name.into(),
        }
    }

    /// One `BatchWriteItem` call for `items`; per-item outcomes in the same order. A `ValidationException`
    /// rejects the whole request without saying which item is at fault, so the items are then tried one by
    /// one to find it.
    async fn put(&self, items: &[DynamoItem]) -> Vec<WriteOutcome> {
        match self.call(items).await {
            Ok(outcomes) => outcomes,
            Err(Failure::Validation(detail)) if items.len() == 1 => {
                vec![WriteOutcome::Permanent(detail)]
            }
            Err(Failure::Validation(_)) => {
                let singles = items.iter().map(|item| async move {
                    match self.call(std::slice::from_ref(item)).await {
                        Ok(mut outcomes) => outcomes.pop().unwrap_or(WriteOutcome::Unprocessed),
                        Err(Failure::Validation(detail)) => WriteOutcome::Permanent(detail),
                        Err(Failure::Transient(reason)) => WriteOutcome::Transient(reason),
                    }
                });
                futures::future::join_all(singles).await
            }
            Err(Failure::Transient(reason)) => vec![WriteOutcome::Transient(reason); items.len()],
        }
    }

    async fn call(&self, items: &[DynamoItem]) -> Result<Vec<WriteOutcome>, Failure> {
        let mut requests = Vec::with_capacity(items.len());
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(item.clone()))
                .build()
                .map_err(|e| Failure::Validation(format!("could not build the PutRequest: {e}")))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let output = self
            .client
            .batch_write_item()
            .request_items(&self.table_name, requests)
            .send()
            .await
            .map_err(|e| classify(&e))?;

        let mut outcomes = vec![WriteOutcome::Written; items.len()];
        let unprocessed = output
            .unprocessed_items()
            .and_then(|tables| tables.get(&self.table_name));
        for request in unprocessed.into_iter().flatten() {
            let Some(item) = request.put_request().map(|p| p.item()) else {
                continue;
            };
            let found = items
                .iter()
                .zip(outcomes.iter_mut())
                .find(|(candidate, outcome)| {
                    **outcome == WriteOutcome::Written && *candidate == item
                });
            if let Some((_, outcome)) = found {
                *outcome = WriteOutcome::Unprocessed;
            }
        }
        Ok(outcomes)
    }
}

enum Failure {
    /// DynamoDB refused the request as invalid; it will never succeed as it is.
    Validation(String),
    /// Throttling (after the SDK's own retries), 5xx, timeouts, unreachable or missing table, …
    Transient(String),
}

fn classify(error: &SdkError<BatchWriteItemError>) -> Failure {
    let code = error.code().unwrap_or("");
    let message = error.message().unwrap_or("");
    if error.as_service_error().is_some() {
        return match code {
            "ValidationException" | "SerializationException" => {
                Failure::Validation(format!("{code}: {message}"))
            }
            _ => Failure::Transient(format!("BatchWriteItem failed: {code}: {message}")),
        };
    }
    Failure::Transient(format!(
        "BatchWriteItem failed: {}",
        DisplayErrorContext(error)
    ))
}

impl Table for DynamoDbTable {
    async fn batch_write(&self, items: Vec<Item>) -> BatchWriteResult {
        let mut outcomes: Vec<Option<WriteOutcome>> = vec![None; items.len()];
        let mut converted: Vec<(usize, DynamoItem)> = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            match serde_dynamo::to_item::<_, DynamoItem>(item) {
                Ok(item) => converted.push((index, item)),
                Err(e) => {
                    outcomes[index] =
                        Some(WriteOutcome::Permanent(format!("not a DynamoDB item: {e}")))
                }
            }
        }
        if !converted.is_empty() {
            let dynamo_items: Vec<DynamoItem> =
                converted.iter().map(|(_, item)| item.clone()).collect();
            let results = self.put(&dynamo_items).await;
            for ((index, _), outcome) in converted.iter().zip(results) {
                outcomes[*index] = Some(outcome);
            }
        }
        BatchWriteResult {
            outcomes: outcomes
                .into_iter()
                .map(|o| {
                    o.unwrap_or_else(|| WriteOutcome::Transient("no outcome from DynamoDB".into()))
                })
                .collect(),
        }
    }
}

/// An SQS queue receiving one message per permanent failure.
#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsDeadLetters {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl DeadLetters for SqsDeadLetters {
    async fn send(&self, message: DeadLetterMessage) -> Result<(), WriterError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message.to_json())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| WriterError::DeadLetter(DisplayErrorContext(&e).to_string()))
    }
}
