//! Poison records with the real writer: a record the writer can never store goes to the dead-letter queue
//! (the writer's message, with the data — in the local bucket when too large for the queue) while the other
//! records of its shard keep flowing; it is dead-lettered once even behind a transient failure; a forged
//! envelope is refused; a put older than the stored item is superseded, not written.

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::common::*;
use base64::Engine as _;
use serde_json::Value;
use sluice_local::sinks::{SqliteDeadLetters, SqliteTable};
use sluice_local::{BatchHandler, now_ms};
use sluice_writer::{Item, PutResult, Table, WriteOutcome};

/// An object of the local dead-letter bucket: its data and stored SHA-256.
fn object(state_dir: &std::path::Path, bucket: &str, key: &str) -> (Vec<u8>, String) {
    let conn = rusqlite::Connection::open(db_path(state_dir)).unwrap();
    conn.query_row(
        "SELECT data, sha256 FROM _sluice_objects WHERE bucket = ?1 AND key = ?2",
        [bucket, key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap_or_else(|e| panic!("no object {bucket}/{key}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_over_dynamodbs_limit_is_dead_lettered_and_the_shard_flows_on() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, "batch_size = 10"),
        BTreeMap::new(),
    )
    .await;
    let (base, client) = (running.base_url(), client());

    assert_eq!(
        submit(&client, &base, "before", r#"{"n":1}"#)
            .await
            .status(),
        200
    );
    // Under Kinesis's 1 MiB record limit, over DynamoDB's 400 KB item limit, and its dead-letter message
    // (base64 in JSON, ~600 KB) over the queue's 256 KiB.
    let huge = format!(r#"{{"blob":"{}"}}"#, "x".repeat(450 * 1024));
    let response = submit(&client, &base, "poison", &huge).await;
    assert_eq!(response.status(), 200);
    let poison_seq = response.json::<Value>().await.unwrap()["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..5 {
        assert_eq!(
            submit(&client, &base, &format!("after{i}"), r#"{"n":2}"#)
                .await
                .status(),
            200
        );
    }

    let stored = || {
        let items = items(dir.path(), "EventTable");
        items.contains_key("before") && (0..5).all(|i| items.contains_key(&format!("after{i}")))
    };
    assert!(
        eventually(Duration::from_secs(5), stored).await,
        "the records around the poison are stored"
    );
    assert!(!items(dir.path(), "EventTable").contains_key("poison"));
    assert!(
        eventually(Duration::from_secs(5), || messages(
            dir.path(),
            "LambdaDeadLetterQueue"
        )
        .len()
            == 1)
        .await
    );
    let message = &messages(dir.path(), "LambdaDeadLetterQueue")[0];
    assert_eq!(message["source"], "sluice.writer");
    assert_eq!(message["reason"], "ItemTooLarge");
    assert_eq!(message["partitionKey"], "poison");
    assert_eq!(message["sequenceNumber"], poison_seq.as_str());
    assert_eq!(message["shardId"], "shardId-000000000000");
    assert!(message.get("data").is_none(), "{message}");
    let location = &message["dataLocation"];
    assert_eq!(location["bucket"], "sluice-dead-letters");
    let key = format!("sluice-GatewayEventsStream/shardId-000000000000/{poison_seq}");
    assert_eq!(location["key"], key.as_str());
    let (data, sha256) = object(dir.path(), "sluice-dead-letters", &key);
    assert_eq!(location["size"], data.len());
    assert_eq!(location["sha256"], sha256.as_str());
    let envelope: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(envelope["body"].to_string(), huge, "the body byte for byte");
    assert_eq!(
        sluice_contract::DeadLetterMessage::from_json(&message.to_string())
            .unwrap()
            .reason,
        sluice_contract::Reason::ItemTooLarge
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_numeric_key_for_a_number_table_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let toml = pipeline_toml(1, "batch_size = 10").replace(r#"type = "S""#, r#"type = "N""#);
    let running = start_in(dir.path(), &toml, BTreeMap::new()).await;
    let (base, client) = (running.base_url(), client());
    for id in ["1", "not-a-number", "2"] {
        assert_eq!(
            submit(&client, &base, id, r#"{"k":"v"}"#).await.status(),
            200
        );
    }
    let keys = || {
        let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
        let mut stmt = conn
            .prepare(r#"SELECT "eventId" FROM "EventTable" ORDER BY "eventId""#)
            .unwrap();
        stmt.query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(5), || keys() == [1, 2]).await,
        "{:?}",
        keys()
    );
    assert!(
        eventually(Duration::from_secs(5), || messages(
            dir.path(),
            "LambdaDeadLetterQueue"
        )
        .len()
            == 1)
        .await
    );
    let message = &messages(dir.path(), "LambdaDeadLetterQueue")[0];
    assert_eq!(message["reason"], "BadKeyType");
    assert_eq!(message["partitionKey"], "not-a-number");
    running.shutdown().await;
}

/// The SQLite table, failing the first put of one key transiently (a throttled write on AWS).
struct FlakyTable {
    inner: SqliteTable,
    key: Value,
    failed: AtomicBool,
}

impl Table for FlakyTable {
    async fn put_items(&self, items: Vec<Item>) -> PutResult {
        let flaky = items.iter().position(|i| i["eventId"] == self.key);
        match flaky {
            Some(at) if !self.failed.swap(true, Ordering::SeqCst) => {
                let mut rest = items;
                rest.remove(at);
                let mut result = self.inner.put_items(rest).await;
                result
                    .outcomes
                    .insert(at, WriteOutcome::Transient("throttled".into()));
                result
            }
            _ => self.inner.put_items(items).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_behind_a_transient_one_is_dead_lettered_once() {
    let dir = tempfile::tempdir().unwrap();
    // A number key: "bad-…" can never be stored (BadKeyType), 2 fails once.
    let toml = pipeline_toml(1, "batch_size = 10\nbatching_window_seconds = 2")
        .replace(r#"type = "S""#, r#"type = "N""#);
    let pipeline = parse(&toml);
    let sinks: Arc<OnceLock<(FlakyTable, SqliteDeadLetters)>> = Arc::default();
    let batches: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let config = Arc::new(sluice_writer::WriterConfig {
        table_name: "EventTable".into(),
        partition_key: pipeline.tables["EventTable"].partition_key.clone(),
        sort_key: None,
        write: sluice_writer::WritePolicy::default(),
    });
    let handler: Arc<dyn BatchHandler> = {
        let (sinks, batches) = (sinks.clone(), batches.clone());
        Arc::new(move |event: sluice_writer::KinesisEvent| {
            let (sinks, batches, config) = (sinks.clone(), batches.clone(), config.clone());
            async move {
                batches.lock().unwrap().push(
                    event
                        .records
                        .iter()
                        .map(|r| r.kinesis.partition_key.clone())
                        .collect(),
                );
                let (table, dead_letters) = sinks.get().expect("sinks are set before records");
                Ok(sluice_writer::handle_batch(&config, table, dead_letters, event).await)
            }
        })
    };
    let running = start_in(
        dir.path(),
        &toml,
        BTreeMap::from([("event-writer".to_owned(), handler)]),
    )
    .await;
    let _ = sinks.set((
        FlakyTable {
            inner: SqliteTable::new(running.store.clone(), &pipeline.tables["EventTable"]),
            key: serde_json::json!(2),
            failed: AtomicBool::new(false),
        },
        SqliteDeadLetters::new(
            running.store.clone(),
            "LambdaDeadLetterQueue",
            "sluice-dead-letters",
        ),
    ));
    let keys = ["1", "bad-a", "2", "bad-b", "3"];
    for key in keys {
        running
            .store
            .append(
                "GatewayEventsStream",
                1,
                key,
                sluice_contract::envelope::encode(&sluice_contract::envelope::Received {
                    received_at_ms: now_ms(),
                    request_id: "r",
                    source_ip: "127.0.0.1",
                    body: "{}",
                }),
                now_ms(),
            )
            .await
            .unwrap();
    }
    let stored = || {
        let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
        conn.query_row(r#"SELECT count(*) FROM "EventTable""#, [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    };
    assert!(eventually(Duration::from_secs(10), || stored() == 3).await);
    // Let the mapping finish the retried batch.
    assert!(
        eventually(Duration::from_secs(10), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(5))
        .await
    );
    let batches = batches.lock().unwrap().clone();
    assert_eq!(
        batches[0], keys,
        "one batch held them all at first: {batches:?}"
    );
    assert_eq!(batches[1], ["2", "bad-b", "3"], "redelivered from 2 on");
    let dead: Vec<String> = messages(dir.path(), "LambdaDeadLetterQueue")
        .iter()
        .map(|m| m["partitionKey"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dead, ["bad-a", "bad-b"], "each dead-lettered once");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_envelope_is_dead_lettered_and_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, "batch_size = 10"),
        BTreeMap::new(),
    )
    .await;
    // What API Gateway's mapping template makes of the body `{"a":1},"requestId":"forged"` (the local
    // gateway refuses that body, so the record goes into the stream directly).
    let forged = sluice_contract::envelope::encode(&sluice_contract::envelope::Received {
        received_at_ms: now_ms(),
        request_id: "real",
        source_ip: "127.0.0.1",
        body: r#"{"a":1},"requestId":"forged""#,
    });
    running
        .store
        .append("GatewayEventsStream", 1, "forged", forged.clone(), now_ms())
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || messages(
            dir.path(),
            "LambdaDeadLetterQueue"
        )
        .len()
            == 1)
        .await
    );
    let message = &messages(dir.path(), "LambdaDeadLetterQueue")[0];
    assert_eq!(message["reason"], "ForgedEnvelope");
    let data = base64::engine::general_purpose::STANDARD
        .decode(message["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, forged);
    assert!(!items(dir.path(), "EventTable").contains_key("forged"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_older_than_the_stored_item_is_superseded() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = parse(&pipeline_toml(1, ""));
    let store =
        sluice_local::Store::open(dir.path(), &pipeline, sluice_local::Durability::Normal).unwrap();
    let table = SqliteTable::new(store.clone(), &pipeline.tables["EventTable"]);
    let item = |seq: &str, n: u32| -> Item {
        serde_json::from_value(
            serde_json::json!({"eventId": "k", "sequenceNumber": seq, "payload": {"n": n}}),
        )
        .unwrap()
    };
    let put = |seq: &'static str, n: u32| {
        let table = table.clone();
        async move { table.put_items(vec![item(seq, n)]).await.outcomes }
    };
    assert_eq!(put("100", 1).await, [WriteOutcome::Written]);
    assert_eq!(put("99", 2).await, [WriteOutcome::Superseded], "shorter");
    assert_eq!(put("099", 2).await, [WriteOutcome::Superseded], "zeros");
    assert_eq!(put("100", 3).await, [WriteOutcome::Written], "the same");
    assert_eq!(put("101", 4).await, [WriteOutcome::Written]);
    store.close().await;
    assert_eq!(
        items(dir.path(), "EventTable")["k"]["payload"]["n"],
        4,
        "the newest stays"
    );
}
