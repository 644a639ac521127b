//! The pipeline's alarms and its dashboard, from pipeline.toml. Each alarm's threshold comes from the
//! setting it guards where there is one (a stream's retention, a consumer's maximum record age, a queue's
//! retention); docs/ALARMS.md says what each alarm means, why its threshold is what it is, and what to do
//! first. The dashboard is built as a `serde_json::Value` (like the OpenAPI document) and written as a
//! Terraform `templatefile` whose only reference is the region.

use serde_json::{Value, json};
use sluice_config::{Pipeline, RecordAge};
use sluice_contract::consumer::Reason;
use sluice_contract::metrics;

use super::escape::{escape_for_templatefile, hcl_string};

/// API Gateway's integration timeout: the generated integrations keep the default (29 s), after which API
/// Gateway answers 504 without waiting for Kinesis.
pub const INTEGRATION_TIMEOUT_MS: u32 = 29_000;

/// The fraction of a time limit at which an age alarm fires: half of it, so that a person has the other
/// half to act before records are lost (skipped by the event source mapping, trimmed from the stream, or
/// dropped from the dead-letter queue).
pub const AGE_ALARM_FRACTION: f64 = 0.5;

/// The API latency alarm's threshold, as a fraction of [`INTEGRATION_TIMEOUT_MS`]: a p99 at a tenth of the
/// point where API Gateway gives up is a hundred times a healthy PutRecord, long before clients see 504s.
pub const LATENCY_ALARM_FRACTION: f64 = 0.1;

/// The 4XX rate (percent of requests) above which the API alarm fires, once at least
/// [`MIN_REQUESTS_FOR_RATE`] requests came in the period: clients refused wholesale (wrong credentials
/// shipped, a schema change) rather than the odd bad request.
pub const CLIENT_ERROR_RATE_PERCENT: f64 = 10.0;

/// Requests a 5-minute period needs before its 4XX rate means anything.
pub const MIN_REQUESTS_FOR_RATE: u32 = 20;

/// The period of every alarm, in seconds.
pub const PERIOD: u32 = 300;

/// One metric alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// `alarm_name`; also the key in the generated map. Starts with the resource's physical name.
    pub name: String,
    /// What it means, in one sentence (docs/ALARMS.md has the first thing to do).
    pub description: String,
    pub metric: Metric,
    /// Periods looked at, and how many of them must breach.
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison: &'static str,
    /// `notBreaching` where no data means nothing happened; `breaching` where it means nothing is reading.
    pub treat_missing_data: &'static str,
}

/// What an alarm watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// One metric, with a standard statistic (`Sum`, `Maximum`) or an extended one (`p99`).
    Single {
        namespace: &'static str,
        name: String,
        /// Dimension names and their HCL expressions (module outputs, so the alarm follows its resource).
        dimensions: Vec<(&'static str, String)>,
        statistic: Statistic,
    },
    /// The API's 4XX rate: metric math over its 4XXError and Count sums (of the API's stage).
    ClientErrorRate { api_name: String },
}

impl Metric {
    /// How many metrics CloudWatch bills the alarm for (a metric-math alarm: each metric it reads).
    pub fn billed_metrics(&self) -> usize {
        match self {
            Metric::Single { .. } => 1,
            Metric::ClientErrorRate { .. } => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statistic {
    Standard(&'static str),
    Extended(&'static str),
}

/// The age (milliseconds) after which records are lost, for a consumer reading a stream retained
/// `retention_hours`: the retention, or the consumer's maximum record age if shorter.
fn loss_age_ms(retention_hours: u32, age: RecordAge) -> f64 {
    let retention = f64::from(retention_hours) * 3_600_000.0;
    match age.as_millis() {
        // Milliseconds of at most 7 days: exact in an f64.
        Some(ms) => retention.min(ms as f64),
        None => retention,
    }
}

fn single(
    namespace: &'static str,
    name: &str,
    dimensions: Vec<(&'static str, String)>,
    statistic: Statistic,
) -> Metric {
    Metric::Single {
        namespace,
        name: name.to_string(),
        dimensions,
        statistic,
    }
}

/// Any at all in one period.
fn any(name: String, description: String, metric: Metric) -> Alarm {
    Alarm {
        name,
        description,
        metric,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 0.0,
        comparison: "GreaterThanThreshold",
        treat_missing_data: "notBreaching",
    }
}

/// Any at all in each of `periods` periods in a row: a state that persists, not a blip.
fn sustained(name: String, description: String, metric: Metric, periods: u32) -> Alarm {
    Alarm {
        evaluation_periods: periods,
        datapoints_to_alarm: periods,
        ..any(name, description, metric)
    }
}

fn above(name: String, description: String, metric: Metric, threshold: f64) -> Alarm {
    Alarm {
        threshold,
        ..any(name, description, metric)
    }
}

fn lambda(metric: &str, expression: &str) -> Metric {
    single(
        "AWS/Lambda",
        metric,
        vec![("FunctionName", expression.to_string())],
        Statistic::Standard("Sum"),
    )
}

/// Every alarm of the pipeline, in a stable order.
pub fn alarms(p: &Pipeline) -> Vec<Alarm> {
    let mut out = Vec::new();

    for s in p.streams.values() {
        let stream = format!("module.stream[{}].stream_name", hcl_string(&s.name));
        let readers: Vec<_> = p
            .consumers
            .values()
            .filter(|c| c.stream == s.name)
            .collect();
        let loss_ms = readers
            .iter()
            .map(|c| loss_age_ms(s.retention_hours, c.maximum_record_age))
            .fold(f64::from(s.retention_hours) * 3_600_000.0, f64::min);
        let kinesis = |metric: &str, stat| {
            single(
                "AWS/Kinesis",
                metric,
                vec![("StreamName", stream.clone())],
                Statistic::Standard(stat),
            )
        };
        out.push(Alarm {
            // The event source mappings poll every shard about once a second, so the metric is there
            // whenever something reads the stream: no data means nothing does.
            treat_missing_data: if readers.is_empty() {
                "notBreaching"
            } else {
                "breaching"
            },
            ..above(
                format!("{}-iterator-age", s.physical_name),
                format!(
                    "The oldest record read from {} is over {} s old: half the time after which records are lost (the stream's retention, or a consumer's maximum record age if shorter).",
                    s.physical_name,
                    loss_ms * AGE_ALARM_FRACTION / 1000.0
                ),
                kinesis("GetRecords.IteratorAgeMilliseconds", "Maximum"),
                loss_ms * AGE_ALARM_FRACTION,
            )
        });
        out.push(any(
            format!("{}-write-throttled", s.physical_name),
            format!(
                "Writes to {} were throttled (the stream's shards are full): clients got 429.",
                s.physical_name
            ),
            kinesis("WriteProvisionedThroughputExceeded", "Sum"),
        ));
        out.push(sustained(
            format!("{}-read-throttled", s.physical_name),
            format!(
                "Reads of {} were throttled for 15 minutes in a row: its readers share 5 reads and 2 MiB a second per shard.",
                s.physical_name
            ),
            kinesis("ReadProvisionedThroughputExceeded", "Sum"),
            3,
        ));
    }

    for c in p.consumers.values() {
        let function = format!("module.consumer[{}].function_name", hcl_string(&c.name));
        let retention = p.streams.get(&c.stream).map_or(24, |s| s.retention_hours);
        let loss_ms = loss_age_ms(retention, c.maximum_record_age);
        let name = &c.function_name;
        out.push(above(
            format!("{name}-iterator-age"),
            format!(
                "{name} is handling records over {} s old: half the time after which they are lost (its maximum record age, or the stream's retention if shorter).",
                loss_ms * AGE_ALARM_FRACTION / 1000.0
            ),
            single(
                "AWS/Lambda",
                "IteratorAge",
                vec![("FunctionName", function.clone())],
                Statistic::Standard("Maximum"),
            ),
            loss_ms * AGE_ALARM_FRACTION,
        ));
        out.push(any(
            format!("{name}-errors"),
            format!("The {name} writer function failed (a whole batch is retried)."),
            lambda("Errors", &function),
        ));
        out.push(any(
            format!("{name}-throttles"),
            format!("Invocations of {name} were throttled (concurrency)."),
            lambda("Throttles", &function),
        ));
        let writer = |metric: &str| {
            single(
                metrics::NAMESPACE,
                metric,
                vec![(metrics::DIMENSION, function.clone())],
                Statistic::Standard("Sum"),
            )
        };
        out.push(any(
            format!("{name}-dead-lettered"),
            format!(
                "{name} sent records that can never be stored to the dead-letter queue (the message says why)."
            ),
            writer(metrics::DEAD_LETTERED),
        ));
        out.push(sustained(
            format!("{name}-retried"),
            format!(
                "{name} has reported records back for retry for 15 minutes in a row (the table or the dead-letter queue keeps failing)."
            ),
            writer(metrics::RETRIED),
            3,
        ));
    }

    if p.auth.is_some() {
        let name = format!("{}-authorizer", p.name);
        let function = "module.auth.function_name";
        out.push(any(
            format!("{name}-errors"),
            format!("The {name} function failed: API Gateway answered 500 to those logins."),
            lambda("Errors", function),
        ));
        out.push(any(
            format!("{name}-throttles"),
            format!(
                "Invocations of {name} were throttled (its reserved concurrency, or the account's): API Gateway answered 500."
            ),
            lambda("Throttles", function),
        ));
    }

    let api = |metric: &str, statistic| {
        single(
            "AWS/ApiGateway",
            metric,
            vec![
                ("ApiName", hcl_string(&p.name)),
                ("Stage", "module.api.stage_name".to_string()),
            ],
            statistic,
        )
    };
    out.push(any(
        format!("{}-api-5xx", p.name),
        "The API answered 5XX: a request was not written (Kinesis failed or timed out, or the authorizer failed).".into(),
        api("5XXError", Statistic::Standard("Sum")),
    ));
    out.push(Alarm {
        threshold: CLIENT_ERROR_RATE_PERCENT,
        ..sustained(
        format!("{}-api-4xx-rate", p.name),
        format!(
            "Over {CLIENT_ERROR_RATE_PERCENT}% of at least {MIN_REQUESTS_FOR_RATE} requests got 4XX, 15 minutes in a row: clients are refused wholesale."
        ),
        Metric::ClientErrorRate {
            api_name: p.name.clone(),
        },
        3,
    )
    });
    let latency_ms = f64::from(INTEGRATION_TIMEOUT_MS) * LATENCY_ALARM_FRACTION;
    out.push(Alarm {
        threshold: latency_ms,
        ..sustained(
            format!("{}-api-latency-p99", p.name),
            format!(
                "The API's p99 latency was over {latency_ms} ms (a tenth of the {INTEGRATION_TIMEOUT_MS} ms integration timeout) for 15 minutes in a row."
            ),
            api("Latency", Statistic::Extended("p99")),
            3,
        )
    });

    for t in p.tables.values() {
        let table = format!("module.table[{}].table_name", hcl_string(&t.name));
        let name = &t.physical_name;
        out.push(sustained(
            format!("{name}-write-throttled"),
            format!(
                "Writes to {name} were throttled for 10 minutes in a row: the writer retries them, but the table is short of write capacity."
            ),
            single(
                "AWS/DynamoDB",
                "WriteThrottleEvents",
                vec![("TableName", table.clone())],
                Statistic::Standard("Sum"),
            ),
            2,
        ));
        out.push(any(
            format!("{name}-system-errors"),
            format!("DynamoDB failed the writer's PutItem on {name} (HTTP 500)."),
            single(
                "AWS/DynamoDB",
                "SystemErrors",
                vec![("TableName", table), ("Operation", "\"PutItem\"".into())],
                Statistic::Standard("Sum"),
            ),
        ));
    }

    for q in p.queues.values() {
        let queue = format!("module.queue[{}].queue_name", hcl_string(&q.name));
        let name = &q.physical_name;
        let sqs = |metric: &str| {
            single(
                "AWS/SQS",
                metric,
                vec![("QueueName", queue.clone())],
                Statistic::Standard("Maximum"),
            )
        };
        out.push(any(
            format!("{name}-messages-visible"),
            format!("Dead letters are waiting on {name}."),
            sqs("ApproximateNumberOfMessagesVisible"),
        ));
        let age = f64::from(q.message_retention_seconds) * AGE_ALARM_FRACTION;
        out.push(above(
            format!("{name}-oldest-message-age"),
            format!(
                "The oldest dead letter on {name} is over {age} s old: half its retention ({} s), after which SQS deletes it.",
                q.message_retention_seconds
            ),
            sqs("ApproximateAgeOfOldestMessage"),
            age,
        ));
    }
    out
}

/// A number as HCL writes it (no `.0` on whole numbers).
pub fn hcl_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// The dashboard's body, ready for `templatefile` (its only reference is `${region}`).
pub fn dashboard(p: &Pipeline) -> String {
    let mut widgets: Vec<Value> = Vec::new();
    let mut y: u32 = 0;
    let api_dims = || {
        vec![
            "ApiName".to_string(),
            p.name.clone(),
            "Stage".into(),
            p.stage.clone(),
        ]
    };
    let metric = |namespace: &str, name: &str, dims: &[String], options: Value| -> Value {
        let mut row = vec![Value::from(namespace), Value::from(name)];
        row.extend(dims.iter().map(|d| Value::from(d.as_str())));
        row.push(options);
        Value::Array(row)
    };
    let row = |title: String,
               stat: &str,
               series: Vec<Value>,
               widgets: &mut Vec<Value>,
               x: u32,
               y: u32| {
        widgets.push(widget(title, stat, series, x, y));
    };

    let dims = api_dims();
    row(
        "API requests".into(),
        "Sum",
        vec![metric(
            "AWS/ApiGateway",
            "Count",
            &dims,
            json!({"label": "requests"}),
        )],
        &mut widgets,
        0,
        y,
    );
    row(
        "API 4XX / 5XX".into(),
        "Sum",
        vec![
            metric("AWS/ApiGateway", "4XXError", &dims, json!({"label": "4XX"})),
            metric("AWS/ApiGateway", "5XXError", &dims, json!({"label": "5XX"})),
        ],
        &mut widgets,
        8,
        y,
    );
    row(
        "API latency (ms)".into(),
        "p99",
        vec![
            metric(
                "AWS/ApiGateway",
                "Latency",
                &dims,
                json!({"stat": "p50", "label": "p50"}),
            ),
            metric(
                "AWS/ApiGateway",
                "Latency",
                &dims,
                json!({"stat": "p99", "label": "p99"}),
            ),
        ],
        &mut widgets,
        16,
        y,
    );

    for s in p.streams.values() {
        y += 6;
        let dims = vec!["StreamName".to_string(), s.physical_name.clone()];
        row(
            format!("{}: incoming records", s.physical_name),
            "Sum",
            vec![metric(
                "AWS/Kinesis",
                "IncomingRecords",
                &dims,
                json!({"label": "records"}),
            )],
            &mut widgets,
            0,
            y,
        );
        row(
            format!("{}: iterator age (ms)", s.physical_name),
            "Maximum",
            vec![metric(
                "AWS/Kinesis",
                "GetRecords.IteratorAgeMilliseconds",
                &dims,
                json!({"label": "oldest record read"}),
            )],
            &mut widgets,
            8,
            y,
        );
        row(
            format!("{}: throttled", s.physical_name),
            "Sum",
            vec![
                metric(
                    "AWS/Kinesis",
                    "WriteProvisionedThroughputExceeded",
                    &dims,
                    json!({"label": "writes"}),
                ),
                metric(
                    "AWS/Kinesis",
                    "ReadProvisionedThroughputExceeded",
                    &dims,
                    json!({"label": "reads"}),
                ),
            ],
            &mut widgets,
            16,
            y,
        );
    }

    for c in p.consumers.values() {
        y += 6;
        let name = &c.function_name;
        let dims = vec!["FunctionName".to_string(), name.clone()];
        let writer_dims = vec![metrics::DIMENSION.to_string(), name.clone()];
        row(
            format!("{name}: duration (ms), iterator age (ms)"),
            "Maximum",
            vec![
                metric(
                    "AWS/Lambda",
                    "Duration",
                    &dims,
                    json!({"stat": "Average", "label": "duration, average"}),
                ),
                metric(
                    "AWS/Lambda",
                    "Duration",
                    &dims,
                    json!({"label": "duration, maximum"}),
                ),
                metric(
                    "AWS/Lambda",
                    "IteratorAge",
                    &dims,
                    json!({"label": "iterator age", "yAxis": "right"}),
                ),
            ],
            &mut widgets,
            0,
            y,
        );
        row(
            format!("{name}: errors, throttles"),
            "Sum",
            vec![
                metric("AWS/Lambda", "Errors", &dims, json!({"label": "errors"})),
                metric(
                    "AWS/Lambda",
                    "Throttles",
                    &dims,
                    json!({"label": "throttles"}),
                ),
                metric(
                    metrics::NAMESPACE,
                    metrics::RETRIED,
                    &writer_dims,
                    json!({"label": "records retried"}),
                ),
            ],
            &mut widgets,
            8,
            y,
        );
        let mut records = vec![
            metric(
                metrics::NAMESPACE,
                metrics::WRITTEN,
                &writer_dims,
                json!({"label": "written"}),
            ),
            metric(
                metrics::NAMESPACE,
                metrics::SUPERSEDED,
                &writer_dims,
                json!({"label": "superseded"}),
            ),
        ];
        records.extend(Reason::ALL.iter().map(|r| {
            metric(
                metrics::NAMESPACE,
                &metrics::dead_lettered(*r),
                &writer_dims,
                json!({"label": format!("dead-lettered: {}", r.as_str())}),
            )
        }));
        row(
            format!("{name}: records written, superseded, dead-lettered by reason"),
            "Sum",
            records,
            &mut widgets,
            16,
            y,
        );
    }

    y += 6;
    let mut x = 0;
    for q in p.queues.values() {
        let dims = vec!["QueueName".to_string(), q.physical_name.clone()];
        row(
            format!("{}: dead letters waiting, oldest (s)", q.physical_name),
            "Maximum",
            vec![
                metric(
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    &dims,
                    json!({"label": "messages"}),
                ),
                metric(
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    &dims,
                    json!({"label": "oldest (s)", "yAxis": "right"}),
                ),
            ],
            &mut widgets,
            x,
            y,
        );
        x = (x + 8) % 24;
        if x == 0 {
            y += 6;
        }
    }
    for t in p.tables.values() {
        let dims = vec!["TableName".to_string(), t.physical_name.clone()];
        row(
            format!("{}: write throttles, system errors", t.physical_name),
            "Sum",
            vec![
                metric(
                    "AWS/DynamoDB",
                    "WriteThrottleEvents",
                    &dims,
                    json!({"label": "write throttles"}),
                ),
                metric(
                    "AWS/DynamoDB",
                    "SystemErrors",
                    &[
                        dims[0].clone(),
                        dims[1].clone(),
                        "Operation".into(),
                        "PutItem".into(),
                    ],
                    json!({"label": "PutItem system errors"}),
                ),
            ],
            &mut widgets,
            x,
            y,
        );
        x = (x + 8) % 24;
        if x == 0 {
            y += 6;
        }
    }

    let mut body = json!({ "widgets": widgets });
    escape_for_templatefile(&mut body);
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    text.replace(&format!("\"{REGION_MARKER}\""), "\"${region}\"")
}

fn widget(title: String, stat: &str, series: Vec<Value>, x: u32, y: u32) -> Value {
    json!({
        "type": "metric",
        "x": x,
        "y": y,
        "width": 8,
        "height": 6,
        "properties": {
            "title": title,
            "region": REGION_MARKER,
            "view": "timeSeries",
            "stat": stat,
            "period": PERIOD,
            "metrics": series,
        },
    })
}

/// Stands for the region until the body is escaped (it has no `${`, so escaping leaves it alone).
const REGION_MARKER: &str = "@@region@@";

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(extra: &str) -> Pipeline {
        let src = format!(
            r#"[pipeline]
name = "demo"
region = "eu-west-1"

[streams.Events]
retention_hours = 48

[tables.Items]
partition_key = {{ name = "id" }}

[queues.Dead]
message_retention_seconds = 86400

[routes.put]
path = "/put/{{id}}"
stream = "Events"
partition_key = {{ path_param = "id" }}

[consumers.writer]
stream = "Events"
table = "Items"
dead_letter_queue = "Dead"
{extra}
"#
        );
        sluice_config::parse(&src, "pipeline.toml").unwrap()
    }

    fn find<'a>(alarms: &'a [Alarm], name: &str) -> &'a Alarm {
        alarms
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("no alarm {name}"))
    }

    #[test]
    fn age_thresholds_are_half_the_limit_they_guard() {
        // Maximum record age 1 hour, under the stream's 48 hours: the consumer's limit wins.
        let alarms = alarms(&pipeline("maximum_record_age_seconds = 3600"));
        assert_eq!(
            find(&alarms, "demo-Events-iterator-age").threshold,
            1_800_000.0
        );
        assert_eq!(
            find(&alarms, "demo-writer-iterator-age").threshold,
            1_800_000.0
        );
        // A queue retaining a day: the oldest dead letter alarms at 12 hours.
        assert_eq!(
            find(&alarms, "demo-Dead-oldest-message-age").threshold,
            43_200.0
        );

        // Records kept forever by the consumer: the stream's retention is the limit.
        let alarms = super::alarms(&pipeline(
            "maximum_record_age_seconds = -1\nretry_attempts = 3\nallow_infinite_retries = true",
        ));
        assert_eq!(
            find(&alarms, "demo-Events-iterator-age").threshold,
            86_400_000.0
        );
        assert_eq!(
            find(&alarms, "demo-writer-iterator-age").threshold,
            86_400_000.0
        );
    }

    #[test]
    fn every_alarm_names_its_resource_and_has_a_deliberate_missing_data_policy() {
        let alarms = alarms(&pipeline(""));
        let names: Vec<&str> = alarms.iter().map(|a| a.name.as_str()).collect();
        for expected in [
            "demo-Events-iterator-age",
            "demo-Events-write-throttled",
            "demo-Events-read-throttled",
            "demo-writer-iterator-age",
            "demo-writer-errors",
            "demo-writer-throttles",
            "demo-writer-dead-lettered",
            "demo-writer-retried",
            "demo-api-5xx",
            "demo-api-4xx-rate",
            "demo-api-latency-p99",
            "demo-Items-write-throttled",
            "demo-Items-system-errors",
            "demo-Dead-messages-visible",
            "demo-Dead-oldest-message-age",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        // No [auth]: no authorizer alarms.
        assert!(!names.iter().any(|n| n.contains("authorizer")));
        let unique: std::collections::BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "alarm names repeat");
        for a in &alarms {
            assert!(a.name.len() <= 255, "{}", a.name);
            assert!(a.datapoints_to_alarm <= a.evaluation_periods);
            if let Metric::Single { dimensions, .. } = &a.metric {
                assert!(!dimensions.is_empty(), "{} names no resource", a.name);
            }
        }
        // Read by the event source mapping: no data means nobody reads.
        assert_eq!(
            find(&alarms, "demo-Events-iterator-age").treat_missing_data,
            "breaching"
        );
        assert_eq!(
            find(&alarms, "demo-writer-errors").treat_missing_data,
            "notBreaching"
        );
        // The writer's own metrics, by the contract's names.
        let Metric::Single {
            namespace, name, ..
        } = &find(&alarms, "demo-writer-dead-lettered").metric
        else {
            panic!("not a single metric")
        };
        assert_eq!(
            (*namespace, name.as_str()),
            (metrics::NAMESPACE, metrics::DEAD_LETTERED)
        );
        let Metric::Single { statistic, .. } = &find(&alarms, "demo-api-latency-p99").metric else {
            panic!("not a single metric")
        };
        assert_eq!(statistic, &Statistic::Extended("p99"));
    }

    #[test]
    fn the_dashboard_is_json_with_the_region_as_its_only_reference() {
        let text = dashboard(&pipeline(""));
        assert_eq!(
            text.matches("${").count(),
            text.matches("\"${region}\"").count()
        );
        let rendered = text.replace("${region}", "eu-west-1");
        let body: Value = serde_json::from_str(&rendered).unwrap();
        let widgets = body["widgets"].as_array().unwrap();
        let titles: Vec<&str> = widgets
            .iter()
            .map(|w| w["properties"]["title"].as_str().unwrap())
            .collect();
        for expected in [
            "API requests",
            "API 4XX / 5XX",
            "API latency (ms)",
            "demo-Events: incoming records",
            "demo-Events: iterator age (ms)",
            "demo-writer: errors, throttles",
            "demo-writer: records written, superseded, dead-lettered by reason",
            "demo-Dead: dead letters waiting, oldest (s)",
            "demo-Items: write throttles, system errors",
        ] {
            assert!(
                titles.contains(&expected),
                "{expected} missing from {titles:?}"
            );
        }
        for w in widgets {
            assert_eq!(w["properties"]["region"], "eu-west-1");
            let x = w["x"].as_u64().unwrap();
            assert!(
                x + w["width"].as_u64().unwrap() <= 24,
                "widget off the grid"
            );
        }
        assert!(rendered.contains(&metrics::dead_lettered(Reason::ItemTooLarge)));
    }

    #[test]
    fn hcl_numbers_have_no_needless_fraction() {
        assert_eq!(hcl_number(1_800_000.0), "1800000");
        assert_eq!(hcl_number(2.5), "2.5");
    }
}
