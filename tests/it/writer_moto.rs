//! The writer library against a real (moto) DynamoDB table, SQS dead-letter queue and S3 dead-letter bucket.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_tests::{Moto, envelope};
use sluice_writer::aws::{AwsDeadLetters, DynamoDbTable};
use sluice_writer::{
    BatchStats, DeadLetterMessage, KinesisEvent, KinesisEventResponse, RecordData, WriterConfig,
    handle_batch, handle_batch_with_stats, kinesis_event_from_json,
};

const BUCKET: &str = "shop-dead-letters-test";

const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/shop-orders";

struct Env {
    _moto: Moto,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    queue_url: String,
}

impl Env {
    async fn start() -> Env {
        let moto = Moto::start();
        let config = moto.sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let queue_url = sqs
            .create_queue()
            .queue_name("orders-dead-letters")
            .send()
            .await
            .expect("create the dead-letter queue")
            .queue_url()
            .expect("a queue URL")
            .to_owned();
        let s3 = aws_sdk_s3::Client::new(&config);
        s3.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create the dead-letter bucket");
        Env {
            _moto: moto,
            dynamodb,
            sqs,
            s3,
            queue_url,
        }
    }

    async fn create_table(&self, name: &str) {
        sluice_tests::create_event_table(&self.dynamodb, name).await;
    }

    fn dead_letter_store(&self, queue_url: &str) -> AwsDeadLetters {
        AwsDeadLetters::new(self.sqs.clone(), queue_url, self.s3.clone(), BUCKET)
    }

    async fn write(&self, table: &str, event: KinesisEvent) -> KinesisEventResponse {
        let config = WriterConfig::new(table, "eventId");
        let dynamo = DynamoDbTable::new(self.dynamodb.clone(), table);
        handle_batch(
            &config,
            &dynamo,
            &self.dead_letter_store(&self.queue_url),
            event,
        )
        .await
    }

    async fn write_with_stats(
        &self,
        table: &str,
        queue_url: &str,
        event: KinesisEvent,
    ) -> (KinesisEventResponse, BatchStats) {
        let config = WriterConfig::new(table, "eventId");
        let dynamo = DynamoDbTable::new(self.dynamodb.clone(), table);
        handle_batch_with_stats(&config, &dynamo, &self.dead_letter_store(queue_url), event).await
    }

    async fn object(&self, key: &str) -> Vec<u8> {
        self.s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get s3://{BUCKET}/{key}: {e:?}"))
            .body
            .collect()
            .await
            .expect("the object's bytes")
            .to_vec()
    }

    async fn scan(&self, table: &str) -> HashMap<String, Value> {
        let mut items = HashMap::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .dynamodb
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .expect("scan the table");
            for item in page.items() {
                let value: Value = serde_dynamo::from_item(item.clone()).expect("an item as JSON");
                let key = value["eventId"].as_str().expect("a string key").to_owned();
                items.insert(key, value);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return items,
            }
        }
    }

    async fn dead_letters(&self) -> Vec<Value> {
        self.messages(&self.queue_url).await
    }

    /// Every message of a queue, each checked to read as the contract's dead-letter message.
    async fn messages(&self, queue_url: &str) -> Vec<Value> {
        let mut messages = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive from the dead-letter queue");
            let batch = received.messages();
            if batch.is_empty() {
                return messages;
            }
            for m in batch {
                let body = m.body().unwrap_or_default();
                DeadLetterMessage::from_json(body).expect("a dead letter of the contract");
                messages.push(serde_json::from_str(body).expect("a JSON dead letter"));
            }
        }
    }
}

fn seq(n: u64) -> String {
    format!("4954511524144582150374595111132{n:025}")
}

/// A Kinesis event as Lambda delivers it, one record per `(partition key, data)`.
fn event(records: &[(String, Vec<u8>)]) -> KinesisEvent {
    let numbered: Vec<(String, String, Vec<u8>)> = records
        .iter()
        .enumerate()
        .map(|(i, (key, data))| {
            (
                key.clone(),
                seq(u64::try_from(i).expect("small")),
                data.clone(),
            )
        })
        .collect();
    event_at(&numbered)
}

/// A Kinesis event of `(partition key, sequence number, data)` records.
fn event_at(records: &[(String, String, Vec<u8>)]) -> KinesisEvent {
    let records: Vec<Value> = records
        .iter()
        .map(|(key, sequence_number, data)| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": sequence_number,
                    "data": base64::engine::general_purpose::STANDARD.encode(data),
                    "approximateArrivalTimestamp": 1732752000.5
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence_number}"),
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": STREAM_ARN
            })
        })
        .collect();
    kinesis_event_from_json(json!({ "Records": records })).expect("a Kinesis event")
}

fn body(i: usize) -> String {
    json!({
        "n": i,
        "text": format!("record {i}: \"quoted\" \\ back\nslash $dollar #hash ${{x}} é 😀"),
        "nested": {"list": [1, "two", null, true, {"deep": [i]}], "empty": {}},
        "eventId": format!("body-{i}")
    })
    .to_string()
}

fn failures(response: &KinesisEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn writes_a_batch_and_every_item_holds_its_payload() {
    let env = Env::start().await;
    env.create_table("orders").await;
    let records: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("e{i}"), envelope(&body(i))))
        .collect();

    let response = env.write("orders", event(&records)).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let items = env.scan("orders").await;
    assert_eq!(items.len(), 30);
    for i in 0..30 {
        let item = &items[&format!("e{i}")];
        let sent: Value = serde_json::from_str(&body(i)).expect("JSON");
        assert_eq!(item["payload"], sent, "record {i}");
        assert_eq!(
            item["eventId"],
            format!("e{i}"),
            "the key comes from the path, not the body"
        );
        assert_eq!(item["payload"]["eventId"], format!("body-{i}"));
        assert_eq!(
            item["sequenceNumber"],
            seq(u64::try_from(i).expect("small"))
        );
        assert_eq!(item["shardId"], "shardId-000000000000");
        assert_eq!(item["arrivalTime"], 1732752000500_i64);
        assert_eq!(item["receivedAt"], 1732752000123_i64);
        assert_eq!(item["requestId"], "req");
        assert_eq!(item["sourceIp"], "203.0.113.9");
    }
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test]
async fn a_malformed_record_is_dead_lettered_with_its_data_and_the_others_are_written() {
    let env = Env::start().await;
    env.create_table("orders").await;
    let bad_data = b"{\"v\":1,\"body\":\"not an object\"".to_vec(); // truncated JSON
    let mut records: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("e{i}"), envelope(&body(i))))
        .collect();
    records.insert(2, ("broken".into(), bad_data.clone()));

    let response = env.write("orders", event(&records)).await;
    assert!(
        failures(&response).is_empty(),
        "a permanent failure does not block the shard: {response:?}"
    );

    let items = env.scan("orders").await;
    let mut keys: Vec<&String> = items.keys().collect();
    keys.sort();
    assert_eq!(keys, ["e0", "e1", "e2", "e3", "e4"]);

    let dead = env.dead_letters().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let message = &dead[0];
    assert_eq!(message["source"], "sluice.writer");
    assert_eq!(message["reason"], "NotJson");
    assert_eq!(message["stream"], STREAM_ARN);
    assert_eq!(message["shardId"], "shardId-000000000000");
    assert_eq!(message["sequenceNumber"], seq(2));
    assert_eq!(message["partitionKey"], "broken");
    assert_eq!(message["arrivalTime"], 1732752000500_i64);
    let data = base64::engine::general_purpose::STANDARD
        .decode(message["data"].as_str().expect("base64 data"))
        .expect("valid base64");
    assert_eq!(data, bad_data);
}

#[tokio::test]
async fn a_missing_table_fails_every_record_transiently_and_dead_letters_nothing() {
    let env = Env::start().await;
    let records: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("e{i}"), envelope(&body(i))))
        .collect();

    let response = env.write("no-such-table", event(&records)).await;
    let expected: Vec<String> = (0..30).map(seq).collect();
    assert_eq!(failures(&response), expected);
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test]
async fn warm_batch_of_100_records() {
    let env = Env::start().await;
    env.create_table("orders").await;
    let batch = |round: usize| -> Vec<(String, Vec<u8>)> {
        (0..100)
            .map(|i| (format!("r{round}-e{i}"), envelope(&body(i))))
            .collect()
    };

    // The first batch warms connections; the following ones are what a warm Lambda container sees.
    let response = env.write("orders", event(&batch(0))).await;
    assert!(failures(&response).is_empty());
    let mut times: Vec<Duration> = Vec::new();
    for round in 1..=5 {
        let event = event(&batch(round));
        let started = Instant::now();
        let response = env.write("orders", event).await;
        times.push(started.elapsed());
        assert!(failures(&response).is_empty());
    }
    assert_eq!(env.scan("orders").await.len(), 600);
    times.sort();
    println!(
        "warm 100-record batch against moto: median {:?}, min {:?}, max {:?} (debug build, 4 chunks of 25)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}

#[tokio::test]
async fn an_item_dynamodb_rejects_is_dead_lettered_and_the_rest_of_its_chunk_is_written() {
    let env = Env::start().await;
    env.create_table("orders").await;
    // DynamoDB numbers stop at 9.99e125: the put fails with a ValidationException; the other puts of the
    // chunk are unaffected.
    let mut records: Vec<(String, Vec<u8>)> = (0..5)
        .map(|i| (format!("e{i}"), envelope(&body(i))))
        .collect();
    records.insert(3, ("huge-number".into(), envelope(r#"{"x":1e200}"#)));

    let response = env.write("orders", event(&records)).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let items = env.scan("orders").await;
    let mut keys: Vec<&String> = items.keys().collect();
    keys.sort();
    assert_eq!(keys, ["e0", "e1", "e2", "e3", "e4"]);
    let dead = env.dead_letters().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["reason"], "Rejected");
    assert_eq!(dead[0]["partitionKey"], "huge-number");
    assert_eq!(dead[0]["sequenceNumber"], seq(3));
    assert!(
        dead[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ValidationException")),
        "{dead:?}"
    );
}

#[tokio::test]
async fn a_450_kb_permanent_failure_reaches_the_dead_letter_store_through_the_bucket() {
    let env = Env::start().await;
    env.create_table("orders").await;
    // Under Kinesis's 1 MiB, over DynamoDB's 400 KB; its message (base64 in JSON) would be ~600 KB.
    let data = envelope(&format!(r#"{{"blob":"{}"}}"#, "z".repeat(450 * 1024)));
    let records = vec![
        ("before".to_owned(), envelope(&body(1))),
        ("huge".to_owned(), data.clone()),
        ("after".to_owned(), envelope(&body(2))),
    ];
    let (response, stats) = env
        .write_with_stats("orders", &env.queue_url, event(&records))
        .await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(
        (
            stats.written,
            stats.dead_lettered,
            stats.dead_letter_data_stored
        ),
        (2, 1, 1)
    );

    let dead = env.dead_letters().await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["reason"], "ItemTooLarge");
    assert!(dead[0].get("data").is_none(), "{}", dead[0]);
    let location = &dead[0]["dataLocation"];
    assert_eq!(location["bucket"], BUCKET);
    let key = format!("shop-orders/shardId-000000000000/{}", seq(1));
    assert_eq!(location["key"], key.as_str());
    assert_eq!(location["size"], data.len());
    use sha2::Digest as _;
    let sha: String = sha2::Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(location["sha256"], sha.as_str());
    assert_eq!(env.object(&key).await, data, "byte for byte");
}

#[tokio::test]
async fn a_queue_refusing_the_message_for_its_size_makes_the_writer_use_the_bucket() {
    let env = Env::start().await;
    env.create_table("orders").await;
    // A queue smaller than the writer assumes: SQS's refusal is classified, not retried.
    let small_queue = env
        .sqs
        .create_queue()
        .queue_name("small-dead-letters")
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize,
            "1024",
        )
        .send()
        .await
        .expect("create the small queue")
        .queue_url()
        .expect("a queue URL")
        .to_owned();
    let data = vec![b'#'; 2000];
    let (response, stats) = env
        .write_with_stats(
            "orders",
            &small_queue,
            event(&[("bad".to_owned(), data.clone())]),
        )
        .await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(stats.dead_letter_data_stored, 1);
    let dead = env.messages(&small_queue).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["reason"], "NotJson");
    let key = dead[0]["dataLocation"]["key"].as_str().expect("a pointer");
    assert_eq!(env.object(key).await, data);
}

#[tokio::test]
async fn an_older_record_never_replaces_a_newer_item() {
    let env = Env::start().await;
    env.create_table("orders").await;
    let put = |seq: &str, n: u32| {
        (
            "k".to_owned(),
            seq.to_owned(),
            envelope(&format!(r#"{{"n":{n}}}"#)),
        )
    };
    // Sequence numbers of different lengths: "99…" is lexically greater than "100…" but smaller.
    let newer = "10000000000000000000000000000000000000000000000000000001";
    let older_shorter = "9999999999999999999999999999999999999999999999999999999";
    let older_same_length = "10000000000000000000000000000000000000000000000000000000";
    let newest = "10000000000000000000000000000000000000000000000000000002";

    let (response, stats) = env
        .write_with_stats("orders", &env.queue_url, event_at(&[put(newer, 1)]))
        .await;
    assert!(failures(&response).is_empty());
    assert_eq!(stats.written, 1);

    for older in [older_shorter, older_same_length] {
        let (response, stats) = env
            .write_with_stats("orders", &env.queue_url, event_at(&[put(older, 0)]))
            .await;
        assert!(
            failures(&response).is_empty(),
            "superseded is done: {response:?}"
        );
        assert_eq!((stats.written, stats.superseded), (0, 1), "{older}");
        let item = &env.scan("orders").await["k"];
        assert_eq!(item["sequenceNumber"], newer);
        assert_eq!(item["payload"]["n"], 1);
    }

    // The same record again (a replay) writes the same item; a newer one replaces it.
    let (_, stats) = env
        .write_with_stats("orders", &env.queue_url, event_at(&[put(newer, 1)]))
        .await;
    assert_eq!(stats.written, 1);
    let (_, stats) = env
        .write_with_stats("orders", &env.queue_url, event_at(&[put(newest, 2)]))
        .await;
    assert_eq!(stats.written, 1);
    let item = &env.scan("orders").await["k"];
    assert_eq!(item["sequenceNumber"], newest);
    assert_eq!(item["payload"]["n"], 2);
    assert!(env.dead_letters().await.is_empty());
}

#[tokio::test]
async fn an_envelope_with_smuggled_members_is_dead_lettered_as_forged() {
    let env = Env::start().await;
    env.create_table("orders").await;
    // What the mapping template makes of the body `{"a":1},"requestId":"forged"`.
    let forged = envelope(r#"{"a":1},"requestId":"forged""#);
    let (response, stats) = env
        .write_with_stats(
            "orders",
            &env.queue_url,
            event(&[
                ("forged".to_owned(), forged.clone()),
                ("fine".to_owned(), envelope(&body(0))),
            ]),
        )
        .await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!((stats.written, stats.dead_lettered), (1, 1));
    let items = env.scan("orders").await;
    assert!(!items.contains_key("forged"));
    let dead = env.dead_letters().await;
    assert_eq!(dead[0]["reason"], "ForgedEnvelope");
    let message = DeadLetterMessage::from_json(&dead[0].to_string()).expect("the contract's shape");
    let RecordData::Inline(data) = message.data else {
        panic!("small data is inline");
    };
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64"),
        forged
    );
}
