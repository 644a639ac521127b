//! The dead-letter seam: the consumer contract's message for a permanent failure ([`dead_letter_message`]),
//! the store it goes to ([`DeadLetters`]), and how one record is dead-lettered (inline, or its data in the
//! bucket and a pointer in the queue).

use std::future::Future;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sluice_contract::limits::{MAX_DEAD_LETTER_DETAIL_CHARS, MAX_DEAD_LETTER_MESSAGE_BYTES};

use crate::{
    ConsumerError, DEAD_LETTER_SOURCE, DataLocation, DeadLetterMessage, KinesisEventRecord,
    Permanent, RecordData, shard_id,
};

/// The dead-letter message (`docs/CONTRACTS.md`, consumer contract) for a record that failed permanently,
/// with the record's data inline. (When that is too large for the queue, [`handle_batch`](crate::handle_batch) stores the data
/// in the dead-letter bucket and sends the same message with [`RecordData::Stored`] instead.)
pub fn dead_letter_message(record: &KinesisEventRecord, failure: &Permanent) -> DeadLetterMessage {
    let mut detail = failure.detail.clone();
    if let Some((cut, _)) = detail.char_indices().nth(MAX_DEAD_LETTER_DETAIL_CHARS) {
        detail.truncate(cut);
        detail.push('…');
    }
    DeadLetterMessage {
        source: DEAD_LETTER_SOURCE.to_owned(),
        reason: failure.reason,
        detail,
        stream: record.event_source_arn.clone().unwrap_or_default(),
        shard_id: shard_id(record).unwrap_or_default().to_owned(),
        sequence_number: record.kinesis.sequence_number.clone(),
        partition_key: record.kinesis.partition_key.clone(),
        arrival_time: record
            .kinesis
            .approximate_arrival_timestamp
            .0
            .timestamp_millis(),
        data: RecordData::Inline(
            base64::engine::general_purpose::STANDARD.encode(&record.kinesis.data.0),
        ),
    }
}

/// Where permanent failures go: an SQS queue and an S3 bucket on AWS (`aws::AwsDeadLetters`), SQLite
/// tables locally.
pub trait DeadLetters: Send + Sync {
    /// Stores one message durably. [`ConsumerError::DeadLetterTooLarge`] when the queue refuses it for its
    /// size (the writer then stores the data in the bucket and sends a pointer); any other error makes the
    /// record a transient failure (nothing is lost).
    fn send(
        &self,
        message: DeadLetterMessage,
    ) -> impl Future<Output = Result<(), ConsumerError>> + Send;

    /// Stores a record's data, byte for byte, as the object `key` of the dead-letter bucket (replacing an
    /// object of that key), checked against its SHA-256; answers the bucket's name.
    fn store_data(
        &self,
        key: String,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> impl Future<Output = Result<String, ConsumerError>> + Send;
}

/// Lowercase hex.
#[doc(hidden)]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// How a dead letter reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The message carries the data.
    Inline,
    /// The data is in the bucket; the message points at it.
    Stored,
}

/// Dead-letters one record: inline when the message fits the queue, otherwise (or when the queue refuses
/// it for its size) the data into the bucket and a message pointing at it.
pub(crate) async fn dead_letter(
    dead_letters: &impl DeadLetters,
    record: &KinesisEventRecord,
    failure: &Permanent,
) -> Result<Delivery, ConsumerError> {
    let message = dead_letter_message(record, failure);
    if message.to_json().len() <= MAX_DEAD_LETTER_MESSAGE_BYTES {
        match dead_letters.send(message.clone()).await {
            Ok(()) => return Ok(Delivery::Inline),
            Err(ConsumerError::DeadLetterTooLarge(detail)) => {
                tracing::warn!(
                    sequence_number = %record.kinesis.sequence_number,
                    %detail,
                    "the dead-letter queue refused the message as too large; storing the data in the bucket"
                );
            }
            Err(e) => return Err(e),
        }
    }
    let data = record.kinesis.data.0.clone();
    let sha256: [u8; 32] = Sha256::digest(&data).into();
    let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
    let key = message.object_key();
    let bucket = dead_letters.store_data(key.clone(), data, sha256).await?;
    let pointer = DeadLetterMessage {
        data: RecordData::Stored(DataLocation {
            bucket,
            key,
            size,
            sha256: hex(&sha256),
        }),
        ..message
    };
    dead_letters.send(pointer).await?;
    Ok(Delivery::Stored)
}
