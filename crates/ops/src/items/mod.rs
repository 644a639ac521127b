//! `cargo xtask items TABLE [KEY [SORT_KEY]]`: what landed in a table, as JSON, without `sqlite3` or the AWS
//! CLI. With a key, the one item (exit 1 when there is none); without, the newest items by `receivedAt`.
//! Locally from the state dir (`sluice_local::inspect`), deployed with DynamoDB `GetItem` / `Scan` (`deployed`,
//! feature `aws`).

use std::path::{Path, PathBuf};

use miette::{IntoDiagnostic as _, miette};
use serde_json::Value;

use crate::deployment::OutputsArgs;

#[cfg(feature = "aws")]
mod deployed;
#[cfg(feature = "aws")]
pub use deployed::deployed_items;
use sluice_config::{Pipeline, Table};
use sluice_local::inspect::Inspector;

/// Most items a deployed `items TABLE` scans to find the newest (a Scan reads the whole table).
pub const MAX_SCANNED_ITEMS: usize = 10_000;

/// `cargo xtask items`.
#[derive(Debug, Clone, clap::Args)]
pub struct ItemsArgs {
    /// The table, by its pipeline.toml name (or its deployed name).
    pub table: String,
    /// The item's partition key; without it, the newest items are listed.
    pub key: Option<String>,
    /// The item's sort key, for a table that has one.
    pub sort_key: Option<String>,
    /// How many of the newest items to list (by `receivedAt`).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Read the pipeline `cargo xtask dev` runs (its state dir) instead of the deployed one.
    #[arg(long)]
    pub local: bool,
    /// The local pipeline's state dir.
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub outputs: OutputsArgs,
    /// Then keep watching (local tables), printing each item as it is written or overwritten by a newer
    /// record, one JSON object a line, until Ctrl-C.
    #[arg(long, conflicts_with = "key")]
    pub follow: bool,
}

pub(crate) fn table<'p>(pipeline: &'p Pipeline, name: &str) -> miette::Result<&'p Table> {
    Inspector::table(pipeline, name).map_err(|e| miette!("{e}"))
}

/// The item (or the newest items) locally.
pub fn local_items(
    pipeline: &Pipeline,
    state_dir: &Path,
    args: &ItemsArgs,
) -> miette::Result<Value> {
    let table = table(pipeline, &args.table)?;
    let inspector = Inspector::open(state_dir).map_err(|e| miette!("{e}"))?;
    match &args.key {
        Some(key) => inspector
            .get_item(table, key, args.sort_key.as_deref())
            .map_err(|e| miette!("{e}"))?
            .ok_or_else(|| not_found(table, key, args.sort_key.as_deref())),
        None => Ok(Value::Array(
            inspector
                .newest_items(table, args.limit as usize)
                .map_err(|e| miette!("{e}"))?,
        )),
    }
}

pub(crate) fn not_found(table: &Table, key: &str, sort_key: Option<&str>) -> miette::Report {
    let mut what = format!("{} = {key:?}", table.partition_key.name);
    if let (Some(sk), Some(v)) = (&table.sort_key, sort_key) {
        what.push_str(&format!(", {} = {v:?}", sk.name));
    }
    miette!("no item with {what} in {}", table.name)
}

impl ItemsArgs {
    /// Whether this run would call AWS (it reads the deployed table).
    pub fn needs_aws(&self) -> bool {
        !self.local && !self.follow
    }
}

/// The item (or the newest items) of the deployed table.
#[cfg(feature = "aws")]
fn deployed(pipeline: &Pipeline, args: &ItemsArgs) -> miette::Result<Value> {
    let deployment = args.outputs.read()?;
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(deployed_items(pipeline, &deployment, args))
}

#[cfg(not(feature = "aws"))]
fn deployed(_: &Pipeline, _: &ItemsArgs) -> miette::Result<Value> {
    Err(crate::no_aws())
}

/// `items TABLE --follow`: every half second, the items whose row is new or whose `sequenceNumber` changed
/// since the last look, one JSON object a line.
fn follow(pipeline: &Pipeline, args: &ItemsArgs) -> miette::Result<()> {
    use std::io::Write as _;
    let table = table(pipeline, &args.table)?;
    let open = || {
        Inspector::open(&args.state_dir).map_err(|e| {
            miette!(
                help = "start `cargo xtask dev` first (with the same --state-dir)",
                "{e}"
            )
        })
    };
    let versions =
        |inspector: &Inspector| -> miette::Result<std::collections::HashMap<i64, Option<String>>> {
            Ok(inspector
                .item_versions(table)
                .map_err(|e| miette!("{e}"))?
                .into_iter()
                .collect())
        };
    let mut seen = versions(&open()?)?;
    eprintln!(
        "following {} ({} items so far; Ctrl-C to stop)…",
        table.name,
        seen.len()
    );
    // Until Ctrl-C ends the process: there is nothing to clean up.
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let inspector = open()?;
        let now = versions(&inspector)?;
        let mut changed: Vec<i64> = now
            .iter()
            .filter(|(rowid, seq)| seen.get(*rowid) != Some(*seq))
            .map(|(rowid, _)| *rowid)
            .collect();
        changed.sort_unstable();
        let mut out = std::io::stdout().lock();
        for rowid in changed {
            if let Some(item) = inspector
                .item_at(table, rowid)
                .map_err(|e| miette!("{e}"))?
            {
                let _ = writeln!(out, "{item}");
            }
        }
        let _ = out.flush();
        seen = now;
    }
}

pub fn run(config: &sluice_config::PipelineFile, args: ItemsArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    if args.follow {
        if !args.local {
            return Err(miette!(
                help = "follow the local pipeline's table with --local; for a deployed table, `cargo xtask status --watch` shows its writes per second",
                "--follow watches local tables only: a deployed table has no change feed sluice reads (following it would Scan the whole table over and over)"
            ));
        }
        let newest = local_items(&pipeline, &args.state_dir, &args)?;
        if let Value::Array(items) = newest {
            for item in items.iter().rev() {
                println!("{item}");
            }
        }
        return follow(&pipeline, &args);
    }
    let value = if args.local {
        local_items(&pipeline, &args.state_dir, &args)?
    } else {
        deployed(&pipeline, &args)?
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&value).into_diagnostic()?
    );
    Ok(())
}
