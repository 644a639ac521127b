//! The event source mapping emulator: Lambda's Kinesis poller, per consumer and shard, with AWS's rules.
//!
//! - **Starting position**: a new mapping starts after the shard's last record (`LATEST`) or at its oldest
//!   kept record (`TRIM_HORIZON`); the position is stored at once, so a restart never skips records sent
//!   in between.
//! - **Batching**: up to `batch_size` records (and at most 6 MB of payload, Lambda's invocation limit);
//!   with a batching window the lane waits up to the window, from its first record, for a fuller batch;
//!   without one it invokes as soon as records are there.
//! - **Parallelization factor** `N`: `N` lanes per shard, each with one batch in flight; a record's lane is
//!   the MD5 of its partition key modulo `N`, so records of one partition key stay in order.
//! - **Partial batch response** (`ReportBatchItemFailures`): records before the lowest reported sequence
//!   number are done; the rest is retried. An identifier that is null, empty or not in the batch fails the
//!   whole batch, as on AWS.
//! - **Function errors** (an `Err`, a panic, or a timeout) fail the whole batch; with bisect-on-error a
//!   failed batch of more than one record is split in two halves, retried one after the other. Splitting
//!   does not use up a retry (as on AWS); a failure that cannot be split does.
//! - **Retry attempts** (`-1`: forever) and **maximum record age** (`-1`: forever): when a batch is out of
//!   retries, or records are older than the age limit, an on-failure message (AWS's shape) describing them
//!   goes to the consumer's dead-letter queue and the shard moves on.
//! - **Filter criteria**: a record no filter pattern matches ([`filter`]) is skipped before batching: never
//!   delivered, retried or sent to the on-failure destination, and the checkpoint moves past it.
//! - **Checkpoint**: per shard, just before the oldest record not yet done (a record is done when its
//!   batch succeeded or it went to the on-failure destination), stored in `_sluice_checkpoints`. A restart
//!   resumes there: records after it may be delivered again (at least once), never lost.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{SecondsFormat, TimeZone as _, Utc};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

#[cfg(test)]
mod aws_cases;
pub mod filter;
pub mod policy;

use policy::{Condition, LastResponse, Next, RetryPolicy};
use sluice_contract::consumer::{
    KinesisBatchInfo, OnFailureMessage, OnFailureRequestContext, OnFailureResponseContext,
};
use sluice_contract::limits::MAX_INVOCATION_PAYLOAD_BYTES;

use super::kinesis::{self, EventSource, StoredRecord};
use super::sinks::SqliteDeadLetters;
use super::store::{Store, now_ms};
use sluice_config::{Consumer, Pipeline, StartingPosition};

/// What a function invocation returns: the partial batch response, or a function error.
pub type InvokeResult = Result<KinesisEventResponse, anyhow::Error>;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The function an event source mapping invokes. `cargo xtask dev` wires the writer's `handle_batch`; tests
/// inject scripted ones. Any `Fn(KinesisEvent) -> impl Future<Output = InvokeResult>` is a handler.
pub trait BatchHandler: Send + Sync + 'static {
    fn invoke(&self, event: KinesisEvent) -> BoxFuture<InvokeResult>;
}

impl<F, Fut> BatchHandler for F
where
    F: Fn(KinesisEvent) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = InvokeResult> + Send + 'static,
{
    fn invoke(&self, event: KinesisEvent) -> BoxFuture<InvokeResult> {
        Box::pin(self(event))
    }
}

/// Timings of the emulator that tests shorten. AWS backs off for longer; locally a fast loop matters more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Wait before the first retry of a failed batch; doubled for each further retry …
    pub retry_backoff_initial: Duration,
    /// … up to this.
    pub retry_backoff_max: Duration,
    /// How often a shard looks for new records when nothing wakes it (appends wake it at once).
    pub poll_interval: Duration,
    /// How often the retention sweep deletes expired records.
    pub retention_sweep_interval: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            retry_backoff_initial: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(2),
            poll_interval: Duration::from_secs(1),
            retention_sweep_interval: Duration::from_secs(60),
        }
    }
}

/// One consumer's mapping, resolved from the pipeline.
struct Mapping {
    consumer: Consumer,
    stream_arn: String,
    function_arn: String,
    source: EventSource,
    function_timeout: Duration,
    store: Store,
    handler: Arc<dyn BatchHandler>,
    dead_letters: SqliteDeadLetters,
    timings: Timings,
}

/// Establishes the starting position of every shard of a consumer (stored before this returns, so records
/// appended afterwards are seen even by a `LATEST` mapping), then runs one task per shard until `stop`.
pub async fn start(
    pipeline: &Pipeline,
    consumer: &Consumer,
    store: Store,
    handler: Arc<dyn BatchHandler>,
    timings: Timings,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, super::store::StoreError> {
    let Some(stream) = pipeline.streams.get(&consumer.stream) else {
        return Ok(Vec::new());
    };
    let stream_arn = kinesis::stream_arn(&pipeline.region, &stream.physical_name);
    let mapping = Arc::new(Mapping {
        consumer: consumer.clone(),
        function_arn: kinesis::function_arn(&pipeline.region, &consumer.function_name),
        source: EventSource {
            region: pipeline.region.clone(),
            stream_arn: stream_arn.clone(),
            invoke_identity_arn: format!(
                "arn:aws:iam::{}:role/{}",
                kinesis::LOCAL_ACCOUNT,
                consumer.function_name
            ),
        },
        stream_arn,
        function_timeout: Duration::from_secs(u64::from(
            pipeline.consumer_function(consumer).timeout_seconds.max(1),
        )),
        dead_letters: SqliteDeadLetters::new(
            store.clone(),
            consumer.dead_letter_queue.clone(),
            super::dead_letter_bucket(pipeline),
        ),
        store,
        handler,
        timings,
    });
    let latest = consumer.starting_position == StartingPosition::Latest;
    let mut tasks = Vec::new();
    for shard in 0..stream.shard_count() {
        let checkpoint = mapping
            .store
            .checkpoint_or_start(&consumer.name, &consumer.stream, shard, latest)
            .await?;
        tracing::info!(
            consumer = %consumer.name,
            shard = %kinesis::shard_id(shard),
            after = %kinesis::sequence_number(shard, checkpoint),
            "event source mapping reading"
        );
        tasks.push(tokio::spawn(run_shard(
            mapping.clone(),
            shard,
            checkpoint,
            stop.clone(),
        )));
    }
    Ok(tasks)
}

/// The shard reader: reads records after the last one dispatched, hands each to its lane, and moves the
/// checkpoint as lanes report records done.
async fn run_shard(
    mapping: Arc<Mapping>,
    shard: u32,
    checkpoint: i64,
    mut stop: watch::Receiver<bool>,
) {
    let consumer = &mapping.consumer;
    let lanes_n = consumer.parallelization_factor.max(1);
    let batch_size = consumer.batch_size.max(1) as usize;
    // Records read ahead of the lanes, at most.
    let read_ahead = (batch_size * lanes_n as usize * 2).max(64);
    // Each report carries the store's generation its records were handled under (see `Store::generation`).
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut lanes = Vec::new();
    let mut lane_tasks = Vec::new();
    for _ in 0..lanes_n {
        let (tx, rx) = mpsc::unbounded_channel::<StoredRecord>();
        lanes.push(tx);
        lane_tasks.push(tokio::spawn(run_lane(
            mapping.clone(),
            rx,
            done_tx.clone(),
            stop.clone(),
        )));
    }
    drop(done_tx);

    let mut appended = mapping.store.appended();
    let mut read_position = checkpoint;
    let mut stored = checkpoint;
    let mut pending: BTreeSet<i64> = BTreeSet::new();
    let mut generation = mapping.store.generation();
    loop {
        if stopping(&stop) {
            break;
        }
        if mapping.store.generation() != generation {
            // A commit failed: what was answered in it (items, checkpoints) is rolled back. Resume from the
            // last committed checkpoint; the records after it are delivered again.
            match mapping
                .store
                .committed_checkpoint(&consumer.name, &consumer.stream, shard)
                .await
            {
                Ok(committed) => {
                    generation = mapping.store.generation();
                    let committed = committed.unwrap_or(stored.min(checkpoint));
                    // While the disk is full the store has said so once; this is its consequence.
                    if mapping.store.is_full() {
                        tracing::debug!(consumer = %consumer.name, shard = %kinesis::shard_id(shard), after = %kinesis::sequence_number(shard, committed), "a commit failed; resuming from the last committed checkpoint");
                    } else {
                        tracing::info!(
                            consumer = %consumer.name,
                            shard = %kinesis::shard_id(shard),
                            after = %kinesis::sequence_number(shard, committed),
                            "a commit failed; resuming from the last committed checkpoint"
                        );
                    }
                    read_position = committed;
                    stored = committed;
                    pending.clear();
                }
                Err(e) => {
                    tracing::debug!(consumer = %consumer.name, error = %e, "cannot read the checkpoint; trying again");
                    tokio::select! {
                        _ = tokio::time::sleep(mapping.timings.poll_interval) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
        }
        // Read while there is room, as long as full pages come back.
        let mut more = true;
        while more && pending.len() < read_ahead {
            let want = read_ahead - pending.len();
            match mapping
                .store
                .records_after(&consumer.stream, shard, read_position, want)
                .await
            {
                Ok(records) => {
                    more = records.len() == want;
                    for record in records {
                        read_position = record.counter;
                        if !filter::delivers(&consumer.filters, &record.partition_key, &record.data)
                        {
                            // Filtered out: done at once, as on AWS (the iterator moves past it).
                            tracing::debug!(
                                consumer = %consumer.name,
                                sequence_number = %record.sequence_number(),
                                "record matches no filter pattern; skipped"
                            );
                            continue;
                        }
                        pending.insert(record.counter);
                        let lane = (kinesis::hash_key(&record.partition_key) % u128::from(lanes_n))
                            as usize;
                        let _ = lanes[lane].send(record);
                    }
                }
                Err(e) => {
                    tracing::warn!(consumer = %consumer.name, error = %e, "cannot read the stream; trying again");
                    more = false;
                }
            }
        }
        let checkpoint = pending.first().map_or(read_position, |oldest| oldest - 1);
        if checkpoint > stored {
            match mapping
                .store
                .set_checkpoint(
                    &consumer.name,
                    &consumer.stream,
                    shard,
                    checkpoint,
                    generation,
                )
                .await
            {
                Ok(()) => stored = checkpoint,
                // The store reports a full disk (and a failed commit) itself, once.
                Err(e) if e.is_disk_full() || mapping.store.generation() != generation => {
                    tracing::debug!(consumer = %consumer.name, error = %e, "cannot store the checkpoint")
                }
                Err(e) => {
                    tracing::warn!(consumer = %consumer.name, error = %e, "cannot store the checkpoint")
                }
            }
        }
        tokio::select! {
            _ = appended.changed() => {}
            Some(done) = done_rx.recv() => {
                done.apply(generation, &mut pending);
                while let Ok(done) = done_rx.try_recv() {
                    done.apply(generation, &mut pending);
                }
            }
            _ = tokio::time::sleep(mapping.timings.poll_interval) => {}
            _ = stop.changed() => {}
        }
    }

    // Stop: no new batches; the batches in flight finish and report, then the checkpoint is flushed.
    drop(lanes);
    while let Some(done) = done_rx.recv().await {
        done.apply(generation, &mut pending);
    }
    for task in lane_tasks {
        let _ = task.await;
    }
    let checkpoint = pending.first().map_or(read_position, |oldest| oldest - 1);
    if checkpoint > stored
        && let Err(e) = mapping
            .store
            .set_checkpoint(
                &consumer.name,
                &consumer.stream,
                shard,
                checkpoint,
                generation,
            )
            .await
    {
        tracing::warn!(consumer = %consumer.name, error = %e, "cannot store the final checkpoint");
    }
}

/// Records a lane is done with, handled under one generation of the store.
struct Done {
    generation: u64,
    counters: Vec<i64>,
}

impl Done {
    /// Takes the records off `pending`, unless they were handled before a commit failed (then their writes
    /// may be gone, and they are delivered again).
    fn apply(self, generation: u64, pending: &mut BTreeSet<i64>) {
        if self.generation == generation {
            for counter in self.counters {
                pending.remove(&counter);
            }
        }
    }
}

/// Waits while the store's disk is full (answers `false` if stopped first).
async fn wait_for_room(mapping: &Mapping, stop: &mut watch::Receiver<bool>) -> bool {
    let mut delay = mapping.timings.retry_backoff_initial;
    while mapping.store.is_full() {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return false,
        }
        if stopping(stop) {
            return false;
        }
        delay = (delay * 2).min(mapping.timings.retry_backoff_max);
    }
    true
}

/// Whether the pipeline is stopping (or its owner is gone).
fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// One lane: gathers batches (batch size, batching window, payload limit) and processes one at a time.
async fn run_lane(
    mapping: Arc<Mapping>,
    mut records: mpsc::UnboundedReceiver<StoredRecord>,
    done: mpsc::UnboundedSender<Done>,
    mut stop: watch::Receiver<bool>,
) {
    let batch_size = mapping.consumer.batch_size.max(1) as usize;
    let window = Duration::from_secs(u64::from(mapping.consumer.batching_window_seconds));
    let mut buffered: VecDeque<StoredRecord> = VecDeque::new();
    let mut open = true;
    loop {
        if stopping(&stop) {
            return;
        }
        if buffered.is_empty() {
            if !open {
                return;
            }
            tokio::select! {
                record = records.recv() => match record {
                    Some(record) => buffered.push_back(record),
                    None => return,
                },
                _ = stop.changed() => return,
            }
        }
        while let Ok(record) = records.try_recv() {
            buffered.push_back(record);
        }
        if buffered.len() < batch_size && !window.is_zero() && open {
            let deadline = tokio::time::Instant::now() + window;
            while buffered.len() < batch_size {
                tokio::select! {
                    record = records.recv() => match record {
                        Some(record) => buffered.push_back(record),
                        None => { open = false; break; }
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = stop.changed() => return,
                }
            }
        }
        let take = policy::batch_len(
            buffered
                .iter()
                .map(|r| policy::payload_size(r.data.len(), r.partition_key.len())),
            batch_size,
            MAX_INVOCATION_PAYLOAD_BYTES,
        );
        let batch: Vec<StoredRecord> = buffered.drain(..take).collect();
        if !process_batch(&mapping, batch, &done, &mut stop).await {
            return;
        }
    }
}

/// Processes one batch to the end (success or on-failure destination), as [`policy`] decides. Answers
/// `false` if it stopped early because the pipeline is shutting down (the unfinished records are then not
/// reported done).
async fn process_batch(
    mapping: &Mapping,
    batch: Vec<StoredRecord>,
    done: &mpsc::UnboundedSender<Done>,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let consumer = &mapping.consumer;
    let retry = RetryPolicy {
        retry_attempts: consumer.retry_attempts,
        bisect_on_error: consumer.bisect_on_error,
        backoff_initial: mapping.timings.retry_backoff_initial,
        backoff_max: mapping.timings.retry_backoff_max,
    };
    let report = |records: &[StoredRecord], generation: u64| {
        if !records.is_empty() {
            let _ = done.send(Done {
                generation,
                counters: records.iter().map(|r| r.counter).collect(),
            });
        }
    };
    // (records, retries used, invocations so far, last response)
    let mut work: VecDeque<(Vec<StoredRecord>, u32, u32, LastResponse)> = VecDeque::new();
    work.push_back((batch, 0, 0, LastResponse::NotInvoked));
    while let Some((mut records, mut retries, mut invocations, mut last)) = work.pop_front() {
        loop {
            let (expired, fresh) = policy::split_expired(
                records,
                |r| r.arrival_ms,
                consumer.maximum_record_age,
                now_ms(),
            );
            if !expired.is_empty() {
                let condition = Condition::RecordAgeExceeded;
                let generation = mapping.store.generation();
                if !send_on_failure(mapping, condition, &expired, invocations, last, stop).await {
                    return false;
                }
                report(&expired, generation);
            }
            records = fresh;
            if records.is_empty() {
                break;
            }
            // A full disk is not the function's failure: no invocation while it lasts, and one it spoiled
            // does not count (as Lambda does not count a throttled invocation against the retries).
            if !wait_for_room(mapping, stop).await {
                return false;
            }
            let generation = mapping.store.generation();
            let invoked = invoke(mapping, &records).await;
            if mapping.store.is_full() || mapping.store.generation() != generation {
                continue;
            }
            invocations += 1;
            let sequence_numbers: Vec<String> =
                records.iter().map(StoredRecord::sequence_number).collect();
            let outcome = match invoked {
                Ok(response) => policy::outcome(&sequence_numbers, Ok(&response)),
                Err(error) => {
                    tracing::warn!(consumer = %consumer.name, error = %error, records = records.len(), "function error");
                    policy::outcome(&sequence_numbers, Err(()))
                }
            };
            last = outcome.last_response();
            let finished = outcome.done(records.len());
            report(&records[..finished], generation);
            records.drain(..finished);
            match policy::next_step(&retry, outcome, records.len(), retries) {
                Next::Done => break,
                Next::Bisect { at } => {
                    let second = records.split_off(at);
                    work.push_front((second, retries, invocations, last));
                    work.push_front((records, retries, invocations, last));
                    break;
                }
                Next::GiveUp => {
                    let condition = Condition::RetryAttemptsExhausted;
                    let generation = mapping.store.generation();
                    if !send_on_failure(mapping, condition, &records, invocations, last, stop).await
                    {
                        return false;
                    }
                    report(&records, generation);
                    break;
                }
                Next::Retry { backoff } => {
                    retries += 1;
                    if stopping(stop) {
                        return false;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return false,
                    }
                }
            }
        }
    }
    true
}

/// Invokes the function with a batch: a panic, an `Err` or a timeout is a function error.
async fn invoke(mapping: &Mapping, records: &[StoredRecord]) -> InvokeResult {
    let mut event = KinesisEvent::default();
    event.records = records
        .iter()
        .map(|r| kinesis::event_record(&mapping.source, r))
        .collect();
    // Called inside the task, so that a panic while building the future is caught too.
    let handler = mapping.handler.clone();
    let call = tokio::spawn(async move { handler.invoke(event).await });
    match tokio::time::timeout(mapping.function_timeout, call).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(anyhow::anyhow!("the function panicked: {join}")),
        Err(_) => Err(anyhow::anyhow!(
            "Task timed out after {} seconds",
            mapping.function_timeout.as_secs()
        )),
    }
}

fn iso_millis(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The on-failure destination message for records given up on, in AWS's shape.
fn on_failure_message(
    mapping: &Mapping,
    condition: Condition,
    records: &[StoredRecord],
    invocations: u32,
    last: LastResponse,
) -> OnFailureMessage {
    let (first, last_record) = (&records[0], &records[records.len() - 1]);
    // As AWS writes it (compared with LocalStack's recordings of real AWS): records given up on for their
    // age carry no `responseContext` at all, and count one invocation even when none happened; after a
    // returned (partial or malformed) response `functionError` is `null`, after a function error `Unhandled`.
    let response_context = match (condition, last) {
        (Condition::RecordAgeExceeded, _) => None,
        (_, LastResponse::NotInvoked) => Some((0, None)),
        (_, LastResponse::Returned) => Some((200, None)),
        (_, LastResponse::FunctionError) => Some((200, Some("Unhandled".to_owned()))),
    };
    OnFailureMessage {
        request_context: OnFailureRequestContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            function_arn: mapping.function_arn.clone(),
            condition,
            approximate_invoke_count: invocations.max(1),
        },
        response_context: response_context.map(|(status_code, function_error)| {
            OnFailureResponseContext {
                status_code,
                executed_version: "$LATEST".to_owned(),
                function_error,
            }
        }),
        version: "1.0".to_owned(),
        timestamp: iso_millis(now_ms()),
        kinesis_batch_info: KinesisBatchInfo {
            shard_id: kinesis::shard_id(first.shard),
            start_sequence_number: first.sequence_number(),
            end_sequence_number: last_record.sequence_number(),
            approximate_arrival_of_first_record: iso_millis(first.arrival_ms),
            approximate_arrival_of_last_record: iso_millis(last_record.arrival_ms),
            batch_size: records.len(),
            stream_arn: mapping.stream_arn.clone(),
        },
    }
}

/// Writes the on-failure message, retrying until it is stored (answers `false` if stopped first: the records
/// then stay unfinished and are delivered again after a restart).
async fn send_on_failure(
    mapping: &Mapping,
    condition: Condition,
    records: &[StoredRecord],
    invocations: u32,
    last: LastResponse,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let message = on_failure_message(mapping, condition, records, invocations, last);
    // Plain strings and numbers: serialising cannot fail.
    let body = serde_json::to_string(&message).unwrap_or_default();
    tracing::warn!(
        consumer = %mapping.consumer.name,
        condition = condition.as_str(),
        records = records.len(),
        start = %records[0].sequence_number(),
        queue = %mapping.consumer.dead_letter_queue,
        "giving up on records; on-failure message sent to the dead-letter queue"
    );
    let mut delay = mapping.timings.retry_backoff_initial;
    loop {
        match mapping.dead_letters.send_body(body.clone()).await {
            Ok(()) => return true,
            // The store reports a full disk itself, once.
            Err(e) if e.is_disk_full() => {
                tracing::debug!(error = %e, "cannot write the on-failure message; retrying")
            }
            Err(e) => tracing::error!(error = %e, "cannot write the on-failure message; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.changed() => return false,
        }
        delay = (delay * 2).min(mapping.timings.retry_backoff_max);
    }
}
