use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// sluice: describe an authenticated HTTP → Kinesis → DynamoDB pipeline once in pipeline.toml,
/// then generate its Terraform, build its Lambdas, run it locally, and smoke-test it.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    /// The pipeline file.
    #[arg(long, global = true, default_value = "pipeline.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate pipeline.toml and print a summary; exit 2 when it is invalid.
    Validate,
}

fn main() -> miette::Result<()> {
    let cli = Cli::parse();
    std::env::set_current_dir(xtask::project_root()).map_err(|e| miette::miette!("cannot enter the project root: {e}"))?;
    match cli.command {
        Command::Validate => {
            let p = xtask::config::load(&cli.config)?;
            println!("{}: ok ({} routes, {} streams, {} tables, {} consumers)", cli.config.display(), p.routes.len(), p.streams.len(), p.tables.len(), p.consumers.len());
        }
    }
    Ok(())
}
