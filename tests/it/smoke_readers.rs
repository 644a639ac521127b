//! The smoke test's readers of a deployed stack (DynamoDB, SQS, Secrets Manager) against a real moto
//! server, and its local readers against a real SQLite file laid out as `cargo xtask dev` lays it out.

use serde_json::json;
use sluice_config::KeyType;
use sluice_ops::smoke::{
    AwsReader, DeadLetterReader, Probe, SqliteReader, TableReader, secret_credentials,
};
use sluice_tests::Moto;

#[tokio::test(flavor = "multi_thread")]
async fn aws_readers_read_items_queues_and_the_secret() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    sluice_tests::create_event_table(&ddb, "sluice-EventTable").await;
    let item = json!({"eventId": "e1", "payload": {"a": [1, "two", {"three": null}], "q": "\"quoted\""}, "receivedAt": 1732752000123u64});
    ddb.put_item()
        .table_name("sluice-EventTable")
        .set_item(Some(serde_dynamo::to_item(&item).unwrap()))
        .send()
        .await
        .unwrap();

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name("sluice-LambdaDeadLetterQueue")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let reader = AwsReader::new(
        &sdk,
        "sluice-EventTable".into(),
        "eventId".into(),
        KeyType::S,
        queue_url.clone(),
    );
    assert_eq!(reader.get("e1").await.unwrap(), Some(item));
    assert_eq!(reader.get("absent").await.unwrap(), None);
    assert_eq!(reader.count().await.unwrap(), 0);
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(reader.count().await.unwrap(), 2);

    let missing = AwsReader::new(
        &sdk,
        "no-such-table".into(),
        "eventId".into(),
        KeyType::S,
        queue_url,
    );
    let err = missing.get("e1").await.unwrap_err().to_string();
    assert!(err.contains("no-such-table"), "{err}");

    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = secrets
        .create_secret()
        .name("sluice/basic-auth")
        .secret_string(r#"{"username":"sluice","password":"s3cret:with:colons"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    assert_eq!(
        secret_credentials(&sdk, &arn).await.unwrap(),
        ("sluice".to_string(), "s3cret:with:colons".to_string())
    );
}

#[tokio::test]
async fn sqlite_readers_read_the_dev_layout() {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
    conn.execute_batch(
        r#"CREATE TABLE "EventTable" ("eventId" TEXT PRIMARY KEY, item TEXT NOT NULL);
           CREATE TABLE "LambdaDeadLetterQueue" (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
           INSERT INTO "EventTable" VALUES ('k1', '{"eventId":"k1","payload":{"x":1}}');
           INSERT INTO "LambdaDeadLetterQueue" (body) VALUES ('{}');"#,
    )
    .unwrap();
    drop(conn);
    let pipeline =
        sluice_config::load(&sluice_tests::workspace_root().join("pipeline.toml")).unwrap();
    let probe = Probe::from_pipeline(&pipeline).unwrap();
    let reader = SqliteReader::new(dir.path(), &probe);
    assert_eq!(
        reader.get("k1").await.unwrap(),
        Some(json!({"eventId": "k1", "payload": {"x": 1}}))
    );
    assert_eq!(reader.get("k2").await.unwrap(), None);
    assert_eq!(reader.count().await.unwrap(), 1);
    let nowhere = SqliteReader::new(&dir.path().join("missing"), &probe);
    assert!(
        nowhere
            .count()
            .await
            .unwrap_err()
            .to_string()
            .contains("is `cargo xtask dev` running")
    );
}
