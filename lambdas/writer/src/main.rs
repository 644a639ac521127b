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
//!
//! Run by `cargo xtask dev` as a process (`SLUICE_LOCAL_ENDPOINT` set), the same code writes through dev's
//! loopback seams instead ([`sluice_writer::local`]).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_writer::aws::{Clients, DynamoDbTable, print_emf, setting};
use sluice_writer::local::{LocalDeadLetters, LocalTable};
use sluice_writer::{
    DeadLetters, Table, WriterConfig, WriterError, handle_batch_with_stats, kinesis_event_from_json,
};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let config = WriterConfig::from_env()?;
    if let Ok(endpoint) = std::env::var(sluice_writer::local::ENDPOINT_ENV) {
        let table = LocalTable::new(&endpoint, config.table_name.clone())?;
        let dead_letters = LocalDeadLetters::new(
            &endpoint,
            &setting(sluice_writer::local::QUEUE_URL_ENV)?,
            setting(sluice_writer::local::BUCKET_ENV)?,
        )?;
        return serve(&config, &table, &dead_letters).await;
    }
    let clients = Clients::load().await;
    let dead_letters = clients.dead_letters_from_env()?;
    let table = DynamoDbTable::new(clients.dynamodb.clone(), config.table_name.clone());
    serve(&config, &table, &dead_letters).await
}

/// Answers invocations until the runtime stops: each Kinesis batch through `handle_batch`.
async fn serve(
    config: &WriterConfig,
    table: &impl Table,
    dead_letters: &impl DeadLetters,
) -> Result<(), Error> {
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
