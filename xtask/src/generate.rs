//! `cargo xtask gen`: pipeline.toml → terraform/ (askama templates).

use std::path::PathBuf;

pub struct GenOptions {
    pub config: PathBuf,
    pub out_dir: PathBuf,
    pub check: bool,
}

pub fn run(_opts: GenOptions) -> miette::Result<()> {
    miette::bail!("not implemented yet")
}
