//! The stock stream writer: Kinesis records of the record contract → DynamoDB items, one per record, in one
//! table — the identity mapping over `sluice-consumer`, whose rules it runs (see `docs/CONTRACTS.md`).
//!
//! [`handle_batch`] is the one function both the Lambda (`main.rs`, with [`aws::DynamoDbTable`] and
//! [`aws::AwsDeadLetters`]) and the local runtime of `cargo xtask dev` (with SQLite implementations) call.
//! It builds each record's item ([`build_item`], pure: the body as `payload`, the key from the record's
//! partition key and a member of the body) — or a [`Permanent`] failure — and hands the plans to
//! [`sluice_consumer::run_batch`]: de-duplication per key, conditional writes under the ordering rule with
//! bounded retries, dead letters inline or in the bucket (held back behind a transient failure), the partial
//! batch response and the counts. Everything but the mapping is re-exported from `sluice-consumer`, so
//! no rule exists twice.

pub use sluice_consumer::{
    BatchStats, DEAD_LETTER_SOURCE, DataLocation, DeadLetterMessage, DeadLetters, Envelope, Item,
    ItemKey, KeyAttribute, KeyType, KinesisEvent, KinesisEventRecord, KinesisEventResponse,
    MAX_BATCH_WRITE_ITEMS, Permanent, PutResult, Reason, RecordData, RecordMeta, Table,
    WriteOutcome, WritePolicy, compare_sequence_numbers, dead_letter_message, decode_envelope,
    item_size, kinesis_event_from_json, shard_id,
};

/// The writer's errors are the library's.
pub use sluice_consumer::ConsumerError as WriterError;

/// The AWS side of the seams (`sluice_consumer::aws`).
#[cfg(feature = "aws")]
pub mod aws {
    pub use sluice_consumer::aws::*;
}

mod batch;
mod config;
mod item;

/// The seams over loopback HTTP, for a binary `cargo xtask dev` runs as a process (sluice-consumer's).
pub use sluice_consumer::local;

pub use batch::{handle_batch, handle_batch_with_stats};
pub use config::WriterConfig;
pub use item::{build_item, item_from_envelope};

#[cfg(test)]
mod tests;
