//! `cargo xtask status`: the pipeline at a glance — per stream its shards and incoming rate, per consumer how
//! far behind it is, per dead-letter queue its depth and oldest age, per table its recent writes, and the
//! alarms in ALARM — from the local state (`--local`, read with `sluice_local::inspect`) or from AWS
//! (Terraform outputs, Kinesis, SQS, DynamoDB, CloudWatch). One [`Status`] model for both; this module only
//! gathers and formats.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::{IntoDiagnostic as _, miette};
use serde::Serialize;

use crate::outputs::{self, Deployed, OutputsArgs};
use sluice_config::Pipeline;
use sluice_local::inspect::{self, Inspector};

/// `cargo xtask status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Read the pipeline `cargo xtask dev` runs (its state dir) instead of the deployed one.
    #[arg(long)]
    pub local: bool,
    /// The local pipeline's state dir.
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub outputs: OutputsArgs,
    /// Print one JSON document (with --watch: one per refresh, one per line).
    #[arg(long)]
    pub json: bool,
    /// Refresh in place until Ctrl-C.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, default_value_t = 2.0, value_parser = parse_interval)]
    pub interval: f64,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if (0.2..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} s is outside 0.2–3600 s"))
    }
}

/// The window of the deployed rates (CloudWatch's metrics are per minute and arrive late; five minutes
/// smooth that).
pub const DEPLOYED_WINDOW_S: i64 = 300;

/// What `status` reports; `--json` prints it as is (field names are stable; units are in the names).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Status {
    /// `local` or `deployed`.
    pub target: &'static str,
    pub pipeline: String,
    /// When the figures were read (ms since the epoch).
    pub taken_at_ms: i64,
    /// The window of the rates below, in seconds (local 60, deployed 300).
    pub window_s: i64,
    pub streams: Vec<StreamStatus>,
    pub consumers: Vec<ConsumerStatus>,
    pub dead_letter_queues: Vec<QueueStatus>,
    pub tables: Vec<TableStatus>,
    pub alarms: Vec<AlarmStatus>,
    /// What could not be read (the figures it would have given are null).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StreamStatus {
    pub name: String,
    pub physical_name: String,
    /// Open shards.
    pub shards: Option<u32>,
    /// Records put per second over the window.
    pub incoming_records_per_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConsumerStatus {
    pub name: String,
    pub function_name: String,
    pub stream: String,
    /// Records the consumer has not finished, over all shards (local only: AWS does not count them).
    pub records_behind: Option<u64>,
    /// Age of the oldest record not yet processed (local), or Lambda's `IteratorAge` maximum over the
    /// window (deployed).
    pub iterator_age_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueStatus {
    pub name: String,
    pub physical_name: String,
    /// Messages waiting (visible).
    pub messages: Option<u64>,
    /// Messages received by someone and not yet deleted.
    pub messages_in_flight: Option<u64>,
    /// Age of the oldest message.
    pub oldest_age_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TableStatus {
    pub name: String,
    pub physical_name: String,
    /// Items (deployed: DynamoDB's `ItemCount`, refreshed about every six hours).
    pub items: Option<u64>,
    /// Writes per second over the window: locally the items whose `receivedAt` falls in it; deployed the
    /// consumed write capacity units.
    pub writes_per_s: Option<f64>,
    /// `receivedAt` of the newest item (local only).
    pub newest_received_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlarmStatus {
    pub name: String,
    pub reason: String,
    /// When it went into ALARM (ms since the epoch).
    pub since_ms: Option<i64>,
}

/// The name of the generated alarm on a dead-letter queue (see `templates/terraform/modules/queue`).
pub fn queue_alarm_name(queue_physical_name: &str) -> String {
    format!("{queue_physical_name}-messages-visible")
}

/// The status of the local pipeline, from its state dir.
pub fn local_status(pipeline: &Pipeline, state_dir: &Path) -> miette::Result<Status> {
    let inspector = Inspector::open(state_dir).map_err(|e| miette!("{e}"))?;
    let now = sluice_local::now_ms();
    let snap = inspector
        .snapshot(pipeline, now)
        .map_err(|e| miette!("{e}"))?;
    Ok(from_snapshot(pipeline, &snap))
}

/// Turns a local snapshot into the status model; local alarms are the generated alarms whose rule the
/// local state can evaluate (a dead-letter queue with messages).
pub fn from_snapshot(pipeline: &Pipeline, snap: &inspect::Snapshot) -> Status {
    let now = snap.taken_ms;
    let window_s = inspect::RECENT_WINDOW_MS / 1000;
    let per_s = |n: u64| n as f64 / window_s as f64;
    let streams = snap
        .streams
        .iter()
        .map(|s| StreamStatus {
            physical_name: pipeline.streams[&s.name].physical_name.clone(),
            name: s.name.clone(),
            shards: Some(s.shards.len() as u32),
            incoming_records_per_s: Some(per_s(s.shards.iter().map(|x| x.records_recent).sum())),
        })
        .collect();
    let consumers = snap
        .consumers
        .iter()
        .map(|c| ConsumerStatus {
            function_name: pipeline.consumers[&c.name].function_name.clone(),
            name: c.name.clone(),
            stream: c.stream.clone(),
            records_behind: Some(c.shards.iter().map(|s| s.records_behind).sum()),
            iterator_age_ms: Some(
                c.shards
                    .iter()
                    .filter_map(|s| s.oldest_unprocessed_arrival_ms)
                    .min()
                    .map_or(0, |oldest| (now - oldest).max(0)),
            ),
        })
        .collect();
    let mut alarms = Vec::new();
    let queues = snap
        .queues
        .iter()
        .map(|q| {
            let physical = pipeline.queues[&q.name].physical_name.clone();
            if q.messages > 0 {
                alarms.push(AlarmStatus {
                    name: queue_alarm_name(&physical),
                    reason: format!("Dead letters are waiting on {physical}."),
                    since_ms: q.oldest_sent_ms,
                });
            }
            QueueStatus {
                name: q.name.clone(),
                physical_name: physical,
                messages: Some(q.messages),
                messages_in_flight: Some(0),
                oldest_age_ms: q.oldest_sent_ms.map(|t| (now - t).max(0)),
            }
        })
        .collect();
    let tables = snap
        .tables
        .iter()
        .map(|t| TableStatus {
            physical_name: pipeline.tables[&t.name].physical_name.clone(),
            name: t.name.clone(),
            items: Some(t.items),
            writes_per_s: Some(per_s(t.items_received_recently)),
            newest_received_at_ms: t.newest_received_at_ms,
        })
        .collect();
    Status {
        target: "local",
        pipeline: pipeline.name.clone(),
        taken_at_ms: now,
        window_s,
        streams,
        consumers,
        dead_letter_queues: queues,
        tables,
        alarms,
        errors: Vec::new(),
    }
}

// ---- deployed ----

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
pub async fn deployed_status(pipeline: &Pipeline, deployed: &Deployed) -> Status {
    let sdk = outputs::sdk_config(deployed).await;
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
        let url = deployed.queue_urls.get(&q.name).cloned();
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
        Err(e) => errors.push(e),
    }

    let alarms = match alarms_in_alarm(&cloudwatch, &format!("{}-", pipeline.name)).await {
        Ok(alarms) => alarms,
        Err(e) => {
            errors.push(e);
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
) -> Result<Vec<Option<f64>>, String> {
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
            format!(
                "CloudWatch GetMetricData: {}",
                aws_sdk_cloudwatch::error::DisplayErrorContext(e)
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
) -> Result<Vec<AlarmStatus>, String> {
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
                format!(
                    "CloudWatch DescribeAlarms: {}",
                    aws_sdk_cloudwatch::error::DisplayErrorContext(e)
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

// ---- rendering ----

/// A duration for a person: `850 ms`, `12.3 s`, `4 min 05 s`, `3 h 07 min`, `2 d 04 h`.
pub fn human_duration(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600)
    }
}

fn rate(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "?".into(),
        Some(0.0) => format!("0 {unit}"),
        Some(v) if v < 10.0 => format!("{v:.2} {unit}"),
        Some(v) => format!("{v:.0} {unit}"),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "?".into(), |v| v.to_string())
}

/// Columns left-aligned, except those listed as numeric (right-aligned); two spaces between columns.
fn table(out: &mut String, header: &[&str], numeric: &[usize], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = w - cell.chars().count();
            if numeric.contains(&i) {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                if i + 1 < widths.len() {
                    text.push_str(&" ".repeat(pad));
                }
            }
        }
        text.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// The status as aligned tables with units.
pub fn render(status: &Status, source: &str) -> String {
    let mut out = String::new();
    let when = chrono::DateTime::from_timestamp_millis(status.taken_at_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} ({}, {source}) at {when}; rates over the last {} s\n",
        status.pipeline, status.target, status.window_s
    );
    let rows: Vec<Vec<String>> = status
        .streams
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                opt(s.shards),
                rate(s.incoming_records_per_s, "records/s"),
            ]
        })
        .collect();
    table(&mut out, &["STREAM", "SHARDS", "INCOMING"], &[1, 2], &rows);
    out.push('\n');
    let rows: Vec<Vec<String>> = status
        .consumers
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.stream.clone(),
                c.records_behind
                    .map_or_else(|| "-".into(), |n| format!("{n} records")),
                c.iterator_age_ms.map_or_else(|| "?".into(), human_duration),
            ]
        })
        .collect();
    table(
        &mut out,
        &["CONSUMER", "STREAM", "BEHIND", "ITERATOR AGE"],
        &[2, 3],
        &rows,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = status
        .dead_letter_queues
        .iter()
        .map(|q| {
            vec![
                q.name.clone(),
                opt(q.messages),
                opt(q.messages_in_flight),
                match (q.oldest_age_ms, q.messages) {
                    (Some(ms), _) => human_duration(ms),
                    (None, Some(0)) => "-".into(),
                    (None, _) => "?".into(),
                },
            ]
        })
        .collect();
    table(
        &mut out,
        &["DEAD-LETTER QUEUE", "MESSAGES", "IN FLIGHT", "OLDEST"],
        &[1, 2, 3],
        &rows,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = status
        .tables
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                opt(t.items),
                rate(
                    t.writes_per_s,
                    if status.target == "local" {
                        "items/s"
                    } else {
                        "WCU/s"
                    },
                ),
                t.newest_received_at_ms.map_or_else(
                    || "-".into(),
                    |at| format!("{} ago", human_duration(status.taken_at_ms - at)),
                ),
            ]
        })
        .collect();
    table(
        &mut out,
        &["TABLE", "ITEMS", "WRITES", "NEWEST ITEM"],
        &[1, 2, 3],
        &rows,
    );
    out.push('\n');
    if status.alarms.is_empty() {
        out.push_str("alarms in ALARM: none\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .alarms
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.since_ms.map_or_else(
                        || "?".into(),
                        |t| format!("{} ago", human_duration(status.taken_at_ms - t)),
                    ),
                    a.reason.clone(),
                ]
            })
            .collect();
        table(&mut out, &["ALARM", "SINCE", "REASON"], &[], &rows);
    }
    for e in &status.errors {
        let _ = writeln!(out, "could not read: {e}");
    }
    out
}

pub fn run(config: &Path, args: StatusArgs) -> miette::Result<()> {
    let pipeline = sluice_config::load(config)?;
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(async {
        let deployed = if args.local {
            None
        } else {
            Some(outputs::read(&args.outputs)?)
        };
        let source = match &deployed {
            None => args.state_dir.join("pipeline.db").display().to_string(),
            Some(d) => d.region.clone().unwrap_or_else(|| "AWS".into()),
        };
        let interval = Duration::from_secs_f64(args.interval);
        loop {
            let status = match &deployed {
                None => local_status(&pipeline, &args.state_dir)?,
                Some(d) => deployed_status(&pipeline, d).await,
            };
            let text = if args.json {
                let json = if args.watch {
                    serde_json::to_string(&status)
                } else {
                    serde_json::to_string_pretty(&status)
                }
                .into_diagnostic()?;
                format!("{json}\n")
            } else if args.watch {
                // Clear the screen and go home, then draw: the table refreshes in place.
                format!(
                    "\x1b[2J\x1b[H{}(every {} s; Ctrl-C stops)\n",
                    render(&status, &source),
                    args.interval
                )
            } else {
                render(&status, &source)
            };
            // A closed stdout (`| head`) ends the command quietly.
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return Ok(());
            }
            drop(stdout);
            if !args.watch {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_duration(850), "850 ms");
        assert_eq!(human_duration(12_345), "12.3 s");
        assert_eq!(human_duration(245_000), "4 min 05 s");
        assert_eq!(human_duration(3 * 3_600_000 + 7 * 60_000), "3 h 07 min");
        assert_eq!(human_duration(-5), "0 ms");
    }

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut out = String::new();
        table(
            &mut out,
            &["NAME", "N"],
            &[1],
            &[
                vec!["a".into(), "10".into()],
                vec!["long-name".into(), "7".into()],
            ],
        );
        assert_eq!(out, "NAME        N\na          10\nlong-name   7\n");
    }

    #[test]
    fn queue_urls_name_their_queue() {
        assert_eq!(
            queue_name_of("https://sqs.us-east-1.amazonaws.com/123/sluice-Q"),
            "sluice-Q"
        );
    }
}
