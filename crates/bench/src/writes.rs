//! `cargo xtask bench --writes`: what a 100-record batch costs the writer against DynamoDB, per way of
//! writing it, measured against a moto server this command starts on a free loopback port.
//!
//! The ways: the old unconditional `BatchWriteItem` (4 calls of 25; it takes no condition, so a replay
//! overwrites newer items), the writer's conditional `PutItem`s in parallel (the ordering rule), and
//! `TransactWriteItems` (one call of 100 conditional puts; one failed condition cancels all of them).
//! Printed per way: requests per batch, p50/p99 batch latency, and write units — as AWS bills them (1 per
//! started KB of item per put, twice that in a transaction; a failed condition is billed too) and as moto's
//! `ConsumedCapacity` reports them (moto answers a constant per call, not a real figure). moto is a
//! single-threaded Python server: the latencies rank the ways by round trips, not by AWS's speed (and its
//! `TransactWriteItems` deep-copies the table once per action, so each way gets its own table).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put, PutRequest,
    ReturnConsumedCapacity, ScalarAttributeType, TransactWriteItem, WriteRequest,
};
use miette::{IntoDiagnostic as _, miette};
use sluice_writer::aws::{ORDERING_CONDITION, ordered};

type DynamoItem = HashMap<String, AttributeValue>;

/// The table of way `w` (the item builder's config names this one; only the name differs).
fn table(w: usize) -> String {
    format!("bench-writes-{w}")
}

const TABLE: &str = "bench-writes-0";
const BATCH: usize = 100;

/// A moto server, killed on drop.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> miette::Result<(Moto, String)> {
    let venv = sluice_build::tools::venv()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .into_diagnostic()?
        .port();
    let child = Command::new(venv.moto_server())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| miette!("cannot start moto_server: {e}"))?;
    let moto = Moto(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            return Err(miette!("moto_server did not listen on {addr} within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((moto, format!("http://{addr}")))
}

/// What writing one batch cost.
#[derive(Default)]
struct Cost {
    requests: usize,
    /// As AWS bills them.
    billed_units: f64,
    /// As moto's ConsumedCapacity says.
    reported_units: f64,
    superseded: usize,
}

impl Cost {
    fn add(&mut self, other: &Cost) {
        self.requests += other.requests;
        self.billed_units += other.billed_units;
        self.reported_units += other.reported_units;
        self.superseded += other.superseded;
    }
}

/// The item the writer makes of a record of the record contract with a `body_bytes` message.
fn item(key: &str, seq: &str, body_bytes: usize) -> DynamoItem {
    let body = format!(r#"{{"message":"{}"}}"#, "x".repeat(body_bytes));
    let data = sluice_contract::envelope::encode(&sluice_contract::envelope::Received {
        received_at_ms: 1_732_752_000_123,
        request_id: "c0ffee",
        source_ip: "203.0.113.9",
        body: &body,
    });
    let config = sluice_writer::WriterConfig::new(TABLE, "eventId");
    let meta = sluice_writer::RecordMeta {
        partition_key: key,
        sequence_number: seq,
        shard_id: Some("shardId-000000000000"),
        arrival_time: 1_732_752_000_500,
    };
    let item = sluice_writer::item_from_envelope(&config, &data, meta)
        .map(|(_, item)| item)
        .unwrap_or_default();
    serde_dynamo::to_item(item).unwrap_or_default()
}

/// Write units of one put of `item`, as AWS bills a standard write: one per started KB.
fn units(item: &DynamoItem) -> f64 {
    let json: serde_json::Map<String, serde_json::Value> =
        serde_dynamo::from_item(item.clone()).unwrap_or_default();
    sluice_writer::item_size(&json).div_ceil(1024).max(1) as f64
}

fn sequence_number(item: &DynamoItem) -> String {
    item.get("sequenceNumber")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

async fn batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<DynamoItem>,
) -> Cost {
    let mut cost = Cost::default();
    for chunk in items.chunks(sluice_writer::MAX_BATCH_WRITE_ITEMS) {
        let mut requests = Vec::new();
        for item in chunk {
            cost.billed_units += units(item);
            if let Ok(put) = PutRequest::builder().set_item(Some(item.clone())).build() {
                requests.push(WriteRequest::builder().put_request(put).build());
            }
        }
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        cost.requests += 1;
        if let Ok(out) = out {
            cost.reported_units += out
                .consumed_capacity()
                .iter()
                .filter_map(|c| c.capacity_units())
                .sum::<f64>();
        }
    }
    cost
}

async fn conditional_puts(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<DynamoItem>,
) -> Cost {
    let puts = items.into_iter().map(|item| async move {
        let seq = sequence_number(&item);
        let billed = units(&item);
        let put = client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        match ordered(put, &seq).send().await {
            Ok(out) => (
                billed,
                out.consumed_capacity()
                    .and_then(|c| c.capacity_units())
                    .unwrap_or(0.0),
                false,
            ),
            Err(e) => {
                let superseded = e
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception());
                (billed, 0.0, superseded)
            }
        }
    });
    let mut cost = Cost::default();
    for (billed, reported, superseded) in futures::future::join_all(puts).await {
        cost.requests += 1;
        cost.billed_units += billed;
        cost.reported_units += reported;
        cost.superseded += usize::from(superseded);
    }
    cost
}

async fn transaction(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<DynamoItem>,
) -> Cost {
    let mut cost = Cost::default();
    let mut actions = Vec::new();
    for item in items {
        cost.billed_units += 2.0 * units(&item);
        let seq = sequence_number(&item);
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(ORDERING_CONDITION)
            .expression_attribute_names("#seq", "sequenceNumber")
            .expression_attribute_values(":seq", AttributeValue::S(seq.clone()))
            .expression_attribute_values(":seqlen", AttributeValue::N(seq.len().to_string()))
            .build();
        if let Ok(put) = put {
            actions.push(TransactWriteItem::builder().put(put).build());
        }
    }
    let n = actions.len();
    let out = client
        .transact_write_items()
        .set_transact_items(Some(actions))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await;
    cost.requests = 1;
    match out {
        Ok(out) => {
            cost.reported_units = out
                .consumed_capacity()
                .iter()
                .filter_map(|c| c.capacity_units())
                .sum();
        }
        Err(_) => cost.superseded = n,
    }
    cost
}

#[derive(Clone, Copy)]
enum Way {
    BatchWrite,
    ConditionalPuts,
    Transaction,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::BatchWrite => "BatchWriteItem, unconditional (4 x 25)",
            Way::ConditionalPuts => "PutItem, conditional, 100 in parallel",
            Way::Transaction => "TransactWriteItems, conditional (1 x 100)",
        }
    }

    async fn write(
        self,
        client: &aws_sdk_dynamodb::Client,
        table: &str,
        items: Vec<DynamoItem>,
    ) -> Cost {
        match self {
            Way::BatchWrite => batch_write(client, table, items).await,
            Way::ConditionalPuts => conditional_puts(client, table, items).await,
            Way::Transaction => transaction(client, table, items).await,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn header(title: &str) {
    println!(
        "{title:<46} {:>8} {:>9} {:>9} {:>10} {:>9} {:>10}",
        "requests", "p50", "p99", "WCU billed", "WCU moto", "superseded"
    );
}

fn row(name: &str, rounds: usize, total: &Cost, times: &mut [Duration]) {
    times.sort();
    let per = |x: f64| x / rounds.max(1) as f64;
    println!(
        "{name:<46} {:>8.0} {:>7.1}ms {:>7.1}ms {:>10.1} {:>9.1} {:>10.0}",
        per(total.requests as f64),
        percentile(times, 50.0).as_secs_f64() * 1000.0,
        percentile(times, 99.0).as_secs_f64() * 1000.0,
        per(total.billed_units),
        per(total.reported_units),
        per(total.superseded as f64),
    );
}

/// `cargo xtask bench --writes`.
pub async fn run(rounds: usize, body_bytes: usize) -> miette::Result<()> {
    let (_moto, endpoint) = start_moto()?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "bench", "bench", None, None, "bench",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    for w in 0..5 {
        client
            .create_table()
            .table_name(table(w))
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("eventId")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .into_diagnostic()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("eventId")
                    .key_type(KeyType::Hash)
                    .build()
                    .into_diagnostic()?,
            )
            .send()
            .await
            .map_err(|e| miette!("create the bench table: {e:?}"))?;
    }

    println!(
        "writes: {rounds} batches of {BATCH} records per way, {body_bytes}-byte messages, moto on {endpoint} ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let seq = |round: usize, i: usize| format!("4959{:052}", round * 1000 + i + 1_000_000);
    header("fresh keys");
    for (w, way) in [Way::BatchWrite, Way::ConditionalPuts, Way::Transaction]
        .into_iter()
        .enumerate()
    {
        // Warm the connections first.
        let warm: Vec<DynamoItem> = (0..BATCH)
            .map(|i| item(&format!("warm{w}-{i}"), &seq(0, i), body_bytes))
            .collect();
        let _ = way.write(&client, &table(w), warm).await;
        let (mut times, mut total) = (Vec::new(), Cost::default());
        for round in 0..rounds {
            let items: Vec<DynamoItem> = (0..BATCH)
                .map(|i| {
                    item(
                        &format!("w{w}-r{round}-{i}"),
                        &seq(round + 1, i),
                        body_bytes,
                    )
                })
                .collect();
            let started = Instant::now();
            let cost = way.write(&client, &table(w), items).await;
            times.push(started.elapsed());
            total.add(&cost);
        }
        row(way.name(), rounds, &total, &mut times);
    }

    // A replay: the same keys again with lower sequence numbers (a TRIM_HORIZON mapping, a redrive).
    header("replay of older records");
    for (w, way) in [Way::BatchWrite, Way::ConditionalPuts]
        .into_iter()
        .enumerate()
    {
        let (mut times, mut total) = (Vec::new(), Cost::default());
        for round in 0..rounds {
            let key = |i: usize| format!("replay{w}-r{round}-{i}");
            let newer: Vec<DynamoItem> = (0..BATCH)
                .map(|i| item(&key(i), &seq(round + 500, i), body_bytes))
                .collect();
            let _ = Way::ConditionalPuts
                .write(&client, &table(3 + w), newer)
                .await;
            let older: Vec<DynamoItem> = (0..BATCH)
                .map(|i| item(&key(i), &seq(round + 1, i), body_bytes))
                .collect();
            let started = Instant::now();
            let cost = way.write(&client, &table(3 + w), older).await;
            times.push(started.elapsed());
            total.add(&cost);
        }
        let name = match way {
            Way::BatchWrite => "BatchWriteItem (overwrites the newer items)",
            _ => way.name(),
        };
        row(name, rounds, &total, &mut times);
    }
    println!(
        "WCU billed: AWS's rule (1 per started KB per put, x2 in a transaction; a failed condition is billed \
         as a write). WCU moto: what moto's ConsumedCapacity says (a constant per call)."
    );
    Ok(())
}
