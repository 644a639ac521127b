//! `cargo xtask test`: the README's "run all tests" command, and all that `.ci/run` calls.
//!
//! 1. `cargo fmt --check` and `cargo clippy --workspace --all-targets -- -D warnings` (lints as code: the
//!    workspace's `[workspace.lints]`), so CI fails on either;
//! 2. the declarative pipeline tests of every shipped pipeline (`cargo xtask test-pipeline` for
//!    pipeline.toml, examples/multi and examples/enrich, whose function runs as its binary), on the local runtime;
//! 3. the project venv (cargo-lambda, zig, moto's server, airspeed-ext) and checkov's, installed if missing;
//! 4. the Lambda zips (`cargo xtask build`), which the runtime-API tests start and Terraform references,
//!    each at most `sluice_build::MAX_ZIP_BYTES` (4 MiB);
//! 5. every test of the workspace, with cargo-nextest when it is installed (else `cargo test`), with the
//!    venv's `bin/` first on PATH so the tests find `moto_server`, and `SLUICE_CHECKOV` naming checkov.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use miette::{IntoDiagnostic, miette};

use sluice_build::{self as build, tools};
use sluice_ops::pipeline_test;

/// The shipped pipelines, whose suites (`tests/pipeline/*.toml` beside each) `cargo xtask test` runs.
const PIPELINES: [&str; 3] = [
    "pipeline.toml",
    "examples/multi/pipeline.toml",
    "examples/enrich/pipeline.toml",
];

/// Runs `cargo <args>` from the project root; an error names the step and how to see the problem.
fn cargo(step: &str, args: &[&str], fix: &str) -> miette::Result<()> {
    let started = Instant::now();
    println!("==> {step}: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(sluice_config::project_root())
        .status()
        .into_diagnostic()?;
    if !status.success() {
        return Err(miette!("{step} failed ({status}); {fix}"));
    }
    println!("    {step} ok in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

pub fn run() -> miette::Result<()> {
    let started = Instant::now();
    cargo(
        "format",
        &["fmt", "--all", "--check"],
        "run `cargo fmt --all`",
    )?;
    cargo(
        "lint",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        "fix what clippy reports above",
    )?;

    let started_pipelines = Instant::now();
    println!("==> pipeline tests: cargo xtask test-pipeline, for each shipped pipeline");
    let suites = PIPELINES
        .iter()
        .map(|config| pipeline_test::load(Path::new(config), &[]))
        .collect::<miette::Result<Vec<_>>>()?;
    pipeline_test::run_suites(suites, pipeline_test::DEFAULT_JOBS)?;
    println!(
        "    pipeline tests ok in {:.0} s",
        started_pipelines.elapsed().as_secs_f64()
    );

    println!("==> tools: project venv at target/sluice-venv");
    let venv = tools::venv().map_err(|e| miette!("{e}"))?;
    println!("==> tools: checkov at {}", tools::CHECKOV_VENV_DIR);
    let checkov = tools::checkov_venv().map_err(|e| miette!("{e}"))?;

    println!("==> build: the Lambda functions (cargo xtask build), each zip at most 4 MiB");
    let artifacts = build::build_into(Path::new("pipeline.toml"), Path::new(build::LAMBDA_DIR))?;
    build::check_zip_sizes(&artifacts)?;

    let nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut cmd = Command::new("cargo");
    if nextest {
        println!("==> test: cargo nextest run --workspace");
        cmd.args([
            "nextest",
            "run",
            "--workspace",
            "--no-fail-fast",
            "--failure-output",
            "final",
        ]);
    } else {
        println!("==> test: cargo test --workspace (cargo-nextest is not installed)");
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    cmd.env("PATH", venv.path_env())
        .env("SLUICE_MOTO_SERVER", venv.moto_server())
        .env("SLUICE_CHECKOV", checkov.checkov());
    let status = cmd.status().into_diagnostic()?;
    println!("==> done in {:.0} s", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(miette!("tests failed ({status})"))
    }
}
