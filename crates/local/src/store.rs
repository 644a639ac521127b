//! The local pipeline's one SQLite database, `<state-dir>/pipeline.db` (WAL).
//!
//! | table | holds |
//! |---|---|
//! | `_sluice_records` | stream records: stream, shard id, per-shard counter, sequence number, partition key, data, arrival time (ms) |
//! | `_sluice_shards` | the last counter handed out per shard (sequence numbers never go back, even after the retention sweep) |
//! | `_sluice_checkpoints` | per consumer and shard, the counter of the last record the event source mapping is done with |
//! | `<Table>` (e.g. `EventTable`) | one row per item: a column per key attribute (the primary key) and `item`, the item as JSON |
//! | `<Queue>` (e.g. `LambdaDeadLetterQueue`) | one row per message: `id` (autoincrement), `body` (JSON), `sent_at_ms`; bodies over SQS's limit ([`MAX_DEAD_LETTER_MESSAGE_BYTES`]) are refused, as the generated queue refuses them |
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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension as _, params};
use tokio::sync::{oneshot, watch};

use super::kinesis::{self, StoredRecord};
use sluice_config::{KeyType, Pipeline};
use sluice_contract::limits::MAX_DEAD_LETTER_MESSAGE_BYTES;

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
    Commit(String),
    #[error("the database writer has stopped")]
    Closed,
    #[error("the message is {bytes} bytes; the queue takes at most {max}")]
    MessageTooLarge { bytes: usize, max: usize },
    #[error("the object's data does not match the SHA-256 given for it")]
    ChecksumMismatch,
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What a write job may use besides the connection: the writer's in-memory state.
pub struct WriterState {
    /// Last counter handed out, per (stream, shard index).
    last_counter: HashMap<(String, u32), i64>,
    /// Shards whose counter moved in this transaction (flushed to `_sluice_shards` before `COMMIT`).
    dirty: Vec<(String, u32)>,
    /// Whether this transaction appended stream records (consumers are woken after `COMMIT`).
    appended: bool,
}

impl WriterState {
    fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let mut last_counter = HashMap::new();
        let mut stmt = conn.prepare("SELECT stream, shard_id, last_counter FROM _sluice_shards")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        for row in rows {
            let (stream, shard, last) = row?;
            if let Some(index) = kinesis::shard_index(&shard) {
                last_counter.insert((stream, index), last);
            }
        }
        Ok(WriterState {
            last_counter,
            dirty: Vec::new(),
            appended: false,
        })
    }

    /// The last counter handed out on a shard (0: none yet).
    pub fn last_counter(&self, stream: &str, shard: u32) -> i64 {
        self.last_counter
            .get(&(stream.to_owned(), shard))
            .copied()
            .unwrap_or(0)
    }
}

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection, &mut WriterState) -> Completion + Send>;

struct Inner {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// The checkpointer thread and the sender whose drop stops it.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    readers: Mutex<Vec<Connection>>,
    /// Bumped after every commit that appended stream records.
    appended: watch::Sender<u64>,
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

/// Statements bind their values without the query planner looking at them (SQLite's query planner
/// stability guarantee). Without it, a statement whose `LIMIT` (or range bound, with STAT4, which the bundled
/// SQLite has) is a parameter is prepared again from its SQL whenever that value changes: profiled under
/// `cargo xtask bench`, the shard readers' `LIMIT ?` re-parsed their query on almost every read.
fn plan_once(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Opens a connection that waits up to 10 s for a lock and plans its statements once: a read connection as
/// it is, the base of the writer's and the checkpointer's.
fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    plan_once(&conn)?;
    Ok(conn)
}

/// Opens a connection in WAL mode with `synchronous` set to `sync` (`FULL`, `NORMAL` or `OFF`).
fn open_connection(path: &Path, sync: &str) -> rusqlite::Result<Connection> {
    let conn = open_reader(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", sync)?;
    // Savepoint sub-journals (every consumer write runs in one) stay in memory instead of spilling into
    // temporary files that are created and unlinked a few hundred times a second under load.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(conn)
}

impl Durability {
    /// The checkpointer's `synchronous`: it syncs the WAL before copying it into the database file and the
    /// database file after, so the WAL is never restarted over frames that are not safely in the file.
    fn checkpoint_sync(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Creates the internal tables and one table per DynamoDB table and dead-letter queue of the pipeline.
fn create_schema(conn: &Connection, pipeline: &Pipeline) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sluice_records (
             stream TEXT NOT NULL,
             shard_id TEXT NOT NULL,
             counter INTEGER NOT NULL,
             sequence_number TEXT NOT NULL,
             partition_key TEXT NOT NULL,
             data BLOB NOT NULL,
             arrival_ms INTEGER NOT NULL
         );
         CREATE UNIQUE INDEX IF NOT EXISTS _sluice_records_position ON _sluice_records (stream, shard_id, counter);
         CREATE INDEX IF NOT EXISTS _sluice_records_arrival ON _sluice_records (arrival_ms);
         CREATE TABLE IF NOT EXISTS _sluice_shards (
             stream TEXT NOT NULL,
             shard_id TEXT NOT NULL,
             last_counter INTEGER NOT NULL,
             PRIMARY KEY (stream, shard_id)
         );
         CREATE TABLE IF NOT EXISTS _sluice_objects (
             bucket TEXT NOT NULL,
             key TEXT NOT NULL,
             data BLOB NOT NULL,
             sha256 TEXT NOT NULL,
             stored_ms INTEGER NOT NULL,
             PRIMARY KEY (bucket, key)
         );
         CREATE TABLE IF NOT EXISTS _sluice_checkpoints (
             consumer TEXT NOT NULL,
             stream TEXT NOT NULL,
             shard_id TEXT NOT NULL,
             counter INTEGER NOT NULL,
             sequence_number TEXT NOT NULL,
             updated_ms INTEGER NOT NULL,
             PRIMARY KEY (consumer, stream, shard_id)
         );",
    )?;
    for table in pipeline.tables.values() {
        let column = |name: &str, kind: KeyType| {
            let affinity = match kind {
                KeyType::S => "TEXT",
                KeyType::N => "NUMERIC",
            };
            format!("{} {affinity} NOT NULL", quote_ident(name))
        };
        let mut columns = vec![column(&table.partition_key.name, table.partition_key.kind)];
        let mut key = vec![quote_ident(&table.partition_key.name)];
        if let Some(sort) = &table.sort_key {
            columns.push(column(&sort.name, sort.kind));
            key.push(quote_ident(&sort.name));
        }
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} ({}, item TEXT NOT NULL, PRIMARY KEY ({}));",
            quote_ident(&table.name),
            columns.join(", "),
            key.join(", ")
        ))?;
    }
    for queue in pipeline.queues.values() {
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, sent_at_ms INTEGER NOT NULL);",
            quote_ident(&queue.name)
        ))?;
    }
    Ok(())
}

/// Most jobs one transaction takes.
const MAX_JOBS_PER_TRANSACTION: usize = 4096;

/// How long the writer keeps looking for the next job (yielding the CPU between looks) before it sleeps.
///
/// Under load the next request arrives within microseconds of a commit, but a writer that went to sleep
/// on the queue is woken by the kernel only once a core is free of the runtime's threads: measured with
/// `cargo xtask bench` (2 cores), that wake-up was most of the ~1 ms an append waited while the writer
/// itself was idle 55% of the time. Looking for 300 µs first raised the durable pipeline from 16k to 19k
/// events/s (1 ms and 3 ms did no better). An idle writer sleeps after one such look per job.
const WRITER_LOOKS_FOR: std::time::Duration = std::time::Duration::from_micros(300);

/// The next job: looks for one for [`WRITER_LOOKS_FOR`], yielding between looks, then sleeps until one
/// comes. `None` once every sender is gone.
fn next_job(jobs: &mpsc::Receiver<Job>) -> Option<Job> {
    let started = std::time::Instant::now();
    loop {
        match jobs.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if started.elapsed() >= WRITER_LOOKS_FOR {
            return jobs.recv().ok();
        }
        std::thread::yield_now();
    }
}

/// A committed transaction waiting for the syncer.
struct Committed {
    completions: Vec<Completion>,
    appended: bool,
}

/// With [`Durability::Full`], the `fsync` after each commit runs on a thread of its own: the writer commits
/// with `synchronous = OFF` (it only writes the WAL) and hands the transaction's callers to this thread,
/// which syncs the WAL file (`fdatasync`: everything written so far, this transaction and any before it)
/// and only then answers them — so a 200 still means "on disk", but the writer builds and commits the next
/// group while the disk syncs the last one, instead of waiting for it. A failed sync is like a failed
/// `COMMIT`: its callers hear it and the store refuses every later write.
struct Syncer {
    committed: mpsc::Sender<Committed>,
    thread: JoinHandle<()>,
}

fn start_syncer(
    wal: PathBuf,
    appended: watch::Sender<u64>,
    failed: Arc<AtomicBool>,
) -> std::io::Result<Syncer> {
    let (committed, queue) = mpsc::channel::<Committed>();
    let thread = std::thread::Builder::new()
        .name("sluice-sqlite-syncer".into())
        .spawn(move || {
            while let Ok(first) = queue.recv() {
                let mut group = vec![first];
                while let Ok(more) = queue.try_recv() {
                    group.push(more);
                }
                let synced = if failed.load(Ordering::SeqCst) {
                    Err("an earlier sync of the database failed; the database refuses writes until `cargo xtask dev` is restarted".to_owned())
                } else {
                    sync_data(&wal).map_err(|e| {
                        failed.store(true, Ordering::SeqCst);
                        let message = format!(
                            "syncing {} failed ({e}); the database refuses writes until `cargo xtask dev` is restarted",
                            wal.display()
                        );
                        tracing::error!(error = %message, "sync failed; the writes it held are refused");
                        message
                    })
                };
                let mut appended_any = false;
                for transaction in group {
                    appended_any |= transaction.appended;
                    for completion in transaction.completions {
                        completion(synced.clone());
                    }
                }
                if appended_any && synced.is_ok() {
                    appended.send_modify(|n| *n += 1);
                }
            }
        })?;
    Ok(Syncer { committed, thread })
}

/// `fdatasync` of a file by its path (the descriptor SQLite writes through is not ours; any descriptor of
/// the file syncs the same data). No WAL file means nothing unsynced: SQLite removes it only after the last
/// connection checkpointed it, with syncs.
fn sync_data(path: &Path) -> std::io::Result<()> {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn writer_loop(
    conn: Connection,
    mut state: WriterState,
    jobs: mpsc::Receiver<Job>,
    appended: watch::Sender<u64>,
    syncer: Option<Syncer>,
    failed: Arc<AtomicBool>,
    restart_wanted: Arc<AtomicBool>,
) {
    // `failed` is set once a COMMIT (or the sync after one) failed: ordered writes
    // ([`Store::write_ordered`]) were already answered, so no later transaction may commit (it could hold a
    // checkpoint past them); every later write is refused.
    while let Some(first) = next_job(&jobs) {
        let mut batch = vec![first];
        while batch.len() < MAX_JOBS_PER_TRANSACTION {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if failed.load(Ordering::SeqCst) {
            // Run nothing: each caller hears that the writer has stopped.
            drop(batch);
            continue;
        }
        if restart_wanted.swap(false, Ordering::SeqCst) {
            restart_wal(&conn, syncer.is_some());
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let message = e.to_string();
            tracing::error!(error = %message, "cannot begin a transaction");
            for job in batch {
                // Run nothing; tell every caller.
                drop(job);
            }
            continue;
        }
        let completions: Vec<Completion> = batch
            .into_iter()
            .map(|job| job(&conn, &mut state))
            .collect();
        let result = flush_counters(&conn, &mut state).and_then(|()| conn.execute_batch("COMMIT"));
        let appended_now = std::mem::take(&mut state.appended);
        match (result, &syncer) {
            (Ok(()), Some(syncer)) => {
                let handed = syncer.committed.send(Committed {
                    completions,
                    appended: appended_now,
                });
                if let Err(mpsc::SendError(orphan)) = handed {
                    // The syncer is gone: nobody can vouch for these writes.
                    failed.store(true, Ordering::SeqCst);
                    for completion in orphan.completions {
                        completion(Err("the database's syncer has stopped".to_owned()));
                    }
                }
            }
            (Ok(()), None) => {
                if appended_now {
                    appended.send_modify(|n| *n += 1);
                }
                for completion in completions {
                    completion(Ok(()));
                }
            }
            (Err(e), _) => {
                let message = format!(
                    "a commit failed ({e}); the database refuses writes until `cargo xtask dev` is restarted"
                );
                tracing::error!(error = %message, "commit failed; the writes of this transaction are refused");
                let _ = conn.execute_batch("ROLLBACK");
                failed.store(true, Ordering::SeqCst);
                // The in-memory counters may be ahead of the database now; reload them.
                match WriterState::load(&conn) {
                    Ok(fresh) => state = fresh,
                    Err(e) => tracing::error!(error = %e, "cannot reload the shard counters"),
                }
                for completion in completions {
                    completion(Err(message.clone()));
                }
            }
        }
    }
    // Every committed transaction is answered before the writer is reported stopped.
    if let Some(Syncer { committed, thread }) = syncer {
        drop(committed);
        let _ = thread.join();
    }
}

/// How often the checkpointer copies committed WAL frames into the database file.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

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
fn start_checkpointer(
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
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_INTERVAL)
            {
                // The second column: the WAL's size in frames.
                match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                    Ok(frames) if frames >= RESTART_AFTER_FRAMES => {
                        restart_wanted.store(true, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; trying again"),
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
fn restart_wal(conn: &Connection, unsynced_commits: bool) {
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

fn flush_counters(conn: &Connection, state: &mut WriterState) -> rusqlite::Result<()> {
    if state.dirty.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO _sluice_shards (stream, shard_id, last_counter) VALUES (?1, ?2, ?3)
         ON CONFLICT (stream, shard_id) DO UPDATE SET last_counter = excluded.last_counter",
    )?;
    let dirty = std::mem::take(&mut state.dirty);
    for key in dirty {
        let last = state.last_counter.get(&key).copied().unwrap_or(0);
        stmt.execute(params![key.0, kinesis::shard_id(key.1), last])?;
    }
    Ok(())
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
        let conn = open_connection(&path, durability.checkpoint_sync())?;
        create_schema(&conn, pipeline)?;
        let state = WriterState::load(&conn)?;
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
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A receiver that changes after every commit that appended stream records.
    pub fn appended(&self) -> watch::Receiver<u64> {
        self.inner.appended.subscribe()
    }

    /// Runs `f` in the writer's next transaction (in its own savepoint) and answers once that transaction
    /// is committed: `Ok` means the write is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut WriterState) -> rusqlite::Result<T> + Send + 'static,
    {
        self.write_committed(move |conn, state| in_savepoint(conn, |conn| f(conn, state)))
            .await
    }

    /// Like [`Store::write`] without the savepoint, for a job that is one SQL statement (SQLite undoes a
    /// failed statement by itself and the transaction goes on) and changes `WriterState` only after it
    /// succeeded. A savepoint per job costs two statements and a copy of every page the job touches into
    /// the statement journal; the gateway's `PutRecord`s are such jobs.
    async fn write_committed<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut WriterState) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn, state| match f(conn, state) {
            Ok(value) => Box::new(move |committed: Result<(), String>| {
                let _ = tx.send(committed.map(|()| value).map_err(StoreError::Commit));
            }),
            Err(e) => Box::new(move |_| {
                let _ = tx.send(Err(e.into()));
            }),
        });
        self.submit(job)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.inner.jobs.lock().map_err(|_| StoreError::Closed)?;
        let sender = jobs.as_ref().ok_or(StoreError::Closed)?;
        sender.send(job).map_err(|_| StoreError::Closed)
    }

    /// Like [`Store::write`], but answers as soon as `f` has run in the writer's open transaction, before its
    /// `COMMIT`: for the consumer's table writes and checkpoints, whose only dependants are later writes
    /// (the checkpoint past the items; the next checkpoint) — committed in the same transaction or a later
    /// one, never alone. Should a `COMMIT` fail, the store refuses every later write (so no checkpoint past
    /// an answered write can commit); a restart resumes from the last committed checkpoint and delivers
    /// those records again.
    pub async fn write_ordered<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut WriterState) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn, state| {
            let result = in_savepoint(conn, |conn| f(conn, state));
            let _ = tx.send(result.map_err(StoreError::from));
            Box::new(|_| {})
        });
        self.submit(job)?;
        rx.await.map_err(|_| StoreError::Closed)?
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

    /// Appends a record to a stream: the shard from the partition key's MD5, the next sequence number of that
    /// shard. Answers once the record is on disk.
    pub async fn append(
        &self,
        stream: &str,
        shard_count: u32,
        partition_key: &str,
        data: Vec<u8>,
        arrival_ms: i64,
    ) -> Result<Appended, StoreError> {
        let shard = kinesis::shard_for(partition_key, shard_count);
        let stream = stream.to_owned();
        let partition_key = partition_key.to_owned();
        // One INSERT: no savepoint needed; the counter moves only once it succeeded.
        self.write_committed(move |conn, state| {
            let key = (stream, shard);
            let counter = state.last_counter.get(&key).copied().unwrap_or(0) + 1;
            let mut stmt = conn.prepare_cached(
                "INSERT INTO _sluice_records (stream, shard_id, counter, sequence_number, partition_key, data, arrival_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            stmt.execute(params![
                key.0,
                kinesis::shard_id(shard),
                counter,
                kinesis::sequence_number(shard, counter),
                partition_key,
                data,
                arrival_ms
            ])?;
            state.last_counter.insert(key.clone(), counter);
            state.dirty.push(key);
            state.appended = true;
            Ok(Appended { shard, counter })
        })
        .await
    }

    /// Up to `limit` records of a shard with a counter above `after`, in order.
    pub async fn records_after(
        &self,
        stream: &str,
        shard: u32,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let stream = stream.to_owned();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT counter, partition_key, data, arrival_ms FROM _sluice_records
                 WHERE stream = ?1 AND shard_id = ?2 AND counter > ?3 ORDER BY counter LIMIT ?4",
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt.query_map(
                params![stream, kinesis::shard_id(shard), after, limit],
                |r| {
                    Ok(StoredRecord {
                        shard,
                        counter: r.get(0)?,
                        partition_key: r.get(1)?,
                        data: r.get(2)?,
                        arrival_ms: r.get(3)?,
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }

    /// The stored checkpoint of a consumer on a shard, or — when it has none (the mapping is new) — the one
    /// its starting position gives, stored now: `latest` → after the shard's last record; otherwise 0
    /// (the oldest record kept).
    pub async fn checkpoint_or_start(
        &self,
        consumer: &str,
        stream: &str,
        shard: u32,
        latest: bool,
    ) -> Result<i64, StoreError> {
        let (consumer, stream) = (consumer.to_owned(), stream.to_owned());
        self.write(move |conn, state| {
            let shard_id = kinesis::shard_id(shard);
            let existing: Option<i64> = conn
                .query_row(
                    "SELECT counter FROM _sluice_checkpoints WHERE consumer = ?1 AND stream = ?2 AND shard_id = ?3",
                    params![consumer, stream, shard_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(counter) = existing {
                return Ok(counter);
            }
            let start = if latest { state.last_counter(&stream, shard) } else { 0 };
            put_checkpoint(conn, &consumer, &stream, shard, start)?;
            Ok(start)
        })
        .await
    }

    /// Stores a checkpoint: the consumer is done with every record of the shard up to `counter`.
    pub async fn set_checkpoint(
        &self,
        consumer: &str,
        stream: &str,
        shard: u32,
        counter: i64,
    ) -> Result<(), StoreError> {
        let (consumer, stream) = (consumer.to_owned(), stream.to_owned());
        // Answered before the COMMIT (see `write_ordered`): nothing waits on a checkpoint being on disk —
        // a later checkpoint supersedes it, and after a crash the mapping resumes from the last one committed.
        self.write_ordered(move |conn, _| put_checkpoint(conn, &consumer, &stream, shard, counter))
            .await
    }

    /// Deletes the records that arrived before `cutoff_ms` (the retention sweep); answers how many.
    pub async fn delete_records_before(
        &self,
        stream: &str,
        cutoff_ms: i64,
    ) -> Result<usize, StoreError> {
        let stream = stream.to_owned();
        self.write(move |conn, _| {
            conn.execute(
                "DELETE FROM _sluice_records WHERE stream = ?1 AND arrival_ms < ?2",
                params![stream, cutoff_ms],
            )
        })
        .await
    }

    /// Adds a message to a dead-letter queue's table; a body over [`MAX_DEAD_LETTER_MESSAGE_BYTES`] is
    /// refused ([`StoreError::MessageTooLarge`]), as SQS refuses it.
    pub async fn send_message(&self, queue: &str, body: String) -> Result<(), StoreError> {
        if body.len() > MAX_DEAD_LETTER_MESSAGE_BYTES {
            return Err(StoreError::MessageTooLarge {
                bytes: body.len(),
                max: MAX_DEAD_LETTER_MESSAGE_BYTES,
            });
        }
        let sql = format!(
            "INSERT INTO {} (body, sent_at_ms) VALUES (?1, ?2)",
            quote_ident(queue)
        );
        self.write(move |conn, _| {
            conn.prepare_cached(&sql)?
                .execute(params![body, now_ms()])?;
            Ok(())
        })
        .await
    }

    /// Puts an object into a local bucket (replacing one of the same key), after checking its SHA-256 as
    /// S3 does.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<(), StoreError> {
        use sha2::Digest as _;
        if <[u8; 32]>::from(sha2::Sha256::digest(&data)) != sha256 {
            return Err(StoreError::ChecksumMismatch);
        }
        let hex: String = sha256.iter().map(|b| format!("{b:02x}")).collect();
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO _sluice_objects (bucket, key, data, sha256, stored_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (bucket, key) DO UPDATE SET
                     data = excluded.data, sha256 = excluded.sha256, stored_ms = excluded.stored_ms",
            )?
            .execute(params![bucket, key, data, hex, now_ms()])?;
            Ok(())
        })
        .await
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

/// Runs `f` in a savepoint: on error, what it did is undone and the transaction goes on. The three
/// statements are prepared once per connection.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(conn) {
        Ok(value) => {
            conn.prepare_cached("RELEASE job")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            let undone = conn
                .prepare_cached("ROLLBACK TO job")
                .and_then(|mut s| s.execute([]))
                .and_then(|_| conn.prepare_cached("RELEASE job")?.execute([]));
            if let Err(undo) = undone {
                tracing::error!(error = %undo, "cannot undo a failed write");
            }
            Err(e)
        }
    }
}

fn put_checkpoint(
    conn: &Connection,
    consumer: &str,
    stream: &str,
    shard: u32,
    counter: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO _sluice_checkpoints (consumer, stream, shard_id, counter, sequence_number, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (consumer, stream, shard_id) DO UPDATE SET
             counter = excluded.counter, sequence_number = excluded.sequence_number, updated_ms = excluded.updated_ms",
    )?
    .execute(params![
        consumer,
        stream,
        kinesis::shard_id(shard),
        counter,
        kinesis::sequence_number(shard, counter),
        now_ms()
    ])?;
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
