//! `dlq` on the deployed stack: SQS for the queues, S3 for the dead-letter bucket, Kinesis for the streams,
//! DynamoDB (through the writer's AWS wiring) for the tables, names from the stack's [`Deployment`].
//! Compiled with the `aws` feature.

use std::collections::HashSet;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use sluice_config::Consumer;
use sluice_contract::DataLocation;
use sluice_contract::consumer::KinesisBatchInfo;
use sluice_writer::{BatchStats, KinesisEvent, compare_sequence_numbers};

use super::message::{DlqError, Hydrated, Queued, Rec, object_gone, range_gone};
use super::writer::{run_writer, writer_config};
use crate::deployment::Deployment;

/// The deployed stack's clients and names.
pub(super) struct Aws {
    deployment: Deployment,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    kinesis: aws_sdk_kinesis::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    /// Seconds a received message stays hidden while dlq works on it.
    pub visibility_timeout: i32,
}

impl Aws {
    /// Clients for the deployment's region.
    pub async fn connect(deployment: Deployment, visibility_timeout: i32) -> Aws {
        let sdk = deployment.sdk_config().await;
        Aws {
            sqs: aws_sdk_sqs::Client::new(&sdk),
            s3: aws_sdk_s3::Client::new(&sdk),
            kinesis: aws_sdk_kinesis::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            deployment,
            visibility_timeout,
        }
    }

    /// The next messages of a queue not received yet in this run (`seen`); empty when there are no more.
    pub async fn page(
        &self,
        queue: &str,
        seen: &HashSet<String>,
        visibility: i32,
    ) -> Result<Vec<Queued>, DlqError> {
        let url = self.deployment.queue_url(queue)?;
        // Several empty answers in a row before calling the queue empty: short answers can miss messages, and
        // messages hidden by this run come back only after the visibility timeout.
        let mut empty = 0;
        loop {
            let reply = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(visibility)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .send()
                .await
                .map_err(|e| {
                    DlqError::Aws(format!(
                        "SQS ReceiveMessage {url}: {}",
                        DisplayErrorContext(&e)
                    ))
                })?;
            let fresh: Vec<Queued> = reply
                .messages()
                .iter()
                .map(|m| Queued {
                    queue: queue.to_owned(),
                    id: m.message_id().unwrap_or_default().to_owned(),
                    handle: m.receipt_handle().unwrap_or_default().to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    sent_at_ms: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0),
                })
                .filter(|m| !seen.contains(&m.id))
                .collect();
            if !fresh.is_empty() {
                return Ok(fresh);
            }
            empty += 1;
            if empty >= 2 {
                return Ok(Vec::new());
            }
        }
    }

    /// Makes received messages visible again at once.
    pub async fn release(&self, messages: &[Queued]) {
        for m in messages {
            let Ok(url) = self.deployment.queue_url(&m.queue) else {
                continue;
            };
            if let Err(e) = self
                .sqs
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(&m.handle)
                .visibility_timeout(0)
                .send()
                .await
            {
                eprintln!(
                    "note: message {} stays hidden until its visibility timeout ({})",
                    m.id,
                    DisplayErrorContext(&e)
                );
            }
        }
    }

    pub async fn delete(&self, m: &Queued) -> Result<(), DlqError> {
        let url = self.deployment.queue_url(&m.queue)?;
        self.sqs
            .delete_message()
            .queue_url(url)
            .receipt_handle(&m.handle)
            .send()
            .await
            .map_err(|e| {
                DlqError::Aws(format!(
                    "SQS DeleteMessage {}: {}",
                    m.id,
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(())
    }

    /// A dead letter's object in the dead-letter bucket.
    pub async fn object(&self, location: &DataLocation) -> Result<Vec<u8>, DlqError> {
        let reply = self
            .s3
            .get_object()
            .bucket(&location.bucket)
            .key(&location.key)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => object_gone(location),
                _ => DlqError::Aws(format!(
                    "S3 GetObject s3://{}/{}: {}",
                    location.bucket,
                    location.key,
                    DisplayErrorContext(&e)
                )),
            })?;
        Ok(reply
            .body
            .collect()
            .await
            .map_err(|e| {
                DlqError::Aws(format!(
                    "reading s3://{}/{}: {e}",
                    location.bucket, location.key
                ))
            })?
            .into_bytes()
            .to_vec())
    }

    /// The records of an on-failure message's range, read back from the stream (`AT_SEQUENCE_NUMBER`).
    pub async fn range(
        &self,
        consumer: &Consumer,
        info: &KinesisBatchInfo,
        retention_hours: u32,
    ) -> Result<Hydrated, DlqError> {
        let stream = self.deployment.stream_name(&consumer.stream)?;
        let iterator = self
            .kinesis
            .get_shard_iterator()
            .stream_name(&stream)
            .shard_id(&info.shard_id)
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::AtSequenceNumber)
            .starting_sequence_number(&info.start_sequence_number)
            .send()
            .await;
        let mut iterator = match iterator {
            Ok(reply) => reply.shard_iterator().map(str::to_owned),
            Err(e) => {
                let detail = DisplayErrorContext(&e).to_string();
                return match e.as_service_error() {
                    Some(s)
                        if s.is_invalid_argument_exception()
                            || s.is_resource_not_found_exception() =>
                    {
                        Ok(Hydrated::Gone(format!(
                            "{} ({detail})",
                            range_gone(info, retention_hours, 0)
                        )))
                    }
                    _ => Err(DlqError::Aws(format!(
                        "Kinesis GetShardIterator {stream}: {detail}"
                    ))),
                };
            }
        };
        let mut records = Vec::new();
        let mut idle = 0;
        'read: while let Some(it) = iterator.take() {
            let reply = self
                .kinesis
                .get_records()
                .shard_iterator(it)
                .limit(1000)
                .send()
                .await
                .map_err(|e| {
                    DlqError::Aws(format!(
                        "Kinesis GetRecords {stream}: {}",
                        DisplayErrorContext(&e)
                    ))
                })?;
            for r in reply.records() {
                if compare_sequence_numbers(r.sequence_number(), &info.end_sequence_number).is_gt()
                {
                    break 'read;
                }
                records.push(Rec {
                    stream_arn: info.stream_arn.clone(),
                    shard_id: info.shard_id.clone(),
                    sequence_number: r.sequence_number().to_owned(),
                    partition_key: r.partition_key().unwrap_or_default().to_owned(),
                    data: r.data().as_ref().to_vec(),
                    arrival_ms: r
                        .approximate_arrival_timestamp()
                        .and_then(|t| t.to_millis().ok())
                        .unwrap_or(0),
                });
            }
            if reply.records().is_empty() {
                idle += 1;
                if reply.millis_behind_latest() == Some(0) || idle >= 5 {
                    break;
                }
            }
            iterator = reply.next_shard_iterator().map(str::to_owned);
        }
        if records
            .first()
            .is_none_or(|r| r.sequence_number != info.start_sequence_number)
        {
            return Ok(Hydrated::Gone(range_gone(
                info,
                retention_hours,
                records.len(),
            )));
        }
        Ok(Hydrated::Records(records))
    }

    /// Puts a record back onto its stream (`PutRecord`); answers its new sequence number.
    pub async fn put_record(&self, consumer: &Consumer, rec: &Rec) -> Result<String, DlqError> {
        let stream = self.deployment.stream_name(&consumer.stream)?;
        let reply = self
            .kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key(&rec.partition_key)
            .data(rec.data.clone().into())
            .send()
            .await
            .map_err(|e| {
                DlqError::Aws(format!(
                    "Kinesis PutRecord {stream}: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(reply.sequence_number().to_owned())
    }

    /// Runs records through the writer library into the consumer's DynamoDB table, dead letters to its
    /// queue and the dead-letter bucket.
    pub async fn write(
        &self,
        consumer: &Consumer,
        table: &sluice_config::Table,
        event: KinesisEvent,
    ) -> Result<(BatchStats, Option<String>), DlqError> {
        let name = self.deployment.table_name(&consumer.table)?;
        let config = writer_config(table, name.clone());
        let queue_url = self.deployment.queue_url(&consumer.dead_letter_queue)?;
        let bucket = self.deployment.dead_letter_bucket_name()?;
        let sink = sluice_writer::aws::DynamoDbTable::new(self.dynamodb.clone(), name);
        let dead_letters = sluice_writer::aws::AwsDeadLetters::new(
            self.sqs.clone(),
            queue_url,
            self.s3.clone(),
            bucket,
        );
        Ok(run_writer(&config, sink, dead_letters, event).await)
    }
}
