//! `dlq --local`: the dead-letter queues, bucket, streams and tables of `cargo xtask dev`'s `pipeline.db`,
//! through `sluice_local::dlq`.

use std::collections::HashSet;

use sluice_config::{Consumer, Pipeline};
use sluice_contract::DataLocation;
use sluice_contract::consumer::KinesisBatchInfo;
use sluice_local::dlq::LocalDeadLetters;
use sluice_writer::{BatchStats, KinesisEvent};

use super::message::{DlqError, Hydrated, Queued, Rec, object_gone, range_gone};
use super::writer::{run_writer, writer_config};

/// Every message of a queue not received yet in this run (`seen`).
pub(super) async fn page(
    local: &LocalDeadLetters,
    queue: &str,
    seen: &HashSet<String>,
) -> Result<Vec<Queued>, DlqError> {
    let all = local.messages(queue).await?;
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

pub(super) async fn delete(local: &LocalDeadLetters, m: &Queued) -> Result<(), DlqError> {
    let id: i64 = m.handle.parse().map_err(DlqError::BadHandle)?;
    local.delete_message(&m.queue, id).await?;
    Ok(())
}

/// A dead letter's object in the local bucket.
pub(super) async fn object(
    local: &LocalDeadLetters,
    location: &DataLocation,
) -> Result<Vec<u8>, DlqError> {
    local
        .object(&location.bucket, &location.key)
        .await?
        .ok_or_else(|| object_gone(location))
}

/// The records of an on-failure message's range, read back from the local stream.
pub(super) async fn range(
    local: &LocalDeadLetters,
    consumer: &Consumer,
    info: &KinesisBatchInfo,
    retention_hours: u32,
) -> Result<Hydrated, DlqError> {
    let range = local
        .stream_range(
            &consumer.stream,
            &info.shard_id,
            &info.start_sequence_number,
            &info.end_sequence_number,
        )
        .await?;
    if !range.start_kept {
        return Ok(Hydrated::Gone(range_gone(
            info,
            retention_hours,
            range.records.len(),
        )));
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

/// Puts a record back onto its local stream; answers its new sequence number.
pub(super) async fn put_record(
    local: &LocalDeadLetters,
    pipeline: &Pipeline,
    consumer: &Consumer,
    rec: &Rec,
) -> Result<String, DlqError> {
    let (_, seq) = local
        .put_record(
            pipeline,
            &consumer.stream,
            &rec.partition_key,
            rec.data.clone(),
        )
        .await?;
    Ok(seq)
}

/// Runs records through the writer library into the consumer's local table and dead-letter queue.
pub(super) async fn write(
    local: &LocalDeadLetters,
    pipeline: &Pipeline,
    consumer: &Consumer,
    table: &sluice_config::Table,
    event: KinesisEvent,
) -> Result<(BatchStats, Option<String>), DlqError> {
    let config = writer_config(table, table.name.clone());
    let sink = local
        .table(pipeline, consumer)
        .ok_or_else(|| DlqError::NoLocalTable(consumer.table.clone()))?;
    Ok(run_writer(&config, sink, local.dead_letters(consumer), event).await)
}
