//! The event source mappings' checkpoints (`_sluice_checkpoints`): per consumer and shard, the counter of
//! the last record it is done with.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::{Store, StoreError, kinesis, now_ms};

impl Store {
    /// The stored checkpoint of a consumer on a shard, or — when it has none (the mapping is new) — the one
    /// its starting position gives, stored now: `latest` → after the shard's last record; otherwise 0
    /// (the oldest record kept).
    pub async fn checkpoint_or_start(
        &self,
        consumer: &str,
        stream: &str,
        shard: u32,
        latest: bool,
    ) -> Result<i64, StoreError> {
        let (consumer, stream) = (consumer.to_owned(), stream.to_owned());
        self.write(move |conn, state| {
            let shard_id = kinesis::shard_id(shard);
            let existing: Option<i64> = conn
                .query_row(
                    "SELECT counter FROM _sluice_checkpoints WHERE consumer = ?1 AND stream = ?2 AND shard_id = ?3",
                    params![consumer, stream, shard_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(counter) = existing {
                return Ok(counter);
            }
            let start = if latest { state.last_counter(&stream, shard) } else { 0 };
            put_checkpoint(conn, &consumer, &stream, shard, start)?;
            Ok(start)
        })
        .await
    }

    /// Stores a checkpoint: the consumer is done with every record of the shard up to `counter`, as handled
    /// under the store's `generation` ([`Store::generation`]). Refused if a commit failed since (the items
    /// of those records may have been rolled back with it): the mapping then resumes from
    /// [`Store::committed_checkpoint`].
    pub async fn set_checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: u32,
        counter: i64,
        generation: u64,
    ) -> Result<(), StoreError> {
        let (consumer, stream) = (consumer.to_owned(), stream.to_owned());
        // Answered before the COMMIT (see `write_ordered`): nothing waits on a checkpoint being on disk —
        // a later checkpoint supersedes it, and after a crash the mapping resumes from the last one committed.
        self.write_ordered(move |conn, state| {
            if state.health.generation() != generation {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                    Some("a commit failed since these records were handled; the mapping resumes from its last committed checkpoint".into()),
                ));
            }
            put_checkpoint(conn, &consumer, &stream, shard, counter)
        })
        .await
    }

    /// The last committed checkpoint of a consumer on a shard (`None`: it has none).
    pub async fn committed_checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: u32,
    ) -> Result<Option<i64>, StoreError> {
        let (consumer, stream) = (consumer.to_owned(), stream.to_owned());
        self.read(move |conn| crate::inspect::checkpoint_counter(conn, &consumer, &stream, shard))
            .await
    }
}

fn put_checkpoint(
    conn: &Connection,
    consumer: &str,
    stream: &str,
    shard: u32,
    counter: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO _sluice_checkpoints (consumer, stream, shard_id, counter, sequence_number, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (consumer, stream, shard_id) DO UPDATE SET
             counter = excluded.counter, sequence_number = excluded.sequence_number, updated_ms = excluded.updated_ms",
    )?
    .execute(params![
        consumer,
        stream,
        kinesis::shard_id(shard),
        counter,
        kinesis::sequence_number(shard, counter),
        now_ms()
    ])?;
    Ok(())
}
