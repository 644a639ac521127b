//! `cargo xtask send` to the deployed stack: the API's URL from the Terraform outputs, the credentials from
//! the secret they name (only when the route wants them).

use crate::deployment::OutputsArgs;
use crate::smoke::secret_credentials;

/// The deployed API's base URL (with its stage) and, for a route with auth, the credentials.
pub(super) async fn target(
    outputs: &OutputsArgs,
    auth: bool,
) -> miette::Result<(String, Option<(String, String)>)> {
    let deployment = outputs.read()?;
    let base = deployment.api_url()?.trim_end_matches('/').to_string();
    let credentials = if auth {
        let sdk = deployment.sdk_config().await;
        Some(secret_credentials(&sdk, &deployment.credentials_secret_arn()?).await?)
    } else {
        None
    };
    Ok((base, credentials))
}
