//! Poison records with the real writer: a record the writer can never store goes to the dead-letter queue
//! (the writer's message, with the data) while the other records of its shard keep flowing.

mod dev_common;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use dev_common::*;
use serde_json::Value;

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
    // Under Kinesis's 1 MiB record limit, over DynamoDB's 400 KB item limit.
    let huge = format!(r#"{{"blob":"{}"}}"#, "x".repeat(500 * 1024));
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
    let data = base64::engine::general_purpose::STANDARD
        .decode(message["data"].as_str().unwrap())
        .unwrap();
    let envelope: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        envelope["body"]["blob"].as_str().map(str::len),
        Some(500 * 1024)
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
