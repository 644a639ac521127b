//! Functions as real processes under dev's Lambda Runtime API: the stock writer's binary (the one that is
//! deployed) stores events sent over HTTP, through dev's loopback seams, dead letters and the bucket
//! included; a test function (`examples/faulty_function.rs`, built with `lambda_runtime` like any function)
//! that crashes, panics, outlives its timeout or answers a partial failure gets AWS's retry, bisect and
//! on-failure behaviour, with the record's data kept in the stream.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use sluice_local::{FunctionProcess, RunningPipeline, StartOptions};

use crate::common::*;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds (a no-op when fresh) and finds a binary of the workspace's debug build.
fn built(args: &[&str], relative: &str) -> PathBuf {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // The variables cargo sets for this test's own package: a build script that watches one (ring watches
    // CARGO_MANIFEST_DIR) would otherwise be rebuilt, and everything after it, on every run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name == "CARGO_MANIFEST_DIR"
            || name == "CARGO_MANIFEST_PATH"
            || name == "CARGO_CRATE_NAME"
            || name == "CARGO_PRIMARY_PACKAGE"
            || name == "CARGO_TARGET_TMPDIR"
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_")
        {
            command.env_remove(name.as_ref());
        }
    }
    let status = command
        .arg("build")
        .arg("--quiet")
        .args(args)
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let binary = target.join("debug").join(relative);
    assert!(binary.exists(), "{} is missing", binary.display());
    binary
}

/// The stock writer's binary (`lambdas/writer`, bin `writer`): what cargo-lambda packs as `bootstrap`.
fn writer_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| built(&["-p", "sluice-writer-lambda", "--bin", "writer"], "writer"))
        .clone()
}

fn faulty_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            built(
                &["-p", "sluice-local", "--example", "faulty_function"],
                "examples/faulty_function",
            )
        })
        .clone()
}

/// The pipeline with the writer function run as a process from `binary`.
async fn start_with_process(state_dir: &Path, toml: &str, binary: PathBuf) -> RunningPipeline {
    let mut opts = StartOptions::new(parse(toml), state_dir);
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    opts.processes
        .insert("writer".to_owned(), FunctionProcess::new(binary));
    sluice_local::start(opts)
        .await
        .expect("the local pipeline starts")
}

/// Sends `(id, body)` events and answers each one's sequence number.
async fn send_all(running: &RunningPipeline, events: &[(&str, &str)]) -> BTreeMap<String, String> {
    let client = client();
    let mut acked = BTreeMap::new();
    for (id, body) in events {
        let response = submit(&client, &running.base_url(), id, body).await;
        assert_eq!(response.status(), 200, "event {id} is accepted");
        let answer: Value = response.json().await.unwrap();
        acked.insert(
            (*id).to_owned(),
            answer["SequenceNumber"].as_str().unwrap().to_owned(),
        );
    }
    acked
}

/// The record's data as stored in the stream.
fn stream_data(state_dir: &Path, partition_key: &str) -> String {
    let conn = rusqlite::Connection::open(db_path(state_dir)).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let data: Vec<u8> = conn
        .query_row(
            "SELECT data FROM _sluice_records WHERE partition_key = ?1",
            [partition_key],
            |r| r.get(0),
        )
        .unwrap();
    String::from_utf8(data).unwrap()
}

/// Waits for one on-failure message and checks it names exactly the record `id` (and that record's data is
/// still in the stream, for `cargo xtask dlq` to read); answers the message.
async fn one_on_failure_message_for(
    state_dir: &Path,
    acked: &BTreeMap<String, String>,
    id: &str,
    word: &str,
) -> Value {
    assert!(
        eventually(Duration::from_secs(30), || !messages(
            state_dir,
            "LambdaDeadLetterQueue"
        )
        .is_empty())
        .await,
        "an on-failure message is sent"
    );
    // Nothing else follows.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = messages(state_dir, "LambdaDeadLetterQueue");
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let message = messages[0].clone();
    let info = &message["KinesisBatchInfo"];
    assert_eq!(info["batchSize"], 1, "{message:#}");
    assert_eq!(info["startSequenceNumber"], acked[id].as_str());
    assert_eq!(info["endSequenceNumber"], acked[id].as_str());
    assert_eq!(
        message["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert!(
        stream_data(state_dir, id).contains(word),
        "the record's data is kept"
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_binary_stores_events_and_dead_letters_through_dev() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_with_process(
        dir.path(),
        &pipeline_toml(1, "batch_size = 10"),
        writer_binary(),
    )
    .await;
    // Over DynamoDB's 400 KB item limit, and its dead-letter message over the queue's 256 KiB: the data goes
    // to the bucket (the objects seam) and a pointer to the queue (the messages seam).
    let huge = format!(r#"{{"blob":"{}"}}"#, "x".repeat(450 * 1024));
    let acked = send_all(
        &running,
        &[
            ("one", r#"{"n":1}"#),
            ("two", r#"{"n":2}"#),
            ("huge", &huge),
            ("three", r#"{"n":3}"#),
        ],
    )
    .await;
    let items = all_acknowledged_present_once(
        dir.path(),
        &acked
            .iter()
            .filter(|(id, _)| *id != "huge")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
    .await;
    assert_eq!(
        items["two"][sluice_contract::writer::attribute::PAYLOAD]["n"],
        2,
        "{:#}",
        items["two"]
    );
    assert!(!items.contains_key("huge"));
    assert!(
        eventually(Duration::from_secs(10), || messages(
            dir.path(),
            "LambdaDeadLetterQueue"
        )
        .len()
            == 1)
        .await
    );
    let message = &messages(dir.path(), "LambdaDeadLetterQueue")[0];
    assert_eq!(message["reason"], "ItemTooLarge", "{message:#}");
    assert_eq!(message["sequenceNumber"], acked["huge"].as_str());
    let location = &message["dataLocation"];
    let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    let data: Vec<u8> = conn
        .query_row(
            "SELECT data FROM _sluice_objects WHERE bucket = ?1 AND key = ?2",
            [
                location["bucket"].as_str().unwrap(),
                location["key"].as_str().unwrap(),
            ],
            |r| r.get(0),
        )
        .expect("the data is in the local bucket");
    assert_eq!(data.len() as u64, location["size"].as_u64().unwrap());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_fails_the_batch_and_bisection_isolates_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_with_process(
        dir.path(),
        &pipeline_toml(
            1,
            "batch_size = 10\nbatching_window_seconds = 1\nbisect_on_error = true\nretry_attempts = 1",
        ),
        faulty_binary(),
    )
    .await;
    let acked = send_all(
        &running,
        &[
            ("a1", r#"{"n":1}"#),
            ("a2", r#"{"n":2}"#),
            ("boom", r#"{"say":"crash"}"#),
            ("b1", r#"{"n":3}"#),
            ("b2", r#"{"n":4}"#),
        ],
    )
    .await;
    let message = one_on_failure_message_for(dir.path(), &acked, "boom", "crash").await;
    assert_eq!(message["responseContext"]["functionError"], "Unhandled");
    let items = items(dir.path(), "EventTable");
    for id in ["a1", "a2", "b1", "b2"] {
        assert!(items.contains_key(id), "{id} is stored around the crash");
    }
    // A crashed instance is replaced: the pipeline still stores new events.
    let more = send_all(&running, &[("after", r#"{"n":5}"#)]).await;
    all_acknowledged_present_once(dir.path(), &more).await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_reported_on_the_runtime_api_is_a_function_error() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_with_process(
        dir.path(),
        &pipeline_toml(
            1,
            "batch_size = 10\nbatching_window_seconds = 1\nbisect_on_error = true\nretry_attempts = 0",
        ),
        faulty_binary(),
    )
    .await;
    let acked = send_all(
        &running,
        &[
            ("a1", r#"{"n":1}"#),
            ("bad", r#"{"say":"panic"}"#),
            ("b1", r#"{"n":2}"#),
        ],
    )
    .await;
    let message = one_on_failure_message_for(dir.path(), &acked, "bad", "panic").await;
    assert_eq!(message["responseContext"]["functionError"], "Unhandled");
    let items = items(dir.path(), "EventTable");
    assert!(items.contains_key("a1") && items.contains_key("b1"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_past_its_timeout_is_killed_and_its_batch_fails() {
    let dir = tempfile::tempdir().unwrap();
    let toml = pipeline_toml(
        1,
        "batch_size = 10\nbatching_window_seconds = 1\nbisect_on_error = true\nretry_attempts = 0",
    ) + "\n[functions.writer]\ntimeout_seconds = 1\n";
    let running = start_with_process(dir.path(), &toml, faulty_binary()).await;
    let acked = send_all(
        &running,
        &[
            ("a1", r#"{"n":1}"#),
            ("slow", r#"{"say":"sleep"}"#),
            ("b1", r#"{"n":2}"#),
        ],
    )
    .await;
    let message = one_on_failure_message_for(dir.path(), &acked, "slow", "sleep").await;
    assert_eq!(message["responseContext"]["functionError"], "Unhandled");
    let items = items(dir.path(), "EventTable");
    assert!(items.contains_key("a1") && items.contains_key("b1"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_batch_response_retries_from_the_failed_record() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_with_process(
        dir.path(),
        &pipeline_toml(
            1,
            "batch_size = 10\nbatching_window_seconds = 1\nretry_attempts = 2",
        ),
        faulty_binary(),
    )
    .await;
    let acked = send_all(
        &running,
        &[("a1", r#"{"n":1}"#), ("refused", r#"{"say":"fail"}"#)],
    )
    .await;
    let message = one_on_failure_message_for(dir.path(), &acked, "refused", "fail").await;
    // A returned response, not a function error: AWS writes `functionError: null`; 1 + 2 retries.
    assert_eq!(message["responseContext"]["functionError"], Value::Null);
    assert_eq!(message["requestContext"]["approximateInvokeCount"], 3);
    assert!(items(dir.path(), "EventTable").contains_key("a1"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_watch_a_change_to_the_functions_source_rebuilds_and_restarts_it() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().unwrap();
    let (state, source, bin) = (
        dir.path().join("state"),
        dir.path().join("src"),
        dir.path().join("bin"),
    );
    std::fs::create_dir_all(&source).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    // The function as first built: it exits at once, so every invocation fails (a crash).
    let bootstrap = bin.join("bootstrap");
    std::fs::write(&bootstrap, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Its "build": the stock writer's binary becomes the bootstrap.
    let build = format!(
        "cp '{}' '{}.new' && mv '{}.new' '{}'",
        writer_binary().display(),
        bootstrap.display(),
        bootstrap.display(),
        bootstrap.display()
    );
    let toml = pipeline_toml(1, "retry_attempts = 10000");
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, &toml).unwrap();

    let mut opts = StartOptions::new(parse(&toml), &state);
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    let mut process = FunctionProcess::new(&bootstrap);
    process.source = Some(sluice_local::FunctionSource {
        dirs: vec![source.clone()],
        build: vec!["sh".into(), "-c".into(), build],
    });
    opts.processes.insert("writer".to_owned(), process);
    let mut running = sluice_local::start(opts).await.unwrap();
    let base = running.base_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watching = tokio::spawn(async move {
        sluice_local::watch(&mut running, &config, async {
            let _ = stopped.await;
        })
        .await;
        running.shutdown().await;
    });

    let response = submit(&client(), &base, "e1", r#"{"n":1}"#).await;
    assert_eq!(response.status(), 200);
    // Retried, never stored, while the function crashes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&state, "EventTable"), 0);

    std::fs::write(source.join("main.rs"), "// edited\n").unwrap();
    assert!(
        eventually(Duration::from_secs(30), || count(&state, "EventTable") == 1).await,
        "after the rebuild the new binary stores the event"
    );
    assert!(messages(&state, "LambdaDeadLetterQueue").is_empty());
    let _ = stop.send(());
    watching.await.unwrap();
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_output_is_logged_line_by_line_with_its_name() {
    let captured = Captured::default();
    let writer = captured.clone();
    // nextest runs each test in a process of its own: the global subscriber is this test's.
    let _ = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let running = start_with_process(dir.path(), &pipeline_toml(1, ""), faulty_binary()).await;
    let acked = send_all(&running, &[("e1", r#"{"n":1}"#)]).await;
    all_acknowledged_present_once(dir.path(), &acked).await;
    let output = || String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(
        eventually(Duration::from_secs(5), || output()
            .contains("faulty function ready"))
        .await,
        "{}",
        output()
    );
    let line = output()
        .lines()
        .find(|l| l.contains("faulty function ready"))
        .unwrap()
        .to_owned();
    assert!(line.contains("sluice::function"), "{line}");
    assert!(line.contains("function=sluice-event-writer"), "{line}");
    running.shutdown().await;
}
