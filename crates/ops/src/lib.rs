//! Reading and acting on a pipeline, local (`cargo xtask dev`'s state dir) or deployed (the Terraform
//! outputs and the AWS APIs): `validate`, `plan`, `status`, `items`, `dlq`, `rotate`, `send`, `smoke-test`. Each
//! command is a module with its clap `Args` and one `run`; `xtask` only parses and dispatches.
//!
//! The AWS SDK is behind the `aws` feature (off by default): without it the crate builds without the SDK,
//! the local paths (`--local`, `plan`, `validate`) work, and a deployed path answers [`NO_AWS`]. Each
//! command's `Args::needs_aws` says beforehand whether a run would call AWS.

#[cfg(feature = "aws")]
pub mod aws;
pub mod deployment;
pub mod dlq;
pub mod items;
pub mod pipeline_test;
pub mod plan;
pub mod rotate;
pub mod send;
pub mod smoke;
pub mod status;

/// What a deployed command answers in a build without the `aws` feature.
pub const NO_AWS: &str =
    "this build of sluice has no AWS support; run it through `cargo xtask`, which builds it";

/// The error of a deployed command in a build without the `aws` feature.
#[cfg(not(feature = "aws"))]
pub(crate) fn no_aws() -> miette::Report {
    miette::miette!("{NO_AWS}")
}

/// `cargo xtask validate`: checks pipeline.toml, prints a one-line summary, and warns (located at the setting)
/// about what cannot carry the stage's own throttle rate (see `cargo xtask plan`).
///
/// Without `--env`, the base pipeline and then every environment it declares; with it, that environment.
pub fn validate(config: &sluice_config::PipelineFile) -> miette::Result<()> {
    let src = std::fs::read_to_string(config).unwrap_or_default();
    for p in &config.load_each()? {
        validate_one(config, &src, p);
    }
    Ok(())
}

fn validate_one(config: &std::path::Path, src: &str, p: &sluice_config::Pipeline) {
    let warnings = plan::validate_warnings(src, p);
    if !warnings.is_empty() {
        let file = config
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rendered = sluice_config::ConfigWarnings::new(&file, src, warnings).render();
        print!("{rendered}");
    }
    println!(
        "{}{}: ok ({} routes, {} streams, {} tables, {} queues, {} consumers)",
        config.display(),
        match &p.environment {
            Some(env) => format!(" [environments.{env}]"),
            None => String::new(),
        },
        p.routes.len(),
        p.streams.len(),
        p.tables.len(),
        p.queues.len(),
        p.consumers.len()
    );
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Parser)]
    enum Cli {
        SmokeTest(crate::smoke::SmokeArgs),
        Status(crate::status::StatusArgs),
        Items(crate::items::ItemsArgs),
        Rotate(crate::rotate::RotateArgs),
        Dlq(crate::dlq::DlqArgs),
        Send(crate::send::SendArgs),
    }

    fn needs_aws(args: &[&str]) -> bool {
        match Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).unwrap() {
            Cli::SmokeTest(a) => a.needs_aws(),
            Cli::Status(a) => a.needs_aws(),
            Cli::Items(a) => a.needs_aws(),
            Cli::Rotate(a) => a.needs_aws(),
            Cli::Dlq(a) => a.needs_aws(),
            Cli::Send(a) => a.needs_aws(),
        }
    }

    #[test]
    fn deployed_runs_and_only_they_need_aws() {
        assert!(needs_aws(&["smoke-test"]));
        assert!(!needs_aws(&["smoke-test", "--local"]));
        assert!(needs_aws(&["status", "--outputs", "o.json"]));
        assert!(!needs_aws(&["status", "--local"]));
        assert!(needs_aws(&["items", "EventTable"]));
        assert!(!needs_aws(&["items", "EventTable", "--local"]));
        assert!(needs_aws(&["dlq", "list"]));
        assert!(!needs_aws(&["dlq", "--local", "list"]));
        assert!(needs_aws(&["rotate", "--revoke-previous"]));
        assert!(!needs_aws(&["rotate"]));
        assert!(!needs_aws(&["rotate", "--local"]));
        assert!(!needs_aws(&["rotate", "--local", "--revoke-previous"]));
        assert!(!needs_aws(&["send", "submit", "--local"]));
        assert!(needs_aws(&["send", "submit", "--outputs", "o.json"]));
        // No `cargo xtask dev` recorded in this state dir, no initialised Terraform root: neither.
        assert!(!needs_aws(&[
            "send",
            "submit",
            "--state-dir",
            "/nonexistent/sluice",
            "--terraform-dir",
            "/nonexistent/terraform"
        ]));
    }

    #[cfg(not(feature = "aws"))]
    #[test]
    fn without_aws_a_deployed_run_says_so() {
        let config = sluice_config::PipelineFile::new(
            sluice_config::project_root().join("pipeline.toml"),
            None,
        );
        let Cli::Items(args) = Cli::try_parse_from(["sluice", "items", "EventTable"]).unwrap()
        else {
            unreachable!()
        };
        let err = crate::items::run(&config, args).unwrap_err();
        assert_eq!(err.to_string(), crate::NO_AWS);
        let Cli::Status(args) = Cli::try_parse_from(["sluice", "status"]).unwrap() else {
            unreachable!()
        };
        let err = crate::status::run(&config, args).unwrap_err();
        assert_eq!(err.to_string(), crate::NO_AWS);
    }
}
