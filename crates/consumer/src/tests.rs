//! The library's rules as a user function meets them. (The stock writer's tests, in `sluice-writer`, cover
//! the same rules through the identity mapping: retries, backoff, dead-letter sizes, held-back records.)

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

fn seq(n: u64) -> String {
    format!("4954511524144582150374595111132{n:025}")
}

fn record(partition_key: &str, n: u64, body: &str) -> KinesisEventRecord {
    let data = format!(
        r#"{{"v":1,"body":{body},"receivedAt":1732752000123,"requestId":"r-{n}","sourceIp":"203.0.113.9"}}"#
    );
    let sequence_number = seq(n);
    let event = kinesis_event_from_json(json!({"Records": [{
        "kinesis": {
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "approximateArrivalTimestamp": 1732752000.25
        },
        "eventID": format!("shardId-000000000003:{sequence_number}"),
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

fn failures(response: &KinesisEventResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

type Script = Box<dyn Fn(&Item) -> Option<WriteOutcome> + Send + Sync>;

/// An in-memory table keyed by `id` that keeps the ordering rule; a script may answer for an item first.
struct MemoryTable {
    items: Mutex<HashMap<String, Item>>,
    script: Script,
}

impl MemoryTable {
    fn new() -> Self {
        Self::scripted(|_| None)
    }
    fn scripted(script: impl Fn(&Item) -> Option<WriteOutcome> + Send + Sync + 'static) -> Self {
        MemoryTable {
            items: Mutex::default(),
            script: Box::new(script),
        }
    }
    fn get(&self, id: &str) -> Option<Item> {
        self.items.lock().unwrap().get(id).cloned()
    }
    fn len(&self) -> usize {
        self.items.lock().unwrap().len()
    }
}

impl Table for MemoryTable {
    async fn put_items(&self, items: Vec<Item>) -> PutResult {
        let mut stored = self.items.lock().unwrap();
        let outcomes = items
            .into_iter()
            .map(|item| {
                if let Some(outcome) = (self.script)(&item) {
                    return outcome;
                }
                let id = item["id"].to_string();
                let seq = item["sequenceNumber"].as_str().unwrap().to_owned();
                if let Some(old) = stored.get(&id) {
                    let old_seq = old["sequenceNumber"].as_str().unwrap();
                    if compare_sequence_numbers(old_seq, &seq).is_gt() {
                        return WriteOutcome::Superseded;
                    }
                }
                stored.insert(id, item);
                WriteOutcome::Written
            })
            .collect();
        PutResult { outcomes }
    }
}

#[derive(Default)]
struct MemoryDeadLetters {
    sent: Mutex<Vec<DeadLetterMessage>>,
}

impl MemoryDeadLetters {
    fn sent(&self) -> Vec<DeadLetterMessage> {
        self.sent.lock().unwrap().clone()
    }
}

impl DeadLetters for MemoryDeadLetters {
    async fn send(&self, message: DeadLetterMessage) -> Result<(), ConsumerError> {
        self.sent.lock().unwrap().push(message);
        Ok(())
    }
    async fn store_data(
        &self,
        _key: String,
        _data: Vec<u8>,
        _sha256: [u8; 32],
    ) -> Result<String, ConsumerError> {
        Err(ConsumerError::DeadLetterData(
            "no bucket in this test".into(),
        ))
    }
}

fn config() -> ConsumerConfig {
    ConsumerConfig::from_lookup(|name| {
        (name == sluice_contract::env::CONSUMER_TABLES).then(|| {
            json!({
                "accepted": {"name": "p-accepted", "partitionKey": {"name": "id", "type": "S"}},
                "audit": {"name": "p-audit", "partitionKey": {"name": "id", "type": "N"}},
            })
            .to_string()
        })
    })
    .unwrap()
}

#[derive(Debug, Deserialize)]
struct Order {
    id: String,
    amount: i64,
}

/// Enrich and route: amounts over 0 to `accepted` and `audit`, 0 skipped, negative refused, 999 retried.
async fn route(record: Record<Order>) -> Outcome {
    let Record { body, stream, .. } = record;
    match body.amount {
        0 => Outcome::Skip,
        999 => Outcome::Retry("the rates service is down".into()),
        a if a < 0 => Outcome::DeadLetter(format!("amount {a} is negative")),
        a => Outcome::Write(vec![
            Put::new(
                "accepted",
                json!({"id": body.id, "amount": a, "shard": stream.shard_id}),
            ),
            Put::new("audit", json!({"id": a, "order": body.id})),
        ]),
    }
}

#[tokio::test]
async fn each_outcome_gets_its_fate_and_items_reach_both_tables() {
    let config = config();
    let tables = [MemoryTable::new(), MemoryTable::new()];
    let dead = MemoryDeadLetters::default();
    let batch = event(vec![
        record("a", 1, r#"{"id":"a","amount":5}"#),
        record("b", 2, r#"{"id":"b","amount":0}"#),
        record("c", 3, r#"{"id":"c","amount":-1}"#),
        record("d", 4, r#"{"id":"d","amount":"lots"}"#),
    ]);
    let (response, stats) = handle_batch(&config, &tables, &dead, batch, route).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!(
        (stats.written, stats.skipped, stats.dead_lettered),
        (1, 1, 2)
    );
    let accepted = tables[0].get(r#""a""#).unwrap();
    assert_eq!(accepted["amount"], 5);
    assert_eq!(accepted["shard"], "shardId-000000000003");
    assert_eq!(accepted["sequenceNumber"], Value::String(seq(1)));
    assert_eq!(tables[1].get("5").unwrap()["order"], "a");
    let sent = dead.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].reason, Reason::Refused);
    assert_eq!(sent[0].detail, "amount -1 is negative");
    assert_eq!(sent[0].sequence_number, seq(3));
    assert!(matches!(&sent[0].data, RecordData::Inline(_)));
    assert_eq!(sent[1].reason, Reason::Refused);
    assert!(
        sent[1].detail.starts_with("the body is not a Order"),
        "{}",
        sent[1].detail
    );
    assert!(stats.emf_line("f", 1, 0).contains("RecordsSkipped"));
}

#[tokio::test]
async fn a_transient_failure_of_one_table_retries_the_record_and_the_retry_is_idempotent() {
    let config = config();
    let audit_down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = audit_down.clone();
    let tables = [
        MemoryTable::new(),
        MemoryTable::scripted(move |_| {
            flag.load(std::sync::atomic::Ordering::SeqCst)
                .then(|| WriteOutcome::Transient("audit is down".into()))
        }),
    ];
    let dead = MemoryDeadLetters::default();
    let batch = || {
        event(vec![
            record("a", 1, r#"{"id":"a","amount":5}"#),
            record("c", 2, r#"{"id":"c","amount":-1}"#),
        ])
    };
    let (response, stats) = handle_batch(&config, &tables, &dead, batch(), route).await;
    // The record is retried, and the refused record after it is held back (dead-lettered once, later).
    assert_eq!(failures(&response), vec![seq(1), seq(2)]);
    assert_eq!((stats.retried, stats.held_back), (2, 1));
    assert!(dead.sent().is_empty());
    assert!(
        tables[0].get(r#""a""#).is_some(),
        "the other table's item stays written"
    );

    audit_down.store(false, std::sync::atomic::Ordering::SeqCst);
    let (response, stats) = handle_batch(&config, &tables, &dead, batch(), route).await;
    assert!(failures(&response).is_empty(), "{response:?}");
    assert_eq!((stats.written, stats.dead_lettered), (1, 1));
    assert_eq!((tables[0].len(), tables[1].len()), (1, 1));
    assert_eq!(dead.sent().len(), 1);
}

#[tokio::test]
async fn per_table_and_key_only_the_highest_sequence_number_is_written() {
    let config = config();
    let tables = [MemoryTable::new(), MemoryTable::new()];
    let dead = MemoryDeadLetters::default();
    // Two records of order "a" (same key in `accepted`), different amounts (different keys in `audit`).
    let batch = event(vec![
        record("a", 2, r#"{"id":"a","amount":7}"#),
        record("a", 1, r#"{"id":"a","amount":5}"#),
    ]);
    let (response, stats) = handle_batch(&config, &tables, &dead, batch, route).await;
    assert!(failures(&response).is_empty());
    assert_eq!(tables[0].get(r#""a""#).unwrap()["amount"], 7);
    // Record 1 wrote its audit item, but its `accepted` item lost: the record counts as written.
    assert_eq!(tables[1].len(), 2);
    assert_eq!((stats.written, stats.superseded), (2, 0));

    // Replayed alone, the older record is superseded by what the table holds.
    let (_, stats) = handle_batch(
        &config,
        &tables,
        &dead,
        event(vec![record("a", 1, r#"{"id":"a","amount":7}"#)]),
        route,
    )
    .await;
    assert_eq!(stats.superseded, 1);
    assert_eq!(
        tables[0].get(r#""a""#).unwrap()["sequenceNumber"],
        Value::String(seq(2))
    );
}

#[tokio::test]
async fn an_item_the_declarations_cannot_hold_is_dead_lettered_with_the_reason() {
    let config = config();
    let tables = [MemoryTable::new(), MemoryTable::new()];
    let dead = MemoryDeadLetters::default();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let function = |record: Record<Value>| {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            match record.body["case"].as_str() {
                Some("undeclared") => Outcome::write("elsewhere", json!({"id": "x"})),
                Some("no key") => Outcome::write("accepted", json!({"name": "x"})),
                Some("bad key") => Outcome::write("audit", json!({"id": "seven"})),
                _ => Outcome::write("accepted", json!([1, 2])),
            }
        }
    };
    let batch = event(vec![
        record("a", 1, r#"{"case":"undeclared"}"#),
        record("a", 2, r#"{"case":"no key"}"#),
        record("a", 3, r#"{"case":"bad key"}"#),
        record("a", 4, r#"{"case":"array"}"#),
        record("a", 5, r#"[1]"#),
    ]);
    let (response, stats) = handle_batch(&config, &tables, &dead, batch, function).await;
    assert!(failures(&response).is_empty());
    assert_eq!(stats.dead_lettered, 5);
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "not called for a bad envelope"
    );
    let reasons: Vec<Reason> = dead.sent().iter().map(|m| m.reason).collect();
    assert_eq!(
        reasons,
        [
            Reason::Rejected,
            Reason::MissingKey,
            Reason::BadKeyType,
            Reason::Rejected,
            Reason::BodyNotAnObject
        ]
    );
    assert!(
        dead.sent()[0].detail.contains("\"elsewhere\""),
        "{}",
        dead.sent()[0].detail
    );
    assert!(dead.sent()[0].detail.contains("accepted, audit"));
}

#[test]
fn the_tables_setting_is_read_and_refused_clearly() {
    let config = config();
    assert_eq!(config.tables.len(), 2);
    assert_eq!(config.tables[1].physical, "p-audit");
    assert_eq!(config.tables[1].partition_key.kind, KeyType::N);
    let missing = ConsumerConfig::from_lookup(|_| None).unwrap_err();
    assert!(missing.to_string().contains("SLUICE_TABLES"), "{missing}");
    let bad = ConsumerConfig::from_lookup(|_| {
        Some(r#"{"t":{"name":"x","partitionKey":{"name":"id","type":"B"}}}"#.into())
    })
    .unwrap_err();
    assert!(bad.to_string().contains("S or N"), "{bad}");
    let bad = ConsumerConfig::from_lookup(|_| Some("[]".into())).unwrap_err();
    assert!(bad.to_string().contains("SLUICE_TABLES"), "{bad}");
}
