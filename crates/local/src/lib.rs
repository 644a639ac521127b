//! `cargo xtask dev`: the whole pipeline of `pipeline.toml` on 127.0.0.1, no AWS account.
//!
//! ```text
//! client ─▶ gateway (axum; sluice-contract; authorizer library) ─▶ stream log (SQLite; MD5 shards, sequence numbers)
//!                                                                  │
//!              event source mapping emulator (batching, retries, bisect, partial batch response) ◀─┘
//!                                  │
//!                                  ▼
//!                writer library (handle_batch) ─▶ SQLite tables / dead-letter queue tables
//! ```
//!
//! Everything lives in one SQLite database, `<state-dir>/pipeline.db` (see [`store`] for its tables): a
//! smoke test or `sqlite3` reads an item with `SELECT item FROM "EventTable" WHERE "eventId" = ?` and the
//! dead-letter queue with `SELECT body FROM "LambdaDeadLetterQueue"`; the data of a dead letter too large for
//! the queue is in `SELECT data FROM _sluice_objects WHERE bucket = ? AND key = ?` (the message's
//! `dataLocation`).
//!
//! [`run`] is the command's runtime; [`start`] runs the same pipeline inside a test (port 0 is fine) and hands back a
//! [`RunningPipeline`] with its address and a clean [`RunningPipeline::shutdown`].

mod changes;
mod credentials;
mod dev_record;
pub mod dlq;
pub mod event_source_mapping;
mod functions;
mod gateway;
mod http;
pub mod inspect;
pub mod kinesis;
mod reload;
pub mod sinks;
mod state_lock;
mod store;
pub mod throttle;

/// The default port of `cargo xtask dev` and of the commands that talk to it (`smoke-test --local`).
pub const DEFAULT_PORT: u16 = 4566;

/// The default state dir of `cargo xtask dev` and of the commands that read it (`--local`).
pub const DEFAULT_STATE_DIR: &str = ".sluice";

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use changes::Changes;
pub use credentials::{
    CredentialsError, CredentialsFile, LocalCredentials, Origin, PreviousCredentials,
    credentials_path, revoke_previous, rotate,
};
pub use dev_record::{DEV_RECORD, DevRecord, dev_record_path, running_dev};
pub use event_source_mapping::{BatchHandler, InvokeResult, Timings};
pub use functions::{
    FunctionProcess, FunctionSource, ProcessError, ProcessHandler, STOCK_WRITER, function_of,
    processes_from_build, stock_sources, user_function_processes, writer_environment,
};
pub use gateway::REQUEST_LOG;
pub use http::ServeLimits;
pub use reload::watch;
pub use state_lock::{DEV_LOCK, LockError, StateLock};
pub use store::{
    Behind, Durability, HWM_FILE, Recovery, Store, StoreError, now_ms, quote_ident, recover,
};

use sluice_config::{PartitionKeySource, Pipeline};

/// The options of `cargo xtask dev`.
pub struct DevOptions {
    /// The pipeline file, as named in the summary.
    pub config: PathBuf,
    pub port: u16,
    pub state_dir: PathBuf,
    pub credentials: Option<String>,
    /// Apply AWS's limits (see [`throttle`]).
    pub aws_limits: bool,
    /// How hard a commit syncs (`--sync`).
    pub durability: Durability,
    /// Reload pipeline.toml when it or a schema file it names changes (`--watch`).
    pub watch: bool,
    /// Recover a damaged database instead of refusing it (`--recover`).
    pub recover: bool,
    /// Functions run as processes, from the binaries `cargo xtask build` made (`--process`).
    pub processes: Vec<String>,
}

/// Why the local pipeline could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DevError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Locked(#[from] LockError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("cannot open the local database: {0}")]
    #[diagnostic(
        code(sluice::dev::store),
        help("check that the state dir is writable and its disk has room")
    )]
    Store(#[from] StoreError),
    #[error("{0}")]
    #[diagnostic(
        code(sluice::dev::damaged),
        help(
            "it is not served. `cargo xtask dev --recover` moves the damaged file (with its WAL) into <state-dir>/damaged-<time>/, keeps every row that can still be read in a new pipeline.db, and starts; or remove the state dir to start empty"
        )
    )]
    Damaged(StoreError),
    #[error("{0}")]
    #[diagnostic(
        code(sluice::dev::lost_writes),
        help(
            "if you still have the WAL (pipeline.db-wal, from the moment the process stopped), put it back beside pipeline.db and start again; otherwise `cargo xtask dev --recover` accepts the loss: the shard counters continue after the last sequence number handed out, so none is given twice"
        )
    )]
    LostWrites(StoreError),
    #[error("cannot listen on {addr}: {source}")]
    #[diagnostic(
        code(sluice::dev::bind),
        help("pick another port with --port, or stop what is using this one")
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Process(#[from] ProcessError),
    #[error("cannot start the runtime: {0}")]
    #[diagnostic(code(sluice::dev::runtime))]
    Runtime(std::io::Error),
}

/// Everything [`start`] needs.
pub struct StartOptions {
    pub pipeline: Pipeline,
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    pub state_dir: PathBuf,
    /// `user:pass`; otherwise the stored or a generated set.
    pub credentials: Option<String>,
    pub durability: Durability,
    pub timings: Timings,
    /// The gateway's timeouts and connection limit.
    pub serve: ServeLimits,
    /// Apply AWS's stage throttle, shard write limits and table write capacity (`--unlimited` turns them off).
    pub aws_limits: bool,
    /// Handlers to invoke instead of the writer, by consumer name (tests inject scripted functions here).
    pub handlers: BTreeMap<String, Arc<dyn BatchHandler>>,
    /// A damaged database is recovered ([`recover`]) instead of refused (`cargo xtask dev --recover`).
    pub recover: bool,
    /// Functions run as processes (the deployed binary under a Runtime API dev serves), by function name
    /// ([`function_of`]); the others run in-process.
    pub processes: BTreeMap<String, FunctionProcess>,
}

impl StartOptions {
    /// Loopback, a free port, durable commits ([`Durability::Full`]), default timings, the writer for every
    /// consumer.
    pub fn new(pipeline: Pipeline, state_dir: impl Into<PathBuf>) -> Self {
        StartOptions {
            pipeline,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.into(),
            credentials: None,
            durability: Durability::default(),
            timings: Timings::default(),
            serve: ServeLimits::default(),
            aws_limits: true,
            handlers: BTreeMap::new(),
            recover: false,
            processes: BTreeMap::new(),
        }
    }
}

/// A running local pipeline.
pub struct RunningPipeline {
    /// Where the gateway listens.
    pub addr: SocketAddr,
    pub state_dir: PathBuf,
    pub credentials: LocalCredentials,
    pub credentials_origin: Origin,
    pub pipeline: Arc<Pipeline>,
    /// Whether AWS's limits are applied.
    pub aws_limits: bool,
    /// How hard a commit syncs.
    pub durability: Durability,
    /// The database (tests may append records directly, e.g. with an old arrival time).
    pub store: Store,
    /// What answers requests; [`RunningPipeline::reload`] swaps it.
    gateway: gateway::SharedGateway,
    stop_gateway: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    consumers: Consumers,
    /// What [`RunningPipeline::reload`] starts the new consumers and gateway with.
    handlers: BTreeMap<String, Arc<dyn BatchHandler>>,
    processes: BTreeMap<String, FunctionProcess>,
    timings: Timings,
    serve: ServeLimits,
    /// Dropped last: the event source mappings' runtime.
    consumer_runtime: ConsumerRuntime,
    /// The state dir's lock, held as long as the pipeline (released when it is dropped).
    _lock: StateLock,
}

impl RunningPipeline {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Each route's URLs (one per stream it accepts), with other path parameters left as `{name}`.
    pub fn route_urls(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for route in self.pipeline.routes.values() {
            for stream in route.streams() {
                let url = format!(
                    "{}/{}{}",
                    self.base_url(),
                    self.pipeline.stage,
                    route.concrete_path(stream)
                );
                out.push((route.name.clone(), route.method.to_string(), url));
            }
        }
        out
    }

    /// Clean stop: the gateway stops accepting and finishes the requests in flight; then the event source
    /// mappings finish their batches in flight and store their checkpoints; then the database closes.
    pub async fn shutdown(self) {
        let _ = self.stop_gateway.send(true);
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the gateway stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the gateway task failed"),
        }
        self.consumers.stop().await;
        self.store.close().await;
    }
}

/// The event source mappings and the retention sweep of one pipeline (a reload stops them and starts the
/// new pipeline's).
struct Consumers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Consumers {
    /// None running.
    fn none() -> Self {
        Consumers {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// Stops them: the batches in flight finish and the checkpoints are stored.
    async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Starts the event source mapping of every consumer (each shard's starting position is stored before this
/// returns) and the retention sweep.
async fn start_consumers(
    pipeline: &Arc<Pipeline>,
    store: &Store,
    runtime: &ConsumerRuntime,
    handlers: &BTreeMap<String, Arc<dyn BatchHandler>>,
    processes: &BTreeMap<String, FunctionProcess>,
    timings: Timings,
    aws_limits: bool,
) -> Result<Consumers, DevError> {
    let (stop, stop_rx) = watch::channel(false);
    let mut consumers = Consumers {
        stop,
        tasks: Vec::new(),
    };
    let capacities = table_capacities(pipeline, aws_limits);
    for consumer in pipeline.consumers.values() {
        let handler = match (
            handlers.get(&consumer.name),
            processes.get(function_of(consumer)),
        ) {
            (Some(handler), _) => Some(handler.clone()),
            (None, Some(process)) => Some(Arc::new(ProcessHandler::new(
                pipeline,
                consumer,
                process,
                store,
                &capacities,
            )) as Arc<dyn BatchHandler>),
            (None, None) => writer_handler(pipeline, consumer, store, &capacities),
        };
        let Some(handler) = handler else { continue };
        let (p, c, s, stop) = (
            pipeline.clone(),
            consumer.clone(),
            store.clone(),
            stop_rx.clone(),
        );
        let started = match runtime
            .spawn(
                async move { event_source_mapping::start(&p, &c, s, handler, timings, stop).await },
            )
            .await
        {
            Ok(started) => started.map_err(DevError::from),
            Err(e) => Err(DevError::Runtime(std::io::Error::other(e.to_string()))),
        };
        match started {
            Ok(t) => consumers.tasks.extend(t),
            Err(e) => {
                consumers.stop().await;
                return Err(e);
            }
        }
    }
    consumers.tasks.push(tokio::spawn(retention_sweep(
        pipeline.clone(),
        store.clone(),
        timings,
        stop_rx,
    )));
    Ok(consumers)
}

/// The local dead-letter bucket of a pipeline (rows of `_sluice_objects` with this `bucket`):
/// `<pipeline name, lowercase>-dead-letters`. (On AWS the bucket's name starts so, then a unique suffix.)
pub fn dead_letter_bucket(pipeline: &Pipeline) -> String {
    format!("{}-dead-letters", pipeline.name.to_ascii_lowercase())
}

/// The writer library, in-process, over the SQLite table and dead-letter queue of a consumer.
fn writer_handler(
    pipeline: &Pipeline,
    consumer: &sluice_config::Consumer,
    store: &Store,
    capacities: &TableCapacities,
) -> Option<Arc<dyn BatchHandler>> {
    let table = pipeline.tables.get(&consumer.table)?;
    let config = Arc::new(sluice_writer::WriterConfig {
        table_name: table.name.clone(),
        partition_key: table.partition_key.clone(),
        sort_key: table.sort_key.clone(),
        write: sluice_writer::WritePolicy::default(),
    });
    let capacity = capacities.get(&table.name).cloned();
    let table = sinks::SqliteTable::new(store.clone(), table).with_capacity(capacity);
    let dead_letters = sinks::SqliteDeadLetters::new(
        store.clone(),
        consumer.dead_letter_queue.clone(),
        dead_letter_bucket(pipeline),
    );
    let handler = move |event: sluice_writer::KinesisEvent| {
        let (config, table, dead_letters) = (config.clone(), table.clone(), dead_letters.clone());
        async move { Ok(sluice_writer::handle_batch(&config, &table, &dead_letters, event).await) }
    };
    Some(Arc::new(handler))
}

/// Each provisioned table's write capacity (by table name), shared by every consumer writing it.
type TableCapacities = BTreeMap<String, Arc<std::sync::Mutex<throttle::TokenBucket>>>;

/// The write capacities of the pipeline's provisioned tables, when AWS's limits are on (else none).
fn table_capacities(pipeline: &Pipeline, aws_limits: bool) -> TableCapacities {
    if !aws_limits {
        return TableCapacities::new();
    }
    pipeline
        .tables
        .values()
        .filter_map(|t| {
            let bucket = throttle::table_write_bucket(t.billing)?;
            Some((t.name.clone(), Arc::new(std::sync::Mutex::new(bucket))))
        })
        .collect()
}

/// Deletes, every sweep interval, the records of each stream older than its retention period.
async fn retention_sweep(
    pipeline: Arc<Pipeline>,
    store: Store,
    timings: Timings,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        for stream in pipeline.streams.values() {
            let cutoff = now_ms() - i64::from(stream.retention_hours) * 3_600_000;
            match store.delete_records_before(&stream.name, cutoff).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(stream = %stream.name, records = n, "retention: expired records deleted")
                }
                Err(e) => {
                    tracing::warn!(stream = %stream.name, error = %e, "retention sweep failed")
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(timings.retention_sweep_interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Starts the pipeline: opens the database, starts every event source mapping (their starting positions are
/// stored before the gateway listens), then the gateway.
pub async fn start(opts: StartOptions) -> Result<RunningPipeline, DevError> {
    // One pipeline per state dir, checked before anything in it is read; then the port, so that a `dev` that
    // cannot listen has not opened the database or started a consumer.
    let lock = StateLock::acquire(&opts.state_dir)?;
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .map_err(|source| DevError::Bind {
            addr: opts.addr,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| DevError::Bind {
        addr: opts.addr,
        source,
    })?;
    let pipeline = Arc::new(opts.pipeline);
    let default_user = pipeline
        .auth
        .as_ref()
        .map_or("sluice", |a| a.username.as_str())
        .to_owned();
    let (credentials, origin) =
        credentials::resolve(&opts.state_dir, opts.credentials.as_deref(), &default_user)?;
    if opts.recover {
        match recover(&opts.state_dir, &pipeline) {
            Ok(None) => tracing::info!("--recover: the database is sound; nothing to recover"),
            Ok(Some(recovery)) => tracing::warn!("--recover: {recovery}"),
            Err(e) => return Err(open_error(e)),
        }
    }
    let store = Store::open(&opts.state_dir, &pipeline, opts.durability).map_err(open_error)?;

    let consumer_runtime = match ConsumerRuntime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            store.close().await;
            return Err(DevError::Runtime(e));
        }
    };
    let consumers = match start_consumers(
        &pipeline,
        &store,
        &consumer_runtime,
        &opts.handlers,
        &opts.processes,
        opts.timings,
        opts.aws_limits,
    )
    .await
    {
        Ok(consumers) => consumers,
        Err(e) => {
            store.close().await;
            return Err(e);
        }
    };

    let gateway = Arc::new(arc_swap::ArcSwap::from_pointee(gateway::Gateway::new(
        &pipeline,
        CredentialsFile::new(&opts.state_dir),
        store.clone(),
        opts.serve,
        opts.aws_limits,
    )));
    let (stop_gateway, stop_gateway_rx) = watch::channel(false);
    let server = tokio::spawn(http::serve(
        listener,
        gateway::router(gateway.clone()),
        opts.serve,
        stop_gateway_rx,
    ));

    Ok(RunningPipeline {
        addr,
        state_dir: opts.state_dir,
        credentials,
        credentials_origin: origin,
        pipeline,
        aws_limits: opts.aws_limits,
        durability: opts.durability,
        store,
        gateway,
        stop_gateway,
        server,
        consumers,
        handlers: opts.handlers,
        processes: opts.processes,
        timings: opts.timings,
        serve: opts.serve,
        consumer_runtime,
        _lock: lock,
    })
}

/// A store that cannot open: a damaged file has its own refusal (and next step).
fn open_error(e: StoreError) -> DevError {
    match e {
        StoreError::Damaged { .. } => DevError::Damaged(e),
        StoreError::LostWrites { .. } => DevError::LostWrites(e),
        e => DevError::Store(e),
    }
}

/// The runtime the event source mappings (and the functions they invoke) run on: a thread of their own,
/// apart from the gateway's runtime, as on AWS the consumer runs on Lambda's compute, not the API's.
///
/// On one shared runtime, a consumer's batch is a chain of wake-ups (read, hand to a lane, invoke, write,
/// report done), and each waited in the run queue behind every ready HTTP connection: measured with
/// `cargo xtask bench --clients 128`, the consumer stored 0.32× (`--sync normal`: 0.17×) of the accepted
/// rate while the load lasted. On a thread of its own the operating system gives it its share of the CPU.
struct ConsumerRuntime(Option<tokio::runtime::Runtime>);

impl ConsumerRuntime {
    fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sluice-consumers")
            .enable_all()
            .build()?;
        Ok(ConsumerRuntime(Some(runtime)))
    }

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.0 {
            Some(runtime) => runtime.spawn(future),
            // Only `drop` takes the runtime.
            None => tokio::spawn(future),
        }
    }
}

impl Drop for ConsumerRuntime {
    /// Without waiting: the pipeline is dropped inside async code (a runtime that blocks there panics), and
    /// a clean [`RunningPipeline::shutdown`] has already awaited every task of it.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Single-quotes a string for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The startup summary: routes, state, credentials and a `curl` line to try.
pub fn summary(running: &RunningPipeline, config: &Path) -> String {
    let mut out = String::new();
    let p = &running.pipeline;
    out.push_str(&format!(
        "sluice: pipeline \"{}\" from {} running on {}\n",
        p.name,
        config.display(),
        running.base_url()
    ));
    for (name, method, url) in running.route_urls() {
        out.push_str(&format!("  route {name}: {method} {url}\n"));
    }
    for consumer in p.consumers.values() {
        out.push_str(&format!(
            "  consumer {}: {} → table {} (dead letters: {})\n",
            consumer.name, consumer.stream, consumer.table, consumer.dead_letter_queue
        ));
    }
    out.push_str(&throttle::summary(p, running.aws_limits));
    let state = running.state_dir.display();
    out.push_str(&format!(
        "  state dir: {state} (database {state}/pipeline.db; {})\n",
        match running.durability {
            Durability::Full => "a 200 is on disk: it survives a power loss",
            Durability::Normal =>
                "--sync normal: a 200 survives a crash of the process, not a power loss",
        }
    ));
    let cred_path = credentials_path(&running.state_dir);
    let user = &running.credentials.username;
    match running.credentials_origin {
        Origin::Generated => out.push_str(&format!(
            "  credentials: generated for you, stored in {} (shown only this once): {user} / {}\n",
            cred_path.display(),
            running.credentials.password
        )),
        Origin::Given => out.push_str(&format!(
            "  credentials: from --credentials (user {user}), also stored in {}\n",
            cred_path.display()
        )),
        Origin::Stored => out.push_str(&format!(
            "  credentials: user {user}, password in {}\n",
            cred_path.display()
        )),
    }
    if let Some(route) = p.routes.values().next()
        && let Some(stream) = route.streams().first()
    {
        let mut path = route.concrete_path(stream);
        if let PartitionKeySource::PathParam(param) = &route.partition_key {
            let id = match p.key_type_of_stream(stream) {
                sluice_config::KeyType::S => "my-first-event",
                sluice_config::KeyType::N => "1",
            };
            path = path.replace(&format!("{{{param}}}"), id);
        }
        let user_arg = match running.credentials_origin {
            Origin::Generated | Origin::Given => {
                shell_quote(&format!("{user}:{}", running.credentials.password))
            }
            Origin::Stored => format!(
                "\"$(jq -r '.username+\":\"+.password' {})\"",
                shell_quote(&cred_path.display().to_string())
            ),
        };
        let method = match route.method {
            sluice_config::HttpMethod::Post => String::new(),
            other => format!("-X {other} "),
        };
        let auth = if route.auth {
            format!("-u {user_arg} ")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  try:\n    curl -sS {method}{auth}-H {} -d {} {}/{}{path}\n",
            shell_quote(&format!("Content-Type: {}", route.content_type)),
            shell_quote(&route.example_body().to_string()),
            running.base_url(),
            p.stage
        ));
        let mut send = format!("cargo xtask send {}", route.name);
        if config != Path::new("pipeline.toml") {
            send.push_str(&format!(
                " --config {}",
                shell_quote(&config.display().to_string())
            ));
        }
        if running.state_dir != Path::new(DEFAULT_STATE_DIR) {
            send.push_str(&format!(
                " --state-dir {}",
                shell_quote(&running.state_dir.display().to_string())
            ));
        }
        out.push_str(&format!(
            "    {send}   # the same event, any route: cargo xtask send <route> [--body FILE] [--param NAME=VALUE]\n"
        ));
    }
    out
}

/// Waits for Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `cargo xtask dev`'s runtime: starts the pipeline, prints the summary and `ready`, and runs until Ctrl-C or
/// SIGTERM, then stops cleanly. (The command, in xtask, loads pipeline.toml and sets up logging first.)
pub fn run(pipeline: Pipeline, opts: DevOptions) -> Result<(), DevError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(DevError::Runtime)?;
    runtime.block_on(async {
        let mut start_opts = StartOptions::new(pipeline, opts.state_dir);
        start_opts.addr = SocketAddr::from(([127, 0, 0, 1], opts.port));
        start_opts.credentials = opts.credentials;
        start_opts.aws_limits = opts.aws_limits;
        start_opts.durability = opts.durability;
        start_opts.recover = opts.recover;
        start_opts.processes = processes_from_build(
            &start_opts.pipeline,
            &opts.processes,
            &sluice_config::layout::project_root().join(sluice_config::layout::LAMBDA_DIR),
        )?;
        start_opts
            .processes
            .extend(user_function_processes(&start_opts.pipeline)?);
        let mut running = start(start_opts).await?;
        let record = DevRecord {
            pid: std::process::id(),
            port: running.addr.port(),
            stage: running.pipeline.stage.clone(),
            config: std::path::absolute(&opts.config).unwrap_or_else(|_| opts.config.clone()),
        };
        if let Err(e) = dev_record::write(&running.state_dir, &record) {
            tracing::warn!(error = %e, "cannot record where this pipeline listens; `send` and `smoke-test --local` will need --port");
        }
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "{}", summary(&running, &opts.config));
        let _ = writeln!(stdout, "ready");
        let _ = stdout.flush();
        drop(stdout);
        if opts.watch {
            watch(&mut running, &opts.config, shutdown_signal()).await;
        } else {
            shutdown_signal().await;
        }
        tracing::info!("stopping: finishing requests and batches in flight");
        let state_dir = running.state_dir.clone();
        running.shutdown().await;
        dev_record::remove(&state_dir);
        tracing::info!("stopped");
        Ok(())
    })
}
