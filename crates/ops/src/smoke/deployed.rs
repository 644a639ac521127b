//! The smoke test's deployed target: the table read with DynamoDB `GetItem`, the dead-letter queue counted
//! with SQS, the credentials from Secrets Manager, names from the stack's [`Deployment`] outputs.

use std::time::Duration;

use miette::miette;
use serde_json::Value;
use sluice_config::KeyType;

use super::{DeadLetterReader, Probe, SmokeArgs, TableReader, Target, credentials_from_json};
use crate::deployment::Deployment;

/// Reads a DynamoDB table (consistent reads) and counts an SQS queue's messages.
pub struct AwsReader {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    table_name: String,
    key: String,
    key_type: KeyType,
    queue_url: String,
}

impl AwsReader {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        table_name: String,
        key: String,
        key_type: KeyType,
        queue_url: String,
    ) -> AwsReader {
        AwsReader {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            table_name,
            key,
            key_type,
            queue_url,
        }
    }
}

impl TableReader for AwsReader {
    async fn get(&self, key: &str) -> miette::Result<Option<Value>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let value = match self.key_type {
            KeyType::S => AttributeValue::S(key.to_string()),
            KeyType::N => AttributeValue::N(key.to_string()),
        };
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table_name)
            .key(&self.key, value)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                miette!(
                    "GetItem on {}: {}",
                    self.table_name,
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        match out.item {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(|e| miette!("item of {} is not JSON-convertible: {e}", self.table_name)),
        }
    }
}

impl DeadLetterReader for AwsReader {
    async fn count(&self) -> miette::Result<u64> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| {
                miette!(
                    "GetQueueAttributes on {}: {}",
                    self.queue_url,
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?;
        let attrs = out.attributes.unwrap_or_default();
        let n = |a: A| {
            attrs
                .get(&a)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible))
    }
}

/// Username and password from the credentials secret (`{"username":…,"password":…}`).
pub async fn secret_credentials(
    sdk: &aws_config::SdkConfig,
    secret_id: &str,
) -> miette::Result<(String, String)> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            miette!(
                "GetSecretValue on {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    out.secret_string()
        .and_then(credentials_from_json)
        .ok_or_else(|| miette!("secret {secret_id} does not hold {{\"username\",\"password\"}}"))
}

/// `cargo xtask smoke-test` against the deployed stack.
pub(super) async fn run(opts: &SmokeArgs, probe: &Probe) -> miette::Result<()> {
    let deployment: Deployment = opts.deployed.read()?;
    let sdk = deployment.sdk_config().await;
    let secret_arn = deployment.credentials_secret_arn()?;
    let (username, password) = secret_credentials(&sdk, &secret_arn).await?;
    let table_name = deployment.table_name(&probe.table)?;
    let queue_url = deployment.queue_url(&probe.queue)?;
    let reader = |_: ()| {
        AwsReader::new(
            &sdk,
            table_name.to_string(),
            probe.table_key.clone(),
            probe.key_type,
            queue_url.to_string(),
        )
    };
    let target = Target {
        base_url: deployment.api_url()?.trim_end_matches('/').to_string(),
        username,
        password,
        table: reader(()),
        dead_letters: reader(()),
        patience: Duration::from_secs(90),
    };
    println!("smoke-testing the deployed pipeline at {}", target.base_url);
    super::report(&super::run_checks(&target, probe).await)
}
