//! The database's check at start, and `cargo xtask dev --recover`.
//!
//! [`verify`] runs `PRAGMA quick_check` on `pipeline.db` before anything else opens it (after SQLite replayed
//! its WAL): a file SQLite cannot read, or one whose pages do not hold together, is refused with what SQLite
//! found, never served. `quick_check` reads every page once (it checks the b-trees and the records' format;
//! unlike `integrity_check` it does not compare each index with its table). Measured on a 391 MB database
//! (200,000 records and 200,000 items of ~1 KB, 2 shared cores): 1.7–2.1 s with the file in the page cache,
//! 7.3 s from a cold cache; `integrity_check` took 3.2 s warm (see docs/LOCAL_FAULTS.md).
//!
//! [`recover`] keeps what can be read of a damaged file: it moves `pipeline.db` (with its `-wal` and `-shm`)
//! into `<state-dir>/damaged-<UTC time>/`, untouched, creates a new database with the pipeline's tables, and
//! copies every row the old file still yields, table by table in ranges of rowids (a range that fails is
//! halved until the rows that cannot be read are isolated and left behind). The shard counters are then
//! raised to the highest sequence number ever handed out (the store's high-water mark, see `hwm`), so no
//! acknowledged sequence number is handed out again.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags};
use sluice_config::Pipeline;

use super::hwm::{self, Behind};
use super::schema::{create_schema, open_reader};
use super::writer::WriterState;
use super::{StoreError, quote_ident};

/// The most problems a refusal lists (`quick_check` stops at 100).
const MAX_PROBLEMS_SHOWN: usize = 5;

/// Rows copied per statement while recovering.
const RECOVER_CHUNK: i64 = 4096;

/// Whether an error means the file itself is damaged (rather than, say, unreadable or locked).
pub(super) fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Checks `path` (if it exists): `Ok` if SQLite opens it and `quick_check` finds nothing wrong.
pub(super) fn verify(path: &Path) -> Result<(), StoreError> {
    if !path.exists() {
        return Ok(());
    }
    let damaged = |problems: Vec<String>| StoreError::Damaged {
        path: path.to_path_buf(),
        problems,
    };
    let conn = match open_reader(path) {
        Ok(conn) => conn,
        Err(e) if is_damage(&e) => return Err(damaged(vec![e.to_string()])),
        Err(e) => return Err(e.into()),
    };
    match quick_check(&conn) {
        Ok(problems) if problems.is_empty() => Ok(()),
        Ok(problems) => Err(damaged(problems)),
        Err(e) if is_damage(&e) => Err(damaged(vec![e.to_string()])),
        Err(e) => Err(e.into()),
    }
}

/// What `PRAGMA quick_check` found (nothing: the file is sound).
fn quick_check(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut problems = Vec::new();
    for row in rows {
        let row = row?;
        if row != "ok" {
            problems.push(row);
        }
    }
    Ok(problems)
}

/// The refusal's list of problems: the first few, and how many more.
pub(super) fn describe(problems: &[String]) -> String {
    let mut out = problems
        .iter()
        .take(MAX_PROBLEMS_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > MAX_PROBLEMS_SHOWN {
        let _ = write!(out, "; and {} more", problems.len() - MAX_PROBLEMS_SHOWN);
    }
    out
}

/// One table of a recovered file: its name, the rows kept, the rows that could not be read (`None`: the
/// table could not be read at all).
pub type TableKept = (String, u64, Option<u64>);

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Where the damaged files were moved (`None`: the file was sound).
    pub moved_to: Option<PathBuf>,
    /// Per table of the damaged file: rows kept, rows that could not be read (`None`: the table could not
    /// be read at all).
    pub tables: Vec<TableKept>,
    /// The shards whose counters were behind the high-water mark, raised to it (their missing records are
    /// lost).
    pub raised: Vec<Behind>,
}

impl std::fmt::Display for Recovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(moved_to) = &self.moved_to {
            write!(
                f,
                "the damaged database was moved to {}; kept:",
                moved_to.display()
            )?;
            if self.tables.is_empty() {
                write!(f, " nothing (its list of tables cannot be read);")?;
            }
            for (table, kept, lost) in &self.tables {
                match lost {
                    Some(0) => write!(f, " {table} {kept} rows;")?,
                    Some(lost) => {
                        write!(f, " {table} {kept} rows ({lost} unreadable, left behind);")?
                    }
                    None => write!(f, " {table} nothing (unreadable);")?,
                }
            }
        }
        for behind in &self.raised {
            write!(
                f,
                " lost for good: {behind}; the shard continues after {}.",
                behind.handed_out
            )?;
        }
        Ok(())
    }
}

/// `cargo xtask dev --recover`: if `<state-dir>/pipeline.db` is damaged, moves it aside and keeps what can
/// be read in a new one (see the module documentation). `None`: there was nothing to recover.
pub fn recover(state_dir: &Path, pipeline: &Pipeline) -> Result<Option<Recovery>, StoreError> {
    let path = state_dir.join("pipeline.db");
    let (moved_to, tables) = match verify(&path) {
        Ok(()) => (None, Vec::new()),
        Err(StoreError::Damaged { .. }) => {
            let (moved_to, tables) = rebuild(state_dir, &path, pipeline)?;
            (Some(moved_to), tables)
        }
        Err(e) => return Err(e),
    };
    let raised = raise_to_mark(state_dir, &path, pipeline)?;
    if moved_to.is_none() && raised.is_empty() {
        return Ok(None);
    }
    Ok(Some(Recovery {
        moved_to,
        tables,
        raised,
    }))
}

/// Raises the shard counters that are behind the high-water mark to it; answers which were.
fn raise_to_mark(
    state_dir: &Path,
    path: &Path,
    pipeline: &Pipeline,
) -> Result<Vec<Behind>, StoreError> {
    let Some(marks) = hwm::read(state_dir) else {
        return Ok(Vec::new());
    };
    let conn = open_reader(path)?;
    create_schema(&conn, pipeline)?;
    let state = WriterState::load(&conn, Default::default())?;
    let behind = hwm::behind(&marks, &state.last_counter);
    for b in &behind {
        conn.execute(
            "INSERT INTO _sluice_shards (stream, shard_id, last_counter) VALUES (?1, ?2, ?3)
             ON CONFLICT (stream, shard_id) DO UPDATE SET last_counter = excluded.last_counter",
            rusqlite::params![b.stream, b.shard_id, b.handed_out],
        )?;
    }
    Ok(behind)
}

/// Moves the damaged file aside and copies what can be read of it into a new one.
fn rebuild(
    state_dir: &Path,
    path: &Path,
    pipeline: &Pipeline,
) -> Result<(PathBuf, Vec<TableKept>), StoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Io { path, source }
    };
    let moved_to = state_dir.join(format!(
        "damaged-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::create_dir_all(&moved_to).map_err(io(&moved_to))?;
    for suffix in ["", "-wal", "-shm"] {
        let from = state_dir.join(format!("pipeline.db{suffix}"));
        if from.exists() {
            let to = moved_to.join(format!("pipeline.db{suffix}"));
            std::fs::rename(&from, &to).map_err(io(&from))?;
        }
    }
    let old = moved_to.join("pipeline.db");

    // Built beside, then renamed into place: a recovery cut short leaves no half-filled pipeline.db behind.
    let building = state_dir.join("pipeline.db.recovering");
    let _ = std::fs::remove_file(&building);
    let new = Connection::open(&building)?;
    new.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    create_schema(&new, pipeline)?;
    let tables = match Connection::open_with_flags(
        &old,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .and_then(|old_conn| table_list(&old_conn))
    {
        Ok(tables) => tables,
        Err(e) if is_damage(&e) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut uri = String::from("file:");
    uri.push_str(
        &old.display()
            .to_string()
            .replace('?', "%3f")
            .replace('#', "%23"),
    );
    uri.push_str("?mode=ro");
    new.execute("ATTACH DATABASE ?1 AS damaged", [uri])?;
    let mut report = Vec::new();
    for (table, sql) in tables {
        let exists: bool = new.query_row(
            "SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
            [&table],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !exists {
            // A table of an earlier pipeline.toml: created as it was.
            new.execute_batch(&sql)?;
        }
        report.push(copy_table(&new, &table)?);
    }
    new.execute_batch("DETACH DATABASE damaged")?;
    // The shard counters: never behind a record kept (the high-water mark raises them further at open).
    new.execute_batch(
        "INSERT INTO _sluice_shards (stream, shard_id, last_counter)
             SELECT stream, shard_id, max(counter) FROM _sluice_records GROUP BY stream, shard_id
         ON CONFLICT (stream, shard_id) DO UPDATE SET
             last_counter = max(last_counter, excluded.last_counter)",
    )?;
    drop(new);
    std::fs::File::open(&building)
        .and_then(|f| f.sync_all())
        .map_err(io(&building))?;
    std::fs::rename(&building, path).map_err(io(path))?;
    if let Ok(dir) = std::fs::File::open(state_dir) {
        let _ = dir.sync_all();
    }
    Ok((moved_to, report))
}

/// The damaged file's tables (name, `CREATE` statement), SQLite's own left out.
fn table_list(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Copies what can be read of one table; answers (table, kept, unreadable).
fn copy_table(conn: &Connection, table: &str) -> rusqlite::Result<TableKept> {
    let q = quote_ident(table);
    // One aggregate each: SQLite reads a min or a max from one edge of the b-tree, both at once by a scan.
    let bound = |f: &str| {
        conn.query_row(&format!("SELECT {f}(rowid) FROM damaged.{q}"), [], |r| {
            r.get::<_, Option<i64>>(0)
        })
    };
    let (low, high) = match (bound("min"), bound("max")) {
        (Ok(Some(low)), Ok(Some(high))) => (low, high),
        // The left edge is damaged: rowids start at 1 unless given.
        (Err(e), Ok(Some(high))) if is_damage(&e) => (1.min(high), high),
        (Ok(None), Ok(None)) => return Ok((table.to_owned(), 0, Some(0))),
        (Err(e), _) | (_, Err(e)) if !is_damage(&e) => return Err(e),
        _ => return Ok((table.to_owned(), 0, None)),
    };
    let insert = format!(
        "INSERT OR IGNORE INTO main.{q} SELECT * FROM damaged.{q} WHERE rowid BETWEEN ?1 AND ?2"
    );
    let (mut kept, mut lost) = (0u64, 0u64);
    let mut start = low;
    while start <= high {
        let end = start.saturating_add(RECOVER_CHUNK - 1).min(high);
        copy_range(conn, &insert, &q, start, end, &mut kept, &mut lost)?;
        start = match end.checked_add(1) {
            Some(next) => next,
            None => break,
        };
    }
    Ok((table.to_owned(), kept, Some(lost)))
}

/// Copies the rows of `[start, end]`, halving the range where reading fails.
fn copy_range(
    conn: &Connection,
    insert: &str,
    q: &str,
    start: i64,
    end: i64,
    kept: &mut u64,
    lost: &mut u64,
) -> rusqlite::Result<()> {
    // No transaction around it: a statement that fails is undone by itself (a `ROLLBACK TO` would have to
    // read the damaged schema again, and fail too).
    match conn.execute(insert, [start, end]) {
        Ok(n) => {
            *kept += n as u64;
            Ok(())
        }
        Err(e) if is_damage(&e) => {
            if start == end {
                // A row that cannot be read (or a rowid that never existed behind a damaged page).
                let exists = conn
                    .query_row(
                        &format!("SELECT count(*) FROM damaged.{q} WHERE rowid = ?1"),
                        [start],
                        |r| r.get::<_, i64>(0),
                    )
                    .map_or(true, |n| n > 0);
                if exists {
                    *lost += 1;
                }
                return Ok(());
            }
            let middle = start + (end - start) / 2;
            copy_range(conn, insert, q, start, middle, kept, lost)?;
            copy_range(conn, insert, q, middle + 1, end, kept, lost)
        }
        Err(e) => Err(e),
    }
}
