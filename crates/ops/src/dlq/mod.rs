//! `cargo xtask dlq`: the dead-letter queues of a pipeline, local (`--local`: `cargo xtask dev`'s
//! `pipeline.db`) or deployed (SQS, S3, Kinesis and DynamoDB, names from `terraform output -json`), through
//! one interface.
//!
//! - `list` / `show ID`: every message with its kind, reason, key, size, age and where its data is; both
//!   kinds are read with the one parser of the contract ([`QueueMessage`]): the writer's dead letters (data
//!   inline or in the dead-letter bucket) and the event source mapping's on-failure messages (a shard and a
//!   sequence range, no data).
//! - `hydrate ID`: the records a message stands for, as JSON lines: a dead letter's data (from the bucket
//!   when it is there), an on-failure message's range read back from the stream (`AT_SEQUENCE_NUMBER`) while
//!   the stream keeps it; it says so, and fails, when they are gone.
//! - `redrive [--dry-run] [--to-stream] [--id ID]`: puts the records back through the writer library (the
//!   same `handle_batch`, the same conditional puts: a newer item is never replaced) or onto the stream
//!   (`PutRecord`, the original partition key). A message is deleted only after its records are written (or
//!   superseded, or dead-lettered anew: a record that fails again gets a new message with its new reason,
//!   sent before the old one is deleted); a transient failure keeps the message. Rerunning after an
//!   interruption is safe: a record written before the interruption is written again with the same data or
//!   found superseded, and its message deleted then.
//!
//! Here the command; `backend` is the one interface over `local` and `deployed` (feature `aws`), `list`
//! lists and shows, `redrive` hydrates and puts back, `writer` runs the writer library, `message` holds
//! what they pass around.

use std::path::PathBuf;

use miette::{IntoDiagnostic as _, miette};
use sluice_local::dlq::LocalDeadLetters;

mod backend;
#[cfg(feature = "aws")]
mod deployed;
mod list;
mod local;
mod message;
mod redrive;
mod writer;

pub use message::DlqError;

use backend::Backend;
use redrive::RedriveOptions;

/// Test hook: exit abruptly (status [`STOP_EXIT_CODE`]) after the records of this many messages are
/// written and before the last of those messages is deleted, as a crash or a kill would.
pub const STOP_AFTER_ENV: &str = "SLUICE_DLQ_STOP_AFTER";
/// The exit status of a [`STOP_AFTER_ENV`] stop.
pub const STOP_EXIT_CODE: i32 = 75;

/// `cargo xtask dlq`. Its options are accepted before or after the subcommand (`dlq --local list` and
/// `dlq list --local`), as `status --local` and `items T --local` take them.
#[derive(Debug, Clone, clap::Args)]
pub struct DlqArgs {
    /// The local pipeline of `cargo xtask dev` instead of the deployed stack.
    #[arg(long, global = true)]
    pub local: bool,
    /// The local pipeline's state dir (with --local).
    #[arg(long, global = true, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Where the deployed queues, bucket, streams and tables are named.
    #[command(flatten)]
    pub deployed: crate::deployment::OutputsArgs,
    /// Only this dead-letter queue (its name in pipeline.toml); default: every one.
    #[arg(long, global = true)]
    pub queue: Option<String>,
    /// The consumer whose table a redrive writes, when several consumers of one stream share the queue.
    #[arg(long, global = true)]
    pub consumer: Option<String>,
    /// Seconds a received SQS message stays hidden while dlq works on it (deployed); an interrupted run's
    /// messages reappear after it.
    #[arg(long, global = true, default_value_t = 60)]
    pub visibility_timeout: i32,
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqCommand {
    /// Every message: id, kind, reason, key, size, age, where the data is.
    List {
        /// Then keep watching (local queues), printing each dead letter as it arrives, until Ctrl-C.
        #[arg(long)]
        follow: bool,
    },
    /// One message in full (its body as stored, and what it means).
    Show { id: String },
    /// The records a message stands for, one JSON object a line (data in base64, and as text when UTF-8).
    Hydrate { id: String },
    /// Put dead letters back: into the table through the writer's rules (default) or onto the stream.
    Redrive {
        /// Say what would happen to each message; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Put the records back onto their stream (`PutRecord`, original partition key) instead: they get
        /// new sequence numbers, so the consumer treats them as new records (newer than items written
        /// since).
        #[arg(long)]
        to_stream: bool,
        /// Only this message.
        #[arg(long)]
        id: Option<String>,
    },
}

impl DlqArgs {
    /// Whether this run would call AWS (it works on the deployed stack's queues).
    pub fn needs_aws(&self) -> bool {
        !self.local && !matches!(self.command, DlqCommand::List { follow: true })
    }
}

pub fn run(config: &sluice_config::PipelineFile, args: DlqArgs) -> miette::Result<()> {
    if matches!(args.command, DlqCommand::List { follow: true }) && !args.local {
        return Err(miette!(
            help = "follow the local pipeline's queues with --local; for a deployed queue, `cargo xtask status --watch` shows its depth without receiving its messages",
            "--follow watches local queues only: following a deployed SQS queue would receive its messages and hide them from everyone else"
        ));
    }
    #[cfg(not(feature = "aws"))]
    if args.needs_aws() {
        return Err(crate::no_aws());
    }
    let pipeline = sluice_config::load(config)?;
    let queues: Vec<String> = match &args.queue {
        Some(q) if pipeline.queues.contains_key(q) => vec![q.clone()],
        Some(q) => {
            return Err(miette!(
                "pipeline.toml has no queue `{q}` (it has: {})",
                pipeline
                    .queues
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        None => pipeline.queues.keys().cloned().collect(),
    };
    if let Some(c) = &args.consumer
        && !pipeline.consumers.contains_key(c)
    {
        return Err(miette!("pipeline.toml has no consumer `{c}`"));
    }
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(async {
        let backend = if args.local {
            Backend::Local(
                LocalDeadLetters::open(&args.state_dir, &pipeline).map_err(|e| miette!("{e}"))?,
            )
        } else {
            deployed_backend(&args).await?
        };
        let result = match &args.command {
            DlqCommand::List { follow: false } => list::list(&backend, &queues).await,
            DlqCommand::List { follow: true } => list::follow(&backend, &queues).await,
            DlqCommand::Show { id } => list::show(&backend, &queues, id).await,
            DlqCommand::Hydrate { id } => {
                redrive::hydrate(&backend, &pipeline, &queues, args.consumer.as_deref(), id).await
            }
            DlqCommand::Redrive {
                dry_run,
                to_stream,
                id,
            } => {
                let opts = RedriveOptions {
                    dry_run: *dry_run,
                    to_stream: *to_stream,
                    only: id.clone(),
                    consumer: args.consumer.clone(),
                    stop_after: std::env::var(STOP_AFTER_ENV)
                        .ok()
                        .and_then(|n| n.trim().parse().ok()),
                };
                redrive::redrive(&backend, &pipeline, &queues, &opts).await
            }
        };
        backend.close().await;
        result
    })
}

/// The deployed stack's queues, bucket, streams and tables.
#[cfg(feature = "aws")]
async fn deployed_backend(args: &DlqArgs) -> miette::Result<Backend> {
    let deployment = args.deployed.read()?;
    let aws = deployed::Aws::connect(deployment, args.visibility_timeout.max(1)).await;
    Ok(Backend::Aws(Box::new(aws)))
}

#[cfg(not(feature = "aws"))]
async fn deployed_backend(_: &DlqArgs) -> miette::Result<Backend> {
    Err(crate::no_aws())
}
