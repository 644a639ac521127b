//! How hard the library retries throttled writes ([`WritePolicy`]).

use std::time::Duration;

/// How hard to try writing unprocessed (throttled) items before reporting them to the event source mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePolicy {
    /// [`Table::put_items`](crate::Table::put_items) calls per chunk, the first included.
    pub max_attempts: u32,
    /// Backoff before retry `n` (from 0) is uniformly random in `0..=min(max_delay, base_delay * 2^n)`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Chunks written at the same time (on AWS each item of a chunk is its own `PutItem` request, so at most
    /// `MAX_BATCH_WRITE_ITEMS * max_concurrent_chunks` requests are in flight).
    pub max_concurrent_chunks: usize,
}

impl Default for WritePolicy {
    fn default() -> Self {
        WritePolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            max_concurrent_chunks: 4,
        }
    }
}
