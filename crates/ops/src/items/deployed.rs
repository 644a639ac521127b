//! `items` of the deployed table: DynamoDB `GetItem` for one key, a `Scan` (at most
//! [`MAX_SCANNED_ITEMS`]) for the newest. Compiled with the `aws` feature.

use miette::miette;
use serde_json::Value;
use sluice_config::{KeyType, Pipeline};
use sluice_local::inspect::InspectError;

use sluice_config::Table;
use sluice_contract::writer::attribute;

use super::{ItemsArgs, MAX_SCANNED_ITEMS, not_found, table};
use crate::deployment::Deployment;

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

/// The item (or the newest items) on AWS.
pub async fn deployed_items(
    pipeline: &Pipeline,
    deployed: &Deployment,
    args: &ItemsArgs,
) -> miette::Result<Value> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let table = table(pipeline, &args.table)?;
    let physical = deployed.table(pipeline, &table.name).to_owned();
    let sdk = deployed.sdk_config().await;
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
