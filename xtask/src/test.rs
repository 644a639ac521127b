//! `cargo xtask test`: the README's "run all tests" command, and all that `.ci/run` calls.
//!
//! 1. the project venv (cargo-lambda, zig, moto's server, airspeed-ext), installed if missing;
//! 2. the Lambda zips (`cargo xtask build`), which the runtime-API tests start and Terraform references;
//! 3. every test of the workspace, with cargo-nextest when it is installed (else `cargo test`), with the
//!    venv's `bin/` first on PATH so the tests find `moto_server`.

use std::process::Command;
use std::time::Instant;

use miette::{IntoDiagnostic, miette};

use crate::{build, tools};

pub fn run() -> miette::Result<()> {
    let started = Instant::now();
    println!("==> tools: project venv at target/sluice-venv");
    let venv = tools::venv().map_err(|e| miette!("{e}"))?;

    println!("==> build: the Lambda functions (cargo xtask build)");
    build::run(build::BuildOptions {
        config: crate::project_root().join("pipeline.toml"),
    })?;

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
        .env("SLUICE_MOTO_SERVER", venv.moto_server());
    let status = cmd.status().into_diagnostic()?;
    println!("==> done in {:.0} s", started.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(miette!("tests failed ({status})"))
    }
}
