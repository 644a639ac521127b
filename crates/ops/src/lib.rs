//! Reading and acting on a pipeline, local (`cargo xtask dev`'s state dir) or deployed (the Terraform
//! outputs and the AWS APIs): `validate`, `plan`, `status`, `items`, `dlq`, `rotate`, `smoke-test`. Each
//! command is a module with its clap `Args` and one `run`; `xtask` only parses and dispatches.

pub mod dlq;
pub mod items;
pub mod outputs;
pub mod plan;
pub mod rotate;
pub mod smoke;
pub mod status;
pub mod tf_outputs;

use std::path::Path;

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
