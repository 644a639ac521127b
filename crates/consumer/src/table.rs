//! The table seam: what the writer asks of a table ([`Table::put_items`], conditional on the ordering rule)
//! and what it answers per item ([`PutResult`], [`WriteOutcome`]).

use std::future::Future;

use crate::Item;

/// What became of one item of a [`Table::put_items`] call (serialised as `{"outcome": …, "reason": …}` on the
/// local seams' wire, [`crate::local`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", content = "reason")]
pub enum WriteOutcome {
    /// Stored.
    Written,
    /// Not stored because the table holds an item of the same key with a higher sequence number (the
    /// ordering rule): the record is done, a newer one already won.
    Superseded,
    /// Not stored this time, try again soon (throttling); [`handle_batch`](crate::handle_batch) retries these with backoff, and
    /// reports them as transient once its attempts are used up.
    Unprocessed,
    /// Can never be stored (e.g. DynamoDB's `ValidationException` for this item): dead-lettered as `Rejected`.
    Permanent(String),
    /// Not stored now, may be later (5xx, timeouts, missing table): reported in `batchItemFailures` so the
    /// event source mapping retries the record.
    Transient(String),
}

/// The outcomes of a [`Table::put_items`] call: `outcomes[i]` is the outcome of `items[i]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutResult {
    pub outcomes: Vec<WriteOutcome>,
}

impl PutResult {
    /// Every one of `n` items stored.
    pub fn all_written(n: usize) -> Self {
        PutResult {
            outcomes: vec![WriteOutcome::Written; n],
        }
    }

    /// Every one of `n` items failed transiently, for one reason.
    pub fn all_transient(n: usize, reason: impl Into<String>) -> Self {
        PutResult {
            outcomes: vec![WriteOutcome::Transient(reason.into()); n],
        }
    }
}

/// A table the writer puts items into: DynamoDB on AWS (`aws::DynamoDbTable`), SQLite locally.
pub trait Table: Send + Sync {
    /// Puts up to [`MAX_BATCH_WRITE_ITEMS`](crate::MAX_BATCH_WRITE_ITEMS) items with distinct keys, each one only if the table holds no
    /// item of its key or one whose [`attribute::SEQUENCE_NUMBER`](sluice_contract::writer::attribute::SEQUENCE_NUMBER) is not higher than the new item's
    /// (compared as numbers, [`compare_sequence_numbers`](crate::compare_sequence_numbers)); otherwise that item is
    /// [`WriteOutcome::Superseded`]. Says per item what happened, in the order given.
    fn put_items(&self, items: Vec<Item>) -> impl Future<Output = PutResult> + Send;
}
