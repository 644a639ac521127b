//! The database's layout (its tables, created if missing) and how a connection to it is opened.

use std::path::Path;

use rusqlite::Connection;
use sluice_config::{KeyType, Pipeline};

use super::{Durability, quote_ident};

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
pub(super) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    plan_once(&conn)?;
    Ok(conn)
}

/// Opens a connection in WAL mode with `synchronous` set to `sync` (`FULL`, `NORMAL` or `OFF`).
pub(super) fn open_connection(path: &Path, sync: &str) -> rusqlite::Result<Connection> {
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
    pub(super) fn checkpoint_sync(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// Creates the internal tables and one table per DynamoDB table and dead-letter queue of the pipeline.
pub(super) fn create_schema(conn: &Connection, pipeline: &Pipeline) -> rusqlite::Result<()> {
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
         CREATE TABLE IF NOT EXISTS _sluice_probe (id INTEGER PRIMARY KEY, probed_ms INTEGER NOT NULL);
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
