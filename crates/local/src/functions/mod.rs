//! Functions run as real processes: the binary that is deployed (a `bootstrap` built for Lambda), started by
//! dev under a Lambda Runtime API it serves ([`runtime_api`]), invoked by the event source mapping emulator
//! like any [`BatchHandler`].
//!
//! As on Lambda, an instance (one process and its Runtime API) handles one invocation at a time; an invoke
//! takes an idle instance or starts one (a cold start). The event is the Kinesis event JSON AWS sends; the
//! answer is the partial batch response. A crash (the process exits), an error the runtime reports, or the
//! function's timeout (the process is killed; the next invoke starts a new one) is a function error, which
//! the mapping turns into retries, bisection and the on-failure destination. The process's stdout and
//! stderr are logged line by line, at info, under the target `sluice::function` with the function's name.
//!
//! The process gets Lambda's reserved variables (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`,
//! `…_MEMORY_SIZE`, `…_VERSION`, `AWS_LAMBDA_LOG_GROUP_NAME`, `…_LOG_STREAM_NAME`, `AWS_REGION`), the
//! function's environment as the generated Terraform sets it, and
//! [`SLUICE_LOCAL_ENDPOINT`](sluice_contract::env::SLUICE_LOCAL_ENDPOINT), where its tables, queues and
//! bucket are served. Nothing else of dev's environment (but `PATH`) leaks in.

mod runtime_api;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use sluice_config::{Consumer, Pipeline};
use sluice_contract::env;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::event_source_mapping::{BatchHandler, BoxFuture, InvokeResult};
use crate::sinks::{SqliteDeadLetters, SqliteTable};
use crate::{Store, TableCapacities, kinesis};
use runtime_api::{Answer, Instance, Invocation, Sinks};

/// The name of the stock writer function, which every consumer runs today.
pub const STOCK_WRITER: &str = "writer";

/// The function a consumer invokes, by name: the key of [`StartOptions::processes`](crate::StartOptions).
pub fn function_of(consumer: &Consumer) -> &str {
    consumer.function.as_deref().unwrap_or(STOCK_WRITER)
}

/// Every function of the user's (`[functions.NAME]` with a crate) that a consumer runs: built with cargo
/// (`cargo build -p <package> --bin NAME`, the debug profile: the same source cargo-lambda builds for AWS,
/// fast to rebuild) and run as a process; `dev --watch` rebuilds it when its crate changes. They cannot run
/// in-process: their code is the user's binary.
pub fn user_function_processes(
    pipeline: &Pipeline,
) -> Result<BTreeMap<String, FunctionProcess>, ProcessError> {
    let used: std::collections::BTreeSet<&str> = pipeline
        .consumers
        .values()
        .filter_map(|c| c.function.as_deref())
        .collect();
    let root = sluice_config::layout::project_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let mut out = BTreeMap::new();
    for f in pipeline
        .functions
        .custom
        .values()
        .filter(|f| used.contains(f.name.as_str()))
    {
        let build: Vec<String> = [
            "cargo",
            "build",
            "--quiet",
            "--package",
            &f.package,
            "--bin",
            &f.name,
        ]
        .map(String::from)
        .to_vec();
        eprintln!("sluice: building function {} ({})", f.name, build.join(" "));
        let status = std::process::Command::new(&build[0])
            .args(&build[1..])
            .current_dir(&root)
            // A build started from a test or from cargo itself must not take its manifest for ours.
            .env_remove("CARGO_MANIFEST_DIR")
            .status();
        let binary = target.join("debug").join(&f.name);
        if !status.is_ok_and(|s| s.success()) || !binary.is_file() {
            return Err(ProcessError::BuildFailed {
                name: f.name.clone(),
                command: build.join(" "),
            });
        }
        let mut process = FunctionProcess::new(binary);
        process.source = Some(FunctionSource {
            dirs: vec![f.crate_dir.clone()],
            build,
        });
        out.insert(f.name.clone(), process);
    }
    Ok(out)
}

/// A function dev runs as a process instead of in-process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionProcess {
    /// The binary: `target/lambda/<function>/bootstrap`, or any binary built with `lambda_runtime`.
    pub binary: PathBuf,
    /// Variables set on top of the function's own environment (tests, or a user's local settings).
    pub env: BTreeMap<String, String>,
    /// With `dev --watch`: where its source is, and how `binary` is rebuilt from it.
    pub source: Option<FunctionSource>,
}

/// A function's source folders and the command that rebuilds its binary (`dev --watch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSource {
    /// Watched recursively; a change under one (but in a `target` folder) rebuilds.
    pub dirs: Vec<PathBuf>,
    /// The program and its arguments, run from the project root.
    pub build: Vec<String>,
}

impl FunctionProcess {
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        FunctionProcess {
            binary: binary.into(),
            env: BTreeMap::new(),
            source: None,
        }
    }
}

/// The source of a stock function, by name: its binary's crate and its library's (relative to the project
/// root). User functions bring theirs with their `crate`.
pub fn stock_sources(name: &str) -> Vec<PathBuf> {
    match name {
        STOCK_WRITER => vec!["lambdas/writer".into(), "crates/writer".into()],
        _ => Vec::new(),
    }
}

/// Why a function cannot run as a process (`cargo xtask dev --process NAME`).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ProcessError {
    #[error("--process {name}: no consumer of this pipeline runs a function of that name")]
    #[diagnostic(
        code(sluice::dev::process_unknown),
        help("the functions consumers run here: {known}")
    )]
    Unknown { name: String, known: String },
    #[error("--process {name}: its binary {} is missing", path.display())]
    #[diagnostic(
        code(sluice::dev::process_missing),
        help(
            "build it with `cargo xtask build` (the binary that is deployed), then start dev again"
        )
    )]
    Missing { name: String, path: PathBuf },
    #[error("function {name}: `{command}` failed (its errors are above)")]
    #[diagnostic(
        code(sluice::dev::function_build),
        help("fix the function's crate, then start dev again")
    )]
    BuildFailed { name: String, command: String },
}

/// The functions named by `cargo xtask dev --process NAME`, each run from the binary `cargo xtask build`
/// leaves in `<lambda_dir>/NAME/bootstrap`, the one that is deployed.
pub fn processes_from_build(
    pipeline: &Pipeline,
    names: &[String],
    lambda_dir: &std::path::Path,
) -> Result<BTreeMap<String, FunctionProcess>, ProcessError> {
    let known: std::collections::BTreeSet<&str> =
        pipeline.consumers.values().map(function_of).collect();
    let mut out = BTreeMap::new();
    for name in names {
        if !known.contains(name.as_str()) {
            return Err(ProcessError::Unknown {
                name: name.clone(),
                known: known.iter().copied().collect::<Vec<_>>().join(", "),
            });
        }
        let path = lambda_dir.join(name).join("bootstrap");
        if !path.is_file() {
            return Err(ProcessError::Missing {
                name: name.clone(),
                path,
            });
        }
        let root = sluice_config::layout::project_root();
        let mut process = FunctionProcess::new(path);
        process.source = Some(FunctionSource {
            dirs: stock_sources(name).iter().map(|d| root.join(d)).collect(),
            // What made the binary: cargo-lambda, for the function's architecture, as deployed.
            build: ["cargo", "xtask", "build"].map(String::from).to_vec(),
        });
        out.insert(name.clone(), process);
    }
    Ok(out)
}

/// What one function's instances are started with.
struct Spec {
    /// The function's (physical) name, `AWS_LAMBDA_FUNCTION_NAME`, and its logs' prefix.
    name: String,
    function_arn: String,
    binary: PathBuf,
    env: Vec<(String, String)>,
    timeout: Duration,
}

/// A function whose invocations go to processes: a pool of instances, each one invocation at a time.
pub struct ProcessHandler {
    spec: Arc<Spec>,
    sinks: Arc<Sinks>,
    idle: Arc<Mutex<Vec<Running>>>,
}

/// The stock writer's environment for a consumer, as the generated Terraform sets it (`modules/function`):
/// the table's physical name and key, the dead-letter queue's URL (SQS's shape; its last segment names the
/// queue) and the dead-letter bucket.
pub fn writer_environment(pipeline: &Pipeline, consumer: &Consumer) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(table) = pipeline.tables.get(&consumer.table) {
        out.insert(env::TABLE_NAME.into(), table.physical_name.clone());
        out.insert(
            env::PARTITION_KEY_NAME.into(),
            table.partition_key.name.clone(),
        );
        out.insert(
            env::PARTITION_KEY_TYPE.into(),
            table.partition_key.kind.as_str().into(),
        );
        if let Some(sort) = &table.sort_key {
            out.insert(env::SORT_KEY_NAME.into(), sort.name.clone());
            out.insert(env::SORT_KEY_TYPE.into(), sort.kind.as_str().into());
        }
    }
    let queue = pipeline
        .queues
        .get(&consumer.dead_letter_queue)
        .map_or(consumer.dead_letter_queue.as_str(), |q| {
            q.physical_name.as_str()
        });
    out.insert(
        env::DEAD_LETTER_QUEUE_URL.into(),
        format!(
            "https://sqs.{}.amazonaws.com/{}/{queue}",
            pipeline.region,
            kinesis::LOCAL_ACCOUNT
        ),
    );
    out.insert(
        env::DEAD_LETTER_BUCKET.into(),
        crate::dead_letter_bucket(pipeline),
    );
    out
}

impl ProcessHandler {
    /// The handler of `consumer`'s function, run from `process`: every table and queue of the pipeline is
    /// served to it under its logical and physical name (the same SQLite tables the in-process writer
    /// writes, with the same write capacities).
    pub(crate) fn new(
        pipeline: &Pipeline,
        consumer: &Consumer,
        process: &FunctionProcess,
        store: &Store,
        capacities: &TableCapacities,
    ) -> Self {
        let mut tables = BTreeMap::new();
        for table in pipeline.tables.values() {
            let sqlite = SqliteTable::new(store.clone(), table)
                .with_capacity(capacities.get(&table.name).cloned());
            tables.insert(table.name.clone(), sqlite.clone());
            tables.insert(table.physical_name.clone(), sqlite);
        }
        let bucket = crate::dead_letter_bucket(pipeline);
        let mut queues = BTreeMap::new();
        for queue in pipeline.queues.values() {
            let sqlite = SqliteDeadLetters::new(store.clone(), queue.name.clone(), bucket.clone());
            queues.insert(queue.name.clone(), sqlite.clone());
            queues.insert(queue.physical_name.clone(), sqlite);
        }
        let bucket_writer = SqliteDeadLetters::new(
            store.clone(),
            consumer.dead_letter_queue.clone(),
            bucket.clone(),
        );
        let custom = consumer
            .function
            .as_ref()
            .and_then(|f| pipeline.functions.custom.get(f));
        let settings = custom.map_or(&pipeline.functions.writer, |f| &f.settings);
        let timeout_seconds = settings.timeout_seconds.max(1);
        let mut env: BTreeMap<String, String> = writer_environment(pipeline, consumer);
        if custom.is_some() {
            // A function of the user's: its tables (what the generated Terraform sets), not the writer's one.
            for key in [
                env::TABLE_NAME,
                env::PARTITION_KEY_NAME,
                env::PARTITION_KEY_TYPE,
                env::SORT_KEY_NAME,
                env::SORT_KEY_TYPE,
            ] {
                env.remove(key);
            }
            env.insert(
                env::CONSUMER_TABLES.into(),
                pipeline.function_tables_document(consumer),
            );
        }
        for (name, value) in [
            ("AWS_LAMBDA_FUNCTION_NAME", consumer.function_name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                settings.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout_seconds.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", consumer.function_name),
            ),
            ("AWS_REGION", pipeline.region.clone()),
            ("AWS_DEFAULT_REGION", pipeline.region.clone()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ] {
            env.insert(name.to_owned(), value);
        }
        if let Some(path) = std::env::var_os("PATH") {
            env.insert("PATH".into(), path.to_string_lossy().into_owned());
        }
        env.extend(process.env.clone());
        ProcessHandler {
            spec: Arc::new(Spec {
                name: consumer.function_name.clone(),
                function_arn: kinesis::function_arn(&pipeline.region, &consumer.function_name),
                binary: process.binary.clone(),
                env: env.into_iter().collect(),
                timeout: Duration::from_secs(u64::from(timeout_seconds)),
            }),
            sinks: Arc::new(Sinks {
                tables,
                queues,
                bucket: (bucket, bucket_writer),
            }),
            idle: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl BatchHandler for ProcessHandler {
    fn invoke(&self, event: KinesisEvent) -> BoxFuture<InvokeResult> {
        let (spec, sinks, idle) = (self.spec.clone(), self.sinks.clone(), self.idle.clone());
        Box::pin(async move {
            let warm = lock(&idle).pop();
            let mut running = match warm {
                Some(running) => running,
                None => Running::start(&spec, sinks).await?,
            };
            let answer = running.invoke(&spec, &event).await;
            match answer {
                // A function that answered (a response or an error it reported) stays warm.
                Ok(result) => {
                    lock(&idle).push(running);
                    result
                }
                // It crashed, failed to start or timed out: gone; the next invoke is a cold start.
                Err(error) => {
                    running.kill().await;
                    Err(error)
                }
            }
        })
    }
}

/// One instance: a process and its Runtime API server.
struct Running {
    invocations: mpsc::Sender<Invocation>,
    init_error: Option<oneshot::Receiver<Answer>>,
    /// The exit status's description, once the process has exited.
    exited: watch::Receiver<Option<String>>,
    kill: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    waiter: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
        // Dropping `kill` makes the waiter kill the process.
    }
}

impl Running {
    /// Starts the Runtime API server on a free loopback port, then the process.
    async fn start(spec: &Spec, sinks: Arc<Sinks>) -> Result<Running, anyhow::Error> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for the function's Runtime API: {e}"))?;
        let addr = listener.local_addr()?;
        let (invocations, invocations_rx) = mpsc::channel(1);
        let (init_tx, init_rx) = oneshot::channel();
        let router = runtime_api::router(Instance::new(invocations_rx, init_tx, sinks));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let mut command = tokio::process::Command::new(&spec.binary);
        command
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env(env::SLUICE_LOCAL_ENDPOINT, addr.to_string())
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!(
                    "{}/[$LATEST]{}",
                    chrono::Utc::now().format("%Y/%m/%d"),
                    uuid::Uuid::new_v4().simple()
                ),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                server.abort();
                // ENOEXEC: a binary for another architecture (e.g. an arm64 build on an x86_64 machine).
                let hint = if e.raw_os_error() == Some(8) {
                    "it is not an executable for this machine: build it for this machine's architecture"
                } else {
                    "build it with `cargo xtask build`, or give the binary's path"
                };
                return Err(anyhow::anyhow!(
                    "cannot start function {} from {}: {e} ({hint})",
                    spec.name,
                    spec.binary.display()
                ));
            }
        };
        tracing::info!(function = %spec.name, pid = child.id().unwrap_or_default(), runtime_api = %addr, "function instance started (cold start)");
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward_lines(spec.name.clone(), stdout));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_lines(spec.name.clone(), stderr));
        }
        let (exited_tx, exited) = watch::channel(None);
        let (kill, kill_rx) = oneshot::channel::<()>();
        let name = spec.name.clone();
        let waiter = tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let description = match status {
                Ok(status) => status.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::debug!(function = %name, status = %description, "function instance stopped");
            let _ = exited_tx.send(Some(description));
        });
        Ok(Running {
            invocations,
            init_error: Some(init_rx),
            exited,
            kill: Some(kill),
            server,
            waiter: Some(waiter),
        })
    }

    /// One invocation. `Ok(result)`: the function answered (its response, or an error it reported), and the
    /// instance can take the next one; `Err`: the instance is unusable (crashed, timed out, failed to start).
    async fn invoke(
        &mut self,
        spec: &Spec,
        event: &KinesisEvent,
    ) -> Result<InvokeResult, anyhow::Error> {
        let body = serde_json::to_vec(event)?;
        let deadline = tokio::time::Instant::now() + spec.timeout;
        let (answer_tx, answer_rx) = oneshot::channel();
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            deadline_ms: crate::now_ms() + i64::try_from(spec.timeout.as_millis()).unwrap_or(0),
            function_arn: spec.function_arn.clone(),
            trace_id: trace_id(),
            event: body,
            answer: answer_tx,
        };
        let request_id = invocation.request_id.clone();
        if self.invocations.send(invocation).await.is_err() {
            return Err(anyhow::anyhow!("the function's Runtime API is gone"));
        }
        let timed_out = || {
            anyhow::anyhow!(
                "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                spec.timeout.as_secs_f64()
            )
        };
        let mut exited = self.exited.clone();
        let exit = async move {
            let status = exited
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|s| s.clone());
            status.unwrap_or_default()
        };
        // Until the runtime first asks for an invocation, it may report an init error instead.
        let mut init_rx = self.init_error.take();
        let init_error = async {
            match init_rx.as_mut() {
                Some(rx) => rx.await.ok(),
                None => std::future::pending().await,
            }
        };
        let result = tokio::select! {
            answer = answer_rx => match answer {
                Ok(Answer::Response(bytes)) => Ok(Ok(partial_batch_response(&spec.name, &bytes))),
                Ok(Answer::Error { error_type, body }) => Ok(Err(anyhow::anyhow!(
                    "the function reported {error_type}: {}",
                    String::from_utf8_lossy(&body)
                ))),
                Err(_) => Err(anyhow::anyhow!("the function's Runtime API stopped")),
            },
            Some(answer) = init_error => {
                let (kind, body) = match answer {
                    Answer::Error { error_type, body } => (error_type, body),
                    Answer::Response(body) => ("Unhandled".to_owned(), body),
                };
                Err(anyhow::anyhow!(
                    "the function failed to start (init error {kind}): {}",
                    String::from_utf8_lossy(&body)
                ))
            }
            status = exit => Err(anyhow::anyhow!(
                "RequestId: {request_id} Error: Runtime exited with error: {status}"
            )),
            _ = tokio::time::sleep_until(deadline) => Err(timed_out()),
        };
        self.init_error = init_rx.filter(|rx| !rx.is_terminated());
        result
    }

    /// Kills the process and waits for it.
    async fn kill(mut self) {
        self.kill.take();
        if let Some(waiter) = self.waiter.take() {
            let _ = waiter.await;
        }
    }
}

/// The function's response read as Lambda reads a partial batch response: `null`, an object without
/// `batchItemFailures`, or a null or empty list is complete success; anything else that is not a list of
/// failures (invalid JSON included) fails the whole batch, as a returned response (`functionError` null),
/// which is how [`policy`](crate::event_source_mapping::policy) treats an identifier that is missing.
fn partial_batch_response(function: &str, bytes: &[u8]) -> KinesisEventResponse {
    use aws_lambda_events::event::streams::KinesisBatchItemFailure;
    let parsed = serde_json::from_slice::<serde_json::Value>(bytes)
        .map_err(|e| e.to_string())
        .and_then(|value| match value {
            serde_json::Value::Null => Ok(Vec::new()),
            serde_json::Value::Object(mut map) => match map.remove("batchItemFailures") {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(list) => serde_json::from_value::<Vec<KinesisBatchItemFailure>>(list)
                    .map_err(|e| format!("batchItemFailures: {e}")),
            },
            other => Err(format!("expected an object, got {other}")),
        });
    match parsed {
        Ok(failures) => {
            let mut response = KinesisEventResponse::default();
            response.batch_item_failures = failures;
            response
        }
        Err(e) => {
            tracing::warn!(function = %function, error = %e, "the function's response is not a partial batch response; the whole batch fails");
            let mut response = KinesisEventResponse::default();
            response.batch_item_failures = vec![KinesisBatchItemFailure::default()];
            response
        }
    }
}

/// Logs each line of a process's output under the function's name.
async fn forward_lines(function: String, output: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "sluice::function", function = %function, "{line}");
    }
}

/// An X-Ray trace header of Lambda's shape: `Root=1-<epoch seconds, hex>-<96 random bits>;Parent=…;Sampled=0`.
fn trace_id() -> String {
    let seconds = crate::now_ms() / 1000;
    let root = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{seconds:08x}-{};Parent={};Sampled=0",
        &root[..24],
        &parent[..16]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Pipeline {
        sluice_config::load(&sluice_config::layout::project_root().join("pipeline.toml"))
            .map_err(|e| format!("{e:?}"))
            .unwrap()
    }

    #[test]
    fn process_names_are_checked_against_the_consumers_functions_and_the_build() {
        let pipeline = shipped();
        let dir = tempfile::tempdir().unwrap();
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

        let unknown = processes_from_build(&pipeline, &names(&["writre"]), dir.path()).unwrap_err();
        assert!(matches!(&unknown, ProcessError::Unknown { known, .. } if known == "writer"));
        assert!(
            unknown.to_string().contains("--process writre"),
            "{unknown}"
        );

        let missing = processes_from_build(&pipeline, &names(&["writer"]), dir.path()).unwrap_err();
        assert!(
            missing
                .to_string()
                .contains(&dir.path().join("writer/bootstrap").display().to_string()),
            "{missing}"
        );

        std::fs::create_dir_all(dir.path().join("writer")).unwrap();
        std::fs::write(dir.path().join("writer/bootstrap"), b"").unwrap();
        let found = processes_from_build(&pipeline, &names(&["writer"]), dir.path()).unwrap();
        assert_eq!(
            found["writer"].binary,
            dir.path().join("writer").join("bootstrap")
        );
    }

    #[test]
    fn a_response_is_read_as_lambda_reads_a_partial_batch_response() {
        let read = |s: &str| partial_batch_response("f", s.as_bytes()).batch_item_failures;
        // Complete success.
        for ok in [
            "null",
            "{}",
            r#"{"batchItemFailures":null}"#,
            r#"{"batchItemFailures":[]}"#,
        ] {
            assert!(read(ok).is_empty(), "{ok}");
        }
        let one = read(r#"{"batchItemFailures":[{"itemIdentifier":"49"}]}"#);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].item_identifier.as_deref(), Some("49"));
        // Complete failure: one failure without an identifier.
        for bad in ["", "not json", "[]", r#"{"batchItemFailures":"x"}"#] {
            let failures = read(bad);
            assert_eq!(failures.len(), 1, "{bad}");
            assert_eq!(failures[0].item_identifier, None, "{bad}");
        }
    }

    #[test]
    fn the_writer_gets_the_environment_terraform_sets() {
        let pipeline = shipped();
        let consumer = pipeline.consumers.values().next().unwrap();
        let env = writer_environment(&pipeline, consumer);
        let table = &pipeline.tables[&consumer.table];
        assert_eq!(env[env::TABLE_NAME], table.physical_name);
        assert_eq!(env[env::PARTITION_KEY_NAME], table.partition_key.name);
        let queue = &pipeline.queues[&consumer.dead_letter_queue];
        assert_eq!(
            sluice_writer::local::queue_name(&env[env::DEAD_LETTER_QUEUE_URL]),
            queue.physical_name
        );
        assert_eq!(
            env[env::DEAD_LETTER_BUCKET],
            crate::dead_letter_bucket(&pipeline)
        );
    }
}
