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
        !self.local
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

pub fn run(config: &Path, args: ItemsArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
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
