//! The writer Lambda function: DynamoDB and SQS wiring around the `writer` library.
//!
//! Environment (set by the generated Terraform; names in `sluice_contract::env`): the table name,
//! its key names and types (see [`WriterConfig::from_env`]) and the dead-letter queue URL. Logging follows
//! Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_contract::env;
use writer::aws::{DynamoDbTable, SqsDeadLetters};
use writer::{WriterConfig, WriterError, handle_batch, kinesis_event_from_json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let config = WriterConfig::from_env()?;
    let queue_url = std::env::var(env::DEAD_LETTER_QUEUE_URL)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(WriterError::MissingSetting(env::DEAD_LETTER_QUEUE_URL))?;
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
