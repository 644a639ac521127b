//! `cargo xtask bench`: a load benchmark of the local pipeline (not a test; nothing asserts a number).
//!
//! Starts, in this process on 127.0.0.1, four targets one after the other and drives each with the same
//! closed-loop load — `clients` concurrent keep-alive HTTP clients posting authenticated events with fresh
//! ids for a fixed duration — then prints sustained events/s and p50/p99 ingest latency per target:
//!
//! 1. `baseline`: a trivial axum handler answering 200 with a PutRecord-shaped body, storing nothing (what
//!    HTTP on loopback costs by itself);
//! 2. `baseline + fdatasync`: a trivial handler that answers only once the body is appended to a file and
//!    synced, one `write` and one `fdatasync` per group of waiting requests ([`synced`]): the ceiling of any
//!    server that acknowledges only synced writes on this disk, in this closed loop. Before it, the bench
//!    times one `fdatasync` on the same disk with nothing else running;
//! 3. `pipeline`: `cargo xtask dev`'s pipeline as it runs by default (a 200 only after the record's
//!    transaction is committed and synced: `synchronous = FULL`, survives a power loss);
//! 4. `pipeline (--sync normal)`: the same with WAL's NORMAL sync (survives a crash of the process only), to
//!    show what the fsync costs with group commit.
//!
//! Each row also gives the CPU time the whole process (clients included) used per acknowledged event — for a
//! pipeline until its table holds every event. It separates the work done per event from the time spent
//! waiting (for a sync, for a core): a closed-loop pipeline that waits can be slow without being busy.
//!
//! For the pipelines it also prints how many items the consumer stored per second during the load, as a
//! ratio of the events accepted per second (≥ 1 means it kept up), and the time until the table had every
//! event. Then an open-loop run at half the default pipeline's rate measures the end-to-end lag: from each
//! 200 to the moment its item is readable in the table (a reader polls the table every millisecond),
//! p50/p99/max.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use miette::{IntoDiagnostic as _, miette};

use sluice_local::{self as dev, Durability, StartOptions};

mod synced;
#[cfg(feature = "aws")]
mod writes;

/// `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Concurrent keep-alive clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Seconds of load per target.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Size of the `message` member of each event body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Instead of the local pipeline: what a 100-record batch costs the writer against DynamoDB (a moto
    /// server on a free loopback port), per way of writing it — requests, p50/p99 latency, write units.
    #[arg(long)]
    pub writes: bool,
    /// Batches per way with --writes.
    #[arg(long, default_value_t = 30)]
    pub rounds: usize,
}

impl BenchArgs {
    /// Whether this run talks to AWS's APIs (`--writes`, against moto): the command line then runs the
    /// build of sluice that has the AWS SDK.
    pub fn needs_aws(&self) -> bool {
        self.writes
    }
}

/// What one load run measured.
struct LoadResult {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    /// Latencies of the acknowledged requests, sorted.
    latencies: Vec<Duration>,
    /// CPU time (user + system, every thread of this process: clients and server alike) per acknowledged
    /// event; for a pipeline, until the table holds every event.
    cpu_per_event: Option<Duration>,
}

/// CPU time this process has used so far, all threads, user + system: fields 14 and 15 of
/// `/proc/self/stat`, in Linux's fixed 100 ticks per second (`USER_HZ`). `None` where there is no procfs.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; fields 3 on follow the last `)`.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU used since `start` (from [`process_cpu`]) per event.
fn cpu_per_event(start: Option<Duration>, events: u64) -> Option<Duration> {
    let used = process_cpu()?.checked_sub(start?)?;
    u32::try_from(events)
        .ok()
        .filter(|n| *n > 0)
        .map(|n| used / n)
}

impl LoadResult {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * (self.latencies.len() - 1) as f64).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }
}

/// `clients` keep-alive clients posting to `url_base/{id}` until `duration` is over.
async fn drive(
    url_base: &str,
    user: &str,
    pass: &str,
    clients: usize,
    duration: Duration,
    body: &str,
    run: &str,
) -> LoadResult {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, errors) = (client.clone(), errors.clone());
        let (url_base, user, pass, body, run) = (
            url_base.to_owned(),
            user.to_owned(),
            pass.to_owned(),
            body.to_owned(),
            run.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let sent = Instant::now();
                let response = client
                    .post(format!("{url_base}/{run}-{c}-{i}"))
                    .basic_auth(&user, Some(&pass))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    LoadResult {
        ok: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        latencies,
        cpu_per_event: None,
    }
}

/// The baselines' answer: shaped like a PutRecord reply, so the clients read as much as from the gateway.
const PUT_RECORD_REPLY: &str = r#"{"SequenceNumber":"49000000000000000000000000000000000000000000000000000001","ShardId":"shardId-000000000000"}"#;

/// A trivial axum server that acknowledges everything without storing it.
async fn baseline_server() -> miette::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let app = axum::Router::new().fallback(|_body: axum::body::Bytes| async {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            PUT_RECORD_REPLY,
        )
    });
    serve_on_loopback(app).await
}

/// Serves a baseline's `app` on a free loopback port until the returned sender is used or dropped.
async fn serve_on_loopback(
    app: axum::Router,
) -> miette::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .into_diagnostic()?;
    let addr = listener.local_addr().into_diagnostic()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok((addr, tx))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn print_row(name: &str, r: &LoadResult) {
    println!(
        "{name:<26} {:>9.0} ev/s  p50 {:>9}  p99 {:>9}  ok {:>7}  errors {:>4}  cpu {}",
        r.rate(),
        ms(r.percentile(50.0)),
        ms(r.percentile(99.0)),
        r.ok,
        r.errors,
        us_per_event(r.cpu_per_event),
    );
}

fn us_per_event(d: Option<Duration>) -> String {
    d.map_or_else(
        || "n/a".to_owned(),
        |d| format!("{:.1} µs/ev", d.as_secs_f64() * 1e6),
    )
}

/// What a pipeline run measured besides the load.
struct PipelineRun {
    load: LoadResult,
    /// Items in the table when the load ended.
    stored_during_load: u64,
    /// From the end of the load until the table had every acknowledged event.
    drained: Option<Duration>,
}

impl PipelineRun {
    /// Items stored per second during the load over events accepted per second.
    fn kept_up(&self) -> f64 {
        self.stored_during_load as f64 / self.load.ok.max(1) as f64
    }
}

/// The consumer's table (of the pipeline's first consumer) and its partition-key attribute.
fn first_table(pipeline: &sluice_config::Pipeline) -> miette::Result<(String, String)> {
    let consumer = pipeline
        .consumers
        .values()
        .next()
        .ok_or_else(|| miette!("pipeline.toml declares no consumer: nothing to measure"))?;
    let table = pipeline
        .tables
        .get(&consumer.table)
        .ok_or_else(|| miette!("the consumer's table {} is not declared", consumer.table))?;
    Ok((table.name.clone(), table.partition_key.name.clone()))
}

/// Where the bench's state dirs (and its `fdatasync` probe) go: the project's `target/`.
fn scratch_root() -> std::path::PathBuf {
    sluice_config::project_root().join("target")
}

fn state_dir(run: &str) -> std::path::PathBuf {
    scratch_root().join(format!("sluice-bench-{}-{run}", std::process::id()))
}

/// Starts the pipeline with AWS's limits off (raw speed) in a fresh state dir.
async fn start_pipeline(
    pipeline: &sluice_config::Pipeline,
    durability: Durability,
    run: &str,
) -> miette::Result<(dev::RunningPipeline, String)> {
    let dir = state_dir(run);
    let _ = std::fs::remove_dir_all(&dir);
    let mut start = StartOptions::new(pipeline.clone(), &dir);
    start.durability = durability;
    // Raw speed: AWS's limits (which a 1-shard stream hits at 1,000 records/s) are off, as with --unlimited.
    start.aws_limits = false;
    let running = dev::start(start).await?;
    let route = running
        .route_urls()
        .into_iter()
        .next()
        .ok_or_else(|| miette!("pipeline.toml declares no route"))?;
    // The partition-key parameter is the last segment of the seed's route.
    let url_base = route
        .2
        .rsplit_once('/')
        .map_or(route.2.clone(), |(base, _)| base.to_owned());
    Ok((running, url_base))
}

async fn count_items(running: &dev::RunningPipeline, table: &str) -> u64 {
    let sql = format!("SELECT count(*) FROM {}", dev::quote_ident(table));
    let n: i64 = running
        .store
        .read(move |c| c.query_row(&sql, [], |r| r.get(0)))
        .await
        .unwrap_or(0);
    u64::try_from(n).unwrap_or(0)
}

/// Runs the pipeline under the closed-loop load.
async fn bench_pipeline(
    opts: &BenchArgs,
    pipeline: &sluice_config::Pipeline,
    durability: Durability,
    run: &str,
    body: &str,
) -> miette::Result<PipelineRun> {
    let (table, _) = first_table(pipeline)?;
    let (running, url_base) = start_pipeline(pipeline, durability, run).await?;
    let (user, pass) = (
        running.credentials.username.clone(),
        running.credentials.password.clone(),
    );
    let cpu_start = process_cpu();
    let mut load = drive(
        &url_base,
        &user,
        &pass,
        opts.clients,
        Duration::from_secs(opts.seconds),
        body,
        run,
    )
    .await;
    let load_end = Instant::now();
    let stored_during_load = count_items(&running, &table).await;
    let mut drained = None;
    let deadline = load_end + Duration::from_secs(300);
    while Instant::now() < deadline {
        if count_items(&running, &table).await >= load.ok {
            drained = Some(load_end.elapsed());
            load.cpu_per_event = cpu_per_event(cpu_start, load.ok);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dir = running.state_dir.clone();
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(PipelineRun {
        load,
        stored_during_load,
        drained,
    })
}

fn print_pipeline(name: &str, r: &PipelineRun) {
    print_row(name, &r.load);
    println!(
        "{:<26} consumer stored {:.0} items/s during the load ({:.2}× the accepted rate); all in the table {} after it",
        "",
        r.stored_during_load as f64 / r.load.elapsed.as_secs_f64(),
        r.kept_up(),
        r.drained.map_or_else(|| "not within 300 s".to_owned(), ms),
    );
}

/// A reader polling the table every millisecond for new rows (by rowid: fresh keys are appended), noting
/// when each partition key became readable.
fn poll_table(
    db: std::path::PathBuf,
    table: String,
    key: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<std::collections::HashMap<String, Instant>> {
    std::thread::spawn(move || {
        let mut seen = std::collections::HashMap::new();
        let Ok(conn) =
            rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        else {
            return seen;
        };
        let _ = conn.busy_timeout(Duration::from_secs(5));
        let sql = format!(
            "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid",
            dev::quote_ident(&key),
            dev::quote_ident(&table)
        );
        let mut last: i64 = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut stmt) = conn.prepare_cached(&sql) {
                let rows = stmt.query_map([last], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                });
                if let Ok(rows) = rows {
                    let now = Instant::now();
                    for (rowid, id) in rows.flatten() {
                        last = last.max(rowid);
                        seen.entry(id).or_insert(now);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        seen
    })
}

/// Open-loop load at `rate` events/s for `duration`; answers each acknowledged id with when its 200 came.
async fn drive_paced(
    url_base: &str,
    user: &str,
    pass: &str,
    clients: usize,
    rate: f64,
    duration: Duration,
    body: &str,
) -> (Vec<(String, Instant)>, u64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let started = Instant::now();
    let total = (rate * duration.as_secs_f64()) as u64;
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients as u64 {
        let (client, errors) = (client.clone(), errors.clone());
        let (url_base, user, pass, body) = (
            url_base.to_owned(),
            user.to_owned(),
            pass.to_owned(),
            body.to_owned(),
        );
        let clients = clients as u64;
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            let mut n = c;
            while n < total {
                let due = started + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let id = format!("lag-{n}");
                let response = client
                    .post(format!("{url_base}/{id}"))
                    .basic_auth(&user, Some(&pass))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        acks.push((id, Instant::now()));
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += clients;
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for task in tasks {
        acks.extend(task.await.unwrap_or_default());
    }
    (acks, errors.load(Ordering::Relaxed))
}

/// The end-to-end lag (200 → item readable) at `rate` events/s.
async fn bench_lag(
    opts: &BenchArgs,
    pipeline: &sluice_config::Pipeline,
    rate: f64,
    body: &str,
) -> miette::Result<()> {
    let (table, key) = first_table(pipeline)?;
    let (running, url_base) = start_pipeline(pipeline, Durability::default(), "lag").await?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = poll_table(
        running.store.path().to_path_buf(),
        table.clone(),
        key,
        stop.clone(),
    );
    let (acks, errors) = drive_paced(
        &url_base,
        &running.credentials.username.clone(),
        &running.credentials.password.clone(),
        opts.clients,
        rate,
        Duration::from_secs(opts.seconds),
        body,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && count_items(&running, &table).await < acks.len() as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // One more poll round after the last item.
    tokio::time::sleep(Duration::from_millis(20)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = poller.join().unwrap_or_default();
    let dir = running.state_dir.clone();
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    let mut lags: Vec<Duration> = acks
        .iter()
        .filter_map(|(id, acked)| seen.get(id).map(|at| at.saturating_duration_since(*acked)))
        .collect();
    lags.sort();
    let missing = acks.len() - lags.len();
    let lag = LoadResult {
        ok: lags.len() as u64,
        errors,
        elapsed: Duration::from_secs(opts.seconds),
        latencies: lags,
        cpu_per_event: None,
    };
    println!(
        "end-to-end lag at {rate:.0} ev/s (half the pipeline's rate), 200 → item readable: p50 {}  p99 {}  max {}  ({} events, {} errors, {} never seen)",
        ms(lag.percentile(50.0)),
        ms(lag.percentile(99.0)),
        ms(lag.latencies.last().copied().unwrap_or_default()),
        acks.len(),
        errors,
        missing
    );
    Ok(())
}

/// The no-storage baseline: the same clients against an axum handler that answers at once.
async fn baseline(
    opts: &BenchArgs,
    stage: &str,
    body: &str,
    prefix: &str,
) -> miette::Result<LoadResult> {
    let (addr, stop) = baseline_server().await?;
    let load = drive_baseline(opts, addr, stage, body, prefix).await;
    let _ = stop.send(());
    Ok(load)
}

/// The durable baseline ([`synced`]): the same clients against a handler that answers once the body is
/// appended to a file and synced, in a state dir like the pipeline's (so on the same disk).
async fn synced_baseline(opts: &BenchArgs, stage: &str, body: &str) -> miette::Result<LoadResult> {
    let dir = state_dir("synced");
    std::fs::create_dir_all(&dir).into_diagnostic()?;
    let (addr, stop) = synced::server(&dir.join("bodies.log")).await?;
    let load = drive_baseline(opts, addr, stage, body, "synced").await;
    let _ = stop.send(());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(load)
}

/// The closed-loop load against a baseline server, with the CPU it cost.
async fn drive_baseline(
    opts: &BenchArgs,
    addr: SocketAddr,
    stage: &str,
    body: &str,
    prefix: &str,
) -> LoadResult {
    let base = format!("http://{addr}/{stage}/submit/bench");
    let cpu_start = process_cpu();
    let mut load = drive(
        &base,
        "u",
        "p",
        opts.clients,
        Duration::from_secs(opts.seconds),
        body,
        prefix,
    )
    .await;
    load.cpu_per_event = cpu_per_event(cpu_start, load.ok);
    load
}

/// `cargo xtask bench`.
pub fn run(config: &Path, opts: BenchArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    if opts.writes {
        #[cfg(feature = "aws")]
        return runtime.block_on(writes::run(opts.rounds, opts.body_bytes));
        #[cfg(not(feature = "aws"))]
        return Err(miette!(
            "this build of the bench has no AWS support (--writes talks to DynamoDB); run it as `cargo xtask bench --writes`, which builds it"
        ));
    }
    runtime.block_on(async {
        let body = format!(r#"{{"message":"{}"}}"#, "x".repeat(opts.body_bytes));
        println!(
            "load: {} keep-alive clients, {} s per target, {}-byte bodies, 127.0.0.1 ({} build)",
            opts.clients,
            opts.seconds,
            body.len(),
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
        );
        let before = baseline(&opts, &pipeline.stage, &body, "base").await?;
        print_row("baseline (no storage)", &before);
        // Timed before the durable baseline's load, with nothing else running, on the disk of the state dirs
        // (created here if the build's target dir is elsewhere).
        let probe_dir = scratch_root();
        let _ = std::fs::create_dir_all(&probe_dir);
        let probe = synced::fdatasync_latency(&probe_dir, 200);
        let synced = synced_baseline(&opts, &pipeline.stage, &body).await?;
        print_row("baseline + fdatasync", &synced);
        match probe {
            Ok(median) => println!(
                "{:<26} one fdatasync of a 4 KiB append in {}, idle: {:.0} µs (median of 200)",
                "",
                probe_dir.display(),
                median.as_secs_f64() * 1e6
            ),
            Err(e) => println!("{:<26} cannot time fdatasync in {}: {e}", "", probe_dir.display()),
        }

        let full = bench_pipeline(&opts, &pipeline, Durability::Full, "full", &body).await?;
        print_pipeline("pipeline", &full);
        let normal = bench_pipeline(&opts, &pipeline, Durability::Normal, "normal", &body).await?;
        print_pipeline("pipeline (--sync normal)", &normal);

        // The baseline again after the pipeline: on a shared 2-core machine it moved by up to a third
        // between runs minutes apart, so the ratio is taken against the mean of the two and both are shown.
        let after = baseline(&opts, &pipeline.stage, &body, "again").await?;
        print_row("baseline again", &after);
        let base_rate = (before.rate() + after.rate()) / 2.0;
        let base_p99 = (before.percentile(99.0) + after.percentile(99.0)).as_secs_f64() / 2.0;
        let ratio = |a: &LoadResult| a.rate() / base_rate.max(f64::MIN_POSITIVE);
        println!(
            "pipeline / baseline (mean of the two, {:.0} ev/s): {:.2}× the throughput (--sync normal: {:.2}×); p99 {:.1}× the baseline's",
            base_rate,
            ratio(&full.load),
            ratio(&normal.load),
            full.load.percentile(99.0).as_secs_f64() / base_p99.max(f64::MIN_POSITIVE)
        );
        // How much of that gap the disk sets: no server that answers only synced writes does better than the
        // durable baseline in this closed loop.
        println!(
            "durable ceiling: baseline + fdatasync / baseline {:.2}×; pipeline / (baseline + fdatasync) {:.2}×",
            ratio(&synced),
            full.load.rate() / synced.rate().max(f64::MIN_POSITIVE)
        );
        // The work per event, apart from waiting: how much of the gap in throughput is work.
        let cpu = |r: &LoadResult| r.cpu_per_event.map(|d| d.as_secs_f64());
        if let (Some(b1), Some(b2), Some(f), Some(n)) =
            (cpu(&before), cpu(&after), cpu(&full.load), cpu(&normal.load))
        {
            let base_cpu = (b1 + b2) / 2.0;
            let cpu_ratio = |x: f64| x / base_cpu.max(f64::MIN_POSITIVE);
            println!(
                "CPU per event (clients included), pipeline / baseline ({:.1} µs): {:.2}× (--sync normal: {:.2}×)",
                base_cpu * 1e6,
                cpu_ratio(f),
                cpu_ratio(n)
            );
        }
        bench_lag(&opts, &pipeline, full.load.rate() / 2.0, &body).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_counts_the_cpu_this_process_burns() {
        let start = process_cpu().expect("/proc/self/stat has utime and stime");
        // Busy work until the kernel's 10 ms ticks show it, for at most 5 s of wall time.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut x = 0u64;
        while process_cpu().is_some_and(|now| now < start + Duration::from_millis(50)) {
            for i in 0..100_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            assert!(
                Instant::now() < deadline,
                "5 s of busy work did not show as 50 ms of CPU"
            );
        }
        let per_event = cpu_per_event(Some(start), 10).unwrap();
        assert!(per_event >= Duration::from_millis(5), "{per_event:?}");
        assert_eq!(cpu_per_event(Some(start), 0), None);
    }
}
