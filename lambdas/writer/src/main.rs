//! The writer Lambda function: DynamoDB and SQS wiring around the `writer` library.
//!
//! Environment (set by the generated Terraform): `TABLE_NAME`, `PARTITION_KEY_NAME`, `PARTITION_KEY_TYPE`,
//! `SORT_KEY_NAME`, `SORT_KEY_TYPE` (see [`WriterConfig::from_env`]) and `DEAD_LETTER_QUEUE_URL`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use writer::aws::{DynamoDbTable, SqsDeadLetters};
use writer::{WriterConfig, WriterError, handle_batch, kinesis_event_from_json};

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

    let config = WriterConfig::from_env()?;
    let queue_url = std::env::var("DEAD_LETTER_QUEUE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(WriterError::MissingSetting("DEAD_LETTER_QUEUE_URL"))?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = DynamoDbTable::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.table_name.clone(),
    );
    let dead_letters = SqsDeadLetters::new(aws_sdk_sqs::Client::new(&aws), queue_url);
    let (config, table, dead_letters) = (&config, &table, &dead_letters);

    // The event is read as JSON first: see `kinesis_event_from_json` for why.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let event = kinesis_event_from_json(event.payload)?;
            Ok::<_, WriterError>(handle_batch(config, table, dead_letters, event).await)
        },
    ))
    .await
}
