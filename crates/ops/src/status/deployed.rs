//! `status` of the deployed pipeline: Kinesis, SQS and DynamoDB describe calls and CloudWatch metrics and
//! alarms, names from the stack's [`Deployment`], as the [`Status`] model. Compiled with the `aws` feature.

use sluice_config::Pipeline;

use super::{
    AlarmStatus, ConsumerStatus, DEPLOYED_WINDOW_S, QueueStatus, Status, StatusError, StreamStatus,
    TableStatus,
};
use crate::deployment::Deployment;

/// One CloudWatch figure to fetch: which metric, which statistic, where to put it.
struct Query {
    namespace: &'static str,
    metric: &'static str,
    dimension: (&'static str, String),
    stat: &'static str,
    slot: Slot,
}

#[derive(Clone, Copy)]
enum Slot {
    StreamIncoming(usize),
    ConsumerIteratorAge(usize),
    QueueOldestAge(usize),
    TableWrites(usize),
}

/// The last path segment of a queue URL: the queue's name.
fn queue_name_of(url: &str) -> &str {
    url.trim_end_matches('/').rsplit('/').next().unwrap_or(url)
}

/// The status of the deployed pipeline.
pub async fn deployed_status(pipeline: &Pipeline, deployed: &Deployment) -> Status {
    let sdk = deployed.sdk_config().await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    let now = sluice_local::now_ms();
    let mut errors = Vec::new();
    let mut queries = Vec::new();

    let mut streams = Vec::new();
    for (i, s) in pipeline.streams.values().enumerate() {
        let physical = deployed.stream(pipeline, &s.name).to_owned();
        let shards = match kinesis
            .describe_stream_summary()
            .stream_name(&physical)
            .send()
            .await
        {
            Ok(out) => out
                .stream_description_summary()
                .and_then(|d| u32::try_from(d.open_shard_count()).ok()),
            Err(e) => {
                errors.push(format!(
                    "Kinesis DescribeStreamSummary on {physical}: {}",
                    aws_sdk_kinesis::error::DisplayErrorContext(e)
                ));
                None
            }
        };
        queries.push(Query {
            namespace: "AWS/Kinesis",
            metric: "IncomingRecords",
            dimension: ("StreamName", physical.clone()),
            stat: "Sum",
            slot: Slot::StreamIncoming(i),
        });
        streams.push(StreamStatus {
            name: s.name.clone(),
            physical_name: physical,
            shards,
            incoming_records_per_s: None,
        });
    }

    let mut consumers = Vec::new();
    for (i, c) in pipeline.consumers.values().enumerate() {
        let function = deployed.function(pipeline, &c.name).to_owned();
        queries.push(Query {
            namespace: "AWS/Lambda",
            metric: "IteratorAge",
            dimension: ("FunctionName", function.clone()),
            stat: "Maximum",
            slot: Slot::ConsumerIteratorAge(i),
        });
        consumers.push(ConsumerStatus {
            name: c.name.clone(),
            function_name: function,
            stream: c.stream.clone(),
            records_behind: None,
            iterator_age_ms: None,
        });
    }

    let mut queues = Vec::new();
    for (i, q) in pipeline.queues.values().enumerate() {
        let url = deployed.queue_url(&q.name).ok();
        let physical = url
            .as_deref()
            .map_or(q.physical_name.clone(), |u| queue_name_of(u).to_owned());
        let (mut messages, mut in_flight) = (None, None);
        match &url {
            None => errors.push(format!(
                "the Terraform outputs give no URL for the queue `{}` (dead_letter_queue_urls)",
                q.name
            )),
            Some(url) => {
                use aws_sdk_sqs::types::QueueAttributeName as A;
                match sqs
                    .get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(A::ApproximateNumberOfMessages)
                    .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
                    .send()
                    .await
                {
                    Ok(out) => {
                        let attrs = out.attributes.unwrap_or_default();
                        let n = |a: A| attrs.get(&a).and_then(|v| v.parse::<u64>().ok());
                        messages = n(A::ApproximateNumberOfMessages);
                        in_flight = n(A::ApproximateNumberOfMessagesNotVisible);
                    }
                    Err(e) => errors.push(format!(
                        "SQS GetQueueAttributes on {url}: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    )),
                }
            }
        }
        queries.push(Query {
            namespace: "AWS/SQS",
            metric: "ApproximateAgeOfOldestMessage",
            dimension: ("QueueName", physical.clone()),
            stat: "Maximum",
            slot: Slot::QueueOldestAge(i),
        });
        queues.push(QueueStatus {
            name: q.name.clone(),
            physical_name: physical,
            messages,
            messages_in_flight: in_flight,
            oldest_age_ms: None,
        });
    }

    let mut tables = Vec::new();
    for (i, t) in pipeline.tables.values().enumerate() {
        let physical = deployed.table(pipeline, &t.name).to_owned();
        let items = match dynamodb.describe_table().table_name(&physical).send().await {
            Ok(out) => out
                .table()
                .and_then(|d| d.item_count())
                .and_then(|n| u64::try_from(n).ok()),
            Err(e) => {
                errors.push(format!(
                    "DynamoDB DescribeTable on {physical}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                ));
                None
            }
        };
        queries.push(Query {
            namespace: "AWS/DynamoDB",
            metric: "ConsumedWriteCapacityUnits",
            dimension: ("TableName", physical.clone()),
            stat: "Sum",
            slot: Slot::TableWrites(i),
        });
        tables.push(TableStatus {
            name: t.name.clone(),
            physical_name: physical,
            items,
            writes_per_s: None,
            newest_received_at_ms: None,
        });
    }

    match metric_values(&cloudwatch, &queries, now).await {
        Ok(values) => {
            for (query, value) in queries.iter().zip(values) {
                match query.slot {
                    // No datapoint in the window: nothing came in.
                    Slot::StreamIncoming(i) => {
                        streams[i].incoming_records_per_s =
                            Some(value.unwrap_or(0.0) / DEPLOYED_WINDOW_S as f64);
                    }
                    Slot::ConsumerIteratorAge(i) => {
                        consumers[i].iterator_age_ms = value.map(|v| v as i64);
                    }
                    Slot::QueueOldestAge(i) => {
                        queues[i].oldest_age_ms = value.map(|v| (v * 1000.0) as i64);
                    }
                    Slot::TableWrites(i) => {
                        tables[i].writes_per_s =
                            Some(value.unwrap_or(0.0) / DEPLOYED_WINDOW_S as f64);
                    }
                }
            }
        }
        Err(e) => errors.push(e.to_string()),
    }

    let alarms = match alarms_in_alarm(&cloudwatch, &format!("{}-", pipeline.name)).await {
        Ok(alarms) => alarms,
        Err(e) => {
            errors.push(e.to_string());
            Vec::new()
        }
    };

    Status {
        target: "deployed",
        pipeline: pipeline.name.clone(),
        taken_at_ms: now,
        window_s: DEPLOYED_WINDOW_S,
        streams,
        consumers,
        dead_letter_queues: queues,
        tables,
        alarms,
        errors,
    }
}

/// Each query's statistic over the last [`DEPLOYED_WINDOW_S`] (one period), `None` where CloudWatch has no
/// datapoint.
async fn metric_values(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    queries: &[Query],
    now_ms: i64,
) -> Result<Vec<Option<f64>>, StatusError> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let mut values = vec![None; queries.len()];
    // GetMetricData takes at most 500 queries per call.
    for (chunk_index, chunk) in queries.chunks(500).enumerate() {
        let mut request = cloudwatch
            .get_metric_data()
            .start_time(DateTime::from_millis(now_ms - DEPLOYED_WINDOW_S * 1000))
            .end_time(DateTime::from_millis(now_ms));
        for (i, q) in chunk.iter().enumerate() {
            let metric = Metric::builder()
                .namespace(q.namespace)
                .metric_name(q.metric)
                .dimensions(
                    Dimension::builder()
                        .name(q.dimension.0)
                        .value(&q.dimension.1)
                        .build(),
                )
                .build();
            request = request.metric_data_queries(
                MetricDataQuery::builder()
                    .id(format!("m{i}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(DEPLOYED_WINDOW_S as i32)
                            .stat(q.stat)
                            .build(),
                    )
                    .return_data(true)
                    .build(),
            );
        }
        let out = request.send().await.map_err(|e| {
            StatusError::GetMetricData(
                aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string(),
            )
        })?;
        for result in out.metric_data_results() {
            let Some(i) = result
                .id()
                .and_then(|id| id.strip_prefix('m'))
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            // Newest first by default; with one period there is at most one value anyway.
            let stat = chunk.get(i).map_or("", |q| q.stat);
            let vals = result.values();
            let value = if vals.is_empty() {
                None
            } else if stat == "Sum" {
                Some(vals.iter().sum())
            } else {
                vals.iter().copied().reduce(f64::max)
            };
            values[chunk_index * 500 + i] = value;
        }
    }
    Ok(values)
}

/// The alarms whose name starts with `prefix` and whose state is ALARM.
async fn alarms_in_alarm(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    prefix: &str,
) -> Result<Vec<AlarmStatus>, StatusError> {
    use aws_sdk_cloudwatch::types::StateValue;
    let mut alarms = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = cloudwatch
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .state_value(StateValue::Alarm)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| {
                StatusError::DescribeAlarms(
                    aws_sdk_cloudwatch::error::DisplayErrorContext(e).to_string(),
                )
            })?;
        for a in out.metric_alarms() {
            alarms.push(AlarmStatus {
                name: a.alarm_name().unwrap_or_default().to_owned(),
                reason: a
                    .alarm_description()
                    .or(a.state_reason())
                    .unwrap_or_default()
                    .to_owned(),
                since_ms: a.state_updated_timestamp().and_then(|t| t.to_millis().ok()),
            });
        }
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => break,
        }
    }
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(alarms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_name_their_queue() {
        assert_eq!(
            queue_name_of("https://sqs.us-east-1.amazonaws.com/123/sluice-Q"),
            "sluice-Q"
        );
    }
}
