//! The authorizer Lambda function: Secrets Manager wiring around the `authorizer` library.
//!
//! Environment (set by the generated Terraform):
//! - `SECRET_ID` — ARN or name of the secret `{"username":"…","password":"…"}`;
//! - `CREDENTIALS_CACHE_TTL_SECONDS` — how long a warm container keeps the credentials (default 300).

use authorizer::{Authorizer, AuthorizerError, SecretsManagerSource, cache_ttl_from};
use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .init();

    let secret_id =
        std::env::var("SECRET_ID").map_err(|_| AuthorizerError::MissingSetting("SECRET_ID"))?;
    let ttl = cache_ttl_from(
        std::env::var("CREDENTIALS_CACHE_TTL_SECONDS")
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
