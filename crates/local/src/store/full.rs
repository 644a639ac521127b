//! A full disk is an outage that ends by itself.
//!
//! When a `COMMIT` fails because the disk (or the filesystem's quota) is full, SQLite rolls the transaction
//! back: its writes are refused (`StorageFull`, 503, to the gateway's clients), and the store enters the
//! *full* state ([`Health`]), logged once. While full, writes are refused at once without reaching the
//! writer thread, except one group every back-off interval (100 ms, doubling to 2 s), which is tried for
//! real: the first that commits ends the state (logged once, with how long it lasted and how many writes
//! were refused). No restart is needed.
//!
//! A failed commit also rolled back the consumer's table writes and checkpoints that were answered before
//! it (`Store::write_ordered`), so [`Health::generation`] moves: the event source mappings see it and resume
//! from their last committed checkpoints, and a checkpoint taken under the old generation is refused (it
//! could cover records whose items were rolled back). Records are then delivered again (at least once, as
//! on AWS); the ordering rule makes the rewrite harmless.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use super::now_ms;

/// The first back-off after a write failed for want of space.
const FIRST_RETRY_MS: i64 = 100;
/// The longest back-off between two tries.
const MAX_RETRY_MS: i64 = 2_000;

/// Whether an SQLite error means the disk is full.
pub(super) fn is_disk_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// The store's full-disk state, shared by the writer thread and every handle.
#[derive(Debug, Default)]
pub struct Health {
    full: AtomicBool,
    /// When the next write may try (ms since the epoch), while full.
    retry_at_ms: AtomicI64,
    /// Bumped whenever a commit that had answered ordered writes failed (they were rolled back).
    generation: AtomicU64,
    /// Writes refused while full.
    refused: AtomicU64,
    /// When the full state began, and the current back-off.
    spell: Mutex<Option<(i64, i64)>>,
}

impl Health {
    /// Whether the disk is full (the last commit failed for want of space and none has succeeded since).
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::SeqCst)
    }

    /// Moves each time a commit failed: ordered writes answered before it were rolled back.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether a write is refused at once (full, and not yet time to try again); counts it.
    pub(super) fn refuses_now(&self) -> bool {
        if self.is_full() && now_ms() < self.retry_at_ms.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// How long until the next try, while full.
    pub(super) fn until_retry(&self) -> std::time::Duration {
        let ms = self.retry_at_ms.load(Ordering::SeqCst) - now_ms();
        std::time::Duration::from_millis(ms.clamp(1, MAX_RETRY_MS) as u64)
    }

    /// A commit that had answered ordered writes failed: they are gone.
    pub(super) fn commit_failed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A commit failed for want of space: enter (or stay in) the full state, with the next back-off.
    pub(super) fn disk_full(&self, error: &str, writes: usize) {
        let now = now_ms();
        let mut spell = self.spell.lock().unwrap_or_else(|p| p.into_inner());
        let delay = match *spell {
            None => {
                tracing::error!(
                    error,
                    "the disk is full: writes are refused (503 StorageFull) until there is room; trying again every {FIRST_RETRY_MS} ms to {} s",
                    MAX_RETRY_MS / 1000
                );
                self.refused.store(writes as u64, Ordering::Relaxed);
                *spell = Some((now, FIRST_RETRY_MS));
                FIRST_RETRY_MS
            }
            Some((since, delay)) => {
                self.refused.fetch_add(writes as u64, Ordering::Relaxed);
                let next = (delay * 2).min(MAX_RETRY_MS);
                *spell = Some((since, next));
                next
            }
        };
        self.retry_at_ms.store(now + delay, Ordering::SeqCst);
        self.full.store(true, Ordering::SeqCst);
    }

    /// A commit succeeded: leave the full state if in it.
    pub(super) fn committed(&self) {
        if !self.full.load(Ordering::Relaxed) {
            return;
        }
        let mut spell = self.spell.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((since, _)) = spell.take() {
            tracing::warn!(
                after_ms = now_ms() - since,
                refused = self.refused.load(Ordering::Relaxed),
                "the disk has room again: writes resume"
            );
        }
        self.full.store(false, Ordering::SeqCst);
    }
}
