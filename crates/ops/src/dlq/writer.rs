//! Running records through the writer library for a redrive (the same `handle_batch`, the same conditional
//! puts), over any table and dead-letter store, remembering the first failure's reason (the library only
//! counts them).

use std::sync::Mutex;

use sluice_contract::DeadLetterMessage;
use sluice_writer::{
    BatchStats, DeadLetters, Item, KinesisEvent, PutResult, Table, WriteOutcome, WriterConfig,
    WriterError,
};

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

/// The writer's config for a consumer's table, deployed as `table_name`.
pub(super) fn writer_config(table: &sluice_config::Table, table_name: String) -> WriterConfig {
    WriterConfig {
        table_name,
        partition_key: table.partition_key.clone(),
        sort_key: table.sort_key.clone(),
        write: sluice_writer::WritePolicy::default(),
    }
}

/// Runs `event` through the writer library into `table`; answers its counts and the first failure's reason.
pub(super) async fn run_writer<T: Table, D: DeadLetters>(
    config: &WriterConfig,
    table: T,
    dead_letters: D,
    event: KinesisEvent,
) -> (BatchStats, Option<String>) {
    let table = &Noting::new(table);
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
