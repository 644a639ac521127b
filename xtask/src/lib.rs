//! sluice's developer tool, as a library: `cargo xtask <command>` is a thin `main` over these modules, one
//! per command, each with its clap `Args` and one `run`. The config model lives in `sluice-config`, the
//! contracts in `sluice-contract`, the local runtime in `sluice-local`.

pub mod bench;
pub mod build;
pub mod dev;
pub mod dlq;
pub mod generate;
pub mod items;
pub mod outputs;
pub mod plan;
pub mod rotate;
pub mod smoke;
pub mod status;
pub mod test;
pub mod tf_outputs;
mod tools;

use std::path::{Path, PathBuf};

/// The project root: the folder holding the workspace `Cargo.toml` (xtask's parent).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo xtask validate`: checks pipeline.toml, prints a one-line summary, and warns (located at the setting)
/// about what cannot carry the stage's own throttle rate (see `cargo xtask plan`).
pub fn validate(config: &Path) -> miette::Result<()> {
    let p = sluice_config::load(config)?;
    let src = std::fs::read_to_string(config).unwrap_or_default();
    let warnings = plan::validate_warnings(&src, &p);
    if !warnings.is_empty() {
        let file = config
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rendered = sluice_config::ConfigWarnings::new(&file, &src, warnings).render();
        print!("{rendered}");
    }
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
