//! Helpers shared by the `dev_*` tests: a pipeline.toml to vary, the local pipeline started in-process on a
//! free port in a temporary state dir, an HTTP client, and readers of the SQLite tables and queues.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_local::{BatchHandler, RunningPipeline, StartOptions, Timings};

/// The seed's pipeline: one route, one stream of `shards` shards, `EventTable`, `LambdaDeadLetterQueue`,
/// and the consumer `event-writer` with the settings given as TOML lines (overriding nothing else).
pub fn pipeline_toml(shards: u32, consumer_settings: &str) -> String {
    format!(
        r#"
[pipeline]
name = "sluice"
region = "us-east-1"
stage = "prod"

[auth]
type = "basic"
username = "sluice"

[streams.GatewayEventsStream]
mode = "provisioned"
shard_count = {shards}
retention_hours = 24

[tables.EventTable]
partition_key = {{ name = "eventId", type = "S" }}

[queues.LambdaDeadLetterQueue]

[routes.submit]
method = "POST"
path = "/submit/{{streamName}}/{{eventId}}"
auth = "basic"
stream = {{ path_param = "streamName" }}
partition_key = {{ path_param = "eventId" }}
content_type = "application/json"

[consumers.event-writer]
stream = "GatewayEventsStream"
table = "EventTable"
dead_letter_queue = "LambdaDeadLetterQueue"
{consumer_settings}
"#
    )
}

pub fn parse(toml: &str) -> sluice_config::Pipeline {
    match sluice_config::parse(toml, "pipeline.toml") {
        Ok(p) => p,
        Err(e) => panic!("test pipeline is invalid: {e:?}"),
    }
}

/// Fast retries for tests.
pub fn fast_timings() -> Timings {
    Timings {
        retry_backoff_initial: Duration::from_millis(10),
        retry_backoff_max: Duration::from_millis(40),
        poll_interval: Duration::from_millis(200),
        retention_sweep_interval: Duration::from_secs(60),
    }
}

pub const USER: &str = "tester";
pub const PASS: &str = "s3cret:with-colon";

/// A pipeline running in this process, in its own state dir; `handlers` replace the writer per consumer.
pub async fn start_in(
    state_dir: &Path,
    toml: &str,
    handlers: BTreeMap<String, Arc<dyn BatchHandler>>,
) -> RunningPipeline {
    let mut opts = StartOptions::new(parse(toml), state_dir);
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    opts.handlers = handlers;
    sluice_local::start(opts)
        .await
        .expect("the local pipeline starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

pub const SEED_ID: &str = "55ad376f-86bf-4b06-9d3a-23237464dbd4";
pub const SEED_BODY: &str = r#"{"eventId":"value1","message":"event message for testing"}"#;

/// `POST {base}/prod/submit/GatewayEventsStream/{id}` with JSON content type and the test credentials.
pub async fn submit(
    client: &reqwest::Client,
    base: &str,
    id: &str,
    body: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/prod/submit/GatewayEventsStream/{id}"))
        .basic_auth(USER, Some(PASS))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("the request is answered")
}

pub fn db_path(state_dir: &Path) -> PathBuf {
    state_dir.join("pipeline.db")
}

/// Every item of a table: key → item.
pub fn items(state_dir: &Path, table: &str) -> BTreeMap<String, Value> {
    let conn = rusqlite::Connection::open(db_path(state_dir)).expect("open the database");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT \"eventId\", item FROM \"{table}\""))
        .expect("the table exists");
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k, serde_json::from_str(&v).expect("items are JSON"))
        })
        .collect()
}

/// Number of rows of a table (0 if it does not exist yet).
pub fn count(state_dir: &Path, table: &str) -> usize {
    let Ok(conn) = rusqlite::Connection::open(db_path(state_dir)) else {
        return 0;
    };
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
        r.get::<_, i64>(0)
    })
    .map_or(0, |n| n as usize)
}

/// Every message body of a dead-letter queue table, oldest first.
pub fn messages(state_dir: &Path, queue: &str) -> Vec<Value> {
    let conn = rusqlite::Connection::open(db_path(state_dir)).expect("open the database");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut stmt = conn
        .prepare(&format!("SELECT body FROM \"{queue}\" ORDER BY id"))
        .expect("the queue exists");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|b| serde_json::from_str(&b.unwrap()).expect("messages are JSON"))
        .collect()
}

/// The stored checkpoint counter of a consumer on shard 0.
pub fn checkpoint(state_dir: &Path, consumer: &str) -> Option<i64> {
    let conn = rusqlite::Connection::open(db_path(state_dir)).ok()?;
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT counter FROM _sluice_checkpoints WHERE consumer = ?1 AND shard_id = 'shardId-000000000000'",
        [consumer],
        |r| r.get(0),
    )
    .ok()
}

/// Polls `check` every 20 ms until it is true or `within` has passed; answers whether it became true.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to 30 s) until every acknowledged event (id → sequence number) is an item of `EventTable`,
/// then checks each is there with the acknowledged record's sequence number and that no event is stored
/// twice; answers the items for further checks.
pub async fn all_acknowledged_present_once(
    state_dir: &Path,
    acked: &BTreeMap<String, String>,
) -> BTreeMap<String, Value> {
    let complete = eventually(Duration::from_secs(30), || {
        let items = items(state_dir, "EventTable");
        acked.keys().all(|id| items.contains_key(id))
    })
    .await;
    let items = items(state_dir, "EventTable");
    let missing: Vec<_> = acked.keys().filter(|id| !items.contains_key(*id)).collect();
    assert!(
        complete,
        "{} of {} acknowledged events are missing, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
    for (id, seq) in acked {
        assert_eq!(items[id]["sequenceNumber"], seq.as_str(), "{id}");
    }
    let conn = rusqlite::Connection::open(db_path(state_dir)).unwrap();
    let (rows, distinct): (i64, i64) = conn
        .query_row(
            r#"SELECT count(*), count(DISTINCT "eventId") FROM "EventTable""#,
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(rows, distinct, "an event is stored twice");
    items
}
