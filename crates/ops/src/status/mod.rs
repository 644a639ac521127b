//! `cargo xtask status`: the pipeline at a glance — per stream its shards and incoming rate, per consumer how
//! far behind it is, per dead-letter queue its depth and oldest age, per table its recent writes, and the
//! alarms in ALARM — from the local state (`--local`, read with `sluice_local::inspect`) or from AWS
//! (Terraform outputs, Kinesis, SQS, DynamoDB, CloudWatch). One [`Status`] model for both; this module only
//! gathers and formats: the model and the command here, `local` and `deployed` (feature `aws`) read it,
//! `render` prints it.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use miette::IntoDiagnostic as _;
use serde::Serialize;

use crate::deployment::OutputsArgs;

#[cfg(feature = "aws")]
mod deployed;
mod local;
mod render;

#[cfg(feature = "aws")]
pub use deployed::deployed_status;
pub use local::{from_snapshot, local_status};
pub use render::{human_duration, render};

/// `cargo xtask status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Read the pipeline `cargo xtask dev` runs (its state dir) instead of the deployed one.
    #[arg(long)]
    pub local: bool,
    /// The local pipeline's state dir.
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub outputs: OutputsArgs,
    /// Print one JSON document (with --watch: one per refresh, one per line).
    #[arg(long)]
    pub json: bool,
    /// Refresh in place until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2.0, value_parser = parse_interval)]
    pub interval: f64,
}

impl StatusArgs {
    /// Whether this run would call AWS (it reads the deployed pipeline).
    pub fn needs_aws(&self) -> bool {
        !self.local
    }
}

/// What `status` could not do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatusError {
    #[error("`{0}` is not a number of seconds")]
    IntervalNotANumber(String),
    #[error("{0} s is outside 0.2–3600 s")]
    IntervalOutOfRange(f64),
    #[error("CloudWatch GetMetricData: {0}")]
    GetMetricData(String),
    #[error("CloudWatch DescribeAlarms: {0}")]
    DescribeAlarms(String),
}

fn parse_interval(s: &str) -> Result<f64, StatusError> {
    let v: f64 = s
        .parse()
        .map_err(|_| StatusError::IntervalNotANumber(s.to_owned()))?;
    if (0.2..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(StatusError::IntervalOutOfRange(v))
    }
}

/// The window of the deployed rates (CloudWatch's metrics are per minute and arrive late; five minutes
/// smooth that).
pub const DEPLOYED_WINDOW_S: i64 = 300;

/// What `status` reports; `--json` prints it as is (field names are stable; units are in the names).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    /// `local` or `deployed`.
    pub target: &'static str,
    pub pipeline: String,
    /// When the figures were read (ms since the epoch).
    pub taken_at_ms: i64,
    /// The window of the rates below, in seconds (local 60, deployed 300).
    pub window_s: i64,
    pub streams: Vec<StreamStatus>,
    pub consumers: Vec<ConsumerStatus>,
    pub dead_letter_queues: Vec<QueueStatus>,
    pub tables: Vec<TableStatus>,
    pub alarms: Vec<AlarmStatus>,
    /// What could not be read (the figures it would have given are null).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StreamStatus {
    pub name: String,
    pub physical_name: String,
    /// Open shards.
    pub shards: Option<u32>,
    /// Records put per second over the window.
    pub incoming_records_per_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConsumerStatus {
    pub name: String,
    pub function_name: String,
    pub stream: String,
    /// Records the consumer has not finished, over all shards (local only: AWS does not count them).
    pub records_behind: Option<u64>,
    /// Age of the oldest record not yet processed (local), or Lambda's `IteratorAge` maximum over the
    /// window (deployed).
    pub iterator_age_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueStatus {
    pub name: String,
    pub physical_name: String,
    /// Messages waiting (visible).
    pub messages: Option<u64>,
    /// Messages received by someone and not yet deleted.
    pub messages_in_flight: Option<u64>,
    /// Age of the oldest message.
    pub oldest_age_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableStatus {
    pub name: String,
    pub physical_name: String,
    /// Items (deployed: DynamoDB's `ItemCount`, refreshed about every six hours).
    pub items: Option<u64>,
    /// Writes per second over the window: locally the items whose `receivedAt` falls in it; deployed the
    /// consumed write capacity units.
    pub writes_per_s: Option<f64>,
    /// `receivedAt` of the newest item (local only).
    pub newest_received_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlarmStatus {
    pub name: String,
    pub reason: String,
    /// When it went into ALARM (ms since the epoch).
    pub since_ms: Option<i64>,
}

/// The name of the generated alarm on a dead-letter queue (see `templates/terraform/modules/queue`).
pub fn queue_alarm_name(queue_physical_name: &str) -> String {
    format!("{queue_physical_name}-messages-visible")
}

pub fn run(config: &sluice_config::PipelineFile, args: StatusArgs) -> miette::Result<()> {
    #[cfg(not(feature = "aws"))]
    if args.needs_aws() {
        return Err(crate::no_aws());
    }
    let pipeline = sluice_config::load(config)?;
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(async {
        let deployed = if args.local {
            None
        } else {
            Some(args.outputs.read()?)
        };
        let source = match &deployed {
            None => args.state_dir.join("pipeline.db").display().to_string(),
            Some(d) => d.region().unwrap_or("AWS").to_owned(),
        };
        let interval = Duration::from_secs_f64(args.interval);
        loop {
            let status = match &deployed {
                None => local_status(&pipeline, &args.state_dir)?,
                #[cfg(feature = "aws")]
                Some(d) => deployed_status(&pipeline, d).await,
                #[cfg(not(feature = "aws"))]
                Some(_) => return Err(crate::no_aws()),
            };
            let text = if args.json {
                let json = if args.watch {
                    serde_json::to_string(&status)
                } else {
                    serde_json::to_string_pretty(&status)
                }
                .into_diagnostic()?;
                format!("{json}\n")
            } else if args.watch {
                // Clear the screen and go home, then draw: the table refreshes in place.
                format!(
                    "\x1b[2J\x1b[H{}(every {} s; Ctrl-C stops)\n",
                    render(&status, &source),
                    args.interval
                )
            } else {
                render(&status, &source)
            };
            // A closed stdout (`| head`) ends the command quietly.
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return Ok(());
            }
            drop(stdout);
            if !args.watch {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    })
}
