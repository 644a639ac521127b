//! The writer Lambda function: DynamoDB, SQS and S3 wiring around the `writer` library.
//!
//! Environment (set by the generated Terraform; names in `sluice_contract::env`): the table name,
//! its key names and types (see [`WriterConfig::from_env`]), the dead-letter queue URL and the dead-letter
//! bucket. Logging follows Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).
//!
//! Every batch prints one line of CloudWatch Embedded Metric Format with its counts
//! ([`sluice_writer::BatchStats::emf_line`]; the names are `sluice_contract::metrics`).
//!
//! Every AWS call has a timeout (`sluice_consumer::aws::timeouts`, through [`Clients`]), so a hung
//! connection fails that call (a transient failure: the event source mapping retries the record) instead of
//! running into the function's timeout, which would fail the whole batch and redo the work already done.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_writer::aws::{Clients, DynamoDbTable, print_emf};
use sluice_writer::{WriterConfig, WriterError, handle_batch_with_stats, kinesis_event_from_json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let config = WriterConfig::from_env()?;
    let clients = Clients::load().await;
    let dead_letters = clients.dead_letters_from_env()?;
    let table = DynamoDbTable::new(clients.dynamodb.clone(), config.table_name.clone());
    let (config, table, dead_letters) = (&config, &table, &dead_letters);

    // The event is read as JSON first: see `kinesis_event_from_json` for why.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let function_name = event.context.env_config.function_name.clone();
            let started = std::time::Instant::now();
            let event = kinesis_event_from_json(event.payload)?;
            let (response, stats) =
                handle_batch_with_stats(config, table, dead_letters, event).await;
            print_emf(&stats, &function_name, started);
            Ok::<_, WriterError>(response)
        },
    ))
    .await
}
