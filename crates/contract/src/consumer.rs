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
    /// The envelope has a member twice, or a member the envelope does not have: a body that tried to set
    /// the gateway's members (`receivedAt`, `requestId`, `sourceIp`, …) itself.
    ForgedEnvelope,
    /// The envelope's body is not a JSON object.
    BodyNotAnObject,
    /// The body lacks the member a key is filled from.
    MissingKey,
    /// A key value has the wrong type, is empty, or is over DynamoDB's key size.
    BadKeyType,
    /// The item would be over DynamoDB's item size limit.
    ItemTooLarge,
    /// DynamoDB refused the item (`ValidationException`), or a consumer function wrote to a table it does
    /// not declare.
    Rejected,
    /// A consumer function refused the record (its own rule; the detail is its reason), or its body is not
    /// of the type the function reads.
    Refused,
}

impl Reason {
    /// Every reason, in the order of the enum.
    pub const ALL: [Reason; 9] = [
        Reason::NotJson,
        Reason::NotAnEnvelope,
        Reason::ForgedEnvelope,
        Reason::BodyNotAnObject,
        Reason::MissingKey,
        Reason::BadKeyType,
        Reason::ItemTooLarge,
        Reason::Rejected,
        Reason::Refused,
    ];

    /// The reason's name, as the dead-letter message's `reason` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotJson => "NotJson",
            Reason::NotAnEnvelope => "NotAnEnvelope",
            Reason::ForgedEnvelope => "ForgedEnvelope",
            Reason::BodyNotAnObject => "BodyNotAnObject",
            Reason::MissingKey => "MissingKey",
            Reason::BadKeyType => "BadKeyType",
            Reason::ItemTooLarge => "ItemTooLarge",
            Reason::Rejected => "Rejected",
            Reason::Refused => "Refused",
        }
    }
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
///
/// It carries the record's data in exactly one of two ways ([`RecordData`]): inline, base64 in `data`,
/// when the whole message fits the queue ([`crate::limits::MAX_DEAD_LETTER_MESSAGE_BYTES`]); otherwise
/// in the dead-letter bucket, named by `dataLocation`. [`DeadLetterMessage::from_json`] reads both and
/// refuses a message with both or neither.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WireDeadLetter", into = "WireDeadLetter")]
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
    /// The record's data, or where it is.
    pub data: RecordData,
}

/// Where a dead-letter message's record data is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// The data, base64 (standard alphabet, padded): the message's `data` member.
    Inline(String),
    /// The data is an object of the dead-letter bucket: the message's `dataLocation` member.
    Stored(DataLocation),
}

/// An object of the dead-letter bucket holding a record's data, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataLocation {
    pub bucket: String,
    /// [`dead_letter_object_key`] of the record.
    pub key: String,
    /// The data's length in bytes.
    pub size: u64,
    /// SHA-256 of the data, lowercase hex.
    pub sha256: String,
}

/// The object key of a record's data in the dead-letter bucket: `<stream name>/<shard id>/<sequence
/// number>`. One record, one key: a retry overwrites the object (with the same bytes) instead of adding one.
/// `stream` may be the stream's ARN or its name.
pub fn dead_letter_object_key(stream: &str, shard_id: &str, sequence_number: &str) -> String {
    let name = stream
        .rsplit_once(":stream/")
        .map_or(stream, |(_, name)| name);
    format!("{name}/{shard_id}/{sequence_number}")
}

/// The message on the wire: both data members optional, so that [`DeadLetterMessage`]'s `TryFrom` can say
/// which rule a message breaks.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireDeadLetter {
    source: String,
    reason: Reason,
    detail: String,
    stream: String,
    shard_id: String,
    sequence_number: String,
    partition_key: String,
    arrival_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_location: Option<DataLocation>,
}

/// Why a queue message's body is not a message sluice knows: [`QueueMessage::from_json`], and the rule
/// of [`DeadLetterMessage`]'s data members. (`Display` and `Error` by hand: this crate depends on serde
/// alone.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageError {
    /// The body is not JSON (the parser's message).
    NotJson(String),
    NotAnObject,
    /// `"source"` says it is the writer's dead letter, but it does not read as one.
    MalformedDeadLetter(String),
    /// It has `KinesisBatchInfo`, but does not read as an on-failure message.
    MalformedOnFailure(String),
    /// Neither a dead letter nor an on-failure message.
    Unknown,
    /// A dead letter with both `data` and `dataLocation`.
    BothData,
    /// A dead letter with neither `data` nor `dataLocation`.
    NoData,
}

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageError::NotJson(e) => write!(f, "the message body is not JSON: {e}"),
            MessageError::NotAnObject => f.write_str("the message body is not a JSON object"),
            MessageError::MalformedDeadLetter(e) => {
                write!(f, "a dead-letter message of the writer, but malformed: {e}")
            }
            MessageError::MalformedOnFailure(e) => write!(
                f,
                "an on-failure message of an event source mapping, but malformed: {e}"
            ),
            MessageError::Unknown => write!(
                f,
                "neither a writer's dead letter (\"source\": \"{DEAD_LETTER_SOURCE}\") nor an event source mapping's on-failure message (\"KinesisBatchInfo\")"
            ),
            MessageError::BothData => {
                f.write_str("a dead-letter message has `data` or `dataLocation`, not both")
            }
            MessageError::NoData => {
                f.write_str("a dead-letter message needs `data` or `dataLocation`")
            }
        }
    }
}

impl std::error::Error for MessageError {}

impl TryFrom<WireDeadLetter> for DeadLetterMessage {
    type Error = MessageError;

    fn try_from(wire: WireDeadLetter) -> Result<Self, MessageError> {
        let data = match (wire.data, wire.data_location) {
            (Some(data), None) => RecordData::Inline(data),
            (None, Some(location)) => RecordData::Stored(location),
            (Some(_), Some(_)) => return Err(MessageError::BothData),
            (None, None) => return Err(MessageError::NoData),
        };
        Ok(DeadLetterMessage {
            source: wire.source,
            reason: wire.reason,
            detail: wire.detail,
            stream: wire.stream,
            shard_id: wire.shard_id,
            sequence_number: wire.sequence_number,
            partition_key: wire.partition_key,
            arrival_time: wire.arrival_time,
            data,
        })
    }
}

impl From<DeadLetterMessage> for WireDeadLetter {
    fn from(m: DeadLetterMessage) -> Self {
        let (data, data_location) = match m.data {
            RecordData::Inline(data) => (Some(data), None),
            RecordData::Stored(location) => (None, Some(location)),
        };
        WireDeadLetter {
            source: m.source,
            reason: m.reason,
            detail: m.detail,
            stream: m.stream,
            shard_id: m.shard_id,
            sequence_number: m.sequence_number,
            partition_key: m.partition_key,
            arrival_time: m.arrival_time,
            data,
            data_location,
        }
    }
}

impl DeadLetterMessage {
    /// The message body: the JSON object of the contract.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a message body of either form (data inline or in the bucket).
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// The object key of this record's data in the dead-letter bucket ([`dead_letter_object_key`]).
    pub fn object_key(&self) -> String {
        dead_letter_object_key(&self.stream, &self.shard_id, &self.sequence_number)
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
    /// `Unhandled` after a function error; `null` (present, as AWS writes it) after a returned response.
    #[serde(default)]
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

/// A message of a consumer's dead-letter queue: the writer's dead letter for a record it can never store, or
/// the event source mapping's on-failure message for records it gave up on. Both kinds share the queue, on AWS
/// and locally; [`QueueMessage::from_json`] is the one parser `cargo xtask dlq` reads either with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueMessage {
    DeadLetter(DeadLetterMessage),
    OnFailure(OnFailureMessage),
}

impl QueueMessage {
    /// Reads a message body: a writer's dead letter (`"source": "sluice.writer"`) or an on-failure message
    /// (`KinesisBatchInfo`); anything else is refused, saying what it is not.
    pub fn from_json(body: &str) -> Result<Self, MessageError> {
        let value: serde_json::Value =
            serde_json::from_str(body).map_err(|e| MessageError::NotJson(e.to_string()))?;
        let Some(object) = value.as_object() else {
            return Err(MessageError::NotAnObject);
        };
        if object.get("source").and_then(serde_json::Value::as_str) == Some(DEAD_LETTER_SOURCE) {
            return DeadLetterMessage::deserialize(value)
                .map(QueueMessage::DeadLetter)
                .map_err(|e| MessageError::MalformedDeadLetter(e.to_string()));
        }
        if object.contains_key("KinesisBatchInfo") {
            return OnFailureMessage::deserialize(value)
                .map(QueueMessage::OnFailure)
                .map_err(|e| MessageError::MalformedOnFailure(e.to_string()));
        }
        Err(MessageError::Unknown)
    }

    /// The message body, as its writer writes it.
    pub fn to_json(&self) -> String {
        match self {
            QueueMessage::DeadLetter(m) => m.to_json(),
            // Plain strings and numbers: serialising cannot fail.
            QueueMessage::OnFailure(m) => serde_json::to_string(m).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(data: RecordData) -> DeadLetterMessage {
        DeadLetterMessage {
            source: DEAD_LETTER_SOURCE.into(),
            reason: Reason::ItemTooLarge,
            detail: "too big".into(),
            stream: "arn:aws:kinesis:us-east-1:111111111111:stream/shop-Orders".into(),
            shard_id: "shardId-000000000001".into(),
            sequence_number: "49".into(),
            partition_key: "k".into(),
            arrival_time: 5,
            data,
        }
    }

    #[test]
    fn a_dead_letter_carries_its_data_inline_or_points_at_the_bucket() {
        let inline = message(RecordData::Inline("AAE=".into()));
        let json: serde_json::Value = serde_json::from_str(&inline.to_json()).unwrap();
        assert_eq!(json["data"], "AAE=");
        assert!(json.get("dataLocation").is_none(), "{json}");
        assert_eq!(
            DeadLetterMessage::from_json(&inline.to_json()).unwrap(),
            inline
        );

        let stored = message(RecordData::Stored(DataLocation {
            bucket: "shop-dead-letters-1".into(),
            key: "shop-Orders/shardId-000000000001/49".into(),
            size: 450_000,
            sha256: "ab".repeat(32),
        }));
        let json: serde_json::Value = serde_json::from_str(&stored.to_json()).unwrap();
        assert!(json.get("data").is_none(), "{json}");
        assert_eq!(
            json["dataLocation"],
            serde_json::json!({"bucket": "shop-dead-letters-1", "key": "shop-Orders/shardId-000000000001/49", "size": 450_000, "sha256": "ab".repeat(32)})
        );
        assert_eq!(
            DeadLetterMessage::from_json(&stored.to_json()).unwrap(),
            stored
        );
        assert_eq!(stored.object_key(), "shop-Orders/shardId-000000000001/49");
    }

    #[test]
    fn a_dead_letter_with_both_or_neither_data_members_is_refused() {
        let mut json: serde_json::Value =
            serde_json::from_str(&message(RecordData::Inline("AAE=".into())).to_json()).unwrap();
        json["dataLocation"] =
            serde_json::json!({"bucket": "b", "key": "k", "size": 2, "sha256": "00"});
        let both = DeadLetterMessage::from_json(&json.to_string()).unwrap_err();
        assert!(both.to_string().contains("not both"), "{both}");
        json.as_object_mut().unwrap().remove("dataLocation");
        json.as_object_mut().unwrap().remove("data");
        let neither = DeadLetterMessage::from_json(&json.to_string()).unwrap_err();
        assert!(neither.to_string().contains("needs"), "{neither}");
    }

    #[test]
    fn reason_names_are_the_wire_names() {
        for reason in Reason::ALL {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::Value::String(reason.as_str().into())
            );
        }
    }

    #[test]
    fn object_keys_name_stream_shard_and_sequence_number() {
        assert_eq!(
            dead_letter_object_key(
                "arn:aws:kinesis:eu-west-1:1:stream/p-S",
                "shardId-000000000000",
                "4959"
            ),
            "p-S/shardId-000000000000/4959"
        );
        assert_eq!(dead_letter_object_key("p-S", "s", "1"), "p-S/s/1");
    }

    /// AWS's three shapes, as LocalStack recorded them from real AWS (`functionError: null` after a returned
    /// response that ran out of retries; no `responseContext` for expired records, which count one
    /// invocation): each reads and writes back identically, through the one parser.
    #[test]
    fn on_failure_messages_of_every_kind_round_trip_through_the_one_parser() {
        let info = r#""KinesisBatchInfo":{"shardId":"shardId-000000000000","startSequenceNumber":"49","endSequenceNumber":"50","approximateArrivalOfFirstRecord":"2024-06-01T09:59:58.000Z","approximateArrivalOfLastRecord":"2024-06-01T09:59:59.000Z","batchSize":2,"streamArn":"arn:aws:kinesis:us-east-1:111111111111:stream/s"}"#;
        let returned = format!(
            r#"{{"requestContext":{{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:111111111111:function:f","condition":"RetryAttemptsExhausted","approximateInvokeCount":3}},"responseContext":{{"statusCode":200,"executedVersion":"$LATEST","functionError":null}},"version":"1.0","timestamp":"2024-06-01T10:00:00.000Z",{info}}}"#
        );
        let expired = format!(
            r#"{{"requestContext":{{"requestId":"r","functionArn":"arn:aws:lambda:us-east-1:111111111111:function:f","condition":"RecordAgeExceeded","approximateInvokeCount":1}},"version":"1.0","timestamp":"2024-06-01T10:00:00.000Z",{info}}}"#
        );
        for body in [returned, expired] {
            let QueueMessage::OnFailure(m) = QueueMessage::from_json(&body).unwrap() else {
                panic!("not read as an on-failure message: {body}");
            };
            let back: serde_json::Value =
                serde_json::from_str(&QueueMessage::OnFailure(m).to_json()).unwrap();
            let original: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(back, original);
        }
        let dead = message(RecordData::Inline("AAE=".into()));
        assert_eq!(
            QueueMessage::from_json(&dead.to_json()).unwrap(),
            QueueMessage::DeadLetter(dead)
        );
        let other = QueueMessage::from_json(r#"{"hello":1}"#).unwrap_err();
        assert!(other.to_string().contains("neither"), "{other}");
        let broken = QueueMessage::from_json(r#"{"source":"sluice.writer"}"#).unwrap_err();
        assert!(broken.to_string().contains("malformed"), "{broken}");
        assert!(
            QueueMessage::from_json("[")
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }

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
