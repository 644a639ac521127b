//! The user's side: one async function from a decoded [`Record`] to an [`Outcome`], and [`handle_batch`],
//! which turns a batch's outcomes into [`Plan`]s under the library's rules and runs them ([`run_batch`]).

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_contract::env;
use sluice_contract::limits::MAX_ITEM_BYTES;
use sluice_contract::writer::attribute;

use crate::batch::{PlannedItem, Tables, run_batch};
use crate::{
    BatchStats, ConsumerError, DeadLetters, Item, KeyAttribute, KeyType, KinesisEvent,
    KinesisEventRecord, KinesisEventResponse, Permanent, Plan, Reason, Table, WritePolicy,
    decode_envelope, item_size, key_of, shard_id,
};

/// The envelope's members besides the body, as the gateway filled them (absent in records written by
/// other producers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvelopeMeta {
    /// Milliseconds since the epoch when the gateway received the request.
    pub received_at: Option<i64>,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}

/// Where a record came from on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMeta {
    /// The stream's ARN (the event's `eventSourceARN`).
    pub stream_arn: String,
    /// The stream's name (the ARN's last part).
    pub stream_name: String,
    pub shard_id: String,
    pub sequence_number: String,
    /// The record's partition key (the route's path parameter).
    pub partition_key: String,
    /// When Kinesis received the record (millisecond precision).
    pub arrival_time: DateTime<Utc>,
}

/// One record as the function sees it: the body read into its type, and what is known around it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<T> {
    pub body: T,
    pub envelope: EnvelopeMeta,
    pub stream: StreamMeta,
}

impl<T> Record<T> {
    /// A record of `body` with placeholder metadata (stream `test`, shard `shardId-000000000000`, sequence
    /// number `1`, partition key `test`, arrival and receipt at the epoch): for a function's unit tests.
    pub fn with_body(body: T) -> Self {
        Record {
            body,
            envelope: EnvelopeMeta {
                received_at: Some(0),
                request_id: Some("test-request".into()),
                source_ip: Some("127.0.0.1".into()),
            },
            stream: StreamMeta {
                stream_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/test".into(),
                stream_name: "test".into(),
                shard_id: "shardId-000000000000".into(),
                sequence_number: "1".into(),
                partition_key: "test".into(),
                arrival_time: DateTime::<Utc>::UNIX_EPOCH,
            },
        }
    }
}

impl Put {
    /// The logical table this item is for.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item, or why it is not one (it does not serialise to a JSON object).
    pub fn item(&self) -> Result<&Item, &str> {
        self.item.as_ref().map_err(String::as_str)
    }
}

/// One item for one of the function's declared tables (by its logical name in pipeline.toml).
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    table: String,
    item: Result<Item, String>,
}

impl Put {
    /// An item for the table `table` (its name in pipeline.toml): any value that serialises to a JSON
    /// object holding the table's key attributes. The library adds [`attribute::SEQUENCE_NUMBER`] (the
    /// ordering rule's) and checks the key and the size.
    pub fn new(table: impl Into<String>, item: impl serde::Serialize) -> Self {
        let item = match serde_json::to_value(item) {
            Ok(Value::Object(item)) => Ok(item),
            Ok(other) => Err(format!(
                "the item is a {}, not an object",
                sluice_contract::envelope::json_type(&other)
            )),
            Err(e) => Err(format!("the item does not serialise to JSON: {e}")),
        };
        Put {
            table: table.into(),
            item,
        }
    }
}

/// What the function decided for a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Write these items. A record is written once every item is (each conditionally, under the ordering
    /// rule); if one fails transiently the record is retried and all its items written again.
    Write(Vec<Put>),
    /// Nothing to write: the record is done.
    Skip,
    /// The record can never be processed: dead-letter it (with its data) for this reason.
    DeadLetter(String),
    /// Not now (a dependency is down): the event source mapping redelivers the record.
    Retry(String),
}

impl Outcome {
    /// One item for one table.
    pub fn write(table: impl Into<String>, item: impl serde::Serialize) -> Self {
        Outcome::Write(vec![Put::new(table, item)])
    }
}

/// A table the function may write: its physical name and key schema.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableSpec {
    pub name: String,
    pub partition_key: KeySpec,
    #[serde(default)]
    pub sort_key: Option<KeySpec>,
}

/// A key attribute as the environment carries it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    pub name: String,
    #[serde(rename = "type", default = "default_type")]
    pub kind: String,
}

fn default_type() -> String {
    "S".into()
}

impl KeySpec {
    fn attribute(&self) -> Result<KeyAttribute, ConsumerError> {
        let kind =
            KeyType::parse(self.kind.trim()).ok_or_else(|| ConsumerError::InvalidSetting {
                name: env::CONSUMER_TABLES,
                value: self.kind.clone(),
                expected: "a key type of S or N",
            })?;
        Ok(KeyAttribute::new(self.name.clone(), kind))
    }
}

/// One declared table, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredTable {
    /// Its name in pipeline.toml, which the function writes to.
    pub logical: String,
    /// Its name on AWS (or locally).
    pub physical: String,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
}

/// The tables a consumer function may write (from [`env::CONSUMER_TABLES`], set by the generated
/// Terraform) and its write policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// In the order of their logical names.
    pub tables: Vec<DeclaredTable>,
    pub write: WritePolicy,
}

impl ConsumerConfig {
    /// Reads [`env::CONSUMER_TABLES`] from the environment.
    pub fn from_env() -> Result<Self, ConsumerError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ConsumerConfig::from_env`] over any lookup.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConsumerError> {
        let text = lookup(env::CONSUMER_TABLES)
            .filter(|v| !v.trim().is_empty())
            .ok_or(ConsumerError::MissingSetting(env::CONSUMER_TABLES))?;
        let specs: BTreeMap<String, TableSpec> =
            serde_json::from_str(&text).map_err(|e| ConsumerError::InvalidSetting {
                name: env::CONSUMER_TABLES,
                value: format!("{text} ({e})"),
                expected: r#"{"<table>": {"name": "…", "partitionKey": {"name": "…", "type": "S"}}}"#,
            })?;
        let tables = specs
            .into_iter()
            .map(|(logical, spec)| {
                Ok(DeclaredTable {
                    logical,
                    physical: spec.name,
                    partition_key: spec.partition_key.attribute()?,
                    sort_key: spec.sort_key.as_ref().map(KeySpec::attribute).transpose()?,
                })
            })
            .collect::<Result<_, ConsumerError>>()?;
        Ok(ConsumerConfig {
            tables,
            write: WritePolicy::default(),
        })
    }

    fn index_of(&self, logical: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.logical == logical)
    }
}

/// The stream's metadata of a record.
pub fn stream_meta(record: &KinesisEventRecord) -> StreamMeta {
    let stream_arn = record.event_source_arn.clone().unwrap_or_default();
    let stream_name = stream_arn
        .rsplit_once(":stream/")
        .map_or(stream_arn.as_str(), |(_, name)| name)
        .to_owned();
    StreamMeta {
        stream_name,
        stream_arn,
        shard_id: shard_id(record).unwrap_or_default().to_owned(),
        sequence_number: record.kinesis.sequence_number.clone(),
        partition_key: record.kinesis.partition_key.clone(),
        arrival_time: record.kinesis.approximate_arrival_timestamp.0,
    }
}

/// A record's data decoded for the function: the envelope, its body read into `T`.
pub fn decode_record<T: DeserializeOwned>(
    record: &KinesisEventRecord,
) -> Result<Record<T>, Permanent> {
    let envelope = decode_envelope(&record.kinesis.data.0)?;
    let body = serde_json::from_value(Value::Object(envelope.body)).map_err(|e| {
        Permanent::new(
            Reason::Refused,
            format!(
                "the body is not a {}: {e}",
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("body")
            ),
        )
    })?;
    Ok(Record {
        body,
        envelope: EnvelopeMeta {
            received_at: envelope.received_at.as_ref().and_then(Value::as_i64),
            request_id: envelope.request_id,
            source_ip: envelope.source_ip,
        },
        stream: stream_meta(record),
    })
}

/// The plan for a record from the function's outcome: each item's table resolved, its key read, the
/// sequence number set, its size checked.
pub fn plan(config: &ConsumerConfig, record: &KinesisEventRecord, outcome: Outcome) -> Plan {
    let puts = match outcome {
        Outcome::Skip => return Plan::Skip,
        Outcome::DeadLetter(reason) => {
            return Plan::DeadLetter(Permanent::new(Reason::Refused, reason));
        }
        Outcome::Retry(reason) => return Plan::Retry(reason),
        Outcome::Write(puts) => puts,
    };
    let mut items = Vec::with_capacity(puts.len());
    for put in puts {
        let Some(table) = config.index_of(&put.table) else {
            let declared: Vec<&str> = config.tables.iter().map(|t| t.logical.as_str()).collect();
            return Plan::DeadLetter(Permanent::new(
                Reason::Rejected,
                format!(
                    "the function wrote to table {:?}, which its consumer does not declare (declared: {})",
                    put.table,
                    declared.join(", ")
                ),
            ));
        };
        let spec = &config.tables[table];
        let mut item = match put.item {
            Ok(item) => item,
            Err(detail) => {
                return Plan::DeadLetter(Permanent::new(
                    Reason::Rejected,
                    format!("an item for table {:?}: {detail}", put.table),
                ));
            }
        };
        item.insert(
            attribute::SEQUENCE_NUMBER.into(),
            Value::String(record.kinesis.sequence_number.clone()),
        );
        let key = match key_of(&mut item, &spec.partition_key, spec.sort_key.as_ref()) {
            Ok(key) => key,
            Err(p) => {
                return Plan::DeadLetter(Permanent::new(
                    p.reason,
                    format!("an item for table {:?}: {}", put.table, p.detail),
                ));
            }
        };
        let size = item_size(&item);
        if size > MAX_ITEM_BYTES {
            return Plan::DeadLetter(Permanent::new(
                Reason::ItemTooLarge,
                format!(
                    "the item for table {:?} would be about {size} bytes; DynamoDB's limit is {MAX_ITEM_BYTES}",
                    put.table
                ),
            ));
        }
        items.push(PlannedItem { table, key, item });
    }
    Plan::Write(items)
}

/// Handles one Kinesis batch with the user's function: each record decoded (a record that is not an
/// envelope, or whose body is not a `T`, is dead-lettered without calling it), the function called on
/// each in the batch's order (a shard's sequence-number order), one after the other, and the outcomes run under the library's rules.
/// `tables` are the declared tables' seams, in the order of `config.tables`.
pub async fn handle_batch<T, F, Fut>(
    config: &ConsumerConfig,
    tables: &[impl Table],
    dead_letters: &impl DeadLetters,
    event: KinesisEvent,
    function: F,
) -> (KinesisEventResponse, BatchStats)
where
    T: DeserializeOwned,
    F: Fn(Record<T>) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let records = event.records;
    let mut plans = Vec::with_capacity(records.len());
    for record in &records {
        plans.push(match decode_record::<T>(record) {
            Err(permanent) => Plan::DeadLetter(permanent),
            Ok(decoded) => plan(config, record, function(decoded).await),
        });
    }
    let named: Vec<(&str, _)> = config
        .tables
        .iter()
        .map(|t| t.physical.as_str())
        .zip(tables.iter())
        .collect();
    let named: &Tables<'_, _> = &named;
    run_batch(&config.write, named, dead_letters, &records, plans).await
}
