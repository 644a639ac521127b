//! The deployed wiring (feature `aws`): credentials from Secrets Manager, and the authorizer's errors as the
//! Lambda runtime reports them. The local runtime builds without it (and so without the AWS SDK).

use std::time::{Duration, SystemTime};

use crate::{
    AuthorizerError, CredentialSets, CredentialsSource, SourceError, StoredCredentials,
    previous_accepted,
};

impl From<AuthorizerError> for lambda_runtime::Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// A Secrets Manager secret holding `{"username":"…","password":"…"}`: its `AWSCURRENT` version (with its
/// `CreatedDate`) and, while the grace period runs, its `AWSPREVIOUS` version.
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

/// One version of the secret: its credentials and creation time.
struct Version {
    credentials: StoredCredentials,
    created: Option<SystemTime>,
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerSource {
            client,
            secret_id: secret_id.into(),
        }
    }

    async fn version(&self, stage: &str) -> Result<Option<Version>, SourceError> {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata as _;
        let result = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        match result {
            Ok(output) => {
                let secret = output.secret_string().ok_or_else(|| {
                    SourceError(format!(
                        "secret {} ({stage}) has no SecretString",
                        self.secret_id
                    ))
                })?;
                let credentials = StoredCredentials::from_secret_string(secret).map_err(|e| {
                    SourceError(format!("secret {} ({stage}): {e}", self.secret_id))
                })?;
                let created = output
                    .created_date()
                    .and_then(|d| SystemTime::try_from(*d).ok());
                Ok(Some(Version {
                    credentials,
                    created,
                }))
            }
            Err(err) => {
                let not_found = err
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception());
                if not_found && stage == "AWSPREVIOUS" {
                    // No rotation has happened yet, or the previous version was revoked.
                    return Ok(None);
                }
                let code = err.code().unwrap_or("no error code");
                let message = err.message().unwrap_or("");
                Err(SourceError(format!(
                    "GetSecretValue {} ({stage}) failed: {code}: {message} ({})",
                    self.secret_id,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&err)
                )))
            }
        }
    }
}

impl CredentialsSource for SecretsManagerSource {
    async fn fetch(&self, grace: Duration) -> Result<CredentialSets, SourceError> {
        let current = self.version("AWSCURRENT").await?.ok_or_else(|| {
            SourceError(format!(
                "secret {} has no AWSCURRENT version",
                self.secret_id
            ))
        })?;
        let current_created = current.created.unwrap_or_else(|| {
            // Without a creation date the grace period cannot be placed: the previous version is refused.
            tracing::warn!(secret = %self.secret_id, "AWSCURRENT has no CreatedDate; the previous password is not accepted");
            SystemTime::UNIX_EPOCH
        });
        let mut sets = CredentialSets {
            current: current.credentials,
            current_created,
            previous: None,
            previous_failed: false,
        };
        if previous_accepted(current_created, grace, SystemTime::now()) {
            match self.version("AWSPREVIOUS").await {
                Ok(previous) => sets.previous = previous.map(|v| v.credentials),
                Err(error) => {
                    // The current password still works; only the previous one is refused for now.
                    tracing::warn!(error = %error, "could not read the previous credentials; accepting the current ones only");
                    sets.previous_failed = true;
                }
            }
        }
        Ok(sets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_error_report_carries_the_stable_type_and_the_message() {
        let diagnostic = lambda_runtime::Diagnostic::from(AuthorizerError::Unauthorized);
        assert_eq!(diagnostic.error_type, "Unauthorized");
        assert_eq!(diagnostic.error_message, "Unauthorized");
        let unavailable = AuthorizerError::CredentialsUnavailable(SourceError("timeout".into()));
        assert_eq!(
            lambda_runtime::Diagnostic::from(unavailable).error_type,
            "CredentialsUnavailable"
        );
    }
}
