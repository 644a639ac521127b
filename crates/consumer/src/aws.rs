//! The AWS side of the seams: a DynamoDB table ([`DynamoDbTable`]) and the dead-letter store, an SQS queue
//! with an S3 bucket for data too large for it ([`AwsDeadLetters`]); the clients with their timeouts
//! ([`Clients`]), built once per process and shared; and [`run`], a consumer function's whole `main`.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;

use sluice_contract::env;

use crate::{
    BatchStats, ConsumerConfig, ConsumerError, DeadLetterMessage, DeadLetters, Item, PutResult,
    Table, WriteOutcome, attribute, handle_batch, kinesis_event_from_json,
};

type DynamoItem = HashMap<String, AttributeValue>;

/// The condition of every put: the ordering rule. Sequence numbers are decimal strings of up to 128 bits
/// (too long for DynamoDB's `N`), without leading zeros, so "not higher" is a shorter string, or one of the
/// same length that is not greater.
pub const ORDERING_CONDITION: &str =
    "attribute_not_exists(#seq) OR size(#seq) < :seqlen OR (size(#seq) = :seqlen AND #seq <= :seq)";

/// A DynamoDB table written with one conditional `PutItem` per item, in parallel (see [`ORDERING_CONDITION`];
/// `BatchWriteItem` takes no conditions).
#[derive(Debug, Clone)]
pub struct DynamoDbTable {
    client: aws_sdk_dynamodb::Client,
    table_name: String,
}

impl DynamoDbTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table_name: impl Into<String>) -> Self {
        DynamoDbTable {
            client,
            table_name: table_name.into(),
        }
    }

    /// One conditional `PutItem`.
    async fn put(&self, item: Item) -> WriteOutcome {
        let sequence_number = item
            .get(attribute::SEQUENCE_NUMBER)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let item: DynamoItem = match serde_dynamo::to_item(item) {
            Ok(item) => item,
            Err(e) => return WriteOutcome::Permanent(format!("not a DynamoDB item: {e}")),
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table_name)
            .set_item(Some(item));
        if let Some(seq) = sequence_number {
            request = ordered(request, &seq);
        }
        match request.send().await {
            Ok(_) => WriteOutcome::Written,
            Err(e) => classify(&e),
        }
    }
}

/// Adds the ordering rule's condition for an item of sequence number `seq` to a put.
pub fn ordered(
    put: aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder,
    seq: &str,
) -> aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder {
    put.condition_expression(ORDERING_CONDITION)
        .expression_attribute_names("#seq", attribute::SEQUENCE_NUMBER)
        .expression_attribute_values(":seq", AttributeValue::S(seq.to_owned()))
        .expression_attribute_values(":seqlen", AttributeValue::N(seq.len().to_string()))
}

/// What a failed `PutItem` means for the item.
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &SdkError<E, R>,
) -> WriteOutcome {
    let Some(service) = error.as_service_error() else {
        return WriteOutcome::Transient(format!("PutItem failed: {}", DisplayErrorContext(error)));
    };
    let code = service.code().unwrap_or("");
    let message = service.message().unwrap_or("");
    match code {
        "ConditionalCheckFailedException" => WriteOutcome::Superseded,
        "ValidationException" | "SerializationException" => {
            WriteOutcome::Permanent(format!("{code}: {message}"))
        }
        // Throttled after the SDK's own retries: the writer tries again with its backoff.
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => WriteOutcome::Unprocessed,
        _ => WriteOutcome::Transient(format!("PutItem failed: {code}: {message}")),
    }
}

impl Table for DynamoDbTable {
    async fn put_items(&self, items: Vec<Item>) -> PutResult {
        let puts = items.into_iter().map(|item| self.put(item));
        PutResult {
            outcomes: futures::future::join_all(puts).await,
        }
    }
}

/// The dead-letter store on AWS: an SQS queue receiving one message per permanent failure, and an S3 bucket
/// for the data of those whose message would be too large for the queue.
#[derive(Debug, Clone)]
pub struct AwsDeadLetters {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl AwsDeadLetters {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
        s3: aws_sdk_s3::Client,
        bucket: impl Into<String>,
    ) -> Self {
        AwsDeadLetters {
            sqs,
            queue_url: queue_url.into(),
            s3,
            bucket: bucket.into(),
        }
    }
}

/// Whether SQS refused a message for its size (`InvalidParameterValue`: "Message must be shorter than
/// 262144 bytes"), or the endpoint did (413).
fn too_large(
    error: &SdkError<
        aws_sdk_sqs::operation::send_message::SendMessageError,
        aws_sdk_sqs::config::http::HttpResponse,
    >,
) -> bool {
    if error.raw_response().map(|r| r.status().as_u16()) == Some(413) {
        return true;
    }
    let Some(service) = error.as_service_error() else {
        return false;
    };
    let message = service.message().unwrap_or("").to_ascii_lowercase();
    matches!(
        service.code(),
        Some("InvalidParameterValue" | "InvalidParameterValueException" | "MessageTooLong")
    ) && (message.contains("shorter than") || message.contains("too long"))
}

impl DeadLetters for AwsDeadLetters {
    async fn send(&self, message: DeadLetterMessage) -> Result<(), ConsumerError> {
        match self
            .sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(message.to_json())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if too_large(&e) => Err(ConsumerError::DeadLetterTooLarge(
                DisplayErrorContext(&e).to_string(),
            )),
            Err(e) => Err(ConsumerError::DeadLetter(
                DisplayErrorContext(&e).to_string(),
            )),
        }
    }

    async fn store_data(
        &self,
        key: String,
        data: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<String, ConsumerError> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/octet-stream")
            // S3 checks the bytes it received against this and refuses the put if they differ.
            .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(sha256))
            .body(data.into())
            .send()
            .await
            .map_err(|e| {
                ConsumerError::DeadLetterData(format!(
                    "PutObject s3://{}/{key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(self.bucket.clone())
    }
}

impl From<ConsumerError> for lambda_runtime::Diagnostic {
    fn from(error: ConsumerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The SDK timeouts of a function's clients.
///
/// - DynamoDB `PutItem` and SQS `SendMessage` answer in milliseconds: an attempt gets 3 s (hundreds of
///   times the usual, and above the 3.1 s connect timeout of a cold connection), the whole operation, the
///   SDK's 3 attempts and their backoff included, 10 s.
/// - S3 `PutObject` carries up to 1 MiB: an attempt gets 10 s (100 KB/s would do), the operation 20 s.
///
/// The worst case of a batch that hits every hung service once — its puts (in parallel, 10 s), then one
/// dead letter stored (20 s) and sent (10 s), after which further dead letters are held back — is 40 s,
/// inside the writer's default 60 s function timeout. A hung connection thus fails that call (a transient
/// failure: the event source mapping retries the record) instead of running into the function's timeout,
/// which would fail the whole batch and redo the work already done.
pub fn timeouts(service: &str) -> aws_config::timeout::TimeoutConfig {
    use std::time::Duration;
    let (attempt, operation) = match service {
        "s3" => (Duration::from_secs(10), Duration::from_secs(20)),
        _ => (Duration::from_secs(3), Duration::from_secs(10)),
    };
    aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// The clients a function uses, each with its [`timeouts`].
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    /// From the default credential chain and region (the function's role on Lambda).
    pub async fn load() -> Self {
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
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            s3: aws_sdk_s3::Client::from_conf(s3),
        }
    }

    /// The dead-letter store named by [`env::DEAD_LETTER_QUEUE_URL`] and [`env::DEAD_LETTER_BUCKET`].
    pub fn dead_letters_from_env(&self) -> Result<AwsDeadLetters, ConsumerError> {
        Ok(AwsDeadLetters::new(
            self.sqs.clone(),
            setting(env::DEAD_LETTER_QUEUE_URL)?,
            self.s3.clone(),
            setting(env::DEAD_LETTER_BUCKET)?,
        ))
    }
}

/// A required, non-empty environment variable.
pub fn setting(name: &'static str) -> Result<String, ConsumerError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConsumerError::MissingSetting(name))
}

/// A consumer function's `main`: reads its tables ([`ConsumerConfig::from_env`]) and dead-letter store
/// from the environment the generated Terraform sets, then serves the Lambda Runtime API, handling each
/// batch with `function` ([`handle_batch`]) and printing its EMF line.
///
/// ```no_run
/// use sluice_consumer::{Outcome, Record};
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: String }
///
/// async fn handle(record: Record<Order>) -> Outcome {
///     Outcome::write("orders", serde_json::json!({ "id": record.body.id }))
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), lambda_runtime::Error> {
///     sluice_consumer::aws::run(handle).await
/// }
/// ```
pub async fn run<T, F, Fut>(function: F) -> Result<(), lambda_runtime::Error>
where
    T: serde::de::DeserializeOwned,
    F: Fn(crate::Record<T>) -> Fut,
    Fut: Future<Output = crate::Outcome>,
{
    lambda_runtime::tracing::init_default_subscriber();
    let config = ConsumerConfig::from_env()?;
    // Run by `cargo xtask dev` as a process: the same code, writing through dev's loopback seams.
    if let Ok(endpoint) = std::env::var(env::SLUICE_LOCAL_ENDPOINT) {
        let dead_letters = crate::local::LocalDeadLetters::new(
            &endpoint,
            &setting(env::DEAD_LETTER_QUEUE_URL)?,
            setting(env::DEAD_LETTER_BUCKET)?,
        )?;
        let tables = config
            .tables
            .iter()
            .map(|t| crate::local::LocalTable::new(&endpoint, t.physical.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        // Boxed: the two branches' futures would otherwise nest into a type too deep for a user's crate.
        return Box::pin(serve(&config, &tables, &dead_letters, &function)).await;
    }
    let clients = Clients::load().await;
    let dead_letters = clients.dead_letters_from_env()?;
    let tables: Vec<DynamoDbTable> = config
        .tables
        .iter()
        .map(|t| DynamoDbTable::new(clients.dynamodb.clone(), t.physical.clone()))
        .collect();
    Box::pin(serve(&config, &tables, &dead_letters, &function)).await
}

/// Answers invocations until the runtime stops: each batch through [`handle_batch`] with `function`.
async fn serve<T, F, Fut, Tb, D>(
    config: &ConsumerConfig,
    tables: &[Tb],
    dead_letters: &D,
    function: &F,
) -> Result<(), lambda_runtime::Error>
where
    T: serde::de::DeserializeOwned,
    F: Fn(crate::Record<T>) -> Fut,
    Fut: Future<Output = crate::Outcome>,
    Tb: Table,
    D: DeadLetters,
{
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            let function_name = event.context.env_config.function_name.clone();
            let started = std::time::Instant::now();
            let event = kinesis_event_from_json(event.payload)?;
            let (response, stats) =
                handle_batch(config, tables, dead_letters, event, function).await;
            print_emf(&stats, &function_name, started);
            Ok::<_, ConsumerError>(response)
        },
    ))
    .await
}

/// Prints a batch's metrics in CloudWatch's Embedded Metric Format: printed, not traced, so the line is
/// exactly the JSON document CloudWatch Logs extracts metrics from.
pub fn print_emf(stats: &BatchStats, function_name: &str, started: std::time::Instant) {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    println!(
        "{}",
        stats.emf_line(
            function_name,
            duration_ms,
            chrono::Utc::now().timestamp_millis()
        )
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_error_report_carries_the_stable_type_and_the_message() {
        let error = ConsumerError::InvalidEvent("not a Kinesis event".into());
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "InvalidEvent");
        assert_eq!(
            diagnostic.error_message,
            "the invocation payload is not a Kinesis event: not a Kinesis event"
        );
    }
}
