//! The event source mapping emulator, one test per rule, with scripted functions in place of the writer:
//! batching (size and window), bisect-on-error, retries then the on-failure message, maximum record age,
//! partial batch responses (checkpoint just before the lowest failure; malformed responses fail the whole
//! batch), parallelization (order kept per partition key), starting positions, restart and shutdown, and
//! the mapping's runtime of its own.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use sluice_local::now_ms;
use sluice_local::{BatchHandler, InvokeResult, RunningPipeline};
use sluice_writer::{KinesisEvent, KinesisEventResponse};

const STREAM: &str = "GatewayEventsStream";

/// Every invocation's partition keys, in order of invocation.
type Calls = Arc<Mutex<Vec<Vec<String>>>>;

fn keys(event: &KinesisEvent) -> Vec<String> {
    event
        .records
        .iter()
        .map(|r| r.kinesis.partition_key.clone())
        .collect()
}

/// A function that logs each invocation's keys, then answers `script(invocation index, event)`.
fn scripted(
    calls: &Calls,
    script: impl Fn(usize, &KinesisEvent) -> InvokeResult + Send + Sync + 'static,
) -> Arc<dyn BatchHandler> {
    let calls = calls.clone();
    Arc::new(move |event: KinesisEvent| {
        let index = {
            let mut calls = calls.lock().unwrap();
            calls.push(keys(&event));
            calls.len() - 1
        };
        let result = script(index, &event);
        async move { result }
    })
}

fn handlers(name: &str, handler: Arc<dyn BatchHandler>) -> BTreeMap<String, Arc<dyn BatchHandler>> {
    BTreeMap::from([(name.to_owned(), handler)])
}

fn ok() -> InvokeResult {
    Ok(KinesisEventResponse::default())
}

fn delivered(calls: &Calls) -> usize {
    calls.lock().unwrap().iter().map(Vec::len).sum()
}

fn snapshot(calls: &Calls) -> Vec<Vec<String>> {
    calls.lock().unwrap().clone()
}

async fn append(running: &RunningPipeline, key: &str) -> i64 {
    append_at(running, key, now_ms()).await
}

async fn append_at(running: &RunningPipeline, key: &str, arrival_ms: i64) -> i64 {
    running
        .store
        .append(STREAM, 1, key, b"{}".to_vec(), arrival_ms)
        .await
        .expect("append")
        .counter
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_hold_at_most_batch_size_records_and_the_window_waits_for_more() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let settings = "batch_size = 3\nbatching_window_seconds = 2\nstarting_position = \"LATEST\"";
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", scripted(&calls, |_, _| ok())),
    )
    .await;
    let appended_at = Instant::now();
    for i in 0..7 {
        append(&running, &format!("k{i}")).await;
    }
    assert!(eventually(Duration::from_secs(10), || delivered(&calls) == 7).await);
    let batches = snapshot(&calls);
    assert_eq!(
        batches.iter().map(Vec::len).collect::<Vec<_>>(),
        [3, 3, 1],
        "{batches:?}"
    );
    // The last record waited for the window to close, not longer than needed.
    assert!(appended_at.elapsed() >= Duration::from_millis(1900));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_window_records_are_delivered_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let settings = "batch_size = 100\nbatching_window_seconds = 0";
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", scripted(&calls, |_, _| ok())),
    )
    .await;
    let started = Instant::now();
    append(&running, "now").await;
    assert!(eventually(Duration::from_secs(5), || delivered(&calls) == 1).await);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
    running.shutdown().await;
}

/// The event source mapping runs on a runtime of its own, as on AWS the function runs apart from the API: it
/// delivers records while the runtime that started the pipeline (the gateway's) cannot run anything. On a
/// shared runtime its batches queued behind every ready HTTP connection, and under load the consumer fell
/// behind the gateway (`cargo xtask bench --clients 128`: 0.32× of the accepted rate).
#[tokio::test(flavor = "current_thread")]
async fn the_mapping_delivers_while_the_runtime_that_started_it_is_blocked() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, "batch_size = 10\nbatching_window_seconds = 0"),
        handlers("event-writer", scripted(&calls, |_, _| ok())),
    )
    .await;
    // Appended from another thread, so that nothing below gives this runtime a chance to run.
    let store = running.store.clone();
    let appender = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for i in 0..5 {
                store
                    .append(STREAM, 1, &format!("k{i}"), b"{}".to_vec(), now_ms())
                    .await
                    .expect("append");
            }
        });
    });
    // Blocks this runtime's only thread until the five are delivered or 10 s have passed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivered(&calls) < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    appender.join().unwrap();
    assert_eq!(
        delivered(&calls),
        5,
        "records not delivered while the starting runtime was blocked: {:?}",
        snapshot(&calls)
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bisect_on_error_isolates_the_failing_record() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let settings =
        "batch_size = 8\nbatching_window_seconds = 2\nretry_attempts = 1\nbisect_on_error = true";
    let handler = scripted(&calls, |_, event| {
        if keys(event).iter().any(|k| k == "k5") {
            Err(anyhow::anyhow!("poison"))
        } else {
            ok()
        }
    });
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", handler),
    )
    .await;
    let mut sequence = HashMap::new();
    for i in 0..8 {
        let counter = append(&running, &format!("k{i}")).await;
        sequence.insert(format!("k{i}"), counter);
    }
    assert!(
        eventually(Duration::from_secs(10), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(8))
        .await
    );
    let expected: Vec<Vec<String>> = vec![
        strings(&["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]),
        strings(&["k0", "k1", "k2", "k3"]),
        strings(&["k4", "k5", "k6", "k7"]),
        strings(&["k4", "k5"]),
        strings(&["k4"]),
        strings(&["k5"]), // a batch of one cannot be split: it uses up the retry …
        strings(&["k5"]), // … and after the one retry goes to the on-failure destination
        strings(&["k6", "k7"]),
    ];
    assert_eq!(snapshot(&calls), expected);
    let dlq = messages(dir.path(), "LambdaDeadLetterQueue");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    let info = &dlq[0]["KinesisBatchInfo"];
    assert_eq!(
        dlq[0]["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(info["batchSize"], 1);
    let k5 = sluice_local::kinesis::sequence_number(0, sequence["k5"]);
    assert_eq!(info["startSequenceNumber"], k5.as_str());
    assert_eq!(info["endSequenceNumber"], k5.as_str());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_is_retried_then_described_on_the_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let settings =
        "batch_size = 10\nbatching_window_seconds = 1\nretry_attempts = 2\nbisect_on_error = false";
    let handler = scripted(&calls, |index, event| {
        let bad = keys(event).iter().any(|k| k.starts_with("bad"));
        // Function errors come as an Err or as a panic; both fail the whole batch.
        if bad && index == 1 {
            panic!("scripted panic");
        }
        if bad {
            Err(anyhow::anyhow!("scripted failure"))
        } else {
            ok()
        }
    });
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", handler),
    )
    .await;
    let first_arrival = now_ms();
    let a = append_at(&running, "bad1", first_arrival).await;
    append(&running, "bad2").await;
    let c = append(&running, "bad3").await;
    assert!(
        eventually(Duration::from_secs(10), || !messages(
            dir.path(),
            "LambdaDeadLetterQueue"
        )
        .is_empty())
        .await
    );
    let bad = strings(&["bad1", "bad2", "bad3"]);
    assert_eq!(
        snapshot(&calls),
        vec![bad.clone(), bad.clone(), bad],
        "one call and two retries"
    );

    let message = &messages(dir.path(), "LambdaDeadLetterQueue")[0];
    assert_eq!(message["version"], "1.0");
    assert!(
        message["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let context = &message["requestContext"];
    assert_eq!(context["condition"], "RetryAttemptsExhausted");
    assert_eq!(context["approximateInvokeCount"], 3);
    assert_eq!(
        context["functionArn"],
        "arn:aws:lambda:us-east-1:000000000000:function:sluice-event-writer"
    );
    assert!(
        context["requestId"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    assert_eq!(message["responseContext"]["functionError"], "Unhandled");
    assert_eq!(message["responseContext"]["executedVersion"], "$LATEST");
    let info = &message["KinesisBatchInfo"];
    assert_eq!(info["shardId"], "shardId-000000000000");
    assert_eq!(info["batchSize"], 3);
    assert_eq!(
        info["startSequenceNumber"],
        sluice_local::kinesis::sequence_number(0, a).as_str()
    );
    assert_eq!(
        info["endSequenceNumber"],
        sluice_local::kinesis::sequence_number(0, c).as_str()
    );
    assert_eq!(
        info["streamArn"],
        "arn:aws:kinesis:us-east-1:000000000000:stream/sluice-GatewayEventsStream"
    );
    let first = chrono::DateTime::parse_from_rfc3339(
        info["approximateArrivalOfFirstRecord"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(first.timestamp_millis(), first_arrival);
    assert!(info["approximateArrivalOfLastRecord"].is_string());

    // The shard moved on.
    append(&running, "good").await;
    assert!(
        eventually(Duration::from_secs(5), || snapshot(&calls).last()
            == Some(&strings(&["good"])))
        .await
    );
    assert!(
        eventually(Duration::from_secs(5), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(c + 1))
        .await
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_older_than_the_maximum_age_are_skipped_to_the_dead_letter_queue() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let settings = "batch_size = 10\nbatching_window_seconds = 1\nmaximum_record_age_seconds = 60\nstarting_position = \"TRIM_HORIZON\"";
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", scripted(&calls, |_, _| ok())),
    )
    .await;
    let old = now_ms() - 120_000;
    append_at(&running, "old1", old).await;
    append_at(&running, "old2", old + 1).await;
    append(&running, "fresh").await;
    assert!(eventually(Duration::from_secs(5), || delivered(&calls) == 1).await);
    assert_eq!(snapshot(&calls), vec![strings(&["fresh"])]);
    let dlq = messages(dir.path(), "LambdaDeadLetterQueue");
    assert_eq!(dlq.len(), 1, "{dlq:?}");
    assert_eq!(dlq[0]["requestContext"]["condition"], "RecordAgeExceeded");
    // AWS counts one invocation for records that expired before any, and sends no responseContext.
    assert_eq!(dlq[0]["requestContext"]["approximateInvokeCount"], 1);
    assert!(dlq[0].get("responseContext").is_none(), "{}", dlq[0]);
    assert_eq!(dlq[0]["KinesisBatchInfo"]["batchSize"], 2);
    assert!(
        eventually(Duration::from_secs(5), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(3))
        .await
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_response_checkpoints_just_before_the_lowest_failure() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let release = Arc::new(tokio::sync::Notify::new());
    let handler: Arc<dyn BatchHandler> = {
        let (calls, release) = (calls.clone(), release.clone());
        Arc::new(move |event: KinesisEvent| {
            let index = {
                let mut calls = calls.lock().unwrap();
                calls.push(keys(&event));
                calls.len() - 1
            };
            let release = release.clone();
            async move {
                let mut response = KinesisEventResponse::default();
                if index == 0 {
                    // r4 and r2 failed: the lowest is r2.
                    for record in &event.records {
                        if ["r4", "r2"].contains(&record.kinesis.partition_key.as_str()) {
                            response.add_failure(record.kinesis.sequence_number.clone());
                        }
                    }
                } else if index == 1 {
                    release.notified().await;
                }
                Ok(response)
            }
        })
    };
    let settings = "batch_size = 5\nbatching_window_seconds = 2\nretry_attempts = 3";
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", handler),
    )
    .await;
    for key in ["r1", "r2", "r3", "r4", "r5"] {
        append(&running, key).await;
    }
    assert!(eventually(Duration::from_secs(10), || snapshot(&calls).len() == 2).await);
    // The retry starts at the lowest failed record, and the checkpoint is just before it (after r1).
    assert_eq!(snapshot(&calls)[1], strings(&["r2", "r3", "r4", "r5"]));
    assert!(
        eventually(Duration::from_secs(2), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(1))
        .await
    );
    release.notify_one();
    assert!(
        eventually(Duration::from_secs(5), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(5))
        .await
    );
    assert_eq!(snapshot(&calls).len(), 2);
    assert!(messages(dir.path(), "LambdaDeadLetterQueue").is_empty());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_partial_batch_response_fails_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let calls = Calls::default();
    let handler = scripted(&calls, |index, _| {
        let json = match index {
            0 => {
                r#"{"batchItemFailures":[{"itemIdentifier":"not-a-sequence-number-of-this-batch"}]}"#
            }
            1 => r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
            2 => r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
            _ => r#"{"batchItemFailures":[]}"#,
        };
        Ok(serde_json::from_str(json).unwrap())
    });
    let settings = "batch_size = 5\nbatching_window_seconds = 1\nretry_attempts = 5";
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", handler),
    )
    .await;
    for key in ["m1", "m2", "m3"] {
        append(&running, key).await;
    }
    assert!(
        eventually(Duration::from_secs(10), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(3))
        .await
    );
    let all = strings(&["m1", "m2", "m3"]);
    assert_eq!(
        snapshot(&calls),
        vec![all.clone(), all.clone(), all.clone(), all]
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_lanes_keep_the_order_of_each_partition_key() {
    let dir = tempfile::tempdir().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let handler: Arc<dyn BatchHandler> = {
        let (in_flight, most, seen) = (in_flight.clone(), most.clone(), seen.clone());
        Arc::new(move |event: KinesisEvent| {
            let (in_flight, most, seen) = (in_flight.clone(), most.clone(), seen.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let pause = 5 + event.records.len() as u64 * 3;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                {
                    let mut seen = seen.lock().unwrap();
                    for r in &event.records {
                        seen.push((
                            r.kinesis.partition_key.clone(),
                            r.kinesis.sequence_number.clone(),
                        ));
                    }
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok(KinesisEventResponse::default())
            }
        })
    };
    let settings = "batch_size = 5\nbatching_window_seconds = 0\nparallelization_factor = 4";
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, settings),
        handlers("event-writer", handler),
    )
    .await;
    let store = running.store.clone();
    let appends = (0..200).map(|i| {
        let store = store.clone();
        async move {
            store
                .append(
                    STREAM,
                    1,
                    &format!("key-{}", i % 10),
                    b"{}".to_vec(),
                    now_ms(),
                )
                .await
                .unwrap()
        }
    });
    futures::future::join_all(appends).await;
    assert!(
        eventually(Duration::from_secs(20), || seen.lock().unwrap().len()
            == 200)
        .await
    );
    let seen = seen.lock().unwrap().clone();
    let mut per_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, seq) in seen {
        per_key.entry(key).or_default().push(seq);
    }
    assert_eq!(per_key.len(), 10);
    for (key, seqs) in &per_key {
        let mut sorted = seqs.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(seqs, &sorted, "records of {key} delivered in order, once");
    }
    assert!(most.load(Ordering::SeqCst) > 1, "lanes ran concurrently");
    assert!(
        most.load(Ordering::SeqCst) <= 4,
        "at most one batch per lane"
    );
    assert!(
        eventually(Duration::from_secs(5), || checkpoint(
            dir.path(),
            "event-writer"
        ) == Some(200))
        .await
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_starts_after_the_last_record_and_trim_horizon_at_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}\n[consumers.from-the-start]\nstream = \"GatewayEventsStream\"\ntable = \"EventTable\"\ndead_letter_queue = \"LambdaDeadLetterQueue\"\nstarting_position = \"TRIM_HORIZON\"\n",
        pipeline_toml(1, "starting_position = \"LATEST\"")
    );
    // Records already in the stream before either mapping exists.
    let pipeline = parse(&toml);
    let store =
        sluice_local::Store::open(dir.path(), &pipeline, sluice_local::Durability::Full).unwrap();
    for key in ["before1", "before2", "before3"] {
        store
            .append(STREAM, 1, key, b"{}".to_vec(), now_ms())
            .await
            .unwrap();
    }
    store.close().await;

    let (latest, horizon) = (Calls::default(), Calls::default());
    let mut h = handlers("event-writer", scripted(&latest, |_, _| ok()));
    h.insert("from-the-start".into(), scripted(&horizon, |_, _| ok()));
    let running = start_in(dir.path(), &toml, h).await;
    append(&running, "after").await;
    assert!(
        eventually(Duration::from_secs(5), || delivered(&horizon) == 4
            && delivered(&latest) == 1)
        .await
    );
    assert_eq!(snapshot(&latest).concat(), strings(&["after"]));
    assert_eq!(
        snapshot(&horizon).concat(),
        strings(&["before1", "before2", "before3", "after"])
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_stored_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let toml = pipeline_toml(1, "starting_position = \"LATEST\"");
    let first = Calls::default();
    let running = start_in(
        dir.path(),
        &toml,
        handlers("event-writer", scripted(&first, |_, _| ok())),
    )
    .await;
    for i in 0..5 {
        append(&running, &format!("a{i}")).await;
    }
    assert!(eventually(Duration::from_secs(5), || delivered(&first) == 5).await);
    running.shutdown().await;
    assert_eq!(
        checkpoint(dir.path(), "event-writer"),
        Some(5),
        "flushed on shutdown"
    );

    // Records sent while the pipeline is down are not skipped, even with LATEST.
    let store =
        sluice_local::Store::open(dir.path(), &parse(&toml), sluice_local::Durability::Full)
            .unwrap();
    for key in ["down1", "down2"] {
        store
            .append(STREAM, 1, key, b"{}".to_vec(), now_ms())
            .await
            .unwrap();
    }
    store.close().await;

    let second = Calls::default();
    let running = start_in(
        dir.path(),
        &toml,
        handlers("event-writer", scripted(&second, |_, _| ok())),
    )
    .await;
    append(&running, "b0").await;
    assert!(eventually(Duration::from_secs(5), || delivered(&second) == 3).await);
    assert_eq!(
        snapshot(&second).concat(),
        strings(&["down1", "down2", "b0"])
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_batch_in_flight_finish_and_flushes_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let started = Arc::new(tokio::sync::Notify::new());
    let finished = Arc::new(AtomicUsize::new(0));
    let handler: Arc<dyn BatchHandler> = {
        let (started, finished) = (started.clone(), finished.clone());
        Arc::new(move |_event: KinesisEvent| {
            let (started, finished) = (started.clone(), finished.clone());
            async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(500)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(KinesisEventResponse::default())
            }
        })
    };
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, ""),
        handlers("event-writer", handler),
    )
    .await;
    append(&running, "slow").await;
    tokio::time::timeout(Duration::from_secs(5), started.notified())
        .await
        .expect("the batch starts");
    running.shutdown().await;
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    assert_eq!(checkpoint(dir.path(), "event-writer"), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_past_the_retention_period_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = sluice_local::StartOptions::new(parse(&pipeline_toml(1, "")), dir.path());
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    opts.timings.retention_sweep_interval = Duration::from_millis(100);
    let calls = Calls::default();
    opts.handlers = handlers("event-writer", scripted(&calls, |_, _| ok()));
    let running = sluice_local::start(opts).await.unwrap();
    append_at(&running, "expired", now_ms() - 25 * 3_600_000).await;
    append(&running, "kept").await;
    let remaining = || {
        let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
        conn.prepare("SELECT partition_key FROM _sluice_records")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(Duration::from_secs(5), || remaining() == ["kept"]).await,
        "{:?}",
        remaining()
    );
    running.shutdown().await;
}
