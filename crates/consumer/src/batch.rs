//! One Kinesis batch, end to end, once each record's [`Plan`] is known ([`run_batch`]): de-duplicate per
//! table and key, write in parallel chunks with retries, dead-letter permanent failures in order (holding
//! back those behind a transient failure), and answer the partial batch response.
//!
//! A record may plan items for several tables. It is *written* when every one of its items is written or
//! superseded; one transient failure makes the whole record transient (reported in `batchItemFailures`,
//! redelivered, and its items written again, which the ordering rule makes idempotent: an item is replaced
//! only by one of a sequence number not lower); one permanent failure (an item the table refuses) makes
//! it dead-lettered, with the record's data — items of it already written stay written.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt as _;

use crate::dead_letters::{Delivery, dead_letter};
use crate::{
    BatchStats, DeadLetters, Item, ItemKey, KinesisEventRecord, KinesisEventResponse,
    MAX_BATCH_WRITE_ITEMS, Permanent, PutResult, Reason, Table, WriteOutcome, WritePolicy,
    compare_sequence_numbers,
};

/// One item a record plans to write: into `tables[table]` of [`run_batch`], with its key already read.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedItem {
    pub table: usize,
    pub key: ItemKey,
    pub item: Item,
}

/// What to do with one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Write these items (none: the record is done, as [`Plan::Skip`]).
    Write(Vec<PlannedItem>),
    /// Nothing to write; the record is done.
    Skip,
    /// It can never be written: dead-letter it with its data.
    DeadLetter(Permanent),
    /// Not now: report it so the event source mapping redelivers it.
    Retry(String),
}

/// Final state of one record (or one item) of the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Written,
    /// Not written: an item of its key with a higher sequence number won (in this batch or in the table).
    Superseded,
    Skipped,
    /// Needs a dead-letter message.
    Permanent(Permanent),
    DeadLettered(Delivery, Reason),
    Transient(String),
    /// A permanent failure after the batch's first transient failure: redelivered, dead-lettered then.
    HeldBack,
}

/// An item's place in the batch: (record index, item index).
type Slot = (usize, usize);

/// The tables a batch writes, each with the name its log line gives it.
pub type Tables<'a, T> = [(&'a str, &'a T)];

/// Handles one Kinesis batch whose records' plans are known (`plans[i]` is `records[i]`'s): writes what
/// can be written, dead-letters what never can, and reports the rest (transient failures) as batch item
/// failures. Never fails as a whole.
pub async fn run_batch<T: Table>(
    policy: &WritePolicy,
    tables: &Tables<'_, T>,
    dead_letters: &impl DeadLetters,
    records: &[KinesisEventRecord],
    plans: Vec<Plan>,
) -> (KinesisEventResponse, BatchStats) {
    let started = std::time::Instant::now();
    let mut fates: Vec<Option<Fate>> = vec![None; records.len()];
    let seq = |index: usize| records[index].kinesis.sequence_number.as_str();

    // Per (table, key), the item of the record with the highest sequence number (the last of equals).
    let mut items_of: Vec<Vec<(usize, ItemKey)>> = vec![Vec::new(); records.len()];
    let mut winners: HashMap<(usize, ItemKey), (Slot, Item)> = HashMap::new();
    for (index, plan) in plans.into_iter().enumerate() {
        let items = match plan {
            Plan::Skip => {
                fates[index] = Some(Fate::Skipped);
                continue;
            }
            Plan::DeadLetter(permanent) => {
                fates[index] = Some(Fate::Permanent(permanent));
                continue;
            }
            Plan::Retry(reason) => {
                fates[index] = Some(Fate::Transient(reason));
                continue;
            }
            Plan::Write(items) if items.is_empty() => {
                fates[index] = Some(Fate::Skipped);
                continue;
            }
            Plan::Write(items) => items,
        };
        if let Some(bad) = items.iter().find(|i| i.table >= tables.len()) {
            fates[index] = Some(Fate::Transient(format!(
                "internal: an item for table #{} of {}",
                bad.table,
                tables.len()
            )));
            continue;
        }
        for (n, planned) in items.into_iter().enumerate() {
            let id = (planned.table, planned.key);
            items_of[index].push(id.clone());
            match winners.get_mut(&id) {
                None => {
                    winners.insert(id, ((index, n), planned.item));
                }
                Some(current) => {
                    if compare_sequence_numbers(seq(index), seq(current.0.0)).is_ge() {
                        *current = ((index, n), planned.item);
                    }
                }
            }
        }
    }
    let winner_of: HashMap<(usize, ItemKey), Slot> = winners
        .iter()
        .map(|(id, (slot, _))| (id.clone(), *slot))
        .collect();

    // Write every winning item; its fate goes to its slot.
    let mut to_write: Vec<(Slot, usize, Item)> = winners
        .into_iter()
        .map(|((table, _), (slot, item))| (slot, table, item))
        .collect();
    to_write.sort_by_key(|(slot, table, _)| (*table, *slot));
    let (item_fates, write_retries) = write_items(tables, policy, to_write).await;

    // A record's fate from its items' (an item that lost to another of its key shares that one's fate).
    for (index, ids) in items_of.iter().enumerate() {
        if ids.is_empty() {
            continue;
        }
        let mut fate = Fate::Superseded;
        for (n, id) in ids.iter().enumerate() {
            let winner = winner_of.get(id).copied();
            let item_fate = match winner.and_then(|slot| item_fates.get(&slot).map(|f| (slot, f))) {
                None => Fate::Transient("internal: item without an outcome".into()),
                Some((slot, f)) if slot == (index, n) => f.clone(),
                Some((slot, f)) => match f {
                    Fate::Written | Fate::Superseded => Fate::Superseded,
                    Fate::Permanent(p) => Fate::Permanent(Permanent::new(
                        p.reason,
                        format!(
                            "superseded by sequence number {} of the same key, which failed: {}",
                            seq(slot.0),
                            p.detail
                        ),
                    )),
                    other => other.clone(),
                },
            };
            fate = worse(fate, item_fate);
        }
        fates[index] = Some(fate);
    }

    // Dead-letter permanent failures, one after the other in sequence-number order, up to the first
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
    permanent.sort_by(|&a, &b| compare_sequence_numbers(seq(a), seq(b)));
    for index in permanent {
        let seq = seq(index);
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

    // Report.
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
            Some(Fate::Skipped) => stats.skipped += 1,
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
    let table_names: Vec<&str> = tables.iter().map(|(name, _)| *name).collect();
    tracing::info!(
        table = %table_names.join(","),
        records = stats.records,
        written = stats.written,
        superseded = stats.superseded,
        skipped = stats.skipped,
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

/// A record's fate from two of its items': transient beats permanent beats written beats superseded.
fn worse(a: Fate, b: Fate) -> Fate {
    let rank = |f: &Fate| match f {
        Fate::Transient(_) => 3,
        Fate::Permanent(_) => 2,
        Fate::Written => 1,
        _ => 0,
    };
    if rank(&b) > rank(&a) { b } else { a }
}

/// Writes items per table in chunks (in parallel), answers each slot's fate and the number of retries made.
async fn write_items<T: Table>(
    tables: &Tables<'_, T>,
    policy: &WritePolicy,
    items: Vec<(Slot, usize, Item)>,
) -> (HashMap<Slot, Fate>, usize) {
    let mut chunks: Vec<(usize, Vec<(Slot, Item)>)> = Vec::new();
    for (slot, table, item) in items {
        match chunks.last_mut() {
            Some((t, chunk)) if *t == table && chunk.len() < MAX_BATCH_WRITE_ITEMS => {
                chunk.push((slot, item));
            }
            _ => chunks.push((table, vec![(slot, item)])),
        }
    }
    let results: Vec<(Vec<(Slot, Fate)>, usize)> = futures::stream::iter(chunks)
        .map(|(table, chunk)| write_chunk(tables[table].1, policy, chunk))
        .buffer_unordered(policy.max_concurrent_chunks.max(1))
        .collect()
        .await;
    let mut retries = 0;
    let mut fates = HashMap::new();
    for (chunk_fates, chunk_retries) in results {
        retries += chunk_retries;
        fates.extend(chunk_fates);
    }
    (fates, retries)
}

/// One chunk: put, retry unprocessed items with backoff, give up after `policy.max_attempts` calls.
async fn write_chunk<S: Copy>(
    table: &impl Table,
    policy: &WritePolicy,
    chunk: Vec<(S, Item)>,
) -> (Vec<(S, Fate)>, usize) {
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
        for ((slot, item), outcome) in pending.into_iter().zip(result.outcomes) {
            match outcome {
                WriteOutcome::Written => done.push((slot, Fate::Written)),
                WriteOutcome::Superseded => done.push((slot, Fate::Superseded)),
                WriteOutcome::Permanent(detail) => {
                    done.push((
                        slot,
                        Fate::Permanent(Permanent::new(Reason::Rejected, detail)),
                    ));
                }
                WriteOutcome::Transient(reason) => done.push((slot, Fate::Transient(reason))),
                WriteOutcome::Unprocessed => still_pending.push((slot, item)),
            }
        }
        pending = still_pending;
        if pending.is_empty() {
            break;
        }
    }
    let attempts = policy.max_attempts.max(1);
    for (slot, _) in pending {
        done.push((
            slot,
            Fate::Transient(format!("still unprocessed after {attempts} attempts")),
        ));
    }
    (done, retries)
}

/// Full-jitter exponential backoff before retry `n` (from 0).
#[doc(hidden)]
pub fn backoff(policy: &WritePolicy, n: u32) -> Duration {
    let ceiling = policy
        .base_delay
        .saturating_mul(2u32.saturating_pow(n))
        .min(policy.max_delay);
    let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::random_range(0..=millis))
}
