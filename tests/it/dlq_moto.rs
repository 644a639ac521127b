//! `cargo xtask dlq` against the deployed side, on a moto server: the writer library dead-letters records
//! (one too large for the queue, so its data is in the bucket) because the table was made wrong; the event
//! source mapping's on-failure message names records still in the stream. `dlq` lists and hydrates them
//! (Kinesis `GetShardIterator` `AT_SEQUENCE_NUMBER` + `GetRecords`), redrives before the repair (each record
//! fails again and stays with its new reason), and after it — interrupted once, then rerun — leaves every
//! record in the table exactly once, a newer item untouched, and the queue empty.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_tests::{Moto, create_table, envelope, workspace_root, xtask_bin};
use sluice_writer::aws::{AwsDeadLetters, DynamoDbTable};
use sluice_writer::{WriterConfig, handle_batch_with_stats, kinesis_event_from_json};

const TABLE: &str = "sluice-EventTable";
const STREAM: &str = "sluice-GatewayEventsStream";
const BUCKET: &str = "sluice-dead-letters-test";
const QUEUE: &str = "sluice-LambdaDeadLetterQueue";

fn seq(n: u64) -> String {
    format!("4954511524144582150374595111132{n:025}")
}

/// `cargo xtask dlq <args>` against moto, with the outputs file.
fn dlq(moto: &Moto, outputs: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(xtask_bin());
    cmd.arg("dlq")
        .arg("--config")
        .arg(workspace_root().join("pipeline.toml"))
        .arg("--outputs")
        .arg(outputs)
        .args(["--visibility-timeout", "1"])
        .args(args)
        .envs(moto.env())
        .envs(env.iter().copied());
    let out = cmd.output().expect("run xtask dlq");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn queue_bodies(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut bodies = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..5 {
        let reply = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .unwrap();
        if reply.messages().is_empty() {
            break;
        }
        for m in reply.messages() {
            bodies.push(serde_json::from_str(m.body().unwrap()).unwrap());
            handles.push(m.receipt_handle().unwrap().to_owned());
        }
    }
    for h in handles {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(h)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    bodies
}

async fn scan(dynamodb: &aws_sdk_dynamodb::Client) -> Vec<HashMap<String, AttributeValue>> {
    dynamodb
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .unwrap()
        .items()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_hydrated_and_redriven_exactly_once_after_the_table_is_repaired() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (sqs, s3, kinesis, dynamodb) = (
        aws_sdk_sqs::Client::new(&sdk),
        aws_sdk_s3::Client::new(&sdk),
        aws_sdk_kinesis::Client::new(&sdk),
        aws_sdk_dynamodb::Client::new(&sdk),
    );
    let queue_url = sqs
        .create_queue()
        .queue_name(QUEUE)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    kinesis
        .create_stream()
        .stream_name(STREAM)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    let stream_arn = kinesis
        .describe_stream_summary()
        .stream_name(STREAM)
        .send()
        .await
        .unwrap()
        .stream_description_summary()
        .unwrap()
        .stream_arn()
        .to_owned();
    // The mistake to repair: the table's key is a number, the pipeline's keys are strings. DynamoDB refuses
    // every item (ValidationException): the writer dead-letters them as `Rejected`.
    create_table(&dynamodb, TABLE, ScalarAttributeType::N).await;

    let outputs_dir = tempfile::tempdir().unwrap();
    let outputs = outputs_dir.path().join("outputs.json");
    std::fs::write(
        &outputs,
        json!({
            "region": {"value": "us-east-1"},
            "table_names": {"value": {"EventTable": TABLE}},
            "stream_names": {"value": {"GatewayEventsStream": STREAM}},
            "stream_arns": {"value": {"GatewayEventsStream": stream_arn}},
            "dead_letter_queue_urls": {"value": {"LambdaDeadLetterQueue": queue_url}},
            "dead_letter_bucket_name": {"value": BUCKET},
        })
        .to_string(),
    )
    .unwrap();

    // 1. The writer dead-letters a small record and one too large for the queue (its data to the bucket).
    let big_body = json!({"blob": "x".repeat(300_000)}).to_string();
    let small = envelope(r#"{"n":1}"#);
    let big = envelope(&big_body);
    let records: Vec<Value> = [("p1", seq(1), &small), ("o1", seq(2), &big)]
        .iter()
        .map(|(key, seq, data)| {
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": key, "sequenceNumber": seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1732752000.5},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"), "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1", "eventSourceARN": stream_arn
            })
        })
        .collect();
    let event = kinesis_event_from_json(json!({ "Records": records })).unwrap();
    let config = WriterConfig::new(TABLE, "eventId");
    let table = DynamoDbTable::new(dynamodb.clone(), TABLE);
    let dead_letters = AwsDeadLetters::new(sqs.clone(), &queue_url, s3.clone(), BUCKET);
    let (_, stats) = handle_batch_with_stats(&config, &table, &dead_letters, event).await;
    assert_eq!(stats.dead_lettered, 2, "{stats:?}");
    assert_eq!(stats.dead_letter_data_stored, 1, "{stats:?}");

    // 2. Records the event source mapping gave up on (the table failed them transiently): still in the
    // stream, named by an on-failure message in AWS's shape.
    let mut stream_seqs = Vec::new();
    for key in ["a", "b", "c"] {
        let reply = kinesis
            .put_record()
            .stream_name(STREAM)
            .partition_key(key)
            .data(envelope(&format!(r#"{{"key":"{key}"}}"#)).into())
            .send()
            .await
            .unwrap();
        stream_seqs.push(reply.sequence_number().to_owned());
    }
    let on_failure = json!({
        "requestContext": {"requestId": "r-1", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:sluice-event-writer",
            "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 3},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": null},
        "version": "1.0", "timestamp": "2024-06-01T10:00:00.000Z",
        "KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": stream_seqs[0],
            "endSequenceNumber": stream_seqs[2], "approximateArrivalOfFirstRecord": "2024-06-01T09:59:58.000Z",
            "approximateArrivalOfLastRecord": "2024-06-01T09:59:58.000Z", "batchSize": 3, "streamArn": stream_arn}
    });
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(on_failure.to_string())
        .send()
        .await
        .unwrap();

    // list: both kinds, with reason, key, size and where the data is.
    let (code, out) = dlq(&moto, &outputs, &["list"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("LambdaDeadLetterQueue: 3 messages"), "{out}");
    assert!(out.contains("Rejected"), "{out}");
    assert!(
        out.contains(&format!(
            "s3://{BUCKET}/{STREAM}/shardId-000000000000/{}",
            seq(2)
        )),
        "{out}"
    );
    assert!(out.contains("inline"), "{out}");
    assert!(out.contains("RetryAttemptsExhausted"), "{out}");
    assert!(out.contains("3 records"), "{out}");
    println!("{out}");

    // hydrate: the on-failure message's records, read back from the stream.
    let bodies = queue_bodies(&sqs, &queue_url).await;
    assert_eq!(bodies.len(), 3);
    let list_ids: Vec<String> = out
        .lines()
        .filter(|l| l.contains("on failure"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(list_ids.len(), 1, "{out}");
    let (code, hydrated) = dlq(&moto, &outputs, &["hydrate", &list_ids[0]], &[]);
    assert_eq!(code, 0, "{hydrated}");
    let lines: Vec<Value> = hydrated
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys: Vec<&str> = lines
        .iter()
        .map(|l| l["partitionKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a", "b", "c"], "{hydrated}");
    assert_eq!(lines[1]["sequenceNumber"], stream_seqs[1].as_str());

    // 3. Redrive before the repair: every record fails again and stays in the queue, with its new reason
    // (the on-failure pointer becomes three dead letters that carry their data).
    let (code, out) = dlq(&moto, &outputs, &["redrive"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("dead-lettered anew"), "{out}");
    let bodies = queue_bodies(&sqs, &queue_url).await;
    let mut keys: Vec<String> = bodies
        .iter()
        .map(|b| {
            assert_eq!(b["reason"], "Rejected", "{b}");
            b["partitionKey"].as_str().unwrap().to_owned()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c", "o1", "p1"]);
    assert!(scan(&dynamodb).await.is_empty());

    // 4. Repair the table; meanwhile a newer record of key p1 was written.
    dynamodb
        .delete_table()
        .table_name(TABLE)
        .send()
        .await
        .unwrap();
    create_table(&dynamodb, TABLE, ScalarAttributeType::S).await;
    let newer = envelope(r#"{"n":"newer"}"#);
    let (_, stats) = handle_batch_with_stats(
        &config,
        &table,
        &dead_letters,
        kinesis_event_from_json(json!({"Records": [{
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p1", "sequenceNumber": seq(9),
                "data": base64::engine::general_purpose::STANDARD.encode(&newer),
                "approximateArrivalTimestamp": 1732752001.5},
            "eventSource": "aws:kinesis", "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{}", seq(9)), "eventName": "aws:kinesis:record",
            "awsRegion": "us-east-1", "eventSourceARN": stream_arn}]}))
        .unwrap(),
    )
    .await;
    assert_eq!(stats.written, 1);

    // dry run: changes nothing.
    let (code, out) = dlq(&moto, &outputs, &["redrive", "--dry-run"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("would write 1 record(s)"), "{out}");
    assert_eq!(queue_bodies(&sqs, &queue_url).await.len(), 5);

    // 5. Redrive, interrupted after the second record is written and before its message is deleted.
    let (code, first) = dlq(
        &moto,
        &outputs,
        &["redrive"],
        &[("SLUICE_DLQ_STOP_AFTER", "2")],
    );
    assert_eq!(code, 75, "{first}");
    assert!(first.contains("stopping before the delete"), "{first}");
    // The message being worked on reappears after the visibility timeout (1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(queue_bodies(&sqs, &queue_url).await.len(), 4, "{first}");
    let (code, out) = dlq(&moto, &outputs, &["redrive"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("4 message(s) done and deleted, 0 kept"),
        "{out}"
    );
    // p1's record (sequence number 1) met the newer item (9): superseded, in one run or the other.
    assert!(
        format!("{first}{out}").contains("superseded by newer items"),
        "{first}{out}"
    );
    println!("{first}{out}");

    // Every record exactly once; the newer p1 kept; the big one whole; the queue empty.
    let items = scan(&dynamodb).await;
    let mut keys: Vec<String> = items
        .iter()
        .map(|i| i["eventId"].as_s().unwrap().clone())
        .collect();
    keys.sort();
    assert_eq!(keys, ["a", "b", "c", "o1", "p1"]);
    let by_key: HashMap<String, &HashMap<String, AttributeValue>> = items
        .iter()
        .map(|i| (i["eventId"].as_s().unwrap().clone(), i))
        .collect();
    assert_eq!(by_key["p1"]["sequenceNumber"].as_s().unwrap(), &seq(9));
    assert_eq!(by_key["o1"]["sequenceNumber"].as_s().unwrap(), &seq(2));
    let blob = by_key["o1"]["payload"].as_m().unwrap()["blob"]
        .as_s()
        .unwrap();
    assert_eq!(blob.len(), 300_000);
    assert_eq!(
        by_key["b"]["sequenceNumber"].as_s().unwrap(),
        &stream_seqs[1]
    );
    assert!(queue_bodies(&sqs, &queue_url).await.is_empty());
    let (code, out) = dlq(&moto, &outputs, &["list"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("LambdaDeadLetterQueue: 0 messages"), "{out}");

    // An on-failure message whose records the stream no longer holds: hydrate says so and fails; redrive
    // keeps it.
    let mut gone = on_failure.clone();
    gone["KinesisBatchInfo"]["startSequenceNumber"] = json!(seq(1));
    gone["KinesisBatchInfo"]["endSequenceNumber"] = json!(seq(3));
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body(gone.to_string())
        .send()
        .await
        .unwrap();
    let (_, out) = dlq(&moto, &outputs, &["list"], &[]);
    let id = out
        .lines()
        .find(|l| l.contains("on failure"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    let (code, out) = dlq(&moto, &outputs, &["hydrate", &id], &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("gone"), "{out}");
    let (code, out) = dlq(&moto, &outputs, &["redrive"], &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("kept"), "{out}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(queue_bodies(&sqs, &queue_url).await.len(), 1);
}
