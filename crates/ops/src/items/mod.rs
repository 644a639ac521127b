//! `cargo xtask items TABLE [KEY [SORT_KEY]]`: what landed in a table, as JSON, without `sqlite3` or the AWS
//! CLI. With a key, the one item (exit 1 when there is none); without, the newest items by `receivedAt`.
//! Locally from the state dir (`sluice_local::inspect`), deployed with DynamoDB `GetItem` / `Scan`.

use std::path::{Path, PathBuf};

use miette::{IntoDiagnostic as _, miette};
use serde_json::Value;

use crate::outputs::{self, OutputsArgs};
use sluice_config::{KeyType, Pipeline, Table};
use sluice_contract::writer::attribute;
use sluice_local::inspect::{InspectError, Inspector};

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

fn table<'p>(pipeline: &'p Pipeline, name: &str) -> miette::Result<&'p Table> {
    Inspector::table(pipeline, name).map_err(|e| miette!("{e}"))
}

/// What is wrong with a key value for an attribute of type `kind`, if anything.
fn check_key(table: &Table, attribute: &str, kind: KeyType, value: &str) -> miette::Result<()> {
    if kind == KeyType::N && value.trim().parse::<f64>().map_or(true, |n| !n.is_finite()) {
        return Err(miette!(
            "{}",
            InspectError::KeyNotANumber {
                table: table.name.clone(),
                attribute: attribute.to_owned(),
                value: value.to_owned(),
            }
        ));
    }
    Ok(())
}

fn received_at(item: &Value) -> f64 {
    item.get(attribute::RECEIVED_AT)
        .and_then(Value::as_f64)
        .unwrap_or(f64::MIN)
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

fn not_found(table: &Table, key: &str, sort_key: Option<&str>) -> miette::Report {
    let mut what = format!("{} = {key:?}", table.partition_key.name);
    if let (Some(sk), Some(v)) = (&table.sort_key, sort_key) {
        what.push_str(&format!(", {} = {v:?}", sk.name));
    }
    miette!("no item with {what} in {}", table.name)
}

/// The item (or the newest items) on AWS.
pub async fn deployed_items(
    pipeline: &Pipeline,
    deployed: &outputs::Deployed,
    args: &ItemsArgs,
) -> miette::Result<Value> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let table = table(pipeline, &args.table)?;
    let physical = deployed.table(pipeline, &table.name).to_owned();
    let sdk = outputs::sdk_config(deployed).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let to_json = |item| -> miette::Result<Value> {
        serde_dynamo::from_item(item)
            .map_err(|e| miette!("an item of {physical} is not JSON-convertible: {e}"))
    };
    match &args.key {
        Some(key) => {
            let value = |kind: KeyType, v: &str| match kind {
                KeyType::S => AttributeValue::S(v.to_owned()),
                KeyType::N => AttributeValue::N(v.trim().to_owned()),
            };
            let pk = &table.partition_key;
            check_key(table, &pk.name, pk.kind, key)?;
            let mut request = dynamodb
                .get_item()
                .table_name(&physical)
                .consistent_read(true)
                .key(&pk.name, value(pk.kind, key));
            match (&table.sort_key, &args.sort_key) {
                (Some(sk), Some(v)) => {
                    check_key(table, &sk.name, sk.kind, v)?;
                    request = request.key(&sk.name, value(sk.kind, v));
                }
                (Some(sk), None) => {
                    return Err(miette!(
                        "{}",
                        InspectError::SortKeyMissing {
                            table: table.name.clone(),
                            attribute: sk.name.clone(),
                            kind: sk.kind,
                        }
                    ));
                }
                (None, Some(_)) => {
                    return Err(miette!(
                        "{}",
                        InspectError::NoSortKey {
                            table: table.name.clone(),
                            attribute: pk.name.clone(),
                        }
                    ));
                }
                (None, None) => {}
            }
            let out = request.send().await.map_err(|e| {
                miette!(
                    "DynamoDB GetItem on {physical}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
            match out.item {
                Some(item) => to_json(item),
                None => Err(not_found(table, key, args.sort_key.as_deref())),
            }
        }
        None => {
            let mut items = Vec::new();
            let mut start = None;
            loop {
                let out = dynamodb
                    .scan()
                    .table_name(&physical)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| {
                        miette!(
                            "DynamoDB Scan on {physical}: {}",
                            aws_sdk_dynamodb::error::DisplayErrorContext(e)
                        )
                    })?;
                for item in out.items.unwrap_or_default() {
                    items.push(to_json(item)?);
                }
                match out.last_evaluated_key {
                    Some(key) if !key.is_empty() && items.len() < MAX_SCANNED_ITEMS => {
                        start = Some(key);
                    }
                    Some(key) if !key.is_empty() => {
                        eprintln!(
                            "note: scanned the first {} items of {physical} only; the newest among them follow",
                            items.len()
                        );
                        break;
                    }
                    _ => break,
                }
            }
            items.sort_by(|a, b| received_at(b).total_cmp(&received_at(a)));
            items.truncate(args.limit as usize);
            Ok(Value::Array(items))
        }
    }
}

pub fn run(config: &Path, args: ItemsArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    let value = if args.local {
        local_items(&pipeline, &args.state_dir, &args)?
    } else {
        let deployed = outputs::read(&args.outputs)?;
        let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
        rt.block_on(deployed_items(&pipeline, &deployed, &args))?
    };
    println!(
        "{}",
        serde_json::to_string_pretty(&value).into_diagnostic()?
    );
    Ok(())
}
