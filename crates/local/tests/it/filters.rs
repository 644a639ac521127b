//! Event filters through the local pipeline, over real HTTP: the event source mapping delivers only records
//! one of the consumer's filter patterns matches (batches hold only those), never invokes the function with
//! the others, never dead-letters them, and checkpoints past them; the writer stores only the matching ones.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use sluice_local::{BatchHandler, InvokeResult};
use sluice_writer::{KinesisEvent, KinesisEventResponse};

const FILTERS: &str = r#"batch_size = 10
batching_window_seconds = 1
filters = ['{"body": {"kind": ["order"], "amount": [{"numeric": [">", 0]}]}}', '{"partitionKey": [{"prefix": "vip-"}]}']"#;

/// (partition key, body, delivered?)
const REQUESTS: &[(&str, &str, bool)] = &[
    ("k1", r#"{"kind":"order","amount":5}"#, true),
    ("k2", r#"{"kind":"refund","amount":5}"#, false),
    ("k3", r#"{"kind":"order","amount":0}"#, false),
    ("vip-4", r#"{"kind":"refund"}"#, true),
    ("k5", r#"{"kind":"order"}"#, false),
    ("k6", r#"{"kind":"order","amount":[0,7]}"#, true),
    ("k7", r#"{"other":true}"#, false),
];

fn expected_keys() -> Vec<String> {
    REQUESTS
        .iter()
        .filter(|(_, _, delivered)| *delivered)
        .map(|(k, _, _)| (*k).to_owned())
        .collect()
}

async fn send_all(base: &str) {
    let client = client();
    for (key, body, _) in REQUESTS {
        let response = submit(&client, base, key, body).await;
        assert_eq!(response.status(), 200, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_matching_records_are_delivered_and_the_rest_are_checkpointed_past() {
    let dir = tempfile::tempdir().unwrap();
    let calls: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let recorded = calls.clone();
    let handler: Arc<dyn BatchHandler> = Arc::new(move |event: KinesisEvent| {
        recorded.lock().unwrap().push(
            event
                .records
                .iter()
                .map(|r| r.kinesis.partition_key.clone())
                .collect(),
        );
        async { InvokeResult::Ok(KinesisEventResponse::default()) }
    });
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, FILTERS),
        BTreeMap::from([("event-writer".to_owned(), handler)]),
    )
    .await;
    send_all(&running.base_url()).await;

    // Every record is done, the filtered ones included: the checkpoint is past the last one.
    let last = REQUESTS.len() as i64;
    assert!(
        eventually(Duration::from_secs(20), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(last))
        .await,
        "checkpoint {:?}, expected {last}",
        checkpoint(dir.path(), "event-writer")
    );
    let batches = calls.lock().unwrap().clone();
    let delivered: Vec<String> = batches.iter().flatten().cloned().collect();
    assert_eq!(delivered, expected_keys(), "batches: {batches:?}");
    assert!(batches.iter().all(|b| !b.is_empty()));
    assert!(messages(dir.path(), "LambdaDeadLetterQueue").is_empty());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_stores_only_the_matching_records() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_in(dir.path(), &pipeline_toml(1, FILTERS), BTreeMap::new()).await;
    send_all(&running.base_url()).await;
    let expected = expected_keys();
    assert!(
        eventually(Duration::from_secs(20), || count(dir.path(), "EventTable")
            == expected.len()
            && checkpoint(dir.path(), "event-writer")
                == Some(REQUESTS.len() as i64))
        .await,
        "{:?}",
        items(dir.path(), "EventTable").keys().collect::<Vec<_>>()
    );
    let stored: Vec<String> = items(dir.path(), "EventTable").into_keys().collect();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(stored, expected_sorted);
    assert!(messages(dir.path(), "LambdaDeadLetterQueue").is_empty());
    running.shutdown().await;
}
