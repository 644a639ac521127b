use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sluice_contract::limits::{
    MAX_DEAD_LETTER_DETAIL_CHARS, MAX_DEAD_LETTER_MESSAGE_BYTES, MAX_ITEM_BYTES,
};

use super::*;
use sluice_consumer::{backoff, hex};

const FIXTURE: &str = include_str!("../tests/fixtures/kinesis-batch.json");

fn fixture() -> KinesisEvent {
    kinesis_event_from_json(serde_json::from_str(FIXTURE).unwrap()).unwrap()
}

fn seq(n: u64) -> String {
    format!("4954511524144582150374595111132{n:025}")
}

/// A record of the record contract: partition key, sequence number and the envelope's raw body.
fn record(partition_key: &str, sequence_number: &str, body: &str) -> KinesisEventRecord {
    let data = format!(
        r#"{{"v":1,"receivedAt":1732752000123,"requestId":"r-{sequence_number}","sourceIp":"203.0.113.9","body":{body}}}"#
    );
    raw_record(partition_key, sequence_number, data.as_bytes())
}

fn raw_record(partition_key: &str, sequence_number: &str, data: &[u8]) -> KinesisEventRecord {
    let event = kinesis_event_from_json(json!({"Records": [{
        "kinesis": {
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "approximateArrivalTimestamp": 1732752000.25
        },
        "eventID": format!("shardId-000000000007:{sequence_number}"),
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/p-orders"
    }]}))
    .unwrap();
    event.records.into_iter().next().unwrap()
}

fn event(records: Vec<KinesisEventRecord>) -> KinesisEvent {
    let mut event = KinesisEvent::default();
    event.records = records;
    event
}

fn config() -> WriterConfig {
    let mut config = WriterConfig::new("orders", "eventId");
    config.write = WritePolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_concurrent_chunks: 4,
    };
    config
}

fn failures(response: &KinesisEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

/// Answers per item: `(item, call number) -> outcome`.
type Script = Box<dyn Fn(&Item, usize) -> WriteOutcome + Send + Sync>;

/// An in-memory table: records every call, answers per item with a script.
struct FakeTable {
    calls: Mutex<Vec<Vec<Item>>>,
    stored: Mutex<HashMap<String, Item>>,
    script: Script,
}

impl FakeTable {
    fn new(script: impl Fn(&Item, usize) -> WriteOutcome + Send + Sync + 'static) -> Self {
        FakeTable {
            calls: Mutex::default(),
            stored: Mutex::default(),
            script: Box::new(script),
        }
    }
    fn ok() -> Self {
        Self::new(|_, _| WriteOutcome::Written)
    }
    fn calls(&self) -> Vec<Vec<Item>> {
        self.calls.lock().unwrap().clone()
    }
    fn stored(&self, key: &str) -> Option<Item> {
        self.stored.lock().unwrap().get(key).cloned()
    }
}

impl Table for FakeTable {
    async fn put_items(&self, items: Vec<Item>) -> PutResult {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(items.clone());
            calls.len() - 1
        };
        let outcomes: Vec<WriteOutcome> =
            items.iter().map(|item| (self.script)(item, call)).collect();
        let mut stored = self.stored.lock().unwrap();
        for (item, outcome) in items.into_iter().zip(&outcomes) {
            if *outcome == WriteOutcome::Written {
                stored.insert(
                    item["eventId"].as_str().unwrap_or_default().to_owned(),
                    item,
                );
            }
        }
        PutResult { outcomes }
    }
}

/// An in-memory queue (refusing messages over `max_bytes`, or every message with `fail`) and bucket.
struct FakeDeadLetters {
    sent: Mutex<Vec<DeadLetterMessage>>,
    objects: Mutex<HashMap<String, Vec<u8>>>,
    fail: bool,
    fail_objects: bool,
    max_bytes: usize,
    attempts: AtomicUsize,
}

impl Default for FakeDeadLetters {
    fn default() -> Self {
        FakeDeadLetters {
            sent: Mutex::default(),
            objects: Mutex::default(),
            fail: false,
            fail_objects: false,
            max_bytes: usize::MAX,
            attempts: AtomicUsize::new(0),
        }
    }
}

impl DeadLetters for FakeDeadLetters {
    async fn send(&self, message: DeadLetterMessage) -> Result<(), WriterError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(WriterError::DeadLetter("queue unreachable".into()));
        }
        let bytes = message.to_json().len();
        if bytes > self.max_bytes {
            return Err(WriterError::DeadLetterTooLarge(format!(
                "Message must be shorter than {} bytes",
                self.max_bytes
            )));
        }
        self.sent.lock().unwrap().push(message);
        Ok(())
    }

    async fn store_data(
        &self,
        key: String,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<String, WriterError> {
        if self.fail_objects {
            return Err(WriterError::DeadLetterData("bucket unreachable".into()));
        }
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&data)), sha256);
        self.objects.lock().unwrap().insert(key, data);
        Ok("dead-letters-bucket".into())
    }
}

impl FakeDeadLetters {
    fn sent(&self) -> Vec<DeadLetterMessage> {
        self.sent.lock().unwrap().clone()
    }
    fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(key).cloned()
    }
}

fn inline_data(message: &DeadLetterMessage) -> Vec<u8> {
    match &message.data {
        RecordData::Inline(data) => base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
        RecordData::Stored(location) => panic!("the data is in the bucket: {location:?}"),
    }
}

// ---- the event ----

#[test]
fn arrival_timestamps_are_read_exactly() {
    let event = |ts: Value| json!({"Records": [{"kinesis": {"partitionKey": "k", "sequenceNumber": "1", "data": "", "approximateArrivalTimestamp": ts}}]});
    let arrival = |ts: Value| {
        let e = kinesis_event_from_json(event(ts)).unwrap();
        e.records[0]
            .kinesis
            .approximate_arrival_timestamp
            .0
            .timestamp_millis()
    };
    assert_eq!(arrival(json!(1732752000.5)), 1732752000500);
    assert_eq!(arrival(json!(1732752000.98)), 1732752000980);
    assert_eq!(arrival(json!(1732752000.123)), 1732752000123);
    assert_eq!(arrival(json!(1.732752000123e9)), 1732752000123);
    assert_eq!(arrival(json!("1732752000.500")), 1732752000500);
    assert_eq!(arrival(json!(1732752000)), 1732752000000);
    assert_eq!(
        arrival(json!(1732752000.1234)),
        1732752000123,
        "more than three digits is no error"
    );

    // What plain deserialisation makes of it (why kinesis_event_from_json exists).
    let plain: KinesisEvent = serde_json::from_value(event(json!(1732752000.5))).unwrap();
    assert_eq!(
        plain.records[0]
            .kinesis
            .approximate_arrival_timestamp
            .0
            .timestamp_millis(),
        1732752000005
    );

    let err = kinesis_event_from_json(json!({"Records": "nope"})).unwrap_err();
    assert_eq!(err.error_type(), "InvalidEvent");
}

// ---- item building ----

#[test]
fn item_follows_the_record_contract() {
    let r = record(
        "abc",
        &seq(1),
        r#"{"eventId":"value1","x":[1,"two",null,{"y":true}]}"#,
    );
    let (key, item) = build_item(&config(), &r).unwrap();
    assert_eq!(
        key,
        ItemKey {
            partition: "abc".into(),
            sort: None
        }
    );
    assert_eq!(
        Value::Object(item),
        json!({
            "eventId": "abc",
            "payload": {"eventId": "value1", "x": [1, "two", null, {"y": true}]},
            "receivedAt": 1732752000123_i64,
            "requestId": format!("r-{}", seq(1)),
            "sourceIp": "203.0.113.9",
            "sequenceNumber": seq(1),
            "shardId": "shardId-000000000007",
            "arrivalTime": 1732752000250_i64
        })
    );
}

#[test]
fn body_text_survives_exactly() {
    let body = r#"{"q":"say \"hi\"\\ \n","u":"\u00e9\ud83d\ude00 é","d":"$x #y ${z}"}"#;
    let (_, item) = build_item(&config(), &record("k", &seq(1), body)).unwrap();
    let expected: Value = serde_json::from_str(body).unwrap();
    assert_eq!(item["payload"], expected);
    assert_eq!(item["payload"]["u"], "é😀 é");
}

#[test]
fn envelope_members_are_optional_but_typed() {
    let r = raw_record("k", &seq(1), br#"{"v":1,"body":{"a":1}}"#);
    let (_, item) = build_item(&config(), &r).unwrap();
    assert!(
        !item.contains_key("requestId")
            && !item.contains_key("receivedAt")
            && !item.contains_key("sourceIp")
    );

    let r = raw_record("k", &seq(1), br#"{"v":1,"requestId":7,"body":{}}"#);
    assert_eq!(
        build_item(&config(), &r).unwrap_err().reason,
        Reason::NotAnEnvelope
    );
}

#[test]
fn undecodable_records_are_classified() {
    let cases: [(&[u8], Reason); 9] = [
        (b"not json", Reason::NotJson),
        (b"\xff\xfe{}", Reason::NotJson),
        (b"", Reason::NotJson),
        (b"[1,2]", Reason::NotAnEnvelope),
        (br#""text""#, Reason::NotAnEnvelope),
        (br#"{"body":{}}"#, Reason::NotAnEnvelope),
        (br#"{"v":2,"body":{}}"#, Reason::NotAnEnvelope),
        (br#"{"v":1}"#, Reason::NotAnEnvelope),
        (br#"{"v":1,"body":[1]}"#, Reason::BodyNotAnObject),
    ];
    for (data, reason) in cases {
        let err = build_item(&config(), &raw_record("k", &seq(1), data)).unwrap_err();
        assert_eq!(err.reason, reason, "{:?}", String::from_utf8_lossy(data));
    }
}

#[test]
fn numeric_partition_keys() {
    let mut config = config();
    config.partition_key.kind = KeyType::N;
    let (key, item) = build_item(&config, &record("42", &seq(1), "{}")).unwrap();
    assert_eq!(item["eventId"], json!(42));
    assert_eq!(key.partition, "42");
    for same in ["42.0", "042", "4.2e1"] {
        assert_eq!(
            build_item(&config, &record(same, &seq(1), "{}")).unwrap().0,
            key,
            "{same}"
        );
    }
    assert_eq!(
        build_item(&config, &record("-1.5", &seq(1), "{}"))
            .unwrap()
            .1["eventId"],
        json!(-1.5)
    );
    for bad in [
        "abc",
        "",
        "1.2.3",
        "NaN",
        "inf",
        "0x10",
        "123456789012345678901234567890",
    ] {
        let err = build_item(&config, &record(bad, &seq(1), "{}")).unwrap_err();
        assert_eq!(err.reason, Reason::BadKeyType, "{bad}");
    }
}

#[test]
fn sort_key_comes_from_the_body() {
    let mut config = config();
    config.sort_key = Some(KeyAttribute {
        name: "ts".into(),
        kind: KeyType::N,
    });
    let (key, item) = build_item(&config, &record("a", &seq(1), r#"{"ts":1700}"#)).unwrap();
    assert_eq!(
        key,
        ItemKey {
            partition: "a".into(),
            sort: Some("1700".into())
        }
    );
    assert_eq!(item["ts"], json!(1700));
    assert_eq!(item["payload"]["ts"], json!(1700));

    let missing = build_item(&config, &record("a", &seq(1), r#"{"other":1}"#)).unwrap_err();
    assert_eq!(missing.reason, Reason::MissingKey);
    let mistyped = build_item(&config, &record("a", &seq(1), r#"{"ts":true}"#)).unwrap_err();
    assert_eq!(mistyped.reason, Reason::BadKeyType);

    config.sort_key = Some(KeyAttribute {
        name: "kind".into(),
        kind: KeyType::S,
    });
    assert_eq!(
        build_item(&config, &record("a", &seq(1), r#"{"kind":"x"}"#))
            .unwrap()
            .0
            .sort
            .as_deref(),
        Some("x")
    );
    for bad in [r#"{"kind":5}"#, r#"{"kind":""}"#, r#"{"kind":{}}"#] {
        assert_eq!(
            build_item(&config, &record("a", &seq(1), bad))
                .unwrap_err()
                .reason,
            Reason::BadKeyType,
            "{bad}"
        );
    }
}

#[test]
fn items_over_400_kb_are_permanent_failures() {
    let big = "x".repeat(MAX_ITEM_BYTES);
    let err = build_item(
        &config(),
        &record("k", &seq(1), &format!(r#"{{"big":"{big}"}}"#)),
    )
    .unwrap_err();
    assert_eq!(err.reason, Reason::ItemTooLarge);
    let fits = "x".repeat(MAX_ITEM_BYTES - 1000);
    assert!(
        build_item(
            &config(),
            &record("k", &seq(1), &format!(r#"{{"big":"{fits}"}}"#))
        )
        .is_ok()
    );
}

#[test]
fn item_size_follows_dynamodb_rules() {
    let item: Item = serde_json::from_value(
        json!({"ab": "xyz", "n": 12345, "t": true, "l": [1, "a"], "m": {"k": "v"}}),
    )
    .unwrap();
    // ab:2+3, n:1+(5/2 rounded up +1 = 4), t:1+1, l:1+3+(1+2)+(1+1), m:1+3+(1+1+1)
    assert_eq!(item_size(&item), 5 + 5 + 2 + 9 + 7);
}

#[test]
fn sequence_numbers_compare_numerically() {
    use std::cmp::Ordering::*;
    assert_eq!(compare_sequence_numbers("9", "10"), Less);
    assert_eq!(compare_sequence_numbers(&seq(10), &seq(9)), Greater);
    assert_eq!(compare_sequence_numbers("007", "7"), Equal);
    assert_eq!(
        compare_sequence_numbers(
            "49545115241445821503745951111320000000000000000000000001",
            "5"
        ),
        Greater
    );
}

#[test]
fn config_from_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let c = WriterConfig::from_lookup(env(&[("TABLE_NAME", "t"), ("PARTITION_KEY_NAME", "id")]))
        .unwrap();
    assert_eq!(
        c.partition_key,
        KeyAttribute {
            name: "id".into(),
            kind: KeyType::S
        }
    );
    assert_eq!(c.sort_key, None);
    let c = WriterConfig::from_lookup(env(&[
        ("TABLE_NAME", "t"),
        ("PARTITION_KEY_NAME", "id"),
        ("PARTITION_KEY_TYPE", "N"),
        ("SORT_KEY_NAME", "ts"),
        ("SORT_KEY_TYPE", "N"),
    ]))
    .unwrap();
    assert_eq!(c.partition_key.kind, KeyType::N);
    assert_eq!(
        c.sort_key,
        Some(KeyAttribute {
            name: "ts".into(),
            kind: KeyType::N
        })
    );
    let err = WriterConfig::from_lookup(env(&[("TABLE_NAME", "t")])).unwrap_err();
    assert!(err.to_string().contains("PARTITION_KEY_NAME"), "{err}");
    let err = WriterConfig::from_lookup(env(&[
        ("TABLE_NAME", "t"),
        ("PARTITION_KEY_NAME", "id"),
        ("PARTITION_KEY_TYPE", "B"),
    ]))
    .unwrap_err();
    assert!(
        err.to_string().contains("PARTITION_KEY_TYPE") && err.to_string().contains("\"B\""),
        "{err}"
    );
    assert_eq!(err.error_type(), "InvalidConfiguration");
}

// ---- the batch ----

#[tokio::test]
async fn fixture_batch_writes_dedups_and_dead_letters() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters::default();
    let event = fixture();
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event.clone()).await;

    assert!(failures(&response).is_empty());
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": []})
    );
    assert_eq!(
        stats,
        BatchStats {
            records: 5,
            written: 2,
            superseded: 1,
            dead_lettered: 2,
            // NotJson and BodyNotAnObject, in the order of Reason::ALL.
            dead_lettered_by_reason: [1, 0, 0, 1, 0, 0, 0, 0, 0],
            ..BatchStats::default()
        }
    );
    assert_eq!(stats.dead_lettered_for(Reason::NotJson), 1);
    assert_eq!(stats.dead_lettered_for(Reason::BodyNotAnObject), 1);
    assert_eq!(stats.dead_lettered_for(Reason::MissingKey), 0);

    // One call, unique keys, e1 from its newer record.
    let calls = table.calls();
    assert_eq!(calls.len(), 1);
    let keys: Vec<&str> = calls[0]
        .iter()
        .map(|i| i["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["e1", "e4"]);
    let e1 = table.stored("e1").unwrap();
    assert_eq!(e1["payload"], json!({"eventId": "value2", "n": 2}));
    assert_eq!(e1["sequenceNumber"], json!(seq(3)));

    let sent = dlq.sent();
    assert_eq!(sent.len(), 2);
    let by_reason: HashMap<Reason, &DeadLetterMessage> =
        sent.iter().map(|m| (m.reason, m)).collect();
    let not_json = by_reason[&Reason::NotJson];
    assert_eq!(not_json.sequence_number, seq(2));
    assert_eq!(not_json.partition_key, "e2");
    assert_eq!(inline_data(not_json), b"this is not json");
    assert_eq!(event.records[1].kinesis.data.0, b"this is not json");
    assert_eq!(by_reason[&Reason::BodyNotAnObject].sequence_number, seq(4));
}

#[test]
fn dead_letter_message_has_the_contract_shape() {
    let r = raw_record("p1", &seq(9), b"\x00garbage");
    let message = dead_letter_message(&r, &Permanent::new(Reason::NotJson, "bad"));
    assert_eq!(
        serde_json::from_str::<Value>(&message.to_json()).unwrap(),
        json!({
            "source": "sluice.writer",
            "reason": "NotJson",
            "detail": "bad",
            "stream": "arn:aws:kinesis:us-east-1:123456789012:stream/p-orders",
            "shardId": "shardId-000000000007",
            "sequenceNumber": seq(9),
            "partitionKey": "p1",
            "arrivalTime": 1732752000250_i64,
            "data": "AGdhcmJhZ2U="
        })
    );
}

#[tokio::test]
async fn duplicates_keep_the_highest_sequence_number_whatever_the_order() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters::default();
    let records = vec![
        record("k", &seq(30), r#"{"n":30}"#),
        record("k", &seq(4), r#"{"n":4}"#),
        record("other", &seq(5), r#"{"n":5}"#),
        record("k", &seq(100), r#"{"n":100}"#),
        record("k", &seq(99), r#"{"n":99}"#),
    ];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert!(failures(&response).is_empty());
    assert_eq!((stats.written, stats.superseded), (2, 3));
    let calls = table.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].len(),
        2,
        "DynamoDB rejects duplicate keys in one request"
    );
    assert_eq!(table.stored("k").unwrap()["payload"], json!({"n": 100}));
}

#[tokio::test]
async fn superseded_records_share_a_transient_failure_of_their_winner() {
    let table = FakeTable::new(|item, _| {
        if item["eventId"] == "k" {
            WriteOutcome::Transient("throttled".into())
        } else {
            WriteOutcome::Written
        }
    });
    let dlq = FakeDeadLetters::default();
    let records = vec![
        record("k", &seq(1), "{}"),
        record("ok", &seq(2), "{}"),
        record("k", &seq(3), "{}"),
    ];
    let response = handle_batch(&config(), &table, &dlq, event(records)).await;
    assert_eq!(failures(&response), [seq(1), seq(3)]);
}

#[tokio::test]
async fn writes_in_chunks_of_25() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters::default();
    let records: Vec<_> = (0..60)
        .map(|i| record(&format!("k{i}"), &seq(i), "{}"))
        .collect();
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert!(failures(&response).is_empty());
    assert_eq!(stats.written, 60);
    let mut sizes: Vec<usize> = table.calls().iter().map(Vec::len).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [10, 25, 25]);
}

#[tokio::test(start_paused = true)]
async fn unprocessed_items_are_retried_with_backoff() {
    // Every odd key is unprocessed on the first two calls that carry it.
    let seen: Mutex<HashMap<String, usize>> = Mutex::default();
    let table = FakeTable::new(move |item, _| {
        let key = item["eventId"].as_str().unwrap().to_owned();
        let odd = key.trim_start_matches('k').parse::<u32>().unwrap() % 2 == 1;
        let mut seen = seen.lock().unwrap();
        let n = seen.entry(key).or_default();
        *n += 1;
        if odd && *n <= 2 {
            WriteOutcome::Unprocessed
        } else {
            WriteOutcome::Written
        }
    });
    let dlq = FakeDeadLetters::default();
    let records: Vec<_> = (0..10)
        .map(|i| record(&format!("k{i}"), &seq(i), "{}"))
        .collect();
    let started = tokio::time::Instant::now();
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert!(failures(&response).is_empty());
    assert_eq!(stats.written, 10);
    assert_eq!(stats.write_retries, 2);
    let sizes: Vec<usize> = table.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 5, 5], "only unprocessed items are sent again");
    assert!(
        started.elapsed() <= Duration::from_millis(10 + 20),
        "backoff bounded by base * 2^n"
    );
}

#[tokio::test(start_paused = true)]
async fn items_still_unprocessed_after_the_last_attempt_are_reported() {
    let table = FakeTable::new(|item, _| {
        if item["eventId"] == "stuck" {
            WriteOutcome::Unprocessed
        } else {
            WriteOutcome::Written
        }
    });
    let dlq = FakeDeadLetters::default();
    let records = vec![
        record("a", &seq(1), "{}"),
        record("stuck", &seq(2), "{}"),
        record("b", &seq(3), "{}"),
    ];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert_eq!(failures(&response), [seq(2)]);
    assert_eq!(table.calls().len(), 4, "max_attempts calls in all");
    assert_eq!(
        (stats.written, stats.retried, stats.write_retries),
        (2, 1, 3)
    );
    assert!(dlq.sent().is_empty());
}

#[test]
fn backoff_is_bounded_and_jittered() {
    let policy = WritePolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
        max_concurrent_chunks: 1,
    };
    for n in 0..10 {
        let ceiling = Duration::from_millis((100u64 << n).min(500));
        let delays: Vec<Duration> = (0..50).map(|_| backoff(&policy, n)).collect();
        assert!(delays.iter().all(|d| *d <= ceiling), "retry {n}");
        if n >= 2 {
            assert!(delays.iter().any(|d| *d != delays[0]), "jittered");
        }
    }
}

#[tokio::test]
async fn transient_failures_are_reported_and_not_dead_lettered() {
    let table = FakeTable::new(|item, _| {
        if item["eventId"] == "b" {
            WriteOutcome::Transient("ProvisionedThroughputExceeded".into())
        } else {
            WriteOutcome::Written
        }
    });
    let dlq = FakeDeadLetters::default();
    let records = vec![
        record("a", &seq(1), "{}"),
        record("b", &seq(2), "{}"),
        record("c", &seq(3), "{}"),
    ];
    let response = handle_batch(&config(), &table, &dlq, event(records)).await;
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": seq(2)}]})
    );
    assert!(dlq.sent().is_empty());
    assert_eq!(
        table.calls().len(),
        1,
        "transient failures are left to the event source mapping"
    );
}

#[tokio::test]
async fn whole_table_down_reports_every_record() {
    let table = FakeTable::new(|_, _| WriteOutcome::Transient("ResourceNotFoundException".into()));
    let dlq = FakeDeadLetters::default();
    let records: Vec<_> = (0..30)
        .map(|i| record(&format!("k{i}"), &seq(i), "{}"))
        .collect();
    let expected: Vec<String> = (0..30).map(seq).collect();
    let response = handle_batch(&config(), &table, &dlq, event(records)).await;
    assert_eq!(
        failures(&response),
        expected,
        "in batch order, this batch's sequence numbers only"
    );
    assert!(dlq.sent().is_empty());
}

#[tokio::test]
async fn items_rejected_by_the_table_are_dead_lettered_as_rejected() {
    let table = FakeTable::new(|item, _| {
        if item["eventId"] == "bad" {
            WriteOutcome::Permanent("ValidationException: nesting too deep".into())
        } else {
            WriteOutcome::Written
        }
    });
    let dlq = FakeDeadLetters::default();
    let records = vec![record("bad", &seq(1), "{}"), record("good", &seq(2), "{}")];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert!(failures(&response).is_empty());
    assert_eq!((stats.written, stats.dead_lettered), (1, 1));
    let sent = dlq.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].reason, Reason::Rejected);
    assert_eq!(sent[0].sequence_number, seq(1));
    assert!(sent[0].detail.contains("ValidationException"));
}

#[tokio::test]
async fn a_failed_dead_letter_send_makes_the_record_transient() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters {
        fail: true,
        ..FakeDeadLetters::default()
    };
    let records = vec![
        record("a", &seq(1), "{}"),
        raw_record("b", &seq(2), b"nope"),
        record("c", &seq(3), "{}"),
    ];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert_eq!(failures(&response), [seq(2)]);
    assert_eq!(
        (stats.written, stats.dead_lettered, stats.retried),
        (2, 0, 1)
    );
    assert_eq!(dlq.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_table_answering_the_wrong_number_of_outcomes_fails_transiently() {
    struct Broken;
    impl Table for Broken {
        async fn put_items(&self, _items: Vec<Item>) -> PutResult {
            PutResult::all_written(1)
        }
    }
    let dlq = FakeDeadLetters::default();
    let records = vec![record("a", &seq(1), "{}"), record("b", &seq(2), "{}")];
    let response = handle_batch(&config(), &Broken, &dlq, event(records)).await;
    assert_eq!(failures(&response), [seq(1), seq(2)]);
}

#[tokio::test]
async fn an_empty_batch_is_fine() {
    let table = FakeTable::ok();
    let response = handle_batch(
        &config(),
        &table,
        &FakeDeadLetters::default(),
        event(vec![]),
    )
    .await;
    assert!(failures(&response).is_empty());
    assert!(table.calls().is_empty());
}

// ---- the ordering rule ----

#[tokio::test]
async fn a_record_older_than_the_stored_item_is_superseded_and_done() {
    // The table holds a newer item for "old": its conditional put fails, which is not a failure.
    let table = FakeTable::new(|item, _| {
        if item["eventId"] == "old" {
            WriteOutcome::Superseded
        } else {
            WriteOutcome::Written
        }
    });
    let dlq = FakeDeadLetters::default();
    let records = vec![record("old", &seq(1), "{}"), record("new", &seq(2), "{}")];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert!(failures(&response).is_empty());
    assert_eq!((stats.written, stats.superseded, stats.retried), (1, 1, 0));
    assert!(dlq.sent().is_empty());
}

#[tokio::test]
async fn an_in_batch_loser_of_a_superseded_winner_is_superseded_too() {
    let table = FakeTable::new(|_, _| WriteOutcome::Superseded);
    let dlq = FakeDeadLetters::default();
    let records = vec![record("k", &seq(1), "{}"), record("k", &seq(2), "{}")];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert!(failures(&response).is_empty());
    assert_eq!((stats.written, stats.superseded), (0, 2));
}

// ---- dead letters of every size ----

#[tokio::test]
async fn a_dead_letter_too_large_for_the_queue_goes_to_the_bucket_with_its_data() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters {
        max_bytes: MAX_DEAD_LETTER_MESSAGE_BYTES,
        ..FakeDeadLetters::default()
    };
    // 450 KB: under Kinesis's 1 MiB, over DynamoDB's 400 KB; base64 in JSON it would be ~600 KB.
    let body = format!(r#"{{"blob":"{}"}}"#, "é".repeat(225 * 1024));
    let big = record("big", &seq(7), &body);
    let data = big.kinesis.data.0.clone();
    assert!(data.len() > 450_000);
    let small = raw_record("small", &seq(8), b"not json");
    let (response, stats) =
        handle_batch_with_stats(&config(), &table, &dlq, event(vec![big, small])).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!((stats.dead_lettered, stats.dead_letter_data_stored), (2, 1));

    let sent = dlq.sent();
    assert_eq!(sent.len(), 2);
    let stored = sent.iter().find(|m| m.partition_key == "big").unwrap();
    assert_eq!(stored.reason, Reason::ItemTooLarge);
    let RecordData::Stored(location) = &stored.data else {
        panic!("the data should be in the bucket: {stored:?}");
    };
    assert_eq!(location.bucket, "dead-letters-bucket");
    assert_eq!(
        location.key,
        format!("p-orders/shardId-000000000007/{}", seq(7))
    );
    assert_eq!(location.size, data.len() as u64);
    assert_eq!(location.sha256, hex(&Sha256::digest(&data)));
    assert_eq!(dlq.object(&location.key).unwrap(), data, "byte for byte");
    assert!(stored.to_json().len() < 4096, "the pointer is small");

    let inline = sent.iter().find(|m| m.partition_key == "small").unwrap();
    assert_eq!(inline_data(inline), b"not json");
}

#[tokio::test]
async fn a_queue_that_refuses_the_size_makes_the_writer_fall_back_to_the_bucket() {
    // The queue is smaller than the writer thinks (e.g. configured by hand): its refusal is not transient.
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters {
        max_bytes: 1024,
        ..FakeDeadLetters::default()
    };
    let data = vec![b'x'; 2000];
    let (response, stats) = handle_batch_with_stats(
        &config(),
        &table,
        &dlq,
        event(vec![raw_record("p", &seq(1), &data)]),
    )
    .await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(stats.dead_letter_data_stored, 1);
    assert_eq!(
        dlq.attempts.load(Ordering::SeqCst),
        2,
        "inline, then pointer"
    );
    let sent = dlq.sent();
    let RecordData::Stored(location) = &sent[0].data else {
        panic!("{sent:?}");
    };
    assert_eq!(dlq.object(&location.key).unwrap(), data);
}

#[tokio::test]
async fn a_bucket_that_cannot_be_written_makes_the_record_transient() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters {
        max_bytes: 1024,
        fail_objects: true,
        ..FakeDeadLetters::default()
    };
    let records = vec![
        raw_record("p", &seq(1), &[b'x'; 2000]),
        raw_record("q", &seq(2), b"small, also bad"),
    ];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert_eq!(failures(&response), [seq(1), seq(2)]);
    assert_eq!((stats.retried, stats.held_back), (2, 1));
    assert!(dlq.sent().is_empty(), "nothing points at missing data");
}

#[test]
fn a_long_detail_is_cut_so_a_pointer_always_fits() {
    let r = raw_record("p", &seq(1), b"x");
    let long = "ValidationException: ".to_owned() + &"y".repeat(100_000);
    let message = dead_letter_message(&r, &Permanent::new(Reason::Rejected, long));
    assert_eq!(
        message.detail.chars().count(),
        MAX_DEAD_LETTER_DETAIL_CHARS + 1
    );
    assert!(message.detail.ends_with('…'));
}

// ---- dead-lettered once ----

#[tokio::test]
async fn a_permanent_failure_behind_a_transient_one_is_dead_lettered_once() {
    // "b" fails transiently on the first delivery only.
    let table = FakeTable::new(|item, call| {
        if item["eventId"] == "b" && call == 0 {
            WriteOutcome::Transient("throttled".into())
        } else {
            WriteOutcome::Written
        }
    });
    let dlq = FakeDeadLetters::default();
    let batch = vec![
        raw_record("before", &seq(1), b"bad 1"),
        record("a", &seq(2), "{}"),
        record("b", &seq(3), "{}"),
        raw_record("after", &seq(4), b"bad 2"),
        record("c", &seq(5), "{}"),
    ];
    let (response, stats) =
        handle_batch_with_stats(&config(), &table, &dlq, event(batch.clone())).await;
    assert_eq!(failures(&response), [seq(3), seq(4)]);
    assert_eq!((stats.dead_lettered, stats.held_back), (1, 1));
    assert_eq!(dlq.sent().len(), 1);
    assert_eq!(dlq.sent()[0].partition_key, "before");

    // The event source mapping redelivers from the lowest failure on.
    let redelivered = batch[2..].to_vec();
    let (response, stats) =
        handle_batch_with_stats(&config(), &table, &dlq, event(redelivered)).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!((stats.dead_lettered, stats.held_back), (1, 0));
    let keys: Vec<String> = dlq.sent().into_iter().map(|m| m.partition_key).collect();
    assert_eq!(keys, ["before", "after"], "each dead-lettered once");
}

#[tokio::test]
async fn dead_letters_stop_at_the_first_failed_send() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters {
        fail: true,
        ..FakeDeadLetters::default()
    };
    let records = vec![
        raw_record("x", &seq(1), b"bad"),
        raw_record("y", &seq(2), b"bad"),
        raw_record("z", &seq(3), b"bad"),
    ];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert_eq!(failures(&response), [seq(1), seq(2), seq(3)]);
    assert_eq!(stats.held_back, 2);
    assert_eq!(
        dlq.attempts.load(Ordering::SeqCst),
        1,
        "the later ones come again anyway"
    );
}

// ---- forged envelopes ----

#[tokio::test]
async fn an_envelope_with_smuggled_members_is_dead_lettered_as_forged() {
    let table = FakeTable::ok();
    let dlq = FakeDeadLetters::default();
    let forged = br#"{"v":1,"body":{"a":1},"requestId":"forged","receivedAt":1,"requestId":"real","sourceIp":"203.0.113.9"}"#;
    let records = vec![
        raw_record("forged", &seq(1), forged),
        record("fine", &seq(2), "{}"),
    ];
    let (response, stats) = handle_batch_with_stats(&config(), &table, &dlq, event(records)).await;
    assert!(failures(&response).is_empty());
    assert_eq!((stats.written, stats.dead_lettered), (1, 1));
    let sent = dlq.sent();
    assert_eq!(sent[0].reason, Reason::ForgedEnvelope);
    assert_eq!(inline_data(&sent[0]), forged);
    assert!(table.stored("forged").is_none());
}

// ---- the batch's metrics (CloudWatch Embedded Metric Format) ----

#[tokio::test]
async fn a_batch_prints_its_counts_as_one_embedded_metric_format_document() {
    use sluice_contract::metrics as m;
    let (_, stats) = handle_batch_with_stats(
        &config(),
        &FakeTable::ok(),
        &FakeDeadLetters::default(),
        fixture(),
    )
    .await;
    let line = stats.emf_line("sluice-event-writer", 42, 1_700_000_000_123);
    assert!(!line.contains('\n'), "one line: {line}");
    let doc: Value = serde_json::from_str(&line).unwrap();

    // The EMF specification: _aws.Timestamp (epoch milliseconds) and one CloudWatchMetrics directive.
    assert_eq!(doc["_aws"]["Timestamp"], json!(1_700_000_000_123_i64));
    let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    assert_eq!(directives.len(), 1);
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], json!(m::NAMESPACE));
    assert_eq!(directive["Dimensions"], json!([[m::DIMENSION]]));
    // Every dimension key has a string value in the root.
    assert_eq!(doc[m::DIMENSION], json!("sluice-event-writer"));

    // Every metric named has a number of the same name in the root, and a unit CloudWatch knows.
    let metrics = directive["Metrics"].as_array().unwrap();
    let mut named = std::collections::BTreeMap::new();
    for metric in metrics {
        let name = metric["Name"].as_str().unwrap();
        let unit = metric["Unit"].as_str().unwrap();
        assert!(["Count", "Milliseconds"].contains(&unit), "{name}: {unit}");
        assert!(doc[name].is_number(), "{name} has no value in the root");
        named.insert(name.to_string(), doc[name].as_u64().unwrap());
    }
    assert!(metrics.len() <= 100, "EMF allows 100 metrics per directive");
    let expected: std::collections::BTreeMap<String, u64> = [
        (m::RECORDS.to_string(), 5),
        (m::WRITTEN.to_string(), 2),
        (m::SUPERSEDED.to_string(), 1),
        (m::RETRIED.to_string(), 0),
        (m::DEAD_LETTERED.to_string(), 2),
        // Only the reasons met.
        (m::dead_lettered(Reason::NotJson), 1),
        (m::dead_lettered(Reason::BodyNotAnObject), 1),
        (m::BATCH_DURATION.to_string(), 42),
    ]
    .into_iter()
    .collect();
    assert_eq!(named, expected);
    let duration = metrics
        .iter()
        .find(|metric| metric["Name"] == json!(m::BATCH_DURATION))
        .unwrap();
    assert_eq!(duration["Unit"], json!("Milliseconds"));
}
