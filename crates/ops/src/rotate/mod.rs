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
//! Neither reads the secret's value: `DescribeSecret` and `UpdateSecretVersionStage` are not
//! `GetSecretValue`, which the secret's resource policy keeps from everyone but its readers.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use miette::{IntoDiagnostic, miette};

use crate::tf_outputs::TerraformOutputs;

/// The version stage of the previous password.
const AWSPREVIOUS: &str = "AWSPREVIOUS";

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
    /// The Terraform root whose `terraform output -json` describes the deployed stack.
    #[arg(long, default_value = "terraform")]
    pub terraform_dir: PathBuf,
}

pub fn run(config: &Path, args: RotateArgs) -> miette::Result<()> {
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
            let outputs =
                DeployedAuth::from_outputs(&TerraformOutputs::from_dir(&args.terraform_dir)?)?;
            let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
            rt.block_on(revoke_and_report(&outputs, auth.cache_ttl_seconds))
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
    pub fn from_outputs(outputs: &TerraformOutputs) -> miette::Result<Self> {
        Ok(DeployedAuth {
            secret_arn: outputs.string("credentials_secret_arn")?,
            api_id: outputs.string("api_id")?,
            stage: outputs.string("api_stage_name")?,
            region: outputs.optional_string("region"),
        })
    }
}

/// What [`revoke_deployed`] did.
#[derive(Debug)]
pub struct Revocation {
    /// The version `AWSPREVIOUS` was removed from; `None` if no version had it.
    pub revoked_version: Option<String>,
    /// Whether API Gateway flushed the stage's authorizer cache, or why not.
    pub flushed: Result<(), String>,
}

/// Removes `AWSPREVIOUS` from the secret's previous version and flushes the stage's authorizer cache. A
/// Secrets Manager failure is an error (nothing was revoked); a failed flush is reported in the result (the
/// revocation stands; API Gateway's cached Allows then end with their TTL).
pub async fn revoke_deployed(
    sdk: &aws_config::SdkConfig,
    auth: &DeployedAuth,
) -> miette::Result<Revocation> {
    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let revoked_version = previous_version(&secrets, &auth.secret_arn).await?;
    if let Some(version_id) = &revoked_version {
        secrets
            .update_secret_version_stage()
            .secret_id(&auth.secret_arn)
            .version_stage(AWSPREVIOUS)
            .remove_from_version_id(version_id)
            .send()
            .await
            .map_err(|e| {
                miette!(
                    "UpdateSecretVersionStage on {} failed: {}",
                    auth.secret_arn,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                )
            })?;
    }
    let flushed = aws_sdk_apigateway::Client::new(sdk)
        .flush_stage_authorizers_cache()
        .rest_api_id(&auth.api_id)
        .stage_name(&auth.stage)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_apigateway::error::DisplayErrorContext(&e).to_string());
    Ok(Revocation {
        revoked_version,
        flushed,
    })
}

async fn revoke_and_report(auth: &DeployedAuth, cache_ttl_seconds: u32) -> miette::Result<()> {
    let sdk = crate::smoke::sdk_config(auth.region.as_deref()).await;
    let revocation = revoke_deployed(&sdk, auth).await?;
    match &revocation.revoked_version {
        Some(version_id) => eprintln!(
            "removed {AWSPREVIOUS} from version {version_id} of {}: warm authorizers refuse the previous password within 10 s",
            auth.secret_arn
        ),
        None => eprintln!(
            "{} has no {AWSPREVIOUS} version: nothing to revoke in Secrets Manager",
            auth.secret_arn
        ),
    }
    match &revocation.flushed {
        Ok(()) => eprintln!(
            "flushed the authorizer cache of stage {} of API {}: no Allow cached before the revocation is used again",
            auth.stage, auth.api_id
        ),
        Err(e) => eprintln!(
            "warning: could not flush the authorizer cache of stage {stage} of API {api} ({e}); API Gateway may \
             keep allowing a client it cached for up to auth.cache_ttl_seconds = {cache_ttl_seconds} s. Retry with \
             `aws apigateway flush-stage-authorizers-cache --rest-api-id {api} --stage-name {stage}` (moto does \
             not implement this call)",
            stage = auth.stage,
            api = auth.api_id,
        ),
    }
    Ok(())
}

/// The id of the version labelled `AWSPREVIOUS`, if any (from `DescribeSecret`, which does not read the value).
async fn previous_version(
    secrets: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> miette::Result<Option<String>> {
    let described = secrets
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            miette!(
                "DescribeSecret on {secret_id} failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    Ok(described
        .version_ids_to_stages()
        .into_iter()
        .flatten()
        .find(|(_, stages)| stages.iter().any(|s| s == AWSPREVIOUS))
        .map(|(id, _)| id.clone()))
}

/// `2026-12-06T01:02:03Z` for a time.
fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_outputs(text: &str) -> miette::Result<DeployedAuth> {
        DeployedAuth::from_outputs(&TerraformOutputs::parse(text, "test".into())?)
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
