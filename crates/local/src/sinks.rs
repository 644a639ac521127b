//! The writer's two seams over SQLite: [`SqliteTable`] (its `Table`, DynamoDB's stand-in) and
//! [`SqliteDeadLetters`] (its `DeadLetters`, the stand-in of the SQS queue and the S3 dead-letter bucket).
//! Both write through the [`Store`]'s writer, so a write the writer sees succeed is committed.

use rusqlite::types::Value as SqlValue;
use serde_json::Value;
use sluice_writer::{
    DeadLetterMessage, DeadLetters, Item, PutResult, Table, WriteOutcome, WriterError,
};

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::store::{Store, StoreError, quote_ident};
use super::throttle::TokenBucket;
use sluice_config::{KeyAttribute, KeyType, Table as TableConfig};
use sluice_contract::limits::WRITE_UNIT_BYTES;

/// A DynamoDB table as an SQLite table: a column per key attribute (the primary key) and `item` (JSON).
///
/// A put replaces the stored item only if its `sequenceNumber` is not lower than the stored one's, so a
/// late redelivery of an older record never overwrites a newer item; such a put is
/// [`WriteOutcome::Superseded`], as DynamoDB's failed condition is on AWS.
///
/// With a write capacity ([`SqliteTable::with_capacity`]: a provisioned table, AWS's limits on), each put
/// takes the item's write units (its size rounded up to [`WRITE_UNIT_BYTES`], as DynamoDB charges, a put
/// whose condition fails included) from the table's bucket; a put that finds too few is
/// [`WriteOutcome::Unprocessed`], DynamoDB's `ProvisionedThroughputExceededException`, and the writer
/// backs off and retries it as it does on AWS.
#[derive(Clone)]
pub struct SqliteTable {
    store: Store,
    partition_key: KeyAttribute,
    sort_key: Option<KeyAttribute>,
    upsert: String,
    capacity: Option<Arc<Mutex<TokenBucket>>>,
}

impl SqliteTable {
    pub fn new(store: Store, table: &TableConfig) -> Self {
        let mut columns = vec![quote_ident(&table.partition_key.name)];
        if let Some(sort) = &table.sort_key {
            columns.push(quote_ident(&sort.name));
        }
        let placeholders: Vec<String> = (1..=columns.len() + 1).map(|i| format!("?{i}")).collect();
        // Sequence numbers are decimal strings: compare them as numbers (length, then digits, leading zeros
        // dropped). A stored item without one is always replaced.
        let seq =
            |of: &str| format!("ltrim(coalesce(json_extract({of}, '$.sequenceNumber'), ''), '0')");
        let (new, old) = (seq("excluded.item"), seq("item"));
        let upsert = format!(
            "INSERT INTO {table} ({cols}, item) VALUES ({ph})
             ON CONFLICT ({cols}) DO UPDATE SET item = excluded.item
             WHERE (length({new}), {new}) >= (length({old}), {old})",
            table = quote_ident(&table.name),
            cols = columns.join(", "),
            ph = placeholders.join(", "),
        );
        SqliteTable {
            store,
            partition_key: table.partition_key.clone(),
            sort_key: table.sort_key.clone(),
            upsert,
            capacity: None,
        }
    }

    /// Throttles puts to the table's write capacity (shared by every writer of the table).
    pub fn with_capacity(mut self, capacity: Option<Arc<Mutex<TokenBucket>>>) -> Self {
        self.capacity = capacity;
        self
    }

    /// Takes `units` write units from the table's capacity; `false` when the table is out of them.
    fn take_units(&self, units: usize) -> bool {
        let Some(capacity) = &self.capacity else {
            return true;
        };
        let mut bucket = capacity
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        bucket.try_take(units as f64, Instant::now())
    }
}

/// The write units a put of an item of `bytes` costs: its size rounded up to whole kilobytes, at least one.
pub fn write_units(bytes: usize) -> usize {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1)
}

/// Why an item cannot be stored under its table's key.
#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error("key attribute {name:?} must be of type {kind} but is {value}")]
    WrongType {
        name: String,
        kind: &'static str,
        value: Value,
    },
    #[error("the item has no key attribute {0:?}")]
    Missing(String),
}

/// A key attribute's value as an SQLite value of the column's type, or why the item cannot be stored.
fn key_value(item: &Item, key: &KeyAttribute) -> Result<SqlValue, KeyError> {
    match (key.kind, item.get(&key.name)) {
        (KeyType::S, Some(Value::String(s))) if !s.is_empty() => Ok(SqlValue::Text(s.clone())),
        (KeyType::N, Some(Value::Number(n))) => Ok(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => SqlValue::Integer(i),
            (None, Some(f)) => SqlValue::Real(f),
            (None, None) => SqlValue::Text(n.to_string()),
        }),
        (kind, Some(other)) => Err(KeyError::WrongType {
            name: key.name.clone(),
            kind: kind.as_str(),
            value: other.clone(),
        }),
        (_, None) => Err(KeyError::Missing(key.name.clone())),
    }
}

impl Table for SqliteTable {
    async fn put_items(&self, items: Vec<Item>) -> PutResult {
        let mut outcomes = vec![WriteOutcome::Written; items.len()];
        let mut rows: Vec<(usize, Vec<SqlValue>)> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut row = Vec::with_capacity(3);
            let keys = std::iter::once(&self.partition_key).chain(self.sort_key.as_ref());
            let mut bad = None;
            for key in keys {
                match key_value(item, key) {
                    Ok(v) => row.push(v),
                    Err(e) => bad = Some(e.to_string()),
                }
            }
            if let Some(reason) = bad {
                outcomes[i] = WriteOutcome::Permanent(reason);
                continue;
            }
            match serde_json::to_string(item) {
                Ok(json) if !self.take_units(write_units(json.len())) => {
                    outcomes[i] = WriteOutcome::Unprocessed;
                    continue;
                }
                Ok(json) => row.push(SqlValue::Text(json)),
                Err(e) => {
                    outcomes[i] =
                        WriteOutcome::Permanent(format!("the item cannot be serialised: {e}"));
                    continue;
                }
            }
            rows.push((i, row));
        }
        if rows.is_empty() {
            return PutResult { outcomes };
        }
        let sql = self.upsert.clone();
        // Answered before the COMMIT: the checkpoint past these records is a later write (see
        // `Store::write_ordered`).
        let written = self
            .store
            .write_ordered(move |conn, _| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut superseded = Vec::new();
                for (i, row) in rows {
                    // No row changed: the upsert's condition kept the stored, newer item.
                    if stmt.execute(rusqlite::params_from_iter(row))? == 0 {
                        superseded.push(i);
                    }
                }
                Ok(superseded)
            })
            .await;
        match written {
            Ok(superseded) => {
                for i in superseded {
                    outcomes[i] = WriteOutcome::Superseded;
                }
            }
            Err(e) => {
                let reason = format!("SQLite write failed: {e}");
                for outcome in &mut outcomes {
                    if *outcome == WriteOutcome::Written {
                        *outcome = WriteOutcome::Transient(reason.clone());
                    }
                }
            }
        }
        PutResult { outcomes }
    }
}

/// A dead-letter queue as an SQLite table (`id`, `body` (the message JSON), `sent_at_ms`), with the same
/// size limit as the generated SQS queue, and the dead-letter bucket as rows of `_sluice_objects`.
#[derive(Clone)]
pub struct SqliteDeadLetters {
    store: Store,
    queue: String,
    bucket: String,
}

impl SqliteDeadLetters {
    pub fn new(store: Store, queue: impl Into<String>, bucket: impl Into<String>) -> Self {
        SqliteDeadLetters {
            store,
            queue: queue.into(),
            bucket: bucket.into(),
        }
    }

    /// Stores any message body (the event source mapping's on-failure messages go here too).
    pub async fn send_body(&self, body: String) -> Result<(), StoreError> {
        self.store.send_message(&self.queue, body).await
    }
}

impl DeadLetters for SqliteDeadLetters {
    async fn send(&self, message: DeadLetterMessage) -> Result<(), WriterError> {
        match self.send_body(message.to_json()).await {
            Ok(()) => Ok(()),
            Err(e @ StoreError::MessageTooLarge { .. }) => {
                Err(WriterError::DeadLetterTooLarge(e.to_string()))
            }
            Err(e) => Err(WriterError::DeadLetter(e.to_string())),
        }
    }

    async fn store_data(
        &self,
        key: String,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<String, WriterError> {
        self.store
            .put_object(&self.bucket, &key, data, sha256)
            .await
            .map_err(|e| WriterError::DeadLetterData(e.to_string()))?;
        Ok(self.bucket.clone())
    }
}
