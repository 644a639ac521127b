//! One Kinesis batch, end to end ([`handle_batch`]): build items, de-duplicate per key, write in parallel
//! chunks with retries, dead-letter permanent failures in order (holding back those behind a transient
//! failure), and answer the partial batch response.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;

use crate::dead_letters::{Delivery, dead_letter};
use crate::{
    BatchStats, DeadLetters, Item, ItemKey, KinesisEvent, KinesisEventResponse,
    MAX_BATCH_WRITE_ITEMS, Permanent, PutResult, Reason, Table, WriteOutcome, WritePolicy,
    WriterConfig, build_item, compare_sequence_numbers,
};

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
pub(crate) fn backoff(policy: &WritePolicy, n: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(n))
        .min(policy.max_delay);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::random_range(0..=millis))
}
