//! The local pipeline's one SQLite database, `<state-dir>/pipeline.db` (WAL).
//!
//! | table | holds |
//! |---|---|
//! | `_sluice_records` | stream records: stream, shard id, per-shard counter, sequence number, partition key, data, arrival time (ms) |
//! | `_sluice_shards` | the last counter handed out per shard (sequence numbers never go back, even after the retention sweep) |
//! | `_sluice_checkpoints` | per consumer and shard, the counter of the last record the event source mapping is done with |
//! | `<Table>` (e.g. `EventTable`) | one row per item: a column per key attribute (the primary key) and `item`, the item as JSON |
//! | `<Queue>` (e.g. `LambdaDeadLetterQueue`) | one row per message: `id` (autoincrement), `body` (JSON), `sent_at_ms`; bodies over SQS's limit ([`MAX_DEAD_LETTER_MESSAGE_BYTES`](sluice_contract::limits::MAX_DEAD_LETTER_MESSAGE_BYTES)) are refused, as the generated queue refuses them |
//! | `_sluice_objects` | the dead-letter bucket (S3's stand-in): `bucket`, `key` (the primary key), `data`, `sha256` (hex), `stored_ms` |
//!
//! Every write goes through one writer thread that batches whatever is queued into one transaction
//! (group commit): many concurrent `PutRecord`s cost one `fsync`. Each write runs in its own savepoint, so
//! one failing write does not undo its neighbours; its caller hears back only after the `COMMIT`, so an
//! acknowledged write is on disk ([`Durability::Full`], the default: the WAL is synced after the commit, on
//! a syncer thread of its own so that the writer commits the next group meanwhile), or, with
//! [`Durability::Normal`] (`cargo xtask dev --sync normal`), survives a crash of the process but not a power
//! loss. The consumer's table writes and checkpoints are answered before the `COMMIT`
//! ([`Store::write_ordered`]). WAL checkpoints run on a thread of their own. Reads use a small pool of read
//! connections.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use rusqlite::Connection;
use sluice_config::Pipeline;
use tokio::sync::watch;

use super::kinesis;

mod check;
mod checkpoints;
mod dead_letters;
mod full;
mod hwm;
mod schema;
mod stream;
mod wal;
mod writer;

pub use check::{Recovery, recover};
pub use full::Health;
pub use hwm::{Behind, HWM_FILE};
use schema::{create_schema, open_connection, open_reader};
use wal::start_checkpointer;
pub use writer::{CommitError, WriterState};
use writer::{Job, start_syncer, writer_loop};

/// How hard SQLite syncs a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// A commit is on disk (survives power loss) before it is acknowledged: the WAL is synced after each
    /// commit (by the syncer thread; SQLite's `synchronous = FULL` if that thread cannot run).
    #[default]
    Full,
    /// `synchronous = NORMAL`: a commit survives a crash of the process, not of the machine (the WAL is
    /// synced at checkpoints).
    Normal,
}

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the transaction holding this write failed to commit: {0}")]
    Commit(CommitError),
    #[error("the database writer has stopped")]
    Closed,
    #[error(
        "the disk is full; writes are refused until there is room (the store tries again by itself)"
    )]
    Full,
    #[error("the message is {bytes} bytes; the queue takes at most {max}")]
    MessageTooLarge { bytes: usize, max: usize },
    #[error("the object's data does not match the SHA-256 given for it")]
    ChecksumMismatch,
    #[error("the database {} is damaged: {}", path.display(), check::describe(problems))]
    Damaged {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error(
        "the database is missing acknowledged records (its WAL was lost, or the file rolled back): {}",
        behind.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    LostWrites { behind: Vec<Behind> },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

struct Inner {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The checkpointer thread and the sender whose drop stops it.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    readers: Mutex<Vec<Connection>>,
    /// Bumped after every commit that appended stream records.
    appended: watch::Sender<u64>,
    /// The full-disk state (see `full`).
    health: Arc<Health>,
}

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// One stream record as appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub shard: u32,
    pub counter: i64,
}

impl Appended {
    pub fn sequence_number(&self) -> String {
        kinesis::sequence_number(self.shard, self.counter)
    }
    pub fn shard_id(&self) -> String {
        kinesis::shard_id(self.shard)
    }
}

/// `"name"` with inner quotes doubled: an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Store {
    /// Opens (creating if needed) `<state_dir>/pipeline.db` with the tables `pipeline` needs, and starts its
    /// writer thread.
    pub fn open(
        state_dir: &Path,
        pipeline: &Pipeline,
        durability: Durability,
    ) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StoreError::Io {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join("pipeline.db");
        check::verify(&path)?;
        let conn = open_connection(&path, durability.checkpoint_sync())?;
        create_schema(&conn, pipeline)?;
        let health = Arc::new(Health::default());
        let mut state = WriterState::load(&conn, health.clone())?;
        if let Some(marks) = hwm::read(state_dir) {
            let behind = hwm::behind(&marks, &state.last_counter);
            if !behind.is_empty() {
                return Err(StoreError::LostWrites { behind });
            }
        }
        state.mark = Some(hwm::Mark::open(state_dir, &state.last_counter)?);
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let checkpointer = start_checkpointer(&path, durability, &conn, restart_wanted.clone());
        let (tx, rx) = mpsc::channel::<Job>();
        let (appended, _) = watch::channel(0u64);
        let failed = Arc::new(AtomicBool::new(false));
        // FULL: commits only write; the syncer syncs and answers. Only with the checkpointer running (the
        // writer's own checkpoints would not sync with `synchronous = OFF`).
        let syncer = match (durability, &checkpointer) {
            (Durability::Full, Some(_)) => {
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                match start_syncer(PathBuf::from(wal), appended.clone(), failed.clone()) {
                    Ok(syncer) => match conn.pragma_update(None, "synchronous", "OFF") {
                        Ok(()) => Some(syncer),
                        // The writer keeps syncing its commits itself.
                        Err(_) => None,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start the syncer thread; the writer syncs each commit itself");
                        None
                    }
                }
            }
            _ => None,
        };
        let appended_for_writer = appended.clone();
        let writer = std::thread::Builder::new()
            .name("sluice-sqlite-writer".into())
            .spawn(move || {
                writer_loop(
                    conn,
                    state,
                    rx,
                    appended_for_writer,
                    syncer,
                    failed,
                    restart_wanted,
                )
            })
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                jobs: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                checkpointer: Mutex::new(checkpointer),
                readers: Mutex::new(Vec::new()),
                appended,
                health,
            }),
        })
    }

    /// Creates the tables `pipeline` needs that the database does not have yet (the new tables and queues of
    /// a reloaded pipeline.toml); nothing is dropped or altered.
    pub async fn create_missing(&self, pipeline: Arc<Pipeline>) -> Result<(), StoreError> {
        self.write(move |conn, _| create_schema(conn, &pipeline))
            .await
    }

    /// Whether the disk is full: writes are refused until a commit succeeds again (see `full`).
    pub fn is_full(&self) -> bool {
        self.inner.health.is_full()
    }

    /// Moves each time a commit failed (its answered ordered writes were rolled back): an event source
    /// mapping that sees it move resumes from its last committed checkpoint.
    pub fn generation(&self) -> u64 {
        self.inner.health.generation()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A receiver that changes after every commit that appended stream records.
    pub fn appended(&self) -> watch::Receiver<u64> {
        self.inner.appended.subscribe()
    }

    /// Runs `f` on a read connection (on the blocking pool).
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().ok().and_then(|mut pool| pool.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
            }
            Ok(result?)
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }
    /// Stops the writer thread after the queued writes; later writes fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        let sender = self.inner.jobs.lock().ok().and_then(|mut jobs| jobs.take());
        drop(sender);
        let writer = self.inner.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
        let checkpointer = self
            .inner
            .checkpointer
            .lock()
            .ok()
            .and_then(|mut c| c.take());
        if let Some((stop, thread)) = checkpointer {
            drop(stop);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        if let Ok(mut pool) = self.inner.readers.lock() {
            pool.clear();
        }
    }
}

impl StoreError {
    /// Whether the write was refused because the disk is full (the gateway answers 503 `StorageFull`).
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Full | StoreError::Commit(CommitError::DiskFull(_)) => true,
            StoreError::Sqlite(e) => full::is_disk_full(e),
            _ => false,
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
