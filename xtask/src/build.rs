//! `cargo xtask build`: the Lambda functions, with cargo-lambda, into the zips terraform/ references.

use std::path::PathBuf;

pub struct BuildOptions {
    pub config: PathBuf,
}

pub fn run(_opts: BuildOptions) -> miette::Result<()> {
    miette::bail!("not implemented yet")
}
