//! The group-commit writer thread: every write is a job on its queue; it runs whatever is queued in one
//! transaction (each job in its own savepoint), commits, and answers the callers — after the syncer thread
//! synced the WAL, with [`Durability::Full`](super::Durability::Full).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use rusqlite::{Connection, params};
use tokio::sync::{oneshot, watch};

use super::full::{Health, is_disk_full};
use super::hwm::Mark;
use super::wal::restart_wal;
use super::{Store, StoreError, kinesis};

/// Why the transaction holding a write did not commit (or was not synced after it did). A commit that
/// failed makes the store refuse every later write.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    #[error(
        "a commit failed ({0}); the database refuses writes until `cargo xtask dev` is restarted"
    )]
    Failed(String),
    #[error(
        "syncing {path} failed ({error}); the database refuses writes until `cargo xtask dev` is restarted"
    )]
    SyncFailed { path: String, error: String },
    #[error(
        "an earlier sync of the database failed; the database refuses writes until `cargo xtask dev` is restarted"
    )]
    EarlierSyncFailed,
    #[error("the database's syncer has stopped")]
    SyncerStopped,
    #[error(
        "the disk is full ({0}); the write is refused, and writes resume by themselves once there is room"
    )]
    DiskFull(String),
}

/// What a write job may use besides the connection: the writer's in-memory state.
pub struct WriterState {
    /// Last counter handed out, per (stream, shard index).
    pub(super) last_counter: HashMap<(String, u32), i64>,
    /// Shards whose counter moved in this transaction (flushed to `_sluice_shards` before `COMMIT`).
    pub(super) dirty: Vec<(String, u32)>,
    /// Whether this transaction appended stream records (consumers are woken after `COMMIT`).
    pub(super) appended: bool,
    /// Whether a write of this transaction failed for want of space (SQLite then rolled it back).
    pub(super) saw_full: bool,
    /// Whether this transaction answered an ordered write before its `COMMIT` (if it fails, the store's
    /// generation moves).
    pub(super) answered_early: bool,
    /// The shared full-disk state ([`Health::generation`] is checked by generation-bound writes).
    pub(super) health: Arc<Health>,
    /// The high-water mark the writer rewrites after each commit that moved a counter (set by `Store::open`).
    pub(super) mark: Option<Mark>,
}

impl WriterState {
    pub(super) fn load(conn: &Connection, health: Arc<Health>) -> rusqlite::Result<Self> {
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
            saw_full: false,
            answered_early: false,
            health,
            mark: None,
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

type Completion = Box<dyn FnOnce(Result<(), CommitError>) + Send>;
pub(super) type Job = Box<dyn FnOnce(&Connection, &mut WriterState) -> Completion + Send>;

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
pub(super) struct Syncer {
    committed: mpsc::Sender<Committed>,
    thread: JoinHandle<()>,
}

pub(super) fn start_syncer(
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
                    Err(CommitError::EarlierSyncFailed)
                } else {
                    sync_data(&wal).map_err(|e| {
                        failed.store(true, Ordering::SeqCst);
                        let error = CommitError::SyncFailed {
                            path: wal.display().to_string(),
                            error: e.to_string(),
                        };
                        tracing::error!(error = %error, "sync failed; the writes it held are refused");
                        error
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

pub(super) fn writer_loop(
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
    loop {
        let first = if state.health.is_full() {
            // Nobody may write while the disk is full (writes are refused at once): the writer tries a
            // write of its own at each back-off, so that the state ends once there is room.
            match jobs.recv_timeout(state.health.until_retry()) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => probe_job(),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match next_job(&jobs) {
                Some(job) => job,
                None => break,
            }
        };
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
        let counters_moved = !state.dirty.is_empty();
        let result = flush_counters(&conn, &mut state).and_then(|()| conn.execute_batch("COMMIT"));
        let appended_now = std::mem::take(&mut state.appended);
        if result.is_ok() {
            state.saw_full = false;
            state.answered_early = false;
            state.health.committed();
            if counters_moved && let Some(mark) = state.mark.as_mut() {
                // Before any caller of this commit is answered.
                mark.record(&state.last_counter);
            }
        }
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
                        completion(Err(CommitError::SyncerStopped));
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
                let full = std::mem::take(&mut state.saw_full) || is_disk_full(&e);
                let _ = conn.execute_batch("ROLLBACK");
                let health = state.health.clone();
                if std::mem::take(&mut state.answered_early) {
                    health.commit_failed();
                }
                let error = if full {
                    // An outage that ends by itself: see `full`.
                    health.disk_full(&e.to_string(), completions.len());
                    CommitError::DiskFull(e.to_string())
                } else {
                    let error = CommitError::Failed(e.to_string());
                    tracing::error!(error = %error, "commit failed; the writes of this transaction are refused");
                    failed.store(true, Ordering::SeqCst);
                    error
                };
                // The in-memory counters may be ahead of the database now; reload them.
                match WriterState::load(&conn, health) {
                    Ok(fresh) => {
                        let mark = state.mark.take();
                        state = fresh;
                        state.mark = mark;
                    }
                    Err(e) => tracing::error!(error = %e, "cannot reload the shard counters"),
                }
                for completion in completions {
                    completion(Err(error.clone()));
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

/// The writer's own write while the disk is full: one row of `_sluice_probe`, rewritten.
fn probe_job() -> Job {
    Box::new(|conn, _| {
        let written = conn.execute(
            "INSERT INTO _sluice_probe (id, probed_ms) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET probed_ms = excluded.probed_ms",
            [super::now_ms()],
        );
        if let Err(e) = written {
            tracing::debug!(error = %e, "the full-disk probe failed");
        }
        Box::new(|_| {})
    })
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

/// Runs a job's `f` inside the writer's transaction. A write that failed for want of space makes SQLite roll
/// the whole transaction back; the jobs after it then do not run (outside a transaction each would commit
/// by itself, unsynced), and are refused with the commit.
fn run_in_transaction<T>(
    conn: &Connection,
    state: &mut WriterState,
    f: impl FnOnce(&Connection, &mut WriterState) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    if conn.is_autocommit() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(if state.saw_full {
                rusqlite::ffi::SQLITE_FULL
            } else {
                rusqlite::ffi::SQLITE_ABORT
            }),
            Some("the transaction holding this write was rolled back".into()),
        ));
    }
    let result = f(conn, state);
    if let Err(e) = &result
        && is_disk_full(e)
    {
        state.saw_full = true;
    }
    result
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

impl Store {
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
    pub(super) async fn write_committed<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut WriterState) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(
            move |conn, state| match run_in_transaction(conn, state, f) {
                Ok(value) => Box::new(move |committed: Result<(), CommitError>| {
                    let _ = tx.send(committed.map(|()| value).map_err(StoreError::Commit));
                }),
                Err(e) => Box::new(move |_| {
                    let _ = tx.send(Err(e.into()));
                }),
            },
        );
        self.submit(job)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn submit(&self, job: Job) -> Result<(), StoreError> {
        if self.inner.health.refuses_now() {
            return Err(StoreError::Full);
        }
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
            state.answered_early = true;
            let result = run_in_transaction(conn, state, |conn, state| {
                in_savepoint(conn, |conn| f(conn, state))
            });
            let _ = tx.send(result.map_err(StoreError::from));
            Box::new(|_| {})
        });
        self.submit(job)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}
