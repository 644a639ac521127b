//! sluice's tool, as a library: `cargo xtask <command>` is a thin `main` over these modules.

pub mod bench;
pub mod build;
pub mod config;
pub mod contract;
pub mod dev;
pub mod generate;

pub mod smoke;
pub mod test;
pub mod tools;

use std::path::{Path, PathBuf};

/// The project root: the folder holding the workspace `Cargo.toml` (xtask's parent).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
