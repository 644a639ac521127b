//! The pipeline's alarms (the root's `alarms` map and the 4XX rate alarm render them). Each alarm's
//! threshold comes from the setting it guards where there is one (a stream's retention, a consumer's maximum
//! record age, a queue's retention); docs/ALARMS.md says what each alarm means, why its threshold is what it
//! is, and what to do first.

use sluice_config::{Pipeline, RecordAge};
use sluice_contract::metrics;

use crate::escape::hcl_string;

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

/// Every alarm of the pipeline, in a stable order: the streams', the writers', the authorizer's, the
/// API's, the tables' and the dead-letter queues'.
pub fn alarms(p: &Pipeline) -> Vec<Alarm> {
    let mut out = stream_alarms(p);
    out.extend(consumer_alarms(p));
    out.extend(authorizer_alarms(p));
    out.extend(api_alarms(p));
    out.extend(table_alarms(p));
    out.extend(queue_alarms(p));
    out
}

/// Each stream's: its readers falling behind, and its writes or reads throttled.
fn stream_alarms(p: &Pipeline) -> Vec<Alarm> {
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
    out
}

/// Each consumer's writer function: records getting old, failures, throttles, dead letters and retries.
fn consumer_alarms(p: &Pipeline) -> Vec<Alarm> {
    let mut out = Vec::new();
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
    out
}

/// The authorizer function's failures and throttles (with `[auth]` only).
fn authorizer_alarms(p: &Pipeline) -> Vec<Alarm> {
    let mut out = Vec::new();
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
    out
}

/// The API stage's: 5XX answers, a high 4XX rate, and slow answers.
fn api_alarms(p: &Pipeline) -> Vec<Alarm> {
    let mut out = Vec::new();
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
    out
}

/// Each table's: the writer's puts throttled or failed by DynamoDB.
fn table_alarms(p: &Pipeline) -> Vec<Alarm> {
    let mut out = Vec::new();
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
    out
}

/// Each dead-letter queue's: letters waiting, and the oldest nearing its retention.
fn queue_alarms(p: &Pipeline) -> Vec<Alarm> {
    let mut out = Vec::new();
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A pipeline of one stream, table, queue, route and consumer; `extra` goes into the consumer.
    pub(in crate::monitoring) fn pipeline(extra: &str) -> Pipeline {
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

    /// `sluice_config::names` is what config checks for collisions: every alarm rendered must be listed
    /// there, or two parts of a pipeline could silently share one.
    #[test]
    fn every_alarm_name_is_one_config_checks_for_collisions() {
        let root = sluice_config::project_root();
        for file in ["pipeline.toml", "examples/multi/pipeline.toml"] {
            let p = sluice_config::load(&root.join(file)).unwrap();
            let listed: std::collections::BTreeSet<String> = sluice_config::names::alarm_names(&p)
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            let rendered = alarms(&p);
            assert!(rendered.len() > 10, "{file}");
            for a in rendered {
                assert!(
                    listed.contains(&a.name),
                    "{file}: {} is not in config's names",
                    a.name
                );
            }
        }
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
    fn hcl_numbers_have_no_needless_fraction() {
        assert_eq!(hcl_number(1_800_000.0), "1800000");
        assert_eq!(hcl_number(2.5), "2.5");
    }
}
