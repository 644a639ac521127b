//! The rules of sluice's stream writer: Kinesis records of the record contract → DynamoDB items, with the
//! consumer contract's failure classification (see `docs/CONTRACTS.md`).
//!
//! [`handle_batch`] is the one function both the Lambda (`main.rs`, with [`aws::DynamoDbTable`] and
//! [`aws::SqsDeadLetters`]) and the local runtime of `cargo xtask dev` (with SQLite implementations) call.
//!
//! Per record:
//! 1. decode the envelope and build the item ([`build_item`], pure) — or a [`Permanent`] failure;
//! 2. de-duplicate: for one key only the record with the highest sequence number is written;
//! 3. put the items with [`Table::put_items`] in chunks of [`MAX_BATCH_WRITE_ITEMS`], chunks in parallel, each
//!    put conditional on the ordering rule (an item is never replaced by one with a lower sequence number:
//!    such a record is *superseded*, which counts as done), retrying unprocessed (throttled) items with
//!    bounded exponential backoff and full jitter;
//! 4. dead-letter every permanent failure, in sequence-number order, with its data: inline when the message
//!    fits the queue, otherwise in the dead-letter bucket with a message pointing at it
//!    ([`DeadLetters`]). A permanent failure that comes after the first transient failure of the batch is
//!    *held back*: the event source mapping redelivers every record from the lowest failed sequence number
//!    on, so it is dead-lettered once, when it comes again, not on every retry. A failed send makes the
//!    record a transient failure;
//! 5. report transient failures (and held-back records) in `batchItemFailures` (sequence numbers of this
//!    batch only).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

pub use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
pub use aws_lambda_events::event::streams::KinesisEventResponse;
use base64::Engine as _;
use futures::StreamExt as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
pub use sluice_contract::consumer::DEAD_LETTER_SOURCE;
use sluice_contract::env;
use sluice_contract::envelope::json_type;
pub use sluice_contract::envelope::{Envelope, decode as decode_envelope};
pub use sluice_contract::limits::MAX_BATCH_WRITE_ITEMS;
use sluice_contract::limits::{
    MAX_DEAD_LETTER_DETAIL_CHARS, MAX_DEAD_LETTER_MESSAGE_BYTES, MAX_ITEM_BYTES,
    MAX_PARTITION_KEY_VALUE_BYTES, MAX_SORT_KEY_VALUE_BYTES,
};
use sluice_contract::writer::attribute;
pub use sluice_contract::{
    DataLocation, DeadLetterMessage, KeyAttribute, KeyType, Permanent, Reason, RecordData,
};

#[cfg(feature = "aws")]
pub mod aws;

/// An item as a plain JSON object (the seam type). The AWS table converts it with `serde_dynamo`; the local
/// runtime stores it as JSON.
pub type Item = Map<String, Value>;

/// Everything that can go wrong around the writer (its handler itself never fails: failures are per record).
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("environment variable {0} is not set; the generated Terraform sets it on the function")]
    MissingSetting(&'static str),
    #[error("environment variable {name} = {value:?} is invalid: expected {expected}")]
    InvalidSetting {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("could not send a message to the dead-letter queue: {0}")]
    DeadLetter(String),
    /// The queue refused the message for its size: not worth retrying as it is; the writer puts the data
    /// into the dead-letter bucket and sends a message pointing at it instead.
    #[error("the dead-letter queue refused the message as too large: {0}")]
    DeadLetterTooLarge(String),
    #[error("could not store a dead letter's data in the dead-letter bucket: {0}")]
    DeadLetterData(String),
    #[error("the invocation payload is not a Kinesis event: {0}")]
    InvalidEvent(String),
}

impl WriterError {
    /// A stable error type for the Lambda error report.
    pub fn error_type(&self) -> &'static str {
        match self {
            WriterError::MissingSetting(_) | WriterError::InvalidSetting { .. } => {
                "InvalidConfiguration"
            }
            WriterError::DeadLetter(_) | WriterError::DeadLetterData(_) => "Retryable",
            WriterError::DeadLetterTooLarge(_) => "MessageTooLarge",
            WriterError::InvalidEvent(_) => "InvalidEvent",
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------------------

/// How hard to try writing unprocessed (throttled) items before reporting them to the event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePolicy {
    /// [`Table::put_items`] calls per chunk, the first included.
    pub max_attempts: u32,
    /// Backoff before retry `n` (from 0) is uniformly random in `0..=min(max_delay, base_delay * 2^n)`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Chunks written at the same time (on AWS each item of a chunk is its own `PutItem` request, so at most
    /// `MAX_BATCH_WRITE_ITEMS * max_concurrent_chunks` requests are in flight).
    pub max_concurrent_chunks: usize,
}

impl Default for WritePolicy {
    fn default() -> Self {
        WritePolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            max_concurrent_chunks: 4,
        }
    }
}

/// Which table the writer fills and how its key is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    pub table_name: String,
    /// Filled from the Kinesis record's partition key (the route's path parameter).
    pub partition_key: KeyAttribute,
    /// Filled from the member of the same name of the body.
    pub sort_key: Option<KeyAttribute>,
    pub write: WritePolicy,
}

impl WriterConfig {
    /// A config with an `S` partition key, no sort key and the default write policy.
    pub fn new(table_name: impl Into<String>, partition_key: impl Into<String>) -> Self {
        WriterConfig {
            table_name: table_name.into(),
            partition_key: KeyAttribute::new(partition_key, KeyType::S),
            sort_key: None,
            write: WritePolicy::default(),
        }
    }

    /// Reads the table name, the partition key's name and type (`S`|`N`, default `S`), and the sort key's
    /// (optional) from the environment the generated Terraform sets ([`sluice_contract::env`]).
    pub fn from_env() -> Result<Self, WriterError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`WriterConfig::from_env`] over any lookup (for tests and the local runtime).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, WriterError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let table_name =
            non_empty(env::TABLE_NAME).ok_or(WriterError::MissingSetting(env::TABLE_NAME))?;
        let partition_name = non_empty(env::PARTITION_KEY_NAME)
            .ok_or(WriterError::MissingSetting(env::PARTITION_KEY_NAME))?;
        let partition_key = KeyAttribute::new(
            partition_name,
            key_type(env::PARTITION_KEY_TYPE, non_empty(env::PARTITION_KEY_TYPE))?,
        );
        let sort_key = match non_empty(env::SORT_KEY_NAME) {
            None => None,
            Some(name) => Some(KeyAttribute::new(
                name,
                key_type(env::SORT_KEY_TYPE, non_empty(env::SORT_KEY_TYPE))?,
            )),
        };
        Ok(WriterConfig {
            table_name,
            partition_key,
            sort_key,
            write: WritePolicy::default(),
        })
    }
}

fn key_type(name: &'static str, value: Option<String>) -> Result<KeyType, WriterError> {
    match value.as_deref().map(str::trim) {
        None => Ok(KeyType::S),
        Some(v) => KeyType::parse(v).ok_or_else(|| WriterError::InvalidSetting {
            name,
            value: v.to_owned(),
            expected: "S or N",
        }),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The event
// ---------------------------------------------------------------------------------------------------------

/// Reads a Kinesis event from its JSON, with exact `approximateArrivalTimestamp`s.
///
/// `aws_lambda_events` 1.x reads the fraction of `approximateArrivalTimestamp` (seconds) as a count of
/// milliseconds whatever its length, so `1732752000.5` becomes `…000.005` and `1732752000.98` becomes `…000.098`
/// (and a fraction of more than three digits fails the whole event). This reads each timestamp as the decimal
/// number of seconds it is, rounded to milliseconds, and deserialises everything else with `aws_lambda_events`.
/// `main.rs` uses it; so should any caller that has the event as JSON.
pub fn kinesis_event_from_json(mut value: Value) -> Result<KinesisEvent, WriterError> {
    let mut arrivals: Vec<Option<i64>> = Vec::new();
    if let Some(records) = value.get_mut("Records").and_then(Value::as_array_mut) {
        for record in records {
            let field = record
                .get_mut("kinesis")
                .and_then(|k| k.get_mut("approximateArrivalTimestamp"));
            let millis = field.as_deref().and_then(seconds_to_millis);
            if let (Some(field), Some(millis)) = (field, millis) {
                // Whole seconds deserialise correctly; the exact value is put back below.
                *field = Value::from(millis.div_euclid(1000));
            }
            arrivals.push(millis);
        }
    }
    let mut event: KinesisEvent =
        serde_json::from_value(value).map_err(|e| WriterError::InvalidEvent(e.to_string()))?;
    for (record, millis) in event.records.iter_mut().zip(arrivals) {
        if let Some(time) = millis.and_then(chrono::DateTime::from_timestamp_millis) {
            record.kinesis.approximate_arrival_timestamp.0 = time;
        }
    }
    Ok(event)
}

/// Seconds since the epoch (a JSON number or numeric string) → milliseconds, rounded.
fn seconds_to_millis(value: &Value) -> Option<i64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    let millis = (seconds * 1000.0).round();
    #[allow(clippy::cast_possible_truncation)]
    (millis.is_finite() && millis.abs() < 1.0e17).then_some(millis as i64)
}

// ---------------------------------------------------------------------------------------------------------
// Records → items
// ---------------------------------------------------------------------------------------------------------

/// The identity of an item in its table: the key values in canonical text (numbers normalised, so `1`, `1.0`
/// and `01` are one key, as in DynamoDB).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub partition: String,
    pub sort: Option<String>,
}

/// What the writer knows about a record besides its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta<'a> {
    pub partition_key: &'a str,
    pub sequence_number: &'a str,
    /// `None` when the event does not say (the attribute is then left out).
    pub shard_id: Option<&'a str>,
    /// Milliseconds since the epoch.
    pub arrival_time: i64,
}

impl<'a> RecordMeta<'a> {
    pub fn of(record: &'a KinesisEventRecord) -> Self {
        RecordMeta {
            partition_key: &record.kinesis.partition_key,
            sequence_number: &record.kinesis.sequence_number,
            shard_id: shard_id(record),
            arrival_time: record
                .kinesis
                .approximate_arrival_timestamp
                .0
                .timestamp_millis(),
        }
    }
}

/// The shard id of a record: the part of `eventID` (`shardId-…:sequenceNumber`) before the colon.
pub fn shard_id(record: &KinesisEventRecord) -> Option<&str> {
    let event_id = record.event_id.as_deref()?;
    let (shard, _) = event_id.split_once(':')?;
    (!shard.is_empty()).then_some(shard)
}

/// The item for a record's data and metadata (the record contract's table), or why there can never be one.
/// The local runtime calls this too.
pub fn item_from_envelope(
    config: &WriterConfig,
    data: &[u8],
    meta: RecordMeta<'_>,
) -> Result<(ItemKey, Item), Permanent> {
    let envelope = decode_envelope(data)?;

    let (partition_value, partition_text) = key_value(
        &config.partition_key,
        KeySource::Text(meta.partition_key),
        MAX_PARTITION_KEY_VALUE_BYTES,
    )?;
    let sort = match &config.sort_key {
        None => None,
        Some(sort_key) => {
            let member = envelope.body.get(&sort_key.name).ok_or_else(|| {
                Permanent::new(
                    Reason::MissingKey,
                    format!(
                        "the body has no member {:?} for the sort key",
                        sort_key.name
                    ),
                )
            })?;
            Some((
                sort_key,
                key_value(
                    sort_key,
                    KeySource::BodyMember(member),
                    MAX_SORT_KEY_VALUE_BYTES,
                )?,
            ))
        }
    };

    let mut item = Item::new();
    item.insert(attribute::PAYLOAD.into(), Value::Object(envelope.body));
    if let Some(received_at) = envelope.received_at {
        item.insert(attribute::RECEIVED_AT.into(), received_at);
    }
    if let Some(request_id) = envelope.request_id {
        item.insert(attribute::REQUEST_ID.into(), Value::String(request_id));
    }
    if let Some(source_ip) = envelope.source_ip {
        item.insert(attribute::SOURCE_IP.into(), Value::String(source_ip));
    }
    item.insert(
        attribute::SEQUENCE_NUMBER.into(),
        Value::String(meta.sequence_number.to_owned()),
    );
    if let Some(shard) = meta.shard_id {
        item.insert(attribute::SHARD_ID.into(), Value::String(shard.to_owned()));
    }
    item.insert(
        attribute::ARRIVAL_TIME.into(),
        Value::from(meta.arrival_time),
    );
    // Keys last: they win over a traceability attribute of the same name.
    item.insert(config.partition_key.name.clone(), partition_value);
    let mut key = ItemKey {
        partition: partition_text,
        sort: None,
    };
    if let Some((sort_key, (value, text))) = sort {
        item.insert(sort_key.name.clone(), value);
        key.sort = Some(text);
    }

    let size = item_size(&item);
    if size > MAX_ITEM_BYTES {
        return Err(Permanent::new(
            Reason::ItemTooLarge,
            format!("the item would be about {size} bytes; DynamoDB's limit is {MAX_ITEM_BYTES}"),
        ));
    }
    Ok((key, item))
}

/// [`item_from_envelope`] for a Kinesis event record.
pub fn build_item(
    config: &WriterConfig,
    record: &KinesisEventRecord,
) -> Result<(ItemKey, Item), Permanent> {
    item_from_envelope(config, &record.kinesis.data.0, RecordMeta::of(record))
}

enum KeySource<'a> {
    /// The record's partition key, or a string member of the body (parsed for an `N` key).
    Text(&'a str),
    BodyMember(&'a Value),
}

/// A key attribute's value and its canonical text.
fn key_value(
    attribute: &KeyAttribute,
    source: KeySource<'_>,
    max_bytes: usize,
) -> Result<(Value, String), Permanent> {
    let name = &attribute.name;
    let bad = |detail: String| Permanent::new(Reason::BadKeyType, detail);
    let source = match source {
        KeySource::BodyMember(Value::String(s)) => KeySource::Text(s.as_str()),
        other => other,
    };
    match (attribute.kind, source) {
        (KeyType::S, KeySource::Text(s)) => {
            if s.is_empty() {
                return Err(bad(format!("key {name:?} is an empty string")));
            }
            if s.len() > max_bytes {
                return Err(bad(format!(
                    "key {name:?} is {} bytes; DynamoDB allows at most {max_bytes}",
                    s.len()
                )));
            }
            Ok((Value::String(s.to_owned()), s.to_owned()))
        }
        (KeyType::N, KeySource::Text(s)) => match canonical_number(s.trim()) {
            Some((value, text)) => Ok((value, text)),
            None => Err(bad(format!(
                "key {name:?} must be a number (N) that DynamoDB stores exactly, got {s:?}"
            ))),
        },
        (KeyType::N, KeySource::BodyMember(Value::Number(n))) => {
            match canonical_number(&n.to_string()) {
                Some((value, text)) => Ok((value, text)),
                None => Err(bad(format!(
                    "key {name:?} must be a number (N) that DynamoDB stores exactly"
                ))),
            }
        }
        (kind, KeySource::BodyMember(other)) => Err(bad(format!(
            "body member {name:?} is a {}, but the key is of type {kind:?}",
            json_type(other)
        ))),
    }
}

/// A JSON number and its canonical text for a decimal string, if it round-trips exactly: integers in the
/// `i64`/`u64` range, or decimals of at most 15 significant digits.
fn canonical_number(s: &str) -> Option<(Value, String)> {
    if let Ok(i) = s.parse::<i64>() {
        return Some((Value::from(i), i.to_string()));
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some((Value::from(u), u.to_string()));
    }
    let digits = s.trim_start_matches(['+', '-']);
    let (mantissa, _) = digits.split_once(['e', 'E']).unwrap_or((digits, ""));
    if mantissa.is_empty() || !mantissa.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let significant = mantissa.trim_start_matches(['0', '.']).replace('.', "");
    if significant.trim_end_matches('0').len() > 15 {
        return None;
    }
    let f = s.parse::<f64>().ok().filter(|f| f.is_finite())?;
    let number = serde_json::Number::from_f64(f)?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        // An integer written as a decimal ("2.0", "1e3"): store and compare it as the integer.
        #[allow(clippy::cast_possible_truncation)]
        let i = f as i64;
        return Some((Value::from(i), i.to_string()));
    }
    Some((Value::Number(number), f.to_string()))
}

/// DynamoDB's size of an item (names + values, per the documented rules), slightly over-estimated for numbers.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::String(s) => s.len(),
        // Up to 38 significant digits: about one byte per two digits, plus one.
        Value::Number(n) => n.to_string().len().div_ceil(2) + 1,
        Value::Array(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::Object(members) => {
            3 + members
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

/// Orders Kinesis sequence numbers (decimal strings of up to 128 bits) numerically.
pub fn compare_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

// ---------------------------------------------------------------------------------------------------------
// Seams
// ---------------------------------------------------------------------------------------------------------

/// What became of one item of a [`Table::put_items`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Stored.
    Written,
    /// Not stored because the table holds an item of the same key with a higher sequence number (the
    /// ordering rule): the record is done, a newer one already won.
    Superseded,
    /// Not stored this time, try again soon (throttling); [`handle_batch`] retries these with backoff, and
    /// reports them as transient once its attempts are used up.
    Unprocessed,
    /// Can never be stored (e.g. DynamoDB's `ValidationException` for this item): dead-lettered as `Rejected`.
    Permanent(String),
    /// Not stored now, may be later (5xx, timeouts, missing table): reported in `batchItemFailures` so the
    /// event source mapping retries the record.
    Transient(String),
}

/// The outcomes of a [`Table::put_items`] call: `outcomes[i]` is the outcome of `items[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutResult {
    pub outcomes: Vec<WriteOutcome>,
}

impl PutResult {
    /// Every one of `n` items stored.
    pub fn all_written(n: usize) -> Self {
        PutResult {
            outcomes: vec![WriteOutcome::Written; n],
        }
    }

    /// Every one of `n` items failed transiently, for one reason.
    pub fn all_transient(n: usize, reason: impl Into<String>) -> Self {
        PutResult {
            outcomes: vec![WriteOutcome::Transient(reason.into()); n],
        }
    }
}

/// A table the writer puts items into: DynamoDB on AWS ([`aws::DynamoDbTable`]), SQLite locally.
pub trait Table: Send + Sync {
    /// Puts up to [`MAX_BATCH_WRITE_ITEMS`] items with distinct keys, each one only if the table holds no
    /// item of its key or one whose [`attribute::SEQUENCE_NUMBER`] is not higher than the new item's
    /// (compared as numbers, [`compare_sequence_numbers`]); otherwise that item is
    /// [`WriteOutcome::Superseded`]. Says per item what happened, in the order given.
    fn put_items(&self, items: Vec<Item>) -> impl Future<Output = PutResult> + Send;
}

/// The dead-letter message (`docs/CONTRACTS.md`, consumer contract) for a record that failed permanently,
/// with the record's data inline. (When that is too large for the queue, [`handle_batch`] stores the data
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

/// Where permanent failures go: an SQS queue and an S3 bucket on AWS ([`aws::SqsDeadLetters`]), SQLite
/// tables locally.
pub trait DeadLetters: Send + Sync {
    /// Stores one message durably. [`WriterError::DeadLetterTooLarge`] when the queue refuses it for its
    /// size (the writer then stores the data in the bucket and sends a pointer); any other error makes the
    /// record a transient failure (nothing is lost).
    fn send(
        &self,
        message: DeadLetterMessage,
    ) -> impl Future<Output = Result<(), WriterError>> + Send;

    /// Stores a record's data, byte for byte, as the object `key` of the dead-letter bucket (replacing an
    /// object of that key), checked against its SHA-256; answers the bucket's name.
    fn store_data(
        &self,
        key: String,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> impl Future<Output = Result<String, WriterError>> + Send;
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// How a dead letter reached the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// The message carries the data.
    Inline,
    /// The data is in the bucket; the message points at it.
    Stored,
}

/// Dead-letters one record: inline when the message fits the queue, otherwise (or when the queue refuses
/// it for its size) the data into the bucket and a message pointing at it.
async fn dead_letter(
    dead_letters: &impl DeadLetters,
    record: &KinesisEventRecord,
    failure: &Permanent,
) -> Result<Delivery, WriterError> {
    let message = dead_letter_message(record, failure);
    if message.to_json().len() <= MAX_DEAD_LETTER_MESSAGE_BYTES {
        match dead_letters.send(message.clone()).await {
            Ok(()) => return Ok(Delivery::Inline),
            Err(WriterError::DeadLetterTooLarge(detail)) => {
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

// ---------------------------------------------------------------------------------------------------------
// The batch
// ---------------------------------------------------------------------------------------------------------

/// Final state of one record of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Written,
    /// Not written: an item of its key with a higher sequence number won (in this batch or in the table).
    Superseded,
    /// Needs a dead-letter message.
    Permanent(Permanent),
    DeadLettered(Delivery, Reason),
    Transient(String),
    /// A permanent failure after the batch's first transient failure: redelivered, dead-lettered then.
    HeldBack,
}

/// Counts of one batch, as logged. `records = written + superseded + dead_lettered + retried`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub records: usize,
    pub written: usize,
    /// Not written because an item of the same key with a higher sequence number won: a later record of
    /// the batch, or the item already in the table.
    pub superseded: usize,
    pub dead_lettered: usize,
    /// Of `dead_lettered`, those whose data went to the dead-letter bucket (message too large for the queue).
    pub dead_letter_data_stored: usize,
    /// Records reported in `batchItemFailures`.
    pub retried: usize,
    /// Of `retried`, permanent failures held back behind a transient failure (dead-lettered when redelivered).
    pub held_back: usize,
    /// Put retries for unprocessed (throttled) items.
    pub write_retries: usize,
    /// Of `dead_lettered`, how many for each reason, in the order of [`Reason::ALL`].
    pub dead_lettered_by_reason: [usize; Reason::ALL.len()],
}

impl BatchStats {
    fn count_dead_letter(&mut self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.dead_lettered_by_reason[i] += 1;
        }
    }

    /// How many records were dead-lettered for `reason`.
    pub fn dead_lettered_for(&self, reason: Reason) -> usize {
        Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |i| self.dead_lettered_by_reason[i])
    }

    /// The batch's counts as one CloudWatch Embedded Metric Format document (one line of JSON): the
    /// [`sluice_contract::metrics`] names in their namespace, with the writer's function name as the
    /// dimension, at `timestamp_ms` (milliseconds since the epoch). CloudWatch Logs turns the line into
    /// metrics when the function prints it to stdout: no API call, no client. Per-reason dead-letter counts
    /// appear only when not zero (each metric name is a custom metric CloudWatch bills for).
    pub fn emf_line(&self, function_name: &str, duration_ms: u64, timestamp_ms: i64) -> String {
        use sluice_contract::metrics as m;
        let mut root = Map::new();
        let mut metrics = Vec::new();
        let mut count = |root: &mut Map<String, Value>, name: String, value: usize| {
            metrics.push(serde_json::json!({ "Name": name, "Unit": m::COUNT_UNIT }));
            root.insert(name, Value::from(value));
        };
        count(&mut root, m::RECORDS.into(), self.records);
        count(&mut root, m::WRITTEN.into(), self.written);
        count(&mut root, m::SUPERSEDED.into(), self.superseded);
        count(&mut root, m::RETRIED.into(), self.retried);
        count(&mut root, m::DEAD_LETTERED.into(), self.dead_lettered);
        for reason in Reason::ALL {
            let n = self.dead_lettered_for(reason);
            if n > 0 {
                count(&mut root, m::dead_lettered(reason), n);
            }
        }
        metrics.push(serde_json::json!({ "Name": m::BATCH_DURATION, "Unit": m::DURATION_UNIT }));
        root.insert(m::BATCH_DURATION.into(), Value::from(duration_ms));
        root.insert(m::DIMENSION.into(), Value::from(function_name));
        root.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": m::NAMESPACE,
                    "Dimensions": [[m::DIMENSION]],
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(root).to_string()
    }
}

/// Handles one Kinesis batch: writes what can be written, dead-letters what never can, and reports the rest
/// (transient failures) as batch item failures. Never fails as a whole.
pub async fn handle_batch(
    config: &WriterConfig,
    table: &impl Table,
    dead_letters: &impl DeadLetters,
    event: KinesisEvent,
) -> KinesisEventResponse {
    handle_batch_with_stats(config, table, dead_letters, event)
        .await
        .0
}

/// [`handle_batch`], also returning the counts it logs.
pub async fn handle_batch_with_stats(
    config: &WriterConfig,
    table: &impl Table,
    dead_letters: &impl DeadLetters,
    event: KinesisEvent,
) -> (KinesisEventResponse, BatchStats) {
    let started = std::time::Instant::now();
    let records = event.records;
    let mut fates: Vec<Option<Fate>> = vec![None; records.len()];

    // 1. Build items; 2. keep, per key, the record with the highest sequence number.
    let mut keys: Vec<Option<ItemKey>> = vec![None; records.len()];
    let mut winners: HashMap<ItemKey, (usize, Item)> = HashMap::new();
    for (index, record) in records.iter().enumerate() {
        match build_item(config, record) {
            Err(permanent) => fates[index] = Some(Fate::Permanent(permanent)),
            Ok((key, item)) => {
                keys[index] = Some(key.clone());
                match winners.get_mut(&key) {
                    None => {
                        winners.insert(key, (index, item));
                    }
                    Some(current) => {
                        let current_seq = &records[current.0].kinesis.sequence_number;
                        if compare_sequence_numbers(&record.kinesis.sequence_number, current_seq)
                            .is_ge()
                        {
                            *current = (index, item);
                        }
                    }
                }
            }
        }
    }
    let winner_of: HashMap<ItemKey, usize> = winners
        .iter()
        .map(|(key, (index, _))| (key.clone(), *index))
        .collect();

    // 3. Write.
    let mut to_write: Vec<(usize, Item)> = winners.into_values().collect();
    to_write.sort_by_key(|(index, _)| *index);
    let write_retries = write_items(table, &config.write, to_write, &mut fates).await;

    // A record replaced by a later one of the same key in this batch shares that one's fate.
    for (index, key) in keys.iter().enumerate() {
        let Some(&winner) = key.as_ref().and_then(|key| winner_of.get(key)) else {
            continue;
        };
        if winner == index {
            continue;
        }
        fates[index] = match &fates[winner] {
            Some(Fate::Written | Fate::Superseded) => Some(Fate::Superseded),
            Some(Fate::Transient(reason)) => Some(Fate::Transient(reason.clone())),
            Some(Fate::Permanent(p)) => Some(Fate::Permanent(Permanent::new(
                p.reason,
                format!(
                    "superseded by sequence number {} of the same key, which failed: {}",
                    records[winner].kinesis.sequence_number, p.detail
                ),
            ))),
            Some(Fate::DeadLettered(..) | Fate::HeldBack) | None => Some(Fate::Transient(
                "internal: superseded record without an outcome".into(),
            )),
        };
    }

    // 4. Dead-letter permanent failures, one after the other in sequence-number order, up to the first
    // transient failure: the event source mapping redelivers everything from there on.
    let mut first_transient: Option<&str> = None;
    for (record, fate) in records.iter().zip(&fates) {
        if let Some(Fate::Transient(_)) = fate {
            let seq = record.kinesis.sequence_number.as_str();
            if first_transient.is_none_or(|first| compare_sequence_numbers(seq, first).is_lt()) {
                first_transient = Some(seq);
            }
        }
    }
    let mut permanent: Vec<usize> = (0..records.len())
        .filter(|&i| matches!(fates[i], Some(Fate::Permanent(_))))
        .collect();
    permanent.sort_by(|&a, &b| {
        compare_sequence_numbers(
            &records[a].kinesis.sequence_number,
            &records[b].kinesis.sequence_number,
        )
    });
    for index in permanent {
        let seq = records[index].kinesis.sequence_number.as_str();
        if first_transient.is_some_and(|first| compare_sequence_numbers(seq, first).is_gt()) {
            fates[index] = Some(Fate::HeldBack);
            continue;
        }
        let Some(Fate::Permanent(failure)) = fates[index].take() else {
            continue;
        };
        fates[index] = Some(
            match dead_letter(dead_letters, &records[index], &failure).await {
                Ok(delivery) => Fate::DeadLettered(delivery, failure.reason),
                Err(e) => {
                    first_transient = Some(seq);
                    Fate::Transient(e.to_string())
                }
            },
        );
    }

    // 5. Report.
    let mut stats = BatchStats {
        records: records.len(),
        write_retries,
        ..BatchStats::default()
    };
    let mut response = KinesisEventResponse::default();
    let mut first_error: Option<String> = None;
    for (record, fate) in records.iter().zip(fates) {
        match fate {
            Some(Fate::Written) => stats.written += 1,
            Some(Fate::Superseded) => stats.superseded += 1,
            Some(Fate::DeadLettered(delivery, reason)) => {
                stats.dead_lettered += 1;
                stats.count_dead_letter(reason);
                if delivery == Delivery::Stored {
                    stats.dead_letter_data_stored += 1;
                }
            }
            Some(Fate::HeldBack) => {
                stats.retried += 1;
                stats.held_back += 1;
                response.add_failure(record.kinesis.sequence_number.clone());
            }
            Some(Fate::Transient(reason)) => {
                stats.retried += 1;
                first_error.get_or_insert(reason);
                response.add_failure(record.kinesis.sequence_number.clone());
            }
            Some(Fate::Permanent(_)) | None => {
                stats.retried += 1;
                first_error.get_or_insert_with(|| "internal: record without an outcome".into());
                response.add_failure(record.kinesis.sequence_number.clone());
            }
        }
    }
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(
        table = %config.table_name,
        records = stats.records,
        written = stats.written,
        superseded = stats.superseded,
        dead_lettered = stats.dead_lettered,
        dead_letter_data_stored = stats.dead_letter_data_stored,
        retried = stats.retried,
        held_back = stats.held_back,
        write_retries = stats.write_retries,
        duration_ms,
        first_error = first_error.as_deref(),
        "batch done"
    );
    (response, stats)
}

/// Writes items in chunks (in parallel), sets each record's fate, returns the number of retries made.
async fn write_items(
    table: &impl Table,
    policy: &WritePolicy,
    items: Vec<(usize, Item)>,
    fates: &mut [Option<Fate>],
) -> usize {
    let mut chunks: Vec<Vec<(usize, Item)>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(MAX_BATCH_WRITE_ITEMS).collect());
    }
    let results: Vec<(Vec<(usize, Fate)>, usize)> = futures::stream::iter(chunks)
        .map(|chunk| write_chunk(table, policy, chunk))
        .buffer_unordered(policy.max_concurrent_chunks.max(1))
        .collect()
        .await;
    let mut retries = 0;
    for (chunk_fates, chunk_retries) in results {
        retries += chunk_retries;
        for (index, fate) in chunk_fates {
            fates[index] = Some(fate);
        }
    }
    retries
}

/// One chunk: put, retry unprocessed items with backoff, give up after `policy.max_attempts` calls.
async fn write_chunk(
    table: &impl Table,
    policy: &WritePolicy,
    chunk: Vec<(usize, Item)>,
) -> (Vec<(usize, Fate)>, usize) {
    let mut done = Vec::with_capacity(chunk.len());
    let mut pending = chunk;
    let mut retries = 0;
    for attempt in 0..policy.max_attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(backoff(policy, attempt - 1)).await;
            retries += 1;
        }
        let items: Vec<Item> = pending.iter().map(|(_, item)| item.clone()).collect();
        let count = items.len();
        let mut result = table.put_items(items).await;
        if result.outcomes.len() != count {
            result = PutResult::all_transient(
                count,
                format!(
                    "the table answered {} outcomes for {count} items",
                    result.outcomes.len()
                ),
            );
        }
        let mut still_pending = Vec::new();
        for ((index, item), outcome) in pending.into_iter().zip(result.outcomes) {
            match outcome {
                WriteOutcome::Written => done.push((index, Fate::Written)),
                WriteOutcome::Superseded => done.push((index, Fate::Superseded)),
                WriteOutcome::Permanent(detail) => {
                    done.push((
                        index,
                        Fate::Permanent(Permanent::new(Reason::Rejected, detail)),
                    ));
                }
                WriteOutcome::Transient(reason) => done.push((index, Fate::Transient(reason))),
                WriteOutcome::Unprocessed => still_pending.push((index, item)),
            }
        }
        pending = still_pending;
        if pending.is_empty() {
            break;
        }
    }
    let attempts = policy.max_attempts.max(1);
    for (index, _) in pending {
        done.push((
            index,
            Fate::Transient(format!("still unprocessed after {attempts} attempts")),
        ));
    }
    (done, retries)
}

/// Full-jitter exponential backoff before retry `n` (from 0).
fn backoff(policy: &WritePolicy, n: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(n))
        .min(policy.max_delay);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::random_range(0..=millis))
}

#[cfg(test)]
mod tests;
