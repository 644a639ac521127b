//! sluice's developer tool, as a library: `cargo xtask <command>` is a thin `main` over these modules, one
//! per command, each with its clap `Args` and one `run`. The config model lives in `sluice-config`, the
//! contracts in `sluice-contract`, the local runtime in `sluice-local`.

pub mod bench;
pub mod build;
pub mod dev;
pub mod generate;
pub mod smoke;
pub mod test;
mod tools;

use std::path::{Path, PathBuf};

/// The project root: the folder holding the workspace `Cargo.toml` (xtask's parent).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo xtask validate`: checks pipeline.toml and prints a one-line summary.
pub fn validate(config: &Path) -> miette::Result<()> {
    let p = sluice_config::load(config)?;
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
