//! `cargo xtask bench`: a load benchmark of the local pipeline (not a test; nothing asserts a number).
//!
//! Starts, in this process on 127.0.0.1, three targets one after the other and drives each with the same
//! load — `clients` concurrent keep-alive HTTP clients posting authenticated events with fresh ids for a
//! fixed duration — then prints sustained events/s and p50/p99 ingest latency per target, and for the
//! pipelines the time from the end of the load until every acknowledged event is in the table:
//!
//! 1. `baseline`: a trivial axum handler answering 200 with a PutRecord-shaped body, storing nothing (what
//!    HTTP on loopback costs by itself);
//! 2. `pipeline (synchronous=FULL)`: `cargo xtask dev`'s pipeline as it runs, a 200 meaning on disk;
//! 3. `pipeline (synchronous=NORMAL)`: the same with WAL's NORMAL sync (survives a process crash, not a power
//!    loss), to show what the fsync costs with group commit.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use miette::{IntoDiagnostic as _, miette};

use sluice_local::{self as dev, Durability, StartOptions};

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

/// What one load run measured.
struct LoadResult {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    /// Latencies of the acknowledged requests, sorted.
    latencies: Vec<Duration>,
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
    }
}

/// A trivial axum server that acknowledges everything without storing it.
async fn baseline_server() -> miette::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let app = axum::Router::new().fallback(|_body: axum::body::Bytes| async {
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            r#"{"SequenceNumber":"49000000000000000000000000000000000000000000000000000001","ShardId":"shardId-000000000000"}"#,
        )
    });
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

fn print_row(name: &str, r: &LoadResult, drain: Option<Duration>) {
    println!(
        "{name:<30} {:>9.0} ev/s  p50 {:>9}  p99 {:>9}  ok {:>7}  errors {:>4}  {}",
        r.rate(),
        ms(r.percentile(50.0)),
        ms(r.percentile(99.0)),
        r.ok,
        r.errors,
        drain.map_or_else(String::new, |d| format!(
            "all in table {} after the load",
            ms(d)
        ))
    );
}

/// Runs the pipeline under load; answers the load result and the time until the table had every event.
async fn bench_pipeline(
    opts: &BenchArgs,
    pipeline: &sluice_config::Pipeline,
    durability: Durability,
    run: &str,
    body: &str,
) -> miette::Result<(LoadResult, Option<Duration>)> {
    let state_dir = crate::project_root()
        .join("target")
        .join(format!("sluice-bench-{}-{run}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    let mut start = StartOptions::new(pipeline.clone(), &state_dir);
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
    let (user, pass) = (
        running.credentials.username.clone(),
        running.credentials.password.clone(),
    );
    let result = drive(
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

    let consumer_table = pipeline.consumers.values().next().map(|c| c.table.clone());
    let mut drained = None;
    if let Some(table) = consumer_table {
        let sql = format!("SELECT count(*) FROM {}", dev::quote_ident(&table));
        let deadline = load_end + Duration::from_secs(300);
        while Instant::now() < deadline {
            let sql = sql.clone();
            let n: i64 = running
                .store
                .read(move |c| c.query_row(&sql, [], |r| r.get(0)))
                .await
                .unwrap_or(0);
            if u64::try_from(n).unwrap_or(0) >= result.ok {
                drained = Some(load_end.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&state_dir);
    Ok((result, drained))
}

/// `cargo xtask bench`.
pub fn run(config: &Path, opts: BenchArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    if opts.writes {
        return runtime.block_on(writes::run(opts.rounds, opts.body_bytes));
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
        let (addr, stop) = baseline_server().await?;
        let base = format!("http://{addr}/{}/submit/bench", pipeline.stage);
        let baseline = drive(
            &base,
            "u",
            "p",
            opts.clients,
            Duration::from_secs(opts.seconds),
            &body,
            "base",
        )
        .await;
        let _ = stop.send(());
        print_row("baseline (200, no storage)", &baseline, None);

        let (full, full_drain) =
            bench_pipeline(&opts, &pipeline, Durability::Full, "full", &body).await?;
        print_row("pipeline (synchronous=FULL)", &full, full_drain);
        let (normal, normal_drain) =
            bench_pipeline(&opts, &pipeline, Durability::Normal, "normal", &body).await?;
        print_row("pipeline (synchronous=NORMAL)", &normal, normal_drain);

        println!(
            "pipeline FULL / baseline: {:.2}× the throughput, p99 {:.1}× the baseline's",
            full.rate() / baseline.rate().max(f64::MIN_POSITIVE),
            full.percentile(99.0).as_secs_f64()
                / baseline
                    .percentile(99.0)
                    .as_secs_f64()
                    .max(f64::MIN_POSITIVE)
        );
        println!(
            "pipeline FULL / NORMAL: {:.2}× the throughput",
            full.rate() / normal.rate().max(f64::MIN_POSITIVE)
        );
        Ok(())
    })
}
