//! The writer Lambda function: DynamoDB, SQS and S3 wiring around the `writer` library.
//!
//! Environment (set by the generated Terraform; names in `sluice_contract::env`): the table name,
//! its key names and types (see [`WriterConfig::from_env`]), the dead-letter queue URL and the dead-letter
//! bucket; locally, `$SLUICE_LOCAL_ENDPOINT` when `cargo xtask dev` runs it as a process (then the table,
//! queue and bucket are dev's, over loopback HTTP: `sluice_writer::local`). Logging follows Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL`).
//!
//! Every batch prints one line of CloudWatch Embedded Metric Format with its counts
//! ([`sluice_writer::BatchStats::emf_line`]; the names are `sluice_contract::metrics`).
//!
//! Every AWS call has a timeout ([`timeouts`]), so a hung connection fails that call (a transient failure:
//! the event source mapping retries the record) instead of running into the function's timeout, which would
//! fail the whole batch and redo the work already done.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use sluice_contract::env;
use sluice_writer::aws::{AwsDeadLetters, DynamoDbTable};
use sluice_writer::local::{LocalDeadLetters, LocalTable};
use sluice_writer::{
    DeadLetters, Table, WriterConfig, WriterError, handle_batch_with_stats, kinesis_event_from_json,
};

/// The SDK timeouts of the writer's clients.
///
/// - DynamoDB `PutItem` and SQS `SendMessage` answer in milliseconds: an attempt gets 3 s (hundreds of
///   times the usual, and above the 3.1 s connect timeout of a cold connection), the whole operation, the
///   SDK's 3 attempts and their backoff included, 10 s.
/// - S3 `PutObject` carries up to 1 MiB: an attempt gets 10 s (100 KB/s would do), the operation 20 s.
///
/// The worst case of a batch that hits every hung service once — its puts (in parallel, 10 s), then one
/// dead letter stored (20 s) and sent (10 s), after which further dead letters are held back — is 40 s,
/// inside the writer's default 60 s function timeout.
fn timeouts(service: &str) -> TimeoutConfig {
    let (attempt, operation) = match service {
        "s3" => (Duration::from_secs(10), Duration::from_secs(20)),
        _ => (Duration::from_secs(3), Duration::from_secs(10)),
    };
    TimeoutConfig::builder()
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

fn setting(name: &'static str) -> Result<String, WriterError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(WriterError::MissingSetting(name))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let config = WriterConfig::from_env()?;
    let queue_url = setting(env::DEAD_LETTER_QUEUE_URL)?;
    let bucket = setting(env::DEAD_LETTER_BUCKET)?;
    // Run by `cargo xtask dev` as a process: the same code, writing through dev's loopback seams.
    if let Ok(endpoint) = std::env::var(env::SLUICE_LOCAL_ENDPOINT) {
        let table = LocalTable::new(&endpoint, config.table_name.clone())?;
        let dead_letters = LocalDeadLetters::new(&endpoint, &queue_url, bucket)?;
        return serve(&config, &table, &dead_letters).await;
    }
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::config::Builder::from(&aws)
        .timeout_config(timeouts("dynamodb"))
        .build();
    let sqs = aws_sdk_sqs::config::Builder::from(&aws)
        .timeout_config(timeouts("sqs"))
        .build();
    let s3 = aws_sdk_s3::config::Builder::from(&aws)
        .timeout_config(timeouts("s3"))
        .build();
    let table = DynamoDbTable::new(
        aws_sdk_dynamodb::Client::from_conf(dynamodb),
        config.table_name.clone(),
    );
    let dead_letters = AwsDeadLetters::new(
        aws_sdk_sqs::Client::from_conf(sqs),
        queue_url,
        aws_sdk_s3::Client::from_conf(s3),
        bucket,
    );
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
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            // The batch's metrics, in CloudWatch's Embedded Metric Format: printed, not traced, so the line
            // is exactly the JSON document CloudWatch Logs extracts metrics from.
            println!(
                "{}",
                stats.emf_line(
                    &function_name,
                    duration_ms,
                    chrono::Utc::now().timestamp_millis()
                )
            );
            Ok::<_, WriterError>(response)
        },
    ))
    .await
}
