//! The consumer contract: what the writer does with a record that can never be stored. It goes to the
//! consumer's dead-letter queue as a [`DeadLetterMessage`], with its data, naming the [`Reason`].

use serde::{Deserialize, Serialize};

/// The `source` member of every dead-letter message the writer sends.
pub const DEAD_LETTER_SOURCE: &str = "sluice.writer";

/// Why a record can never be written (the dead-letter message's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reason {
    /// The data is not UTF-8 JSON.
    NotJson,
    /// The data is JSON but not an envelope of a version this writer reads.
    NotAnEnvelope,
    /// The envelope's body is not a JSON object.
    BodyNotAnObject,
    /// The body lacks the member a key is filled from.
    MissingKey,
    /// A key value has the wrong type, is empty, or is over DynamoDB's key size.
    BadKeyType,
    /// The item would be over DynamoDB's item size limit.
    ItemTooLarge,
    /// DynamoDB refused the item (`ValidationException`).
    Rejected,
}

/// A permanent failure: the reason and a human-readable detail (never the payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permanent {
    pub reason: Reason,
    pub detail: String,
}

impl Permanent {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Permanent {
            reason,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Permanent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Permanent {}

/// The dead-letter message for a permanent failure: a JSON object, the SQS message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterMessage {
    /// Always [`DEAD_LETTER_SOURCE`].
    pub source: String,
    pub reason: Reason,
    pub detail: String,
    /// The stream's ARN (the event's `eventSourceARN`).
    pub stream: String,
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    /// Milliseconds since the epoch.
    pub arrival_time: i64,
    /// The record's data, base64.
    pub data: String,
}

impl DeadLetterMessage {
    /// The message body: the JSON object of the contract.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Why an event source mapping gave up on records (`requestContext.condition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Condition {
    /// The batch failed more often than `MaximumRetryAttempts` allows.
    RetryAttemptsExhausted,
    /// The records were older than `MaximumRecordAgeInSeconds`.
    RecordAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Condition::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// The message a Kinesis event source mapping sends to its on-failure destination when it gives up on a
/// range of records: AWS's shape, which the local emulator writes too. It names the records (shard and
/// sequence range), it does not carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnFailureMessage {
    pub request_context: OnFailureRequestContext,
    /// How the last invocation ended; absent when there was none to report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_context: Option<OnFailureResponseContext>,
    pub version: String,
    /// ISO 8601, milliseconds, UTC.
    pub timestamp: String,
    #[serde(rename = "KinesisBatchInfo")]
    pub kinesis_batch_info: KinesisBatchInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnFailureRequestContext {
    pub request_id: String,
    pub function_arn: String,
    pub condition: Condition,
    pub approximate_invoke_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnFailureResponseContext {
    pub status_code: u16,
    pub executed_version: String,
    /// `Unhandled` after a function error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_error: Option<String>,
}

/// The records an on-failure message names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisBatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    /// ISO 8601, milliseconds, UTC.
    pub approximate_arrival_of_first_record: String,
    pub approximate_arrival_of_last_record: String,
    pub batch_size: usize,
    pub stream_arn: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_on_failure_message_reads_as_aws_writes_it() {
        // AWS's documented shape (Lambda developer guide, "Kinesis on-failure destination").
        let aws = r#"{"requestContext":{"requestId":"r-1","functionArn":"arn:aws:lambda:us-east-1:111111111111:function:f","condition":"RetryAttemptsExhausted","approximateInvokeCount":4},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2024-06-01T10:00:00.000Z","KinesisBatchInfo":{"shardId":"shardId-000000000000","startSequenceNumber":"49","endSequenceNumber":"49","approximateArrivalOfFirstRecord":"2024-06-01T09:59:58.000Z","approximateArrivalOfLastRecord":"2024-06-01T09:59:58.000Z","batchSize":1,"streamArn":"arn:aws:kinesis:us-east-1:111111111111:stream/s"}}"#;
        let m: OnFailureMessage = serde_json::from_str(aws).unwrap();
        assert_eq!(
            m.request_context.condition,
            Condition::RetryAttemptsExhausted
        );
        assert_eq!(m.kinesis_batch_info.batch_size, 1);
        let back: serde_json::Value = serde_json::to_value(&m).unwrap();
        let original: serde_json::Value = serde_json::from_str(aws).unwrap();
        assert_eq!(back, original);
    }
}
