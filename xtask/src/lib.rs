//! sluice's command line: clap parses the arguments and each command calls one library function
//! (`sluice-gen`, `sluice-build`, `sluice-local`, `sluice-ops`, `sluice-bench`); `dev` and `test` are
//! the only commands whose few lines of glue live here.
//!
//! Two binaries share this code: `xtask` (what `cargo xtask` runs) is built without the AWS SDK, so a fresh
//! clone's first `cargo xtask dev` compiles none of it; a command that talks to AWS (a deployed
//! `status`, `items`, `dlq`, `rotate`, `send`, `smoke-test`, or `bench --writes`) is handed to `xtask-aws`, the same
//! command line built with `--features aws`.

use std::path::PathBuf;
use std::process::Command as Process;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use sluice_bench as bench;
use sluice_build as build;
use sluice_gen as generate;
use sluice_ops::{dlq, items, pipeline_test, plan, rotate, send, smoke, status};

mod dev;
mod paths;
mod test;

/// sluice: describe an authenticated HTTP → Kinesis → DynamoDB pipeline once in pipeline.toml,
/// then generate its Terraform, build its Lambdas, run it locally, and smoke-test it.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    /// The pipeline file. The default is the project root's; a path you type is taken from where you stand.
    #[arg(long, global = true, default_value = "pipeline.toml")]
    config: PathBuf,
    /// The environment of pipeline.toml (`[environments.NAME]`) to run, check or operate: its Terraform
    /// root `terraform/envs/NAME/` (unless `--terraform-dir` says otherwise) and its local state
    /// `<state-dir>/envs/NAME/`. Without it, the base pipeline.
    #[arg(long, global = true, value_name = "NAME")]
    env: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate pipeline.toml and print a summary; exits non-zero when it is invalid.
    Validate,
    /// Render terraform/ (root, modules, OpenAPI document) and the README's reference from pipeline.toml.
    Gen(generate::GenArgs),
    /// Build the Lambda functions with cargo-lambda into target/lambda/<function>/bootstrap.zip.
    Build(build::BuildArgs),
    /// Run the whole pipeline locally on 127.0.0.1 (gateway, authorizer, streams, consumers, tables).
    Dev(dev::DevArgs),
    /// Send one event on a route (its method, path, content type, credentials and example body) to the
    /// pipeline `cargo xtask dev` runs, else the deployed one; prints the status and the answer.
    Send(send::SendArgs),
    /// Prove a running pipeline end to end: the deployed stack (default) or `cargo xtask dev` (--local).
    SmokeTest(smoke::SmokeArgs),
    /// Run every check and test (installs the tools they need into target/sluice-venv first).
    Test,
    /// Print a shell completion script for `xtask` (with `alias xtask='cargo xtask'`), e.g.
    /// `source <(cargo xtask completions bash)`.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Run the declarative pipeline tests (default: tests/pipeline/*.toml beside --config) on the local runtime.
    TestPipeline(pipeline_test::TestPipelineArgs),
    /// Load-test the local pipeline: sustained events/s and ingest latency, against a no-storage baseline.
    Bench(bench::BenchArgs),
    /// Whether the pipeline carries a target load (stage, shards, consumers, tables), and a monthly cost estimate.
    Plan(plan::PlanArgs),
    /// The pipeline at a glance: shards and incoming rate, consumer lag, dead letters, table writes, alarms.
    Status(status::StatusArgs),
    /// Print what landed in a table as JSON: one item by its key, or the newest items.
    Items(items::ItemsArgs),
    /// Rotate the local credentials (--local), or end the previous password now (--revoke-previous).
    Rotate(rotate::RotateArgs),
    /// The dead-letter queues, local (--local) or deployed: list, show, hydrate and redrive their messages.
    Dlq(dlq::DlqArgs),
    /// Scaffold a consumer function's crate (`new function NAME`): handler, unit test, workspace member.
    New(build::scaffold::NewArgs),
}

impl Command {
    /// Whether this run calls AWS's APIs (a deployed stack, or moto): only the `xtask-aws` build can.
    fn needs_aws(&self) -> bool {
        match self {
            Command::Send(args) => args.needs_aws(),
            Command::SmokeTest(args) => args.needs_aws(),
            Command::Bench(args) => args.needs_aws(),
            Command::Status(args) => args.needs_aws(),
            Command::Items(args) => args.needs_aws(),
            Command::Rotate(args) => args.needs_aws(),
            Command::Dlq(args) => args.needs_aws(),
            Command::Validate
            | Command::Gen(_)
            | Command::Build(_)
            | Command::Dev(_)
            | Command::Test
            | Command::Completions { .. }
            | Command::TestPipeline(_)
            | Command::Plan(_)
            | Command::New(_) => false,
        }
    }
}

impl Command {
    /// Whether the command reads `--config` (every command but `test`, which checks every shipped
    /// pipeline, and `completions`).
    fn reads_config(&self) -> bool {
        !matches!(self, Command::Test | Command::Completions { .. })
    }

    /// The command's name as typed.
    fn name(&self) -> &'static str {
        match self {
            Command::Test => "test",
            Command::Completions { .. } => "completions",
            Command::Gen(_) => "gen",
            Command::Build(_) => "build",
            Command::Bench(_) => "bench",
            _ => "this command",
        }
    }

    /// Why `--env` does not apply to the command, if it does not.
    fn refuses_env(&self) -> Option<&'static str> {
        match self {
            Command::Gen(_) => Some(
                "leave --env out: gen renders the base pipeline and every environment at once (terraform/envs/<name>/)",
            ),
            Command::Build(_) => Some(
                "leave --env out: every environment deploys the same function zips, which build makes once",
            ),
            Command::Bench(_) => Some("leave --env out: bench measures the base pipeline"),
            Command::Test | Command::Completions { .. } => {
                Some("leave --env out; it reads no pipeline file")
            }
            _ => None,
        }
    }

    /// With `--env`: the local state is the environment's own, under the state dir (`<state-dir>/envs/NAME`,
    /// typed or not), and the Terraform root, unless typed, the environment's.
    fn for_environment(&mut self, file: &sluice_config::PipelineFile, terraform_typed: bool) {
        let (state_dir, outputs) = match self {
            Command::Dev(a) => (Some(&mut a.state_dir), None),
            Command::Send(a) => (Some(&mut a.state_dir), Some(&mut a.outputs)),
            Command::SmokeTest(a) => (Some(&mut a.state_dir), Some(&mut a.deployed)),
            Command::Status(a) => (Some(&mut a.state_dir), Some(&mut a.outputs)),
            Command::Items(a) => (Some(&mut a.state_dir), Some(&mut a.outputs)),
            Command::Rotate(a) => (Some(&mut a.state_dir), Some(&mut a.deployed)),
            Command::Dlq(a) => (Some(&mut a.state_dir), Some(&mut a.deployed)),
            _ => (None, None),
        };
        if let Some(dir) = state_dir {
            *dir = file.state_dir(dir);
        }
        if let Some(outputs) = outputs
            && !terraform_typed
        {
            outputs.terraform_dir = file.terraform_dir();
        }
    }
}

/// Parses the command line and runs the command, from the project root.
pub fn main() -> miette::Result<()> {
    let cwd = std::env::current_dir()
        .map_err(|e| miette::miette!("cannot read the current directory: {e}"))?;
    let args = paths::resolve_user_paths(Cli::command(), std::env::args_os().collect(), &cwd);
    let matches = Cli::command().get_matches_from(&args);
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let config_typed = matches.value_source("config") == Some(ValueSource::CommandLine);
    if config_typed && !cli.command.reads_config() {
        return Err(miette::miette!(
            help = "leave --config out; `cargo xtask test` checks the shipped pipeline.toml and every example",
            "`{}` reads no pipeline file, so --config does not apply to it",
            cli.command.name()
        ));
    }
    let file = sluice_config::PipelineFile::new(cli.config.clone(), cli.env.clone());
    if cli.env.is_some() {
        if let Some(why) = cli.command.refuses_env() {
            return Err(miette::miette!(
                help = why,
                "`{}` does not take --env",
                cli.command.name()
            ));
        }
        let sub = matches.subcommand().map(|(_, m)| m);
        let typed = |id: &str| {
            sub.is_some_and(|m| {
                m.try_contains_id(id).is_ok()
                    && m.value_source(id) == Some(ValueSource::CommandLine)
            })
        };
        let terraform = typed("terraform_dir");
        cli.command.for_environment(&file, terraform);
    }
    std::env::set_current_dir(sluice_config::project_root())
        .map_err(|e| miette::miette!("cannot enter the project root: {e}"))?;
    if cli.command.needs_aws() && !cfg!(feature = "aws") {
        return run_aws_build(&args[1..]);
    }
    let config = &file;
    match cli.command {
        Command::Validate => sluice_ops::validate(config),
        Command::Gen(args) => generate::run(config, args),
        Command::Build(args) => build::run(config, args),
        Command::Dev(args) => dev::run(config, args),
        Command::Send(args) => send::run(config, args),
        Command::SmokeTest(args) => smoke::run(config, args),
        Command::Test => test::run(),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a closed pipe (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "xtask", &mut script);
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(&script);
            Ok(())
        }
        Command::TestPipeline(args) => pipeline_test::run(config, args),
        Command::Bench(args) => bench::run(config, args),
        Command::Plan(args) => plan::run(config, args),
        Command::Status(args) => status::run(config, args),
        Command::Items(args) => items::run(config, args),
        Command::Rotate(args) => rotate::run(config, args),
        Command::Dlq(args) => dlq::run(config, args),
        Command::New(args) => build::scaffold::run(config, args),
    }
}

/// Runs this same command line as `xtask-aws`, the build with the AWS SDK, through cargo (which builds it
/// the first time, and again only when the code changed), and exits with its status.
fn run_aws_build(args: &[std::ffi::OsString]) -> miette::Result<()> {
    let built = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("xtask-aws")))
        .is_some_and(|aws| aws.exists());
    if !built {
        eprintln!(
            "this command talks to AWS: building sluice's AWS commands once (the AWS SDK; a few minutes on a fresh clone)…"
        );
    }
    let mut cargo = Process::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.args([
        "run",
        "--package",
        "xtask",
        "--features",
        "aws",
        "--bin",
        "xtask-aws",
    ]);
    if built {
        cargo.arg("--quiet");
    }
    let status = cargo
        .arg("--")
        .args(args)
        .status()
        .map_err(|e| miette::miette!("cannot run cargo to build the AWS commands: {e}"))?;
    std::process::exit(status.code().unwrap_or(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_aws(args: &[&str]) -> bool {
        let cli = Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        cli.command.needs_aws()
    }

    #[test]
    fn only_the_commands_that_call_aws_go_to_the_aws_build() {
        for local in [
            &["dev"][..],
            &["validate"],
            &["gen", "--check"],
            &["plan", "--rate", "50"],
            &["bench"],
            &["status", "--local"],
            &["items", "EventTable", "--local"],
            &["dlq", "--local", "list"],
            &["rotate", "--local"],
            &["smoke-test", "--local"],
            &["dlq", "list", "--local"],
            &["completions", "bash"],
            &["test-pipeline"],
            &["send", "submit", "--local"],
        ] {
            assert!(!needs_aws(local), "{local:?} runs without the AWS SDK");
        }
        for deployed in [
            &["status"][..],
            &["items", "EventTable"],
            &["dlq", "list"],
            &["rotate", "--revoke-previous"],
            &["smoke-test"],
            &["bench", "--writes"],
            &["send", "submit", "--outputs", "outputs.json"],
        ] {
            assert!(needs_aws(deployed), "{deployed:?} talks to AWS");
        }
    }
}
