//! What `dlq` handles: a message as received from a queue ([`Queued`]), the stream records it stands for
//! ([`Rec`]), whether they can still be had ([`Hydrated`]), and why something failed ([`DlqError`]).

use base64::Engine as _;
use serde_json::{Value, json};
use sluice_contract::DataLocation;
use sluice_contract::consumer::KinesisBatchInfo;
use sluice_writer::KinesisEventRecord;

use crate::deployment::DeploymentError;

/// Why `dlq` could not read or put back a message's records.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DlqError {
    /// The body is no message of the contract.
    #[error("{0}")]
    Unreadable(sluice_contract::MessageError),
    #[error("the inline data is not base64: {0}")]
    InlineNotBase64(base64::DecodeError),
    #[error(
        "the dead-letter bucket no longer holds s3://{bucket}/{key} (the bucket's lifecycle rule expired it)"
    )]
    ObjectGone { bucket: String, key: String },
    #[error(
        "the object s3://{bucket}/{key} is not the record's data (size {size} / SHA-256 {sha256}, the message says {expected_size} / {expected_sha256})"
    )]
    NotTheData {
        bucket: String,
        key: String,
        size: usize,
        sha256: String,
        expected_size: u64,
        expected_sha256: String,
    },
    #[error("no consumer{} of stream {stream} sends to queue {queue}", .chosen.as_ref().map(|c| format!(" `{c}`")).unwrap_or_default())]
    NoConsumer {
        chosen: Option<String>,
        stream: String,
        queue: String,
    },
    #[error(
        "consumers {consumers} all read stream {stream} into queue {queue}: pick one with --consumer"
    )]
    SeveralConsumers {
        consumers: String,
        stream: String,
        queue: String,
    },
    #[error("consumer {0} has no table")]
    NoTable(String),
    #[error("no local table {0}")]
    NoLocalTable(String),
    #[error("{0}")]
    BadHandle(std::num::ParseIntError),
    #[error(transparent)]
    Local(#[from] sluice_local::StoreError),
    #[error(transparent)]
    Outputs(#[from] DeploymentError),
    /// An AWS call failed: the call, what it was on, and the SDK's account of why.
    #[error("{0}")]
    Aws(String),
}

/// A message as received from a queue.
#[derive(Debug, Clone)]
pub(super) struct Queued {
    /// The queue's name in pipeline.toml.
    pub queue: String,
    /// The row id locally, the SQS `MessageId` deployed.
    pub id: String,
    /// What deletes it: the row id locally, the receipt handle deployed.
    pub handle: String,
    pub body: String,
    pub sent_at_ms: i64,
}

/// One stream record, wherever it was read from.
#[derive(Debug, Clone)]
pub(super) struct Rec {
    pub stream_arn: String,
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    pub data: Vec<u8>,
    pub arrival_ms: i64,
}

impl Rec {
    /// The record as the event source mapping hands it to the writer.
    pub fn event_record(&self) -> KinesisEventRecord {
        let mut r = KinesisEventRecord::default();
        r.event_id = Some(format!("{}:{}", self.shard_id, self.sequence_number));
        r.event_name = Some("aws:kinesis:record".into());
        r.event_source = Some("aws:kinesis".into());
        r.event_source_arn = Some(self.stream_arn.clone());
        r.event_version = Some("1.0".into());
        r.kinesis.data.0 = self.data.clone();
        r.kinesis.partition_key = self.partition_key.clone();
        r.kinesis.sequence_number = self.sequence_number.clone();
        r.kinesis.kinesis_schema_version = Some("1.0".into());
        r.kinesis.approximate_arrival_timestamp.0 =
            chrono::DateTime::from_timestamp_millis(self.arrival_ms).unwrap_or_default();
        r
    }

    pub fn to_json(&self) -> Value {
        let mut line = json!({
            "shardId": self.shard_id,
            "sequenceNumber": self.sequence_number,
            "partitionKey": self.partition_key,
            "arrivalTime": self.arrival_ms,
            "size": self.data.len(),
            "data": base64::engine::general_purpose::STANDARD.encode(&self.data),
        });
        if let Ok(text) = std::str::from_utf8(&self.data) {
            line["text"] = Value::String(text.to_owned());
        }
        line
    }
}

/// The records a message names, or why they cannot be had.
pub(super) enum Hydrated {
    Records(Vec<Rec>),
    Gone(String),
}

/// Why an on-failure message's range cannot be read back: the stream no longer holds its start (`found` of
/// its records are still there).
pub(super) fn range_gone(info: &KinesisBatchInfo, retention_hours: u32, found: usize) -> String {
    format!(
        "the stream no longer holds sequence number {} of {} (its retention is {retention_hours} hours): {} of the {} records are gone{}",
        info.start_sequence_number,
        info.shard_id,
        info.batch_size.saturating_sub(found),
        info.batch_size,
        if found > 0 {
            format!(", {found} are still there")
        } else {
            String::new()
        }
    )
}

/// The bucket no longer holds a dead letter's data.
pub(super) fn object_gone(location: &DataLocation) -> DlqError {
    DlqError::ObjectGone {
        bucket: location.bucket.clone(),
        key: location.key.clone(),
    }
}
