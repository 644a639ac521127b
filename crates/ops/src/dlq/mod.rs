//! `cargo xtask dlq`: the dead-letter queues of a pipeline, local (`--local`: `cargo xtask dev`'s
//! `pipeline.db`) or deployed (SQS, S3, Kinesis and DynamoDB, names from `terraform output -json`), through
//! one interface.
//!
//! - `list` / `show ID`: every message with its kind, reason, key, size, age and where its data is; both
//!   kinds are read with the one parser of the contract ([`QueueMessage`]): the writer's dead letters (data
//!   inline or in the dead-letter bucket) and the event source mapping's on-failure messages (a shard and a
//!   sequence range, no data).
//! - `hydrate ID`: the records a message stands for, as JSON lines: a dead letter's data (from the bucket
//!   when it is there), an on-failure message's range read back from the stream (`AT_SEQUENCE_NUMBER`) while
//!   the stream keeps it; it says so, and fails, when they are gone.
//! - `redrive [--dry-run] [--to-stream] [--id ID]`: puts the records back through the writer library (the
//!   same `handle_batch`, the same conditional puts: a newer item is never replaced) or onto the stream
//!   (`PutRecord`, the original partition key). A message is deleted only after its records are written (or
//!   superseded, or dead-lettered anew: a record that fails again gets a new message with its new reason,
//!   sent before the old one is deleted); a transient failure keeps the message. Rerunning after an
//!   interruption is safe: a record written before the interruption is written again with the same data or
//!   found superseded, and its message deleted then.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use base64::Engine as _;
use miette::{IntoDiagnostic as _, miette};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sluice_config::{Consumer, Pipeline};
use sluice_contract::consumer::{KinesisBatchInfo, QueueMessage};
use sluice_contract::{DataLocation, DeadLetterMessage, RecordData};
use sluice_local::dlq::LocalDeadLetters;
use sluice_writer::{
    BatchStats, DeadLetters, Item, KinesisEvent, KinesisEventRecord, PutResult, Table,
    WriteOutcome, WriterConfig, WriterError, compare_sequence_numbers,
};

use crate::tf_outputs::TerraformOutputs;

/// Test hook: exit abruptly (status [`STOP_EXIT_CODE`]) after the records of this many messages are
/// written and before the last of those messages is deleted, as a crash or a kill would.
pub const STOP_AFTER_ENV: &str = "SLUICE_DLQ_STOP_AFTER";
/// The exit status of a [`STOP_AFTER_ENV`] stop.
pub const STOP_EXIT_CODE: i32 = 75;

/// `cargo xtask dlq`.
#[derive(Debug, Clone, clap::Args)]
pub struct DlqArgs {
    /// The local pipeline of `cargo xtask dev` instead of the deployed stack.
    #[arg(long)]
    pub local: bool,
    /// The local pipeline's state dir (with --local).
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Where the deployed queues, bucket, streams and tables are named.
    #[command(flatten)]
    pub deployed: crate::outputs::OutputsArgs,
    /// Only this dead-letter queue (its name in pipeline.toml); default: every one.
    #[arg(long)]
    pub queue: Option<String>,
    /// The consumer whose table a redrive writes, when several consumers of one stream share the queue.
    #[arg(long)]
    pub consumer: Option<String>,
    /// Seconds a received SQS message stays hidden while dlq works on it (deployed); an interrupted run's
    /// messages reappear after it.
    #[arg(long, default_value_t = 60)]
    pub visibility_timeout: i32,
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqCommand {
    /// Every message: id, kind, reason, key, size, age, where the data is.
    List,
    /// One message in full (its body as stored, and what it means).
    Show { id: String },
    /// The records a message stands for, one JSON object a line (data in base64, and as text when UTF-8).
    Hydrate { id: String },
    /// Put dead letters back: into the table through the writer's rules (default) or onto the stream.
    Redrive {
        /// Say what would happen to each message; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Put the records back onto their stream (`PutRecord`, original partition key) instead: they get
        /// new sequence numbers, so the consumer treats them as new records (newer than items written
        /// since).
        #[arg(long)]
        to_stream: bool,
        /// Only this message.
        #[arg(long)]
        id: Option<String>,
    },
}

/// A message as received from a queue.
#[derive(Debug, Clone)]
struct Queued {
    /// The queue's name in pipeline.toml.
    queue: String,
    /// The row id locally, the SQS `MessageId` deployed.
    id: String,
    /// What deletes it: the row id locally, the receipt handle deployed.
    handle: String,
    body: String,
    sent_at_ms: i64,
}

/// One stream record, wherever it was read from.
#[derive(Debug, Clone)]
struct Rec {
    stream_arn: String,
    shard_id: String,
    sequence_number: String,
    partition_key: String,
    data: Vec<u8>,
    arrival_ms: i64,
}

impl Rec {
    /// The record as the event source mapping hands it to the writer.
    fn event_record(&self) -> KinesisEventRecord {
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

    fn to_json(&self) -> Value {
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
enum Hydrated {
    Records(Vec<Rec>),
    Gone(String),
}

/// What a redrive did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Every record done (written, superseded or dead-lettered anew): the message can go.
    Done(String),
    /// Kept: a transient failure, records gone, or a message dlq cannot act on.
    Kept(String),
}

// ---------------------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------------------

struct Aws {
    outputs: TerraformOutputs,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    kinesis: aws_sdk_kinesis::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    visibility_timeout: i32,
}

enum Backend {
    Local(LocalDeadLetters),
    Aws(Box<Aws>),
}

impl Backend {
    fn describe(&self) -> &'static str {
        match self {
            Backend::Local(_) => "local",
            Backend::Aws(_) => "deployed",
        }
    }

    /// The next messages of a queue not received yet in this run (`seen`); empty when there are no more.
    async fn page(
        &self,
        queue: &str,
        seen: &HashSet<String>,
        visibility: i32,
    ) -> miette::Result<Vec<Queued>> {
        match self {
            Backend::Local(local) => {
                let all = local.messages(queue).await.map_err(|e| miette!("{e}"))?;
                Ok(all
                    .into_iter()
                    .map(|m| Queued {
                        queue: queue.to_owned(),
                        id: m.id.to_string(),
                        handle: m.id.to_string(),
                        body: m.body,
                        sent_at_ms: m.sent_at_ms,
                    })
                    .filter(|m| !seen.contains(&m.id))
                    .collect())
            }
            Backend::Aws(aws) => {
                let url = aws.outputs.entry("dead_letter_queue_urls", queue)?;
                // Several empty answers in a row before calling the queue empty: short answers can miss
                // messages, and messages hidden by this run come back only after the visibility timeout.
                let mut empty = 0;
                loop {
                    let reply = aws
                        .sqs
                        .receive_message()
                        .queue_url(&url)
                        .max_number_of_messages(10)
                        .visibility_timeout(visibility)
                        .wait_time_seconds(1)
                        .message_system_attribute_names(
                            aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
                        )
                        .send()
                        .await
                        .map_err(|e| {
                            miette!("SQS ReceiveMessage {url}: {}", DisplayErrorContext(&e))
                        })?;
                    let page: Vec<Queued> = reply
                        .messages()
                        .iter()
                        .map(|m| Queued {
                            queue: queue.to_owned(),
                            id: m.message_id().unwrap_or_default().to_owned(),
                            handle: m.receipt_handle().unwrap_or_default().to_owned(),
                            body: m.body().unwrap_or_default().to_owned(),
                            sent_at_ms: m
                                .attributes()
                                .and_then(|a| {
                                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                                })
                                .and_then(|t| t.parse().ok())
                                .unwrap_or(0),
                        })
                        .collect();
                    let fresh: Vec<Queued> =
                        page.into_iter().filter(|m| !seen.contains(&m.id)).collect();
                    if !fresh.is_empty() {
                        return Ok(fresh);
                    }
                    empty += 1;
                    if empty >= 2 {
                        return Ok(Vec::new());
                    }
                }
            }
        }
    }

    /// Every message of a queue, made visible again afterwards (deployed).
    async fn all(&self, queue: &str) -> miette::Result<Vec<Queued>> {
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        loop {
            let page = self.page(queue, &seen, 30).await?;
            if page.is_empty() {
                break;
            }
            if matches!(self, Backend::Local(_)) {
                all.extend(page);
                break;
            }
            for m in page {
                seen.insert(m.id.clone());
                all.push(m);
            }
        }
        self.release(&all).await;
        Ok(all)
    }

    /// Makes received messages visible again at once (deployed; nothing to do locally).
    async fn release(&self, messages: &[Queued]) {
        let Backend::Aws(aws) = self else { return };
        for m in messages {
            let Ok(url) = aws.outputs.entry("dead_letter_queue_urls", &m.queue) else {
                continue;
            };
            if let Err(e) = aws
                .sqs
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(&m.handle)
                .visibility_timeout(0)
                .send()
                .await
            {
                eprintln!(
                    "note: message {} stays hidden until its visibility timeout ({})",
                    m.id,
                    DisplayErrorContext(&e)
                );
            }
        }
    }

    async fn delete(&self, m: &Queued) -> miette::Result<()> {
        match self {
            Backend::Local(local) => {
                let id: i64 = m.handle.parse().into_diagnostic()?;
                local
                    .delete_message(&m.queue, id)
                    .await
                    .map_err(|e| miette!("{e}"))?;
                Ok(())
            }
            Backend::Aws(aws) => {
                let url = aws.outputs.entry("dead_letter_queue_urls", &m.queue)?;
                aws.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(&m.handle)
                    .send()
                    .await
                    .map_err(|e| {
                        miette!("SQS DeleteMessage {}: {}", m.id, DisplayErrorContext(&e))
                    })?;
                Ok(())
            }
        }
    }

    /// A dead letter's data: inline, or the bucket's object (checked against its size and SHA-256).
    async fn data(&self, message: &DeadLetterMessage) -> Result<Vec<u8>, String> {
        let location = match &message.data {
            RecordData::Inline(b64) => {
                return base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("the inline data is not base64: {e}"));
            }
            RecordData::Stored(location) => location,
        };
        let data = match self {
            Backend::Local(local) => local
                .object(&location.bucket, &location.key)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| gone_object(location))?,
            Backend::Aws(aws) => {
                let reply = aws
                    .s3
                    .get_object()
                    .bucket(&location.bucket)
                    .key(&location.key)
                    .send()
                    .await
                    .map_err(|e| match e.as_service_error() {
                        Some(s) if s.is_no_such_key() => gone_object(location),
                        _ => format!(
                            "S3 GetObject s3://{}/{}: {}",
                            location.bucket,
                            location.key,
                            DisplayErrorContext(&e)
                        ),
                    })?;
                reply
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("reading s3://{}/{}: {e}", location.bucket, location.key))?
                    .into_bytes()
                    .to_vec()
            }
        };
        let sha = hex(&Sha256::digest(&data));
        if sha != location.sha256 || data.len() as u64 != location.size {
            return Err(format!(
                "the object s3://{}/{} is not the record's data (size {} / SHA-256 {sha}, the message says {} / {})",
                location.bucket,
                location.key,
                data.len(),
                location.size,
                location.sha256
            ));
        }
        Ok(data)
    }

    /// The records of an on-failure message's range, read back from the stream.
    async fn range(
        &self,
        pipeline: &Pipeline,
        consumer: &Consumer,
        info: &KinesisBatchInfo,
    ) -> miette::Result<Hydrated> {
        let retention = pipeline
            .streams
            .get(&consumer.stream)
            .map_or(24, |s| s.retention_hours);
        let gone = |found: usize| {
            Hydrated::Gone(format!(
                "the stream no longer holds sequence number {} of {} (its retention is {retention} hours): {} of the {} records are gone{}",
                info.start_sequence_number,
                info.shard_id,
                info.batch_size.saturating_sub(found),
                info.batch_size,
                if found > 0 {
                    format!(", {found} are still there")
                } else {
                    String::new()
                }
            ))
        };
        match self {
            Backend::Local(local) => {
                let range = local
                    .stream_range(
                        &consumer.stream,
                        &info.shard_id,
                        &info.start_sequence_number,
                        &info.end_sequence_number,
                    )
                    .await
                    .map_err(|e| miette!("{e}"))?;
                if !range.start_kept {
                    return Ok(gone(range.records.len()));
                }
                Ok(Hydrated::Records(
                    range
                        .records
                        .into_iter()
                        .map(|r| Rec {
                            stream_arn: info.stream_arn.clone(),
                            shard_id: info.shard_id.clone(),
                            sequence_number: r.sequence_number(),
                            partition_key: r.partition_key,
                            data: r.data,
                            arrival_ms: r.arrival_ms,
                        })
                        .collect(),
                ))
            }
            Backend::Aws(aws) => {
                let stream = aws.outputs.entry("stream_names", &consumer.stream)?;
                let iterator = aws
                    .kinesis
                    .get_shard_iterator()
                    .stream_name(&stream)
                    .shard_id(&info.shard_id)
                    .shard_iterator_type(
                        aws_sdk_kinesis::types::ShardIteratorType::AtSequenceNumber,
                    )
                    .starting_sequence_number(&info.start_sequence_number)
                    .send()
                    .await;
                let mut iterator = match iterator {
                    Ok(reply) => reply.shard_iterator().map(str::to_owned),
                    Err(e) => {
                        let detail = DisplayErrorContext(&e).to_string();
                        return match e.as_service_error() {
                            Some(s)
                                if s.is_invalid_argument_exception()
                                    || s.is_resource_not_found_exception() =>
                            {
                                Ok(Hydrated::Gone(format!(
                                    "{} ({detail})",
                                    match gone(0) {
                                        Hydrated::Gone(g) => g,
                                        Hydrated::Records(_) => String::new(),
                                    }
                                )))
                            }
                            _ => Err(miette!("Kinesis GetShardIterator {stream}: {detail}")),
                        };
                    }
                };
                let mut records = Vec::new();
                let mut idle = 0;
                'read: while let Some(it) = iterator.take() {
                    let reply = aws
                        .kinesis
                        .get_records()
                        .shard_iterator(it)
                        .limit(1000)
                        .send()
                        .await
                        .map_err(|e| {
                            miette!("Kinesis GetRecords {stream}: {}", DisplayErrorContext(&e))
                        })?;
                    for r in reply.records() {
                        if compare_sequence_numbers(r.sequence_number(), &info.end_sequence_number)
                            .is_gt()
                        {
                            break 'read;
                        }
                        records.push(Rec {
                            stream_arn: info.stream_arn.clone(),
                            shard_id: info.shard_id.clone(),
                            sequence_number: r.sequence_number().to_owned(),
                            partition_key: r.partition_key().unwrap_or_default().to_owned(),
                            data: r.data().as_ref().to_vec(),
                            arrival_ms: r
                                .approximate_arrival_timestamp()
                                .and_then(|t| t.to_millis().ok())
                                .unwrap_or(0),
                        });
                    }
                    if reply.records().is_empty() {
                        idle += 1;
                        if reply.millis_behind_latest() == Some(0) || idle >= 5 {
                            break;
                        }
                    }
                    iterator = reply.next_shard_iterator().map(str::to_owned);
                }
                if records
                    .first()
                    .is_none_or(|r| r.sequence_number != info.start_sequence_number)
                {
                    return Ok(gone(records.len()));
                }
                Ok(Hydrated::Records(records))
            }
        }
    }

    /// Puts a record back onto its stream; answers its new sequence number.
    async fn put_record(
        &self,
        pipeline: &Pipeline,
        consumer: &Consumer,
        rec: &Rec,
    ) -> Result<String, String> {
        match self {
            Backend::Local(local) => local
                .put_record(
                    pipeline,
                    &consumer.stream,
                    &rec.partition_key,
                    rec.data.clone(),
                )
                .await
                .map(|(_, seq)| seq)
                .map_err(|e| e.to_string()),
            Backend::Aws(aws) => {
                let stream = aws
                    .outputs
                    .entry("stream_names", &consumer.stream)
                    .map_err(|e| e.to_string())?;
                let reply = aws
                    .kinesis
                    .put_record()
                    .stream_name(&stream)
                    .partition_key(&rec.partition_key)
                    .data(rec.data.clone().into())
                    .send()
                    .await
                    .map_err(|e| {
                        format!("Kinesis PutRecord {stream}: {}", DisplayErrorContext(&e))
                    })?;
                Ok(reply.sequence_number().to_owned())
            }
        }
    }

    /// Runs records through the writer library, over the consumer's table and dead-letter store.
    async fn write(
        &self,
        pipeline: &Pipeline,
        consumer: &Consumer,
        records: &[Rec],
    ) -> Result<(BatchStats, Option<String>), String> {
        let table = pipeline
            .tables
            .get(&consumer.table)
            .ok_or_else(|| format!("consumer {} has no table", consumer.name))?;
        let mut event = KinesisEvent::default();
        event.records = records.iter().map(Rec::event_record).collect();
        match self {
            Backend::Local(local) => {
                let config = WriterConfig {
                    table_name: table.name.clone(),
                    partition_key: table.partition_key.clone(),
                    sort_key: table.sort_key.clone(),
                    write: sluice_writer::WritePolicy::default(),
                };
                let sink = local
                    .table(pipeline, consumer)
                    .ok_or_else(|| format!("no local table {}", consumer.table))?;
                Ok(run_writer(
                    &config,
                    &Noting::new(sink),
                    local.dead_letters(consumer),
                    event,
                )
                .await)
            }
            Backend::Aws(aws) => {
                let name = aws
                    .outputs
                    .entry("table_names", &consumer.table)
                    .map_err(|e| e.to_string())?;
                let config = WriterConfig {
                    table_name: name.clone(),
                    partition_key: table.partition_key.clone(),
                    sort_key: table.sort_key.clone(),
                    write: sluice_writer::WritePolicy::default(),
                };
                let queue_url = aws
                    .outputs
                    .entry("dead_letter_queue_urls", &consumer.dead_letter_queue)
                    .map_err(|e| e.to_string())?;
                let bucket = aws
                    .outputs
                    .string("dead_letter_bucket_name")
                    .map_err(|e| e.to_string())?;
                let sink = sluice_writer::aws::DynamoDbTable::new(aws.dynamodb.clone(), name);
                let dead_letters = sluice_writer::aws::AwsDeadLetters::new(
                    aws.sqs.clone(),
                    queue_url,
                    aws.s3.clone(),
                    bucket,
                );
                Ok(run_writer(&config, &Noting::new(sink), dead_letters, event).await)
            }
        }
    }
}

fn gone_object(location: &DataLocation) -> String {
    format!(
        "the dead-letter bucket no longer holds s3://{}/{} (the bucket's lifecycle rule expired it)",
        location.bucket, location.key
    )
}

/// A table that remembers the first transient failure's reason (`handle_batch` only counts them).
struct Noting<T> {
    inner: T,
    reason: Mutex<Option<String>>,
}

impl<T> Noting<T> {
    fn new(inner: T) -> Self {
        Noting {
            inner,
            reason: Mutex::new(None),
        }
    }
}

impl<T: Table> Table for Noting<T> {
    async fn put_items(&self, items: Vec<Item>) -> PutResult {
        let result = self.inner.put_items(items).await;
        for outcome in &result.outcomes {
            if let WriteOutcome::Transient(reason) = outcome
                && let Ok(mut noted) = self.reason.lock()
            {
                noted.get_or_insert_with(|| reason.clone());
            }
        }
        result
    }
}

/// A dead-letter store that remembers why a send failed.
struct NotingDeadLetters<D> {
    inner: D,
    reason: Mutex<Option<String>>,
}

impl<D: DeadLetters> DeadLetters for NotingDeadLetters<D> {
    async fn send(&self, message: DeadLetterMessage) -> Result<(), WriterError> {
        let result = self.inner.send(message).await;
        if let Err(e) = &result
            && !matches!(e, WriterError::DeadLetterTooLarge(_))
            && let Ok(mut noted) = self.reason.lock()
        {
            noted.get_or_insert_with(|| e.to_string());
        }
        result
    }

    async fn store_data(
        &self,
        key: String,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<String, WriterError> {
        let result = self.inner.store_data(key, data, sha256).await;
        if let Err(e) = &result
            && let Ok(mut noted) = self.reason.lock()
        {
            noted.get_or_insert_with(|| e.to_string());
        }
        result
    }
}

async fn run_writer<T: Table, D: DeadLetters>(
    config: &WriterConfig,
    table: &Noting<T>,
    dead_letters: D,
    event: KinesisEvent,
) -> (BatchStats, Option<String>) {
    let dead_letters = NotingDeadLetters {
        inner: dead_letters,
        reason: Mutex::new(None),
    };
    let (_, stats) =
        sluice_writer::handle_batch_with_stats(config, table, &dead_letters, event).await;
    let reason = table
        .reason
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .or_else(|| dead_letters.reason.lock().ok().and_then(|r| r.clone()));
    (stats, reason)
}

// ---------------------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------------------

pub fn run(config: &Path, args: DlqArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    let queues: Vec<String> = match &args.queue {
        Some(q) if pipeline.queues.contains_key(q) => vec![q.clone()],
        Some(q) => {
            return Err(miette!(
                "pipeline.toml has no queue `{q}` (it has: {})",
                pipeline
                    .queues
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None => pipeline.queues.keys().cloned().collect(),
    };
    if let Some(c) = &args.consumer
        && !pipeline.consumers.contains_key(c)
    {
        return Err(miette!("pipeline.toml has no consumer `{c}`"));
    }
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(async {
        let backend = if args.local {
            Backend::Local(
                LocalDeadLetters::open(&args.state_dir, &pipeline).map_err(|e| miette!("{e}"))?,
            )
        } else {
            let outputs = args.deployed.load()?;
            let region = outputs.optional_string("region");
            let sdk = crate::smoke::sdk_config(region.as_deref()).await;
            Backend::Aws(Box::new(Aws {
                sqs: aws_sdk_sqs::Client::new(&sdk),
                s3: aws_sdk_s3::Client::new(&sdk),
                kinesis: aws_sdk_kinesis::Client::new(&sdk),
                dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
                outputs,
                visibility_timeout: args.visibility_timeout.max(1),
            }))
        };
        let result = match &args.command {
            DlqCommand::List => list(&backend, &pipeline, &queues).await,
            DlqCommand::Show { id } => show(&backend, &queues, id).await,
            DlqCommand::Hydrate { id } => hydrate(&backend, &pipeline, &queues, &args, id).await,
            DlqCommand::Redrive {
                dry_run,
                to_stream,
                id,
            } => {
                let opts = RedriveOptions {
                    dry_run: *dry_run,
                    to_stream: *to_stream,
                    only: id.clone(),
                    consumer: args.consumer.clone(),
                    stop_after: std::env::var(STOP_AFTER_ENV)
                        .ok()
                        .and_then(|n| n.trim().parse().ok()),
                };
                redrive(&backend, &pipeline, &queues, &opts).await
            }
        };
        if let Backend::Local(local) = &backend {
            local.close().await;
        }
        result
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `5s`, `3m`, `2h`, `4d`.
fn age(sent_at_ms: i64) -> String {
    if sent_at_ms <= 0 {
        return "?".into();
    }
    let s = (sluice_local::now_ms() - sent_at_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `shardId-000000000000/4959…0001`: a sequence number shortened for a table (the full one is in `show`).
fn short_seq(seq: &str) -> String {
    if seq.len() <= 16 {
        return seq.to_owned();
    }
    format!("{}…{}", &seq[..4], &seq[seq.len() - 8..])
}

/// The columns of `list` for one message.
fn row(m: &Queued) -> [String; 7] {
    match QueueMessage::from_json(&m.body) {
        Ok(QueueMessage::DeadLetter(d)) => {
            let (size, location) = match &d.data {
                RecordData::Inline(b64) => (
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_or(0, |d| d.len()),
                    "inline".to_owned(),
                ),
                RecordData::Stored(l) => (
                    usize::try_from(l.size).unwrap_or(usize::MAX),
                    format!("s3://{}/{}", l.bucket, l.key),
                ),
            };
            [
                m.id.clone(),
                "dead letter".into(),
                format!("{:?}", d.reason),
                format!(
                    "{} ({} {})",
                    d.partition_key,
                    d.shard_id,
                    short_seq(&d.sequence_number)
                ),
                format!("{size} B"),
                age(m.sent_at_ms),
                location,
            ]
        }
        Ok(QueueMessage::OnFailure(f)) => {
            let info = &f.kinesis_batch_info;
            [
                m.id.clone(),
                "on failure".into(),
                f.request_context.condition.as_str().into(),
                format!(
                    "{} {}..{}",
                    info.shard_id,
                    short_seq(&info.start_sequence_number),
                    short_seq(&info.end_sequence_number)
                ),
                format!("{} records", info.batch_size),
                age(m.sent_at_ms),
                format!(
                    "stream {}",
                    info.stream_arn
                        .rsplit_once(":stream/")
                        .map_or(info.stream_arn.as_str(), |(_, n)| n)
                ),
            ]
        }
        Err(e) => [
            m.id.clone(),
            "unreadable".into(),
            e,
            String::new(),
            format!("{} B", m.body.len()),
            age(m.sent_at_ms),
            String::new(),
        ],
    }
}

async fn list(backend: &Backend, _pipeline: &Pipeline, queues: &[String]) -> miette::Result<()> {
    for queue in queues {
        let messages = backend.all(queue).await?;
        println!(
            "{} queue {queue}: {} message{}",
            backend.describe(),
            messages.len(),
            if messages.len() == 1 { "" } else { "s" }
        );
        if messages.is_empty() {
            continue;
        }
        let header = ["ID", "KIND", "REASON", "KEY", "SIZE", "AGE", "DATA"].map(String::from);
        let rows: Vec<[String; 7]> = std::iter::once(header)
            .chain(messages.iter().map(row))
            .collect();
        let widths: Vec<usize> = (0..7)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}", w = *w))
                .collect();
            println!("  {}", line.join("  ").trim_end());
        }
    }
    Ok(())
}

async fn find(backend: &Backend, queues: &[String], id: &str) -> miette::Result<Queued> {
    for queue in queues {
        if let Some(m) = backend.all(queue).await?.into_iter().find(|m| m.id == id) {
            return Ok(m);
        }
    }
    Err(miette!(
        "no message `{id}` in {} (`cargo xtask dlq list` shows the ids)",
        queues.join(", ")
    ))
}

async fn show(backend: &Backend, queues: &[String], id: &str) -> miette::Result<()> {
    let m = find(backend, queues, id).await?;
    let [_, kind, reason, key, size, age, data] = row(&m);
    println!("message {id} of queue {} ({kind}, sent {age} ago)", m.queue);
    println!("  reason: {reason}\n  key:    {key}\n  size:   {size}\n  data:   {data}");
    let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::String(m.body.clone()));
    println!(
        "{}",
        serde_json::to_string_pretty(&body).unwrap_or_else(|_| m.body.clone())
    );
    Ok(())
}

/// The consumer a message belongs to: of its queue, reading its stream (`--consumer` when several do).
fn consumer_for<'p>(
    pipeline: &'p Pipeline,
    queue: &str,
    stream: &str,
    chosen: Option<&str>,
) -> Result<&'p Consumer, String> {
    let name = stream.rsplit_once(":stream/").map_or(stream, |(_, n)| n);
    let candidates: Vec<&Consumer> = pipeline
        .consumers
        .values()
        .filter(|c| c.dead_letter_queue == queue)
        .filter(|c| {
            pipeline
                .streams
                .get(&c.stream)
                .is_some_and(|s| s.physical_name == name || s.name == name)
        })
        .filter(|c| chosen.is_none_or(|chosen| c.name == chosen))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "no consumer{} of stream {name} sends to queue {queue}",
            chosen.map(|c| format!(" `{c}`")).unwrap_or_default()
        )),
        many => Err(format!(
            "consumers {} all read stream {name} into queue {queue}: pick one with --consumer",
            many.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The records a message stands for.
async fn records_of(
    backend: &Backend,
    pipeline: &Pipeline,
    m: &Queued,
    chosen: Option<&str>,
) -> Result<(&'static str, Hydrated, Option<Consumer>), String> {
    match QueueMessage::from_json(&m.body)? {
        QueueMessage::DeadLetter(d) => {
            let consumer = consumer_for(pipeline, &m.queue, &d.stream, chosen)
                .ok()
                .cloned();
            let hydrated = match backend.data(&d).await {
                Ok(data) => Hydrated::Records(vec![Rec {
                    stream_arn: d.stream.clone(),
                    shard_id: d.shard_id.clone(),
                    sequence_number: d.sequence_number.clone(),
                    partition_key: d.partition_key.clone(),
                    data,
                    arrival_ms: d.arrival_time,
                }]),
                Err(e) => Hydrated::Gone(e),
            };
            Ok(("dead letter", hydrated, consumer))
        }
        QueueMessage::OnFailure(f) => {
            let info = &f.kinesis_batch_info;
            let consumer = consumer_for(pipeline, &m.queue, &info.stream_arn, chosen)?.clone();
            let hydrated = backend
                .range(pipeline, &consumer, info)
                .await
                .map_err(|e| e.to_string())?;
            // Records the mapping's filters skip were never the consumer's: leave them out.
            let hydrated = match hydrated {
                Hydrated::Records(records) => Hydrated::Records(
                    records
                        .into_iter()
                        .filter(|r| {
                            sluice_local::event_source_mapping::filter::delivers(
                                &consumer.filters,
                                &r.partition_key,
                                &r.data,
                            )
                        })
                        .collect(),
                ),
                gone => gone,
            };
            Ok(("on failure", hydrated, Some(consumer)))
        }
    }
}

async fn hydrate(
    backend: &Backend,
    pipeline: &Pipeline,
    queues: &[String],
    args: &DlqArgs,
    id: &str,
) -> miette::Result<()> {
    let m = find(backend, queues, id).await?;
    let (_, hydrated, _) = records_of(backend, pipeline, &m, args.consumer.as_deref())
        .await
        .map_err(|e| miette!("message {id}: {e}"))?;
    match hydrated {
        Hydrated::Records(records) => {
            for r in &records {
                println!("{}", r.to_json());
            }
            eprintln!("message {id}: {} record(s)", records.len());
            Ok(())
        }
        Hydrated::Gone(why) => Err(miette!("message {id}: the records are gone: {why}")),
    }
}

struct RedriveOptions {
    dry_run: bool,
    to_stream: bool,
    only: Option<String>,
    consumer: Option<String>,
    stop_after: Option<usize>,
}

/// The identity of a dead letter's record: a replacement the writer sends during this run has it too.
fn record_identity(body: &str) -> Option<String> {
    match QueueMessage::from_json(body).ok()? {
        QueueMessage::DeadLetter(d) => Some(d.object_key()),
        QueueMessage::OnFailure(_) => None,
    }
}

async fn redrive(
    backend: &Backend,
    pipeline: &Pipeline,
    queues: &[String],
    opts: &RedriveOptions,
) -> miette::Result<()> {
    let visibility = match backend {
        Backend::Aws(aws) => aws.visibility_timeout,
        Backend::Local(_) => 0,
    };
    let (mut done, mut kept, mut applied) = (0usize, 0usize, 0usize);
    for queue in queues {
        let mut seen: HashSet<String> = HashSet::new();
        let mut records_seen: HashSet<String> = HashSet::new();
        let mut hold: Vec<Queued> = Vec::new();
        let mut n = 0usize;
        loop {
            let page = backend.page(queue, &seen, visibility).await?;
            if page.is_empty() {
                break;
            }
            let local = matches!(backend, Backend::Local(_));
            for m in page {
                seen.insert(m.id.clone());
                if opts.only.as_ref().is_some_and(|only| *only != m.id) {
                    hold.push(m);
                    continue;
                }
                if let Some(identity) = record_identity(&m.body)
                    && !records_seen.insert(identity)
                {
                    // A message for a record already handled in this run: the replacement just sent for a
                    // record that failed again, or a duplicate delivery. Left for the next run.
                    hold.push(m);
                    continue;
                }
                n += 1;
                let fate = redrive_one(backend, pipeline, &m, opts, &mut records_seen).await;
                match fate {
                    Fate::Done(what) => {
                        if opts.dry_run {
                            println!("[{queue} {n}] {}: would {what}", m.id);
                            hold.push(m);
                            continue;
                        }
                        applied += 1;
                        if opts.stop_after.is_some_and(|stop| applied >= stop) {
                            println!(
                                "[{queue} {n}] {}: {what}; stopping before the delete ({STOP_AFTER_ENV})",
                                m.id
                            );
                            std::process::exit(STOP_EXIT_CODE);
                        }
                        backend.delete(&m).await?;
                        done += 1;
                        println!("[{queue} {n}] {}: {what}; message deleted", m.id);
                    }
                    Fate::Kept(why) => {
                        kept += 1;
                        println!("[{queue} {n}] {}: kept: {why}", m.id);
                        hold.push(m);
                    }
                }
            }
            if local {
                break;
            }
        }
        backend.release(&hold).await;
    }
    if opts.dry_run {
        println!("dry run: nothing changed ({kept} message(s) would stay)");
        return Ok(());
    }
    println!("redrive: {done} message(s) done and deleted, {kept} kept");
    if kept > 0 {
        return Err(miette!(
            "{kept} message(s) could not be redriven (see above); they stay in the queue"
        ));
    }
    Ok(())
}

async fn redrive_one(
    backend: &Backend,
    pipeline: &Pipeline,
    m: &Queued,
    opts: &RedriveOptions,
    records_seen: &mut HashSet<String>,
) -> Fate {
    let (kind, hydrated, consumer) =
        match records_of(backend, pipeline, m, opts.consumer.as_deref()).await {
            Ok(r) => r,
            Err(e) => return Fate::Kept(e),
        };
    let Some(consumer) = consumer else {
        return Fate::Kept(format!(
            "{kind}: no consumer of queue {} reads its stream (pick one with --consumer)",
            m.queue
        ));
    };
    let records = match hydrated {
        Hydrated::Records(records) => records,
        Hydrated::Gone(why) => return Fate::Kept(format!("{kind}: the records are gone: {why}")),
    };
    if records.is_empty() {
        return Fate::Done(format!("{kind}: no record to redrive (all filtered out)"));
    }
    // A record that fails again gets a new message in this queue: this run leaves it alone.
    for r in &records {
        records_seen.insert(sluice_contract::consumer::dead_letter_object_key(
            &r.stream_arn,
            &r.shard_id,
            &r.sequence_number,
        ));
    }
    if opts.to_stream {
        if opts.dry_run {
            return Fate::Done(format!(
                "put {} record(s) back onto stream {}",
                records.len(),
                consumer.stream
            ));
        }
        let mut last = String::new();
        for r in &records {
            match backend.put_record(pipeline, &consumer, r).await {
                Ok(seq) => last = seq,
                Err(e) => return Fate::Kept(format!("{kind}: {e}")),
            }
        }
        return Fate::Done(format!(
            "{} record(s) put back onto stream {} (last sequence number {last})",
            records.len(),
            consumer.stream
        ));
    }
    if opts.dry_run {
        let Some(table) = pipeline.tables.get(&consumer.table) else {
            return Fate::Kept(format!("consumer {} has no table", consumer.name));
        };
        let config = WriterConfig {
            table_name: table.name.clone(),
            partition_key: table.partition_key.clone(),
            sort_key: table.sort_key.clone(),
            write: sluice_writer::WritePolicy::default(),
        };
        let failing: Vec<String> = records
            .iter()
            .filter_map(|r| sluice_writer::build_item(&config, &r.event_record()).err())
            .map(|p| p.to_string())
            .collect();
        return if failing.is_empty() {
            Fate::Done(format!(
                "write {} record(s) into table {}",
                records.len(),
                table.name
            ))
        } else {
            Fate::Done(format!(
                "write {} record(s) into table {}; {} would fail again ({})",
                records.len() - failing.len(),
                table.name,
                failing.len(),
                failing.join("; ")
            ))
        };
    }
    match backend.write(pipeline, &consumer, &records).await {
        Err(e) => Fate::Kept(e),
        Ok((stats, reason)) if stats.retried > 0 => Fate::Kept(format!(
            "{} of {} record(s) failed transiently: {}",
            stats.retried,
            stats.records,
            reason.unwrap_or_else(|| "see the log".into())
        )),
        Ok((stats, _)) => {
            let mut parts = Vec::new();
            if stats.written > 0 {
                parts.push(format!("{} written", stats.written));
            }
            if stats.superseded > 0 {
                parts.push(format!("{} superseded by newer items", stats.superseded));
            }
            if stats.dead_lettered > 0 {
                parts.push(format!(
                    "{} failed again and were dead-lettered anew with their new reason",
                    stats.dead_lettered
                ));
            }
            Fate::Done(format!(
                "{kind} into table {}: {}",
                consumer.table,
                parts.join(", ")
            ))
        }
    }
}
