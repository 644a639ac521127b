//! The local side of `cargo xtask dlq`: every SQL statement that reads or changes a dead-letter queue, the
//! dead-letter bucket or a stream of `<state-dir>/pipeline.db` for it (a stream's records are read with
//! [`inspect::records_between`], beside the one mapping of a stored record's row). It works while `cargo xtask dev` runs
//! (WAL, busy timeout) and writes through the same [`Store`] writer and the same sinks the local writer uses
//! ([`SqliteTable`]'s conditional upsert is the ordering rule), so a redrive obeys the writer's rules.

use std::path::Path;

use rusqlite::{OptionalExtension as _, params};
use sluice_config::{Consumer, Pipeline};

use super::inspect;
use super::kinesis::{self, EventSource, StoredRecord};
use super::sinks::{SqliteDeadLetters, SqliteTable};
use super::store::{Durability, Store, StoreError, quote_ident};

/// One message of a local dead-letter queue (a row of the queue's table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// The row's `id`.
    pub id: i64,
    pub body: String,
    pub sent_at_ms: i64,
}

/// The records of a shard between two sequence numbers, as far as the stream still holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRange {
    /// The records found, in order.
    pub records: Vec<StoredRecord>,
    /// Whether the first sequence number of the range is still in the stream (when it is not, the records
    /// before the first one found, or all of them, are past the stream's retention).
    pub start_kept: bool,
}

/// The dead letters of a local pipeline.
#[derive(Clone)]
pub struct LocalDeadLetters {
    store: Store,
    bucket: String,
}

impl LocalDeadLetters {
    /// Opens `<state_dir>/pipeline.db` (which `cargo xtask dev` creates; refused when it does not exist).
    pub fn open(state_dir: &Path, pipeline: &Pipeline) -> Result<Self, StoreError> {
        let path = state_dir.join("pipeline.db");
        if !path.exists() {
            return Err(StoreError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no local pipeline here (run `cargo xtask dev` first, or pass --state-dir)",
                ),
            });
        }
        Ok(LocalDeadLetters {
            store: Store::open(state_dir, pipeline, Durability::Full)?,
            bucket: super::dead_letter_bucket(pipeline),
        })
    }

    /// The local dead-letter bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Every message of a queue, oldest first.
    pub async fn messages(&self, queue: &str) -> Result<Vec<QueuedMessage>, StoreError> {
        let sql = format!(
            "SELECT id, body, sent_at_ms FROM {} ORDER BY id",
            quote_ident(queue)
        );
        self.store
            .read(move |conn| {
                let mut stmt = conn.prepare(&sql)?;
                let rows = stmt.query_map([], |r| {
                    Ok(QueuedMessage {
                        id: r.get(0)?,
                        body: r.get(1)?,
                        sent_at_ms: r.get(2)?,
                    })
                })?;
                rows.collect()
            })
            .await
    }

    /// Deletes a message; answers whether it was there.
    pub async fn delete_message(&self, queue: &str, id: i64) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {} WHERE id = ?1", quote_ident(queue));
        self.store
            .write(move |conn, _| Ok(conn.execute(&sql, params![id])? > 0))
            .await
    }

    /// An object of a local bucket (`_sluice_objects`), if there is one.
    pub async fn object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.store
            .read(move |conn| {
                conn.query_row(
                    "SELECT data FROM _sluice_objects WHERE bucket = ?1 AND key = ?2",
                    params![bucket, key],
                    |r| r.get(0),
                )
                .optional()
            })
            .await
    }

    /// The records of a stream's shard from `start` to `end` (sequence numbers, inclusive), as far as they
    /// are kept. `stream` is the logical stream name.
    pub async fn stream_range(
        &self,
        stream: &str,
        shard_id: &str,
        start: &str,
        end: &str,
    ) -> Result<StreamRange, StoreError> {
        let (Some(shard), Some(first), Some(last)) = (
            kinesis::shard_index(shard_id),
            kinesis::sequence_counter(start),
            kinesis::sequence_counter(end),
        ) else {
            return Ok(StreamRange {
                records: Vec::new(),
                start_kept: false,
            });
        };
        let stream = stream.to_owned();
        let records = self
            .store
            .read(move |conn| inspect::records_between(conn, &stream, shard, first, last))
            .await?;
        let start_kept = records.first().is_some_and(|r| r.counter == first);
        Ok(StreamRange {
            records,
            start_kept,
        })
    }

    /// Appends a record to a stream (a redrive back onto the stream), as the gateway's `PutRecord` does: the
    /// shard from the partition key, the next sequence number. Answers `(shard id, sequence number)`.
    pub async fn put_record(
        &self,
        pipeline: &Pipeline,
        stream: &str,
        partition_key: &str,
        data: Vec<u8>,
    ) -> Result<(String, String), StoreError> {
        let shards = pipeline
            .streams
            .get(stream)
            .map_or(1, sluice_config::Stream::shard_count);
        let appended = self
            .store
            .append(stream, shards, partition_key, data, super::now_ms())
            .await?;
        Ok((appended.shard_id(), appended.sequence_number()))
    }

    /// The consumer's table, written as the local writer writes it (the ordering rule included).
    pub fn table(&self, pipeline: &Pipeline, consumer: &Consumer) -> Option<SqliteTable> {
        let table = pipeline.tables.get(&consumer.table)?;
        Some(SqliteTable::new(self.store.clone(), table))
    }

    /// The consumer's dead-letter queue and the bucket, as the local writer sends to them.
    pub fn dead_letters(&self, consumer: &Consumer) -> SqliteDeadLetters {
        SqliteDeadLetters::new(
            self.store.clone(),
            consumer.dead_letter_queue.clone(),
            self.bucket.clone(),
        )
    }

    /// The event record the local event source mapping would hand the consumer's writer for `record`.
    pub fn event_record(
        pipeline: &Pipeline,
        consumer: &Consumer,
        record: &StoredRecord,
    ) -> aws_lambda_events::event::kinesis::KinesisEventRecord {
        let physical = pipeline
            .streams
            .get(&consumer.stream)
            .map_or(consumer.stream.as_str(), |s| s.physical_name.as_str());
        let source = EventSource {
            region: pipeline.region.clone(),
            stream_arn: kinesis::stream_arn(&pipeline.region, physical),
            invoke_identity_arn: format!(
                "arn:aws:iam::{}:role/{}",
                kinesis::LOCAL_ACCOUNT,
                consumer.function_name
            ),
        };
        kinesis::event_record(&source, record)
    }

    /// Waits for the writes made through this handle, then closes it.
    pub async fn close(&self) {
        self.store.close().await;
    }
}
