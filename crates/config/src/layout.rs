//! Where a sluice project keeps its files: the project root (the folder holding the workspace `Cargo.toml`
//! and, by default, `pipeline.toml`), and the folders the commands agree on.

use std::path::{Path, PathBuf};

/// Where `cargo xtask build` puts each function's `bootstrap.zip` (`<LAMBDA_DIR>/<function>/`), relative to
/// the project root; the generated Terraform points there.
pub const LAMBDA_DIR: &str = "target/lambda";

/// The project root: two folders above this crate (`crates/config`).
pub fn project_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_project_root_holds_the_shipped_pipeline() {
        assert!(super::project_root().join("pipeline.toml").is_file());
        assert!(
            super::project_root()
                .join("crates/config/Cargo.toml")
                .is_file()
        );
    }
}
