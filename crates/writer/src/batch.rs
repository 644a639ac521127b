//! One Kinesis batch through the identity mapping: each record's item ([`build_item`]) or its permanent
//! failure, then `sluice-consumer`'s rules ([`run_batch`]).

use sluice_consumer::{Plan, PlannedItem, run_batch};

use crate::{
    BatchStats, DeadLetters, KinesisEvent, KinesisEventResponse, Table, WriterConfig, build_item,
};

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
pub async fn handle_batch_with_stats<T: Table>(
    config: &WriterConfig,
    table: &T,
    dead_letters: &impl DeadLetters,
    event: KinesisEvent,
) -> (KinesisEventResponse, BatchStats) {
    let records = event.records;
    let plans = records
        .iter()
        .map(|record| match build_item(config, record) {
            Err(permanent) => Plan::DeadLetter(permanent),
            Ok((key, item)) => Plan::Write(vec![PlannedItem {
                table: 0,
                key,
                item,
            }]),
        })
        .collect();
    let tables: [(&str, &T); 1] = [(config.table_name.as_str(), table)];
    run_batch(&config.write, &tables, dead_letters, &records, plans).await
}
