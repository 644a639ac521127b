//! `cargo xtask smoke-test`: proves a running pipeline end to end (local or deployed).

use std::path::PathBuf;

pub struct SmokeOptions {
    pub config: PathBuf,
    pub local: bool,
    pub port: u16,
    pub state_dir: PathBuf,
    pub terraform_dir: PathBuf,
}

pub fn run(_opts: SmokeOptions) -> miette::Result<()> {
    miette::bail!("not implemented yet")
}
