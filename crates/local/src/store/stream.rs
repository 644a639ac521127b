//! The streams' records (`_sluice_records`): appending one (the next sequence number of its shard), reading
//! a shard's records after a position, and the retention sweep.

use rusqlite::params;

use super::{Appended, Store, StoreError, kinesis};
use crate::inspect;
use crate::kinesis::StoredRecord;

impl Store {
    /// Appends a record to a stream: the shard from the partition key's MD5, the next sequence number of that
    /// shard. Answers once the record is on disk.
    pub async fn append(
        &self,
        stream: &str,
        shard_count: u32,
        partition_key: &str,
        data: Vec<u8>,
        arrival_ms: i64,
    ) -> Result<Appended, StoreError> {
        let shard = kinesis::shard_for(partition_key, shard_count);
        let stream = stream.to_owned();
        let partition_key = partition_key.to_owned();
        // One INSERT: no savepoint needed; the counter moves only once it succeeded.
        self.write_committed(move |conn, state| {
            let key = (stream, shard);
            let counter = state.last_counter.get(&key).copied().unwrap_or(0) + 1;
            let mut stmt = conn.prepare_cached(
                "INSERT INTO _sluice_records (stream, shard_id, counter, sequence_number, partition_key, data, arrival_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            stmt.execute(params![
                key.0,
                kinesis::shard_id(shard),
                counter,
                kinesis::sequence_number(shard, counter),
                partition_key,
                data,
                arrival_ms
            ])?;
            state.last_counter.insert(key.clone(), counter);
            state.dirty.push(key);
            state.appended = true;
            Ok(Appended { shard, counter })
        })
        .await
    }

    /// Up to `limit` records of a shard with a counter above `after`, in order.
    pub async fn records_after(
        &self,
        stream: &str,
        shard: u32,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let stream = stream.to_owned();
        self.read(move |conn| inspect::records_after(conn, &stream, shard, after, limit))
            .await
    }

    /// Deletes the records that arrived before `cutoff_ms` (the retention sweep); answers how many.
    pub async fn delete_records_before(
        &self,
        stream: &str,
        cutoff_ms: i64,
    ) -> Result<usize, StoreError> {
        let stream = stream.to_owned();
        self.write(move |conn, _| {
            conn.execute(
                "DELETE FROM _sluice_records WHERE stream = ?1 AND arrival_ms < ?2",
                params![stream, cutoff_ms],
            )
        })
        .await
    }
}
