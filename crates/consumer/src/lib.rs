//! sluice's consumer functions: the user's Rust code between a stream and its tables, with every rule of
//! the stock writer (see `docs/CONSUMERS.md` and `docs/CONTRACTS.md`).
//!
//! The user writes one async function from a decoded [`Record`] (the envelope's members, the body read into
//! their serde type, the stream's metadata) to an [`Outcome`]: write these items to these declared tables,
//! skip, dead-letter with a reason, retry. [`handle_batch`] (and on AWS [`aws::run`]) does the rest:
//!
//! 1. decode each record (a record that is not an envelope, or whose body is not the function's type, is a
//!    [`Permanent`] failure without calling the function), call the function, resolve each item's table,
//!    read its key, set its [`sequenceNumber`](sluice_contract::writer::attribute::SEQUENCE_NUMBER), check
//!    its size ([`plan`]);
//! 2. de-duplicate: for one key of one table only the item of the highest sequence number is written;
//! 3. put the items with [`Table::put_items`] in chunks of [`MAX_BATCH_WRITE_ITEMS`], chunks in parallel, each
//!    put conditional on the ordering rule (an item is never replaced by one with a lower sequence number:
//!    such an item is *superseded*, which counts as done), retrying unprocessed (throttled) items with
//!    bounded exponential backoff and full jitter;
//! 4. dead-letter every permanent failure, in sequence-number order, with its data: inline when the message
//!    fits the queue, otherwise in the dead-letter bucket with a message pointing at it ([`DeadLetters`]).
//!    A permanent failure that comes after the first transient failure of the batch is *held back*: the
//!    event source mapping redelivers every record from the lowest failed sequence number on, so it is
//!    dead-lettered once, when it comes again, not on every retry. A failed send makes the record a
//!    transient failure;
//! 5. report transient failures (and held-back records) in `batchItemFailures` (sequence numbers of this
//!    batch only), and the counts as one EMF line ([`BatchStats::emf_line`]).
//!
//! Steps 2–5 are [`run_batch`], which the stock writer (`sluice-writer`, the identity mapping) calls too.

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
mod dead_letters;
mod error;
mod event;
mod handler;
mod item;
pub mod local;
mod metrics;
mod policy;
mod table;

pub use batch::{Plan, PlannedItem, Tables, backoff, run_batch};
pub use dead_letters::{DeadLetters, dead_letter_message, hex};
pub use error::ConsumerError;
pub use event::kinesis_event_from_json;
pub use handler::{
    ConsumerConfig, DeclaredTable, EnvelopeMeta, KeySpec, Outcome, Put, Record, StreamMeta,
    TableSpec, decode_record, handle_batch, plan, stream_meta,
};
pub use item::{
    Item, ItemKey, KeySource, RecordMeta, compare_sequence_numbers, item_size, key_of, key_value,
    shard_id,
};
pub use metrics::BatchStats;
pub use policy::WritePolicy;
pub use table::{PutResult, Table, WriteOutcome};

#[cfg(test)]
mod tests;
