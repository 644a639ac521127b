//! The AWS side of the seams: a DynamoDB table ([`DynamoDbTable`]) and the dead-letter store, an SQS queue
//! with an S3 bucket for data too large for it ([`AwsDeadLetters`]). The clients are built once (in `main`)
//! and shared.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;

use crate::{
    DeadLetterMessage, DeadLetters, Item, PutResult, Table, WriteOutcome, WriterError, attribute,
};

type DynamoItem = HashMap<String, AttributeValue>;

/// The condition of every put: the ordering rule. Sequence numbers are decimal strings of up to 128 bits
/// (too long for DynamoDB's `N`), without leading zeros, so "not higher" is a shorter string, or one of the
/// same length that is not greater.
pub const ORDERING_CONDITION: &str =
    "attribute_not_exists(#seq) OR size(#seq) < :seqlen OR (size(#seq) = :seqlen AND #seq <= :seq)";

/// A DynamoDB table written with one conditional `PutItem` per item, in parallel (see [`ORDERING_CONDITION`];
/// `BatchWriteItem` takes no conditions).
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

    /// One conditional `PutItem`.
    async fn put(&self, item: Item) -> WriteOutcome {
        let sequence_number = item
            .get(attribute::SEQUENCE_NUMBER)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let item: DynamoItem = match serde_dynamo::to_item(item) {
            Ok(item) => item,
            Err(e) => return WriteOutcome::Permanent(format!("not a DynamoDB item: {e}")),
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item));
        if let Some(seq) = sequence_number {
            request = ordered(request, &seq);
        }
        match request.send().await {
            Ok(_) => WriteOutcome::Written,
            Err(e) => classify(&e),
        }
    }
}

/// Adds the ordering rule's condition for an item of sequence number `seq` to a put.
pub fn ordered(
    put: aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
    seq: &str,
) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
    put.condition_expression(ORDERING_CONDITION)
        .expression_attribute_names("#seq", attribute::SEQUENCE_NUMBER)
        .expression_attribute_values(":seq", AttributeValue::S(seq.to_owned()))
        .expression_attribute_values(":seqlen", AttributeValue::N(seq.len().to_string()))
}

/// What a failed `PutItem` means for the item.
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &SdkError<E, R>,
) -> WriteOutcome {
    let Some(service) = error.as_service_error() else {
        return WriteOutcome::Transient(format!("PutItem failed: {}", DisplayErrorContext(error)));
    };
    let code = service.code().unwrap_or("");
    let message = service.message().unwrap_or("");
    match code {
        "ConditionalCheckFailedException" => WriteOutcome::Superseded,
        "ValidationException" | "SerializationException" => {
            WriteOutcome::Permanent(format!("{code}: {message}"))
        }
        // Throttled after the SDK's own retries: the writer tries again with its backoff.
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => WriteOutcome::Unprocessed,
        _ => WriteOutcome::Transient(format!("PutItem failed: {code}: {message}")),
    }
}

impl Table for DynamoDbTable {
    async fn put_items(&self, items: Vec<Item>) -> PutResult {
        let puts = items.into_iter().map(|item| self.put(item));
        PutResult {
            outcomes: futures::future::join_all(puts).await,
        }
    }
}

/// The dead-letter store on AWS: an SQS queue receiving one message per permanent failure, and an S3 bucket
/// for the data of those whose message would be too large for the queue.
#[derive(Debug, Clone)]
pub struct AwsDeadLetters {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl AwsDeadLetters {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
    ) -> Self {
        AwsDeadLetters {
            sqs,
            queue_url: queue_url.into(),
            s3,
            bucket: bucket.into(),
        }
    }
}

/// Whether SQS refused a message for its size (`InvalidParameterValue`: "Message must be shorter than
/// 262144 bytes"), or the endpoint did (413).
fn too_large(
    error: &SdkError<
        aws_sdk_sqs::operation::send_message::SendMessageError,
        aws_sdk_sqs::config::http::HttpResponse,
    >,
) -> bool {
    if error.raw_response().map(|r| r.status().as_u16()) == Some(413) {
        return true;
    }
    let Some(service) = error.as_service_error() else {
        return false;
    };
    let message = service.message().unwrap_or("").to_ascii_lowercase();
    matches!(
        service.code(),
        Some("InvalidParameterValue" | "InvalidParameterValueException" | "MessageTooLong")
    ) && (message.contains("shorter than") || message.contains("too long"))
}

impl DeadLetters for AwsDeadLetters {
    async fn send(&self, message: DeadLetterMessage) -> Result<(), WriterError> {
        match self
            .sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message.to_json())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if too_large(&e) => Err(WriterError::DeadLetterTooLarge(
                DisplayErrorContext(&e).to_string(),
            )),
            Err(e) => Err(WriterError::DeadLetter(DisplayErrorContext(&e).to_string())),
        }
    }

    async fn store_data(
        &self,
        key: String,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<String, WriterError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/octet-stream")
            // S3 checks the bytes it received against this and refuses the put if they differ.
            .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(sha256))
            .body(data.into())
            .send()
            .await
            .map_err(|e| {
                WriterError::DeadLetterData(format!(
                    "PutObject s3://{}/{key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(self.bucket.clone())
    }
}

impl From<WriterError> for lambda_runtime::Diagnostic {
    fn from(error: WriterError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_error_report_carries_the_stable_type_and_the_message() {
        let error = WriterError::InvalidEvent("not a Kinesis event".into());
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "InvalidEvent");
        assert_eq!(
            diagnostic.error_message,
            "the invocation payload is not a Kinesis event: not a Kinesis event"
        );
    }
}
