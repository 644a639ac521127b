//! WAL checkpoints off the commit path: the checkpointer thread, and the `RESTART` checkpoint it asks the
//! writer for when the WAL grows too long.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::Durability;
use super::schema::open_connection;

/// How often the checkpointer copies committed WAL frames into the database file.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The longest interval between two checkpoints while they fail.
const MAX_FAILING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// WAL frames (pages) past which the checkpointer makes the writer start the WAL over (a `RESTART`
/// checkpoint). 16,384 frames of 4 KiB: 64 MiB.
const RESTART_AFTER_FRAMES: i64 = 16_384;

/// The size the WAL file is cut back to when it starts over (`journal_size_limit`).
const WAL_SIZE_LIMIT_BYTES: i64 = 64 << 20;

/// Moves WAL checkpoints off the commit path: the writer's connection stops checkpointing itself
/// (`wal_autocheckpoint = 0`; SQLite's automatic checkpoint runs inside the `COMMIT` that crosses 1,000
/// pages, syncing the WAL and the database file while every waiting request waits too), and a thread of its
/// own runs a `PASSIVE` checkpoint every [`CHECKPOINT_INTERVAL`] on a second connection — it copies what is
/// committed without blocking the writer or readers.
///
/// A `PASSIVE` checkpoint alone never lets the WAL start over while writes keep coming (SQLite restarts it
/// only when a transaction begins with every frame copied, and under load there are always newer frames):
/// measured, the WAL grew by 140 MB/s under `wrk` without bound. So once the WAL holds
/// [`RESTART_AFTER_FRAMES`], the checkpointer asks the writer for a `RESTART` checkpoint between two
/// transactions (the writer's thread runs it: a checkpointer waiting for the write lock starves while the
/// writer commits back to back). Most frames are already copied by then, so it copies the rest, syncs, and
/// the next transaction writes the WAL from its start (the file is cut back to [`WAL_SIZE_LIMIT_BYTES`] if it
/// grew past it). Durability is unchanged: a commit is as synced as before, and every checkpoint syncs the
/// WAL before and the database file after. If the thread cannot start, the writer keeps checkpointing
/// itself.
pub(super) fn start_checkpointer(
    path: &Path,
    durability: Durability,
    writer: &Connection,
    restart_wanted: Arc<AtomicBool>,
) -> Option<(mpsc::Sender<()>, JoinHandle<()>)> {
    let conn = open_connection(path, durability.checkpoint_sync()).ok()?;
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("sluice-sqlite-checkpointer".into())
        .spawn(move || {
            // While checkpoints fail (a full disk: the database file cannot grow), the interval doubles up
            // to `MAX_FAILING_INTERVAL`, and the failure and the recovery are logged once each.
            let mut interval = CHECKPOINT_INTERVAL;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                // The second column: the WAL's size in frames.
                match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                    Ok(frames) => {
                        if interval != CHECKPOINT_INTERVAL {
                            tracing::info!("WAL checkpoints work again");
                            interval = CHECKPOINT_INTERVAL;
                        }
                        if frames >= RESTART_AFTER_FRAMES {
                            restart_wanted.store(true, Ordering::SeqCst);
                        }
                    }
                    Err(e) => {
                        if interval == CHECKPOINT_INTERVAL {
                            tracing::warn!(error = %e, "WAL checkpoint failed; trying again, less often until it works");
                        }
                        interval = (interval * 2).min(MAX_FAILING_INTERVAL);
                    }
                }
            }
        })
        .ok()?;
    if writer.pragma_update(None, "wal_autocheckpoint", 0).is_err() {
        tracing::warn!("cannot turn off the writer's own checkpoints; it keeps them");
    }
    if let Err(e) = writer.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT_BYTES) {
        tracing::warn!(error = %e, "cannot limit the WAL's size after a restart");
    }
    Some((stop, thread))
}

/// The `RESTART` checkpoint the checkpointer asked for, on the writer's connection between two transactions.
/// With the syncer, the writer commits with `synchronous = OFF`, under which a checkpoint would not sync;
/// it runs with `FULL` (sync the WAL, copy, sync the database file) and goes back to `OFF`.
pub(super) fn restart_wal(conn: &Connection, unsynced_commits: bool) {
    let run = || -> rusqlite::Result<()> {
        if unsynced_commits {
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        let checkpointed = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()));
        if unsynced_commits {
            conn.pragma_update(None, "synchronous", "OFF")?;
        }
        checkpointed
    };
    if let Err(e) = run() {
        tracing::warn!(error = %e, "WAL restart checkpoint failed; the checkpointer asks again");
    }
}
