//! `rotate --revoke-previous` on AWS: Secrets Manager `DescribeSecret` and `UpdateSecretVersionStage`, then
//! API Gateway `FlushStageAuthorizersCache`. Compiled with the `aws` feature.

use miette::miette;

use super::{DeployedAuth, RotateError};

/// The version stage of the previous password.
const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// What [`revoke_deployed`] did.
#[derive(Debug)]
pub struct Revocation {
    /// The version `AWSPREVIOUS` was removed from; `None` if no version had it.
    pub revoked_version: Option<String>,
    /// Whether API Gateway flushed the stage's authorizer cache, or why not.
    pub flushed: Result<(), RotateError>,
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
        .map_err(|e| {
            RotateError::FlushFailed(aws_sdk_apigateway::error::DisplayErrorContext(&e).to_string())
        });
    Ok(Revocation {
        revoked_version,
        flushed,
    })
}

pub(super) async fn revoke_and_report(
    auth: &DeployedAuth,
    cache_ttl_seconds: u32,
) -> miette::Result<()> {
    let sdk = crate::aws::sdk_config(auth.region.as_deref()).await;
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
