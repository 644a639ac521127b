//! One test on a fresh local pipeline: start it (a temporary state dir, port 0), send the inputs in order and
//! check each answer, wait until every consumer of the streams written is done with the test's records (its
//! checkpoint is at or past each of them: stored, dead-lettered or skipped by its filters), then check the
//! records' fates and the items, and stop the pipeline.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use sluice_config::Pipeline;
use sluice_contract::api::PutRecordReply;
use sluice_contract::consumer::QueueMessage;
use sluice_contract::writer::attribute;
use sluice_local::inspect::Inspector;
use sluice_local::{Durability, StartOptions};
use sluice_writer::compare_sequence_numbers;

use super::compare::{cut, differences, show};
use super::suite::{Auth, Fate, Input, ItemState, RecordData, Request, Send, TestCase};

/// How often the consumers' checkpoints are read while waiting.
const POLL: Duration = Duration::from_millis(50);

/// A test's result: the differences between what was expected and what happened (none: it passed).
#[derive(Debug)]
pub struct Outcome {
    pub problems: Vec<String>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A record the test put on a stream (through the gateway or straight).
#[derive(Debug, Clone)]
struct Sent {
    send: usize,
    stream: String,
    shard_id: String,
    sequence_number: String,
}

/// Runs one test on its own pipeline.
pub async fn run_test(pipeline: Arc<Pipeline>, case: &TestCase, http: &reqwest::Client) -> Outcome {
    let started = Instant::now();
    let mut problems = Vec::new();
    match run_in(pipeline, case, http, &mut problems).await {
        Ok(()) => {}
        Err(e) => problems.push(e),
    }
    Outcome {
        problems,
        elapsed: started.elapsed(),
    }
}

async fn run_in(
    pipeline: Arc<Pipeline>,
    case: &TestCase,
    http: &reqwest::Client,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let state = tempfile::Builder::new()
        .prefix("sluice-pipeline-test-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary state dir: {e}"))?;
    let username = pipeline
        .auth
        .as_ref()
        .map_or("sluice", |a| a.username.as_str())
        .to_owned();
    let password = format!("pipeline-test-{}", uuid::Uuid::new_v4());
    let mut opts = StartOptions::new((*pipeline).clone(), state.path());
    opts.credentials = Some(format!("{username}:{password}"));
    // Each test's state is thrown away: a commit need not survive a power loss.
    opts.durability = Durability::Normal;
    // The user's functions run as their binaries (cargo builds them once; then each test finds them fresh).
    if !pipeline.functions.custom.is_empty() {
        let p = (*pipeline).clone();
        opts.processes =
            tokio::task::spawn_blocking(move || sluice_local::user_function_processes(&p))
                .await
                .map_err(|e| format!("cannot build the pipeline's functions: {e}"))?
                .map_err(|e| format!("cannot build the pipeline's functions: {e}"))?;
    }
    let running = sluice_local::start(opts)
        .await
        .map_err(|e| format!("cannot start the local pipeline: {e}"))?;

    let mut sent = Vec::new();
    for (index, send) in case.sends.iter().enumerate() {
        let record = match &send.input {
            Input::Request(request) => {
                let credentials = match request.auth {
                    Auth::Valid => Some(password.clone()),
                    Auth::WrongPassword => Some(format!("{password}-wrong")),
                    Auth::None => None,
                }
                .map(|p| (username.as_str(), p));
                request_and_check(
                    http,
                    &running.base_url(),
                    send,
                    request,
                    credentials,
                    problems,
                )
                .await
                .map(|(shard_id, sequence_number)| {
                    (request.stream.clone(), shard_id, sequence_number)
                })
            }
            Input::Record {
                stream,
                partition_key,
                data,
            } => {
                let data = match data {
                    RecordData::Raw(bytes) => bytes.clone(),
                    RecordData::Body { body, source_ip } => {
                        let request_id = uuid::Uuid::new_v4().to_string();
                        sluice_contract::envelope::encode(&sluice_contract::envelope::Received {
                            received_at_ms: sluice_local::now_ms(),
                            request_id: &request_id,
                            source_ip,
                            body,
                        })
                    }
                };
                let shards = pipeline
                    .streams
                    .get(stream)
                    .map_or(1, sluice_config::Stream::shard_count);
                match running
                    .store
                    .append(stream, shards, partition_key, data, sluice_local::now_ms())
                    .await
                {
                    Ok(appended) => Some((
                        stream.clone(),
                        appended.shard_id(),
                        appended.sequence_number(),
                    )),
                    Err(e) => {
                        problems.push(format!(
                            "{}: cannot put the record on {stream}: {e}",
                            send.label
                        ));
                        None
                    }
                }
            }
        };
        match record {
            Some((stream, shard_id, sequence_number)) => sent.push(Sent {
                send: index,
                stream,
                shard_id,
                sequence_number,
            }),
            None if send.fate != Fate::Unstated => problems.push(format!(
                "{}: what its consumers do with it was not checked: no record went on the stream",
                send.label
            )),
            None => {}
        }
    }

    let caught_up =
        wait_for_consumers(&pipeline, state.path(), &sent, case.timeout, problems).await;
    let observed = observe(&pipeline, state.path(), case, &sent).await;
    running.shutdown().await;
    let observed = observed?;
    if caught_up {
        check_fates(&pipeline, case, &sent, &observed, problems);
    } else {
        for s in &sent {
            let send = &case.sends[s.send];
            if send.fate != Fate::Unstated {
                problems.push(format!(
                    "{}: what its consumers do with it was not checked (they did not catch up)",
                    send.label
                ));
            }
        }
    }
    check_items(case, &sent, &observed, problems);
    drop(state);
    Ok(())
}

/// Sends one request and compares its answer with the expected one; answers the record's shard and
/// sequence number when the gateway accepted it.
async fn request_and_check(
    http: &reqwest::Client,
    base_url: &str,
    send: &Send,
    request: &Request,
    credentials: Option<(&str, String)>,
    problems: &mut Vec<String>,
) -> Option<(String, String)> {
    let method = match reqwest::Method::from_bytes(request.method.as_bytes()) {
        Ok(m) => m,
        Err(e) => {
            problems.push(format!("{}: {e}", send.label));
            return None;
        }
    };
    let mut builder = http
        .request(method, format!("{base_url}{}", request.path))
        .body(request.body.clone());
    if let Some(content_type) = &request.content_type {
        builder = builder.header(reqwest::header::CONTENT_TYPE, content_type);
    }
    if let Some((user, password)) = credentials {
        builder = builder.basic_auth(user, Some(password));
    }
    let response = match builder.send().await {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("{}: the request failed: {e}", send.label));
            return None;
        }
    };
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let json: Option<Value> = serde_json::from_str(&text).ok();
    let code = json
        .as_ref()
        .and_then(|v| v.get(sluice_contract::api::member::ERROR))
        .and_then(Value::as_str);
    let message = json
        .as_ref()
        .and_then(|v| v.get(sluice_contract::api::member::MESSAGE))
        .and_then(Value::as_str);
    let got = match (code, message) {
        (Some(code), Some(message)) => format!("{status} {code} \"{}\"", cut(message, 200)),
        _ if status == 200 => "200".to_owned(),
        _ => format!("{status} {}", cut(&text, 200)),
    };
    if let Some(expected) = &send.answer {
        if expected.status != status {
            let want = match expected.error {
                Some(e) => format!("{} {}", expected.status, e.code()),
                None => expected.status.to_string(),
            };
            problems.push(format!("{}: status {want} expected, got {got}", send.label));
        } else if let Some(error) = expected.error
            && code != Some(error.code())
        {
            problems.push(format!(
                "{}: error {} expected, got {got}",
                send.label,
                error.code()
            ));
        } else if let Some(part) = &expected.message
            && !message.is_some_and(|m| m.contains(part.as_str()))
        {
            problems.push(format!(
                "{}: an error message containing \"{part}\" expected, got {got}",
                send.label
            ));
        }
    }
    if status != 200 {
        return None;
    }
    match serde_json::from_str::<PutRecordReply>(&text) {
        Ok(reply) => Some((reply.shard_id, reply.sequence_number)),
        Err(e) => {
            problems.push(format!(
                "{}: the 200 answer is not PutRecord's ({e}): {}",
                send.label,
                cut(&text, 200)
            ));
            None
        }
    }
}

/// Waits until every consumer of each stream written is done with the test's last record on each shard.
/// Answers whether they all were within `timeout` (else says which was not, and where it was).
async fn wait_for_consumers(
    pipeline: &Pipeline,
    state_dir: &Path,
    sent: &[Sent],
    timeout: Duration,
    problems: &mut Vec<String>,
) -> bool {
    // (consumer, stream, shard) → the last sequence number the test put there.
    let mut last: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for s in sent {
        for consumer in pipeline.consumers.values().filter(|c| c.stream == s.stream) {
            let key = (consumer.name.clone(), s.stream.clone(), s.shard_id.clone());
            let entry = last.entry(key).or_insert_with(|| s.sequence_number.clone());
            if compare_sequence_numbers(&s.sequence_number, entry).is_gt() {
                entry.clone_from(&s.sequence_number);
            }
        }
    }
    if last.is_empty() {
        return true;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let dir = state_dir.to_path_buf();
        let wanted = last.clone();
        let behind = tokio::task::spawn_blocking(move || {
            let inspector = Inspector::open(&dir).map_err(|e| e.to_string())?;
            let mut behind = Vec::new();
            for ((consumer, stream, shard), seq) in wanted {
                let checkpoint = inspector
                    .checkpoint(&consumer, &stream, &shard)
                    .map_err(|e| e.to_string())?;
                if checkpoint
                    .as_deref()
                    .is_none_or(|c| compare_sequence_numbers(c, &seq).is_lt())
                {
                    behind.push((consumer, stream, shard, seq, checkpoint));
                }
            }
            Ok::<_, String>(behind)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match behind {
            Ok(behind) if behind.is_empty() => return true,
            Ok(behind) if Instant::now() >= deadline => {
                for (consumer, stream, shard, seq, checkpoint) in behind {
                    problems.push(format!(
                        "consumer {consumer} did not catch up within {} s: on {stream} {shard} it is done up to {}, the test's last record there is {seq} (raise the test's `timeout_seconds`?)",
                        timeout.as_secs(),
                        checkpoint.as_deref().unwrap_or("nothing")
                    ));
                }
                return false;
            }
            Ok(_) => {}
            Err(e) if Instant::now() >= deadline => {
                problems.push(format!("cannot read the consumers' checkpoints: {e}"));
                return false;
            }
            Err(_) => {}
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What the consumers left: the messages of the dead-letter queues and the items of the tables of the
/// consumers involved, and the items the test expects.
struct Observed {
    /// (queue, message) of every queue of a consumer of a stream written.
    dead_letters: Vec<(String, QueueMessage)>,
    /// (queue, body) of the messages that are no message of the contract.
    unreadable: Vec<(String, String)>,
    /// Every item of the tables written by a consumer of a stream written.
    tables: BTreeMap<String, Vec<Value>>,
    /// The item of each `[[test.item]]`, or why it could not be read.
    items: Vec<Result<Option<Value>, String>>,
}

async fn observe(
    pipeline: &Arc<Pipeline>,
    state_dir: &Path,
    case: &TestCase,
    sent: &[Sent],
) -> Result<Observed, String> {
    let pipeline = pipeline.clone();
    let dir = state_dir.to_path_buf();
    let streams: Vec<String> = sent.iter().map(|s| s.stream.clone()).collect();
    let items: Vec<(String, String, Option<String>)> = case
        .items
        .iter()
        .map(|i| (i.table.clone(), i.partition.clone(), i.sort.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let inspector = Inspector::open(&dir).map_err(|e| e.to_string())?;
        let consumers: Vec<_> = pipeline
            .consumers
            .values()
            .filter(|c| streams.contains(&c.stream))
            .collect();
        let mut queues: Vec<&String> = consumers.iter().map(|c| &c.dead_letter_queue).collect();
        queues.sort();
        queues.dedup();
        let mut dead_letters = Vec::new();
        let mut unreadable = Vec::new();
        for queue in queues {
            for body in inspector.queue_bodies(queue).map_err(|e| e.to_string())? {
                match QueueMessage::from_json(&body) {
                    Ok(m) => dead_letters.push((queue.clone(), m)),
                    Err(_) => unreadable.push((queue.clone(), body)),
                }
            }
        }
        let mut tables = BTreeMap::new();
        for consumer in &consumers {
            if let Some(table) = pipeline.tables.get(&consumer.table)
                && !tables.contains_key(&table.name)
            {
                let all = inspector
                    .newest_items(table, usize::MAX)
                    .map_err(|e| e.to_string())?;
                tables.insert(table.name.clone(), all);
            }
        }
        let items = items
            .into_iter()
            .map(|(table, partition, sort)| {
                let table = pipeline
                    .tables
                    .get(&table)
                    .ok_or_else(|| format!("no table {table}"))?;
                inspector
                    .get_item(table, &partition, sort.as_deref())
                    .map_err(|e| e.to_string())
            })
            .collect();
        Ok(Observed {
            dead_letters,
            unreadable,
            tables,
            items,
        })
    })
    .await
    .map_err(|e| format!("reading the local state failed: {e}"))?
}

/// The dead letters naming a record: the writer's (by stream, shard and sequence number) and the event
/// source mapping's on-failure messages (by stream, shard and sequence range).
fn dead_letters_of<'o>(
    pipeline: &Pipeline,
    observed: &'o Observed,
    record: &Sent,
) -> Vec<(&'o str, &'o QueueMessage)> {
    let arn = pipeline
        .streams
        .get(&record.stream)
        .map(|s| sluice_local::kinesis::stream_arn(&pipeline.region, &s.physical_name));
    observed
        .dead_letters
        .iter()
        .filter(|(_, m)| match m {
            QueueMessage::DeadLetter(d) => {
                Some(&d.stream) == arn.as_ref()
                    && d.shard_id == record.shard_id
                    && d.sequence_number == record.sequence_number
            }
            QueueMessage::OnFailure(f) => {
                let info = &f.kinesis_batch_info;
                Some(&info.stream_arn) == arn.as_ref()
                    && info.shard_id == record.shard_id
                    && compare_sequence_numbers(
                        &info.start_sequence_number,
                        &record.sequence_number,
                    )
                    .is_le()
                    && compare_sequence_numbers(&record.sequence_number, &info.end_sequence_number)
                        .is_le()
            }
        })
        .map(|(q, m)| (q.as_str(), m))
        .collect()
}

/// The items holding a record (its `shardId` and `sequenceNumber`), in the tables of its stream's consumers.
fn items_holding<'o>(
    pipeline: &Pipeline,
    observed: &'o Observed,
    record: &Sent,
) -> Vec<(&'o str, &'o Value)> {
    let mut out = Vec::new();
    for consumer in pipeline
        .consumers
        .values()
        .filter(|c| c.stream == record.stream)
    {
        let Some((table, items)) = observed.tables.get_key_value(&consumer.table) else {
            continue;
        };
        for item in items {
            if item.get(attribute::SEQUENCE_NUMBER).and_then(Value::as_str)
                == Some(record.sequence_number.as_str())
                && item.get(attribute::SHARD_ID).and_then(Value::as_str)
                    == Some(record.shard_id.as_str())
            {
                out.push((table.as_str(), item));
            }
        }
    }
    out
}

/// A dead letter in a few words: `MissingKey (the body has no member "version" …)`.
fn describe(message: &QueueMessage) -> String {
    match message {
        QueueMessage::DeadLetter(d) => format!("{} ({})", d.reason.as_str(), cut(&d.detail, 160)),
        QueueMessage::OnFailure(f) => format!(
            "{} (an on-failure message for {} record(s) of {})",
            f.request_context.condition.as_str(),
            f.kinesis_batch_info.batch_size,
            f.kinesis_batch_info.shard_id
        ),
    }
}

fn reason_of(message: &QueueMessage) -> &'static str {
    match message {
        QueueMessage::DeadLetter(d) => d.reason.as_str(),
        QueueMessage::OnFailure(f) => f.request_context.condition.as_str(),
    }
}

fn check_fates(
    pipeline: &Pipeline,
    case: &TestCase,
    sent: &[Sent],
    observed: &Observed,
    problems: &mut Vec<String>,
) {
    for record in sent {
        let send = &case.sends[record.send];
        let letters = dead_letters_of(pipeline, observed, record);
        let holders = items_holding(pipeline, observed, record);
        let instead = || -> String {
            if let Some((queue, m)) = letters.first() {
                format!("it was dead-lettered to {queue}: {}", describe(m))
            } else if let Some((table, item)) = holders.first() {
                format!("table {table} holds it: {}", show(item))
            } else {
                "no item holds it and no dead letter names it (filtered out, or superseded by a later record of its key)".to_owned()
            }
        };
        match &send.fate {
            Fate::Unstated => {}
            Fate::Filtered => {
                if !letters.is_empty() || !holders.is_empty() {
                    problems.push(format!(
                        "{}: filtered out expected, but {}",
                        send.label,
                        instead()
                    ));
                }
            }
            Fate::DeadLetter { reason, detail } => {
                let matching = letters.iter().any(|(_, m)| {
                    reason_of(m) == reason
                        && detail.as_ref().is_none_or(|part| match m {
                            QueueMessage::DeadLetter(d) => d.detail.contains(part.as_str()),
                            QueueMessage::OnFailure(_) => false,
                        })
                });
                if !matching {
                    let want = match detail {
                        Some(part) => format!("{reason} with a detail containing \"{part}\""),
                        None => reason.clone(),
                    };
                    problems.push(format!(
                        "{}: a dead letter {want} expected, but {}",
                        send.label,
                        instead()
                    ));
                }
            }
        }
    }
}

fn check_items(case: &TestCase, sent: &[Sent], observed: &Observed, problems: &mut Vec<String>) {
    let mut failed = false;
    for (expectation, got) in case.items.iter().zip(&observed.items) {
        let label = &expectation.label;
        match (&expectation.expected, got) {
            (_, Err(e)) => {
                failed = true;
                problems.push(format!("{label}: cannot read it: {e}"));
            }
            (ItemState::Absent, Ok(None)) => {}
            (ItemState::Absent, Ok(Some(item))) => {
                failed = true;
                problems.push(format!("{label}: no item expected, got {}", show(item)));
            }
            (ItemState::Present(_), Ok(None)) => {
                failed = true;
                problems.push(format!("{label}: an item expected, there is none"));
            }
            (ItemState::Present(members), Ok(Some(item))) => {
                for difference in differences(members, item) {
                    failed = true;
                    problems.push(format!("{label}: {difference}"));
                }
            }
        }
    }
    // What else happened, to explain a missing or different item.
    if failed {
        for (queue, message) in &observed.dead_letters {
            let whose = sent
                .iter()
                .find(|s| match message {
                    QueueMessage::DeadLetter(d) => {
                        d.sequence_number == s.sequence_number && d.shard_id == s.shard_id
                    }
                    QueueMessage::OnFailure(_) => false,
                })
                .map(|s| format!(" for {}", case.sends[s.send].label))
                .unwrap_or_default();
            problems.push(format!(
                "  (dead letter in {queue}{whose}: {})",
                describe(message)
            ));
        }
        for (queue, body) in &observed.unreadable {
            problems.push(format!("  (message in {queue}: {})", cut(body, 200)));
        }
    }
}
