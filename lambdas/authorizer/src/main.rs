//! The authorizer Lambda function: Secrets Manager wiring around the `authorizer` library.
//!
//! Environment (set by the generated Terraform; names in `sluice_contract::env`): the secret's ARN
//! or name, `{"username":"…","password":"…"}`, and how long after a rotation the previous password is
//! accepted (default 3600 s, 0 = never). A warm container re-reads the secret at most, and at the latest on
//! the first request after, every 10 s ([`sluice_authorizer::RECHECK`]). Logging follows Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).
//!
//! Every Secrets Manager call has a timeout ([`timeouts`]), so a hung call fails fast (the request is answered
//! 500, or, for the previous version, only the current password is accepted) instead of running into the
//! function's timeout.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_authorizer::{
    Authorizer, AuthorizerError, SecretsManagerSource, previous_password_grace_from,
};
use sluice_contract::env;

/// The SDK timeouts of the Secrets Manager client: `GetSecretValue` answers in milliseconds, so an attempt
/// gets 1 s (connecting included, 1 s), the whole operation with its retries 2 s. A request reads at most
/// two versions one after the other: 4 s, inside the authorizer's default 5 s function timeout.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(1))
        .operation_timeout(Duration::from_secs(2))
        .build()
}

fn setting(name: &'static str) -> Option<String> {
    std::env::var(name).ok()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let secret_id =
        setting(env::SECRET_ID).ok_or(AuthorizerError::MissingSetting(env::SECRET_ID))?;
    let grace =
        previous_password_grace_from(setting(env::PREVIOUS_PASSWORD_GRACE_SECONDS).as_deref())?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = aws_sdk_secretsmanager::config::Builder::from(&config)
        .timeout_config(timeouts())
        .build();
    let source = SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::from_conf(secrets),
        secret_id,
    );
    let authorizer = Authorizer::new(source, grace);
    let authorizer = &authorizer;

    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
            authorizer.handle(event.payload).await
        },
    ))
    .await
}
