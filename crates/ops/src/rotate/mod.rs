//! `cargo xtask rotate`: the operator's side of password rotation.
//!
//! - `--local`: rotates the credentials of `cargo xtask dev` (`<state-dir>/credentials.json`) the way
//!   `terraform apply` with a bumped `auth.password_version` rotates the secret: a new password becomes
//!   current, the old one previous, accepted for `auth.previous_password_grace_seconds`. The new password is
//!   printed once, alone, on stdout (everything else goes to stderr), so `PW=$(cargo xtask rotate --local)`
//!   works.
//! - `--revoke-previous` (deployed, or with `--local`): ends the previous password now. On AWS: Secrets
//!   Manager `UpdateSecretVersionStage` removes the `AWSPREVIOUS` label from the old version (the authorizer
//!   then finds no previous version: warm functions refuse it within 10 s), then API Gateway
//!   `FlushStageAuthorizersCache` drops the Allows API Gateway cached for it. Names come from
//!   `terraform output -json`.
//!
//! The AWS calls are in `deployed` (feature `aws`). Neither reads the secret's value: `DescribeSecret` and `UpdateSecretVersionStage` are not
//! `GetSecretValue`, which the secret's resource policy keeps from everyone but its readers.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use miette::miette;

use crate::deployment::{Deployment, DeploymentError};

#[cfg(feature = "aws")]
mod deployed;
#[cfg(feature = "aws")]
pub use deployed::{Revocation, revoke_deployed};

/// `cargo xtask rotate`.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateArgs {
    /// Rotate (or, with --revoke-previous, revoke) the credentials of `cargo xtask dev` in --state-dir.
    /// Without it, the deployed stack is meant: there only --revoke-previous applies (Terraform rotates).
    #[arg(long)]
    pub local: bool,
    /// End the previous password now instead of at the end of its grace period.
    #[arg(long)]
    pub revoke_previous: bool,
    /// The local pipeline's state dir.
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Where the deployed stack's secret and API are named (with --revoke-previous).
    #[command(flatten)]
    pub deployed: crate::deployment::OutputsArgs,
}

impl RotateArgs {
    /// Whether this run would call AWS: `--revoke-previous` without `--local` (without either, rotate only
    /// explains that Terraform rotates on AWS).
    pub fn needs_aws(&self) -> bool {
        !self.local && self.revoke_previous
    }
}

/// What `rotate` could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotateError {
    /// API Gateway did not flush the stage's authorizer cache (the revocation stands).
    #[error("{0}")]
    FlushFailed(String),
}

pub fn run(config: &sluice_config::PipelineFile, args: RotateArgs) -> miette::Result<()> {
    #[cfg(not(feature = "aws"))]
    if args.needs_aws() {
        return Err(crate::no_aws());
    }
    let pipeline = sluice_config::load(config)?;
    let auth = pipeline.auth.as_ref().ok_or_else(|| {
        miette!(
            "{} has no [auth] section: there is no password to rotate",
            config.display()
        )
    })?;
    match (args.local, args.revoke_previous) {
        (true, false) => {
            let new = sluice_local::rotate(&args.state_dir)?;
            let grace = u64::from(auth.previous_password_grace_seconds);
            let until = if grace == 0 {
                "the previous password is refused from now on (previous_password_grace_seconds = 0)"
                    .to_owned()
            } else {
                format!(
                    "the previous password is accepted for {grace} s more, until {} (previous_password_grace_seconds); `cargo xtask rotate --local --revoke-previous` ends it now",
                    rfc3339(SystemTime::now() + Duration::from_secs(grace))
                )
            };
            eprintln!(
                "rotated the local credentials in {} (user {}): a running `cargo xtask dev` accepts the new password within 10 s; {until}. The new password:",
                sluice_local::credentials_path(&args.state_dir).display(),
                new.username
            );
            println!("{}", new.password);
            Ok(())
        }
        (true, true) => {
            let path = sluice_local::credentials_path(&args.state_dir);
            if sluice_local::revoke_previous(&args.state_dir)? {
                eprintln!(
                    "revoked the previous local password in {}: a running `cargo xtask dev` refuses it within 10 s",
                    path.display()
                );
            } else {
                eprintln!(
                    "{} holds no previous password: nothing to revoke",
                    path.display()
                );
            }
            Ok(())
        }
        (false, true) => {
            let deployed = DeployedAuth::from_outputs(&args.deployed.read()?)?;
            revoke(&deployed, auth.cache_ttl_seconds)
        }
        (false, false) => Err(miette!(
            help = "bump auth.password_version in pipeline.toml, run `cargo xtask gen` and `terraform apply`; \
                    then, to end the old password before its grace period does, `cargo xtask rotate --revoke-previous`. \
                    `cargo xtask rotate --local` rotates the local credentials",
            "on AWS, Terraform rotates the password (it generates it without ever storing it)"
        )),
    }
}

/// What revoking on AWS needs from `terraform output -json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedAuth {
    pub secret_arn: String,
    pub api_id: String,
    pub stage: String,
    pub region: Option<String>,
}

impl DeployedAuth {
    pub fn from_outputs(outputs: &Deployment) -> Result<Self, DeploymentError> {
        Ok(DeployedAuth {
            secret_arn: outputs.credentials_secret_arn()?,
            api_id: outputs.api_id()?,
            stage: outputs.api_stage_name()?,
            region: outputs.region().map(str::to_owned),
        })
    }
}

/// Revokes the previous password on AWS and says what happened.
#[cfg(feature = "aws")]
fn revoke(auth: &DeployedAuth, cache_ttl_seconds: u32) -> miette::Result<()> {
    use miette::IntoDiagnostic as _;
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(deployed::revoke_and_report(auth, cache_ttl_seconds))
}

#[cfg(not(feature = "aws"))]
fn revoke(_: &DeployedAuth, _: u32) -> miette::Result<()> {
    Err(crate::no_aws())
}

/// `2026-12-06T01:02:03Z` for a time.
fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_outputs(text: &str) -> Result<DeployedAuth, DeploymentError> {
        DeployedAuth::from_outputs(&Deployment::parse(text, "test".into())?)
    }

    #[test]
    fn outputs_name_what_is_missing() {
        let ok = r#"{"credentials_secret_arn":{"value":"arn:s"},"api_id":{"value":"a1"},"api_stage_name":{"value":"prod"},"region":{"value":"us-east-1"}}"#;
        assert_eq!(
            from_outputs(ok).unwrap(),
            DeployedAuth {
                secret_arn: "arn:s".into(),
                api_id: "a1".into(),
                stage: "prod".into(),
                region: Some("us-east-1".into())
            }
        );
        let err = from_outputs(r#"{"credentials_secret_arn":{"value":"arn:s"}}"#).unwrap_err();
        assert!(err.to_string().contains("api_id"), "{err}");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(1_733_446_923)),
            "2024-12-06T01:02:03Z"
        );
    }
}
