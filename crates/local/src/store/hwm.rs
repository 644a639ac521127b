//! The high-water mark of the sequence numbers handed out, kept outside the database in
//! `<state-dir>/sequence-hwm.json`: per stream and shard, the last counter a commit gave a record.
//!
//! The writer rewrites it in place after every commit that appended records, before any of that commit's
//! callers is answered (a `pwrite` into the page cache, no `fsync`: it survives a crash of the process, as
//! the WAL does under `--sync normal`; with `--sync full` the WAL itself is synced). At open, a database
//! whose shard counters are behind it lost commits that were acknowledged — its WAL was removed or the file
//! was rolled back — and is refused with the figures ([`StoreError::LostWrites`]) rather than handing the
//! same sequence numbers out again; `cargo xtask dev --recover` accepts the loss and raises the counters to
//! the mark, so no sequence number is ever given twice.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::{StoreError, kinesis};

/// The file's name in the state dir.
pub const HWM_FILE: &str = "sequence-hwm.json";

/// The size the file is padded to when created, so that rewriting it never needs a new block (a full disk
/// cannot stop it).
const PADDED_BYTES: usize = 4096;

/// Per stream, per shard id: the last counter handed out.
pub(super) type Marks = BTreeMap<String, BTreeMap<String, i64>>;

/// A shard whose database is behind the mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behind {
    pub stream: String,
    pub shard_id: String,
    /// The last counter the database holds.
    pub database: i64,
    /// The last counter handed out.
    pub handed_out: i64,
}

impl std::fmt::Display for Behind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let index = kinesis::shard_index(&self.shard_id).unwrap_or(0);
        write!(
            f,
            "{} {}: records up to {} were acknowledged (sequence number {}), the database ends at {}: {} missing",
            self.stream,
            self.shard_id,
            self.handed_out,
            kinesis::sequence_number(index, self.handed_out),
            self.database,
            self.handed_out - self.database
        )
    }
}

pub(super) fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(HWM_FILE)
}

/// The marks, if the file exists and reads (a file that does not parse is reported and ignored: it is
/// rewritten from the database).
pub(super) fn read(state_dir: &Path) -> Option<Marks> {
    let path = path(state_dir);
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str(text.trim_end_matches(['\0', ' ', '\n'])) {
        Ok(marks) => Some(marks),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "the sequence-number high-water mark does not read; rewriting it from the database");
            None
        }
    }
}

/// The shards whose database counter (`last_counter`) is behind the marks.
pub(super) fn behind(marks: &Marks, last_counter: &HashMap<(String, u32), i64>) -> Vec<Behind> {
    let mut out = Vec::new();
    for (stream, shards) in marks {
        for (shard_id, &handed_out) in shards {
            let Some(index) = kinesis::shard_index(shard_id) else {
                continue;
            };
            let database = last_counter
                .get(&(stream.clone(), index))
                .copied()
                .unwrap_or(0);
            if database < handed_out {
                out.push(Behind {
                    stream: stream.clone(),
                    shard_id: shard_id.clone(),
                    database,
                    handed_out,
                });
            }
        }
    }
    out
}

/// The open file the writer rewrites.
pub(super) struct Mark {
    file: File,
    path: PathBuf,
    /// Whether the last rewrite failed (reported once per failure spell).
    failing: bool,
}

impl Mark {
    /// Opens (creating) the file and writes the current counters into it.
    pub(super) fn open(
        state_dir: &Path,
        last_counter: &HashMap<(String, u32), i64>,
    ) -> Result<Mark, StoreError> {
        let path = path(state_dir);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if file.metadata().map_err(io)?.len() < PADDED_BYTES as u64 {
            file.write_all_at(&[b' '; PADDED_BYTES], 0).map_err(io)?;
        }
        let mut mark = Mark {
            file,
            path: path.clone(),
            failing: false,
        };
        mark.write(last_counter).map_err(io)?;
        let _ = mark.file.sync_data();
        Ok(mark)
    }

    fn write(&mut self, last_counter: &HashMap<(String, u32), i64>) -> std::io::Result<()> {
        let mut marks = Marks::new();
        for ((stream, shard), &counter) in last_counter {
            marks
                .entry(stream.clone())
                .or_default()
                .insert(kinesis::shard_id(*shard), counter);
        }
        let mut text = serde_json::to_vec(&marks).map_err(std::io::Error::other)?;
        // Padded with spaces to the file's size: a shorter text never leaves the end of a longer one behind.
        let size = self.file.metadata()?.len() as usize;
        if text.len() < size {
            text.resize(size, b' ');
        }
        self.file.write_all_at(&text, 0)
    }

    /// After a commit that appended records: the counters now handed out. A failure is logged (once until
    /// it succeeds again); the write itself stands.
    pub(super) fn record(&mut self, last_counter: &HashMap<(String, u32), i64>) {
        match self.write(last_counter) {
            Ok(()) => {
                if std::mem::take(&mut self.failing) {
                    tracing::info!(file = %self.path.display(), "the sequence-number high-water mark is written again");
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!(file = %self.path.display(), error = %e, "cannot write the sequence-number high-water mark; a lost WAL would go unnoticed until it is written again");
                }
            }
        }
    }
}
