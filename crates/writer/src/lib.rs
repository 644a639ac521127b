//! The rules of sluice's stream writer: Kinesis records of the record contract → DynamoDB items, with the
//! consumer contract's failure classification (see `docs/CONTRACTS.md`).
//!
//! [`handle_batch`] is the one function both the Lambda (`main.rs`, with [`aws::DynamoDbTable`] and
//! [`aws::SqsDeadLetters`]) and the local runtime of `cargo xtask dev` (with SQLite implementations) call.
//!
//! Per record:
//! 1. decode the envelope and build the item ([`build_item`], pure) — or a [`Permanent`] failure;
//! 2. de-duplicate: for one key only the record with the highest sequence number is written;
//! 3. put the items with [`Table::put_items`] in chunks of [`MAX_BATCH_WRITE_ITEMS`], chunks in parallel, each
//!    put conditional on the ordering rule (an item is never replaced by one with a lower sequence number:
//!    such a record is *superseded*, which counts as done), retrying unprocessed (throttled) items with
//!    bounded exponential backoff and full jitter;
//! 4. dead-letter every permanent failure, in sequence-number order, with its data: inline when the message
//!    fits the queue, otherwise in the dead-letter bucket with a message pointing at it
//!    ([`DeadLetters`]). A permanent failure that comes after the first transient failure of the batch is
//!    *held back*: the event source mapping redelivers every record from the lowest failed sequence number
//!    on, so it is dead-lettered once, when it comes again, not on every retry. A failed send makes the
//!    record a transient failure;
//! 5. report transient failures (and held-back records) in `batchItemFailures` (sequence numbers of this
//!    batch only).

pub use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
pub use aws_lambda_events::event::streams::KinesisEventResponse;
pub use sluice_contract::consumer::DEAD_LETTER_SOURCE;
pub use sluice_contract::envelope::{Envelope, decode as decode_envelope};
pub use sluice_contract::limits::MAX_BATCH_WRITE_ITEMS;
#[cfg(feature = "aws")]
use sluice_contract::writer::attribute;
pub use sluice_contract::{
    DataLocation, DeadLetterMessage, KeyAttribute, KeyType, Permanent, Reason, RecordData,
};

#[cfg(feature = "aws")]
pub mod aws;

mod batch;
mod config;
mod dead_letters;
mod error;
mod event;
mod item;
pub mod local;
mod metrics;
mod table;

pub use batch::{handle_batch, handle_batch_with_stats};
pub use config::{WritePolicy, WriterConfig};
pub use dead_letters::{DeadLetters, dead_letter_message};
pub use error::WriterError;
pub use event::kinesis_event_from_json;
pub use item::{
    Item, ItemKey, RecordMeta, build_item, compare_sequence_numbers, item_from_envelope, item_size,
    shard_id,
};
pub use metrics::BatchStats;
pub use table::{PutResult, Table, WriteOutcome};

#[cfg(test)]
mod tests;
