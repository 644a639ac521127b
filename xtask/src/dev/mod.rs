//! `cargo xtask dev`: the whole pipeline on 127.0.0.1, no AWS account.

use std::path::PathBuf;

pub struct DevOptions {
    pub config: PathBuf,
    pub port: u16,
    pub state_dir: PathBuf,
    pub credentials: Option<String>,
}

pub fn run(_opts: DevOptions) -> miette::Result<()> {
    miette::bail!("not implemented yet")
}
