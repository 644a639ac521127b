//! Reading the local pipeline's state from outside `cargo xtask dev`: what `cargo xtask status --local` and
//! `cargo xtask items --local` show. Every read-side SQL query on `<state-dir>/pipeline.db` (layout in
//! [`crate::store`]) lives here; callers get typed snapshots and format them. That includes the stream
//! reads the running pipeline makes on the [`Store`](crate::store::Store)'s read connections
//! ([`records_after`] for the event source mapping, [`records_between`] for `cargo xtask dlq`), and the one
//! mapping of a stored record's row ([`stored_record`]).
//!
//! The database is opened read-only, so it can be read while `cargo xtask dev` runs: in WAL mode readers do
//! not block the writer, nor it them; a busy timeout covers the moments a checkpoint holds a lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params};
use serde_json::Value;

use crate::kinesis::{self, StoredRecord};
use crate::store::quote_ident;
use sluice_config::{KeyType, Pipeline, Table};
use sluice_contract::writer::attribute;

/// The window of the "recent" figures (incoming rate, recent writes).
pub const RECENT_WINDOW_MS: i64 = 60_000;

/// Why the local state cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(
        "there is no local pipeline state at {path} (start `cargo xtask dev`, or pass the --state-dir it uses)"
    )]
    NoState { path: PathBuf },
    #[error("reading {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("there is no table `{name}` in pipeline.toml; its tables: {known}")]
    UnknownTable { name: String, known: String },
    #[error(
        "table `{table}` has not been created in {path} yet (restart `cargo xtask dev` after adding it)"
    )]
    TableNotCreated { table: String, path: PathBuf },
    #[error(
        "the key attribute `{attribute}` of `{table}` is a number (type N); `{value}` is not a number"
    )]
    KeyNotANumber {
        table: String,
        attribute: String,
        value: String,
    },
    #[error(
        "table `{table}` has a sort key `{attribute}` ({kind}); give it after the partition key"
    )]
    SortKeyMissing {
        table: String,
        attribute: String,
        kind: KeyType,
    },
    #[error("table `{table}` has no sort key; give only its partition key `{attribute}`")]
    NoSortKey { table: String, attribute: String },
}

/// One shard of a local stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSnapshot {
    pub shard_id: String,
    /// The sequence number of the shard's last record (none before the first).
    pub last_sequence_number: Option<String>,
    /// Records kept (not yet swept by retention).
    pub records_kept: u64,
    /// Records that arrived in the last [`RECENT_WINDOW_MS`].
    pub records_recent: u64,
}

/// A local stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSnapshot {
    pub name: String,
    pub shards: Vec<ShardSnapshot>,
}

/// How far one consumer is behind on one shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerShardSnapshot {
    pub shard_id: String,
    /// The sequence number of the last record the consumer is done with (none: nothing yet, or not started).
    pub checkpoint_sequence_number: Option<String>,
    /// Records after the checkpoint.
    pub records_behind: u64,
    /// Arrival time (ms since the epoch) of the oldest record after the checkpoint.
    pub oldest_unprocessed_arrival_ms: Option<i64>,
}

/// A local consumer (event source mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSnapshot {
    pub name: String,
    pub stream: String,
    pub shards: Vec<ConsumerShardSnapshot>,
}

/// A local dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSnapshot {
    pub name: String,
    pub messages: u64,
    /// When the oldest waiting message was sent (ms since the epoch).
    pub oldest_sent_ms: Option<i64>,
}

/// A local DynamoDB table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSnapshot {
    pub name: String,
    pub items: u64,
    /// The newest item's `receivedAt` (ms since the epoch: when the gateway accepted its request).
    pub newest_received_at_ms: Option<i64>,
    /// Items whose `receivedAt` is in the last [`RECENT_WINDOW_MS`].
    pub items_received_recently: u64,
}

/// Everything `status --local` shows, read in one read transaction (one consistent view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// When it was taken (ms since the epoch).
    pub taken_ms: i64,
    pub streams: Vec<StreamSnapshot>,
    pub consumers: Vec<ConsumerSnapshot>,
    pub queues: Vec<QueueSnapshot>,
    pub tables: Vec<TableSnapshot>,
}

/// A read-only connection to `<state-dir>/pipeline.db`.
pub struct Inspector {
    conn: Connection,
    path: PathBuf,
}

/// A key value given on the command line, typed as the table's key attribute says.
fn key_param(
    table: &Table,
    attribute: &str,
    kind: KeyType,
    value: &str,
) -> Result<rusqlite::types::Value, InspectError> {
    match kind {
        KeyType::S => Ok(rusqlite::types::Value::Text(value.to_owned())),
        KeyType::N => {
            let not_a_number = || InspectError::KeyNotANumber {
                table: table.name.clone(),
                attribute: attribute.to_owned(),
                value: value.to_owned(),
            };
            let n: f64 = value.trim().parse().map_err(|_| not_a_number())?;
            if !n.is_finite() {
                return Err(not_a_number());
            }
            // The column has NUMERIC affinity: integers are stored as integers.
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Ok(rusqlite::types::Value::Integer(n as i64))
            } else {
                Ok(rusqlite::types::Value::Real(n))
            }
        }
    }
}

impl Inspector {
    /// Opens `<state_dir>/pipeline.db` read-only.
    pub fn open(state_dir: &Path) -> Result<Inspector, InspectError> {
        let path = state_dir.join("pipeline.db");
        if !path.is_file() {
            return Err(InspectError::NoState { path });
        }
        let sqlite = |source| InspectError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite)?;
        Ok(Inspector { conn, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self) -> impl Fn(rusqlite::Error) -> InspectError + '_ {
        move |source| InspectError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn has_table(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map(|r| r.is_some())
    }

    /// The state of every stream, consumer, dead-letter queue and table of `pipeline`, as of `now_ms`.
    pub fn snapshot(&self, pipeline: &Pipeline, now_ms: i64) -> Result<Snapshot, InspectError> {
        let tx = self.conn.unchecked_transaction().map_err(self.sqlite())?;
        let snapshot = self
            .read_snapshot(pipeline, now_ms)
            .map_err(self.sqlite())?;
        tx.finish().map_err(self.sqlite())?;
        Ok(snapshot)
    }

    fn read_snapshot(&self, pipeline: &Pipeline, now_ms: i64) -> rusqlite::Result<Snapshot> {
        let conn = &self.conn;
        let since = now_ms - RECENT_WINDOW_MS;
        let mut streams = Vec::new();
        for stream in pipeline.streams.values() {
            let mut shards = Vec::new();
            for index in 0..stream.shard_count() {
                let shard_id = kinesis::shard_id(index);
                let last: Option<i64> = conn
                    .query_row(
                        "SELECT last_counter FROM _sluice_shards WHERE stream = ?1 AND shard_id = ?2",
                        params![stream.name, shard_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let (kept, recent): (i64, i64) = conn.query_row(
                    "SELECT count(*), count(CASE WHEN arrival_ms >= ?3 THEN 1 END) FROM _sluice_records
                     WHERE stream = ?1 AND shard_id = ?2",
                    params![stream.name, shard_id, since],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                shards.push(ShardSnapshot {
                    last_sequence_number: last
                        .filter(|c| *c > 0)
                        .map(|c| kinesis::sequence_number(index, c)),
                    shard_id,
                    records_kept: kept.max(0) as u64,
                    records_recent: recent.max(0) as u64,
                });
            }
            streams.push(StreamSnapshot {
                name: stream.name.clone(),
                shards,
            });
        }

        let mut consumers = Vec::new();
        for consumer in pipeline.consumers.values() {
            let Some(stream) = pipeline.streams.get(&consumer.stream) else {
                continue;
            };
            let mut shards = Vec::new();
            for index in 0..stream.shard_count() {
                let shard_id = kinesis::shard_id(index);
                let checkpoint: Option<i64> = conn
                    .query_row(
                        "SELECT counter FROM _sluice_checkpoints WHERE consumer = ?1 AND stream = ?2 AND shard_id = ?3",
                        params![consumer.name, stream.name, shard_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                // Without a checkpoint the mapping has not started on this shard: LATEST will begin after the
                // last record (nothing behind), TRIM_HORIZON at the oldest record kept.
                let after = match (checkpoint, consumer.starting_position) {
                    (Some(c), _) => c,
                    (None, sluice_config::StartingPosition::Latest) => i64::MAX,
                    (None, _) => 0,
                };
                let (behind, oldest): (i64, Option<i64>) = conn.query_row(
                    "SELECT count(*), min(arrival_ms) FROM _sluice_records
                     WHERE stream = ?1 AND shard_id = ?2 AND counter > ?3",
                    params![stream.name, shard_id, after],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                shards.push(ConsumerShardSnapshot {
                    checkpoint_sequence_number: checkpoint
                        .filter(|c| *c > 0)
                        .map(|c| kinesis::sequence_number(index, c)),
                    shard_id,
                    records_behind: behind.max(0) as u64,
                    oldest_unprocessed_arrival_ms: oldest,
                });
            }
            consumers.push(ConsumerSnapshot {
                name: consumer.name.clone(),
                stream: consumer.stream.clone(),
                shards,
            });
        }

        let mut queues = Vec::new();
        for queue in pipeline.queues.values() {
            let (messages, oldest) = if self.has_table(&queue.name)? {
                conn.query_row(
                    &format!(
                        "SELECT count(*), min(sent_at_ms) FROM {}",
                        quote_ident(&queue.name)
                    ),
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
                )?
            } else {
                (0, None)
            };
            queues.push(QueueSnapshot {
                name: queue.name.clone(),
                messages: messages.max(0) as u64,
                oldest_sent_ms: oldest,
            });
        }

        let mut tables = Vec::new();
        for table in pipeline.tables.values() {
            let (items, newest, recent) = if self.has_table(&table.name)? {
                conn.query_row(
                    &format!(
                        "SELECT count(*), max(json_extract(item, ?1)),
                                count(CASE WHEN json_extract(item, ?1) >= ?2 THEN 1 END)
                         FROM {}",
                        quote_ident(&table.name)
                    ),
                    params![format!("$.{}", attribute::RECEIVED_AT), since],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<f64>>(1)?,
                            r.get::<_, i64>(2)?,
                        ))
                    },
                )?
            } else {
                (0, None, 0)
            };
            tables.push(TableSnapshot {
                name: table.name.clone(),
                items: items.max(0) as u64,
                newest_received_at_ms: newest.map(|n| n as i64),
                items_received_recently: recent.max(0) as u64,
            });
        }
        Ok(Snapshot {
            taken_ms: now_ms,
            streams,
            consumers,
            queues,
            tables,
        })
    }

    /// The table of `pipeline` called `name`, or an error naming the tables there are.
    pub fn table<'p>(pipeline: &'p Pipeline, name: &str) -> Result<&'p Table, InspectError> {
        pipeline
            .tables
            .get(name)
            .or_else(|| pipeline.tables.values().find(|t| t.physical_name == name))
            .ok_or_else(|| InspectError::UnknownTable {
                name: name.to_owned(),
                known: pipeline
                    .tables
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn require_table(&self, table: &Table) -> Result<(), InspectError> {
        if self.has_table(&table.name).map_err(self.sqlite())? {
            Ok(())
        } else {
            Err(InspectError::TableNotCreated {
                table: table.name.clone(),
                path: self.path.clone(),
            })
        }
    }

    /// The item of `table` with this partition key (and sort key, which the table must then have).
    pub fn get_item(
        &self,
        table: &Table,
        partition_key: &str,
        sort_key: Option<&str>,
    ) -> Result<Option<Value>, InspectError> {
        let pk = &table.partition_key;
        let mut conditions = vec![format!("{} = ?1", quote_ident(&pk.name))];
        let mut values = vec![key_param(table, &pk.name, pk.kind, partition_key)?];
        match (&table.sort_key, sort_key) {
            (Some(sk), Some(value)) => {
                conditions.push(format!("{} = ?2", quote_ident(&sk.name)));
                values.push(key_param(table, &sk.name, sk.kind, value)?);
            }
            (Some(sk), None) => {
                return Err(InspectError::SortKeyMissing {
                    table: table.name.clone(),
                    attribute: sk.name.clone(),
                    kind: sk.kind,
                });
            }
            (None, Some(_)) => {
                return Err(InspectError::NoSortKey {
                    table: table.name.clone(),
                    attribute: pk.name.clone(),
                });
            }
            (None, None) => {}
        }
        self.first_item(table, &conditions, values)
    }

    /// An item of `table` with this partition key, whatever its sort key (any one, for a table that has
    /// one): what `cargo xtask smoke-test --local` waits for.
    pub fn item_with_partition_key(
        &self,
        table: &Table,
        partition_key: &str,
    ) -> Result<Option<Value>, InspectError> {
        let pk = &table.partition_key;
        let value = key_param(table, &pk.name, pk.kind, partition_key)?;
        self.first_item(
            table,
            &[format!("{} = ?1", quote_ident(&pk.name))],
            vec![value],
        )
    }

    /// The first item of `table` whose key columns meet `conditions` (`?1`, `?2`… bound to `values`), the
    /// one query behind [`Inspector::get_item`] and [`Inspector::item_with_partition_key`].
    fn first_item(
        &self,
        table: &Table,
        conditions: &[String],
        values: Vec<rusqlite::types::Value>,
    ) -> Result<Option<Value>, InspectError> {
        self.require_table(table)?;
        let sql = format!(
            "SELECT item FROM {} WHERE {} LIMIT 1",
            quote_ident(&table.name),
            conditions.join(" AND ")
        );
        let text: Option<String> = self
            .conn
            .query_row(&sql, rusqlite::params_from_iter(values), |r| r.get(0))
            .optional()
            .map_err(self.sqlite())?;
        Ok(text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))))
    }

    /// The messages waiting in the dead-letter queue `queue` (none while its table is not created).
    pub fn queue_messages(&self, queue: &str) -> Result<u64, InspectError> {
        if !self.has_table(queue).map_err(self.sqlite())? {
            return Ok(0);
        }
        let n: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM {}", quote_ident(queue)),
                [],
                |r| r.get(0),
            )
            .map_err(self.sqlite())?;
        Ok(n.max(0) as u64)
    }

    /// Every item's row id and the `sequenceNumber` it was written from: what `items --follow` compares
    /// between two looks to find the items written (or overwritten by a newer record) in between.
    pub fn item_versions(&self, table: &Table) -> Result<Vec<(i64, Option<String>)>, InspectError> {
        self.require_table(table)?;
        let sql = format!(
            "SELECT rowid, json_extract(item, ?1) FROM {}",
            quote_ident(&table.name)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.sqlite())?;
        let rows = stmt
            .query_map(params![format!("$.{}", attribute::SEQUENCE_NUMBER)], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .map_err(self.sqlite())?;
        rows.collect::<Result<_, _>>().map_err(self.sqlite())
    }

    /// The item in row `rowid` of `table` (see [`Inspector::item_versions`]).
    pub fn item_at(&self, table: &Table, rowid: i64) -> Result<Option<Value>, InspectError> {
        self.require_table(table)?;
        let sql = format!(
            "SELECT item FROM {} WHERE rowid = ?1",
            quote_ident(&table.name)
        );
        let text: Option<String> = self
            .conn
            .query_row(&sql, params![rowid], |r| r.get(0))
            .optional()
            .map_err(self.sqlite())?;
        Ok(text.map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t))))
    }

    /// The message bodies waiting in the dead-letter queue `queue`, oldest first (none while its table is not
    /// created).
    pub fn queue_bodies(&self, queue: &str) -> Result<Vec<String>, InspectError> {
        if !self.has_table(queue).map_err(self.sqlite())? {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT body FROM {} ORDER BY id", quote_ident(queue));
        let mut stmt = self.conn.prepare(&sql).map_err(self.sqlite())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.sqlite())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sqlite())
    }

    /// The sequence number of the last record `consumer` is done with on `stream`'s shard `shard_id` (stored,
    /// or delivered to the on-failure destination, or skipped by its filters): every record up to it is
    /// done, so a record at or before it has reached its table or dead-letter queue. `None` before the
    /// mapping has started on the shard or when it has done nothing yet.
    pub fn checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard_id: &str,
    ) -> Result<Option<String>, InspectError> {
        let Some(shard) = kinesis::shard_index(shard_id) else {
            return Ok(None);
        };
        let counter: Option<i64> = self
            .conn
            .query_row(
                "SELECT counter FROM _sluice_checkpoints WHERE consumer = ?1 AND stream = ?2 AND shard_id = ?3",
                params![consumer, stream, shard_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sqlite())?;
        Ok(counter
            .filter(|c| *c > 0)
            .map(|c| kinesis::sequence_number(shard, c)))
    }

    /// The newest `limit` items of `table` by `receivedAt` (then by key), newest first.
    pub fn newest_items(&self, table: &Table, limit: usize) -> Result<Vec<Value>, InspectError> {
        self.require_table(table)?;
        let sql = format!(
            "SELECT item FROM {} ORDER BY json_extract(item, ?1) DESC, rowid DESC LIMIT ?2",
            quote_ident(&table.name)
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare(&sql).map_err(self.sqlite())?;
        let rows = stmt
            .query_map(
                params![format!("$.{}", attribute::RECEIVED_AT), limit],
                |r| r.get::<_, String>(0),
            )
            .map_err(self.sqlite())?;
        let mut items = Vec::new();
        for row in rows {
            let text = row.map_err(self.sqlite())?;
            items.push(serde_json::from_str(&text).unwrap_or(Value::String(text)));
        }
        Ok(items)
    }
}

/// The columns of `_sluice_records` that make a [`StoredRecord`], in the order [`stored_record`] reads them.
const RECORD_COLUMNS: &str = "counter, partition_key, data, arrival_ms";

/// The one mapping of a `_sluice_records` row (selected as [`RECORD_COLUMNS`]) of shard `shard` to a
/// [`StoredRecord`].
pub(crate) fn stored_record(shard: u32, row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRecord> {
    Ok(StoredRecord {
        shard,
        counter: row.get(0)?,
        partition_key: row.get(1)?,
        data: row.get(2)?,
        arrival_ms: row.get(3)?,
    })
}

/// Up to `limit` records of a shard with a counter above `after`, in order (the event source mapping's
/// shard reader; the statement is cached on the connection).
/// The stored checkpoint counter of a consumer on a shard (the running pipeline's read, after a failed
/// commit: see `Store::committed_checkpoint`).
pub(crate) fn checkpoint_counter(
    conn: &Connection,
    consumer: &str,
    stream: &str,
    shard: u32,
) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT counter FROM _sluice_checkpoints WHERE consumer = ?1 AND stream = ?2 AND shard_id = ?3",
        params![consumer, stream, kinesis::shard_id(shard)],
        |r| r.get(0),
    )
    .optional()
}

pub(crate) fn records_after(
    conn: &Connection,
    stream: &str,
    shard: u32,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<StoredRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RECORD_COLUMNS} FROM _sluice_records
                 WHERE stream = ?1 AND shard_id = ?2 AND counter > ?3 ORDER BY counter LIMIT ?4"
    ))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(
        params![stream, kinesis::shard_id(shard), after, limit],
        |r| stored_record(shard, r),
    )?;
    rows.collect()
}

/// The records of a shard with a counter from `first` to `last` (inclusive) that are still kept, in order.
pub(crate) fn records_between(
    conn: &Connection,
    stream: &str,
    shard: u32,
    first: i64,
    last: i64,
) -> rusqlite::Result<Vec<StoredRecord>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {RECORD_COLUMNS} FROM _sluice_records
                     WHERE stream = ?1 AND shard_id = ?2 AND counter BETWEEN ?3 AND ?4 ORDER BY counter"
    ))?;
    let rows = stmt.query_map(
        params![stream, kinesis::shard_id(shard), first, last],
        |r| stored_record(shard, r),
    )?;
    rows.collect()
}
