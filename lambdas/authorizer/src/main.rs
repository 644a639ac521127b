//! The authorizer Lambda function: Secrets Manager wiring around the `authorizer` library.
//!
//! Environment (set by the generated Terraform; names in `sluice_contract::env`): the secret's ARN
//! or name, `{"username":"…","password":"…"}`, and how long a warm container keeps the credentials (default
//! 300 s). Logging follows Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).

use authorizer::{Authorizer, AuthorizerError, SecretsManagerSource, cache_ttl_from};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_contract::env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let secret_id = std::env::var(env::SECRET_ID)
        .map_err(|_| AuthorizerError::MissingSetting(env::SECRET_ID))?;
    let ttl = cache_ttl_from(
        std::env::var(env::CREDENTIALS_CACHE_TTL_SECONDS)
            .ok()
            .as_deref(),
    )?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let source = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&config), secret_id);
    let authorizer = Authorizer::new(source, ttl);
    let authorizer = &authorizer;

    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
            authorizer.handle(event.payload).await
        },
    ))
    .await
}
