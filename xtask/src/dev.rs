//! `cargo xtask dev`: loads pipeline.toml (an invalid file is reported and nothing starts), sets up logging,
//! and runs the local pipeline of `sluice-local` until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use sluice_local::{DEFAULT_PORT, DEFAULT_STATE_DIR};

/// `cargo xtask dev`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// The port to listen on, on 127.0.0.1.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Where streams, checkpoints, tables, queues and the local credentials live.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// `user:pass` to accept; otherwise generated on first run and stored in the state dir.
    #[arg(long)]
    pub credentials: Option<String>,
    /// Turn off AWS's limits (the WAF's rate rule, stage throttle, per-shard write limits, table write
    /// capacity) for raw-speed runs.
    #[arg(long)]
    pub unlimited: bool,
    /// How hard a commit syncs before the gateway answers 200: `full` survives a power loss (an fsync per
    /// commit), `normal` only a crash of the process.
    #[arg(long, value_enum, default_value_t = Sync::Full)]
    pub sync: Sync,
    /// No line per request (warnings and errors still show). `RUST_LOG` (e.g. `debug`, or
    /// `info,sluice::request=off`) sets the log filter exactly and takes precedence.
    #[arg(long)]
    pub quiet: bool,
    /// Watch pipeline.toml and its schema files: a valid edit is applied to the running pipeline (stored
    /// records kept); an invalid one is reported and the pipeline keeps running as it was.
    #[arg(long)]
    pub watch: bool,
    /// A damaged database (refused at start) is moved into <state-dir>/damaged-<time>/ and what can still be
    /// read of it is kept in a new one; then the pipeline starts. Does nothing to a sound database.
    #[arg(long)]
    pub recover: bool,
    /// Run function NAME (e.g. `writer`) as a process, from the binary `cargo xtask build` made
    /// (target/lambda/NAME/bootstrap, the one that is deployed), under a Lambda Runtime API dev serves,
    /// instead of in-process. Repeat for several functions.
    #[arg(long = "process", value_name = "NAME")]
    pub processes: Vec<String>,
}

/// `--sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sync {
    Normal,
    Full,
}

impl From<Sync> for sluice_local::Durability {
    fn from(sync: Sync) -> Self {
        match sync {
            Sync::Normal => sluice_local::Durability::Normal,
            Sync::Full => sluice_local::Durability::Full,
        }
    }
}

pub fn run(config: &sluice_config::PipelineFile, args: DevArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(if args.quiet {
                    format!("info,{}=off", sluice_local::REQUEST_LOG)
                } else {
                    "info".to_string()
                })
            }),
        )
        .try_init();
    sluice_local::run(
        pipeline,
        sluice_local::DevOptions {
            config: config.to_path_buf(),
            port: args.port,
            state_dir: args.state_dir,
            credentials: args.credentials,
            aws_limits: !args.unlimited,
            durability: args.sync.into(),
            watch: args.watch,
            recover: args.recover,
            processes: args.processes,
        },
    )?;
    Ok(())
}
