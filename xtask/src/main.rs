use std::path::PathBuf;

use clap::{Parser, Subcommand};
use xtask::{build, dev, generate, smoke};

/// sluice: describe an authenticated HTTP → Kinesis → DynamoDB pipeline once in pipeline.toml,
/// then generate its Terraform, build its Lambdas, run it locally, and smoke-test it.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    /// The pipeline file (relative paths are taken from the project root).
    #[arg(long, global = true, default_value = "pipeline.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// The default port of `dev` and `smoke-test --local`.
const DEFAULT_PORT: u16 = 4566;

#[derive(Subcommand)]
enum Command {
    /// Validate pipeline.toml and print a summary; exits non-zero when it is invalid.
    Validate,
    /// Render terraform/ (root, modules, OpenAPI document) from pipeline.toml.
    Gen {
        /// Write nothing; exit non-zero and list the stale files if terraform/ differs from what pipeline.toml gives.
        #[arg(long)]
        check: bool,
        /// Where to write.
        #[arg(long, default_value = "terraform")]
        out_dir: PathBuf,
    },
    /// Build the Lambda functions with cargo-lambda into target/lambda/<function>/bootstrap.zip.
    Build {
        /// Where `<function>/bootstrap.zip` go (the generated Terraform expects the default).
        #[arg(long, default_value = build::LAMBDA_DIR)]
        lambda_dir: PathBuf,
    },
    /// Run the whole pipeline locally on 127.0.0.1 (gateway, authorizer, streams, consumers, tables).
    Dev {
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        /// Where streams, checkpoints, tables, queues and the local credentials live.
        #[arg(long, default_value = ".sluice")]
        state_dir: PathBuf,
        /// `user:pass` to accept; otherwise generated on first run and stored in the state dir.
        #[arg(long)]
        credentials: Option<String>,
    },
    /// Prove a running pipeline end to end: the deployed stack (default) or `cargo xtask dev` (--local).
    SmokeTest {
        #[arg(long)]
        local: bool,
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        #[arg(long, default_value = ".sluice")]
        state_dir: PathBuf,
        /// The Terraform root whose `terraform output -json` describes the deployed stack.
        #[arg(long, default_value = "terraform")]
        terraform_dir: PathBuf,
    },
    /// Run every test (installs the tools they need into target/sluice-venv first).
    Test,
    /// Load-test the local pipeline: sustained events/s and ingest latency, against a no-storage baseline.
    Bench {
        /// Concurrent keep-alive clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds of load per target.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Size of each event's `message`.
        #[arg(long, default_value_t = 100)]
        body_bytes: usize,
    },
}

fn main() -> miette::Result<()> {
    let cli = Cli::parse();
    std::env::set_current_dir(xtask::project_root())
        .map_err(|e| miette::miette!("cannot enter the project root: {e}"))?;
    let config = cli.config;
    match cli.command {
        Command::Validate => {
            let p = xtask::config::load(&config)?;
            println!(
                "{}: ok ({} routes, {} streams, {} tables, {} queues, {} consumers)",
                config.display(),
                p.routes.len(),
                p.streams.len(),
                p.tables.len(),
                p.queues.len(),
                p.consumers.len()
            );
            Ok(())
        }
        Command::Gen { check, out_dir } => generate::run(generate::GenOptions {
            config,
            out_dir,
            check,
        }),
        Command::Build { lambda_dir } => {
            build::build_into(&build::BuildOptions { config }, &lambda_dir).map(drop)
        }
        Command::Dev {
            port,
            state_dir,
            credentials,
        } => dev::run(dev::DevOptions {
            config,
            port,
            state_dir,
            credentials,
        }),
        Command::SmokeTest {
            local,
            port,
            state_dir,
            terraform_dir,
        } => smoke::run(smoke::SmokeOptions {
            config,
            local,
            port,
            state_dir,
            terraform_dir,
        }),
        Command::Test => xtask::test::run(),
        Command::Bench {
            clients,
            seconds,
            body_bytes,
        } => xtask::bench::run(xtask::bench::BenchOptions {
            config,
            clients,
            seconds,
            body_bytes,
        }),
    }
}
